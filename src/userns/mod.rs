//! User namespaces and id mappings.
//!
//! Every command that touches layer or container files first calls
//! [`enter`]: an unprivileged user becomes root of a user namespace whose
//! map gives the user's own id as 0 and the subordinate ranges of
//! `/etc/subuid` and `/etc/subgid` from 1 on, so that files in images keep
//! their owners. Without a range, a single mapping (only 0) is used and a
//! warning says what that costs. Real root needs no namespace.
//!
//! With subordinate ranges, the namespace is made once and kept by a
//! small process for the commands that follow (`keeper.rs`, Podman's
//! pause process): they join it instead of running newuidmap and
//! newgidmap again.

mod holder;
pub(crate) mod idmap;
pub(crate) mod keep_id;
pub(crate) mod keeper;
pub(crate) mod subid;

use anyhow::{anyhow, bail, Context, Result};
use idmap::MapLine;
use nix::errno::Errno;
use nix::unistd::{getgid, getuid, Gid, Uid};
use subid::SubRange;

/// Set in our environment once we are inside berth's user namespace, so
/// that helpers we run (and `describe_mapping`) know which map applies.
pub(crate) const ENV_MARKER: &str = "_BERTH_USERNS";

/// True inside a single-id mapping, where the warning printed on entering
/// already said that other owners become root.
pub(crate) fn single_mapping() -> bool {
    std::env::var_os(ENV_MARKER).is_some_and(|v| v == "single")
}

/// What the mapping for this user will be.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Plan {
    /// Root in the initial namespace: nothing to do.
    RealRoot,
    /// `newuidmap`/`newgidmap` with the subordinate ranges.
    Full {
        uid_map: Vec<MapLine>,
        gid_map: Vec<MapLine>,
    },
    /// Only our own ids, as 0; `why` names the missing range.
    Single {
        uid: u32,
        gid: u32,
        user: String,
        why: String,
    },
}

/// Decides the mapping for the calling user from /etc/subuid and /etc/subgid.
pub(crate) fn plan() -> Plan {
    let uid = getuid();
    if uid.is_root() && is_initial_userns() {
        return Plan::RealRoot;
    }
    let gid = getgid();
    let name = crate::util::passwd::user_name(uid.as_raw());
    plan_from(
        uid.as_raw(),
        gid.as_raw(),
        name.as_deref(),
        &subid::read_ranges("/etc/subuid", name.as_deref(), uid.as_raw()),
        &subid::read_ranges("/etc/subgid", name.as_deref(), uid.as_raw()),
    )
}

fn plan_from(
    uid: u32,
    gid: u32,
    name: Option<&str>,
    subuids: &[SubRange],
    subgids: &[SubRange],
) -> Plan {
    let who = name.map_or_else(|| uid.to_string(), str::to_string);
    let missing = match (subuids.is_empty(), subgids.is_empty()) {
        (false, false) => {
            return Plan::Full {
                uid_map: idmap::full_map(uid, subuids),
                gid_map: idmap::full_map(gid, subgids),
            }
        }
        (true, _) => "/etc/subuid",
        (false, true) => "/etc/subgid",
    };
    Plan::Single {
        uid,
        gid,
        why: format!("no subuid range for user {who} in {missing}"),
        user: who,
    }
}

/// True when this process is in the host's user namespace.
pub(crate) fn is_initial_userns() -> bool {
    let map = std::fs::read_to_string("/proc/self/uid_map").unwrap_or_default();
    map.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"]
}

/// Root of the initial user namespace (not root of one we made).
pub(crate) fn is_real_root() -> bool {
    Uid::effective().is_root() && is_initial_userns()
}

/// Whether `setgroups(2)` is allowed here: it is denied in a namespace
/// with a single mapping made without newgidmap.
pub(crate) fn setgroups_allowed() -> bool {
    std::fs::read_to_string("/proc/self/setgroups").map_or(true, |s| s.trim() != "deny")
}

/// Puts this process into berth's user namespace as its root. Idempotent
/// (a no-op once inside, where we are uid 0) and a no-op for real root.
/// Must be called before any thread exists: the kernel lets only a
/// single-threaded process create or join a user namespace (with
/// subordinate ranges, we join the kept one, `keeper.rs`, or one a
/// short-lived child made and the helpers mapped, `holder.rs`).
pub(crate) fn enter() -> Result<()> {
    if Uid::effective().is_root() {
        return Ok(());
    }
    let plan = plan();
    crate::util::trace::step("user namespace planned (subuid, subgid read)");
    match plan {
        Plan::RealRoot => Ok(()),
        Plan::Full { uid_map, gid_map } => enter_full(&uid_map, &gid_map),
        Plan::Single {
            uid,
            gid,
            user,
            why,
        } => {
            enter_single(uid, gid)?;
            warn_single_mapping_once(&single_mapping_warning(&why, &user));
            Ok(())
        }
    }
}

