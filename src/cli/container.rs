//! `ps`, `rm` and `container inspect`.

use super::args::{InspectArgs, PsArgs, RmArgs};
use super::output::{print_listing, print_objects, Listing};
use crate::model::reference::familiar;
use crate::model::{ContainerRecord, ContainerState, HealthStatus, MountKind, MountPoint, Status};
use crate::runtime::lifecycle::{self, RemoveOptions};
use crate::store::Store;
use crate::util::humanize::{human_duration, time_ago};
use crate::util::ids::short_id;
use anyhow::{bail, Result};
use serde_json::{json, Value as Json};

/// Go's zero time, which Docker prints for times that never happened.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

pub(crate) fn ps(args: PsArgs) -> Result<()> {
    let store = Store::open_default()?;
    let filters = PsFilters::parse(&args.filter)?;
    let mut rows = Vec::new();
    let mut containers = store.containers()?;
    containers.reverse();
    for c in containers {
        let state = store.observed_state(&c.id)?;
        if !args.all && !state.status.is_active() && filters.status.is_empty() {
            continue;
        }
        if !filters.matches(&c, &state) {
            continue;
        }
        let id = if args.no_trunc {
            c.id.clone()
        } else {
            short_id(&c.id).to_string()
        };
        if args.quiet {
            println!("{id}");
            continue;
        }
        let command = quoted_command(&c.config.args, !args.no_trunc);
        rows.push(json!({
            "ID": id,
            "Image": familiar(&c.image),
            "Command": command,
            "CreatedAt": c.created,
            "RunningFor": time_ago(&c.created),
            "Status": status_text(&state),
            "State": state.status.as_str(),
            "Ports": super::network::display_ports(&c, &state),
            "Names": c.name,
            "Labels": c.config.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
            "Mounts": c.host.storage.mounts.iter().map(|m| m.volume.clone().unwrap_or_else(|| m.source.display().to_string())).collect::<Vec<_>>().join(","),
            "Networks": super::network::network_names(&c),
        }));
    }
    if args.quiet {
        return Ok(());
    }
    let listing = Listing {
        columns: &[
            ("ID", "CONTAINER ID"),
            ("Image", "IMAGE"),
            ("Command", "COMMAND"),
            ("RunningFor", "CREATED"),
            ("Status", "STATUS"),
            ("Ports", "PORTS"),
            ("Names", "NAMES"),
        ],
        extra_headers: &[
            ("CreatedAt", "CREATED AT"),
            ("State", "STATE"),
            ("Labels", "LABELS"),
            ("Mounts", "MOUNTS"),
            ("Networks", "NETWORKS"),
        ],
        rows,
    };
    print_listing(args.format.as_deref(), &listing)
}

/// `"sh -c 'exit 3'"`, cut to 20 characters with an ellipsis as `docker ps`.
fn quoted_command(args: &[String], truncate: bool) -> String {
    let joined = args.join(" ");
    let shown = if truncate && joined.chars().count() > 20 {
        format!("{}…", joined.chars().take(19).collect::<String>())
    } else {
        joined
    };
    format!("\"{shown}\"")
}

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

struct PsFilters {
    status: Vec<Status>,
    names: Vec<String>,
    ids: Vec<String>,
    labels: Vec<String>,
    networks: Vec<String>,
    publish: Vec<String>,
}

impl PsFilters {
    fn parse(filters: &[String]) -> Result<PsFilters> {
        let mut f = PsFilters {
            status: vec![],
            names: vec![],
            ids: vec![],
            labels: vec![],
            networks: vec![],
            publish: vec![],
        };
        for filter in filters {
            match filter.split_once('=') {
                Some(("status", v)) => match Status::parse(v) {
                    Some(s) => f.status.push(s),
                    None => {
                        let known: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
                        bail!("invalid filter 'status={v}': status must be one of {}", known.join(", "));
                    }
                },
                Some(("name", v)) => f.names.push(v.to_string()),
                Some(("id", v)) => f.ids.push(v.to_string()),
                Some(("label", v)) => f.labels.push(v.to_string()),
                Some(("network", v)) => f.networks.push(v.to_string()),
                Some(("publish", v)) => f.publish.extend(super::network::port_filter_values("publish", v)?),
                _ => bail!("invalid filter '{filter}': supported filters are status=, name=, id=, label=, network= and publish="),
            }
        }
        Ok(f)
    }

