//! `compose up`, `create`, `start` and `run`: the flags checked as Docker
//! Compose checks them, the project loaded and adjusted (`--scale`,
//! `--pull`, `--no-deps`), then `compose::converge` and `compose::start`
//! with the progress display. An attached `up` follows the containers'
//! output with Compose's prefixes until they stop; Ctrl-C stops the
//! project gracefully (a second one kills it), as Compose does.

use super::compose::{load, load_options, ComposeArgs};
use super::compose_args::{CreateArgs, CreateFlags, RunArgs, ServicesArgs, UpArgs};
use super::compose_progress::{self as display, Display, Logs, Mixed};
use super::ExitStatus;
use crate::compose::converge::{self, CreateOptions, Recreate};
use crate::compose::convert::OneOffOverrides;
use crate::compose::images::{self, EnsureOptions};
use crate::compose::logs::{self as clogs, Follower};
use crate::compose::observed::{self, OneOff};
use crate::compose::oneoff::{self, RunOptions};
use crate::compose::progress::{Event, Progress};
use crate::compose::start::{self, StartOptions};
use crate::compose::{ops, Project, Selection};
use crate::runtime::logfile::LogQuery;
use crate::store::Store;
use anyhow::{anyhow, bail, Result};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// Loads the project for a command that creates: `.env` files read into
/// the services' environments, the named services enabled.
pub(crate) fn load_project(args: &ComposeArgs, services: &[String]) -> Result<Project> {
    let opts = load_options(args, true)?;
    let project = load(
        &opts,
        &Selection {
            services: services.to_vec(),
            resolve_env_files: true,
            all_resources: args.all_resources,
        },
    )?;
    Ok(project)
}

/// The progress display `--progress`/`--ansi` ask for.
pub(crate) fn display(args: &ComposeArgs, title: &str) -> Result<Display> {
    Ok(Display::new(
        display::choose(args.progress.as_deref(), &args.ansi)?,
        title,
    ))
}

/// An error of the project or of the orchestration, printed as Compose
/// prints it (`Error response from daemon` is Docker's; Compose prints
/// the message alone), status 1.
pub(crate) fn fail(e: anyhow::Error) -> anyhow::Error {
    if e.downcast_ref::<ExitStatus>().is_some() {
        return e;
    }
    super::PlainError(format!("{e:#}")).into()
}

/// `-t SECONDS` as a duration (negative: wait forever, as Docker's -1).
pub(crate) fn timeout(t: Option<i64>) -> Option<Duration> {
    t.map(|s| {
        if s < 0 {
            Duration::from_secs(u64::MAX / 4)
        } else {
            Duration::from_secs(s as u64)
        }
    })
}

/// `--scale SERVICE=NUM`.
fn apply_scale(project: &mut Project, scale: &[String]) -> Result<()> {
    for s in scale {
        let (name, n) = s
            .split_once('=')
            .ok_or_else(|| anyhow!("invalid --scale option {s:?}. Should be SERVICE=NUM"))?;
        let n: u32 = n
            .parse()
            .map_err(|_| anyhow!("invalid --scale option {s:?}. Should be SERVICE=NUM"))?;
        let svc = project
            .model
            .services
            .get_mut(name)
            .ok_or_else(|| anyhow!("no such service: {name}"))?;
        svc.scale = Some(n);
        if let Some(d) = svc.deploy.as_mut() {
            d.replicas = Some(n);
        }
    }
    Ok(())
}

/// `--no-deps`: only the named services (the others are disabled, so
/// that they are neither orphans nor waited for).
fn only_named(project: &mut Project, services: &[String]) {
    if services.is_empty() {
        return;
    }
    let others: Vec<String> = project
        .model
        .services
        .keys()
        .filter(|k| !services.contains(k))
        .cloned()
        .collect();
    for k in others {
        if let Some(s) = project.model.services.remove(&k) {
            project.disabled.insert(k, s);
        }
    }
}

fn env_flag(project: &Project, name: &str) -> bool {
    project
        .environment
        .get(name)
        .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
}

