//! The kept user namespace (Podman's "pause process"): a small process
//! (`berth __berth-userns`, named `berth-userns`) holds a mapped user
//! namespace, and later commands join it with `setns` instead of making
//! one. For a user with subordinate ranges that saves running the setuid
//! helpers newuidmap and newgidmap (about 1.4 ms of a 7.6 ms `run`); for
//! one without, whose namespace has the single mapping, about 0.3 ms of a
//! `run` measured (`userns::enter_single`).
//!
//! The keeper is recorded in the user's runtime directory (`userns.keeper`:
//! its pid and start time). A command joins only after checking, through
//! a descriptor of `/proc/PID` that cannot follow a reused pid, that the
//! process is the recorded one, belongs to us, and that its namespace has
//! exactly the maps this command would make now from /etc/subuid and
//! /etc/subgid, or the single mapping when they give the user nothing (an
//! administrator's change is obeyed at once). Anything
//! else falls back to a new namespace, after which a new keeper replaces
//! the record (and ends the keeper it named). The kernel adds its own
//! guard: only the owner of a user namespace may join it.
//!
//! The keeper leaves on its own [`IDLE`] after the last command that
//! joined it: each join touches the record's modification time, which the
//! keeper reads when it wakes. It has no descriptor of the command that
//! started it, no terminal, no capability, its own session, `/` as its
//! working directory, and it is not dumpable.

use super::idmap::{self, MapLine};
use crate::util::proc::ProcessId;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// The first argument of the keeper: `__berth-userns RUN_DIR`.
pub(crate) const REEXEC_ARG: &str = "__berth-userns";

/// How long the keeper stays after the last command that joined it:
/// back-to-back commands (a script, a test suite, a build) find it, and
/// nothing of berth is left running soon after the user stops running
/// berth.
pub(crate) const IDLE: Duration = Duration::from_secs(10);

/// The keeper's process name (comm).
const NAME: &str = "berth-userns";

/// The record's name in the runtime directory.
const RECORD: &str = "userns.keeper";

/// The first line of a record, naming its format.
const HEADER: &str = "berth-userns 1";

/// The record's text for the keeper `who`.
fn format_record(who: ProcessId) -> String {
    format!("{HEADER}\n{} {}\n", who.pid, who.start)
}

/// The keeper a record names; None for anything but exactly the text
/// [`format_record`] writes (a torn, foreign or garbage file is ignored).
fn parse_record(text: &str) -> Option<ProcessId> {
    let rest = text.strip_prefix(HEADER)?.strip_prefix('\n')?;
    let line = rest.strip_suffix('\n')?;
    let (pid, start) = line.split_once(' ')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(pid) || !digits(start) {
        return None;
    }
    let who = ProcessId {
        pid: pid.parse().ok()?,
        start: start.parse().ok()?,
    };
    // Pid 1 is never a keeper, and the start time is what is checked.
    (who.pid > 1 && who.start > 0).then_some(who)
}

/// Whether a namespace's map (as /proc/PID/uid_map shows it from our
/// namespace) is exactly `wanted`. The kernel lists more than five lines
/// sorted by their inside id, so the order is not compared.
fn same_map(proc_text: &str, wanted: &[MapLine]) -> bool {
    let key = |l: &MapLine| (l.inside, l.outside, l.count);
    let mut seen = idmap::parse_proc_map(proc_text);
    // A line parse_proc_map skipped would make the maps differ.
    if seen.len() != proc_text.lines().filter(|l| !l.trim().is_empty()).count() {
        return false;
    }
    let mut wanted = wanted.to_vec();
    seen.sort_by_key(key);
    wanted.sort_by_key(key);
    seen == wanted
}

fn record_path(run_dir: &Path) -> PathBuf {
    run_dir.join(RECORD)
}

