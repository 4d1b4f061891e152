//! The escape suite (issue 9 item 6): every way out of a container, or
//! into another user's session, that a review found or that Docker's
//! history teaches, tried against the real binary as berth-sub (a
//! subordinate id range), berth-nosub (a single mapping) and root. Each
//! probe that does not hold prints one line at once (ESCAPE, or SKIPPED
//! with the reason), each group a line with its count of held probes, and
//! the suite ends with a count; any escape fails the test, and so does a
//! skipped probe under BERTH_TEST_STRICT=1 (CI). `BERTH_TEST_VERBOSE=1`
//! prints the held probes too, with what each saw. (Held lines are not
//! printed by default so that a failure's lines stay near the top of a
//! long CI log, which may be shown cut.)
//!
//! What busybox cannot do is done by a small static C program,
//! `tests/escape/probe.c`, compiled here and bind-mounted into the
//! containers. Hostile images are built here (`tests/escape/archive.rs`)
//! and loaded with `berth load`.
//!
//! `BERTH_TEST_BINARY=/path/to/berth cargo test --test escape` runs the
//! probes against another build (how the regressions were shown to fail
//! before their fixes).

#[path = "escape/archive.rs"]
mod archive;
mod common;

use archive::Entry;
use common::*;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// What one probe found.
enum Verdict {
    Held(String),
    Escape(String),
    Skipped(String),
}
use Verdict::{Escape, Held, Skipped};

#[derive(Default)]
struct Tally {
    held: usize,
    escapes: Vec<String>,
    skipped: Vec<String>,
}

impl Tally {
    fn record(&mut self, user: &str, name: &str, v: Verdict) {
        let (word, detail) = match &v {
            Held(d) => ("held", d.as_str()),
            Escape(d) => ("ESCAPE", d.as_str()),
            Skipped(d) => ("SKIPPED", d.as_str()),
        };
        let detail = detail.replace('\n', " | ");
        // A held probe's line is evidence, kept short; what failed is
        // printed whole (it is what must be diagnosed from a CI log).
        let limit = if matches!(v, Held(_)) { 160 } else { 2000 };
        let detail: String = detail.chars().take(limit).collect();
        let verbose = std::env::var_os("BERTH_TEST_VERBOSE").is_some_and(|v| v == "1");
        if verbose || !matches!(v, Held(_)) {
            eprintln!("escape probe {user:<12} {name:<34} {word:<8} {detail}");
        }
        let what = format!("{user}: {name}: {detail}");
        match v {
            Held(_) => self.held += 1,
            Escape(_) => self.escapes.push(what),
            Skipped(_) => self.skipped.push(what),
        }
    }
}

/// The probe program, built once, world-readable (bound into containers).
fn probe_program() -> &'static Path {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("berth-escape-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let out = dir.join("probe");
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/escape/probe.c");
        let r = Command::new("gcc")
            .args(["-static", "-O1", "-o"])
            .arg(&out)
            .arg(&src)
            .output()
            .expect("running gcc (scripts/test.sh installs it)");
        assert!(
            r.status.success(),
            "compiling the probe: {}",
            String::from_utf8_lossy(&r.stderr)
        );
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o755)).unwrap();
        out
    })
}

/// One user's setting: a store with busybox, the probe, a running
/// container `box` with the probe at /probe.
struct Ctx {
    b: Berth,
    probe: PathBuf,
    mount: String,
}

impl Ctx {
    fn new(user: &TestUser) -> Ctx {
        let b = Berth::new(user);
        b.load_busybox();
        let probe = probe_program().to_path_buf();
        let mount = format!("{}:/probe:ro", probe.display());
        let ctx = Ctx { b, probe, mount };
        ctx.b.ok(&[
            "run", "-d", "--name", "box", "-v", &ctx.mount, "busybox", "sleep", "3600",
        ]);
        ctx
    }

    fn user(&self) -> &str {
        &self.b.user.name
    }

    /// `berth run --rm -v PROBE busybox ARGS`.
    fn run(&self, args: &[&str]) -> Output {
        let mut a = vec!["run", "--rm", "-v", &self.mount];
        a.extend_from_slice(args);
        self.b.cmd(&a)
    }

    /// `berth exec box ARGS`.
    fn exec(&self, args: &[&str]) -> Output {
        let mut a = vec!["exec", "box"];
        a.extend_from_slice(args);
        self.b.cmd(&a)
    }

    /// A directory of the user's on the host (0755), for targets that a
    /// container must never reach.
    fn host_dir(&self) -> PathBuf {
        let d = self.b.scratch_dir();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
        d
    }

    /// A file of the user's on the host with `content`.
    fn host_file(&self, content: &str) -> PathBuf {
        let p = self.b.write_file("victim", content);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        p
    }

    fn chown_to_user(&self, p: &Path) {
        if running_as_root() {
            std::os::unix::fs::chown(p, Some(self.b.user.uid), Some(self.b.user.gid)).unwrap();
        }
    }

    /// Loads a Docker archive written to the user's scratch space.
    fn load(&self, archive: &[u8]) -> Output {
        let dir = self.b.scratch_dir();
        let path = dir.join("image.tar");
        std::fs::write(&path, archive).unwrap();
        self.chown_to_user(&path);
        self.b.cmd(&[OsArg::from("load"), "-i".into(), path.into()])
    }
}

type OsArg = std::ffi::OsString;

fn out(o: &Output) -> String {
    stdout(o).trim().to_string()
}

fn dir_is_empty(p: &Path) -> bool {
    std::fs::read_dir(p)
        .map(|mut d| d.next().is_none())
        .unwrap_or(true)
}

/// "denied ..." from the probe: held; anything else an escape.
fn denied(what: &str, o: &Output) -> Verdict {
    let s = out(o);
    if s.starts_with("denied") {
        Held(s)
    } else if s == "allowed" {
        Escape(format!("{what} was allowed"))
    } else {
        Skipped(format!("{what}: the probe did not run: {}", show(o)))
    }
}

