//! The verdicts: each takes what its probe found and says, in one line,
//! what works, and what exactly to change when something does not.

use super::probes::{CgroupInfo, DeviceAccess, SeccompInfo};
use super::{Check, Environment, Verdict};
use nix::errno::Errno;
use std::path::Path;

pub fn check_kernel(release: &str) -> Check {
    match crate::util::kernel::version_of(release) {
        Some(v) if v >= (5, 11) => Check::new(
            "kernel",
            Verdict::Ok,
            format!("Linux {release} (overlay in user namespaces needs 5.11 or later)"),
        ),
        Some(_) => Check::new(
            "kernel",
            Verdict::Fail,
            format!(
                "Linux {release} is too old: unprivileged overlay mounts need Linux 5.11 or later"
            ),
        )
        .fix("upgrade the kernel to 5.11 or later (the distribution's current kernel)"),
        None => Check::new(
            "kernel",
            Verdict::Warn,
            format!("cannot read the kernel version from {release:?}"),
        ),
    }
}

/// The AppArmor profile that lets berth create user namespaces on
/// Ubuntu 23.10 and later.
pub fn apparmor_profile(exe: &Path) -> String {
    format!(
        "abi <abi/4.0>,\ninclude <tunables/global>\nprofile berth {} flags=(unconfined) {{\n  userns,\n  include if exists <local/berth>\n}}\n",
        exe.display()
    )
}

pub fn check_userns(env: &Environment, tried: Result<(), String>) -> Check {
    let clone = env.sysctl("kernel.unprivileged_userns_clone");
    let max = env.sysctl("user.max_user_namespaces");
    let apparmor = env.sysctl("kernel.apparmor_restrict_unprivileged_userns");
    let settings = format!(
        "kernel.unprivileged_userns_clone={}, user.max_user_namespaces={}, kernel.apparmor_restrict_unprivileged_userns={}",
        clone.as_deref().unwrap_or("(absent)"),
        max.as_deref().unwrap_or("(absent)"),
        apparmor.as_deref().unwrap_or("(absent)")
    );
    if tried.is_ok() {
        return Check::new(
            "userns",
            Verdict::Ok,
            format!("unprivileged user namespaces work ({settings})"),
        );
    }
    let err = tried.unwrap_err();
    let fix = if clone.as_deref() == Some("0") {
        "sysctl -w kernel.unprivileged_userns_clone=1; echo kernel.unprivileged_userns_clone=1 > /etc/sysctl.d/90-berth.conf".to_string()
    } else if max.as_deref() == Some("0") {
        "sysctl -w user.max_user_namespaces=15000; echo user.max_user_namespaces=15000 > /etc/sysctl.d/90-berth.conf".to_string()
    } else if apparmor.as_deref() == Some("1") {
        format!(
            "install this AppArmor profile as /etc/apparmor.d/berth and load it with `apparmor_parser -r /etc/apparmor.d/berth` (or lift the restriction for everyone: sysctl -w kernel.apparmor_restrict_unprivileged_userns=0):\n{}",
            apparmor_profile(&env.exe)
        )
    } else {
        "if berth runs inside a container or sandbox, it must allow unshare(CLONE_NEWUSER) (Docker: --security-opt seccomp=unconfined --security-opt apparmor=unconfined)".to_string()
    };
    Check::new(
        "userns",
        Verdict::Fail,
        format!("creating a user namespace fails: {err} ({settings})"),
    )
    .fix(fix)
}

