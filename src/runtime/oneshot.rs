//! One process run to completion in a throwaway container, without a
//! monitor and without a record: a build's RUN step. It goes through the
//! same launch as `run` (`start::launch_in`, the container's init), so
//! everything the init applies to containers (namespaces, mounts, the id
//! map, capabilities, security filters) applies to build steps too.
//!
//! The caller may have threads (a build runs stages side by side), and the
//! container's init is a raw `clone` that needs a single-threaded parent.
//! So the launch happens in a helper: our binary re-executed
//! (`__berth-step`), which reads the prepared request from the step's
//! directory, launches the init with the helper's stdout and stderr (pipes
//! to the caller), waits for it, and reports the exit status on a pipe.
//! The helper dies with the thread that started it (`PR_SET_PDEATHSIG`),
//! and the init with the helper, so an interrupted build leaves no process.
//!
//! The step's changes stay in `dir/upper` for the caller to turn into a
//! layer; the caller removes `dir` (it lives under the store's `tmp/`).

use super::message::Message;
use super::network::oneshot::OneShotNetwork;
use super::start::{launch_in, Dirs, Io};
use crate::model::{
    ContainerRecord, HostConfig, MountPoint, NetworkMode, ProcessConfig, StartFailure,
    StorageConfig,
};
use crate::mounts::rootfs::OverlaySpec;
use crate::store::Store;
use crate::util::fsutil::create_dir_mode;
use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// argv[1] of a step helper.
pub(crate) const REEXEC_ARG: &str = "__berth-step";

/// The name of the prepared request in the step's directory.
const REQUEST_FILE: &str = "step.json";

/// What to run, and on what.
#[derive(Debug, Clone, Default)]
pub(crate) struct StepRequest {
    /// Diff ids of the root filesystem's layers, base first.
    pub(crate) layers: Vec<String>,
    /// A fresh directory under the store root (`Store::temp_dir`): the
    /// step's upper, work and merged directories go there.
    pub(crate) dir: PathBuf,
    /// The full argv (shell and command already joined).
    pub(crate) args: Vec<String>,
    /// `KEY=value`, in order.
    pub(crate) env: Vec<String>,
    /// Absolute; created when missing.
    pub(crate) workdir: String,
    /// `name`, `uid`, `name:group`, `uid:gid`; empty is root.
    pub(crate) user: String,
    pub(crate) hostname: String,
    /// Binds and tmpfs mounts, mounted in order of depth.
    pub(crate) mounts: Vec<MountPoint>,
    /// `Host`, `None`, or a user-mode network (`Bridge`: the default
    /// network), which the step joins for its run only.
    pub(crate) network: NetworkMode,
    /// `NAME=IP` entries added to the step's /etc/hosts (`--add-host`).
    pub(crate) extra_hosts: Vec<String>,
}

/// Which stream a piece of output came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StepStream {
    Stdout,
    Stderr,
}

/// How the step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StepOutcome {
    /// The exit status, or 128 + the signal that killed it.
    pub(crate) exit_code: i32,
}

/// What the helper reads.
#[derive(Serialize, Deserialize)]
struct Prepared {
    record: ContainerRecord,
    store_root: PathBuf,
    /// The store's runtime directory: where network helpers' sockets are.
    run_dir: PathBuf,
    dir: PathBuf,
    lowers: Vec<String>,
    upper: String,
    work: String,
    userxattr: bool,
    /// The pid of the process that started the helper: if it is gone
    /// before the helper could arm its parent-death signal, the helper
    /// must not run the step.
    parent: i32,
}

