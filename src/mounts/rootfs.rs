//! The overlay root: the image's layers as lower directories (top layer
//! first, named by their short links relative to the store root so that
//! the option string fits in one page), the container's own upper and
//! work directories. Rootless, overlay reads its `user.overlay.*` xattrs
//! (`userxattr`); real root uses the trusted ones, as the unpacker writes.
//!
//! A `--rm` container's overlay is `volatile` (Linux 5.10+, as Podman
//! mounts its `--rm` containers): without it, the unmount when the
//! container's last process exits syncs the whole filesystem under the
//! upper directory (overlay's sync_fs is a syncfs of the upper
//! filesystem), tens of milliseconds on a busy shared disk, for files
//! that are deleted a moment later.

use anyhow::{bail, Result};
use nix::mount::MsFlags;
use std::path::Path;

/// Everything overlay needs, as paths relative to the store root.
#[derive(Debug, Clone)]
pub(crate) struct OverlaySpec {
    /// Top layer first.
    pub(crate) lowers: Vec<String>,
    pub(crate) upper: String,
    pub(crate) work: String,
    pub(crate) userxattr: bool,
    /// No syncs to the upper filesystem (`--rm`: the upper is deleted
    /// after the exit). Left out again when the kernel refuses it.
    pub(crate) volatile: bool,
}

impl OverlaySpec {
    pub(crate) fn options(&self) -> String {
        let mut o = format!(
            "lowerdir={},upperdir={},workdir={}",
            self.lowers.join(":"),
            self.upper,
            self.work
        );
        if self.userxattr {
            o.push_str(",userxattr");
        }
        if self.volatile {
            o.push_str(",volatile");
        }
        o
    }
}

/// Mounts the overlay at `target`. The working directory must be the
/// store root (the caller chdirs there: the paths are relative to it).
pub(crate) fn mount_overlay(spec: &OverlaySpec, target: &Path) -> Result<()> {
    if spec.volatile {
        let mut volatile = spec.clone();
        // A volatile mount leaves `work/incompat/volatile`, and the kernel
        // mounts no overlay on that work directory again while it exists
        // (a restarted `--rm` container): its upper is disposable.
        let _ = crate::util::fsutil::remove_tree(&Path::new(&spec.work).join("incompat"));
        if mount_with(&volatile, target).is_ok() {
            return Ok(());
        }
        // Kernels before 5.10 do not know the option.
        volatile.volatile = false;
        return mount_with(&volatile, target);
    }
    mount_with(spec, target)
}

fn mount_with(spec: &OverlaySpec, target: &Path) -> Result<()> {
    let options = spec.options();
    let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .unwrap_or(4096) as usize;
    if options.len() >= page {
        bail!(
            "mounting the container's root filesystem: the image has too many layers ({}) for \
             one overlay mount (the options take {} bytes, the kernel allows {}); flatten the \
             image (e.g. export and import it)",
            spec.lowers.len(),
            options.len(),
            page - 1
        );
    }
    // Device nodes in an image (or made later in the upper directory)
    // never open: the container's devices are the ones berth binds in
    // /dev. Rootless mounts are nodev anyway; this keeps real root's so.
    let flags = MsFlags::MS_NODEV;
    if let Err(e) = nix::mount::mount(
        Some("overlay"),
        target,
        Some("overlay"),
        flags,
        Some(options.as_str()),
    ) {
        if let Some(missing) = spec.lowers.iter().find(|l| !Path::new(l).exists()) {
            bail!(
                "mounting the container's root filesystem: the layer {missing} of its image is \
                 missing from the store (an interrupted removal?); remove the container and load \
                 or pull its image again"
            );
        }
        let reason = kernel_reason(spec).unwrap_or_default();
        let hint = if spec.userxattr {
            "; unprivileged overlay mounts need Linux 5.11 or later and an upper directory on a \
             filesystem that supports user xattrs (not NFS, not another overlay): put BERTH_ROOT \
             on a local ext4, xfs or btrfs disk"
        } else {
            "; the store must be on a filesystem overlay supports as upper (ext4, xfs, btrfs)"
        };
        let reason = if reason.is_empty() {
            String::new()
        } else {
            format!(" (kernel: {reason})")
        };
        bail!("mounting the container's root filesystem (overlay): {e}{reason}{hint}");
    }
    Ok(())
}

