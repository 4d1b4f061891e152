//! Resource limits: `--memory`, `--memory-swap`, `--memory-reservation`,
//! `--cpus`, `--cpu-shares`, `--cpu-period`, `--cpu-quota`,
//! `--cpuset-cpus`, `--cpuset-mems`, `--pids-limit`, `--blkio-weight` (the
//! flags `update` takes too), `--memory-swappiness`, `--oom-kill-disable`
//! and `--ulimit`, in Docker's syntax and units; Docker's other resource
//! flags are refused with the reason (`--kernel-memory`, `--cpu-rt-*`,
//! `--blkio-weight-device`, `--device-read-*`, `--device-write-*`).

use crate::model::resources::{parse_bytes, parse_ulimit, ResourcesConfig};
use crate::model::CreateRequest;
use anyhow::{anyhow, Result};
use clap::Args;

// The cgroup limits, shared by `create`/`run` and `update`. (A plain
// comment: a doc comment would become the about of `update`, whose
// flags are built late, `defer`.)
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct LimitFlags {
    /// Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)
    #[arg(long = "blkio-weight", value_name = "uint16")]
    pub(crate) blkio_weight: Option<u16>,
    /// Limit CPU CFS (Completely Fair Scheduler) period
    #[arg(long = "cpu-period", value_name = "int")]
    pub(crate) cpu_period: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) quota
    #[arg(long = "cpu-quota", value_name = "int", allow_hyphen_values = true)]
    pub(crate) cpu_quota: Option<i64>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long = "cpu-shares", value_name = "int")]
    pub(crate) cpu_shares: Option<i64>,
    /// Number of CPUs
    #[arg(long, value_name = "decimal")]
    pub(crate) cpus: Option<String>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-cpus", value_name = "string")]
    pub(crate) cpuset_cpus: Option<String>,
    /// MEMs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-mems", value_name = "string")]
    pub(crate) cpuset_mems: Option<String>,
    /// Memory limit
    #[arg(short = 'm', long, value_name = "bytes")]
    pub(crate) memory: Option<String>,
    /// Memory soft limit
    #[arg(long = "memory-reservation", value_name = "bytes")]
    pub(crate) memory_reservation: Option<String>,
    /// Swap limit equal to memory plus swap: '-1' to enable unlimited swap
    #[arg(long = "memory-swap", value_name = "bytes", allow_hyphen_values = true)]
    pub(crate) memory_swap: Option<String>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long = "pids-limit", value_name = "int", allow_hyphen_values = true)]
    pub(crate) pids_limit: Option<i64>,
}

/// `invalid argument "1x" for "-m, --memory" flag: invalid suffix: 'x'`.
fn bad(value: &str, flag: &str, why: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("invalid argument \"{value}\" for \"{flag}\" flag: {why}")
}

fn bytes(value: &Option<String>, flag: &str) -> Result<i64> {
    match value.as_deref() {
        None => Ok(0),
        Some("-1") if flag == "--memory-swap" => Ok(-1),
        Some(v) => parse_bytes(v).map_err(|e| bad(v, flag, e)),
    }
}

/// `--cpus 1.5` in billionths of a CPU, as Docker's `NanoCPUs`.
fn nano_cpus(value: &str) -> Result<i64> {
    let cpus: f64 = value
        .trim()
        .parse()
        .map_err(|_| bad(value, "--cpus", "failed to parse as a decimal number"))?;
    if !cpus.is_finite() || cpus < 0.0 {
        return Err(bad(value, "--cpus", "the number of CPUs must be positive"));
    }
    Ok((cpus * 1e9).round() as i64)
}

impl LimitFlags {
    /// The limits these flags give (zero where not given), checked as
    /// Docker's daemon checks them.
    pub(crate) fn config(&self) -> Result<ResourcesConfig> {
        let r = ResourcesConfig {
            memory: bytes(&self.memory, "-m, --memory")?,
            memory_swap: bytes(&self.memory_swap, "--memory-swap")?,
            memory_reservation: bytes(&self.memory_reservation, "--memory-reservation")?,
            nano_cpus: self
                .cpus
                .as_deref()
                .map(nano_cpus)
                .transpose()?
                .unwrap_or(0),
            cpu_shares: self.cpu_shares.unwrap_or(0),
            cpu_period: self.cpu_period.unwrap_or(0),
            cpu_quota: self.cpu_quota.unwrap_or(0),
            cpuset_cpus: self.cpuset_cpus.clone().unwrap_or_default(),
            cpuset_mems: self.cpuset_mems.clone().unwrap_or_default(),
            pids_limit: self.pids_limit,
            blkio_weight: self.blkio_weight.unwrap_or(0),
            ..Default::default()
        };
        Ok(r)
    }

    /// Whether any flag was given (`update` needs one).
    pub(crate) fn any(&self) -> bool {
        self.blkio_weight.is_some()
            || self.cpu_period.is_some()
            || self.cpu_quota.is_some()
            || self.cpu_shares.is_some()
            || self.cpus.is_some()
            || self.cpuset_cpus.is_some()
            || self.cpuset_mems.is_some()
            || self.memory.is_some()
            || self.memory_reservation.is_some()
            || self.memory_swap.is_some()
            || self.pids_limit.is_some()
    }
}

