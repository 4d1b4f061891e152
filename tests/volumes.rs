//! Volumes and mounts: `volume create|ls|inspect|rm|prune`, `-v`,
//! `--mount`, `--tmpfs`, `--volumes-from`, image VOLUMEs and copy-up,
//! `rm -v` and `run --rm`, who owns what containers write, bad input, and
//! `berth unshare`.

mod common;

use common::*;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `volume ls -q`, sorted.
fn volume_names(b: &Berth) -> Vec<String> {
    let mut v: Vec<String> = b
        .ok(&["volume", "ls", "-q"])
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

/// One field of `volume inspect`.
fn volume_field(b: &Berth, name: &str, field: &str) -> String {
    b.ok(&[
        "volume",
        "inspect",
        "--format",
        &format!("{{{{.{field}}}}}"),
        name,
    ])
    .trim()
    .to_string()
}

/// The host directory of a volume.
fn mountpoint(b: &Berth, name: &str) -> PathBuf {
    PathBuf::from(volume_field(b, name, "Mountpoint"))
}

/// The `Mounts` of a container's `inspect`.
fn container_mounts(b: &Berth, container: &str) -> Vec<serde_json::Value> {
    let c = inspect_json(&b.ok(&["inspect", container]));
    c[0]["Mounts"]
        .as_array()
        .unwrap_or_else(|| panic!("inspect {container} has no Mounts array: {}", c[0]))
        .clone()
}

/// The first host id of the user's /etc/subuid range: container uid N > 0
/// is host uid start + N - 1 (berth maps its own id to 0, the range from 1).
fn subuid_start(user: &TestUser) -> u32 {
    let text = std::fs::read_to_string("/etc/subuid").unwrap();
    text.lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f[0] == user.name || f[0] == user.uid.to_string()).then(|| f[1].parse().unwrap())
        })
        .expect("a subuid range")
}

/// `img-vol`: busybox plus `/data/file` (uid 1000, gid 1000, mode 0640) and
/// `/data/sub/deep`, with `VOLUME /data`, made with `import --change`.
fn load_volume_image(b: &Berth) {
    let dir = b.scratch_dir();
    let tar_path = dir.join("rootfs.tar");
    // The fixture's rootfs, decompressed, then /data appended with the
    // owner a non-root image user would have.
    let gz = std::fs::File::open(fixture("busybox-rootfs.tar.gz")).unwrap();
    let mut plain = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(gz), &mut plain).unwrap();
    std::fs::write(&tar_path, plain).unwrap();
    let stage = dir.join("stage");
    std::fs::create_dir_all(stage.join("data/sub")).unwrap();
    std::fs::write(stage.join("data/file"), "from the image\n").unwrap();
    std::fs::write(stage.join("data/sub/deep"), "deep\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        stage.join("data/file"),
        std::fs::Permissions::from_mode(0o640),
    )
    .unwrap();
    let out = Command::new("tar")
        .arg("-rf")
        .arg(&tar_path)
        .args(["--owner=1000", "--group=1000", "--numeric-owner", "-C"])
        .arg(&stage)
        .arg("data")
        .output()
        .expect("running tar");
    assert_success(&out, "tar -rf (appending /data)");
    if running_as_root() {
        std::os::unix::fs::chown(&tar_path, Some(b.user.uid), Some(b.user.gid)).unwrap();
    }
    b.ok(&[
        "import".as_ref(),
        "--change".as_ref(),
        "VOLUME /data".as_ref(),
        tar_path.as_os_str(),
        "img-vol".as_ref(),
    ]);
}

fn path_arg(p: &Path) -> String {
    p.display().to_string()
}

