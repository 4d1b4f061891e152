//! A minimal /dev: a tmpfs with the host's harmless character devices
//! bind-mounted in (a user namespace may not create device nodes), a
//! private devpts instance, /dev/shm and, where the kernel allows, an
//! mqueue for the container's own IPC namespace.

use super::fd_path;
use super::inroot::InRoot;
use anyhow::{Context, Result};
use nix::mount::{mount, MsFlags};

const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

const LINKS: [(&str, &str); 5] = [
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("ptmx", "pts/ptmx"),
];

/// Builds /dev in the rootfs opened as `root`. `tty_gid` is the gid for
/// new terminals (5, "tty") when the namespace maps it.
pub(crate) fn setup(root: &InRoot, tty_gid: Option<u32>) -> Result<()> {
    let dir = root
        .mkdir_all("/dev", 0o755)
        .context("creating /dev in the container")?;
    mount(
        Some("tmpfs"),
        &fd_path(&dir),
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME,
        Some("mode=755,size=65536k"),
    )
    .context("mounting a tmpfs on /dev")?;
    // The tmpfs now hides what `dir` pointed at: reopen the new /dev.
    let dev = root
        .resolve("/dev")
        .context("opening the container's new /dev")?;
    let dev_path = fd_path(&dev);
    for name in DEVICES {
        let host = format!("/dev/{name}");
        if !std::path::Path::new(&host).exists() {
            continue;
        }
        let target = dev_path.join(name);
        std::fs::File::create(&target)
            .with_context(|| format!("creating /dev/{name} in the container"))?;
        mount(
            Some(host.as_str()),
            &target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .with_context(|| format!("binding {host} into the container"))?;
    }
    for (link, to) in LINKS {
        std::os::unix::fs::symlink(to, dev_path.join(link))
            .with_context(|| format!("creating /dev/{link}"))?;
    }
    for d in ["pts", "shm", "mqueue"] {
        std::fs::create_dir(dev_path.join(d))?;
    }
    let mut pts_opts = "newinstance,ptmxmode=0666,mode=0620".to_string();
    if let Some(gid) = tty_gid {
        pts_opts.push_str(&format!(",gid={gid}"));
    }
    mount(
        Some("devpts"),
        &dev_path.join("pts"),
        Some("devpts"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some(pts_opts.as_str()),
    )
    .context("mounting devpts on /dev/pts")?;
    mount(
        Some("shm"),
        &dev_path.join("shm"),
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some("mode=1777,size=65536k"),
    )
    .context("mounting a tmpfs on /dev/shm")?;
    // mqueue needs an IPC namespace owned by our user namespace; without
    // it POSIX message queues are simply unavailable, as on some hosts.
    if mount(
        Some("mqueue"),
        &dev_path.join("mqueue"),
        Some("mqueue"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    )
    .is_err()
    {
        let _ = std::fs::remove_dir(dev_path.join("mqueue"));
    }
    Ok(())
}

/// Directories of the host's /dev that are not devices of their own.
const NOT_DEVICES: [&str; 5] = ["pts", "shm", "mqueue", "hugepages", "fd"];

/// `--privileged`: the host's device nodes that the user may open (read
/// or write), bound into the container's /dev at their own paths, as
/// Podman does rootless. Devices the user cannot open are left out: in a
/// user namespace, binding them would give nothing, and as root nobody
/// asked for more than a privileged container gets.
pub(crate) fn add_host_devices(root: &InRoot) -> Result<()> {
    add_devices_below(root, std::path::Path::new("/dev"), 0)
}

fn add_devices_below(root: &InRoot, host_dir: &std::path::Path, depth: u32) -> Result<()> {
    use std::os::unix::fs::FileTypeExt;
    let Ok(entries) = std::fs::read_dir(host_dir) else {
        return Ok(());
    };
    for e in entries.flatten() {
        let Ok(ft) = e.file_type() else { continue };
        let host = e.path();
        let name = e.file_name();
        if ft.is_dir() {
            if depth < 3 && !(depth == 0 && NOT_DEVICES.iter().any(|n| name == *n)) {
                add_devices_below(root, &host, depth + 1)?;
            }
            continue;
        }
        if !(ft.is_char_device() || ft.is_block_device()) {
            continue;
        }
        if depth == 0 && DEVICES.iter().any(|n| name == *n) {
            continue;
        }
        // Already there (berth's own devices, the ptmx link).
        if !user_may_open(&host) || root.resolve(&host).is_ok() {
            continue;
        }
        let target = root
            .create_file(&host, 0o644)
            .with_context(|| format!("creating {} in the container", host.display()))?;
        mount(
            Some(&host),
            &fd_path(&target),
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .with_context(|| format!("binding {} into the container", host.display()))?;
    }
    Ok(())
}

fn user_may_open(path: &std::path::Path) -> bool {
    use nix::unistd::{access, AccessFlags};
    access(path, AccessFlags::R_OK).is_ok() || access(path, AccessFlags::W_OK).is_ok()
}
