//! `berth sandbox`: host commands run isolated, checked from inside (what
//! the command can do) and from outside (what reached the host), as both
//! test users; and the fallback where user namespaces are forbidden
//! (`user.max_user_namespaces = 0` inside a user namespace of the test's
//! own, so the machine's setting is never touched).

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Output;

fn sandbox(b: &Berth, args: &[&str]) -> Output {
    let mut argv = vec!["sandbox"];
    argv.extend_from_slice(args);
    b.cmd(&argv)
}

#[track_caller]
fn sandbox_ok(b: &Berth, args: &[&str]) -> String {
    let out = sandbox(b, args);
    assert_success(&out, &format!("sandbox {args:?} as {}", b.user.name));
    stdout(&out)
}

/// A file owned by the user in a directory of the host, removed on drop.
struct HostFile(PathBuf);

impl HostFile {
    fn new(b: &Berth, path: PathBuf, contents: &str) -> HostFile {
        std::fs::write(&path, contents).expect("writing a host file");
        if running_as_root() {
            std::os::unix::fs::chown(&path, Some(b.user.uid), Some(b.user.gid)).unwrap();
        }
        HostFile(path)
    }
}

impl Drop for HostFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn unique(name: &str) -> String {
    format!("berth-sandbox-{name}-{}", std::process::id())
}

/// A python3 one-liner that prints the errno of a raw syscall (0 if it
/// succeeded): `syscall(NR, args...)`.
fn py_syscall(nr: i64, args: &str) -> String {
    format!(
        "import ctypes, os; libc = ctypes.CDLL(None, use_errno=True); \
         r = libc.syscall({nr}, {args}); print(ctypes.get_errno() if r < 0 else 0)"
    )
}

#[test]
fn sandbox_cwd_is_writable_and_the_rest_read_only() {
    each_user(|b| {
        assert_eq!(
            sandbox_ok(b, &["sh", "-c", "echo hi > here && cat here"]),
            "hi\n"
        );
        assert_eq!(std::fs::read_to_string(b.dir.join("here")).unwrap(), "hi\n");
        // /var/tmp is writable by everyone on the host, not in the sandbox.
        let outside = format!("/var/tmp/{}", unique("outside"));
        let out = sandbox(b, &["sh", "-c", &format!("echo x > {outside}")]);
        assert!(!out.status.success(), "{}", show(&out));
        assert!(
            stderr(&out).contains("Read-only file system"),
            "{}",
            show(&out)
        );
        assert!(!Path::new(&outside).exists());
        let out = sandbox(b, &["touch", "/etc/berth-probe"]);
        assert!(!out.status.success());
        assert!(!Path::new("/etc/berth-probe").exists());
    });
}

#[test]
fn sandbox_home_and_tmp_are_private() {
    each_user(|b| {
        let name = unique("secret");
        let _secret = HostFile::new(b, b.user.home.join(&name), "top secret\n");
        let _tmp = HostFile::new(b, PathBuf::from("/tmp").join(&name), "tmp secret\n");
        let script = format!(
            "cat ~/{name} /tmp/{name} 2>/dev/null; ls -A ~ /tmp; echo scratch > ~/new-{name}; \
             echo scratch > /tmp/new-{name}; cat ~/new-{name} /tmp/new-{name}"
        );
        let out = sandbox_ok(b, &["sh", "-c", &script]);
        assert!(!out.contains("secret"), "{out}");
        assert_eq!(out.matches("scratch").count(), 2, "{out}");
        // Nothing written there reached the host.
        assert!(!b.user.home.join(format!("new-{name}")).exists());
        assert!(!Path::new("/tmp").join(format!("new-{name}")).exists());
    });
}

#[test]
fn sandbox_rw_ro_and_hide() {
    each_user(|b| {
        let ro = b.scratch_dir();
        std::fs::write(ro.join("kept"), "kept\n").unwrap();
        let hidden = b.write_file("token", "secret-token\n");
        let rw = PathBuf::from("/var/tmp").join(unique("rw"));
        std::fs::create_dir(&rw).unwrap();
        if running_as_root() {
            std::os::unix::fs::chown(&rw, Some(b.user.uid), Some(b.user.gid)).unwrap();
        }
        let script = format!(
            "cat {ro}/kept; echo no > {ro}/new; cat {hidden}; echo yes > {rw}/new && echo rw-ok",
            ro = ro.display(),
            hidden = hidden.display(),
            rw = rw.display()
        );
        let out = sandbox(
            b,
            &[
                "--ro",
                ro.to_str().unwrap(),
                "--hide",
                hidden.to_str().unwrap(),
                "--rw",
                rw.to_str().unwrap(),
                "sh",
                "-c",
                &script,
            ],
        );
        let text = stdout(&out);
        let _ = std::fs::remove_dir_all(&rw);
        assert!(
            text.contains("kept") && text.contains("rw-ok"),
            "{}",
            show(&out)
        );
        assert!(!text.contains("secret-token"), "{}", show(&out));
        assert!(
            !ro.join("new").exists(),
            "--ro inside the writable cwd stayed read-only"
        );
        // A path that does not exist is an error of berth's.
        let out = sandbox(b, &["--rw", "/no/such/dir", "true"]);
        assert_status(&out, 125, "--rw of a missing path");
        assert!(stderr(&out).contains("/no/such/dir"), "{}", show(&out));
    });
}

