//! The probes: small system calls and file reads whose results the
//! checks judge. Those that must try something (a user namespace, an
//! overlay mount) do it in a forked child, so that the doctor itself
//! stays in the host's namespaces.

use super::Environment;
use nix::errno::Errno;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Runs `f` in a forked child and returns its `Err` text, if any. The
/// caller is single-threaded (the CLI is).
fn in_child(f: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| format!("creating a pipe: {e}"))?;
    // SAFETY: the doctor runs single-threaded; the child only makes system
    // calls and writes to the pipe before _exit.
    match unsafe { nix::unistd::fork() } {
        Err(e) => Err(format!("fork: {e}")),
        Ok(nix::unistd::ForkResult::Child) => {
            drop(r);
            let outcome = f();
            let mut w = std::fs::File::from(w);
            let code = match outcome {
                Ok(()) => 0,
                Err(msg) => {
                    let _ = w.write_all(msg.as_bytes());
                    1
                }
            };
            // SAFETY: _exit skips destructors and atexit handlers that
            // belong to the parent's copy of the process.
            unsafe { libc::_exit(code) }
        }
        Ok(nix::unistd::ForkResult::Parent { child }) => {
            drop(w);
            let mut msg = String::new();
            let _ = std::fs::File::from(r).read_to_string(&mut msg);
            let status = nix::sys::wait::waitpid(child, None);
            match status {
                Ok(nix::sys::wait::WaitStatus::Exited(_, 0)) => Ok(()),
                _ if !msg.is_empty() => Err(msg),
                other => Err(format!("the probe ended with {other:?}")),
            }
        }
    }
}

/// Tries to create a user namespace (as berth does for every command).
pub fn probe_userns() -> Result<(), String> {
    in_child(|| {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER).map_err(|e| e.to_string())
    })
}

/// Tries an overlay mount, as a container's root is made, with its upper
/// directory in the store's `tmp/` (the store's filesystem is what
/// matters), in a user namespace of a single mapping (real root: a mount
/// namespace only).
pub fn probe_overlay(store: &crate::store::Store) -> Result<(), String> {
    let base = store
        .temp_dir("doctor")
        .map_err(|e| format!("creating a directory in the store: {e:#}"))?;
    let uid = nix::unistd::getuid().as_raw();
    let gid = nix::unistd::getgid().as_raw();
    let real_root = crate::userns::is_real_root();
    let b = base.clone();
    let result = in_child(move || {
        use nix::sched::CloneFlags;
        for d in ["lower", "upper", "work", "merged"] {
            std::fs::create_dir(b.join(d)).map_err(|e| format!("mkdir {d}: {e}"))?;
        }
        std::fs::write(b.join("lower/file"), b"x").map_err(|e| e.to_string())?;
        let flags = if real_root {
            CloneFlags::CLONE_NEWNS
        } else {
            CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS
        };
        nix::sched::unshare(flags).map_err(|e| format!("entering a user namespace: {e}"))?;
        if !real_root {
            let w = |p: &str, d: String| std::fs::write(p, d).map_err(|e| format!("{p}: {e}"));
            w("/proc/self/setgroups", "deny".into())?;
            w("/proc/self/uid_map", format!("0 {uid} 1"))?;
            w("/proc/self/gid_map", format!("0 {gid} 1"))?;
        }
        let spec = crate::mounts::rootfs::OverlaySpec {
            lowers: vec![b.join("lower").display().to_string()],
            upper: b.join("upper").display().to_string(),
            work: b.join("work").display().to_string(),
            userxattr: !real_root,
            volatile: false,
        };
        crate::mounts::rootfs::mount_overlay(&spec, &b.join("merged"))
            .map_err(|e| format!("{e:#}"))?;
        // Writing through it exercises the upper directory (copy-up).
        std::fs::write(b.join("merged/file"), b"y")
            .map_err(|e| format!("writing through the overlay: {e}"))?;
        Ok(())
    });
    let _ = crate::util::fsutil::remove_tree(&base);
    result
}

/// What the user may do with a device node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceAccess {
    pub exists: bool,
    pub mode: u32,
    pub owner: u32,
    pub group: u32,
    /// The user may open it for reading and writing.
    pub usable: bool,
}

