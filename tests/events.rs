//! `events`: what berth's commands and monitors record, compared with what
//! Docker 20.10's daemon gives for the same commands (sequences, text
//! lines, JSON), `--since`/`--until`, `--filter`, `--format`, following
//! live, and many processes appending at once.

mod common;

use common::*;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Now as Docker's `--since` takes it (unix seconds with nanoseconds).
fn now_arg() -> String {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    format!("{}.{:09}", d.as_secs(), d.subsec_nanos())
}

/// The events since `since` up to now, as (type, action, name) triples;
/// the id and attributes are checked against `line_shape` on the way.
fn sequence(b: &Berth, since: &str, filters: &[&str]) -> Vec<(String, String, String)> {
    let mut args = vec!["events", "--since", since, "--until", "0s"];
    for f in filters {
        args.extend(["--filter", f]);
    }
    let out = b.ok(&args);
    out.lines().map(line_shape).collect()
}

/// Checks that a text line is Docker's (`TIME TYPE ACTION ID (k=v, ...)`)
/// and returns its type, action and `name` attribute.
fn line_shape(line: &str) -> (String, String, String) {
    let (time, rest) = line.split_once(' ').expect("a time");
    // 2024-01-01T00:00:00.000000000Z (or +01:00): nine fractional digits.
    assert_eq!(
        time.len(),
        30 + usize::from(!time.ends_with('Z')) * 5,
        "{line}"
    );
    assert_eq!(&time[10..11], "T", "{line}");
    assert_eq!(&time[19..20], ".", "{line}");
    assert!(time[20..29].bytes().all(|c| c.is_ascii_digit()), "{line}");
    let (kind, rest) = rest.split_once(' ').unwrap();
    // Actions may hold spaces (`exec_start: sh -c x`): the id is the
    // token before the attributes.
    let (head, attrs) = rest.rsplit_once(" (").unwrap_or((rest, ""));
    let (action, _id) = head.rsplit_once(' ').unwrap();
    let attrs = attrs.strip_suffix(')').unwrap_or(attrs);
    let mut keys = Vec::new();
    let mut name = String::new();
    for kv in attrs.split(", ").filter(|s| !s.is_empty()) {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        keys.push(k.to_string());
        if k == "name" {
            name = v.to_string();
        }
    }
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "attributes sorted by key: {line}");
    (kind.to_string(), action.trim_end().to_string(), name)
}

fn triple(k: &str, a: &str, n: &str) -> (String, String, String) {
    (k.to_string(), a.to_string(), n.to_string())
}

#[test]
fn a_containers_life_is_recorded_as_docker_records_it() {
    each_user(|b| {
        b.load_busybox();
        let since = now_arg();
        b.ok(&["run", "--rm", "--name", "once", "busybox", "true"]);
        b.ok(&[
            "run",
            "-d",
            "--name",
            "web",
            "-v",
            "data:/data",
            "busybox",
            "sleep",
            "60",
        ]);
        b.ok(&["rename", "web", "site"]);
        b.ok(&["exec", "site", "true"]);
        b.status(&["exec", "site", "sh", "-c", "exit 3"], 3);
        b.ok(&["kill", "-s", "USR1", "site"]);
        // pid 1 ignores TERM without a handler: stop needs its SIGKILL.
        b.ok(&["stop", "-t", "1", "site"]);
        b.ok(&["rm", "site"]);
        b.ok(&["volume", "rm", "data"]);
        let got = sequence(b, &since, &[]);
        let c = |a: &str, n: &str| triple("container", a, n);
        let v = |a: &str| triple("volume", a, "");
        // What Docker 20.10 gives for the same commands, without its
        // network connect/disconnect events.
        let want = vec![
            c("create", "once"),
            c("attach", "once"),
            c("start", "once"),
            c("die", "once"),
            c("destroy", "once"),
            v("create"),
            c("create", "web"),
            v("mount"),
            c("start", "web"),
            c("rename", "site"),
            c("exec_create: true", "site"),
            c("exec_start: true", "site"),
            c("exec_die", "site"),
            c("exec_create: sh -c exit 3", "site"),
            c("exec_start: sh -c exit 3", "site"),
            c("exec_die", "site"),
            c("kill", "site"),
            c("kill", "site"),
            c("kill", "site"),
            c("die", "site"),
            v("unmount"),
            c("stop", "site"),
            c("destroy", "site"),
            v("destroy"),
        ];
        assert_eq!(got, want);
        // The attributes Docker gives.
        let lines = b.ok(&["events", "--since", &since, "--until", "0s"]);
        let find = |needle: &str| {
            lines
                .lines()
                .find(|l| l.contains(needle))
                .unwrap_or_else(|| panic!("no line with {needle:?} in\n{lines}"))
                .to_string()
        };
        assert!(find(" container die ").ends_with("(exitCode=0, image=busybox, name=once)"));
        assert!(find("signal=10").ends_with("(image=busybox, name=site, signal=10)"));
        assert!(find("signal=15").contains("signal=15"));
        assert!(find("signal=9").contains("signal=9"));
        assert!(find(" rename ").ends_with("(image=busybox, name=site, oldName=/web)"));
        assert!(
            find("exitCode=3").contains("execID="),
            "exec_die carries the exec id"
        );
        assert!(
            find("exitCode=137").contains("name=site"),
            "killed by SIGKILL: 128+9"
        );
        assert!(find(" volume mount ")
            .ends_with(", destination=/data, driver=local, propagation=, read/write=true)"));
        assert!(find(" volume unmount ").ends_with(", driver=local)"));
    });
}

