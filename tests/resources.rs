//! Resource limits (`--memory`, `--cpus`, `--pids-limit`, `--ulimit`...),
//! `update` and `stats`:
//!
//! - as the unprivileged test users, where this machine delegates no
//!   cgroup controller (cgroup v1 hierarchies belong to root, the cgroup v2
//!   at /sys/fs/cgroup/unified offers none), `run` prints one warning
//!   naming what is not applied and how an administrator delegates it, and
//!   the container runs; where a controller is delegated, the limit must
//!   be in the container's cgroup instead;
//! - as root, the limits are in the container's own cgroups, a container
//!   that allocates past `--memory` is OOM-killed and `State.OOMKilled`
//!   says so, `--pids-limit` stops forks, and `update` changes them;
//! - `--ulimit` is set in the container (a hard limit above the user's is
//!   refused before anything is made), `inspect` shows Docker's fields,
//!   and `stats` prints Docker's columns.

mod common;

use common::*;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The directory of the cgroup of `pid` that carries `controller`, from
/// the host's view (`/proc/PID/cgroup` and mountinfo).
fn cgroup_dir(pid: &str, controller: &str) -> Option<PathBuf> {
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    for line in cgroups.lines() {
        let mut f = line.splitn(3, ':');
        let (_, ctrls, path) = (f.next()?, f.next()?, f.next()?);
        let v1 = ctrls.split(',').any(|c| c == controller);
        if !(v1 || ctrls.is_empty()) {
            continue;
        }
        let mount = mountinfo.lines().find_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let point = left.split_whitespace().nth(4)?;
            let mut r = right.split_whitespace();
            let fstype = r.next()?;
            let opts = r.nth(1)?;
            let hit = if v1 {
                fstype == "cgroup" && opts.split(',').any(|o| o == controller)
            } else {
                fstype == "cgroup2"
            };
            hit.then(|| PathBuf::from(point))
        })?;
        let dir = mount.join(path.trim_start_matches('/'));
        let file = if v1 {
            format!("{controller}.")
        } else {
            format!("{controller}.max")
        };
        // A v2 directory carries the controller only when its files exist.
        let has = std::fs::read_dir(&dir)
            .ok()?
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with(&file));
        if has {
            return Some(dir);
        }
    }
    None
}

/// The memory limit in force for the container's init, if any cgroup of
/// its own sets one.
fn applied_memory_limit(pid: &str) -> Option<u64> {
    let dir = cgroup_dir(pid, "memory")?;
    if !dir.to_string_lossy().contains("berth-") {
        return None;
    }
    ["memory.limit_in_bytes", "memory.max"]
        .iter()
        .find_map(|f| std::fs::read_to_string(dir.join(f)).ok())
        .and_then(|t| t.trim().parse().ok())
}

/// The warnings about limits (a user without a subuid range also gets
/// one about its single id mapping, once per store).
fn warnings(out: &std::process::Output) -> Vec<String> {
    stderr(out)
        .lines()
        .filter(|l| l.starts_with("WARNING:") && !l.contains("subuid"))
        .map(str::to_string)
        .collect()
}

