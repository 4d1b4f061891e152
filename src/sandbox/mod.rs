//! `berth sandbox`: a host command run isolated, for one-off runs of
//! untrusted code (a build script, a downloaded tool).
//!
//! What the command gets, by default:
//! - the host's root filesystem read-only, the working directory writable;
//! - a private, empty and writable `/tmp`, `/dev/shm`, `$HOME` and
//!   `$XDG_RUNTIME_DIR` (the user's files and session sockets are hidden;
//!   what the command writes there is gone when it ends);
//! - `--rw`, `--ro`, `--hide` PATH to change that; the deepest rule
//!   decides, as with mounts;
//! - no network but loopback (`--network none`), or the host's;
//! - new user, mount, pid, ipc and uts namespaces; no capabilities;
//!   no_new_privs; Docker's default seccomp profile (plus TIOCSTI denied,
//!   since the command shares the terminal);
//! - a Landlock ruleset enforcing the same filesystem rules in the kernel,
//!   TCP bind/connect limited to `--allow-port` ports (ABI 4), abstract
//!   unix sockets and signals scoped to the sandbox (ABI 6).
//!
//! Where user namespaces are refused, the sandbox runs with Landlock,
//! seccomp and no_new_privs alone (see [`fallback`]) and says what it
//! could not add; without Landlock either it refuses to run, having no
//! way left to keep the filesystem rules.
//!
//! Processes: berth (P0) unshares the namespaces and maps the user to
//! itself; its child P1 is pid 1 of the new pid namespace, sets up the
//! mounts and stays as a reaper; P1's child P2 drops capabilities,
//! enforces Landlock, no_new_privs and seccomp, and execs the command.
//! The exit status is the command's (128 + signal when killed); berth's
//! own failures are 125, a command that cannot run 126, not found 127.

mod fallback;
pub mod image;
mod mounts;
mod process;

use crate::landlock;
use crate::seccomp;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// How the command reaches the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    /// A network namespace of its own with loopback only.
    None,
    /// The host's network.
    Host,
}

/// What happens to a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Readable, writable, executable.
    ReadWrite,
    /// Readable and executable.
    ReadOnly,
    /// Not there at all (an empty, read-only directory or an empty file).
    Hidden,
    /// A private, empty, writable directory in place of the host's.
    Scratch,
}

/// One path rule. Paths are absolute and canonical.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathRule {
    pub path: PathBuf,
    pub access: Access,
}

/// Everything `sandbox` needs, decided before any namespace exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The program and its arguments.
    pub command: Vec<String>,
    /// The working directory (the command starts there).
    pub cwd: PathBuf,
    /// Path rules, the defaults (cwd writable, private /tmp, ...) merged
    /// with the user's; at most one per path.
    pub paths: Vec<PathRule>,
    pub network: Network,
    /// TCP ports bind and connect are limited to (None: not limited).
    pub allow_ports: Option<Vec<u16>>,
}

/// The user's flags.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub command: Vec<String>,
    pub read_write: Vec<PathBuf>,
    pub read_only: Vec<PathBuf>,
    pub hide: Vec<PathBuf>,
    /// `none`, `host`, or `default` (the userspace network, not built yet).
    pub network: String,
    pub allow_ports: Vec<u16>,
}

fn canonical(path: &Path, flag: &str) -> Result<PathBuf> {
    std::fs::canonicalize(path)
        .with_context(|| format!("{flag} {}: the path must exist", path.display()))
}

/// The private directories every sandbox gets, when they exist here.
fn scratch_defaults() -> Vec<PathBuf> {
    let mut out = vec![PathBuf::from("/tmp"), PathBuf::from("/dev/shm")];
    for var in ["HOME", "XDG_RUNTIME_DIR"] {
        if let Some(v) = std::env::var_os(var).filter(|v| !v.is_empty()) {
            out.push(PathBuf::from(v));
        }
    }
    out.into_iter()
        .filter_map(|p| std::fs::canonicalize(p).ok())
        .filter(|p| p != Path::new("/"))
        .collect()
}

