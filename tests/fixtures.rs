//! Checks of the harness and fixtures themselves, independent of berth:
//! if these fail, the other integration tests' failures mean nothing.

mod common;

use common::*;
use std::io::Read;
use std::path::Path;

/// One archive member: path, type, owner uid, contents.
type Entry = (String, tar::EntryType, u64, Vec<u8>);

fn entries(path: &Path) -> Vec<Entry> {
    entries_of(std::fs::File::open(path).unwrap())
}

fn entries_of(reader: impl Read) -> Vec<Entry> {
    let mut archive = tar::Archive::new(reader);
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().into_owned();
            let kind = e.header().entry_type();
            let uid = e.header().uid().unwrap();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            (name, kind, uid, data)
        })
        .collect()
}

/// The layer tars of a docker-archive, decompressed with the CLI tools.
fn layers(archive: &Path) -> Vec<Vec<Entry>> {
    let all = entries(archive);
    let manifest: serde_json::Value =
        serde_json::from_slice(&all.iter().find(|e| e.0 == "manifest.json").unwrap().3).unwrap();
    manifest[0]["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let blob = &all
                .iter()
                .find(|e| e.0 == l.as_str().unwrap())
                .expect("a listed layer is in the archive")
                .3;
            let plain = match &blob[..4] {
                [0x1f, 0x8b, _, _] => decompress("gzip", blob),
                [0x28, 0xb5, 0x2f, 0xfd] => decompress("zstd", blob),
                _ => blob.clone(),
            };
            entries_of(std::io::Cursor::new(plain))
        })
        .collect()
}

fn decompress(tool: &str, data: &[u8]) -> Vec<u8> {
    let mut cmd = std::process::Command::new(tool);
    cmd.args(["-d", "-c"]);
    let out = run_with_input(cmd, data);
    assert_success(&out, tool);
    out.stdout
}

#[test]
fn busybox_archive_is_a_docker_save_archive() {
    let path = fixture("busybox.tar");
    let info = docker_archive_info(&path);
    assert_eq!(info.repo_tags, ["busybox:latest"]);
    assert_eq!(info.diff_ids.len(), 1);
    let names: Vec<String> = entries(&path).into_iter().map(|e| e.0).collect();
    assert!(names.contains(&"repositories".to_string()));
    let config = info.config_digest.strip_prefix("sha256:").unwrap();
    assert!(names.contains(&format!("{config}.json")), "{names:?}");

    let layer = &layers(&path)[0];
    let find = |n: &str| layer.iter().find(|e| e.0.trim_end_matches('/') == n);
    assert_eq!(find("bin/busybox").unwrap().1, tar::EntryType::Regular);
    assert_eq!(find("bin/sh").unwrap().1, tar::EntryType::Symlink);
    assert_eq!(find("home/user/owned").unwrap().2, 1000);
    let passwd = String::from_utf8_lossy(&find("etc/passwd").unwrap().3).into_owned();
    assert!(passwd.contains("nobody:x:65534:65534:"), "{passwd}");
    assert!(passwd.contains(":1000:1000:"), "{passwd}");
}

#[test]
fn fixtures_are_reproducible_and_share_ids() {
    // The multi-tag archive holds the very image of busybox.tar.
    let one = docker_archive_info(&fixture("busybox.tar"));
    let multi = docker_archive_info(&fixture("busybox-multitag.tar"));
    assert_eq!(one.config_digest, multi.config_digest);
    assert_eq!(multi.repo_tags.len(), 3);
}

#[test]
fn compressed_fixtures_hold_the_same_layers() {
    let plain = docker_archive_info(&fixture("busybox-layers.tar"));
    for name in ["busybox-gzip.tar", "busybox-zstd.tar"] {
        let info = docker_archive_info(&fixture(name));
        assert_eq!(info.diff_ids, plain.diff_ids, "{name}");
        let layers = layers(&fixture(name));
        assert_eq!(layers.len(), 2);
        assert!(
            layers[1].iter().any(|e| e.0 == "etc/.wh.removed-in-layer2"),
            "{name}: second layer has the whiteout"
        );
    }
}

#[test]
fn oci_fixture_is_an_oci_layout() {
    let names: Vec<String> = entries(&fixture("busybox-oci.tar"))
        .into_iter()
        .map(|e| e.0)
        .collect();
    assert!(names.contains(&"oci-layout".to_string()), "{names:?}");
    assert!(names.contains(&"index.json".to_string()), "{names:?}");
}

#[test]
fn test_users_are_set_up() {
    let users = users();
    if running_as_root() {
        assert_eq!(users.len(), 2);
        assert!(users[0].subids && !users[1].subids);
    } else {
        assert_eq!(users.len(), 1);
    }
}

#[test]
fn harness_runs_as_the_user_with_a_clean_environment() {
    for user in users() {
        let b = Berth::new(&user);
        let out = run(b.user_command(Path::new("/usr/bin/env"), &[] as &[&str]));
        assert_success(&out, "env");
        let text = stdout(&out);
        assert!(
            text.contains(&format!("BERTH_ROOT={}\n", b.root.display())),
            "{text}"
        );
        assert!(!text.contains("XDG_RUNTIME_DIR"), "{text}");
        let out = run(b.user_command(Path::new("/usr/bin/id"), &["-u"]));
        assert_eq!(stdout(&out).trim(), user.uid.to_string());
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(&b.root).unwrap();
        assert_eq!(meta.uid(), user.uid, "the store belongs to {}", user.name);
        // The binary copy is reachable by the user.
        let out = b.cmd(&["--version"]);
        assert_success(&out, "berth --version");
    }
}
