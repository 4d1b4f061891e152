//! What `stats` shows of a running container, read by its monitor (which
//! sits in the container's user namespace, so it may read the /proc files
//! of processes that run under subordinate ids): from the container's own
//! cgroup where it has one (CPU time, memory without inactive page cache
//! as Docker counts it, PIDs, block I/O), else summed over the container's
//! processes from /proc (CPU time, proportional set size, threads, I/O
//! bytes); network bytes from the container's network namespace.
//!
//! A [`Sample`] is absolute counters; the CLI turns two of them into
//! Docker's CPU percentage.

use super::cgroupfs::{keyed, Hierarchies, Membership};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The counters of one moment. None: not readable.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct Sample {
    /// CPU time the container used, nanoseconds.
    pub(crate) cpu_ns: Option<u64>,
    /// CPU time of the whole host (all CPUs), nanoseconds, /proc/stat.
    pub(crate) system_ns: Option<u64>,
    pub(crate) online_cpus: u32,
    /// Bytes of memory in use (without inactive file cache).
    pub(crate) memory: Option<u64>,
    /// The memory limit, or the host's memory without one.
    pub(crate) memory_limit: Option<u64>,
    /// Received and sent bytes of the container's network interfaces.
    pub(crate) net: Option<(u64, u64)>,
    /// Bytes read and written by block I/O.
    pub(crate) block: Option<(u64, u64)>,
    /// Tasks (threads), as `pids.current`.
    pub(crate) pids: Option<u64>,
    /// Figures summed over the container's processes from /proc, because
    /// the container has no cgroup of its own for them.
    pub(crate) from_proc: Vec<String>,
}

/// Where the container's own cgroups are (those berth made for it).
struct Own {
    v2: Option<PathBuf>,
    v1: Vec<(String, PathBuf)>,
}

impl Own {
    fn find(init: i32, id: &str) -> Own {
        let name = super::cgroup_name(id);
        let is_ours = |p: &Path| p.file_name().is_some_and(|n| n.to_string_lossy() == name);
        let h = Hierarchies::read();
        let m = Membership::read(Some(init));
        let v2 = match (&h.v2, &m.v2) {
            (Some(mount), Some(p)) => Some(mount.dir(p)).filter(|d| is_ours(d)),
            _ => None,
        };
        let mut v1 = Vec::new();
        for (ctrls, p) in &m.v1 {
            if let Some(mount) = ctrls.first().and_then(|c| h.v1_for(c)) {
                let dir = mount.dir(p);
                if is_ours(&dir) {
                    v1.extend(ctrls.iter().map(|c| (c.clone(), dir.clone())));
                }
            }
        }
        Own { v2, v1 }
    }

    fn v1(&self, controller: &str) -> Option<&Path> {
        self.v1
            .iter()
            .find(|(c, _)| c == controller)
            .map(|(_, p)| p.as_path())
    }

    /// A file of the v2 directory, when it exists (its controller is on).
    fn v2_file(&self, file: &str) -> Option<String> {
        std::fs::read_to_string(self.v2.as_ref()?.join(file)).ok()
    }
}

