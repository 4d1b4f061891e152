//! Host devices and GPU files in the container: each device node is the
//! host's node bind-mounted onto a file created in the container (a user
//! namespace may not mknod), each driver file a read-only, nosuid, nodev
//! bind, and the symlinks NVIDIA's CDI specs ask for are made. Targets are
//! resolved inside the rootfs (`InRoot`), as every mount target is.

use super::inroot::InRoot;
use super::{fd_path, locked_flags};
use crate::model::devices::{DevicesConfig, ReadOnlyBind};
use anyhow::{bail, Context, Result};
use nix::mount::{mount, MsFlags};
use std::path::Path;

/// Binds the devices and files of `d` into the rootfs opened as `root`.
pub(crate) fn bind_all(root: &InRoot, d: &DevicesConfig) -> Result<()> {
    for node in d.all_nodes() {
        bind_node(root, &node.path_on_host, &node.path_in_container)
            .with_context(|| format!("adding the device {}", node.path_on_host))?;
    }
    for b in &d.provisioned.binds {
        bind_file(root, b).with_context(|| {
            format!("binding {} on {} in the container", b.source, b.destination)
        })?;
    }
    for (target, link) in &d.provisioned.symlinks {
        symlink(root, target, link)
            .with_context(|| format!("creating the symlink {link} -> {target}"))?;
    }
    Ok(())
}

fn bind_node(root: &InRoot, host: &str, container: &str) -> Result<()> {
    if std::fs::metadata(host)?.is_dir() {
        bail!("{host} is a directory");
    }
    let target = root.create_file(container, 0o600)?;
    mount(
        Some(host),
        &fd_path(&target),
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )?;
    Ok(())
}

fn bind_file(root: &InRoot, b: &ReadOnlyBind) -> Result<()> {
    let is_dir = std::fs::metadata(&b.source)?.is_dir();
    let target = if is_dir {
        root.mkdir_all(&b.destination, 0o755)?
    } else {
        root.create_file(&b.destination, 0o644)?
    };
    let mut flags = MsFlags::MS_BIND;
    if is_dir {
        flags |= MsFlags::MS_REC;
    }
    mount(
        Some(b.source.as_str()),
        &fd_path(&target),
        None::<&str>,
        flags,
        None::<&str>,
    )?;
    if b.read_only {
        // The new mount is found by resolving the path again.
        let mounted = root.resolve(&b.destination)?;
        let path = fd_path(&mounted);
        let flags = MsFlags::MS_BIND
            | MsFlags::MS_REMOUNT
            | MsFlags::MS_RDONLY
            | MsFlags::MS_NOSUID
            | MsFlags::MS_NODEV
            | locked_flags(&path);
        mount(None::<&str>, &path, None::<&str>, flags, None::<&str>)
            .context("making it read-only")?;
    }
    Ok(())
}

/// `link` pointing at `target`, unless something is already there.
fn symlink(root: &InRoot, target: &str, link: &str) -> Result<()> {
    let link = Path::new(link);
    if root.resolve(link).is_ok() {
        return Ok(());
    }
    let (Some(parent), Some(name)) = (link.parent(), link.file_name()) else {
        bail!("no file name");
    };
    let dir = root.mkdir_all(parent, 0o755)?;
    match std::os::unix::fs::symlink(target, fd_path(&dir).join(name)) {
        // A dangling symlink of the image's is left as it is.
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(e.into()),
        _ => Ok(()),
    }
}
