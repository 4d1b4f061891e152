//! Resource limits of a container (Docker's `HostConfig.Resources` and
//! `Ulimits`): what `--memory`, `--cpus`, `--pids-limit`, `--ulimit` and
//! their siblings asked for, checked, in Docker's units. The runtime
//! applies them through cgroups and setrlimit; `inspect` shows them.

use serde::{Deserialize, Serialize};

/// The resources group of the host config. Zero (or empty) means "not
/// set", as in Docker's API.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct ResourcesConfig {
    /// `--memory`, bytes.
    pub(crate) memory: i64,
    /// `--memory-swap`, bytes of memory plus swap; -1 unlimited swap.
    pub(crate) memory_swap: i64,
    /// `--memory-reservation`, bytes (a soft limit).
    pub(crate) memory_reservation: i64,
    /// `--cpus`, in billionths of a CPU.
    pub(crate) nano_cpus: i64,
    /// `--cpu-shares`, relative weight (Docker's default 1024 when 0).
    pub(crate) cpu_shares: i64,
    /// `--cpu-period`, microseconds.
    pub(crate) cpu_period: i64,
    /// `--cpu-quota`, microseconds per period.
    pub(crate) cpu_quota: i64,
    /// `--cpuset-cpus`, e.g. `0-3,5`.
    pub(crate) cpuset_cpus: String,
    /// `--cpuset-mems`.
    pub(crate) cpuset_mems: String,
    /// `--pids-limit`; None: not set; 0 or -1: unlimited.
    pub(crate) pids_limit: Option<i64>,
    /// `--blkio-weight`, 10 to 1000 (0: not set).
    pub(crate) blkio_weight: u16,
    /// `--ulimit`.
    pub(crate) ulimits: Vec<Ulimit>,
    /// `--memory-swappiness`, 0 to 100 (cgroup v1 only).
    pub(crate) memory_swappiness: Option<i64>,
    /// `--oom-kill-disable` (cgroup v1 only).
    pub(crate) oom_kill_disable: bool,
}

/// One `--ulimit name=soft[:hard]`; -1 is unlimited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Ulimit {
    pub(crate) name: String,
    pub(crate) soft: i64,
    pub(crate) hard: i64,
}

/// A cgroup controller a limit needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Controller {
    Memory,
    Cpu,
    Cpuset,
    Pids,
    Io,
}

impl Controller {
    /// The controller's name in cgroup v2 (`cgroup.controllers`).
    pub(crate) fn v2_name(self) -> &'static str {
        match self {
            Controller::Memory => "memory",
            Controller::Cpu => "cpu",
            Controller::Cpuset => "cpuset",
            Controller::Pids => "pids",
            Controller::Io => "io",
        }
    }

    /// The controller's name in cgroup v1 (`/proc/self/cgroup`).
    pub(crate) fn v1_name(self) -> &'static str {
        match self {
            Controller::Io => "blkio",
            other => other.v2_name(),
        }
    }
}

impl ResourcesConfig {
    /// Nothing given.
    pub(crate) fn is_unset(&self) -> bool {
        self == &ResourcesConfig::default()
    }

    /// Whether any cgroup limit is set (ulimits are not cgroup limits).
    pub(crate) fn has_cgroup_limits(&self) -> bool {
        !self.cgroup_flags().is_empty()
    }

