//! Images: load (docker and OCI archives, compressed layers, several tags,
//! stdin), save, import, images, tag, rmi, inspect and history, checked
//! against Docker's behaviour and against archives made without berth.

mod common;

use common::*;

fn short(id: &str) -> String {
    id.trim_start_matches("sha256:")[..12].to_string()
}

#[test]
fn load_docker_archive_prints_the_tag_and_keeps_the_id() {
    let info = docker_archive_info(&fixture("busybox.tar"));
    each_user(|b| {
        let out = b.load("busybox.tar");
        assert_eq!(out, "Loaded image: busybox:latest\n");
        assert_eq!(b.image_id("busybox"), info.config_digest);
        assert_eq!(b.image_id("busybox:latest"), info.config_digest);
        assert_eq!(
            b.image_id("docker.io/library/busybox:latest"),
            info.config_digest
        );
        // Loading again changes nothing and says the same.
        assert_eq!(b.load("busybox.tar"), "Loaded image: busybox:latest\n");
        assert_eq!(b.ok(&["images", "-q"]).lines().count(), 1);
    });
}

#[test]
fn load_layers_in_order_with_their_diff_ids() {
    for (fixture_name, tag) in [
        ("busybox-layers.tar", "busybox:layers"),
        ("busybox-gzip.tar", "busybox:gzip"),
        ("busybox-zstd.tar", "busybox:zstd"),
    ] {
        let info = docker_archive_info(&fixture(fixture_name));
        each_user(|b| {
            assert_eq!(b.load(fixture_name), format!("Loaded image: {tag}\n"));
            let inspected = inspect_json(&b.ok(&["image", "inspect", tag]));
            let layers: Vec<&str> = inspected[0]["RootFS"]["Layers"]
                .as_array()
                .expect("RootFS.Layers")
                .iter()
                .map(|l| l.as_str().unwrap())
                .collect();
            assert_eq!(layers, info.diff_ids, "{fixture_name}");
            assert_eq!(inspected[0]["Id"], info.config_digest.as_str());
        });
    }
}

#[test]
fn load_multi_tag_archive_prints_every_tag() {
    let info = docker_archive_info(&fixture("busybox-multitag.tar"));
    each_user(|b| {
        let out = b.load("busybox-multitag.tar");
        let mut lines: Vec<&str> = out.lines().collect();
        lines.sort();
        assert_eq!(
            lines,
            [
                "Loaded image: busybox:1.0",
                "Loaded image: busybox:latest",
                "Loaded image: example.com/tools/busybox:v1",
            ]
        );
        for tag in ["busybox:1.0", "busybox", "example.com/tools/busybox:v1"] {
            assert_eq!(b.image_id(tag), info.config_digest, "{tag}");
        }
        let rows = table(&b.ok(&["images"]));
        assert_eq!(rows.len(), 4, "a header and one row per tag: {rows:?}");
    });
}

#[test]
fn load_oci_archive() {
    each_user(|b| {
        let out = b.load("busybox-oci.tar");
        assert_eq!(out, "Loaded image: busybox:oci\n");
        let inspected = inspect_json(&b.ok(&["image", "inspect", "busybox:oci"]));
        assert_eq!(inspected[0]["Os"], "linux");
        assert_eq!(inspected[0]["Config"]["Cmd"], serde_json::json!(["sh"]));
        // skopeo converts the config to OCI's, so the id is the digest of
        // the config blob in the layout.
        let id = inspected[0]["Id"].as_str().unwrap();
        assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");
    });
}

#[test]
fn load_from_stdin() {
    let bytes = std::fs::read(fixture("busybox.tar")).unwrap();
    let gz = std::fs::read(fixture("busybox-gzip.tar")).unwrap();
    each_user(|b| {
        let out = b.cmd_stdin(&["load"], &bytes);
        assert_success(&out, "berth load < busybox.tar");
        assert_eq!(stdout(&out), "Loaded image: busybox:latest\n");
        let out = b.cmd_stdin(&["image", "load", "-q"], &gz);
        assert_success(&out, "berth image load -q < busybox-gzip.tar");
        assert_eq!(stdout(&out), "", "-q prints nothing");
        b.image_id("busybox:gzip");
    });
}