/// The `create` options from the flags.
fn create_options(
    args: &ComposeArgs,
    project: &Project,
    f: &CreateFlags,
    services: &[String],
    timeout: Option<Duration>,
    recreate_deps: bool,
    renew_anon: bool,
) -> Result<CreateOptions> {
    if f.build && f.no_build {
        bail!("--build and --no-build are incompatible");
    }
    if f.force_recreate && f.no_recreate {
        bail!("--force-recreate and --no-recreate are incompatible");
    }
    if recreate_deps && f.no_recreate {
        bail!("--always-recreate-deps and --no-recreate are incompatible");
    }
    if renew_anon && f.no_recreate {
        bail!("--no-recreate and --renew-anon-volumes are incompatible");
    }
    let recreate = if f.force_recreate {
        Recreate::Force
    } else if f.no_recreate {
        Recreate::Never
    } else {
        Recreate::Diverged
    };
    let recreate_deps = if recreate_deps {
        Recreate::Force
    } else if f.no_recreate {
        Recreate::Never
    } else {
        Recreate::Diverged
    };
    let ignore_orphans = env_flag(project, "COMPOSE_IGNORE_ORPHANS");
    let remove_orphans = f.remove_orphans
        || std::env::var("COMPOSE_REMOVE_ORPHANS")
            .is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true"));
    if ignore_orphans && f.remove_orphans {
        bail!("cannot combine COMPOSE_IGNORE_ORPHANS and --remove-orphans");
    }
    Ok(CreateOptions {
        services: services.to_vec(),
        recreate,
        recreate_deps,
        inherit: !renew_anon,
        remove_orphans,
        ignore_orphans,
        timeout,
        env_files: args
            .env_files
            .iter()
            .map(|f| f.display().to_string())
            .collect(),
        images: EnsureOptions {
            no_build: f.no_build,
            quiet_pull: f.quiet_pull,
        },
    })
}

/// Loads the project and applies the creation flags to it.
fn prepared(
    args: &ComposeArgs,
    f: &CreateFlags,
    services: &[String],
    no_deps: bool,
) -> Result<Project> {
    let mut project = load_project(args, services)?;
    if no_deps {
        only_named(&mut project, services);
    }
    apply_scale(&mut project, &f.scale)?;
    let pull = (f.pull != "policy").then_some(f.pull.as_str());
    images::apply_pull_flag(&mut project, pull, f.build)?;
    Ok(project)
}

pub(crate) fn create(args: &ComposeArgs, a: &CreateArgs) -> Result<()> {
    let project = prepared(args, &a.create, &a.services, false)?;
    let opts =
        create_options(args, &project, &a.create, &a.services, None, false, false).map_err(fail)?;
    let store = Store::open_default()?;
    crate::userns::enter()?;
    let d = display(args, "Creating")?;
    converge::create(&store, &project, &opts, &d).map_err(fail)
}

/// Compose's `validateFlags` for `up`.
fn check_up_flags(a: &UpArgs) -> Result<(bool, bool)> {
    let mut cascade_stop = a.abort_on_container_exit;
    let cascade_fail = a.abort_on_container_failure;
    if a.exit_code_from.is_some() && !cascade_fail {
        cascade_stop = true;
    }
    if cascade_stop && cascade_fail {
        bail!("--abort-on-container-failure cannot be combined with --abort-on-container-exit");
    }
    let mut detach = a.detach;
    if a.wait {
        if a.attach_dependencies || cascade_stop || !a.attach.is_empty() {
            bail!("--wait cannot be combined with --abort-on-container-exit, --attach or --attach-dependencies");
        }
        detach = true;
    }
    if detach && (a.attach_dependencies || cascade_stop || cascade_fail || !a.attach.is_empty()) {
        if a.wait {
            bail!("--wait cannot be combined with --abort-on-container-exit, --abort-on-container-failure, --attach, --attach-dependencies or --watch");
        }
        bail!("--detach cannot be combined with --abort-on-container-exit, --abort-on-container-failure, --attach, --attach-dependencies or --watch");
    }
    if !a.attach.is_empty() && a.attach_dependencies {
        bail!("cannot combine --attach and --attach-dependencies");
    }
    Ok((detach, cascade_stop))
}