#[derive(Debug, Args, Clone, Default)]
pub(crate) struct ResourceFlags {
    #[command(flatten)]
    pub(crate) limits: LimitFlags,
    /// Tune container memory swappiness (0 to 100) (default -1)
    #[arg(
        long = "memory-swappiness",
        value_name = "int",
        allow_hyphen_values = true
    )]
    pub(crate) memory_swappiness: Option<i64>,
    /// Disable OOM Killer
    #[arg(long = "oom-kill-disable")]
    pub(crate) oom_kill_disable: bool,
    /// Ulimit options (default [])
    #[arg(long, value_name = "ulimit")]
    pub(crate) ulimit: Vec<String>,
    /// Not supported: kernel memory limits are deprecated and gone from Linux 5.4+
    #[arg(long = "kernel-memory", value_name = "bytes")]
    pub(crate) kernel_memory: Option<String>,
    /// Not supported: real-time CPU scheduling of containers
    #[arg(long = "cpu-rt-period", value_name = "int")]
    pub(crate) cpu_rt_period: Option<i64>,
    /// Not supported: real-time CPU scheduling of containers
    #[arg(long = "cpu-rt-runtime", value_name = "int")]
    pub(crate) cpu_rt_runtime: Option<i64>,
    /// Not supported: per-device I/O weights (--blkio-weight applies)
    #[arg(long = "blkio-weight-device", value_name = "list")]
    pub(crate) blkio_weight_device: Vec<String>,
    /// Not supported: per-device I/O rate limits
    #[arg(long = "device-read-bps", value_name = "list")]
    pub(crate) device_read_bps: Vec<String>,
    /// Not supported: per-device I/O rate limits
    #[arg(long = "device-read-iops", value_name = "list")]
    pub(crate) device_read_iops: Vec<String>,
    /// Not supported: per-device I/O rate limits
    #[arg(long = "device-write-bps", value_name = "list")]
    pub(crate) device_write_bps: Vec<String>,
    /// Not supported: per-device I/O rate limits
    #[arg(long = "device-write-iops", value_name = "list")]
    pub(crate) device_write_iops: Vec<String>,
}

impl ResourceFlags {
    pub(crate) fn apply(&self, req: &mut CreateRequest) -> Result<()> {
        self.refuse()?;
        let mut r = self.limits.config()?;
        r.memory_swappiness = self.memory_swappiness.filter(|s| *s != -1);
        r.oom_kill_disable = self.oom_kill_disable;
        if r.oom_kill_disable && r.memory == 0 {
            crate::util::report::warning(
                "Disabling the OOM killer on containers without setting a '-m/--memory' limit may be dangerous.",
            );
        }
        crate::runtime::resources::check(&r)?;
        for u in &self.ulimit {
            let parsed = parse_ulimit(u).map_err(|e| bad(u, "--ulimit", e))?;
            // A later --ulimit of the same name wins, as in Docker.
            r.ulimits.retain(|x| x.name != parsed.name);
            r.ulimits.push(parsed);
        }
        req.resources = r;
        Ok(())
    }
}

impl ResourceFlags {
    /// Docker's resource flags berth does not implement, each with why.
    fn refuse(&self) -> Result<()> {
        if self.kernel_memory.is_some() {
            anyhow::bail!(
                "--kernel-memory is not supported: kernel memory limits are deprecated in Docker and \
                 gone from Linux 5.4 on (kernel memory counts against --memory)"
            );
        }
        refuse_cpu_rt(self.cpu_rt_period, self.cpu_rt_runtime)?;
        let per_device = [
            ("--blkio-weight-device", &self.blkio_weight_device),
            ("--device-read-bps", &self.device_read_bps),
            ("--device-read-iops", &self.device_read_iops),
            ("--device-write-bps", &self.device_write_bps),
            ("--device-write-iops", &self.device_write_iops),
        ];
        if let Some((flag, _)) = per_device.iter().find(|(_, v)| !v.is_empty()) {
            anyhow::bail!(
                "{flag} is not supported: berth sets no per-device I/O weights or rate limits; \
                 --blkio-weight sets the container's I/O weight where the io (blkio) cgroup \
                 controller is available"
            );
        }
        Ok(())
    }
}

/// `--cpu-rt-period` and `--cpu-rt-runtime` (of `run`, `create` and
/// `update`), refused with the reason.
pub(crate) fn refuse_cpu_rt(period: Option<i64>, runtime: Option<i64>) -> Result<()> {
    if period.is_some() || runtime.is_some() {
        anyhow::bail!(
            "--cpu-rt-period and --cpu-rt-runtime are not supported: real-time CPU time for a \
             container's cgroup needs the kernel's real-time group scheduling \
             (CONFIG_RT_GROUP_SCHED, cgroup v1) and root; use --cpus or --cpu-shares"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_become_docker_units() {
        let f = ResourceFlags {
            limits: LimitFlags {
                memory: Some("64m".into()),
                memory_swap: Some("-1".into()),
                cpus: Some("0.5".into()),
                pids_limit: Some(50),
                ..Default::default()
            },
            ulimit: vec!["nofile=1024:2048".into(), "nofile=512".into()],
            memory_swappiness: Some(-1),
            ..Default::default()
        };
        let mut req = CreateRequest::default();
        f.apply(&mut req).unwrap();
        let r = &req.resources;
        assert_eq!(
            (r.memory, r.memory_swap, r.nano_cpus, r.pids_limit),
            (64 << 20, -1, 500_000_000, Some(50))
        );
        assert_eq!(r.memory_swappiness, None, "-1 is Docker's unset");
        assert_eq!(r.ulimits.len(), 1);
        assert_eq!(r.ulimits[0].soft, 512);
        let e = LimitFlags {
            memory: Some("1x".into()),
            ..Default::default()
        }
        .config()
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid argument \"1x\" for \"-m, --memory\" flag: invalid suffix: 'x'"
        );
    }
}