pub fn check_subids(env: &Environment, subuid: &str, subgid: &str) -> Check {
    if env.uid == 0 {
        return Check::new("subuid", Verdict::Ok, "root needs no subordinate ids");
    }
    let uids = crate::userns::subid::ranges_for(subuid, Some(&env.user), env.uid);
    let gids = crate::userns::subid::ranges_for(subgid, Some(&env.user), env.uid);
    let describe = |r: &[crate::userns::subid::SubRange]| {
        r.iter()
            .map(|r| format!("{} from {}", r.count, r.start))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match (uids.is_empty(), gids.is_empty()) {
        (false, false) => Check::new(
            "subuid",
            Verdict::Ok,
            format!(
                "{} has subordinate uids ({}) and gids ({}): files keep their owners",
                env.user,
                describe(&uids),
                describe(&gids)
            ),
        ),
        (u, g) => {
            let missing = match (u, g) {
                (true, true) => "/etc/subuid and /etc/subgid",
                (true, false) => "/etc/subuid",
                _ => "/etc/subgid",
            };
            Check::new(
                "subuid",
                Verdict::Warn,
                format!(
                    "{} has no range in {missing}: berth runs with a single id mapping (files of other owners in images become root's)",
                    env.user
                ),
            )
            .fix(format!(
                "usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {} (a range no other user has)",
                env.user
            ))
        }
    }
}

/// newuidmap/newgidmap: needed, installed, setuid root or with the file
/// capability.
pub fn check_id_helpers(env: &Environment, has_ranges: bool) -> Check {
    let mut problems = Vec::new();
    let mut found = Vec::new();
    for helper in ["newuidmap", "newgidmap"] {
        let path = env
            .helper_dirs
            .iter()
            .map(|d| d.join(helper))
            .find(|p| p.exists());
        match path {
            None => problems.push(format!("{helper} is not installed")),
            Some(p) => {
                use std::os::unix::fs::MetadataExt;
                let meta = std::fs::metadata(&p).ok();
                let setuid_root = meta
                    .as_ref()
                    .is_some_and(|m| m.mode() & 0o4000 != 0 && m.uid() == 0);
                let has_caps = xattr::get(&p, "security.capability")
                    .ok()
                    .flatten()
                    .is_some();
                if setuid_root || has_caps {
                    found.push(format!(
                        "{} ({})",
                        p.display(),
                        if setuid_root {
                            "setuid root"
                        } else {
                            "file capabilities"
                        }
                    ));
                } else {
                    problems.push(format!(
                        "{} is neither setuid root nor has file capabilities",
                        p.display()
                    ));
                }
            }
        }
    }
    if problems.is_empty() {
        return Check::new("idmap-helpers", Verdict::Ok, found.join(", "));
    }
    let verdict = if has_ranges && env.uid != 0 {
        // With ranges berth uses them, and cannot without the helpers.
        Verdict::Fail
    } else {
        Verdict::Note
    };
    Check::new(
        "idmap-helpers",
        verdict,
        format!(
            "{}{}",
            problems.join("; "),
            if verdict == Verdict::Fail {
                ": this user's subordinate ranges cannot be used"
            } else {
                " (needed only for users with subordinate ranges)"
            }
        ),
    )
    .fix("apt-get install uidmap (Fedora/RHEL: dnf install shadow-utils); they must be setuid root: chmod u+s /usr/bin/newuidmap /usr/bin/newgidmap")
}

pub fn check_overlay(tried: Result<(), String>) -> Check {
    match tried {
        Ok(()) => Check::new(
            "overlay",
            Verdict::Ok,
            "overlay mounts work in a user namespace, with the upper directory in the store",
        ),
        Err(e) => Check::new(
            "overlay",
            Verdict::Fail,
            format!("an overlay mount in a user namespace fails: {e}"),
        )
        .fix("put the store on a local ext4, xfs or btrfs disk (BERTH_ROOT=/var/tmp/berth-$USER); the kernel must be 5.11 or later"),
    }
}

pub fn check_device(
    name: &'static str,
    path: &Path,
    access: DeviceAccess,
    needed_for: &str,
    udev: &str,
) -> Check {
    let p = path.display();
    if !access.exists {
        return Check::new(
            name,
            Verdict::Warn,
            format!("{p} does not exist: no {needed_for}"),
        )
        .fix(format!("modprobe {name}"));
    }
    if access.usable {
        return Check::new(
            name,
            Verdict::Ok,
            format!("{p} is usable (mode {:04o})", access.mode),
        );
    }
    Check::new(
        name,
        Verdict::Warn,
        format!(
            "{p} is mode {:04o} (owner uid {}, gid {}): this user cannot open it, so no {needed_for}",
            access.mode, access.owner, access.group
        ),
    )
    .fix(format!(
        "chmod 0666 {p}, and to keep it after reboots a udev rule: echo '{udev}' > /etc/udev/rules.d/99-berth.rules"
    ))
}

const DELEGATE_FIX: &str = "boot with cgroup v2 only (kernel parameter systemd.unified_cgroup_hierarchy=1, or cgroup_no_v1=all without systemd) and delegate controllers to users: mkdir -p /etc/systemd/system/user@.service.d && printf '[Service]\\nDelegate=cpu cpuset io memory pids\\n' > /etc/systemd/system/user@.service.d/delegate.conf && systemctl daemon-reload";

pub fn check_cgroups(info: &CgroupInfo) -> Check {
    let limits = ["cpu", "memory", "pids"];
    let v1_limits_writable = !info.v1_controllers.is_empty()
        && limits.iter().all(|c| {
            !info.v1_controllers.iter().any(|x| x == c) || info.v1_writable.iter().any(|x| x == c)
        });
    if v1_limits_writable {
        // Root (or a user given v1 cgroups) on a v1 or hybrid machine.
        let pause = if info.v2_mount.is_some() && info.delegated {
            "; pause uses the cgroup v2 freezer"
        } else {
            "; pause needs cgroup v2, which is not writable here"
        };
        return Check::new(
            "cgroups",
            Verdict::Ok,
            format!(
                "cgroup v1 hierarchies of {} are writable by this user: resource limits apply there{pause}",
                info.v1_writable.join(" ")
            ),
        );
    }
    let Some(mount) = &info.v2_mount else {
        return Check::new(
            "cgroups",
            Verdict::Warn,
            format!(
                "cgroup v1 only (controllers {}): resource limits (--memory, --cpus, --pids-limit) and pause cannot be applied",
                info.v1_controllers.join(" ")
            ),
        )
        .fix(DELEGATE_FIX);
    };
    let controllers = if info.controllers.is_empty() {
        "none".to_string()
    } else {
        info.controllers.join(" ")
    };
    if !info.v1_controllers.is_empty() {
        return Check::new(
            "cgroups",
            Verdict::Warn,
            format!(
                "cgroup v1 hybrid: v1 hierarchies hold {}; cgroup v2 at {} has controllers: {controllers}; resource limits (--memory, --cpus, --pids-limit) cannot be applied",
                info.v1_controllers.join(" "),
                mount.display()
            ),
        )
        .fix(DELEGATE_FIX);
    }
    let own = info.own.as_deref().unwrap_or("?");
    if !info.delegated {
        return Check::new(
            "cgroups",
            Verdict::Warn,
            format!(
                "cgroup v2 ({controllers}), but this user's cgroup {own} is not delegated: limits and pause are not applied"
            ),
        )
        .fix("log in through systemd-logind (a user session) or delegate: mkdir -p /etc/systemd/system/user@.service.d && printf '[Service]\\nDelegate=cpu cpuset io memory pids\\n' > /etc/systemd/system/user@.service.d/delegate.conf && systemctl daemon-reload");
    }
    let missing: Vec<&str> = ["cpu", "memory", "pids"]
        .into_iter()
        .filter(|c| !info.controllers.iter().any(|x| x == c))
        .collect();
    if missing.is_empty() {
        Check::new(
            "cgroups",
            Verdict::Ok,
            format!("cgroup v2, delegated at {own}: {controllers}"),
        )
    } else {
        Check::new(
            "cgroups",
            Verdict::Warn,
            format!(
                "cgroup v2, delegated at {own} with {controllers}; missing {}: those limits are not applied",
                missing.join(" ")
            ),
        )
        .fix("printf '[Service]\\nDelegate=cpu cpuset io memory pids\\n' > /etc/systemd/system/user@.service.d/delegate.conf && systemctl daemon-reload")
    }
}

pub fn check_runtime_dir(_env: &Environment, store: &crate::store::Store) -> Check {
    let xdg = std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty());
    let choice = crate::store::rundir::choose(&crate::store::rundir::Inputs {
        xdg_runtime_dir: xdg.as_deref(),
        tmp: Path::new("/tmp"),
        host_uid: crate::store::host_uid(),
        store_root: store.root(),
    });
    let xdg_text = match &xdg {
        Some(x) => format!("XDG_RUNTIME_DIR={}", Path::new(x).display()),
        None => "XDG_RUNTIME_DIR is not set".to_string(),
    };
    match crate::store::rundir::warning(&choice) {
        None => Check::new(
            "runtime-dir",
            Verdict::Ok,
            format!(
                "{xdg_text}; runtime directory {} (private, 0700)",
                choice.path.display()
            ),
        ),
        Some(w) => Check::new("runtime-dir", Verdict::Warn, format!("{xdg_text}; {w}")),
    }
}