/// Joins the user namespace of a running berth process (`pidfd`, the
/// monitor of a container whose namespaces a new container will share)
/// instead of making one: berth's namespaces are per command, and only a
/// process of that very namespace may enter the other namespaces it owns.
/// The mapping is the same, so files keep their owners. Called instead of
/// [`enter`], before any thread exists; a no-op for real root.
pub(crate) fn join(pidfd: &std::os::fd::OwnedFd, what: &str) -> Result<()> {
    if is_real_root() {
        return Ok(());
    }
    if Uid::effective().is_root() {
        bail!("cannot share the namespaces of {what}: this berth process is already in a user namespace of its own");
    }
    nix::sched::setns(pidfd, nix::sched::CloneFlags::CLONE_NEWUSER)
        .with_context(|| format!("joining the user namespace of {what}"))?;
    nix::unistd::setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0))
        .context("becoming root in the user namespace (gid)")?;
    nix::unistd::setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0))
        .context("becoming root in the user namespace (uid)")?;
    let single = std::fs::read_to_string("/proc/self/uid_map")
        .map(|m| idmap::parse_proc_map(&m).len() == 1)
        .unwrap_or(false);
    // Before any thread exists (a requirement of join).
    std::env::set_var(ENV_MARKER, if single { "single" } else { "full" });
    Ok(())
}

/// Once per store, as the fidelity note of containers (issue 13): every
/// command of such a user would otherwise repeat it. Where the store's
/// place cannot be known, every time.
fn warn_single_mapping_once(what: &str) {
    use crate::store::placement;
    match placement::choose_root(&placement::RootInputs::from_env()) {
        Ok(choice) => placement::warn_once(&choice.root, "single-mapping", what),
        Err(_) => crate::util::report::warning(what),
    }
}

fn single_mapping_warning(why: &str, user: &str) -> String {
    format!(
        "{why}: running with a single uid mapping; files owned by other users in the \
         image are owned by root. An administrator can add a range of 65536 ids that no other \
         user has, e.g. `usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {user}` \
         (or a line `{user}:100000:65536` in both /etc/subuid and /etc/subgid)."
    )
}

/// A short description of the mapping in effect (or that would be), for `info`.
pub(crate) fn describe_mapping() -> String {
    if is_real_root() {
        return "none (real root)".into();
    }
    if !is_initial_userns() {
        let uids = std::fs::read_to_string("/proc/self/uid_map").unwrap_or_default();
        let gids = std::fs::read_to_string("/proc/self/gid_map").unwrap_or_default();
        return format!(
            "uid {} gid {}",
            idmap::describe(&idmap::parse_proc_map(&uids)),
            idmap::describe(&idmap::parse_proc_map(&gids))
        );
    }
    match plan() {
        Plan::RealRoot => "none (real root)".into(),
        Plan::Full { uid_map, gid_map } => format!(
            "uid {} gid {}",
            idmap::describe(&uid_map),
            idmap::describe(&gid_map)
        ),
        Plan::Single { uid, gid, why, .. } => {
            format!("uid 0:{uid}:1 gid 0:{gid}:1 (single: {why})")
        }
    }
}

/// The single mapping (our uid and gid as 0): the kept namespace when its
/// maps are exactly these (`keeper.rs`), else a new one, which a keeper
/// then keeps. Joining saves more than the unshare: measured on the
/// development machines, a `run --rm` was ~0.3 ms faster in a kept
/// namespace than in one made by its own command (`quick.sh`, 5.54-5.71
/// against 5.71-6.49 ms), the monitor's start, the init's namespaces and
/// the container's exit all being faster.
fn enter_single(uid: u32, gid: u32) -> Result<()> {
    let single = |id| {
        [MapLine {
            inside: 0,
            outside: id,
            count: 1,
        }]
    };
    enter_kept_or_make(&single(uid), &single(gid), "single", || {
        make_single(uid, gid)?;
        crate::util::trace::step("user namespace entered (single mapping)");
        Ok(())
    })
}

/// A new namespace with the single mapping, made by this process.
fn make_single(uid: u32, gid: u32) -> Result<()> {
    unshare_user_when_alone()
        .map_err(|e| anyhow!(userns_unavailable(e)))
        .context("creating a user namespace")?;
    let write = |path: &str, data: String| {
        std::fs::write(path, data.as_bytes())
            .map_err(|e| anyhow!("writing {path}: {e}: {}", userns_unavailable(Errno::EPERM)))
    };
    write("/proc/self/setgroups", "deny".into())?;
    write("/proc/self/uid_map", format!("0 {uid} 1"))?;
    write("/proc/self/gid_map", format!("0 {gid} 1"))?;
    // Before any thread exists (a requirement of enter), so no one reads
    // the environment concurrently.
    std::env::set_var(ENV_MARKER, "single");
    Ok(())
}