fn read_u64(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn clock_ticks() -> u64 {
    // SAFETY: sysconf has no memory effects.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}

/// One sample of the container whose init is `init`.
pub(crate) fn sample(init: i32, id: &str, private_net: bool) -> Sample {
    let own = Own::find(init, id);
    let mut procs: Option<Vec<i32>> = None;
    let mut pids = || -> Vec<i32> {
        procs
            .get_or_insert_with(|| super::container_pids(init))
            .clone()
    };
    let mut s = Sample {
        system_ns: system_cpu_ns(),
        // SAFETY: sysconf has no memory effects.
        online_cpus: unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }.max(1) as u32,
        ..Default::default()
    };
    let host_memory = host_memory();
    // CPU.
    s.cpu_ns = own
        .v2_file("cpu.stat")
        .and_then(|t| keyed(&t, "usage_usec"))
        .map(|us| us * 1000)
        .or_else(|| {
            own.v1("cpuacct")
                .and_then(|d| read_u64(&d.join("cpuacct.usage")))
        });
    if s.cpu_ns.is_none() {
        s.cpu_ns = Some(pids().iter().filter_map(|p| proc_cpu_ns(*p)).sum());
        s.from_proc.push("CPU %".into());
    }
    // Memory.
    let cg_memory = if let Some(current) = own
        .v2_file("memory.current")
        .and_then(|t| t.trim().parse::<u64>().ok())
    {
        let inactive = own
            .v2_file("memory.stat")
            .and_then(|t| keyed(&t, "inactive_file"))
            .unwrap_or(0);
        let limit = own
            .v2_file("memory.max")
            .and_then(|t| t.trim().parse::<u64>().ok());
        Some((current.saturating_sub(inactive), limit))
    } else if let Some(d) = own.v1("memory") {
        read_u64(&d.join("memory.usage_in_bytes")).map(|usage| {
            let inactive = std::fs::read_to_string(d.join("memory.stat"))
                .ok()
                .and_then(|t| keyed(&t, "total_inactive_file"))
                .unwrap_or(0);
            (
                usage.saturating_sub(inactive),
                read_u64(&d.join("memory.limit_in_bytes")),
            )
        })
    } else {
        None
    };
    match cg_memory {
        Some((usage, limit)) => {
            s.memory = Some(usage);
            s.memory_limit = match (limit, host_memory) {
                (Some(l), Some(h)) => Some(l.min(h)),
                (l, h) => l.or(h),
            };
        }
        None => {
            s.memory = Some(pids().iter().filter_map(|p| proc_memory(*p)).sum());
            s.memory_limit = host_memory;
            s.from_proc.push("MEM USAGE".into());
        }
    }
    // PIDs.
    s.pids = own
        .v2_file("pids.current")
        .and_then(|t| t.trim().parse().ok())
        .or_else(|| {
            own.v1("pids")
                .and_then(|d| read_u64(&d.join("pids.current")))
        });
    if s.pids.is_none() {
        s.pids = Some(pids().iter().filter_map(|p| proc_threads(*p)).sum());
        s.from_proc.push("PIDS".into());
    }
    // Block I/O.
    s.block = own
        .v2_file("io.stat")
        .map(|t| io_stat_bytes(&t))
        .or_else(|| {
            let d = own.v1("blkio")?;
            [
                "blkio.throttle.io_service_bytes_recursive",
                "blkio.throttle.io_service_bytes",
            ]
            .iter()
            .find_map(|f| std::fs::read_to_string(d.join(f)).ok())
            .map(|t| blkio_bytes(&t))
        });
    if s.block.is_none() {
        let list = pids();
        let all: Vec<(u64, u64)> = list.iter().filter_map(|p| proc_io(*p)).collect();
        // Unreadable for every process: unavailable rather than zero.
        if !all.is_empty() || list.is_empty() {
            s.block = Some(all.iter().fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1)));
        }
        s.from_proc.push("BLOCK I/O".into());
    }
    // Network: only a namespace of its own has interfaces of its own.
    s.net = if private_net {
        std::fs::read_to_string(format!("/proc/{init}/net/dev"))
            .ok()
            .map(|t| net_dev_bytes(&t))
    } else {
        Some((0, 0))
    };
    s
}

/// Host CPU time, as Docker's `getSystemCPUUsage`: the first seven fields
/// of /proc/stat's `cpu` line.
fn system_cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: u64 = line
        .split_whitespace()
        .skip(1)
        .take(7)
        .filter_map(|f| f.parse::<u64>().ok())
        .sum();
    Some(ticks * 1_000_000_000 / clock_ticks())
}

fn host_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    keyed_kb(&text, "MemTotal:")
}

/// `Key:   1234 kB` lines, in bytes.
fn keyed_kb(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix(key)?;
        let kb: u64 = rest.split_whitespace().next()?.parse().ok()?;
        Some(kb * 1024)
    })
}

/// The fields of /proc/PID/stat after the command name, from field 3.
fn stat_fields(pid: i32) -> Option<Vec<u64>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = text.rsplit_once(')')?;
    Some(
        rest.split_whitespace()
            .skip(1)
            .map(|f| f.parse::<i64>().unwrap_or(0).max(0) as u64)
            .collect(),
    )
}

