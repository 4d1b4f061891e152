//! `start` (and the second half of `up`): the services' containers started
//! in dependency order, each service only once what it depends on
//! satisfies its `depends_on` condition: started, healthy (by the health
//! checks the containers' monitors run), or completed successfully. A
//! dependency that becomes unhealthy or exits fails the command, naming
//! it. `up --wait` then waits for every service to be running or healthy.

use super::observed::{self, Container, OneOff};
use super::progress::{self, Progress};
use super::project::Project;
use super::types::Dependency;
use crate::model::{HealthStatus, StartFailure, Status};
use crate::runtime::lifecycle;
use crate::store::Store;
use anyhow::{anyhow, bail, Result};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How often conditions are looked at.
const POLL: Duration = Duration::from_millis(50);

/// The condition `--wait` uses for a service nobody waits on otherwise.
const RUNNING_OR_HEALTHY: &str = "running_or_healthy";

#[derive(Debug, Clone, Default)]
pub(crate) struct StartOptions {
    /// Services to start (empty: all of the project's).
    pub(crate) services: Vec<String>,
    /// `--wait`: until every service is running or healthy.
    pub(crate) wait: bool,
    /// `--wait-timeout` (also bounds each dependency wait when set).
    pub(crate) wait_timeout: Option<Duration>,
}

/// Starts the selected services' containers, dependencies first.
pub(crate) fn start(
    store: &Store,
    project: &Project,
    opts: &StartOptions,
    events: &dyn Progress,
) -> Result<()> {
    for s in project.dependency_order()? {
        if !opts.services.is_empty() && !opts.services.contains(&s.name) {
            continue;
        }
        if Project::scale(s) == 0 {
            continue;
        }
        wait_dependencies(
            store,
            project,
            &s.name,
            &s.depends_on,
            opts.wait_timeout,
            events,
        )?;
        let containers = observed::containers(
            store,
            &project.name,
            OneOff::Exclude,
            std::slice::from_ref(&s.name),
        )?;
        if containers.is_empty() {
            bail!("service {:?} has no container to start", s.name);
        }
        for c in containers {
            if c.status().is_running() {
                continue;
            }
            start_container(store, &c, events)?;
        }
    }
    if opts.wait {
        let mut all: BTreeMap<String, Dependency> = BTreeMap::new();
        for s in project.model.services.values() {
            if !opts.services.is_empty() && !opts.services.contains(&s.name) {
                continue;
            }
            all.insert(
                s.name.clone(),
                Dependency {
                    condition: wait_condition(project, &s.name).into(),
                    restart: false,
                    extensions: Default::default(),
                    required: true,
                },
            );
        }
        let started = Instant::now();
        wait_dependencies(
            store,
            project,
            &project.name,
            &all,
            opts.wait_timeout,
            events,
        )
        .map_err(|e| match opts.wait_timeout {
            Some(t) if started.elapsed() >= t => {
                anyhow!("application not healthy after {}", go_duration(t))
            }
            _ => e,
        })?;
    }
    Ok(())
}

/// Starts one container (`Starting`, `Started`).
pub(crate) fn start_container(store: &Store, c: &Container, events: &dyn Progress) -> Result<()> {
    let id = progress::container_id(c.name());
    events.event(progress::starting(&id));
    let record = store.container(c.id())?;
    if let Err(e) = lifecycle::start(store, &record) {
        let msg = match e.downcast_ref::<StartFailure>() {
            Some(f) => f.message.clone(),
            None => format!("{e:#}"),
        };
        events.event(progress::error_message(&id, &msg));
        bail!("container {}: {msg}", c.name());
    }
    events.event(progress::started(&id));
    Ok(())
}

/// Compose's `getDependencyCondition`: a one-shot service that others wait
/// on to complete is waited on to complete.
fn wait_condition(project: &Project, name: &str) -> &'static str {
    let completes = project.model.services.values().any(|s| {
        s.depends_on
            .get(name)
            .is_some_and(|d| d.condition == "service_completed_successfully")
    });
    if completes {
        "service_completed_successfully"
    } else {
        RUNNING_OR_HEALTHY
    }
}

/// What one container says about a condition.
enum Check {
    Met,
    NotYet,
    Failed(String),
}

