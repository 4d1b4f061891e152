//! Writing a container's limits into its cgroup directory, one controller
//! at a time, in cgroup v1 or v2 files, with the conversions runc makes
//! (shares to `cpu.weight`, blkio weight to `io.weight`, memory plus swap
//! to `memory.swap.max`). Each function takes the directory, so tests
//! run them on plain files.

use crate::model::resources::{Controller, ResourcesConfig};
use anyhow::{bail, Context, Result};
use std::path::Path;

/// Which cgroup version a directory belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Version {
    V1,
    V2,
}

fn write(dir: &Path, file: &str, value: &str) -> Result<()> {
    let path = dir.join(file);
    std::fs::write(&path, value).with_context(|| format!("writing {value} to {}", path.display()))
}

/// The container's limits for `controller` into `dir`. Values that are
/// not set (zero) are left alone, so that `update` writes only what it
/// changes over what was there.
pub(crate) fn apply(
    version: Version,
    controller: Controller,
    dir: &Path,
    r: &ResourcesConfig,
) -> Result<()> {
    match (version, controller) {
        (Version::V1, Controller::Memory) => v1_memory(dir, r),
        (Version::V2, Controller::Memory) => v2_memory(dir, r),
        (Version::V1, Controller::Cpu) => {
            if r.cpu_shares != 0 {
                write(dir, "cpu.shares", &r.cpu_shares.to_string())?;
            }
            if let Some((period, quota)) = r.cfs() {
                write(dir, "cpu.cfs_period_us", &period.to_string())?;
                let quota = if quota > 0 { quota } else { -1 };
                write(dir, "cpu.cfs_quota_us", &quota.to_string())?;
            }
            Ok(())
        }
        (Version::V2, Controller::Cpu) => {
            if r.cpu_shares != 0 {
                write(
                    dir,
                    "cpu.weight",
                    &shares_to_weight(r.cpu_shares).to_string(),
                )?;
            }
            if let Some((period, quota)) = r.cfs() {
                let quota = if quota > 0 {
                    quota.to_string()
                } else {
                    "max".into()
                };
                write(dir, "cpu.max", &format!("{quota} {period}"))?;
            }
            Ok(())
        }
        (_, Controller::Cpuset) => {
            if !r.cpuset_cpus.is_empty() {
                write(dir, "cpuset.cpus", &r.cpuset_cpus)?;
            }
            if !r.cpuset_mems.is_empty() {
                write(dir, "cpuset.mems", &r.cpuset_mems)?;
            }
            Ok(())
        }
        (_, Controller::Pids) => match r.pids_limit {
            Some(n) if n > 0 => write(dir, "pids.max", &n.to_string()),
            Some(_) => write(dir, "pids.max", "max"),
            None => Ok(()),
        },
        (Version::V1, Controller::Io) if r.blkio_weight != 0 => {
            let w = r.blkio_weight.to_string();
            for file in ["blkio.weight", "blkio.bfq.weight"] {
                if dir.join(file).exists() {
                    return write(dir, file, &w);
                }
            }
            bail!(
                "--blkio-weight: the blkio cgroup has no weight here (no CFQ or BFQ I/O scheduler)"
            )
        }
        (Version::V2, Controller::Io) if r.blkio_weight != 0 => {
            if dir.join("io.bfq.weight").exists() {
                return write(dir, "io.bfq.weight", &r.blkio_weight.to_string());
            }
            if dir.join("io.weight").exists() {
                let w = blkio_to_io_weight(r.blkio_weight);
                return write(dir, "io.weight", &format!("default {w}"));
            }
            bail!("--blkio-weight: the io cgroup has no weight here (no BFQ I/O scheduler)")
        }
        (_, Controller::Io) => Ok(()),
    }
}

/// cgroup v1 memory: the memory+swap limit must never be below the
/// memory limit, so the order of the two writes depends on the direction.
fn v1_memory(dir: &Path, r: &ResourcesConfig) -> Result<()> {
    let swap = r.effective_memory_swap();
    let has_memsw = dir.join("memory.memsw.limit_in_bytes").exists();
    if r.memory != 0 {
        let memory = r.memory.to_string();
        if write(dir, "memory.limit_in_bytes", &memory).is_err() {
            // Raising memory above the current memory+swap: swap first.
            if let (Some(s), true) = (swap, has_memsw) {
                write(dir, "memory.memsw.limit_in_bytes", &s.to_string())?;
            }
            write(dir, "memory.limit_in_bytes", &memory)?;
        }
    }
    // Without swap accounting there is no file: `create` said so (Plan::no_swap_accounting).
    if let (Some(s), true) = (swap, has_memsw) {
        write(dir, "memory.memsw.limit_in_bytes", &s.to_string())?;
    }
    if r.memory_reservation != 0 {
        write(
            dir,
            "memory.soft_limit_in_bytes",
            &r.memory_reservation.to_string(),
        )?;
    }
    if let Some(s) = r.memory_swappiness {
        write(dir, "memory.swappiness", &s.to_string())?;
    }
    if r.oom_kill_disable {
        write(dir, "memory.oom_control", "1")?;
    }
    Ok(())
}

