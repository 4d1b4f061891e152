//! A minimal /dev: a tmpfs with the host's harmless character devices
//! bind-mounted in (a user namespace may not create device nodes), a
//! private devpts instance, /dev/shm and, where the kernel allows, an
//! mqueue for the container's own IPC namespace.

use super::fd_path;
use super::inroot::InRoot;
use super::rootfs::{move_mount_onto, open_tree_clone, FsContext};
use anyhow::{Context, Result};
use nix::fcntl::OFlag;
use nix::mount::{mount, MsFlags};
use nix::sys::stat::Mode;
use std::ffi::CStr;
use std::os::fd::{AsFd, OwnedFd};

/// The options of /dev's tmpfs and of /dev/shm's (Docker's 64 MiB), for
/// fsconfig and, joined, for mount(2).
const DEV_OPTIONS: [(&CStr, &str); 2] = [(c"mode", "755"), (c"size", "65536k")];
const SHM_OPTIONS: [(&CStr, &str); 2] = [(c"mode", "1777"), (c"size", "65536k")];

/// `options` as mount(2)'s data string: `mode=755,size=65536k`.
fn mount_data(options: &[(&CStr, &str)]) -> String {
    let pairs: Vec<String> = options
        .iter()
        .map(|(key, value)| format!("{}={value}", key.to_string_lossy()))
        .collect();
    pairs.join(",")
}

const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

const LINKS: [(&str, &str); 5] = [
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("ptmx", "pts/ptmx"),
];

/// Builds /dev in the rootfs opened as `root`. `tty_gid` is the gid for
/// new terminals (5, "tty") when the namespace maps it. `made`: the
/// tmpfs with its devices, links and /dev/shm made beforehand
/// ([`detached`]), attached here; without it, or when the
/// attach fails, the init makes them. devpts and mqueue are the init's
/// either way: they belong to its own namespaces.
pub(crate) fn setup(root: &InRoot, tty_gid: Option<u32>, made: Option<OwnedFd>) -> Result<()> {
    let dir = root
        .mkdir_all("/dev", 0o755)
        .context("creating /dev in the container")?;
    let attached = made.is_some_and(|m| attach(m, dir.as_fd()));
    if attached {
        crate::util::trace::step("/dev attached");
    } else {
        mount(
            Some("tmpfs"),
            &fd_path(&dir),
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME,
            Some(mount_data(&DEV_OPTIONS).as_str()),
        )
        .context("mounting a tmpfs on /dev")?;
    }
    // The tmpfs now hides what `dir` pointed at: reopen the new /dev.
    let dev = root
        .resolve("/dev")
        .context("opening the container's new /dev")?;
    let dev_path = fd_path(&dev);
    if !attached {
        populate(&dev_path)?;
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

/// Attaches the /dev made by [`detached`] onto the directory `dir`
/// itself (its /proc/self/fd path is a symlink, which move_mount would
/// not follow); false when the kernel refuses, and the tree is dropped.
fn attach(made: OwnedFd, dir: std::os::fd::BorrowedFd<'_>) -> bool {
    match move_mount_onto(made.as_fd(), dir, c"") {
        Ok(()) => true,
        Err(e) => {
            crate::util::trace::step(&format!("/dev not attached: {e}; made here"));
            false
        }
    }
}

/// The devices, links, directories and /dev/shm of a new /dev tmpfs at
/// `dev_path`, made with mount(2) by the init.
fn populate(dev_path: &std::path::Path) -> Result<()> {
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
    mount(
        Some("shm"),
        &dev_path.join("shm"),
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some(mount_data(&SHM_OPTIONS).as_str()),
    )
    .context("mounting a tmpfs on /dev/shm")?;
    Ok(())
}

/// What [`populate`] makes, as a detached tree of the new mount API: a
/// tmpfs (fsopen, fsmount) with the host's devices bound in (open_tree,
/// move_mount onto the detached tree: Linux 6.15), the links, the
/// directories and /dev/shm. The container's init makes it after its
/// namespaces, while it waits for the monitor's release (the monitor is
/// still making the overlay, most often), and only attaches it once the
/// root exists ([`setup`]): the window between the release and the exec
/// is the launch's critical path. The caller's mount namespace must be
/// its user namespace's. None before Linux 6.15, and an error, only
/// mean that [`setup`] makes /dev the old way.
pub(crate) fn detached() -> Result<Option<OwnedFd>> {
    // Asked first rather than tried: on an older kernel, the tmpfs and
    // the first device's clone would be made for nothing (0.2-0.45 ms
    // measured here with that move failing on purpose).
    if !crate::util::kernel::at_least(6, 15) {
        return Ok(None);
    }
    let tmpfs = |source: &str, options: &[(&CStr, &str)], attributes: u64| -> Result<OwnedFd> {
        let fc = FsContext::open(c"tmpfs").context("fsopen(\"tmpfs\")")?;
        for (key, value) in [(c"source", source)].iter().chain(options) {
            fc.set_string(key, value).context("configuring a tmpfs")?;
        }
        fc.create().context("creating a tmpfs")?;
        fc.mount(attributes).context("fsmount of a tmpfs")
    };
    let dev = tmpfs(
        "tmpfs",
        &DEV_OPTIONS,
        libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_STRICTATIME,
    )?;
    let dir = dev.as_fd();
    for name in DEVICES {
        let host = std::ffi::CString::new(format!("/dev/{name}")).expect("no NUL");
        let name = std::ffi::CString::new(name).expect("no NUL");
        let tree = match open_tree_clone(&host, 0) {
            Ok(tree) => tree,
            // As populate: a host without it.
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
            Err(e) => return Err(e).with_context(|| format!("cloning {}", host.to_string_lossy())),
        };
        let file = nix::fcntl::openat(
            dir,
            name.as_c_str(),
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o644),
        )
        .context("creating a device's file in /dev")?;
        drop(file);
        move_mount_onto(tree.as_fd(), dir, &name)
            .with_context(|| format!("binding {} into /dev", host.to_string_lossy()))?;
    }
    for (link, to) in LINKS {
        nix::unistd::symlinkat(to, dir, link).with_context(|| format!("creating /dev/{link}"))?;
    }
    for d in ["pts", "shm", "mqueue"] {
        nix::sys::stat::mkdirat(dir, d, Mode::from_bits_truncate(0o755))
            .with_context(|| format!("creating /dev/{d}"))?;
    }
    let shm = tmpfs(
        "shm",
        &SHM_OPTIONS,
        libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NODEV | libc::MOUNT_ATTR_NOEXEC,
    )?;
    move_mount_onto(shm.as_fd(), dir, c"shm").context("attaching /dev/shm")?;
    Ok(Some(dev))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tmpfs_options_join_as_mount_data() {
        assert_eq!(mount_data(&DEV_OPTIONS), "mode=755,size=65536k");
        assert_eq!(mount_data(&SHM_OPTIONS), "mode=1777,size=65536k");
    }
}