/// Whether the user of `env` may open `path` read-write, from its mode
/// and owners (so that a check run as root judges for the user it names),
/// and, for the calling user, `access(2)` too (ACLs).
pub fn probe_device(path: &Path, env: &Environment) -> DeviceAccess {
    let Ok(m) = std::fs::metadata(path) else {
        return DeviceAccess {
            exists: false,
            mode: 0,
            owner: 0,
            group: 0,
            usable: false,
        };
    };
    let mode = m.permissions().mode() & 0o7777;
    let bits = if env.uid == 0 {
        0o6
    } else if m.uid() == env.uid {
        (mode >> 6) & 0o7
    } else if m.gid() == env.gid || env.groups.contains(&m.gid()) {
        (mode >> 3) & 0o7
    } else {
        mode & 0o7
    };
    let mut usable = bits & 0o6 == 0o6;
    if !usable && env.uid == nix::unistd::getuid().as_raw() && env.uid != 0 {
        usable = nix::unistd::access(
            path,
            nix::unistd::AccessFlags::R_OK | nix::unistd::AccessFlags::W_OK,
        )
        .is_ok();
    }
    DeviceAccess {
        exists: true,
        mode,
        owner: m.uid(),
        group: m.gid(),
        usable,
    }
}

/// The cgroup setup as seen from this process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CgroupInfo {
    /// Where cgroup v2 is mounted, if it is.
    pub v2_mount: Option<PathBuf>,
    /// Controllers bound to cgroup v1 hierarchies.
    pub v1_controllers: Vec<String>,
    /// Our cgroup in the v2 hierarchy (`0::/path`).
    pub own: Option<String>,
    /// `cgroup.controllers` of our v2 cgroup.
    pub controllers: Vec<String>,
    /// Whether the user may create child cgroups there (delegated).
    pub delegated: bool,
    /// v1 controllers whose hierarchy this user may write at its own
    /// cgroup (root's, or a cgroup an administrator gave the user): berth
    /// applies their limits there.
    pub v1_writable: Vec<String>,
}

pub fn probe_cgroups(env: &Environment) -> CgroupInfo {
    let mountinfo = std::fs::read_to_string(&env.mountinfo).unwrap_or_default();
    let mut info = parse_mountinfo(&mountinfo);
    let own = std::fs::read_to_string(&env.self_cgroup)
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("0::").map(str::to_string))
        });
    info.own = own.clone();
    info.v1_writable = v1_writable(
        &mountinfo,
        &std::fs::read_to_string(&env.self_cgroup).unwrap_or_default(),
    );
    if let (Some(mount), Some(own)) = (&info.v2_mount, &own) {
        let dir = mount.join(own.trim_start_matches('/'));
        info.controllers = std::fs::read_to_string(dir.join("cgroup.controllers"))
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect();
        info.delegated = std::fs::metadata(&dir).is_ok_and(|m| {
            env.uid == 0 || (m.uid() == env.uid && m.permissions().mode() & 0o200 != 0)
        });
    }
    info
}

/// The v1 controllers whose hierarchy is writable at our own cgroup in it
/// (`N:ctrl,ctrl:/path` lines of /proc/self/cgroup, mount points from
/// mountinfo).
fn v1_writable(mountinfo: &str, self_cgroup: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in self_cgroup.lines() {
        let mut f = line.splitn(3, ':');
        let (Some(_), Some(ctrls), Some(path)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if ctrls.is_empty() || ctrls.starts_with("name=") {
            continue;
        }
        let Some(point) = mountinfo.lines().find_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let mut r = right.split_whitespace();
            let is_v1 = r.next()? == "cgroup";
            let opts = r.nth(1)?;
            let same = ctrls.split(',').all(|c| opts.split(',').any(|o| o == c));
            (is_v1 && same).then(|| left.split_whitespace().nth(4).map(PathBuf::from))?
        }) else {
            continue;
        };
        let dir = point.join(path.trim_start_matches('/'));
        if nix::unistd::access(&dir, nix::unistd::AccessFlags::W_OK).is_ok() {
            out.extend(ctrls.split(',').map(str::to_string));
        }
    }
    out
}