#[test]
fn volume_create_ls_inspect() {
    each_user(|b| {
        b.load_busybox();
        // A name is made up when none is given: 64 hex digits, as Docker.
        let anon = b.ok(&["volume", "create"]).trim().to_string();
        assert_eq!(anon.len(), 64, "{anon}");
        assert!(anon.bytes().all(|c| c.is_ascii_hexdigit()), "{anon}");
        assert_eq!(
            b.ok(&[
                "volume", "create", "--label", "team=db", "--label", "bare", "-d", "local", "mine"
            ]),
            "mine\n"
        );
        // Creating an existing volume returns it, untouched.
        std::fs::write(mountpoint(b, "mine").join("kept"), "x").unwrap();
        assert_eq!(b.ok(&["volume", "create", "mine"]), "mine\n");
        assert!(mountpoint(b, "mine").join("kept").exists());
        assert_eq!(volume_names(b), {
            let mut v = vec![anon.clone(), "mine".to_string()];
            v.sort();
            v
        });

        // inspect: Docker's fields.
        let v = inspect_json(&b.ok(&["volume", "inspect", "mine"]));
        assert_eq!(v.len(), 1);
        let v = &v[0];
        assert_eq!(v["Name"], "mine");
        assert_eq!(v["Driver"], "local");
        assert_eq!(v["Scope"], "local");
        assert_eq!(v["Labels"], serde_json::json!({"team": "db", "bare": ""}));
        let mp = PathBuf::from(v["Mountpoint"].as_str().unwrap());
        assert!(mp.is_dir() && mp.starts_with(&b.root), "{}", mp.display());
        let created = v["CreatedAt"].as_str().unwrap();
        assert!(
            created.parse::<jiff::Timestamp>().is_ok(),
            "CreatedAt {created:?} is RFC 3339"
        );
        assert_eq!(volume_field(b, "mine", "Labels.team"), "db");
        let out = b.status(&["volume", "inspect", "mine", "nosuch"], 1);
        assert!(stderr(&out).contains("no such volume"), "{}", show(&out));
        assert_eq!(
            inspect_json(&stdout(&out)).len(),
            1,
            "the existing one is printed"
        );
        // `inspect` finds volumes and networks too, as Docker's: without
        // --type the first of a container, image, network, volume.
        assert_eq!(
            b.ok(&["inspect", "-f", "{{.Name}} {{.Driver}}", "mine", "bridge"]),
            "mine local\nbridge bridge\n"
        );
        assert_eq!(
            b.ok(&["inspect", "--type", "volume", "-f", "{{.Scope}}", "mine"]),
            "local\n"
        );
        let out = b.fails(&["inspect", "--type", "volume", "bridge"]);
        assert!(
            stderr(&out).contains("No such object: bridge"),
            "{}",
            show(&out)
        );
        b.fails(&["container", "inspect", "--type", "volume", "mine"]);

        // ls: by name, in natural order, as Docker's CLI.
        b.ok(&["volume", "create", "v10"]);
        b.ok(&["volume", "create", "v9"]);
        let names: Vec<String> = table(&b.ok(&["volume", "ls"]))[1..]
            .iter()
            .map(|r| r[1].clone())
            .filter(|n| n.len() < 64)
            .collect();
        assert_eq!(names, ["mine", "v9", "v10"]);
        b.ok(&["volume", "rm", "v9", "v10"]);
        // ls: the table, --format, filters.
        let t = table(&b.ok(&["volume", "ls"]));
        assert_eq!(t[0], ["DRIVER", "VOLUME NAME"]);
        assert!(t[1..].iter().any(|r| r == &["local", "mine"]), "{t:?}");
        let out = b.ok(&[
            "volume",
            "ls",
            "--format",
            "{{.Name}} {{.Driver}} {{.Labels}}",
        ]);
        assert!(
            out.lines().any(|l| l == "mine local team=db,bare="),
            "{out}"
        );
        let out = b.ok(&["volume", "ls", "-q", "-f", "label=team=db"]);
        assert_eq!(out, "mine\n");
        // dangling: no container uses it.
        b.ok(&[
            "create", "--name", "user", "-v", "mine:/m", "busybox", "true",
        ]);
        assert_eq!(
            b.ok(&["volume", "ls", "-q", "-f", "dangling=true"]),
            format!("{anon}\n")
        );
        assert_eq!(
            b.ok(&["volume", "ls", "-q", "-f", "dangling=false"]),
            "mine\n"
        );
        b.fails(&["volume", "ls", "-f", "dangling=maybe"]);
        b.fails(&["volume", "ls", "-f", "colour=blue"]);

        // Only the local driver; its mount options need root, except bind.
        let out = b.fails(&["volume", "create", "-d", "nfs", "x1"]);
        assert!(stderr(&out).contains("local"), "{}", show(&out));
        let out = b.fails(&[
            "volume",
            "create",
            "-o",
            "type=tmpfs",
            "-o",
            "device=tmpfs",
            "x2",
        ]);
        assert!(stderr(&out).contains("needs root"), "{}", show(&out));
        let out = b.fails(&["volume", "create", "bad/name"]);
        assert!(
            stderr(&out).contains("invalid characters"),
            "{}",
            show(&out)
        );
        // Exact names: the anonymous volume's 64 hex digits may well
        // start with "bad" (one run in 4096 did).
        let names = volume_names(b);
        assert!(
            !names
                .iter()
                .any(|n| ["x1", "x2", "bad", "bad/name", "name"].contains(&n.as_str())),
            "{names:?}"
        );

        // A volume that is a host directory (type=none,o=bind).
        let host = b.scratch_dir();
        let dev = format!("device={}", host.display());
        b.ok(&[
            "volume",
            "create",
            "-o",
            "type=none",
            "-o",
            "o=bind",
            "-o",
            &dev,
            "onhost",
        ]);
        b.ok(&[
            "run",
            "--rm",
            "-v",
            "onhost:/h",
            "busybox",
            "sh",
            "-c",
            "echo bound > /h/f",
        ]);
        assert_eq!(std::fs::read_to_string(host.join("f")).unwrap(), "bound\n");
        assert_eq!(
            volume_field(b, "onhost", "Options.device"),
            host.display().to_string()
        );
    });
}

