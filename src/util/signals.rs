//! Signals: their names as users type them, forwarding the signals berth
//! receives to the process it waits for, and turning a wait status into
//! an exit status.
//!
//! Only signals sent by a process (`kill`, `si_code <= 0`) are forwarded:
//! the ones a terminal generates (Ctrl-C, hangup) already reach every
//! process of the foreground group, the container included, and forwarding
//! them too would deliver them twice.

use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use std::sync::atomic::{AtomicI32, Ordering};

const FORWARDED: [Signal; 6] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
];

static TARGET: AtomicI32 = AtomicI32::new(0);

fn forwarded_set() -> SigSet {
    let mut set = SigSet::empty();
    for s in FORWARDED {
        set.add(s);
    }
    set
}

/// Blocks the forwarded signals until `forward_to` (parent) or
/// `unblock_in_child` (child) runs, so that none is lost or acted on by
/// default between the fork and the handler's installation. Returns the
/// mask to restore in the child.
pub(crate) fn block() -> SigSet {
    let mut old = SigSet::empty();
    let _ = nix::sys::signal::pthread_sigmask(
        SigmaskHow::SIG_BLOCK,
        Some(&forwarded_set()),
        Some(&mut old),
    );
    old
}

/// In a forked child: default dispositions and the original mask, so that
/// the program we exec starts as if forked from a shell.
pub(crate) fn unblock_in_child(old: &SigSet) {
    let dfl = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    for s in FORWARDED {
        // SAFETY: restoring the default disposition has no memory effects.
        let _ = unsafe { sigaction(s, &dfl) };
    }
    let _ = nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(old), None);
}

extern "C" fn forward(sig: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
    let code = unsafe { (*info).si_code };
    let pid = TARGET.load(Ordering::Relaxed);
    if code <= 0 && pid > 0 {
        // SAFETY: kill is async-signal-safe.
        unsafe {
            libc::kill(pid, sig);
        }
    }
}

/// In the parent: installs the forwarding handlers for `pid` and unblocks.
pub(crate) fn forward_to(pid: Pid) {
    TARGET.store(pid.as_raw(), Ordering::Relaxed);
    let act = SigAction::new(
        SigHandler::SigAction(forward),
        SaFlags::SA_SIGINFO | SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for s in FORWARDED {
        // SAFETY: the handler only reads an atomic and calls kill.
        let _ = unsafe { sigaction(s, &act) };
    }
    let _ =
        nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_UNBLOCK, Some(&forwarded_set()), None);
}

/// Waits for `pid` to end; its exit code, or 128 + the signal that killed
/// it, as a shell reports it.
pub(crate) fn wait_exit(pid: Pid) -> std::io::Result<i32> {
    loop {
        match waitpid(pid, None) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(code),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(128 + sig as i32),
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// `KILL`, `SIGKILL`, `kill`, `9`.
pub(crate) fn parse_signal(s: &str) -> anyhow::Result<Signal> {
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| anyhow::anyhow!("invalid signal: {s}"));
    }
    let upper = s.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    name.parse::<Signal>()
        .map_err(|_| anyhow::anyhow!("invalid signal: {s}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_in_every_spelling() {
        for s in ["KILL", "SIGKILL", "kill", "9"] {
            assert_eq!(parse_signal(s).unwrap(), Signal::SIGKILL, "{s}");
        }
        assert_eq!(parse_signal("hup").unwrap(), Signal::SIGHUP);
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("999").is_err());
    }
}
