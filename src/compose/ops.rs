//! The commands that act on a project's existing containers: `stop`,
//! `kill`, `restart`, `pause`, `unpause`, `rm` and `down`, with Compose's
//! ordering (stop in reverse dependency order) and events.
//!
//! `stop` and `down` go level by level (the services nothing left running
//! depends on first); the containers of one level stop side by side, each
//! in a thread of its own, and `down` removes each container in a thread
//! as soon as it stopped, while the next level stops. Threads, not an async
//! runtime: a stop is a wait on a process.

use super::converge::{self, stop_grace_period};
use super::observed::{self, Container, OneOff};
use super::progress::{self, Event, Progress, Status};
use super::project::Project;
use super::resources;
use crate::runtime::lifecycle::{self, RemoveOptions};
use crate::store::Store;
use anyhow::Result;
use nix::sys::signal::Signal;
use std::collections::BTreeMap;
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

/// The selected services (empty: all) in the order they stop, grouped
/// in levels: a service's level is one more than the highest level of
/// the services that depend on it (0 when none does), so that every
/// service stops after all its dependents and those of a level can stop
/// at once.
fn stop_levels<'a>(project: &'a Project, selected: &[String]) -> Result<Vec<Vec<&'a str>>> {
    let order = reverse_order(project, selected)?;
    let mut level: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, s) in order.iter().enumerate() {
        // Dependents come first in `order`: theirs are known.
        let l = order[..i]
            .iter()
            .filter(|t| {
                project
                    .service(t)
                    .is_some_and(|t| t.depends_on.contains_key(*s))
            })
            .map(|t| level[t] + 1)
            .max()
            .unwrap_or(0);
        level.insert(s, l);
    }
    let depth = level.values().max().map_or(0, |m| m + 1);
    let mut levels = vec![Vec::new(); depth];
    for s in order {
        levels[level[s]].push(s);
    }
    Ok(levels)
}

/// The result of a thread (its panic goes on in the caller).
fn joined<T>(handle: std::thread::ScopedJoinHandle<'_, T>) -> T {
    handle
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Runs `act` on each item in a thread of its own and waits for all; the
/// first error.
fn side_by_side<T: Sync>(items: &[T], act: impl Fn(&T) -> Result<()> + Sync) -> Result<()> {
    let act = &act;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items.iter().map(|i| scope.spawn(move || act(i))).collect();
        let mut first = Ok(());
        for h in handles {
            if let Err(e) = joined(h) {
                if first.is_ok() {
                    first = Err(e);
                }
            }
        }
        first
    })
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
    events: &(dyn Progress + Sync),
) -> Result<()> {
    let containers = observed::containers(store, &project.name, OneOff::Exclude, &[])?;
    for level in stop_levels(project, services)? {
        let batch: Vec<&Container> = containers
            .iter()
            .filter(|c| level.contains(&c.service()) && c.status().is_active())
            .collect();
        side_by_side(&batch, |c| {
            let t = timeout_for(project, c.service(), timeout);
            converge::stop_container(store, c, t, events)
        })?;
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

/// Enters berth's user namespace for a command that removes the project's
/// containers: the one a running container's monitor is in when there is
/// such a container (joined, with the same id mapping: no newuidmap and
/// newgidmap processes to run, several milliseconds of a quick `down`),
/// else a new one.
/// Before any thread exists.
pub(crate) fn enter_user_namespace(store: &Store, project: &Project) -> Result<()> {
    if !crate::userns::is_real_root() && !nix::unistd::Uid::effective().is_root() {
        let containers = observed::containers(store, &project.name, OneOff::Include, &[])?;
        for c in containers.iter().filter(|c| c.status().is_active()) {
            let Ok(monitor) = c.state.monitor().open() else {
                continue;
            };
            let what = format!("the monitor of container {}", c.name());
            if crate::userns::join(&monitor, &what).is_ok() {
                return Ok(());
            }
        }
    }
    crate::userns::enter()
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
/// `--remove-orphans`), then the project's networks, with `-v` its
/// volumes, with `--rmi` its images, and the files compose wrote for it. False when there was
/// nothing to remove.
pub(crate) fn down(
    store: &Store,
    project: &Project,
    opts: &DownOptions,
    rmi: &dyn Fn(&str) -> Result<ImageRemoval>,
    events: &(dyn Progress + Sync),
) -> Result<bool> {
    let oneoff = if opts.remove_orphans {
        OneOff::Include
    } else {
        OneOff::Exclude
    };
    let containers = observed::containers(store, &project.name, oneoff, &[])?;
    let mut found = !containers.is_empty();
    let mut batches: Vec<Vec<(&Container, Option<Duration>, bool)>> =
        stop_levels(project, &opts.services)?
            .into_iter()
            .map(|level| {
                containers
                    .iter()
                    .filter(|c| level.contains(&c.service()) && !c.is_oneoff())
                    .map(|c| {
                        (
                            c,
                            timeout_for(project, c.service(), opts.timeout),
                            opts.volumes,
                        )
                    })
                    .collect()
            })
            .collect();
    if opts.remove_orphans {
        batches.push(
            containers
                .iter()
                .filter(|c| converge::is_orphan(project, c))
                .map(|c| (c, opts.timeout, false))
                .collect(),
        );
    }
    stop_and_remove_in_levels(store, &batches, events)?;
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
    for name in super::networks::project_networks(store, project)? {
        found |= super::networks::remove_network(store, &name, events)?;
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

/// Stops the containers batch after batch, those of a batch side by side,
/// and removes each (with its anonymous volumes when its flag says so)
/// as soon as it stopped, while the next batch stops. A failed stop ends
/// the stopping (dependencies of a container still running keep running);
/// the removals under way finish. The first error.
fn stop_and_remove_in_levels(
    store: &Store,
    batches: &[Vec<(&Container, Option<Duration>, bool)>],
    events: &(dyn Progress + Sync),
) -> Result<()> {
    std::thread::scope(|scope| {
        let mut removals = Vec::new();
        let mut first = Ok(());
        for batch in batches {
            let stops: Vec<_> = batch
                .iter()
                .map(|&(c, timeout, volumes)| {
                    let stop =
                        scope.spawn(move || converge::stop_container(store, c, timeout, events));
                    (c, volumes, stop)
                })
                .collect();
            for (c, volumes, stop) in stops {
                match joined(stop) {
                    Ok(()) => removals.push(
                        scope.spawn(move || converge::remove_stopped(store, c, volumes, events)),
                    ),
                    Err(e) if first.is_ok() => first = Err(e),
                    Err(_) => {}
                }
            }
            if first.is_err() {
                break;
            }
        }
        for removal in removals {
            if let Err(e) = joined(removal) {
                if first.is_ok() {
                    first = Err(e);
                }
            }
        }
        first
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn project(yaml: &str) -> Project {
        Project::from_yaml(yaml)
    }

    #[test]
    fn dependents_stop_a_level_before_their_dependencies() {
        let p = project(
            "services:
  web: {image: x, depends_on: [api, cache]}
  api: {image: x, depends_on: [db]}
  worker: {image: x, depends_on: [db]}
  cache: {image: x}
  db: {image: x}
",
        );
        let mut levels = stop_levels(&p, &[]).unwrap();
        for l in &mut levels {
            l.sort();
        }
        assert_eq!(
            levels,
            vec![vec!["web", "worker"], vec!["api", "cache"], vec!["db"]]
        );
        // `down api db`: only those, still in order.
        let selected = ["db".to_string(), "api".to_string()];
        assert_eq!(
            stop_levels(&p, &selected).unwrap(),
            vec![vec!["api"], vec!["db"]]
        );
    }
}
