//! Docker 28's `run`/`create` flags beyond the basics, each as Docker
//! behaves (checked against a real Docker engine): `--stop-timeout`,
//! labels, `--cidfile`, `--group-add`, `--platform`, logging drivers and
//! rotation, `--shm-size` and `--ipc`, `--pid`, `--uts`, `--domainname`,
//! `--userns keep-id`, `--sysctl`, `--oom-score-adj`, `--annotation`,
//! `-a`, `--health-start-interval`, `exec --detach-keys`, and the flags
//! berth refuses, with their reasons.

mod common;

use common::*;
use std::ffi::OsStr;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

fn inspect(b: &Berth, format: &str, name: &str) -> String {
    b.ok(&["inspect", "-f", format, name]).trim().to_string()
}

/// berth's error for `args`, asserted to be a failure with status 125.
#[track_caller]
fn refused(b: &Berth, args: &[&str]) -> String {
    let out = b.status(args, 125);
    stderr(&out)
}

fn host_ns(kind: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{kind}"))
        .unwrap()
        .display()
        .to_string()
}

#[test]
fn stop_timeout_is_used_by_stop_and_restart_and_shown() {
    each_user(|b| {
        b.load_busybox();
        // sleep as pid 1 ignores SIGTERM: stop waits for the timeout.
        b.ok(&[
            "create",
            "--name",
            "st",
            "--stop-timeout",
            "1",
            "busybox",
            "sleep",
            "99999",
        ]);
        assert_eq!(inspect(b, "{{.Config.StopTimeout}}", "st"), "1");
        b.ok(&["start", "st"]);
        let t = Instant::now();
        b.ok(&["stop", "st"]);
        let took = t.elapsed();
        assert!(
            took >= Duration::from_millis(900) && took < Duration::from_secs(8),
            "stop took {took:?} with --stop-timeout 1"
        );
        b.ok(&["start", "st"]);
        let t = Instant::now();
        b.ok(&["restart", "st"]);
        assert!(t.elapsed() >= Duration::from_millis(900), "restart");
        // -t wins over the container's value.
        let t = Instant::now();
        b.ok(&["stop", "-t", "0", "st"]);
        assert!(t.elapsed() < Duration::from_millis(900), "stop -t 0");
        b.ok(&["rm", "st"]);
        // Without the flag, Docker's inspect has no StopTimeout.
        b.ok(&["create", "--name", "nost", "busybox", "true"]);
        assert_eq!(inspect(b, "{{json .Config.StopTimeout}}", "nost"), "null");
    });
}

#[test]
fn labels_from_flags_and_files() {
    each_user(|b| {
        b.load_busybox();
        let file = b.write_file("labels", "# comment\nfa=1\n\nfc= 3 x \nshared=file\n");
        b.ok(&[
            OsStr::new("create"),
            "--name".as_ref(),
            "lab".as_ref(),
            "-l".as_ref(),
            "a=1".as_ref(),
            "--label".as_ref(),
            "b".as_ref(),
            "-l".as_ref(),
            "shared=flag".as_ref(),
            "--label-file".as_ref(),
            file.as_os_str(),
            "busybox".as_ref(),
            "true".as_ref(),
        ]);
        // Docker's result for the same flags.
        let labels: serde_json::Value =
            serde_json::from_str(&inspect(b, "{{json .Config.Labels}}", "lab")).unwrap();
        assert_eq!(
            labels,
            serde_json::json!({"a":"1","b":"","fa":"1","fc":" 3 x ","shared":"flag"})
        );
        let e = refused(b, &["create", "-l", "=x", "busybox", "true"]);
        assert!(e.contains("empty name"), "{e}");
        let e = refused(b, &["create", "-l", "a b=c", "busybox", "true"]);
        assert!(e.contains("contains whitespaces"), "{e}");
        let e = refused(
            b,
            &["create", "--label-file", "/no/such", "busybox", "true"],
        );
        assert!(e.contains("/no/such"), "{e}");
    });
}

