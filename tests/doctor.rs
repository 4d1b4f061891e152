//! `berth doctor` as the test users: the verdicts this machine can
//! produce (a user with and without subordinate ids; /dev/net/tun as it
//! is at the moment), JSON for scripts, exit status 0 where containers run.

mod common;

use common::*;
use std::os::unix::fs::PermissionsExt;

fn check<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {report}"))
}

#[test]
fn doctor_reports_each_check_for_each_user() {
    each_user(|b| {
        let out = b.status(&["doctor", "--format", "json"], 0);
        let report: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("doctor printed invalid JSON ({e}): {}", show(&out)));
        assert_eq!(report["can_run_containers"], true, "{report:#}");
        for name in [
            "kernel",
            "userns",
            "subuid",
            "idmap-helpers",
            "overlay",
            "fuse",
            "tun",
            "cgroups",
            "runtime-dir",
            "store",
            "ping",
            "ports",
            "landlock",
            "seccomp",
        ] {
            let c = check(&report, name);
            assert!(
                ["ok", "note", "warn", "fail"].contains(&c["verdict"].as_str().unwrap()),
                "{c}"
            );
            assert!(!c["summary"].as_str().unwrap().is_empty(), "{c}");
        }
        assert_eq!(check(&report, "userns")["verdict"], "ok");
        assert_eq!(check(&report, "overlay")["verdict"], "ok");
        // With a range, real ownership; without, the single mapping and
        // the usermod line that gives a range.
        let subuid = check(&report, "subuid");
        if b.user.subids {
            assert_eq!(subuid["verdict"], "ok", "{subuid}");
            assert!(subuid["summary"]
                .as_str()
                .unwrap()
                .contains("subordinate uids"));
        } else if !b.user.is_root() {
            assert_eq!(subuid["verdict"], "warn", "{subuid}");
            let fix = subuid["fix"].as_str().unwrap();
            assert!(
                fix.contains(&format!(
                    "usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {}",
                    b.user.name
                )),
                "{fix}"
            );
        }
        // /dev/net/tun as it is now (0600 here, 0666 once a test setup opens it).
        let tun = check(&report, "tun");
        let mode = std::fs::metadata("/dev/net/tun")
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0);
        if b.user.is_root() || mode & 0o006 == 0o006 {
            assert_eq!(tun["verdict"], "ok", "{tun}");
        } else {
            assert_eq!(tun["verdict"], "warn", "{tun}");
            assert!(tun["summary"]
                .as_str()
                .unwrap()
                .contains(&format!("mode {mode:04o}")));
            assert!(tun["fix"]
                .as_str()
                .unwrap()
                .contains("chmod 0666 /dev/net/tun"));
        }
        let store = check(&report, "store")["summary"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(store.contains(&b.root.display().to_string()), "{store}");
        assert!(store.contains("free"), "{store}");
        let rundir = check(&report, "runtime-dir")["summary"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(rundir.contains("XDG_RUNTIME_DIR is not set"), "{rundir}");

        // The text form: one line per check, each with its verdict.
        let text = b.ok(&["doctor"]);
        let verdict_lines = text.lines().filter(|l| l.starts_with('[')).count();
        assert_eq!(verdict_lines, 14, "{text}");
        assert!(text.ends_with("berth can run containers here.\n"), "{text}");
        let out = b.fails(&["doctor", "--format", "yaml"]);
        assert!(stderr(&out).contains("unknown --format"), "{}", show(&out));
    });
}
