//! `--init`: a minimal init as the container's pid 1. The container's
//! init process forks right before the exec; the child execs the
//! program, and the parent stays as pid 1, forwarding signals to it and
//! reaping every orphan the pid namespace hands it, until the program
//! exits; then it exits with the program's status (128 + signal when
//! killed, as tini).
//!
//! It is berth's own code already in memory, so nothing is executed from
//! a path and no copy of our binary is reachable from the container. The
//! process is made non-dumpable: nothing in the container can open its
//! /proc/1/exe (the host's berth binary, CVE-2019-5736), mem or fds.

use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};
use std::os::fd::RawFd;

extern "C" fn noop(_: libc::c_int) {}

/// Every signal a process may catch.
fn catchable() -> Vec<Signal> {
    Signal::iterator()
        .filter(|s| !matches!(s, Signal::SIGKILL | Signal::SIGSTOP))
        .collect()
}

/// Forks. Returns in the child, which goes on to exec the program; the
/// parent becomes the reaper and never returns, holding no descriptor
/// beyond stdio. `close_in_init` names the ones that matter most (the
/// exec-report pipe, whose EOF tells the monitor that the exec happened).
pub(crate) fn become_init(close_in_init: &[RawFd]) -> Result<(), nix::errno::Errno> {
    let mut all = SigSet::all();
    all.remove(Signal::SIGKILL);
    all.remove(Signal::SIGSTOP);
    let mut old = SigSet::empty();
    nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&all), Some(&mut old))?;
    // Read before the fork: afterwards the program runs in our mount
    // namespace and could put something else over /proc.
    let arg_area = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| arg_area(&stat));
    // SAFETY: the container's init is single-threaded.
    match unsafe { fork() }? {
        ForkResult::Child => {
            // The program starts with no signal blocked, as under Docker.
            let _ = old;
            nix::sys::signal::pthread_sigmask(
                SigmaskHow::SIG_SETMASK,
                Some(&SigSet::empty()),
                None,
            )?;
            Ok(())
        }
        ForkResult::Parent { child } => {
            let _ = close_in_init;
            // pid 1 never execs, so close-on-exec does not apply to it:
            // every descriptor beyond stdio (the exec-report pipe, the
            // monitor's sockets and pipes) must go now, or their readers
            // would wait for an EOF until the container ends.
            // SAFETY: close_range only closes descriptors of this process.
            unsafe {
                libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
            }
            reap(child, &all, arg_area)
        }
    }
}

fn reap(child: Pid, set: &SigSet, arg_area: Option<(usize, usize)>) -> ! {
    super::nsenter::not_dumpable();
    // What the container sees of its pid 1 (`ps`, /proc/1/comm and
    // cmdline, which anyone may read): our name, not the monitor's command
    // line, which names the host's store and runtime directory.
    crate::util::spawn::set_process_name(c"berth-init");
    if let Some((start, end)) = arg_area {
        hide_command_line(start, end);
    }
    // The kernel drops signals sent to a pid namespace's init whose
    // disposition is the default, even while blocked: install a handler
    // for each, then take them synchronously with sigwaitinfo.
    let act = SigAction::new(SigHandler::Handler(noop), SaFlags::empty(), SigSet::empty());
    for s in catchable() {
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
        // SAFETY: kill with a pid and a signal number.
        unsafe {
            libc::kill(child.as_raw(), sig);
        }
    }
}

/// Overwrites our command line (the bytes the kernel shows as
/// /proc/self/cmdline, between `arg_start` and `arg_end` of
/// /proc/self/stat, read by [`become_init`] before the fork) with
/// `berth-init` and NULs.
fn hide_command_line(start: usize, end: usize) {
    let name = b"berth-init";
    let len = end.saturating_sub(start);
    if len < name.len() + 1 {
        return;
    }
    // SAFETY: [start, end) is this process's argument area on its stack
    // as the kernel reported it before any of the container's processes
    // existed: mapped and writable; nothing of ours reads it any more
    // (the argv copies Rust made at start-up live on the heap).
    unsafe {
        let area = std::slice::from_raw_parts_mut(start as *mut u8, len);
        area.fill(0);
        area[..name.len()].copy_from_slice(name);
    }
}

/// `arg_start` and `arg_end` (fields 48 and 49) of a /proc/PID/stat line;
/// the fields are counted after the command name's closing parenthesis,
/// which may itself contain spaces and parentheses.
fn arg_area(stat: &str) -> Option<(usize, usize)> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(48 - 3);
    let start = fields.next()?.parse().ok()?;
    let end = fields.next()?.parse().ok()?;
    (start < end).then_some((start, end))
}

/// Reaps every exited child; the program's status once it is among them.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_argument_area_is_read_from_stat() {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
        let (start, end) = arg_area(&stat).unwrap();
        let cmdline = std::fs::read("/proc/self/cmdline").unwrap();
        assert_eq!(end - start, cmdline.len());
        // A name with spaces and a parenthesis does not shift the fields.
        let odd = stat.replacen('(', "(a) b (", 1);
        assert_eq!(arg_area(&odd), Some((start, end)));
    }

    #[test]
    fn every_signal_but_kill_and_stop_is_forwarded() {
        let s = catchable();
        assert!(s.contains(&Signal::SIGTERM) && s.contains(&Signal::SIGCHLD));
        assert!(!s.contains(&Signal::SIGKILL) && !s.contains(&Signal::SIGSTOP));
    }
}
