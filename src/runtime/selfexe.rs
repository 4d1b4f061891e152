//! berth's own executable, as seen from a container (runc's
//! CVE-2019-5736): every berth process that enters a container's
//! namespaces — the container's init and health probes (clones of the
//! monitor), an `exec`'d process before its exec — has berth as
//! `/proc/PID/exe` until it execs. A file in the image that starts with
//! `#!/proc/self/exe` (or a link to it) makes that exec run berth again,
//! inside the container, dumpable, where the container can open the
//! binary through `/proc/PID/exe`; if that were the host's file, a
//! container root mapped to the binary's owner could overwrite it.
//!
//! So berth only ever enters a container from an executable that cannot
//! be written through: the monitor is spawned from a read-only bind mount
//! of the binary in a mount namespace of its own (no copy: a few system
//! calls; the container's mount namespace, a child of that one, drops it
//! at pivot_root), and `exec` re-executes itself from the monitor's
//! executable first. Where the bind mount cannot be made (the binary was
//! deleted, say), a sealed in-memory copy is used, as runc and crun do —
//! milliseconds instead of microseconds, but safe.

use crate::util::proc::ProcessId;
use anyhow::{bail, Context, Result};
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// True when `fd` (an open executable) cannot be written through: on a
/// read-only mount, or a memfd sealed against writing.
pub(crate) fn is_protected(fd: &impl AsRawFd) -> bool {
    // SAFETY: fstatvfs fills the struct we pass.
    let ro = unsafe {
        let mut st: libc::statvfs = std::mem::zeroed();
        libc::fstatvfs(fd.as_raw_fd(), &mut st) == 0 && st.f_flag & libc::ST_RDONLY != 0
    };
    // SAFETY: F_GET_SEALS only reads the seals of the file.
    let seals = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GET_SEALS) };
    ro || (seals > 0 && seals & libc::F_SEAL_WRITE != 0)
}

/// The ids of a user namespace, as this process sees them (the ids
/// `stat` reports to us), each a (first, count) range.
#[derive(Debug, Default)]
pub(crate) struct NamespaceIds {
    uids: Vec<(u32, u32)>,
    gids: Vec<(u32, u32)>,
}

impl NamespaceIds {
    /// From `/proc/PID/uid_map` and `gid_map` text. The kernel writes the
    /// second column in the reader's ids when the reader is in another
    /// namespace, but in the parent namespace's when the reader is in the
    /// same one (then the first column is ours).
    pub(crate) fn from_maps(uid_map: &str, gid_map: &str, same_namespace: bool) -> NamespaceIds {
        let ranges = |text: &str| {
            crate::userns::idmap::parse_proc_map(text)
                .iter()
                .map(|l| {
                    let first = if same_namespace { l.inside } else { l.outside };
                    (first, l.count)
                })
                .collect()
        };
        NamespaceIds {
            uids: ranges(uid_map),
            gids: ranges(gid_map),
        }
    }

    /// Our own namespace's (for the monitor: its container is in our
    /// namespace, or in one nested in it that maps a part of ours).
    fn own() -> NamespaceIds {
        let read = |f: &str| std::fs::read_to_string(format!("/proc/self/{f}")).unwrap_or_default();
        NamespaceIds::from_maps(&read("uid_map"), &read("gid_map"), true)
    }

    /// The namespace of process `pid`, or `None` when it cannot be read.
    fn of_process(pid: i32) -> Option<NamespaceIds> {
        let read = |f: &str| std::fs::read_to_string(format!("/proc/{pid}/{f}")).ok();
        let ns = |p: String| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
        use std::os::unix::fs::MetadataExt;
        let ours = ns("/proc/self/ns/user".to_string())?;
        let theirs = ns(format!("/proc/{pid}/ns/user"))?;
        Some(NamespaceIds::from_maps(
            &read("uid_map")?,
            &read("gid_map")?,
            ours == theirs,
        ))
    }

    fn has(ranges: &[(u32, u32)], id: u32) -> bool {
        ranges.iter().any(|&(first, count)| {
            id >= first && u64::from(id) < u64::from(first) + u64::from(count)
        })
    }
}

/// Whether our own executable is protected from the processes of user
/// namespace `ids`: on a read-only mount, a sealed memfd, or a file none
/// of the namespace's ids may write (root's `/usr/local/bin/berth` seen
/// from a rootless container: capabilities in a user namespace do not
/// reach an inode whose owner it does not map). The last saves the
/// read-only view on the launch path of the common installation.
pub(crate) fn self_is_protected_from(ids: &NamespaceIds) -> bool {
    let Ok(f) = std::fs::File::open("/proc/self/exe") else {
        return false;
    };
    is_protected(&f) || !writable_through(&f, ids)
}

