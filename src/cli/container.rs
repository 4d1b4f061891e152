//! `rm` and `container inspect`.

use super::args::{ContainerInspectArgs, RmArgs};
use super::output::print_objects;
use crate::model::{ContainerState, HealthStatus, Status};
use crate::runtime::lifecycle::{self, RemoveOptions};
use crate::store::Store;
use crate::util::humanize::{human_duration, time_ago};
use anyhow::Result;

/// How long since the container started, as `ps` says it.
fn up_for(state: &ContainerState) -> String {
    let since = state
        .started_at
        .as_deref()
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .map(|t| jiff::Timestamp::now().as_second() - t.as_second())
        .unwrap_or(0);
    human_duration(since.max(0))
}

/// `Up 3 seconds`, `Exited (0) 2 minutes ago`, `Created`.
pub(crate) fn status_text(state: &ContainerState) -> String {
    match state.status {
        Status::Running => {
            let health = match state.health.as_ref().map(|h| h.status) {
                Some(HealthStatus::Starting) => " (health: starting)".to_string(),
                Some(s) => format!(" ({s})"),
                None => String::new(),
            };
            format!("Up {}{health}", up_for(state))
        }
        Status::Paused => format!("Up {} (Paused)", up_for(state)),
        Status::Restarting => {
            let ago = state
                .finished_at
                .as_deref()
                .map(time_ago)
                .unwrap_or_default();
            format!("Restarting ({}) {ago}", state.exit_code)
        }
        Status::Exited => {
            let ago = state
                .finished_at
                .as_deref()
                .map(time_ago)
                .unwrap_or_default();
            format!("Exited ({}) {ago}", state.exit_code)
        }
        Status::Created => "Created".into(),
        Status::Removing => "Removal In Progress".into(),
        Status::Dead => "Dead".into(),
    }
}

pub(crate) fn rm(args: RmArgs) -> Result<()> {
    let store = Store::open_default()?;
    crate::userns::enter()?;
    // Leftovers of killed commands go while we hold the store anyway.
    store.clean_stale_tmp();
    let opts = RemoveOptions {
        force: args.force,
        volumes: args.volumes,
    };
    // With `-f` a name that matches nothing is said at once and does not
    // fail the command, as Docker's `rm -f`.
    let tolerated =
        |e: &anyhow::Error| args.force && e.is::<crate::store::containers::NoSuchContainer>();
    super::for_each_name_tolerating(&args.containers, tolerated, |spec| {
        let record = store.resolve_container(spec)?;
        lifecycle::remove(&store, &record, opts)
    })
}

pub(crate) fn inspect(args: ContainerInspectArgs) -> Result<()> {
    let store = Store::open_default()?;
    let mut objects = Vec::new();
    let mut missing = Vec::new();
    for name in &args.names {
        match store.resolve_container(name) {
            Ok(c) => objects.push(super::inspect::container(&store, &c)?),
            Err(e) => missing.push(e),
        }
    }
    print_objects(args.format.as_deref(), &objects)?;
    super::image::report_missing(missing, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_texts() {
        let mut s = ContainerState::default();
        assert_eq!(status_text(&s), "Created");
        s.status = Status::Exited;
        s.exit_code = 3;
        s.finished_at = Some(crate::util::humanize::now_rfc3339());
        assert!(status_text(&s).starts_with("Exited (3) "));
    }
}
