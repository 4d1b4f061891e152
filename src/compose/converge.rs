//! `create` (and the first half of `up`): brings the project's containers
//! to what the files say, as Compose's convergence does. In dependency
//! order, each service gets its number of containers (`scale`); one whose
//! configuration hash or image changed is recreated (a new container under
//! a temporary name, the old one stopped and removed, the new one renamed,
//! keeping the old one's anonymous volumes); the others are left alone,
//! running or not. Containers of services that are gone are orphans.

use super::convert::{self, Target};
use super::images::{self, EnsureOptions};
use super::labels::{self, Role};
use super::observed::{self, Container, OneOff};
use super::progress::{self, Progress};
use super::project::Project;
use super::resources;
use super::types::Service;
use crate::runtime::lifecycle::{self, RemoveOptions};
use crate::store::Store;
use anyhow::{anyhow, bail, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

/// When an existing container is replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Recreate {
    /// When its configuration or image changed (the default).
    #[default]
    Diverged,
    /// Always (`--force-recreate`).
    Force,
    /// Never (`--no-recreate`).
    Never,
}

/// `create`'s and `up`'s flags.
#[derive(Debug, Clone, Default)]
pub(crate) struct CreateOptions {
    /// Services named on the command line (empty: all).
    pub(crate) services: Vec<String>,
    /// For the named services.
    pub(crate) recreate: Recreate,
    /// For the services they depend on.
    pub(crate) recreate_deps: Recreate,
    /// Keep replaced containers' anonymous volumes (not `-V`).
    pub(crate) inherit: bool,
    pub(crate) remove_orphans: bool,
    /// `COMPOSE_IGNORE_ORPHANS`.
    pub(crate) ignore_orphans: bool,
    /// `-t`: for containers stopped on the way.
    pub(crate) timeout: Option<Duration>,
    /// `--env-file`s, for the label.
    pub(crate) env_files: Vec<String>,
    pub(crate) images: EnsureOptions,
}

/// Creates what the project needs: images, volumes, the files of secrets,
/// then the containers of each service.
pub(crate) fn create(
    store: &Store,
    project: &Project,
    opts: &CreateOptions,
    events: &dyn Progress,
) -> Result<()> {
    check_names(project)?;
    let image_ids = images::ensure(store, project, &opts.images, events)?;
    super::networks::ensure_networks(store, project, events)?;
    resources::ensure_volumes(store, project, events)?;
    let generated = resources::generated_files(store, project)?;
    let observed = observed::containers(store, &project.name, OneOff::Include, &[])?;
    orphans(store, project, &observed, opts, events)?;
    let mut state: BTreeMap<String, Vec<Container>> = BTreeMap::new();
    for c in observed.into_iter().filter(|c| !c.is_oneoff()) {
        state.entry(c.service().to_string()).or_default().push(c);
    }
    let mut conv = Convergence {
        store,
        project,
        opts,
        events,
        image_ids: &image_ids,
        generated: &generated,
        state,
        warned: BTreeSet::new(),
    };
    for s in project.dependency_order()? {
        let strategy = if opts.services.is_empty() || opts.services.contains(&s.name) {
            opts.recreate
        } else {
            opts.recreate_deps
        };
        conv.ensure_service(s, strategy)?;
    }
    Ok(())
}

/// Compose's `CheckContainerNameUnicity` and its refusal to scale a
/// service with a fixed `container_name`.
fn check_names(project: &Project) -> Result<()> {
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for s in project.model.services.values() {
        if s.container_name.is_empty() {
            continue;
        }
        if Project::scale(s) > 1 {
            bail!(
                "WARNING: The {:?} service is using the custom container name {:?}. Docker requires each container to have a unique name. Remove the custom name to scale the service",
                s.name,
                s.container_name
            );
        }
        if let Some(other) = seen.insert(&s.container_name, &s.name) {
            bail!(
                "services.{}: container name {:?} is already in use by {:?}",
                s.name,
                s.container_name,
                other
            );
        }
    }
    Ok(())
}