#[test]
fn image_events_are_dockers() {
    each_user(|b| {
        let since = now_arg();
        b.load_busybox();
        b.ok(&["tag", "busybox:latest", "busybox:other"]);
        b.ok(&["rmi", "busybox:other"]);
        let archive = b.dir.join("saved.tar");
        b.ok(&["save", "-o", archive.to_str().unwrap(), "busybox"]);
        b.ok(&["run", "--name", "cc", "busybox", "true"]);
        b.ok(&["commit", "-m", "msg", "cc", "committed:1"]);
        b.ok(&["rm", "cc"]);
        b.ok(&["rmi", "committed:1"]);
        let got = sequence(b, &since, &["type=image"]);
        let names: Vec<_> = got
            .iter()
            .map(|(k, a, _)| (k.as_str(), a.as_str()))
            .collect();
        assert_eq!(
            names,
            vec![
                ("image", "load"),
                ("image", "tag"),
                ("image", "untag"),
                ("image", "save"),
                ("image", "tag"),
                ("image", "untag"),
                ("image", "delete"),
            ],
            "{got:?}"
        );
        let lines = b.ok(&[
            "events",
            "--since",
            &since,
            "--until",
            "0s",
            "-f",
            "type=image",
        ]);
        let id = b.image_id("busybox");
        // Docker names tags by reference, the rest by the image id.
        assert!(
            lines.contains(&format!("image tag {id} (name=busybox:other)")),
            "{lines}"
        );
        assert!(
            lines.contains(&format!("image untag {id} (name={id})")),
            "{lines}"
        );
        assert!(
            lines.contains(&format!("image load {id} (name={id})")),
            "{lines}"
        );
        // commit is a container event, after the new image's tag.
        let commit = b.ok(&[
            "events",
            "--since",
            &since,
            "--until",
            "0s",
            "-f",
            "event=commit",
        ]);
        assert!(
            commit.contains("(comment=msg, image=busybox, imageID=sha256:"),
            "{commit}"
        );
        assert!(
            commit.contains("imageRef=committed:1, name=cc)"),
            "{commit}"
        );
    });
}

#[test]
fn json_and_templates_have_dockers_shape() {
    each_user(|b| {
        b.load_busybox();
        let since = now_arg();
        b.ok(&["run", "--rm", "--name", "jj", "busybox", "true"]);
        b.ok(&["volume", "create", "jv"]);
        let out = b.ok(&[
            "events",
            "--since",
            &since,
            "--until",
            "0s",
            "--format",
            "{{json .}}",
        ]);
        let events: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let die = events
            .iter()
            .find(|e| e["Action"] == "die")
            .expect("a die event");
        let keys: Vec<&str> = die
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            ["status", "id", "from", "Type", "Action", "Actor", "scope", "time", "timeNano"]
        );
        assert_eq!(die["status"], "die");
        assert_eq!(die["from"], "busybox");
        assert_eq!(die["id"], die["Actor"]["ID"]);
        assert_eq!(die["Actor"]["Attributes"]["exitCode"], "0");
        assert_eq!(die["scope"], "local");
        assert_eq!(
            die["time"].as_i64().unwrap(),
            die["timeNano"].as_i64().unwrap() / 1_000_000_000
        );
        let vol = events
            .iter()
            .find(|e| e["Type"] == "volume")
            .expect("a volume event");
        let keys: Vec<&str> = vol
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            ["Type", "Action", "Actor", "scope", "time", "timeNano"]
        );
        // Go's field names in templates.
        let t = b.ok(&[
            "events",
            "--since",
            &since,
            "--until",
            "0s",
            "--filter",
            "event=die",
            "--format",
            "{{.Type}} {{.Status}} {{.From}} {{.Actor.Attributes.name}} {{.Scope}}",
        ]);
        assert_eq!(t, "container die busybox jj local\n");
        let bad = b.fails(&["events", "--until", "0s", "--filter", "colour=red"]);
        assert!(
            stderr(&bad).contains("invalid filter 'colour'"),
            "{}",
            show(&bad)
        );
    });
}