/// Joins the kept namespace recorded in `run_dir` when it is ours, alive
/// and mapped exactly as `uid_map`/`gid_map`; then we are its root. An
/// error says why not (for the trace) and leaves us where we were. System
/// calls only, no process: a few opens and reads, `setns`, the ids.
pub(crate) fn join(run_dir: &Path, uid_map: &[MapLine], gid_map: &[MapLine]) -> Result<(), String> {
    let path = record_path(run_dir);
    // O_NONBLOCK: a FIFO in its place must not hang us.
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(&path)
        .map_err(|e| format!("no record ({e})"))?;
    let meta = file.metadata().map_err(|e| e.to_string())?;
    let me = nix::unistd::geteuid().as_raw();
    if !meta.is_file() || meta.uid() != me || meta.mode() & 0o077 != 0 {
        return Err("the record is not a private file of ours".into());
    }
    let mut text = String::new();
    (&mut file)
        .take(256)
        .read_to_string(&mut text)
        .map_err(|e| e.to_string())?;
    let keeper = parse_record(&text).ok_or("the record is not one berth wrote")?;
    let proc_dir = keeper
        .open_proc_dir()
        .map_err(|_| "the recorded keeper is gone".to_string())?;
    let owner = proc_dir.metadata().map_err(|e| e.to_string())?.uid();
    if owner != me {
        return Err(format!("the recorded process belongs to uid {owner}"));
    }
    let read = |name: &std::ffi::CStr| crate::util::proc::read_at(&proc_dir, name);
    let uids = read(c"uid_map").map_err(|e| e.to_string())?;
    let gids = read(c"gid_map").map_err(|e| e.to_string())?;
    if !same_map(&uids, uid_map) || !same_map(&gids, gid_map) {
        return Err("its maps are not those this command would make now".into());
    }
    let ns = open_at(&proc_dir, c"ns/user").map_err(|e| format!("opening its namespace: {e}"))?;
    let mut ns_owner: libc::uid_t = u32::MAX;
    // SAFETY: NS_GET_OWNER_UID writes one uid_t into the variable we pass.
    let r = unsafe { libc::ioctl(ns.as_raw_fd(), libc::NS_GET_OWNER_UID, &mut ns_owner) };
    if r != 0 || ns_owner != nix::unistd::getuid().as_raw() {
        return Err("its user namespace is not ours".into());
    }
    // Tell the keeper it is used (before joining: it must not leave
    // between our check and our join thinking it idle).
    // SAFETY: futimens with a descriptor we own and NULL (now).
    unsafe { libc::futimens(file.as_raw_fd(), std::ptr::null()) };
    super::holder::join_as_root(&ns).map_err(|e| format!("{e:#}"))
}

/// Opens `name` under `dir` (a `/proc/PID` descriptor) read-only.
fn open_at(dir: &std::fs::File, name: &std::ffi::CStr) -> std::io::Result<std::fs::File> {
    // SAFETY: openat on a directory descriptor we hold and a
    // NUL-terminated name; it returns a new descriptor or -1.
    let fd = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            name.as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor that we own from here on.
    Ok(unsafe { std::fs::File::from_raw_fd(fd) })
}

/// Starts a keeper of the namespace we are in (just made and mapped) for
/// the commands that follow, without waiting for it: it records itself.
/// It is not our child. Errors are only reported by the caller's trace:
/// the keeper saves time, the command does not need it.
pub(crate) fn start(run_dir: &Path) -> std::io::Result<()> {
    if crate::store::rundir::check_private_dir(run_dir).is_err() {
        return Err(std::io::Error::other(
            "the runtime directory is not private",
        ));
    }
    let dir = run_dir
        .to_str()
        .ok_or_else(|| std::io::Error::other("the runtime directory is not UTF-8"))?;
    crate::util::spawn::Spawn::new("/proc/self/exe")?
        .arg0("berth")?
        .arg(REEXEC_ARG)?
        .arg(dir)?
        .setsid()
        .detach()
        .spawn()
        .map(|_| ())
}

/// Entry point of the keeper (`__berth-userns RUN_DIR`), started in the
/// namespace it keeps, as its root.
pub(crate) fn main(args: &[String]) -> i32 {
    let [run_dir] = args else {
        return 2;
    };
    settle();
    let me = ProcessId::current();
    let path = record_path(Path::new(run_dir));
    let previous = recorded(&path);
    if write_record(&path, me).is_err() {
        return 1;
    }
    end_replaced(previous, me);
    crate::util::resident::trim_code();
    let mut seen: Option<(SystemTime, Instant)> = None;
    loop {
        let Some(modified) = still_recorded(&path, me) else {
            // Replaced by another keeper (two first commands at once), or
            // the runtime directory went away: nobody can join us now.
            return 0;
        };
        let now = Instant::now();
        let (mtime, since) = match seen {
            Some((m, since)) if m == modified => (m, since),
            _ => (modified, now),
        };
        seen = Some((mtime, since));
        let wait = remaining(
            SystemTime::now().duration_since(mtime).ok(),
            now.duration_since(since),
        );
        if wait < Duration::from_millis(1) {
            forget(&path, me);
            return 0;
        }
        std::thread::sleep(wait);
    }
}

