//! The processes of a sandbox with namespaces: berth unshares and maps
//! itself (P0), pid 1 of the new pid namespace sets up the mounts and
//! reaps (P1), and the command's process drops everything and execs (P2).
//! [`exec_confined`] is the last part, shared with the fallback.

use super::{mounts, Network, Plan};
use crate::model::StartFailure;
use crate::runtime::message::{read_start_report, Message};
use crate::{landlock, seccomp};
use anyhow::Result;
use nix::sched::CloneFlags;
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Unshares the user, mount, pid, ipc, uts (and, for `--network none`,
/// network) namespaces and maps the caller's uid and gid to themselves.
/// Must run while the process has a single thread. The error is the
/// reason, worded for the user (with the administrator's fix).
pub fn enter_namespaces(network: Network) -> Result<(), String> {
    let uid = nix::unistd::getuid().as_raw();
    let gid = nix::unistd::getgid().as_raw();
    let mut flags = CloneFlags::CLONE_NEWUSER
        | CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWIPC
        | CloneFlags::CLONE_NEWUTS;
    if network == Network::None {
        flags |= CloneFlags::CLONE_NEWNET;
    }
    nix::sched::unshare(flags).map_err(crate::userns::userns_unavailable)?;
    let write = |path: &str, data: String| {
        std::fs::write(path, data.as_bytes()).map_err(|e| format!("writing {path}: {e}"))
    };
    write("/proc/self/setgroups", "deny".into())?;
    write("/proc/self/uid_map", format!("{uid} {uid} 1"))?;
    write("/proc/self/gid_map", format!("{gid} {gid} 1"))?;
    Ok(())
}

/// The write end of the error pipe: a child that fails sends its
/// [`StartFailure`] there (library code prints nothing; berth reports it
/// in the parent). Close-on-exec, so its end tells the parent the
/// command was exec'd.
#[derive(Clone, Copy)]
pub struct ErrorPipe(pub RawFd);

/// Reports berth's own failure in a child to the parent and exits with
/// `code`.
pub fn die(pipe: ErrorPipe, code: i32, what: &str, err: &anyhow::Error) -> ! {
    report_failure(
        pipe,
        StartFailure {
            code,
            message: format!("{what}: {err:#}"),
        },
    )
}

fn report_failure(pipe: ErrorPipe, failure: StartFailure) -> ! {
    let code = failure.code;
    // SAFETY: the pipe's write end is ours (inherited across the fork);
    // ManuallyDrop keeps it from being closed twice.
    let mut f = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(pipe.0) });
    let _ = Message::Failed(failure).write_to(&mut *f);
    // SAFETY: leaves the child without running the parent's destructors.
    unsafe { libc::_exit(code) }
}

/// In the parent: waits for `child`; its failure, if it sent one, as an
/// error carrying the [`StartFailure`], else its exit status.
pub fn wait_for(child: Pid, err_r: OwnedFd) -> Result<i32> {
    match read_start_report(err_r) {
        Some(failure) => {
            let _ = crate::util::signals::wait_exit(child);
            Err(failure.into())
        }
        None => Ok(crate::util::signals::wait_exit(child)?),
    }
}

/// After `enter_namespaces`: forks pid 1 of the new pid namespace, which
/// sets up the mounts and starts the command; waits and returns its status.
pub fn run_in_namespaces(plan: &Plan, filter: &seccomp::Filter) -> Result<i32> {
    let (err_r, err_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let pipe = ErrorPipe(err_w.as_raw_fd());
    let old_mask = crate::util::signals::block();
    // SAFETY: berth is single-threaded here (a requirement of unshare
    // with CLONE_NEWUSER, which already succeeded).
    match unsafe { fork() }? {
        ForkResult::Child => {
            crate::util::signals::unblock_in_child(&old_mask);
            // SAFETY: prctl with integer arguments only.
            unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };
            drop(err_r);
            if let Err(e) = mounts::setup(plan) {
                die(
                    pipe,
                    crate::model::exit::EXIT_BERTH_ERROR,
                    "setting up the mounts",
                    &e,
                );
            }
            if plan.network == Network::None {
                if let Err(e) = crate::runtime::init::loopback_up() {
                    die(
                        pipe,
                        crate::model::exit::EXIT_BERTH_ERROR,
                        "bringing up loopback",
                        &e,
                    );
                }
            }
            let prepared = match landlock::prepare(&plan.landlock_rules(true, None)) {
                Ok(p) => p,
                Err(e) => die(
                    pipe,
                    crate::model::exit::EXIT_BERTH_ERROR,
                    "preparing Landlock",
                    &e,
                ),
            };
            become_reaper(pipe);
            exec_confined(plan, prepared, filter, &[], pipe)
        }
        ForkResult::Parent { child } => {
            drop(err_w);
            crate::util::signals::forward_to(child);
            wait_for(child, err_r)
        }
    }
}

