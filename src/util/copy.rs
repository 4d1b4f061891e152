//! Copying a directory tree with its owners, modes and times: how an empty
//! volume is first filled with the image's content at its mount point.

use anyhow::{Context, Result};
use nix::sys::stat::{utimensat, UtimensatFlags};
use nix::sys::time::TimeSpec;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

/// Copies the contents of `src` into the existing directory `dst`.
/// Symlinks are copied as links (never followed), so a hostile link in an
/// image cannot pull host files into the copy; device nodes and sockets are
/// skipped. Ownership is copied where the id is mapped (inside the user
/// namespace), otherwise left to the caller's.
/// `src` itself is followed: callers name it by a `/proc/self/fd/N` link
/// (a directory resolved inside the rootfs), whose own metadata is the
/// link's, not the directory's.
pub(crate) fn copy_tree(src: &Path, dst: &Path) -> Result<()> {
    let meta = fs::metadata(src).with_context(|| format!("reading {}", src.display()))?;
    copy_children(src, dst)?;
    apply_metadata(dst, &meta)
}

fn copy_children(src: &Path, dst: &Path) -> Result<()> {
    for entry in fs::read_dir(src).with_context(|| format!("listing {}", src.display()))? {
        let entry = entry?;
        let (from, to) = (entry.path(), dst.join(entry.file_name()));
        let meta = fs::symlink_metadata(&from)?;
        let ft = meta.file_type();
        if ft.is_dir() {
            fs::create_dir(&to).with_context(|| format!("creating {}", to.display()))?;
            copy_children(&from, &to)?;
        } else if ft.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&from)?, &to)
                .with_context(|| format!("creating link {}", to.display()))?;
        } else if ft.is_file() {
            fs::copy(&from, &to).with_context(|| format!("copying {}", from.display()))?;
        } else {
            continue;
        }
        apply_metadata(&to, &meta)?;
    }
    Ok(())
}

fn apply_metadata(path: &Path, meta: &fs::Metadata) -> Result<()> {
    // Owner first: chown clears setuid bits, which the mode then restores.
    let _ = std::os::unix::fs::lchown(path, Some(meta.uid()), Some(meta.gid()));
    if !meta.file_type().is_symlink() {
        fs::set_permissions(path, fs::Permissions::from_mode(meta.mode() & 0o7777))
            .with_context(|| format!("setting the mode of {}", path.display()))?;
    }
    let atime = TimeSpec::new(meta.atime(), meta.atime_nsec());
    let mtime = TimeSpec::new(meta.mtime(), meta.mtime_nsec());
    let _ = utimensat(
        nix::fcntl::AT_FDCWD,
        path,
        &atime,
        &mtime,
        UtimensatFlags::NoFollowSymlink,
    );
    Ok(())
}

/// True when a directory has no entries (a volume that was never filled).
pub(crate) fn dir_is_empty(path: &Path) -> bool {
    fs::read_dir(path)
        .map(|mut d| d.next().is_none())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_files_dirs_links_and_modes_without_following_links() {
        let t = tempfile::tempdir().unwrap();
        let (src, dst) = (t.path().join("src"), t.path().join("dst"));
        fs::create_dir_all(src.join("sub")).unwrap();
        fs::write(src.join("sub/f"), b"data").unwrap();
        fs::set_permissions(src.join("sub/f"), fs::Permissions::from_mode(0o640)).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", src.join("link")).unwrap();
        fs::create_dir(&dst).unwrap();
        copy_tree(&src, &dst).unwrap();
        assert_eq!(fs::read(dst.join("sub/f")).unwrap(), b"data");
        assert_eq!(
            fs::metadata(dst.join("sub/f")).unwrap().mode() & 0o777,
            0o640
        );
        assert_eq!(
            fs::read_link(dst.join("link")).unwrap(),
            Path::new("/etc/passwd")
        );
        assert!(fs::symlink_metadata(dst.join("link"))
            .unwrap()
            .file_type()
            .is_symlink());
        assert!(!dir_is_empty(&dst));
        // The root's own mode and times, also through a link to it (as
        // copy-up names it by /proc/self/fd/N).
        fs::set_permissions(&src, fs::Permissions::from_mode(0o751)).unwrap();
        let via = t.path().join("via");
        std::os::unix::fs::symlink(&src, &via).unwrap();
        let dst2 = t.path().join("dst2");
        fs::create_dir(&dst2).unwrap();
        copy_tree(&via, &dst2).unwrap();
        let (s, d) = (fs::metadata(&src).unwrap(), fs::metadata(&dst2).unwrap());
        assert_eq!(d.mode() & 0o7777, 0o751);
        assert_eq!((d.mtime(), d.mtime_nsec()), (s.mtime(), s.mtime_nsec()));
        let empty = t.path().join("e");
        fs::create_dir(&empty).unwrap();
        assert!(dir_is_empty(&empty));
    }
}
