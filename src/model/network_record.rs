//! A user-mode network as the store keeps it (`networks/<id>/network.json`)
//! and the address leases of its members (`networks/<id>/leases/<container>`).

use super::ipnet::Ipv4Net;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;

/// The driver every berth network has: Docker's name for a local L2 segment.
pub(crate) const DRIVER: &str = "bridge";

/// Docker's option naming a network's MTU; the one `-o` berth honours.
pub(crate) const OPT_MTU: &str = "com.docker.network.driver.mtu";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct NetworkRecord {
    /// 64 hex characters, as Docker's.
    pub(crate) id: String,
    pub(crate) name: String,
    /// RFC 3339.
    pub(crate) created: String,
    #[serde(default = "driver")]
    pub(crate) driver: String,
    pub(crate) subnet: Ipv4Net,
    pub(crate) gateway: Ipv4Addr,
    /// `--ip-range`: members get addresses from this part of the subnet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) ip_range: Option<Ipv4Net>,
    /// The user chose the subnet (`--subnet`): only then may members ask
    /// for a fixed address (Docker's rule).
    #[serde(default)]
    pub(crate) user_subnet: bool,
    /// The user chose the gateway (`--gateway`); shown in inspect.
    #[serde(default)]
    pub(crate) user_gateway: bool,
    /// No outbound access, no host address.
    #[serde(default)]
    pub(crate) internal: bool,
    #[serde(default)]
    pub(crate) attachable: bool,
    #[serde(default)]
    pub(crate) labels: IndexMap<String, String>,
    #[serde(default)]
    pub(crate) options: IndexMap<String, String>,
    /// Docker's default bridge: no name resolution between members.
    #[serde(default)]
    pub(crate) default_bridge: bool,
}

fn driver() -> String {
    DRIVER.to_string()
}

impl NetworkRecord {
    /// The members' MTU: `-o com.docker.network.driver.mtu`, else
    /// slirp4netns' 65520.
    pub(crate) fn mtu(&self) -> Option<u32> {
        self.options.get(OPT_MTU).and_then(|m| m.parse().ok())
    }
}

/// A member's address on a network, held while its monitor lives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Lease {
    pub(crate) container_id: String,
    pub(crate) ip: Ipv4Addr,
    /// The monitor that holds it: a lease whose monitor is gone (killed)
    /// is free again.
    pub(crate) monitor_pid: i32,
    pub(crate) monitor_start: u64,
}

impl Lease {
    pub(crate) fn holder(&self) -> crate::util::proc::ProcessId {
        crate::util::proc::ProcessId {
            pid: self.monitor_pid,
            start: self.monitor_start,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_load_with_defaults() {
        let r: NetworkRecord = serde_json::from_str(
            r#"{"id":"ab","name":"n","created":"x","subnet":"10.0.0.0/24","gateway":"10.0.0.1"}"#,
        )
        .unwrap();
        assert_eq!(r.driver, "bridge");
        assert!(!r.internal && r.labels.is_empty() && r.mtu().is_none());
    }
}
