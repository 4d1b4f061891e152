//! The launch path against a store built by hand (no `load` needed): a
//! one-layer busybox image committed through the store's own API, then
//! `run`, `create`, `start -a` of the real binary as the current user.
//! Skipped where busybox-static is missing or user namespaces are not
//! available to an unprivileged caller.

use berth::store::images::{ImageIndex, ImageRecord};
use berth::store::layers::LayerRecord;
use berth::store::Store;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BUSYBOX: &str = "/usr/bin/busybox";

fn usable() -> bool {
    if !Path::new(BUSYBOX).exists() {
        eprintln!("skipped: {BUSYBOX} (busybox-static) is missing");
        return false;
    }
    let ok = Command::new("unshare")
        .args(["-Ur", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipped: user namespaces are not available here");
    }
    ok
}

/// Builds a store with `busybox:latest` and returns its root.
fn busybox_store(dir: &Path) -> PathBuf {
    let root = dir.join("store");
    let store = Store::open(root.clone(), dir.join("run")).unwrap();
    let staging = store.temp_dir("layer").unwrap();
    let diff = staging.join("diff");
    for d in ["bin", "etc", "root", "tmp", "home/user"] {
        std::fs::create_dir_all(diff.join(d)).unwrap();
    }
    // Copied by cp(1), not from this process: a write descriptor of ours
    // would be inherited by children other test threads fork, and an exec
    // of busybox while one holds it fails with "Text file busy".
    let cp = Command::new("cp")
        .arg(BUSYBOX)
        .arg(diff.join("bin/busybox"))
        .status()
        .unwrap();
    assert!(cp.success(), "cp {BUSYBOX}");
    for applet in [
        "sh", "echo", "cat", "id", "hostname", "sleep", "touch", "ls", "pwd",
    ] {
        std::os::unix::fs::symlink("busybox", diff.join("bin").join(applet)).unwrap();
    }
    std::fs::write(
        diff.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(diff.join("etc/group"), "root:x:0:\nuser:x:1000:\n").unwrap();
    let diff_id = format!("sha256:{}", "ab".repeat(32));
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{"Env":["PATH=/bin"],"Cmd":["sh"]}},"rootfs":{{"type":"layers","diff_ids":["{diff_id}"]}}}}"#
    );
    let lock = store.lock().unwrap();
    store
        .commit_layer(
            &staging,
            &LayerRecord {
                diff_id: diff_id.clone(),
                size: 1,
                content_size: None,
            },
            &lock,
        )
        .unwrap();
    let id = store.put_blob(config.as_bytes()).unwrap();
    let mut index = ImageIndex::default();
    index.upsert(ImageRecord {
        id,
        repo_tags: vec!["docker.io/library/busybox:latest".into()],
        repo_digests: vec![],
        layers: vec![diff_id],
        size: 1,
        created: None,
        added: "2025-01-01T00:00:00Z".into(),
    });
    store.save_images(&index, &lock).unwrap();
    root
}

fn berth(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_berth"))
        .env("BERTH_ROOT", root)
        .args(args)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn run_create_start_and_exit_statuses() {
    if !usable() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = busybox_store(dir.path());
    let out = berth(
        &root,
        &[
            "run",
            "--rm",
            "-e",
            "X=y",
            "busybox",
            "sh",
            "-c",
            "echo $X; id -u",
        ],
    );
    assert_eq!(text(&out.stdout), "y\n0\n", "{}", text(&out.stderr));
    assert_eq!(out.status.code(), Some(0));

    let out = berth(
        &root,
        &["run", "--rm", "--hostname", "box", "busybox", "hostname"],
    );
    assert_eq!(text(&out.stdout), "box\n");
    assert_eq!(
        berth(&root, &["run", "--rm", "busybox", "sh", "-c", "exit 3"])
            .status
            .code(),
        Some(3)
    );
    let out = berth(&root, &["run", "--rm", "busybox", "nosuch"]);
    assert_eq!(out.status.code(), Some(127));
    assert!(text(&out.stderr).contains("exec: \"nosuch\": executable file not found in $PATH"));
    assert_eq!(
        berth(&root, &["run", "--rm", "busybox", "/etc/passwd"])
            .status
            .code(),
        Some(126)
    );
    // Killed by a signal from outside (pid 1 ignores its own SIGKILL): 128 + 9.
    let mut child = Command::new(env!("CARGO_BIN_EXE_berth"))
        .env("BERTH_ROOT", &root)
        .args(["run", "--rm", "--name", "sleeper", "busybox", "sleep", "30"])
        .spawn()
        .unwrap();
    let pid = loop {
        let id = std::fs::read_to_string(root.join("names/sleeper")).unwrap_or_default();
        let state =
            std::fs::read_to_string(root.join("containers").join(id.trim()).join("state.json"))
                .unwrap_or_default();
        let v: serde_json::Value = serde_json::from_str(&state).unwrap_or_default();
        if v["status"] == "running" {
            break v["pid"].as_i64().unwrap() as i32;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    // SAFETY: kill with a pid and a signal number.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    assert_eq!(child.wait().unwrap().code(), Some(137));
    let out = berth(&root, &["run", "--rm", "nothere"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(text(&out.stderr).contains("Unable to find image 'nothere:latest' locally"));

    // --rm left nothing behind.
    let left = std::fs::read_dir(root.join("containers")).unwrap().count();
    assert_eq!(left, 0);

    // create prints the id; the upper layer survives start after start.
    let out = berth(
        &root,
        &[
            "create",
            "--name",
            "keep",
            "busybox",
            "sh",
            "-c",
            "echo x >> /log; cat /log",
        ],
    );
    let id = text(&out.stdout).trim().to_string();
    assert_eq!(id.len(), 64, "{}", text(&out.stderr));
    // Without -a the container starts in the background under its monitor.
    let out = berth(&root, &["start", "keep"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "keep\n");
    assert_eq!(text(&berth(&root, &["wait", "keep"]).stdout), "0\n");
    assert_eq!(
        text(&berth(&root, &["start", "-a", "keep"]).stdout),
        "x\nx\n"
    );
    assert_eq!(
        text(&berth(&root, &["start", "-a", &id[..10]]).stdout),
        "x\nx\nx\n"
    );
    let state =
        std::fs::read_to_string(root.join("containers").join(&id).join("state.json")).unwrap();
    assert!(state.contains("\"exited\""), "{state}");
    // Removed through berth: the upper layer may hold files of subordinate ids.
    assert_eq!(berth(&root, &["rm", "keep"]).status.code(), Some(0));
}

#[test]
fn mounts_and_read_only() {
    if !usable() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = busybox_store(dir.path());
    let host = dir.path().join("host");
    std::fs::create_dir(&host).unwrap();
    std::fs::write(host.join("f"), "data\n").unwrap();
    let ro = format!("{}:/data:ro", host.display());
    let out = berth(
        &root,
        &[
            "run",
            "--rm",
            "-v",
            &ro,
            "busybox",
            "sh",
            "-c",
            "cat /data/f; touch /data/x",
        ],
    );
    assert_eq!(text(&out.stdout), "data\n");
    assert!(text(&out.stderr).contains("Read-only file system"));
    assert!(!host.join("x").exists());
    let out = berth(
        &root,
        &["run", "--rm", "--read-only", "busybox", "touch", "/x"],
    );
    assert_ne!(out.status.code(), Some(0));
    let out = berth(
        &root,
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "busybox",
            "ls",
            "/sys/class/net",
        ],
    );
    assert_eq!(text(&out.stdout), "lo\n", "{}", text(&out.stderr));
}