#[test]
fn volume_rm_refuses_a_volume_in_use() {
    each_user(|b| {
        b.load_busybox();
        b.ok(&["volume", "create", "busy"]);
        b.ok(&["volume", "create", "free"]);
        let id = b
            .ok(&["create", "-v", "busy:/b", "busybox", "true"])
            .trim()
            .to_string();
        let out = b.status(&["volume", "rm", "busy"], 1);
        assert!(stderr(&out).contains("volume is in use"), "{}", show(&out));
        assert!(
            stderr(&out).contains(&id),
            "names the container: {}",
            show(&out)
        );
        // -f does not override that (as Docker): it only ignores missing ones.
        b.status(&["volume", "rm", "-f", "busy"], 1);
        assert!(volume_names(b).contains(&"busy".to_string()));
        // One good, one missing: the good one goes, the status is 1.
        let out = b.status(&["volume", "rm", "free", "nosuch"], 1);
        assert_eq!(stdout(&out), "free\n");
        assert!(stderr(&out).contains("no such volume"), "{}", show(&out));
        b.ok(&["volume", "rm", "-f", "nosuch"]);
        b.ok(&["rm", &id]);
        assert_eq!(b.ok(&["volume", "rm", "busy"]), "busy\n");
        assert!(volume_names(b).is_empty());
        assert!(!b.root.join("volumes/busy").exists(), "its data went too");
    });
}

#[test]
fn volume_prune_follows_docker() {
    each_user(|b| {
        b.load_busybox();
        b.ok(&["volume", "create", "named"]);
        b.ok(&["volume", "create", "--label", "keep=1", "labelled"]);
        // Anonymous volumes: one of a container, one left behind by `rm`.
        b.ok(&[
            "create", "--name", "holder", "-v", "/held", "busybox", "true",
        ]);
        b.ok(&[
            "create", "--name", "gone", "-v", "/orphan", "busybox", "true",
        ]);
        let held = container_mounts(b, "holder")[0]["Name"]
            .as_str()
            .unwrap()
            .to_string();
        let orphan = container_mounts(b, "gone")[0]["Name"]
            .as_str()
            .unwrap()
            .to_string();
        std::fs::write(mountpoint(b, &orphan).join("f"), vec![b'x'; 10000]).unwrap();
        b.ok(&["rm", "gone"]);
        assert_eq!(volume_names(b).len(), 4);

        // Without -f it asks; anything but y keeps everything.
        let out = b.cmd_stdin(&["volume", "prune"], b"n\n");
        assert_success(&out, "volume prune, answered n");
        assert!(
            show(&out).contains("WARNING! This will remove anonymous local volumes"),
            "{}",
            show(&out)
        );
        assert_eq!(volume_names(b).len(), 4);

        // Anonymous only, and not one in use.
        let out = b.ok(&["volume", "prune", "-f"]);
        assert!(out.contains("Deleted Volumes:"), "{out}");
        assert!(out.contains(&orphan), "{out}");
        assert!(!out.contains(&held), "{out}");
        assert!(out.contains("Total reclaimed space:"), "{out}");
        assert!(!out.contains("Total reclaimed space: 0B"), "{out}");
        let mut want = vec![held.clone(), "labelled".into(), "named".into()];
        want.sort();
        assert_eq!(volume_names(b), want);

        // -a: named ones too, filtered by label, never one in use.
        b.ok(&["volume", "prune", "-a", "-f", "--filter", "label=keep"]);
        let mut want = vec![held.clone(), "named".into()];
        want.sort();
        assert_eq!(volume_names(b), want);
        let out = b.cmd_stdin(&["volume", "prune", "-a"], b"y\n");
        assert_success(&out, "volume prune -a, answered y");
        assert_eq!(volume_names(b), vec![held.clone()]);
        // Once its container is gone (without -v), it is prunable.
        b.ok(&["rm", "holder"]);
        assert_eq!(volume_names(b), vec![held.clone()]);
        b.ok(&["volume", "prune", "-f"]);
        assert!(volume_names(b).is_empty());
    });
}

#[test]
fn named_volumes_persist_and_are_shared() {
    each_user(|b| {
        b.load_busybox();
        // Created on first use.
        b.ok(&[
            "run",
            "--name",
            "writer",
            "-v",
            "shared:/s",
            "busybox",
            "sh",
            "-c",
            "echo first > /s/f",
        ]);
        assert_eq!(volume_names(b), ["shared"]);
        // Removing the container, even with -v, keeps a named volume.
        b.ok(&["rm", "-v", "writer"]);
        assert_eq!(volume_names(b), ["shared"]);
        let out = b.ok(&[
            "run",
            "--rm",
            "-v",
            "shared:/again",
            "busybox",
            "cat",
            "/again/f",
        ]);
        assert_eq!(out, "first\n");
        assert_eq!(
            std::fs::read_to_string(mountpoint(b, "shared").join("f")).unwrap(),
            "first\n"
        );

        // Two containers at once on one volume: one waits for the other's file.
        let waiter = b
            .ok(&[
                "run", "-d", "-v", "shared:/s", "busybox", "sh", "-c",
                "i=0; while [ ! -e /s/go ]; do sleep 0.1; i=$((i+1)); [ $i -gt 600 ] && exit 9; done; \
                 cat /s/go > /s/reply",
            ])
            .trim()
            .to_string();
        b.ok(&[
            "run",
            "--rm",
            "-v",
            "shared:/t",
            "busybox",
            "sh",
            "-c",
            "echo ping > /t/go",
        ]);
        assert_eq!(b.ok(&["wait", &waiter]), "0\n");
        let out = b.ok(&[
            "run",
            "--rm",
            "-v",
            "shared:/s:ro",
            "busybox",
            "cat",
            "/s/reply",
        ]);
        assert_eq!(out, "ping\n");
        // :ro is read-only, and says so.
        let out = b.fails(&[
            "run",
            "--rm",
            "-v",
            "shared:/s:ro",
            "busybox",
            "touch",
            "/s/x",
        ]);
        assert!(
            stderr(&out).contains("Read-only file system"),
            "{}",
            show(&out)
        );
        let out = b.fails(&[
            "run",
            "--rm",
            "--mount",
            "type=volume,source=shared,target=/s,readonly",
            "busybox",
            "touch",
            "/s/x",
        ]);
        assert!(
            stderr(&out).contains("Read-only file system"),
            "{}",
            show(&out)
        );
        // --mount with a new name creates it too.
        b.ok(&[
            "run",
            "--rm",
            "--mount",
            "type=volume,src=viamount,dst=/m",
            "busybox",
            "touch",
            "/m/ok",
        ]);
        assert!(mountpoint(b, "viamount").join("ok").exists());
        b.ok(&["rm", &waiter]);
        let mut want = vec!["shared".to_string(), "viamount".into()];
        want.sort();
        assert_eq!(volume_names(b), want, "named volumes outlive everything");
    });
}

