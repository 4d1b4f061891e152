//! Copying a directory tree with its owners, modes and times: how an empty
//! volume is first filled with the image's content at its mount point.
//!
//! Both sides are directory descriptors and every entry is read and
//! created relative to its parent's descriptor, never through a path: the
//! destination (a volume, which a running container may be writing to at
//! the same time) can hold a symlink planted under a name the copy is
//! about to create, and nothing may follow it. New entries are made with
//! `O_CREAT | O_EXCL | O_NOFOLLOW`, `mkdirat` and `symlinkat`; an entry
//! that exists already is left as it is (the copy never writes through
//! what it did not create); directories are descended into with
//! `O_NOFOLLOW`.

use anyhow::{Context, Result};
use nix::fcntl::{openat, AtFlags, OFlag};
use nix::sys::stat::{fstatat, FileStat, Mode};
use nix::sys::time::TimeSpec;
use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

/// Copies the contents of the directory `src` into the directory `dst`,
/// then `src`'s own owner, mode and times onto `dst`. Symlinks are copied
/// as links (never followed), so a hostile link in an image cannot pull
/// host files into the copy; device nodes, FIFOs and sockets are skipped.
/// Ownership is copied where the id is mapped (inside the user
/// namespace), otherwise left to the caller's.
pub(crate) fn copy_tree(src: BorrowedFd<'_>, dst: BorrowedFd<'_>) -> Result<()> {
    let src = reopen_dir(src).context("opening the source directory")?;
    let dst = reopen_dir(dst).context("opening the destination directory")?;
    let meta = nix::sys::stat::fstat(&src).context("reading the source directory")?;
    copy_children(&src, &dst, Path::new("/"))?;
    apply_metadata(dst.as_fd(), &meta);
    Ok(())
}