/// How long the keeper may still wait, the record last touched `age`
/// ago by the wall clock (None: in the future, the clock went back), a
/// touch it first saw `seen_for` ago: the earlier of both ends, so that a
/// clock set back cannot keep it forever.
fn remaining(age: Option<Duration>, seen_for: Duration) -> Duration {
    let by_clock = IDLE.saturating_sub(age.unwrap_or(Duration::ZERO));
    by_clock.min(IDLE.saturating_sub(seen_for))
}

/// What the keeper gives up at once: the descriptors of whoever started
/// it (the spawn closed them at exec; again here for kernels without
/// close_range), a working directory someone may want to unmount, its
/// capabilities, being dumped or traced, and its name.
fn settle() {
    // SAFETY: system calls on this process's own state; close_range only
    // closes descriptors above stdio, which nothing in this process uses
    // (stdio are /dev/null, from the spawn).
    unsafe {
        if libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) != 0 {
            if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
                let fds: Vec<i32> = dir
                    .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                    .collect();
                for fd in fds.into_iter().filter(|&fd| fd > 2) {
                    libc::close(fd);
                }
            }
        }
        libc::chdir(c"/".as_ptr());
        libc::umask(0o077);
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
        libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
    }
    if let Ok(name) = std::ffi::CString::new(NAME) {
        crate::util::spawn::set_process_name(&name);
    }
    drop_capabilities();
}

/// Empties the capability sets: the keeper only sleeps and reads a file.
fn drop_capabilities() {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let mut header = Header {
        version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3
        pid: 0,
    };
    let data = [Data {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    // SAFETY: capset reads a version 3 header and two data structs.
    unsafe {
        libc::syscall(libc::SYS_capset, &mut header, data.as_ptr());
    }
}

/// Writes the record naming us: a temporary file renamed over the
/// record, so that a reader sees one whole record or the one before.
fn write_record(path: &Path, me: ProcessId) -> std::io::Result<()> {
    let temp = path.with_file_name(format!(".{RECORD}.{}", me.pid));
    let _ = std::fs::remove_file(&temp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&temp)?;
    file.write_all(format_record(me).as_bytes())?;
    drop(file);
    std::fs::rename(&temp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&temp);
    })
}

/// The keeper a record names, whoever wrote it.
fn recorded(path: &Path) -> Option<ProcessId> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path)
        .ok()?;
    let mut text = String::new();
    file.take(256).read_to_string(&mut text).ok()?;
    parse_record(&text)
}

/// Ends the keeper whose record we replaced, when it is still there and
/// is a keeper of ours: nobody will join it any more (a command did not
/// want it, or two keepers started at once), and where joining keeps
/// failing, every command would otherwise leave one more keeper for the
/// whole idle time. Whoever joined it meanwhile keeps its namespace.
fn end_replaced(previous: Option<ProcessId>, me: ProcessId) {
    let Some(old) = previous.filter(|p| *p != me) else {
        return;
    };
    let Ok(dir) = old.open_proc_dir() else {
        return;
    };
    let ours = dir
        .metadata()
        .is_ok_and(|m| m.uid() == nix::unistd::geteuid().as_raw());
    let keeper = crate::util::proc::read_at(&dir, c"comm").is_ok_and(|c| c.trim_end() == NAME);
    if ours && keeper {
        let _ = old.signal(nix::sys::signal::Signal::SIGTERM);
    }
}

/// The record's modification time when it still names us.
fn still_recorded(path: &Path, me: ProcessId) -> Option<SystemTime> {
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path)
        .ok()?;
    let mut text = String::new();
    (&mut file).take(256).read_to_string(&mut text).ok()?;
    if parse_record(&text) != Some(me) {
        return None;
    }
    file.metadata().ok()?.modified().ok()
}