#[test]
fn bind_mounts() {
    each_user(|b| {
        b.load_busybox();
        let scratch = b.scratch_dir();
        // -v creates a missing host directory, as Docker; it is the user's.
        let made = scratch.join("made/by/v");
        let spec = format!("{}:/data:rw", made.display());
        b.ok(&[
            "run",
            "--rm",
            "-v",
            &spec,
            "busybox",
            "sh",
            "-c",
            "echo w > /data/w",
        ]);
        assert!(made.is_dir());
        assert_eq!(std::fs::metadata(&made).unwrap().uid(), b.user.uid);
        assert_eq!(std::fs::read_to_string(made.join("w")).unwrap(), "w\n");
        // --mount refuses it, before anything is made.
        let missing = scratch.join("missing");
        let m = format!("type=bind,source={},target=/data", missing.display());
        let out = b.status(
            &[
                "run", "--rm", "-v", "early:/e", "--mount", &m, "busybox", "true",
            ],
            125,
        );
        assert!(stderr(&out).contains("does not exist"), "{}", show(&out));
        assert!(!missing.exists());
        assert!(b.container_ids().is_empty());
        assert!(
            volume_names(b).is_empty(),
            "no volume made for a refused run"
        );
        // --mount of an existing one, read-only.
        let m = format!("type=bind,source={},target=/data,readonly", made.display());
        assert_eq!(
            b.ok(&["run", "--rm", "--mount", &m, "busybox", "cat", "/data/w"]),
            "w\n"
        );
        let out = b.fails(&["run", "--rm", "--mount", &m, "busybox", "touch", "/data/x"]);
        assert!(
            stderr(&out).contains("Read-only file system"),
            "{}",
            show(&out)
        );
        // A single file, on a path the image does not have, written through.
        let file = b.write_file("single", "one\n");
        let spec = format!("{}:/new-file", file.display());
        b.ok(&[
            "run",
            "--rm",
            "-v",
            &spec,
            "busybox",
            "sh",
            "-c",
            "cat /new-file; echo two >> /new-file",
        ]);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "one\ntwo\n");
        let m = format!("type=bind,src={},dst=/etc/motd,ro", file.display());
        assert_eq!(
            b.ok(&["run", "--rm", "--mount", &m, "busybox", "cat", "/etc/motd"]),
            "one\ntwo\n"
        );
        // Removing the container never touches a bind's data.
        b.ok(&[
            "run",
            "--name",
            "c1",
            "-v",
            &format!("{}:/d", made.display()),
            "busybox",
            "true",
        ]);
        b.ok(&["rm", "-v", "c1"]);
        assert!(made.join("w").exists());
    });
}

