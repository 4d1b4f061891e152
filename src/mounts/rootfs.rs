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
//!
//! The container's monitor makes the overlay before the init needs it, as
//! a detached mount of the new mount API ([`detached_overlay`]: fsopen,
//! fsconfig, fsmount), while the init makes its namespaces on the other
//! core; the init only attaches it ([`attach_or_mount_overlay`]). Where
//! the kernel does not make it so (no new mount API before Linux 5.2, a
//! host's seccomp filter, a refused option), the init mounts it with
//! mount(2) as before ([`mount_overlay`]), whose errors explain.

use anyhow::{bail, Context, Result};
use nix::mount::MsFlags;
use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
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

/// The longest string value `fsconfig` takes (the kernel copies at most
/// 256 bytes, its NUL included).
const FSCONFIG_VALUE_MAX: usize = 255;

/// A filesystem context of the new mount API (`fsopen`), whose log holds
/// the kernel's reasons when something is refused.
pub(super) struct FsContext(OwnedFd);

impl FsContext {
    pub(super) fn open(fstype: &CStr) -> io::Result<FsContext> {
        // SAFETY: fsopen with a valid C string and a flag; the result is a
        // new descriptor or -1.
        let fd = unsafe { libc::syscall(libc::SYS_fsopen, fstype.as_ptr(), libc::FSOPEN_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a fresh descriptor that nothing else owns.
        Ok(FsContext(unsafe { OwnedFd::from_raw_fd(fd as i32) }))
    }

    fn config(
        &self,
        cmd: libc::c_uint,
        key: Option<&CStr>,
        value: Option<&CStr>,
    ) -> io::Result<()> {
        let key = key.map_or(std::ptr::null(), CStr::as_ptr);
        let value = value.map_or(std::ptr::null(), CStr::as_ptr);
        // SAFETY: fsconfig on our context with C strings (or null) that
        // outlive the call; the kernel only reads them.
        let r =
            unsafe { libc::syscall(libc::SYS_fsconfig, self.0.as_raw_fd(), cmd, key, value, 0) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    pub(super) fn set_string(&self, key: &CStr, value: &str) -> io::Result<()> {
        let v = std::ffi::CString::new(value).map_err(|_| io::ErrorKind::InvalidInput)?;
        self.config(libc::FSCONFIG_SET_STRING, Some(key), Some(&v))
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", key.to_string_lossy())))
    }

    fn set_flag(&self, key: &CStr) -> io::Result<()> {
        self.config(libc::FSCONFIG_SET_FLAG, Some(key), None)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", key.to_string_lossy())))
    }

    /// Makes the superblock: for overlay, where it checks its layers and
    /// the work directory's features.
    pub(super) fn create(&self) -> io::Result<()> {
        self.config(libc::FSCONFIG_CMD_CREATE, None, None)
    }

    /// A detached mount of the superblock made by [`FsContext::create`].
    pub(super) fn mount(&self, attributes: u64) -> io::Result<OwnedFd> {
        // SAFETY: fsmount with integer arguments; the result is a new
        // descriptor or -1.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_fsmount,
                self.0.as_raw_fd(),
                libc::FSMOUNT_CLOEXEC,
                attributes as libc::c_uint,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a fresh descriptor that nothing else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
    }

    /// The kernel's messages about this context, "; "-joined.
    fn messages(&self) -> String {
        let mut messages = Vec::new();
        let mut buf = [0u8; 1024];
        // Each read returns one message ("e overlay: ..."); ENODATA ends them.
        while let Ok(n) = nix::unistd::read(&self.0, &mut buf) {
            if n == 0 {
                break;
            }
            let m = String::from_utf8_lossy(&buf[..n]);
            messages.push(m.get(2..).unwrap_or(&m).trim().to_string());
        }
        messages.join("; ")
    }

    /// Overlay's options, as [`OverlaySpec::options`] gives them to
    /// mount(2). `fsconfig` takes 255 bytes per value: longer lists of
    /// layers go one by one (`lowerdir+`, Linux 6.7).
    fn configure_overlay(&self, spec: &OverlaySpec, volatile: bool) -> io::Result<()> {
        // The source mount(2) is given: /proc/mounts reads as before.
        self.set_string(c"source", "overlay")?;
        let lowers = spec.lowers.join(":");
        if lowers.len() <= FSCONFIG_VALUE_MAX {
            self.set_string(c"lowerdir", &lowers)?;
        } else {
            for lower in &spec.lowers {
                self.set_string(c"lowerdir+", lower)?;
            }
        }
        self.set_string(c"upperdir", &spec.upper)?;
        self.set_string(c"workdir", &spec.work)?;
        if spec.userxattr {
            self.set_flag(c"userxattr")?;
        }
        if volatile {
            self.set_flag(c"volatile")?;
        }
        Ok(())
    }
}

/// Puts the calling process in a mount namespace that its own user
/// namespace owns, if it is not in one: fsopen wants CAP_SYS_ADMIN over
/// the owner of the caller's mount namespace, and a monitor started from
/// a binary that needed no read-only view of itself (`runtime::selfexe`)
/// is still in the host's. The copy (unshare) shares nothing back: the
/// kernel makes the mounts it copies from a more privileged namespace
/// slaves. Looked at once per process; the caller has no other thread
/// (unshare of a mount namespace refuses to a process with threads).
pub(crate) fn own_mount_namespace() -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    use std::sync::atomic::{AtomicBool, Ordering};
    static OWN: AtomicBool = AtomicBool::new(false);
    if OWN.load(Ordering::Relaxed) {
        return Ok(());
    }
    let mnt = std::fs::File::open("/proc/self/ns/mnt").context("opening our mount namespace")?;
    // SAFETY: NS_GET_USERNS takes no argument; it returns a new
    // descriptor of the owning user namespace, or -1.
    let owner = unsafe { libc::ioctl(mnt.as_raw_fd(), libc::NS_GET_USERNS) };
    let ours = if owner >= 0 {
        // SAFETY: a fresh descriptor that nothing else owns.
        let owner = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(owner) });
        let (owner, user) = (owner.metadata()?, std::fs::metadata("/proc/self/ns/user")?);
        (owner.dev(), owner.ino()) == (user.dev(), user.ino())
    } else {
        match io::Error::last_os_error() {
            // The owner is an ancestor of our user namespace.
            e if e.raw_os_error() == Some(libc::EPERM) => false,
            e => return Err(e).context("asking which user namespace owns our mount namespace"),
        }
    };
    if !ours {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)
            .context("making a mount namespace of our own")?;
        crate::util::trace::step("mount namespace of our own made");
    }
    OWN.store(true, Ordering::Relaxed);
    Ok(())
}