    fn matches(&self, c: &ContainerRecord, state: &ContainerState) -> bool {
        (self.status.is_empty() || self.status.contains(&state.status))
            && (self.names.is_empty()
                || self
                    .names
                    .iter()
                    .any(|n| c.name.contains(n.trim_start_matches('/'))))
            && (self.ids.is_empty() || self.ids.iter().any(|i| c.id.starts_with(i.as_str())))
            && (self.networks.is_empty()
                || self
                    .networks
                    .iter()
                    .any(|n| super::network::on_network_filter(c, n)))
            && (self.publish.is_empty()
                || self
                    .publish
                    .iter()
                    .any(|p| super::network::publishes(state, p)))
            && self.labels.iter().all(|l| match l.split_once('=') {
                Some((k, v)) => c.config.labels.get(k).is_some_and(|x| x == v),
                None => c.config.labels.contains_key(l.as_str()),
            })
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
    super::for_each_name(&args.containers, |spec| {
        let record = store.resolve_container(spec)?;
        lifecycle::remove(&store, &record, opts)
    })
}

pub(crate) fn inspect(args: InspectArgs) -> Result<()> {
    let store = Store::open_default()?;
    let mut objects = Vec::new();
    let mut missing = Vec::new();
    for name in &args.names {
        match store.resolve_container(name) {
            Ok(c) => objects.push(inspect_json(&store, &c)?),
            Err(e) => missing.push(e),
        }
    }
    print_objects(args.format.as_deref(), &objects)?;
    super::image::report_missing(missing)
}

/// One entry of `Mounts` in `docker container inspect`.
fn mount_json(m: &MountPoint) -> Json {
    match m.kind {
        MountKind::Bind => json!({
            "Type": "bind",
            "Source": m.source,
            "Destination": m.destination,
            "Mode": if m.read_only { "ro" } else { "" },
            "RW": !m.read_only,
            "Propagation": "rprivate",
        }),
        MountKind::Volume => json!({
            "Type": "volume",
            "Name": m.volume,
            "Source": m.source,
            "Destination": m.destination,
            "Driver": "local",
            "Mode": if m.nocopy { "nocopy" } else { "" },
            "RW": !m.read_only,
            "Propagation": "",
        }),
        MountKind::Tmpfs => json!({
            "Type": "tmpfs",
            "Source": "",
            "Destination": m.destination,
            "Mode": m.tmpfs_options,
            "RW": !m.read_only,
            "Propagation": "",
        }),
    }
}

/// `docker container inspect`'s object.
pub(crate) fn inspect_json(store: &Store, c: &ContainerRecord) -> Result<Json> {
    let state = store.observed_state(&c.id)?;
    let dir = store.container_dir(&c.id);
    let (path, args) = match c.config.args.split_first() {
        Some((p, rest)) => (p.clone(), rest.to_vec()),
        None => (String::new(), vec![]),
    };
    let mounts: Vec<Json> = c.host.storage.mounts.iter().map(mount_json).collect();
    let binds: Vec<String> = c
        .host
        .storage
        .mounts
        .iter()
        .filter(|m| m.kind != MountKind::Tmpfs)
        .map(|m| {
            let src = m
                .volume
                .clone()
                .unwrap_or_else(|| m.source.display().to_string());
            format!(
                "{src}:{}{}",
                m.destination,
                if m.read_only { ":ro" } else { "" }
            )
        })
        .collect();
    let mut host_config = json!({
        "Binds": binds,
        "NetworkMode": c.host.network.mode.to_string(),
        "AutoRemove": c.host.lifecycle.auto_remove,
        "ReadonlyRootfs": c.host.storage.read_only,
    });
    if let Json::Object(m) = &mut host_config {
        m.extend(super::network::host_config_json(c));
    }
    Ok(json!({
        "Id": c.id,
        "Created": c.created,
        "Path": path,
        "Args": args,
        "State": {
            "Status": state.status.as_str(),
            "Running": state.status.is_running(),
            "Paused": state.status == Status::Paused,
            "Restarting": state.status == Status::Restarting,
            "OOMKilled": false,
            "Dead": false,
            "Pid": state.pid,
            "ExitCode": state.exit_code,
            "Error": state.error,
            "StartedAt": state.started_at.clone().unwrap_or_else(|| ZERO_TIME.into()),
            "FinishedAt": state.finished_at.clone().unwrap_or_else(|| ZERO_TIME.into()),
            "Health": state.health,
        },
        "Image": c.image_id,
        "ResolvConfPath": dir.join("resolv.conf"),
        "HostnamePath": dir.join("hostname"),
        "HostsPath": dir.join("hosts"),
        "Name": format!("/{}", c.name),
        "RestartCount": state.restart_count,
        "Driver": "overlay",
        "Platform": "linux",
        "HostConfig": host_config,
        "GraphDriver": {
            "Name": "overlay",
            "Data": {
                "UpperDir": dir.join("upper"),
                "WorkDir": dir.join("work"),
            },
        },
        "Mounts": mounts,
        "Config": {
            "Hostname": c.config.hostname,
            "Domainname": "",
            "User": c.config.user,
            "AttachStdin": c.config.open_stdin,
            "AttachStdout": true,
            "AttachStderr": true,
            "Tty": c.config.tty,
            "OpenStdin": c.config.open_stdin,
            "StdinOnce": c.config.open_stdin,
            "Env": c.config.env,
            "Cmd": c.config.cmd,
            "Image": c.image,
            "WorkingDir": c.config.working_dir,
            "Entrypoint": c.config.entrypoint,
            "Labels": c.config.labels,
            "StopSignal": c.config.stop_signal,
            "ExposedPorts": super::network::exposed_json(c),
        },
        "NetworkSettings": super::network::settings_json(c, &state),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_quoted_and_cut_like_docker_ps() {
        assert_eq!(quoted_command(&["sh".into()], true), "\"sh\"");
        let long: Vec<String> = vec![
            "sh".into(),
            "-c".into(),
            "echo a very long command line".into(),
        ];
        assert_eq!(quoted_command(&long, true), "\"sh -c echo a very l…\"");
        assert_eq!(
            quoted_command(&long, false),
            "\"sh -c echo a very long command line\""
        );
    }

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