#[test]
fn anonymous_volumes_rm_v_and_run_rm() {
    each_user(|b| {
        b.load_busybox();
        b.ok(&[
            "create", "--name", "c1", "-v", "named:/n", "-v", "/anon", "busybox", "true",
        ]);
        let mounts = container_mounts(b, "c1");
        assert_eq!(mounts.len(), 2, "{mounts:?}");
        let anon = mounts.iter().find(|m| m["Destination"] == "/anon").unwrap()["Name"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(anon.len(), 64);
        let mut want = vec![anon.clone(), "named".into()];
        want.sort();
        assert_eq!(volume_names(b), want);
        // rm without -v keeps both.
        b.ok(&["rm", "c1"]);
        assert_eq!(volume_names(b), want);
        b.ok(&["volume", "rm", &anon]);

        // rm -v: the anonymous one goes, the named one stays.
        b.ok(&[
            "create", "--name", "c1", "-v", "named:/n", "-v", "/anon", "busybox", "true",
        ]);
        b.ok(&["start", "-a", "c1"]);
        b.ok(&["rm", "-v", "c1"]);
        assert_eq!(volume_names(b), ["named"]);

        // run --rm removes its anonymous volumes, never named ones.
        b.ok(&[
            "run",
            "--rm",
            "-v",
            "named:/n",
            "-v",
            "/anon",
            "--mount",
            "type=volume,target=/m",
            "busybox",
            "true",
        ]);
        assert_eq!(volume_names(b), ["named"]);
        // ... also when the command fails.
        b.status(
            &[
                "run", "--rm", "-v", "/anon", "busybox", "sh", "-c", "exit 4",
            ],
            4,
        );
        assert_eq!(volume_names(b), ["named"]);

        // An anonymous volume another container took with --volumes-from
        // stays while that container exists.
        b.ok(&[
            "create", "--name", "owner", "-v", "/shared", "busybox", "true",
        ]);
        b.ok(&[
            "create",
            "--name",
            "borrower",
            "--volumes-from",
            "owner",
            "busybox",
            "true",
        ]);
        let shared = container_mounts(b, "owner")[0]["Name"]
            .as_str()
            .unwrap()
            .to_string();
        b.ok(&["rm", "-v", "owner"]);
        assert!(volume_names(b).contains(&shared), "kept for borrower");
        b.ok(&["rm", "-v", "borrower"]);
        assert!(
            volume_names(b).contains(&shared),
            "borrower did not make it, so does not remove it"
        );
    });
}

#[test]
fn inspect_lists_mounts_as_docker() {
    each_user(|b| {
        b.load_busybox();
        let host = b.scratch_dir();
        b.ok(&[
            "create",
            "--name",
            "c1",
            "-v",
            "named:/n:ro",
            "-v",
            &format!("{}:/h", host.display()),
            "-v",
            "/anon",
            "--mount",
            "type=volume,source=other,target=/o,volume-nocopy",
            "--mount",
            "type=tmpfs,target=/t,tmpfs-size=1m",
            "busybox",
            "true",
        ]);
        let mounts = container_mounts(b, "c1");
        let by_dest = |d: &str| -> serde_json::Value {
            mounts
                .iter()
                .find(|m| m["Destination"] == d)
                .unwrap_or_else(|| panic!("no mount on {d}: {mounts:?}"))
                .clone()
        };
        let n = by_dest("/n");
        assert_eq!(n["Type"], "volume");
        assert_eq!(n["Name"], "named");
        assert_eq!(n["Driver"], "local");
        assert_eq!(n["RW"], false);
        assert_eq!(n["Source"], path_arg(&mountpoint(b, "named")));
        let h = by_dest("/h");
        assert_eq!(h["Type"], "bind");
        assert_eq!(h["Source"], path_arg(&host));
        assert_eq!(h["RW"], true);
        assert_eq!(h["Propagation"], "rprivate");
        assert!(h.get("Name").is_none(), "a bind has no Name: {h}");
        let a = by_dest("/anon");
        assert_eq!(a["Type"], "volume");
        assert_eq!(a["RW"], true);
        let o = by_dest("/o");
        assert_eq!(o["Mode"], "nocopy");
        assert_eq!(by_dest("/t")["Type"], "tmpfs");
        // HostConfig.Binds lists the -v binds and volumes as given.
        let c = inspect_json(&b.ok(&["inspect", "c1"]));
        let binds = c[0]["HostConfig"]["Binds"].to_string();
        assert!(binds.contains("named:/n:ro"), "{binds}");
    });
}

#[test]
fn tmpfs_mounts() {
    each_user(|b| {
        b.load_busybox();
        let out = b.ok(&[
            "run", "--rm", "--tmpfs", "/scratch:size=1m,mode=1777", "busybox", "sh", "-c",
            "grep ' /scratch ' /proc/mounts; stat -c %a /scratch; echo x > /scratch/f && cat /scratch/f",
        ]);
        let mut lines = out.lines();
        let mnt = lines.next().unwrap();
        assert!(mnt.starts_with("tmpfs /scratch tmpfs "), "{out}");
        assert!(mnt.contains("size=1024k"), "{out}");
        assert!(
            mnt.contains("nosuid") && mnt.contains("nodev") && mnt.contains("noexec"),
            "{out}"
        );
        assert_eq!(lines.next(), Some("1777"));
        assert_eq!(lines.next(), Some("x"));
        let out = b.ok(&[
            "run",
            "--rm",
            "--mount",
            "type=tmpfs,target=/t,tmpfs-size=2m,tmpfs-mode=700",
            "busybox",
            "sh",
            "-c",
            "grep ' /t ' /proc/mounts; stat -c %a /t",
        ]);
        assert!(out.contains("size=2048k"), "{out}");
        assert!(out.ends_with("700\n"), "{out}");
        // Read-only tmpfs.
        let out = b.fails(&[
            "run", "--rm", "--tmpfs", "/r:ro", "busybox", "touch", "/r/x",
        ]);
        assert!(
            stderr(&out).contains("Read-only file system"),
            "{}",
            show(&out)
        );
        assert!(volume_names(b).is_empty(), "a tmpfs is no volume");
    });
}

#[test]
fn volumes_from() {
    each_user(|b| {
        b.load_busybox();
        let host = b.scratch_dir();
        b.ok(&[
            "run",
            "--name",
            "src",
            "-v",
            "named:/n",
            "-v",
            "/anon",
            "-v",
            &format!("{}:/h", host.display()),
            "busybox",
            "sh",
            "-c",
            "echo n > /n/f; echo a > /anon/f; echo h > /h/f",
        ]);
        let out = b.ok(&[
            "run",
            "--rm",
            "--volumes-from",
            "src",
            "busybox",
            "sh",
            "-c",
            "cat /n/f /anon/f /h/f; echo more > /anon/g",
        ]);
        assert_eq!(out, "n\na\nh\n");
        let out = b.fails(&[
            "run",
            "--rm",
            "--volumes-from",
            "src:ro",
            "busybox",
            "touch",
            "/n/x",
        ]);
        assert!(
            stderr(&out).contains("Read-only file system"),
            "{}",
            show(&out)
        );
        assert_eq!(
            b.ok(&[
                "run",
                "--rm",
                "--volumes-from",
                "src:ro",
                "busybox",
                "cat",
                "/anon/g"
            ]),
            "more\n"
        );
        // An explicit mount on the same path wins.
        b.ok(&["volume", "create", "mine"]);
        let out = b.ok(&[
            "run",
            "--rm",
            "--volumes-from",
            "src",
            "-v",
            "mine:/n",
            "busybox",
            "ls",
            "/n",
        ]);
        assert_eq!(out, "");
        // A missing container is an error before anything is made.
        let out = b.status(
            &[
                "run",
                "--rm",
                "--volumes-from",
                "nosuch",
                "-v",
                "fresh:/f",
                "busybox",
                "true",
            ],
            125,
        );
        assert!(stderr(&out).contains("nosuch"), "{}", show(&out));
        assert!(!volume_names(b).contains(&"fresh".to_string()));
        // Nothing the borrowers did removed src's anonymous volume.
        assert_eq!(volume_names(b).len(), 3);
    });
}

#[test]
fn image_volumes_are_filled_from_the_image() {
    each_user(|b| {
        load_volume_image(b);
        // The image's VOLUME makes an anonymous volume, filled with /data.
        let out = b.ok(&[
            "run",
            "--name",
            "c1",
            "img-vol",
            "sh",
            "-c",
            "cat /data/file /data/sub/deep; stat -c '%u:%g %a' /data/file; echo added > /data/new",
        ]);
        let owner = if b.user.subids { "1000:1000" } else { "0:0" };
        assert_eq!(out, format!("from the image\ndeep\n{owner} 640\n"));
        let mounts = container_mounts(b, "c1");
        assert_eq!(mounts.len(), 1, "{mounts:?}");
        assert_eq!(mounts[0]["Destination"], "/data");
        let anon = mounts[0]["Name"].as_str().unwrap().to_string();
        let data = mountpoint(b, &anon);
        assert_eq!(
            std::fs::read_to_string(data.join("file")).unwrap(),
            "from the image\n"
        );
        assert_eq!(
            std::fs::read_to_string(data.join("new")).unwrap(),
            "added\n"
        );
        // Ownership is kept: uid 1000 of the container on the host.
        let meta = std::fs::metadata(data.join("file")).unwrap();
        if b.user.subids {
            assert_eq!(meta.uid(), subuid_start(&b.user) + 999);
        } else {
            assert_eq!(meta.uid(), b.user.uid);
        }
        assert_eq!(meta.mode() & 0o7777, 0o640);
        // The volume's root takes the owner of the image's directory, so
        // the image's own user may write into it, as with Docker.
        if b.user.subids {
            let out = b.ok(&[
                "run",
                "--rm",
                "-u",
                "1000",
                "img-vol",
                "sh",
                "-c",
                "stat -c %u /data && touch /data/by-1000 && echo ok",
            ]);
            assert_eq!(out, "1000\nok\n");
        }
        // Restarting the container does not copy again over its changes.
        b.ok(&["start", "-a", "c1"]);
        b.ok(&["rm", "-v", "c1"]);
        assert!(
            volume_names(b).is_empty(),
            "rm -v removed the image's volume"
        );

        // A new named volume is filled too; a non-empty one is not.
        assert_eq!(
            b.ok(&[
                "run",
                "--rm",
                "-v",
                "filled:/data",
                "img-vol",
                "cat",
                "/data/file"
            ]),
            "from the image\n"
        );
        assert!(mountpoint(b, "filled").join("sub/deep").exists());
        b.ok(&["volume", "create", "full"]);
        std::fs::write(mountpoint(b, "full").join("mine"), "mine\n").unwrap();
        assert_eq!(
            b.ok(&["run", "--rm", "-v", "full:/data", "img-vol", "ls", "/data"]),
            "mine\n"
        );
        // volume-nocopy, by --mount or -v.
        assert_eq!(
            b.ok(&[
                "run",
                "--rm",
                "--mount",
                "type=volume,source=bare,target=/data,volume-nocopy",
                "img-vol",
                "ls",
                "-A",
                "/data",
            ]),
            ""
        );
        assert_eq!(
            b.ok(&[
                "run",
                "--rm",
                "-v",
                "bare2:/data:nocopy",
                "img-vol",
                "ls",
                "-A",
                "/data"
            ]),
            ""
        );
        // A bind over a VOLUME path: no volume, no copy into the host dir.
        let host = b.scratch_dir();
        b.ok(&[
            "run",
            "--rm",
            "-v",
            &format!("{}:/data", host.display()),
            "img-vol",
            "true",
        ]);
        assert!(std::fs::read_dir(&host).unwrap().next().is_none());
        // run --rm: the image's anonymous volume goes with the container.
        b.ok(&["run", "--rm", "img-vol", "true"]);
        let mut want = vec![
            "bare".to_string(),
            "bare2".into(),
            "filled".into(),
            "full".into(),
        ];
        want.sort();
        assert_eq!(volume_names(b), want);
    });
}

#[test]
fn container_root_writes_as_the_user() {
    each_user(|b| {
        b.load_busybox();
        let host = b.scratch_dir();
        b.ok(&[
            "run",
            "--rm",
            "-v",
            "own:/v",
            "-v",
            &format!("{}:/h", host.display()),
            "busybox",
            "sh",
            "-c",
            "mkdir /v/d /h/d && echo x > /v/d/f && echo x > /h/d/f",
        ]);
        for f in [
            mountpoint(b, "own").join("d/f"),
            host.join("d/f"),
            host.join("d"),
        ] {
            let meta = std::fs::metadata(&f).unwrap();
            assert_eq!(
                (meta.uid(), meta.gid()),
                (b.user.uid, b.user.gid),
                "{}",
                f.display()
            );
        }
        // The user can delete what the container's root wrote, without berth.
        let rm = b.user_command(
            Path::new("/bin/rm"),
            &["-rf".as_ref(), host.join("d").as_os_str()],
        );
        assert_success(&run(rm), "rm -rf of what the container wrote");
        assert!(!host.join("d").exists());
    });
}

#[test]
fn subordinate_ids_need_berth_unshare() {
    each_user(|b| {
        b.load_busybox();
        assert_eq!(b.ok(&["unshare", "id", "-u"]), "0\n");
        assert_eq!(
            b.ok(&["unshare", "sh", "-c", "echo $BERTH_ROOT"]).trim(),
            path_arg(&b.root)
        );
        b.status(&["unshare", "no-such-program"], 127);
        if !b.user.subids {
            // With a single id mapping there is no other id to write as.
            b.fails(&["run", "--rm", "-u", "1000", "busybox", "true"]);
            return;
        }
        let host = b.scratch_dir();
        // Writable by the container's uid 1000 (the user's own mode 0755 is not).
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&host, std::fs::Permissions::from_mode(0o777)).unwrap();
        b.ok(&[
            "run",
            "--rm",
            "-u",
            "1000:1000",
            "-v",
            &format!("{}:/h", host.display()),
            "busybox",
            "sh",
            "-c",
            "mkdir /h/d && echo x > /h/d/f",
        ]);
        let meta = std::fs::metadata(host.join("d/f")).unwrap();
        assert_eq!(meta.uid(), subuid_start(&b.user) + 999);
        // Not removable by the user directly...
        let rm = b.user_command(
            Path::new("/bin/rm"),
            &["-rf".as_ref(), host.join("d").as_os_str()],
        );
        let out = run(rm);
        assert!(!out.status.success(), "{}", show(&out));
        assert!(host.join("d/f").exists());
        // ... but through berth unshare.
        b.ok(&[
            "unshare".as_ref(),
            "rm".as_ref(),
            "-rf".as_ref(),
            host.join("d").as_os_str(),
        ]);
        assert!(!host.join("d").exists());
        // Volumes with such files are removed by volume rm. A new volume is
        // its root's, mode 0755, as Docker's: root opens it up first.
        b.ok(&[
            "run", "--rm", "-v", "subs:/v", "busybox", "chmod", "777", "/v",
        ]);
        b.ok(&[
            "run",
            "--rm",
            "-u",
            "1000",
            "-v",
            "subs:/v",
            "busybox",
            "sh",
            "-c",
            "mkdir /v/d && touch /v/d/f",
        ]);
        b.ok(&["volume", "rm", "subs"]);
        assert!(!b.root.join("volumes/subs").exists());
    });
}

