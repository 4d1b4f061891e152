//! `compose run`: a one-off container of a service (`PROJECT-SERVICE-run-
//! <slug>`, labelled `com.docker.compose.oneoff=True`), after its
//! dependencies are up (unless `--no-deps`). The CLI starts it attached or
//! detached, as `berth run` does.

use super::converge::{self, CreateOptions};
use super::convert::{self, OneOffOverrides, Target};
use super::images::{self, EnsureOptions};
use super::labels::Role;
use super::observed::{self, OneOff};
use super::progress::Progress;
use super::project::Project;
use super::resources;
use super::start::{self, StartOptions};
use crate::model::ContainerRecord;
use crate::runtime::lifecycle;
use crate::store::Store;
use anyhow::{anyhow, Result};

/// `compose run`'s choices besides the container's own overrides.
#[derive(Debug, Clone, Default)]
pub(crate) struct RunOptions {
    pub(crate) service: String,
    /// `--name`.
    pub(crate) name: Option<String>,
    pub(crate) no_deps: bool,
    pub(crate) remove_orphans: bool,
    pub(crate) env_files: Vec<String>,
    pub(crate) images: EnsureOptions,
    pub(crate) overrides: OneOffOverrides,
}

/// Brings up the service's dependencies, then creates the one-off
/// container; its record.
pub(crate) fn prepare(
    store: &Store,
    project: &Project,
    opts: &RunOptions,
    events: &dyn Progress,
) -> Result<ContainerRecord> {
    let service = project
        .service(&opts.service)
        .ok_or_else(|| anyhow!("no such service: {}", opts.service))?
        .clone();
    if !opts.no_deps {
        let deps: Vec<String> = project
            .dependency_order()?
            .into_iter()
            .map(|s| s.name.clone())
            .filter(|n| *n != opts.service)
            .collect();
        if !deps.is_empty() {
            let mut deps_project = project.clone();
            deps_project.model.services.retain(|n, _| deps.contains(n));
            let create = CreateOptions {
                services: deps.clone(),
                remove_orphans: opts.remove_orphans,
                ignore_orphans: true,
                env_files: opts.env_files.clone(),
                images: opts.images.clone(),
                inherit: true,
                ..Default::default()
            };
            converge::create(store, &deps_project, &create, events)?;
            start::start(
                store,
                &deps_project,
                &StartOptions {
                    services: deps,
                    ..Default::default()
                },
                events,
            )?;
        }
    }
    // The service alone: its image, volumes and files.
    let mut own = project.clone();
    own.model.services.retain(|n, _| *n == opts.service);
    let ids = images::ensure(store, &own, &opts.images, events)?;
    super::networks::ensure_networks(store, &own, events)?;
    resources::ensure_volumes(store, &own, events)?;
    let generated = resources::generated_files(store, &own)?;
    if !opts.no_deps {
        start::wait_dependencies(
            store,
            project,
            &service.name,
            &service.depends_on,
            None,
            events,
        )?;
    }
    let slug = crate::util::ids::random_id();
    // `container_name` is not used: a one-off must not take the
    // service's container's name (Compose names it as here).
    let name = opts
        .name
        .clone()
        .unwrap_or_else(|| format!("{}-{}-run-{}", project.name, service.name, &slug[..12]));
    let state = observed_state(store, project)?;
    let volumes_from = converge::resolve_volumes_from(project, &service, &state)?;
    let image_id = ids
        .get(&service.name)
        .cloned()
        .ok_or_else(|| anyhow!("service {:?} has no image", service.name))?;
    let target = Target {
        project,
        service: &service,
        name,
        role: Role::OneOff { slug },
        image_id,
        env_files: &opts.env_files,
        generated: &generated,
        replaces: None,
        volumes_from,
        oneoff: Some(&opts.overrides),
    };
    let converted = convert::request(&target)?;
    for w in &converted.warnings {
        events.warning(w);
    }
    let mut req = converted.request;
    // One-offs never restart (Compose drops restart and restart_policy).
    req.lifecycle.restart = crate::model::RestartPolicy::No;
    lifecycle::create(store, &req)
}

fn observed_state(
    store: &Store,
    project: &Project,
) -> Result<std::collections::BTreeMap<String, Vec<observed::Container>>> {
    let mut out: std::collections::BTreeMap<String, Vec<observed::Container>> = Default::default();
    for c in observed::containers(store, &project.name, OneOff::Exclude, &[])? {
        out.entry(c.service().to_string()).or_default().push(c);
    }
    Ok(out)
}
