//! Running containers: `run`, its options and exit statuses, `create` and
//! `start`, `ps`, `rm`, container `inspect`, and the `docker` symlink.

mod common;

use common::*;
use std::ffi::OsStr;

#[test]
fn run_rm_echo_hello() {
    each_user(|b| {
        b.load_busybox();
        assert_eq!(b.run_rm("busybox", &["echo", "hello"]), "hello\n");
        assert!(b.container_ids().is_empty(), "--rm removed the container");
        // The image's Cmd is the default command.
        let out = b.cmd_stdin(&["run", "--rm", "-i", "busybox"], b"echo from stdin\n");
        assert_success(&out, "run -i busybox (sh from Cmd)");
        assert_eq!(stdout(&out), "from stdin\n");
    });
}

#[test]
fn run_exit_statuses_follow_docker() {
    each_user(|b| {
        b.load_busybox();
        b.status(&["run", "--rm", "busybox", "sh", "-c", "exit 3"], 3);
        b.status(&["run", "--rm", "busybox", "false"], 1);
        // The command does not exist in the image.
        b.status(&["run", "--rm", "busybox", "no-such-command"], 127);
        b.status(&["run", "--rm", "busybox", "/no/such/path"], 127);
        // It exists but cannot be executed.
        b.status(&["run", "--rm", "busybox", "/etc/passwd"], 126);
        // berth's own errors.
        let out = b.status(&["run", "--rm", "no-such-image", "true"], 125);
        assert!(stderr(&out).contains("no-such-image"), "{}", stderr(&out));
        b.status(&["run", "--rm", "--no-such-flag", "busybox", "true"], 125);
        assert!(b.container_ids().is_empty(), "{:?}", b.container_ids());
    });
}

#[test]
fn run_stdout_and_stderr_stay_apart() {
    each_user(|b| {
        b.load_busybox();
        let out = b.cmd(&[
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "echo out; echo err >&2",
        ]);
        assert_success(&out, "run with stderr");
        assert_eq!(stdout(&out), "out\n");
        assert!(stderr(&out).contains("err\n"), "{}", stderr(&out));
    });
}

#[test]
fn run_env_and_env_file() {
    each_user(|b| {
        b.load_busybox();
        let env_file = b.write_file(
            "env.list",
            "# a comment\nFROM_FILE=one\nSPACED=two words\n\nOVERRIDDEN=file\n",
        );
        let out = b.ok(&[
            OsStr::new("run"),
            "--rm".as_ref(),
            "-e".as_ref(),
            "FOO=bar".as_ref(),
            "--env".as_ref(),
            "EMPTY=".as_ref(),
            "--env-file".as_ref(),
            env_file.as_os_str(),
            "-e".as_ref(),
            "OVERRIDDEN=flag".as_ref(),
            "busybox".as_ref(),
            "sh".as_ref(),
            "-c".as_ref(),
            "echo \"$FOO|$FROM_FILE|$SPACED|$OVERRIDDEN|${EMPTY-unset}|$PATH\"".as_ref(),
        ]);
        assert_eq!(
            out,
            "bar|one|two words|flag||/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
        );
        // `-e NAME` passes berth's own variable through.
        let mut cmd = b.command(&[
            "run",
            "--rm",
            "-e",
            "PASSED",
            "busybox",
            "sh",
            "-c",
            "echo $PASSED",
        ]);
        cmd.env("PASSED", "through");
        let out = run(cmd);
        assert_success(&out, "run -e PASSED");
        assert_eq!(stdout(&out), "through\n");
        // HOME is set as Docker sets it.
        let out = b.run_rm("busybox", &["sh", "-c", "echo $HOME"]);
        assert_eq!(out, "/root\n");
        // Config.Env in the daemon's order: the user's, then the image's;
        // the process gets PATH and HOSTNAME first, then that order.
        b.ok(&[
            "create",
            "--name",
            "env-order",
            "-e",
            "B=2",
            "-e",
            "A=1",
            "busybox",
            "env",
        ]);
        assert_eq!(
            b.ok(&["inspect", "-f", "{{json .Config.Env}}", "env-order"]),
            "[\"B=2\",\"A=1\",\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"]\n"
        );
        let env = b.ok(&["start", "-a", "env-order"]);
        assert!(
            env.starts_with("PATH=") && env.contains("\nB=2\nA=1\n"),
            "{env}"
        );
        b.ok(&["rm", "env-order"]);
        // As `docker run -t` and `docker exec` give them (compared with
        // Docker 20.10): TERM=xterm with the process's own terminal, the
        // user's settings in place, HOME last when nobody set it.
        const PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        let out = b.ok(&[
            "run",
            "--rm",
            "-t",
            "--hostname",
            "hh",
            "-e",
            "HOME=/h",
            "-e",
            "A=7",
            "busybox",
            "env",
        ]);
        assert_eq!(
            out.replace("\r\n", "\n"),
            format!("{PATH}\nHOSTNAME=hh\nTERM=xterm\nHOME=/h\nA=7\n")
        );
        b.ok(&[
            "run",
            "-d",
            "-t",
            "--name",
            "env-exec",
            "--hostname",
            "hx",
            "-e",
            "B=9",
            "busybox",
            "sleep",
            "600",
        ]);
        // The container's terminal is not the exec's.
        assert_eq!(
            b.ok(&["exec", "-e", "Q=1", "env-exec", "env"]),
            format!("{PATH}\nHOSTNAME=hx\nB=9\nQ=1\nHOME=/root\n")
        );
        assert_eq!(
            b.ok(&["exec", "-t", "-e", "TERM=dumb", "env-exec", "env"])
                .replace("\r\n", "\n"),
            format!("{PATH}\nHOSTNAME=hx\nTERM=dumb\nB=9\nHOME=/root\n")
        );
        b.ok(&["rm", "-f", "env-exec"]);
        b.status(
            &[
                "run",
                "--rm",
                "--env-file",
                "/no/such/file",
                "busybox",
                "true",
            ],
            125,
        );
    });
}