#[test]
fn escape_suite() {
    let mut users = users();
    if let Some(root) = root_user() {
        users.push(root);
    }
    let mut tally = Tally::default();
    let ctxs: Vec<Ctx> = users.iter().map(Ctx::new).collect();
    type Group = fn(&Ctx, &mut Tally);
    let groups: [(&str, Group); 14] = [
        ("descriptors", descriptors_and_cwd),
        ("host binary", host_binary),
        ("terminal", terminal),
        ("keyring", keyring),
        ("syscalls", syscalls),
        ("kernel files", kernel_files),
        ("monitor", monitor),
        ("binds", binds),
        ("copies", copies),
        ("volume copy-up", volume_copy_up),
        ("hostile layers", hostile_layers),
        ("devices", devices),
        ("mounts", mounts),
        ("landlock", landlock),
    ];
    for ctx in &ctxs {
        for (name, group) in groups {
            let started = std::time::Instant::now();
            let held_before = tally.held;
            group(ctx, &mut tally);
            eprintln!(
                "escape group {:<12} {name}: {} held, {:.1}s",
                ctx.user(),
                tally.held - held_before,
                started.elapsed().as_secs_f64()
            );
        }
    }
    other_users(&ctxs, &mut tally);
    let total = tally.held + tally.escapes.len() + tally.skipped.len();
    eprintln!(
        "escape suite: {total} probes, {} held, {} escapes, {} skipped",
        tally.held,
        tally.escapes.len(),
        tally.skipped.len()
    );
    for ctx in &ctxs {
        let _ = ctx.b.cmd(&["rm", "-f", "box"]);
    }
    assert!(
        tally.escapes.is_empty(),
        "escapes:\n{}",
        tally.escapes.join("\n")
    );
    if std::env::var_os("BERTH_TEST_STRICT").is_some_and(|v| v == "1") {
        assert!(
            tally.skipped.is_empty(),
            "probes that could not run (BERTH_TEST_STRICT=1):\n{}",
            tally.skipped.join("\n")
        );
    }
}

/// `-w /proc/self/fd/N` (runc CVE-2024-21626) and the descriptors a
/// container, an exec'd process and a health probe see.
fn descriptors_and_cwd(ctx: &Ctx, t: &mut Tally) {
    let u = ctx.user().to_string();
    let fds = |o: &Output, what: &str| {
        let s = out(o);
        if s == "0 1 2" {
            Held(s)
        } else if o.status.success() && !s.is_empty() {
            Escape(format!("{what} sees descriptors {s}"))
        } else {
            Skipped(format!("{what}: {}", show(o)))
        }
    };
    t.record(
        &u,
        "descriptors: run",
        fds(&ctx.run(&["busybox", "/probe", "fds"]), "run"),
    );
    t.record(
        &u,
        "descriptors: exec",
        fds(&ctx.exec(&["/probe", "fds"]), "exec"),
    );
    t.record(
        &u,
        "descriptors: exec -i",
        fds(
            &ctx.b
                .cmd_stdin(&["exec", "-i", "box", "/probe", "fds"], b"x"),
            "exec -i",
        ),
    );
    // A health probe's own descriptors and the processes it can see.
    ctx.b.ok(&[
        "run",
        "-d",
        "--name",
        "hc",
        "-v",
        &ctx.mount,
        "--health-cmd",
        "/probe fds; /probe ps",
        "--health-interval",
        "1s",
        "busybox",
        "sleep",
        "3600",
    ]);
    let mut probe_out = String::new();
    for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(100));
        let o = ctx.b.cmd(&["inspect", "hc"]);
        let v = inspect_json(&stdout(&o));
        if let Some(s) = v
            .first()
            .and_then(|c| c["State"]["Health"]["Log"].as_array())
            .and_then(|l| l.last())
            .and_then(|r| r["Output"].as_str())
        {
            probe_out = s.to_string();
            break;
        }
    }
    let _ = ctx.b.cmd(&["rm", "-f", "hc"]);
    let first = probe_out.lines().next().unwrap_or("").to_string();
    t.record(
        &u,
        "descriptors: health probe",
        if probe_out.is_empty() {
            Skipped("the health probe never reported".into())
        } else if first == "0 1 2" {
            Held(first)
        } else {
            Escape(format!("a health probe sees descriptors {first}"))
        },
    );
    t.record(
        &u,
        "monitor invisible to a health probe",
        if probe_out.contains("__berth-monitor") {
            Escape("the monitor is visible in the container".into())
        } else if probe_out.is_empty() {
            Skipped("the health probe never reported".into())
        } else {
            Held("no berth monitor in the container's /proc".into())
        },
    );
    // The working directory through a descriptor berth holds, or one the
    // caller left open (fd 7: a host directory, as a shell script might).
    let host = ctx.host_dir();
    let berth = ctx.b.program().to_string_lossy().into_owned();
    let with_fd_7 = |args: &[&str]| {
        let script = format!("exec 7<'{}'; exec \"$0\" \"$@\"", host.display());
        let mut a = vec!["-c", script.as_str(), berth.as_str()];
        a.extend_from_slice(args);
        run(ctx.b.user_command(Path::new("/bin/sh"), &a))
    };
    for (name, via_exec) in [
        ("cwd: run -w /proc/self/fd/N", false),
        ("cwd: exec -w /proc/self/fd/N", true),
    ] {
        let mut verdict = Held("refused or inside for N = 3..9".into());
        for n in 3..10 {
            let w = format!("/proc/self/fd/{n}");
            let o = if via_exec {
                with_fd_7(&["exec", "-w", &w, "box", "/probe", "cwd"])
            } else {
                with_fd_7(&[
                    "run", "--rm", "-w", &w, "-v", &ctx.mount, "busybox", "/probe", "cwd",
                ])
            };
            if o.status.success() && out(&o).starts_with("OUTSIDE") {
                verdict = Escape(format!("-w {w}: {}", out(&o)));
                break;
            }
        }
        t.record(&u, name, verdict);
    }
    let o = ctx.exec(&["sh", "-c", "cd / && /probe cwd"]);
    t.record(
        &u,
        "cwd: exec's default",
        if out(&o).starts_with("inside") {
            Held(out(&o))
        } else {
            Escape(out(&o))
        },
    );
}

