//! The user's mounts (`-v`, `--mount`, `--tmpfs`, volumes). Each target is
//! resolved and created inside the rootfs with `InRoot` (symlinks in the
//! image resolve inside the rootfs, never out of it) and the mount goes on
//! the resolved file descriptor.

use super::inroot::InRoot;
use super::{fd_path, make_read_only_recursive};
use crate::model::{MountKind, MountPoint};
use anyhow::{bail, Context, Result};
use nix::mount::{mount, MsFlags};
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;

/// Mounts every entry, in order (so a later mount may sit inside an
/// earlier one, as Docker sorts them by depth when given in that order).
pub(crate) fn mount_all(root: &InRoot, mounts: &[MountPoint]) -> Result<()> {
    let mut sorted: Vec<&MountPoint> = mounts.iter().collect();
    // Parents before children, whatever the flag order (Docker does too).
    sorted.sort_by_key(|m| m.destination.matches('/').count());
    for m in sorted {
        mount_one(root, m).with_context(|| {
            format!(
                "mounting {} on {} in the container",
                if m.kind == MountKind::Tmpfs {
                    "a tmpfs".to_string()
                } else {
                    m.source.display().to_string()
                },
                m.destination
            )
        })?;
    }
    Ok(())
}

fn mount_one(root: &InRoot, m: &MountPoint) -> Result<()> {
    match m.kind {
        MountKind::Tmpfs => {
            let dir = root.mkdir_all(&m.destination, 0o755)?;
            let (mut flags, data) = tmpfs_options(&m.tmpfs_options);
            if m.read_only {
                flags |= MsFlags::MS_RDONLY;
            }
            mount(
                Some("tmpfs"),
                &fd_path(&dir),
                Some("tmpfs"),
                flags,
                Some(data.as_str()),
            )?;
            return Ok(());
        }
        MountKind::Volume if !m.nocopy => copy_up(root, m)?,
        _ => {}
    }
    let meta = std::fs::metadata(&m.source)
        .with_context(|| format!("the mount source {} is not usable", m.source.display()))?;
    // Keep the target's handle open until the mount is done.
    let target: OwnedFd = if meta.is_dir() {
        root.mkdir_all(&m.destination, 0o755)?
    } else {
        match root.resolve(&m.destination) {
            Ok(fd) => fd,
            Err(_) => root.create_file(&m.destination, 0o644)?,
        }
    };
    let target_path = fd_path(&target);
    if meta.is_dir() != std::fs::metadata(&target_path)?.is_dir() {
        bail!(
            "cannot mount a {} over a {} in the image",
            if meta.is_dir() { "directory" } else { "file" },
            if meta.is_dir() { "file" } else { "directory" }
        );
    }
    mount(
        Some(&m.source),
        &target_path,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )?;
    if m.read_only {
        // The handle names the covered inode; the new mount is found by
        // resolving the path again. Recursively read-only, as Docker 25+.
        let mounted = root.resolve(&m.destination)?;
        make_read_only_recursive(&fd_path(&mounted))?;
    }
    Ok(())
}

/// An empty volume first receives what the image has at its mount point,
/// as Docker does (unless `volume-nocopy`).
fn copy_up(root: &InRoot, m: &MountPoint) -> Result<()> {
    if !crate::util::copy::dir_is_empty(&m.source) {
        return Ok(());
    }
    let Ok(existing) = root.resolve(&m.destination) else {
        return Ok(());
    };
    if !super::inroot::is_dir(&existing) {
        return Ok(());
    }
    // The volume's directory, opened once: every entry is created relative
    // to it (util::copy), never through a path that can be swapped.
    let volume: OwnedFd = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW)
        .open(&m.source)
        .with_context(|| format!("opening the volume {}", m.source.display()))?
        .into();
    use std::os::fd::AsFd;
    crate::util::copy::copy_tree(existing.as_fd(), volume.as_fd())
        .with_context(|| format!("copying the image's {} into the volume", m.destination))?;
    Ok(())
}

/// Splits tmpfs options into mount flags and the data string tmpfs reads.
/// Defaults as Docker's: nosuid, nodev, noexec.
pub(crate) fn tmpfs_options(options: &str) -> (MsFlags, String) {
    let mut flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    let mut data = Vec::new();
    for o in options.split(',').filter(|o| !o.is_empty()) {
        match o {
            "exec" => flags.remove(MsFlags::MS_NOEXEC),
            "noexec" => flags.insert(MsFlags::MS_NOEXEC),
            "suid" => flags.remove(MsFlags::MS_NOSUID),
            "nosuid" => flags.insert(MsFlags::MS_NOSUID),
            "dev" => flags.remove(MsFlags::MS_NODEV),
            "nodev" => flags.insert(MsFlags::MS_NODEV),
            "ro" => flags.insert(MsFlags::MS_RDONLY),
            "rw" => flags.remove(MsFlags::MS_RDONLY),
            other => data.push(other),
        }
    }
    (flags, data.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tmpfs_flags_and_data() {
        let (f, d) = tmpfs_options("size=64m,exec,mode=1777");
        assert!(!f.contains(MsFlags::MS_NOEXEC));
        assert!(f.contains(MsFlags::MS_NOSUID | MsFlags::MS_NODEV));
        assert_eq!(d, "size=64m,mode=1777");
        let (f, d) = tmpfs_options("");
        assert!(f.contains(MsFlags::MS_NOEXEC));
        assert_eq!(d, "");
    }
}
