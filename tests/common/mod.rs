//! The harness of the integration tests: they run the real `berth` binary
//! the way a user would, against fixture images made without berth
//! (scripts/fixtures.sh).
//!
//! Run as root (as CI does), every command runs as one of the unprivileged
//! test users that scripts/test.sh creates: `berth-sub`, which has a
//! /etc/subuid range, and `berth-nosub`, which has none and so gets a single
//! id mapping. Run as anyone else, commands run as that user. Each [`Berth`]
//! handle has its own fresh store (`BERTH_ROOT`) owned by its user, and a
//! clean environment (HOME, PATH, BERTH_ROOT; no XDG_RUNTIME_DIR, as over
//! `su` or `ssh` on the machines berth is for).
//!
//! Environment:
//! - `BERTH_TEST_FIXTURES`: the fixture directory (default /var/cache/berth-test
//!   as root or when it exists, else ~/.cache/berth-test; busybox fixtures
//!   are built on first use when missing).
//! - `BERTH_TEST_STRICT=1` (set by scripts/test.sh): a missing test user or
//!   Debian fixture fails the test instead of skipping it.
//! - `BERTH_TEST_KEEP=1`: keep the stores of the tests for a post-mortem.
//! - `BERTH_TEST_BINARY`: the berth binary to test (default: this build's).

#![allow(dead_code)] // each test binary uses a different part of the harness

use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The user with a subordinate id range when the tests run as root.
pub const SUB_USER: &str = "berth-sub";
/// The user without one (scripts/test.sh deletes its lines from /etc/subuid).
pub const NOSUB_USER: &str = "berth-nosub";

/// How long one berth command may take before the test calls it hung.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

const PATH_ENV: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Who a [`Berth`] handle runs commands as.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
    /// Whether it has /etc/subuid and /etc/subgid ranges and newuidmap is
    /// installed, i.e. whether berth can map more than one id.
    pub subids: bool,
    /// Whether commands go through `setpriv` (we are root and it is not).
    switch: bool,
}

impl TestUser {
    fn lookup(name: &str, switch: bool) -> Option<TestUser> {
        let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
        let line = passwd.lines().find(|l| l.split(':').next() == Some(name))?;
        let f: Vec<&str> = line.split(':').collect();
        let uid: u32 = f.get(2)?.parse().ok()?;
        let gid: u32 = f.get(3)?.parse().ok()?;
        let home = PathBuf::from(f.get(5)?);
        let subids = has_subid_range("/etc/subuid", name, uid)
            && has_subid_range("/etc/subgid", name, uid)
            && Path::new("/usr/bin/newuidmap").exists()
            && Path::new("/usr/bin/newgidmap").exists();
        Some(TestUser {
            name: name.to_string(),
            uid,
            gid,
            home,
            subids,
            switch,
        })
    }

    fn current() -> TestUser {
        let uid = unsafe_free_geteuid();
        let name = passwd_name(uid).unwrap_or_else(|| uid.to_string());
        let mut user = TestUser::lookup(&name, false).unwrap_or_else(|| TestUser {
            name: name.clone(),
            uid,
            gid: uid,
            home: PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/".into())),
            subids: false,
            switch: false,
        });
        if let Some(home) = std::env::var_os("HOME") {
            user.home = PathBuf::from(home);
        }
        user
    }

    pub fn is_root(&self) -> bool {
        self.uid == 0
    }
}

fn has_subid_range(file: &str, name: &str, uid: u32) -> bool {
    let Ok(text) = std::fs::read_to_string(file) else {
        return false;
    };
    text.lines().any(|l| {
        let mut f = l.split(':');
        let who = f.next().unwrap_or("");
        let count: u64 = f.nth(1).and_then(|c| c.trim().parse().ok()).unwrap_or(0);
        (who == name || who == uid.to_string()) && count > 0
    })
}

fn passwd_name(uid: u32) -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.get(2)?.parse::<u32>().ok()? == uid).then(|| f[0].to_string())
    })
}

/// The effective uid, read from /proc so the harness needs no libc calls.
fn unsafe_free_geteuid() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").expect("reading /proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .expect("parsing the Uid line of /proc/self/status")
}

