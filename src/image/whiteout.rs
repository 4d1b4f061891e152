//! Deletions in layers, in their two forms: OCI's in a layer tar
//! (`.wh.NAME` deletes NAME of lower layers; `DIR/.wh..wh..opq` hides
//! everything lower layers have in DIR) and overlayfs's on disk (a 0/0
//! character device; an `overlay.opaque` extended attribute set to `y`).
//! Unpacking a layer turns the first into the second; committing a
//! container's upper directory turns the second back into the first.

use std::ffi::{OsStr, OsString};
use std::os::fd::{AsRawFd, BorrowedFd};

/// OCI whiteout prefix.
pub(crate) const PREFIX: &str = ".wh.";
/// OCI opaque-directory marker.
pub(crate) const OPAQUE_MARKER: &str = ".wh..wh..opq";
/// Other `.wh..wh.` names are AUFS bookkeeping, skipped as Docker does.
pub(crate) const META_PREFIX: &str = ".wh..wh.";

/// The extended attribute that makes a directory opaque: rootless overlay
/// is mounted with `userxattr`, which reads the `user.overlay.*` names.
pub(crate) fn opaque_xattr(real_root: bool) -> &'static str {
    if real_root {
        "trusted.overlay.opaque"
    } else {
        "user.overlay.opaque"
    }
}

/// `.wh.NAME`.
pub(crate) fn whiteout_name(name: &OsStr) -> OsString {
    let mut wh = OsString::from(PREFIX);
    wh.push(name);
    wh
}

/// The name an OCI whiteout deletes; None for the opaque marker and
/// other `.wh..wh.` names, and for names that are not whiteouts.
pub(crate) fn deleted_name(name: &str) -> Option<&str> {
    if name.starts_with(META_PREFIX) {
        return None;
    }
    name.strip_prefix(PREFIX)
}

/// An overlay whiteout on disk: a character device 0/0.
pub(crate) fn is_overlay_whiteout(mode: u32, rdev: u64) -> bool {
    mode & libc::S_IFMT == libc::S_IFCHR && rdev == 0
}

/// A directory marked opaque for overlay (either xattr namespace).
pub(crate) fn is_opaque_dir(fd: BorrowedFd<'_>) -> bool {
    let path = format!("/proc/self/fd/{}", fd.as_raw_fd());
    [opaque_xattr(true), opaque_xattr(false)]
        .iter()
        .any(|x| matches!(xattr::get(&path, x), Ok(Some(v)) if v == b"y"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(whiteout_name(OsStr::new("a")), ".wh.a");
        assert_eq!(deleted_name(".wh.a"), Some("a"));
        assert_eq!(deleted_name(OPAQUE_MARKER), None);
        assert_eq!(deleted_name(".wh..wh.plnk"), None);
        assert_eq!(deleted_name("a"), None);
        assert!(is_overlay_whiteout(libc::S_IFCHR | 0o644, 0));
        assert!(!is_overlay_whiteout(libc::S_IFCHR, 1));
        assert!(!is_overlay_whiteout(libc::S_IFREG, 0));
    }
}
