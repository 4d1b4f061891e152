//! What a container's monitor does when it is told to go away (SIGTERM:
//! `kill`, a shutdown, a batch system) or killed outright (SIGKILL: what
//! Slurm sends a job's other processes once its batch script or task has
//! ended): a `--rm` container never lingers in `ps -a`, its name is free
//! again, its files go with the next removal; another container is
//! recorded as killed and not restarted.

mod common;

use common::*;
use std::time::{Duration, Instant};

/// (container pid, monitor pid) from the record's state.
fn pids(b: &Berth, name: &str) -> (i32, i32) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let id = b.ok(&["inspect", "-f", "{{.Id}}", name]).trim().to_string();
        let state: serde_json::Value = serde_json::from_slice(
            &std::fs::read(b.root.join("containers").join(&id).join("state.json"))
                .unwrap_or_default(),
        )
        .unwrap_or_default();
        let (pid, monitor) = (
            state["pid"].as_i64().unwrap_or(0) as i32,
            state["monitor_pid"].as_i64().unwrap_or(0) as i32,
        );
        if pid > 0 && monitor > 0 {
            return (pid, monitor);
        }
        assert!(Instant::now() < deadline, "{name} did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !s.rsplit_once(')')
            .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
    })
}

fn wait_dead(pids: &[i32]) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while pids.iter().any(|p| alive(*p)) {
        assert!(Instant::now() < deadline, "{pids:?} still alive");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn container_dirs(b: &Berth) -> usize {
    std::fs::read_dir(b.root.join("containers")).map_or(0, |d| d.count())
}

fn signal(pid: i32, sig: i32) {
    // SAFETY: kill with a pid and a signal number.
    unsafe { libc::kill(pid, sig) };
}

#[test]
fn sigterm_to_the_monitor_removes_its_rm_container() {
    each_user(|b| {
        b.load_busybox();
        b.ok(&[
            "run", "-d", "--rm", "--name", "gone", "busybox", "sleep", "60",
        ]);
        let (pid, monitor) = pids(b, "gone");
        signal(monitor, libc::SIGTERM);
        wait_dead(&[pid, monitor]);
        // The monitor removed it all itself: no berth command ran since.
        assert_eq!(container_dirs(b), 0, "files left by the monitor");
        assert!(b.container_ids().is_empty());
    });
}

#[test]
fn sigterm_to_the_monitor_records_the_kill_without_a_restart() {
    each_user(|b| {
        b.load_busybox();
        b.ok(&[
            "run",
            "-d",
            "--restart",
            "always",
            "--name",
            "stays",
            "busybox",
            "sleep",
            "60",
        ]);
        let (pid, monitor) = pids(b, "stays");
        signal(monitor, libc::SIGTERM);
        wait_dead(&[pid, monitor]);
        std::thread::sleep(Duration::from_millis(300));
        let ps = b.ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
        assert!(ps.starts_with("stays Exited (137) "), "{ps}");
        b.ok(&["rm", "stays"]);
    });
}

#[test]
fn a_killed_monitors_rm_container_is_gone_and_its_name_free() {
    each_user(|b| {
        b.load_busybox();
        b.ok(&[
            "run",
            "-d",
            "--rm",
            "--name",
            "abandoned",
            "busybox",
            "sleep",
            "60",
        ]);
        let (pid, monitor) = pids(b, "abandoned");
        signal(monitor, libc::SIGKILL);
        wait_dead(&[pid, monitor]);
        // Nothing could run in the monitor: the record is still there...
        assert_eq!(container_dirs(b), 1);
        // ...but the name is free at once, as Docker's daemon would have
        // removed the container,
        assert_eq!(
            b.ok(&[
                "run",
                "--rm",
                "--name",
                "abandoned",
                "busybox",
                "echo",
                "again"
            ]),
            "again\n"
        );
        // no listing shows it,
        assert!(b.container_ids().is_empty());
        // and the next removal takes its files.
        b.ok(&["create", "--name", "other", "busybox"]);
        b.ok(&["rm", "other"]);
        assert_eq!(container_dirs(b), 0, "files left");
    });
}