/// The cgroup mounts of a mountinfo text.
pub fn parse_mountinfo(text: &str) -> CgroupInfo {
    let mut info = CgroupInfo::default();
    for line in text.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let mount_point = left.split_whitespace().nth(4).unwrap_or("");
        let mut r = right.split_whitespace();
        let fstype = r.next().unwrap_or("");
        let super_opts = r.nth(1).unwrap_or("");
        match fstype {
            "cgroup2" if info.v2_mount.is_none() => info.v2_mount = Some(mount_point.into()),
            "cgroup" => {
                for opt in super_opts.split(',') {
                    if !matches!(opt, "rw" | "ro") && !opt.contains('=') {
                        info.v1_controllers.push(opt.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    info
}

/// The Landlock ABI version of the running kernel
/// (`landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION)`).
pub fn probe_landlock_abi() -> Result<i64, Errno> {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_ulong = 1;
    // SAFETY: with a NULL attribute pointer and size 0 this flag only asks
    // for the ABI version; no memory is read or written.
    let r = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(r)
    }
}

/// What the kernel offers of seccomp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeccompInfo {
    /// `prctl(PR_GET_SECCOMP)`: 0 none, 2 a filter already applies to us
    /// (berth runs in a container); Err when the kernel has no seccomp.
    pub mode: Result<i32, Errno>,
    /// Filters may return `SECCOMP_RET_USER_NOTIF` (Linux 5.0).
    pub user_notif: bool,
}

pub fn probe_seccomp() -> SeccompInfo {
    // SAFETY: PR_GET_SECCOMP takes no pointer arguments.
    let mode = unsafe { libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) };
    let mode = if mode < 0 {
        Err(Errno::last())
    } else {
        Ok(mode)
    };
    const SECCOMP_GET_ACTION_AVAIL: libc::c_ulong = 2;
    const SECCOMP_RET_USER_NOTIF: u32 = 0x7fc0_0000;
    let action = SECCOMP_RET_USER_NOTIF;
    // SAFETY: the kernel reads one u32 from a pointer to a live local.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_GET_ACTION_AVAIL,
            0usize,
            &action as *const u32,
        )
    };
    SeccompInfo {
        mode,
        user_notif: r == 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_for(uid: u32, gid: u32) -> Environment {
        Environment {
            uid,
            gid,
            groups: vec![],
            user: "alice".into(),
            ..Environment::host()
        }
    }

    #[test]
    fn device_access_follows_mode_and_owner() {
        let d = tempfile::tempdir().unwrap();
        let tun = d.path().join("tun");
        std::fs::write(&tun, b"").unwrap();
        let me = nix::unistd::getuid().as_raw();
        // Someone else's view of a file of ours.
        let other = env_for(me + 1, nix::unistd::getgid().as_raw() + 1);
        std::fs::set_permissions(&tun, std::fs::Permissions::from_mode(0o600)).unwrap();
        let a = probe_device(&tun, &other);
        assert!(a.exists && !a.usable, "{a:?}");
        assert_eq!(a.mode, 0o600);
        std::fs::set_permissions(&tun, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert!(probe_device(&tun, &other).usable);
        assert!(!probe_device(&d.path().join("none"), &other).exists);
    }

    #[test]
    fn mountinfo_of_a_hybrid_machine() {
        let text = "\
30 1 0:26 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755
31 30 0:27 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
32 30 0:28 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
33 30 0:29 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
34 30 0:30 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
        let info = parse_mountinfo(text);
        assert_eq!(info.v2_mount, Some(PathBuf::from("/sys/fs/cgroup/unified")));
        assert_eq!(info.v1_controllers, ["cpu", "memory"]);
    }

    #[test]
    fn this_kernel_answers_the_probes() {
        // Landlock and seccomp either answer or say why not: no panic, and
        // a version is positive.
        if let Ok(v) = probe_landlock_abi() {
            assert!(v >= 1);
        }
        if let Ok(mode) = probe_seccomp().mode {
            assert!((0..=2).contains(&mode), "{mode}");
        }
    }
}
