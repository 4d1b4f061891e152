//! The fields of `docker container inspect` that the namespace, kernel,
//! logging and metadata flags of `run` set, in Docker's shapes. Kept apart
//! from the rest of the inspect object so each can grow on its own.

use crate::model::kernel::DEFAULT_SHM_SIZE;
use crate::model::logging::LogDriver;
use crate::model::ContainerRecord;
use crate::store::Store;
use serde_json::{json, Value as Json};

/// Adds the fields to `object` (an inspect object with `Config` and
/// `HostConfig`).
pub(crate) fn add(object: &mut Json, store: &Store, c: &ContainerRecord) {
    let host = &c.host;
    let ns = &host.namespaces;
    let config = &c.config;
    if let Some(config_json) = object.get_mut("Config").and_then(Json::as_object_mut) {
        config_json.insert("Domainname".into(), json!(config.domainname));
        if let Some(t) = config.stop_timeout {
            config_json.insert("StopTimeout".into(), json!(t));
        }
        if let Some(a) = config.attach {
            config_json.insert("AttachStdin".into(), json!(a.stdin));
            config_json.insert("AttachStdout".into(), json!(a.stdout));
            config_json.insert("AttachStderr".into(), json!(a.stderr));
        }
    }
    if let Some(h) = object.get_mut("HostConfig").and_then(Json::as_object_mut) {
        h.insert("LogConfig".into(), json!(host.log));
        h.insert("IpcMode".into(), json!(ns.ipc.to_string()));
        h.insert("PidMode".into(), json!(ns.pid.to_string()));
        h.insert("UTSMode".into(), json!(ns.uts.to_string()));
        h.insert("UsernsMode".into(), json!(ns.userns.to_string()));
        h.insert("CgroupnsMode".into(), json!(ns.cgroupns.to_string()));
        h.insert(
            "ShmSize".into(),
            json!(host.kernel.shm_size.unwrap_or(DEFAULT_SHM_SIZE)),
        );
        h.insert(
            "OomScoreAdj".into(),
            json!(host.kernel.oom_score_adj.unwrap_or(0)),
        );
        h.insert(
            "Sysctls".into(),
            if host.kernel.sysctls.is_empty() {
                Json::Null
            } else {
                json!(host.kernel.sysctls)
            },
        );
        h.insert(
            "GroupAdd".into(),
            if config.group_add.is_empty() {
                Json::Null
            } else {
                json!(config.group_add)
            },
        );
        if !host.annotations.is_empty() {
            h.insert("Annotations".into(), json!(host.annotations));
        }
    }
    if let Some(o) = object.as_object_mut() {
        // Docker names the json-file log only; the local driver's file is
        // its own business, and none has none.
        let log_path = match host.log.driver {
            LogDriver::JsonFile => json!(store.container_log(&c.id)),
            LogDriver::Local | LogDriver::None => json!(""),
        };
        o.insert("LogPath".into(), log_path);
    }
}