/// The host binary inside the container (runc CVE-2019-5736): an exec'd
/// `#!/proc/self/exe` script runs berth itself in the container, where a
/// watcher opens it through /proc/PID/exe. It must never be writable, even
/// when the user owns the binary (a copy in ~/bin).
fn host_binary(ctx: &Ctx, t: &mut Tally) {
    let u = ctx.user().to_string();
    let own = ctx.b.dir.join("berth-own");
    std::fs::copy(ctx.b.program(), &own).unwrap();
    ctx.chown_to_user(&own);
    std::fs::set_permissions(&own, std::fs::Permissions::from_mode(0o755)).unwrap();
    let berth = |args: &[&str]| run(ctx.b.user_command(&own, args));
    let _ = berth(&["rm", "-f", "cve"]);
    let o = berth(&[
        "run", "-d", "--name", "cve", "-v", &ctx.mount, "busybox", "sleep", "3600",
    ]);
    if !o.status.success() {
        t.record(&u, "host binary: #!/proc/self/exe", Skipped(show(&o)));
        return;
    }
    // What a glibc image has: the loader and libraries berth needs.
    let ldd = Command::new("ldd").arg(&own).output().unwrap();
    for lib in stdout(&ldd)
        .split_whitespace()
        .filter(|w| w.starts_with('/'))
    {
        let dir = Path::new(lib)
            .parent()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        berth(&["exec", "cve", "mkdir", "-p", &dir]);
        berth(&["cp", "-L", lib, &format!("cve:{lib}")]);
    }
    berth(&[
        "exec",
        "cve",
        "sh",
        "-c",
        "printf '#!/proc/self/exe login\\n' > /evil && chmod 755 /evil",
    ]);
    // The berth that `/evil` starts fails at once (`login /evil` is no
    // registry), living a few milliseconds: the watcher, polling every
    // millisecond, may miss one run, so /evil runs until it is seen (each
    // run is a fresh chance for the host binary to be exposed).
    let watcher = berth(&[
        "exec",
        "-d",
        "cve",
        "sh",
        "-c",
        "/probe watch-exes 60 > /tmp/watch 2>&1",
    ]);
    std::thread::sleep(Duration::from_millis(300));
    let mut watch = String::new();
    let mut last = String::new();
    let mut runs = 0;
    for _ in 0..40 {
        let mut cmd = ctx.b.user_command(&own, &["exec", "-i", "cve", "/evil"]);
        cmd.stdin(Stdio::null());
        let evil = run(cmd);
        runs += 1;
        let o = berth(&["exec", "cve", "cat", "/tmp/watch"]);
        watch = out(&o);
        if !watch.is_empty() {
            break;
        }
        last = format!(
            "/evil: {}; reading the watcher's output: {}",
            show(&evil),
            show(&o)
        );
    }
    t.record(
        &u,
        "host binary: #!/proc/self/exe",
        if watch.contains("WRITABLE") {
            Escape(format!(
                "berth's binary is writable from the container: {watch}"
            ))
        } else if watch.starts_with("seen 0") || watch.is_empty() {
            Skipped(format!(
                "no berth process was seen in the container in {runs} runs of /evil \
                 ({watch}); the probe proves nothing; the watcher's exec -d: {}; {last}",
                show(&watcher)
            ))
        } else {
            Held(format!("{watch} (run {runs} of /evil)"))
        },
    );
    // Whatever runs as pid 1 with --init, and every process visible.
    let _ = berth(&["rm", "-f", "cve"]);
    let _ = berth(&["rm", "-f", "ini"]);
    berth(&[
        "run", "-d", "--init", "--name", "ini", "-v", &ctx.mount, "busybox", "sleep", "3600",
    ]);
    let o = berth(&["exec", "ini", "/probe", "foreign-exes"]);
    let s = out(&o);
    t.record(
        &u,
        "host binary: /proc/*/exe with --init",
        if s.contains("WRITABLE") {
            Escape(s)
        } else if s.starts_with("seen") {
            Held(s)
        } else {
            Skipped(show(&o))
        },
    );
    let o = berth(&["exec", "ini", "/probe", "write", "/proc/1/exe"]);
    t.record(
        &u,
        "host binary: open /proc/1/exe for writing",
        denied("writing /proc/1/exe", &o),
    );
    let _ = berth(&["rm", "-f", "ini"]);
}

/// A pseudo-terminal standing for the user's: its slave end as stdin of
/// `berth ARGS`, made the controlling terminal (as an interactive shell's).
fn on_a_terminal(ctx: &Ctx, args: &[&str]) -> Output {
    let pty = nix::pty::openpty(None, None).expect("openpty");
    let berth = ctx.b.program().to_string_lossy().into_owned();
    let mut a = vec!["-c", berth.as_str()];
    a.extend_from_slice(args);
    let mut cmd = ctx.b.user_command(Path::new("/usr/bin/setsid"), &a);
    cmd.stdin(Stdio::from(pty.slave));
    // Keep the master open until the command is done.
    let o = run(cmd);
    drop(pty.master);
    o
}

/// The caller's terminal: never handed to a container or an exec'd
/// process without -t, and TIOCSTI refused.
fn terminal(ctx: &Ctx, t: &mut Tally) {
    let u = ctx.user().to_string();
    let verdict = |o: &Output, what: &str| {
        let s = out(o);
        if !s.contains("fd0") {
            Skipped(format!("{what}: {}", show(o)))
        } else if s.contains("INJECTED") || s.contains(" terminal") || s.contains("devtty opened") {
            Escape(format!("{what}: {s}"))
        } else {
            Held(s)
        }
    };
    let o = on_a_terminal(ctx, &["exec", "box", "/probe", "tty"]);
    t.record(&u, "terminal: exec", verdict(&o, "exec"));
    let o = on_a_terminal(ctx, &["exec", "-i", "box", "/probe", "tty"]);
    t.record(&u, "terminal: exec -i", verdict(&o, "exec -i"));
    let mount = ctx.mount.clone();
    let o = on_a_terminal(
        ctx,
        &["run", "--rm", "-v", &mount, "busybox", "/probe", "tty"],
    );
    t.record(&u, "terminal: run", verdict(&o, "run"));
    // A process left behind after exec returned.
    on_a_terminal(
        ctx,
        &[
            "exec",
            "box",
            "sh",
            "-c",
            "(sleep 1; /probe tty > /tmp/bg 2>&1) &",
        ],
    );
    std::thread::sleep(Duration::from_millis(1800));
    let o = ctx.exec(&["cat", "/tmp/bg"]);
    t.record(
        &u,
        "terminal: left behind by exec",
        verdict(&o, "background"),
    );
}

/// The caller's session keyring: a fresh one per container and exec, and
/// the keyring syscalls blocked by the default profile.
fn keyring(ctx: &Ctx, t: &mut Tally) {
    let u = ctx.user().to_string();
    let key = "berth-escape-secret";
    let berth = ctx.b.program().to_string_lossy().into_owned();
    let probe = ctx.probe.to_string_lossy().into_owned();
    let with_key = |args: &[&str]| {
        let mut a = vec!["keyring-host", key, "s3cr3t", berth.as_str()];
        a.extend_from_slice(args);
        run(ctx.b.user_command(Path::new(&probe), &a))
    };
    let verdict = |o: &Output| {
        let s = out(o);
        if s.starts_with("FOUND") {
            Escape(format!("the caller's key was read: {s}"))
        } else if s.starts_with("not-found") {
            Held(s)
        } else {
            Skipped(show(o))
        }
    };
    let mount = ctx.mount.clone();
    let o = with_key(&[
        "run",
        "--rm",
        "-v",
        &mount,
        "busybox",
        "/probe",
        "keyring-find",
        key,
    ]);
    t.record(&u, "keyring: run", verdict(&o));
    let o = with_key(&[
        "run",
        "--rm",
        "--security-opt",
        "seccomp=unconfined",
        "-v",
        &mount,
        "busybox",
        "/probe",
        "keyring-find",
        key,
    ]);
    t.record(&u, "keyring: run, seccomp unconfined", verdict(&o));
    let o = with_key(&["exec", "box", "/probe", "keyring-find", key]);
    t.record(&u, "keyring: exec", verdict(&o));
}

