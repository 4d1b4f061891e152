//! The kept user namespace (`src/userns/keeper.rs`): for a user with a
//! subordinate range, the first command leaves a `berth-userns` process
//! holding the mapped namespace and the next ones join it (seen in
//! `BERTH_TRACE`), with the full mapping inside containers. A killed
//! keeper, a garbage or foreign record, a process whose namespace maps
//! other ids: each is passed over and replaced. The keeper leaves by
//! itself after its idle time. A user without a range keeps a namespace
//! with the single mapping the same way.
//!
//! Each test gives its commands a private `XDG_RUNTIME_DIR`, so that its
//! keeper is its own (without one, every test of the user shares
//! `/tmp/berth-$UID`).

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The keeper's idle time (`userns::keeper::IDLE`).
const IDLE: Duration = Duration::from_secs(10);

/// A berth handle with its own runtime directory.
struct Env {
    b: Berth,
    xdg: PathBuf,
}

impl Env {
    fn new(user: &TestUser) -> Env {
        let b = Berth::new(user);
        let xdg = b.dir.join("xdg");
        let out = run(b.user_command(
            Path::new("/bin/mkdir"),
            &["-m", "700", xdg.to_str().unwrap()],
        ));
        assert_success(&out, "mkdir xdg");
        Env { b, xdg }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = self.b.command(args);
        c.env("XDG_RUNTIME_DIR", &self.xdg).env("BERTH_TRACE", "1");
        c
    }

    fn cmd(&self, args: &[&str]) -> Output {
        run(self.command(args))
    }

    /// `run --rm --network none busybox cat /proc/self/uid_map`, which
    /// must work; its output and trace.
    fn run_uid_map(&self) -> (String, String) {
        let out = self.cmd(&[
            "run",
            "--rm",
            "--network",
            "none",
            "busybox",
            "cat",
            "/proc/self/uid_map",
        ]);
        assert_success(&out, "run");
        (stdout(&out), stderr(&out))
    }

    fn record(&self) -> PathBuf {
        self.xdg.join("berth/userns.keeper")
    }

    /// The pid the record names, once there is a record.
    fn keeper_pid(&self) -> i32 {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(pid) = std::fs::read_to_string(self.record())
                .ok()
                .and_then(|t| t.lines().nth(1)?.split(' ').next()?.parse().ok())
            {
                return pid;
            }
            assert!(Instant::now() < deadline, "no keeper recorded itself");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn sub_env() -> Option<Env> {
    let user = subid_user()?;
    if !running_as_root() {
        skip_or_fail("the keeper tests run as root, as the test users");
        return None;
    }
    let env = Env::new(&user);
    env.b.load_busybox();
    Some(env)
}

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !s.rsplit_once(')')
            .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
    })
}

/// Field `n` (1-based, as proc(5) counts) of /proc/PID/stat.
fn stat_field(pid: i32, n: usize) -> String {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let (_, rest) = stat.rsplit_once(')').unwrap();
    rest.split_whitespace().nth(n - 3).unwrap().to_string()
}

fn status_line(pid: i32, key: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_string()))
        .unwrap_or_default()
}

/// The full mapping as a container sees it: 0 is the user, 1.. the range.
fn assert_full_mapping(uid_map: &str, uid: u32) {
    let lines: Vec<Vec<&str>> = uid_map
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines.len(), 2, "{uid_map}");
    assert_eq!(lines[0], ["0", &uid.to_string(), "1"], "{uid_map}");
    assert_eq!(lines[1][0], "1", "{uid_map}");
    assert!(lines[1][2].parse::<u32>().unwrap() > 1, "{uid_map}");
}