/// Whether a process whose ids are in `ids` could write `f`, by its
/// owner, group and mode; a file with an access control list counts as
/// writable (berth does not read ACLs).
fn writable_through(f: &std::fs::File, ids: &NamespaceIds) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = f.metadata() else {
        return true;
    };
    let path = format!("/proc/self/fd/{}", f.as_raw_fd());
    match xattr::get(&path, "system.posix_acl_access") {
        Ok(None) => {}
        // A filesystem without ACLs has none.
        Err(e) if e.kind() == std::io::ErrorKind::Unsupported => {}
        Ok(Some(_)) | Err(_) => return true,
    }
    let mode = meta.mode();
    (mode & 0o200 != 0 && NamespaceIds::has(&ids.uids, meta.uid()))
        || (mode & 0o020 != 0 && NamespaceIds::has(&ids.gids, meta.gid()))
        || mode & 0o002 != 0
}

/// How the monitor is started: its program, and what the spawned child
/// does before exec to make that program a read-only view.
pub(crate) struct MonitorProgram {
    /// The path to exec (our binary's, or a memfd's /proc/self/fd path).
    pub(crate) path: PathBuf,
    /// Set when the child must make the read-only bind mount first.
    view: Option<ReadOnlyView>,
    /// Keeps the sealed copy open until the child exec'd it.
    _memfd: Option<OwnedFd>,
}

/// What the spawned child does before exec (see
/// [`MonitorProgram::preparation`]).
#[derive(Clone)]
pub(crate) struct ReadOnlyView {
    path: CString,
    remount_flags: libc::c_ulong,
}

impl MonitorProgram {
    /// Our binary through a read-only bind mount, or as it is when it is
    /// protected already (a read-only /usr).
    pub(crate) fn bind_view() -> Result<MonitorProgram> {
        let path = std::fs::read_link("/proc/self/exe").context("reading /proc/self/exe")?;
        let exists = std::fs::File::open(&path)
            .ok()
            .zip(std::fs::File::open("/proc/self/exe").ok())
            .is_some_and(|(a, b)| same_file(&a, &b));
        if !exists {
            bail!("berth's executable {} is no longer there", path.display());
        }
        if self_is_protected_from(&NamespaceIds::own()) {
            return Ok(MonitorProgram {
                path,
                view: None,
                _memfd: None,
            });
        }
        let remount_flags = (libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY) as libc::c_ulong
            | crate::mounts::locked_flags(&path).bits() as libc::c_ulong;
        let cpath = CString::new(path.as_os_str().as_bytes()).context("a NUL in our path")?;
        Ok(MonitorProgram {
            path,
            view: Some(ReadOnlyView {
                path: cpath,
                remount_flags,
            }),
            _memfd: None,
        })
    }

    /// A sealed in-memory copy of our binary.
    pub(crate) fn sealed_copy() -> Result<MonitorProgram> {
        let fd = sealed_copy()?;
        Ok(MonitorProgram {
            path: PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd())),
            view: None,
            _memfd: Some(fd),
        })
    }

    /// What the child must do before exec, if anything.
    pub(crate) fn preparation(&self) -> Option<ReadOnlyView> {
        self.view.clone()
    }
}

impl ReadOnlyView {
    /// In the spawned child, before exec (only system calls: it runs
    /// between fork and exec): a mount namespace of its own whose mounts
    /// no longer propagate anywhere, and our binary bound read-only over
    /// itself there.
    pub(crate) fn make(&self) -> std::io::Result<()> {
        let view = self;
        let check = |r: libc::c_int| {
            if r == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        };
        // SAFETY: plain system calls with C strings that outlive them.
        unsafe {
            check(libc::unshare(libc::CLONE_NEWNS))?;
            // Real root's copy of the mounts is a peer of the host's: the
            // bind below must not propagate back.
            check(libc::mount(
                std::ptr::null(),
                c"/".as_ptr(),
                std::ptr::null(),
                (libc::MS_REC | libc::MS_SLAVE) as libc::c_ulong,
                std::ptr::null(),
            ))?;
            check(libc::mount(
                view.path.as_ptr(),
                view.path.as_ptr(),
                std::ptr::null(),
                libc::MS_BIND as libc::c_ulong,
                std::ptr::null(),
            ))?;
            check(libc::mount(
                std::ptr::null(),
                view.path.as_ptr(),
                std::ptr::null(),
                view.remount_flags,
                std::ptr::null(),
            ))?;
        }
        Ok(())
    }
}

fn same_file(a: &std::fs::File, b: &std::fs::File) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (a.metadata(), b.metadata()) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