#[test]
fn cidfile_as_docker() {
    each_user(|b| {
        b.load_busybox();
        let cid = b.scratch_dir().join("cid");
        let cid_arg = cid.to_str().unwrap();
        b.ok(&["run", "--rm", "--cidfile", cid_arg, "busybox", "true"]);
        // Kept after --rm, with the full id and no newline (as Docker).
        let id = std::fs::read_to_string(&cid).unwrap();
        assert_eq!(id.len(), 64, "{id:?}");
        let e = refused(b, &["run", "--rm", "--cidfile", cid_arg, "busybox", "true"]);
        assert!(
            e.contains(
                "container ID file found, make sure the other container isn't running or delete"
            ),
            "{e}"
        );
        std::fs::remove_file(&cid).unwrap();
        // A container that cannot be made leaves no file.
        b.status(
            &[
                "run",
                "--cidfile",
                cid_arg,
                "--name",
                "x y",
                "busybox",
                "true",
            ],
            125,
        );
        assert!(!cid.exists());
        let id = b.ok(&["create", "--cidfile", cid_arg, "busybox", "true"]);
        assert_eq!(std::fs::read_to_string(&cid).unwrap(), id.trim());
    });
}

#[test]
fn group_add_by_name_and_number() {
    let Some(user) = subid_user() else { return };
    let b = Berth::new(&user);
    b.load_busybox();
    // busybox's /etc/group has "user" (1000); Docker gives
    // groups=0(root),1000(user),1234 for the same flags.
    let out = b.ok(&[
        "run",
        "--rm",
        "--group-add",
        "user",
        "--group-add",
        "1234",
        "busybox",
        "id",
    ]);
    assert_eq!(
        out,
        "uid=0(root) gid=0(root) groups=0(root),1000(user),1234\n"
    );
    let out = b.ok(&[
        "run",
        "--rm",
        "-u",
        "1000:1000",
        "--group-add",
        "5",
        "busybox",
        "id",
    ]);
    assert_eq!(out, "uid=1000(user) gid=1000(user) groups=5,1000(user)\n");
    // exec as the container's user gets them too.
    b.ok(&[
        "run",
        "-d",
        "--name",
        "ga",
        "--group-add",
        "1234",
        "busybox",
        "sleep",
        "99999",
    ]);
    let out = b.ok(&["exec", "ga", "id"]);
    assert_eq!(out, "uid=0(root) gid=0(root) groups=0(root),1234\n");
    b.ok(&["rm", "-f", "ga"]);
    let e = refused(
        &b,
        &["run", "--rm", "--group-add", "nosuch", "busybox", "true"],
    );
    assert!(
        e.contains("Unable to find group nosuch: no matching entries in group file"),
        "{e}"
    );
    let e = refused(
        &b,
        &["run", "--rm", "--group-add", "99999", "busybox", "true"],
    );
    assert!(e.contains("gid 99999 is not mapped"), "{e}");
    let e = refused(
        &b,
        &[
            "run",
            "--rm",
            "--group-add",
            "99999999999",
            "busybox",
            "true",
        ],
    );
    assert!(e.contains("uids and gids must be in range"), "{e}");
}

#[test]
fn group_add_needs_supplementary_groups() {
    for user in users().into_iter().filter(|u| !u.subids) {
        let b = Berth::new(&user);
        b.load_busybox();
        let e = refused(
            &b,
            &["run", "--rm", "--group-add", "1234", "busybox", "true"],
        );
        assert!(e.contains("single id mapping"), "{e}");
    }
}

/// Docker's name for this machine's architecture.
fn native() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

#[test]
fn platform_is_this_machines_only() {
    each_user(|b| {
        b.load_busybox();
        let native_platform = format!("linux/{}", native());
        assert_eq!(
            b.ok(&[
                "run",
                "--rm",
                "--platform",
                &native_platform,
                "busybox",
                "echo",
                "ok"
            ]),
            "ok\n"
        );
        b.ok(&["create", "--platform", "linux", "busybox", "true"]);
        let foreign = if native() == "amd64" {
            "linux/arm64"
        } else {
            "linux/amd64"
        };
        for cmd in [
            &["run", "--rm", "--platform", foreign, "busybox", "true"][..],
            &["create", "--platform", foreign, "busybox", "true"],
            &["pull", "--platform", foreign, "busybox"],
        ] {
            let out = b.fails(cmd);
            let e = stderr(&out);
            assert!(
                e.contains(&format!("platform \"{foreign}\" is not supported"))
                    && e.contains("this machine's platform"),
                "{e}"
            );
        }
    });
}

