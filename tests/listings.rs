//! Listing, inspecting and cleaning up as Docker does them (issue 8):
//! `ps -f` with every filter, `images -f`, `volume ls -f`, `rmi`'s
//! conflicts, `inspect`'s shapes, the prunes and `system df`, `--format`
//! with Docker's functions, and the shell completions.
//!
//! Where the real Docker runs (`docker info` answers, as on the
//! development machines), the same commands run on it too and the fields
//! are compared; without it (CI) the berth side is still checked in full.

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::process::Command;

/// The last line of stderr (a user without a subuid range is warned first,
/// once per store).
fn last_err(out: &std::process::Output) -> String {
    stderr(out).lines().last().unwrap_or_default().to_string() + "\n"
}

/// Lines of stdout, trimmed.
fn lines(s: &str) -> Vec<String> {
    s.lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// `ps -a --format {{.Names}} ARGS...`.
fn names(b: &Berth, filters: &[&str]) -> Vec<String> {
    let mut argv = vec!["ps", "-a", "--format", "{{.Names}}"];
    for f in filters {
        argv.push("-f");
        argv.push(f);
    }
    lines(&b.ok(&argv))
}

/// The real Docker, when one answers (only tried as root).
fn docker() -> Option<()> {
    if !running_as_root() {
        return None;
    }
    let ok = Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("no Docker to compare with: berth-side checks only");
        return None;
    }
    let load = Command::new("docker")
        .arg("load")
        .arg("-i")
        .arg(fixture("busybox.tar"))
        .output()
        .expect("docker load");
    assert!(load.status.success(), "docker load: {}", show(&load));
    Some(())
}

fn docker_out(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("running docker");
    assert!(
        out.status.success(),
        "docker {}: {}",
        args.join(" "),
        show(&out)
    );
    stdout(&out)
}