pub fn running_as_root() -> bool {
    static ROOT: OnceLock<bool> = OnceLock::new();
    *ROOT.get_or_init(|| unsafe_free_geteuid() == 0)
}

fn strict() -> bool {
    std::env::var_os("BERTH_TEST_STRICT").is_some_and(|v| v == "1")
}

fn test_user(name: &str) -> TestUser {
    TestUser::lookup(name, true).unwrap_or_else(|| {
        panic!(
            "the test user {name} does not exist: as root, the integration tests run berth as \
             the unprivileged users {SUB_USER} and {NOSUB_USER}; create them with scripts/test.sh \
             (or run `cargo test` as a non-root user)"
        )
    })
}

/// The users every user-facing behaviour is checked as: both test users
/// when we are root, else ourselves.
pub fn users() -> Vec<TestUser> {
    if running_as_root() {
        let sub = test_user(SUB_USER);
        let nosub = test_user(NOSUB_USER);
        assert!(
            sub.subids,
            "{SUB_USER} has no subordinate id range (or newuidmap is missing): \
             scripts/test.sh sets it up (apt-get install uidmap)"
        );
        assert!(
            !nosub.subids,
            "{NOSUB_USER} must have no range in /etc/subuid and /etc/subgid: \
             scripts/test.sh removes them"
        );
        vec![sub, nosub]
    } else {
        vec![TestUser::current()]
    }
}

/// The first test user: the one with a subordinate id range as root.
pub fn main_user() -> TestUser {
    users().remove(0)
}

/// A user with a subordinate id range, if there is one to test with.
pub fn subid_user() -> Option<TestUser> {
    let user = main_user();
    if user.subids {
        Some(user)
    } else {
        skip_or_fail(&format!(
            "{} has no /etc/subuid range (or newuidmap is missing)",
            user.name
        ));
        None
    }
}

/// Root itself, when the tests run as root.
pub fn root_user() -> Option<TestUser> {
    running_as_root().then(|| TestUser::lookup("root", false).expect("root in /etc/passwd"))
}

/// Reports a test that cannot run here: a failure under BERTH_TEST_STRICT
/// (scripts/test.sh, CI), a visible skip otherwise.
pub fn skip_or_fail(why: &str) {
    if strict() {
        panic!("cannot run this test: {why} (BERTH_TEST_STRICT=1)");
    }
    eprintln!("SKIPPED: {why}");
}

/// Per test binary: a world-traversable directory holding a copy of the
/// binary (target/ may sit under a directory the test users cannot enter)
/// and a `docker` symlink to it; handles put their stores beside it.
struct Sandbox {
    base: PathBuf,
    berth: PathBuf,
    docker: PathBuf,
}

fn sandbox() -> &'static Sandbox {
    static SANDBOX: OnceLock<Sandbox> = OnceLock::new();
    SANDBOX.get_or_init(|| {
        let tmp = sandbox_parent();
        remove_stale_sandboxes(&tmp);
        let base = tmp.join(format!("berth-it-{}", std::process::id()));
        if base.exists() {
            remove_tree(&base);
        }
        std::fs::create_dir_all(base.join("bin")).unwrap_or_else(|e| {
            panic!(
                "creating the test sandbox {}: {e}; set BERTH_TEST_TMPDIR to a writable directory",
                base.display()
            )
        });
        for dir in [&base, &base.join("bin")] {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
                .expect("opening the sandbox to the test users");
        }
        let berth = base.join("bin/berth");
        // BERTH_TEST_BINARY runs the suite against another build (the
        // escape suite against main's, say).
        let built = std::env::var_os("BERTH_TEST_BINARY")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_berth")));
        install_executable(&built, &berth);
        let docker = base.join("bin/docker");
        std::os::unix::fs::symlink("berth", &docker).expect("symlinking docker -> berth");
        Sandbox {
            base,
            berth,
            docker,
        }
    })
}

/// Copies an executable with mode 755 in a child process (`install`).
/// Writing it from this process would leave its write descriptor in any
/// child another test thread forks meanwhile, until that child's exec; an
/// exec of the file in that window fails with "Text file busy" (ETXTBSY,
/// seen in CI). A child process's descriptor is never inherited here.
pub fn install_executable(from: &Path, to: &Path) {
    let out = Command::new("install")
        .args(["-m", "0755"])
        .arg(from)
        .arg(to)
        .output()
        .expect("running install(1)");
    assert_success(
        &out,
        &format!("install {} {}", from.display(), to.display()),
    );
}