    /// The flags that are set and need a cgroup controller, with it, in
    /// the order Docker's help lists them.
    pub(crate) fn cgroup_flags(&self) -> Vec<(&'static str, Controller)> {
        let mut out = Vec::new();
        let mut add = |on: bool, flag: &'static str, c: Controller| {
            if on {
                out.push((flag, c));
            }
        };
        add(self.blkio_weight != 0, "--blkio-weight", Controller::Io);
        add(self.cpu_period != 0, "--cpu-period", Controller::Cpu);
        add(self.cpu_quota != 0, "--cpu-quota", Controller::Cpu);
        add(self.cpu_shares != 0, "--cpu-shares", Controller::Cpu);
        add(self.nano_cpus != 0, "--cpus", Controller::Cpu);
        add(
            !self.cpuset_cpus.is_empty(),
            "--cpuset-cpus",
            Controller::Cpuset,
        );
        add(
            !self.cpuset_mems.is_empty(),
            "--cpuset-mems",
            Controller::Cpuset,
        );
        add(self.memory != 0, "--memory", Controller::Memory);
        add(
            self.memory_reservation != 0,
            "--memory-reservation",
            Controller::Memory,
        );
        add(self.memory_swap != 0, "--memory-swap", Controller::Memory);
        add(
            self.memory_swappiness.is_some(),
            "--memory-swappiness",
            Controller::Memory,
        );
        add(
            self.oom_kill_disable,
            "--oom-kill-disable",
            Controller::Memory,
        );
        add(
            self.pids_limit.is_some_and(|p| p > 0),
            "--pids-limit",
            Controller::Pids,
        );
        out
    }

    /// The controllers the limits need, each once.
    pub(crate) fn controllers(&self) -> Vec<Controller> {
        let mut c: Vec<Controller> = self.cgroup_flags().into_iter().map(|(_, c)| c).collect();
        c.sort();
        c.dedup();
        c
    }

    /// The memory-plus-swap limit to apply: Docker gives a container with
    /// `--memory` and no `--memory-swap` as much swap as memory (twice the
    /// limit in all); -1 is unlimited; None: no limit.
    pub(crate) fn effective_memory_swap(&self) -> Option<i64> {
        match (self.memory, self.memory_swap) {
            (0, _) => None,
            (_, -1) => Some(-1),
            (m, 0) => Some(m.saturating_mul(2)),
            (_, s) => Some(s),
        }
    }

    /// The CFS period and quota to apply (microseconds): from `--cpus`
    /// (period 100 ms) or `--cpu-period`/`--cpu-quota`.
    pub(crate) fn cfs(&self) -> Option<(i64, i64)> {
        if self.nano_cpus > 0 {
            let period = 100_000;
            return Some((period, self.nano_cpus * period / 1_000_000_000));
        }
        if self.cpu_quota != 0 || self.cpu_period != 0 {
            let period = if self.cpu_period > 0 {
                self.cpu_period
            } else {
                100_000
            };
            return Some((period, self.cpu_quota));
        }
        None
    }

    /// The limits after `update` gives `other` (its non-zero fields), with
    /// Docker's refusals: a memory limit above the memory+swap limit
    /// without a new one, and switching between `--cpus` and a quota.
    pub(crate) fn updated(&self, other: &ResourcesConfig) -> Result<ResourcesConfig, String> {
        let mut r = self.clone();
        if other.memory != 0 {
            let swap = if other.memory_swap != 0 {
                other.memory_swap
            } else {
                self.memory_swap
            };
            if swap > 0 && other.memory > swap {
                return Err("Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time".into());
            }
            r.memory = other.memory;
        }
        if other.memory_swap != 0 {
            r.memory_swap = other.memory_swap;
        }
        if other.memory_reservation != 0 {
            r.memory_reservation = other.memory_reservation;
        }
        if other.nano_cpus != 0 {
            if self.cpu_quota != 0 && other.cpu_quota == 0 {
                return Err("Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set".into());
            }
            r.nano_cpus = other.nano_cpus;
        }
        if other.cpu_quota != 0 || other.cpu_period != 0 {
            if self.nano_cpus != 0 && other.nano_cpus == 0 {
                return Err("Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set".into());
            }
            if other.cpu_quota != 0 {
                r.cpu_quota = other.cpu_quota;
            }
            if other.cpu_period != 0 {
                r.cpu_period = other.cpu_period;
            }
        }
        if other.cpu_shares != 0 {
            r.cpu_shares = other.cpu_shares;
        }
        if !other.cpuset_cpus.is_empty() {
            r.cpuset_cpus = other.cpuset_cpus.clone();
        }
        if !other.cpuset_mems.is_empty() {
            r.cpuset_mems = other.cpuset_mems.clone();
        }
        if other.pids_limit.is_some() {
            r.pids_limit = other.pids_limit;
        }
        if other.blkio_weight != 0 {
            r.blkio_weight = other.blkio_weight;
        }
        Ok(r)
    }
}

/// Docker's byte sizes: `512`, `64m`, `1.5g`, `100kb`, `2GiB` (binary
/// units, case-insensitive), as go-units `RAMInBytes` reads them, with its
/// error texts.
pub(crate) fn parse_bytes(s: &str) -> Result<i64, String> {
    let Some(sep) = s.rfind(|c: char| c.is_ascii_digit() || c == '.' || c == ' ') else {
        return Err(format!("invalid size: '{s}'"));
    };
    let (num, sfx) = if s.as_bytes()[sep] == b' ' {
        (&s[..sep], &s[sep + 1..])
    } else {
        (&s[..=sep], &s[sep + 1..])
    };
    let size: f64 = num.parse().map_err(|_| format!("invalid size: '{s}'"))?;
    if size < 0.0 || !size.is_finite() {
        return Err(format!("invalid size: '{s}'"));
    }
    if sfx.is_empty() {
        return Ok(size as i64);
    }
    let bad = || Err(format!("invalid suffix: '{}'", sfx.to_ascii_lowercase()));
    let lower = sfx.to_ascii_lowercase();
    if lower.len() > 3 {
        return bad();
    }
    let mut chars = lower.chars();
    let mult: f64 = match chars.next() {
        Some('b') if lower.len() == 1 => return Ok(size as i64),
        Some('k') => 1024.0,
        Some('m') => 1024.0 * 1024.0,
        Some('g') => 1024.0 * 1024.0 * 1024.0,
        Some('t') => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        Some('p') => 1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return bad(),
    };
    match chars.as_str() {
        "" | "b" | "ib" => Ok((size * mult) as i64),
        _ => bad(),
    }
}