/// Syscalls Docker's default profile blocks.
fn syscalls(ctx: &Ctx, t: &mut Tally) {
    let u = ctx.user().to_string();
    for call in [
        "keyctl",
        "add_key",
        "request_key",
        "bpf",
        "io_uring_setup",
        "userfaultfd",
        "unshare-user",
    ] {
        let o = ctx.exec(&["/probe", call]);
        t.record(&u, &format!("syscall: {call}"), denied(call, &o));
    }
    let o = ctx.exec(&["/probe", "mount", "/mnt"]);
    t.record(&u, "syscall: mount", denied("mount", &o));
    for masked in ["/proc/kcore", "/proc/keys", "/sys/firmware"] {
        let o = ctx.exec(&["/probe", "umount", masked]);
        t.record(&u, &format!("umount {masked}"), denied("umount", &o));
    }
    // Docker's masked paths that this kernel has: empty in the container.
    for masked in [
        "/proc/kcore",
        "/proc/keys",
        "/proc/timer_list",
        "/proc/interrupts",
        "/proc/sched_debug",
    ] {
        if !Path::new(masked).exists() {
            continue;
        }
        let o = ctx.exec(&["wc", "-c", masked]);
        t.record(
            &u,
            &format!("masked: {masked} is empty"),
            if out(&o).starts_with("0 ") {
                Held(out(&o))
            } else {
                Escape(format!("{masked}: {}", show(&o)))
            },
        );
    }
}

/// Writes to /proc/sys, /proc/sysrq-trigger and /sys.
fn kernel_files(ctx: &Ctx, t: &mut Tally) {
    let u = ctx.user().to_string();
    // The first of each kind that this kernel has.
    for (name, paths) in [
        (
            "write /proc/sys",
            &["/proc/sys/kernel/domainname", "/proc/sys/vm/drop_caches"][..],
        ),
        ("write /proc/sysrq-trigger", &["/proc/sysrq-trigger"][..]),
        (
            "write /sys",
            &[
                "/sys/kernel/uevent_helper",
                "/sys/kernel/rcu_expedited",
                "/sys/kernel/profiling",
            ][..],
        ),
    ] {
        let Some(path) = paths.iter().find(|p| Path::new(p).exists()) else {
            // Nothing to write to: procfs and sysfs show the kernel's files.
            t.record(&u, name, Held(format!("this kernel has none of {paths:?}")));
            continue;
        };
        let o = ctx.exec(&["/probe", "write", path]);
        t.record(&u, &format!("{name} ({path})"), denied(path, &o));
    }
}

/// berth's monitor: not visible in the container, not traceable.
fn monitor(ctx: &Ctx, t: &mut Tally) {
    let u = ctx.user().to_string();
    let id = out(&ctx.b.cmd(&["inspect", "--format", "{{.Id}}", "box"]));
    let state = std::fs::read_to_string(ctx.b.root.join("containers").join(&id).join("state.json"))
        .unwrap_or_default();
    let state: serde_json::Value = serde_json::from_str(&state).unwrap_or_default();
    let Some(pid) = state["monitor_pid"].as_i64().filter(|p| *p > 0) else {
        t.record(
            &u,
            "ptrace the monitor",
            Skipped("no monitor pid in state.json".into()),
        );
        return;
    };
    let o = ctx.exec(&["/probe", "ptrace", &pid.to_string()]);
    t.record(&u, "ptrace the monitor", denied("ptrace", &o));
    let o = ctx.exec(&["/probe", "ps"]);
    t.record(
        &u,
        "monitor not in the pid namespace",
        if stdout(&o).contains("__berth-monitor") {
            Escape("the container sees its monitor".into())
        } else if o.status.success() {
            Held("not visible".into())
        } else {
            Skipped(show(&o))
        },
    );
}

/// Writing outside a bind mount through symlinks and `..`.
fn binds(ctx: &Ctx, t: &mut Tally) {
    let u = ctx.user().to_string();
    let src = ctx.host_dir();
    let outside = ctx.host_dir();
    let bind = format!("{}:/data", src.display());
    let script = format!(
        "ln -s {o} /data/esc; echo x > /data/esc/f; mkdir -p /data/a; \
         echo y > /data/a/../../../../../../../{o}/g; echo z > /data/../{o}/h; \
         ln -s ../../../../../../../../{o} /data/rel; echo w > /data/rel/i; true",
        o = outside.display()
    );
    ctx.b
        .cmd(&["run", "--rm", "-v", &bind, "busybox", "sh", "-c", &script]);
    t.record(
        &u,
        "bind: symlinks and .. out of it",
        if dir_is_empty(&outside) {
            Held("nothing written outside".into())
        } else {
            Escape(format!("{} was written to", outside.display()))
        },
    );
}

