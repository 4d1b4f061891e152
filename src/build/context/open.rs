//! Opening context files for reading without following any symlink: the
//! index already resolved symlinks along source paths inside the context,
//! so the kernel is asked (`openat2` with `RESOLVE_BENEATH |
//! RESOLVE_NO_SYMLINKS`) to refuse any symlink or `..` that appears in the
//! meantime. A file swapped for a link to `/etc/shadow` after the walk
//! gives an error, not the link's target.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_NO_SYMLINKS: u64 = 0x04;
const RESOLVE_BENEATH: u64 = 0x08;

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// The context root, open.
pub struct ContextRoot {
    fd: OwnedFd,
}

impl ContextRoot {
    pub fn open(root: &Path) -> io::Result<ContextRoot> {
        let dir = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags_dir()
            .open(root)?;
        Ok(ContextRoot { fd: dir.into() })
    }

    /// Opens the regular file at context path `rel` for reading.
    pub fn open_file(&self, rel: &str) -> io::Result<File> {
        let c = CString::new(rel).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        let how = OpenHow {
            flags: (libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC) as u64,
            mode: 0,
            resolve: RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        };
        loop {
            // SAFETY: `c` and `how` outlive the call; the kernel reads
            // exactly size_of::<OpenHow>() bytes of `how`.
            let fd = unsafe {
                libc::syscall(
                    libc::SYS_openat2,
                    self.fd.as_raw_fd(),
                    c.as_ptr(),
                    &how as *const OpenHow,
                    std::mem::size_of::<OpenHow>(),
                )
            };
            if fd >= 0 {
                // SAFETY: a new descriptor that nothing else owns.
                return Ok(unsafe { File::from_raw_fd(fd as i32) });
            }
            let err = io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::EAGAIN) => continue,
                // Kernels before 5.6: a plain open that refuses a symlink
                // as the last component (the index checked the others).
                Some(libc::ENOSYS) => {
                    return std::fs::OpenOptions::new()
                        .read(true)
                        .custom_flags_nofollow()
                        .open(format!("/proc/self/fd/{}/{rel}", self.fd.as_raw_fd()))
                }
                _ => return Err(err),
            }
        }
    }
}

trait OpenFlags {
    fn custom_flags_dir(&mut self) -> &mut Self;
    fn custom_flags_nofollow(&mut self) -> &mut Self;
}

impl OpenFlags for std::fs::OpenOptions {
    fn custom_flags_dir(&mut self) -> &mut Self {
        std::os::unix::fs::OpenOptionsExt::custom_flags(self, libc::O_DIRECTORY | libc::O_CLOEXEC)
    }
    fn custom_flags_nofollow(&mut self) -> &mut Self {
        std::os::unix::fs::OpenOptionsExt::custom_flags(self, libc::O_NOFOLLOW | libc::O_CLOEXEC)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_symlinks_and_dotdot() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("d")).unwrap();
        std::fs::write(dir.path().join("d/f"), "x").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("link")).unwrap();
        std::os::unix::fs::symlink("d", dir.path().join("dlink")).unwrap();
        let root = ContextRoot::open(dir.path()).unwrap();
        assert!(root.open_file("d/f").is_ok());
        assert!(root.open_file("link").is_err());
        assert!(root.open_file("dlink/f").is_err());
        assert!(root.open_file("../etc/passwd").is_err());
        assert!(root.open_file("/etc/passwd").is_err());
    }
}
