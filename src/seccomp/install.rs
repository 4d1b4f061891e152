//! Installing a compiled filter on the calling thread.
//!
//! The kernel accepts a filter only from a thread that has set
//! `no_new_privs` ([`set_no_new_privs`]) or holds CAP_SYS_ADMIN in its
//! user namespace; without either, seccomp(2) fails with EACCES. Docker
//! (runc) without `--security-opt no-new-privileges` relies on the
//! capability: it installs the filter while still privileged, before the
//! capabilities are dropped, so the profile must allow whatever runs
//! between the installation and `execve` (Docker's does: capset, setuid,
//! setgroups, execve, close_range...).
//!
//! Both functions here only make system calls (no allocation, no lock),
//! so they may run in a child between fork and exec.

use super::compile::Filter;
use std::io;

/// `prctl(PR_SET_NO_NEW_PRIVS, 1)`: from here on, execve never grants
/// privileges (set-user-id bits and file capabilities are ignored), for
/// this process and its children, irrevocably.
pub fn set_no_new_privs() -> io::Result<()> {
    // SAFETY: prctl with integer arguments only.
    let r = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Installs `filter` on the calling thread (and so on everything it
/// executes or forks afterwards). Call it last before `execve`, after
/// [`set_no_new_privs`] or while holding CAP_SYS_ADMIN; on a
/// multi-threaded process only the calling thread is filtered.
pub fn install(filter: &Filter) -> io::Result<()> {
    let prog = libc::sock_fprog {
        len: filter.program.len() as libc::c_ushort,
        filter: filter.program.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: the kernel copies the program out of `prog`, which points
    // into `filter` and outlives the call; it never writes through it.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            filter.flags,
            &prog as *const libc::sock_fprog,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// What an installation error means, for a message to the user.
pub fn explain(err: &io::Error) -> &'static str {
    match err.raw_os_error() {
        Some(libc::EACCES) => {
            "the process has neither no_new_privs nor CAP_SYS_ADMIN (a bug in berth: it sets one \
             of them before installing)"
        }
        Some(libc::EINVAL) => "the kernel rejected the program or a filter flag",
        Some(libc::ENOMEM) => "the filters stacked on this process are too large",
        Some(libc::ENOSYS) => "this kernel has no seccomp filtering (CONFIG_SECCOMP_FILTER)",
        _ => "installing the seccomp filter failed",
    }
}
