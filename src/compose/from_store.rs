//! A project known only by its name (`berth compose -p NAME down` from any
//! directory, with no compose file): rebuilt from what its containers'
//! and volumes' labels say, as Compose's `projectFromName` does. Enough to
//! stop, remove, list and clean it up: services with their image, number
//! of containers and dependencies (none required), and its volumes.

use super::labels;
use super::observed::{self, OneOff};
use super::project::Project;
use super::types::{Dependency, Model, Service, VolumeConfig};
use crate::store::Store;
use anyhow::Result;
use indexmap::IndexMap;
use std::collections::BTreeMap;
use std::path::PathBuf;

impl Project {
    /// The project `name` as the store has it. `None` when nothing of it
    /// is left (no container, no volume).
    pub(crate) fn from_store(store: &Store, name: &str) -> Result<Option<Project>> {
        let containers = observed::containers(store, name, OneOff::Exclude, &[])?;
        let mut services: BTreeMap<String, Service> = BTreeMap::new();
        let mut working_dir = PathBuf::new();
        let mut files = Vec::new();
        for c in &containers {
            if working_dir.as_os_str().is_empty() {
                if let Some(w) = c.label(labels::WORKING_DIR) {
                    working_dir = PathBuf::from(w);
                }
                if let Some(f) = c.label(labels::CONFIG_FILES) {
                    files = f
                        .split(',')
                        .filter(|f| !f.is_empty())
                        .map(PathBuf::from)
                        .collect();
                }
            }
            let s = services
                .entry(c.service().to_string())
                .or_insert_with(|| Service {
                    name: c.service().to_string(),
                    image: c.record.image.clone(),
                    depends_on: parse_depends_on(c.label(labels::DEPENDS_ON).unwrap_or_default()),
                    scale: Some(0),
                    ..Default::default()
                });
            s.scale = Some(s.scale.unwrap_or(0) + 1);
        }
        let mut volumes: BTreeMap<String, VolumeConfig> = BTreeMap::new();
        for v in store.volumes()? {
            if v.labels.get(labels::PROJECT).map(String::as_str) != Some(name) {
                continue;
            }
            let key = v
                .labels
                .get(labels::VOLUME)
                .cloned()
                .unwrap_or_else(|| v.name.clone());
            volumes.insert(
                key,
                VolumeConfig {
                    name: v.name.clone(),
                    ..Default::default()
                },
            );
        }
        if services.is_empty() && volumes.is_empty() {
            return Ok(None);
        }
        // Dependencies on services that have no container left are dropped.
        let names: Vec<String> = services.keys().cloned().collect();
        for s in services.values_mut() {
            s.depends_on.retain(|d, _| names.contains(d));
        }
        Ok(Some(Project {
            name: name.to_string(),
            working_dir,
            files,
            environment: IndexMap::new(),
            profiles: Vec::new(),
            model: Model {
                name: name.to_string(),
                services,
                volumes,
                ..Default::default()
            },
            disabled: BTreeMap::new(),
            warnings: Vec::new(),
        }))
    }
}

/// `com.docker.compose.depends_on`: `service:condition:restart,...`.
fn parse_depends_on(label: &str) -> BTreeMap<String, Dependency> {
    let mut out = BTreeMap::new();
    for item in label.split(',').filter(|i| !i.is_empty()) {
        let mut parts = item.splitn(3, ':');
        let Some(service) = parts.next() else {
            continue;
        };
        let condition = parts.next().unwrap_or("service_started").to_string();
        let restart = parts.next() == Some("true");
        out.insert(
            service.to_string(),
            Dependency {
                condition,
                restart,
                extensions: Default::default(),
                // Compose's getProjectWithResources: none is required.
                required: false,
            },
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependencies_come_back_from_the_label() {
        let d = parse_depends_on("db:service_healthy:true,cache:service_started:false");
        assert_eq!(d.len(), 2);
        assert_eq!(d["db"].condition, "service_healthy");
        assert!(d["db"].restart && !d["db"].required);
        assert!(parse_depends_on("").is_empty());
    }
}