pub fn check_store(store: &crate::store::Store) -> Check {
    use crate::store::fstype;
    let root = store.root();
    let Some(st) = fstype::probe(root) else {
        return Check::new(
            "store",
            Verdict::Warn,
            format!("cannot statfs the store {}", root.display()),
        );
    };
    let info = fstype::classify(st.magic);
    let free = crate::util::humanize::human_size(st.available);
    let summary = format!(
        "store {} on {} with {free} free",
        root.display(),
        fstype::display_name(&info)
    );
    if info.kind == fstype::FsKind::Network {
        return Check::new(
            "store",
            Verdict::Warn,
            format!("{summary}: {}", fstype::network_consequences(&info)),
        )
        .fix("BERTH_ROOT=/var/tmp/berth-$USER (node-local disk); share images read-only with BERTH_IMAGE_STORES");
    }
    if st.available < 1 << 30 {
        return Check::new(
            "store",
            Verdict::Warn,
            format!("{summary}: less than 1 GB left for images and containers"),
        )
        .fix("free space (berth image prune -a, berth container prune) or move the store (BERTH_ROOT)");
    }
    let stores = store.image_stores();
    let extra = if stores.is_empty() {
        String::new()
    } else {
        format!(
            "; read-only image stores: {}",
            stores
                .iter()
                .map(|s| s.root.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    Check::new("store", Verdict::Ok, format!("{summary}{extra}"))
}

/// `net.ipv4.ping_group_range = "low high"`: who may use ICMP sockets.
pub fn check_ping(env: &Environment, range: Option<String>) -> Check {
    let Some(range) = range else {
        return Check::new(
            "ping",
            Verdict::Note,
            "net.ipv4.ping_group_range is not readable",
        );
    };
    let mut it = range.split_whitespace().map(|n| n.parse::<u64>().ok());
    let (lo, hi) = match (it.next().flatten(), it.next().flatten()) {
        (Some(lo), Some(hi)) => (lo, hi),
        _ => {
            return Check::new(
                "ping",
                Verdict::Note,
                format!("net.ipv4.ping_group_range = {range:?} is not two numbers"),
            )
        }
    };
    // In the container, the user's gid is 0 of berth's namespace: the
    // host sees the user's own gid.
    let gid = u64::from(env.gid);
    if lo <= gid && gid <= hi {
        Check::new(
            "ping",
            Verdict::Ok,
            format!("net.ipv4.ping_group_range = {lo} {hi}: ping works in containers"),
        )
    } else {
        Check::new(
            "ping",
            Verdict::Note,
            format!(
                "net.ipv4.ping_group_range = {lo} {hi} excludes gid {gid}: ping (ICMP echo sockets) fails in containers"
            ),
        )
        .fix("sysctl -w net.ipv4.ping_group_range='0 2147483647' (and in /etc/sysctl.d/90-berth.conf)")
    }
}

pub fn check_ports(start: Option<String>) -> Check {
    match start.as_deref().and_then(|s| s.parse::<u32>().ok()) {
        Some(0) => Check::new(
            "ports",
            Verdict::Ok,
            "net.ipv4.ip_unprivileged_port_start = 0: any port can be published",
        ),
        Some(p) => Check::new(
            "ports",
            Verdict::Note,
            format!(
                "net.ipv4.ip_unprivileged_port_start = {p}: host ports below {p} cannot be published (-p 80:80 fails; -p 8080:80 works)"
            ),
        )
        .fix("sysctl -w net.ipv4.ip_unprivileged_port_start=80 (and in /etc/sysctl.d/90-berth.conf)"),
        None => Check::new(
            "ports",
            Verdict::Note,
            "net.ipv4.ip_unprivileged_port_start is not readable",
        ),
    }
}

/// What each Landlock ABI adds, for the verdict line.
pub fn landlock_features(abi: i64) -> &'static str {
    match abi {
        1 => "filesystem rules",
        2 => "filesystem rules with rename/link",
        3 => "filesystem rules with truncate",
        4 => "filesystem and TCP bind/connect rules",
        5 => "filesystem, TCP and device ioctl rules",
        _ => "filesystem, TCP, ioctl rules and scoping of signals and abstract sockets",
    }
}

pub fn check_landlock(abi: Result<i64, Errno>) -> Check {
    match abi {
        Ok(v) => Check::new(
            "landlock",
            Verdict::Ok,
            format!("Landlock ABI {v}: {}", landlock_features(v)),
        ),
        Err(Errno::EOPNOTSUPP) => Check::new(
            "landlock",
            Verdict::Warn,
            "Landlock is built into the kernel but not enabled: berth sandbox and --landlock have no kernel-enforced file rules",
        )
        .fix("add landlock to the kernel's lsm= boot parameter (e.g. lsm=landlock,lockdown,yama,apparmor,bpf) and reboot"),
        Err(e) => Check::new(
            "landlock",
            Verdict::Warn,
            format!("Landlock is not available ({e}): berth sandbox and --landlock have no kernel-enforced file rules"),
        )
        .fix("a kernel 5.13 or later with CONFIG_SECURITY_LANDLOCK=y and landlock in lsm="),
    }
}

pub fn check_seccomp(info: SeccompInfo) -> Check {
    let notif = if info.user_notif {
        "with user notification"
    } else {
        "without user notification (Linux 5.0+): root emulation for users without subordinate ids is limited"
    };
    match info.mode {
        Ok(0) => Check::new(
            "seccomp",
            Verdict::Ok,
            format!("seccomp filters are available, {notif}"),
        ),
        Ok(2) => Check::new(
            "seccomp",
            Verdict::Note,
            format!("seccomp filters are available ({notif}); a filter already applies to berth itself (is it in a container?)"),
        ),
        Ok(m) => Check::new(
            "seccomp",
            Verdict::Warn,
            format!("berth runs in seccomp mode {m}"),
        ),
        Err(e) => Check::new(
            "seccomp",
            Verdict::Warn,
            format!("seccomp is not available ({e}): containers run without a system call filter"),
        )
        .fix("a kernel with CONFIG_SECCOMP_FILTER=y"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_with_sysctls(values: &[(&str, &str)]) -> (tempfile::TempDir, Environment) {
        let d = tempfile::tempdir().unwrap();
        for (k, v) in values {
            let p = d.path().join(k.replace('.', "/"));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, v).unwrap();
        }
        let env = Environment {
            proc_sys: d.path().to_path_buf(),
            uid: 1001,
            gid: 1001,
            groups: vec![],
            user: "alice".into(),
            exe: "/usr/local/bin/berth".into(),
            ..Environment::host()
        };
        (d, env)
    }

    #[test]
    fn kernel_versions() {
        assert_eq!(check_kernel("5.10.0-28").verdict, Verdict::Fail);
        assert_eq!(check_kernel("6.18.44-fc").verdict, Verdict::Ok);
    }

    #[test]
    fn userns_fixes_name_the_sysctl_or_the_apparmor_profile() {
        let (_d, env) = env_with_sysctls(&[("kernel.unprivileged_userns_clone", "0\n")]);
        let c = check_userns(&env, Err("EPERM".into()));
        assert_eq!(c.verdict, Verdict::Fail);
        assert!(c
            .fix
            .unwrap()
            .contains("kernel.unprivileged_userns_clone=1"));
        let (_d, env) = env_with_sysctls(&[("kernel.apparmor_restrict_unprivileged_userns", "1")]);
        let c = check_userns(&env, Err("EACCES".into()));
        let fix = c.fix.unwrap();
        assert!(fix.contains("profile berth /usr/local/bin/berth"), "{fix}");
        assert!(fix.contains("userns,"), "{fix}");
        assert!(
            fix.contains("apparmor_parser -r /etc/apparmor.d/berth"),
            "{fix}"
        );
        let (_d, env) = env_with_sysctls(&[("user.max_user_namespaces", "0")]);
        assert!(check_userns(&env, Err("ENOSPC".into()))
            .fix
            .unwrap()
            .contains("user.max_user_namespaces=15000"));
        let (_d, env) = env_with_sysctls(&[("user.max_user_namespaces", "96364")]);
        let c = check_userns(&env, Ok(()));
        assert_eq!(c.verdict, Verdict::Ok);
        assert!(c.summary.contains("user.max_user_namespaces=96364"));
    }

    #[test]
    fn subids_with_and_without_ranges() {
        let (_d, env) = env_with_sysctls(&[]);
        let ok = check_subids(&env, "alice:100000:65536\n", "alice:100000:65536\n");
        assert_eq!(ok.verdict, Verdict::Ok);
        assert!(ok.summary.contains("65536 from 100000"));
        let none = check_subids(&env, "bob:100000:65536\n", "alice:100000:65536\n");
        assert_eq!(none.verdict, Verdict::Warn);
        assert!(none.summary.contains("no range in /etc/subuid"));
        assert!(none.fix.unwrap().contains("usermod --add-subuids"));
    }

    #[test]
    fn missing_helpers_fail_only_users_with_ranges() {
        let (d, mut env) = env_with_sysctls(&[]);
        env.helper_dirs = vec![d.path().to_path_buf()];
        assert_eq!(check_id_helpers(&env, true).verdict, Verdict::Fail);
        assert_eq!(check_id_helpers(&env, false).verdict, Verdict::Note);
        // Present but not setuid.
        for h in ["newuidmap", "newgidmap"] {
            std::fs::write(d.path().join(h), b"").unwrap();
        }
        let c = check_id_helpers(&env, true);
        assert!(c.summary.contains("neither setuid root"), "{}", c.summary);
    }

    #[test]
    fn devices_say_what_is_lost_and_the_udev_rule() {
        let closed = DeviceAccess {
            exists: true,
            mode: 0o600,
            owner: 0,
            group: 0,
            usable: false,
        };
        let c = check_device(
            "tun",
            Path::new("/dev/net/tun"),
            closed.clone(),
            "networks",
            "KERNEL==\"tun\", MODE=\"0666\"",
        );
        assert_eq!(c.verdict, Verdict::Warn);
        assert!(c.summary.contains("mode 0600"), "{}", c.summary);
        assert!(c.fix.unwrap().contains("chmod 0666 /dev/net/tun"));
        let open = DeviceAccess {
            mode: 0o666,
            usable: true,
            ..closed
        };
        assert_eq!(
            check_device("tun", Path::new("/dev/net/tun"), open, "x", "y").verdict,
            Verdict::Ok
        );
    }

    #[test]
    fn a_hybrid_cgroup_machine_is_described_precisely() {
        let info = CgroupInfo {
            v2_mount: Some("/sys/fs/cgroup/unified".into()),
            v1_controllers: vec!["cpu".into(), "memory".into(), "pids".into()],
            own: Some("/".into()),
            controllers: vec!["hugetlb".into()],
            delegated: false,
            v1_writable: vec![],
        };
        let c = check_cgroups(&info);
        assert_eq!(c.verdict, Verdict::Warn);
        assert!(c.summary.contains("cgroup v1 hybrid"), "{}", c.summary);
        assert!(
            c.summary
                .contains("/sys/fs/cgroup/unified has controllers: hugetlb"),
            "{}",
            c.summary
        );
        assert!(c
            .fix
            .unwrap()
            .contains("systemd.unified_cgroup_hierarchy=1"));
        let delegated = CgroupInfo {
            v2_mount: Some("/sys/fs/cgroup".into()),
            v1_controllers: vec![],
            own: Some("/user.slice/user-1000.slice/user@1000.service".into()),
            controllers: vec!["cpu".into(), "memory".into(), "pids".into()],
            delegated: true,
            v1_writable: vec![],
        };
        assert_eq!(check_cgroups(&delegated).verdict, Verdict::Ok);
        // Root on the hybrid machine: the v1 hierarchies take the limits.
        let root = CgroupInfo {
            v1_writable: vec!["cpu".into(), "memory".into(), "pids".into()],
            delegated: true,
            ..info
        };
        let c = check_cgroups(&root);
        assert_eq!(c.verdict, Verdict::Ok);
        assert!(
            c.summary
                .contains("resource limits apply there; pause uses the cgroup v2 freezer"),
            "{}",
            c.summary
        );
    }

    #[test]
    fn ping_and_ports() {
        let (_d, env) = env_with_sysctls(&[]);
        assert_eq!(check_ping(&env, Some("1\t0".into())).verdict, Verdict::Note);
        assert_eq!(
            check_ping(&env, Some("0 2147483647".into())).verdict,
            Verdict::Ok
        );
        let p = check_ports(Some("1024".into()));
        assert!(p.summary.contains("below 1024"));
        assert_eq!(check_ports(Some("0".into())).verdict, Verdict::Ok);
    }

    #[test]
    fn landlock_and_seccomp_verdicts() {
        assert_eq!(check_landlock(Ok(6)).verdict, Verdict::Ok);
        assert!(check_landlock(Err(Errno::EOPNOTSUPP))
            .fix
            .unwrap()
            .contains("lsm="));
        assert_eq!(
            check_seccomp(SeccompInfo {
                mode: Ok(0),
                user_notif: true
            })
            .verdict,
            Verdict::Ok
        );
        assert_eq!(
            check_seccomp(SeccompInfo {
                mode: Err(Errno::EINVAL),
                user_notif: false
            })
            .verdict,
            Verdict::Warn
        );
    }

    #[test]
    fn a_failed_check_means_no_containers() {
        let r = super::super::Report::new(vec![
            Check::new("a", Verdict::Ok, ""),
            Check::new("b", Verdict::Warn, ""),
        ]);
        assert!(r.can_run_containers);
        let r = super::super::Report::new(vec![Check::new("a", Verdict::Fail, "")]);
        assert!(!r.can_run_containers);
    }
}
