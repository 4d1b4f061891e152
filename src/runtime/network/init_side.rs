//! The container's init and its network, between clone and exec (no
//! threads, no allocation that matters): a network namespace of its own
//! (or another container's), loopback up, and one TAP device per network,
//! each handed to the monitor over a socket and closed here.

use crate::slirp::proto::send_fd;
use crate::slirp::tap::{self, TapConfig};
use anyhow::{Context, Result};
use nix::sched::CloneFlags;
use std::os::fd::{AsFd, OwnedFd};

/// What the init does about the network, prepared by the monitor.
pub(crate) enum InitNetwork {
    /// The host's namespace (`--network host`): nothing.
    Host,
    /// A namespace of its own with loopback only (`--network none`).
    Loopback,
    /// Another container's namespace (`--network container:X`), open.
    Join(OwnedFd),
    /// A namespace of its own with a TAP device per network, each sent to
    /// the monitor over `to_monitor` once configured.
    Taps {
        taps: Vec<TapConfig>,
        to_monitor: OwnedFd,
    },
}

impl InitNetwork {
    /// Whether the container gets a network namespace of its own.
    pub(crate) fn is_private(&self) -> bool {
        matches!(self, InitNetwork::Loopback | InitNetwork::Taps { .. })
    }
}

/// In the init, after the other namespaces were made and before
/// `pivot_root` (`/dev/net/tun` is the host's).
pub(crate) fn setup(net: &InitNetwork) -> Result<()> {
    match net {
        InitNetwork::Host => Ok(()),
        InitNetwork::Loopback => {
            unshare_net()?;
            tap::loopback_up()
        }
        InitNetwork::Join(ns) => nix::sched::setns(ns.as_fd(), CloneFlags::CLONE_NEWNET).context(
            "joining the network namespace of the container named by --network container:",
        ),
        InitNetwork::Taps { taps, to_monitor } => {
            unshare_net()?;
            if taps.is_empty() {
                return tap::loopback_up();
            }
            for cfg in taps {
                let dev = tap::create_tap(cfg).with_context(|| {
                    format!("setting up the container's network device {}", cfg.name)
                })?;
                send_fd(to_monitor.as_fd(), dev.as_fd())
                    .context("handing the network device to the container's monitor")?;
            }
            Ok(())
        }
    }
}

fn unshare_net() -> Result<()> {
    nix::sched::unshare(CloneFlags::CLONE_NEWNET).map_err(|e| netns_error(e, read_limit()))
}

fn read_limit() -> Option<u64> {
    std::fs::read_to_string("/proc/sys/user/max_net_namespaces")
        .ok()
        .and_then(|s| s.trim().parse().ok())
}

/// Why a network namespace could not be made, and what to change.
pub(crate) fn netns_error(e: nix::errno::Errno, limit: Option<u64>) -> anyhow::Error {
    let limit_text = match limit {
        Some(n) => format!("user.max_net_namespaces is {n}"),
        None => "user.max_net_namespaces could not be read".to_string(),
    };
    match e {
        nix::errno::Errno::ENOSPC | nix::errno::Errno::EPERM | nix::errno::Errno::EUSERS => {
            anyhow::anyhow!(
                "creating the container's network namespace: {e}: the kernel does not let this \
                 user create network namespaces ({limit_text}); an administrator can allow them \
                 (e.g. `sysctl -w user.max_net_namespaces=15000`); meanwhile use --network host"
            )
        }
        other => anyhow::anyhow!("creating the container's network namespace: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_namespaces_name_the_sysctl_and_the_way_out() {
        let e = netns_error(nix::errno::Errno::ENOSPC, Some(0)).to_string();
        assert!(e.contains("user.max_net_namespaces is 0"), "{e}");
        assert!(e.contains("--network host"), "{e}");
        assert!(e.contains("sysctl"), "{e}");
    }
}
