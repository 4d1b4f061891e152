//! Container lifecycle: create, start, stop, kill, wait, restart, pause,
//! unpause and remove, written once. The CLI calls these, and so do
//! compose and build; the monitor uses the same removal for `--rm`.
//!
//! Each takes the store and the container's record (the caller resolved
//! the name) and checks the container's status with the predicates of
//! `model::Status` before acting. Every pid taken from a record is checked
//! to still be the process that was started (`util::proc`) before it is
//! signalled. A running container's state is written by its monitor only:
//! what changes it (pause) is asked of the monitor over its socket.
//!
//! Callers that touch container files (`create`, `remove`, `start`) enter
//! berth's user namespace first (`userns::enter`), before any thread exists.

use super::attach_client::{self, AttachOptions, Outcome};
use super::message::Message;
use super::monitor::{self, Spawned};
use super::spec;
use crate::image::config::ImageConfig;
use crate::model::{ContainerRecord, CreateRequest, HostConfig, Status, StorageConfig};
use crate::store::images::NoSuchImage;
use crate::store::Store;
use crate::util::proc::ProcessId;
use crate::util::report;
use anyhow::{bail, Context, Result};
use nix::sys::signal::Signal;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

/// How long a container may take to die of SIGKILL before berth gives up.
const KILL_GRACE: Duration = Duration::from_secs(10);

/// Creates the container from the request and its image: the record, in
/// the same locked section that resolves the image (so that a concurrent
/// `rmi` sees the container) and makes its volumes.
pub(crate) fn create(store: &Store, req: &CreateRequest) -> Result<ContainerRecord> {
    create_as(store, req, crate::util::ids::random_id())
}

/// [`create`] with the container's id chosen by the caller (a new random
/// one: [`Prestarted`]).
fn create_as(store: &Store, req: &CreateRequest, id: String) -> Result<ContainerRecord> {
    let chosen = match &req.name {
        Some(n) => Some(spec::validate_name(n)?),
        None => None,
    };
    say_fidelity(store);
    let (resources, devices) = super::resources::prepare(req)?;
    let lock = store.lock()?;
    let name = match chosen {
        // Before volumes and bind directories are made: a conflict must leave nothing behind.
        Some(name) => {
            store.ensure_name_free(&name)?;
            name
        }
        // Under the lock, so the free name drawn stays ours until the
        // record is written.
        None => store.free_generated_name(),
    };
    let images = store.images()?;
    let image = match images.resolve(req.image_id.as_deref().unwrap_or(&req.image)) {
        Ok(i) => i,
        Err(e) => {
            if e.is::<NoSuchImage>() {
                report::notice(&format!(
                    "Unable to find image '{}' locally",
                    with_tag(&req.image)
                ));
            }
            return Err(e);
        }
    };
    let config = ImageConfig::parse(&store.get_blob(&image.id)?)
        .with_context(|| format!("reading the configuration of image {}", req.image))?;
    let mut process =
        spec::build_process(&config.config, &req.process, &id, &super::env::host_lookup)?;
    super::devices::add_env(&mut process.env, &devices.provisioned);
    let namespaces = super::namespaces::resolve_at_create(store, req, &mut process)?;
    let image_volumes: Vec<String> = config
        .config
        .volumes
        .as_ref()
        .map(|v| v.keys().cloned().collect())
        .unwrap_or_default();
    let mut network = req.network.clone();
    let image_exposed: Vec<String> = config
        .config
        .exposed_ports
        .as_ref()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    super::network::records::resolve_at_create(store, &lock, &mut network, &image_exposed)?;
    let inherited = super::volumes::volumes_from(store, &req.volumes_from)?;
    let mounts = super::volumes::materialize(store, &req.mounts, inherited, &image_volumes, &lock)?;
    let record = ContainerRecord {
        id,
        name,
        created: crate::util::humanize::now_rfc3339(),
        image: req.image.clone(),
        image_id: image.id.clone(),
        layers: image.layers.clone(),
        config: process,
        host: HostConfig {
            storage: StorageConfig {
                mounts,
                read_only: req.read_only,
            },
            network,
            lifecycle: req.lifecycle.clone(),
            security: req.security.clone(),
            resources,
            devices,
            namespaces,
            log: req.log.clone(),
            kernel: req.kernel.clone(),
            annotations: req.annotations.clone(),
            console_size: req.console_size,
        },
    };
    if let Err(e) = store.create_container(&record, &lock) {
        // Anonymous volumes made for this container would be orphans.
        for m in record.host.storage.mounts.iter().filter(|m| m.anonymous) {
            if let Some(v) = &m.volume {
                let _ = store.remove_volume(v, &lock);
            }
        }
        return Err(e);
    }
    Ok(record)
}

