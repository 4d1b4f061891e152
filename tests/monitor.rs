//! Containers without a daemon: detached runs under their monitor, logs,
//! lifecycle commands, terminals, restart policies, health checks and
//! what is left after a monitor dies.

mod common;

use common::*;
use std::time::{Duration, Instant};

/// Polls `berth inspect -f FORMAT NAME` until it prints `want`.
fn wait_for(b: &Berth, name: &str, format: &str, want: &str, limit: Duration) -> String {
    let deadline = Instant::now() + limit;
    loop {
        let out = b.cmd(&["inspect", "-f", format, name]);
        let got = stdout(&out).trim().to_string();
        if got == want {
            return got;
        }
        if Instant::now() > deadline {
            panic!(
                "{name}: {format} is {got:?}, waited {limit:?} for {want:?}\n{}",
                show(&out)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn detached_run_logs_and_lifecycle() {
    each_user(|b| {
        b.load_busybox();
        let id = b.ok(&[
            "run",
            "-d",
            "--name",
            "ticker",
            "busybox",
            "sh",
            "-c",
            "echo out; echo err >&2; while true; do sleep 0.1; done",
        ]);
        let id = id.trim();
        assert_eq!(id.len(), 64, "run -d prints the full id: {id:?}");
        wait_for(
            b,
            "ticker",
            "{{.State.Status}}",
            "running",
            Duration::from_secs(10),
        );
        let ps = b.ok(&["ps", "--format", "{{.Names}} {{.Status}}"]);
        assert!(ps.contains("ticker Up "), "{ps}");

        // Logs keep stdout and stderr apart, with timestamps on demand.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let out = b.cmd(&["logs", "ticker"]);
            if stdout(&out) == "out\n" && stderr(&out) == "err\n" {
                break;
            }
            assert!(Instant::now() < deadline, "logs: {}", show(&out));
            std::thread::sleep(Duration::from_millis(50));
        }
        // --tail counts records of both streams, as Docker's.
        assert_eq!(b.ok(&["logs", "--tail", "0", "ticker"]), "");
        let stamped = b.ok(&["logs", "-t", "--tail", "2", "ticker"]);
        assert!(
            stamped.ends_with("Z out\n") && stamped.starts_with("20"),
            "{stamped:?}"
        );
        // Docker's fixed nine digits of the second: 2026-12-02T05:31:44.696320460Z.
        let stamp = stamped.lines().last().unwrap().split(' ').next().unwrap();
        assert_eq!(stamp.len(), 30, "{stamped:?}");
        // --details: the record's details (none) and a space before the line.
        assert_eq!(b.ok(&["logs", "--details", "ticker"]), " out\n");
        assert_eq!(b.ok(&["logs", "--since", "1h", "ticker"]), "out\n");
        assert_eq!(b.ok(&["logs", "--until", "1h", "ticker"]), "");

        // top lists the container's processes.
        let top = b.ok(&["top", "ticker"]);
        assert!(top.contains("sleep"), "{top}");
        // Docker's CLI aligns `ps -ef` with tabwriter(20, 1, 3).
        assert!(
            top.starts_with("UID                 PID                 PPID                C   "),
            "{top}"
        );

        // rename keeps the container, frees the old name.
        b.ok(&["rename", "ticker", "ticker2"]);
        b.fails(&["inspect", "--type", "container", "ticker"]);

        // stop: SIGTERM is ignored by a shell as pid 1, so SIGKILL after -t.
        let started = Instant::now();
        assert_eq!(b.ok(&["stop", "-t", "1", "ticker2"]), "ticker2\n");
        assert!(started.elapsed() < Duration::from_secs(8));
        assert_eq!(
            b.ok(&[
                "inspect",
                "-f",
                "{{.State.Status}} {{.State.ExitCode}}",
                "ticker2"
            ]),
            "exited 137\n"
        );
        assert_eq!(b.ok(&["wait", "ticker2"]), "137\n");
        let ps = b.ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
        assert!(ps.contains("ticker2 Exited (137)"), "{ps}");

        // Output of an exited container is still there; logs -f ends.
        assert_eq!(b.ok(&["logs", "-f", "ticker2"]), "out\n");

        // start again in the background, kill, rm.
        assert_eq!(b.ok(&["start", "ticker2"]), "ticker2\n");
        wait_for(
            b,
            "ticker2",
            "{{.State.Status}}",
            "running",
            Duration::from_secs(10),
        );
        b.ok(&["kill", "-s", "KILL", "ticker2"]);
        wait_for(
            b,
            "ticker2",
            "{{.State.Status}}",
            "exited",
            Duration::from_secs(10),
        );
        b.ok(&["rm", "ticker2"]);
        assert!(b.container_ids().is_empty());
    });
}

#[test]
fn logs_follow_ends_when_the_container_stops() {
    each_user(|b| {
        b.load_busybox();
        b.ok(&[
            "run",
            "-d",
            "--name",
            "counter",
            "busybox",
            "sh",
            "-c",
            "for i in 1 2 3; do echo $i; sleep 0.2; done",
        ]);
        let out = b.cmd(&["logs", "-f", "counter"]);
        assert_success(&out, "logs -f");
        assert_eq!(stdout(&out), "1\n2\n3\n");
        b.ok(&["rm", "counter"]);
    });
}

#[test]
fn restart_policies_and_stop_wins() {
    each_user(|b| {
        b.load_busybox();
        b.ok(&[
            "run",
            "-d",
            "--name",
            "flaky",
            "--restart",
            "on-failure:2",
            "busybox",
            "sh",
            "-c",
            "echo run; exit 3",
        ]);
        wait_for(
            b,
            "flaky",
            "{{.State.Status}} {{.RestartCount}}",
            "exited 2",
            Duration::from_secs(15),
        );
        assert_eq!(b.ok(&["logs", "flaky"]), "run\nrun\nrun\n");
        assert_eq!(
            b.ok(&["inspect", "-f", "{{.State.ExitCode}}", "flaky"]),
            "3\n"
        );

        // always: restarts after exit 0 too, until stopped.
        b.ok(&[
            "run",
            "-d",
            "--name",
            "forever",
            "--restart",
            "always",
            "busybox",
            "sh",
            "-c",
            "sleep 0.2",
        ]);
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let n: u32 = b
                .ok(&["inspect", "-f", "{{.RestartCount}}", "forever"])
                .trim()
                .parse()
                .unwrap();
            if n >= 2 {
                break;
            }
            assert!(Instant::now() < deadline, "always did not restart");
            std::thread::sleep(Duration::from_millis(100));
        }
        b.ok(&["stop", "-t", "1", "forever"]);
        std::thread::sleep(Duration::from_millis(700));
        assert_eq!(
            b.ok(&["inspect", "-f", "{{.State.Status}}", "forever"]),
            "exited\n",
            "stop is never undone by a restart"
        );
        b.fails(&["run", "--rm", "--restart", "always", "busybox", "true"]);
        b.fails(&["run", "--restart", "sometimes", "busybox", "true"]);
        b.ok(&["rm", "flaky", "forever"]);

        // kill, as Docker's ExitOnNext: without a stop signal of its own,
        // any signal keeps the container down when it exits; with one,
        // another signal is an ordinary exit, which the policy restarts.
        let trap = |sig: &str| format!("trap 'exit 5' {sig}; sleep 100 & wait");
        b.ok(&[
            "run",
            "-d",
            "--name",
            "hup",
            "--restart",
            "always",
            "busybox",
            "sh",
            "-c",
            &trap("HUP"),
        ]);
        b.ok(&[
            "run",
            "-d",
            "--name",
            "usr1",
            "--restart",
            "always",
            "--stop-signal",
            "USR1",
            "busybox",
            "sh",
            "-c",
            &trap("TERM"),
        ]);
        // Both shells have set their traps before they are signalled.
        for name in ["hup", "usr1"] {
            let deadline = Instant::now() + Duration::from_secs(10);
            while !b.ok(&["top", name]).contains("sleep 100") {
                assert!(Instant::now() < deadline, "{name} did not start its sleep");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        b.ok(&["kill", "-s", "HUP", "hup"]);
        b.ok(&["kill", "-s", "TERM", "usr1"]);
        wait_for(b, "usr1", "{{.RestartCount}}", "1", Duration::from_secs(15));
        // A restart would have shown as "restarting", never as "exited".
        wait_for(
            b,
            "hup",
            "{{.State.Status}} {{.State.ExitCode}} {{.RestartCount}}",
            "exited 5 0",
            Duration::from_secs(10),
        );
        std::thread::sleep(Duration::from_millis(500));
        assert_eq!(
            b.ok(&[
                "inspect",
                "-f",
                "{{.State.Status}} {{.RestartCount}}",
                "hup"
            ]),
            "exited 0\n",
            "a container without a stop signal stays down after kill"
        );
        b.ok(&["rm", "-f", "hup", "usr1"]);
    });
}

#[test]
fn health_checks_run_without_systemd() {
    each_user(|b| {
        b.load_busybox();
        b.ok(&[
            "run",
            "-d",
            "--name",
            "hc",
            "--health-cmd",
            "test -e /tmp/ready",
            "--health-interval",
            "200ms",
            "--health-retries",
            "2",
            "busybox",
            "sh",
            "-c",
            "sleep 1.5; touch /tmp/ready; sleep 30",
        ]);
        wait_for(
            b,
            "hc",
            "{{.State.Health.Status}}",
            "unhealthy",
            Duration::from_secs(10),
        );
        let ps = b.ok(&["ps", "--format", "{{.Names}} {{.Status}}"]);
        assert!(
            ps.contains("(unhealthy)") || ps.contains("(healthy)"),
            "{ps}"
        );
        wait_for(
            b,
            "hc",
            "{{.State.Health.Status}}",
            "healthy",
            Duration::from_secs(10),
        );
        let log = b.ok(&["inspect", "-f", "{{json .State.Health.Log}}", "hc"]);
        assert!(log.contains("\"ExitCode\":0"), "{log}");
        b.ok(&["rm", "-f", "hc"]);
        // --no-healthcheck: no Health at all.
        b.ok(&[
            "run",
            "-d",
            "--name",
            "nohc",
            "--no-healthcheck",
            "busybox",
            "sleep",
            "30",
        ]);
        assert_eq!(
            b.ok(&["inspect", "-f", "{{json .State.Health}}", "nohc"]),
            "null\n"
        );
        b.ok(&["rm", "-f", "nohc"]);
    });
}

#[test]
fn terminal_detach_and_attach() {
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        return skip_or_fail("`script` (util-linux) is needed to drive a terminal");
    }
    each_user(|b| {
        b.load_busybox();
        // A real pty from the container's own devpts, with the caller's
        // size before the program starts (it asks at once).
        let berth = b.program().display().to_string();
        let out = run_script(
            b,
            &format!(
                "stty rows 17 cols 91; {berth} run --rm -it busybox sh -c 'stty size; tty; exit 4'"
            ),
            b"",
        );
        assert_eq!(out.status.code(), Some(4), "{}", show(&out));
        assert!(stdout(&out).contains("/dev/pts/0"), "{}", show(&out));
        assert!(stdout(&out).contains("17 91"), "{}", show(&out));
        // Docker's ConsoleSize: the terminal's size at create.
        run_script(
            b,
            &format!("stty rows 23 cols 71; {berth} create -t --name sized busybox"),
            b"",
        );
        assert_eq!(
            b.ok(&["inspect", "-f", "{{json .HostConfig.ConsoleSize}}", "sized"])
                .trim(),
            "[23,71]"
        );
        b.ok(&["rm", "sized"]);

        // ctrl-p ctrl-q detaches and leaves the container running.
        let out = run_script(
            b,
            &format!("{berth} run -it --name tty1 busybox sh"),
            b"\x10\x11",
        );
        assert_eq!(out.status.code(), Some(0), "{}", show(&out));
        wait_for(
            b,
            "tty1",
            "{{.State.Status}}",
            "running",
            Duration::from_secs(5),
        );
        // attach reconnects to the terminal; the shell's exit ends it.
        let out = run_script(
            b,
            &format!("{berth} attach tty1"),
            b"echo again-$((40+2))\rexit 3\r",
        );
        assert_eq!(out.status.code(), Some(3), "{}", show(&out));
        assert!(stdout(&out).contains("again-42"), "{}", show(&out));
        // start -a -i attaches a terminal again to the stopped container.
        let out = run_script(
            b,
            &format!("{berth} start -a -i tty1"),
            b"echo back-$((1+1))\rexit 5\r",
        );
        assert_eq!(out.status.code(), Some(5), "{}", show(&out));
        assert!(stdout(&out).contains("back-2"), "{}", show(&out));
        wait_for(
            b,
            "tty1",
            "{{.State.Status}}",
            "exited",
            Duration::from_secs(10),
        );
        b.ok(&["rm", "tty1"]);
    });
}

/// Runs a shell command line under `script`, which gives it a pty; `keys`
/// are typed after a short pause.
fn run_script(b: &Berth, line: &str, keys: &[u8]) -> std::process::Output {
    let mut cmd = b.user_command(
        std::path::Path::new("/usr/bin/script"),
        &["-qec", line, "/dev/null"],
    );
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("starting script");
    let mut stdin = child.stdin.take().unwrap();
    std::thread::sleep(Duration::from_millis(800));
    use std::io::Write;
    let _ = stdin.write_all(keys);
    let _ = stdin.flush();
    let out = child.wait_with_output().expect("waiting for script");
    drop(stdin);
    out
}

#[test]
fn a_killed_monitor_leaves_a_truthful_record() {
    each_user(|b| {
        b.load_busybox();
        b.ok(&["run", "-d", "--name", "orphan", "busybox", "sleep", "60"]);
        wait_for(
            b,
            "orphan",
            "{{.State.Status}}",
            "running",
            Duration::from_secs(10),
        );
        let pid: i32 = b
            .ok(&["inspect", "-f", "{{.State.Pid}}", "orphan"])
            .trim()
            .parse()
            .unwrap();
        // The monitor is the container's parent.
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let ppid: i32 = stat
            .rsplit_once(')')
            .unwrap()
            .1
            .split_whitespace()
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let cmdline = std::fs::read_to_string(format!("/proc/{ppid}/cmdline")).unwrap();
        assert!(cmdline.contains("__berth-monitor"), "{cmdline:?}");
        let comm = std::fs::read_to_string(format!("/proc/{ppid}/comm")).unwrap();
        assert_eq!(comm.trim(), "berth-monitor");
        // SAFETY: kill with a pid and a signal number.
        unsafe { libc::kill(ppid, libc::SIGKILL) };
        // The container goes with its monitor, and ps says so.
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::path::Path::new(&format!("/proc/{pid}")).exists() {
            assert!(
                Instant::now() < deadline,
                "the container outlived its monitor"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let ps = b.ok(&["ps", "-a", "--format", "{{.Names}} {{.State}} {{.Status}}"]);
        assert!(ps.contains("orphan exited Exited (-1)"), "{ps}");
        b.ok(&["rm", "orphan"]);
        assert!(b.container_ids().is_empty());
    });
}

#[test]
fn killing_the_client_does_not_stop_the_container() {
    each_user(|b| {
        b.load_busybox();
        let mut client = b
            .command(&["run", "--name", "survivor", "busybox", "sleep", "60"])
            .spawn()
            .unwrap();
        wait_for(
            b,
            "survivor",
            "{{.State.Status}}",
            "running",
            Duration::from_secs(10),
        );
        let pid = client.id() as i32;
        // SAFETY: kill with a pid and a signal number.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        let _ = client.wait();
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(
            b.ok(&["inspect", "-f", "{{.State.Status}}", "survivor"]),
            "running\n"
        );
        // attach reconnects to it; rm -f ends it.
        b.ok(&["rm", "-f", "survivor"]);
        assert!(b.container_ids().is_empty());
    });
}

#[test]
fn container_programs_start_with_no_signal_blocked() {
    each_user(|b| {
        b.load_busybox();
        let out = b.run_rm("busybox", &["grep", "SigBlk", "/proc/self/status"]);
        assert_eq!(out, "SigBlk:\t0000000000000000\n");
        // So a TERM sent with `kill` reaches a program that handles it.
        b.ok(&[
            "run",
            "-d",
            "--name",
            "trapper",
            "busybox",
            "sh",
            "-c",
            "trap 'exit 42' TERM; while true; do sleep 0.1; done",
        ]);
        wait_for(
            b,
            "trapper",
            "{{.State.Status}}",
            "running",
            Duration::from_secs(10),
        );
        std::thread::sleep(Duration::from_millis(200));
        b.ok(&["kill", "-s", "TERM", "trapper"]);
        assert_eq!(b.ok(&["wait", "trapper"]), "42\n");
        b.ok(&["rm", "trapper"]);
    });
}

#[test]
fn a_bad_stop_signal_is_refused_at_create() {
    each_user(|b| {
        b.load_busybox();
        let e = b.status(
            &["create", "--stop-signal", "SIGNOPE", "busybox", "true"],
            125,
        );
        assert!(
            stderr(&e).contains("invalid stop signal \"SIGNOPE\" (from --stop-signal)"),
            "{}",
            show(&e)
        );
        assert!(b.container_ids().is_empty(), "a container was made");
        let id = b.ok(&["create", "--stop-signal", "usr1", "busybox", "sleep", "60"]);
        assert_eq!(
            b.ok(&["inspect", "-f", "{{.Config.StopSignal}}", id.trim()])
                .trim(),
            "usr1"
        );
        b.ok(&["rm", id.trim()]);
    });
}
