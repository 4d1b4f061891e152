//! Addresses of user-mode networks: IPv4 subnets, the gateway and host
//! addresses inside them, MAC addresses, the host's routes, and the pure
//! allocation helpers that the caller runs under the store lock (subnets
//! that collide neither with the host's routes nor with other networks,
//! the next free member address).
//!
//! Layout of a network's subnet (e.g. 172.18.0.0/16):
//! - the first host address (.0.1) is the gateway: default route, DNS;
//! - the last host address (.255.254) is the host (`host-gateway`,
//!   `host.docker.internal`): connections to it reach the host's services;
//! - members are allocated from the second host address (.0.2) upward,
//!   as Docker does.

pub use crate::model::ipnet::{Ipv4Net, Mac};
use anyhow::{bail, Result};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The pools Docker allocates network subnets from, in order: the default
/// bridge's 172.17.0.0/16, then 172.18.0.0/16 ... 172.31.0.0/16, then the
/// /20s of 192.168.0.0/16.
pub fn default_pool() -> impl Iterator<Item = Ipv4Net> {
    let wide = (17u8..=31).map(|b| Ipv4Net::from_parts(Ipv4Addr::new(172, b, 0, 0), 16));
    let narrow = (0u8..16).map(|i| Ipv4Net::from_parts(Ipv4Addr::new(192, 168, i * 16, 0), 20));
    wide.chain(narrow)
}

/// The first subnet of Docker's pools that overlaps neither a subnet in
/// `taken` (other networks) nor a route of the host (`host_routes()`).
/// `None` when the pools are exhausted. Pure: run it under the store lock
/// with the subnets of every network record.
pub fn pick_subnet(taken: &[Ipv4Net], routes: &[Ipv4Net]) -> Option<Ipv4Net> {
    default_pool().find(|cand| {
        !taken.iter().any(|t| t.overlaps(cand))
            // A default route (0.0.0.0/0) overlaps everything: only the
            // routes of directly attached networks and specific gateways
            // matter.
            && !routes.iter().any(|r| r.prefix() > 0 && r.overlaps(cand))
    })
}

/// Checks a subnet the user asked for (`network create --subnet`): usable,
/// and not overlapping another network (Docker's wording) or a host route.
pub fn check_subnet(subnet: &Ipv4Net, taken: &[Ipv4Net], routes: &[Ipv4Net]) -> Result<()> {
    subnet.check_usable()?;
    if let Some(t) = taken.iter().find(|t| t.overlaps(subnet)) {
        bail!("invalid pool request: Pool overlaps with other one on this address space ({subnet} overlaps the network subnet {t})");
    }
    if let Some(r) = routes.iter().find(|r| r.prefix() > 0 && r.overlaps(subnet)) {
        bail!(
            "subnet {subnet} overlaps the host's route to {r}: containers could not reach \
             those addresses; choose another --subnet"
        );
    }
    Ok(())
}

/// The next member address of `subnet`: the lowest host address from the
/// second one upward that is not the gateway, the host address, or in
/// `used`. Pure: the caller holds the store lock and passes every address
/// already given to a member of the network.
pub fn allocate_ip(subnet: &Ipv4Net, gateway: Ipv4Addr, used: &[Ipv4Addr]) -> Option<Ipv4Addr> {
    let first = u32::from(subnet.network()) + 1;
    let last = u32::from(subnet.broadcast()).checked_sub(1)?;
    (first..=last)
        .map(Ipv4Addr::from)
        .find(|ip| *ip != gateway && *ip != subnet.host_gateway() && !used.contains(ip))
}

/// Checks a fixed address asked for (`--ip`): inside the subnet, not
/// reserved, not used. Pure, as [`allocate_ip`].
pub fn check_ip(
    subnet: &Ipv4Net,
    gateway: Ipv4Addr,
    used: &[Ipv4Addr],
    ip: Ipv4Addr,
) -> Result<()> {
    if !subnet.contains(ip) || ip == subnet.network() || ip == subnet.broadcast() {
        bail!("invalid address {ip}: it is not a host address of the network's subnet {subnet}");
    }
    if ip == gateway || ip == subnet.host_gateway() {
        bail!("invalid address {ip}: it is reserved for the network's gateway or the host");
    }
    if used.contains(&ip) {
        bail!("Address already in use: {ip} is given to another container on the network");
    }
    Ok(())
}

