//! The container's network settings (`--network`, `-p`, `--add-host`,
//! `--dns`...): the network group of the host config, as `create` decides
//! it. Which addresses and host ports a running container got is runtime
//! state (`model::net_state`).

use super::ports::PortMapping;
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::Ipv4Addr;

/// The name of Docker's default network, which berth's default is too.
pub(crate) const DEFAULT_BRIDGE: &str = "bridge";

/// Docker's network modes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) enum NetworkMode {
    /// The host's network namespace.
    Host,
    /// A private namespace with only loopback.
    None,
    /// Docker's default bridge (`bridge`, `default`): berth's user-mode
    /// network of that name, the default.
    #[default]
    Bridge,
    /// `container:ID`: the network namespace of another container.
    Container(String),
    /// A user-defined network.
    Named(String),
}

impl NetworkMode {
    /// Reads a `--network` value; every string is some mode.
    pub(crate) fn parse(s: &str) -> NetworkMode {
        match s {
            "host" => NetworkMode::Host,
            "none" => NetworkMode::None,
            "bridge" | "default" => NetworkMode::Bridge,
            other => match other.strip_prefix("container:") {
                Some(id) => NetworkMode::Container(id.to_string()),
                None => NetworkMode::Named(other.to_string()),
            },
        }
    }

    /// A network namespace of the container's own.
    pub(crate) fn is_private(&self) -> bool {
        !matches!(self, NetworkMode::Host | NetworkMode::Container(_))
    }

    /// On one of berth's user-mode networks (the default bridge or a
    /// user-defined one): an interface, an address, published ports.
    pub(crate) fn is_user_mode(&self) -> bool {
        matches!(self, NetworkMode::Bridge | NetworkMode::Named(_))
    }

    /// The network's name for a user-mode mode.
    pub(crate) fn network_name(&self) -> Option<&str> {
        match self {
            NetworkMode::Bridge => Some(DEFAULT_BRIDGE),
            NetworkMode::Named(n) => Some(n),
            _ => None,
        }
    }
}

impl fmt::Display for NetworkMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetworkMode::Host => f.write_str("host"),
            NetworkMode::None => f.write_str("none"),
            NetworkMode::Bridge => f.write_str("bridge"),
            NetworkMode::Container(id) => write!(f, "container:{id}"),
            NetworkMode::Named(n) => f.write_str(n),
        }
    }
}

impl Serialize for NetworkMode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for NetworkMode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(NetworkMode::parse(&s))
    }
}

/// The container on one user-mode network (Docker's endpoint settings).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct EndpointConfig {
    /// The network's name ("bridge" for the default network).
    pub(crate) network: String,
    /// Its id, resolved at create: a network made later under the same
    /// name is another network.
    pub(crate) network_id: String,
    /// `--network-alias`, `network connect --alias`, compose's service name.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) aliases: Vec<String>,
    /// `--ip`: a fixed address; otherwise the lowest free one at each start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) ip: Option<Ipv4Addr>,
    /// `--mac-address`: the interface's MAC; otherwise Docker's 02:42 and
    /// the address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) mac: Option<super::ipnet::Mac>,
    /// `--network NAME:allow_host_loopback=true`: the host address also
    /// reaches services bound only to the host's loopback (Podman's option).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) allow_host_loopback: bool,
}

/// The network group of the host config. Flattened into `host` (its
/// `network_mode` predates groups); the fields added with user-mode
/// networks are left out of the file when empty.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct NetworkConfig {
    #[serde(rename = "network_mode")]
    pub(crate) mode: NetworkMode,
    /// The user-mode networks in order (the first is `mode`'s and holds
    /// the default route): empty for host, none and container: modes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) endpoints: Vec<EndpointConfig>,
    /// `-p`, as asked (host ports may be ranges or random).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) publish: Vec<PortMapping>,
    /// `-P`: every exposed port on a random host port.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) publish_all: bool,
    /// Exposed ports (`80/tcp`): the image's EXPOSE, `--expose` and the
    /// container ports of `-p`, in that order, each once.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) exposed: Vec<String>,
    /// `--add-host NAME:IP` (IP may be `host-gateway`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) extra_hosts: Vec<String>,
    /// `--dns`, `--dns-search`, `--dns-option`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) dns: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) dns_search: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) dns_options: Vec<String>,
}

