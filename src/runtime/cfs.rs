//! A container's filesystem, seen from a helper child process: for a
//! running container the child joins its user and mount namespaces (its
//! root is then the container's, with volumes and binds); for a stopped
//! one it enters berth's user namespace, makes a private mount namespace
//! and mounts the container's overlay there. `cp` and `export` read and
//! write through that child, so that files get the container's owners
//! and nothing outside the container's root is ever touched.

use super::message::{read_start_report, Message};
use super::nsenter::{self, Target};
use crate::model::{ContainerRecord, MountKind, MountPoint, StartFailure, Status};
use crate::store::Store;
use anyhow::{anyhow, Context, Result};
use nix::sched::CloneFlags;
use nix::unistd::{fork, pipe2, ForkResult};
use std::os::fd::OwnedFd;

/// Where the child found the container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum View {
    /// The running container's mount namespace: other mounts (/proc,
    /// /dev, volumes) are visible.
    Running,
    /// The overlay alone.
    Stopped,
}

/// Runs `f` in a child process with the container's root directory open;
/// returns f's error (sent back as text) if it failed. The caller has no
/// thread. Descriptors `f` uses must be open before the call; the child
/// closes `close_in_child` first (the parent's ends of its pipes).
pub(crate) fn with_root(
    store: &Store,
    record: &ContainerRecord,
    close_in_child: &[std::os::fd::RawFd],
    f: impl FnOnce(&OwnedFd, View) -> Result<()>,
) -> Result<ChildHandle> {
    let state = store.observed_state(&record.id)?;
    let running = matches!(state.status, Status::Running | Status::Paused);
    let target = if running {
        Some(Target::open(
            state.process(),
            &record.id,
            CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS,
        )?)
    } else {
        None
    };
    let (err_r, err_w) = pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("creating a pipe")?;
    // SAFETY: the caller has no thread, so the child is a complete copy.
    match unsafe { fork() }.context("starting the copy helper")? {
        ForkResult::Child => {
            drop(err_r);
            for fd in close_in_child {
                // SAFETY: closing the child's copies of the parent's descriptors.
                unsafe {
                    libc::close(*fd);
                }
            }
            let r = match &target {
                Some(t) => enter_running(t).and_then(|root| f(&root, View::Running)),
                None => enter_stopped(store, record).and_then(|root| f(&root, View::Stopped)),
            };
            let code = match r {
                Ok(()) => 0,
                Err(e) => {
                    // A failure the caller gave a status of its own keeps it.
                    let failure = e
                        .downcast::<StartFailure>()
                        .unwrap_or_else(StartFailure::setup);
                    let failure = Message::Failed(failure);
                    let _ = failure.write_to(&mut std::fs::File::from(err_w));
                    1
                }
            };
            // SAFETY: leave without running the parent's destructors.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => Ok(ChildHandle {
            pid: child,
            err: Some(err_r),
        }),
    }
}

/// The helper child, to be waited for once its data is exchanged.
pub(crate) struct ChildHandle {
    pid: nix::unistd::Pid,
    err: Option<OwnedFd>,
}

impl ChildHandle {
    /// Waits for the child; its error, if any.
    pub(crate) fn wait(mut self) -> Result<()> {
        let failure = self.err.take().and_then(read_start_report);
        let code =
            crate::util::signals::wait_exit(self.pid).context("waiting for the copy helper")?;
        if let Some(f) = failure {
            return Err(f.into());
        }
        if code != 0 {
            return Err(anyhow!("the copy helper failed (status {code})"));
        }
        Ok(())
    }
}

fn open_dir(path: &str) -> Result<OwnedFd> {
    let f = std::fs::File::open(path).with_context(|| format!("opening {path}"))?;
    Ok(f.into())
}

fn enter_running(target: &Target) -> Result<OwnedFd> {
    nsenter::not_dumpable();
    target.join()?;
    // setns(CLONE_NEWNS) put our root and cwd at the namespace's root.
    open_dir("/")
}

fn enter_stopped(store: &Store, record: &ContainerRecord) -> Result<OwnedFd> {
    crate::userns::enter()?;
    nix::sched::unshare(CloneFlags::CLONE_NEWNS).context("creating a mount namespace")?;
    crate::mounts::make_private()?;
    let dir = store.container_dir(&record.id);
    for sub in ["upper", "work", "merged"] {
        crate::util::fsutil::create_dir_mode(&dir.join(sub), 0o755)?;
    }
    let spec = super::start::overlay_spec(store, record)?;
    nix::unistd::chdir(store.root()).context("entering the store")?;
    let merged = dir.join("merged");
    crate::mounts::rootfs::mount_overlay(&spec, &merged)?;
    // The container's volumes and binds, as it sees them when it runs, so
    // that cp and export of a path in a volume use the volume. A tmpfs
    // holds nothing while the container is stopped.
    let persistent: Vec<MountPoint> = record
        .host
        .storage
        .mounts
        .iter()
        .filter(|m| m.kind != MountKind::Tmpfs)
        .cloned()
        .collect();
    let root = crate::mounts::inroot::InRoot::open(&merged)
        .context("opening the container's root filesystem")?;
    crate::mounts::binds::mount_all(&root, &persistent)?;
    drop(root);
    // The container's root becomes ours, as it is for a running one: a
    // symlink followed by the kernel (`cp -L`, a link met on the way)
    // resolves inside it, never to the host's files (CVE-2018-15664).
    // This helper runs nothing from the container, so chroot is enough.
    nix::unistd::chroot(&merged).context("entering the container's root")?;
    nix::unistd::chdir("/").context("entering the container's root")?;
    open_dir("/")
}
