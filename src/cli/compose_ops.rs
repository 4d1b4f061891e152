//! The compose commands that act on what a project has: `down`, `stop`,
//! `restart`, `kill`, `rm`, `pause`, `unpause`, `ps`, `ls`, `logs`,
//! `exec`, `top`, `port`, `images`, `cp`, `wait`, `pull`, `push`, `build`.
//! They work from the project's files, or, with `-p NAME` and no file,
//! from what the store has of the project (any directory will do).

use super::compose::{load_options, ComposeArgs};
use super::compose_args as A;
use super::compose_progress::{Logs, Mode};
use super::compose_up::{display, fail, timeout};
use super::output::{print_rows, write_out, Listing};
use super::template::Format;
use super::ExitStatus;
use crate::compose::logs::{self as clogs, Follower};
use crate::compose::observed::{self, Container, OneOff};
use crate::compose::ops::{self, DownOptions, ImageRemoval, RemoveImages};
use crate::compose::{images, labels, Project, Selection};
use crate::model::Status;
use crate::runtime::logfile::{self, LogQuery};
use crate::store::Store;
use anyhow::{anyhow, bail, Result};
use serde_json::{json, Value as Json};
use std::io::IsTerminal;
use std::time::Duration;

/// The project a command acts on: from its files, or, when there is no
/// file and the project is named (`-p`, `COMPOSE_PROJECT_NAME`), from
/// the store. A project of which nothing exists is an empty one.
pub(crate) fn project_or_name(
    args: &ComposeArgs,
    store: &Store,
    services: &[String],
) -> Result<Project> {
    let opts = load_options(args, true)?;
    let named = args
        .project_name
        .clone()
        .or_else(|| opts.environment.get("COMPOSE_PROJECT_NAME").cloned())
        .filter(|n| !n.is_empty());
    match Project::load(
        &opts,
        &Selection {
            services: services.to_vec(),
            resolve_env_files: true,
            all_resources: args.all_resources,
        },
    ) {
        Ok(p) => {
            for w in &p.warnings {
                super::compose_progress::warn(w);
            }
            Ok(p)
        }
        Err(e) if e.message.starts_with("no configuration file provided") && named.is_some() => {
            let name = crate::compose::normalize_project_name(&named.unwrap_or_default());
            Ok(Project::from_store(store, &name)?.unwrap_or_else(|| empty_project(&name)))
        }
        Err(e) => {
            eprintln!("{e}");
            Err(ExitStatus(1).into())
        }
    }
}

fn empty_project(name: &str) -> Project {
    Project {
        name: name.to_string(),
        working_dir: Default::default(),
        files: Vec::new(),
        environment: Default::default(),
        profiles: Vec::new(),
        model: crate::compose::Model {
            name: name.to_string(),
            ..Default::default()
        },
        disabled: Default::default(),
        warnings: Vec::new(),
    }
}

/// Refuses services the project does not have (Compose's `no such
/// service`).
fn check_services(project: &Project, services: &[String]) -> Result<()> {
    for s in services {
        if project.service(s).is_none() && !project.disabled.contains_key(s) {
            return Err(fail(anyhow!("no such service: {s}")));
        }
    }
    Ok(())
}

fn open(args: &ComposeArgs, services: &[String]) -> Result<(Store, Project)> {
    let store = Store::open_default()?;
    let project = project_or_name(args, &store, services)?;
    check_services(&project, services)?;
    Ok((store, project))
}

pub(crate) fn down(args: &ComposeArgs, a: &A::DownArgs) -> Result<()> {
    let (store, project) = open(args, &a.services)?;
    ops::enter_user_namespace(&store, &project)?;
    let opts = DownOptions {
        services: a.services.clone(),
        remove_orphans: a.remove_orphans
            || std::env::var("COMPOSE_REMOVE_ORPHANS")
                .is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true")),
        volumes: a.volumes,
        images: a.rmi.map(|k| match k {
            A::RmiKind::Local => RemoveImages::Local,
            A::RmiKind::All => RemoveImages::All,
        }),
        timeout: timeout(a.timeout),
    };
    let rmi = |name: &str| -> Result<ImageRemoval> { remove_image(&store, name) };
    let found = {
        let d = display(args, "Running")?;
        ops::down(&store, &project, &opts, &rmi, &d).map_err(fail)?
    };
    if !found {
        super::compose_progress::warn(&format!(
            "Warning: No resource found to remove for project {:?}.",
            project.name
        ));
    }
    Ok(())
}