#[test]
fn run_workdir() {
    each_user(|b| {
        b.load_busybox();
        assert_eq!(b.run_rm("busybox", &["pwd"]), "/\n");
        assert_eq!(
            b.ok(&["run", "--rm", "-w", "/tmp", "busybox", "pwd"]),
            "/tmp\n"
        );
        // A missing working directory is created, as Docker does.
        assert_eq!(
            b.ok(&["run", "--rm", "--workdir", "/new/dir", "busybox", "pwd"]),
            "/new/dir\n"
        );
    });
}

#[test]
fn run_as_another_user() {
    // Other uids need a subordinate id range to be mapped.
    let Some(user) = subid_user() else { return };
    let b = Berth::new(&user);
    b.load_busybox();
    assert_eq!(b.run_rm("busybox", &["id", "-u"]), "0\n");
    // The primary group comes from /etc/passwd.
    let id = b.ok(&["run", "--rm", "-u", "1000", "busybox", "id"]);
    assert!(id.starts_with("uid=1000(user) gid=1000(user)"), "{id}");
    assert_eq!(
        b.ok(&[
            "run",
            "--rm",
            "-u",
            "nobody",
            "busybox",
            "sh",
            "-c",
            "id -u; id -g"
        ]),
        "65534\n65534\n"
    );
    assert_eq!(
        b.ok(&[
            "run",
            "--rm",
            "-u",
            "1000:65534",
            "busybox",
            "sh",
            "-c",
            "id -u; id -g"
        ]),
        "1000\n65534\n"
    );
    // An unknown name is an error before anything runs.
    b.status(
        &["run", "--rm", "-u", "no-such-user", "busybox", "true"],
        125,
    );
    // The user cannot write where root owns the files.
    b.fails(&["run", "--rm", "-u", "1000", "busybox", "touch", "/etc/x"]);
    b.ok(&[
        "run",
        "--rm",
        "-u",
        "1000",
        "busybox",
        "touch",
        "/home/user/x",
    ]);
}

#[test]
fn image_files_keep_their_owners_with_a_subid_range() {
    for user in users() {
        let b = Berth::new(&user);
        b.load_busybox();
        let owner = b.run_rm("busybox", &["stat", "-c", "%u:%g", "/home/user/owned"]);
        if user.subids {
            assert_eq!(owner, "1000:1000\n", "as {}", user.name);
        } else {
            // A single mapping: every owner becomes root (with a warning).
            assert_eq!(owner, "0:0\n", "as {}", user.name);
        }
        assert_eq!(
            b.run_rm("busybox", &["stat", "-c", "%a", "/tmp"]),
            "1777\n",
            "as {}",
            user.name
        );
    }
}

