//! The container's network (`--network`).

use serde::{Deserialize, Serialize};
use std::fmt;

/// Docker's network modes. Only `host` and `none` can run today; the
/// others parse so that the error can say what is missing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) enum NetworkMode {
    /// The host's network namespace (berth's default for now).
    #[default]
    Host,
    /// A private namespace with only loopback.
    None,
    /// Docker's default bridge (`bridge`, `default`).
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

/// The network group of the host config.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct NetworkConfig {
    #[serde(rename = "network_mode")]
    pub(crate) mode: NetworkMode,
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
        let json = serde_json::to_string(&NetworkConfig {
            mode: NetworkMode::None,
        })
        .unwrap();
        assert_eq!(json, r#"{"network_mode":"none"}"#);
        assert!(NetworkMode::None.is_private() && !NetworkMode::Host.is_private());
    }
}
