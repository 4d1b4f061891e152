//! `exec`, `pause` and `--init` against running containers, as each test user.

mod common;
use common::*;
use std::path::PathBuf;

/// A detached container running `sleep` (long: idle machines may fast-forward time).
fn start(b: &Berth, name: &str, extra: &[&str]) {
    let mut argv = vec!["run", "-d", "--name", name];
    argv.extend_from_slice(extra);
    argv.extend_from_slice(&["busybox", "sleep", "99999999"]);
    b.ok(&argv);
    assert_eq!(
        b.ok(&["inspect", "-f", "{{.State.Status}}", name]).trim(),
        "running"
    );
}

/// The berth executable a handle runs (behind setpriv when switching users).
fn berth_path(b: &Berth) -> PathBuf {
    let cmd = b.command(&["x"]);
    if cmd.get_program() == "setpriv" {
        let args: Vec<_> = cmd.get_args().collect();
        let i = args.iter().position(|a| *a == "--").expect("setpriv --");
        PathBuf::from(args[i + 1])
    } else {
        PathBuf::from(cmd.get_program())
    }
}

#[test]
fn exec_runs_in_the_container_with_its_settings() {
    each_user(|b| {
        b.load_busybox();
        b.ok(&[
            "run",
            "-d",
            "--name",
            "ctr",
            "-e",
            "FROM_RUN=1",
            "-w",
            "/tmp",
            "busybox",
            "sleep",
            "99999999",
        ]);
        let out = b.ok(&[
            "exec",
            "ctr",
            "sh",
            "-c",
            "id -u; pwd; echo $FROM_RUN; hostname",
        ]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(&lines[..3], ["0", "/tmp", "1"], "{out}");
        // Same pid namespace: the container's sleep is pid 1.
        let ps = b.ok(&["exec", "ctr", "cat", "/proc/1/cmdline"]);
        assert!(ps.starts_with("sleep"), "{ps:?}");
        let argv = [
            "exec",
            "-u",
            "nobody",
            "-w",
            "/",
            "-e",
            "X=y",
            "ctr",
            "sh",
            "-c",
            "id -u; pwd; echo $X",
        ];
        if b.user.subids || b.user.is_root() {
            assert_eq!(b.ok(&argv), "65534\n/\ny\n");
        } else {
            // A single id mapping has no uid 65534.
            let out = b.status(&argv, 126);
            assert!(stderr(&out).contains("not mapped"), "{}", show(&out));
        }
        // Docker's capability set, not ours.
        let caps = b.ok(&["exec", "ctr", "grep", "CapEff", "/proc/self/status"]);
        assert!(caps.contains("00000000a80425fb"), "{caps}");
        b.status(&["exec", "ctr", "sh", "-c", "exit 7"], 7);
        // Docker's exec exits 126 for every command that could not start.
        let out = b.status(&["exec", "ctr", "nosuch"], 126);
        assert!(
            stderr(&out).contains("exec: \"nosuch\": executable file not found in $PATH"),
            "{}",
            show(&out)
        );
        let out = b.status(&["exec", "ctr", "/etc/passwd"], 126);
        assert!(stderr(&out).contains("permission denied"), "{}", show(&out));
        let out = b.status(&["exec", "-w", "/nonexistent", "ctr", "true"], 126);
        assert!(stderr(&out).contains("chdir to cwd"), "{}", show(&out));
        // stdin reaches the process with -i only.
        let out = b.cmd_stdin(&["exec", "-i", "ctr", "cat"], b"piped\n");
        assert_eq!(stdout(&out), "piped\n");
        // -d returns at once and leaves the process running.
        b.ok(&[
            "exec",
            "-d",
            "ctr",
            "sh",
            "-c",
            "sleep 0.2; touch /tmp/done",
        ]);
        let mut done = false;
        for _ in 0..100 {
            if b.cmd(&["exec", "ctr", "test", "-e", "/tmp/done"])
                .status
                .success()
            {
                done = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        assert!(done, "exec -d did not run its command");
        b.ok(&["kill", "ctr"]);
        let out = b.fails(&["exec", "ctr", "true"]);
        assert!(stderr(&out).contains("is not running"), "{}", show(&out));
    });
}

#[test]
fn exec_t_gives_a_terminal_from_the_containers_devpts() {
    each_user(|b| {
        b.load_busybox();
        start(b, "tty1", &[]);
        let berth = berth_path(b);
        let line = format!(
            "stty cols 91 rows 17; {} exec -it tty1 sh -c 'tty; stty size; echo $TERM'",
            berth.display()
        );
        let mut cmd = b.user_command(
            std::path::Path::new("/usr/bin/script"),
            &["-qec", line.as_str(), "/dev/null"],
        );
        cmd.env("TERM", "dumb");
        let out = run(cmd);
        let text = stdout(&out);
        assert!(text.contains("/dev/pts/0"), "{}", show(&out));
        assert!(text.contains("17 91"), "{}", show(&out));
        assert!(text.contains("xterm"), "{}", show(&out));
        b.ok(&["kill", "tty1"]);
    });
}

#[test]
fn init_reaps_forwards_and_protects_berths_binary() {
    each_user(|b| {
        b.load_busybox();
        let berth = berth_path(b);
        let before = std::fs::read(&berth).unwrap();
        // Orphans are reaped: no zombie stays behind.
        let out = b.ok(&[
            "run",
            "--rm",
            "--init",
            "busybox",
            "sh",
            "-c",
            "sh -c 'sleep 0.1 &'; sleep 0.5; cat /proc/[0-9]*/stat | grep -c ' Z ' || true",
        ]);
        assert_eq!(out, "0\n");
        b.status(
            &["run", "--rm", "--init", "busybox", "sh", "-c", "exit 3"],
            3,
        );
        start(b, "init1", &["--init"]);
        // pid 1 shows as berth-init; its command line (readable by
        // anyone in the container) names nothing of the host.
        let shown = b.ok(&[
            "exec",
            "init1",
            "sh",
            "-c",
            "cat /proc/1/comm; tr '\\0' ' ' < /proc/1/cmdline; echo",
        ]);
        assert_eq!(
            shown.split_whitespace().collect::<Vec<_>>(),
            ["berth-init", "berth-init"],
            "{shown}"
        );
        // CVE-2019-5736: pid 1 is berth; its exe must not be reachable.
        for script in [
            "echo x >> /proc/1/exe",
            "readlink /proc/1/exe",
            "cat /proc/1/exe > /dev/null",
        ] {
            let out = b.cmd(&["exec", "init1", "sh", "-c", script]);
            assert!(!out.status.success(), "{script} worked:\n{}", show(&out));
        }
        let out = b.cmd(&["exec", "init1", "sh", "-c", "echo x >> /proc/self/exe"]);
        assert!(!out.status.success(), "{}", show(&out));
        // SIGTERM from `stop` reaches the program through the init.
        let t = std::time::Instant::now();
        b.ok(&["stop", "-t", "30", "init1"]);
        assert!(t.elapsed().as_secs() < 20, "stop waited for the timeout");
        assert_eq!(
            std::fs::read(&berth).unwrap(),
            before,
            "berth's binary changed"
        );
    });
}

#[test]
fn pause_explains_what_it_needs_or_freezes() {
    each_user(|b| {
        b.load_busybox();
        start(b, "pz", &[]);
        let out = b.cmd(&["pause", "pz"]);
        if out.status.success() {
            assert_eq!(
                b.ok(&["inspect", "-f", "{{.State.Status}}", "pz"]).trim(),
                "paused"
            );
            let e = b.fails(&["exec", "pz", "true"]);
            assert!(stderr(&e).contains("paused"), "{}", show(&e));
            b.ok(&["unpause", "pz"]);
        } else {
            let err = stderr(&out);
            assert!(
                err.contains("Delegate=yes") && err.contains("cgroup"),
                "{}",
                show(&out)
            );
            assert_eq!(
                b.ok(&["inspect", "-f", "{{.State.Status}}", "pz"]).trim(),
                "running"
            );
        }
        b.ok(&["kill", "pz"]);
    });
}

#[test]
fn pause_freezes_when_the_cgroup_is_writable() {
    // Root may write its cgroup, so the monitor gives each container one of
    // its own and pause must work; users without a delegated cgroup get
    // the explanation (checked above).
    let Some(root) = root_user() else { return };
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    if !mounts.lines().any(|l| l.contains(" - cgroup2 ")) {
        return skip_or_fail("no cgroup v2 hierarchy is mounted");
    }
    let b = Berth::new(&root);
    b.load_busybox();
    b.ok(&[
        "run",
        "-d",
        "--name",
        "frozen",
        "busybox",
        "sh",
        "-c",
        "while true; do echo t; sleep 0.05; done",
    ]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    b.ok(&["pause", "frozen"]);
    let ps = b.ok(&["ps", "--format", "{{.Names}} {{.Status}}"]);
    assert!(ps.contains("frozen Up") && ps.contains("(Paused)"), "{ps}");
    let before = b.ok(&["logs", "frozen"]).lines().count();
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(
        b.ok(&["logs", "frozen"]).lines().count(),
        before,
        "a paused container printed"
    );
    b.ok(&["unpause", "frozen"]);
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(
        b.ok(&["logs", "frozen"]).lines().count() > before,
        "unpause did not resume it"
    );
    b.ok(&["rm", "-f", "frozen"]);
}

#[test]
fn a_health_probe_never_undoes_a_pause() {
    // The monitor alone writes a running container's state: a probe's
    // result recorded while the container is paused must not bring back
    // "running" (it once did, when pause wrote the state itself).
    let Some(root) = root_user() else { return };
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    if !mounts.lines().any(|l| l.contains(" - cgroup2 ")) {
        return skip_or_fail("no cgroup v2 hierarchy is mounted");
    }
    let b = Berth::new(&root);
    b.load_busybox();
    b.ok(&[
        "run",
        "-d",
        "--name",
        "probed",
        "--health-cmd",
        "true",
        "--health-interval",
        "50ms",
        "busybox",
        "sleep",
        "60",
    ]);
    let status = |b: &Berth| {
        b.ok(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.Health.Status}}",
            "probed",
        ])
        .trim()
        .to_string()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while status(&b) != "running healthy" {
        assert!(std::time::Instant::now() < deadline, "{}", status(&b));
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    b.ok(&["pause", "probed"]);
    std::thread::sleep(std::time::Duration::from_millis(400));
    assert_eq!(status(&b), "paused healthy");
    let e = b.fails(&["pause", "probed"]);
    assert!(stderr(&e).contains("is already paused"), "{}", show(&e));
    b.ok(&["unpause", "probed"]);
    assert_eq!(status(&b), "running healthy");
    let e = b.fails(&["unpause", "probed"]);
    assert!(stderr(&e).contains("is not paused"), "{}", show(&e));
    b.ok(&["rm", "-f", "probed"]);
}