#[test]
fn filters_select_as_dockers() {
    each_user(|b| {
        b.load_busybox();
        let since = now_arg();
        b.ok(&["run", "--rm", "--name", "f1", "busybox", "true"]);
        b.status(
            &[
                "run", "--rm", "--name", "f2", "busybox", "sh", "-c", "exit 2",
            ],
            2,
        );
        let actions = |filters: &[&str]| -> Vec<String> {
            sequence(b, &since, filters)
                .into_iter()
                .map(|(_, a, n)| format!("{a} {n}"))
                .collect()
        };
        assert_eq!(actions(&["container=f2", "event=die"]), ["die f2"]);
        assert_eq!(
            actions(&["event=start", "event=die", "container=f1"]),
            ["start f1", "die f1"]
        );
        assert_eq!(
            actions(&["image=busybox", "event=create"]),
            ["create f1", "create f2"]
        );
        assert_eq!(actions(&["type=volume"]), Vec::<String>::new());
        let id = b.ok(&[
            "events",
            "--since",
            &since,
            "--until",
            "0s",
            "-f",
            "container=f1",
            "-f",
            "event=destroy",
            "--format",
            "{{.ID}}",
        ]);
        let prefix = &id.trim()[..12];
        assert_eq!(
            actions(&[&format!("container={prefix}"), "event=destroy"]),
            ["destroy f1"]
        );
    });
}

#[test]
fn events_follow_live_and_stop_at_until() {
    each_user(|b| {
        b.load_busybox();
        // Until 4 s from now: the command must end by itself then.
        let until = {
            let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap() + Duration::from_secs(4);
            format!("{}.{:09}", d.as_secs(), d.subsec_nanos())
        };
        let mut follower = b
            .command(&["events", "--until", &until, "--filter", "event=start"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let started = Instant::now();
        // Give it a moment to open the log: events before it are not shown.
        std::thread::sleep(Duration::from_millis(300));
        b.ok(&["run", "--rm", "--name", "live", "busybox", "true"]);
        let mut lines = BufReader::new(follower.stdout.take().unwrap()).lines();
        let first = lines.next().expect("a line").unwrap();
        assert!(
            first.contains(" container start ") && first.ends_with("name=live)"),
            "{first}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "the line came live"
        );
        let status = follower.wait().unwrap();
        assert!(status.success());
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(3500) && waited < Duration::from_secs(15),
            "ended at --until: {waited:?}"
        );
    });
}

#[test]
fn many_processes_append_without_tearing() {
    each_user(|b| {
        b.load_busybox();
        let since = now_arg();
        let children: Vec<_> = (0..8)
            .map(|i| {
                b.command(&["run", "--rm", "--name", &format!("p{i}"), "busybox", "true"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for mut c in children {
            assert!(c.wait().unwrap().success());
        }
        let out = b.ok(&[
            "events",
            "--since",
            &since,
            "--until",
            "0s",
            "--format",
            "{{json .}}",
        ]);
        let mut per_container = std::collections::HashMap::new();
        for l in out.lines() {
            let e: serde_json::Value = serde_json::from_str(l).expect("whole JSON lines");
            *per_container
                .entry(
                    e["Actor"]["Attributes"]["name"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                )
                .or_insert(0) += 1;
        }
        assert_eq!(per_container.len(), 8, "{per_container:?}");
        assert!(per_container.values().all(|n| *n == 5), "{per_container:?}");
    });
}