/// The rlimit names Docker accepts (go-units `ulimitNameMapping`).
pub(crate) const ULIMIT_NAMES: [&str; 15] = [
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

/// `name=soft[:hard]`, as go-units `ParseUlimit` (the hard limit defaults
/// to the soft one; -1 is unlimited).
pub(crate) fn parse_ulimit(s: &str) -> Result<Ulimit, String> {
    let Some((name, limits)) = s.split_once('=') else {
        return Err(format!("invalid ulimit argument: {s}"));
    };
    if !ULIMIT_NAMES.contains(&name) {
        return Err(format!("invalid ulimit type: {name}"));
    }
    let (soft, hard) = match limits.split_once(':') {
        Some((s, h)) => (s, Some(h)),
        None => (limits, None),
    };
    let num = |v: &str| {
        v.parse::<i64>()
            .map_err(|_| format!("invalid ulimit value {v:?} in {s:?}: expected a number or -1"))
    };
    let soft = num(soft)?;
    let hard = match hard {
        Some(h) => num(h)?,
        None => soft,
    };
    let order = |v: i64| if v < 0 { u64::MAX } else { v as u64 };
    if order(soft) > order(hard) {
        return Err(format!(
            "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
        ));
    }
    Ok(Ulimit {
        name: name.to_string(),
        soft,
        hard,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_as_docker_reads_them() {
        assert_eq!(parse_bytes("64m"), Ok(64 << 20));
        assert_eq!(parse_bytes("64MB"), Ok(64 << 20));
        assert_eq!(parse_bytes("1.5g"), Ok(3 << 29));
        assert_eq!(parse_bytes("512"), Ok(512));
        assert_eq!(parse_bytes("100kb"), Ok(102_400));
        assert_eq!(parse_bytes("1x"), Err("invalid suffix: 'x'".into()));
        assert!(parse_bytes("m").is_err());
        assert!(parse_bytes("").is_err());
    }

    #[test]
    fn ulimits_as_docker_reads_them() {
        assert_eq!(
            parse_ulimit("nofile=1024:2048"),
            Ok(Ulimit {
                name: "nofile".into(),
                soft: 1024,
                hard: 2048
            })
        );
        assert_eq!(parse_ulimit("nproc=100").unwrap().hard, 100);
        assert_eq!(parse_ulimit("memlock=-1").unwrap().soft, -1);
        assert_eq!(
            parse_ulimit("foo=1").unwrap_err(),
            "invalid ulimit type: foo"
        );
        assert_eq!(
            parse_ulimit("nofile").unwrap_err(),
            "invalid ulimit argument: nofile"
        );
        assert_eq!(
            parse_ulimit("nofile=10:5").unwrap_err(),
            "ulimit soft limit must be less than or equal to hard limit: 10 > 5"
        );
        assert!(parse_ulimit("nofile=x").is_err());
    }

    #[test]
    fn swap_and_cfs_follow_docker() {
        let mut r = ResourcesConfig {
            memory: 64 << 20,
            ..Default::default()
        };
        assert_eq!(r.effective_memory_swap(), Some(128 << 20));
        r.memory_swap = -1;
        assert_eq!(r.effective_memory_swap(), Some(-1));
        r.nano_cpus = 500_000_000;
        assert_eq!(r.cfs(), Some((100_000, 50_000)));
        let q = ResourcesConfig {
            cpu_quota: 20_000,
            ..Default::default()
        };
        assert_eq!(q.cfs(), Some((100_000, 20_000)));
        assert_eq!(ResourcesConfig::default().cfs(), None);
        assert!(!ResourcesConfig::default().has_cgroup_limits());
        let flags: Vec<&str> = r.cgroup_flags().iter().map(|(f, _)| *f).collect();
        assert_eq!(flags, ["--cpus", "--memory", "--memory-swap"]);
        assert_eq!(r.controllers(), [Controller::Memory, Controller::Cpu]);
    }

    #[test]
    fn update_replaces_what_is_given() {
        let r = ResourcesConfig {
            memory: 64 << 20,
            memory_swap: 128 << 20,
            nano_cpus: 5,
            ..Default::default()
        };
        let u = r
            .updated(&ResourcesConfig {
                memory: 100 << 20,
                pids_limit: Some(9),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(
            (u.memory, u.nano_cpus, u.pids_limit),
            (100 << 20, 5, Some(9))
        );
        assert_eq!(
            r.updated(&ResourcesConfig {
                memory: 512 << 20,
                ..Default::default()
            })
            .unwrap_err(),
            "Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time"
        );
        assert!(r
            .updated(&ResourcesConfig {
                cpu_quota: 20_000,
                ..Default::default()
            })
            .unwrap_err()
            .starts_with("Conflicting options: CPU Quota cannot be updated"));
    }
}