#[test]
fn load_rejects_garbage_and_leaves_the_store_usable() {
    each_user(|b| {
        let junk = b.write_file("junk.tar", "this is not a tar archive\n");
        let out = b.fails(&[
            std::ffi::OsStr::new("load"),
            "-i".as_ref(),
            junk.as_os_str(),
        ]);
        assert!(!stderr(&out).is_empty(), "an error is explained");
        let out = b.fails(&["load", "-i", "/nonexistent/archive.tar"]);
        assert!(
            stderr(&out).contains("/nonexistent/archive.tar"),
            "the error names the file: {}",
            stderr(&out)
        );
        assert_eq!(b.ok(&["images", "-q"]), "");
        b.load_busybox();
    });
}

#[test]
fn save_writes_an_archive_skopeo_reads_and_load_keeps_the_id() {
    each_user(|b| {
        b.load("busybox-layers.tar");
        let id = b.image_id("busybox:layers");
        let out_dir = b.scratch_dir();
        let archive = out_dir.join("saved.tar");
        b.ok(&[
            std::ffi::OsStr::new("save"),
            "-o".as_ref(),
            archive.as_os_str(),
            "busybox:layers".as_ref(),
        ]);
        let info = docker_archive_info(&archive);
        assert_eq!(info.config_digest, id, "the config is saved byte for byte");
        assert_eq!(info.repo_tags, ["busybox:layers"]);

        let target = format!("docker-archive:{}", archive.display());
        let out = run({
            let mut c = std::process::Command::new("skopeo");
            c.args(["--insecure-policy", "inspect", &target]);
            c
        });
        assert_success(&out, "skopeo inspect of berth's archive");
        let skopeo: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(skopeo["Layers"].as_array().map(Vec::len), Some(2));
        // skopeo copy verifies every layer against its digest.
        let oci = out_dir.join("copied-oci");
        let out = run({
            let mut c = std::process::Command::new("skopeo");
            c.args(["--insecure-policy", "copy", "-q", &target])
                .arg(format!("oci:{}:copied", oci.display()));
            c
        });
        assert_success(&out, "skopeo copy of berth's archive");

        let other = Berth::new(&b.user);
        let loaded = other.ok(&[
            std::ffi::OsStr::new("load"),
            "-i".as_ref(),
            archive.as_os_str(),
        ]);
        assert_eq!(loaded, "Loaded image: busybox:layers\n");
        assert_eq!(other.image_id("busybox:layers"), id);

        // To stdout, when not a terminal.
        let out = b.cmd(&["save", "busybox:layers"]);
        assert_success(&out, "berth save > file");
        let copy = out_dir.join("stdout.tar");
        std::fs::write(&copy, &out.stdout).unwrap();
        assert_eq!(docker_archive_info(&copy).config_digest, id);
    });
}

#[test]
fn import_a_rootfs_with_changes() {
    let rootfs = fixture("busybox-rootfs.tar.gz");
    let bytes = std::fs::read(&rootfs).unwrap();
    each_user(|b| {
        let out = b.ok(&[
            std::ffi::OsStr::new("import"),
            "--change".as_ref(),
            r#"CMD ["echo", "imported"]"#.as_ref(),
            "-c".as_ref(),
            "ENV FOO=bar".as_ref(),
            "--change".as_ref(),
            "WORKDIR /tmp".as_ref(),
            "-m".as_ref(),
            "made by the tests".as_ref(),
            rootfs.as_os_str(),
            "imported:v1".as_ref(),
        ]);
        let id = out.trim();
        assert!(
            id.starts_with("sha256:") && id.len() == 71,
            "import prints the image id: {out:?}"
        );
        assert_eq!(b.image_id("imported:v1"), id);
        let inspected = inspect_json(&b.ok(&["image", "inspect", "imported:v1"]));
        let config = &inspected[0]["Config"];
        assert_eq!(config["Cmd"], serde_json::json!(["echo", "imported"]));
        assert_eq!(config["WorkingDir"], "/tmp");
        let env: Vec<&str> = config["Env"]
            .as_array()
            .expect("Config.Env")
            .iter()
            .map(|e| e.as_str().unwrap())
            .collect();
        assert!(env.contains(&"FOO=bar"), "{env:?}");
        assert_eq!(inspected[0]["Comment"], "made by the tests");
        assert_eq!(
            inspected[0]["RootFS"]["Layers"].as_array().map(Vec::len),
            Some(1)
        );

        let out = b.cmd_stdin(&["import", "-", "imported:stdin"], &bytes);
        assert_success(&out, "berth import - < rootfs.tar.gz");
        // The same content gives the same layer.
        let a = inspect_json(&b.ok(&["image", "inspect", "imported:stdin"]));
        assert_eq!(a[0]["RootFS"], inspected[0]["RootFS"]);

        let out = b.fails(&[
            std::ffi::OsStr::new("import"),
            "--change".as_ref(),
            "FROB x".as_ref(),
            rootfs.as_os_str(),
            "imported:bad".as_ref(),
        ]);
        assert_eq!(out.status.code(), Some(125));
    });
}

