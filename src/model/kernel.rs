//! Kernel settings of the container's own namespaces and processes:
//! `--sysctl`, `--shm-size` and `--oom-score-adj`.

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// /dev/shm's size when `--shm-size` is not given (Docker's 64 MiB).
pub(crate) const DEFAULT_SHM_SIZE: u64 = 64 << 20;

/// The kernel group of the host config.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct KernelConfig {
    /// `--sysctl KEY=VALUE`, keys dotted (`net.ipv4.ip_forward`).
    pub(crate) sysctls: BTreeMap<String, String>,
    /// `--shm-size` in bytes; None is Docker's 64 MiB.
    pub(crate) shm_size: Option<u64>,
    /// `--oom-score-adj`, -1000 to 1000.
    pub(crate) oom_score_adj: Option<i32>,
}

/// The namespace a sysctl Docker allows belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SysctlNamespace {
    Network,
    Ipc,
}

/// The IPC sysctls Docker allows by name.
const IPC_SYSCTLS: [&str; 8] = [
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

impl KernelConfig {
    pub(crate) fn is_default(&self) -> bool {
        *self == KernelConfig::default()
    }
}

/// Reads one `--sysctl KEY=VALUE`, allowing what Docker allows: the
/// sysctls of a namespace the container has of its own (network: `net.*`;
/// IPC: `kernel.msg*`, `kernel.sem`, `kernel.shm*`, `fs.mqueue.*`).
pub(crate) fn parse_sysctl(item: &str) -> Result<(String, String, SysctlNamespace)> {
    let not_allowed = || {
        anyhow::anyhow!("sysctl '{item}' is not allowed: only sysctls of the container's own namespaces can be set (net.*, kernel.msgmax, kernel.msgmnb, kernel.msgmni, kernel.sem, kernel.shmall, kernel.shmmax, kernel.shmmni, kernel.shm_rmid_forced, fs.mqueue.*); the others change the whole machine")
    };
    let Some((key, value)) = item.split_once('=') else {
        return Err(not_allowed());
    };
    let ns = if key.starts_with("net.") && key.len() > 4 {
        SysctlNamespace::Network
    } else if IPC_SYSCTLS.contains(&key) || (key.starts_with("fs.mqueue.") && key.len() > 10) {
        SysctlNamespace::Ipc
    } else {
        return Err(not_allowed());
    };
    if key.contains("..") || key.contains('/') || key.ends_with('.') {
        return Err(not_allowed());
    }
    Ok((key.to_string(), value.to_string(), ns))
}

/// `--oom-score-adj`, in Docker's range.
pub(crate) fn check_oom_score_adj(value: i64) -> Result<i32> {
    if !(-1000..=1000).contains(&value) {
        bail!("Invalid value {value}, range for oom score adj is [-1000, 1000]");
    }
    Ok(value as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_namespaced_sysctls() {
        assert_eq!(
            parse_sysctl("net.ipv4.ip_forward=1").unwrap(),
            (
                "net.ipv4.ip_forward".into(),
                "1".into(),
                SysctlNamespace::Network
            )
        );
        assert_eq!(
            parse_sysctl("kernel.shmmax=100").unwrap().2,
            SysctlNamespace::Ipc
        );
        assert_eq!(
            parse_sysctl("fs.mqueue.msg_max=20").unwrap().2,
            SysctlNamespace::Ipc
        );
        for bad in [
            "kernel.pid_max=1",
            "vm.swappiness=1",
            "kernel.shmmax",
            "net/ipv4/ip_forward=1",
            "kernel.domainname=x",
            "net.=1",
            "net.ipv4..x=1",
        ] {
            let e = parse_sysctl(bad).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("sysctl '{bad}' is not allowed")),
                "{e}"
            );
        }
    }

    #[test]
    fn oom_range() {
        assert_eq!(check_oom_score_adj(-1000).unwrap(), -1000);
        assert_eq!(
            check_oom_score_adj(1001).unwrap_err().to_string(),
            "Invalid value 1001, range for oom score adj is [-1000, 1000]"
        );
    }
}
