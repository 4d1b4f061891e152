//! Switching the process's root to the container's rootfs.

use anyhow::{Context, Result};
use nix::mount::{umount2, MntFlags};
use std::path::Path;

/// pivot_root into `rootfs` (a mount point) and detach the old root, so
/// nothing of the host's tree stays reachable. The old root is stacked
/// on the new one (`pivot_root(".", ".")`), which needs no directory for
/// it inside the container.
pub(crate) fn pivot(rootfs: &Path) -> Result<()> {
    nix::unistd::chdir(rootfs).context("entering the container's root filesystem")?;
    nix::unistd::pivot_root(".", ".").context("pivot_root into the container")?;
    umount2(".", MntFlags::MNT_DETACH).context("detaching the host's root")?;
    nix::unistd::chdir("/").context("entering the container's /")?;
    Ok(())
}

/// `--read-only`: the root mount becomes read-only (its submounts keep
/// their own modes). Its other flags stay: a bare `MS_REMOUNT|MS_BIND|
/// MS_RDONLY` would replace them, and the overlay's `nodev` would go.
pub(crate) fn make_root_read_only(rootfs: &Path) -> Result<()> {
    super::remount_read_only(rootfs, nix::mount::MsFlags::empty())
        .context("making the container's root filesystem read-only (--read-only)")
}