fn wait_running(b: &Berth, name: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = b.cmd(&["inspect", "-f", "{{.State.Status}} {{.State.Pid}}", name]);
        let text = stdout(&out);
        if let Some(pid) = text.trim().strip_prefix("running ") {
            return pid.to_string();
        }
        assert!(
            Instant::now() < deadline,
            "{name} is not running: {}",
            show(&out)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn limits_are_applied_or_said_once_and_the_container_runs() {
    each_user(|b| {
        b.load_busybox();
        // Without limits, nothing is said.
        let out = b.cmd(&["run", "--rm", "busybox", "true"]);
        assert_success(&out, "run without limits");
        assert!(warnings(&out).is_empty(), "{}", show(&out));

        let out = b.cmd(&[
            "run",
            "-d",
            "--name",
            "lim",
            "--memory",
            "64m",
            "--pids-limit",
            "40",
            "--cpus",
            "0.5",
            "busybox",
            "sleep",
            "60",
        ]);
        assert_success(&out, "run -d with limits");
        let pid = wait_running(b, "lim");
        let w = warnings(&out);
        match applied_memory_limit(&pid) {
            Some(limit) => {
                // A machine that delegates the memory controller.
                assert_eq!(limit, 64 << 20);
                assert!(
                    w.iter()
                        .all(|l| !l.contains("--memory,") && !l.starts_with("WARNING: --memory ")),
                    "{w:?}"
                );
            }
            None => {
                assert_eq!(w.len(), 1, "one warning: {}", show(&out));
                let w = &w[0];
                assert!(
                    w.starts_with("WARNING: --cpus, --memory, --pids-limit are not applied: "),
                    "{w}"
                );
                assert!(
                    w.contains("is not writable by this user") || w.contains("not delegated"),
                    "{w}"
                );
                assert!(w.contains("The container runs without them."), "{w}");
                assert!(w.contains("Delegate=cpu cpuset io memory pids"), "{w}");
                assert!(
                    w.contains("systemd-run --user --scope -p Delegate=yes"),
                    "{w}"
                );
            }
        }

        // inspect shows Docker's fields.
        let host = b.ok(&[
            "inspect",
            "-f",
            "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}} {{.HostConfig.CpuShares}} {{.State.OOMKilled}}",
            "lim",
        ]);
        assert_eq!(host.trim(), "67108864 134217728 500000000 40 0 false");

        // stats: Docker's columns, the container's figures.
        let table = b.ok(&["stats", "--no-stream"]);
        let mut lines = table.lines();
        let header = lines.next().unwrap();
        let cols: Vec<&str> = header
            .split("   ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        assert_eq!(
            cols,
            [
                "CONTAINER ID",
                "NAME",
                "CPU %",
                "MEM USAGE / LIMIT",
                "MEM %",
                "NET I/O",
                "BLOCK I/O",
                "PIDS"
            ],
            "{table}"
        );
        let row = lines.next().unwrap();
        assert!(row.contains(" lim "), "{table}");
        assert!(lines.next().is_none(), "one running container: {table}");
        let json = b.ok(&["stats", "--no-stream", "--format", "{{json .}}", "lim"]);
        let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
        for key in [
            "BlockIO",
            "CPUPerc",
            "Container",
            "ID",
            "MemPerc",
            "MemUsage",
            "Name",
            "NetIO",
            "PIDs",
        ] {
            assert!(v.get(key).is_some(), "{key} in {json}");
        }
        assert_eq!(v["Name"], "lim");
        assert_eq!(v["Container"], "lim");
        assert_eq!(v["PIDs"], "1");
        // The default network: eth0's counters (received / sent).
        let net_io = v["NetIO"].as_str().unwrap();
        let (rx, tx) = net_io.split_once(" / ").unwrap();
        assert!(rx.ends_with('B') && tx.ends_with('B'), "{json}");
        assert!(v["CPUPerc"].as_str().unwrap().ends_with('%'), "{json}");
        let mem = v["MemUsage"].as_str().unwrap();
        let (usage, limit) = mem.split_once(" / ").unwrap();
        assert!(usage.ends_with('B') && usage != "0B", "{mem}");
        if applied_memory_limit(&pid).is_some() {
            assert_eq!(limit, "64MiB");
        } else {
            assert!(
                limit.ends_with("GiB") || limit.ends_with("MiB"),
                "the host's memory: {mem}"
            );
        }

        // update: applied to the running container, or refused saying why.
        let out = b.cmd(&["update", "--memory", "100m", "--memory-swap", "200m", "lim"]);
        if applied_memory_limit(&pid).is_some() {
            assert_success(&out, "update");
            assert_eq!(applied_memory_limit(&pid), Some(100 << 20));
        } else {
            assert_status(&out, 1, "update without a memory cgroup");
            let e = stderr(&out);
            assert!(
                e.starts_with("Error response from daemon: Cannot update container "),
                "{e}"
            );
            assert!(
                e.contains("--memory, --memory-swap cannot be applied to the running container"),
                "{e}"
            );
            // Nothing changed.
            assert_eq!(
                b.ok(&["inspect", "-f", "{{.HostConfig.Memory}}", "lim"])
                    .trim(),
                "67108864"
            );
        }
        // A restart policy needs no cgroup.
        assert_eq!(
            b.ok(&["update", "--restart", "on-failure:3", "lim"]),
            "lim\n"
        );
        let out = b.cmd(&["update", "lim"]);
        assert_status(&out, 1, "update without flags");
        assert_eq!(
            stderr(&out),
            "you must provide one or more flags when using this command\n"
        );
        b.ok(&["rm", "-f", "lim"]);

        // A stopped container takes the new limits for its next start.
        b.ok(&["create", "--name", "later", "busybox", "true"]);
        assert_eq!(
            b.ok(&[
                "update",
                "--pids-limit",
                "30",
                "--cpu-shares",
                "512",
                "later"
            ]),
            "later\n"
        );
        assert_eq!(
            b.ok(&[
                "inspect",
                "-f",
                "{{.HostConfig.PidsLimit}} {{.HostConfig.CpuShares}}",
                "later"
            ])
            .trim(),
            "30 512"
        );
        let out = b.cmd(&["update", "--memory", "64m", "later", "nosuch"]);
        assert_status(&out, 1, "update of a missing container");
        assert!(stdout(&out) == "later\n", "{}", show(&out));
        assert!(
            stderr(&out).contains("Error response from daemon: No such container: nosuch"),
            "{}",
            show(&out)
        );
        let out = b.cmd(&["update", "--cpu-rt-runtime", "950000", "later"]);
        assert_status(&out, 125, "update --cpu-rt-runtime");
        assert!(
            stderr(&out).contains("--cpu-rt-period and --cpu-rt-runtime are not supported"),
            "{}",
            show(&out)
        );
        b.ok(&["rm", "later"]);
    });
}

#[test]
fn bad_limits_are_docker_errors_before_anything_is_made() {
    each_user(|b| {
        b.load_busybox();
        for (args, want) in [
            (
                vec!["--memory", "1x"],
                "invalid argument \"1x\" for \"-m, --memory\" flag: invalid suffix: 'x'",
            ),
            (
                vec!["--memory", "4m"],
                "Minimum memory limit allowed is 6MB",
            ),
            (
                vec!["--memory-swap", "64m"],
                "You should always set the Memory limit when using Memoryswap limit",
            ),
            (
                vec!["--memory", "64m", "--memory-swap", "32m"],
                "Minimum memoryswap limit should be larger than memory limit",
            ),
            (
                vec!["--cpus", "0.5", "--cpu-quota", "1000"],
                "Conflicting options: Nano CPUs and CPU Quota cannot both be set",
            ),
            (vec!["--cpus", "4096"], "Range of CPUs is from 0.01 to "),
            (
                vec!["--cpuset-cpus", "4095"],
                "Requested CPUs are not available - requested 4095",
            ),
            (
                vec!["--blkio-weight", "5"],
                "Range of blkio weight is from 10 to 1000",
            ),
            (
                vec!["--memory-swappiness", "101"],
                "Invalid value: 101, valid memory swappiness range is 0-100",
            ),
            (
                vec!["--kernel-memory", "10m"],
                "--kernel-memory is not supported",
            ),
            (
                vec!["--cpu-rt-runtime", "950000"],
                "--cpu-rt-period and --cpu-rt-runtime are not supported",
            ),
            (
                vec!["--device-read-bps", "/dev/null:1mb"],
                "--device-read-bps is not supported: berth sets no per-device I/O",
            ),
            (
                vec!["--device-cgroup-rule", "c 1:3 mr"],
                "--device-cgroup-rule is not supported",
            ),
            (vec!["--ulimit", "foo=1"], "invalid ulimit type: foo"),
            (
                vec!["--ulimit", "nofile=10:5"],
                "ulimit soft limit must be less than or equal to hard limit: 10 > 5",
            ),
        ] {
            let mut argv = vec!["run", "--rm"];
            argv.extend(args.iter());
            argv.extend(["busybox", "true"]);
            let out = b.status(&argv, 125);
            assert!(stderr(&out).contains(want), "{argv:?}: {}", show(&out));
        }
        assert!(b.container_ids().is_empty(), "nothing was created");
    });
}

#[test]
fn ulimits_are_set_in_the_container_and_exec() {
    each_user(|b| {
        b.load_busybox();
        let out = b.ok(&[
            "run",
            "--rm",
            "--ulimit",
            "nofile=100:200",
            "--ulimit",
            "core=0",
            "busybox",
            "sh",
            "-c",
            "ulimit -n; ulimit -Hn; ulimit -c",
        ]);
        assert_eq!(out, "100\n200\n0\n");
        b.ok(&[
            "run",
            "-d",
            "--name",
            "ulim",
            "--ulimit",
            "nproc=500:600",
            "busybox",
            "sleep",
            "60",
        ]);
        wait_running(b, "ulim");
        assert_eq!(
            b.ok(&["exec", "ulim", "sh", "-c", "ulimit -u; ulimit -Hu"]),
            "500\n600\n"
        );
        assert_eq!(
            b.ok(&["inspect", "-f", "{{json .HostConfig.Ulimits}}", "ulim"])
                .trim(),
            r#"[{"Hard":600,"Name":"nproc","Soft":500}]"#
        );
        b.ok(&["rm", "-f", "ulim"]);
        if !b.user.is_root() {
            // Only root raises a hard limit: refused before anything is made.
            let out = b.status(
                &[
                    "run",
                    "--rm",
                    "--ulimit",
                    "nofile=2000000000:2000000000",
                    "busybox",
                    "true",
                ],
                125,
            );
            assert!(
                stderr(&out).contains("only root may raise a hard limit"),
                "{}",
                show(&out)
            );
            assert!(b.container_ids().is_empty());
        }
    });
}

#[test]
fn as_root_limits_are_enforced_and_oom_is_recorded() {
    let Some(root) = root_user() else {
        skip_or_fail(
            "enforced limits are checked as root (this machine delegates nothing to users)",
        );
        return;
    };
    let b = Berth::new(&root);
    b.load_busybox();
    let out = b.cmd(&[
        "run",
        "-d",
        "--name",
        "lim",
        "--memory",
        "64m",
        "--pids-limit",
        "40",
        "--cpus",
        "0.5",
        "--cpu-shares",
        "512",
        "--memory-swappiness",
        "10",
        "busybox",
        "sleep",
        "120",
    ]);
    assert_success(&out, "run -d with limits as root");
    assert!(
        warnings(&out).is_empty(),
        "root needs no delegation: {}",
        show(&out)
    );
    let id = b
        .ok(&["inspect", "-f", "{{.Id}}", "lim"])
        .trim()
        .to_string();
    let pid = wait_running(&b, "lim");
    let own = format!("berth-{}", &id[..12]);
    let mem = cgroup_dir(&pid, "memory").expect("a memory cgroup");
    assert!(mem.ends_with(&own), "{}", mem.display());
    assert_eq!(applied_memory_limit(&pid), Some(64 << 20));
    if let Ok(s) = std::fs::read_to_string(mem.join("memory.swappiness")) {
        assert_eq!(s.trim(), "10", "cgroup v1: --memory-swappiness");
    }
    assert_eq!(
        b.ok(&[
            "inspect",
            "-f",
            "{{.HostConfig.MemorySwappiness}} {{.HostConfig.OomKillDisable}}",
            "lim"
        ])
        .trim(),
        "10 false"
    );
    let pids = cgroup_dir(&pid, "pids").expect("a pids cgroup");
    assert_eq!(
        std::fs::read_to_string(pids.join("pids.max"))
            .unwrap()
            .trim(),
        "40"
    );
    let cpu = cgroup_dir(&pid, "cpu").expect("a cpu cgroup");
    let quota = ["cpu.cfs_quota_us", "cpu.max"]
        .iter()
        .find_map(|f| std::fs::read_to_string(cpu.join(f)).ok())
        .unwrap();
    assert!(
        quota.trim() == "50000" || quota.trim() == "50000 100000",
        "{quota}"
    );
    // stats reads the cgroup: the limit is the container's.
    let mem_usage = b.ok(&["stats", "--no-stream", "--format", "{{.MemUsage}}", "lim"]);
    assert!(mem_usage.trim().ends_with(" / 64MiB"), "{mem_usage}");
    // The pids limit stops forks in the container.
    let out = b.cmd(&[
        "exec",
        "lim",
        "sh",
        "-c",
        "for i in $(seq 60); do sleep 30 & done; wait",
    ]);
    assert!(
        !out.status.success(),
        "60 processes under --pids-limit 40: {}",
        show(&out)
    );
    assert!(stderr(&out).contains("fork"), "{}", show(&out));
    // update writes the running container's cgroup.
    assert_eq!(
        b.ok(&["update", "--memory", "128m", "--memory-swap", "256m", "lim"]),
        "lim\n"
    );
    assert_eq!(applied_memory_limit(&pid), Some(128 << 20));
    assert_eq!(
        b.ok(&[
            "inspect",
            "-f",
            "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}}",
            "lim"
        ])
        .trim(),
        "134217728 268435456"
    );
    let out = b.cmd(&["update", "--memory", "512m", "lim"]);
    assert_status(&out, 1, "update above the memory+swap limit");
    assert!(
        stderr(&out).contains("Memory limit should be smaller than already set memoryswap limit"),
        "{}",
        show(&out)
    );
    b.ok(&["rm", "-f", "lim"]);
    assert!(
        !mem.exists() && !pids.exists(),
        "the container's cgroups go with it"
    );

    // Past its memory limit, the container is killed and it is recorded.
    let out = b.cmd(&[
        "run",
        "--name",
        "oom",
        "--memory",
        "32m",
        "busybox",
        "awk",
        "BEGIN { s = \"x\"; while (1) s = s s }",
    ]);
    assert_status(&out, 137, "a container past --memory");
    assert_eq!(
        b.ok(&[
            "inspect",
            "-f",
            "{{.State.OOMKilled}} {{.State.ExitCode}}",
            "oom"
        ])
        .trim(),
        "true 137"
    );
    // A new start forgets it.
    let out = b.cmd(&["start", "-a", "oom"]);
    assert_status(&out, 137, "second start");
    b.ok(&["rm", "oom"]);
    b.ok(&[
        "run", "--name", "fine", "--memory", "32m", "busybox", "true",
    ]);
    assert_eq!(
        b.ok(&["inspect", "-f", "{{.State.OOMKilled}}", "fine"])
            .trim(),
        "false"
    );
}

#[test]
fn flags_end_at_the_image_as_dockers() {
    // `-c` is `--cpu-shares` before the image and the command's after it
    // (`run IMG -c ...` as Dockerfiles' `ENTRYPOINT ["sh"]` images take).
    let b = Berth::new(&main_user());
    b.load_busybox();
    assert_eq!(
        b.ok(&[
            "run",
            "--rm",
            "-c",
            "512",
            "--entrypoint",
            "echo",
            "busybox",
            "-c",
            "-d",
            "--rm",
            "--cpus=1"
        ]),
        "-c -d --rm --cpus=1\n"
    );
    let out = b.cmd(&["run", "--rm", "-Z", "busybox", "true"]);
    assert_status(&out, 125, "an unknown flag before the image");
    assert!(stderr(&out).contains("'-Z'"), "{}", show(&out));
}