/// A readable directory descriptor for `fd` (which may be `O_PATH`).
fn reopen_dir(fd: BorrowedFd<'_>) -> nix::Result<OwnedFd> {
    openat(
        fd,
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

fn open_child_dir(parent: &OwnedFd, name: &OsStr) -> nix::Result<OwnedFd> {
    openat(
        parent,
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

fn copy_children(src: &OwnedFd, dst: &OwnedFd, at: &Path) -> Result<()> {
    let names = list_dir(src, at)?;
    for name in names {
        let here = at.join(&name);
        let st = fstatat(src, name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW)
            .with_context(|| format!("reading {}", here.display()))?;
        match st.st_mode & libc::S_IFMT {
            libc::S_IFDIR => {
                match nix::sys::stat::mkdirat(
                    dst,
                    name.as_os_str(),
                    Mode::from_bits_truncate(0o700),
                ) {
                    Ok(()) => {}
                    // Made meanwhile (by a container sharing the volume):
                    // not ours to fill.
                    Err(nix::errno::Errno::EEXIST) => continue,
                    Err(e) => {
                        return Err(e).with_context(|| format!("creating {}", here.display()))
                    }
                }
                let from = open_child_dir(src, &name)
                    .with_context(|| format!("opening {}", here.display()))?;
                let to = open_child_dir(dst, &name)
                    .with_context(|| format!("opening the new {}", here.display()))?;
                copy_children(&from, &to, &here)?;
                apply_metadata(to.as_fd(), &st);
            }
            libc::S_IFLNK => {
                let target = nix::fcntl::readlinkat(src, name.as_os_str())
                    .with_context(|| format!("reading the link {}", here.display()))?;
                match nix::unistd::symlinkat(target.as_os_str(), dst, name.as_os_str()) {
                    Ok(()) => {}
                    Err(nix::errno::Errno::EEXIST) => continue,
                    Err(e) => {
                        return Err(e).with_context(|| format!("creating link {}", here.display()))
                    }
                }
                link_metadata(dst.as_fd(), &name, &st);
            }
            libc::S_IFREG => {
                let created = openat(
                    dst,
                    name.as_os_str(),
                    OFlag::O_WRONLY
                        | OFlag::O_CREAT
                        | OFlag::O_EXCL
                        | OFlag::O_NOFOLLOW
                        | OFlag::O_CLOEXEC,
                    Mode::from_bits_truncate(0o600),
                );
                let to = match created {
                    Ok(fd) => fd,
                    Err(nix::errno::Errno::EEXIST) => continue,
                    Err(e) => {
                        return Err(e).with_context(|| format!("creating {}", here.display()))
                    }
                };
                let from = openat(
                    src,
                    name.as_os_str(),
                    OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NOCTTY,
                    Mode::empty(),
                )
                .with_context(|| format!("opening {}", here.display()))?;
                let mut reader = std::fs::File::from(from);
                let mut writer = std::fs::File::from(to);
                std::io::copy(&mut reader, &mut writer)
                    .with_context(|| format!("copying {}", here.display()))?;
                apply_metadata(writer.as_fd(), &st);
            }
            _ => {}
        }
    }
    Ok(())
}

/// The names in a directory, without `.` and `..`.
fn list_dir(fd: &OwnedFd, at: &Path) -> Result<Vec<std::ffi::OsString>> {
    use std::os::unix::ffi::OsStrExt;
    let mut d = nix::dir::Dir::from_fd(fd.try_clone().context("duplicating a descriptor")?)
        .with_context(|| format!("listing {}", at.display()))?;
    let mut names = Vec::new();
    for e in d.iter() {
        let e = e.with_context(|| format!("listing {}", at.display()))?;
        let n = OsStr::from_bytes(e.file_name().to_bytes());
        if n != "." && n != ".." {
            names.push(n.to_owned());
        }
    }
    Ok(names)
}

fn times(st: &FileStat) -> (TimeSpec, TimeSpec) {
    (
        TimeSpec::new(st.st_atime, st.st_atime_nsec),
        TimeSpec::new(st.st_mtime, st.st_mtime_nsec),
    )
}

fn apply_metadata(fd: BorrowedFd<'_>, st: &FileStat) {
    // Owner first: chown clears set-id bits, which the mode then restores.
    let _ = nix::unistd::fchown(
        fd,
        Some(nix::unistd::Uid::from_raw(st.st_uid)),
        Some(nix::unistd::Gid::from_raw(st.st_gid)),
    );
    let _ = nix::sys::stat::fchmod(fd, Mode::from_bits_truncate(st.st_mode & 0o7777));
    let (atime, mtime) = times(st);
    let _ = nix::sys::stat::futimens(fd, &atime, &mtime);
}

fn link_metadata(dir: BorrowedFd<'_>, name: &OsStr, st: &FileStat) {
    let _ = nix::unistd::fchownat(
        dir,
        name,
        Some(nix::unistd::Uid::from_raw(st.st_uid)),
        Some(nix::unistd::Gid::from_raw(st.st_gid)),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    );
    let (atime, mtime) = times(st);
    let _ = nix::sys::stat::utimensat(
        dir,
        name,
        &atime,
        &mtime,
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    );
}

/// True when a directory has no entries (a volume that was never filled).
pub(crate) fn dir_is_empty(path: &Path) -> bool {
    std::fs::read_dir(path)
        .map(|mut d| d.next().is_none())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    fn dir_fd(p: &Path) -> OwnedFd {
        fs::File::open(p).unwrap().into()
    }

    #[test]
    fn copies_files_dirs_links_and_modes_without_following_links() {
        let t = tempfile::tempdir().unwrap();
        let (src, dst) = (t.path().join("src"), t.path().join("dst"));
        fs::create_dir_all(src.join("sub")).unwrap();
        fs::write(src.join("sub/f"), b"data").unwrap();
        fs::set_permissions(src.join("sub/f"), fs::Permissions::from_mode(0o640)).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", src.join("link")).unwrap();
        fs::set_permissions(&src, fs::Permissions::from_mode(0o751)).unwrap();
        fs::create_dir(&dst).unwrap();
        copy_tree(dir_fd(&src).as_fd(), dir_fd(&dst).as_fd()).unwrap();
        assert_eq!(fs::read(dst.join("sub/f")).unwrap(), b"data");
        assert_eq!(
            fs::metadata(dst.join("sub/f")).unwrap().mode() & 0o777,
            0o640
        );
        assert_eq!(
            fs::read_link(dst.join("link")).unwrap(),
            Path::new("/etc/passwd")
        );
        assert!(!dir_is_empty(&dst));
        let (s, d) = (fs::metadata(&src).unwrap(), fs::metadata(&dst).unwrap());
        assert_eq!(d.mode() & 0o7777, 0o751);
        assert_eq!((d.mtime(), d.mtime_nsec()), (s.mtime(), s.mtime_nsec()));
        let empty = t.path().join("e");
        fs::create_dir(&empty).unwrap();
        assert!(dir_is_empty(&empty));
    }

    #[test]
    fn never_writes_through_a_link_planted_in_the_destination() {
        let t = tempfile::tempdir().unwrap();
        let (src, dst) = (t.path().join("src"), t.path().join("dst"));
        fs::create_dir_all(src.join("d")).unwrap();
        fs::write(src.join("f"), b"image").unwrap();
        fs::write(src.join("d/g"), b"image").unwrap();
        fs::create_dir(&dst).unwrap();
        let victim = t.path().join("victim");
        fs::write(&victim, b"mine").unwrap();
        let victim_dir = t.path().join("victim-dir");
        fs::create_dir(&victim_dir).unwrap();
        // What a container sharing the volume could have put there.
        std::os::unix::fs::symlink(&victim, dst.join("f")).unwrap();
        std::os::unix::fs::symlink(&victim_dir, dst.join("d")).unwrap();
        copy_tree(dir_fd(&src).as_fd(), dir_fd(&dst).as_fd()).unwrap();
        assert_eq!(fs::read(&victim).unwrap(), b"mine");
        assert_eq!(fs::read_dir(&victim_dir).unwrap().count(), 0);
    }
}