/// unshare(CLONE_NEWUSER), which the kernel refuses (EINVAL) to a
/// process of more than one thread. Threads that a `std::thread::scope`
/// joined can still be leaving the kernel when it returns (the scope waits
/// for their closures, not for their exit): we wait for them, up to a
/// second.
fn unshare_user_when_alone() -> nix::Result<()> {
    let unshare = || nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    loop {
        match unshare() {
            Err(Errno::EINVAL) if thread_count() > 1 && std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
            other => return other,
        }
    }
}

/// How many threads this process has now.
fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(1, |d| d.count())
}

/// Full mapping: the kept namespace when its keeper is there and maps
/// exactly these ranges (`keeper::join`: a few system calls); else a new
/// one, left to a new keeper for the next command.
fn enter_full(uid_map: &[MapLine], gid_map: &[MapLine]) -> Result<()> {
    enter_kept_or_make(uid_map, gid_map, "full", || make_full(uid_map, gid_map))
}

/// Joins the kept namespace when it maps exactly `uid_map`/`gid_map`
/// (marking the environment with `marker`, as `make` does); else `make`s
/// one and starts a keeper of it for the next command.
fn enter_kept_or_make(
    uid_map: &[MapLine],
    gid_map: &[MapLine],
    marker: &str,
    make: impl FnOnce() -> Result<()>,
) -> Result<()> {
    let run_dir = crate::store::default_run_dir();
    if let Some(dir) = &run_dir {
        match keeper::join(dir, uid_map, gid_map) {
            Ok(()) => {
                // Before any thread exists (a requirement of enter).
                std::env::set_var(ENV_MARKER, marker);
                crate::util::trace::step("user namespace joined (kept)");
                return Ok(());
            }
            Err(why) => crate::util::trace::step(&format!("kept user namespace not used: {why}")),
        }
    }
    make()?;
    if let Some(dir) = &run_dir {
        match keeper::start(dir) {
            Ok(()) => crate::util::trace::step("user namespace keeper started"),
            Err(e) => crate::util::trace::step(&format!("no user namespace keeper: {e}")),
        }
    }
    Ok(())
}

/// A new namespace with the full mapping: a child made in a new user
/// namespace waits (`holder::Holder`) while we run newuidmap/newgidmap on
/// it from the initial namespace; then we join its namespace, now mapped,
/// and it exits. (Before, the whole command forked for this and its
/// parent stayed behind to wait and forward signals: a page-table copy
/// and copy-on-write faults on the launch path, and one more process.)
fn make_full(uid_map: &[MapLine], gid_map: &[MapLine]) -> Result<()> {
    let holder = holder::Holder::new()
        .map_err(|e| anyhow!(userns_unavailable(e)))
        .context("creating a user namespace")?;
    let ns = holder.namespace()?;
    // Both helpers at once: each is an exec of a setuid program, a large
    // part of a container's start.
    let uid_helper = spawn_map_helper("newuidmap", holder.pid(), uid_map);
    let gid_helper = spawn_map_helper("newgidmap", holder.pid(), gid_map);
    let done = finish_map_helper(uid_helper).and(finish_map_helper(gid_helper));
    crate::util::trace::step("newuidmap and newgidmap done");
    // Gone before we join: nothing shares our memory then.
    drop(holder);
    done?;
    holder::join_as_root(&ns)?;
    // Before any thread exists (a requirement of enter), so no one reads
    // the environment concurrently.
    std::env::set_var(ENV_MARKER, "full");
    crate::util::trace::step("user namespace entered (full mapping)");
    Ok(())
}

/// A running newuidmap/newgidmap, with what it needs for its error message.
struct MapHelper {
    helper: &'static str,
    pid: i32,
    map: String,
    child: Result<std::process::Child>,
}

fn spawn_map_helper(helper: &'static str, pid: i32, map: &[MapLine]) -> MapHelper {
    let child = std::process::Command::new(helper)
        .arg(pid.to_string())
        .args(idmap::helper_args(map))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                anyhow!(
                    "setting up the user namespace: {helper} is not installed, but /etc/subuid \
                     gives this user subordinate ids; install it (Debian/Ubuntu: `apt-get \
                     install uidmap`, Fedora/RHEL: `dnf install shadow-utils`)"
                )
            } else {
                anyhow!("setting up the user namespace: running {helper}: {e}")
            }
        });
    MapHelper {
        helper,
        pid,
        map: idmap::describe(map),
        child,
    }
}