#[test]
fn log_drivers_and_rotation() {
    each_user(|b| {
        b.load_busybox();
        let script = "i=0; while [ $i -lt 100 ]; do echo line $i; i=$((i+1)); done";
        let id = b.ok(&[
            "run",
            "-d",
            "--log-opt",
            "max-size=1k",
            "--log-opt",
            "max-file=3",
            "busybox",
            "sh",
            "-c",
            script,
        ]);
        let id = id.trim();
        b.ok(&["wait", id]);
        let dir = b.root.join("containers").join(id);
        assert!(dir.join("json.log.1").exists() && dir.join("json.log.2").exists());
        assert!(!dir.join("json.log.3").exists());
        for f in ["json.log", "json.log.1", "json.log.2"] {
            let size = std::fs::metadata(dir.join(f)).unwrap().len();
            assert!(size < 1200, "{f} has {size} bytes");
        }
        // The rotated files are read oldest first, then the current one.
        let logs = b.ok(&["logs", id]);
        let lines: Vec<&str> = logs.lines().collect();
        assert_eq!(lines.last(), Some(&"line 99"));
        let first: usize = lines[0].strip_prefix("line ").unwrap().parse().unwrap();
        let expected: Vec<String> = (first..100).map(|i| format!("line {i}")).collect();
        assert_eq!(lines, expected);
        assert!(lines.len() < 100 && lines.len() > 20, "{}", lines.len());
        assert_eq!(b.ok(&["logs", "--tail", "2", id]), "line 98\nline 99\n");
        let n = lines.len().to_string();
        assert_eq!(b.ok(&["logs", "--tail", &n, id]), logs);
        let config = inspect(b, "{{json .HostConfig.LogConfig}}", id);
        let config: serde_json::Value = serde_json::from_str(&config).unwrap();
        assert_eq!(
            config,
            serde_json::json!({"Type":"json-file","Config":{"max-file":"3","max-size":"1k"}})
        );
        // local: compressed rotation by default, and no LogPath.
        let id = b.ok(&[
            "run",
            "-d",
            "--log-driver",
            "local",
            "--log-opt",
            "max-size=1k",
            "busybox",
            "sh",
            "-c",
            script,
        ]);
        let id = id.trim();
        b.ok(&["wait", id]);
        let dir = b.root.join("containers").join(id);
        assert!(dir.join("json.log.1.gz").exists(), "local compresses");
        assert!(b.ok(&["logs", id]).ends_with("line 98\nline 99\n"));
        assert_eq!(inspect(b, "{{.LogPath}}", id), "");
        // none: nothing kept, logs says why; a foreground run still shows it.
        let id = b.ok(&["run", "-d", "--log-driver", "none", "busybox", "echo", "hi"]);
        let id = id.trim();
        b.ok(&["wait", id]);
        let e = stderr(&b.fails(&["logs", id]));
        assert!(
            e.contains("configured logging driver does not support reading"),
            "{e}"
        );
        assert_eq!(
            b.ok(&[
                "run",
                "--rm",
                "--log-driver",
                "none",
                "busybox",
                "echo",
                "shown"
            ]),
            "shown\n"
        );
        for (args, says) in [
            (&["--log-driver", "syslog"][..], "not supported"),
            (
                &["--log-opt", "foo=1"],
                "unknown log opt 'foo' for json-file log driver",
            ),
            (&["--log-opt", "max-size=1x"], "max-size"),
            (
                &["--log-opt", "max-size=1k", "--log-opt", "max-file=0"],
                "max-file",
            ),
            (
                &["--log-driver", "none", "--log-opt", "max-size=1k"],
                "none log driver",
            ),
            (&["--log-opt", "mode=non-blocking"], "mode=blocking"),
        ] {
            let mut argv = vec!["run", "--rm"];
            argv.extend_from_slice(args);
            argv.extend_from_slice(&["busybox", "true"]);
            let e = refused(b, &argv);
            assert!(e.contains(says), "{args:?}: {e}");
        }
    });
}