pub(crate) fn up(args: &ComposeArgs, a: &UpArgs) -> Result<()> {
    let (detach, cascade_stop) = check_up_flags(a).map_err(fail)?;
    let project = prepared(args, &a.create, &a.services, a.no_deps)?;
    if project.model.services.is_empty() {
        return Err(fail(anyhow!("no service selected")));
    }
    if let Some(s) = &a.exit_code_from {
        if project.service(s).is_none() {
            return Err(fail(anyhow!("no such service: {s}")));
        }
    }
    let timeout = timeout(a.timeout);
    let opts = create_options(
        args,
        &project,
        &a.create,
        &a.services,
        timeout,
        a.always_recreate_deps,
        a.renew_anon_volumes,
    )
    .map_err(fail)?;
    let store = Store::open_default()?;
    crate::userns::enter()?;
    let start_opts = StartOptions {
        services: Vec::new(),
        wait: a.wait,
        wait_timeout: a.wait_timeout.filter(|t| *t > 0).map(Duration::from_secs),
    };
    if a.no_start {
        let d = display(args, "Creating")?;
        return converge::create(&store, &project, &opts, &d).map_err(fail);
    }
    if detach {
        let d = display(args, "Running")?;
        converge::create(&store, &project, &opts, &d).map_err(fail)?;
        return start::start(&store, &project, &start_opts, &d).map_err(fail);
    }
    {
        let d = display(args, "Running")?;
        converge::create(&store, &project, &opts, &d).map_err(fail)?;
    }
    let attach = attach_set(&project, a)?;
    let attached = Attached {
        store: &store,
        project: &project,
        logs: Logs::new(a.no_color, a.no_log_prefix, a.timestamps),
        timeout,
        cascade_stop,
        cascade_fail: a.abort_on_container_failure,
        exit_code_from: a.exit_code_from.clone(),
    };
    attached.run(&attach, &start_opts)
}

/// The services whose output `up` shows (Compose's attach set).
fn attach_set(project: &Project, a: &UpArgs) -> Result<Vec<String>> {
    let mut set: Vec<String> = if !a.attach.is_empty() {
        for s in &a.attach {
            if project.service(s).is_none() {
                bail!("cannot attach to services not included in up: {s}");
            }
        }
        a.attach.clone()
    } else {
        project
            .model
            .services
            .values()
            .filter(|s| {
                a.attach_dependencies || a.services.is_empty() || a.services.contains(&s.name)
            })
            .filter(|s| s.attach.unwrap_or(true))
            .map(|s| s.name.clone())
            .collect()
    };
    set.retain(|s| !a.no_attach.contains(s));
    Ok(set)
}

/// Ctrl-C (and SIGTERM) seen by the attached `up`.
static INTERRUPTS: AtomicU32 = AtomicU32::new(0);

extern "C" fn on_interrupt(_: libc::c_int) {
    INTERRUPTS.fetch_add(1, Ordering::SeqCst);
}

/// Counts SIGINT and SIGTERM instead of dying of them. A handler, not a
/// blocked mask: the monitors this process spawns must not inherit one.
fn catch_interrupts() {
    // SAFETY: the handler only increments an atomic, which is
    // async-signal-safe; SA_RESTART keeps system calls going.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_interrupt as *const () as usize;
        sa.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(libc::SIGINT, &sa, std::ptr::null_mut());
        libc::sigaction(libc::SIGTERM, &sa, std::ptr::null_mut());
    }
}

/// Progress events sent from the thread that stops the project to the
/// loop that prints.
struct Sent(std::sync::mpsc::Sender<Event>);

impl Progress for Sent {
    fn event(&self, e: Event) {
        let _ = self.0.send(e);
    }
    fn tail(&self, _: &str) {}
    fn warning(&self, msg: &str) {
        display::warn(msg);
    }
}

/// The shutdown of an attached `up`, running in a thread of its own so
/// that output keeps coming while containers take their time to stop.
struct Shutdown {
    thread: std::thread::JoinHandle<Result<()>>,
    events: std::sync::mpsc::Receiver<Event>,
}

impl Shutdown {
    fn begin(store: &Store, project: &Project, timeout: Option<Duration>) -> Shutdown {
        let (tx, rx) = std::sync::mpsc::channel();
        let (store, project) = (store.clone(), project.clone());
        let thread = std::thread::spawn(move || {
            let services: Vec<String> = project.model.services.keys().cloned().collect();
            ops::stop(&store, &project, &services, timeout, &Sent(tx))
        });
        Shutdown { thread, events: rx }
    }
}

/// An attached `up`.
struct Attached<'a> {
    store: &'a Store,
    project: &'a Project,
    logs: Logs,
    timeout: Option<Duration>,
    cascade_stop: bool,
    cascade_fail: bool,
    exit_code_from: Option<String>,
}

/// Pumps the followed logs while `start` waits for dependencies.
struct Pump<'a> {
    follower: std::cell::RefCell<&'a mut Follower>,
    logs: &'a Logs,
}