/// Where sandboxes go: $BERTH_TEST_TMPDIR, else the temporary directory
/// when we may write there (some machines keep /tmp to root), else
/// ~/.cache.
fn sandbox_parent() -> PathBuf {
    if let Some(dir) = std::env::var_os("BERTH_TEST_TMPDIR").filter(|v| !v.is_empty()) {
        return PathBuf::from(dir);
    }
    let tmp = std::env::temp_dir();
    let probe = tmp.join(format!("berth-it-probe-{}", std::process::id()));
    if std::fs::create_dir(&probe).is_ok() {
        let _ = std::fs::remove_dir(&probe);
        return tmp;
    }
    let cache = TestUser::current().home.join(".cache");
    std::fs::create_dir_all(&cache).expect("creating ~/.cache for the test sandbox");
    cache
}

/// Sandboxes of test processes that are gone (killed, or ended: statics
/// are never dropped, so each run cleans up after the previous ones).
fn remove_stale_sandboxes(tmp: &Path) {
    if std::env::var_os("BERTH_TEST_KEEP").is_some() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix("berth-it-") else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            remove_tree(&e.path());
        }
    }
}

/// Removes a tree that may hold files owned by subordinate ids, which the
/// user who made them cannot delete without entering a user namespace.
pub fn remove_tree(path: &Path) {
    if std::fs::remove_dir_all(path).is_ok() || !path.exists() {
        return;
    }
    // Read-only directories (a layer's) stop remove_dir_all even as owner.
    let _ = Command::new("chmod")
        .args(["-R", "u+rwX"])
        .arg(path)
        .status();
    if std::fs::remove_dir_all(path).is_ok() {
        return;
    }
    if !running_as_root() {
        let _ = Command::new("unshare")
            .args(["--map-root-user", "--map-auto", "rm", "-rf"])
            .arg(path)
            .stderr(Stdio::null())
            .status();
    }
    if path.exists() {
        eprintln!("warning: could not remove {}", path.display());
    }
}

/// A berth user with a fresh store.
pub struct Berth {
    pub user: TestUser,
    /// This handle's directory: the store and scratch directories, all
    /// owned by the user.
    pub dir: PathBuf,
    /// The store (`BERTH_ROOT`).
    pub root: PathBuf,
    /// The program name commands run under: `berth`, or `docker` (a symlink).
    program: PathBuf,
    /// Whether dropping this handle removes `dir` (views made by
    /// [`Berth::as_docker`] share the directory of their origin).
    owns_dir: bool,
}