/// The command's process: working directory, no capabilities, Landlock,
/// no_new_privs, seccomp, exec. Never returns.
pub fn exec_confined(
    plan: &Plan,
    prepared: landlock::Prepared,
    filter: &seccomp::Filter,
    extra_env: &[(&str, String)],
    pipe: ErrorPipe,
) -> ! {
    use anyhow::Context;
    if let Err(e) = std::env::set_current_dir(&plan.cwd)
        .with_context(|| format!("entering {}", plan.cwd.display()))
    {
        die(
            pipe,
            crate::model::exit::EXIT_BERTH_ERROR,
            "starting the command",
            &e,
        );
    }
    drop_capabilities();
    if let Err(e) = prepared.enforce() {
        die(
            pipe,
            crate::model::exit::EXIT_BERTH_ERROR,
            "enforcing Landlock",
            &e,
        );
    }
    if let Err(e) = seccomp::set_no_new_privs() {
        die(
            pipe,
            crate::model::exit::EXIT_BERTH_ERROR,
            "setting no_new_privs",
            &e.into(),
        );
    }
    let mut env: Vec<String> = std::env::vars_os()
        .filter(|(k, _)| !extra_env.iter().any(|(e, _)| k == *e))
        .map(|(k, v)| format!("{}={}", k.to_string_lossy(), v.to_string_lossy()))
        .collect();
    env.extend(extra_env.iter().map(|(k, v)| format!("{k}={v}")));
    if let Err(e) = seccomp::install(filter) {
        let what = seccomp::explain_install_error(&e);
        die(
            pipe,
            crate::model::exit::EXIT_BERTH_ERROR,
            "installing the seccomp filter",
            &anyhow::anyhow!("{what}: {e}"),
        );
    }
    let err = match crate::runtime::init::exec(&plan.command, &env) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    report_failure(pipe, err)
}

/// Empties the bounding and ambient sets, so that nothing the command
/// runs (even as uid 0) has a capability. Without CAP_SETPCAP (the
/// fallback as an ordinary user) there is nothing to drop: the process
/// has no capabilities, and no_new_privs keeps it so.
fn drop_capabilities() {
    let _ = caps::clear(None, caps::CapSet::Ambient);
    let _ = caps::clear(None, caps::CapSet::Inheritable);
    let _ = caps::clear(None, caps::CapSet::Bounding);
}

extern "C" fn noop(_: libc::c_int) {}

/// Forks; returns in the child (the command's process). The parent stays
/// as pid 1 of the sandbox: it reaps every orphan, passes on the signals
/// that processes send it (the terminal's reach the command directly: it
/// shares berth's process group), and exits with the command's status.
fn become_reaper(pipe: ErrorPipe) {
    let mut all = SigSet::all();
    all.remove(Signal::SIGKILL);
    all.remove(Signal::SIGSTOP);
    let mut old = SigSet::empty();
    let _ = nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&all), Some(&mut old));
    // SAFETY: pid 1 of the sandbox is single-threaded.
    match unsafe { fork() } {
        Err(e) => die(
            pipe,
            crate::model::exit::EXIT_BERTH_ERROR,
            "forking the command",
            &e.into(),
        ),
        Ok(ForkResult::Child) => {
            let _ = nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
        }
        Ok(ForkResult::Parent { child }) => {
            crate::runtime::nsenter::not_dumpable();
            // SAFETY: close_range only closes descriptors of this process.
            unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) };
            reap(child, &all)
        }
    }
}

fn reap(child: Pid, set: &SigSet) -> ! {
    // The kernel drops signals to a pid namespace's init whose disposition
    // is the default: install one for each, then take them synchronously.
    let act = SigAction::new(SigHandler::Handler(noop), SaFlags::empty(), SigSet::empty());
    for s in Signal::iterator().filter(|s| !matches!(s, Signal::SIGKILL | Signal::SIGSTOP)) {
        // SAFETY: a handler that does nothing.
        let _ = unsafe { sigaction(s, &act) };
    }
    loop {
        // SAFETY: siginfo is plain data filled by the kernel.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: the set outlives the call; info is writable.
        let sig = unsafe { libc::sigwaitinfo(set.as_ref(), &mut info) };
        if sig < 0 {
            continue;
        }
        if sig == libc::SIGCHLD {
            if let Some(code) = reap_all(child) {
                // SAFETY: leave without running destructors of the copy.
                unsafe { libc::_exit(code) }
            }
            continue;
        }
        // Sent by a process (kill, berth forwarding one): pass it on.
        if info.si_code <= 0 {
            // SAFETY: kill with a pid and a signal number.
            unsafe { libc::kill(child.as_raw(), sig) };
        }
    }
}

/// Reaps every exited child; the command's status once it is among them.
fn reap_all(child: Pid) -> Option<i32> {
    let mut result = None;
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) if pid == child => result = Some(code),
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid == child => {
                result = Some(128 + sig as i32)
            }
            Ok(WaitStatus::StillAlive) | Err(_) => return result,
            Ok(_) => {}
        }
    }
}