impl Progress for Pump<'_> {
    // Compose shows no start events while attached.
    fn event(&self, _: Event) {}
    fn tail(&self, _: &str) {}
    fn warning(&self, msg: &str) {
        display::warn(msg);
    }
    fn tick(&self) {
        let _ = self.follower.borrow_mut().pump(self.logs);
    }
}

impl Attached<'_> {
    fn run(&self, services: &[String], start_opts: &StartOptions) -> Result<()> {
        catch_interrupts();
        let containers =
            observed::containers(self.store, &self.project.name, OneOff::Exclude, services)?;
        let mut follower = Follower::new(LogQuery::default());
        if !containers.is_empty() {
            let names: Vec<String> = containers.iter().map(|c| c.log_name()).collect();
            println!("Attaching to {}", names.join(", "));
        }
        for c in &containers {
            // What a container already running said before is not shown.
            let from = if c.status().is_running() {
                clogs::From::End
            } else {
                clogs::From::Start
            };
            follower.add(self.store, c, from, &self.logs)?;
        }
        let started = {
            let pump = Pump {
                follower: std::cell::RefCell::new(&mut follower),
                logs: &self.logs,
            };
            start::start(self.store, self.project, start_opts, &pump)
        };
        if let Err(e) = started {
            if INTERRUPTS.load(Ordering::SeqCst) == 0 {
                return Err(fail(e));
            }
        }
        self.follow(&mut follower)
    }

    /// Shows output and exits until every attached container stopped;
    /// handles Ctrl-C and the cascades.
    fn follow(&self, follower: &mut Follower) -> Result<()> {
        let tty = std::io::stdout().is_terminal();
        let mixed = Mixed { tty };
        let mut shutdown: Option<Shutdown> = None;
        let mut seen_interrupts = 0;
        let mut killed = false;
        let mut exit_code: Option<i32> = None;
        let mut aborted = false;
        loop {
            follower.pump(&self.logs)?;
            for exit in follower.watch(self.store, &self.logs)? {
                let service = self.service_of(&exit.id);
                if let (Some(from), Some(s)) = (&self.exit_code_from, &service) {
                    if from == s && exit_code.is_none() && !exit.restarting {
                        exit_code = Some(exit.code);
                    }
                }
                let cascade = (self.cascade_stop || (self.cascade_fail && exit.code != 0))
                    && !exit.restarting;
                if cascade && !aborted && shutdown.is_none() {
                    aborted = true;
                    if self.exit_code_from.is_none() {
                        exit_code = Some(exit.code);
                    }
                    let msg = "Aborting on container exit...";
                    if tty && std::io::stderr().is_terminal() {
                        eprintln!("\x1b[31;1m{msg}\x1b[0m");
                    } else {
                        eprintln!("{msg}");
                    }
                    shutdown = Some(Shutdown::begin(self.store, self.project, self.timeout));
                }
            }
            let interrupts = INTERRUPTS.load(Ordering::SeqCst);
            if interrupts > seen_interrupts {
                seen_interrupts = interrupts;
                if shutdown.is_none() {
                    println!("Gracefully Stopping... press Ctrl+C again to force");
                    shutdown = Some(Shutdown::begin(self.store, self.project, self.timeout));
                } else if !killed {
                    killed = true;
                    let services: Vec<String> =
                        self.project.model.services.keys().cloned().collect();
                    let _ = ops::kill(
                        self.store,
                        self.project,
                        &services,
                        nix::sys::signal::Signal::SIGKILL,
                        false,
                        &mixed,
                    );
                }
            }
            if let Some(s) = &shutdown {
                while let Ok(e) = s.events.try_recv() {
                    mixed.event(e);
                }
            }
            let finished = shutdown.as_ref().is_none_or(|s| s.thread.is_finished());
            if finished && follower.all_stopped(self.store) {
                follower.pump(&self.logs)?;
                follower.watch(self.store, &self.logs)?;
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if let Some(s) = shutdown {
            while let Ok(e) = s.events.try_recv() {
                mixed.event(e);
            }
            let r = s
                .thread
                .join()
                .map_err(|_| anyhow!("the shutdown thread panicked"))?;
            r.map_err(fail)?;
        }
        match exit_code {
            Some(0) | None if seen_interrupts > 0 && !aborted => Err(ExitStatus(130).into()),
            Some(0) | None => Ok(()),
            Some(code) => Err(ExitStatus(code).into()),
        }
    }

    fn service_of(&self, id: &str) -> Option<String> {
        self.store.container(id).ok().and_then(|r| {
            r.config
                .labels
                .get(crate::compose::labels::SERVICE)
                .cloned()
        })
    }
}

pub(crate) fn start(args: &ComposeArgs, a: &ServicesArgs) -> Result<()> {
    let store = Store::open_default()?;
    let project = super::compose_ops::project_or_name(args, &store, &a.services)?;
    crate::userns::enter()?;
    let d = display(args, "Running")?;
    start::start(
        &store,
        &project,
        &StartOptions {
            services: a.services.clone(),
            ..Default::default()
        },
        &d,
    )
    .map_err(fail)
}

pub(crate) fn run(args: &ComposeArgs, a: &RunArgs) -> Result<()> {
    let mut project = load_project(args, std::slice::from_ref(&a.service))?;
    if project.service(&a.service).is_none() {
        return Err(fail(anyhow!("no such service: {}", a.service)));
    }
    let pull = (a.pull != "policy").then_some(a.pull.as_str());
    images::apply_pull_flag(&mut project, pull, a.build)?;
    let stdin_tty = std::io::stdin().is_terminal();
    let tty = if a.tty {
        true
    } else {
        !a.no_tty && std::io::stdout().is_terminal() && stdin_tty
    };
    if a.tty && !stdin_tty && !a.detach {
        return Err(fail(anyhow!("the input device is not a TTY")));
    }
    let mut labels = Vec::new();
    for l in &a.label {
        let (k, v) = l
            .split_once('=')
            .ok_or_else(|| fail(anyhow!("label must be set as KEY=VALUE")))?;
        labels.push((k.to_string(), v.to_string()));
    }
    let mut env = Vec::new();
    for f in &a.env_from_file {
        let text =
            std::fs::read_to_string(f).map_err(|e| anyhow!("reading {}: {e}", f.display()))?;
        for line in text.lines() {
            let line = line.trim();
            if !line.is_empty() && !line.starts_with('#') {
                env.push(line.to_string());
            }
        }
    }
    // `-e KEY` takes the value from the project's environment, as Compose.
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
    let mut volumes = Vec::new();
    for v in &a.volume {
        let mut m = crate::runtime::mount_spec::parse_volume_flag(&absolute_bind(v, &project))
            .map_err(fail)?;
        if m.kind == crate::model::MountKind::Volume {
            if let Some(src) = &m.source {
                if let Some(cfg) = project.model.volumes.get(src) {
                    m.source = Some(crate::compose::resources::volume_name(&project, src, cfg));
                }
            }
        }
        volumes.push(m);
    }
    let entrypoint = match &a.entrypoint {
        Some(e) => Some(
            crate::compose::types::shell_split(e)
                .map_err(|e| fail(anyhow!("--entrypoint: {e}")))?,
        ),
        None => None,
    };
    let overrides = OneOffOverrides {
        command: (!a.command.is_empty()).then(|| a.command.clone()),
        entrypoint,
        env,
        labels,
        user: a.user.clone(),
        workdir: a.workdir.clone(),
        volumes,
        auto_remove: a.rm,
        tty,
        console_size: super::terminal::console_size(tty),
        interactive: !a.detach,
        publish: a.publish.clone(),
        service_ports: a.service_ports,
    };
    let opts = RunOptions {
        service: a.service.clone(),
        name: a.name.clone(),
        no_deps: a.no_deps,
        remove_orphans: a.remove_orphans,
        env_files: args
            .env_files
            .iter()
            .map(|f| f.display().to_string())
            .collect(),
        images: EnsureOptions {
            no_build: false,
            quiet_pull: a.quiet_pull,
        },
        overrides,
    };
    let store = Store::open_default()?;
    crate::userns::enter()?;
    let record = {
        let d = display(args, "Running")?;
        oneoff::prepare(&store, &project, &opts, &d).map_err(fail)?
    };
    super::run::start_created(&store, &record, a.detach, tty, !a.detach, a.quiet)
}

/// `-v ./dir:/x`: a relative bind source is relative to the project
/// directory, as in the files.
fn absolute_bind(spec: &str, project: &Project) -> String {
    match spec.split_once(':') {
        Some((src, rest)) if src.starts_with('.') || src.starts_with('~') => {
            let path = if let Some(home_rel) = src.strip_prefix('~') {
                let home = std::env::var("HOME").unwrap_or_default();
                format!("{home}{home_rel}")
            } else {
                project.working_dir.join(src).display().to_string()
            };
            format!("{path}:{rest}")
        }
        _ => spec.to_string(),
    }
}
