//! /proc and /sys, and Docker's masked and read-only paths in them.

use super::inroot::InRoot;
use super::{fd_path, make_read_only_recursive, remount_read_only};
use anyhow::{Context, Result};
use nix::mount::{mount, MsFlags};
use std::path::Path;

/// Hidden from the container (Docker's list): files get /dev/null over
/// them, directories an empty read-only tmpfs.
pub(crate) const MASKED: [&str; 12] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Visible but read-only (Docker's list).
pub(crate) const READ_ONLY: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

const NOSUID_NODEV_NOEXEC: MsFlags = MsFlags::MS_NOSUID
    .union(MsFlags::MS_NODEV)
    .union(MsFlags::MS_NOEXEC);

/// A fresh proc for the container's pid namespace.
pub(crate) fn mount_proc(root: &InRoot) -> Result<()> {
    let dir = root
        .mkdir_all("/proc", 0o555)
        .context("creating /proc in the container")?;
    mount(
        Some("proc"),
        &fd_path(&dir),
        Some("proc"),
        NOSUID_NODEV_NOEXEC,
        None::<&str>,
    )
    .context("mounting /proc")
}

/// /sys read-only: a fresh sysfs where the kernel allows one (a network
/// namespace of our own, or real root), else a read-only recursive bind
/// of the host's.
pub(crate) fn mount_sys(root: &InRoot, private_net: bool) -> Result<()> {
    let fresh = private_net || crate::userns::is_real_root();
    let dir = root
        .mkdir_all("/sys", 0o555)
        .context("creating /sys in the container")?;
    let target = fd_path(&dir);
    if fresh
        && mount(
            Some("sysfs"),
            &target,
            Some("sysfs"),
            NOSUID_NODEV_NOEXEC | MsFlags::MS_RDONLY,
            None::<&str>,
        )
        .is_ok()
    {
        if let Ok(cg) = root.resolve("/sys/fs/cgroup") {
            // The container's own cgroup view (its cgroup namespace); a
            // host without cgroup2 simply has none.
            let _ = mount(
                Some("cgroup2"),
                &fd_path(&cg),
                Some("cgroup2"),
                NOSUID_NODEV_NOEXEC | MsFlags::MS_RDONLY,
                None::<&str>,
            );
        }
        return Ok(());
    }
    mount(
        Some("/sys"),
        &target,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .context("binding the host's /sys")?;
    let sys = root
        .resolve("/sys")
        .context("opening the container's /sys")?;
    make_read_only_recursive(&fd_path(&sys))
}

/// Masks and write-protects Docker's paths. Runs after pivot_root, where
/// /proc and /sys are the ones we mounted.
pub(crate) fn restrict_paths() -> Result<()> {
    for p in MASKED {
        let path = Path::new(p);
        let Ok(meta) = std::fs::symlink_metadata(path) else {
            continue;
        };
        let r = if meta.is_dir() {
            mount(
                Some("tmpfs"),
                path,
                Some("tmpfs"),
                MsFlags::MS_RDONLY,
                Some("size=0"),
            )
        } else {
            mount(
                Some("/dev/null"),
                path,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
        };
        r.with_context(|| format!("masking {p}"))?;
    }
    for p in READ_ONLY {
        let path = Path::new(p);
        if !path.exists() {
            continue;
        }
        mount(
            Some(path),
            path,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .with_context(|| format!("binding {p} to make it read-only"))?;
        remount_read_only(path, NOSUID_NODEV_NOEXEC)?;
    }
    Ok(())
}
