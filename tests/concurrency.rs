//! Concurrent invocations: no daemon serialises them, so the store's
//! locks must. Two loads of one archive at once both succeed, and `run`
//! racing `rmi` never leaves the store corrupt.

mod common;

use common::*;
use std::process::Output;

fn in_parallel(b: &Berth, argvs: Vec<Vec<String>>) -> Vec<Output> {
    std::thread::scope(|s| {
        let handles: Vec<_> = argvs
            .iter()
            .map(|argv| s.spawn(move || b.cmd(argv)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// The store reads back whole: every image inspects, runs, and the
/// listing agrees with inspect.
fn assert_store_consistent(b: &Berth) {
    let ids = b.ok(&["images", "-q", "--no-trunc"]);
    for id in ids.lines() {
        let v = inspect_json(&b.ok(&["image", "inspect", id]));
        assert_eq!(v[0]["Id"], id);
    }
    assert!(!b.ok(&["ps", "-a"]).is_empty());
    let left = b.tmp_left_after(std::time::Duration::from_secs(10));
    assert!(
        left.is_empty(),
        "work in progress left in {}: {left:?}",
        b.root.join("tmp").display()
    );
}

#[test]
fn parallel_loads_of_one_archive_both_succeed() {
    let archive = fixture("busybox-layers.tar");
    let info = docker_archive_info(&archive);
    each_user(|b| {
        let argv = vec![
            "load".to_string(),
            "-i".to_string(),
            archive.display().to_string(),
        ];
        let outs = in_parallel(b, vec![argv.clone(), argv.clone(), argv]);
        for out in &outs {
            assert_success(out, "a parallel load");
            assert_eq!(stdout(out), "Loaded image: busybox:layers\n");
        }
        assert_eq!(
            b.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]),
            "busybox:layers\n"
        );
        assert_eq!(b.image_id("busybox:layers"), info.config_digest);
        assert_store_consistent(b);
        assert_eq!(
            b.run_rm("busybox:layers", &["cat", "/etc/layer2.txt"]),
            "layer 2\n"
        );
    });
}

#[test]
fn parallel_loads_of_different_archives_share_layers() {
    each_user(|b| {
        let argvs = [
            "busybox.tar",
            "busybox-gzip.tar",
            "busybox-zstd.tar",
            "busybox-oci.tar",
        ]
        .iter()
        .map(|f| {
            vec![
                "load".to_string(),
                "-i".to_string(),
                fixture(f).display().to_string(),
            ]
        })
        .collect();
        for out in in_parallel(b, argvs) {
            assert_success(&out, "a parallel load");
        }
        let mut tags: Vec<String> = b
            .ok(&["images", "--format", "{{.Tag}}"])
            .lines()
            .map(str::to_string)
            .collect();
        tags.sort();
        assert_eq!(tags, ["gzip", "latest", "oci", "zstd"]);
        // gzip and zstd hold the same two layers, whatever their compression.
        let layers = |tag: &str| {
            inspect_json(&b.ok(&["image", "inspect", tag]))[0]["RootFS"]["Layers"].clone()
        };
        assert_eq!(layers("busybox:gzip"), layers("busybox:zstd"));
        assert_store_consistent(b);
    });
}

#[test]
fn run_racing_rmi_never_corrupts_the_store() {
    each_user(|b| {
        b.load_busybox();
        for round in 0..3 {
            let mut argvs: Vec<Vec<String>> = (0..3)
                .map(|i| {
                    ["run", "--rm", "busybox", "echo", &format!("run {i}")]
                        .iter()
                        .map(|s| s.to_string())
                        .collect()
                })
                .collect();
            argvs.insert(1, vec!["rmi".into(), "busybox".into()]);
            let outs = in_parallel(b, argvs);
            for (i, out) in outs.iter().enumerate() {
                let err = stderr(out);
                assert!(!err.contains("panicked"), "round {round}: {err}");
                if i == 1 {
                    // rmi either removed the image or refused because a
                    // container was using it at that moment.
                    continue;
                }
                match out.status.code() {
                    Some(0) => assert!(stdout(out).starts_with("run "), "{}", show(out)),
                    // The image was gone before the run resolved it.
                    Some(125) => assert!(!err.is_empty(), "{}", show(out)),
                    _ => panic!("round {round}: run ended badly\n{}", show(out)),
                }
            }
            assert!(b.container_ids().is_empty(), "--rm containers are gone");
            assert_store_consistent(b);
            // Whatever happened, the image can be loaded again and runs.
            b.load_busybox();
            assert_eq!(b.run_rm("busybox", &["echo", "ok"]), "ok\n");
        }
    });
}