/// `down --rmi`: the image goes as `rmi` would take it (without force).
fn remove_image(store: &Store, name: &str) -> Result<ImageRemoval> {
    let lock = store.lock()?;
    let index = store.images()?;
    let Ok(img) = index.resolve(name) else {
        return Ok(ImageRemoval::NotFound);
    };
    let id = img.id.clone();
    drop(index);
    if store.containers()?.iter().any(|c| c.image_id == id) {
        return Ok(ImageRemoval::InUse);
    }
    match super::rmi::remove_image(store, name, false, &lock) {
        Ok(_) => Ok(ImageRemoval::Removed),
        Err(e) if e.to_string().contains("conflict") => Ok(ImageRemoval::InUse),
        Err(e) => Err(e),
    }
}

pub(crate) fn stop(args: &ComposeArgs, a: &A::StopArgs) -> Result<()> {
    let (store, project) = open(args, &a.services)?;
    let d = display(args, "Stopping")?;
    ops::stop(&store, &project, &a.services, timeout(a.timeout), &d).map_err(fail)
}

pub(crate) fn restart(args: &ComposeArgs, a: &A::RestartArgs) -> Result<()> {
    let (store, mut project) = open(args, &a.services)?;
    crate::userns::enter()?;
    let mut services = a.services.clone();
    if !a.no_deps && !services.is_empty() {
        // Services that depend on a restarted one with `restart: true`
        // restart too (Compose's IncludeDependents over such links).
        let mut i = 0;
        while i < services.len() {
            let name = services[i].clone();
            for s in project.model.services.values() {
                if s.depends_on.get(&name).is_some_and(|d| d.restart) && !services.contains(&s.name)
                {
                    services.push(s.name.clone());
                }
            }
            i += 1;
        }
    }
    // Only `restart: true` links order a restart.
    for s in project.model.services.values_mut() {
        s.depends_on.retain(|_, d| d.restart);
    }
    let d = display(args, "Restarting")?;
    ops::restart(&store, &project, &services, timeout(a.timeout), &d).map_err(fail)
}

pub(crate) fn kill(args: &ComposeArgs, a: &A::KillArgs) -> Result<()> {
    let signal = crate::util::signals::parse_signal(&a.signal)?;
    let (store, project) = open(args, &a.services)?;
    let d = display(args, "Killing")?;
    let any =
        ops::kill(&store, &project, &a.services, signal, a.remove_orphans, &d).map_err(fail)?;
    if !any {
        drop(d);
        eprint!("no container to kill");
    }
    Ok(())
}

pub(crate) fn rm(args: &ComposeArgs, a: &A::RmArgs) -> Result<()> {
    let (store, project) = open(args, &a.services)?;
    crate::userns::enter()?;
    if a.stop {
        let d = display(args, "Stopping")?;
        ops::stop(&store, &project, &a.services, None, &d).map_err(fail)?;
    }
    let containers = ops::removable(&store, &project, &a.services)?;
    if containers.is_empty() {
        eprintln!("No stopped containers");
        return Ok(());
    }
    let names: Vec<&str> = containers.iter().map(|c| c.name()).collect();
    let msg = format!("Going to remove {}", names.join(", "));
    if a.force {
        println!("{msg}");
    } else if !confirm(&msg)? {
        return Ok(());
    }
    let d = display(args, "Removing")?;
    ops::remove(&store, &containers, a.volumes, &d).map_err(fail)
}