/// Once per store, for a user without subordinate ids: what a single id
/// mapping means for the containers (issue 13: emulated ownership).
pub(crate) fn say_fidelity(store: &Store) {
    if crate::userns::single_mapping() {
        crate::store::placement::warn_once(
            store.root(),
            "fakeroot",
            "containers run with emulated ownership (no subordinate ids): chown, setuid, \
             setgroups and device mknod succeed without effect, apt runs without its privilege \
             drop, and every file is owned by root inside the container; an /etc/subuid and \
             /etc/subgid range gives real ownership",
        );
    }
}

/// `busybox` → `busybox:latest`, as Docker names a missing image.
fn with_tag(spec: &str) -> String {
    match crate::model::reference::Reference::parse_tagged(spec) {
        Ok(r) => r.familiar(),
        Err(_) => spec.to_string(),
    }
}

/// Starts the container in the background: its monitor is spawned and
/// reports that the container runs. A running container is left alone (as
/// Docker); one that could not start is an error carrying its
/// [`StartFailure`] (125, 126 or 127 and the message).
pub(crate) fn start(store: &Store, record: &ContainerRecord) -> Result<()> {
    let state = store.observed_state(&record.id)?;
    if state.status == Status::Paused {
        bail!("cannot start a paused container, try unpause instead");
    }
    if !state.status.can_start() {
        return Ok(());
    }
    monitor::spawn(store, &record.id, false)?;
    Ok(())
}

/// Starts the container with the caller attached from its first byte of
/// output: the caller is the monitor's first client, connected through a
/// socket pair before the container starts. The caller checked that it is
/// not running.
pub(crate) fn start_attached(
    store: &Store,
    record: &ContainerRecord,
    opts: &AttachOptions,
) -> Result<Outcome> {
    super::events::container(store, record, "attach");
    match monitor::spawn(store, &record.id, true)? {
        Spawned::Attached(stream) => attach_client::attach_stream(stream, opts),
        Spawned::Started => unreachable!("an attached monitor answers on its socket"),
    }
}

/// The attached start of a container that does not exist yet, in two
/// halves that overlap: its monitor is started first
/// ([`Prestarted::new`], `monitor::spawn_held`), and starts up on
/// the other core while the command resolves the image and writes the
/// record ([`Prestarted::create`]); [`Prestarted::start_attached`] then
/// releases it. `run` without `-d` does this; dropped before, the monitor
/// exits.
#[derive(Debug)]
pub(crate) struct Prestarted {
    id: String,
    monitor: monitor::Held,
}

impl Prestarted {
    /// Starts the monitor of a container to be created (after the caller
    /// entered the user namespace, which the monitor inherits).
    pub(crate) fn new(store: &Store) -> Result<Prestarted> {
        let id = crate::util::ids::random_id();
        let monitor = monitor::spawn_held(store, &id)?;
        Ok(Prestarted { id, monitor })
    }

    /// [`create`], under the id the monitor was given.
    pub(crate) fn create(&self, store: &Store, req: &CreateRequest) -> Result<ContainerRecord> {
        create_as(store, req, self.id.clone())
    }