/// The overlay of `spec` made and mounted nowhere yet: a detached mount
/// (fsopen, fsconfig, fsmount; `nodev` as [`mount_overlay`]'s), which
/// another process of the same user namespace attaches in its own mount
/// namespace ([`attach_or_mount_overlay`]); the caller's mount namespace
/// must be its user namespace's ([`own_mount_namespace`]). The paths of `spec` are
/// relative to `store_root`, entered for the calls; the working directory
/// is then restored. The superblock belongs to the caller's user
/// namespace and overlay acts with the caller's credentials, as if it
/// had mounted it.
///
/// Any error only means that the overlay must be mounted the old way:
/// Linux before 5.2 (RHEL 8's 4.18) has no fsopen, a host's seccomp
/// filter may refuse it, before 6.7 a list of layers longer than
/// fsconfig's 255 bytes cannot be given, and whatever is wrong with the
/// layers fails again in [`mount_overlay`], which explains it.
pub(crate) fn detached_overlay(spec: &OverlaySpec, store_root: &Path) -> Result<OwnedFd> {
    use nix::fcntl::OFlag;
    let cwd = nix::fcntl::open(
        ".",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .context("opening the working directory")?;
    nix::unistd::chdir(store_root).context("entering the store")?;
    let made = make_detached(spec);
    nix::unistd::fchdir(&cwd).context("returning to the working directory")?;
    made
}

fn make_detached(spec: &OverlaySpec) -> Result<OwnedFd> {
    if spec.volatile {
        // As in mount_overlay: a `work/incompat/volatile` left by the last
        // volatile mount would refuse this one.
        let _ = crate::util::fsutil::remove_tree(&Path::new(&spec.work).join("incompat"));
    }
    let fc = FsContext::open(c"overlay").context("fsopen(\"overlay\")")?;
    fc.configure_overlay(spec, spec.volatile)
        .context("configuring the overlay")?;
    if let Err(e) = fc.create() {
        bail!("creating the overlay: {e} ({})", fc.messages());
    }
    // Device nodes never open, as with mount_overlay's MS_NODEV.
    fc.mount(libc::MOUNT_ATTR_NODEV)
        .context("fsmount of the overlay")
}

/// A detached copy of the mount at `path` (open_tree with
/// `OPEN_TREE_CLONE`, not recursive); `extra_flags` such as
/// `AT_SYMLINK_NOFOLLOW`.
pub(super) fn open_tree_clone(path: &CStr, extra_flags: libc::c_uint) -> io::Result<OwnedFd> {
    // SAFETY: open_tree with a NUL-terminated path and flags; returns a
    // new descriptor or -1.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            path.as_ptr(),
            (libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC | extra_flags) as libc::c_ulong,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: open_tree returned a new descriptor that we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Moves the mount behind `mount` (detached, or the root of a tree) onto
/// `name` beneath the directory `dir`, or onto `dir` itself when `name`
/// is empty (move_mount; a final symlink is not followed). Onto a
/// directory of a detached tree: Linux 6.15.
pub(super) fn move_mount_onto(
    mount: std::os::fd::BorrowedFd<'_>,
    dir: std::os::fd::BorrowedFd<'_>,
    name: &CStr,
) -> io::Result<()> {
    let onto_dir = if name.is_empty() {
        libc::MOVE_MOUNT_T_EMPTY_PATH
    } else {
        0
    };
    // SAFETY: move_mount between descriptors we hold, with C strings that
    // outlive the call (the source's path empty: MOVE_MOUNT_F_EMPTY_PATH).
    let r = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            mount.as_raw_fd(),
            c"".as_ptr(),
            dir.as_raw_fd(),
            name.as_ptr(),
            libc::MOVE_MOUNT_F_EMPTY_PATH | onto_dir,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Attaches a detached mount made by [`detached_overlay`] at `target`
/// (move_mount). The descriptor is closed on return: when the attach
/// failed, the overlay is gone with it.
fn attach_overlay(mount: OwnedFd, target: &Path) -> Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let target_c =
        std::ffi::CString::new(target.as_os_str().as_bytes()).context("a path with a NUL byte")?;
    // SAFETY: move_mount of the mount behind our descriptor (empty path,
    // MOVE_MOUNT_F_EMPTY_PATH) onto a C string path that outlives the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            mount.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_FDCWD,
            target_c.as_ptr(),
            libc::MOVE_MOUNT_F_EMPTY_PATH,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error()).context("attaching the overlay (move_mount)");
    }
    Ok(())
}

