//! berth inside Slurm jobs, on the one-machine cluster that
//! scripts/slurm-setup.sh starts (scripts/test.sh runs it as root; without
//! it these tests skip, or fail under BERTH_TEST_STRICT):
//!
//! - `srun -N1 -n4`: four tasks of one step, each pulling the same image
//!   into the same store and running a container, all at once: every task
//!   succeeds, each layer is unpacked once, SLURM_* reach the container
//!   through `-e`;
//! - an `sbatch` job that calls berth;
//! - `scancel` of a job running a detached and a foreground `--rm`
//!   container: no container or monitor process is left, `ps -a` says the
//!   detached one exited and no longer lists the `--rm` one;
//! - as root, a job's container with `--memory` (which root can apply)
//!   stays inside the job's cgroups: its own cgroups are children of its
//!   monitor's, in every hierarchy, and the job's freezer cgroup (Slurm's
//!   process tracking) is untouched.

mod common;

use common::*;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Whether the cluster is up (the setup script leaves its marker).
fn slurm_ready() -> bool {
    if !running_as_root() {
        skip_or_fail("the Slurm tests run as root (scripts/test.sh), with the test users");
        return false;
    }
    let marker = Path::new("/run/berth-slurm/proctrack");
    let up = marker.exists()
        && Command::new("sinfo")
            .args(["-h", "-o", "%T"])
            .output()
            .is_ok_and(|o| o.status.success() && !o.stdout.is_empty());
    if !up {
        skip_or_fail(
            "no Slurm cluster: scripts/slurm-setup.sh (run by scripts/test.sh as root) starts one",
        );
    }
    up
}

/// A command run as the test user with berth's environment (the job
/// inherits it: srun and sbatch export everything by default).
fn as_user(b: &Berth, program: &str, args: &[&str]) -> Command {
    let mut c = b.user_command(Path::new(program), args);
    // The user's scratch area is the job's working directory.
    c.env(
        "PATH",
        format!("{}:/usr/bin:/bin", b.program().parent().unwrap().display()),
    );
    c
}

