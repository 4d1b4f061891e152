//! `berth doctor`: what this machine lets an unprivileged user do, each
//! check with a one-line verdict and, where something is missing, the
//! exact change an administrator makes.
//!
//! The probes live here (the CLI only formats the [`Report`]); every path
//! they read is in [`Environment`], so that tests can point a check at
//! files of their own (a `/dev/net/tun` stand-in with mode 0600 or 0666).
//! Each check is a function from what it read to a [`Check`], most of
//! them pure.

mod checks;
mod probes;

pub use checks::*;
pub use probes::*;

use serde::Serialize;
use std::path::PathBuf;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Works.
    Ok,
    /// Worth knowing; nothing berth does is affected.
    Note,
    /// A feature is unavailable or degraded; containers still run.
    Warn,
    /// berth cannot run containers until this is fixed.
    Fail,
}

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Stable short name (`userns`, `subuid`, `tun`, ...), for scripts.
    pub name: &'static str,
    pub verdict: Verdict,
    /// One line: what was found.
    pub summary: String,
    /// What an administrator (or the user) does about it, when anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    pub fn new(name: &'static str, verdict: Verdict, summary: impl Into<String>) -> Check {
        Check {
            name,
            verdict,
            summary: summary.into(),
            fix: None,
        }
    }

    pub fn fix(mut self, fix: impl Into<String>) -> Check {
        self.fix = Some(fix.into());
        self
    }
}

/// Every check, in the order shown.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// False when any check failed.
    pub can_run_containers: bool,
    pub checks: Vec<Check>,
}

impl Report {
    pub fn new(checks: Vec<Check>) -> Report {
        Report {
            can_run_containers: checks.iter().all(|c| c.verdict != Verdict::Fail),
            checks,
        }
    }
}

/// Where the checks look, and who they check for.
#[derive(Debug, Clone)]
pub struct Environment {
    /// `/proc/sys`.
    pub proc_sys: PathBuf,
    pub subuid: PathBuf,
    pub subgid: PathBuf,
    pub dev_fuse: PathBuf,
    pub dev_tun: PathBuf,
    /// `/proc/self/mountinfo`.
    pub mountinfo: PathBuf,
    /// `/proc/self/cgroup`.
    pub self_cgroup: PathBuf,
    /// Directories searched for newuidmap and newgidmap.
    pub helper_dirs: Vec<PathBuf>,
    /// The user on the host.
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub user: String,
    /// This berth's path, for the AppArmor profile.
    pub exe: PathBuf,
}

impl Environment {
    /// The real machine and the calling user.
    pub fn host() -> Environment {
        let uid = nix::unistd::getuid().as_raw();
        let gid = nix::unistd::getgid().as_raw();
        let user = crate::util::passwd::user_name(uid).unwrap_or_else(|| uid.to_string());
        let groups = nix::unistd::getgroups()
            .map(|g| g.into_iter().map(|g| g.as_raw()).collect())
            .unwrap_or_default();
        Environment {
            proc_sys: "/proc/sys".into(),
            subuid: "/etc/subuid".into(),
            subgid: "/etc/subgid".into(),
            dev_fuse: "/dev/fuse".into(),
            dev_tun: "/dev/net/tun".into(),
            mountinfo: "/proc/self/mountinfo".into(),
            self_cgroup: "/proc/self/cgroup".into(),
            helper_dirs: ["/usr/bin", "/bin", "/usr/sbin", "/usr/local/bin"]
                .iter()
                .map(PathBuf::from)
                .collect(),
            uid,
            gid,
            groups,
            user,
            exe: std::env::current_exe().unwrap_or_else(|_| "/usr/local/bin/berth".into()),
        }
    }

    fn sysctl(&self, name: &str) -> Option<String> {
        let path = self.proc_sys.join(name.replace('.', "/"));
        std::fs::read_to_string(path)
            .ok()
            .map(|s| s.trim().to_string())
    }
}

/// Runs every check for the store at `store_root` (opened by the caller).
pub fn run(env: &Environment, store: &crate::store::Store) -> Report {
    let kernel = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut checks = vec![check_kernel(&kernel), check_userns(env, probe_userns())];
    let subuid = std::fs::read_to_string(&env.subuid).unwrap_or_default();
    let subgid = std::fs::read_to_string(&env.subgid).unwrap_or_default();
    let has_ranges = env.uid == 0
        || (!crate::userns::subid::ranges_for(&subuid, Some(&env.user), env.uid).is_empty()
            && !crate::userns::subid::ranges_for(&subgid, Some(&env.user), env.uid).is_empty());
    checks.push(check_subids(env, &subuid, &subgid));
    checks.push(check_id_helpers(env, has_ranges));
    checks.push(check_overlay(probe_overlay(store)));
    checks.push(check_device(
        "fuse",
        &env.dev_fuse,
        probe_device(&env.dev_fuse, env),
        "FUSE filesystems inside containers (sshfs, squashfuse)",
        "KERNEL==\"fuse\", MODE=\"0666\"",
    ));
    checks.push(check_device(
        "tun",
        &env.dev_tun,
        probe_device(&env.dev_tun, env),
        "user-mode networking (-p port publishing, networks where containers reach each other by name)",
        "KERNEL==\"tun\", MODE=\"0666\"",
    ));
    checks.push(check_cgroups(&probe_cgroups(env)));
    checks.push(check_runtime_dir(env, store));
    checks.push(check_store(store));
    checks.push(check_ping(env, env.sysctl("net.ipv4.ping_group_range")));
    checks.push(check_ports(
        env.sysctl("net.ipv4.ip_unprivileged_port_start"),
    ));
    checks.push(check_landlock(probe_landlock_abi()));
    checks.push(check_seccomp(probe_seccomp()));
    Report::new(checks)
}