/// `cp` both ways, `-L`, running and stopped, export, diff, commit
/// (Docker CVE-2018-15664), and set-id bits copied out.
fn copies(ctx: &Ctx, t: &mut Tally) {
    let u = ctx.user().to_string();
    let secret = ctx.host_file("HOST-SECRET");
    let outside = ctx.host_dir();
    let setup = format!(
        "ln -s {s} /lnk; ln -s {o} /into; ln -s {o} /lnkdir; cp /bin/busybox /suid; \
         chmod 4755 /suid",
        s = secret.display(),
        o = outside.display()
    );
    let _ = ctx.b.cmd(&["rm", "-f", "stopped", "running"]);
    ctx.b
        .ok(&["run", "--name", "stopped", "busybox", "sh", "-c", &setup]);
    ctx.b.ok(&[
        "run",
        "-d",
        "--name",
        "running",
        "busybox",
        "sh",
        "-c",
        &format!("{setup}; sleep 3600"),
    ]);
    std::thread::sleep(Duration::from_millis(300));
    let dest = ctx.host_dir();
    for c in ["stopped", "running"] {
        let target = dest.join(format!("from-{c}"));
        let o = ctx.b.cmd(&[
            OsArg::from("cp"),
            "-L".into(),
            format!("{c}:/lnk").into(),
            target.clone().into(),
        ]);
        let got = std::fs::read_to_string(&target).unwrap_or_default();
        t.record(
            &u,
            &format!("cp -L out of a {c} container"),
            if got.contains("HOST-SECRET") {
                Escape(format!("a host file was copied out: {}", show(&o)))
            } else {
                Held(if o.status.success() {
                    "copied the container's own file".into()
                } else {
                    stderr(&o).trim().to_string()
                })
            },
        );
        let file = ctx.b.write_file("payload", "PAYLOAD");
        let _ = ctx.b.cmd(&[
            OsArg::from("cp"),
            file.clone().into(),
            format!("{c}:/into/").into(),
        ]);
        let _ = ctx.b.cmd(&[
            OsArg::from("cp"),
            file.into(),
            format!("{c}:/into/payload2").into(),
        ]);
        t.record(
            &u,
            &format!("cp into a {c} container through a link"),
            if dir_is_empty(&outside) {
                Held("stayed inside".into())
            } else {
                Escape(format!("{} was written to", outside.display()))
            },
        );
    }
    std::fs::write(outside.join("hostfile"), "HOST-SECRET").unwrap();
    let o = ctx.b.cmd(&["export", "stopped"]);
    t.record(
        &u,
        "export",
        if String::from_utf8_lossy(&o.stdout).contains("HOST-SECRET") {
            Escape("the archive holds a host file".into())
        } else if o.status.success() {
            Held("no host content".into())
        } else {
            Skipped(show(&o))
        },
    );
    let o = ctx.b.cmd(&["diff", "stopped"]);
    t.record(
        &u,
        "diff",
        if stdout(&o).contains("hostfile") {
            Escape(format!("diff lists a host file: {}", out(&o)))
        } else if o.status.success() {
            Held("no host path".into())
        } else {
            Skipped(show(&o))
        },
    );
    let o = ctx.b.cmd(&["commit", "stopped", "committed:escape"]);
    let saved = ctx.b.cmd(&["save", "committed:escape"]);
    t.record(
        &u,
        "commit",
        if String::from_utf8_lossy(&saved.stdout).contains("HOST-SECRET") {
            Escape("the committed image holds a host file".into())
        } else if o.status.success() && saved.status.success() {
            Held("no host content".into())
        } else {
            Skipped(format!("{} {}", show(&o), show(&saved)))
        },
    );
    // Set-id bits: never onto a place others reach; kept with -a only
    // where nobody else can reach them.
    let open_dir = open_to_others(ctx);
    let target = open_dir.join("suid");
    let _ = ctx.b.cmd(&[
        OsArg::from("cp"),
        "stopped:/suid".into(),
        target.clone().into(),
    ]);
    let target_a = open_dir.join("suid-a");
    let _ = ctx.b.cmd(&[
        OsArg::from("cp"),
        "-a".into(),
        "stopped:/suid".into(),
        target_a.clone().into(),
    ]);
    let mode = |p: &Path| std::fs::metadata(p).map(|m| m.permissions().mode()).ok();
    t.record(
        &u,
        "cp out: set-id bits",
        match (mode(&target), mode(&target_a)) {
            (Some(m), Some(a)) if m & 0o6000 == 0 && a & 0o6000 == 0 => {
                Held(format!("{m:o} and {a:o}"))
            }
            (Some(m), Some(a)) => Escape(format!(
                "a set-id program landed where others reach it: {m:o}, -a {a:o}"
            )),
            _ => Skipped("the copy failed".into()),
        },
    );
    let _ = ctx.b.cmd(&["rm", "-f", "stopped", "running"]);
    let _ = ctx.b.cmd(&["rmi", "committed:escape"]);
}

/// Volume copy-up racing a container that plants links in the volume.
fn volume_copy_up(ctx: &Ctx, t: &mut Tally) {
    let u = ctx.user().to_string();
    let victim = ctx.host_file("ORIGINAL");
    let _ = ctx.b.cmd(&["rm", "-f", "mk", "planter"]);
    // An image with 500 files under /data/d.
    let script = "mkdir -p /data/d && /probe make-files /data/d 500 IMAGE";
    ctx.b.ok(&[
        "run", "--name", "mk", "-v", &ctx.mount, "busybox", "sh", "-c", script,
    ]);
    ctx.b.ok(&["commit", "mk", "filled:escape"]);
    ctx.b.ok(&["rm", "-f", "mk"]);
    let _ = ctx.b.cmd(&["volume", "rm", "-f", "race"]);
    ctx.b.ok(&["volume", "create", "race"]);
    let victim_s = victim.to_string_lossy().into_owned();
    ctx.b.ok(&[
        "run",
        "-d",
        "--name",
        "planter",
        "-v",
        "race:/data",
        "-v",
        &ctx.mount,
        "busybox",
        "/probe",
        "plant",
        "/data/d",
        "500",
        &victim_s,
    ]);
    std::thread::sleep(Duration::from_millis(300));
    let o = ctx
        .b
        .cmd(&["run", "--rm", "-v", "race:/data", "filled:escape", "true"]);
    let content = std::fs::read_to_string(&victim).unwrap_or_default();
    let planted = out(&ctx.b.cmd(&["logs", "planter"]));
    t.record(
        &u,
        "volume copy-up through planted links",
        if content != "ORIGINAL" {
            Escape(format!("the host file now holds {content:?}"))
        } else if planted.starts_with("planted") {
            Held(format!(
                "{planted}; the copy {}",
                if o.status.success() { "ran" } else { "failed" }
            ))
        } else {
            Skipped(format!("the planter did not run: {planted} {}", show(&o)))
        },
    );
    let _ = ctx.b.cmd(&["rm", "-f", "planter"]);
    let _ = ctx.b.cmd(&["volume", "rm", "-f", "race"]);
    let _ = ctx.b.cmd(&["rmi", "filled:escape"]);
}

