//! Addresses of berth's networks as plain data: IPv4 subnets (with the
//! gateway and host addresses inside them) and Ethernet MAC addresses.
//! Records (networks, endpoints) hold these; `slirp::addr` allocates them.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// An IPv4 subnet: a network address (host bits zero) and a prefix length.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Ipv4Net {
    addr: Ipv4Addr,
    prefix: u8,
}

impl Ipv4Net {
    /// The subnet containing `addr` with `prefix` bits of network part;
    /// host bits of `addr` are cleared.
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Result<Ipv4Net> {
        if prefix > 32 {
            bail!("invalid prefix length /{prefix}: an IPv4 prefix is at most 32 bits");
        }
        let mask = prefix_mask(prefix);
        Ok(Ipv4Net {
            addr: Ipv4Addr::from(u32::from(addr) & mask),
            prefix,
        })
    }

    /// A subnet from a network address whose host bits are already zero
    /// (constants such as Docker's pools).
    pub(crate) fn from_parts(addr: Ipv4Addr, prefix: u8) -> Ipv4Net {
        debug_assert!(prefix <= 32 && u32::from(addr) & !prefix_mask(prefix) == 0);
        Ipv4Net { addr, prefix }
    }

    pub fn network(&self) -> Ipv4Addr {
        self.addr
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    pub fn netmask(&self) -> Ipv4Addr {
        Ipv4Addr::from(prefix_mask(self.prefix))
    }

    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) | !prefix_mask(self.prefix))
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & prefix_mask(self.prefix) == u32::from(self.addr)
    }

    /// Whether the two subnets share an address.
    pub fn overlaps(&self, other: &Ipv4Net) -> bool {
        self.contains(other.addr) || other.contains(self.addr)
    }

    /// The gateway of a network on this subnet: its first host address.
    pub fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) + 1)
    }

    /// The address through which members reach the host (`host-gateway`):
    /// the last host address of the subnet.
    pub fn host_gateway(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.broadcast()) - 1)
    }

    /// Checks that the subnet can hold a network: room for the gateway,
    /// the host address and at least one member.
    pub fn check_usable(&self) -> Result<()> {
        if self.prefix > 29 {
            bail!(
                "subnet {self} is too small for a network: it needs room for the gateway, the \
                 host address and members; use a prefix of /29 or shorter (e.g. /24)"
            );
        }
        Ok(())
    }
}

fn prefix_mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for Ipv4Net {
    type Err = anyhow::Error;

    /// `A.B.C.D/N`. Host bits must be zero, as Docker requires
    /// ("172.18.0.1/16" is refused: did the user mean the gateway?).
    fn from_str(s: &str) -> Result<Ipv4Net> {
        let (addr, prefix) = s.split_once('/').with_context(|| {
            format!("invalid subnet {s:?}: expected CIDR notation such as 172.18.0.0/16")
        })?;
        let addr: Ipv4Addr = addr
            .parse()
            .with_context(|| format!("invalid subnet {s:?}: {addr:?} is not an IPv4 address"))?;
        let prefix: u8 =
            prefix.parse().ok().filter(|p| *p <= 32).with_context(|| {
                format!("invalid subnet {s:?}: the prefix length must be 0 to 32")
            })?;
        let net = Ipv4Net::new(addr, prefix)?;
        if net.addr != addr {
            bail!("invalid subnet {s:?}: host bits are set; the subnet is {net}",);
        }
        Ok(net)
    }
}

impl TryFrom<String> for Ipv4Net {
    type Error = anyhow::Error;
    fn try_from(s: String) -> Result<Ipv4Net> {
        s.parse()
    }
}

impl From<Ipv4Net> for String {
    fn from(n: Ipv4Net) -> String {
        n.to_string()
    }
}

/// An Ethernet MAC address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Mac(pub [u8; 6]);

impl Mac {
    /// Docker's MAC for an address: 02:42 (locally administered, unicast)
    /// followed by the four bytes of the IPv4 address. Deterministic, so a
    /// restarted network helper keeps the gateway's MAC that members have
    /// cached.
    pub fn for_ip(ip: Ipv4Addr) -> Mac {
        let o = ip.octets();
        Mac([0x02, 0x42, o[0], o[1], o[2], o[3]])
    }

    pub fn is_unicast(&self) -> bool {
        self.0[0] & 1 == 0 && self.0 != [0; 6]
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl FromStr for Mac {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Mac> {
        let mut out = [0u8; 6];
        let parts: Vec<&str> = s.split(':').collect();
        if parts.len() != 6 {
            bail!("invalid MAC address {s:?}: expected six hex bytes such as 02:42:ac:12:00:02");
        }
        for (o, p) in out.iter_mut().zip(parts) {
            *o = u8::from_str_radix(p, 16)
                .ok()
                .filter(|_| p.len() == 2)
                .with_context(|| format!("invalid MAC address {s:?}: {p:?} is not a hex byte"))?;
        }
        Ok(Mac(out))
    }
}

impl TryFrom<String> for Mac {
    type Error = anyhow::Error;
    fn try_from(s: String) -> Result<Mac> {
        s.parse()
    }
}

impl From<Mac> for String {
    fn from(m: Mac) -> String {
        m.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnet_parse_and_layout() {
        let n: Ipv4Net = "172.18.0.0/16".parse().unwrap();
        assert_eq!(n.gateway(), Ipv4Addr::new(172, 18, 0, 1));
        assert_eq!(n.host_gateway(), Ipv4Addr::new(172, 18, 255, 254));
        assert_eq!(n.broadcast(), Ipv4Addr::new(172, 18, 255, 255));
        assert_eq!(n.netmask(), Ipv4Addr::new(255, 255, 0, 0));
        assert!(n.contains(Ipv4Addr::new(172, 18, 3, 4)));
        assert!(!n.contains(Ipv4Addr::new(172, 19, 0, 1)));
        let err = "172.18.0.1/16".parse::<Ipv4Net>().unwrap_err().to_string();
        assert!(err.contains("host bits"), "{err}");
        assert!("172.18.0.0".parse::<Ipv4Net>().is_err());
        assert!("172.18.0.0/33".parse::<Ipv4Net>().is_err());
        let json = serde_json::to_string(&n).unwrap();
        assert_eq!(json, "\"172.18.0.0/16\"");
    }

    #[test]
    fn mac_roundtrip_and_docker_form() {
        let m = Mac::for_ip(Ipv4Addr::new(172, 17, 0, 2));
        assert_eq!(m.to_string(), "02:42:ac:11:00:02");
        assert_eq!("02:42:ac:11:00:02".parse::<Mac>().unwrap(), m);
    }
}
