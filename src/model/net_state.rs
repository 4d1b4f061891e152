//! A running container's network as its monitor records it in
//! `state.json`: the address it got on each network and the host ports it
//! published (random ports are only known once bound). Empty when the
//! container does not run, as Docker shows it.

use super::ipnet::Mac;
use super::ports::PortBinding;
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct NetworkState {
    pub(crate) endpoints: Vec<EndpointState>,
    pub(crate) ports: Vec<PortBinding>,
}

impl NetworkState {
    pub(crate) fn is_empty(&self) -> bool {
        self.endpoints.is_empty() && self.ports.is_empty()
    }

    pub(crate) fn endpoint(&self, network_id: &str) -> Option<&EndpointState> {
        self.endpoints.iter().find(|e| e.network_id == network_id)
    }
}

/// The container on one network while it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct EndpointState {
    pub(crate) network: String,
    pub(crate) network_id: String,
    /// `eth0`, `eth1`, ...
    pub(crate) interface: String,
    pub(crate) ip: Ipv4Addr,
    pub(crate) prefix: u8,
    pub(crate) gateway: Ipv4Addr,
    pub(crate) mac: Mac,
    /// Names the network's DNS answers for it besides the container's name.
    #[serde(default)]
    pub(crate) aliases: Vec<String>,
}