/// Hostile layers and archives.
fn hostile_layers(ctx: &Ctx, t: &mut Tally) {
    let u = ctx.user().to_string();
    let base = archive::busybox_layers(&fixture("busybox.tar"));
    let canary = ctx.host_dir();
    let victim = ctx.host_file("ORIGINAL");
    let c = canary.to_string_lossy().into_owned();
    let c_rel = c.trim_start_matches('/').to_string();
    let v = victim.to_string_lossy().into_owned();
    let v_rel = v.trim_start_matches('/').to_string();
    let up = "../../../../../../../../../../..";
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "layer: .. in names",
            archive::layer(&[Entry::File(&format!("{up}/{c_rel}/dotdot"), 0o644, b"x")]),
        ),
        (
            "layer: absolute symlink out",
            archive::layer(&[
                Entry::Symlink("abs", &c),
                Entry::File("abs/through", 0o644, b"x"),
            ]),
        ),
        (
            "layer: relative symlink out",
            archive::layer(&[
                Entry::Symlink("rel", &format!("{up}/{c_rel}")),
                Entry::File("rel/through", 0o644, b"x"),
            ]),
        ),
        (
            "layer: hard link out",
            archive::layer(&[
                Entry::Hardlink("hl", &format!("{up}/{v_rel}")),
                Entry::Hardlink("hl2", &v),
            ]),
        ),
        (
            "layer: symlink then file",
            archive::layer(&[
                Entry::Symlink("sf", &v),
                Entry::File("sf", 0o644, b"PWNED"),
                Entry::Symlink("sd", &c),
                Entry::Dir("sd"),
                Entry::File("sd/x", 0o644, b"PWNED"),
            ]),
        ),
        (
            "layer: whiteouts naming ..",
            archive::layer(&[
                Entry::File(".wh...", 0o644, b""),
                Entry::Dir("w"),
                Entry::File("w/.wh...", 0o644, b""),
                Entry::File(&format!("{up}/{c_rel}/.wh.x"), 0o644, b""),
            ]),
        ),
    ];
    std::fs::write(canary.join("x"), "keep").unwrap();
    for (i, (name, hostile)) in cases.into_iter().enumerate() {
        let mut layers = base.clone();
        layers.push(hostile);
        let tag = format!("hostile{i}:escape");
        let o = ctx.load(&archive::docker_archive(&tag, &layers, None, |_| {}));
        let mut notes = if o.status.success() {
            "loaded".to_string()
        } else {
            format!("refused: {}", stderr(&o).trim())
        };
        if o.status.success() {
            // Inside, every path stays in the image.
            let r = ctx.b.cmd(&[
                "run",
                "--rm",
                &tag,
                "sh",
                "-c",
                "cat /hl /hl2 /sf 2>/dev/null; ls /abs /rel 2>/dev/null",
            ]);
            if stdout(&r).contains("ORIGINAL") {
                t.record(&u, name, Escape("the container reads a host file".into()));
                let _ = ctx.b.cmd(&["rmi", "-f", &tag]);
                continue;
            }
            notes.push_str("; nothing of the host inside");
        }
        let canary_ok = std::fs::read_dir(&canary)
            .map(|d| d.flatten().map(|e| e.file_name()).collect::<Vec<_>>())
            .unwrap_or_default()
            == vec![std::ffi::OsString::from("x")];
        let victim_ok = std::fs::read_to_string(&victim).unwrap_or_default() == "ORIGINAL";
        t.record(
            &u,
            name,
            if canary_ok && victim_ok {
                Held(notes)
            } else {
                Escape(format!(
                    "host files changed (canary intact: {canary_ok}, victim intact: {victim_ok})"
                ))
            },
        );
        let _ = ctx.b.cmd(&["rmi", "-f", &tag]);
    }
    // A set-id program in a layer: never reachable by other users.
    let mut layers = base.clone();
    layers.push(archive::layer(&[Entry::File(
        "suid-prog",
        0o4755,
        b"#!/bin/sh\n",
    )]));
    let o = ctx.load(&archive::docker_archive(
        "suid:escape",
        &layers,
        None,
        |_| {},
    ));
    let found = find_setid(&ctx.b.root);
    t.record(
        &u,
        "layer: set-id file in the store",
        if !o.status.success() {
            Skipped(show(&o))
        } else if let Some(p) = found.iter().find(|p| reachable_by_others(p)) {
            Escape(format!("{} is reachable by other users", p.display()))
        } else {
            Held(format!(
                "{} set-id files, none reachable by others",
                found.len()
            ))
        },
    );
    let _ = ctx.b.cmd(&["rmi", "-f", "suid:escape"]);
    // Manifest paths escaping the archive.
    let mut layers = base.clone();
    layers.push(archive::layer(&[Entry::File("f", 0o644, b"x")]));
    let vv = v.clone();
    let o = ctx.load(&archive::docker_archive(
        "manifest:escape",
        &layers,
        None,
        move |m| {
            m[0]["Config"] = serde_json::json!(format!("{up}/{}", vv.trim_start_matches('/')));
        },
    ));
    let o2 = ctx.load(&archive::docker_archive(
        "manifest2:escape",
        &layers,
        None,
        |m| {
            // The new layer (the others are in the store already, so never read).
            let last = m[0]["Layers"].as_array().unwrap().len() - 1;
            m[0]["Layers"][last] = serde_json::json!("../../../../../../../../etc/hostname");
        },
    ));
    t.record(
        &u,
        "archive: manifest paths out of it",
        if o.status.success() || o2.status.success() {
            Escape("an archive naming files outside it was loaded".into())
        } else {
            Held(stderr(&o).trim().to_string())
        },
    );
    // A sparse entry: 64 MiB apparent, a few KiB on disk.
    let mut layers = base.clone();
    layers.push(archive::layer(&[Entry::Sparse(
        "sparse",
        (64 << 20) - 512,
        &[7u8; 512],
        64 << 20,
    )]));
    let before = disk_usage(&ctx.b.root);
    let o = ctx.load(&archive::docker_archive(
        "sparse:escape",
        &layers,
        None,
        |_| {},
    ));
    let grew = disk_usage(&ctx.b.root).saturating_sub(before);
    t.record(
        &u,
        "layer: sparse file",
        if !o.status.success() {
            Skipped(show(&o))
        } else if grew > 32 << 20 {
            Escape(format!("the store grew by {} MiB", grew >> 20))
        } else {
            Held(format!("the store grew by {} KiB", grew >> 10))
        },
    );
    let _ = ctx.b.cmd(&["rmi", "-f", "sparse:escape"]);
    // A decompression bomb: 48 MiB of zeros in 50 KiB of gzip.
    let (bomb, bomb_id) = archive::zero_bomb(&ctx.b.scratch_dir(), "zeros", 48 << 20);
    let mut stored: Vec<Vec<u8>> = base.clone();
    let mut ids: Vec<String> = base
        .iter()
        .map(|l| {
            use sha2::Digest;
            format!("sha256:{}", hex::encode(sha2::Sha256::digest(l)))
        })
        .collect();
    stored.push(bomb);
    ids.push(bomb_id);
    let bomb_archive = archive::docker_archive_by_id("bomb:escape", &stored, &ids);
    let dir = ctx.b.scratch_dir();
    let path = dir.join("bomb.tar");
    std::fs::write(&path, &bomb_archive).unwrap();
    ctx.chown_to_user(&path);
    let mut cmd = ctx
        .b
        .command(&[OsArg::from("load"), "-i".into(), path.clone().into()]);
    cmd.env("BERTH_MAX_LAYER_SIZE", "16M");
    let o = run(cmd);
    t.record(
        &u,
        "layer: decompression bomb, limit",
        if o.status.success() {
            Escape("a layer over BERTH_MAX_LAYER_SIZE=16M was loaded".into())
        } else if stderr(&o).contains("BERTH_MAX_LAYER_SIZE") {
            Held(stderr(&o).trim().to_string())
        } else {
            Skipped(show(&o))
        },
    );
    let before = disk_usage(&ctx.b.root);
    let o = ctx.b.cmd(&[OsArg::from("load"), "-i".into(), path.into()]);
    let grew = disk_usage(&ctx.b.root).saturating_sub(before);
    t.record(
        &u,
        "layer: decompression bomb, disk",
        if !o.status.success() {
            Skipped(show(&o))
        } else if grew > 24 << 20 {
            Escape(format!("48 MiB of zeros took {} MiB of disk", grew >> 20))
        } else {
            Held(format!("the store grew by {} KiB", grew >> 10))
        },
    );
    let _ = ctx.b.cmd(&["rmi", "-f", "bomb:escape"]);
}

