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