/// Runs the step to its end. Output is passed to `on_output` as it
/// comes; an exit status other than 0 is an outcome, not an error. A step
/// that could not start (program not found, a mount that failed) is an
/// error carrying its [`StartFailure`]. The caller is inside berth's user
/// namespace.
pub(crate) fn run_step(
    store: &Store,
    req: &StepRequest,
    on_output: &mut dyn FnMut(StepStream, &[u8]),
) -> Result<StepOutcome> {
    if req.args.is_empty() {
        bail!("a build step needs a command");
    }
    super::lifecycle::say_fidelity(store);
    let rel = req
        .dir
        .strip_prefix(store.root())
        .map_err(|_| anyhow!("a step's directory must be inside the store"))?
        .to_path_buf();
    for sub in ["upper", "work", "merged"] {
        // upper's mode becomes the mode of the container's `/` when no
        // layer has one.
        create_dir_mode(&req.dir.join(sub), 0o755)
            .with_context(|| format!("preparing {}", req.dir.display()))?;
    }
    let mut lowers = Vec::with_capacity(req.layers.len());
    for diff_id in req.layers.iter().rev() {
        let link = store.layer_link(diff_id)?;
        // A repeated layer only once (see `start::overlay_spec`).
        if !lowers.contains(&link) {
            lowers.push(link);
        }
    }
    if lowers.is_empty() {
        create_dir_mode(&req.dir.join("empty"), 0o755)?;
        lowers.push(rel.join("empty").display().to_string());
    }
    // Only a user-mode network needs the runtime directory (its helper's
    // socket); steps on the host's network or none never touch it.
    let run_dir = if req.network.is_user_mode() {
        store.run_dir()?.to_path_buf()
    } else {
        PathBuf::new()
    };
    let record = record_for(req);
    let prepared = Prepared {
        userxattr: !crate::userns::is_real_root() || super::start::root_userns(&record),
        record,
        store_root: store.root().to_path_buf(),
        run_dir,
        dir: req.dir.clone(),
        lowers,
        upper: rel.join("upper").display().to_string(),
        work: rel.join("work").display().to_string(),
        parent: std::process::id() as i32,
    };
    crate::util::fsutil::write_json_atomic(&req.dir.join(REQUEST_FILE), &prepared)?;
    let (report_r, report_w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("creating a pipe")?;
    let mut child = spawn_helper(&req.dir, &report_w)?;
    drop(report_w);
    let stdout = child.stdout.take().expect("piped stdout");
    let stderr = child.stderr.take().expect("piped stderr");
    let pumped = pump(stdout.into(), stderr.into(), on_output);
    let mut data = Vec::new();
    use std::io::Read;
    let _ = std::fs::File::from(report_r).read_to_end(&mut data);
    let status = child
        .wait()
        .context("waiting for the build step's helper")?;
    pumped?;
    match Message::read_from(&mut &data[..]) {
        Ok(Some(Message::Exited(code))) => Ok(StepOutcome { exit_code: code }),
        Ok(Some(Message::Failed(f))) => Err(f.into()),
        _ => bail!("the build step's helper ended without a report ({status})"),
    }
}

/// The throwaway container's record: never written to the store.
fn record_for(req: &StepRequest) -> ContainerRecord {
    ContainerRecord {
        id: crate::util::ids::random_id(),
        layers: req.layers.clone(),
        config: ProcessConfig {
            args: req.args.clone(),
            env: req.env.clone(),
            working_dir: req.workdir.clone(),
            user: req.user.clone(),
            hostname: req.hostname.clone(),
            ..Default::default()
        },
        host: HostConfig {
            storage: StorageConfig {
                mounts: req.mounts.clone(),
                read_only: false,
            },
            network: crate::model::network::NetworkConfig {
                mode: req.network.clone(),
                extra_hosts: req.extra_hosts.clone(),
                ..Default::default()
            },
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Starts the helper from a read-only view of our binary, or a sealed
/// copy where that view cannot be made: the helper's clone is the step's
/// init, and nothing the step runs may write berth through
/// `/proc/PID/exe` (see `selfexe`, as for the monitor).
fn spawn_helper(dir: &Path, report_w: &OwnedFd) -> Result<std::process::Child> {
    use super::selfexe::MonitorProgram;
    MonitorProgram::bind_view()
        .and_then(|program| spawn_helper_from(&program, dir, report_w))
        .or_else(|_| spawn_helper_from(&MonitorProgram::sealed_copy()?, dir, report_w))
}

fn spawn_helper_from(
    program: &super::selfexe::MonitorProgram,
    dir: &Path,
    report_w: &OwnedFd,
) -> Result<std::process::Child> {
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    let fd = report_w.as_raw_fd();
    let view = program.preparation();
    let mut cmd = Command::new(&program.path);
    cmd.arg(REEXEC_ARG)
        .arg(dir)
        .arg(fd.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: only async-signal-safe calls (fcntl, prctl, the read-only
    // view's mount calls with strings made before) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if let Some(v) = &view {
                v.make()?;
            }
            // The report pipe is the one extra descriptor the helper keeps.
            let flags = libc::fcntl(fd, libc::F_GETFD);
            libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC);
            // The helper (and with it the step) dies with our thread.
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
            Ok(())
        });
    }
    cmd.spawn().context("starting the build step's helper")
}

/// Reads both streams until both end, in arrival order.
fn pump(
    stdout: OwnedFd,
    stderr: OwnedFd,
    on_output: &mut dyn FnMut(StepStream, &[u8]),
) -> Result<()> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut open = [Some(stdout), Some(stderr)];
    let mut buf = vec![0u8; 64 * 1024];
    while open.iter().any(Option::is_some) {
        let mut fds = Vec::new();
        let mut which = Vec::new();
        for (i, fd) in open.iter().enumerate() {
            if let Some(fd) = fd {
                fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
                which.push(i);
            }
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e).context("waiting for the build step's output"),
            Ok(_) => {}
        }
        let ready: Vec<usize> = fds
            .iter()
            .zip(&which)
            .filter(|(f, _)| f.revents().is_some_and(|r| !r.is_empty()))
            .map(|(_, &i)| i)
            .collect();
        drop(fds);
        for i in ready {
            let fd = open[i].as_ref().expect("polled descriptors are open");
            match nix::unistd::read(fd, &mut buf) {
                Ok(0) => open[i] = None,
                Ok(n) => on_output(
                    if i == 0 {
                        StepStream::Stdout
                    } else {
                        StepStream::Stderr
                    },
                    &buf[..n],
                ),
                Err(nix::errno::Errno::EINTR | nix::errno::Errno::EAGAIN) => {}
                Err(_) => open[i] = None,
            }
        }
    }
    Ok(())
}

