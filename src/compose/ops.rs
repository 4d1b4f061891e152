//! The commands that act on a project's existing containers: `stop`,
//! `kill`, `restart`, `pause`, `unpause`, `rm` and `down`, with Compose's
//! ordering (stop in reverse dependency order) and events.

use super::converge::{self, stop_grace_period};
use super::observed::{self, Container, OneOff};
use super::progress::{self, Event, Progress, Status};
use super::project::Project;
use super::resources;
use crate::runtime::lifecycle::{self, RemoveOptions};
use crate::store::Store;
use anyhow::Result;
use nix::sys::signal::Signal;
use std::time::Duration;

/// The services in reverse dependency order, limited to `selected`
/// (empty: all).
fn reverse_order<'a>(project: &'a Project, selected: &[String]) -> Result<Vec<&'a str>> {
    let mut order: Vec<&str> = project
        .dependency_order()?
        .into_iter()
        .map(|s| s.name.as_str())
        .collect();
    order.reverse();
    Ok(order
        .into_iter()
        .filter(|s| selected.is_empty() || selected.iter().any(|x| x == s))
        .collect())
}

/// A service's stop timeout: `-t`, else its `stop_grace_period`.
fn timeout_for(project: &Project, service: &str, flag: Option<Duration>) -> Option<Duration> {
    flag.or_else(|| project.service(service).and_then(stop_grace_period))
}

/// `stop`: the running containers of the selected services, dependents
/// first.
pub(crate) fn stop(
    store: &Store,
    project: &Project,
    services: &[String],
    timeout: Option<Duration>,
    events: &dyn Progress,
) -> Result<()> {
    let containers = observed::containers(store, &project.name, OneOff::Exclude, &[])?;
    for service in reverse_order(project, services)? {
        for c in containers.iter().filter(|c| c.service() == service) {
            if !c.status().is_active() {
                continue;
            }
            converge::stop_container(store, c, timeout_for(project, service, timeout), events)?;
        }
    }
    Ok(())
}

/// `kill -s SIGNAL`: the running containers of the selected services
/// (and orphans with `remove_orphans`). False when there was none.
pub(crate) fn kill(
    store: &Store,
    project: &Project,
    services: &[String],
    signal: Signal,
    remove_orphans: bool,
    events: &dyn Progress,
) -> Result<bool> {
    let containers: Vec<Container> =
        observed::containers(store, &project.name, OneOff::Include, services)?
            .into_iter()
            .filter(|c| c.status().can_kill())
            .filter(|c| remove_orphans || project.model.services.contains_key(c.service()))
            .collect();
    if containers.is_empty() {
        return Ok(false);
    }
    let mut failed = None;
    for c in &containers {
        let id = progress::container_id(c.name());
        events.event(progress::killing(&id));
        let result = store
            .container(c.id())
            .and_then(|r| lifecycle::kill(store, &r, signal));
        match result {
            Ok(()) => events.event(progress::killed(&id)),
            Err(e) => {
                events.event(progress::error_message(&id, "Error while Killing"));
                failed.get_or_insert(e);
            }
        }
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(true),
    }
}

/// `restart`: each selected service's containers stopped and started
/// again, in dependency order.
pub(crate) fn restart(
    store: &Store,
    project: &Project,
    services: &[String],
    timeout: Option<Duration>,
    events: &dyn Progress,
) -> Result<()> {
    let containers = observed::containers(store, &project.name, OneOff::Exclude, &[])?;
    for s in project.dependency_order()? {
        if !services.is_empty() && !services.contains(&s.name) {
            continue;
        }
        for c in containers.iter().filter(|c| c.service() == s.name) {
            let id = progress::container_id(c.name());
            events.event(progress::restarting(&id));
            let record = store.container(c.id())?;
            let t = timeout_for(project, &s.name, timeout).unwrap_or(Duration::from_secs(10));
            if let Err(e) = lifecycle::restart(store, &record, None, Some(t)) {
                events.event(progress::error_message(&id, &format!("{e:#}")));
                return Err(e);
            }
            events.event(progress::started(&id));
        }
    }
    Ok(())
}

/// `pause` (`freeze`) and `unpause`: the running (resp. paused)
/// containers of the selected services.
pub(crate) fn pause(
    store: &Store,
    project: &Project,
    services: &[String],
    freeze: bool,
    events: &dyn Progress,
) -> Result<()> {
    let containers = observed::containers(store, &project.name, OneOff::Exclude, services)?;
    for c in containers
        .iter()
        .filter(|c| project.model.services.contains_key(c.service()))
    {
        let applies = if freeze {
            c.status().can_pause()
        } else {
            c.status().can_unpause()
        };
        if !applies {
            continue;
        }
        let record = store.container(c.id())?;
        if freeze {
            lifecycle::pause(store, &record)?;
        } else {
            lifecycle::unpause(store, &record)?;
        }
        events.event(Event::new(
            progress::container_id(c.name()),
            Status::Done,
            if freeze { "Paused" } else { "Unpaused" },
        ));
    }
    Ok(())
}