/// In the container's init: the overlay at `target`, attached when the
/// monitor made it (`made`, see [`detached_overlay`]), else mounted here
/// ([`mount_overlay`], whose errors are the user's), as also when the
/// attach fails. Returns whether the monitor's overlay was attached.
pub(crate) fn attach_or_mount_overlay(
    spec: &OverlaySpec,
    made: Option<OwnedFd>,
    target: &Path,
) -> Result<bool> {
    if let Some(mount) = made {
        match attach_overlay(mount, target) {
            Ok(()) => return Ok(true),
            Err(e) => crate::util::trace::step(&format!("{e:#}; mounting it instead")),
        }
    }
    mount_overlay(spec, target)?;
    Ok(false)
}

/// Asks the kernel why the mount fails, through the new mount API: a
/// filesystem context collects the reason as text that the old mount(2)
/// only writes to the kernel log.
fn kernel_reason(spec: &OverlaySpec) -> Option<String> {
    let fc = FsContext::open(c"overlay").ok()?;
    if fc.configure_overlay(spec, false).is_ok() {
        let _ = fc.create();
    }
    Some(fc.messages())
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

    /// Runs `f` in a forked child, in a user namespace of its own (our
    /// uid as root) and a mount namespace; returns its error text.
    fn in_namespaces(f: impl FnOnce() -> Result<()>) -> std::result::Result<(), String> {
        use std::io::{Read, Write};
        let uid = nix::unistd::getuid();
        let gid = nix::unistd::getgid();
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
        // SAFETY: the child only makes system calls, writes to the pipe
        // and leaves with _exit; it takes no lock another thread of the
        // test harness could hold, short of the allocator's, which fork
        // leaves usable in glibc.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                drop(r);
                let outcome = (|| -> Result<()> {
                    use nix::sched::CloneFlags;
                    nix::sched::unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS)
                        .context("entering a user namespace")?;
                    std::fs::write("/proc/self/setgroups", "deny")?;
                    std::fs::write("/proc/self/uid_map", format!("0 {uid} 1"))?;
                    std::fs::write("/proc/self/gid_map", format!("0 {gid} 1"))?;
                    crate::mounts::make_private()?;
                    f()
                })();
                let code = match outcome {
                    Ok(()) => 0,
                    Err(e) => {
                        let _ = std::fs::File::from(w).write_all(format!("{e:#}").as_bytes());
                        1
                    }
                };
                // SAFETY: _exit skips the destructors and atexit handlers
                // of the test harness's copy of the process.
                unsafe { libc::_exit(code) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                drop(w);
                let mut msg = String::new();
                let _ = std::fs::File::from(r).read_to_string(&mut msg);
                match nix::sys::wait::waitpid(child, None).unwrap() {
                    nix::sys::wait::WaitStatus::Exited(_, 0) => Ok(()),
                    other => Err(format!("{other:?}: {msg}")),
                }
            }
        }
    }

    /// Whether this kernel takes overlay's `lowerdir+` (Linux 6.7).
    fn kernel_has_lowerdir_plus() -> bool {
        let release = nix::sys::utsname::uname().unwrap();
        let mut parts = release.release().to_str().unwrap().split(['.', '-']);
        let major: u32 = parts.next().unwrap().parse().unwrap();
        let minor: u32 = parts.next().unwrap().parse().unwrap();
        (major, minor) >= (6, 7)
    }

    #[test]
    fn the_init_attaches_the_monitors_overlay_or_mounts_its_own() {
        let d = tempfile::tempdir().unwrap();
        let store = d.path().to_path_buf();
        // 20 layers with long names: more than fsconfig's 255 bytes.
        let layers: Vec<String> = (0..20)
            .map(|i| format!("l/layer-with-a-long-name-{i:02}"))
            .collect();
        for (i, l) in layers.iter().enumerate() {
            std::fs::create_dir_all(store.join(l)).unwrap();
            std::fs::write(store.join(l).join("which"), format!("{i}")).unwrap();
        }
        std::fs::write(store.join(&layers[19]).join("bottom"), "x").unwrap();
        for i in 0..5 {
            for sub in ["upper", "work", "merged"] {
                std::fs::create_dir(store.join(format!("{sub}{i}"))).unwrap();
            }
        }
        let spec = |i: usize, lowers: &[String]| OverlaySpec {
            lowers: lowers.to_vec(),
            upper: format!("upper{i}"),
            work: format!("work{i}"),
            userxattr: true,
            volatile: i == 0,
        };
        let one = &layers[19..];
        let read = |p: &str| std::fs::read_to_string(p).with_context(|| p.to_string());
        let result = in_namespaces(|| {
            // The monitor makes it from elsewhere: paths are the store's.
            nix::unistd::chdir("/")?;
            let made = detached_overlay(&spec(0, one), &store)?;
            anyhow::ensure!(
                std::env::current_dir()? == Path::new("/"),
                "cwd not restored"
            );
            // The init attaches it (from the store, as make_root).
            nix::unistd::chdir(&store)?;
            anyhow::ensure!(attach_or_mount_overlay(
                &spec(0, one),
                Some(made),
                Path::new("merged0")
            )?);
            anyhow::ensure!(read("merged0/bottom")? == "x");
            std::fs::write("merged0/new", "y")?;
            anyhow::ensure!(
                read("upper0/new")? == "y",
                "not written through to the upper"
            );
            let nodev = nix::sys::statvfs::statvfs("merged0")?.flags();
            anyhow::ensure!(
                nodev.contains(nix::sys::statvfs::FsFlags::ST_NODEV),
                "not nodev"
            );

            // The monitor made none: the init mounts it, as before.
            anyhow::ensure!(!attach_or_mount_overlay(
                &spec(1, one),
                None,
                Path::new("merged1")
            )?);
            anyhow::ensure!(read("merged1/bottom")? == "x");

            // A descriptor that attaches nothing: the init mounts it too.
            let not_a_mount: OwnedFd = std::fs::File::open("/dev/null")?.into();
            anyhow::ensure!(!attach_or_mount_overlay(
                &spec(2, one),
                Some(not_a_mount),
                Path::new("merged2")
            )?);
            anyhow::ensure!(read("merged2/bottom")? == "x");

            // Layers given one by one, top first, where the kernel can.
            match detached_overlay(&spec(3, &layers), &store) {
                Ok(made) => {
                    anyhow::ensure!(attach_or_mount_overlay(
                        &spec(3, &layers),
                        Some(made),
                        Path::new("merged3")
                    )?);
                }
                Err(e) if !kernel_has_lowerdir_plus() => {
                    let _ = e;
                    anyhow::ensure!(!attach_or_mount_overlay(
                        &spec(3, &layers),
                        None,
                        Path::new("merged3")
                    )?);
                }
                Err(e) => return Err(e.context("20 layers")),
            }
            anyhow::ensure!(read("merged3/which")? == "0", "the top layer is not on top");
            anyhow::ensure!(read("merged3/bottom")? == "x");

            // A missing layer: the monitor's attempt fails, and the init's
            // mount says what is wrong.
            let missing = vec!["l/gone".to_string()];
            anyhow::ensure!(detached_overlay(&spec(4, &missing), &store).is_err());
            let e = attach_or_mount_overlay(&spec(4, &missing), None, Path::new("merged4"))
                .err()
                .context("mounted without its layer")?;
            anyhow::ensure!(
                e.to_string().contains("l/gone of its image is missing"),
                "{e}"
            );
            Ok(())
        });
        result.unwrap();
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
