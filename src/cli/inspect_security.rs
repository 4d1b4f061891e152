//! The fields of `docker container inspect` that the security flags of
//! `run` set (`--cap-add`, `--cap-drop`, `--privileged`, `--security-opt`),
//! in Docker's shapes.

use crate::model::{ContainerRecord, SeccompConfig};
use serde_json::{json, Value as Json};

/// Adds the fields to `object`'s `HostConfig`.
pub(crate) fn add(object: &mut Json, c: &ContainerRecord) {
    let sec = &c.host.security;
    let Some(h) = object.get_mut("HostConfig").and_then(Json::as_object_mut) else {
        return;
    };
    let list = |l: &[String]| {
        if l.is_empty() {
            Json::Null
        } else {
            json!(l)
        }
    };
    h.insert("CapAdd".into(), list(&sec.cap_add));
    h.insert("CapDrop".into(), list(&sec.cap_drop));
    h.insert("Privileged".into(), json!(sec.privileged));
    let mut opts: Vec<String> = Vec::new();
    match &sec.seccomp {
        SeccompConfig::Default => {}
        SeccompConfig::Unconfined => opts.push("seccomp=unconfined".into()),
        // Docker shows the profile's content, as it keeps it.
        SeccompConfig::Custom(text) => opts.push(format!("seccomp={text}")),
    }
    if sec.no_new_privileges {
        opts.push("no-new-privileges".into());
    }
    if sec.landlock {
        opts.push("landlock".into());
    }
    h.insert("SecurityOpt".into(), list(&opts));
    if sec.privileged {
        // A privileged container has neither, as Docker shows it.
        h.insert("MaskedPaths".into(), Json::Null);
        h.insert("ReadonlyPaths".into(), Json::Null);
    }
}