#[test]
fn layered_images_apply_whiteouts() {
    for fixture_name in ["busybox-layers.tar", "busybox-gzip.tar", "busybox-zstd.tar"] {
        each_user(|b| {
            let loaded = b.load(fixture_name);
            let tag = loaded
                .trim()
                .trim_start_matches("Loaded image: ")
                .to_string();
            let out = b.run_rm(
                &tag,
                &[
                    "sh",
                    "-c",
                    "cat /etc/layer1.txt /etc/layer2.txt; test -e /etc/removed-in-layer2 && echo present; ls -a /etc | grep -c wh || true",
                ],
            );
            assert_eq!(out, "layer 1\nlayer 2\n0\n", "{fixture_name}");
        });
    }
}

#[test]
fn run_hostname() {
    each_user(|b| {
        b.load_busybox();
        assert_eq!(
            b.ok(&["run", "--rm", "--hostname", "myhost", "busybox", "hostname"]),
            "myhost\n"
        );
        // The default is the short container id, as Docker's.
        let out = b.ok(&["run", "--name", "named", "busybox", "hostname"]);
        let id = b.ok(&["inspect", "--format", "{{.Id}}", "named"]);
        assert_eq!(out.trim(), &id.trim()[..12]);
        b.ok(&["rm", "named"]);
    });
}

#[test]
fn run_read_only() {
    each_user(|b| {
        b.load_busybox();
        let out = b.fails(&["run", "--rm", "--read-only", "busybox", "touch", "/etc/x"]);
        assert!(
            stderr(&out).contains("Read-only file system"),
            "{}",
            stderr(&out)
        );
        // Only read-only: the root keeps its other flags (nodev).
        let root = |flags: &[&str]| {
            let mut args = vec!["run", "--rm"];
            args.extend_from_slice(flags);
            args.extend_from_slice(&["busybox", "grep", " / ", "/proc/mounts"]);
            let line = b.ok(&args);
            let opts = line
                .split_whitespace()
                .nth(3)
                .unwrap_or_default()
                .to_string();
            opts.split(',').map(str::to_string).collect::<Vec<_>>()
        };
        let (rw, ro) = (root(&[]), root(&["--read-only"]));
        assert!(
            rw.contains(&"rw".to_string()) && rw.contains(&"nodev".to_string()),
            "{rw:?}"
        );
        assert!(
            ro.contains(&"ro".to_string()) && ro.contains(&"nodev".to_string()),
            "{ro:?}"
        );
        b.ok(&["run", "--rm", "busybox", "touch", "/etc/x"]);
        // The container's changes do not reach the image.
        b.status(&["run", "--rm", "busybox", "test", "-e", "/etc/x"], 1);
    });
}

#[test]
fn run_bind_mounts() {
    each_user(|b| {
        b.load_busybox();
        let host = b.scratch_dir();
        std::fs::write(host.join("from-host"), "host data\n").unwrap();
        let rw = format!("{}:/data", host.display());
        let out = b.ok(&[
            "run",
            "--rm",
            "-v",
            &rw,
            "busybox",
            "sh",
            "-c",
            "cat /data/from-host && echo container data > /data/from-container",
        ]);
        assert_eq!(out, "host data\n");
        assert_eq!(
            std::fs::read_to_string(host.join("from-container")).unwrap(),
            "container data\n"
        );
        // Root in the container is the user outside.
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(host.join("from-container")).unwrap();
        assert_eq!(meta.uid(), b.user.uid);

        let ro = format!("{}:/data:ro", host.display());
        let out = b.fails(&["run", "--rm", "-v", &ro, "busybox", "touch", "/data/nope"]);
        assert!(
            stderr(&out).contains("Read-only file system"),
            "{}",
            stderr(&out)
        );
        assert!(!host.join("nope").exists());
        let out = b.ok(&[
            "run",
            "--rm",
            "-v",
            &ro,
            "busybox",
            "cat",
            "/data/from-host",
        ]);
        assert_eq!(out, "host data\n");
        // A single file, mounted over one that exists in the image.
        let group = format!("{}:/etc/group:ro", host.join("from-host").display());
        let out = b.ok(&["run", "--rm", "-v", &group, "busybox", "cat", "/etc/group"]);
        assert_eq!(out, "host data\n");
        // Over a file berth itself provides, the user's mount wins (Docker
        // skips its own /etc/hostname, /etc/hosts, /etc/resolv.conf then).
        let name = format!("{}:/etc/hostname:ro", host.join("from-host").display());
        let out = b.ok(&[
            "run",
            "--rm",
            "-v",
            &name,
            "busybox",
            "cat",
            "/etc/hostname",
        ]);
        assert_eq!(out, "host data\n", "a -v mount on /etc/hostname wins");
        // A missing host path is an error.
        b.status(
            &["run", "--rm", "-v", "/no/such/dir:/data", "busybox", "true"],
            125,
        );
    });
}

