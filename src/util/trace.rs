//! `BERTH_TRACE`: the time of each step of a launch, for finding where a
//! `run` spends its milliseconds.
//!
//! `BERTH_TRACE=1` sends the lines to the CLI's stderr. The monitor and
//! the container's init have no terminal (their stderr is /dev/null, and
//! library code never prints): they keep their lines and send them to the
//! CLI as `Trace` messages — the init on its start-report pipe just before
//! it execs, the monitor on its ready pipe and to attached clients — and
//! the CLI prints them as they arrive. Lines of a monitor whose CLI has
//! gone (`run -d`, an exit after the client detached) are lost then.
//! `BERTH_TRACE=/a/file` makes every process append its own lines to that
//! file instead, so nothing is lost.
//!
//! Times are milliseconds since the CLI started (its clock reading is
//! passed to the processes it starts in `_BERTH_TRACE_T0`), so the lines
//! of all processes line up on one axis. Without `BERTH_TRACE` a step
//! costs one relaxed atomic load.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

/// The start time the CLI passes to the processes it starts.
const T0_VAR: &str = "_BERTH_TRACE_T0";

static ENABLED: AtomicBool = AtomicBool::new(false);
static TRACER: OnceLock<Tracer> = OnceLock::new();

struct Tracer {
    t0: u64,
    /// Appended to by every process when `BERTH_TRACE` names a file.
    file: Option<std::path::PathBuf>,
    /// Who is speaking: cli, monitor, init (a clone of the monitor).
    role: Mutex<&'static str>,
    /// Lines kept for the CLI when there is no printer and no file.
    kept: Mutex<Vec<String>>,
    printer: OnceLock<fn(&str)>,
}

/// CLOCK_MONOTONIC in nanoseconds: the same clock in every process.
fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the struct we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Reads `BERTH_TRACE` and starts tracing as `role`. Called once at each
/// process's start, before any thread exists (the CLI exports its start
/// time for its children).
pub(crate) fn init(role: &'static str) {
    let Some(value) = std::env::var_os("BERTH_TRACE").filter(|v| !v.is_empty() && v != "0") else {
        return;
    };
    let now = now_ns();
    let t0 = match std::env::var(T0_VAR).ok().and_then(|v| v.parse().ok()) {
        Some(t) => t,
        None => {
            // Inherited by the monitor, so its times share our origin;
            // set before any thread exists.
            std::env::set_var(T0_VAR, now.to_string());
            now
        }
    };
    let file = (value != "1").then(|| std::path::PathBuf::from(value));
    let _ = TRACER.set(Tracer {
        t0,
        file,
        role: Mutex::new(role),
        kept: Mutex::new(Vec::new()),
        printer: OnceLock::new(),
    });
    ENABLED.store(true, Ordering::Relaxed);
}

/// Whether tracing is on in this process.
pub(crate) fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// The CLI's way to show lines (stderr); without one, lines are kept for
/// [`take`].
pub(crate) fn install_printer(print: fn(&str)) {
    if let Some(t) = TRACER.get() {
        let _ = t.printer.set(print);
    }
}

/// This process now speaks as `role` (the monitor, re-executed).
pub(crate) fn set_role(role: &'static str) {
    if let Some(t) = TRACER.get() {
        *t.role.lock().unwrap_or_else(|e| e.into_inner()) = role;
    }
}

/// In a child forked (cloned) from a process that keeps lines: the child
/// speaks as `role`, and the lines it inherited stay its parent's.
pub(crate) fn forked(role: &'static str) {
    set_role(role);
    if let Some(t) = TRACER.get() {
        t.kept.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

/// Records that `what` just finished.
#[inline]
pub(crate) fn step(what: &str) {
    if enabled() {
        record(what);
    }
}

#[cold]
fn record(what: &str) {
    let Some(t) = TRACER.get() else { return };
    let role = *t.role.lock().unwrap_or_else(|e| e.into_inner());
    let ms = now_ns().saturating_sub(t.t0) as f64 / 1e6;
    let line = format!("berth-trace {ms:>9.3} ms  {role:<8} {what}");
    deliver(t, line);
}

fn deliver(t: &Tracer, line: String) {
    if let Some(path) = &t.file {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = f.write_all(format!("{line}\n").as_bytes());
        }
    } else if let Some(print) = t.printer.get() {
        print(&line);
    } else {
        t.kept.lock().unwrap_or_else(|e| e.into_inner()).push(line);
    }
}

/// The lines kept so far (for the monitor and init to send to the CLI),
/// as one text; empty when there are none.
pub(crate) fn take() -> String {
    let Some(t) = TRACER.get() else {
        return String::new();
    };
    let lines = std::mem::take(&mut *t.kept.lock().unwrap_or_else(|e| e.into_inner()));
    lines.join("\n")
}

/// Lines another process sent us: printed by the CLI, or kept to be sent
/// on (the monitor relays its init's).
pub(crate) fn relay(text: &str) {
    let Some(t) = TRACER.get() else { return };
    for line in text.lines().filter(|l| !l.is_empty()) {
        deliver(t, line.to_string());
    }
}
