//! Joining a running container's namespaces from outside: `exec` and
//! `cp` into a running container.
//!
//! The container's init is pinned with a pidfd, and one `setns(pidfd,
//! flags)` joins every namespace at once (Linux 5.8): the kernel enters
//! the user namespace first, so the other namespaces, which it owns, are
//! ours to join, and no window exists in which a reused pid could hand us
//! another process's namespaces. Rootless, the user namespace is joined
//! from the initial one (we own it), never created anew: a new namespace
//! would not own the container's.
//!
//! Namespaces the container shares with us (the host network, or all of
//! them but mnt/pid as real root) are left out: joining one that the
//! initial user namespace owns needs privileges we do not have.

use crate::util::proc::{pidfd_exited, ProcessId};
use anyhow::{bail, Context, Result};
use nix::sched::CloneFlags;
use std::os::fd::OwnedFd;

/// Namespace files under /proc/PID/ns and their setns flags, user first.
const NAMESPACES: [(&str, CloneFlags); 7] = [
    ("user", CloneFlags::CLONE_NEWUSER),
    ("mnt", CloneFlags::CLONE_NEWNS),
    ("uts", CloneFlags::CLONE_NEWUTS),
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("net", CloneFlags::CLONE_NEWNET),
    ("cgroup", CloneFlags::CLONE_NEWCGROUP),
    ("pid", CloneFlags::CLONE_NEWPID),
];

/// A running container's init, pinned.
pub(crate) struct Target {
    pidfd: OwnedFd,
    /// The namespaces that differ from ours.
    pub(crate) flags: CloneFlags,
}

impl Target {
    /// Pins the init `pid` of container `name`; `which` limits the
    /// namespaces considered (all of them for exec).
    pub(crate) fn open(init: ProcessId, name: &str, which: CloneFlags) -> Result<Target> {
        let not_running = || anyhow::anyhow!("container {name} is not running");
        // A pidfd of the recorded process itself (not of a process that
        // got its pid since), checked by its start time.
        let pidfd = init.open().map_err(|_| not_running())?;
        let pid = init.pid;
        let mut flags = CloneFlags::empty();
        for (ns, flag) in NAMESPACES {
            if !which.contains(flag) {
                continue;
            }
            // A process that has exited (a zombie not reaped yet, before
            // its monitor records the exit) has no namespaces left.
            let theirs =
                std::fs::read_link(format!("/proc/{pid}/ns/{ns}")).map_err(|_| not_running())?;
            let ours = std::fs::read_link(format!("/proc/self/ns/{ns}"))
                .with_context(|| format!("reading our own {ns} namespace"))?;
            if theirs != ours {
                flags |= flag;
            }
        }
        // The links were read from the pid: if it is still the process the
        // pidfd pins, they were its namespaces.
        if pidfd_exited(&pidfd) {
            return Err(not_running());
        }
        Ok(Target { pidfd, flags })
    }

    /// Joins the namespaces. The caller has no other thread (a requirement
    /// of setns into a user namespace), and a pid namespace applies only to
    /// the children forked afterwards.
    pub(crate) fn join(&self) -> Result<()> {
        if self.flags.is_empty() {
            return Ok(());
        }
        if let Err(e) = nix::sched::setns(&self.pidfd, self.flags) {
            if e == nix::errno::Errno::ESRCH {
                bail!("the container stopped");
            }
            return Err(e).context(
                "joining the container's namespaces (Linux 5.8 or later is needed, and the \
                 container must belong to this user)",
            );
        }
        Ok(())
    }
}

/// Marks this process as not dumpable, so that nothing in the container
/// can ptrace it or open its /proc files (`exe`, `mem`, `fd`) while it
/// carries berth's memory and descriptors (CVE-2016-9962, CVE-2019-5736).
/// exec of the container's program resets it.
pub(crate) fn not_dumpable() {
    // SAFETY: prctl with integer arguments only.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
}
