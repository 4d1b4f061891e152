//! A project as the store has it: its containers, found by their labels
//! (Compose keeps no other record), with their current state.

use super::labels;
use crate::model::{ContainerRecord, ContainerState, Status};
use crate::store::Store;
use anyhow::Result;
use std::collections::BTreeMap;

/// One container of a project.
#[derive(Debug, Clone)]
pub(crate) struct Container {
    pub(crate) record: ContainerRecord,
    pub(crate) state: ContainerState,
}

/// Which containers of `compose run` a listing takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OneOff {
    Include,
    Exclude,
}

impl Container {
    pub(crate) fn label(&self, key: &str) -> Option<&str> {
        self.record.config.labels.get(key).map(String::as_str)
    }

    pub(crate) fn id(&self) -> &str {
        &self.record.id
    }

    pub(crate) fn name(&self) -> &str {
        &self.record.name
    }

    pub(crate) fn project(&self) -> &str {
        self.label(labels::PROJECT).unwrap_or_default()
    }

    pub(crate) fn service(&self) -> &str {
        self.label(labels::SERVICE).unwrap_or_default()
    }

    /// `com.docker.compose.container-number`; None for one-offs.
    pub(crate) fn number(&self) -> Option<u32> {
        self.label(labels::CONTAINER_NUMBER)
            .and_then(|n| n.parse().ok())
    }

    pub(crate) fn is_oneoff(&self) -> bool {
        self.label(labels::ONEOFF) == Some("True")
    }

    pub(crate) fn config_hash(&self) -> &str {
        self.label(labels::CONFIG_HASH).unwrap_or_default()
    }

    pub(crate) fn status(&self) -> Status {
        self.state.status
    }

    /// How Compose names the container in log prefixes and `Attaching to`:
    /// `SERVICE-N`, or the whole name when `container_name` chose it.
    pub(crate) fn log_name(&self) -> String {
        let project = self.project();
        let default = format!(
            "{project}-{}-{}",
            self.service(),
            self.label(labels::CONTAINER_NUMBER).unwrap_or_default()
        );
        if self.record.name == default {
            self.record.name[project.len() + 1..].to_string()
        } else {
            self.record.name.clone()
        }
    }

    /// The state again, from the store and the processes.
    pub(crate) fn refresh(&mut self, store: &Store) -> Result<()> {
        self.state = store.observed_state(&self.record.id)?;
        Ok(())
    }
}

/// Whether the record is one of the project's (Compose's filter: the
/// project label, and a config hash).
fn in_project(record: &ContainerRecord, project: &str) -> bool {
    let l = &record.config.labels;
    l.get(labels::PROJECT).map(String::as_str) == Some(project)
        && l.contains_key(labels::CONFIG_HASH)
}

/// The project's containers, by name. `services` empty means all.
pub(crate) fn containers(
    store: &Store,
    project: &str,
    oneoff: OneOff,
    services: &[String],
) -> Result<Vec<Container>> {
    let mut out = Vec::new();
    for record in store.containers()? {
        if !in_project(&record, project) {
            continue;
        }
        let is_oneoff =
            record.config.labels.get(labels::ONEOFF).map(String::as_str) == Some("True");
        let keep = match oneoff {
            OneOff::Include => true,
            OneOff::Exclude => !is_oneoff,
        };
        let service = record
            .config
            .labels
            .get(labels::SERVICE)
            .cloned()
            .unwrap_or_default();
        if !keep || (!services.is_empty() && !services.contains(&service)) {
            continue;
        }
        let state = store.observed_state(&record.id)?;
        out.push(Container { record, state });
    }
    out.sort_by(|a, b| a.record.name.cmp(&b.record.name));
    Ok(out)
}

/// Every project with containers in the store (`compose ls`), by name;
/// with `all` false only those with a running container count.
pub(crate) fn projects(store: &Store) -> Result<BTreeMap<String, Vec<Container>>> {
    let mut out: BTreeMap<String, Vec<Container>> = BTreeMap::new();
    for record in store.containers()? {
        let l = &record.config.labels;
        let Some(project) = l.get(labels::PROJECT).cloned() else {
            continue;
        };
        if !l.contains_key(labels::CONFIG_HASH) {
            continue;
        }
        let state = store.observed_state(&record.id)?;
        out.entry(project)
            .or_default()
            .push(Container { record, state });
    }
    Ok(out)
}

/// The container of `service` a command aimed at one container acts on:
/// number `index` when given, else the lowest-numbered, one-offs last
/// (Compose's `getSpecifiedContainer`).
pub(crate) fn pick<'a>(
    containers: &'a [Container],
    service: &str,
    index: Option<u32>,
) -> std::result::Result<&'a Container, String> {
    let mut candidates: Vec<&Container> = containers
        .iter()
        .filter(|c| c.service() == service)
        .filter(|c| index.is_none() || c.number() == index)
        .collect();
    candidates.sort_by_key(|c| (c.is_oneoff(), c.number().unwrap_or(0)));
    candidates.first().copied().ok_or_else(|| match index {
        Some(n) => format!("service {service:?} is not running container #{n}"),
        None => format!("service {service:?} is not running"),
    })
}