#[test]
fn shm_size_and_ipc_modes() {
    each_user(|b| {
        b.load_busybox();
        let out = b.ok(&[
            "run",
            "--rm",
            "--shm-size",
            "1m",
            "busybox",
            "df",
            "-k",
            "/dev/shm",
        ]);
        assert!(out.contains(" 1024 "), "{out}");
        let out = b.ok(&[
            "run",
            "--rm",
            "--ipc",
            "none",
            "busybox",
            "sh",
            "-c",
            "test -e /dev/shm && echo shm; readlink /proc/self/ns/ipc",
        ]);
        assert!(!out.contains("shm"), "--ipc none has no /dev/shm: {out}");
        assert_ne!(out.trim(), host_ns("ipc"));
        let out = b.ok(&[
            "run",
            "--rm",
            "--ipc",
            "host",
            "busybox",
            "readlink",
            "/proc/self/ns/ipc",
        ]);
        assert_eq!(out.trim(), host_ns("ipc"));
        // A shareable container's IPC namespace and /dev/shm are joined.
        b.ok(&[
            "run",
            "-d",
            "--name",
            "donor",
            "--ipc",
            "shareable",
            "busybox",
            "sh",
            "-c",
            "echo secret > /dev/shm/x; exec sleep 99999",
        ]);
        b.ok(&[
            "run", "-d", "--name", "private", "busybox", "sleep", "99999",
        ]);
        let donor_ns = b.ok(&["exec", "donor", "readlink", "/proc/self/ns/ipc"]);
        let out = b.ok(&[
            "run",
            "--rm",
            "--ipc",
            "container:donor",
            "busybox",
            "sh",
            "-c",
            "cat /dev/shm/x; readlink /proc/self/ns/ipc",
        ]);
        assert_eq!(out, format!("secret\n{donor_ns}"));
        let e = refused(
            b,
            &[
                "run",
                "--rm",
                "--ipc",
                "container:private",
                "busybox",
                "true",
            ],
        );
        assert!(e.contains("non-shareable IPC"), "{e}");
        b.ok(&["rm", "-f", "donor", "private"]);
        let e = refused(
            b,
            &["run", "--rm", "--ipc", "container:donor", "busybox", "true"],
        );
        assert!(e.contains("No such container: donor"), "{e}");
        let e = refused(b, &["run", "--rm", "--ipc", "bogus", "busybox", "true"]);
        assert!(e.contains("invalid --ipc value"), "{e}");
        let e = refused(
            b,
            &[
                "run",
                "--rm",
                "--ipc",
                "host",
                "--shm-size",
                "1m",
                "busybox",
                "true",
            ],
        );
        assert!(e.contains("--shm-size"), "{e}");
        assert_eq!(
            inspect(
                b,
                "{{.HostConfig.IpcMode}} {{.HostConfig.ShmSize}}",
                b.ok(&["create", "--shm-size", "2m", "busybox", "true"])
                    .trim()
            ),
            "private 2097152"
        );
    });
}

#[test]
fn pid_modes() {
    each_user(|b| {
        b.load_busybox();
        // The host's pid namespace; the program's leftovers end with it.
        let out = b.ok(&[
            "run",
            "--rm",
            "--pid",
            "host",
            "busybox",
            "sh",
            "-c",
            "sleep 12345 & echo $!; readlink /proc/self/ns/pid; test -d /proc/1 && echo has-1",
        ]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[1], host_ns("pid"), "{out}");
        assert_eq!(lines[2], "has-1");
        let leftover: u32 = lines[0].parse().unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let alive = std::fs::read_to_string(format!("/proc/{leftover}/cmdline"))
            .is_ok_and(|c| c.contains("12345"));
        assert!(!alive, "the background sleep outlived its container");
        // Another container's pid namespace.
        b.ok(&["run", "-d", "--name", "p1", "busybox", "sleep", "99999"]);
        let out = b.ok(&[
            "run",
            "--rm",
            "--pid",
            "container:p1",
            "busybox",
            "ps",
            "-o",
            "pid,args",
        ]);
        assert!(out.contains("1 sleep 99999"), "{out}");
        b.ok(&["stop", "-t", "0", "p1"]);
        let e = refused(
            b,
            &["run", "--rm", "--pid", "container:p1", "busybox", "true"],
        );
        assert!(
            e.contains("cannot join PID of a non running container"),
            "{e}"
        );
        let e = refused(b, &["run", "--rm", "--pid", "bogus", "busybox", "true"]);
        assert!(e.contains("invalid --pid value"), "{e}");
    });
}