/// A memfd holding a copy of our executable, sealed against any change.
fn sealed_copy() -> Result<OwnedFd> {
    const MFD_EXEC: libc::c_uint = 0x10;
    let create = |flags: libc::c_uint| {
        // SAFETY: memfd_create with a C string name.
        unsafe { libc::memfd_create(c"berth".as_ptr(), flags) }
    };
    let base = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    // MFD_EXEC says so explicitly where vm.memfd_noexec asks for it;
    // older kernels do not know the flag.
    let mut fd = create(base | MFD_EXEC);
    if fd < 0 {
        fd = create(base);
    }
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).context("creating a memfd for berth's copy");
    }
    // SAFETY: a fresh descriptor that we own from here on.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut src = std::fs::File::open("/proc/self/exe").context("opening /proc/self/exe")?;
    let mut dst = std::fs::File::from(fd.try_clone()?);
    std::io::copy(&mut src, &mut dst).context("copying berth's executable")?;
    let seals = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
    // SAFETY: F_ADD_SEALS with an integer argument.
    if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_ADD_SEALS, seals) } != 0 {
        return Err(std::io::Error::last_os_error()).context("sealing berth's copy");
    }
    Ok(fd)
}

/// Makes sure our own executable is protected from the container whose
/// init is `init` before this process enters it (`exec`): if it is not,
/// re-executes this very command
/// (same argv and environment) from the executable of the container's
/// monitor `monitor`, a read-only view, or else from a sealed copy.
/// Returns only when protected already; afterwards the new image of this
/// process starts over and returns here at once.
pub(crate) fn reexec_protected(monitor: ProcessId, init: ProcessId) -> Result<()> {
    if let Some(ids) = NamespaceIds::of_process(init.pid) {
        if init.is_alive() && self_is_protected_from(&ids) {
            return Ok(());
        }
    }
    let exe = match monitor_exe(monitor) {
        Some(fd) => fd,
        None => sealed_copy()?,
    };
    let c = |s: &std::ffi::OsStr| CString::new(s.as_bytes()).ok();
    let argv: Vec<CString> = std::env::args_os().filter_map(|a| c(&a)).collect();
    let envp: Vec<CString> = std::env::vars_os()
        .filter_map(|(k, v)| {
            let mut kv = k;
            kv.push("=");
            kv.push(v);
            c(&kv)
        })
        .collect();
    let mut argv_p: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_p.push(std::ptr::null());
    let mut envp_p: Vec<*const libc::c_char> = envp.iter().map(|e| e.as_ptr()).collect();
    envp_p.push(std::ptr::null());
    // SAFETY: null-terminated arrays of C strings that outlive the call.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            exe.as_raw_fd(),
            c"".as_ptr(),
            argv_p.as_ptr(),
            envp_p.as_ptr(),
            libc::AT_EMPTY_PATH,
        );
    }
    Err(std::io::Error::last_os_error()).context("re-executing berth from a protected copy")
}

/// The monitor's executable, if it is the process recorded and protected.
fn monitor_exe(monitor: ProcessId) -> Option<OwnedFd> {
    if monitor.pid <= 0 {
        return None;
    }
    let pidfd = monitor.open().ok()?;
    let exe = std::fs::File::open(format!("/proc/{}/exe", monitor.pid)).ok()?;
    if crate::util::proc::pidfd_exited(&pidfd) || !is_protected(&exe) {
        return None;
    }
    Some(exe.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writability_follows_owner_group_mode_and_the_maps() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("bin");
        std::fs::write(&p, b"x").unwrap();
        let f = std::fs::File::open(&p).unwrap();
        let uid = nix::unistd::getuid().as_raw();
        let gid = nix::unistd::getgid().as_raw();
        let mine = NamespaceIds::from_maps(&format!("0 {uid} 1"), &format!("0 {gid} 1"), false);
        let others = NamespaceIds::from_maps("0 4000000000 1", "0 4000000000 1", false);
        // Read from inside the namespace, the first column is in our ids.
        let mine_inside = NamespaceIds::from_maps(
            &format!("{uid} 4000000000 1"),
            &format!("{gid} 4000000000 1"),
            true,
        );
        let others_inside =
            NamespaceIds::from_maps(&format!("0 {uid} 1"), &format!("0 {gid} 1"), true);
        let set =
            |m: u32| std::fs::set_permissions(&p, std::fs::Permissions::from_mode(m)).unwrap();
        set(0o755);
        assert!(writable_through(&f, &mine));
        assert!(!writable_through(&f, &others));
        assert!(writable_through(&f, &mine_inside));
        assert_eq!(writable_through(&f, &others_inside), uid == 0);
        set(0o555);
        assert!(!writable_through(&f, &mine));
        set(0o575);
        assert!(writable_through(&f, &mine));
        set(0o557);
        assert!(writable_through(&f, &others));
    }

    #[test]
    fn a_sealed_copy_is_protected_and_the_same_program() {
        let fd = sealed_copy().unwrap();
        assert!(is_protected(&fd));
        let copy = std::fs::metadata(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap();
        let ours = std::fs::metadata("/proc/self/exe").unwrap();
        assert_eq!(copy.len(), ours.len());
        let mut f = std::fs::File::from(fd);
        use std::io::Write;
        assert!(
            f.write_all(b"x").is_err(),
            "a sealed copy must refuse writes"
        );
    }
}
