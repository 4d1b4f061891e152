//! Mounts that follow the container's namespace modes: /proc when the
//! container shares the host's pid namespace, and /dev/shm sized
//! (`--shm-size`), absent (`--ipc none`), the host's (`--ipc host`) or
//! another container's (`--ipc container:X`). Run in the container's
//! init before pivot_root, on the rootfs opened as an [`InRoot`].

use super::fd_path;
use super::inroot::InRoot;
use anyhow::{bail, Context, Result};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// The host's /proc, bound recursively: a user namespace may not mount a
/// fresh proc for a pid namespace it does not own (the host's), so it
/// shows the host's processes the way Podman's rootless `--pid host` does.
/// Docker's masks and read-only paths are applied over it afterwards.
pub(crate) fn bind_host_proc(root: &InRoot) -> Result<()> {
    let dir = root
        .mkdir_all("/proc", 0o555)
        .context("creating /proc in the container")?;
    mount(
        Some("/proc"),
        &fd_path(&dir),
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .context("binding the host's /proc (--pid host)")
}

/// Remounts the container's /dev/shm with `bytes` as its size.
pub(crate) fn resize_shm(root: &InRoot, bytes: u64) -> Result<()> {
    let shm = root.resolve("/dev/shm").context("opening /dev/shm")?;
    let opts = format!("mode=1777,size={bytes}");
    mount(
        Some("shm"),
        &fd_path(&shm),
        Some("tmpfs"),
        MsFlags::MS_REMOUNT | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some(opts.as_str()),
    )
    .with_context(|| format!("sizing /dev/shm to {bytes} bytes (--shm-size)"))
}

/// Takes the container's own /dev/shm away (`--ipc none`: no shared
/// memory at all, as Docker).
pub(crate) fn remove_shm(root: &InRoot) -> Result<()> {
    unmount_own_shm(root)?;
    let dev = root.resolve("/dev").context("opening /dev")?;
    nix::unistd::unlinkat(&dev, "shm", nix::unistd::UnlinkatFlags::RemoveDir)
        .context("removing /dev/shm (--ipc none)")
}

/// The host's /dev/shm in place of the container's (`--ipc host`).
pub(crate) fn bind_host_shm(root: &InRoot) -> Result<()> {
    let shm = unmount_own_shm(root)?;
    mount(
        Some("/dev/shm"),
        &fd_path(&shm),
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .context("binding the host's /dev/shm (--ipc host)")
}

/// The /dev/shm of the container whose init `donor` pins, in place of
/// ours (`--ipc container:X`). Its mount lives in the other container's
/// mount namespace, which a bind cannot reach: we enter that namespace,
/// clone its /dev/shm as a detached mount (open_tree), come back to our
/// own and attach the clone (move_mount). The clone must be a tmpfs.
pub(crate) fn take_shm_of(donor: BorrowedFd<'_>, root: &InRoot) -> Result<()> {
    let target = unmount_own_shm(root)?;
    let own = std::fs::File::open("/proc/self/ns/mnt").context("opening our mount namespace")?;
    nix::sched::setns(donor, nix::sched::CloneFlags::CLONE_NEWNS)
        .context("entering the other container's mount namespace")?;
    let tree =
        super::rootfs::open_tree_clone(c"/dev/shm", libc::AT_SYMLINK_NOFOLLOW as libc::c_uint);
    // Back home first, whatever happened: everything after runs in ours.
    nix::sched::setns(&own, nix::sched::CloneFlags::CLONE_NEWNS)
        .context("returning to the container's own mount namespace")?;
    let tree = tree.context("cloning the other container's /dev/shm")?;
    let fs = nix::sys::statfs::fstatfs(&tree).context("checking the other container's /dev/shm")?;
    if fs.filesystem_type() != nix::sys::statfs::TMPFS_MAGIC {
        bail!("the other container's /dev/shm is not its shared memory tmpfs");
    }
    super::rootfs::move_mount_onto(tree.as_fd(), target.as_fd(), c"")
        .context("mounting the other container's /dev/shm")
}

/// Unmounts the tmpfs that `dev::setup` put on /dev/shm; the directory.
fn unmount_own_shm(root: &InRoot) -> Result<OwnedFd> {
    let shm = root.resolve("/dev/shm").context("opening /dev/shm")?;
    umount2(&fd_path(&shm), MntFlags::MNT_DETACH).context("unmounting the private /dev/shm")?;
    drop(shm);
    root.resolve("/dev/shm").context("opening /dev/shm")
}