fn v2_memory(dir: &Path, r: &ResourcesConfig) -> Result<()> {
    if r.memory != 0 {
        write(dir, "memory.max", &r.memory.to_string())?;
    }
    if let Some(total) = r.effective_memory_swap() {
        let swap = if total < 0 {
            "max".to_string()
        } else {
            (total - r.memory).max(0).to_string()
        };
        // Without swap accounting there is no file (and no swap to limit).
        if dir.join("memory.swap.max").exists() {
            write(dir, "memory.swap.max", &swap)?;
        }
    }
    if r.memory_reservation != 0 {
        write(dir, "memory.low", &r.memory_reservation.to_string())?;
    }
    Ok(())
}

/// runc's `ConvertCPUSharesToCgroupV2Value`: shares 2..262144 to weight 1..10000.
pub(crate) fn shares_to_weight(shares: i64) -> i64 {
    let shares = shares.clamp(2, 262_144);
    1 + ((shares - 2) * 9999) / 262_142
}

/// runc's `ConvertBlkIOToIOWeightValue`: 10..1000 to 1..10000.
pub(crate) fn blkio_to_io_weight(weight: u16) -> i64 {
    1 + (i64::from(weight) - 10) * 9999 / 990
}

/// A new cgroup v1 cpuset is empty, and no task may join it until it has
/// CPUs and memory nodes: take the parent's where the flags give none.
pub(crate) fn init_v1_cpuset(dir: &Path, parent: &Path) -> Result<()> {
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let current = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
        if current.trim().is_empty() {
            let from_parent = std::fs::read_to_string(parent.join(file))
                .with_context(|| format!("reading {}", parent.join(file).display()))?;
            write(dir, file, from_parent.trim())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(files: &[&str]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for f in files {
            std::fs::write(d.path().join(f), "").unwrap();
        }
        d
    }

    fn read(d: &tempfile::TempDir, f: &str) -> String {
        std::fs::read_to_string(d.path().join(f)).unwrap()
    }

    #[test]
    fn v2_files() {
        let d = dir_with(&["memory.swap.max", "io.weight"]);
        let r = ResourcesConfig {
            memory: 64 << 20,
            memory_reservation: 32 << 20,
            nano_cpus: 1_500_000_000,
            cpu_shares: 512,
            pids_limit: Some(50),
            blkio_weight: 500,
            ..Default::default()
        };
        for c in r.controllers() {
            apply(Version::V2, c, d.path(), &r).unwrap();
        }
        assert_eq!(read(&d, "memory.max"), "67108864");
        assert_eq!(read(&d, "memory.swap.max"), "67108864");
        assert_eq!(read(&d, "memory.low"), "33554432");
        assert_eq!(read(&d, "cpu.max"), "150000 100000");
        assert_eq!(read(&d, "cpu.weight"), "20");
        assert_eq!(read(&d, "pids.max"), "50");
        assert_eq!(read(&d, "io.weight"), "default 4950");
    }

    #[test]
    fn v1_files() {
        let d = dir_with(&["memory.memsw.limit_in_bytes"]);
        let r = ResourcesConfig {
            memory: 64 << 20,
            memory_swap: -1,
            cpu_period: 50_000,
            cpu_quota: 25_000,
            cpuset_cpus: "0".into(),
            pids_limit: Some(-1),
            ..Default::default()
        };
        for c in r.controllers() {
            apply(Version::V1, c, d.path(), &r).unwrap();
        }
        assert_eq!(read(&d, "memory.limit_in_bytes"), "67108864");
        assert_eq!(read(&d, "memory.memsw.limit_in_bytes"), "-1");
        assert_eq!(read(&d, "cpu.cfs_period_us"), "50000");
        assert_eq!(read(&d, "cpu.cfs_quota_us"), "25000");
        assert_eq!(read(&d, "cpuset.cpus"), "0");
        assert!(
            !d.path().join("pids.max").exists(),
            "-1 needs no pids cgroup"
        );
        let bare = dir_with(&[]);
        let e = apply(
            Version::V1,
            Controller::Io,
            bare.path(),
            &ResourcesConfig {
                blkio_weight: 300,
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains("no CFQ or BFQ"), "{e}");
    }

    #[test]
    fn conversions_match_runc() {
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(blkio_to_io_weight(10), 1);
        assert_eq!(blkio_to_io_weight(1000), 10_000);
    }

    #[test]
    fn empty_cpuset_takes_the_parents() {
        let parent = dir_with(&[]);
        std::fs::write(parent.path().join("cpuset.cpus"), "0-1\n").unwrap();
        std::fs::write(parent.path().join("cpuset.mems"), "0\n").unwrap();
        let child = dir_with(&["cpuset.cpus", "cpuset.mems"]);
        std::fs::write(child.path().join("cpuset.cpus"), "1\n").unwrap();
        init_v1_cpuset(child.path(), parent.path()).unwrap();
        assert_eq!(read(&child, "cpuset.cpus"), "1\n");
        assert_eq!(read(&child, "cpuset.mems"), "0");
    }
}
