//! Ports as records hold them: what `-p` asked for ([`PortMapping`]),
//! what was bound on the host ([`PortBinding`]), and exposed ports
//! (`80/tcp`) as images, `--expose` and filters write them.

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        })
    }
}

/// One published port, as asked for.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct PortMapping {
    /// The host address to listen on; `None`: every address, IPv4 and IPv6.
    pub host_ip: Option<IpAddr>,
    /// The host ports to choose from: `(p, p)` for one port, `(a, b)` for
    /// the first free one of a range, `(0, 0)` for a random port.
    pub host_ports: (u16, u16),
    pub container_port: u16,
    pub proto: Proto,
}

impl PortMapping {
    pub fn is_random(&self) -> bool {
        self.host_ports == (0, 0)
    }
}

impl fmt::Display for PortMapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.host_ip {
            Some(IpAddr::V6(ip)) => write!(f, "[{ip}]:")?,
            Some(ip) => write!(f, "{ip}:")?,
            None => {}
        }
        match self.host_ports {
            (0, 0) if self.host_ip.is_some() => f.write_str(":")?,
            (0, 0) => {}
            (a, b) if a == b => write!(f, "{a}:")?,
            (a, b) => write!(f, "{a}-{b}:")?,
        }
        write!(f, "{}/{}", self.container_port, self.proto)
    }
}

impl Proto {
    pub fn parse(s: &str) -> Option<Proto> {
        match s {
            "tcp" => Some(Proto::Tcp),
            "udp" => Some(Proto::Udp),
            _ => None,
        }
    }
}

/// A published port as bound on the host: one address (a wildcard mapping
/// has an IPv4 and an IPv6 binding), the port it got.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct PortBinding {
    pub container_port: u16,
    pub proto: Proto,
    pub host_ip: IpAddr,
    pub host_port: u16,
}

impl PortBinding {
    /// `80/tcp`, the key Docker's `Ports` maps use.
    pub fn key(&self) -> String {
        format!("{}/{}", self.container_port, self.proto)
    }

    /// `0.0.0.0:8080`, `[::]:8080`: as `port` prints it.
    pub fn host(&self) -> String {
        std::net::SocketAddr::new(self.host_ip, self.host_port).to_string()
    }
}

/// An exposed port as Docker writes it: `80/tcp`, `53/udp` (a port alone
/// is tcp). `None` for anything else.
pub fn parse_exposed(s: &str) -> Option<(u16, Proto)> {
    let (port, proto) = match s.split_once('/') {
        Some((p, proto)) => (p, Proto::parse(&proto.to_ascii_lowercase())?),
        None => (s, Proto::Tcp),
    };
    Some((port.parse().ok().filter(|p| *p > 0)?, proto))
}

/// `--expose` values: a port or a range, with an optional protocol
/// (`80`, `8000-8002/udp`), as their `80/tcp` forms.
pub fn expand_expose(value: &str) -> Result<Vec<String>> {
    let (ports, proto) = match value.split_once('/') {
        Some((p, proto)) => match Proto::parse(&proto.to_ascii_lowercase()) {
            Some(x) => (p, x),
            None => bail!("invalid proto: {proto} (in --expose {value})"),
        },
        None => (value, Proto::Tcp),
    };
    let bad = || anyhow::anyhow!("invalid range format for --expose: {value}");
    let (a, b) = match ports.split_once('-') {
        Some((a, b)) => (
            a.parse::<u16>().map_err(|_| bad())?,
            b.parse::<u16>().map_err(|_| bad())?,
        ),
        None => {
            let p = ports.parse::<u16>().map_err(|_| bad())?;
            (p, p)
        }
    };
    if a == 0 || b < a {
        return Err(bad());
    }
    Ok((a..=b).map(|p| format!("{p}/{proto}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposed_forms() {
        assert_eq!(parse_exposed("80"), Some((80, Proto::Tcp)));
        assert_eq!(parse_exposed("53/udp"), Some((53, Proto::Udp)));
        assert_eq!(parse_exposed("53/sctp"), None);
        assert_eq!(parse_exposed("x/tcp"), None);
        assert_eq!(
            expand_expose("7000-7002/udp").unwrap(),
            ["7000/udp", "7001/udp", "7002/udp"]
        );
        assert_eq!(expand_expose("80").unwrap(), ["80/tcp"]);
        assert!(expand_expose("80-70").is_err());
        assert!(expand_expose("80/icmp").is_err());
    }

    #[test]
    fn bindings_print_as_docker() {
        let b = PortBinding {
            container_port: 80,
            proto: Proto::Tcp,
            host_ip: "::".parse().unwrap(),
            host_port: 8080,
        };
        assert_eq!(b.key(), "80/tcp");
        assert_eq!(b.host(), "[::]:8080");
    }
}
