//! A project's resources besides containers: its named volumes
//! (`PROJECT_NAME`, labelled, or `external`), and the files of secrets and
//! configs that come from the environment or inline content.

use super::labels;
use super::progress::{self, Progress};
use super::project::Project;
use super::types::VolumeConfig;
use crate::store::volumes::VolumeRecord;
use crate::store::Store;
use anyhow::{anyhow, bail, Result};
use indexmap::IndexMap;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The name a project volume has in the store.
pub(crate) fn volume_name(project: &Project, key: &str, v: &VolumeConfig) -> String {
    if v.name.is_empty() {
        format!("{}_{key}", project.name)
    } else {
        v.name.clone()
    }
}

/// Compose's `com.docker.compose.config-hash` of a volume (its
/// configuration with the driver defaulted to `local`).
fn volume_hash(v: &VolumeConfig) -> String {
    let mut v = v.clone();
    if v.driver.is_empty() {
        v.driver = "local".into();
    }
    let json = serde_json::to_string(&v).expect("a volume serializes");
    hex::encode(Sha256::digest(json.as_bytes()))
}

/// Makes the project's volumes that do not exist; an external one must.
pub(crate) fn ensure_volumes(
    store: &Store,
    project: &Project,
    events: &dyn Progress,
) -> Result<()> {
    for (key, v) in &project.model.volumes {
        let name = volume_name(project, key, v);
        match store.volume(&name) {
            Ok(existing) => {
                if v.external {
                    continue;
                }
                match existing.labels.get(labels::PROJECT) {
                    None => events.warning(&format!(
                        "volume {name:?} already exists but was not created by Docker Compose. Use `external: true` to use an existing volume"
                    )),
                    Some(p) if *p != project.name => events.warning(&format!(
                        "volume {name:?} already exists but was created for project {p:?} (expected {:?}). Use `external: true` to use an existing volume",
                        project.name
                    )),
                    Some(_) => {
                        if existing
                            .labels
                            .get(labels::CONFIG_HASH)
                            .is_some_and(|h| *h != volume_hash(v))
                        {
                            events.warning(&format!(
                                "volume {name:?} exists but doesn't match configuration in compose file; it is used as it is (remove it with `berth compose down -v` to have it made again)"
                            ));
                        }
                    }
                }
            }
            Err(_) if v.external => bail!("external volume {name:?} not found"),
            Err(_) => create_volume(store, project, key, &name, v, events)?,
        }
    }
    Ok(())
}

fn create_volume(
    store: &Store,
    project: &Project,
    key: &str,
    name: &str,
    v: &VolumeConfig,
    events: &dyn Progress,
) -> Result<()> {
    let id = format!("Volume {name}");
    if !matches!(v.driver.as_str(), "" | "local") {
        events.event(progress::error(&id));
        bail!(
            "volume {key:?}: driver {:?} is not available: berth has only the \"local\" driver",
            v.driver
        );
    }
    if !v.driver_opts.is_empty() {
        events.event(progress::error(&id));
        bail!("volume {key:?}: driver_opts are not supported by berth's local volumes");
    }
    events.event(progress::creating(&id));
    let mut labels: IndexMap<String, String> = v
        .labels
        .0
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    labels.extend(labels::for_volume(&project.name, key));
    labels.insert(labels::CONFIG_HASH.into(), volume_hash(v));
    let lock = store.lock()?;
    let made = store.create_volume(
        VolumeRecord {
            name: name.to_string(),
            driver: "local".into(),
            labels,
            options: IndexMap::new(),
            created_at: crate::util::humanize::now_rfc3339(),
            anonymous: false,
        },
        &lock,
    );
    if let Err(e) = made {
        events.event(progress::error(&id));
        return Err(e);
    }
    events.event(progress::created(&id));
    Ok(())
}

/// Volumes of the store labelled for the project (what `down -v` removes
/// when no compose file says which), by name.
pub(crate) fn labelled_volumes(store: &Store, project: &str) -> Result<Vec<String>> {
    Ok(store
        .volumes()?
        .into_iter()
        .filter(|v| v.labels.get(labels::PROJECT).map(String::as_str) == Some(project))
        .map(|v| v.name)
        .collect())
}

/// Removes a volume for `down -v`, with Compose's events; one still in use
/// is a warning.
pub(crate) fn remove_volume(store: &Store, name: &str, events: &dyn Progress) -> Result<()> {
    if store.volume(name).is_err() {
        return Ok(());
    }
    let id = format!("Volume {name}");
    events.event(progress::removing(&id));
    if !store.volume_users(name)?.is_empty() {
        events.event(progress::Event::new(
            &id,
            progress::Status::Warning,
            "Resource is still in use",
        ));
        return Ok(());
    }
    let lock = store.lock()?;
    store.remove_volume(name, &lock)?;
    events.event(progress::removed(&id));
    Ok(())
}

/// Writes the secrets and configs of the project's services that come from
/// an environment variable or inline content; what each was written to.
pub(crate) fn generated_files(
    store: &Store,
    project: &Project,
) -> Result<BTreeMap<(String, String), PathBuf>> {
    let mut out = BTreeMap::new();
    for s in project.model.services.values() {
        for (kind, refs, defined) in [
            ("secret", &s.secrets, &project.model.secrets),
            ("config", &s.configs, &project.model.configs),
        ] {
            for r in refs {
                let key = (kind.to_string(), r.source.clone());
                if out.contains_key(&key) {
                    continue;
                }
                let Some(d) = defined.get(&r.source) else {
                    continue;
                };
                let content = if !d.content.is_empty() {
                    d.content.clone()
                } else if !d.environment.is_empty() {
                    project
                        .environment
                        .get(&d.environment)
                        .cloned()
                        .ok_or_else(|| {
                            anyhow!(
                                "environment variable {:?} required by {kind} {:?} is not set",
                                d.environment,
                                r.source
                            )
                        })?
                } else {
                    continue;
                };
                if s.read_only {
                    // Compose copies these into the container, which a
                    // read-only one refuses; berth binds them and keeps
                    // the same rule.
                    bail!(
                        "cannot create {kind} {:?} in read-only service {}: `file` is the sole supported option",
                        r.source,
                        s.name
                    );
                }
                let mode = r.mode.map(|m| m.0).unwrap_or(0o444);
                if r.uid.is_some() || r.gid.is_some() {
                    bail!(
                        "service {:?}: {kind} {}: uid and gid are not supported by berth (the file belongs to the container's root)",
                        s.name,
                        r.source
                    );
                }
                let path = store.write_compose_file(
                    &project.name,
                    &format!("{kind}s"),
                    &r.source,
                    content.as_bytes(),
                    mode,
                )?;
                out.insert(key, path);
            }
        }
    }
    Ok(out)
}