fn finish_map_helper(h: MapHelper) -> Result<()> {
    let out = h.child?.wait_with_output();
    let out = out.map_err(|e| {
        anyhow!(
            "setting up the user namespace: waiting for {}: {e}",
            h.helper
        )
    })?;
    if !out.status.success() {
        bail!(
            "setting up the user namespace: {helper} {pid} {map} failed: {err}; check that \
             {helper} is setuid root (or has the setuid/setgid file capability) and that the \
             ranges in /etc/subuid and /etc/subgid are valid",
            helper = h.helper,
            pid = h.pid,
            map = h.map,
            err = String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Why the kernel refused a user namespace, and the exact fix.
pub fn userns_unavailable(err: Errno) -> String {
    diagnose(err, |p| std::fs::read_to_string(p).ok())
}

fn diagnose(err: Errno, read: impl Fn(&str) -> Option<String>) -> String {
    let value = |p: &str| read(p).map(|s| s.trim().to_string());
    if value("/proc/sys/kernel/unprivileged_userns_clone").as_deref() == Some("0") {
        return format!(
            "{err}: unprivileged user namespaces are disabled on this machine \
             (kernel.unprivileged_userns_clone = 0); an administrator can enable them with \
             `sysctl -w kernel.unprivileged_userns_clone=1` (and keep it in /etc/sysctl.d/)"
        );
    }
    if value("/proc/sys/user/max_user_namespaces").as_deref() == Some("0") {
        return format!(
            "{err}: user namespaces are disabled on this machine (user.max_user_namespaces = 0); \
             an administrator can enable them with `sysctl -w user.max_user_namespaces=15000` \
             (and keep it in /etc/sysctl.d/)"
        );
    }
    if value("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").as_deref() == Some("1") {
        return format!(
            "{err}: AppArmor restricts unprivileged user namespaces \
             (kernel.apparmor_restrict_unprivileged_userns = 1); an administrator can allow \
             berth with an AppArmor profile that grants `userns,` to its path, or lift the \
             restriction with `sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`"
        );
    }
    if err == Errno::ENOSPC {
        return format!(
            "{err}: the limit of user namespaces is reached (user.max_user_namespaces); an \
             administrator can raise it with `sysctl -w user.max_user_namespaces=15000`"
        );
    }
    format!(
        "{err}: the kernel refused a user namespace; if berth runs inside a container or a \
         sandbox (chroot, seccomp), that sandbox must allow unshare(CLONE_NEWUSER)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_uses_ranges_only_when_both_files_have_one() {
        let r = [SubRange {
            start: 100000,
            count: 65536,
        }];
        assert!(matches!(
            plan_from(1000, 1000, Some("alice"), &r, &r),
            Plan::Full { .. }
        ));
        match plan_from(1000, 1000, Some("alice"), &[], &r) {
            Plan::Single { why, .. } => {
                assert_eq!(why, "no subuid range for user alice in /etc/subuid")
            }
            p => panic!("{p:?}"),
        }
        match plan_from(1000, 1000, None, &r, &[]) {
            Plan::Single { why, .. } => assert!(why.contains("user 1000 in /etc/subgid")),
            p => panic!("{p:?}"),
        }
    }

    #[test]
    fn diagnosis_names_the_sysctl_that_applies() {
        let files =
            |k: &'static str, v: &'static str| move |p: &str| (p == k).then(|| v.to_string());
        let d = diagnose(
            Errno::EPERM,
            files("/proc/sys/kernel/unprivileged_userns_clone", "0\n"),
        );
        assert!(
            d.contains("sysctl -w kernel.unprivileged_userns_clone=1"),
            "{d}"
        );
        let d = diagnose(
            Errno::ENOSPC,
            files("/proc/sys/user/max_user_namespaces", "0"),
        );
        assert!(d.contains("user.max_user_namespaces=15000"), "{d}");
        let d = diagnose(
            Errno::EPERM,
            files(
                "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
                "1",
            ),
        );
        assert!(d.contains("apparmor_restrict_unprivileged_userns=0"), "{d}");
        let d = diagnose(Errno::EPERM, |_| None);
        assert!(d.contains("sandbox"), "{d}");
    }

    #[test]
    fn warning_says_how_to_add_a_range() {
        let w = single_mapping_warning("no subuid range for user bob in /etc/subuid", "bob");
        assert!(w.contains("--add-subgids 100000-165535 bob"));
        assert!(w.contains("single uid mapping"));
        assert!(w.contains("usermod --add-subuids"));
    }
}