/// Asks the kernel why the mount fails, through the new mount API: a
/// filesystem context collects the reason as text that the old mount(2)
/// only writes to the kernel log.
fn kernel_reason(spec: &OverlaySpec) -> Option<String> {
    use std::ffi::CString;
    use std::io::Read;
    use std::os::fd::FromRawFd;
    const FSOPEN_CLOEXEC: libc::c_uint = 1;
    const FSCONFIG_SET_FLAG: libc::c_uint = 0;
    const FSCONFIG_SET_STRING: libc::c_uint = 1;
    const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
    let name = CString::new("overlay").ok()?;
    // SAFETY: fsopen with a valid C string; the result is a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_fsopen, name.as_ptr(), FSOPEN_CLOEXEC) };
    if fd < 0 {
        return None;
    }
    // SAFETY: fd is a fresh descriptor we own.
    let mut ctx = unsafe { std::fs::File::from_raw_fd(fd as i32) };
    let set = |key: &str, value: Option<&str>| -> bool {
        let Ok(k) = CString::new(key) else {
            return false;
        };
        let v = value.and_then(|v| CString::new(v).ok());
        let (cmd, vp) = match &v {
            Some(v) => (FSCONFIG_SET_STRING, v.as_ptr()),
            None => (FSCONFIG_SET_FLAG, std::ptr::null()),
        };
        // SAFETY: fsconfig with valid C strings that outlive the call.
        unsafe { libc::syscall(libc::SYS_fsconfig, fd, cmd, k.as_ptr(), vp, 0) == 0 }
    };
    let mut ok = set("lowerdir", Some(&spec.lowers.join(":")))
        && set("upperdir", Some(&spec.upper))
        && set("workdir", Some(&spec.work));
    if ok && spec.userxattr {
        ok = set("userxattr", None);
    }
    if ok {
        // SAFETY: fsconfig command without key or value.
        unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                fd,
                FSCONFIG_CMD_CREATE,
                std::ptr::null::<libc::c_char>(),
                std::ptr::null::<libc::c_char>(),
                0,
            );
        }
    }
    let mut messages = Vec::new();
    let mut buf = [0u8; 1024];
    // Each read returns one message ("e overlay: ..."); ENODATA ends them.
    while let Ok(n) = ctx.read(&mut buf) {
        if n == 0 {
            break;
        }
        let m = String::from_utf8_lossy(&buf[..n]);
        messages.push(m.get(2..).unwrap_or(&m).trim().to_string());
    }
    Some(messages.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_put_the_top_layer_first_and_add_userxattr() {
        let s = OverlaySpec {
            lowers: vec!["l/top".into(), "l/base".into()],
            upper: "containers/x/upper".into(),
            work: "containers/x/work".into(),
            userxattr: true,
            volatile: false,
        };
        assert_eq!(
            s.options(),
            "lowerdir=l/top:l/base,upperdir=containers/x/upper,workdir=containers/x/work,userxattr"
        );
        let v = OverlaySpec {
            volatile: true,
            ..s
        };
        assert!(
            v.options().ends_with(",userxattr,volatile"),
            "{}",
            v.options()
        );
    }

    #[test]
    fn too_many_layers_is_a_clear_error() {
        let s = OverlaySpec {
            lowers: (0..400).map(|i| format!("l/{i:016}")).collect(),
            upper: "u".into(),
            work: "w".into(),
            userxattr: false,
            volatile: false,
        };
        let e = mount_overlay(&s, Path::new("/nonexistent")).unwrap_err();
        assert!(e.to_string().contains("too many layers"), "{e}");
    }

    #[test]
    fn the_kernel_says_why_an_overlay_cannot_be_made() {
        // fsopen/fsconfig only build a superblock; nothing is mounted.
        let d = tempfile::tempdir().unwrap();
        // A lower "directory" that is a file: overlay explains that one.
        std::fs::write(d.path().join("lower"), b"").unwrap();
        std::fs::create_dir(d.path().join("upper")).unwrap();
        let s = OverlaySpec {
            lowers: vec![d.path().join("lower").display().to_string()],
            upper: d.path().join("upper").display().to_string(),
            work: d.path().join("work").display().to_string(),
            volatile: false,
            userxattr: false,
        };
        // Without the privilege to use fsopen there is no reason to read.
        if let Some(reason) = kernel_reason(&s) {
            assert!(reason.contains("not a directory"), "{reason}");
        }
    }
}