#[test]
fn run_network_none_has_only_loopback() {
    each_user(|b| {
        b.load_busybox();
        let out = b.ok(&[
            "run",
            "--rm",
            "--network",
            "none",
            "busybox",
            "sh",
            "-c",
            "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '",
        ]);
        assert_eq!(out, "lo\n");
        // Loopback is up.
        let out = b.ok(&[
            "run",
            "--rm",
            "--network",
            "none",
            "busybox",
            "ip",
            "-o",
            "link",
            "show",
            "lo",
        ]);
        assert!(out.contains("UP"), "{out}");
    });
}

#[test]
fn names_conflict() {
    each_user(|b| {
        b.load_busybox();
        let id = b.ok(&["create", "--name", "dup", "busybox", "true"]);
        let id = id.trim();
        assert_eq!(id.len(), 64, "create prints the full id: {id:?}");
        let out = b.status(&["create", "--name", "dup", "busybox", "true"], 125);
        assert!(
            stderr(&out).contains("is already in use"),
            "{}",
            stderr(&out)
        );
        let out = b.status(&["run", "--rm", "--name", "dup", "busybox", "true"], 125);
        assert!(stderr(&out).contains(&id[..12]), "{}", stderr(&out));
        b.status(&["create", "--name", "bad/name", "busybox", "true"], 125);
        // Once removed, the name is free again.
        b.ok(&["rm", "dup"]);
        b.ok(&["create", "--name", "dup", "busybox", "true"]);
    });
}

#[test]
fn create_then_start_twice_keeps_the_container_filesystem() {
    each_user(|b| {
        b.load_busybox();
        let script = "if [ -e /marker ]; then cat /marker; echo second; else echo first > /marker; echo first; fi";
        let id = b.ok(&["create", "--name", "keep", "busybox", "sh", "-c", script]);
        let id = id.trim().to_string();
        let ps = table(&b.ok(&["ps", "-a"]));
        assert_eq!(
            ps[0],
            [
                "CONTAINER ID",
                "IMAGE",
                "COMMAND",
                "CREATED",
                "STATUS",
                "PORTS",
                "NAMES"
            ]
        );
        assert_eq!(ps.len(), 2, "{ps:?}");
        assert_eq!(ps[1][0], &id[..12]);
        assert_eq!(ps[1][1], "busybox");
        assert!(ps[1].contains(&"Created".to_string()), "{:?}", ps[1]);
        assert_eq!(ps[1].last().unwrap(), "keep");
        // Not running: plain `ps` lists nothing.
        assert_eq!(table(&b.ok(&["ps"])).len(), 1);

        assert_eq!(b.ok(&["start", "-a", "keep"]), "first\n");
        assert_eq!(b.ok(&["start", "--attach", &id[..8]]), "first\nsecond\n");
        let ps = table(&b.ok(&["ps", "-a"]));
        assert!(
            ps[1].iter().any(|c| c.starts_with("Exited (0)")),
            "{:?}",
            ps[1]
        );
        assert_eq!(b.ok(&["ps", "-a", "-q"]), format!("{}\n", &id[..12]));
        assert_eq!(b.ok(&["ps", "-a", "--format", "{{.Names}}"]), "keep\n");

        // The exit status of `start -a` is the container's.
        b.ok(&["create", "--name", "three", "busybox", "sh", "-c", "exit 3"]);
        b.status(&["start", "-a", "three"], 3);
        let ps = b.ok(&[
            "ps",
            "-a",
            "--filter",
            "name=three",
            "--format",
            "{{.Status}}",
        ]);
        assert!(ps.starts_with("Exited (3)"), "{ps}");

        b.ok(&["rm", "keep", "three"]);
        assert!(b.container_ids().is_empty());
        // Docker's CLI ends these with 1; any failure with the reason will do.
        let out = b.fails(&["rm", "keep"]);
        assert!(
            stderr(&out).contains("No such container"),
            "{}",
            stderr(&out)
        );
        b.fails(&["start", "-a", "keep"]);
    });
}