/// Removes the record if it still names us (a keeper that replaced us
/// keeps its own). A record written in between is lost at worst, and
/// then its keeper leaves too: the next command makes a new one.
fn forget(path: &Path, me: ProcessId) {
    if still_recorded(path, me).is_some() {
        let _ = std::fs::remove_file(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_garbage_is_refused() {
        let who = ProcessId {
            pid: 4242,
            start: 987654,
        };
        assert_eq!(parse_record(&format_record(who)), Some(who));
        for bad in [
            "",
            "garbage",
            "berth-userns 1\n",
            "berth-userns 1\n4242 987654",
            "berth-userns 1\n4242 987654\nmore\n",
            "berth-userns 2\n4242 987654\n",
            "berth-userns 1\n4242  987654\n",
            "berth-userns 1\n-4242 987654\n",
            "berth-userns 1\n+4242 987654\n",
            "berth-userns 1\n4242 0\n",
            "berth-userns 1\n1 987654\n",
            "berth-userns 1\n0 987654\n",
            "berth-userns 1\n99999999999 987654\n",
            "berth-userns 1\n4242 98x\n",
        ] {
            assert_eq!(parse_record(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn maps_must_match_exactly() {
        let wanted = idmap::full_map(
            1001,
            &[super::super::subid::SubRange {
                start: 100000,
                count: 65536,
            }],
        );
        let proc = "         0       1001          1\n         1     100000      65536\n";
        assert!(same_map(proc, &wanted));
        // Order does not matter; everything else does.
        assert!(same_map("1 100000 65536\n0 1001 1\n", &wanted));
        assert!(!same_map("0 1001 1\n", &wanted));
        assert!(!same_map("0 1001 1\n1 100000 65535\n", &wanted));
        assert!(!same_map("0 1001 1\n1 200000 65536\n", &wanted));
        assert!(!same_map("0 1001 1\n1 100000 65536\n2 300000 1\n", &wanted));
        assert!(!same_map("0 1001 1\n1 100000 65536\nx y z\n", &wanted));
        assert!(!same_map("", &wanted));
    }

    #[test]
    fn the_idle_time_runs_from_the_last_touch() {
        let s = Duration::from_secs;
        // Just touched: the whole idle time.
        assert_eq!(remaining(Some(s(0)), s(0)), IDLE);
        // Touched 4 s before we saw it.
        assert_eq!(remaining(Some(s(4)), s(0)), IDLE - s(4));
        assert_eq!(remaining(Some(s(4) + IDLE), s(0)), Duration::ZERO);
        // The clock went back: the touch is "in the future", but we have
        // seen it unchanged for the whole idle time.
        assert_eq!(remaining(None, s(3)), IDLE - s(3));
        assert_eq!(remaining(None, IDLE), Duration::ZERO);
    }

    #[test]
    fn the_keeper_records_itself_and_sees_when_it_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = record_path(dir.path());
        let me = ProcessId::current();
        write_record(&path, me).unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o600);
        assert!(still_recorded(&path, me).is_some());
        // No temporary file is left.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let other = ProcessId {
            pid: me.pid + 1,
            ..me
        };
        write_record(&path, other).unwrap();
        assert!(still_recorded(&path, me).is_none());
        forget(&path, me);
        assert!(path.exists(), "a keeper removes only its own record");
        forget(&path, other);
        assert!(!path.exists());
    }

    #[test]
    fn joining_refuses_garbage_and_dead_keepers() {
        let dir = tempfile::tempdir().unwrap();
        let map = [MapLine {
            inside: 0,
            outside: 1000,
            count: 1,
        }];
        let path = record_path(dir.path());
        assert!(join(dir.path(), &map, &map)
            .unwrap_err()
            .contains("no record"));
        std::fs::write(&path, "garbage").unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        assert!(join(dir.path(), &map, &map)
            .unwrap_err()
            .contains("not one berth wrote"));
        // A process that is not the recorded one (wrong start time).
        let me = ProcessId::current();
        write_record(
            &path,
            ProcessId {
                start: me.start + 1,
                ..me
            },
        )
        .unwrap();
        assert!(join(dir.path(), &map, &map).unwrap_err().contains("gone"));
        // Our own process, alive, but with other maps than wanted.
        write_record(&path, me).unwrap();
        assert!(join(dir.path(), &map, &map).unwrap_err().contains("maps"));
        // A record open to others is not trusted.
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644))
            .unwrap();
        assert!(join(dir.path(), &map, &map)
            .unwrap_err()
            .contains("private file"));
    }
}