/// Containers of services the project no longer has (and one-offs that
/// exited): a warning, or removed with `--remove-orphans`.
fn orphans(
    store: &Store,
    project: &Project,
    observed: &[Container],
    opts: &CreateOptions,
    events: &dyn Progress,
) -> Result<()> {
    let orphans: Vec<&Container> = observed.iter().filter(|c| is_orphan(project, c)).collect();
    if orphans.is_empty() || opts.ignore_orphans {
        return Ok(());
    }
    if opts.remove_orphans {
        for c in orphans {
            stop_and_remove(store, c, opts.timeout, false, events)?;
        }
    } else {
        let names: Vec<&str> = orphans.iter().map(|c| c.name()).collect();
        events.warning(&format!(
            "Found orphan containers ([{}]) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.",
            names.join(" ")
        ));
    }
    Ok(())
}

/// Compose's `isOrphaned`.
pub(crate) fn is_orphan(project: &Project, c: &Container) -> bool {
    if c.is_oneoff() {
        return matches!(
            c.status(),
            crate::model::Status::Exited | crate::model::Status::Dead
        );
    }
    let s = c.service();
    !project.model.services.contains_key(s) && !project.disabled.contains_key(s)
}

/// Stops and removes a container, with Compose's events.
pub(crate) fn stop_and_remove(
    store: &Store,
    c: &Container,
    timeout: Option<Duration>,
    volumes: bool,
    events: &dyn Progress,
) -> Result<()> {
    stop_container(store, c, timeout, events)?;
    remove_stopped(store, c, volumes, events)
}

/// Removes a container `stop_container` stopped, with Compose's events
/// (with `volumes`, the anonymous volumes it took over too).
pub(crate) fn remove_stopped(
    store: &Store,
    c: &Container,
    volumes: bool,
    events: &dyn Progress,
) -> Result<()> {
    let id = progress::container_id(c.name());
    events.event(progress::removing(&id));
    let record = match store.container(c.id()) {
        Ok(r) => r,
        // Gone already (a `--rm` container that exited).
        Err(_) => {
            events.event(progress::removed(&id));
            return Ok(());
        }
    };
    let mut inherited = Vec::new();
    if volumes {
        // Anonymous volumes this container took over from the one it
        // replaced are anonymous in the store too: they go with it.
        inherited = anonymous_volumes(&record);
    }
    if let Err(e) = lifecycle::remove(
        store,
        &record,
        RemoveOptions {
            force: true,
            volumes,
        },
    ) {
        events.event(progress::error_message(&id, "Error while Removing"));
        return Err(e);
    }
    if volumes {
        let lock = store.lock()?;
        for v in inherited {
            if store.volume(&v).is_ok_and(|r| r.anonymous) && store.volume_users(&v)?.is_empty() {
                store.remove_volume(&v, &lock)?;
            }
        }
    }
    events.event(progress::removed(&id));
    Ok(())
}

fn anonymous_volumes(record: &crate::model::ContainerRecord) -> Vec<String> {
    record
        .host
        .storage
        .mounts
        .iter()
        .filter(|m| m.anonymous)
        .filter_map(|m| m.volume.clone())
        .collect()
}

/// Stops a container (`Stopping`, `Stopped`): the stop signal, then
/// SIGKILL after `timeout` (Docker's 10 s when None).
pub(crate) fn stop_container(
    store: &Store,
    c: &Container,
    timeout: Option<Duration>,
    events: &dyn Progress,
) -> Result<()> {
    let id = progress::container_id(c.name());
    events.event(progress::stopping(&id));
    let record = match store.container(c.id()) {
        Ok(r) => r,
        Err(_) => {
            events.event(progress::stopped(&id));
            return Ok(());
        }
    };
    let timeout = timeout.unwrap_or(Duration::from_secs(10));
    if let Err(e) = lifecycle::stop(store, &record, None, Some(timeout)) {
        events.event(progress::error_message(&id, "Error while Stopping"));
        return Err(e);
    }
    events.event(progress::stopped(&id));
    Ok(())
}

/// The state of the run of `create`: what exists of each service.
struct Convergence<'a> {
    store: &'a Store,
    project: &'a Project,
    opts: &'a CreateOptions,
    events: &'a dyn Progress,
    image_ids: &'a BTreeMap<String, String>,
    generated: &'a BTreeMap<(String, String), PathBuf>,
    state: BTreeMap<String, Vec<Container>>,
    /// Warnings given already (each once per command).
    warned: BTreeSet<String>,
}