#[test]
fn the_next_command_joins_the_kept_namespace() {
    let Some(env) = sub_env() else { return };
    let uid = env.b.user.uid;
    let (first, _) = env.run_uid_map();
    assert_full_mapping(&first, uid);
    let pid = env.keeper_pid();
    let (second, trace) = env.run_uid_map();
    assert!(
        trace.contains("user namespace joined (kept)"),
        "the second run did not join the kept namespace:\n{trace}"
    );
    assert!(!trace.contains("newuidmap"), "{trace}");
    assert_eq!(second, first, "the same mapping in the kept namespace");
    // The keeper: recognisable, detached, holding nothing of ours.
    assert!(alive(pid));
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(comm.trim(), "berth-userns");
    assert_eq!(stat_field(pid, 6), pid.to_string(), "its own session");
    assert_eq!(stat_field(pid, 7), "0", "no terminal");
    assert_ne!(stat_field(pid, 4), std::process::id().to_string());
    assert_eq!(
        std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap(),
        Path::new("/")
    );
    let mut fds: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    fds.sort();
    assert_eq!(fds, ["0", "1", "2"], "descriptors of the keeper");
    for fd in 0..3 {
        assert_eq!(
            std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).unwrap(),
            Path::new("/dev/null")
        );
    }
    assert_eq!(status_line(pid, "CapEff:"), "0000000000000000");
    assert_eq!(
        status_line(pid, "Uid:").split_whitespace().next(),
        Some(uid.to_string().as_str())
    );
    // Small: what it allocates itself (its resident file pages are the
    // binary's relocated data, 1.5 MB in a release build, more in debug).
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap();
    let anon_kb: u64 = rollup
        .lines()
        .find_map(|l| l.strip_prefix("Anonymous:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    assert!(anon_kb < 2048, "the keeper holds {anon_kb} kB of memory");
    use std::os::unix::fs::MetadataExt;
    let record = std::fs::symlink_metadata(env.record()).unwrap();
    assert_eq!(record.mode() & 0o777, 0o600);
    assert_eq!(record.uid(), uid);
    let dir = std::fs::symlink_metadata(env.xdg.join("berth")).unwrap();
    assert_eq!(dir.mode() & 0o777, 0o700);
}

#[test]
fn a_killed_keeper_is_replaced() {
    let Some(env) = sub_env() else { return };
    env.run_uid_map();
    let pid = env.keeper_pid();
    // SAFETY: kill with a pid and a signal number.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    while alive(pid) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let (map, trace) = env.run_uid_map();
    assert_full_mapping(&map, env.b.user.uid);
    assert!(trace.contains("kept user namespace not used"), "{trace}");
    assert!(trace.contains("user namespace keeper started"), "{trace}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while env.keeper_pid() == pid {
        assert!(Instant::now() < deadline, "no new keeper");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (_, trace) = env.run_uid_map();
    assert!(trace.contains("user namespace joined (kept)"), "{trace}");
}

#[test]
fn the_keeper_leaves_by_itself_when_idle() {
    let Some(env) = sub_env() else { return };
    env.run_uid_map();
    let pid = env.keeper_pid();
    // Used again: the idle time starts over from this join.
    let (_, trace) = env.run_uid_map();
    assert!(trace.contains("user namespace joined (kept)"), "{trace}");
    let joined = Instant::now();
    while alive(pid) {
        assert!(
            joined.elapsed() < IDLE + Duration::from_secs(10),
            "the keeper is still there {:?} after its last use",
            joined.elapsed()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let gone_after = joined.elapsed();
    assert!(
        gone_after > IDLE - Duration::from_secs(2),
        "the keeper left {gone_after:?} after its last use, before its idle time"
    );
    assert!(!env.record().exists(), "the keeper left its record behind");
    // The next command makes a new namespace and a new keeper.
    let (map, trace) = env.run_uid_map();
    assert_full_mapping(&map, env.b.user.uid);
    assert!(trace.contains("user namespace keeper started"), "{trace}");
}

#[test]
fn garbage_foreign_and_mismatched_records_are_passed_over() {
    let Some(env) = sub_env() else { return };
    let uid = env.b.user.uid;
    env.run_uid_map();
    env.keeper_pid();
    let record = env.record();
    // Written as the user: a file of theirs that berth did not write.
    let write_as_user = |text: &str| {
        let out = run(env.b.user_command(
            Path::new("/bin/sh"),
            &[
                "-c",
                "umask 077; printf '%s' \"$1\" > \"$2.new\" && mv \"$2.new\" \"$2\"",
                "sh",
                text,
                record.to_str().unwrap(),
            ],
        ));
        assert_success(&out, "writing the record");
    };
    let start_of = |pid: i32| stat_field(pid, 22);
    let cases: Vec<(String, &str)> = vec![
        ("garbage\n".into(), "not one berth wrote"),
        // A live process of another user (this test, root's).
        (
            format!(
                "berth-userns 1\n{} {}\n",
                std::process::id(),
                start_of(std::process::id() as i32)
            ),
            "belongs to uid 0",
        ),
        // A pid that was reused (a start time that is not the process's).
        (
            format!("berth-userns 1\n{} 1\n", std::process::id()),
            "gone",
        ),
    ];
    for (text, why) in cases {
        write_as_user(&text);
        let (map, trace) = env.run_uid_map();
        assert_full_mapping(&map, uid);
        assert!(
            trace.contains(why) && trace.contains("user namespace keeper started"),
            "record {text:?}:\n{trace}"
        );
        let pid = env.keeper_pid();
        assert_eq!(
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .unwrap()
                .trim(),
            "berth-userns",
            "the record was replaced by a new keeper's"
        );
    }
    // A process of the user, but in a namespace with other maps (as after
    // an administrator changed /etc/subuid): not joined.
    let mut other = env
        .b
        .user_command(Path::new("/usr/bin/unshare"), &["-U", "-r", "sleep", "30"])
        .spawn()
        .unwrap();
    let other_pid = other.id() as i32;
    let deadline = Instant::now() + Duration::from_secs(10);
    // setpriv execs unshare, which execs sleep once the namespace is mapped.
    while std::fs::read_to_string(format!("/proc/{other_pid}/comm"))
        .map_or(true, |c| c.trim() != "sleep")
    {
        assert!(Instant::now() < deadline, "unshare -U -r did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
    write_as_user(&format!(
        "berth-userns 1\n{other_pid} {}\n",
        start_of(other_pid)
    ));
    let (map, trace) = env.run_uid_map();
    // The new keeper ends only a keeper it replaced, never another process.
    std::thread::sleep(Duration::from_millis(300));
    let survived = alive(other_pid);
    let _ = other.kill();
    let _ = other.wait();
    assert_full_mapping(&map, uid);
    assert!(
        trace.contains("its maps are not those"),
        "a namespace with other maps was joined:\n{trace}"
    );
    assert!(survived, "the process the record named was killed");
}

/// A keeper that a command passed over (here: its record was opened to
/// others) is ended by the keeper that replaces it, at once rather than
/// after its idle time.
#[test]
fn a_replaced_keeper_leaves_at_once() {
    let Some(env) = sub_env() else { return };
    env.run_uid_map();
    let old = env.keeper_pid();
    let out = run(env.b.user_command(
        Path::new("/bin/chmod"),
        &["644", env.record().to_str().unwrap()],
    ));
    assert_success(&out, "chmod the record");
    let (_, trace) = env.run_uid_map();
    assert!(trace.contains("not a private file"), "{trace}");
    let deadline = Instant::now() + Duration::from_secs(3);
    while alive(old) {
        assert!(
            Instant::now() < deadline,
            "the replaced keeper is still there"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_ne!(env.keeper_pid(), old);
    let (_, trace) = env.run_uid_map();
    assert!(trace.contains("user namespace joined (kept)"), "{trace}");
}

#[test]
fn a_user_without_a_range_keeps_the_single_mapping() {
    if !running_as_root() {
        skip_or_fail("the keeper tests run as root, as the test users");
        return;
    }
    let Some(user) = users().into_iter().find(|u| !u.subids) else {
        return;
    };
    let env = Env::new(&user);
    env.b.load_busybox();
    let (uid_map, first) = env.run_uid_map();
    assert!(
        first.contains("user namespace entered (single mapping)"),
        "{first}"
    );
    assert!(first.contains("user namespace keeper started"), "{first}");
    let keeper = env.keeper_pid();
    assert_eq!(status_line(keeper, "Name:"), "berth-userns");
    let single = format!("0 {} 1", user.uid);
    let lines: Vec<String> = uid_map
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(lines, std::slice::from_ref(&single), "{uid_map}");
    let (uid_map, second) = env.run_uid_map();
    assert!(second.contains("user namespace joined (kept)"), "{second}");
    assert!(!second.contains("entered (single mapping)"), "{second}");
    let lines: Vec<String> = uid_map
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(lines, [single], "{uid_map}");
    // The kept namespace is the keeper's, with setgroups denied as in one
    // the command makes.
    let setgroups = std::fs::read_to_string(format!("/proc/{keeper}/setgroups")).unwrap();
    assert_eq!(setgroups.trim(), "deny");
}