/// The stopped containers `rm` would remove (all of the selected services'
/// once `stop` ran with `-s`).
pub(crate) fn removable(
    store: &Store,
    project: &Project,
    services: &[String],
) -> Result<Vec<Container>> {
    Ok(
        observed::containers(store, &project.name, OneOff::Exclude, services)?
            .into_iter()
            .filter(|c| project.model.services.contains_key(c.service()))
            .filter(|c| !c.status().is_active())
            .collect(),
    )
}

/// `rm`: removes the given (stopped) containers.
pub(crate) fn remove(
    store: &Store,
    containers: &[Container],
    volumes: bool,
    events: &dyn Progress,
) -> Result<()> {
    for c in containers {
        let id = progress::container_id(c.name());
        events.event(progress::removing(&id));
        let record = match store.container(c.id()) {
            Ok(r) => r,
            Err(_) => continue, // gone already (`--rm`)
        };
        lifecycle::remove(
            store,
            &record,
            RemoveOptions {
                force: false,
                volumes,
            },
        )?;
        events.event(progress::removed(&id));
    }
    Ok(())
}

/// `down`'s flags.
#[derive(Debug, Clone, Default)]
pub(crate) struct DownOptions {
    pub(crate) services: Vec<String>,
    pub(crate) remove_orphans: bool,
    /// `-v`: named volumes and anonymous volumes too.
    pub(crate) volumes: bool,
    /// `--rmi local|all`.
    pub(crate) images: Option<RemoveImages>,
    pub(crate) timeout: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RemoveImages {
    /// Images built for the project (no `image:` name).
    Local,
    All,
}

/// `down`: the containers in reverse dependency order (orphans too with
/// `--remove-orphans`), then with `-v` the project's volumes, with `--rmi`
/// its images, and the files compose wrote for it. False when there was
/// nothing to remove.
pub(crate) fn down(
    store: &Store,
    project: &Project,
    opts: &DownOptions,
    rmi: &dyn Fn(&str) -> Result<ImageRemoval>,
    events: &dyn Progress,
) -> Result<bool> {
    let oneoff = if opts.remove_orphans {
        OneOff::Include
    } else {
        OneOff::Exclude
    };
    let containers = observed::containers(store, &project.name, oneoff, &[])?;
    let mut found = !containers.is_empty();
    for service in reverse_order(project, &opts.services)? {
        for c in containers
            .iter()
            .filter(|c| c.service() == service && !c.is_oneoff())
        {
            converge::stop_and_remove(
                store,
                c,
                timeout_for(project, service, opts.timeout),
                opts.volumes,
                events,
            )?;
        }
    }
    if opts.remove_orphans {
        for c in containers
            .iter()
            .filter(|c| converge::is_orphan(project, c))
        {
            converge::stop_and_remove(store, c, opts.timeout, false, events)?;
        }
    }
    // Only a whole project's resources go (`down SERVICE` keeps them).
    if !opts.services.is_empty() {
        return Ok(found);
    }
    if let Some(which) = opts.images {
        for image in images_to_remove(store, project, which)? {
            found = true;
            remove_image(&image, rmi, events)?;
        }
    }
    if opts.volumes {
        let mut names: Vec<String> = project
            .model
            .volumes
            .iter()
            .filter(|(_, v)| !v.external)
            .map(|(k, v)| resources::volume_name(project, k, v))
            .collect();
        // Volumes of the project the files no longer name.
        for v in resources::labelled_volumes(store, &project.name)? {
            if !names.contains(&v) {
                names.push(v);
            }
        }
        for name in names {
            if store.volume(&name).is_ok() {
                found = true;
            }
            resources::remove_volume(store, &name, events)?;
        }
    }
    store.remove_compose_files(&project.name)?;
    Ok(found)
}

/// Compose's image pruner: `local` takes the images built for services
/// without an `image:` name, `all` every service's image.
fn images_to_remove(store: &Store, project: &Project, which: RemoveImages) -> Result<Vec<String>> {
    let index = store.images()?;
    let mut out: Vec<String> = Vec::new();
    for s in project.model.services.values() {
        if which == RemoveImages::Local && !s.image.is_empty() {
            continue;
        }
        let name = project.image_name(s);
        if index.resolve(&name).is_ok() && !out.contains(&name) {
            out.push(name);
        }
    }
    Ok(out)
}

/// How an image went (the CLI's `rmi`, which the library cannot call).
pub(crate) enum ImageRemoval {
    Removed,
    InUse,
    NotFound,
}

fn remove_image(
    name: &str,
    rmi: &dyn Fn(&str) -> Result<ImageRemoval>,
    events: &dyn Progress,
) -> Result<()> {
    let id = format!("Image {name}");
    events.event(Event::new(&id, Status::Working, "Removing"));
    match rmi(name)? {
        ImageRemoval::Removed => events.event(Event::new(&id, Status::Done, "Removed")),
        ImageRemoval::InUse => {
            events.event(Event::new(&id, Status::Warning, "Resource is still in use"))
        }
        ImageRemoval::NotFound => events.event(Event::new(
            &id,
            Status::Done,
            "Warning: No resource found to remove",
        )),
    }
    Ok(())
}