    /// [`start_attached`] for the container [`Prestarted::create`] made.
    pub(crate) fn start_attached(
        self,
        store: &Store,
        record: &ContainerRecord,
        opts: &AttachOptions,
    ) -> Result<Outcome> {
        anyhow::ensure!(
            record.id == self.id,
            "the monitor was started for another container"
        );
        // Before the release: the monitor's `start` must come after it.
        super::events::container(store, record, "attach");
        let stream = self.monitor.release()?;
        // While the monitor reads the record and clones the init, the
        // filter is compiled here and sent after (an error is left for the
        // monitor to report as the container's start failure).
        let confinement = super::security::Confinement::unfiltered(
            record,
            super::security::single_mapping_in(None),
        );
        let filter = confinement.compile_filter(record).ok();
        crate::util::trace::step("seccomp filter compiled");
        monitor::send_filter(&stream, filter.as_ref().map(|f| f.as_ref()))?;
        attach_client::attach_stream(stream, opts)
    }
}

/// Attaches to a running container.
pub(crate) fn attach(
    store: &Store,
    record: &ContainerRecord,
    opts: &AttachOptions,
) -> Result<Outcome> {
    super::events::container(store, record, "attach");
    attach_client::attach(&monitor::socket_path(store.run_dir()?, &record.id), opts)
}

/// Sends `signal` to the container's init. A signal meant to end the
/// container keeps it down (see [`kill_ends_restarts`]); SIGKILL also
/// waits for its effect, so that a command right after (rm, exec) sees a
/// stopped container.
pub(crate) fn kill(store: &Store, record: &ContainerRecord, signal: Signal) -> Result<()> {
    let state = store.observed_state(&record.id)?;
    if !state.status.can_kill() {
        bail!("Container {} is not running", record.id);
    }
    if kill_ends_restarts(record, signal) {
        store.mark_stopped_by_user(&record.id)?;
    }
    state
        .process()
        .signal(signal)
        .with_context(|| format!("sending {signal} to the container"))?;
    super::events::killed(store, record, signal);
    if signal == Signal::SIGKILL {
        wait_until_stopped(store, &record.id)?;
    }
    Ok(())
}

/// Docker's stop: the stop signal (`signal`, else the container's, else
/// SIGTERM), then SIGKILL after `timeout` (never when None). The container
/// is marked stopped by the user first, so that no restart policy brings
/// it back.
pub(crate) fn stop(
    store: &Store,
    record: &ContainerRecord,
    signal: Option<Signal>,
    timeout: Option<Duration>,
) -> Result<()> {
    store.mark_stopped_by_user(&record.id)?;
    let state = store.observed_state(&record.id)?;
    if !state.status.can_stop() {
        return Ok(());
    }
    let signal = signal.unwrap_or_else(|| stop_signal(record));
    let init = state.process();
    let monitor = state.monitor();
    if init.signal(signal).is_ok() {
        super::events::killed(store, record, signal);
    }
    let deadline = timeout.map(|t| Instant::now() + t);
    if !wait_for_exit(store, &record.id, &state, deadline)? {
        if init.signal(Signal::SIGKILL).is_ok() {
            super::events::killed(store, record, Signal::SIGKILL);
        }
        wait_until_stopped(store, &record.id)?;
    }
    wait_for_ports_released(record, monitor);
    super::events::container(store, record, "stop");
    Ok(())
}