#[test]
fn bad_mount_input_is_refused_before_anything_is_made() {
    each_user(|b| {
        b.load_busybox();
        let scratch = b.scratch_dir();
        let fresh = scratch.join("fresh");
        let f = path_arg(&fresh);
        let cases: Vec<(Vec<String>, &str)> = vec![
            (vec!["-v".into(), "rel/path:/x".into()], "use absolute path"),
            (vec!["-v".into(), "./rel:/x".into()], "use absolute path"),
            (vec!["-v".into(), format!("{f}:/")], "can't be '/'"),
            (vec!["-v".into(), format!("{f}:rel")], "must be absolute"),
            (vec!["-v".into(), format!("{f}:/x:zz")], "unsupported mode"),
            (
                vec!["-v".into(), "bad$name:/x".into()],
                "invalid characters",
            ),
            (vec!["-v".into(), "relative".into()], "must be absolute"),
            (
                vec![
                    "--mount".into(),
                    format!("type=bind,source={f},target=/x,bogus=1"),
                ],
                "unexpected key 'bogus'",
            ),
            (
                vec!["--mount".into(), "type=bind,source=rel,target=/x".into()],
                "must be absolute",
            ),
            (
                vec!["--mount".into(), format!("type=bind,source={f},target=rel")],
                "must be absolute",
            ),
            (
                vec!["--mount".into(), format!("type=bind,source={f},target=/")],
                "can't be '/'",
            ),
            (
                vec!["--mount".into(), "type=volume,source=bad$,target=/x".into()],
                "invalid characters",
            ),
            (
                vec!["--mount".into(), "type=nfs,target=/x".into()],
                "unsupported mount type",
            ),
            (
                vec!["--mount".into(), "type=volume,source=v".into()],
                "target is required",
            ),
            (vec!["--tmpfs".into(), "rel".into()], "must be absolute"),
            (
                vec!["--tmpfs".into(), "/t:size=lots".into()],
                "invalid size",
            ),
            (
                vec![
                    "-v".into(),
                    format!("{f}:/x"),
                    "--tmpfs".into(),
                    "/x".into(),
                ],
                "Duplicate mount point",
            ),
        ];
        for (flags, message) in cases {
            for verb in ["run", "create"] {
                // A valid volume and bind come first: they must not be made either.
                let mut argv: Vec<String> = vec![
                    verb.into(),
                    "--name".into(),
                    "c1".into(),
                    "-v".into(),
                    "early:/early".into(),
                    "-v".into(),
                    format!("{}:/early-bind", scratch.join("early-dir").display()),
                ];
                argv.extend(flags.iter().cloned());
                argv.extend(["busybox".into(), "true".into()]);
                let out = b.status(&argv, 125);
                assert!(
                    stderr(&out).contains(message),
                    "{flags:?}: expected {message:?}\n{}",
                    show(&out)
                );
                assert!(b.container_ids().is_empty(), "{flags:?} made a container");
                assert!(volume_names(b).is_empty(), "{flags:?} made a volume");
                assert!(!fresh.exists(), "{flags:?} made {f}");
                assert!(
                    !scratch.join("early-dir").exists(),
                    "{flags:?} made the early bind dir"
                );
            }
        }
        // volume create with a bad name makes nothing either.
        b.fails(&["volume", "create", "a b"]);
        assert!(volume_names(b).is_empty());
        // A name conflict is found before volumes or bind dirs are made.
        b.ok(&["create", "--name", "taken", "busybox", "true"]);
        let out = b.status(
            &[
                "run",
                "--name",
                "taken",
                "-v",
                "late:/l",
                "-v",
                &format!("{f}:/f"),
                "busybox",
                "true",
            ],
            125,
        );
        assert!(stderr(&out).contains("already in use"), "{}", show(&out));
        assert!(volume_names(b).is_empty(), "a name conflict made a volume");
        assert!(!fresh.exists(), "a name conflict made the bind dir");
    });
}

