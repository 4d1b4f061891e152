//! A process that holds a new user namespace open while newuidmap and
//! newgidmap write its maps, so that we can then join it ([`Holder`]).
//!
//! newuidmap/newgidmap are setuid programs: they must be started from the
//! initial user namespace (in an unmapped one their setuid bit means
//! nothing), and they write the maps of a process given by pid. So the
//! namespace is made by a child, and we join it once mapped with
//! `setns`, which its owner (our euid) may do. The child shares our
//! memory (`CLONE_VM`): making it copies no page tables, and we take no
//! copy-on-write faults afterwards, as we did when the whole command
//! forked for this and its parent stayed behind to wait.

use anyhow::{Context, Result};
use std::os::fd::{AsRawFd, OwnedFd};

/// The two ends of the pipe the holder waits on, read by the holder
/// from our memory (it shares it) as its first act.
#[repr(C)]
struct Ends {
    read: libc::c_int,
    write: libc::c_int,
}

/// A child process born in a new user namespace, waiting for us.
pub(crate) struct Holder {
    pid: libc::pid_t,
    /// Our end: closing it ends the holder.
    release: Option<OwnedFd>,
    /// Kept alive until the holder has exited (it reads `ends` and runs
    /// on `stack`, both in our memory).
    _ends: Box<Ends>,
    _stack: Vec<u8>,
}

/// The holder's whole life: close its copy of the pipe's write end, wait
/// for the end of the pipe (our copy closed, or we died), exit. Raw
/// system calls only: it runs on our memory, beside us.
extern "C" fn hold(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` points to the `Ends` that `Holder::new` keeps alive
    // until the holder has exited.
    let ends = unsafe { &*(arg as *const Ends) };
    let mut byte = 0u8;
    // SAFETY: closing a descriptor of our own copy of the table, and
    // reading one byte into our own stack variable.
    unsafe {
        libc::syscall(libc::SYS_close, ends.write);
        libc::syscall(libc::SYS_read, ends.read, &mut byte as *mut u8, 1);
    }
    0
}

impl Holder {
    /// Makes the holder; an error is the kernel's refusal of a user
    /// namespace (its errno).
    pub(crate) fn new() -> Result<Holder, nix::errno::Errno> {
        let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        let ends = Box::new(Ends {
            read: read.as_raw_fd(),
            write: write.as_raw_fd(),
        });
        let mut stack = vec![0u8; 64 * 1024];
        // The stack grows down from its (16-byte aligned) end.
        let top = (stack.as_mut_ptr() as usize + stack.len()) & !15;
        let flags = libc::CLONE_VM | libc::CLONE_NEWUSER | libc::SIGCHLD;
        // SAFETY: `hold` makes raw system calls only, on its own stack
        // (`stack`) and `ends`, both kept alive until it has exited
        // (`Drop`); without CLONE_FILES it has its own descriptor table.
        let pid = unsafe {
            libc::clone(
                hold,
                top as *mut libc::c_void,
                flags,
                &*ends as *const Ends as *mut libc::c_void,
            )
        };
        if pid < 0 {
            return Err(nix::errno::Errno::last());
        }
        drop(read);
        Ok(Holder {
            pid,
            release: Some(write),
            _ends: ends,
            _stack: stack,
        })
    }

    pub(crate) fn pid(&self) -> i32 {
        self.pid
    }

    /// Opens the holder's namespace, which stays alive through the
    /// descriptor once the holder is gone.
    pub(crate) fn namespace(&self) -> Result<std::fs::File> {
        let path = format!("/proc/{}/ns/user", self.pid);
        std::fs::File::open(&path).with_context(|| format!("opening {path}"))
    }

    /// Ends the holder and reaps it.
    fn finish(&mut self) {
        if self.release.take().is_some() {
            loop {
                let mut status = 0;
                // SAFETY: waiting for our own child.
                let r = unsafe { libc::waitpid(self.pid, &mut status, 0) };
                if r >= 0 || nix::errno::Errno::last() != nix::errno::Errno::EINTR {
                    break;
                }
            }
        }
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Joins the user namespace `ns` (ours: we made it) as its root.
pub(crate) fn join_as_root(ns: &std::fs::File) -> Result<()> {
    use nix::unistd::{Gid, Uid};
    nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWUSER)
        .context("joining the new user namespace")?;
    nix::unistd::setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0))
        .context("becoming root in the user namespace (gid)")?;
    nix::unistd::setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0))
        .context("becoming root in the user namespace (uid)")?;
    Ok(())
}