#[test]
fn images_table_quiet_and_format() {
    let info = docker_archive_info(&fixture("busybox.tar"));
    each_user(|b| {
        let empty = table(&b.ok(&["images"]));
        assert_eq!(
            empty,
            [["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]],
            "an empty store prints only the header"
        );
        b.load_busybox();
        let rows = table(&b.ok(&["images"]));
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert_eq!(
            rows[0],
            ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]
        );
        assert_eq!(rows[1][0], "busybox");
        assert_eq!(rows[1][1], "latest");
        assert_eq!(rows[1][2], short(&info.config_digest));
        assert!(rows[1][3].ends_with("ago"), "CREATED: {:?}", rows[1][3]);
        assert!(
            rows[1][4].ends_with("MB") || rows[1][4].ends_with("kB"),
            "SIZE: {:?}",
            rows[1][4]
        );
        assert_eq!(
            b.ok(&["images", "-q"]),
            format!("{}\n", short(&info.config_digest))
        );
        assert_eq!(
            b.ok(&["images", "--format", "{{.ID}}"]),
            format!("{}\n", short(&info.config_digest))
        );
        assert_eq!(
            b.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]),
            "busybox:latest\n"
        );
        assert_eq!(
            b.ok(&["images", "-q", "--no-trunc"]),
            format!("{}\n", info.config_digest)
        );
        // `image ls` is the same command.
        assert_eq!(b.ok(&["image", "ls", "-q"]), b.ok(&["images", "-q"]));
        // A repository argument filters.
        b.load("busybox-gzip.tar");
        assert_eq!(
            b.ok(&["images", "busybox:gzip", "--format", "{{.Tag}}"]),
            "gzip\n"
        );
        assert_eq!(b.ok(&["images", "nothing-here", "-q"]), "");
    });
}

#[test]
fn tag_adds_names_to_the_same_image() {
    each_user(|b| {
        b.load_busybox();
        let id = b.image_id("busybox");
        assert_eq!(b.ok(&["tag", "busybox", "mybox:v1"]), "");
        b.ok(&["image", "tag", "busybox:latest", "example.com/team/tool:2"]);
        assert_eq!(b.image_id("mybox:v1"), id);
        assert_eq!(b.image_id("example.com/team/tool:2"), id);
        let inspected = inspect_json(&b.ok(&["image", "inspect", "busybox"]));
        let tags: Vec<&str> = inspected[0]["RepoTags"]
            .as_array()
            .expect("RepoTags")
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        for t in ["busybox:latest", "mybox:v1", "example.com/team/tool:2"] {
            assert!(tags.contains(&t), "{t} in {tags:?}");
        }
        let out = b.fails(&["tag", "no-such-image", "x:y"]);
        assert!(
            stderr(&out).contains("no-such-image"),
            "the error names the image: {}",
            stderr(&out)
        );
        b.fails(&["tag", "busybox", "Invalid Name"]);
    });
}

#[test]
fn rmi_by_name_id_and_prefix() {
    each_user(|b| {
        b.load_busybox();
        let id = b.image_id("busybox");
        b.ok(&["tag", "busybox", "mybox:v1"]);
        // A name with other names left only untags.
        assert_eq!(b.ok(&["rmi", "mybox:v1"]), "Untagged: mybox:v1\n");
        assert_eq!(b.image_id("busybox"), id);
        b.fails(&["image", "inspect", "mybox:v1"]);
        // The last name deletes the image.
        let out = b.ok(&["rmi", "busybox"]);
        assert!(out.starts_with("Untagged: busybox:latest\n"), "{out}");
        assert!(out.contains(&format!("Deleted: {id}")), "{out}");
        assert_eq!(b.ok(&["images", "-q"]), "");

        // By full id and by a unique prefix of it.
        b.load_busybox();
        let out = b.ok(&["rmi", &id]);
        assert!(out.contains(&format!("Deleted: {id}")), "{out}");
        b.load_busybox();
        let prefix = &id["sha256:".len().."sha256:".len() + 8];
        let out = b.ok(&["image", "rm", prefix]);
        assert!(out.contains(&format!("Deleted: {id}")), "{out}");
        assert_eq!(b.ok(&["images", "-q"]), "");

        // Names in several repositories protect the image from removal by id.
        b.load("busybox-multitag.tar");
        let out = b.fails(&["rmi", &id]);
        assert!(stderr(&out).contains("must be forced"), "{}", stderr(&out));
        b.ok(&["rmi", "-f", &id]);
        assert_eq!(b.ok(&["images", "-q"]), "");

        let out = b.fails(&["rmi", "no-such-image"]);
        assert!(stderr(&out).contains("no-such-image"), "{}", stderr(&out));
    });
}