#[test]
fn uts_host_domainname_and_cgroupns() {
    each_user(|b| {
        b.load_busybox();
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        let out = b.ok(&[
            "run",
            "--rm",
            "--uts",
            "host",
            "busybox",
            "sh",
            "-c",
            "hostname; readlink /proc/self/ns/uts",
        ]);
        assert_eq!(out, format!("{host}{}\n", host_ns("uts")));
        let e = refused(
            b,
            &["run", "--rm", "--uts", "host", "-h", "x", "busybox", "true"],
        );
        assert!(
            e.contains("conflicting options: hostname and the UTS mode"),
            "{e}"
        );
        let out = b.ok(&[
            "run",
            "--rm",
            "-h",
            "box",
            "--domainname",
            "example.org",
            "busybox",
            "sh",
            "-c",
            "hostname; cat /proc/sys/kernel/domainname",
        ]);
        assert_eq!(out, "box\nexample.org\n");
        let out = b.ok(&[
            "run",
            "--rm",
            "--cgroupns",
            "host",
            "busybox",
            "readlink",
            "/proc/self/ns/cgroup",
        ]);
        assert_eq!(out.trim(), host_ns("cgroup"));
        let out = b.ok(&["run", "--rm", "busybox", "readlink", "/proc/self/ns/cgroup"]);
        assert_ne!(out.trim(), host_ns("cgroup"));
    });
}

#[test]
fn userns_keep_id_keeps_the_users_ids() {
    each_user(|b| {
        if b.user.is_root() {
            return;
        }
        b.load_busybox();
        let work = b.scratch_dir();
        let out = b.ok(&[
            OsStr::new("run"),
            "--rm".as_ref(),
            "--userns".as_ref(),
            "keep-id".as_ref(),
            "-v".as_ref(),
            format!("{}:/work", work.display()).as_ref(),
            "-w".as_ref(),
            "/work".as_ref(),
            "busybox".as_ref(),
            "sh".as_ref(),
            "-c".as_ref(),
            "id -u; id -g; whoami; echo $HOME; touch made; mkdir dir".as_ref(),
        ]);
        assert_eq!(
            out,
            format!("{}\n{}\n{}\n/work\n", b.user.uid, b.user.gid, b.user.name)
        );
        for f in ["made", "dir"] {
            let meta = std::fs::metadata(work.join(f)).unwrap();
            assert_eq!((meta.uid(), meta.gid()), (b.user.uid, b.user.gid), "{f}");
        }
        // exec and -u work inside such a container.
        b.ok(&[
            "run", "-d", "--name", "kid", "--userns", "keep-id", "busybox", "sleep", "99999",
        ]);
        assert_eq!(
            b.ok(&["exec", "kid", "id", "-u"]),
            format!("{}\n", b.user.uid)
        );
        assert_eq!(
            inspect(b, "{{.HostConfig.UsernsMode}} {{.Config.User}}", "kid"),
            format!(
                "keep-id:uid={},gid={} {}:{}",
                b.user.uid, b.user.gid, b.user.uid, b.user.gid
            )
        );
        b.ok(&["rm", "-f", "kid"]);
        if b.user.subids {
            // Root exists too (a subordinate id), and the image's other
            // owners stay where they were.
            assert_eq!(
                b.ok(&["run", "--rm", "--userns", "keep-id", "-u", "0", "busybox", "id", "-u"]),
                "0\n"
            );
        }
        assert_eq!(
            b.ok(&[
                "run",
                "--rm",
                "--userns",
                "keep-id:uid=4321,gid=4321",
                "busybox",
                "id",
                "-u"
            ]),
            "4321\n"
        );
        // `--userns host` is berth's own namespace, as without the flag.
        assert_eq!(
            b.ok(&["run", "--rm", "--userns", "host", "busybox", "id", "-u"]),
            "0\n"
        );
        for bad in ["auto", "nomap", "bogus"] {
            let e = refused(b, &["run", "--rm", "--userns", bad, "busybox", "true"]);
            assert!(e.contains("invalid --userns value"), "{e}");
        }
    });
}