#[test]
fn inspect_container() {
    each_user(|b| {
        b.load_busybox();
        let image_id = b.image_id("busybox");
        b.status(
            &[
                "run",
                "--name",
                "insp",
                "-e",
                "A=b",
                "-w",
                "/tmp",
                "--hostname",
                "h1",
                "busybox",
                "sh",
                "-c",
                "exit 7",
            ],
            7,
        );
        let v = inspect_json(&b.ok(&["inspect", "insp"]));
        assert_eq!(v.len(), 1);
        let c = &v[0];
        let id = c["Id"].as_str().expect("Id");
        assert_eq!(id.len(), 64);
        assert_eq!(c["Name"], "/insp");
        assert_eq!(c["Image"], image_id.as_str());
        assert_eq!(c["Config"]["Image"], "busybox");
        assert_eq!(
            c["Config"]["Cmd"],
            serde_json::json!(["sh", "-c", "exit 7"])
        );
        assert_eq!(c["Config"]["WorkingDir"], "/tmp");
        assert_eq!(c["Config"]["Hostname"], "h1");
        assert!(
            c["Config"]["Env"]
                .as_array()
                .is_some_and(|e| e.contains(&serde_json::json!("A=b"))),
            "{}",
            c["Config"]["Env"]
        );
        assert_eq!(c["State"]["Status"], "exited");
        assert_eq!(c["State"]["Running"], false);
        assert_eq!(c["State"]["ExitCode"], 7);
        assert_eq!(
            b.ok(&[
                "container",
                "inspect",
                "-f",
                "{{.State.ExitCode}} {{.Name}}",
                &id[..10]
            ]),
            "7 /insp\n"
        );
        // With a name shared by an image and a container, --type decides.
        b.ok(&["create", "--name", "busybox", "busybox", "true"]);
        let img = inspect_json(&b.ok(&["inspect", "--type", "image", "busybox"]));
        assert_eq!(img[0]["Id"], image_id.as_str());
        let ctr = inspect_json(&b.ok(&["inspect", "--type", "container", "busybox"]));
        assert_eq!(ctr[0]["Name"], "/busybox");
        b.fails(&["inspect", "--type", "container", "no-such-thing"]);
    });
}

#[test]
fn rmi_refuses_an_image_in_use_unless_forced() {
    each_user(|b| {
        b.load_busybox();
        let image_id = b.image_id("busybox");
        b.ok(&[
            "create",
            "--name",
            "user-of-image",
            "busybox",
            "echo",
            "still runs",
        ]);
        let out = b.fails(&["rmi", "busybox"]);
        assert!(
            stderr(&out).contains("user-of-image") || stderr(&out).contains("container"),
            "the error names the container: {}",
            stderr(&out)
        );
        b.fails(&["rmi", &image_id]);
        assert_eq!(b.image_id("busybox"), image_id);
        // Forced: the name goes, the container keeps its image.
        b.ok(&["rmi", "-f", "busybox"]);
        b.fails(&["image", "inspect", "busybox"]);
        assert_eq!(b.ok(&["start", "-a", "user-of-image"]), "still runs\n");
        b.ok(&["rm", "user-of-image"]);
    });
}

#[test]
fn docker_symlink_behaves_the_same() {
    each_user(|b| {
        let docker = b.as_docker();
        let out = docker.load("busybox.tar");
        assert_eq!(out, "Loaded image: busybox:latest\n");
        assert_eq!(docker.run_rm("busybox", &["echo", "hello"]), "hello\n");
        assert_eq!(docker.ok(&["images", "-q"]), b.ok(&["images", "-q"]));
        let help = docker.ok(&["--help"]);
        assert!(help.contains("Usage: docker"), "{help}");
        docker.status(&["run", "--rm", "busybox", "sh", "-c", "exit 4"], 4);
    });
}

#[test]
fn works_as_root_too() {
    let Some(root) = root_user() else {
        eprintln!("not root: nothing more to test than the other tests do");
        return;
    };
    let b = Berth::new(&root);
    b.load_busybox();
    assert_eq!(b.run_rm("busybox", &["echo", "hello"]), "hello\n");
    assert_eq!(
        b.run_rm("busybox", &["stat", "-c", "%u", "/home/user/owned"]),
        "1000\n"
    );
    b.status(&["run", "--rm", "busybox", "sh", "-c", "exit 5"], 5);
    let out = b.ok(&["run", "--rm", "-u", "nobody", "busybox", "id", "-u"]);
    assert_eq!(out, "65534\n");
    assert_eq!(b.ok(&["images", "-q"]).lines().count(), 1);
    assert!(b.container_ids().is_empty());
}

