//! Store hygiene: berth killed with SIGKILL at random points of `pull`,
//! `load`, `run`, `commit`, `rm` and `rmi` (50 kills in all, over both
//! test users), each at a random moment between its start and its usual
//! duration. After each kill the store must tell the truth — every image
//! `images` lists has its config and layers, every container `ps -a`
//! lists has its record and layers — and after the next command that
//! cleans up, no name is reserved by nothing, nothing of a dead process
//! is left in `tmp/`, and every command still works.
//!
//! The seed of the random choices is printed (`BERTH_HYGIENE_SEED=N`
//! replays a run).

mod common;

use common::*;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills in all, shared between the users.
const KILLS: usize = 50;

/// A small random generator (xorshift): the test needs no crate for it.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// A `docker-registry` on a loopback port; killed when dropped.
struct Registry {
    child: Child,
    host: String,
    _dir: tempfile::TempDir,
}

impl Registry {
    fn start() -> Option<Registry> {
        for tool in ["docker-registry", "skopeo"] {
            let found = std::env::var_os("PATH")
                .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).exists()))
                .unwrap_or(false);
            if !found {
                skip_or_fail(&format!("{tool} is not installed"));
                return None;
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("data").display()
        );
        std::fs::write(dir.path().join("config.yml"), config).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(dir.path().join("config.yml"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting docker-registry");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the registry does not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        let host = format!("127.0.0.1:{port}");
        // The layered busybox: two layers to download and unpack.
        let out = Command::new("skopeo")
            .args(["copy", "-q", "--dest-tls-verify=false"])
            .arg(format!(
                "docker-archive:{}",
                fixture("busybox-layers.tar").display()
            ))
            .arg(format!("docker://{host}/crash/box:1"))
            .output()
            .unwrap();
        assert!(out.status.success(), "seeding the registry: {}", show(&out));
        Some(Registry {
            child,
            host,
            _dir: dir,
        })
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The commands killed, and what each needs to find in the store.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Pull,
    Load,
    Run,
    Commit,
    Rm,
    Rmi,
}

const OPS: [Op; 6] = [Op::Pull, Op::Load, Op::Run, Op::Commit, Op::Rm, Op::Rmi];

struct Scenario<'a> {
    b: &'a Berth,
    registry: &'a str,
    /// Containers and committed images made so far, for `commit`, `rm`, `rmi`.
    serial: usize,
}

impl Scenario<'_> {
    fn pulled(&self) -> String {
        format!("{}/crash/box:1", self.registry)
    }

    /// Puts the store in the state the operation works on (not killed)
    /// and returns the command to kill.
    fn prepare(&mut self, op: Op) -> Vec<String> {
        let b = self.b;
        self.serial += 1;
        let n = self.serial;
        match op {
            Op::Pull => {
                // Absent (both its names: the archive loads the same
                // image), so that the pull downloads and unpacks.
                let _ = b.cmd(&["rmi", "-f", &self.pulled(), "busybox:layers"]);
                vec!["pull".into(), "-q".into(), self.pulled()]
            }
            Op::Load => {
                let _ = b.cmd(&["rmi", "-f", &self.pulled(), "busybox:layers"]);
                vec![
                    "load".into(),
                    "-q".into(),
                    "-i".into(),
                    fixture("busybox-layers.tar").display().to_string(),
                ]
            }
            Op::Run => {
                let name = format!("run{n}");
                let mut args = vec!["run".to_string()];
                if n.is_multiple_of(2) {
                    args.push("--rm".into());
                }
                args.extend(["--name".into(), name, "busybox".into()]);
                args.extend(["sh".into(), "-c".into(), "echo x > /f".into()]);
                args
            }
            Op::Commit => {
                let name = format!("com{n}");
                b.ok(&["run", "--name", &name, "busybox", "sh", "-c", "echo x > /f"]);
                vec!["commit".into(), name, format!("committed:{n}")]
            }
            Op::Rm => {
                let name = format!("rm{n}");
                b.ok(&["run", "-d", "--name", &name, "busybox", "sleep", "30"]);
                vec!["rm".into(), "-f".into(), name]
            }
            Op::Rmi => {
                let name = format!("com{n}");
                b.ok(&["run", "--name", &name, "busybox", "true"]);
                b.ok(&["commit", &name, &format!("todelete:{n}")]);
                b.ok(&["rm", &name]);
                vec!["rmi".into(), format!("todelete:{n}")]
            }
        }
    }
}