/// Devices: an image's device nodes never open, and root's containers
/// cannot make host devices.
fn devices(ctx: &Ctx, t: &mut Tally) {
    let u = ctx.user().to_string();
    // The block device of the filesystem the store is on.
    use std::os::unix::fs::MetadataExt;
    let dev = std::fs::metadata(&ctx.b.root).unwrap().dev();
    let (major, minor) = (libc_major(dev), libc_minor(dev));
    let o = ctx.exec(&[
        "/probe",
        "mknod-open",
        "/tmp/disk",
        "b",
        &major.to_string(),
        &minor.to_string(),
    ]);
    t.record(
        &u,
        "devices: mknod the host's disk",
        denied("opening a host disk", &o),
    );
    let base = archive::busybox_layers(&fixture("busybox.tar"));
    let mut layers = base;
    layers.push(archive::layer(&[
        Entry::Char("mem", 1, 1),
        Entry::Block("disk", major, minor),
    ]));
    let o = ctx.load(&archive::docker_archive(
        "devices:escape",
        &layers,
        None,
        |_| {},
    ));
    if !o.status.success() {
        t.record(&u, "devices: from an image", Skipped(show(&o)));
        return;
    }
    for node in ["/mem", "/disk"] {
        let o = ctx.b.cmd(&[
            "run",
            "--rm",
            "-v",
            &ctx.mount,
            "devices:escape",
            "/probe",
            "open-read",
            node,
        ]);
        let s = out(&o);
        t.record(
            &u,
            &format!("devices: {node} from an image"),
            if s.starts_with("denied") {
                Held(s)
            } else if s == "allowed" {
                Escape(format!("{node} opened"))
            } else {
                Skipped(show(&o))
            },
        );
    }
    let _ = ctx.b.cmd(&["rmi", "-f", "devices:escape"]);
}

/// Docker's device set in `/dev`; the nodes `/dev` may hold.
const DOCKER_DEVICES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
    "/dev/tty",
    "/dev/console",
    "/dev/ptmx",
    "/dev/pts/ptmx",
];

/// Mount propagation (nothing of the container's is shared with the
/// host's mounts) and a minimal `/dev`, as Docker's.
fn mounts(ctx: &Ctx, t: &mut Tally) {
    let u = ctx.user().to_string();
    let o = ctx.exec(&["cat", "/proc/self/mountinfo"]);
    let info = stdout(&o);
    t.record(
        &u,
        "mounts: no shared propagation",
        if !o.status.success() || info.is_empty() {
            Skipped(show(&o))
        } else if let Some(line) = info.lines().find(|l| {
            // Optional fields sit between the mount options and " - ".
            let head = l.split(" - ").next().unwrap_or("");
            head.split(' ').skip(6).any(|f| f.starts_with("shared:"))
        }) {
            Escape(format!("a mount propagates to the host: {line}"))
        } else {
            Held(format!("{} mounts, none shared", info.lines().count()))
        },
    );
    // Every device node under /dev, with its type.
    let o = ctx.exec(&[
        "sh",
        "-c",
        "find /dev -xdev \\( -type c -o -type b \\) 2>/dev/null; find /dev/pts -type c",
    ]);
    let nodes = stdout(&o);
    let extra: Vec<&str> = nodes
        .lines()
        .filter(|n| !DOCKER_DEVICES.contains(n))
        // The pty of a terminal session: /dev/pts/N.
        .filter(|n| {
            !n.strip_prefix("/dev/pts/")
                .is_some_and(|k| k.chars().all(|c| c.is_ascii_digit()))
        })
        .collect();
    t.record(
        &u,
        "mounts: /dev holds Docker's devices only",
        if !o.status.success() || nodes.is_empty() {
            Skipped(show(&o))
        } else if extra.is_empty() {
            Held(format!("{} nodes", nodes.lines().count()))
        } else {
            Escape(format!("devices beyond Docker's set: {extra:?}"))
        },
    );
}