/// Entry point of the helper: `__berth-step DIR REPORT_FD`.
pub(crate) fn helper_main(args: &[String]) -> i32 {
    let (Some(dir), Some(fd)) = (
        args.first(),
        args.get(1).and_then(|f| f.parse::<i32>().ok()),
    ) else {
        return crate::model::exit::EXIT_BERTH_ERROR;
    };
    // SAFETY: the spawner passed this descriptor to us for our own use.
    let mut report = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    // Not for the processes this helper starts: a network helper started
    // for the step outlives it, and the build reads this pipe to its end.
    let _ = nix::fcntl::fcntl(
        &report,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    );
    let message = match helper_run(Path::new(dir)) {
        Ok(code) => Message::Exited(code),
        Err(f) => Message::Failed(f),
    };
    let _ = message.write_to(&mut report);
    0
}

fn helper_run(dir: &Path) -> Result<i32, StartFailure> {
    let setup = StartFailure::setup;
    let p: Prepared = crate::util::fsutil::read_json(&dir.join(REQUEST_FILE)).map_err(setup)?;
    if nix::unistd::getppid().as_raw() != p.parent {
        return Err(setup(anyhow!("the build that started this step is gone")));
    }
    let null = std::fs::File::open("/dev/null")
        .context("opening /dev/null")
        .map_err(setup)?;
    let dup = |fd: i32| -> Result<OwnedFd, StartFailure> {
        // SAFETY: 1 and 2 are ours (the pipes to the build) for the
        // helper's whole life.
        let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        borrowed
            .try_clone_to_owned()
            .context("duplicating the step's output")
            .map_err(setup)
    };
    let io = Io::Pipes {
        stdin: null.into(),
        stdout: dup(1)?,
        stderr: dup(2)?,
    };
    let dirs = Dirs {
        dir: p.dir.clone(),
        overlay: OverlaySpec {
            lowers: p.lowers.clone(),
            upper: p.upper.clone(),
            work: p.work.clone(),
            userxattr: p.userxattr,
            volatile: false,
        },
        attach_stdin: false,
    };
    // The store: for the step's network (the default network's record and
    // leases, its helper's socket); a step has private pid and ipc
    // namespaces and never reads containers' states.
    let store =
        crate::store::Store::open(p.store_root.clone(), p.run_dir.clone()).map_err(setup)?;
    let mut record = p.record;
    if !record.host.network.mode.is_user_mode() {
        // The host's network or none: no helper, no address; this gives
        // the step's /etc files and the init's part.
        let net = super::network::ContainerNetwork::new(&record)
            .and_then(|mut n| n.prepare(&store, &record))
            .map_err(setup)?;
        let launched = launch_in(
            &store,
            &record,
            &dirs,
            io,
            &net,
            &mut || Ok(Vec::new()),
            &mut || None,
        )?;
        return crate::util::signals::wait_exit(launched.pid)
            .context("waiting for the build step")
            .map_err(setup);
    }
    // A user-mode network: an address leased in this helper's name (so a
    // killed build leaves no live lease), the TAP made by the init, and
    // the network's helper joined (started if none runs) while the step
    // runs; dropping `net` leaves the network and gives the address back.
    let (mut net, launch) = OneShotNetwork::prepare(&store, &mut record).map_err(setup)?;
    let launched = launch_in(
        &store,
        &record,
        &dirs,
        io,
        &launch,
        &mut || Ok(Vec::new()),
        &mut || None,
    )?;
    if let Err(e) = net.launched(launched.pid.as_raw(), launch) {
        let _ = nix::sys::signal::kill(launched.pid, nix::sys::signal::Signal::SIGKILL);
        let _ = crate::util::signals::wait_exit(launched.pid);
        return Err(setup(e));
    }
    let code = crate::util::signals::wait_exit(launched.pid)
        .context("waiting for the build step")
        .map_err(setup);
    drop(net);
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_carries_the_step() {
        let req = StepRequest {
            layers: vec!["sha256:aa".into()],
            args: vec!["/bin/sh".into(), "-c".into(), "true".into()],
            env: vec!["A=1".into()],
            workdir: "/app".into(),
            user: "nobody".into(),
            hostname: "buildkitsandbox".into(),
            network: NetworkMode::None,
            extra_hosts: vec!["db=10.1.2.3".into()],
            ..Default::default()
        };
        let r = record_for(&req);
        assert_eq!(r.host.network.extra_hosts, ["db=10.1.2.3"]);
        assert_eq!(r.config.args, req.args);
        assert_eq!(r.config.working_dir, "/app");
        assert_eq!(r.config.user, "nobody");
        assert_eq!(r.host.network.mode, NetworkMode::None);
        assert_eq!(r.layers, req.layers);
        assert!(!r.config.tty && !r.config.open_stdin);
    }
}