impl NetworkConfig {
    /// Docker's `ExposedPorts` object of the exposed ports (`{"80/tcp":
    /// {}}`), for inspect and for a committed image's config; None when
    /// there are none.
    pub(crate) fn exposed_ports_json(
        &self,
    ) -> Option<indexmap::IndexMap<String, serde_json::Value>> {
        (!self.exposed.is_empty()).then(|| {
            self.exposed
                .iter()
                .map(|p| (p.clone(), serde_json::Value::Object(Default::default())))
                .collect()
        })
    }

    /// The user-mode networks the container joins at start, in order
    /// (none after the last one was disconnected).
    pub(crate) fn user_networks(&self) -> Vec<EndpointConfig> {
        if self.mode.is_user_mode() {
            self.endpoints.clone()
        } else {
            Vec::new()
        }
    }

    /// The networks a create request asks for: its endpoints, or the
    /// mode's network when it names none (requests made in code).
    pub(crate) fn requested_networks(&self) -> Vec<EndpointConfig> {
        match self.mode.network_name() {
            None => Vec::new(),
            Some(_) if !self.endpoints.is_empty() => self.endpoints.clone(),
            Some(name) => vec![EndpointConfig {
                network: name.to_string(),
                ..Default::default()
            }],
        }
    }

    /// The endpoint on network `name_or_id`, if the container has one.
    pub(crate) fn endpoint(&self, name_or_id: &str) -> Option<EndpointConfig> {
        self.user_networks().into_iter().find(|e| {
            e.network == name_or_id || (!e.network_id.is_empty() && e.network_id == name_or_id)
        })
    }
}

/// Docker's rule for network and alias names, plus what berth's own
/// syntax needs: `[a-zA-Z0-9][a-zA-Z0-9_.-]*` (no `:`, `/` or `,`).
pub(crate) fn check_network_name(name: &str) -> Result<()> {
    let mut b = name.bytes();
    let ok = b.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && b.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'));
    if !ok || name.len() > 128 {
        bail!(
            "invalid network name {name:?}: use letters, digits, '_', '.' and '-', starting with a \
             letter or digit"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_round_trip_as_strings() {
        for s in ["host", "none", "bridge", "container:abc", "mynet"] {
            assert_eq!(NetworkMode::parse(s).to_string(), s);
        }
        assert_eq!(NetworkMode::parse("default"), NetworkMode::Bridge);
        assert_eq!(NetworkMode::default(), NetworkMode::Bridge);
        let json = serde_json::to_string(&NetworkConfig {
            mode: NetworkMode::None,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(json, r#"{"network_mode":"none"}"#);
        assert!(NetworkMode::None.is_private() && !NetworkMode::Host.is_private());
        assert!(NetworkMode::Bridge.is_user_mode() && !NetworkMode::None.is_user_mode());
        assert_eq!(NetworkMode::Bridge.network_name(), Some("bridge"));
    }

    #[test]
    fn endpoints_by_name_or_id() {
        let c = NetworkConfig {
            mode: NetworkMode::Named("a".into()),
            endpoints: vec![
                EndpointConfig {
                    network: "a".into(),
                    network_id: "1111".into(),
                    ..Default::default()
                },
                EndpointConfig {
                    network: "b".into(),
                    network_id: "2222".into(),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        assert_eq!(c.endpoint("2222").unwrap().network, "b");
        assert!(c.endpoint("c").is_none());
        let host = NetworkConfig {
            mode: NetworkMode::Host,
            ..c.clone()
        };
        assert!(host.user_networks().is_empty());
    }

    #[test]
    fn network_names() {
        for ok in ["a", "my-net", "proj_default", "x.y"] {
            check_network_name(ok).unwrap();
        }
        for bad in ["", "-a", "a:b", "a/b", "a b", "a,b"] {
            assert!(check_network_name(bad).is_err(), "{bad}");
        }
    }
}