#[test]
fn sandbox_network_none_by_default() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let connect = format!(
        "import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), 3); print('connected')\n\
         except OSError as e:\n    print('refused', e.errno)"
    );
    each_user(|b| {
        let out = sandbox_ok(b, &["python3", "-c", &connect]);
        assert!(out.starts_with("refused"), "{out}");
        let devs = sandbox_ok(b, &["cat", "/proc/net/dev"]);
        let names: Vec<&str> = devs
            .lines()
            .skip(2)
            .filter_map(|l| l.split(':').next())
            .collect();
        assert_eq!(
            names.iter().map(|n| n.trim()).collect::<Vec<_>>(),
            ["lo"],
            "{devs}"
        );
        let out = sandbox_ok(b, &["--network", "host", "python3", "-c", &connect]);
        assert_eq!(out, "connected\n");
        let out = sandbox(b, &["--network", "default", "true"]);
        assert_status(&out, 125, "--network default");
        assert!(
            stderr(&out).contains("does not exist yet"),
            "{}",
            show(&out)
        );
    });
}

fn landlock_abi() -> u32 {
    // The same question `berth info` asks the kernel.
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import ctypes; print(ctypes.CDLL(None).syscall(444, None, 0, 1))",
        ])
        .output()
        .expect("python3");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

#[test]
fn sandbox_allow_port_limits_tcp() {
    if landlock_abi() < 4 {
        skip_or_fail("TCP port rules need Landlock ABI 4 (Linux 6.7)");
        return;
    }
    let allowed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let denied = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (a, d) = (
        allowed.local_addr().unwrap().port(),
        denied.local_addr().unwrap().port(),
    );
    let probe = format!(
        "import socket\nfor p in ({a}, {d}):\n    try:\n        socket.create_connection(('127.0.0.1', p), 3); print(p, 'ok')\n\
         \x20   except OSError as e:\n        print(p, 'errno', e.errno)"
    );
    each_user(|b| {
        let out = sandbox_ok(
            b,
            &[
                "--network",
                "host",
                "--allow-port",
                &a.to_string(),
                "python3",
                "-c",
                &probe,
            ],
        );
        assert!(out.contains(&format!("{a} ok")), "{out}");
        assert!(
            out.contains(&format!("{d} errno 13")),
            "EACCES from Landlock: {out}"
        );
    });
}

#[test]
fn sandbox_seccomp_no_new_privs_no_capabilities() {
    each_user(|b| {
        // keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0): EPERM.
        let out = sandbox_ok(b, &["python3", "-c", &py_syscall(250, "0, -3, 0")]);
        assert_eq!(out, "1\n");
        let status = sandbox_ok(b, &["cat", "/proc/self/status"]);
        for want in [
            "NoNewPrivs:\t1",
            "Seccomp:\t2",
            "CapEff:\t0000000000000000",
            "CapBnd:\t0000000000000000",
        ] {
            assert!(status.contains(want), "{want} in\n{status}");
        }
        // A pid namespace of its own: the command is pid 2, beside its reaper.
        assert_eq!(sandbox_ok(b, &["sh", "-c", "echo $$"]), "2\n");
    });
}

#[test]
fn sandbox_exit_statuses() {
    each_user(|b| {
        assert_status(&sandbox(b, &["sh", "-c", "exit 42"]), 42, "exit 42");
        assert_status(&sandbox(b, &["false"]), 1, "false");
        let out = sandbox(b, &["no-such-command-berth"]);
        assert_status(&out, 127, "not found");
        assert!(
            stderr(&out).contains("executable file not found"),
            "{}",
            show(&out)
        );
        assert_status(&sandbox(b, &["/etc/passwd"]), 126, "not executable");
        assert_status(
            &sandbox(b, &["sh", "-c", "kill -TERM $$"]),
            143,
            "killed by SIGTERM",
        );
        assert_status(&sandbox(b, &["--no-such-flag", "true"]), 125, "bad flag");
        assert_status(&sandbox(b, &[]), 125, "no command");
    });
}

#[test]
fn sandbox_without_user_namespaces_still_confines() {
    each_user(|b| {
        // A user namespace of the test's own, where no further one may be
        // made: berth's unshare fails as on a locked-down machine.
        let probe = b.user_command(Path::new("unshare"), &["--user", "--map-root-user", "true"]);
        if !run(probe).status.success() {
            skip_or_fail("unshare --user is not allowed here, so the fallback cannot be staged");
            return;
        }
        let name = unique("fb-secret");
        let _secret = HostFile::new(b, b.user.home.join(&name), "fallback secret\n");
        let outside = format!("/var/tmp/{}", unique("fb-outside"));
        let script = format!(
            "cat ~/{name}; echo x > {outside}; echo cwd > here-fb && cat here-fb; \
             echo t > \"$TMPDIR/t\" && cat \"$TMPDIR/t\"; python3 -c '{}'; exit 9",
            py_syscall(250, "0, -3, 0")
        );
        let berth = b.program().to_string_lossy().into_owned();
        let inner = format!(
            "echo 0 > /proc/sys/user/max_user_namespaces && exec {berth} sandbox -- sh -c \"$0\""
        );
        let cmd = b.user_command(
            Path::new("unshare"),
            &["--user", "--map-root-user", "sh", "-c", &inner, &script],
        );
        let out = run(cmd);
        assert_status(&out, 9, "the command's status through the fallback");
        let (o, e) = (stdout(&out), stderr(&out));
        assert!(e.contains("user namespaces are not available"), "{e}");
        assert!(
            e.contains("user.max_user_namespaces"),
            "names the setting: {e}"
        );
        assert!(!o.contains("fallback secret"), "{o}");
        assert!(e.contains("Permission denied"), "{e}");
        assert!(!Path::new(&outside).exists());
        assert!(o.contains("cwd\nt\n"), "{o}");
        assert!(o.ends_with("1\n"), "keyctl EPERM: {o}");
        assert_eq!(
            std::fs::read_to_string(b.dir.join("here-fb")).unwrap(),
            "cwd\n"
        );
    });
}