/// Polls until the container is gone (a detached `--rm` is removed by its monitor).
fn wait_until_removed(b: &Berth, id: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while b.container_ids().iter().any(|c| c == id) {
        assert!(
            std::time::Instant::now() < deadline,
            "container {id} was not removed within 30s"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn volume_data_outlives_containers_and_images() {
    each_user(|b| {
        b.load_busybox();
        // rm -f of a running container, without -v: both volumes stay.
        let id = b
            .ok(&[
                "run",
                "-d",
                "-v",
                "keep:/k",
                "-v",
                "/anon",
                "busybox",
                "sh",
                "-c",
                "echo k > /k/f; echo a > /anon/f; touch /k/ready; sleep 60",
            ])
            .trim()
            .to_string();
        let anon = container_mounts(b, &id)
            .iter()
            .find(|m| m["Destination"] == "/anon")
            .unwrap()["Name"]
            .as_str()
            .unwrap()
            .to_string();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !mountpoint(b, "keep").join("ready").exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "the container never wrote"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        b.ok(&["rm", "-f", &id]);
        // Removing the image and pruning images leaves volume data alone.
        b.ok(&["rmi", "-f", "busybox"]);
        b.ok(&["image", "prune", "-a", "-f"]);
        assert_eq!(
            std::fs::read_to_string(mountpoint(b, "keep").join("f")).unwrap(),
            "k\n"
        );
        assert_eq!(
            std::fs::read_to_string(mountpoint(b, &anon).join("f")).unwrap(),
            "a\n"
        );

        // rm -f -v of a running container: its anonymous volume goes.
        b.load_busybox();
        let id = b
            .ok(&[
                "run", "-d", "-v", "keep:/k", "-v", "/anon2", "busybox", "sleep", "60",
            ])
            .trim()
            .to_string();
        b.ok(&["rm", "-f", "-v", &id]);
        let mut want = vec![anon.clone(), "keep".into()];
        want.sort();
        assert_eq!(volume_names(b), want);

        // A detached --rm: its monitor removes the anonymous volume only.
        let id = b
            .ok(&[
                "run",
                "-d",
                "--rm",
                "-v",
                "keep:/k",
                "-v",
                "/anon3",
                "busybox",
                "sh",
                "-c",
                "echo d > /k/d",
            ])
            .trim()
            .to_string();
        wait_until_removed(b, &id);
        // The monitor removes the volume just after the container: a reader
        // that takes no lock may see the moment in between.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while volume_names(b) != want && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert_eq!(volume_names(b), want);
        assert_eq!(
            std::fs::read_to_string(mountpoint(b, "keep").join("d")).unwrap(),
            "d\n"
        );
    });
}