/// Compose's prompt: `MSG [y/N] `, yes only for y/yes.
fn confirm(msg: &str) -> Result<bool> {
    use std::io::Write;
    if !std::io::stdin().is_terminal() {
        // Compose reads the answer anyway; nothing typed means no.
    }
    print!("? {msg} [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

pub(crate) fn pause(args: &ComposeArgs, a: &A::ServicesArgs, freeze: bool) -> Result<()> {
    let (store, project) = open(args, &a.services)?;
    let d = display(args, if freeze { "Pausing" } else { "Running" })?;
    ops::pause(&store, &project, &a.services, freeze, &d).map_err(fail)
}

/// Compose's `ps` headers.
const PS_HEADERS: &[(&str, &str)] = &[
    ("ID", "CONTAINER ID"),
    ("Name", "NAME"),
    ("Names", "NAMES"),
    ("Project", "PROJECT"),
    ("Service", "SERVICE"),
    ("Image", "IMAGE"),
    ("Command", "COMMAND"),
    ("CreatedAt", "CREATED AT"),
    ("RunningFor", "CREATED"),
    ("Ports", "PORTS"),
    ("State", "STATE"),
    ("Status", "STATUS"),
    ("Size", "SIZE"),
    ("Labels", "LABELS"),
    ("Mounts", "MOUNTS"),
    ("LocalVolumes", "LOCAL VOLUMES"),
    ("Networks", "NETWORKS"),
    ("Health", "HEALTH"),
    ("ExitCode", "EXIT CODE"),
    ("Publishers", "PUBLISHERS"),
];

const PS_TABLE: &str =
    "table {{.Name}}\t{{.Image}}\t{{.Command}}\t{{.Service}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}";

pub(crate) fn ps(args: &ComposeArgs, a: &A::PsArgs) -> Result<()> {
    let (store, project) = open(args, &a.service)?;
    let mut statuses = a.status.clone();
    if let Some(f) = &a.filter {
        let (k, v) = f
            .split_once('=')
            .ok_or_else(|| fail(anyhow!("arguments to --filter should be in form KEY=VAL")))?;
        match k {
            "status" => statuses.push(v.to_string()),
            "source" => return Err(fail(anyhow!("not implemented"))),
            other => return Err(fail(anyhow!("unknown filter {other}"))),
        }
    }
    for s in &statuses {
        if Status::parse(s).is_none() {
            return Err(fail(anyhow!(
                "invalid status {s:?}: use paused, restarting, removing, running, dead, created or exited"
            )));
        }
    }
    let all = a.all || !statuses.is_empty();
    let oneoff = if all {
        OneOff::Include
    } else {
        OneOff::Exclude
    };
    let mut containers = observed::containers(&store, &project.name, oneoff, &a.service)?;
    if !all {
        containers.retain(|c| c.status().is_active());
    }
    if !statuses.is_empty() {
        containers.retain(|c| statuses.iter().any(|s| s == c.status().as_str()));
    }
    containers.sort_by(|x, y| x.name().cmp(y.name()));
    if a.quiet {
        let mut out = String::new();
        for c in &containers {
            out.push_str(c.id());
            out.push('\n');
        }
        return write_out(&out, false);
    }
    if a.services {
        let mut seen: Vec<&str> = Vec::new();
        for c in &containers {
            if !seen.contains(&c.service()) {
                seen.push(c.service());
            }
        }
        println!("{}", seen.join("\n"));
        return Ok(());
    }
    let index = store.images()?;
    let trunc = !a.no_trunc;
    let mut rows = Vec::new();
    let mut row_labels = Vec::new();
    for c in &containers {
        rows.push(ps_row(&store, &index, c, trunc));
        row_labels.push(
            c.record
                .config
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        );
    }
    let format = Format::parse(Some(&a.format), PS_TABLE);
    let listing = Listing {
        columns: &[],
        extra_headers: PS_HEADERS,
        rows,
        labels: row_labels,
    };
    print_rows(&format, &listing)
}

/// One `compose ps` row: Docker's container fields, and Compose's own.
fn ps_row(
    store: &Store,
    index: &crate::store::images::ImageIndex,
    c: &Container,
    trunc: bool,
) -> Json {
    let mut row = super::ps::row(store, index, &c.record, &c.state, trunc, false);
    let health = match c.status() {
        Status::Running => c
            .state
            .health
            .as_ref()
            .map(|h| h.status.as_str())
            .unwrap_or_default(),
        _ => "",
    };
    let exit_code = match c.status() {
        Status::Exited | Status::Dead => c.state.exit_code,
        _ => 0,
    };
    if let Json::Object(m) = &mut row {
        m.insert("Name".into(), json!(c.name()));
        m.insert("Project".into(), json!(c.project()));
        m.insert("Service".into(), json!(c.service()));
        m.insert("Health".into(), json!(health));
        m.insert("ExitCode".into(), json!(exit_code));
        m.insert("Publishers".into(), publishers(c));
        m.insert("Image".into(), json!(c.record.image));
        m.insert(
            "ID".into(),
            json!(if trunc {
                crate::util::ids::short_id(c.id()).to_string()
            } else {
                c.id().to_string()
            }),
        );
    }
    row
}

pub(crate) fn ls(_args: &ComposeArgs, a: &A::LsArgs) -> Result<()> {
    let mut name_filters = Vec::new();
    for f in &a.filter {
        match f.split_once('=') {
            Some(("name", v)) => name_filters.push(v.to_string()),
            Some((k, _)) => return Err(fail(anyhow!("invalid filter '{k}'"))),
            None => return Err(fail(anyhow!("bad format of filter (expected name=value)"))),
        }
    }
    if !matches!(a.format.as_str(), "table" | "json" | "pretty" | "") {
        return Err(fail(anyhow!(
            "format value {:?} could not be parsed: parsing failed",
            a.format
        )));
    }
    let store = Store::open_default()?;
    let mut stacks: Vec<(String, String, String)> = Vec::new();
    for (name, containers) in observed::projects(&store)? {
        let containers: Vec<&Container> = containers
            .iter()
            .filter(|c| a.all || c.status().is_running())
            .collect();
        if containers.is_empty() {
            continue;
        }
        if !name_filters.is_empty() && !name_filters.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
        for c in &containers {
            *counts.entry(c.status().as_str()).or_default() += 1;
        }
        let status = counts
            .iter()
            .map(|(s, n)| format!("{s}({n})"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut files: Vec<String> = Vec::new();
        for c in &containers {
            for f in c.label(labels::CONFIG_FILES).unwrap_or_default().split(',') {
                if !f.is_empty() && !files.iter().any(|x| x == f) {
                    files.push(f.to_string());
                }
            }
        }
        stacks.push((name, status, files.join(",")));
    }
    if a.quiet {
        for (name, _, _) in &stacks {
            println!("{name}");
        }
        return Ok(());
    }
    if a.format == "json" {
        let list: Vec<Json> = stacks
            .iter()
            .map(|(n, s, f)| json!({"Name": n, "Status": s, "ConfigFiles": f}))
            .collect();
        println!("{}", serde_json::to_string(&list)?);
        return Ok(());
    }
    let mut text = String::from("NAME\tSTATUS\tCONFIG FILES\n");
    for (n, s, f) in &stacks {
        text.push_str(&format!("{n}\t{s}\t{f}\n"));
    }
    write_pretty(&text)
}

/// Compose's `PrintPrettySection`: tabwriter(20, 1, 3, ' ').
fn write_pretty(text: &str) -> Result<()> {
    let bytes = super::output::align_as_go(text, 20, 3)?;
    write_out(&String::from_utf8_lossy(&bytes), false)
}

pub(crate) fn logs(args: &ComposeArgs, a: &A::LogsArgs) -> Result<()> {
    let (store, project) = open(args, &a.services)?;
    if a.index.is_some() && a.services.len() != 1 {
        return Err(fail(anyhow!(
            "the --index option requires exactly one service"
        )));
    }
    let query = LogQuery {
        tail: None,
        since: a
            .since
            .as_deref()
            .map(logfile::parse_time_arg)
            .transpose()?,
        until: a
            .until
            .as_deref()
            .map(logfile::parse_time_arg)
            .transpose()?,
        timestamps: a.timestamps,
        details: false,
    };
    let from = match a.tail.as_str() {
        "all" | "-1" => clogs::From::Start,
        n => clogs::From::Tail(n.parse().map_err(|_| {
            fail(anyhow!(
                "invalid --tail value {n:?}: a number of lines or \"all\""
            ))
        })?),
    };
    let mut containers = observed::containers(&store, &project.name, OneOff::Exclude, &a.services)?;
    if a.services.is_empty() && !project.model.services.is_empty() {
        containers.retain(|c| project.model.services.contains_key(c.service()));
    }
    if let Some(i) = a.index {
        let c = observed::pick(&containers, &a.services[0], Some(i))
            .map_err(|e| fail(anyhow!(e)))?
            .clone();
        containers = vec![c];
    }
    let consumer = Logs::new(a.no_color, a.no_log_prefix, false);
    let mut follower = Follower::new(query);
    for c in &containers {
        follower.add(&store, c, from, &consumer)?;
    }
    follower.pump(&consumer)?;
    if !a.follow {
        return Ok(());
    }
    // Followed until every container stopped; containers started later
    // (a restart, `up` from elsewhere) join.
    loop {
        follower.pump(&consumer)?;
        follower.watch(&store, &consumer)?;
        for c in observed::containers(&store, &project.name, OneOff::Exclude, &a.services)? {
            if !follower.is_following(c.id()) && c.status().is_running() {
                follower.add(&store, &c, clogs::From::Start, &consumer)?;
            }
        }
        if follower.all_stopped(&store) {
            follower.pump(&consumer)?;
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The running container of `service` a command aims at (`--index`).
fn running_container(
    store: &Store,
    project: &Project,
    service: &str,
    index: Option<u32>,
) -> Result<Container> {
    let containers: Vec<Container> = observed::containers(
        store,
        &project.name,
        OneOff::Include,
        std::slice::from_ref(&service.to_string()),
    )?
    .into_iter()
    .filter(|c| c.status().is_running())
    .collect();
    observed::pick(&containers, service, index)
        .cloned()
        .map_err(|e| fail(anyhow!(e)))
}

pub(crate) fn exec(args: &ComposeArgs, a: &A::ExecArgs) -> Result<()> {
    let (store, project) = open(args, std::slice::from_ref(&a.service))?;
    let c = running_container(&store, &project, &a.service, a.index)?;
    let tty = if a.no_tty {
        false
    } else {
        a.tty || std::io::stdout().is_terminal()
    };
    let interactive = !a.detach;
    if tty && interactive && !std::io::stdin().is_terminal() {
        return Err(fail(anyhow!("the input device is not a TTY")));
    }
    let mut env = Vec::new();
    for e in &a.env {
        match e.split_once('=') {
            Some(_) => env.push(e.clone()),
            None => {
                if let Some(v) = project.environment.get(e) {
                    env.push(format!("{e}={v}"));
                }
            }
        }
    }
    if let Some(w) = &a.workdir {
        if !w.starts_with('/') {
            bail!("the working directory '{w}' is invalid, it needs to be an absolute path");
        }
    }
    let opts = crate::runtime::exec::ExecOptions {
        argv: a.command.clone(),
        interactive,
        tty,
        detach: a.detach,
        env,
        workdir: a.workdir.clone(),
        user: a.user.clone(),
        privileged: a.privileged,
        detach_keys: crate::runtime::attach_client::parse_detach_keys("ctrl-p,ctrl-q")?,
        console_size: super::terminal::console_size(tty),
    };
    use crate::runtime::exec::ExecOutcome;
    match crate::runtime::exec::exec(&c.record, c.state.process(), &opts)? {
        ExecOutcome::Exited(0) | ExecOutcome::Detached => Ok(()),
        ExecOutcome::Exited(code) => Err(ExitStatus(code).into()),
        ExecOutcome::Failed(f) => Err(super::exec::exec_failed(&f)),
    }
}

pub(crate) fn top(args: &ComposeArgs, a: &A::ServicesArgs) -> Result<()> {
    let (store, project) = open(args, &a.services)?;
    let mut containers: Vec<Container> =
        observed::containers(&store, &project.name, OneOff::Include, &a.services)?
            .into_iter()
            .filter(|c| c.status().can_exec())
            .collect();
    containers.sort_by(|x, y| x.name().cmp(y.name()));
    let mut headers: Vec<String> = vec!["SERVICE".into(), "#".into()];
    let mut rows: Vec<std::collections::HashMap<String, String>> = Vec::new();
    for c in &containers {
        let (titles, procs) =
            super::lifecycle::top_table(&c.state, &[]).map_err(|e| e.into_error(c.id()))?;
        for p in procs {
            let mut entry = std::collections::HashMap::new();
            entry.insert("SERVICE".to_string(), c.service().to_string());
            entry.insert(
                "#".to_string(),
                c.label(labels::CONTAINER_NUMBER)
                    .unwrap_or_default()
                    .to_string(),
            );
            for (i, t) in titles.iter().enumerate() {
                if !headers.contains(t) {
                    headers.push(t.clone());
                }
                entry.insert(t.clone(), p.get(i).cloned().unwrap_or_default());
            }
            rows.push(entry);
        }
    }
    if rows.is_empty() {
        return Ok(());
    }
    // CMD last, as Compose.
    if let Some(pos) = headers.iter().position(|h| h == "CMD") {
        let cmd = headers.remove(pos);
        headers.push(cmd);
    }
    let mut text = headers.join("\t");
    text.push('\n');
    for r in rows {
        let cols: Vec<String> = headers
            .iter()
            .map(|h| r.get(h).cloned().unwrap_or_else(|| "-".into()))
            .collect();
        text.push_str(&cols.join("\t"));
        text.push('\n');
    }
    // Compose's `top`: tabwriter(4, 1, 2, ' ').
    let bytes = super::output::align_as_go(&text, 4, 2)?;
    write_out(&String::from_utf8_lossy(&bytes), false)
}

pub(crate) fn port(args: &ComposeArgs, a: &A::PortArgs) -> Result<()> {
    let (store, project) = open(args, std::slice::from_ref(&a.service))?;
    let c = running_container(&store, &project, &a.service, a.index)?;
    let proto = crate::model::ports::Proto::parse(&a.protocol.to_ascii_lowercase())
        .ok_or_else(|| fail(anyhow!("invalid protocol {:?}: tcp or udp", a.protocol)))?;
    let bindings: Vec<_> = c
        .state
        .network
        .ports
        .iter()
        .filter(|b| b.container_port == a.private_port && b.proto == proto)
        .collect();
    // Compose prints one address: the IPv4 binding before the IPv6 one.
    match bindings
        .iter()
        .find(|b| b.host_ip.is_ipv4())
        .or(bindings.first())
    {
        Some(b) => {
            println!("{}", b.host());
            Ok(())
        }
        None => Err(fail(anyhow!(
            "no port {}/{} for container {}",
            a.private_port,
            a.protocol,
            c.name()
        ))),
    }
}

/// Compose's `Publishers` of a `ps --format json` row: each published
/// port as bound.
fn publishers(c: &Container) -> Json {
    if !c.status().is_active() {
        return json!([]);
    }
    let mut list: Vec<Json> = c
        .state
        .network
        .ports
        .iter()
        .map(|b| {
            json!({
                "URL": b.host_ip.to_string(),
                "TargetPort": b.container_port,
                "PublishedPort": b.host_port,
                "Protocol": b.proto.to_string(),
            })
        })
        .collect();
    list.sort_by_key(|p| {
        (
            p["TargetPort"].as_u64(),
            p["URL"].as_str().map(String::from),
        )
    });
    Json::Array(list)
}

pub(crate) fn images(args: &ComposeArgs, a: &A::ImagesArgs) -> Result<()> {
    let (store, project) = open(args, &a.services)?;
    if !matches!(a.format.as_str(), "table" | "json" | "pretty" | "") {
        return Err(fail(anyhow!(
            "format value {:?} could not be parsed: parsing failed",
            a.format
        )));
    }
    let containers = observed::containers(&store, &project.name, OneOff::Include, &a.services)?;
    let index = store.images()?;
    struct Row {
        container: String,
        repo: String,
        tag: String,
        id: String,
        size: u64,
        created: String,
    }
    let mut rows: Vec<Row> = Vec::new();
    for c in &containers {
        let Some(img) = index.by_id(&c.record.image_id) else {
            continue;
        };
        let (repo, tag) = match crate::model::reference::Reference::parse_tagged(&c.record.image) {
            Ok(r) if !c.record.image.starts_with("sha256:") => (
                r.familiar_name(),
                r.tag().map(str::to_string).unwrap_or_default(),
            ),
            _ => (String::new(), String::new()),
        };
        rows.push(Row {
            container: c.name().to_string(),
            repo,
            tag,
            id: img.id.clone(),
            size: img.size,
            created: img.created.clone().unwrap_or_else(|| img.added.clone()),
        });
    }
    rows.sort_by(|x, y| x.container.cmp(&y.container));
    if a.quiet {
        let mut ids: Vec<String> = Vec::new();
        for r in &rows {
            let id = r.id.trim_start_matches("sha256:").to_string();
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        for id in ids {
            println!("{id}");
        }
        return Ok(());
    }
    let platform = format!("linux/{}", crate::image::config::host_architecture());
    if a.format == "json" {
        let list: Vec<Json> = rows
            .iter()
            .map(|r| {
                json!({"ID": r.id, "ContainerName": r.container, "Repository": r.repo,
                       "Tag": r.tag, "Platform": platform, "Size": r.size, "LastTagTime": r.created})
            })
            .collect();
        println!("{}", serde_json::to_string(&list)?);
        return Ok(());
    }
    let mut text = String::from("CONTAINER\tREPOSITORY\tTAG\tPLATFORM\tIMAGE ID\tSIZE\tCREATED\n");
    for r in &rows {
        let orn = |s: &str| {
            if s.is_empty() {
                "<none>".to_string()
            } else {
                s.to_string()
            }
        };
        text.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
            r.container,
            orn(&r.repo),
            orn(&r.tag),
            platform,
            crate::util::ids::short_id(&r.id),
            crate::util::humanize::human_size_precision(r.size, 3),
            crate::util::humanize::time_ago(&r.created),
        ));
    }
    write_pretty(&text)
}

pub(crate) fn cp(args: &ComposeArgs, a: &A::CpArgs) -> Result<()> {
    let split = |s: &str| -> Option<(String, String)> {
        let (svc, path) = s.split_once(':')?;
        (!svc.is_empty() && !svc.contains('/') && !svc.starts_with('.'))
            .then(|| (svc.to_string(), path.to_string()))
    };
    let (src, dst) = (split(&a.source), split(&a.dest));
    let service = match (&src, &dst) {
        (Some((s, _)), None) | (None, Some((s, _))) => s.clone(),
        (Some(_), Some(_)) => {
            return Err(fail(anyhow!("copying between services is not supported")))
        }
        (None, None) => return Err(fail(anyhow!("unknown copy direction"))),
    };
    let (store, project) = open(args, std::slice::from_ref(&service))?;
    let oneoff = if a.all {
        OneOff::Include
    } else {
        OneOff::Exclude
    };
    let containers = observed::containers(
        &store,
        &project.name,
        oneoff,
        std::slice::from_ref(&service),
    )?;
    let c = observed::pick(&containers, &service, a.index).map_err(|e| fail(anyhow!(e)))?;
    let opts = crate::runtime::cp::CpOptions {
        archive: a.archive,
        follow_link: a.follow_link,
    };
    let abs = |p: &str| {
        if p.starts_with('/') {
            p.to_string()
        } else {
            format!("/{p}")
        }
    };
    match (src, dst) {
        (Some((_, path)), None) => {
            crate::runtime::cp::copy_out(&store, &c.record, &abs(&path), &a.dest, opts)
        }
        (None, Some((_, path))) => {
            crate::runtime::cp::copy_in(&store, &c.record, &a.source, &abs(&path), opts)
        }
        _ => unreachable!("directions checked above"),
    }
}

pub(crate) fn wait(args: &ComposeArgs, a: &A::WaitArgs) -> Result<()> {
    let (store, project) = open(args, &a.services)?;
    let containers = observed::containers(&store, &project.name, OneOff::Exclude, &a.services)?;
    if containers.is_empty() {
        return Err(fail(anyhow!(
            "no containers for project {:?}",
            project.name
        )));
    }
    // Each container's exit code in turn; with --down-project the first
    // one that stops takes the project down.
    let mut code = 0;
    let mut pending: Vec<Container> = containers;
    loop {
        let mut still = Vec::new();
        for mut c in pending {
            c.refresh(&store)?;
            if matches!(
                c.status(),
                Status::Running | Status::Paused | Status::Restarting
            ) {
                still.push(c);
                continue;
            }
            code = c.state.exit_code;
            if a.down_project {
                crate::userns::enter()?;
                let d = display(args, "Running")?;
                let rmi = |name: &str| remove_image(&store, name);
                ops::down(&store, &project, &DownOptions::default(), &rmi, &d).map_err(fail)?;
                drop(d);
                println!("{code}");
                return exit_with(code);
            }
            println!("{code}");
        }
        pending = still;
        if pending.is_empty() {
            return exit_with(code);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn exit_with(code: i32) -> Result<()> {
    if code == 0 {
        Ok(())
    } else {
        Err(ExitStatus(code).into())
    }
}

pub(crate) fn pull(args: &ComposeArgs, a: &A::PullArgs) -> Result<()> {
    let store = Store::open_default()?;
    let opts = load_options(args, true)?;
    let mut project = super::compose::load(
        &opts,
        &Selection {
            services: a.services.clone(),
            resolve_env_files: false,
            all_resources: false,
        },
    )?;
    if !a.services.is_empty() && !a.include_deps {
        project.model.services.retain(|n, _| a.services.contains(n));
    }
    if let Some(p) = &a.policy {
        if !matches!(p.as_str(), "missing" | "always") {
            return Err(fail(anyhow!(
                "invalid pull policy {p:?}: use missing or always"
            )));
        }
    }
    let settings = crate::image::registry::settings::Settings::load()?;
    let d = super::compose_progress::Display::new(
        if a.quiet {
            Mode::Quiet
        } else {
            super::compose_progress::choose(args.progress.as_deref(), &args.ansi)?
        },
        "Pulling",
    );
    let mut must_build = Vec::new();
    let mut errors = Vec::new();
    let mut pulled: Vec<String> = Vec::new();
    use crate::compose::progress::{Event, Progress, Status as EvStatus};
    for s in project.model.services.values() {
        if s.image.is_empty() {
            d.event(Event::text(
                &s.name,
                EvStatus::Done,
                "Skipped - No image to be pulled",
            ));
            continue;
        }
        let policy = match &a.policy {
            Some(p) => images::PullPolicy::parse(p)?,
            None => images::PullPolicy::of(s)?,
        };
        match policy {
            images::PullPolicy::Never | images::PullPolicy::Build => {
                d.event(Event::text(&s.name, EvStatus::Done, "Skipped"));
                continue;
            }
            images::PullPolicy::Missing | images::PullPolicy::Refresh
                if images::local_id(&store, &settings, &s.image)?.is_some() =>
            {
                d.event(Event::text(
                    &s.name,
                    EvStatus::Done,
                    "Skipped - Image is already present locally",
                ));
                continue;
            }
            _ => {}
        }
        if s.build.is_some() && a.ignore_buildable {
            d.event(Event::text(
                &s.name,
                EvStatus::Done,
                "Skipped - Image can be built",
            ));
            continue;
        }
        if pulled.contains(&s.image) {
            d.event(Event::text(
                &s.name,
                EvStatus::Done,
                format!("Skipped - Image is already being pulled by {}", s.name),
            ));
            continue;
        }
        pulled.push(s.image.clone());
        if let Err(e) = images::pull_service(&store, &settings, s, a.quiet, &d) {
            if s.build.is_some() {
                must_build.push(s.name.clone());
            } else if !a.ignore_pull_failures {
                errors.push(e);
            }
        }
    }
    if !must_build.is_empty() {
        d.tail(&format!(
            "WARNING: Some service image(s) must be built from source by running:\n    docker compose build {}",
            must_build.join(" ")
        ));
    }
    drop(d);
    match errors.into_iter().next() {
        Some(e) => Err(fail(e)),
        None => Ok(()),
    }
}

pub(crate) fn push(args: &ComposeArgs, a: &A::PushArgs) -> Result<()> {
    let store = Store::open_default()?;
    let opts = load_options(args, true)?;
    let mut project = super::compose::load(
        &opts,
        &Selection {
            services: a.services.clone(),
            resolve_env_files: false,
            all_resources: false,
        },
    )?;
    if !a.services.is_empty() && !a.include_deps {
        project.model.services.retain(|n, _| a.services.contains(n));
    }
    let d = super::compose_progress::Display::new(
        if a.quiet {
            Mode::Quiet
        } else {
            super::compose_progress::choose(args.progress.as_deref(), &args.ansi)?
        },
        "Pushing",
    );
    for s in project.model.services.values() {
        if s.image.is_empty() {
            continue;
        }
        if let Err(e) = images::push_service(&store, s, a.quiet, &d) {
            if !a.ignore_push_failures {
                return Err(fail(e));
            }
        }
    }
    Ok(())
}

pub(crate) fn build(args: &ComposeArgs, a: &A::BuildArgs) -> Result<()> {
    let store = Store::open_default()?;
    let opts = load_options(args, true)?;
    let project = super::compose::load(
        &opts,
        &Selection {
            services: a.services.clone(),
            resolve_env_files: false,
            all_resources: false,
        },
    )?;
    let d = display(args, "Building")?;
    let events: &dyn crate::compose::progress::Progress = if a.quiet {
        &crate::compose::progress::Silent
    } else {
        &d
    };
    let flags = images::BuildFlags {
        pull: a.pull,
        no_cache: a.no_cache,
        build_args: a.build_arg.clone(),
    };
    for s in project.model.services.values() {
        if s.build.is_none() {
            continue;
        }
        if !a.services.is_empty() && !a.services.contains(&s.name) && !a.with_dependencies {
            continue;
        }
        images::build_service(&store, &project, s, &flags, events).map_err(fail)?;
        if a.push && !s.image.is_empty() {
            images::push_service(&store, s, a.quiet, events).map_err(fail)?;
        }
    }
    Ok(())
}
