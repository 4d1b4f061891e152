//! Landlock: kernel-enforced access rules that a process puts on itself
//! (and on everything it runs), with no privilege, built from plain rules.
//!
//! [`Rules`] says which paths may be read, written or executed, which
//! paths beneath those are hidden, which TCP ports may be bound or
//! connected to, and whether abstract unix sockets and signals are scoped
//! to the sandbox. [`prepare`] turns them into a ruleset (opening every
//! path, as they appear now: call it after the mounts are in place);
//! [`Prepared::enforce`] restricts the calling thread for good. Rules the
//! kernel cannot enforce are dropped (best effort), and the [`Report`] says
//! what was enforced and what was not, for a warning to the user.
//!
//! Landlock ABI levels (`abi()`): 1 (Linux 5.13) files; 2 (5.19) links
//! and renames across directories; 3 (6.2) truncation; 4 (6.7) TCP bind
//! and connect; 5 (6.10) device ioctls; 6 (6.12) scoping of abstract unix
//! sockets and signals; 7 (6.15) audit logging.
//!
//! What Landlock does not cover, whatever the ABI: metadata changes
//! (chmod, chown, utimes, xattrs), `stat` and path lookup themselves,
//! descriptors opened before enforcing, and (before ABI 9) connecting to
//! pathname unix sockets. Rules attach to inodes, so a hidden path stays
//! hidden only as long as no granted inode is another route to it (a bind
//! mount of it, a hard link).
//!
//! Caller duties: call [`prepare`] where the final filesystem view is
//! visible (after mounts; Landlock also forbids mount changes later), and
//! [`Prepared::enforce`] in the process that will exec, before the seccomp
//! filter is installed (the filter allows the Landlock syscalls, but
//! enforcing first keeps the order independent of the profile). Enforcing
//! sets no_new_privs.

use ::landlock::{
    Access, AccessFs, AccessNet, BitFlags, CompatLevel, Compatible, NetPort, PathBeneath, Ruleset,
    RulesetAttr, RulesetCreated, RulesetCreatedAttr, RulesetStatus, Scope, ABI,
};
use anyhow::{anyhow, Context, Result};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// The newest ABI whose rights berth requests (and was tested with).
const TARGET_ABI: ABI = ABI::V6;

/// The running kernel's Landlock ABI version: 0 when Landlock is not built
/// in or not enabled at boot (the `lsm=` list must contain `landlock`).
pub fn abi() -> u32 {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: with a null attribute and size 0 and the VERSION flag, the
    // call only returns a number.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    u32::try_from(v).unwrap_or(0)
}

/// The ABI and what it can enforce, in one line, for `info` and `doctor`.
pub fn describe_abi(abi: u32) -> String {
    if abi == 0 {
        return "not available (the kernel lacks Landlock, or `landlock` is not in its lsm= \
                boot list)"
            .into();
    }
    let mut what = vec!["filesystem"];
    if abi >= 4 {
        what.push("TCP ports");
    }
    if abi >= 6 {
        what.push("abstract unix sockets and signals");
    }
    format!("{abi} ({})", what.join(", "))
}

/// Plain rules; every path is absolute. A path may appear in several lists:
/// its rights add up. The deepest rule decides, as with mounts: a hidden
/// path, or a path granted fewer rights, beneath a granted one keeps only
/// its own rights. Landlock itself only adds rights along a path, so
/// berth carves such paths out: the outer grant is replaced by grants on
/// every entry beside them, level by level down to them (entries created
/// later in those directories are covered by no grant, so denied).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    /// Read files and list directories beneath.
    pub read: Vec<PathBuf>,
    /// Create, write, truncate, rename, remove, make devices beneath, and
    /// use device ioctls (read comes with it).
    pub read_write: Vec<PathBuf>,
    /// Execute files beneath (read comes with it).
    pub execute: Vec<PathBuf>,
    /// Paths that get no access at all, even beneath a granted path.
    pub hidden: Vec<PathBuf>,
    /// When set, TCP bind and connect are allowed only to these ports
    /// (ABI 4).
    pub tcp_ports: Option<Vec<u16>>,
    /// Connecting to abstract unix sockets made outside the sandbox is
    /// refused (ABI 6).
    pub scope_abstract_unix: bool,
    /// Signals to processes outside the sandbox are refused (ABI 6).
    pub scope_signals: bool,
}