#[test]
fn sysctls_of_the_containers_own_namespaces() {
    each_user(|b| {
        b.load_busybox();
        let out = b.ok(&[
            "run",
            "--rm",
            "--sysctl",
            "kernel.shmmax=1000000",
            "--sysctl",
            "fs.mqueue.msg_max=20",
            "busybox",
            "cat",
            "/proc/sys/kernel/shmmax",
            "/proc/sys/fs/mqueue/msg_max",
        ]);
        assert_eq!(out, "1000000\n20\n");
        let out = b.ok(&[
            "run",
            "--rm",
            "--network",
            "none",
            "--sysctl",
            "net.ipv4.ip_forward=1",
            "busybox",
            "cat",
            "/proc/sys/net/ipv4/ip_forward",
        ]);
        assert_eq!(out, "1\n");
        for (sysctl, says) in [
            (
                "kernel.pid_max=1000",
                "sysctl 'kernel.pid_max=1000' is not allowed",
            ),
            ("vm.swappiness=1", "is not allowed"),
            ("kernel.shmmax", "is not allowed"),
        ] {
            let e = refused(b, &["run", "--rm", "--sysctl", sysctl, "busybox", "true"]);
            assert!(e.contains(says), "{sysctl}: {e}");
        }
        // The default network is private (Docker's bridge): net.* applies
        // there; only the host's namespace refuses it.
        let out = b.ok(&[
            "run",
            "--rm",
            "--sysctl",
            "net.ipv4.ip_forward=1",
            "busybox",
            "cat",
            "/proc/sys/net/ipv4/ip_forward",
        ]);
        assert_eq!(out, "1\n");
        let e = refused(
            b,
            &[
                "run",
                "--rm",
                "--network",
                "host",
                "--sysctl",
                "net.ipv4.ip_forward=1",
                "busybox",
                "true",
            ],
        );
        assert!(e.contains("not allowed in host network namespace"), "{e}");
        let e = refused(
            b,
            &[
                "run",
                "--rm",
                "--ipc",
                "host",
                "--sysctl",
                "kernel.shmmax=1",
                "busybox",
                "true",
            ],
        );
        assert!(e.contains("hosts ipc namespace"), "{e}");
    });
}

#[test]
fn oom_score_adj_can_be_raised() {
    let current: i32 = std::fs::read_to_string("/proc/self/oom_score_adj")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    each_user(|b| {
        b.load_busybox();
        let higher = (current + 100).min(1000).to_string();
        let out = b.ok(&[
            "run",
            "--rm",
            "--oom-score-adj",
            &higher,
            "busybox",
            "cat",
            "/proc/self/oom_score_adj",
        ]);
        assert_eq!(out.trim(), higher);
        if current > -1000 && !b.user.is_root() {
            let lower = (current - 100).max(-1000).to_string();
            let e = refused(
                b,
                &["run", "--rm", "--oom-score-adj", &lower, "busybox", "true"],
            );
            assert!(e.contains("CAP_SYS_RESOURCE"), "{e}");
        }
        let e = refused(
            b,
            &["run", "--rm", "--oom-score-adj", "1001", "busybox", "true"],
        );
        assert!(
            e.contains("range for oom score adj is [-1000, 1000]"),
            "{e}"
        );
    });
}

#[test]
fn annotations_attach_and_inspect() {
    each_user(|b| {
        b.load_busybox();
        let id = b.ok(&[
            "create",
            "--annotation",
            "org.example/a=b",
            "--annotation",
            "flag",
            "-a",
            "stdout",
            "busybox",
            "true",
        ]);
        let id = id.trim();
        assert_eq!(
            inspect(b, "{{json .HostConfig.Annotations}}", id),
            r#"{"flag":"","org.example/a":"b"}"#
        );
        assert_eq!(
            inspect(
                b,
                "{{.Config.AttachStdin}} {{.Config.AttachStdout}} {{.Config.AttachStderr}}",
                id
            ),
            "false true false"
        );
        let out = b.cmd(&[
            "run",
            "--rm",
            "-a",
            "stdout",
            "busybox",
            "sh",
            "-c",
            "echo out; echo err >&2",
        ]);
        assert_success(&out, "run -a stdout");
        // (stderr may hold berth's own warning about a single mapping)
        assert_eq!(stdout(&out), "out\n");
        assert!(!stderr(&out).contains("err\n"), "{}", show(&out));
        let out = b.cmd(&[
            "run",
            "--rm",
            "-a",
            "STDERR",
            "busybox",
            "sh",
            "-c",
            "echo out; echo err >&2",
        ]);
        assert_success(&out, "run -a STDERR");
        assert_eq!(stdout(&out), "");
        assert!(stderr(&out).ends_with("err\n"), "{}", show(&out));
        let out = b.cmd_stdin(
            &["run", "--rm", "-i", "-a", "stdout", "busybox", "cat"],
            b"in\n",
        );
        assert_eq!(stdout(&out), "in\n");
        let e = refused(b, &["run", "-d", "-a", "stdout", "busybox", "true"]);
        assert!(
            e.contains("cannot specify both --attach and --detach"),
            "{e}"
        );
        let e = refused(b, &["run", "--rm", "-a", "bogus", "busybox", "true"]);
        assert!(
            e.contains("valid streams are STDIN, STDOUT and STDERR"),
            "{e}"
        );
    });
}