/// Waits until the container no longer runs, or until `deadline`; false
/// when the deadline came first. It sleeps on pidfds of the container's
/// init and of its monitor (a pidfd becomes readable when its process
/// exits) rather than on a clock, so that a stop returns as soon as the
/// monitor has recorded the exit: once the init is gone, that takes the
/// monitor a moment, and the state is looked at every millisecond.
fn wait_for_exit(
    store: &Store,
    id: &str,
    state: &crate::model::ContainerState,
    deadline: Option<Instant>,
) -> Result<bool> {
    use std::os::fd::AsRawFd;
    // None: gone (or never there to open).
    let mut init = state.process().open().ok();
    let mut monitor = state.monitor().open().ok();
    loop {
        if !store.observed_state(id)?.status.is_running() {
            return Ok(true);
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            return Ok(false);
        }
        // With the init alive, its exit wakes us (at the latest every
        // 100 ms, in case the state changed another way).
        let mut wait = if init.is_some() {
            Duration::from_millis(100)
        } else {
            Duration::from_millis(1)
        };
        if let Some(d) = deadline {
            wait = wait.min(d - now);
        }
        let mut fds: Vec<libc::pollfd> = [&init, &monitor]
            .iter()
            .map(|fd| libc::pollfd {
                fd: fd.as_ref().map_or(-1, |f| f.as_raw_fd()),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        let ms = wait.as_millis().clamp(1, i32::MAX as u128) as libc::c_int;
        // SAFETY: poll on pollfds that live across the call; a negative
        // fd is ignored by poll.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
        if n > 0 {
            if fds[0].revents != 0 {
                init = None;
            }
            if fds[1].revents != 0 {
                monitor = None;
            }
        }
    }
}

/// The monitor holds the published ports until it exits, a moment after
/// it recorded the exit: wait for that (briefly), so that a `start` or
/// `restart` right after can bind them again.
fn wait_for_ports_released(record: &ContainerRecord, monitor: ProcessId) {
    let net = &record.host.network;
    if net.publish.is_empty() && !net.publish_all {
        return;
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    while monitor.is_alive() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// How long `stop` waits before SIGKILL: `explicit` seconds (`stop -t`),
/// else the container's `--stop-timeout`, else Docker's 10 seconds; a
/// negative number waits forever (None).
pub(crate) fn stop_timeout(explicit: Option<i64>, record: &ContainerRecord) -> Option<Duration> {
    let seconds = explicit.or(record.config.stop_timeout).unwrap_or(10);
    u64::try_from(seconds).ok().map(Duration::from_secs)
}

/// Whether `kill -s signal` keeps the container from being restarted by
/// its policy when it next exits (until it is started again), as Docker's
/// `ExitOnNext`: SIGKILL, and any signal when the container has no stop
/// signal of its own (`--stop-signal`, the image's STOPSIGNAL); with one,
/// only that signal. Checked against Docker 20.10: `--restart always`
/// without a stop signal, killed with HUP, stays exited; with
/// `--stop-signal USR1`, killed with TERM, it is restarted.
fn kill_ends_restarts(record: &ContainerRecord, signal: Signal) -> bool {
    match configured_stop_signal(record) {
        Some(stop) => signal == Signal::SIGKILL || signal == stop,
        None => true,
    }
}

/// The container's stop signal (SIGTERM when it has none of its own).
fn stop_signal(record: &ContainerRecord) -> Signal {
    configured_stop_signal(record).unwrap_or(Signal::SIGTERM)
}

/// The stop signal of `--stop-signal` or the image's STOPSIGNAL; checked
/// at create, so only a record of an older version can hold one that
/// does not parse (then none).
fn configured_stop_signal(record: &ContainerRecord) -> Option<Signal> {
    record
        .config
        .stop_signal
        .as_deref()
        .and_then(|s| crate::util::signals::parse_signal(s).ok())
}

fn wait_until_stopped(store: &Store, id: &str) -> Result<()> {
    let state = store.observed_state(id)?;
    if !wait_for_exit(store, id, &state, Some(Instant::now() + KILL_GRACE))? {
        bail!(
            "container {id} did not stop within {} seconds of SIGKILL",
            KILL_GRACE.as_secs()
        );
    }
    Ok(())
}

/// Blocks until the container no longer runs; its exit code.
pub(crate) fn wait(store: &Store, record: &ContainerRecord) -> Result<i32> {
    loop {
        let state = store.observed_state(&record.id)?;
        if !matches!(state.status, Status::Running | Status::Paused) {
            return Ok(state.exit_code);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `exec`: a new process in the running container (`exec::exec`, whose
/// requirements apply: no thread may exist), with Docker's events:
/// `exec_create` and `exec_start` naming the command, and `exec_die` with
/// its status when we wait for it (not with `-d`: nothing waits then).
pub(crate) fn exec(
    store: &Store,
    record: &ContainerRecord,
    init: crate::util::proc::ProcessId,
    opts: &super::exec::ExecOptions,
) -> Result<super::exec::ExecOutcome> {
    use super::exec::ExecOutcome;
    use crate::model::event::Event;
    let exec_id = crate::util::ids::random_id();
    // Docker's wording: the program, a space, its arguments.
    let command = format!(
        "{} {}",
        opts.argv.first().map_or("", String::as_str),
        opts.argv.get(1..).unwrap_or_default().join(" ")
    );
    for action in ["exec_create", "exec_start"] {
        store.record_event(&Event::container(
            record,
            format!("{action}: {command}"),
            [("execID", exec_id.clone())],
        ));
    }
    // exec joins the container's namespaces, where the store is not
    // to be seen: the log is opened before.
    let mut sink = store.event_sink();
    let outcome = super::exec::exec(record, init, opts)?;
    if let (false, Some(sink)) = (opts.detach, &mut sink) {
        let code = match &outcome {
            ExecOutcome::Exited(c) => Some(*c),
            ExecOutcome::Failed(f) => Some(f.code),
            // Detached by the user's keys: the process runs on, and no
            // one is left to see it die.
            ExecOutcome::Detached => None,
        };
        if let Some(code) = code {
            sink.record(&Event::container(
                record,
                "exec_die",
                [("execID", exec_id), ("exitCode", code.to_string())],
            ));
        }
    }
    Ok(outcome)
}

/// `stop`, then `start`.
pub(crate) fn restart(
    store: &Store,
    record: &ContainerRecord,
    signal: Option<Signal>,
    timeout: Option<Duration>,
) -> Result<()> {
    stop(store, record, signal, timeout)?;
    start(store, record)?;
    super::events::container(store, record, "restart");
    Ok(())
}

/// Freezes the container (`pause`).
pub(crate) fn pause(store: &Store, record: &ContainerRecord) -> Result<()> {
    ask_monitor_to_pause(store, record, true)
}

/// Thaws the container (`unpause`).
pub(crate) fn unpause(store: &Store, record: &ContainerRecord) -> Result<()> {
    ask_monitor_to_pause(store, record, false)
}

/// `update`: new limits (the fields of `given` that are set) and restart
/// policy. A running container's monitor applies them to its cgroups
/// first; the record changes only when it could (or when the container
/// does not run: the next start applies them). Errors read as Docker's.
pub(crate) fn update(
    store: &Store,
    record: &ContainerRecord,
    given: &crate::model::resources::ResourcesConfig,
    restart: Option<crate::model::RestartPolicy>,
) -> Result<()> {
    use super::resources;
    let id = &record.id;
    let fail = |why: String| anyhow::anyhow!("Cannot update container {id}: {why}");
    let limits = record.host.resources.updated(given).map_err(fail)?;
    resources::check(&limits).map_err(|e| fail(e.to_string()))?;
    if restart.is_some_and(|r| r != crate::model::RestartPolicy::No)
        && record.host.lifecycle.auto_remove
    {
        return Err(fail(
            "Restart policy cannot be updated because AutoRemove is enabled for the container"
                .into(),
        ));
    }
    let plan = resources::plan(&limits);
    if given.memory_swap > 0 && plan.no_swap_accounting {
        return Err(fail(
            "--memory-swap: this kernel does not account swap in cgroups (boot with swapaccount=1)"
                .into(),
        ));
    }
    let state = store.observed_state(id)?;
    if state.status.is_active() {
        let request = super::monitor::UpdateRequest {
            resources: limits.clone(),
            changed: given.clone(),
            restart,
        };
        let json = serde_json::to_string(&request)?;
        match ask_monitor(store, id, &Message::Update(json)) {
            Ok(Message::Done) => {}
            Ok(Message::Refused(why)) => return Err(fail(why)),
            Ok(other) => return Err(fail(format!("the monitor answered {other:?}"))),
            Err(e) => return Err(fail(format!("{e:#}"))),
        }
    } else if given.has_cgroup_limits() {
        if let Some(w) = resources::unapplied_warning(&limits, &plan) {
            report::warning(&w);
        }
    }
    let lock = store.lock()?;
    let mut updated = store.container(id)?;
    updated.host.resources = limits;
    if let Some(r) = restart {
        updated.host.lifecycle.restart = r;
    }
    store.update_container_record(&updated, &lock)
}

/// `stats`: the running container's counters, read by its monitor.
pub(crate) fn stats(
    store: &Store,
    record: &ContainerRecord,
) -> Result<super::resources::stats::Sample> {
    match ask_monitor(store, &record.id, &Message::StatsRequest)? {
        Message::Stats(json) => Ok(serde_json::from_str(&json)?),
        Message::Refused(why) => bail!(why),
        other => bail!("the monitor of container {} answered {other:?}", record.id),
    }
}

/// Sends a request over the container's attach socket and returns the
/// answer (output frames of the container that come first are skipped).
fn ask_monitor(store: &Store, id: &str, request: &Message) -> Result<Message> {
    let socket = monitor::socket_path(store.run_dir()?, id);
    let mut stream = UnixStream::connect(&socket)
        .map_err(|_| anyhow::anyhow!("container {id} is not running"))?;
    request
        .write_to(&mut stream)
        .with_context(|| format!("asking the monitor of container {id}"))?;
    loop {
        match Message::read_from(&mut stream)
            .with_context(|| format!("waiting for the monitor of container {id}"))?
        {
            Some(m @ (Message::Done | Message::Refused(_) | Message::Stats(_))) => return Ok(m),
            Some(_) => continue,
            None => bail!("container {id} is not running"),
        }
    }
}

/// The monitor freezes and records the status (it alone writes a running
/// container's state); we check first, for errors that need no monitor.
fn ask_monitor_to_pause(store: &Store, record: &ContainerRecord, pause: bool) -> Result<()> {
    let id = &record.id;
    let status = store.observed_state(id)?.status;
    // Docker's daemon's checks, in its order and words.
    match pause {
        true if status.can_pause() => {}
        false if status.can_unpause() => {}
        true if status == Status::Paused => bail!("Container {id} is already paused"),
        true if status == Status::Restarting => {
            bail!("Container {id} is restarting, wait until the container is running")
        }
        true => bail!("Container {id} is not running"),
        false => bail!("Container {id} is not paused"),
    }
    let socket = monitor::socket_path(store.run_dir()?, id);
    let mut stream = UnixStream::connect(&socket)
        .map_err(|_| anyhow::anyhow!("Container {id} is not running"))?;
    let request = if pause {
        Message::Pause
    } else {
        Message::Unpause
    };
    request
        .write_to(&mut stream)
        .with_context(|| format!("asking the monitor of container {id}"))?;
    // Output of the container may come first: the socket is its attach socket.
    loop {
        match Message::read_from(&mut stream)
            .with_context(|| format!("waiting for the monitor of container {id}"))?
        {
            Some(Message::Done) => return Ok(()),
            Some(Message::Refused(why)) => bail!(why),
            Some(_) => continue,
            None => bail!("Container {id} is not running"),
        }
    }
}

/// `rm`: what happens to a container that runs.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RemoveOptions {
    /// Kill a running container first (`-f`).
    pub(crate) force: bool,
    /// Remove its anonymous volumes too (`-v`).
    pub(crate) volumes: bool,
}

/// Removes the container: its record, files and name, and with
/// `opts.volumes` its anonymous volumes; layers that nothing uses any
/// more go too. A running container is refused unless `opts.force`, which
/// kills it first. The caller is in berth's user namespace.
pub(crate) fn remove(store: &Store, record: &ContainerRecord, opts: RemoveOptions) -> Result<()> {
    let state = store.observed_state(&record.id)?;
    if !state.status.can_remove() {
        if !opts.force {
            bail!(
                "cannot remove container \"/{}\": container is {}: stop the container before removing or force remove",
                record.name,
                state.status
            );
        }
        // No restart brings it back while its files go.
        store.mark_stopped_by_user(&record.id)?;
        kill_and_wait(state.process())?;
    }
    // `rm -f web && run -p 8080:80 --name web …`: the new container's
    // ports must be free when we return, as Docker's are.
    wait_for_ports_released(record, state.monitor());
    remove_files(store, record, opts.volumes, true)?;
    // A monitor that was killed left its socket behind.
    if let Ok(run_dir) = store.run_dir() {
        let _ = std::fs::remove_file(monitor::socket_path(run_dir, &record.id));
    }
    Ok(())
}

/// Deletes a stopped container's record and files (and anonymous volumes
/// when `volumes`), then the layers nothing uses any more: all of them
/// with `sweep`, else only when the container's image is gone (the layers
/// it alone kept); `rm` and the monitor's `--rm`.
pub(crate) fn remove_files(
    store: &Store,
    record: &ContainerRecord,
    volumes: bool,
    sweep: bool,
) -> Result<()> {
    let files = unlist(store, record, volumes)?;
    delete_unlisted(store, record, &files, sweep)
}

/// The first half of [`remove_files`], under the store lock: the record,
/// the name and (with `volumes`) the anonymous volumes go, and the
/// container's directory moves under `tmp/`. From here on nothing lists
/// the container. Returns where its files are now.
pub(crate) fn unlist(
    store: &Store,
    record: &ContainerRecord,
    volumes: bool,
) -> Result<std::path::PathBuf> {
    let lock = store.lock()?;
    let files = store.unlist_container(record, &lock)?;
    if volumes {
        store.remove_anonymous_volumes(record, &lock)?;
    }
    Ok(files)
}

/// The second half of [`remove_files`]: deletes the files `unlist` moved
/// aside (without the lock: a tree walk), then the layers nothing uses any
/// more (see `remove_files` for `sweep`).
pub(crate) fn delete_unlisted(
    store: &Store,
    record: &ContainerRecord,
    files: &std::path::Path,
    sweep: bool,
) -> Result<()> {
    // Overlay makes its `work/work` with mode 0: opened up first, the
    // tree goes in one walk instead of a failed walk, a chmod walk and
    // another (on every `--rm`).
    // Neither component is followed if it is a symbolic link.
    if let Ok(work) = nix::fcntl::open(
        &files.join("work"),
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_NOFOLLOW,
        nix::sys::stat::Mode::empty(),
    ) {
        let _ = nix::sys::stat::fchmodat(
            &work,
            "work",
            nix::sys::stat::Mode::S_IRWXU,
            nix::sys::stat::FchmodatFlags::NoFollowSymlink,
        );
    }
    crate::util::fsutil::remove_tree(files)
        .with_context(|| format!("removing the files of container {}", record.id))?;
    if sweep || store.images()?.by_id(&record.image_id).is_none() {
        let lock = store.lock()?;
        if sweep {
            store.sweep_unrecorded_containers(&lock);
        }
        store.remove_unused_layers(&lock)?;
    }
    Ok(())
}

/// SIGKILL to the container's init; waits for it to be gone so that its
/// files can be removed.
fn kill_and_wait(init: crate::util::proc::ProcessId) -> Result<()> {
    if init.signal(Signal::SIGKILL).is_err() {
        // Gone already (or never started: a restarting container).
        return Ok(());
    }
    let deadline = Instant::now() + KILL_GRACE;
    while init.is_alive() {
        if Instant::now() > deadline {
            bail!(
                "container process {} did not die within {} seconds of SIGKILL",
                init.pid,
                KILL_GRACE.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_image_is_named_with_its_tag() {
        assert_eq!(with_tag("busybox"), "busybox:latest");
        assert_eq!(with_tag("x/y:1"), "x/y:1");
    }

    #[test]
    fn kill_keeps_down_as_dockers_exit_on_next() {
        let mut r = ContainerRecord::default();
        for sig in [Signal::SIGKILL, Signal::SIGTERM, Signal::SIGHUP] {
            assert!(kill_ends_restarts(&r, sig), "{sig} without a stop signal");
        }
        r.config.stop_signal = Some("SIGUSR1".into());
        assert!(kill_ends_restarts(&r, Signal::SIGUSR1));
        assert!(kill_ends_restarts(&r, Signal::SIGKILL));
        assert!(!kill_ends_restarts(&r, Signal::SIGTERM));
        assert!(!kill_ends_restarts(&r, Signal::SIGHUP));
    }

    #[test]
    fn a_missing_image_is_no_such_image() {
        let (_d, store) = crate::store::test_store();
        let e = create(
            &store,
            &CreateRequest {
                image: "nothere".into(),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(e.is::<NoSuchImage>());
        assert_eq!(e.to_string(), "No such image: nothere:latest");
    }
}