/// What [`Prepared::enforce`] achieved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The kernel's ABI.
    pub abi: u32,
    /// What is enforced, in words ("filesystem", "TCP ports", ...).
    pub enforced: Vec<&'static str>,
    /// What was asked for and the kernel could not enforce, each with the
    /// ABI and Linux version that would.
    pub missing: Vec<String>,
}

/// A ruleset ready to enforce, and what enforcing it will achieve.
pub struct Prepared {
    ruleset: RulesetCreated,
    report: Report,
}

impl Prepared {
    /// What enforcing will achieve, known before.
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// Restricts the calling thread (and what it forks or executes) for
    /// good; sets no_new_privs. Makes a few system calls and no
    /// allocation of note: usable between fork and exec.
    pub fn enforce(self) -> Result<Report> {
        let status = self
            .ruleset
            .restrict_self()
            .map_err(|e| anyhow!("enforcing the Landlock ruleset: {e}"))?;
        let mut report = self.report;
        if status.ruleset == RulesetStatus::NotEnforced && report.abi > 0 {
            report
                .missing
                .push("the ruleset (the kernel refused it)".into());
            report.enforced.clear();
        }
        Ok(report)
    }
}

fn fs_read() -> BitFlags<AccessFs> {
    AccessFs::ReadFile | AccessFs::ReadDir
}

fn fs_write() -> BitFlags<AccessFs> {
    AccessFs::from_write(TARGET_ABI)
}

/// Opens a path for a rule: O_PATH, and not through a final symlink when
/// `nofollow` (entries found while carving out hidden paths).
fn open_path(path: &Path, nofollow: bool) -> std::io::Result<OwnedFd> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut flags = libc::O_PATH | libc::O_CLOEXEC;
    if nofollow {
        flags |= libc::O_NOFOLLOW;
    }
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)
        .map(OwnedFd::from)
}

/// The grants after carving out hidden paths: (path, rights, nofollow).
fn expand(rules: &Rules) -> Result<Vec<(PathBuf, BitFlags<AccessFs>, bool)>> {
    let mut grants: Vec<(PathBuf, BitFlags<AccessFs>)> = Vec::new();
    let mut add = |paths: &[PathBuf], access: BitFlags<AccessFs>| {
        for p in paths {
            match grants.iter_mut().find(|(q, _)| q == p) {
                Some((_, a)) => *a |= access,
                None => grants.push((p.clone(), access)),
            }
        }
    };
    add(&rules.read, fs_read());
    add(&rules.read_write, fs_read() | fs_write());
    add(&rules.execute, fs_read() | AccessFs::Execute);
    let mut out = Vec::new();
    for (path, access) in &grants {
        if rules.hidden.iter().any(|h| h == path) {
            continue;
        }
        // The deepest rule decides, as with mounts: a hidden path, or a
        // grant with fewer rights, beneath this one is carved out of it.
        let beneath: Vec<&PathBuf> = rules
            .hidden
            .iter()
            .chain(
                grants
                    .iter()
                    .filter(|(_, a)| !a.contains(*access))
                    .map(|(p, _)| p),
            )
            .filter(|h| h.starts_with(path) && *h != path)
            .collect();
        if beneath.is_empty() {
            out.push((path.clone(), *access, false));
        } else {
            carve(path, *access, &beneath, &mut out)?;
        }
    }
    Ok(out)
}

/// Grants `access` on every entry of `dir` but the hidden ones, going
/// down into the entries that have hidden paths beneath them.
fn carve(
    dir: &Path,
    access: BitFlags<AccessFs>,
    hidden: &[&PathBuf],
    out: &mut Vec<(PathBuf, BitFlags<AccessFs>, bool)>,
) -> Result<()> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("listing {} to hide paths beneath it", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
        let path = entry.path();
        if hidden.iter().any(|h| **h == path) {
            continue;
        }
        let file_type = entry
            .file_type()
            .with_context(|| format!("reading the type of {}", path.display()))?;
        // A symlink gets no rule of its own: what it points to is covered
        // (or not) by the rules on its target.
        if file_type.is_symlink() {
            continue;
        }
        let deeper: Vec<&PathBuf> = hidden
            .iter()
            .copied()
            .filter(|h| h.starts_with(&path))
            .collect();
        if deeper.is_empty() || !file_type.is_dir() {
            out.push((path, access, true));
        } else {
            carve(&path, access, &deeper, out)?;
        }
    }
    Ok(())
}