/// utime + stime + cutime + cstime (fields 14 to 17), in nanoseconds:
/// a process's own time and that of the children it reaped.
fn proc_cpu_ns(pid: i32) -> Option<u64> {
    let f = stat_fields(pid)?;
    let ticks: u64 = f.get(10..14)?.iter().sum();
    Some(ticks * 1_000_000_000 / clock_ticks())
}

/// num_threads (field 20).
fn proc_threads(pid: i32) -> Option<u64> {
    stat_fields(pid)?.get(16).copied()
}

/// The proportional set size (shared pages divided among their users, so
/// the sum over processes counts each page once), else the resident set.
fn proc_memory(pid: i32) -> Option<u64> {
    if let Ok(t) = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) {
        if let Some(pss) = keyed_kb(&t, "Pss:") {
            return Some(pss);
        }
    }
    keyed_kb(
        &std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?,
        "VmRSS:",
    )
}

fn proc_io(pid: i32) -> Option<(u64, u64)> {
    let t = std::fs::read_to_string(format!("/proc/{pid}/io")).ok()?;
    let get = |k: &str| {
        t.lines()
            .find_map(|l| l.strip_prefix(k))
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    Some((get("read_bytes:")?, get("write_bytes:")?))
}

/// cgroup v2 `io.stat`: `8:0 rbytes=1 wbytes=2 rios=...` per device.
fn io_stat_bytes(text: &str) -> (u64, u64) {
    let mut out = (0, 0);
    for word in text.split_whitespace() {
        if let Some(v) = word.strip_prefix("rbytes=") {
            out.0 += v.parse::<u64>().unwrap_or(0);
        } else if let Some(v) = word.strip_prefix("wbytes=") {
            out.1 += v.parse::<u64>().unwrap_or(0);
        }
    }
    out
}

/// cgroup v1 `blkio.throttle.io_service_bytes`: `8:0 Read 4096` lines.
fn blkio_bytes(text: &str) -> (u64, u64) {
    let mut out = (0, 0);
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if let [_, op, n] = f.as_slice() {
            let n: u64 = n.parse().unwrap_or(0);
            match op.to_ascii_lowercase().as_str() {
                "read" => out.0 += n,
                "write" => out.1 += n,
                _ => {}
            }
        }
    }
    out
}

/// /proc/PID/net/dev: received and sent bytes of every interface but lo.
fn net_dev_bytes(text: &str) -> (u64, u64) {
    let mut out = (0, 0);
    for line in text.lines().skip(2) {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        if name.trim() == "lo" {
            continue;
        }
        let f: Vec<u64> = rest
            .split_whitespace()
            .map(|v| v.parse().unwrap_or(0))
            .collect();
        if f.len() >= 9 {
            out.0 += f[0];
            out.1 += f[8];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_from_cgroup_and_proc_files() {
        assert_eq!(
            io_stat_bytes("8:0 rbytes=4096 wbytes=512 rios=1 wios=1\n8:16 rbytes=1 wbytes=0\n"),
            (4097, 512)
        );
        assert_eq!(
            blkio_bytes(
                "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 1\n8:0 Total 12288\nTotal 12288\n"
            ),
            (4096, 8192)
        );
        let dev = "Inter-|   Receive |  Transmit\n face |bytes packets errs drop fifo frame compressed multicast|bytes\n    lo: 100 1 0 0 0 0 0 0 100 1 0 0 0 0 0 0\n  tap0: 646 7 0 0 0 0 0 0 90 1 0 0 0 0 0 0\n";
        assert_eq!(net_dev_bytes(dev), (646, 90));
        assert_eq!(
            keyed_kb("MemTotal:       24684000 kB\n", "MemTotal:"),
            Some(24684000 * 1024)
        );
    }

    #[test]
    fn this_process_has_proc_counters() {
        let me = std::process::id() as i32;
        assert!(proc_threads(me).unwrap() >= 1);
        assert!(proc_memory(me).unwrap() > 0);
        assert!(proc_cpu_ns(me).is_some());
        assert!(system_cpu_ns().unwrap() > 0);
    }
}
