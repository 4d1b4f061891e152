//! berth's entry point is C's `main` (src/main.rs), so berth itself makes
//! the standard descriptors valid at start-up, as Rust's runtime would.
//! It loads no shared library.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `berth events` started by `cmd` on a store of its own (which it
/// keeps), once it has opened the event log: `events` follows the log
/// once its start-up is over. Waits at most 10 s.
fn events_following(mut cmd: Command) -> (std::process::Child, tempfile::TempDir) {
    let store = tempfile::tempdir().unwrap();
    let child = cmd
        .env("BERTH_ROOT", store.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting berth events");
    let fd_dir = format!("/proc/{}/fd", child.id());
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let log_open = std::fs::read_dir(&fd_dir)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| {
                std::fs::read_link(e.path())
                    .is_ok_and(|p| p.to_string_lossy().ends_with("events/log"))
            });
        if log_open {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, store)
}

/// Started with descriptors 0, 1 and 2 closed, `berth events` (which
/// opens the event log and follows it) has /dev/null on all three: the
/// log must not become its stdout.
#[test]
fn closed_standard_descriptors_are_opened_on_dev_null() {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("exec \"$0\" events <&- >&- 2>&-")
        .arg(env!("CARGO_BIN_EXE_berth"));
    let (mut child, _store) = events_following(cmd);
    let targets: Vec<String> = (0..3)
        .map(|fd| {
            std::fs::read_link(format!("/proc/{}/fd/{fd}", child.id()))
                .map(|p| p.display().to_string())
                .unwrap_or_else(|e| format!("({e})"))
        })
        .collect();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(targets, ["/dev/null", "/dev/null", "/dev/null"]);
}

/// A started berth has loaded no shared library at all: it is linked
/// statically, glibc included (scripts/rustc-wrapper; the unwinder and
/// `pow` and `log10` are linked in as src/main.rs says).
#[test]
fn loads_no_shared_library() {
    let program = std::fs::canonicalize(env!("CARGO_BIN_EXE_berth")).unwrap();
    let mut cmd = Command::new(&program);
    cmd.arg("events");
    let (mut child, _store) = events_following(cmd);
    let maps = std::fs::read_to_string(format!("/proc/{}/maps", child.id())).unwrap_or_default();
    let _ = child.kill();
    let _ = child.wait();
    let files: std::collections::BTreeSet<&str> = maps
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .filter(|p| p.starts_with('/'))
        .collect();
    assert!(
        files.contains(program.to_str().unwrap()),
        "berth's own executable is not mapped (is berth still running?): {maps}"
    );
    let libraries: Vec<&&str> = files.iter().filter(|p| p.contains(".so")).collect();
    assert!(
        libraries.is_empty(),
        "berth loaded {libraries:?}: is it still linked statically (a RUSTC_WRAPPER of the \
         environment replaces scripts/rustc-wrapper)?"
    );
}