/// `docker-registry` on a free port with one image, killed when dropped.
struct Registry {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Registry {
    fn start(fixture_name: &str, name: &str) -> Option<Registry> {
        for tool in ["docker-registry", "skopeo"] {
            if Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .map_or(true, |o| !o.status.success())
            {
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
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the registry did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        let out = Command::new("skopeo")
            .args(["copy", "-q", "--dest-tls-verify=false"])
            .arg(format!(
                "docker-archive:{}",
                fixture(fixture_name).display()
            ))
            .arg(format!("docker://127.0.0.1:{port}/{name}"))
            .output()
            .unwrap();
        assert!(out.status.success(), "skopeo: {}", show(&out));
        Some(Registry {
            child,
            port,
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

#[test]
fn srun_four_tasks_pull_and_run_from_one_store() {
    if !slurm_ready() {
        return;
    }
    let Some(reg) = Registry::start("busybox-layers.tar", "hpc/bb:1") else {
        return;
    };
    let image = format!("127.0.0.1:{}/hpc/bb:1", reg.port);
    each_user(|b| {
        let task = format!(
            "berth pull {image} && berth run --rm -e SLURM_PROCID -e SLURM_JOB_ID -e SLURM_NTASKS \
             {image} sh -c 'echo task $SLURM_PROCID of $SLURM_NTASKS in job $SLURM_JOB_ID: $(cat /etc/layer2.txt)'"
        );
        let out = run(as_user(
            b,
            "/usr/bin/srun",
            &["-N1", "-n4", "sh", "-c", &task],
        ));
        assert_success(&out, "srun -N1 -n4 berth ...");
        let text = stdout(&out);
        let mut tasks: Vec<&str> = text.lines().filter(|l| l.starts_with("task ")).collect();
        tasks.sort();
        assert_eq!(tasks.len(), 4, "{}", show(&out));
        for (i, line) in tasks.iter().enumerate() {
            assert!(
                line.starts_with(&format!("task {i} of 4 in job ")),
                "{line}"
            );
            assert!(line.ends_with(": layer 2"), "{line}");
            assert!(!line.contains("job :"), "SLURM_JOB_ID passed: {line}");
        }
        // The image's two layers were unpacked once for the four pulls.
        assert_eq!(text.matches(": Pull complete").count(), 2, "{text}");
        let err = stderr(&out);
        assert!(!err.contains("lock"), "no lock failures: {err}");
        let layers = std::fs::read_dir(b.root.join("layers")).unwrap().count();
        assert_eq!(layers, 2);
        assert!(b.container_ids().is_empty(), "--rm containers are gone");
    });
}

fn wait_for_job_end(job: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = Command::new("squeue")
            .args(["-h", "-j", job])
            .output()
            .unwrap();
        if stdout(&out).trim().is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "job {job} did not end: {}",
            stdout(&out)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn write_script(b: &Berth, name: &str, body: &str) -> PathBuf {
    b.write_executable(name, &format!("#!/bin/sh\n{body}\n"))
}

#[test]
fn sbatch_job_runs_a_container() {
    if !slurm_ready() {
        return;
    }
    each_user(|b| {
        b.load_busybox();
        let script = write_script(
            b,
            "job.sh",
            "berth run --rm -e SLURM_JOB_ID busybox sh -c 'echo batch job $SLURM_JOB_ID in a container'",
        );
        let log = script.with_file_name("job.out");
        // Warnings (a single id mapping) go to the job's stderr file.
        let err = script.with_file_name("job.err");
        let out = run(as_user(
            b,
            "/usr/bin/sbatch",
            &[
                "--wait",
                "--parsable",
                "-o",
                log.to_str().unwrap(),
                "-e",
                err.to_str().unwrap(),
                script.to_str().unwrap(),
            ],
        ));
        assert_success(&out, "sbatch --wait");
        let job = stdout(&out).trim().split(';').next().unwrap().to_string();
        let text = std::fs::read_to_string(&log).unwrap();
        assert_eq!(text, format!("batch job {job} in a container\n"));
    });
}

fn state_pids(b: &Berth, id: &str) -> (i32, i32) {
    let state: serde_json::Value = serde_json::from_slice(
        &std::fs::read(b.root.join("containers").join(id).join("state.json")).unwrap(),
    )
    .unwrap();
    (
        state["pid"].as_i64().unwrap_or(0) as i32,
        state["monitor_pid"].as_i64().unwrap_or(0) as i32,
    )
}

fn alive(pid: i32) -> bool {
    pid > 0
        && std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
            !s.rsplit_once(')')
                .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
        })
}

#[test]
fn scancel_leaves_no_container_process_and_ps_tells_the_truth() {
    if !slurm_ready() {
        return;
    }
    each_user(|b| {
        b.load_busybox();
        let script = write_script(
            b,
            "long.sh",
            "berth run -d --name detached busybox sleep 300\nberth run --rm --name foreground busybox sleep 300",
        );
        let log = script.with_file_name("long.out");
        let out = run(as_user(
            b,
            "/usr/bin/sbatch",
            &[
                "--parsable",
                "-o",
                log.to_str().unwrap(),
                script.to_str().unwrap(),
            ],
        ));
        assert_success(&out, "sbatch");
        let job = stdout(&out).trim().split(';').next().unwrap().to_string();
        // Both containers up.
        let deadline = Instant::now() + Duration::from_secs(60);
        let running = loop {
            let names = b.ok(&["ps", "--format", "{{.Names}}"]);
            let mut names: Vec<&str> = names.lines().collect();
            names.sort();
            if names == ["detached", "foreground"] {
                break b.ok(&["ps", "-q", "--no-trunc"]);
            }
            assert!(
                Instant::now() < deadline,
                "containers did not start: {names:?}\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        };
        let pids: Vec<(i32, i32)> = running.lines().map(|id| state_pids(b, id)).collect();
        for (pid, monitor) in &pids {
            assert!(alive(*pid) && alive(*monitor), "{pids:?}");
        }
        let out = Command::new("scancel").arg(&job).output().unwrap();
        assert!(out.status.success(), "scancel: {}", show(&out));
        wait_for_job_end(&job);
        let deadline = Instant::now() + Duration::from_secs(20);
        while pids.iter().any(|(p, m)| alive(*p) || alive(*m)) {
            assert!(
                Instant::now() < deadline,
                "container processes survive scancel: {pids:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let listed = b.ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
        let lines: Vec<&str> = listed.lines().collect();
        assert_eq!(lines.len(), 1, "the --rm container is gone: {listed}");
        assert!(
            lines[0].starts_with("detached Exited ("),
            "ps -a is truthful: {listed}"
        );
        assert!(b.ok(&["ps", "-q"]).is_empty(), "nothing running");
        let out = b.cmd(&["inspect", "foreground"]);
        assert!(
            !out.status.success(),
            "the --rm container is gone: {}",
            show(&out)
        );
        b.ok(&["rm", "-f", "detached"]);
        // Its files went too, with that removal.
        let left = std::fs::read_dir(b.root.join("containers"))
            .unwrap()
            .count();
        assert_eq!(left, 0, "container directories left");
    });
}

#[test]
fn scancel_of_an_srun_rm_container_leaves_nothing() {
    if !slurm_ready() {
        return;
    }
    each_user(|b| {
        b.load_busybox();
        let job_name = format!("berth-fg-{}", b.user.name);
        // Slurm signals only the task (berth's client, which passes SIGTERM
        // on to the container, where a shell as pid 1 ignores it), then
        // kills every process of the step after KillWait.
        let mut srun = as_user(
            b,
            "/usr/bin/srun",
            &[
                "-J", &job_name, "berth", "run", "--rm", "--name", "fg", "busybox", "sleep", "300",
            ],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        let id = loop {
            if let Some(id) = b.ok(&["ps", "-q", "--no-trunc"]).lines().next() {
                break id.to_string();
            }
            assert!(
                Instant::now() < deadline,
                "the srun container did not start"
            );
            std::thread::sleep(Duration::from_millis(200));
        };
        let (pid, monitor) = state_pids(b, &id);
        let out = Command::new("scancel")
            .args(["-n", &job_name])
            .output()
            .unwrap();
        assert!(out.status.success(), "scancel: {}", show(&out));
        let _ = srun.wait();
        let deadline = Instant::now() + Duration::from_secs(30);
        while alive(pid) || alive(monitor) {
            assert!(
                Instant::now() < deadline,
                "container processes survive scancel"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        assert_eq!(b.ok(&["ps", "-a", "-q"]), "", "the --rm container is gone");
        // Its name is free at once.
        b.ok(&["run", "--rm", "--name", "fg", "busybox", "true"]);
    });
}

/// `N:controllers:path` lines of /proc/PID/cgroup, by controllers.
fn cgroup_paths(pid: i32) -> Vec<(String, String)> {
    std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut f = l.splitn(3, ':');
            let _ = f.next()?;
            Some((f.next()?.to_string(), f.next()?.to_string()))
        })
        .collect()
}

#[test]
fn as_root_a_jobs_container_stays_in_the_jobs_cgroup() {
    if !slurm_ready() {
        return;
    }
    let root = root_user().expect("the Slurm tests run as root");
    let b = Berth::new(&root);
    b.load_busybox();
    let script = write_script(
        &b,
        "limited.sh",
        "berth run --rm --name limited --memory 64m busybox sleep 300",
    );
    let log = script.with_file_name("limited.out");
    let out = run(as_user(
        &b,
        "/usr/bin/sbatch",
        &[
            "--parsable",
            "-o",
            log.to_str().unwrap(),
            "-e",
            log.to_str().unwrap(),
            script.to_str().unwrap(),
        ],
    ));
    assert_success(&out, "sbatch");
    let job = stdout(&out).trim().split(';').next().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    let id = loop {
        let ids = b.ok(&["ps", "-q", "--no-trunc"]);
        if let Some(id) = ids.lines().next() {
            break id.to_string();
        }
        assert!(
            Instant::now() < deadline,
            "the job's container did not start:
{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let (pid, monitor) = state_pids(&b, &id);
    let container = cgroup_paths(pid);
    let job_cgroups = cgroup_paths(monitor);
    let own = format!("berth-{}", &id[..12]);
    for (ctrls, path) in &container {
        let (_, job_path) = job_cgroups
            .iter()
            .find(|(c, _)| c == ctrls)
            .unwrap_or_else(|| panic!("{ctrls} of the monitor: {job_cgroups:?}"));
        let inside =
            path == job_path || path.starts_with(&format!("{}/", job_path.trim_end_matches('/')));
        assert!(
            inside,
            "{ctrls}: the container's {path} is not inside the job's {job_path}"
        );
        if ctrls.split(',').any(|c| c == "freezer")
            && std::fs::read_to_string("/run/berth-slurm/proctrack")
                .is_ok_and(|p| p.trim() == "cgroup")
        {
            assert!(path.contains(&format!("/job_{job}/")), "freezer: {path}");
            assert_eq!(path, job_path, "Slurm's tracking cgroup is left as it is");
        }
    }
    // The memory limit is in a cgroup of the container's own (cgroup v1
    // here; the v2 line elsewhere).
    let (_, memory) = container
        .iter()
        .find(|(c, _)| c.split(',').any(|x| x == "memory"))
        .or_else(|| container.iter().find(|(c, _)| c.is_empty()))
        .expect("a memory cgroup");
    assert!(memory.ends_with(&own), "memory: {memory}");
    let out = Command::new("scancel").arg(&job).output().unwrap();
    assert!(out.status.success(), "scancel: {}", show(&out));
    wait_for_job_end(&job);
    let deadline = Instant::now() + Duration::from_secs(20);
    while alive(pid) || alive(monitor) {
        assert!(
            Instant::now() < deadline,
            "container processes survive scancel"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(b.ok(&["ps", "-a", "-q"]), "", "the --rm container is gone");
}
