//! The container's monitor: the one small process that owns a running
//! container (Podman's conmon is the model). It is our binary re-executed
//! in a session of its own, so it outlives the command that started the
//! container. It holds the container's stdio or terminal, writes the log,
//! serves the attach socket, reaps the container and records how it ended,
//! applies the restart policy and runs the health checks, then applies
//! `--rm` and exits.
//!
//! While it lives, the monitor is the only writer of the container's
//! `state.json`: commands that change a running container's state ask it
//! over the attach socket (`Message::Pause`, `Message::Unpause`), so that
//! two writers never overwrite each other (a health result once undid a
//! `pause` this way).

mod requests;
pub(crate) use requests::UpdateRequest;

use super::logfile::{LogWriter, Stream};
use super::message::{Decoder, Message};
use super::policy::Backoff;
use super::start::{failed_state, launch, Io};
use crate::model::exit::EXIT_BERTH_ERROR;
use crate::model::{
    ContainerRecord, ContainerState, HealthResult, HealthState, StartFailure, Status,
};
use crate::store::Store;
use crate::util::humanize::now_rfc3339;
use crate::util::proc::ProcessId;
use anyhow::{Context, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// argv[1] of a monitor process.
pub(crate) const REEXEC_ARG: &str = "__berth-monitor";

/// The unix socket clients attach through. Short, because socket paths
/// are limited to 108 bytes and runtime directories can be long.
pub(crate) fn socket_path(run_dir: &Path, id: &str) -> PathBuf {
    run_dir.join(format!("{}.sock", &id[..16.min(id.len())]))
}

/// How the command that spawns a monitor hears from it.
#[derive(Debug)]
pub(crate) enum Spawned {
    /// Detached: the container runs.
    Started,
    /// Attached: the monitor's end of this socket is its first client,
    /// connected before the container starts, so no output is missed;
    /// the start's outcome (`Started` or `Failed`) arrives on it.
    Attached(UnixStream),
}

/// Starts the monitor of container `id`. Detached, waits until the
/// monitor reports that the container runs; a container that could not
/// start is an error carrying its [`StartFailure`]. Attached, returns at
/// once with the socket that the monitor treats as its first client.
///
/// The monitor is our own binary exec'd in a session of its own (it
/// outlives us), started with a vfork-style clone (`util::spawn`): a
/// fork of the CLI would copy its page tables and make the CLI's later
/// writes copy-on-write faults, about 1 ms on the launch path.
///
/// It runs from a read-only view of our binary (selfexe.rs), so that
/// nothing the container runs can write it through /proc/PID/exe: the
/// view's few mount calls are made in the clone child before its exec
/// (system calls only, on strings made before the clone); a sealed copy
/// where that view cannot be made.
pub(crate) fn spawn(store: &Store, id: &str, attached: bool) -> Result<Spawned> {
    let (ours, theirs): (OwnedFd, OwnedFd) = if attached {
        let (a, b) = UnixStream::pair().context("creating a socket pair")?;
        (a.into(), b.into())
    } else {
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("creating a pipe")?
    };
    spawn_with(
        store,
        id,
        if attached {
            MODE_ATTACHED
        } else {
            MODE_DETACHED
        },
        &theirs,
    )?;
    drop(theirs);
    if attached {
        return Ok(Spawned::Attached(UnixStream::from(ours)));
    }
    let mut ready = std::fs::File::from(ours);
    let report = loop {
        match Message::read_from(&mut ready) {
            Ok(Some(Message::Trace(lines))) => crate::util::trace::relay(&lines),
            other => break other,
        }
    };
    parse_ready(report.context("waiting for the container's monitor")?)?;
    crate::util::trace::step("monitor reported");
    Ok(Spawned::Started)
}

/// How a monitor talks to the command that spawned it (argv[4]).
const MODE_ATTACHED: &str = "attached";
const MODE_DETACHED: &str = "detached";
/// Attached, but held until the spawner writes one byte: the container's
/// record does not exist yet ([`spawn_held`]).
const MODE_HELD: &str = "held";

/// Starts the monitor from the protected view of our binary (else a
/// sealed copy), handing it `theirs`.
fn spawn_with(store: &Store, id: &str, mode: &str, theirs: &OwnedFd) -> Result<()> {
    use super::selfexe::MonitorProgram;
    // The child failed before its exec when `spawn_from` fails: `theirs`
    // is still ours alone, so the sealed copy can have it.
    MonitorProgram::bind_view()
        .and_then(|program| spawn_from(&program, store, id, mode, theirs))
        .or_else(|_| spawn_from(&MonitorProgram::sealed_copy()?, store, id, mode, theirs))
        .context("starting the container's monitor")?;
    crate::util::trace::step("monitor spawned");
    Ok(())
}

/// A monitor started before its container's record is written, waiting
/// for [`Held::release`]; dropped unreleased, it exits without a trace.
///
/// `run` starts its monitor this way so that the monitor's exec and
/// start-up (about 1 ms: a 15 MB binary, loaded afresh) run on the other
/// core while the command resolves the image and writes the record.
#[derive(Debug)]
pub(crate) struct Held(UnixStream);

/// Starts the (attached) monitor of container `id`, whose record the
/// caller is about to create.
pub(crate) fn spawn_held(store: &Store, id: &str) -> Result<Held> {
    let (ours, theirs) = UnixStream::pair().context("creating a socket pair")?;
    spawn_with(store, id, MODE_HELD, &theirs.into())?;
    Ok(Held(ours))
}

impl Held {
    /// The record exists: the monitor may start the container. Returns
    /// the socket the monitor treats as its first client, as
    /// `spawn(id, true)` does; [`send_filter`] must follow on it before
    /// anything else.
    pub(crate) fn release(self) -> Result<UnixStream> {
        send_to_monitor(&self.0, &[1u8]).context("releasing the container's monitor")?;
        Ok(self.0)
    }
}

/// Writes `bytes` to a held monitor. A monitor that died meanwhile must
/// not end us with SIGPIPE (MSG_NOSIGNAL): the end of its socket, read
/// next, says that it stopped before starting the container.
fn send_to_monitor(stream: &UnixStream, bytes: &[u8]) -> std::io::Result<()> {
    let mut sent = 0;
    while sent < bytes.len() {
        match nix::sys::socket::send(
            stream.as_raw_fd(),
            &bytes[sent..],
            nix::sys::socket::MsgFlags::MSG_NOSIGNAL,
        ) {
            Ok(n) => sent += n,
            Err(nix::errno::Errno::EINTR) => {}
            Err(nix::errno::Errno::EPIPE | nix::errno::Errno::ECONNRESET) => break,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// After [`Held::release`]: the container's seccomp filter, when the
/// command compiled it (`Some(None)`: the container has none); `None`
/// leaves it to the monitor. The monitor reads it only when it releases
/// the init, after the clone: compiling it here then costs the launch
/// nothing while the monitor reads the record and clones the init.
pub(crate) fn send_filter(
    stream: &UnixStream,
    filter: Option<Option<&crate::seccomp::Filter>>,
) -> Result<()> {
    let mut message = Vec::new();
    match filter {
        None => message.push(0),
        Some(f) => {
            let bytes = f.map(|f| f.to_bytes()).unwrap_or_default();
            message.push(1);
            message.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
            message.extend_from_slice(&bytes);
        }
    }
    send_to_monitor(stream, &message)
        .context("sending the seccomp filter to the container's monitor")
}

/// Starts the monitor from `program`, handing it `theirs`.
fn spawn_from(
    program: &super::selfexe::MonitorProgram,
    store: &Store,
    id: &str,
    mode: &str,
    theirs: &OwnedFd,
) -> Result<()> {
    let path = program
        .path
        .to_str()
        .context("berth's executable has a path that is not UTF-8")?;
    let fd = theirs.as_raw_fd().to_string();
    let view = program.preparation();
    // Off our core until it is released or given its channel (`main`):
    // its exec and start-up run beside us, not ahead of us.
    let off_our_core = crate::util::cpus::Spread::before_clone().and_then(|s| s.off_our_core());
    // In the CLONE_VM child: system calls only, on a CPU set and a C
    // string made here; `make` returns only an OS error (no allocation).
    let before_exec = || {
        if let Some(cores) = &off_our_core {
            crate::util::cpus::keep_off(cores);
        }
        view.as_ref().map_or(Ok(()), |v| v.make())
    };
    let mut spawn = crate::util::spawn::Spawn::new(path)?
        .arg0("berth")?
        .arg(REEXEC_ARG)?
        .arg(id)?
        .arg(&fd)?
        .arg(mode)?;
    // The store as we opened it, so that the monitor need not choose and
    // check it again (a path that is not UTF-8 it finds itself).
    if let (Some(root), Some(run)) = (store.root().to_str(), store.run_dir_path().to_str()) {
        spawn = spawn.arg(root)?.arg(run)?;
    }
    spawn
        .keep_fd(theirs)
        .setsid()
        .before_exec(&before_exec)
        .spawn()?;
    Ok(())
}

/// `BERTH_TRACE` lines kept so far, to the command that spawned us.
fn send_trace(to: &mut impl Write) {
    if crate::util::trace::enabled() {
        let lines = crate::util::trace::take();
        if !lines.is_empty() {
            let _ = Message::Trace(lines).write_to(to);
        }
    }
}

/// The detached monitor's report: the init's pid, or why it failed.
fn parse_ready(report: Option<Message>) -> Result<i32> {
    match report {
        Some(Message::Started(pid)) => Ok(pid),
        Some(Message::Failed(f)) => Err(f.into()),
        Some(other) => {
            anyhow::bail!("the container's monitor sent {other:?} instead of its report")
        }
        None => anyhow::bail!("the container's monitor stopped before starting the container"),
    }
}

/// The seccomp filter the command sent after the release (see
/// [`send_filter`]): `None` when the command left it to us (or sent what
/// does not decode, which we then compile ourselves).
fn read_released_filter(stream: &mut UnixStream) -> Option<Option<crate::seccomp::Filter>> {
    let mut tag = [0u8; 1];
    stream.read_exact(&mut tag).ok()?;
    if tag[0] != 1 {
        return None;
    }
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).ok()?;
    let len = u32::from_le_bytes(len) as usize;
    if len == 0 {
        return Some(None);
    }
    // A program is at most 4096 instructions of 8 bytes, after 8 of flags.
    if len > 8 + 8 * 4096 {
        return None;
    }
    let mut bytes = vec![0u8; len];
    stream.read_exact(&mut bytes).ok()?;
    crate::seccomp::Filter::from_bytes(&bytes).map(Some)
}

/// Whether the command's release (or the end of its socket) is there to
/// be read without waiting.
fn released_yet(stream: &UnixStream) -> bool {
    let mut fds = [PollFd::new(stream.as_fd(), PollFlags::POLLIN)];
    poll(&mut fds, PollTimeout::ZERO).is_ok_and(|n| n > 0)
}

/// The seccomp filter of a held monitor's command ([`send_filter`]).
enum FilterFromCommand {
    /// Still to be read, from this descriptor of the client's socket.
    Pending(UnixStream),
    /// Read already (`None`: left to us).
    Read(Option<Option<crate::seccomp::Filter>>),
}

/// Where a monitor reports how the start went.
enum Channel {
    /// `run -d`, `start`: a pipe read until `Started` or `Failed`.
    Detached(std::fs::File),
    /// `run`, `start -a`: the first client's socket.
    Attached(UnixStream),
}

/// Entry point of the re-executed monitor:
/// `__berth-monitor ID FD attached|detached|held [STORE_ROOT RUN_DIR]`.
pub(crate) fn main(args: &[String]) -> i32 {
    crate::util::trace::set_role("monitor");
    crate::util::trace::step("monitor process started");
    crate::util::spawn::set_process_name(c"berth-monitor");
    let (Some(id), Some(fd), Some(mode)) = (
        args.first(),
        args.get(1).and_then(|f| f.parse::<i32>().ok()),
        args.get(2),
    ) else {
        return EXIT_BERTH_ERROR;
    };
    // Nothing in the container may ptrace us or open our /proc files
    // (environment, descriptors, executable), whatever it is given; the
    // processes we fork into it inherit this until they exec.
    super::nsenter::not_dumpable();
    // SAFETY: the spawner passed this descriptor to us for our own use.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // Ours alone: no process we start inherits it.
    let _ = nix::fcntl::fcntl(
        &fd,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    );
    let open_store = || match (args.get(3), args.get(4)) {
        (Some(root), Some(run)) => Store::reopen(root.into(), run.into()),
        _ => Store::open_default(),
    };
    // Held: the store is opened (it needs no record) while the command
    // writes the record.
    let mut early_store = None;
    let mut filter_from_command = None;
    let mut channel = Some(match mode.as_str() {
        MODE_ATTACHED => Channel::Attached(UnixStream::from(fd)),
        MODE_HELD => {
            early_store = Some(open_store());
            let mut stream = UnixStream::from(fd);
            // A mount namespace of our own (for the overlay) is made while
            // the command writes the record, when it has not yet: a
            // release already there (the record is often written before
            // our exec ends) must not wait for it.
            if !released_yet(&stream) {
                let _ = crate::mounts::rootfs::own_mount_namespace();
            }
            // Released once the record exists; the end of the socket
            // instead means the command gave up (the record could not be
            // made): nothing of ours exists to clean up.
            let mut go = [0u8; 1];
            if !matches!(stream.read(&mut go), Ok(1)) {
                return 0;
            }
            // The filter follows; it is read when the init is released
            // (`start_container`), from a second descriptor of the socket.
            // Without one it is read now, so that its bytes are never
            // taken for a client's messages.
            filter_from_command = Some(match stream.try_clone() {
                Ok(pending) => FilterFromCommand::Pending(pending),
                Err(_) => FilterFromCommand::Read(read_released_filter(&mut stream)),
            });
            crate::util::trace::step("released (record written)");
            Channel::Attached(stream)
        }
        _ => Channel::Detached(std::fs::File::from(fd)),
    });
    // Kept off the command's core until now (`spawn_from`); the init,
    // cloned next, is spread from what we may use.
    crate::util::cpus::as_parent();
    let monitor = early_store
        .unwrap_or_else(open_store)
        .and_then(|store| Monitor::with_store(store, id))
        .map(|mut m| {
            m.filter_from_command = filter_from_command;
            m
        });
    match monitor.and_then(|m| m.run(&mut channel)) {
        Ok(()) => 0,
        Err(e) => {
            let failed = Message::Failed(StartFailure::setup(e));
            match channel.take() {
                Some(Channel::Detached(mut w)) => {
                    send_trace(&mut w);
                    let _ = failed.write_to(&mut w);
                }
                Some(Channel::Attached(mut w)) => {
                    send_trace(&mut w);
                    let _ = failed.write_to(&mut w);
                }
                None => {}
            }
            EXIT_BERTH_ERROR
        }
    }
}

/// The container's end of its stdio, as the monitor holds it.
enum Streams {
    Pipes {
        stdin: Option<std::fs::File>,
        stdout: Option<OwnedFd>,
        stderr: Option<OwnedFd>,
    },
    Tty {
        master: Option<std::fs::File>,
    },
    None,
}

struct Client {
    stream: UnixStream,
    decoder: Decoder,
}

struct Monitor {
    store: Store,
    record: ContainerRecord,
    state: ContainerState,
    listener: UnixListener,
    socket: PathBuf,
    clients: Vec<Client>,
    log: LogWriter,
    streams: Streams,
    init: Option<Pid>,
    started: Instant,
    backoff: Backoff,
    restart_at: Option<Instant>,
    health: HealthTimer,
    /// What clients are told last (exit status or start failure), sent
    /// once the final state is saved and `--rm` is done, so that a client
    /// returning to its user never races them.
    final_message: Option<Message>,
    /// When the pages of start-up code are dropped (`trim_resident_code`):
    /// a while after the start, so that a short container's exit does not
    /// fault them back in.
    trim_at: Option<Instant>,
    /// Published ports, addresses, network memberships.
    net: super::network::ContainerNetwork,
    /// The container's cgroups while it runs (limits, pause, stats).
    cgroup: Option<super::resources::ContainerCgroup>,
    /// The container's mount namespace, held from its start until its
    /// exit was reported: when the init's exit drops the last reference,
    /// the kernel unmounts everything (and waits for an RCU grace period)
    /// in that exit, before we learn of it; held, that work is ours, done
    /// after the client heard the exit status.
    mounts_held: Option<OwnedFd>,
    /// The container's seccomp filter as the command that started us
    /// compiled it, for the first start (see [`send_filter`]).
    filter_from_command: Option<FilterFromCommand>,
    /// Asked to go away (SIGTERM, SIGHUP, SIGINT): no restart follows.
    terminating: bool,
}

/// How long a container runs before its monitor drops its start-up pages.
const TRIM_AFTER: std::time::Duration = std::time::Duration::from_secs(2);
/// How long published ports stay without connections before the monitor
/// drops the pages their data path used.
const TRIM_AFTER_IDLE: std::time::Duration = std::time::Duration::from_secs(1);

/// When the next health probe runs, and the probe in flight.
struct HealthTimer {
    next: Option<Instant>,
    running: Option<super::health_probe::Probe>,
    /// The probes' confinement, compiled at the first probe and reused.
    confinement: Option<super::security::Confinement>,
}

impl Monitor {
    fn with_store(store: Store, id: &str) -> Result<Monitor> {
        let record = store.container(id)?;
        crate::util::trace::step("record read");
        let socket = socket_path(store.run_dir()?, id);
        let _ = std::fs::remove_file(&socket);
        let listener = UnixListener::bind(&socket)
            .with_context(|| format!("creating the attach socket {}", socket.display()))?;
        let log = LogWriter::open(&store.container_log(id), &record.host.log)?;
        // Host ports are bound before anything starts: a port in use
        // fails here, reported on the ready pipe.
        let net = super::network::ContainerNetwork::new(&record)?;
        let mut state = store.container_state(id)?;
        crate::util::trace::step("attach socket bound, log opened");
        state.restart_count = 0;
        let me = ProcessId::current();
        state.monitor_pid = me.pid;
        state.monitor_start = me.start;
        store.clear_stop_mark(id);
        Ok(Monitor {
            store,
            record,
            state,
            listener,
            socket,
            clients: Vec::new(),
            log,
            streams: Streams::None,
            init: None,
            started: Instant::now(),
            backoff: Backoff::default(),
            restart_at: None,
            health: HealthTimer {
                next: None,
                running: None,
                confinement: None,
            },
            final_message: None,
            trim_at: None,
            net,
            cgroup: None,
            mounts_held: None,
            filter_from_command: None,
            terminating: false,
        })
    }

    fn run(mut self, channel: &mut Option<Channel>) -> Result<()> {
        let mut mask = SigSet::empty();
        for s in [
            Signal::SIGCHLD,
            Signal::SIGTERM,
            Signal::SIGINT,
            Signal::SIGHUP,
            Signal::SIGPIPE,
        ] {
            mask.add(s);
        }
        mask.thread_block()?;
        let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)?;
        // SAFETY: PR_SET_CHILD_SUBREAPER with an integer argument: processes
        // of a health probe that outlive it are reparented to us and reaped.
        unsafe {
            libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        }
        match channel.take() {
            Some(Channel::Detached(mut r)) => {
                let started = self.start_container();
                send_trace(&mut r);
                match &started {
                    Ok(pid) => Message::Started(*pid).write_to(&mut r)?,
                    Err(f) => Message::Failed(f.clone()).write_to(&mut r)?,
                }
                if started.is_err() {
                    return self.finish();
                }
            }
            Some(Channel::Attached(stream)) => {
                // The client hears of the start (`Started`) or its failure
                // (`Failed`, from `finish`) like any attached client.
                self.clients.push(Client {
                    stream,
                    decoder: Decoder::default(),
                });
                if self.start_container().is_err() {
                    return self.finish();
                }
            }
            None => {}
        }
        self.trim_at = Some(Instant::now() + TRIM_AFTER);
        self.event_loop(&signals)
    }

    /// Launches the container; its pid, or why it could not start.
    fn start_container(&mut self) -> std::result::Result<i32, StartFailure> {
        let (io, streams) = self.make_io().map_err(StartFailure::setup)?;
        let console = match &io {
            Io::Tty { .. } => true,
            Io::Pipes { .. } => false,
        };
        let console_peer = match streams {
            StreamsOrConsole::Streams(s) => {
                self.streams = s;
                None
            }
            StreamsOrConsole::Console(ours) => Some(ours),
        };
        let net = match self.net.prepare(&self.store, &self.record) {
            Ok(n) => n,
            Err(e) => return Err(self.launch_failed(StartFailure::setup(e))),
        };
        // Made while the init makes its namespaces (see `start::launch`).
        let mut cgroup = None;
        let (id, resources) = (&self.record.id, &self.record.host.resources);
        let mut make_cgroup = || {
            let made = super::resources::ContainerCgroup::create(id, resources)?;
            let procs = made.procs_files();
            cgroup = Some(made);
            Ok(procs)
        };
        let mut from_command = self.filter_from_command.take();
        let mut compiled = || match from_command.take()? {
            FilterFromCommand::Pending(mut stream) => read_released_filter(&mut stream),
            FilterFromCommand::Read(filter) => filter,
        };
        let launched = launch(
            &self.store,
            &self.record,
            io,
            &net,
            &mut make_cgroup,
            &mut compiled,
        );
        let launched = match (launched, cgroup) {
            (Ok(l), Some(cgroup)) => Ok((l, cgroup)),
            (Ok(_), None) => unreachable!("a container launched without its cgroup made"),
            (Err(failure), made) => {
                if let Some(mut cgroup) = made {
                    cgroup.remove();
                }
                Err(failure)
            }
        };
        crate::util::trace::step("container launched (exec reported)");
        match launched {
            Ok((l, cgroup)) => {
                self.cgroup = Some(cgroup);
                self.net.launched(l.pid.as_raw(), net);
                if console {
                    let ours = console_peer.expect("a console socket for -t");
                    match super::console::receive_master(ours.as_raw_fd()) {
                        Ok(master) => {
                            self.streams = Streams::Tty {
                                master: Some(std::fs::File::from(master)),
                            }
                        }
                        Err(e) => return Err(StartFailure::setup(e)),
                    }
                }
                self.init = Some(l.pid);
                self.mounts_held = std::fs::File::open(format!("/proc/{}/ns/mnt", l.pid))
                    .ok()
                    .map(OwnedFd::from);
                self.started = Instant::now();
                let init = ProcessId::of(l.pid.as_raw());
                self.state.status = Status::Running;
                self.state.pid = init.pid;
                self.state.pid_start = init.start;
                self.state.started_at = Some(now_rfc3339());
                self.state.finished_at = None;
                self.state.exit_code = 0;
                self.state.error.clear();
                self.state.network = self.net.state();
                self.state.oom_killed = false;
                if let Some(hc) = &self.record.config.healthcheck {
                    self.state.health = Some(HealthState::default());
                    self.health.next = Some(
                        Instant::now()
                            + hc.next_interval(std::time::Duration::ZERO, Default::default()),
                    );
                }
                let _ = self
                    .store
                    .save_container_state(&self.record.id, &self.state);
                crate::util::trace::step("running state recorded");
                super::events::started(&self.store, &self.record);
                self.broadcast_trace();
                self.broadcast(&Message::Started(l.pid.as_raw()));
                Ok(l.pid.as_raw())
            }
            Err(failure) => Err(self.launch_failed(failure)),
        }
    }

    /// The container could not be launched: record why.
    fn launch_failed(&mut self, failure: StartFailure) -> StartFailure {
        self.net.stopped(&self.store);
        self.streams = Streams::None;
        self.state = ContainerState {
            monitor_pid: self.state.monitor_pid,
            monitor_start: self.state.monitor_start,
            ..failed_state(&failure)
        };
        let _ = self
            .store
            .save_container_state(&self.record.id, &self.state);
        self.final_message = Some(Message::Failed(failure.clone()));
        failure
    }

    /// Pipes or a console socket for the container's stdio.
    fn make_io(&self) -> Result<(Io, StreamsOrConsole)> {
        if self.record.config.tty {
            let (ours, theirs) = nix::sys::socket::socketpair(
                nix::sys::socket::AddressFamily::Unix,
                nix::sys::socket::SockType::Stream,
                None,
                nix::sys::socket::SockFlag::SOCK_CLOEXEC,
            )?;
            return Ok((Io::Tty { console: theirs }, StreamsOrConsole::Console(ours)));
        }
        let (stdin_child, stdin_ours) = if self.record.config.open_stdin {
            let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
            (r, Some(std::fs::File::from(w)))
        } else {
            (OwnedFd::from(std::fs::File::open("/dev/null")?), None)
        };
        let (out_r, out_w) =
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK)?;
        let (err_r, err_w) =
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK)?;
        // The container's ends must block: programs do not expect EAGAIN.
        for fd in [&out_w, &err_w] {
            nix::fcntl::fcntl(
                fd,
                nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::empty()),
            )?;
        }
        Ok((
            Io::Pipes {
                stdin: stdin_child,
                stdout: out_w,
                stderr: err_w,
            },
            StreamsOrConsole::Streams(Streams::Pipes {
                stdin: stdin_ours,
                stdout: Some(out_r),
                stderr: Some(err_r),
            }),
        ))
    }

    fn event_loop(&mut self, signals: &SignalFd) -> Result<()> {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let timeout = self.next_timeout();
            let (out_fd, err_fd) = self.output_fds();
            let mut fds = vec![
                PollFd::new(signals.as_fd(), PollFlags::POLLIN),
                PollFd::new(self.listener.as_fd(), PollFlags::POLLIN),
            ];
            let out_idx = out_fd.map(|fd| {
                fds.push(PollFd::new(fd, PollFlags::POLLIN));
                fds.len() - 1
            });
            let err_idx = err_fd.map(|fd| {
                fds.push(PollFd::new(fd, PollFlags::POLLIN));
                fds.len() - 1
            });
            let probe_idx = self
                .health
                .running
                .as_ref()
                .and_then(|p| p.output_fd())
                .map(|fd| {
                    fds.push(PollFd::new(fd, PollFlags::POLLIN));
                    fds.len() - 1
                });
            let client_base = fds.len();
            for c in &self.clients {
                fds.push(PollFd::new(c.stream.as_fd(), PollFlags::POLLIN));
            }
            let net_base = fds.len();
            for fd in self.net.poll_fds() {
                fds.push(PollFd::new(fd, PollFlags::POLLIN));
            }
            match poll(&mut fds, timeout) {
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e).context("waiting for events"),
                Ok(_) => {}
            }
            let ready = |i: usize| fds[i].revents().is_some_and(|r| !r.is_empty());
            let sig_ready = ready(0);
            let accept_ready = ready(1);
            let out_ready = out_idx.is_some_and(ready);
            let err_ready = err_idx.is_some_and(ready);
            let probe_ready = probe_idx.is_some_and(ready);
            let clients_ready: Vec<usize> = (0..self.clients.len())
                .filter(|&i| ready(client_base + i))
                .collect();
            let net_ready: Vec<bool> = (net_base..fds.len()).map(ready).collect();
            drop(fds);
            self.net.ready(&net_ready);

            if out_ready {
                self.pump(Stream::Stdout, &mut buf);
            }
            if err_ready {
                self.pump(Stream::Stderr, &mut buf);
            }
            if probe_ready {
                if let Some(p) = self.health.running.as_mut() {
                    p.read_output();
                }
            }
            if accept_ready {
                if let Ok((stream, _)) = self.listener.accept() {
                    self.clients.push(Client {
                        stream,
                        decoder: Decoder::default(),
                    });
                    // A client that attaches to a running container learns its pid.
                    if let Some(pid) = self.init {
                        let last = self.clients.len() - 1;
                        let _ =
                            Message::Started(pid.as_raw()).write_to(&mut self.clients[last].stream);
                    }
                }
            }
            for i in clients_ready.into_iter().rev() {
                self.client_input(i, &mut buf);
            }
            if sig_ready {
                while let Ok(Some(info)) = signals.read_signal() {
                    match Signal::try_from(info.ssi_signo as i32) {
                        Ok(Signal::SIGCHLD) => {}
                        // Asked to go away: stop the container; its exit ends us.
                        Ok(Signal::SIGTERM | Signal::SIGINT | Signal::SIGHUP) => self.terminate(),
                        _ => {}
                    }
                }
                if let Some(done) = self.reap()? {
                    if done {
                        return self.finish();
                    }
                }
            }
            self.tick_timers()?;
            self.tick_network();
            if self.init.is_none() && self.restart_at.is_none() {
                return self.finish();
            }
        }
    }

    /// Network work that waits for no descriptor: joining the helpers
    /// once the container reported its start (off the launch path; a
    /// container that already exited joins nothing), forwarder rounds.
    fn tick_network(&mut self) {
        self.net.tick();
        if self.net.went_idle() {
            // Not at once: a client making one request after another
            // would have the data path's pages dropped and faulted back in
            // (and /proc/self/smaps read) for each of them.
            self.trim_at = Some(Instant::now() + TRIM_AFTER_IDLE);
        }
        if self.init.is_some() && self.net.join_due() {
            self.net.join(&self.store, &self.record);
            // Joining ran code the loop needs no more (a helper's start).
            crate::util::resident::trim_code();
            let error = self.net.problem().unwrap_or_default().to_string();
            if error != self.state.error {
                self.state.error = error;
                let _ = self
                    .store
                    .save_container_state(&self.record.id, &self.state);
            }
        }
    }

    fn next_timeout(&self) -> PollTimeout {
        let now = Instant::now();
        if self.net.timeout() == Some(std::time::Duration::ZERO) {
            return PollTimeout::ZERO;
        }
        let deadlines = [
            self.restart_at,
            self.health
                .next
                .filter(|_| self.init.is_some() && self.health.running.is_none()),
            self.health.running.as_ref().map(|p| p.deadline()),
            self.trim_at,
            self.net.timeout().map(|t| now + t),
        ];
        match deadlines.iter().flatten().min() {
            None => PollTimeout::NONE,
            Some(d) => {
                let ms = d.saturating_duration_since(now).as_millis().min(60_000) as u16;
                PollTimeout::from(ms.max(1))
            }
        }
    }

    fn output_fds(
        &self,
    ) -> (
        Option<std::os::fd::BorrowedFd<'_>>,
        Option<std::os::fd::BorrowedFd<'_>>,
    ) {
        match &self.streams {
            Streams::Pipes { stdout, stderr, .. } => (
                stdout.as_ref().map(|f| f.as_fd()),
                stderr.as_ref().map(|f| f.as_fd()),
            ),
            Streams::Tty { master } => (master.as_ref().map(|f| f.as_fd()), None),
            Streams::None => (None, None),
        }
    }

    /// Moves available output to the log and the clients; closes the
    /// stream at its end.
    fn pump(&mut self, stream: Stream, buf: &mut [u8]) {
        loop {
            let n = {
                let fd = match (&self.streams, stream) {
                    (
                        Streams::Pipes {
                            stdout: Some(f), ..
                        },
                        Stream::Stdout,
                    ) => f.as_fd(),
                    (
                        Streams::Pipes {
                            stderr: Some(f), ..
                        },
                        Stream::Stderr,
                    ) => f.as_fd(),
                    (Streams::Tty { master: Some(f) }, Stream::Stdout) => f.as_fd(),
                    _ => return,
                };
                nix::unistd::read(fd, buf)
            };
            match n {
                Ok(0) | Err(nix::errno::Errno::EIO) => {
                    let _ = self.log.flush_stream(stream);
                    self.close_stream(stream);
                    return;
                }
                Ok(n) => {
                    let data = &buf[..n];
                    let _ = self.log.write(stream, data);
                    if !self.clients.is_empty() {
                        self.broadcast(&match stream {
                            Stream::Stdout => Message::Stdout(data.to_vec()),
                            Stream::Stderr => Message::Stderr(data.to_vec()),
                        });
                    }
                    if n < buf.len() {
                        return;
                    }
                }
                Err(nix::errno::Errno::EAGAIN) => return,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => {
                    self.close_stream(stream);
                    return;
                }
            }
        }
    }

    fn close_stream(&mut self, stream: Stream) {
        match (&mut self.streams, stream) {
            (Streams::Pipes { stdout, .. }, Stream::Stdout) => *stdout = None,
            (Streams::Pipes { stderr, .. }, Stream::Stderr) => *stderr = None,
            (Streams::Tty { master }, _) => *master = None,
            _ => {}
        }
    }

    /// `BERTH_TRACE` lines kept so far, to the attached clients.
    fn broadcast_trace(&mut self) {
        if crate::util::trace::enabled() && !self.clients.is_empty() {
            let lines = crate::util::trace::take();
            if !lines.is_empty() {
                self.broadcast(&Message::Trace(lines));
            }
        }
    }

    /// Sends a message to every client; a client that cannot take it is dropped.
    fn broadcast(&mut self, message: &Message) {
        let frame = message.encode();
        self.clients
            .retain_mut(|c| c.stream.write_all(&frame).is_ok());
    }

    /// Handles a client's frames, in order: a `Ready` that starts the
    /// container comes before the stdin that follows it.
    fn client_input(&mut self, i: usize, buf: &mut [u8]) {
        let n = self.clients[i].stream.read(buf).unwrap_or(0);
        if n == 0 {
            self.clients.remove(i);
            return;
        }
        self.clients[i].decoder.feed(&buf[..n]);
        loop {
            if i >= self.clients.len() {
                return;
            }
            let message = match self.clients[i].decoder.next_message() {
                Ok(Some(m)) => m,
                Ok(None) => break,
                Err(_) => {
                    self.clients.remove(i);
                    return;
                }
            };
            match message {
                Message::Stdin(data) => self.write_stdin(&data),
                Message::StdinEof => {
                    if let Streams::Pipes { stdin, .. } = &mut self.streams {
                        *stdin = None;
                    }
                }
                Message::Resize { rows, cols } => {
                    if let Streams::Tty { master: Some(m) } = &self.streams {
                        super::console::resize(m.as_raw_fd(), rows, cols);
                    }
                }
                Message::Update(json) => {
                    let reply = self.update_resources(&json);
                    let _ = reply.write_to(&mut self.clients[i].stream);
                }
                Message::StatsRequest => {
                    let reply = self.stats_sample();
                    let _ = reply.write_to(&mut self.clients[i].stream);
                }
                Message::Pause | Message::Unpause => {
                    let reply = match self.set_paused(message == Message::Pause) {
                        Ok(()) => Message::Done,
                        Err(e) => Message::Refused(format!("{e:#}")),
                    };
                    let _ = reply.write_to(&mut self.clients[i].stream);
                }
                Message::NetConnect(ref id) | Message::NetDisconnect(ref id) => {
                    let connect = matches!(message, Message::NetConnect(_));
                    let reply = match self.change_networks(id, connect) {
                        Ok(()) => Message::Done,
                        Err(e) => Message::Refused(format!("{e:#}")),
                    };
                    let _ = reply.write_to(&mut self.clients[i].stream);
                }
                _ => {}
            }
        }
    }

    fn write_stdin(&mut self, data: &[u8]) {
        let target = match &mut self.streams {
            Streams::Pipes { stdin: Some(f), .. } => f,
            Streams::Tty { master: Some(m) } => m,
            _ => return,
        };
        if target.write_all(data).is_err() {
            if let Streams::Pipes { stdin, .. } = &mut self.streams {
                *stdin = None;
            }
        }
    }

    /// Reaps children. `Some(true)` when the container is over for good.
    fn reap(&mut self) -> Result<Option<bool>> {
        let mut over = None;
        loop {
            match waitpid(None::<Pid>, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(nix::errno::Errno::ECHILD) => break,
                Ok(status) => {
                    let (pid, code) = match status {
                        WaitStatus::Exited(p, c) => (p, c),
                        WaitStatus::Signaled(p, s, _) => (p, 128 + s as i32),
                        _ => continue,
                    };
                    if Some(pid) == self.init {
                        over = Some(self.container_exited(code)?);
                    } else if self.health.running.as_ref().is_some_and(|p| p.pid() == pid) {
                        let probe = self.health.running.take().expect("a running probe");
                        self.health_result(probe.finish(code));
                    }
                }
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(over)
    }

    /// The container's init exited: drain its output, record the exit and
    /// decide about a restart. True when the monitor's work is done.
    fn container_exited(&mut self, code: i32) -> Result<bool> {
        crate::util::trace::step("container exited (reaped)");
        super::namespaces::end_leftovers(
            &self.record,
            self.health.running.as_ref().map(|p| p.pid()),
        );
        let mut buf = vec![0u8; 64 * 1024];
        // Every process of the pid namespace is gone with its init, so the
        // pipes reach their end now.
        self.pump(Stream::Stdout, &mut buf);
        self.pump(Stream::Stderr, &mut buf);
        let _ = self.log.flush_stream(Stream::Stdout);
        let _ = self.log.flush_stream(Stream::Stderr);
        self.streams = Streams::None;
        self.init = None;
        self.net.stopped(&self.store);
        self.state.network = Default::default();
        if let Some(mut cgroup) = self.cgroup.take() {
            self.state.oom_killed = cgroup.oom_killed();
            cgroup.remove();
        }
        // Renamed while it ran: the event and `--rm` (which frees the
        // name) go by the record as it is now.
        if let Ok(current) = self.store.container(&self.record.id) {
            self.record = current;
        }
        super::events::died(&self.store, &self.record, code, self.state.oom_killed);
        if let Some(p) = self.health.running.take() {
            p.kill();
        }
        self.health.next = None;
        let ran_for = self.started.elapsed();
        self.state.status = Status::Exited;
        self.state.pid = 0;
        self.state.pid_start = 0;
        self.state.exit_code = code;
        self.state.finished_at = Some(now_rfc3339());
        self.final_message = Some(Message::Exited(code));
        let stopped = self.terminating || self.store.stopped_by_user(&self.record.id);
        if self.record.host.lifecycle.restart.should_restart(
            code,
            self.state.restart_count,
            stopped,
        ) {
            // Attached clients end with the first exit, as `docker run` does.
            if let Some(message) = self.final_message.take() {
                self.broadcast(&message);
            }
            self.clients.clear();
            self.mounts_held = None;
            self.state.status = Status::Restarting;
            self.restart_at = Some(Instant::now() + self.backoff.delay(ran_for));
            self.store
                .save_container_state(&self.record.id, &self.state)?;
            return Ok(false);
        }
        Ok(true)
    }

    fn tick_timers(&mut self) -> Result<()> {
        let now = Instant::now();
        if self.trim_at.is_some_and(|t| t <= now) {
            self.trim_at = None;
            // With connections open the pages are in use; the trim comes
            // when the last one has closed.
            if !self.net.busy_forwarding() {
                crate::util::resident::trim_code();
            }
        }
        if self.restart_at.is_some_and(|t| t <= now) {
            self.restart_at = None;
            if self.store.stopped_by_user(&self.record.id) {
                self.state.status = Status::Exited;
                return Ok(());
            }
            self.state.restart_count += 1;
            if self.start_container().is_err() {
                self.restart_at = None;
            }
        }
        if let Some(p) = &self.health.running {
            if p.deadline() <= now {
                let probe = self.health.running.take().expect("a running probe");
                let timeout = self
                    .record
                    .config
                    .healthcheck
                    .as_ref()
                    .map(|h| h.timeout())
                    .unwrap_or_default();
                probe.kill();
                self.health_result(super::health_probe::timed_out(timeout));
            }
        }
        // A frozen container is not probed (a probe would freeze too).
        if self.init.is_some()
            && self.state.status == Status::Running
            && self.health.running.is_none()
            && self.health.next.is_some_and(|t| t <= now)
        {
            if let (Some(hc), Some(pid)) = (&self.record.config.healthcheck, self.init) {
                let status = self
                    .state
                    .health
                    .as_ref()
                    .map(|h| h.status)
                    .unwrap_or_default();
                let interval = hc.next_interval(self.started.elapsed(), status);
                let record = &self.record;
                match probe_confinement(&mut self.health.confinement, record)
                    .and_then(|c| super::health_probe::Probe::start(record, pid, hc, c))
                {
                    Ok(p) => self.health.running = Some(p),
                    Err(e) => self.health_result(super::health_probe::failed_to_start(&e)),
                }
                self.health.next = Some(now + interval);
            }
        }
        Ok(())
    }

    fn health_result(&mut self, result: HealthResult) {
        let Some(hc) = &self.record.config.healthcheck else {
            return;
        };
        let in_start = self.started.elapsed() < hc.start_period();
        let retries = hc.retries();
        let health = self.state.health.get_or_insert_with(HealthState::default);
        let before = health.status;
        health.record(result, retries, in_start);
        if health.status != before {
            let action = format!("health_status: {}", health.status);
            super::events::container(&self.store, &self.record, &action);
        }
        let _ = self
            .store
            .save_container_state(&self.record.id, &self.state);
    }

    /// The container is over: final state, `--rm`, and we go.
    fn finish(&mut self) -> Result<()> {
        let _ = std::fs::remove_file(&self.socket);
        self.net.stopped(&self.store);
        self.state.network = Default::default();
        if self.state.status.is_active() {
            self.state.status = Status::Exited;
        }
        self.state.monitor_pid = 0;
        self.state.monitor_start = 0;
        // `--rm`: the container is gone from every listing before the
        // client hears the exit (as with Docker), but its files, moved
        // under tmp/, are deleted after: the client need not wait for it.
        let result = if self.record.host.lifecycle.auto_remove {
            let unlisted = super::lifecycle::unlist(&self.store, &self.record, true);
            crate::util::trace::step("--rm: container unlisted");
            unlisted.map(Some)
        } else {
            let saved = self
                .store
                .save_container_state(&self.record.id, &self.state);
            crate::util::trace::step("exit recorded");
            saved.map(|()| None)
        };
        self.broadcast_trace();
        if let Some(message) = self.final_message.take() {
            self.broadcast(&message);
        }
        self.clients.clear();
        self.mounts_held = None;
        match result {
            Ok(Some(files)) => {
                crate::util::proc::become_background();
                super::lifecycle::delete_unlisted(&self.store, &self.record, &files, false)?;
                crate::util::trace::step("--rm: files deleted");
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `network connect`/`disconnect` of the running container, asked by
    /// a client that already changed the record.
    fn change_networks(&mut self, network_id: &str, connect: bool) -> Result<()> {
        if self.init.is_none() {
            anyhow::bail!("container {} is not running", self.record.id);
        }
        self.record = self.store.container(&self.record.id)?;
        if connect {
            let ep = self
                .record
                .host
                .network
                .endpoint(network_id)
                .context("the container's record does not name the network")?;
            self.net.connect(&self.store, &self.record, &ep)?;
        } else {
            self.net.disconnect(&self.store, network_id)?;
        }
        self.state.network = self.net.state();
        self.store
            .save_container_state(&self.record.id, &self.state)
    }

    /// `pause` and `unpause`, asked by a client: the monitor freezes the
    /// container's cgroup and records the status itself, so that no other
    /// writer of the state (a health result, an exit) can undo it.
    fn set_paused(&mut self, pause: bool) -> Result<()> {
        let id = &self.record.id;
        let status = self.state.status;
        match (pause, self.init) {
            (true, Some(_)) if status.can_pause() => {}
            (false, Some(_)) if status.can_unpause() => {}
            (true, _) if status == Status::Paused => {
                anyhow::bail!("container {id} is already paused")
            }
            (false, _) if status.is_running() => anyhow::bail!("container {id} is not paused"),
            _ => anyhow::bail!("container {id} is not running"),
        }
        let init = self.init.expect("checked above");
        super::cgroup::freeze(init.as_raw(), pause)?;
        self.state.status = if pause {
            Status::Paused
        } else {
            Status::Running
        };
        super::events::container(
            &self.store,
            &self.record,
            if pause { "pause" } else { "unpause" },
        );
        self.store.save_container_state(id, &self.state)
    }
}

/// The confinement of health probes: the container's, compiled at the
/// first probe and kept for the others.
fn probe_confinement<'a>(
    slot: &'a mut Option<super::security::Confinement>,
    record: &ContainerRecord,
) -> Result<&'a super::security::Confinement> {
    if slot.is_none() {
        *slot = Some(super::security::Confinement::for_container(
            record,
            super::security::single_mapping_in(None),
        )?);
    }
    Ok(slot.as_ref().expect("just set"))
}

enum StreamsOrConsole {
    Streams(Streams),
    Console(OwnedFd),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_reports() {
        assert_eq!(parse_ready(Some(Message::Started(42))).unwrap(), 42);
        assert!(parse_ready(Some(Message::Done)).is_err());
        let failure = StartFailure {
            code: 127,
            message: "exec: \"x\": not found".into(),
        };
        let e = parse_ready(Some(Message::Failed(failure.clone()))).unwrap_err();
        assert_eq!(e.downcast_ref::<StartFailure>(), Some(&failure));
        assert!(parse_ready(None).is_err());
    }

    #[test]
    fn the_filter_message_is_read_whole_and_leaves_what_follows() {
        use std::io::Read;
        let mut bytes = vec![0u8; 8];
        bytes.extend_from_slice(&[0x06, 0, 0, 0, 0, 0, 0xff, 0x7f]); // ret ALLOW
        let filter = crate::seccomp::Filter::from_bytes(&bytes).unwrap();
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        send_filter(&ours, Some(Some(&filter))).unwrap();
        send_filter(&ours, Some(None)).unwrap();
        send_filter(&ours, None).unwrap();
        (&ours).write_all(b"next").unwrap();
        let got = read_released_filter(&mut theirs).expect("a filter message");
        assert_eq!(got.expect("a filter").to_bytes(), bytes);
        assert!(matches!(read_released_filter(&mut theirs), Some(None)));
        assert!(read_released_filter(&mut theirs).is_none());
        let mut rest = [0u8; 4];
        theirs.read_exact(&mut rest).unwrap();
        assert_eq!(&rest, b"next");
        // A monitor that is gone: not an error (nor SIGPIPE, which this
        // test process ignores); the end of the socket tells the command.
        drop(theirs);
        send_filter(&ours, Some(Some(&filter))).unwrap();
    }

    #[test]
    fn socket_paths_stay_short() {
        let p = socket_path(Path::new("/tmp/berth-1000"), &"a".repeat(64));
        assert_eq!(p, Path::new("/tmp/berth-1000/aaaaaaaaaaaaaaaa.sock"));
    }
}