#[test]
fn run_rm_overlay_is_volatile_and_a_kept_container_is_not() {
    each_user(|b| {
        b.load_busybox();
        // A --rm container's files go with it: its overlay skips the
        // syncs (its unmount would otherwise sync the host filesystem).
        let out = b.run_rm(
            "busybox",
            &[
                "sh",
                "-c",
                "echo written > /f && cat /f && grep ' / overlay ' /proc/mounts",
            ],
        );
        assert!(out.starts_with("written\n"), "{out}");
        assert!(out.contains("volatile"), "run --rm: {out}");
        let out = b.ok(&[
            "run",
            "--name",
            "kept",
            "busybox",
            "grep",
            " / overlay ",
            "/proc/mounts",
        ]);
        assert!(out.contains("overlay"), "{out}");
        assert!(!out.contains("volatile"), "run without --rm: {out}");
        b.ok(&["rm", "kept"]);
    });
}

/// The monitor makes the container's overlay (a detached mount that the
/// init attaches); when it cannot, the init mounts it as before. A layer
/// missing from the store fails the monitor's attempt, and the init's
/// mount then names the layer and what to do; once the layer is back the
/// container starts.
#[test]
fn a_missing_layer_is_named_when_the_root_filesystem_cannot_be_made() {
    each_user(|b| {
        b.load_busybox();
        b.ok(&["create", "--name", "missing", "busybox", "echo", "started"]);
        // The short links of the layers (`l/`), as an interrupted removal
        // could leave them.
        let links = b.root.join("l");
        let away = b.root.join("l-away");
        std::fs::rename(&links, &away).unwrap();
        let out = b.fails(&["start", "-a", "missing"]);
        std::fs::rename(&away, &links).unwrap();
        assert!(
            stderr(&out).contains("of its image is missing from the store"),
            "{}",
            show(&out)
        );
        assert_eq!(b.ok(&["start", "-a", "missing"]), "started\n");
        b.ok(&["rm", "missing"]);
    });
}