impl Berth {
    pub fn new(user: &TestUser) -> Berth {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let sb = sandbox();
        let dir = sb.base.join(format!(
            "{}-{}",
            user.name,
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir(&dir).expect("creating a test store directory");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .expect("chmod 700 the store directory");
        let root = dir.join("store");
        std::fs::create_dir(&root).expect("creating a test store");
        if user.switch {
            chown(&dir, user);
            chown(&root, user);
        }
        Berth {
            user: user.clone(),
            dir,
            root,
            program: sb.berth.clone(),
            owns_dir: true,
        }
    }

    /// The same user and store, invoked through a symlink named `docker`.
    pub fn as_docker(&self) -> Berth {
        Berth {
            user: self.user.clone(),
            dir: self.dir.clone(),
            root: self.root.clone(),
            program: sandbox().docker.clone(),
            owns_dir: false,
        }
    }

    /// A command ready to run `berth ARGS` as the user, with a clean
    /// environment; add env or stdin before running it with [`run`].
    /// The berth binary the tests run.
    #[allow(dead_code)]
    pub fn program(&self) -> &Path {
        &self.program
    }

    pub fn command<S: AsRef<OsStr>>(&self, args: &[S]) -> Command {
        self.user_command(&self.program, args)
    }

    /// Any program, run as the user with the environment berth gets.
    pub fn user_command<S: AsRef<OsStr>>(&self, program: &Path, args: &[S]) -> Command {
        let mut cmd = if self.user.switch {
            let mut c = Command::new("setpriv");
            c.arg(format!("--reuid={}", self.user.uid))
                .arg(format!("--regid={}", self.user.gid))
                .arg("--init-groups")
                .arg("--")
                .arg(program);
            c
        } else {
            Command::new(program)
        };
        cmd.args(args)
            .env_clear()
            .env("HOME", &self.user.home)
            .env("PATH", PATH_ENV)
            .env("USER", &self.user.name)
            .env("LOGNAME", &self.user.name)
            .env("BERTH_ROOT", &self.root)
            .current_dir(&self.dir)
            .stdin(Stdio::null());
        // Its own process group, so that a hung command is killed whole.
        cmd.process_group(0);
        cmd
    }

    /// Runs `berth ARGS` and returns what it did, whatever the outcome.
    #[track_caller]
    pub fn cmd<S: AsRef<OsStr>>(&self, args: &[S]) -> Output {
        run(self.command(args))
    }

    /// Runs `berth ARGS` with the given bytes on its stdin.
    #[track_caller]
    pub fn cmd_stdin<S: AsRef<OsStr>>(&self, args: &[S], input: &[u8]) -> Output {
        run_with_input(self.command(args), input)
    }

    /// Runs `berth ARGS`, asserts that it succeeded, and returns its stdout.
    #[track_caller]
    pub fn ok<S: AsRef<OsStr>>(&self, args: &[S]) -> String {
        let out = self.cmd(args);
        assert_success(&out, &self.describe(args));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs `berth ARGS` and asserts the exit status.
    #[track_caller]
    pub fn status<S: AsRef<OsStr>>(&self, args: &[S], code: i32) -> Output {
        let out = self.cmd(args);
        assert_status(&out, code, &self.describe(args));
        out
    }

    /// Runs `berth ARGS` and asserts that it failed.
    #[track_caller]
    pub fn fails<S: AsRef<OsStr>>(&self, args: &[S]) -> Output {
        let out = self.cmd(args);
        assert!(
            !out.status.success(),
            "{} succeeded but should have failed\n{}",
            self.describe(args),
            show(&out)
        );
        out
    }

    /// `berth load -i FIXTURE`, asserted to succeed; returns its stdout.
    #[track_caller]
    pub fn load(&self, fixture_name: &str) -> String {
        let path = fixture(fixture_name);
        self.ok(&[OsStr::new("load"), OsStr::new("-i"), path.as_os_str()])
    }

    /// `berth load -i busybox.tar`: busybox:latest in the store.
    #[track_caller]
    pub fn load_busybox(&self) {
        let out = self.load("busybox.tar");
        assert!(
            out.contains("Loaded image: busybox:latest"),
            "load printed {out:?}"
        );
    }

    /// The full `sha256:` id of an image, from `inspect`.
    #[track_caller]
    pub fn image_id(&self, image: &str) -> String {
        self.ok(&["image", "inspect", "--format", "{{.Id}}", image])
            .trim()
            .to_string()
    }

    /// The stdout of `berth run --rm IMAGE ARGS...`, asserted to succeed.
    #[track_caller]
    pub fn run_rm(&self, image: &str, args: &[&str]) -> String {
        let mut argv = vec!["run", "--rm", image];
        argv.extend_from_slice(args);
        self.ok(&argv)
    }

    /// A fresh empty directory owned by the user (for volumes, env files,
    /// saved archives).
    pub fn scratch_dir(&self) -> PathBuf {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let dir = self.dir.join(format!("scratch-{n}"));
        std::fs::create_dir(&dir).expect("creating a scratch directory");
        if self.user.switch {
            chown(&dir, &self.user);
        }
        dir
    }

    /// Writes an executable (a script) owned by the user into a fresh
    /// scratch directory, through [`install_executable`].
    pub fn write_executable(&self, name: &str, contents: &str) -> PathBuf {
        let draft = self.scratch_dir().join(name);
        std::fs::write(&draft, contents).expect("writing a scratch file");
        let path = self.scratch_dir().join(name);
        install_executable(&draft, &path);
        if self.user.switch {
            chown(&path, &self.user);
        }
        path
    }

    /// Writes a file owned by the user into a fresh scratch directory.
    pub fn write_file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.scratch_dir().join(name);
        std::fs::write(&path, contents).expect("writing a scratch file");
        if self.user.switch {
            chown(&path, &self.user);
        }
        path
    }

    /// What is left in the store's `tmp/` once it emptied or `limit`
    /// passed. A `run --rm` that just returned may still be deleting its
    /// files there: its monitor does it after answering, as background
    /// work (nice 19).
    pub fn tmp_left_after(&self, limit: std::time::Duration) -> Vec<std::ffi::OsString> {
        let deadline = std::time::Instant::now() + limit;
        loop {
            let left: Vec<_> = std::fs::read_dir(self.root.join("tmp"))
                .map(|d| d.flatten().map(|e| e.file_name()).collect())
                .unwrap_or_default();
            if left.is_empty() || std::time::Instant::now() > deadline {
                return left;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// The ids of `ps -a -q --no-trunc`.
    #[track_caller]
    pub fn container_ids(&self) -> Vec<String> {
        self.ok(&["ps", "-a", "-q", "--no-trunc"])
            .split_whitespace()
            .map(str::to_string)
            .collect()
    }

    pub fn describe<S: AsRef<OsStr>>(&self, args: &[S]) -> String {
        let argv: Vec<String> = args
            .iter()
            .map(|a| a.as_ref().to_string_lossy().into_owned())
            .collect();
        format!(
            "`{} {}` as {}",
            self.program.file_name().unwrap().to_string_lossy(),
            argv.join(" "),
            self.user.name
        )
    }
}

impl Drop for Berth {
    fn drop(&mut self) {
        if !self.owns_dir {
            return;
        }
        if std::env::var_os("BERTH_TEST_KEEP").is_some() {
            eprintln!("keeping {}", self.dir.display());
            return;
        }
        remove_tree(&self.dir);
    }
}

fn chown(path: &Path, user: &TestUser) {
    std::os::unix::fs::chown(path, Some(user.uid), Some(user.gid))
        .unwrap_or_else(|e| panic!("chown {} to {}: {e}", path.display(), user.name));
}

/// Runs a command to its end, killing it (and its process group) when it
/// takes longer than [`COMMAND_TIMEOUT`].
#[track_caller]
pub fn run(cmd: Command) -> Output {
    run_with_input(cmd, b"")
}

#[track_caller]
pub fn run_with_input(mut cmd: Command, input: &[u8]) -> Output {
    if !input.is_empty() {
        cmd.stdin(Stdio::piped());
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("starting {cmd:?}: {e}"));
    let writer = child.stdin.take().map(|mut stdin| {
        let input = input.to_vec();
        std::thread::spawn(move || {
            use std::io::Write;
            // berth may stop reading early (an error): that is its answer.
            let _ = stdin.write_all(&input);
        })
    });
    let out = wait_with_timeout(child, COMMAND_TIMEOUT, &format!("{cmd:?}"));
    if let Some(w) = writer {
        let _ = w.join();
    }
    out
}

#[track_caller]
fn wait_with_timeout(mut child: Child, timeout: Duration, what: &str) -> Output {
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let start = Instant::now();
    let mut pause = Duration::from_micros(200);
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for a command") {
            break status;
        }
        if start.elapsed() > timeout {
            let pgid = child.id();
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{pgid}")])
                .status();
            let _ = child.kill();
            let _ = child.wait();
            let stderr = err_reader.join().unwrap_or_default();
            panic!(
                "{what} did not finish within {timeout:?} (killed)\nstderr:\n{}",
                String::from_utf8_lossy(&stderr)
            );
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out_reader.join().unwrap_or_default(),
        stderr: err_reader.join().unwrap_or_default(),
    }
}

/// The outcome of a command, for failure messages.
pub fn show(out: &Output) -> String {
    format!(
        "status: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[track_caller]
pub fn assert_success(out: &Output, what: &str) {
    assert!(out.status.success(), "{what} failed\n{}", show(out));
}

#[track_caller]
pub fn assert_status(out: &Output, code: i32, what: &str) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{what}: expected exit status {code}\n{}",
        show(out)
    );
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs the test body once per user in [`users`], each with a fresh store.
pub fn each_user(body: impl Fn(&Berth)) {
    for user in users() {
        eprintln!("== as {} (subids: {})", user.name, user.subids);
        let berth = Berth::new(&user);
        body(&berth);
    }
}

/// The fixture directory, with the busybox fixtures built when missing.
pub fn fixtures_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = match std::env::var_os("BERTH_TEST_FIXTURES").filter(|v| !v.is_empty()) {
            Some(d) => PathBuf::from(d),
            None => {
                let shared = PathBuf::from("/var/cache/berth-test");
                if running_as_root() || shared.join("busybox.stamp").exists() {
                    shared
                } else {
                    let cache = std::env::var_os("XDG_CACHE_HOME")
                        .map(PathBuf::from)
                        .unwrap_or_else(|| TestUser::current().home.join(".cache"));
                    cache.join("berth-test")
                }
            }
        };
        if !dir.join("busybox.stamp").exists() {
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/fixtures.sh");
            let out = run({
                let mut c = Command::new(&script);
                c.arg(&dir);
                c
            });
            assert_success(
                &out,
                &format!("building the fixtures with {}", script.display()),
            );
        }
        dir
    })
}

/// A fixture file, asserted to exist.
#[track_caller]
pub fn fixture(name: &str) -> PathBuf {
    let path = fixtures_dir().join(name);
    assert!(
        path.exists(),
        "fixture {} is missing: scripts/fixtures.sh builds it",
        path.display()
    );
    path
}

/// The Debian fixture, or None (a skip, or a failure under
/// BERTH_TEST_STRICT) when it was not built: debootstrap needs root.
pub fn debian_fixture() -> Option<PathBuf> {
    let path = fixtures_dir().join("debian.tar");
    if path.exists() {
        Some(path)
    } else {
        skip_or_fail(&format!(
            "{} is missing: `sudo scripts/fixtures.sh --debian` builds it",
            path.display()
        ));
        None
    }
}

/// What mkimage.py wrote into a fixture's manifest.json: the image id (the
/// config's digest) and the diff ids, read without berth.
pub struct ArchiveInfo {
    pub config_digest: String,
    pub repo_tags: Vec<String>,
    pub diff_ids: Vec<String>,
}

/// Reads a docker-archive's manifest.json and config with the `tar` crate.
pub fn docker_archive_info(path: &Path) -> ArchiveInfo {
    let read_member = |name: &str| -> Vec<u8> {
        let file = std::fs::File::open(path).expect("opening an archive");
        let mut archive = tar::Archive::new(file);
        for entry in archive.entries().expect("reading an archive") {
            let mut entry = entry.expect("reading an archive entry");
            if entry.path().expect("entry path").to_string_lossy() == name {
                let mut buf = Vec::new();
                entry.read_to_end(&mut buf).expect("reading an entry");
                return buf;
            }
        }
        panic!("{} has no {name}", path.display());
    };
    let manifest: serde_json::Value =
        serde_json::from_slice(&read_member("manifest.json")).expect("manifest.json is JSON");
    let first = &manifest[0];
    let config_name = first["Config"].as_str().expect("Config").to_string();
    let config_bytes = read_member(&config_name);
    let config: serde_json::Value = serde_json::from_slice(&config_bytes).expect("config JSON");
    use sha2::Digest;
    let digest = format!(
        "sha256:{}",
        hex::encode(sha2::Sha256::digest(&config_bytes))
    );
    ArchiveInfo {
        config_digest: digest,
        repo_tags: first["RepoTags"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        diff_ids: config["rootfs"]["diff_ids"]
            .as_array()
            .expect("rootfs.diff_ids")
            .iter()
            .map(|d| d.as_str().expect("a diff id").to_string())
            .collect(),
    }
}

/// Splits a table printed by berth (Docker's: columns separated by two or
/// more spaces) into its rows of cells, header first.
pub fn table(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect()
        })
        .collect()
}

/// Parses `inspect` output: a JSON array.
#[track_caller]
pub fn inspect_json(text: &str) -> Vec<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("inspect printed invalid JSON ({e}):\n{text}"));
    v.as_array()
        .unwrap_or_else(|| panic!("inspect must print a JSON array:\n{text}"))
        .clone()
}