impl Plan {
    /// Checks the user's flags and merges them with the defaults.
    pub fn new(req: &Request) -> Result<Plan> {
        if req.command.is_empty() {
            bail!("sandbox needs a command: berth sandbox [OPTIONS] -- COMMAND [ARGS...]");
        }
        let network = match req.network.as_str() {
            "none" | "" => Network::None,
            "host" => Network::Host,
            "default" | "bridge" => bail!(
                "--network {}: berth's userspace network does not exist yet; use --network none \
                 (the default: loopback only) or --network host",
                req.network
            ),
            other => bail!("--network {other}: unknown network; use none or host"),
        };
        let cwd = std::env::current_dir()
            .context("reading the working directory")
            .and_then(|d| canonical(&d, "the working directory"))?;
        let mut user: Vec<PathRule> = Vec::new();
        for (list, access, flag) in [
            (&req.read_write, Access::ReadWrite, "--rw"),
            (&req.read_only, Access::ReadOnly, "--ro"),
            (&req.hide, Access::Hidden, "--hide"),
        ] {
            for p in list {
                let path = canonical(p, flag)?;
                if path == Path::new("/") && access != Access::ReadOnly {
                    bail!("{flag} /: the root itself cannot be made writable or hidden");
                }
                if let Some(prev) = user.iter().find(|r| r.path == path) {
                    if prev.access != access {
                        bail!(
                            "{} is given twice, with {flag} and as {:?}: say it once",
                            path.display(),
                            prev.access
                        );
                    }
                    continue;
                }
                user.push(PathRule { path, access });
            }
        }
        let mut paths = user.clone();
        let mut add_default = |path: PathBuf, access: Access| {
            if !paths.iter().any(|r| r.path == path) {
                paths.push(PathRule { path, access });
            }
        };
        // The working directory wins over a private default at the same
        // place (running in $HOME makes $HOME writable, not scratch).
        add_default(cwd.clone(), Access::ReadWrite);
        for p in scratch_defaults() {
            add_default(p, Access::Scratch);
        }
        let allow_ports = (!req.allow_ports.is_empty()).then(|| req.allow_ports.clone());
        Ok(Plan {
            command: req.command.clone(),
            cwd,
            paths,
            network,
            allow_ports,
        })
    }

    /// The Landlock rules for the filesystem as the command will see it
    /// (`mounted`: after the sandbox's mounts, where private directories are
    /// tmpfs and hidden ones are empty; otherwise the host's, where both
    /// must be denied). `private_tmp` is the directory standing in for /tmp
    /// without mounts.
    pub fn landlock_rules(&self, mounted: bool, private_tmp: Option<&Path>) -> landlock::Rules {
        let mut rules = landlock::Rules {
            execute: vec![PathBuf::from("/")],
            tcp_ports: self.allow_ports.clone(),
            scope_abstract_unix: true,
            scope_signals: true,
            ..landlock::Rules::default()
        };
        for r in &self.paths {
            match (r.access, mounted) {
                (Access::ReadWrite, _) | (Access::Scratch, true) => {
                    rules.read_write.push(r.path.clone());
                    rules.execute.push(r.path.clone());
                }
                (Access::ReadOnly, _) => rules.execute.push(r.path.clone()),
                (Access::Hidden, _) | (Access::Scratch, false) => rules.hidden.push(r.path.clone()),
            }
        }
        if !mounted {
            // Shared temporary directories hold other programs' sockets
            // and files: hidden, with the private one in their place.
            for p in ["/tmp", "/var/tmp", "/dev/shm"] {
                let p = PathBuf::from(p);
                if p.exists()
                    && !rules.hidden.contains(&p)
                    && !self
                        .paths
                        .iter()
                        .any(|r| r.path == p && r.access != Access::Scratch)
                {
                    rules.hidden.push(p);
                }
            }
            if let Some(t) = private_tmp {
                rules.read_write.push(t.to_path_buf());
                rules.execute.push(t.to_path_buf());
            }
        }
        for dev in DEVICES {
            let p = Path::new(dev);
            if p.exists() {
                rules.read_write.push(p.to_path_buf());
                rules.execute.push(p.to_path_buf());
            }
        }
        rules
    }
}

/// Devices every program may use.
const DEVICES: [&str; 8] = [
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
    "/dev/tty",
    "/dev/ptmx",
    "/dev/pts",
];

/// The seccomp filter of the command: Docker's default profile for a
/// process without capabilities, TIOCSTI denied, and IPv4/IPv6 sockets
/// denied where only seccomp can keep `--network none`.
fn seccomp_filter(deny_inet: bool) -> Result<seccomp::Filter> {
    let options = seccomp::Options {
        no_tty_injection: true,
        no_inet_sockets: deny_inet,
        ..seccomp::Options::default()
    };
    seccomp::build(
        &seccomp::default_profile(),
        seccomp::CapMask::default(),
        &options,
    )
}