/// A route of the host, IPv4 or IPv6.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum HostRoute {
    V4(Ipv4Net),
    V6(Ipv6Addr, u8),
}

/// The destinations of the host's routes, from /proc/net/route and
/// /proc/net/ipv6_route (missing files give no routes: a kernel without
/// IPv6). These are the networks a new subnet must not hide.
pub fn host_routes() -> Vec<HostRoute> {
    let mut out = Vec::new();
    if let Ok(text) = std::fs::read_to_string("/proc/net/route") {
        out.extend(parse_route_v4(&text).into_iter().map(HostRoute::V4));
    }
    if let Ok(text) = std::fs::read_to_string("/proc/net/ipv6_route") {
        out.extend(parse_route_v6(&text));
    }
    out
}

/// The IPv4 routes of [`host_routes`], the input of [`pick_subnet`].
pub fn host_routes_v4() -> Vec<Ipv4Net> {
    host_routes()
        .into_iter()
        .filter_map(|r| match r {
            HostRoute::V4(n) => Some(n),
            HostRoute::V6(..) => None,
        })
        .collect()
}

/// /proc/net/route: `Iface Destination Gateway Flags ... Mask ...`, the
/// addresses as little-endian hex of the u32 in network order.
fn parse_route_v4(text: &str) -> Vec<Ipv4Net> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let dest = u32::from_str_radix(f.get(1)?, 16).ok()?;
            let mask = u32::from_str_radix(f.get(7)?, 16).ok()?;
            // The kernel prints the network-order bytes as a native u32.
            let dest = Ipv4Addr::from(dest.to_ne_bytes());
            let prefix = u32::from_be_bytes(mask.to_ne_bytes()).leading_ones() as u8;
            Ipv4Net::new(dest, prefix).ok()
        })
        .collect()
}

/// /proc/net/ipv6_route: `DEST(32 hex) DESTLEN(hex) SRC SRCLEN NEXTHOP ...`.
fn parse_route_v6(text: &str) -> Vec<HostRoute> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let dest = u128::from_str_radix(f.first()?, 16).ok()?;
            let len = u8::from_str_radix(f.get(1)?, 16).ok()?;
            Some(HostRoute::V6(Ipv6Addr::from(dest), len))
        })
        .collect()
}