/// What enforcing `rules` achieves on a kernel with Landlock ABI `abi`:
/// known before any path is opened, so that a caller can warn before it
/// forks.
pub fn expected_report(rules: &Rules, abi: u32) -> Report {
    let mut report = Report {
        abi,
        enforced: Vec::new(),
        missing: Vec::new(),
    };
    let want_tcp = rules.tcp_ports.is_some();
    let want_scope = rules.scope_abstract_unix || rules.scope_signals;
    if abi == 0 {
        report.missing.push(
            "all of Landlock (the kernel has no Landlock, or it is not enabled at boot)".into(),
        );
    } else {
        report.enforced.push("filesystem");
        if abi < 2 {
            report.missing.push(
                "links and renames across directories are refused everywhere (ABI 2, Linux 5.19)"
                    .into(),
            );
        }
        if abi < 3 {
            report
                .missing
                .push("truncating readable files (ABI 3, Linux 6.2)".into());
        }
        if abi < 5 {
            report
                .missing
                .push("ioctl on devices (ABI 5, Linux 6.10)".into());
        }
        match (want_tcp, abi >= 4) {
            (true, true) => report.enforced.push("TCP ports"),
            (true, false) => report
                .missing
                .push("TCP bind/connect port rules (ABI 4, Linux 6.7)".into()),
            _ => {}
        }
        match (want_scope, abi >= 6) {
            (true, true) => report.enforced.push("abstract unix sockets and signals"),
            (true, false) => report
                .missing
                .push("scoping of abstract unix sockets and signals (ABI 6, Linux 6.12)".into()),
            _ => {}
        }
    }
    report
}

/// Builds the ruleset for `rules` (see the module documentation).
pub fn prepare(rules: &Rules) -> Result<Prepared> {
    let abi = abi();
    let report = expected_report(rules, abi);
    let kernel = ABI::from(abi as i32);
    let want_tcp = rules.tcp_ports.is_some();
    let want_scope = rules.scope_abstract_unix || rules.scope_signals;
    let fail = |e: ::landlock::RulesetError| anyhow!("building the Landlock ruleset: {e}");
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(AccessFs::from_all(TARGET_ABI))
        .map_err(fail)?;
    if want_tcp && abi >= 4 {
        ruleset = ruleset
            .handle_access(AccessNet::BindTcp | AccessNet::ConnectTcp)
            .map_err(fail)?;
    }
    if want_scope && abi >= 6 {
        let mut scopes = BitFlags::<Scope>::EMPTY;
        if rules.scope_abstract_unix {
            scopes |= Scope::AbstractUnixSocket;
        }
        if rules.scope_signals {
            scopes |= Scope::Signal;
        }
        ruleset = ruleset.scope(scopes).map_err(fail)?;
    }
    let mut created = ruleset.create().map_err(fail)?;
    // Rights the kernel does not know are dropped by the crate (best
    // effort); rights for directories are dropped here for files, which
    // the kernel would refuse.
    let file_rights = AccessFs::from_file(kernel.max(ABI::V1));
    for (path, access, nofollow) in expand(rules)? {
        let fd = match open_path(&path, nofollow) {
            Ok(fd) => fd,
            // An entry that vanished while we listed its directory.
            Err(e) if nofollow && e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(anyhow!(
                    "opening {} for a Landlock rule: {e}",
                    path.display()
                ))
            }
        };
        let is_dir =
            nix::sys::stat::fstat(&fd).is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR);
        let access = if is_dir { access } else { access & file_rights };
        created = created
            .add_rule(PathBeneath::new(fd, access))
            .map_err(|e| anyhow!("adding a Landlock rule for {}: {e}", path.display()))?;
    }
    if let (Some(ports), true) = (&rules.tcp_ports, abi >= 4) {
        for port in ports {
            created = created
                .add_rule(NetPort::new(
                    *port,
                    AccessNet::BindTcp | AccessNet::ConnectTcp,
                ))
                .map_err(|e| anyhow!("adding a Landlock rule for TCP port {port}: {e}"))?;
        }
    }
    Ok(Prepared {
        ruleset: created,
        report,
    })
}

#[cfg(test)]
mod tests;
