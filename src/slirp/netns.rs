//! Sockets made inside a container's network namespace, for the port
//! forwarder (RootlessKit's "builtin" port driver model).
//!
//! A socket belongs to the namespace it was created in, whatever the
//! process does afterwards. Entering the container's namespace with
//! setns(2) is possible for the monitor (it is root in berth's user
//! namespace, which owns the container's), but going *back* to the host's
//! namespace is not: that needs CAP_SYS_ADMIN in the host's initial user
//! namespace. Network namespaces are per thread, so a short-lived thread
//! enters the container's namespace, makes the sockets and ends; the
//! caller never leaves its own namespace and no thread outlives the call
//! (the monitor must have none when it clones a container).

use anyhow::{Context, Result};
use nix::sched::{setns, CloneFlags};
use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
use std::os::fd::{AsFd, OwnedFd};

/// A handle on a network namespace to make sockets in.
pub struct NetnsSockets {
    ns: OwnedFd,
}

impl NetnsSockets {
    /// The network namespace of process `pid` (the container's init).
    pub fn of_pid(pid: i32) -> Result<NetnsSockets> {
        let path = format!("/proc/{pid}/ns/net");
        let f = std::fs::File::open(&path)
            .with_context(|| format!("opening the container's network namespace {path}"))?;
        Ok(NetnsSockets { ns: f.into() })
    }

    /// A namespace descriptor already open (from /proc/PID/ns/net).
    pub fn from_fd(ns: OwnedFd) -> NetnsSockets {
        NetnsSockets { ns }
    }

    /// Makes `count` non-blocking, close-on-exec sockets inside the
    /// namespace.
    pub fn sockets(
        &self,
        family: AddressFamily,
        ty: SockType,
        count: usize,
    ) -> Result<Vec<OwnedFd>> {
        self.run(move || {
            (0..count)
                .map(|_| {
                    socket(
                        family,
                        ty,
                        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
                        None,
                    )
                    .context("creating a socket in the container's network namespace")
                })
                .collect()
        })
    }

    /// Runs `f` in a short-lived thread inside the namespace (making a
    /// TAP device for `network connect`, sockets for the forwarder) and
    /// returns its result; the thread has ended when this returns.
    pub fn run<T: Send>(&self, f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
        let ns = self.ns.as_fd();
        std::thread::scope(|s| {
            let worker = std::thread::Builder::new()
                .name("berth-netns".into())
                .stack_size(256 * 1024)
                .spawn_scoped(s, move || -> Result<T> {
                    setns(ns, CloneFlags::CLONE_NEWNET)
                        .context("entering the container's network namespace")?;
                    f()
                })
                .context("starting a thread to enter the container's network namespace")?;
            worker
                .join()
                .map_err(|_| anyhow::anyhow!("the network namespace thread panicked"))?
        })
    }
}
