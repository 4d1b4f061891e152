//! The sandbox's view of the host's filesystem, made in its own mount
//! namespace (nothing here is visible outside): every mount read-only,
//! then, parents before children, the writable and read-only binds, the
//! private directories (tmpfs) and the hidden paths (an empty read-only
//! tmpfs, or /dev/null over a file), and a /proc of the new pid namespace.
//!
//! Bind sources are opened before anything is mounted, so that a bind
//! beneath a private directory (the working directory inside a hidden
//! $HOME) still reaches the host's directory.

use super::{Access, Plan};
use crate::mounts::{fd_path, make_private, make_read_only_recursive};
use anyhow::{Context, Result};
use nix::mount::{mount, MsFlags};
use std::os::fd::OwnedFd;
use std::path::Path;

const MOUNT_ATTR_RDONLY: u64 = 0x1;

/// mount_setattr(2) on `path`: sets and clears attributes, on the whole
/// tree below it when `recursive`.
fn mount_setattr(path: &Path, recursive: bool, set: u64, clear: u64) -> std::io::Result<()> {
    #[repr(C)]
    struct MountAttr {
        attr_set: u64,
        attr_clr: u64,
        propagation: u64,
        userns_fd: u64,
    }
    const AT_RECURSIVE: libc::c_uint = 0x8000;
    let attr = MountAttr {
        attr_set: set,
        attr_clr: clear,
        propagation: 0,
        userns_fd: 0,
    };
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: a valid C string and attribute struct that outlive the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            c.as_ptr(),
            if recursive { AT_RECURSIVE } else { 0 },
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Makes the bind at `path` writable again (it was copied read-only): the
/// whole tree, or, when a mount below was read-only on the host (which a
/// user namespace locks), the top mount only.
fn make_writable(path: &Path) -> Result<()> {
    if mount_setattr(path, true, 0, MOUNT_ATTR_RDONLY).is_ok() {
        return Ok(());
    }
    mount_setattr(path, false, 0, MOUNT_ATTR_RDONLY)
        .with_context(|| format!("making {} writable", path.display()))
}

/// Creates the mount point `path` when a private directory above it hid it.
fn ensure_mount_point(path: &Path, dir: bool) -> Result<()> {
    if std::fs::symlink_metadata(path).is_ok() {
        return Ok(());
    }
    let what = || format!("creating the mount point {}", path.display());
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(what)?;
    }
    if dir {
        std::fs::create_dir(path).with_context(what)
    } else {
        std::fs::File::create(path).map(drop).with_context(what)
    }
}

fn open_source(path: &Path) -> Result<OwnedFd> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_CLOEXEC)
        .open(path)
        .map(OwnedFd::from)
        .with_context(|| format!("opening {}", path.display()))
}

fn tmpfs(path: &Path, mode: &str) -> Result<()> {
    mount(
        Some("tmpfs"),
        path,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some(mode),
    )
    .with_context(|| format!("mounting a private tmpfs on {}", path.display()))
}

/// Builds the sandbox's filesystem (see the module documentation).
pub fn setup(plan: &Plan) -> Result<()> {
    // The root is read-only already.
    let mut rules: Vec<&super::PathRule> = plan
        .paths
        .iter()
        .filter(|r| r.path != Path::new("/"))
        .collect();
    rules.sort_by_key(|r| r.path.components().count());
    let mut sources = Vec::with_capacity(rules.len());
    for r in &rules {
        let is_dir = std::fs::metadata(&r.path)
            .map(|m| m.is_dir())
            .unwrap_or(true);
        let fd = match r.access {
            Access::ReadWrite | Access::ReadOnly => Some(open_source(&r.path)?),
            _ => None,
        };
        sources.push((fd, is_dir));
    }
    make_private()?;
    make_read_only_recursive(Path::new("/")).context("making the root filesystem read-only")?;
    let mut hidden_tmpfs = Vec::new();
    for (r, (fd, is_dir)) in rules.iter().zip(sources) {
        let path = r.path.as_path();
        ensure_mount_point(path, is_dir)?;
        match (r.access, fd) {
            (Access::ReadWrite | Access::ReadOnly, Some(fd)) => {
                mount(
                    Some(&fd_path(&fd)),
                    path,
                    None::<&str>,
                    MsFlags::MS_BIND | MsFlags::MS_REC,
                    None::<&str>,
                )
                .with_context(|| format!("binding {}", path.display()))?;
                if r.access == Access::ReadWrite {
                    make_writable(path)?;
                } else {
                    make_read_only_recursive(path)?;
                }
            }
            (Access::Scratch, _) => {
                let shared = path == Path::new("/tmp") || path == Path::new("/dev/shm");
                tmpfs(path, if shared { "mode=1777" } else { "mode=0700" })?;
            }
            (Access::Hidden, _) if is_dir => {
                tmpfs(path, "mode=0755,size=4k")?;
                hidden_tmpfs.push(path);
            }
            (Access::Hidden, _) => mount(
                Some("/dev/null"),
                path,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .with_context(|| format!("hiding {}", path.display()))?,
            (Access::ReadWrite | Access::ReadOnly, None) => unreachable!("opened above"),
        }
    }
    // Mount points for deeper rules exist by now: the hidden directories
    // can become read-only.
    for path in hidden_tmpfs {
        mount_setattr(path, false, MOUNT_ATTR_RDONLY, 0)
            .with_context(|| format!("making {} read-only", path.display()))?;
    }
    // New terminals are allocated on devpts.
    if Path::new("/dev/pts/ptmx").exists() {
        let _ = mount_setattr(Path::new("/dev/pts"), false, 0, MOUNT_ATTR_RDONLY);
    }
    mount(
        Some("proc"),
        "/proc",
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    )
    .context("mounting /proc for the sandbox's pid namespace")?;
    Ok(())
}
