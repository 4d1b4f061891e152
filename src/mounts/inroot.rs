//! Paths inside the container's rootfs, resolved by the kernel with
//! `openat2(RESOLVE_IN_ROOT)`: a symlink in the image (absolute or full of
//! `..`) resolves as if the rootfs were `/`, so it can never lead to the
//! host's files. One syscall per lookup, which matters on the launch path
//! (pathrs verifies every step through procfs, costing milliseconds).

use crate::util::openat2::{cpath, in_root as openat2};
use anyhow::{bail, Context, Result};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

/// An open rootfs directory.
pub(crate) struct InRoot {
    root: OwnedFd,
}

fn relative(path: &Path) -> &Path {
    path.strip_prefix("/").unwrap_or(path)
}

impl InRoot {
    pub(crate) fn open(path: &Path) -> Result<InRoot> {
        let root = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))?;
        Ok(InRoot { root: root.into() })
    }

    /// An `O_PATH` descriptor of `path` inside the root.
    pub(crate) fn resolve(&self, path: impl AsRef<Path>) -> io::Result<OwnedFd> {
        let p = relative(path.as_ref());
        let p = if p.as_os_str().is_empty() {
            Path::new(".")
        } else {
            p
        };
        openat2(&self.root, p, libc::O_PATH, 0)
    }

    /// `mkdir -p` inside the root; returns the directory.
    pub(crate) fn mkdir_all(&self, path: impl AsRef<Path>, mode: u32) -> Result<OwnedFd> {
        let path = path.as_ref();
        match self.resolve(path) {
            Ok(fd) => {
                if !is_dir(&fd) {
                    bail!(
                        "{} exists in the container and is not a directory",
                        path.display()
                    );
                }
                return Ok(fd);
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => return Err(e).with_context(|| format!("resolving {}", path.display())),
        }
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            bail!("cannot create {}", path.display());
        };
        let parent_fd = self.mkdir_all(parent, mode)?;
        let cname = cpath(Path::new(name))?;
        // SAFETY: mkdirat with a directory fd and a C string.
        let r = unsafe { libc::mkdirat(parent_fd.as_raw_fd(), cname.as_ptr(), mode) };
        if r != 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EEXIST) {
                return Err(e).with_context(|| format!("creating {}", path.display()));
            }
        }
        // Resolved again from the root: whatever the name now is (a
        // symlink someone put there, say), it is followed inside the root.
        let fd = self
            .resolve(path)
            .with_context(|| format!("opening {} after creating it", path.display()))?;
        if !is_dir(&fd) {
            bail!(
                "{} exists in the container and is not a directory",
                path.display()
            );
        }
        Ok(fd)
    }

    /// Creates (or opens) a regular file inside the root, and its parents.
    pub(crate) fn create_file(&self, path: impl AsRef<Path>, mode: u32) -> Result<OwnedFd> {
        let path = path.as_ref();
        if let Some(parent) = path.parent() {
            self.mkdir_all(parent, 0o755)?;
        }
        openat2(
            &self.root,
            relative(path),
            libc::O_CREAT | libc::O_WRONLY | libc::O_NOCTTY | libc::O_NONBLOCK,
            mode,
        )
        .with_context(|| format!("creating {} in the container", path.display()))
    }
}

use std::os::unix::fs::OpenOptionsExt;

pub(crate) fn is_dir(fd: &OwnedFd) -> bool {
    nix::sys::stat::fstat(fd).is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_resolve_inside_the_root() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("root");
        let outside = d.path().join("outside");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::create_dir(&outside).unwrap();
        // An absolute link and a link full of `..`, both aimed at the host.
        std::os::unix::fs::symlink(&outside, root.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../../../../../etc", root.join("up")).unwrap();
        let r = InRoot::open(&root).unwrap();
        r.mkdir_all("/up/made", 0o755).unwrap();
        assert!(root.join("etc/made").is_dir());
        // The absolute link points at a path that does not exist in the root.
        r.mkdir_all("/x/y/z", 0o755).unwrap();
        assert!(root.join("x/y/z").is_dir());
        r.create_file("/up/file", 0o644).unwrap();
        assert!(root.join("etc/file").is_file());
        assert!(r.mkdir_all("/abs/inside", 0o755).is_err() || !outside.join("inside").exists());
        assert!(!outside.join("inside").exists());
        assert!(r.mkdir_all("/etc/file", 0o755).is_err());
    }
}
