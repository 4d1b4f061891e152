//! One health probe: the check's command run inside the running
//! container (its namespaces, user, environment and capabilities), with
//! its output captured and a deadline. The monitor starts it, polls its
//! output and reaps it.

use super::exec::InContainer;
use super::nsenter::Target;
use super::security::Confinement;
use crate::model::exit::EXIT_BERTH_ERROR;
use crate::model::health::MAX_OUTPUT;
use crate::model::ContainerRecord;
use crate::model::{HealthConfig, HealthResult};
use crate::util::humanize::now_rfc3339;
use crate::util::proc::ProcessId;
use anyhow::{Context, Result};
use nix::sched::CloneFlags;
use nix::sys::signal::{kill, Signal};
use nix::unistd::{fork, ForkResult, Pid};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

pub(crate) struct Probe {
    pid: Pid,
    output: Option<OwnedFd>,
    captured: Vec<u8>,
    started: String,
    deadline: Instant,
}

impl Probe {
    /// Starts the check of `hc` in the container whose init is `init`,
    /// exactly as `exec` starts a process (`exec::become_process`): the
    /// container's user, environment and working directory, a session and
    /// keyring of its own, `confinement` (the container's capabilities
    /// and seccomp filter, compiled once by the monitor), stdin from
    /// /dev/null and only its own output pipe. The monitor is not
    /// dumpable and neither is the probe until it execs, so nothing of
    /// the monitor (its environment, descriptors, executable) is
    /// reachable from the container.
    pub(crate) fn start(
        record: &ContainerRecord,
        init: Pid,
        hc: &HealthConfig,
        confinement: &Confinement,
    ) -> Result<Probe> {
        let argv = hc.command().context("the health check has no command")?;
        // Pinned before the fork, so that a failure is ours to report.
        let target = Target::open(ProcessId::of(init.as_raw()), &record.id, CloneFlags::all())?;
        let (out_r, out_w) =
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK)?;
        nix::fcntl::fcntl(
            &out_w,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::empty()),
        )?;
        let null: OwnedFd = std::fs::File::open("/dev/null")
            .context("opening /dev/null")?
            .into();
        let started = now_rfc3339();
        // SAFETY: the monitor is single-threaded, so the child is a full copy.
        match unsafe { fork() }.context("starting a health probe")? {
            ForkResult::Child => {
                drop(out_r);
                let stdio = [null.as_raw_fd(), out_w.as_raw_fd(), out_w.as_raw_fd()];
                let process = InContainer {
                    record,
                    user: &record.config.user,
                    workdir: &record.config.working_dir,
                    argv: &argv,
                    extra_env: &[],
                    group_add: true,
                    tty: false,
                    console_size: None,
                    stdio: Some(stdio),
                    console: None,
                    confinement,
                };
                let code = run_in_container(&target, &process);
                // SAFETY: leave without running the monitor's destructors.
                unsafe { libc::_exit(code) }
            }
            ForkResult::Parent { child } => Ok(Probe {
                pid: child,
                output: Some(out_r),
                captured: Vec::new(),
                started,
                deadline: Instant::now() + hc.timeout(),
            }),
        }
    }

    pub(crate) fn pid(&self) -> Pid {
        self.pid
    }

    pub(crate) fn deadline(&self) -> Instant {
        self.deadline
    }

    /// The pipe the probe writes to, until its end is reached.
    pub(crate) fn output_fd(&self) -> Option<BorrowedFd<'_>> {
        self.output.as_ref().map(|fd| fd.as_fd())
    }

    /// Reads what the probe wrote so far.
    pub(crate) fn read_output(&mut self) {
        let Some(fd) = &self.output else { return };
        let mut buf = [0u8; 4096];
        loop {
            match nix::unistd::read(fd, &mut buf) {
                Ok(0) => {
                    self.output = None;
                    return;
                }
                Ok(n) => {
                    let room = MAX_OUTPUT.saturating_sub(self.captured.len());
                    self.captured.extend_from_slice(&buf[..n.min(room)]);
                }
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => return,
            }
        }
    }

    /// The result once the probe exited with `code`.
    pub(crate) fn finish(mut self, code: i32) -> HealthResult {
        self.read_output();
        HealthResult {
            start: self.started,
            end: now_rfc3339(),
            exit_code: code,
            output: String::from_utf8_lossy(&self.captured).into_owned(),
        }
    }

    /// Ends a probe that is no longer wanted (timeout, container gone).
    pub(crate) fn kill(self) {
        let _ = kill(self.pid, Signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(self.pid, None);
    }
}

/// A probe that ran past its timeout, as Docker reports it.
pub(crate) fn timed_out(timeout: Duration) -> HealthResult {
    let now = now_rfc3339();
    HealthResult {
        start: now.clone(),
        end: now,
        exit_code: -1,
        output: format!("Health check exceeded timeout ({}s)", timeout.as_secs_f64()),
    }
}

/// A probe that could not even start.
pub(crate) fn failed_to_start(e: &anyhow::Error) -> HealthResult {
    let now = now_rfc3339();
    HealthResult {
        start: now.clone(),
        end: now,
        exit_code: -1,
        output: format!("{e:#}"),
    }
}

/// In the forked child: join the container, fork into its pid namespace,
/// and run the check there. Returns the status; a check that could not
/// run writes why to its output, as Docker's does.
fn run_in_container(target: &Target, process: &InContainer) -> i32 {
    let say = |msg: &str| {
        let [_, out, _] = process.stdio.unwrap_or([-1; 3]);
        // SAFETY: a write to the probe's own output pipe.
        unsafe {
            libc::write(out, msg.as_ptr().cast(), msg.len());
        }
    };
    if let Err(e) = target.join() {
        say(&format!("health check: {e:#}\n"));
        return EXIT_BERTH_ERROR;
    }
    // setns into a pid namespace applies to children: the check runs in one.
    // SAFETY: this child is single-threaded.
    match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            // SAFETY: prctl with integer arguments only.
            unsafe {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
            }
            let failure = match super::exec::become_process(process) {
                Ok((argv, env)) => match super::init::exec(&argv, &env) {
                    Ok(never) => match never {},
                    Err(f) => f,
                },
                Err(e) => super::exec::cannot_run(e),
            };
            // stdout is the output pipe by now.
            let msg = format!(
                "OCI runtime exec failed: exec failed: unable to start container process: {}\n",
                failure.message
            );
            // SAFETY: a write to our stdout, then leave without destructors.
            unsafe {
                libc::write(1, msg.as_ptr().cast(), msg.len());
                libc::_exit(failure.code)
            }
        }
        Ok(ForkResult::Parent { child }) => {
            crate::util::signals::wait_exit(child).unwrap_or(EXIT_BERTH_ERROR)
        }
        Err(_) => EXIT_BERTH_ERROR,
    }
}