fn docker_quiet(args: &[&str]) {
    let _ = Command::new("docker").args(args).output();
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn ps_filters_flags_and_formats_as_docker() {
    each_user(|b| {
        b.load_busybox();
        // An image built on busybox: a label, an exposed port, a layer more.
        b.ok(&["create", "--name", "base-c", "busybox", "true"]);
        b.ok(&[
            "commit",
            "-c",
            "LABEL tier=web",
            "-c",
            "EXPOSE 80",
            "base-c",
            "child:1",
        ]);
        b.ok(&[
            "run",
            "-d",
            "--name",
            "web",
            "--health-cmd",
            "true",
            "--health-interval",
            "1h",
            "child:1",
            "sleep",
            "300",
        ]);
        let out = b.cmd(&[
            "run",
            "--name",
            "db",
            "-v",
            "dbdata:/data",
            "busybox",
            "sh",
            "-c",
            "exit 3",
        ]);
        assert_status(&out, 3, "run db");
        b.ok(&["create", "--name", "fresh", "busybox", "true"]);

        // The image's label, for images -f too.
        assert_eq!(
            lines(&b.ok(&[
                "images",
                "-f",
                "label=tier=web",
                "--format",
                "{{.Repository}}"
            ])),
            ["child"]
        );
        // Without -a: running ones; -a newest first.
        assert_eq!(lines(&b.ok(&["ps", "--format", "{{.Names}}"])), ["web"]);
        assert_eq!(names(b, &[]), ["fresh", "db", "web", "base-c"]);
        // -n and -l include stopped containers.
        assert_eq!(
            lines(&b.ok(&["ps", "-n", "2", "--format", "{{.Names}}"])),
            ["fresh", "db"]
        );
        assert_eq!(
            lines(&b.ok(&["ps", "-l", "--format", "{{.Names}}"])),
            ["fresh"]
        );
        assert_eq!(lines(&b.ok(&["ps", "-l", "-q"])).len(), 1);

        // name: a regular expression; id: a prefix; same key OR, keys AND.
        assert_eq!(names(b, &["name=^we"]), ["web"]);
        assert_eq!(names(b, &["name=e"]), ["fresh", "web", "base-c"]);
        let db_id = b.ok(&["inspect", "-f", "{{.Id}}", "db"]).trim().to_string();
        assert_eq!(names(b, &[&format!("id={}", &db_id[..12])]), ["db"]);
        assert_eq!(
            names(b, &["status=exited", "status=created"]),
            ["fresh", "db", "base-c"]
        );
        assert_eq!(names(b, &["status=created", "name=fre"]), ["fresh"]);
        // status= lists stopped containers even without -a.
        assert_eq!(
            lines(&b.ok(&["ps", "-f", "status=exited", "--format", "{{.Names}}"])),
            ["db"]
        );
        assert_eq!(names(b, &["exited=3"]), ["db"]);
        assert!(names(b, &["exited=0"]).is_empty());
        assert_eq!(names(b, &["health=starting"]), ["web"]);
        assert_eq!(names(b, &["health=none"]), ["fresh", "db", "base-c"]);
        assert_eq!(names(b, &["label=tier"]), ["web"]);
        assert_eq!(names(b, &["label=tier=web"]), ["web"]);
        assert!(names(b, &["label=tier=db"]).is_empty());
        assert_eq!(
            names(b, &["ancestor=busybox"]),
            ["fresh", "db", "web", "base-c"]
        );
        assert_eq!(names(b, &["ancestor=child:1"]), ["web"]);
        let child_id = b.image_id("child:1");
        assert_eq!(
            names(b, &[&format!("ancestor={}", &child_id[7..19])]),
            ["web"]
        );
        assert!(names(b, &["ancestor=nosuch"]).is_empty());
        assert_eq!(names(b, &["volume=dbdata"]), ["db"]);
        assert_eq!(names(b, &["volume=/data"]), ["db"]);
        assert_eq!(names(b, &["expose=80"]), ["web"]);
        assert_eq!(names(b, &["expose=79-81/tcp"]), ["web"]);
        assert!(names(b, &["expose=80/udp"]).is_empty());
        assert_eq!(names(b, &["before=db"]), ["web", "base-c"]);
        assert_eq!(names(b, &["since=web"]), ["fresh", "db"]);
        assert_eq!(names(b, &["is-task=false"]).len(), 4);
        assert!(names(b, &["is-task=true"]).is_empty());
        assert_eq!(names(b, &["isolation=default"]).len(), 4);

        // Docker's errors.
        let out = b.status(&["ps", "-f", "foo=1"], 1);
        assert_eq!(
            last_err(&out),
            "Error response from daemon: invalid filter 'foo'\n"
        );
        let out = b.status(&["ps", "-f", "status=bogus"], 1);
        assert!(stderr(&out).contains("invalid filter 'status=bogus': invalid value for state (bogus): must be one of created, running, paused, restarting, removing, exited, dead"), "{}", show(&out));
        let out = b.status(&["ps", "-f", "health=sick"], 1);
        assert!(stderr(&out).contains("invalid value for health (sick): must be one of none, starting, healthy, unhealthy"), "{}", show(&out));
        let out = b.status(&["ps", "-f", "exited=x"], 1);
        assert!(
            stderr(&out).contains("invalid filter 'exited=x'"),
            "{}",
            show(&out)
        );
        let out = b.status(&["ps", "-f", "before=nosuch"], 1);
        assert!(
            stderr(&out).contains("No such container: nosuch"),
            "{}",
            show(&out)
        );
        let out = b.status(&["ps", "-f", "expose=80:80"], 1);
        assert!(
            stderr(&out).contains("filter for 'expose' should not contain ':'"),
            "{}",
            show(&out)
        );
        let out = b.status(&["ps", "-f", "name"], 125);
        assert!(
            stderr(&out).contains("bad format of filter (expected name=value)"),
            "{}",
            show(&out)
        );

        // Columns, -s, --no-trunc, templates.
        let table = table(&b.ok(&["ps", "-a", "-s"]));
        assert_eq!(
            table[0],
            [
                "CONTAINER ID",
                "IMAGE",
                "COMMAND",
                "CREATED",
                "STATUS",
                "PORTS",
                "NAMES",
                "SIZE"
            ]
        );
        let db_row = table
            .iter()
            .find(|r| r.contains(&"db".to_string()))
            .unwrap();
        assert!(
            db_row.iter().any(|c| c == "\"sh -c 'exit 3'\""),
            "{db_row:?}"
        );
        assert!(db_row.last().unwrap().contains("(virtual "), "{db_row:?}");
        assert_eq!(
            b.ok(&["ps", "-a", "-q", "--no-trunc", "-f", "name=^db$"])
                .trim(),
            db_id
        );
        let out = b.ok(&[
            "ps",
            "--format",
            "table {{.Names}}\\t{{upper .State}}\\t{{.Label \"tier\"}}\\t{{pad .Status 1 1}}",
        ]);
        let t = common::table(&out);
        assert_eq!(t[0], ["NAMES", "STATE", "tier", "STATUS"]);
        assert_eq!(t[1][..3], ["web", "RUNNING", "web"]);
        let out = b.ok(&["ps", "-a", "-f", "name=^db$", "--format", "{{title .State}}|{{truncate .Names 1}}|{{join (split .Command \" \") \"+\"}}|{{lower \"AB\"}}|{{len .Names}}"]);
        assert_eq!(out, "Exited|d|\"sh+-c+'exit+3'\"|ab|2\n");
        let out = b.status(&["ps", "--format", "{{.Nope}}"], 1);
        assert!(
            stderr(&out).starts_with("failed to execute template: ")
                && stderr(&out).contains("Nope"),
            "{}",
            show(&out)
        );
        let out = b.status(&["ps", "--format", "{{.ID"], 1);
        assert!(
            stderr(&out).starts_with("failed to parse template: "),
            "{}",
            show(&out)
        );
        let row: Value =
            serde_json::from_str(b.ok(&["ps", "-l", "--format", "json"]).trim()).unwrap();
        let docker28: BTreeSet<String> = [
            "Command",
            "CreatedAt",
            "ID",
            "Image",
            "Labels",
            "LocalVolumes",
            "Mounts",
            "Names",
            "Networks",
            "Platform",
            "Ports",
            "RunningFor",
            "Size",
            "State",
            "Status",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(keys(&row), docker28);
        assert_eq!(row["Image"], "busybox");
        assert_eq!(row["State"], "created");

        if docker().is_some() {
            let name = format!("berth-cmp-ps-{}", std::process::id());
            docker_quiet(&["rm", "-f", &name]);
            docker_out(&["create", "--name", &name, "busybox", "true"]);
            let drow: Value = serde_json::from_str(
                docker_out(&[
                    "ps",
                    "-a",
                    "-f",
                    &format!("name=^{name}$"),
                    "--format",
                    "json",
                ])
                .trim(),
            )
            .unwrap();
            docker_quiet(&["rm", "-f", &name]);
            assert_eq!(keys(&row), keys(&drow), "ps --format json: berth vs Docker");
            for k in [
                "Command",
                "Image",
                "LocalVolumes",
                "Labels",
                "Mounts",
                "Ports",
                "State",
                "Status",
                "Size",
            ] {
                assert_eq!(row[k], drow[k], "{k}");
            }
        }
        b.ok(&["rm", "-f", "web"]);
    });
}

#[test]
fn images_filters_rmi_and_volume_filters_as_docker() {
    each_user(|b| {
        b.load_busybox();
        b.load("busybox-layers.tar");
        b.ok(&["tag", "busybox:latest", "mine/app:v1"]);
        b.ok(&["tag", "busybox:latest", "mine/app:v2"]);
        let repos = |f: &[&str]| -> Vec<String> {
            let mut argv = vec!["images", "--format", "{{.Repository}}:{{.Tag}}"];
            for x in f {
                argv.push("-f");
                argv.push(x);
            }
            let mut l = lines(&b.ok(&argv));
            l.sort();
            l
        };
        assert_eq!(repos(&["reference=mine/*"]), ["mine/app:v1", "mine/app:v2"]);
        assert_eq!(repos(&["reference=*:layers"]), ["busybox:layers"]);
        assert_eq!(
            repos(&["reference=docker.io/library/busybox"]),
            ["busybox:latest", "busybox:layers"]
        );
        assert_eq!(
            repos(&["reference=mine/app:v1", "reference=busybox:latest"]),
            ["busybox:latest", "mine/app:v1"]
        );
        assert!(repos(&["dangling=true"]).is_empty());
        assert_eq!(repos(&["dangling=false"]).len(), 4);
        assert!(repos(&["label=nosuch"]).is_empty());
        assert!(
            repos(&["before=busybox:latest"]).is_empty(),
            "same creation time"
        );
        assert_eq!(
            repos(&["until=1h"]).len(),
            4,
            "the fixtures were made long ago"
        );
        assert!(repos(&["since=busybox:latest"]).is_empty());
        // The positional REPOSITORY[:TAG] is a reference filter.
        assert_eq!(
            lines(&b.ok(&["images", "--format", "{{.Tag}}", "mine/app:v2"])),
            ["v2"]
        );
        // -q: one line per row, as Docker.
        assert_eq!(lines(&b.ok(&["images", "-q", "mine/app"])).len(), 2);
        let out = b.status(&["images", "-f", "bogus=1"], 1);
        assert_eq!(
            last_err(&out),
            "Error response from daemon: invalid filter 'bogus'\n"
        );
        let out = b.status(&["images", "-f", "dangling=maybe"], 1);
        assert_eq!(
            last_err(&out),
            "Error response from daemon: invalid filter 'dangling=[maybe]'\n"
        );
        let out = b.status(&["images", "-f", "reference=["], 1);
        assert!(
            stderr(&out).contains("syntax error in pattern"),
            "{}",
            show(&out)
        );
        let header = table(&b.ok(&["images", "--digests"]))[0].clone();
        assert_eq!(
            header,
            ["REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE"]
        );
        let id = b.image_id("busybox:latest");
        assert!(b.ok(&["images", "--no-trunc", "-q"]).contains(&id));
        let row: Value = serde_json::from_str(
            lines(&b.ok(&["images", "--format", "{{json .}}", "busybox:layers"]))[0].as_str(),
        )
        .unwrap();
        assert_eq!(row["Digest"], "\u{3c}none>");
        let docker28: BTreeSet<String> = [
            "Containers",
            "CreatedAt",
            "CreatedSince",
            "Digest",
            "ID",
            "Repository",
            "SharedSize",
            "Size",
            "Tag",
            "UniqueSize",
            "VirtualSize",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(keys(&row), docker28);
        if docker().is_some() {
            let drow: Value = serde_json::from_str(
                lines(&docker_out(&[
                    "images",
                    "--format",
                    "json",
                    "busybox:latest",
                ]))[0]
                    .as_str(),
            )
            .unwrap();
            let brow: Value = serde_json::from_str(
                lines(&b.ok(&["images", "--format", "json", "busybox:latest"]))[0].as_str(),
            )
            .unwrap();
            assert_eq!(
                keys(&brow),
                keys(&drow),
                "images --format json: berth vs Docker"
            );
            for k in [
                "Repository",
                "Tag",
                "ID",
                "Digest",
                "Containers",
                "CreatedAt",
            ] {
                assert_eq!(brow[k], drow[k], "{k}");
            }
        }

        // rmi: Docker's conflicts, then untag one name at a time.
        let out = b.status(&["rmi", &id[7..19]], 1);
        assert_eq!(
            last_err(&out),
            format!("Error response from daemon: conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories\n", &id[7..19])
        );
        b.ok(&["create", "--name", "user-c", "busybox:layers", "true"]);
        let c_id = b
            .ok(&["inspect", "-f", "{{.Id}}", "user-c"])
            .trim()
            .to_string();
        let layers_id = b.image_id("busybox:layers");
        let out = b.status(&["rmi", "busybox:layers"], 1);
        assert_eq!(
            last_err(&out),
            format!(
                "Error response from daemon: conflict: unable to remove repository reference \"busybox:layers\" (must force) - container {} is using its referenced image {}\n",
                &c_id[..12],
                &layers_id[7..19]
            )
        );
        let out = b.status(&["rmi", &layers_id[7..19]], 1);
        assert!(
            stderr(&out).contains("(must be forced) - image is being used by stopped container"),
            "{}",
            show(&out)
        );
        assert_eq!(b.ok(&["rmi", "mine/app:v1"]), "Untagged: mine/app:v1\n");
        b.ok(&["rm", "user-c"]);
        // The last tag: the image and its own layer go (the base layer is busybox's too).
        let out = b.ok(&["rmi", "busybox:layers"]);
        let l = lines(&out);
        assert_eq!(l[0], "Untagged: busybox:layers");
        assert_eq!(l[1], format!("Deleted: {layers_id}"));
        assert_eq!(l.len(), 3, "{out}");
        let out = b.ok(&["rmi", "-f", &id[7..19]]);
        assert_eq!(
            lines(&out)[..3],
            [
                "Untagged: busybox:latest",
                "Untagged: mine/app:v2",
                &format!("Deleted: {id}")
            ]
        );
        assert_eq!(b.ok(&["images", "-a", "-q"]), "");

        // volume ls -f.
        b.ok(&["volume", "create", "--label", "team=a", "vol-a"]);
        b.ok(&["volume", "create", "vol-b"]);
        b.load_busybox();
        b.ok(&[
            "create", "--name", "vol-user", "-v", "vol-b:/b", "busybox", "true",
        ]);
        let vols = |f: &[&str]| -> Vec<String> {
            let mut argv = vec!["volume", "ls", "-q"];
            for x in f {
                argv.push("-f");
                argv.push(x);
            }
            lines(&b.ok(&argv))
        };
        assert_eq!(vols(&[]), ["vol-a", "vol-b"]);
        assert_eq!(vols(&["dangling=true"]), ["vol-a"]);
        assert_eq!(vols(&["dangling=false"]), ["vol-b"]);
        assert_eq!(vols(&["label=team"]), ["vol-a"]);
        assert_eq!(vols(&["label=team=b"]), Vec::<String>::new());
        assert_eq!(vols(&["name=-b$"]), ["vol-b"]);
        assert_eq!(vols(&["driver=local", "name=vol"]), ["vol-a", "vol-b"]);
        let out = b.status(&["volume", "ls", "-f", "until=1h"], 1);
        assert_eq!(
            last_err(&out),
            "Error response from daemon: invalid filter 'until'\n"
        );
        let t = table(&b.ok(&[
            "volume",
            "ls",
            "--format",
            "table {{.Name}}\\t{{.Labels}}\\t{{.Label \"team\"}}\\t{{.Scope}}",
        ]));
        assert_eq!(t[0], ["VOLUME NAME", "LABELS", "team", "SCOPE"]);
        assert_eq!(t[1], ["vol-a", "team=a", "a", "local"]);
        let row: Value = serde_json::from_str(
            lines(&b.ok(&["volume", "ls", "--format", "json", "-f", "name=vol-a"]))[0].as_str(),
        )
        .unwrap();
        let want: BTreeSet<String> = [
            "Availability",
            "Driver",
            "Group",
            "Labels",
            "Links",
            "Mountpoint",
            "Name",
            "Scope",
            "Size",
            "Status",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(keys(&row), want);
    });
}

/// The same `create` flags on berth and Docker: every field Docker prints
/// is in berth's object, with the same JSON type.
#[test]
fn inspect_has_dockers_fields_and_shapes() {
    let flags = [
        "-v",
        "NAMED:/data",
        "-v",
        "HOSTDIR:/host:ro",
        "-v",
        "/anon",
        "--mount",
        "type=volume,target=/m",
        "--tmpfs",
        "/t:size=1m",
        "--restart",
        "on-failure:3",
        "--read-only",
        "-e",
        "A=1",
        "-w",
        "/tmp",
        "-u",
        "1000",
        "--hostname",
        "h1",
        "--stop-signal",
        "USR1",
        "--health-cmd",
        "true",
        "--init",
        "--network",
        "none",
        "busybox",
        "sleep",
        "1",
    ];
    each_user(|b| {
        b.load_busybox();
        let host = b.scratch_dir();
        let named = "insp-vol";
        let argv: Vec<String> = ["create", "--name", "insp"]
            .iter()
            .map(|s| s.to_string())
            .chain(flags.iter().map(|f| {
                f.replace("NAMED", named)
                    .replace("HOSTDIR", &host.display().to_string())
            }))
            .collect();
        b.ok(&argv);
        let c = &inspect_json(&b.ok(&["inspect", "insp"]))[0];
        let h = &c["HostConfig"];
        assert_eq!(
            h["RestartPolicy"],
            serde_json::json!({"Name": "on-failure", "MaximumRetryCount": 3})
        );
        assert_eq!(
            h["Binds"],
            serde_json::json!([
                format!("{named}:/data"),
                format!("{}:/host:ro", host.display())
            ])
        );
        assert_eq!(h["Tmpfs"], serde_json::json!({"/t": "size=1m"}));
        assert_eq!(
            h["Mounts"],
            serde_json::json!([{"Type": "volume", "Target": "/m"}])
        );
        assert_eq!(h["AutoRemove"], false);
        assert_eq!(h["ReadonlyRootfs"], true);
        assert_eq!(h["Init"], true);
        assert_eq!(h["NetworkMode"], "none");
        assert_eq!(c["Config"]["Labels"], serde_json::json!({}));
        assert_eq!(c["Config"]["Volumes"], serde_json::json!({"/anon": {}}));
        assert_eq!(
            c["Config"]["Healthcheck"],
            serde_json::json!({"Test": ["CMD-SHELL", "true"]})
        );
        assert_eq!(c["Config"]["StopSignal"], "USR1");
        assert_eq!(c["State"]["OOMKilled"], false);
        assert_eq!(c["State"]["Restarting"], false);
        assert_eq!(c["State"]["Status"], "created");
        assert_eq!(c["RestartCount"], 0);
        assert_eq!(c["Platform"], "linux");
        assert!(
            c["LogPath"].as_str().unwrap().ends_with("json.log"),
            "{}",
            c["LogPath"]
        );
        let mounts: Vec<&str> = c["Mounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Destination"].as_str().unwrap())
            .collect();
        assert_eq!(
            mounts,
            ["/data", "/host", "/anon", "/m"],
            "--tmpfs is HostConfig.Tmpfs only"
        );
        let img = &inspect_json(&b.ok(&["image", "inspect", "busybox"]))[0];
        for k in [
            "Id",
            "RepoTags",
            "RepoDigests",
            "Parent",
            "Comment",
            "Created",
            "Config",
            "Architecture",
            "Os",
            "Size",
            "RootFS",
            "Metadata",
        ] {
            assert!(img.get(k).is_some(), "image inspect lacks {k}");
        }
        assert_eq!(img["Config"]["Cmd"], serde_json::json!(["sh"]));

        if docker().is_some() {
            let name = format!("berth-cmp-insp-{}", std::process::id());
            let dnamed = format!("{name}-vol");
            docker_quiet(&["rm", "-f", "-v", &name]);
            let mut dargv: Vec<String> = vec!["create".into(), "--name".into(), name.clone()];
            dargv.extend(flags.iter().map(|f| {
                f.replace("NAMED", &dnamed)
                    .replace("HOSTDIR", &host.display().to_string())
            }));
            let dargs: Vec<&str> = dargv.iter().map(String::as_str).collect();
            docker_out(&dargs);
            let d: Vec<Value> = serde_json::from_str(&docker_out(&["inspect", &name])).unwrap();
            let dimg: Vec<Value> =
                serde_json::from_str(&docker_out(&["image", "inspect", "busybox"])).unwrap();
            docker_quiet(&["rm", "-f", "-v", &name]);
            docker_quiet(&["volume", "rm", &dnamed]);
            let mut diffs = Vec::new();
            compare_shapes(&d[0], c, "", &mut diffs);
            compare_shapes(&dimg[0], img, "image", &mut diffs);
            assert!(
                diffs.is_empty(),
                "inspect differs from Docker's:\n{}",
                diffs.join("\n")
            );
        }
    });
}

/// Every key of Docker's object is in berth's with the same JSON type.
/// Maps keyed by data (networks, volumes, driver data) are not walked.
fn compare_shapes(docker: &Value, berth: &Value, path: &str, diffs: &mut Vec<String>) {
    const OPAQUE: &[&str] = &[
        ".NetworkSettings.Networks",
        ".GraphDriver.Data",
        "image.GraphDriver.Data",
        ".Config.Volumes",
        ".HostConfig.Tmpfs",
        ".Config.Labels",
        "image.Config.Labels",
    ];
    let (Some(d), Some(b)) = (docker.as_object(), berth.as_object()) else {
        return;
    };
    for (k, dv) in d {
        let p = format!("{path}.{k}");
        let Some(bv) = b.get(k) else {
            diffs.push(format!("missing {p} (Docker: {dv})"));
            continue;
        };
        let kind = |v: &Value| match v {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        // null and an empty list or map are the same to a Go client.
        let loose = |a: &Value, b: &Value| {
            matches!(
                (a, b),
                (Value::Null, Value::Array(_) | Value::Object(_))
                    | (Value::Array(_) | Value::Object(_), Value::Null)
            )
        };
        if kind(dv) != kind(bv) && !loose(dv, bv) {
            diffs.push(format!(
                "{p}: Docker {} {dv}, berth {} {bv}",
                kind(dv),
                kind(bv)
            ));
        } else if dv.is_object() && !OPAQUE.contains(&p.as_str()) {
            compare_shapes(dv, bv, &p, diffs);
        }
    }
}

#[test]
fn prunes_and_system_df_as_docker() {
    each_user(|b| {
        b.load_busybox();
        b.load("busybox-layers.tar");
        b.ok(&[
            "run",
            "--name",
            "done-1",
            "-v",
            "kept:/k",
            "-v",
            "/anon",
            "busybox",
            "sh",
            "-c",
            "head -c 100000 /dev/zero > /big",
        ]);
        b.ok(&["run", "-d", "--name", "live-1", "busybox", "sleep", "300"]);
        b.ok(&["volume", "create", "--label", "keep=1", "labelled"]);

        let df = table(&b.ok(&["system", "df"]));
        assert_eq!(df[0], ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]);
        assert_eq!(df[1][..3], ["Images", "2", "1"]);
        assert_eq!(df[2][..4], ["Containers", "2", "1", "100kB"]);
        assert_eq!(df[2][4], "100kB (100%)");
        assert_eq!(df[3][..3], ["Local Volumes", "3", "2"]);
        assert_eq!(df[4], ["Build Cache", "0", "0", "0B", "0B"]);
        let json: Vec<Value> = lines(&b.ok(&["system", "df", "--format", "json"]))
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(json[0]["Type"], "Images");
        let want: BTreeSet<String> = ["Active", "Reclaimable", "Size", "TotalCount", "Type"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(keys(&json[0]), want);
        let verbose = b.ok(&["system", "df", "-v"]);
        for section in [
            "Images space usage:",
            "Containers space usage:",
            "Local Volumes space usage:",
        ] {
            assert!(verbose.contains(section), "{verbose}");
        }
        assert!(
            verbose.contains("SHARED SIZE") && verbose.contains("LINKS"),
            "{verbose}"
        );
        // -v with a template: run once on the lists, no newline added.
        let out = b.ok(&[
            "system",
            "df",
            "-v",
            "--format",
            "{{range .Images}}{{.Tag}} {{end}}|{{len .Containers}}|{{len .Volumes}}",
        ]);
        let (tags, rest) = out.split_once('|').unwrap();
        let mut tags: Vec<&str> = tags.split_whitespace().collect();
        tags.sort();
        assert_eq!((tags, rest), (vec!["latest", "layers"], "2|3"));

        // Without a terminal or an answer, prunes ask and do nothing.
        let out = b.ok(&["container", "prune"]);
        assert_eq!(out, "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ");
        let out = b.cmd_stdin(&["system", "prune", "--filter", "label=x"], b"n\n");
        assert_success(&out, "system prune, declined");
        assert_eq!(
            stdout(&out),
            "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n  - all dangling images\n\n  Items to be pruned will be filtered with:\n  - label=x\n\nAre you sure you want to continue? [y/N] "
        );
        assert_eq!(names(b, &[]).len(), 2);
        let out = b.status(
            &["container", "prune", "-f", "--filter", "dangling=true"],
            1,
        );
        assert_eq!(
            last_err(&out),
            "Error response from daemon: invalid filter 'dangling'\n"
        );
        let out = b.status(
            &["system", "prune", "-f", "--volumes", "--filter", "until=1h"],
            125,
        );
        assert!(
            stderr(&out).contains("The \"until\" filter is not supported with \"--volumes\""),
            "{}",
            show(&out)
        );

        // until= keeps what is newer.
        assert_eq!(
            b.ok(&[
                "container",
                "prune",
                "-f",
                "--filter",
                "until=2000-01-01T00:00:00Z"
            ]),
            "Total reclaimed space: 0B\n"
        );
        let done_id = b
            .ok(&["inspect", "-f", "{{.Id}}", "done-1"])
            .trim()
            .to_string();
        let out = b.cmd_stdin(&["container", "prune"], b"y\n");
        assert_success(&out, "container prune, confirmed");
        assert!(
            stdout(&out).ends_with(&format!(
                "Deleted Containers:\n{done_id}\n\nTotal reclaimed space: 100kB\n"
            )),
            "{}",
            show(&out)
        );
        assert_eq!(names(b, &[]), ["live-1"]);

        // Volumes: anonymous ones by default, labelled ones kept with label!=.
        let out = b.ok(&["volume", "prune", "-f"]);
        assert!(
            out.starts_with("Deleted Volumes:\n")
                && !out.contains("kept")
                && !out.contains("labelled"),
            "{out}"
        );
        let out = b.ok(&["volume", "prune", "-f", "-a", "--filter", "label!=keep"]);
        assert_eq!(out, "Deleted Volumes:\nkept\n\nTotal reclaimed space: 0B\n");
        assert_eq!(lines(&b.ok(&["volume", "ls", "-q"])), ["labelled"]);

        // Images: nothing dangling; -a takes the unused one with its own layer.
        assert_eq!(
            b.ok(&["image", "prune", "-f"]),
            "Total reclaimed space: 0B\n"
        );
        let layers_id = b.image_id("busybox:layers");
        let out = b.ok(&["image", "prune", "-a", "-f"]);
        let l = lines(&out);
        assert_eq!(
            l[..3],
            [
                "Deleted Images:",
                "untagged: busybox:layers",
                &format!("deleted: {layers_id}")
            ],
            "{out}"
        );
        assert!(
            l.last().unwrap().starts_with("Total reclaimed space: "),
            "{out}"
        );
        assert_eq!(
            lines(&b.ok(&["images", "--format", "{{.Tag}}"])),
            ["latest"]
        );

        // system prune -a --volumes: everything unused, one total.
        b.ok(&["rm", "-f", "live-1"]);
        b.ok(&["network", "create", "spare"]);
        let out = b.ok(&["system", "prune", "-a", "--volumes", "-f"]);
        assert!(out.contains("Deleted Networks:\nspare\n"), "{out}");
        assert!(
            out.contains("Deleted Images:\nuntagged: busybox:latest\n"),
            "{out}"
        );
        // Named volumes stay: system prune takes anonymous ones only.
        assert!(!out.contains("labelled"), "{out}");
        assert_eq!(out.matches("Total reclaimed space:").count(), 1, "{out}");
        assert_eq!(b.ok(&["images", "-a", "-q"]), "");
        assert!(names(b, &[]).is_empty());
    });
}

#[test]
fn completions_are_generated_from_the_definitions() {
    let b = Berth::new(&main_user());
    let bash = b.ok(&["completion", "bash"]);
    assert!(
        bash.contains("_berth()") && bash.contains("complete"),
        "{}",
        &bash[..bash.len().min(300)]
    );
    for word in ["ps", "images", "prune", "--filter", "completion"] {
        assert!(bash.contains(word), "bash completion lacks {word}");
    }
    let script = b.write_file("berth.bash", &bash);
    let out = run({
        let mut c = Command::new("bash");
        c.arg("-n").arg(&script);
        c
    });
    assert_success(&out, "bash -n on the completion script");
    // Sourced, it completes subcommands.
    let probe = format!(
        "source {}; COMP_WORDS=(berth sys); COMP_CWORD=1; COMP_LINE='berth sys'; COMP_POINT=9; _berth berth sys berth; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display()
    );
    let out = run({
        let mut c = Command::new("bash");
        c.arg("-c").arg(&probe);
        c
    });
    assert_success(&out, "completing `berth sys`");
    assert!(stdout(&out).contains("system"), "{}", show(&out));
    let zsh = b.ok(&["completion", "zsh"]);
    assert!(
        zsh.starts_with("#compdef berth"),
        "{}",
        &zsh[..zsh.len().min(200)]
    );
    let fish = b.ok(&["completion", "fish"]);
    assert!(
        fish.contains("complete -c berth"),
        "{}",
        &fish[..fish.len().min(200)]
    );
    // Through the docker symlink it completes `docker`.
    let docker = b.as_docker().ok(&["completion", "bash"]);
    assert!(
        docker.contains("_docker()"),
        "{}",
        &docker[..docker.len().min(300)]
    );
    let out = b.status(&["completion", "tcsh"], 125);
    assert!(stderr(&out).contains("tcsh"), "{}", show(&out));
}