/// Runs `args` to completion; how long it took.
fn timed(b: &Berth, args: &[String]) -> Duration {
    let start = Instant::now();
    let out = b.cmd(args);
    assert!(
        out.status.success(),
        "{} (to measure it)\n{}",
        b.describe(args),
        show(&out)
    );
    start.elapsed()
}

/// Starts `args` in a process group of its own, kills the group with
/// SIGKILL after `delay`, and waits for it.
fn kill_after(b: &Berth, args: &[String], delay: Duration) {
    let mut child = b
        .command(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting berth");
    std::thread::sleep(delay);
    let pgid = child.id() as i32;
    // SAFETY: kill with a process group id and a signal number.
    unsafe { libc::kill(-pgid, libc::SIGKILL) };
    let _ = child.wait();
}

/// What the store must be after any kill: listings tell the truth.
fn check_listings(b: &Berth, context: &str) {
    let root = &b.root;
    let images = b.ok(&["images", "--no-trunc", "--format", "{{.ID}}"]);
    let index: serde_json::Value = std::fs::read(root.join("images.json"))
        .ok()
        .and_then(|d| serde_json::from_slice(&d).ok())
        .unwrap_or(serde_json::json!({"images": []}));
    let records = index["images"].as_array().cloned().unwrap_or_default();
    for id in images.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let record = records
            .iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("{context}: images lists {id} without a record"));
        let hex = id.trim_start_matches("sha256:");
        assert!(
            root.join("blobs/sha256").join(hex).exists(),
            "{context}: image {id} has no config blob"
        );
        for layer in record["layers"].as_array().unwrap() {
            check_layer(
                root,
                layer.as_str().unwrap(),
                &format!("{context}: image {id}"),
            );
        }
    }
    let ps = b.ok(&["ps", "-a", "--no-trunc", "--format", "{{.ID}}"]);
    for id in ps.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let config = root.join("containers").join(id).join("config.json");
        let Ok(data) = std::fs::read(&config) else {
            // Removed since the listing (a `--rm` monitor finishing) is
            // fine; still listed without its record is not.
            let again = b.ok(&["ps", "-a", "--no-trunc", "--format", "{{.ID}}"]);
            assert!(
                !again.contains(id),
                "{context}: ps lists {id} without its record"
            );
            continue;
        };
        let record: serde_json::Value = serde_json::from_slice(&data)
            .unwrap_or_else(|e| panic!("{context}: container {id}: torn record: {e}"));
        for layer in record["layers"].as_array().unwrap() {
            check_layer(
                root,
                layer.as_str().unwrap(),
                &format!("{context}: container {id}"),
            );
        }
    }
}

/// A layer that something names is complete, with its short link.
fn check_layer(root: &Path, diff_id: &str, context: &str) {
    let hex = diff_id.trim_start_matches("sha256:");
    let dir = root.join("layers").join(hex);
    assert!(
        dir.join("layer.json").exists() && dir.join("diff").is_dir(),
        "{context}: its layer {diff_id} is missing or incomplete"
    );
    let link = root.join("l").join(&hex[..16]);
    assert!(
        std::fs::canonicalize(&link).is_ok_and(|t| t == dir.join("diff").canonicalize().unwrap()),
        "{context}: the link l/{} of layer {diff_id} is missing",
        &hex[..16]
    );
}