/// Runs the plan; returns the exit status to end with.
pub fn run(plan: &Plan) -> Result<i32> {
    let landlock_abi = landlock::abi();
    let mut warnings = Vec::new();
    match process::enter_namespaces(plan.network) {
        Ok(()) => {
            let filter = seccomp_filter(false)?;
            if let (Some(_), true) = (&plan.allow_ports, landlock_abi < 4) {
                warnings.push(format!(
                    "--allow-port is not enforced: this kernel's Landlock (ABI {landlock_abi}) has \
                     no TCP rules (ABI 4, Linux 6.7)"
                ));
            }
            if landlock_abi == 0 {
                warnings.push(
                    "Landlock is not available on this kernel: the filesystem rules are kept by \
                     mounts only"
                        .into(),
                );
            } else {
                let expected =
                    landlock::expected_report(&plan.landlock_rules(true, None), landlock_abi);
                // --allow-port's own warning above says it for TCP.
                for missing in expected
                    .missing
                    .into_iter()
                    .filter(|m| !m.starts_with("TCP"))
                {
                    warnings.push(format!("Landlock on this kernel cannot enforce {missing}"));
                }
            }
            for w in &warnings {
                crate::util::report::warning(&format!("berth sandbox: {w}"));
            }
            process::run_in_namespaces(plan, &filter)
        }
        Err(why) => fallback::run(plan, &why, landlock_abi),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(command: &[&str]) -> Request {
        Request {
            command: command.iter().map(|s| s.to_string()).collect(),
            network: "none".into(),
            ..Request::default()
        }
    }

    fn access_of(plan: &Plan, path: &Path) -> Option<Access> {
        plan.paths.iter().find(|r| r.path == path).map(|r| r.access)
    }

    #[test]
    fn defaults_make_cwd_writable_and_tmp_private() {
        let plan = Plan::new(&request(&["true"])).unwrap();
        let cwd = std::fs::canonicalize(std::env::current_dir().unwrap()).unwrap();
        assert_eq!(plan.cwd, cwd);
        assert_eq!(access_of(&plan, &cwd), Some(Access::ReadWrite));
        if cwd != Path::new("/tmp") {
            assert_eq!(access_of(&plan, Path::new("/tmp")), Some(Access::Scratch));
        }
        assert_eq!(plan.network, Network::None);
        assert_eq!(plan.allow_ports, None);
    }

    #[test]
    fn user_rules_override_defaults_and_conflicts_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let d = std::fs::canonicalize(dir.path()).unwrap();
        let mut req = request(&["true"]);
        req.read_only = vec![d.clone(), PathBuf::from("/tmp")];
        req.allow_ports = vec![443];
        let plan = Plan::new(&req).unwrap();
        assert_eq!(access_of(&plan, &d), Some(Access::ReadOnly));
        assert_eq!(access_of(&plan, Path::new("/tmp")), Some(Access::ReadOnly));
        assert_eq!(plan.allow_ports, Some(vec![443]));
        req.hide = vec![d.clone()];
        let err = format!("{:#}", Plan::new(&req).unwrap_err());
        assert!(err.contains("given twice"), "{err}");
        let mut req = request(&["true"]);
        req.read_write = vec![PathBuf::from("/")];
        assert!(Plan::new(&req).is_err());
        req.read_write = vec![d.join("missing")];
        let err = format!("{:#}", Plan::new(&req).unwrap_err());
        assert!(err.contains("--rw") && err.contains("missing"), "{err}");
    }

    #[test]
    fn networks() {
        let mut req = request(&["true"]);
        for (name, want) in [("host", Network::Host), ("none", Network::None)] {
            req.network = name.into();
            assert_eq!(Plan::new(&req).unwrap().network, want);
        }
        req.network = "default".into();
        let err = format!("{:#}", Plan::new(&req).unwrap_err());
        assert!(err.contains("does not exist yet"), "{err}");
        req.network = "bogus".into();
        assert!(format!("{:#}", Plan::new(&req).unwrap_err()).contains("unknown network"));
        assert!(Plan::new(&request(&[])).is_err());
    }

    #[test]
    fn landlock_rules_follow_the_plan() {
        let plan = Plan {
            command: vec!["true".into()],
            cwd: PathBuf::from("/work"),
            paths: vec![
                PathRule {
                    path: "/work".into(),
                    access: Access::ReadWrite,
                },
                PathRule {
                    path: "/work/vendor".into(),
                    access: Access::ReadOnly,
                },
                PathRule {
                    path: "/home/u".into(),
                    access: Access::Scratch,
                },
                PathRule {
                    path: "/secret".into(),
                    access: Access::Hidden,
                },
            ],
            network: Network::None,
            allow_ports: Some(vec![80]),
        };
        let mounted = plan.landlock_rules(true, None);
        assert!(mounted.read_write.contains(&"/home/u".into()));
        assert!(mounted.read_write.contains(&"/work".into()));
        assert!(!mounted.read_write.contains(&"/work/vendor".into()));
        assert!(mounted.execute.contains(&"/work/vendor".into()));
        assert_eq!(mounted.hidden, vec![PathBuf::from("/secret")]);
        assert_eq!(mounted.tcp_ports, Some(vec![80]));
        assert!(mounted.scope_signals && mounted.scope_abstract_unix);
        // Without mounts, private directories cannot exist: hidden instead,
        // with the shared temporary directories, and the private /tmp
        // writable.
        let bare = plan.landlock_rules(false, Some(Path::new("/tmp/berth-sandbox-x")));
        assert!(bare.hidden.contains(&"/home/u".into()));
        assert!(bare.hidden.contains(&"/tmp".into()));
        assert!(bare.read_write.contains(&"/tmp/berth-sandbox-x".into()));
    }
}