#[test]
fn health_start_interval_probes_often_during_the_start_period() {
    let b = Berth::new(&main_user());
    b.load_busybox();
    b.ok(&[
        "run",
        "-d",
        "--name",
        "hs",
        "--health-cmd",
        "echo x >> /tmp/probes",
        "--health-interval",
        "1h",
        "--health-start-period",
        "1m",
        "--health-start-interval",
        "300ms",
        "busybox",
        "sleep",
        "99999",
    ]);
    std::thread::sleep(Duration::from_millis(1500));
    let probes = b.ok(&["exec", "hs", "cat", "/tmp/probes"]).lines().count();
    assert!(
        probes >= 2,
        "{probes} probes in 1.5 s with a 300 ms start interval"
    );
    assert_eq!(inspect(&b, "{{.State.Health.Status}}", "hs"), "healthy");
    b.ok(&["rm", "-f", "hs"]);
}

#[test]
fn exec_detach_keys_leave_the_process_running() {
    each_user(|b| {
        b.load_busybox();
        b.ok(&["run", "-d", "--name", "ex", "busybox", "sleep", "99999"]);
        let berth = b.program().to_path_buf();
        // Typed slowly, as a user would: a command, then ctrl-x d.
        let line = format!(
            "(sleep 1; printf 'sleep 4321 &\\n'; sleep 1; printf '\\030d'; sleep 5) | \
             script -qec '{} exec -it --detach-keys ctrl-x,d ex sh' /dev/null",
            berth.display()
        );
        let t = Instant::now();
        let out = run(b.user_command(Path::new("/bin/sh"), &["-c", line.as_str()]));
        assert_success(&out, "exec -it, then the detach keys");
        assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
        let ps = b.ok(&["exec", "ex", "ps", "-o", "args"]);
        assert!(ps.contains("sleep 4321"), "{ps}");
        let e = refused(b, &["exec", "--detach-keys", "esc", "ex", "true"]);
        assert!(e.contains("invalid detach key"), "{e}");
        b.ok(&["rm", "-f", "ex"]);
    });
}

#[test]
fn flags_berth_cannot_honour_are_refused_with_the_reason() {
    let b = Berth::new(&main_user());
    b.load_busybox();
    for (args, says) in [
        (&["--runtime", "runc"][..], "has no OCI runtimes"),
        (&["--isolation", "process"], "linux only supports 'default'"),
        (&["--link", "db:db"], "user-defined network"),
        (
            &["--storage-opt", "size=1g"],
            "--storage-opt is not supported",
        ),
        (&["--use-api-socket"], "no API socket"),
        (&["--volume-driver", "nfs"], "only the local driver"),
        (
            &["--cgroup-parent", "x"],
            "--cgroup-parent is not supported",
        ),
        (&["--disable-content-trust=false"], "Docker Content Trust"),
        (
            &["--userns", "keep-id", "--pid", "container:x"],
            "cannot be combined",
        ),
        (&["--uts", "host", "--domainname", "x"], "--domainname"),
    ] {
        let mut argv = vec!["run", "--rm"];
        argv.extend_from_slice(args);
        argv.extend_from_slice(&["busybox", "true"]);
        let e = refused(&b, &argv);
        assert!(e.contains(says), "{args:?}: {e}");
    }
    // Values that mean what berth does anyway pass.
    assert_eq!(
        b.ok(&[
            "run",
            "--rm",
            "--isolation",
            "default",
            "--volume-driver",
            "local",
            "--disable-content-trust",
            "busybox",
            "echo",
            "ok"
        ]),
        "ok\n"
    );
}