/// Waits until each dependency meets its condition (Compose's
/// `waitDependencies`).
pub(crate) fn wait_dependencies(
    store: &Store,
    project: &Project,
    dependant: &str,
    deps: &BTreeMap<String, Dependency>,
    timeout: Option<Duration>,
    events: &dyn Progress,
) -> Result<()> {
    let deadline = timeout.map(|t| Instant::now() + t);
    // (service, condition, required, its containers)
    let mut pending: Vec<(String, String, bool, Vec<Container>)> = Vec::new();
    for (dep, cfg) in deps {
        if cfg.condition.is_empty() || cfg.condition == "service_started" {
            continue;
        }
        let Some(s) = project.service(dep) else {
            // Disabled (`--no-deps`, a profile): not waited for.
            continue;
        };
        if Project::scale(s) == 0 {
            continue;
        }
        let containers = observed::containers(
            store,
            &project.name,
            OneOff::Exclude,
            std::slice::from_ref(dep),
        )?;
        if containers.is_empty() {
            if cfg.required {
                bail!("{dependant} is missing dependency {dep}");
            }
            events.warning(&format!("{dependant} is missing dependency {dep}"));
            continue;
        }
        for c in &containers {
            events.event(progress::waiting(&progress::container_id(c.name())));
        }
        pending.push((dep.clone(), cfg.condition.clone(), cfg.required, containers));
    }
    while !pending.is_empty() {
        let mut still = Vec::new();
        for (dep, condition, required, mut containers) in pending {
            for c in containers.iter_mut() {
                c.refresh(store)?;
            }
            match check(&condition, &containers) {
                Check::NotYet => still.push((dep, condition, required, containers)),
                Check::Met => {
                    let ev = if condition == "service_completed_successfully" {
                        progress::exited
                    } else {
                        progress::healthy
                    };
                    for c in &containers {
                        events.event(ev(&progress::container_id(c.name())));
                    }
                }
                Check::Failed(why) => {
                    let what = match condition.as_str() {
                        "service_completed_successfully" => "didn't complete successfully",
                        _ => "failed to start",
                    };
                    if !required {
                        let reason = format!("optional dependency {dep:?} {what}");
                        for c in &containers {
                            events.event(progress::skipped(
                                &progress::container_id(c.name()),
                                &reason,
                            ));
                        }
                        events.warning(&format!("optional dependency {dep:?} {what}: {why}"));
                        continue;
                    }
                    for c in &containers {
                        events.event(progress::error_message(
                            &progress::container_id(c.name()),
                            &why,
                        ));
                    }
                    if condition == "service_completed_successfully" {
                        bail!("service {why}");
                    }
                    bail!("dependency failed to start: {why}");
                }
            }
        }
        pending = still;
        if pending.is_empty() {
            break;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            bail!("timeout waiting for dependencies");
        }
        events.tick();
        std::thread::sleep(POLL);
    }
    Ok(())
}

/// Compose's `isServiceHealthy` / `isServiceCompleted` over a service's
/// containers.
fn check(condition: &str, containers: &[Container]) -> Check {
    if condition == "service_completed_successfully" {
        for c in containers {
            if matches!(c.status(), Status::Exited | Status::Dead) {
                if c.state.exit_code == 0 {
                    return Check::Met;
                }
                return Check::Failed(format!(
                    "{:?} didn't complete successfully: exit {}",
                    c.service(),
                    c.state.exit_code
                ));
            }
        }
        return Check::NotYet;
    }
    let fallback_running = condition == RUNNING_OR_HEALTHY;
    for c in containers {
        if matches!(c.status(), Status::Exited | Status::Dead) {
            return Check::Failed(format!(
                "container {} exited ({})",
                c.name(),
                c.state.exit_code
            ));
        }
        if c.record.config.healthcheck.is_none() {
            if fallback_running {
                if !c.status().is_running() {
                    return Check::NotYet;
                }
                continue;
            }
            return Check::Failed(format!(
                "container {} has no healthcheck configured",
                c.name()
            ));
        }
        match c.state.health.as_ref().map(|h| h.status) {
            Some(HealthStatus::Healthy) => {}
            Some(HealthStatus::Unhealthy) => {
                return Check::Failed(format!("container {} is unhealthy", c.name()))
            }
            Some(HealthStatus::Starting) | None => return Check::NotYet,
        }
    }
    Check::Met
}

/// A duration as Go prints it (`30s`, `1m0s`), for Compose's messages.
pub(crate) fn go_duration(d: Duration) -> String {
    super::types::Duration(d).to_string()
}
