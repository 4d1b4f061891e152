//! The container's root filesystem and everything mounted into it. These
//! functions run in the container's init process, inside its new mount
//! namespace (so nothing here is visible to the host), before pivot_root
//! except where a function says otherwise (the overlay, which the monitor
//! makes beside the init: `rootfs::detached_overlay`).

pub(crate) mod binds;
pub(crate) mod dev;
pub(crate) mod devices;
pub(crate) mod files;
pub(crate) mod inroot;
pub(crate) mod pivot;
pub(crate) mod proc_sys;
pub(crate) mod rootfs;
pub(crate) mod shared_ns;

use anyhow::{Context, Result};
use nix::mount::MsFlags;
use std::os::fd::{AsFd, AsRawFd};
use std::path::{Path, PathBuf};

/// The `/proc/self/fd/N` path of an open file: mounting on it mounts on
/// the very inode we resolved inside the rootfs, so no symlink swapped in
/// later can redirect the mount.
pub(crate) fn fd_path(fd: &impl AsFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_fd().as_raw_fd()))
}

/// The mount flags that a user namespace locks on an existing mount
/// (nosuid, nodev, noexec, atime) and that a read-only remount of a bind
/// of it must therefore repeat, or the kernel refuses with EPERM.
pub(crate) fn locked_flags(path: &Path) -> MsFlags {
    use nix::sys::statvfs::{statvfs, FsFlags};
    let Ok(st) = statvfs(path) else {
        return MsFlags::empty();
    };
    let f = st.flags();
    let mut out = MsFlags::empty();
    for (s, m) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if f.contains(s) {
            out |= m;
        }
    }
    out
}

/// Makes every mount of our (new) mount namespace private, so that
/// nothing mounted after this propagates back to the host.
pub(crate) fn make_private() -> Result<()> {
    nix::mount::mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .context("making the mounts private")
}

/// Remounts the bind mount at `target` read-only, keeping its flags
/// (those a user namespace locks, and nodev, nosuid, noexec anyway).
pub(crate) fn remount_read_only(target: &Path, extra: MsFlags) -> Result<()> {
    let flags =
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | locked_flags(target) | extra;
    nix::mount::mount(None::<&str>, target, None::<&str>, flags, None::<&str>)
        .with_context(|| format!("making {} read-only", target.display()))
}

/// Makes the mount at `target` and every mount below it read-only
/// (mount_setattr with AT_RECURSIVE, Linux 5.12+), so that no submount of
/// a read-only bind (the host's cgroup tree under /sys, say) stays
/// writable. Older kernels get the top mount only.
pub(crate) fn make_read_only_recursive(target: &Path) -> Result<()> {
    #[repr(C)]
    struct MountAttr {
        attr_set: u64,
        attr_clr: u64,
        propagation: u64,
        userns_fd: u64,
    }
    const MOUNT_ATTR_RDONLY: u64 = 0x1;
    const AT_RECURSIVE: libc::c_uint = 0x8000;
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_RDONLY,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    let path = std::ffi::CString::new(target.as_os_str().as_encoded_bytes())
        .context("a mount path contains a NUL byte")?;
    // SAFETY: valid C string and attribute struct that outlive the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            path.as_ptr(),
            AT_RECURSIVE,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r == 0 {
        return Ok(());
    }
    remount_read_only(target, MsFlags::empty())
}