#[test]
fn rmi_frees_the_layers_of_the_last_image() {
    each_user(|b| {
        b.load_busybox();
        b.load("busybox-layers.tar");
        b.ok(&["rmi", "busybox:layers"]);
        // busybox:latest still runs from its own layer.
        assert_eq!(b.run_rm("busybox", &["echo", "still here"]), "still here\n");
        b.ok(&["rmi", "busybox"]);
        let layers = b.root.join("layers");
        let left: Vec<_> = std::fs::read_dir(&layers)
            .map(|d| d.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "layers left behind: {left:?}");
    });
}

#[test]
fn inspect_image_fields() {
    let info = docker_archive_info(&fixture("busybox.tar"));
    each_user(|b| {
        b.load_busybox();
        for argv in [
            &["inspect", "busybox"][..],
            &["image", "inspect", "busybox"][..],
            &["inspect", "--type", "image", "busybox"][..],
        ] {
            let v = inspect_json(&b.ok(argv));
            assert_eq!(v.len(), 1);
            let img = &v[0];
            assert_eq!(img["Id"], info.config_digest.as_str());
            assert_eq!(img["RepoTags"], serde_json::json!(["busybox:latest"]));
            assert_eq!(img["Os"], "linux");
            assert_eq!(img["Created"], "2024-01-01T00:00:00Z");
            assert_eq!(img["Config"]["Cmd"], serde_json::json!(["sh"]));
            assert_eq!(
                img["Config"]["Env"],
                serde_json::json!([
                    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
                ])
            );
            assert_eq!(img["RootFS"]["Type"], "layers");
            assert!(
                img["Size"].as_u64().unwrap_or(0) > 500_000,
                "{}",
                img["Size"]
            );
        }
        assert_eq!(
            b.ok(&["inspect", "--format", "{{.Config.Cmd}}", "busybox"]),
            "[sh]\n"
        );
        assert_eq!(
            b.ok(&[
                "image",
                "inspect",
                "-f",
                "{{.Os}}/{{.Architecture}}",
                "busybox"
            ]),
            format!(
                "linux/{}\n",
                std::env::consts::ARCH
                    .replace("x86_64", "amd64")
                    .replace("aarch64", "arm64")
            )
        );
        let out = b.fails(&["image", "inspect", "busybox", "nope"]);
        assert!(stderr(&out).contains("nope"), "{}", stderr(&out));
        // What was found is still printed.
        assert_eq!(inspect_json(&stdout(&out)).len(), 1);
    });
}

#[test]
fn history_lists_the_steps_newest_first() {
    each_user(|b| {
        b.load("busybox-layers.tar");
        let id = b.image_id("busybox:layers");
        let rows = table(&b.ok(&["history", "busybox:layers"]));
        assert_eq!(
            rows[0],
            ["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"]
        );
        assert_eq!(rows.len(), 4, "three history entries: {rows:?}");
        assert_eq!(rows[1][0], short(&id), "the newest step is the image");
        assert!(rows[1][2].contains("CMD"), "{:?}", rows[1]);
        assert_eq!(rows[2][0], "<missing>");
        assert!(rows[3][2].contains("ADD busybox rootfs"), "{:?}", rows[3]);
        assert_eq!(rows[1][3], "0B", "an empty layer has no size");

        let created_by = b.ok(&[
            "image",
            "history",
            "--no-trunc",
            "--format",
            "{{.CreatedBy}}",
            "busybox:layers",
        ]);
        assert_eq!(
            created_by.lines().nth(1),
            Some("RUN echo 'layer 2' > /etc/layer2.txt && rm /etc/removed-in-layer2")
        );
        let quiet = b.ok(&["history", "-q", "busybox:layers"]);
        assert_eq!(quiet.lines().next(), Some(short(&id).as_str()));
        b.fails(&["history", "no-such-image"]);
    });
}