/// After a command that cleans up: no leftovers of dead processes.
fn check_no_leftovers(b: &Berth, context: &str) {
    let root = &b.root;
    for e in std::fs::read_dir(root.join("tmp")).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        // pull's per-layer flock files: no process's, reused by the next.
        if name == "locks" {
            continue;
        }
        let pid: i32 = name
            .split('-')
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        assert!(
            Path::new(&format!("/proc/{pid}")).exists(),
            "{context}: tmp/{name} belongs to a dead process"
        );
    }
    for e in std::fs::read_dir(root.join("names")).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let owner = std::fs::read_to_string(e.path()).unwrap();
        let config = root
            .join("containers")
            .join(owner.trim())
            .join("config.json");
        let record: serde_json::Value = std::fs::read(&config)
            .ok()
            .and_then(|d| serde_json::from_slice(&d).ok())
            .unwrap_or_else(|| panic!("{context}: the name {name} is reserved by nothing"));
        assert_eq!(record["name"], name.as_str(), "{context}: names/{name}");
    }
    for e in std::fs::read_dir(root.join("containers"))
        .unwrap()
        .flatten()
    {
        assert!(
            e.path().join("config.json").exists(),
            "{context}: containers/{} has no record",
            e.file_name().to_string_lossy()
        );
    }
}

/// Every command works afterwards.
fn check_commands_work(b: &Berth, registry: &str) {
    b.ok(&["pull", "-q", &format!("{registry}/crash/box:1")]);
    b.ok(&[
        "load",
        "-q",
        "-i",
        fixture("busybox-layers.tar").to_str().unwrap(),
    ]);
    assert_eq!(
        b.ok(&["run", "--rm", "busybox", "echo", "alive"]),
        "alive\n"
    );
    assert_eq!(
        b.ok(&[
            "run",
            "--rm",
            &format!("{registry}/crash/box:1"),
            "echo",
            "pulled"
        ]),
        "pulled\n"
    );
    b.ok(&[
        "run",
        "--name",
        "final",
        "busybox",
        "sh",
        "-c",
        "echo x > /f",
    ]);
    b.ok(&["commit", "final", "final:1"]);
    assert_eq!(b.ok(&["run", "--rm", "final:1", "cat", "/f"]), "x\n");
    b.ok(&["rm", "final"]);
    b.ok(&["rmi", "final:1"]);
    // Every container the kills left can be removed; every image too.
    for id in b.ok(&["ps", "-aq"]).lines() {
        b.ok(&["rm", "-f", id]);
    }
    for id in b.ok(&["images", "-q"]).lines() {
        let _ = b.cmd(&["rmi", "-f", id]);
    }
    assert_eq!(b.ok(&["images", "-q"]), "");
    assert!(
        std::fs::read_dir(b.root.join("layers"))
            .unwrap()
            .next()
            .is_none(),
        "with no image and no container, no layer is left"
    );
}

#[test]
fn sigkill_at_random_points_leaves_a_consistent_store() {
    let Some(registry) = Registry::start() else {
        return;
    };
    let seed = std::env::var("BERTH_HYGIENE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("BERTH_HYGIENE_SEED={seed}");
    let mut rng = Rng(seed);
    let users = users();
    let per_user = KILLS.div_ceil(users.len());
    let mut kills = 0;
    for user in &users {
        eprintln!("== as {} (subids: {})", user.name, user.subids);
        let b = Berth::new(user);
        b.load_busybox();
        let mut s = Scenario {
            b: &b,
            registry: &registry.host,
            serial: 0,
        };
        // Each command's usual duration, measured here once.
        let mut usual = Vec::new();
        for op in OPS {
            let args = s.prepare(op);
            usual.push(timed(&b, &args));
        }
        eprintln!(
            "usual durations: {:?}",
            OPS.iter().zip(&usual).collect::<Vec<_>>()
        );
        for i in 0..per_user.min(KILLS - kills) {
            let which = (i + rng.below(OPS.len() as u64) as usize) % OPS.len();
            let op = OPS[which];
            let args = s.prepare(op);
            let delay = Duration::from_nanos(rng.below(usual[which].as_nanos() as u64 + 1));
            kill_after(&b, &args, delay);
            kills += 1;
            check_listings(
                &b,
                &format!("after killing `{}` at {delay:?}", args.join(" ")),
            );
        }
        // The next command that cleans up (rm of nothing cleans too).
        let _ = b.cmd(&["rm", "no-such-container"]);
        check_no_leftovers(&b, "after the next rm");
        check_listings(&b, "after the next rm");
        check_commands_work(&b, &registry.host);
        check_no_leftovers(&b, "at the end");
    }
    assert_eq!(kills, KILLS);
}
