//! One health probe: the check's command run inside the running
//! container (its namespaces, user, environment and capabilities), with
//! its output captured and a deadline. The monitor starts it, polls its
//! output and reaps it.

use crate::model::health::MAX_OUTPUT;
use crate::model::ContainerRecord;
use crate::model::{HealthConfig, HealthResult};
use crate::util::humanize::now_rfc3339;
use anyhow::{Context, Result};
use nix::sched::CloneFlags;
use nix::sys::signal::{kill, Signal};
use nix::unistd::{fork, ForkResult, Pid};
use std::ffi::CString;
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
    /// Starts the check of `hc` in the container whose init is `init`.
    pub(crate) fn start(record: &ContainerRecord, init: Pid, hc: &HealthConfig) -> Result<Probe> {
        let argv = hc.command().context("the health check has no command")?;
        // Namespaces are opened before the fork so that a failure is ours to report.
        let mut namespaces = Vec::new();
        // The user namespace first (a `--userns keep-id` container has one
        // of its own): it owns the others.
        for (name, flag) in [
            ("user", CloneFlags::CLONE_NEWUSER),
            ("ipc", CloneFlags::CLONE_NEWIPC),
            ("uts", CloneFlags::CLONE_NEWUTS),
            ("net", CloneFlags::CLONE_NEWNET),
            ("cgroup", CloneFlags::CLONE_NEWCGROUP),
            ("pid", CloneFlags::CLONE_NEWPID),
            ("mnt", CloneFlags::CLONE_NEWNS),
        ] {
            let theirs = format!("/proc/{init}/ns/{name}");
            // A namespace the container shares with us (the host network,
            // say) is not joined: setns into a namespace of the initial user
            // namespace would need privileges we do not have.
            let same = match (
                std::fs::read_link(&theirs),
                std::fs::read_link(format!("/proc/self/ns/{name}")),
            ) {
                (Ok(a), Ok(b)) => a == b,
                _ => false,
            };
            if same {
                continue;
            }
            let f = std::fs::File::open(&theirs)
                .with_context(|| format!("opening the container's {name} namespace"))?;
            namespaces.push((OwnedFd::from(f), flag));
        }
        let (out_r, out_w) =
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK)?;
        nix::fcntl::fcntl(
            &out_w,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::empty()),
        )?;
        let started = now_rfc3339();
        // SAFETY: the monitor is single-threaded, so the child is a full copy.
        match unsafe { fork() }.context("starting a health probe")? {
            ForkResult::Child => {
                let code = run_in_container(record, &namespaces, out_w.as_raw_fd(), &argv);
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
/// and run the check there as the container's user. Returns the status.
fn run_in_container(
    record: &ContainerRecord,
    namespaces: &[(OwnedFd, CloneFlags)],
    output: i32,
    argv: &[String],
) -> i32 {
    for (fd, flag) in namespaces {
        if let Err(e) = nix::sched::setns(fd, *flag) {
            let msg = format!("health check: joining the container's namespace ({flag:?}): {e}\n");
            // SAFETY: a write to the probe's own output pipe.
            unsafe {
                libc::write(output, msg.as_ptr().cast(), msg.len());
            }
            return 125;
        }
    }
    // setns into a pid namespace applies to children: the check runs in one.
    // SAFETY: this child is single-threaded.
    match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            // SAFETY: plain descriptor and prctl calls before exec.
            unsafe {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
                let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY);
                libc::dup2(null, 0);
                libc::dup2(output, 1);
                libc::dup2(output, 2);
            }
            let code = exec_check(record, argv);
            // SAFETY: leave without destructors when the exec failed.
            unsafe { libc::_exit(code) }
        }
        Ok(ForkResult::Parent { child }) => crate::util::signals::wait_exit(child).unwrap_or(125),
        Err(_) => 125,
    }
}

fn exec_check(record: &ContainerRecord, argv: &[String]) -> i32 {
    let config = &record.config;
    let passwd = std::fs::read_to_string("/etc/passwd").ok();
    let group = std::fs::read_to_string("/etc/group").ok();
    let Ok(mut u) = super::user::resolve(&config.user, passwd.as_deref(), group.as_deref()) else {
        return 125;
    };
    match super::namespaces::extra_groups(
        &config.group_add,
        group.as_deref(),
        crate::userns::setgroups_allowed(),
    ) {
        Ok(extra) => u.groups.extend(extra),
        Err(_) => return 125,
    }
    let env = super::spec::final_env(config, &u.home);
    let workdir = if config.working_dir.is_empty() {
        "/"
    } else {
        &config.working_dir
    };
    let _ = nix::unistd::chdir(workdir);
    let keep = super::caps::default_set();
    if super::caps::limit_bounding(&keep).is_err() {
        return 125;
    }
    if crate::userns::setgroups_allowed() {
        let groups: Vec<nix::unistd::Gid> = u
            .groups
            .iter()
            .map(|g| nix::unistd::Gid::from_raw(*g))
            .collect();
        let _ = nix::unistd::setgroups(&groups);
    }
    let gid = nix::unistd::Gid::from_raw(u.gid);
    let uid = nix::unistd::Uid::from_raw(u.uid);
    if nix::unistd::setresgid(gid, gid, gid).is_err()
        || nix::unistd::setresuid(uid, uid, uid).is_err()
    {
        return 125;
    }
    if super::caps::apply_after_setuid(&keep, u.uid == 0).is_err() {
        return 125;
    }
    let path_var = super::env::get(&env, "PATH").unwrap_or(super::env::DEFAULT_PATH);
    let program = match super::init::find_program(&argv[0], path_var) {
        Ok(p) => p,
        Err(e) => return e.code,
    };
    let to_c = |s: &String| CString::new(s.as_str()).ok();
    let (Some(prog), Some(args), Some(envs)) = (
        CString::new(program).ok(),
        argv.iter().map(to_c).collect::<Option<Vec<_>>>(),
        env.iter().map(to_c).collect::<Option<Vec<_>>>(),
    ) else {
        return 125;
    };
    let err = nix::unistd::execve(&prog, &args, &envs).unwrap_err();
    if err == nix::errno::Errno::ENOENT {
        127
    } else {
        126
    }
}