/// The monitor makes the overlay with the new mount API; where the kernel
/// has none (Linux before 5.2, as RHEL 8's 4.18) or a seccomp filter on
/// the host refuses it, the init mounts it as before. berth runs here
/// under a filter that answers ENOSYS to fsopen, as such a kernel does.
#[test]
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
fn without_the_new_mount_api_the_init_mounts_the_overlay() {
    use std::os::unix::process::CommandExt;
    #[cfg(target_arch = "x86_64")]
    const ARCH: u32 = 0xc000_003e; // AUDIT_ARCH_X86_64
    #[cfg(target_arch = "aarch64")]
    const ARCH: u32 = 0xc000_00b7; // AUDIT_ARCH_AARCH64
    let stmt = |code: u32, k: u32| libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    };
    let jeq = |k: u32, jt: u8, jf: u8| libc::sock_filter {
        code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
        jt,
        jf,
        k,
    };
    let program = [
        stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 4), // arch
        jeq(ARCH, 0, 3),
        stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 0), // syscall number
        jeq(libc::SYS_fsopen as u32, 0, 1),
        stmt(
            libc::BPF_RET | libc::BPF_K,
            libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32,
        ),
        stmt(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_ALLOW),
    ];
    let trace = |b: &Berth, no_fsopen: bool| -> String {
        let mut cmd = b.command(&[
            "run",
            "--rm",
            "--network",
            "none",
            "busybox",
            "echo",
            "hello",
        ]);
        cmd.env("BERTH_TRACE", "1");
        if no_fsopen {
            let root = running_as_root();
            // SAFETY: only prctl system calls between fork and exec, on
            // data made before the fork.
            unsafe {
                cmd.pre_exec(move || {
                    // Root installs it without no_new_privs, so that the
                    // setuid newuidmap of a subordinate range still works.
                    if !root && libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    let fprog = libc::sock_fprog {
                        len: program.len() as u16,
                        filter: program.as_ptr() as *mut libc::sock_filter,
                    };
                    if libc::prctl(libc::PR_SET_SECCOMP, libc::SECCOMP_MODE_FILTER, &fprog) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let out = run(cmd);
        assert_success(&out, "run --rm busybox echo hello");
        assert_eq!(stdout(&out), "hello\n");
        stderr(&out)
    };
    each_user(|b| {
        if !running_as_root() && b.user.subids {
            // no_new_privs would disable newuidmap.
            return;
        }
        b.load_busybox();
        let made = trace(b, false);
        assert!(made.contains("overlay attached"), "{made}");
        let fallback = trace(b, true);
        assert!(
            fallback.contains("overlay left to the init")
                && fallback.contains("Function not implemented"),
            "{fallback}"
        );
        assert!(fallback.contains("init     overlay mounted"), "{fallback}");
        assert!(!fallback.contains("overlay attached"), "{fallback}");
    });
}

/// `run` starts its monitor before the record exists (held until it is):
/// when the record cannot be made (the name is taken, the image missing),
/// the command fails as before and that monitor goes away, leaving
/// nothing.
#[test]
fn run_that_cannot_create_leaves_no_monitor() {
    each_user(|b| {
        b.load_busybox();
        b.ok(&["create", "--name", "taken", "busybox", "true"]);
        let out = b.status(&["run", "--rm", "--name", "taken", "busybox", "true"], 125);
        assert!(stderr(&out).contains("is already in use"), "{}", show(&out));
        b.status(&["run", "--rm", "no-such-image-here", "true"], 125);
        assert_eq!(b.container_ids().len(), 1, "{:?}", b.container_ids());
        // A held monitor of this store (its environment names the store)
        // must be gone soon after the command ended.
        let store = format!("BERTH_ROOT={}", b.root.display());
        let held = || -> Vec<String> {
            let mut found = Vec::new();
            for entry in std::fs::read_dir("/proc").unwrap().flatten() {
                let pid = entry.file_name().to_string_lossy().into_owned();
                if !pid.chars().all(|c| c.is_ascii_digit()) {
                    continue;
                }
                let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
                let args: Vec<&[u8]> = cmdline.split(|&c| c == 0).collect();
                if !(args.get(1) == Some(&&b"__berth-monitor"[..])
                    && args.get(4) == Some(&&b"held"[..]))
                {
                    continue;
                }
                let env = std::fs::read(entry.path().join("environ")).unwrap_or_default();
                if env.split(|&c| c == 0).any(|v| v == store.as_bytes()) {
                    found.push(pid);
                }
            }
            found
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !held().is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(held().is_empty(), "held monitors left: {:?}", held());
        b.ok(&["rm", "taken"]);
    });
}

/// Errors of commands that name containers, as Docker prints them (run
/// side by side with Docker 28's CLI): the daemon's words and status 1,
/// the names that worked first and the failures after them, `rm -f`
/// passing over a missing name, `start`'s closing line, `rename`'s, and
/// `logs --tail` read as the daemon reads it.
#[test]
fn container_errors_read_as_dockers() {
    each_user(|b| {
        b.load_busybox();
        b.ok(&["run", "-d", "--name", "up", "busybox", "sleep", "60"]);
        b.ok(&[
            "create",
            "--name",
            "made",
            "busybox",
            "sh",
            "-c",
            "echo 1; echo 2; echo 3",
        ]);
        let made = b.ok(&["inspect", "-f", "{{.Id}}", "made"]);
        let made = made.trim();
        let err = |args: &[&str]| {
            let out = b.status(args, 1);
            (stdout(&out), stderr(&out))
        };

        // Every failure after the names that worked.
        let (out, e) = err(&["stop", "-t", "0", "nosuch", "made", "nosuch2"]);
        assert_eq!(out, "made\n");
        assert_eq!(
            e,
            "Error response from daemon: No such container: nosuch\n\
             Error response from daemon: No such container: nosuch2\n"
        );
        assert_eq!(
            err(&["pause", "made", "nosuch"]).1,
            format!(
                "Error response from daemon: Container {made} is not running\n\
                 Error response from daemon: No such container: nosuch\n"
            )
        );
        assert_eq!(
            err(&["unpause", "made"]).1,
            format!("Error response from daemon: Container {made} is not paused\n")
        );
        assert_eq!(
            err(&["kill", "-s", "NOSUCH", "up"]).1,
            "Error response from daemon: Invalid signal: NOSUCH\n"
        );
        assert_eq!(
            err(&["kill", "made"]).1,
            format!("Error response from daemon: Cannot kill container: made: Container {made} is not running\n")
        );
        assert_eq!(
            err(&["exec", "made", "true"]).1,
            format!("Error response from daemon: Container {made} is not running\n")
        );
        assert_eq!(
            err(&["top", "made"]).1,
            format!("Error response from daemon: Container {made} is not running\n")
        );
        for args in [
            &["logs", "nosuch"][..],
            &["exec", "nosuch", "true"],
            &["top", "nosuch"],
            &["port", "nosuch"],
            &["diff", "nosuch"],
        ] {
            assert_eq!(
                err(args).1,
                "Error response from daemon: No such container: nosuch\n",
                "{args:?}"
            );
        }
        // An exec that never ran is status 126, as Docker's; the user
        // lookup (the daemon's, before the runtime) is printed bare.
        let out = b.status(&["exec", "up", "no-such-program"], 126);
        assert_eq!(
            stderr(&out),
            "OCI runtime exec failed: exec failed: unable to start container process: exec: \
             \"no-such-program\": executable file not found in $PATH: unknown\n"
        );
        let out = b.status(&["exec", "-u", "nosuser", "up", "true"], 126);
        assert_eq!(
            stderr(&out),
            "unable to find user nosuser: no matching entries in passwd file\n"
        );

        // A terminal asked for while stdin is not one: refused before
        // anything is made.
        b.ok(&["run", "-dt", "--name", "tty-up", "busybox", "sleep", "60"]);
        let before = b.container_ids().len();
        for args in [
            &["run", "-it", "busybox", "true"][..],
            &["exec", "-it", "up", "true"],
            &["attach", "tty-up"],
        ] {
            assert_eq!(
                err(args),
                (String::new(), "the input device is not a TTY\n".into())
            );
        }
        assert_eq!(b.container_ids().len(), before);
        b.ok(&["run", "-t", "--rm", "busybox", "true"]);
        assert_eq!(
            err(&["attach", "made"]).1,
            "You cannot attach to a stopped container, start it first\n"
        );
        assert_eq!(
            err(&["rename", "up", "up"]).1,
            "Error response from daemon: Renaming a container with the same name as its \
             current name\nError: failed to rename container named up\n"
        );

        // cp: what is missing on the container's side is the daemon's
        // error, on ours the CLI's.
        for (args, want) in [
            (
                ["up:/nosuch", "/tmp"],
                "Error response from daemon: Could not find the file /nosuch in container up",
            ),
            (
                ["/etc/passwd", "up:/nosuchdir/x"],
                "Error response from daemon: Could not find the file /nosuchdir in container up",
            ),
            (
                ["up:/etc/passwd", "/nonexistent-berth/x"],
                "invalid output path: directory \"/nonexistent-berth\" does not exist",
            ),
            (
                ["/nonexistent-berth/f", "up:/tmp"],
                "lstat /nonexistent-berth/f: no such file or directory",
            ),
        ] {
            assert_eq!(
                err(&["cp", args[0], args[1]]).1,
                format!("{want}\n"),
                "{args:?}"
            );
        }

        let (out, e) = err(&["start", "nosuch", "made"]);
        assert_eq!(out, "made\n");
        assert_eq!(
            e,
            "Error response from daemon: No such container: nosuch\n\
             Error: failed to start containers: nosuch\n"
        );
        b.ok(&["wait", "made"]);
        assert_eq!(b.ok(&["logs", "--tail", "-1", "made"]), "1\n2\n3\n");
        assert_eq!(b.ok(&["logs", "--tail", "x", "made"]), "1\n2\n3\n");
        assert_eq!(b.ok(&["logs", "-n", "1", "made"]), "3\n");
        assert_eq!(
            err(&["logs", "--since", "bogus", "made"]).1,
            "invalid value for \"since\": failed to parse value as time or duration: \"bogus\"\n"
        );

        assert_eq!(
            err(&["rename", "nosuch", "x"]).1,
            "Error response from daemon: No such container: nosuch\n\
             Error: failed to rename container named nosuch\n"
        );
        let out = b.ok(&["rm", "-f", "nosuch", "up", "made", "tty-up"]);
        assert_eq!(out, "up\nmade\ntty-up\n");
        assert!(b.container_ids().is_empty());
    });
}

/// `pause` of a paused container, and `top` of one (its processes, as
/// Docker's): as root, whose containers get a cgroup to freeze.
#[test]
fn pause_errors_and_top_of_a_paused_container() {
    let Some(root) = root_user() else { return };
    let b = Berth::new(&root);
    b.load_busybox();
    let id = b.ok(&["run", "-d", "--name", "up", "busybox", "sleep", "60"]);
    b.ok(&["pause", "up"]);
    let out = b.status(&["pause", "up"], 1);
    assert_eq!(
        stderr(&out),
        format!(
            "Error response from daemon: Container {} is already paused\n",
            id.trim()
        )
    );
    assert!(b.ok(&["top", "up"]).contains("sleep 60"));
    b.ok(&["unpause", "up"]);
    b.ok(&["rm", "-f", "up"]);
}