/// Whether a destination must never be reached through the gateway's
/// outbound NAT: the host's loopback and the unspecified address (a
/// connect to 0.0.0.0 reaches the host's loopback), multicast and
/// broadcast.
pub fn forbidden_destination(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback() || v4.octets()[0] == 0 || v4.is_multicast() || v4.is_broadcast()
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| forbidden_destination(IpAddr::V4(v4)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn subnet_parse_and_layout() {
        let n = net("172.18.0.0/16");
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
        assert!(net("10.0.0.0/30").check_usable().is_err());
        assert!(net("10.0.0.0/29").check_usable().is_ok());
    }

    #[test]
    fn mac_roundtrip_and_docker_form() {
        let m = Mac::for_ip(Ipv4Addr::new(172, 17, 0, 2));
        assert_eq!(m.to_string(), "02:42:ac:11:00:02");
        assert_eq!("02:42:ac:11:00:02".parse::<Mac>().unwrap(), m);
        assert!(m.is_unicast());
        assert!("02:42:ac:11:00".parse::<Mac>().is_err());
        assert!("02:42:ac:11:00:2".parse::<Mac>().is_err());
        assert!(!Mac([0xff; 6]).is_unicast());
    }

    #[test]
    fn picks_docker_pools_avoiding_routes_and_networks() {
        // Nothing taken: Docker's default bridge subnet.
        assert_eq!(pick_subnet(&[], &[]), Some(net("172.17.0.0/16")));
        // docker0 on the host, and a default route, which must not count.
        let routes = [net("172.17.0.0/16"), net("0.0.0.0/0"), net("192.0.2.0/24")];
        assert_eq!(pick_subnet(&[], &routes), Some(net("172.18.0.0/16")));
        assert_eq!(
            pick_subnet(&[net("172.18.0.0/16")], &routes),
            Some(net("172.19.0.0/16"))
        );
        // A route inside a candidate makes it collide.
        let routes = [net("172.17.5.0/24"), net("172.18.0.0/15")];
        assert_eq!(pick_subnet(&[], &routes), Some(net("172.20.0.0/16")));
        // All 172.x taken: the 192.168 /20s.
        let taken: Vec<Ipv4Net> = (17..=31).map(|b| net(&format!("172.{b}.0.0/16"))).collect();
        assert_eq!(pick_subnet(&taken, &[]), Some(net("192.168.0.0/20")));
        let all: Vec<Ipv4Net> = default_pool().collect();
        assert_eq!(pick_subnet(&all, &[]), None);
    }

    #[test]
    fn user_subnets_are_checked() {
        let taken = [net("172.18.0.0/16")];
        let err = check_subnet(&net("172.18.5.0/24"), &taken, &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("Pool overlaps with other one on this address space"),
            "{err}"
        );
        let err = check_subnet(&net("192.0.2.0/25"), &[], &[net("192.0.2.0/24")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("route"), "{err}");
        check_subnet(&net("10.10.0.0/24"), &taken, &[net("0.0.0.0/0")]).unwrap();
    }

    #[test]
    fn allocates_from_the_second_address_skipping_reserved() {
        let n = net("10.1.0.0/29"); // .1 gateway, .6 host, .2-.5 members
        let gw = n.gateway();
        let mut used = vec![];
        for want in [2, 3, 4, 5] {
            let ip = allocate_ip(&n, gw, &used).unwrap();
            assert_eq!(ip, Ipv4Addr::new(10, 1, 0, want));
            used.push(ip);
        }
        assert_eq!(allocate_ip(&n, gw, &used), None);
        // A freed address is reused.
        used.remove(1);
        assert_eq!(allocate_ip(&n, gw, &used), Some(Ipv4Addr::new(10, 1, 0, 3)));
        // A user-chosen gateway elsewhere frees .1.
        let gw = Ipv4Addr::new(10, 1, 0, 5);
        assert_eq!(allocate_ip(&n, gw, &[]), Some(Ipv4Addr::new(10, 1, 0, 1)));
        assert!(check_ip(&n, gw, &[], Ipv4Addr::new(10, 1, 0, 5)).is_err());
        assert!(check_ip(&n, gw, &[], Ipv4Addr::new(10, 1, 0, 6)).is_err());
        assert!(check_ip(&n, gw, &[], Ipv4Addr::new(10, 1, 0, 7)).is_err());
        assert!(check_ip(
            &n,
            gw,
            &[Ipv4Addr::new(10, 1, 0, 2)],
            Ipv4Addr::new(10, 1, 0, 2)
        )
        .is_err());
        check_ip(&n, gw, &[], Ipv4Addr::new(10, 1, 0, 2)).unwrap();
    }

    #[test]
    fn parses_proc_routes() {
        let v4 =
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                  eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
                  eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
                  docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n";
        assert_eq!(
            parse_route_v4(v4),
            vec![net("0.0.0.0/0"), net("192.0.2.0/24"), net("172.17.0.0/16")]
        );
        let v6 = "fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n";
        assert_eq!(
            parse_route_v6(v6),
            vec![HostRoute::V6("fd00::".parse().unwrap(), 64)]
        );
        // The real files parse (whatever they hold).
        let _ = host_routes();
    }

    #[test]
    fn forbidden_destinations() {
        for ip in [
            "127.0.0.1",
            "127.1.2.3",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "::ffff:127.0.0.1",
        ] {
            assert!(forbidden_destination(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["192.0.2.2", "8.8.8.8", "fd00::2"] {
            assert!(!forbidden_destination(ip.parse().unwrap()), "{ip}");
        }
    }
}