impl Convergence<'_> {
    fn ensure_service(&mut self, s: &Service, strategy: Recreate) -> Result<()> {
        let expected = Project::scale(s) as usize;
        let mut containers = self.state.remove(&s.name).unwrap_or_default();
        // Up-to-date containers first, lowest numbers first: scaling down
        // removes the obsolete and the highest.
        containers.sort_by_key(|c| {
            (
                self.must_recreate(s, c, strategy),
                c.number().unwrap_or(u32::MAX),
            )
        });
        let next = containers
            .iter()
            .filter_map(Container::number)
            .max()
            .unwrap_or(0)
            + 1;
        let mut updated: Vec<Container> = Vec::new();
        for (i, c) in containers.into_iter().enumerate() {
            if i >= expected {
                stop_and_remove(self.store, &c, self.timeout(s), false, self.events)?;
                continue;
            }
            if self.must_recreate(s, &c, strategy) {
                self.stop_dependents(s)?;
                updated.push(self.recreate(s, &c)?);
                continue;
            }
            if c.status() == crate::model::Status::Running {
                self.events
                    .event(progress::running(&progress::container_id(c.name())));
            }
            updated.push(c);
        }
        let have = updated.len();
        for k in 0..expected.saturating_sub(have) {
            let number = next + k as u32;
            let name = self.project.container_name(s, number);
            updated.push(self.create_container(s, &name, Role::Replica(number), None)?);
        }
        self.state.insert(s.name.clone(), updated);
        Ok(())
    }

    fn timeout(&self, s: &Service) -> Option<Duration> {
        self.opts.timeout.or_else(|| stop_grace_period(s))
    }

    /// Compose's `mustRecreate`.
    fn must_recreate(&self, s: &Service, c: &Container, strategy: Recreate) -> bool {
        match strategy {
            Recreate::Never => false,
            Recreate::Force => true,
            Recreate::Diverged => {
                c.config_hash() != Project::config_hash(s)
                    || c.label(labels::IMAGE) != self.image_ids.get(&s.name).map(String::as_str)
                    || !self.has_expected_volumes(s, c)
            }
        }
    }

    /// Every named volume the service declares is mounted in the container.
    fn has_expected_volumes(&self, s: &Service, c: &Container) -> bool {
        s.volumes
            .iter()
            .filter(|v| v.kind == "volume" && !v.source.is_empty())
            .all(|v| {
                let Some(cfg) = self.project.model.volumes.get(&v.source) else {
                    return true;
                };
                let name = resources::volume_name(self.project, &v.source, cfg);
                c.record
                    .host
                    .storage
                    .mounts
                    .iter()
                    .any(|m| m.volume.as_deref() == Some(name.as_str()))
            })
    }

    /// Stops the containers of services that depend on `s` with
    /// `restart: true`: they start again after it was recreated.
    fn stop_dependents(&mut self, s: &Service) -> Result<()> {
        let dependents: Vec<String> = self
            .project
            .model
            .services
            .values()
            .filter(|d| d.depends_on.get(&s.name).is_some_and(|dep| dep.restart))
            .map(|d| d.name.clone())
            .collect();
        for name in dependents {
            let timeout = self
                .project
                .service(&name)
                .and_then(|d| self.opts.timeout.or_else(|| stop_grace_period(d)));
            if let Some(list) = self.state.get_mut(&name) {
                for c in list.iter_mut() {
                    if c.status().is_running() {
                        stop_container(self.store, c, timeout, self.events)?;
                        c.refresh(self.store)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Replaces `old` by a new container of the same number.
    fn recreate(&mut self, s: &Service, old: &Container) -> Result<Container> {
        let id = progress::container_id(old.name());
        self.events.event(progress::recreate(&id));
        let result = self.recreate_inner(s, old);
        match &result {
            Ok(_) => self.events.event(progress::recreated(&id)),
            Err(e) => self
                .events
                .event(progress::error_message(&id, &format!("{e:#}"))),
        }
        result
    }

    fn recreate_inner(&mut self, s: &Service, old: &Container) -> Result<Container> {
        let number = old
            .number()
            .ok_or_else(|| anyhow!("container {} has no container number label", old.name()))?;
        let name = self.project.container_name(s, number);
        let tmp = format!("{}_{name}", &old.id()[..12.min(old.id().len())]);
        let inherit = self.opts.inherit.then_some(&old.record);
        let replaced_name = if s.container_name.is_empty() {
            format!("{}-{number}", s.name)
        } else {
            s.container_name.clone()
        };
        let mut made =
            self.create_quiet(s, &tmp, Role::Replica(number), inherit, Some(replaced_name))?;
        let timeout = self.timeout(s);
        let record = self.store.container(old.id())?;
        lifecycle::stop(
            self.store,
            &record,
            None,
            Some(timeout.unwrap_or(Duration::from_secs(10))),
        )?;
        lifecycle::remove(self.store, &record, RemoveOptions::default())?;
        let lock = self.store.lock()?;
        self.store.rename_container(&made.record, &name, &lock)?;
        drop(lock);
        made.record = self.store.container(made.id())?;
        Ok(made)
    }

    /// Creates a container with Compose's `Creating`/`Created` events.
    fn create_container(
        &mut self,
        s: &Service,
        name: &str,
        role: Role,
        replaces: Option<&crate::model::ContainerRecord>,
    ) -> Result<Container> {
        let id = progress::container_id(name);
        self.events.event(progress::creating(&id));
        match self.create_quiet(s, name, role, replaces, None) {
            Ok(c) => {
                self.events.event(progress::created(&id));
                Ok(c)
            }
            Err(e) => {
                self.events
                    .event(progress::error_message(&id, &format!("{e:#}")));
                Err(e)
            }
        }
    }

    fn create_quiet(
        &mut self,
        s: &Service,
        name: &str,
        role: Role,
        replaces: Option<&crate::model::ContainerRecord>,
        replaced_name: Option<String>,
    ) -> Result<Container> {
        let image_id = self
            .image_ids
            .get(&s.name)
            .cloned()
            .ok_or_else(|| anyhow!("service {:?} has no image", s.name))?;
        let volumes_from = resolve_volumes_from(self.project, s, &self.state)?;
        let target = Target {
            project: self.project,
            service: s,
            name: name.to_string(),
            role,
            image_id,
            env_files: &self.opts.env_files,
            generated: self.generated,
            replaces,
            volumes_from,
            oneoff: None,
        };
        let mut converted = convert::request(&target)?;
        if let Some(r) = replaced_name {
            converted
                .request
                .process
                .labels
                .insert(labels::REPLACE.into(), r);
        }
        for w in converted.warnings {
            if self.warned.insert(w.clone()) {
                self.events.warning(&w);
            }
        }
        let record = lifecycle::create(self.store, &converted.request)?;
        let state = self.store.observed_state(&record.id)?;
        Ok(Container { record, state })
    }
}

/// `stop_grace_period` as a stop timeout.
pub(crate) fn stop_grace_period(s: &Service) -> Option<Duration> {
    s.stop_grace_period.map(|d| d.0)
}

/// `volumes_from: [service:NAME[:mode], container:NAME[:mode], NAME]`:
/// a service's first container, or a container by name.
pub(crate) fn resolve_volumes_from(
    project: &Project,
    s: &Service,
    state: &BTreeMap<String, Vec<Container>>,
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for spec in &s.volumes_from {
        let parts: Vec<&str> = spec.split(':').collect();
        let (container, mode) = match parts.as_slice() {
            ["container", name] => (name.to_string(), None),
            ["container", name, mode] => (name.to_string(), Some(*mode)),
            [name] | [name, "service"] if project.model.services.contains_key(*name) => {
                (first_container(state, name)?, None)
            }
            ["service", name] => (first_container(state, name)?, None),
            ["service", name, mode] => (first_container(state, name)?, Some(*mode)),
            [name, mode @ ("ro" | "rw")] if project.model.services.contains_key(*name) => {
                (first_container(state, name)?, Some(*mode))
            }
            [name] => (name.to_string(), None),
            [name, mode] => (name.to_string(), Some(*mode)),
            _ => bail!("service {:?}: invalid volumes_from {spec:?}", s.name),
        };
        out.push(match mode {
            Some(m) => format!("{container}:{m}"),
            None => container,
        });
    }
    Ok(out)
}

fn first_container(state: &BTreeMap<String, Vec<Container>>, service: &str) -> Result<String> {
    state
        .get(service)
        .and_then(|l| l.iter().min_by_key(|c| c.name().to_string()))
        .map(|c| c.name().to_string())
        .ok_or_else(|| anyhow!("cannot share volume with service {service}: container missing"))
}