#[test]
fn load_warns_about_a_single_id_mapping_only_when_there_is_one() {
    for user in users() {
        let b = Berth::new(&user);
        let path = fixture("busybox.tar");
        let out = b.cmd(&[
            std::ffi::OsStr::new("load"),
            "-i".as_ref(),
            path.as_os_str(),
        ]);
        assert_success(&out, "load busybox.tar");
        let err = stderr(&out);
        if user.subids {
            // With a subordinate range, the uid 1000 file keeps its owner.
            assert!(!err.contains("WARNING"), "as {}: {err}", user.name);
        } else if !user.is_root() {
            // DESIGN.md: with a single mapping every owner becomes root,
            // and a warning says so (once) naming the fix.
            assert_eq!(err.matches("WARNING").count(), 1, "as {}: {err}", user.name);
            assert!(err.contains("subuid"), "as {}: {err}", user.name);
        }
    }
}

/// Docker's `directory.Size`: the apparent sizes of what is under `dir`
/// but directories, symlinks not followed, each inode once.
fn docker_directory_size(dir: &std::path::Path, seen: &mut std::collections::HashSet<u64>) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        if meta.is_dir() {
            total += docker_directory_size(&path, seen);
        } else if meta.len() > 0 && seen.insert(meta.ino()) {
            total += meta.len();
        }
    }
    total
}

#[test]
fn image_sizes_count_the_files_as_docker_does() {
    // The fixture's one layer, unpacked by GNU tar: Docker's size of the
    // image is what its files hold, not the size of the layer's tar.
    let expected = docker_directory_size(&fixture("busybox-rootfs"), &mut Default::default());
    assert!(expected > 0);
    each_user(|b| {
        b.load("busybox.tar");
        let inspected = inspect_json(&b.ok(&["image", "inspect", "busybox"]));
        assert_eq!(inspected[0]["Size"].as_u64(), Some(expected));
        assert_eq!(inspected[0]["VirtualSize"].as_u64(), Some(expected));
        // `history` without -H prints bytes: the layer's row has them all.
        let rows = b.ok(&["history", "-H=false", "--format", "{{.Size}}", "busybox"]);
        assert!(
            rows.lines().any(|l| l == expected.to_string()),
            "history sizes {rows:?}, expected a row of {expected}"
        );
    });
}

/// A missing image as Docker's daemon names it (tagged `latest`; `save`
/// as given), status 1, and `rmi`'s failures after what it removed (run
/// side by side with Docker 28's CLI).
#[test]
fn missing_images_read_as_dockers() {
    each_user(|b| {
        b.load_busybox();
        b.ok(&["tag", "busybox", "kept:1"]);
        let err = |args: &[&str]| {
            let out = b.status(args, 1);
            (stdout(&out), stderr(&out))
        };
        assert_eq!(
            err(&["tag", "nosuch", "x"]).1,
            "Error response from daemon: No such image: nosuch:latest\n"
        );
        assert_eq!(
            err(&["history", "nosuch:2"]).1,
            "Error response from daemon: No such image: nosuch:2\n"
        );
        assert_eq!(
            err(&[
                "save",
                "-o",
                &b.scratch_dir().join("s.tar").to_string_lossy(),
                "nosuch"
            ])
            .1,
            "Error response from daemon: No such image: nosuch\n"
        );
        let (out, e) = err(&["rmi", "nosuch", "kept:1"]);
        assert_eq!(out, "Untagged: kept:1\n");
        assert_eq!(
            e,
            "Error response from daemon: No such image: nosuch:latest\n"
        );
        // `image inspect` as the daemon answers; `inspect` as the CLI.
        let (out, e) = err(&["image", "inspect", "busybox", "nosuch"]);
        assert!(out.contains("\"RepoTags\""), "{out}");
        assert_eq!(
            e,
            "Error response from daemon: No such image: nosuch:latest\n"
        );
        assert_eq!(
            err(&["inspect", "nosuch"]),
            ("[]\n".into(), "Error: No such object: nosuch\n".into())
        );
        assert_eq!(
            err(&["container", "inspect", "nosuch"]).1,
            "Error response from daemon: No such container: nosuch\n"
        );
        assert_eq!(
            err(&["volume", "inspect", "nosuch"]).1,
            "Error response from daemon: get nosuch: no such volume\n"
        );
        // A name that is no reference says why, not that it is missing.
        let out = b.status(&["run", "UPPER"], 125);
        assert_eq!(
            stderr(&out),
            "Error: invalid reference format: repository name (UPPER) must be lowercase\n"
        );
    });
}