/// `--landlock`: a container cannot reach the host's abstract sockets.
fn landlock(ctx: &Ctx, t: &mut Tally) {
    let u = ctx.user().to_string();
    let name = format!("berth-escape-{}-{}", std::process::id(), ctx.b.user.uid);
    let mut listener = Command::new("python3")
        .args([
            "-c",
            "import socket,sys,time; s=socket.socket(socket.AF_UNIX); s.bind('\\0'+sys.argv[1]); \
             s.listen(); print('ready', flush=True); time.sleep(60)",
            &name,
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut ready = [0u8; 5];
    let _ = listener.stdout.as_mut().unwrap().read_exact(&mut ready);
    // The default network is private (abstract sockets belong to a network
    // namespace); on the host's network only Landlock's scoping stops it.
    let private = ctx.run(&["busybox", "/probe", "connect-abstract", &name]);
    let plain = ctx.run(&[
        "--network",
        "host",
        "busybox",
        "/probe",
        "connect-abstract",
        &name,
    ]);
    let locked = ctx.run(&[
        "--network",
        "host",
        "--landlock",
        "busybox",
        "/probe",
        "connect-abstract",
        &name,
    ]);
    let _ = listener.kill();
    let _ = listener.wait();
    t.record(
        &u,
        "default network: host abstract socket",
        denied("connect", &private),
    );
    let s = out(&locked);
    t.record(
        &u,
        "landlock: host abstract socket",
        if out(&plain) != "allowed" {
            Skipped(format!(
                "the socket is not reachable even without --landlock: {}",
                show(&plain)
            ))
        } else if s.starts_with("denied") {
            Held(s)
        } else if s == "allowed" {
            Escape("--landlock let the container reach a host abstract socket".into())
        } else {
            Skipped(show(&locked))
        },
    );
}

/// Another user's store, runtime directory and sockets (as root only:
/// both test users exist).
fn other_users(ctxs: &[Ctx], t: &mut Tally) {
    let (Some(sub), Some(nosub)) = (
        ctxs.iter().find(|c| c.b.user.name == SUB_USER),
        ctxs.iter().find(|c| c.b.user.name == NOSUB_USER),
    ) else {
        t.record(
            "-",
            "other users",
            Skipped("needs root: both test users".into()),
        );
        return;
    };
    let probe = sub.probe.clone();
    let as_nosub = |args: &[&str]| run(nosub.b.user_command(&probe, args));
    let sockets = find_sockets(sub.b.user.uid, &sub.b.root);
    let Some(socket) = sockets.first() else {
        t.record(
            "berth-nosub",
            "another user's attach socket",
            Skipped("no socket of berth-sub found".into()),
        );
        return;
    };
    let o = as_nosub(&["connect", &socket.to_string_lossy()]);
    t.record(
        "berth-nosub",
        "another user's attach socket",
        denied("connect", &o),
    );
    let o = as_nosub(&[
        "open-read",
        &sub.b.root.join("containers").to_string_lossy(),
    ]);
    t.record("berth-nosub", "another user's store", denied("open", &o));
    let run_dir = socket.parent().unwrap().to_string_lossy().into_owned();
    let o = as_nosub(&["open-read", &run_dir]);
    t.record(
        "berth-nosub",
        "another user's runtime directory",
        denied("open", &o),
    );
    squatted_runtime_dir(sub, nosub, t);
    let root = sub.b.root.to_string_lossy().into_owned();
    let o = nosub.b.cmd(&["--root", &root, "ps", "-a"]);
    t.record(
        "berth-nosub",
        "berth --root <another user's store>",
        if o.status.success() && stdout(&o).contains(" box\n") {
            Escape("listed another user's containers".into())
        } else {
            Held(stderr(&o).trim().chars().take(100).collect())
        },
    );
}

/// Runtime directory squatting: with no `XDG_RUNTIME_DIR`, another user
/// made `/tmp/berth-$UID` (mode 0777) before the victim's first run. berth
/// must not use it (the attacker could replace its sockets). In a private
/// `/tmp` (a mount namespace of its own) so that no one else's runs are
/// touched.
fn squatted_runtime_dir(victim: &Ctx, attacker: &Ctx, t: &mut Tally) {
    let name = "runtime directory squatted in /tmp";
    let uid = victim.b.user.uid;
    let sandbox = victim.b.dir.parent().unwrap();
    let script = format!(
        r#"set -e
exec 3<"{sb}"
mount -t tmpfs -o mode=1777 tmpfs /tmp
mkdir -p "{sb}"
mount --no-canonicalize --bind /proc/self/fd/3 "{sb}"
exec 3<&-
setpriv --reuid={auid} --regid={agid} --init-groups -- mkdir -m 0777 /tmp/berth-{uid}
setpriv --reuid={uid} --regid={gid} --init-groups -- env -i HOME="{home}" PATH=/usr/bin:/bin \
    USER={user} BERTH_ROOT="{root}" "{berth}" run --rm busybox echo fine
echo "left: $(ls -A /tmp/berth-{uid}/)"
"#,
        sb = sandbox.display(),
        auid = attacker.b.user.uid,
        agid = attacker.b.user.gid,
        gid = victim.b.user.gid,
        home = victim.b.user.home.display(),
        user = victim.b.user.name,
        root = victim.b.root.display(),
        berth = victim.b.program().display(),
    );
    let mut c = Command::new("unshare");
    c.args(["--mount", "--propagation", "private", "sh", "-c", &script]);
    let o = run(c);
    let verdict = if !stdout(&o).contains("left:") {
        Skipped(format!(
            "the private /tmp could not be set up: {}",
            show(&o)
        ))
    } else if stdout(&o) != "fine\nleft: \n" {
        Escape(format!("berth used the squatted directory: {}", show(&o)))
    } else if !stderr(&o).contains(&format!("not using the runtime directory /tmp/berth-{uid}")) {
        Escape(format!("no warning naming the directory: {}", show(&o)))
    } else {
        Held("not used; warned, owner named".into())
    };
    t.record(victim.user(), name, verdict);
}

/// A directory of the user's that every other user can reach (all its
/// ancestors searchable), unlike the test store's 0700 directory.
fn open_to_others(ctx: &Ctx) -> PathBuf {
    let base = probe_program().parent().unwrap();
    let d = base.join(format!("open-{}", ctx.b.user.name));
    std::fs::create_dir_all(&d).unwrap();
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
    ctx.chown_to_user(&d);
    d
}

fn find_sockets(uid: u32, store: &Path) -> Vec<PathBuf> {
    let mut dirs = vec![
        PathBuf::from(format!("/tmp/berth-{uid}")),
        store.join("run"),
    ];
    if let Ok(x) = std::env::var("XDG_RUNTIME_DIR") {
        dirs.push(PathBuf::from(x).join("berth"));
    }
    let mut out = Vec::new();
    for d in dirs {
        if let Ok(entries) = std::fs::read_dir(&d) {
            for e in entries.flatten() {
                if e.path().extension().is_some_and(|x| x == "sock") {
                    out.push(e.path());
                }
            }
        }
    }
    out
}

fn find_setid(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(m) = e.metadata() else { continue };
            if m.is_dir() {
                stack.push(e.path());
            } else if m.is_file() && m.permissions().mode() & 0o6000 != 0 {
                out.push(e.path());
            }
        }
    }
    out
}

/// Whether every directory above `p` lets others (or the group) search it.
fn reachable_by_others(p: &Path) -> bool {
    p.ancestors()
        .skip(1)
        .all(|d| std::fs::metadata(d).is_ok_and(|m| m.permissions().mode() & 0o011 != 0))
}

/// Bytes allocated under `p` (`du`).
fn disk_usage(p: &Path) -> u64 {
    let o = Command::new("du")
        .args(["-s", "-B1"])
        .arg(p)
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn libc_major(dev: u64) -> u32 {
    (((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0x0000_0fff)) as u32
}

fn libc_minor(dev: u64) -> u32 {
    (((dev >> 12) & 0xffff_ff00) | (dev & 0x0000_00ff)) as u32
}
