//! `/etc/hosts` and `/etc/resolv.conf` of a container, as Docker writes
//! them for its network mode, plus the names berth always gives a private
//! network: `host.docker.internal` and `host.containers.internal`.
//!
//! - hosts: Docker's loopback lines, `--add-host` entries (`host-gateway`
//!   resolved), the host names, then the container's address and host name
//!   (`127.0.1.1` without a network address).
//! - resolv.conf on berth's networks: the gateway is the resolver (the
//!   network's helper answers member names and forwards the rest to the
//!   host's resolvers, loopback ones included). On the default bridge
//!   `--dns` servers are named directly, as Docker does there; on a
//!   user-defined network the gateway stays and forwards that container's
//!   queries to them (Docker's embedded DNS), with `options ndots:0`.

use super::plan::Attachment;
use crate::model::NetworkConfig;
use anyhow::{bail, Result};
use std::net::{IpAddr, Ipv4Addr};

const HOSTS_BASE: &str = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";

/// The names that reach the host from a private network.
pub(crate) const HOST_NAMES: [&str; 2] = ["host.docker.internal", "host.containers.internal"];

/// `--add-host` values: `NAME:IP` or `NAME:host-gateway` (IPv6 addresses
/// may be bracketed; Docker also accepts `NAME=IP`).
pub(crate) fn check_extra_host(value: &str) -> Result<(String, String)> {
    let (name, ip) = value
        .split_once('=')
        .or_else(|| value.split_once(':'))
        .unwrap_or((value, ""));
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    if name.is_empty() || name.contains(char::is_whitespace) {
        bail!("invalid argument \"{value}\" for \"--add-host\" flag: invalid name");
    }
    if ip != "host-gateway" && ip.parse::<IpAddr>().is_err() {
        bail!(
            "invalid argument \"{value}\" for \"--add-host\" flag: invalid IP address in add-host: \
             \"{ip}\" (use NAME:IP or NAME:host-gateway)"
        );
    }
    Ok((name.to_string(), ip.to_string()))
}

/// The container's /etc/hosts. `host_gateway` is what `host-gateway`
/// stands for; `own` the container's address, if it has one.
pub(crate) fn hosts(
    hostname: &str,
    cfg: &NetworkConfig,
    host_gateway: Option<Ipv4Addr>,
    own: Option<Ipv4Addr>,
    private_network: bool,
) -> String {
    let mut out = String::from(HOSTS_BASE);
    let mut named: Vec<String> = Vec::new();
    for value in &cfg.extra_hosts {
        let Ok((name, ip)) = check_extra_host(value) else {
            continue;
        };
        let ip = if ip == "host-gateway" {
            match host_gateway {
                Some(gw) => gw.to_string(),
                None => continue,
            }
        } else {
            ip
        };
        out.push_str(&format!("{ip}\t{name}\n"));
        named.push(name);
    }
    if private_network {
        if let Some(gw) = host_gateway {
            let names: Vec<&str> = HOST_NAMES
                .iter()
                .copied()
                .filter(|n| !named.iter().any(|x| x == n))
                .collect();
            if !names.is_empty() {
                out.push_str(&format!("{gw}\t{}\n", names.join(" ")));
            }
        }
    }
    match own {
        Some(ip) => out.push_str(&format!("{ip}\t{hostname}\n")),
        None => out.push_str(&format!("127.0.1.1\t{hostname}\n")),
    }
    out
}

/// The container's /etc/resolv.conf from the host's (`host`).
pub(crate) fn resolv_conf(host: &str, cfg: &NetworkConfig, first: Option<&Attachment>) -> String {
    let parsed = Parsed::of(host);
    let search = if cfg.dns_search.is_empty() {
        parsed.search.clone()
    } else {
        cfg.dns_search.clone()
    };
    let mut options = if cfg.dns_options.is_empty() {
        parsed.options.clone()
    } else {
        cfg.dns_options.clone()
    };
    let nameservers: Vec<String> = match first {
        Some(a) if a.record.default_bridge && !cfg.dns.is_empty() => cfg.dns.clone(),
        Some(a) => {
            if !a.record.default_bridge && !options.iter().any(|o| o.starts_with("ndots:")) {
                options.push("ndots:0".into());
            }
            vec![a.record.gateway.to_string()]
        }
        None if !cfg.dns.is_empty() => cfg.dns.clone(),
        None if cfg.mode.is_private() => {
            // No network: the host's loopback resolvers are out of reach.
            let reachable: Vec<String> = parsed
                .nameservers
                .iter()
                .filter(|n| !is_loopback(n))
                .cloned()
                .collect();
            if reachable.is_empty() {
                vec!["8.8.8.8".into(), "8.8.4.4".into()]
            } else {
                reachable
            }
        }
        None => {
            if cfg.dns_search.is_empty() && cfg.dns_options.is_empty() {
                return host.to_string();
            }
            parsed.nameservers.clone()
        }
    };
    let mut out = String::new();
    if !search.is_empty() {
        out.push_str(&format!("search {}\n", search.join(" ")));
    }
    for n in nameservers {
        out.push_str(&format!("nameserver {n}\n"));
    }
    if !options.is_empty() {
        out.push_str(&format!("options {}\n", options.join(" ")));
    }
    out
}

fn is_loopback(ns: &str) -> bool {
    ns.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[derive(Default)]
struct Parsed {
    nameservers: Vec<String>,
    search: Vec<String>,
    options: Vec<String>,
}

impl Parsed {
    fn of(text: &str) -> Parsed {
        let mut p = Parsed::default();
        for line in text.lines() {
            let mut f = line.split_whitespace();
            match f.next() {
                Some("nameserver") => p.nameservers.extend(f.next().map(str::to_string)),
                // The last search or domain line wins, as for the resolver.
                Some("search") | Some("domain") => p.search = f.map(str::to_string).collect(),
                Some("options") => p.options.extend(f.map(str::to_string)),
                _ => {}
            }
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::network_record::NetworkRecord;
    use crate::model::NetworkMode;

    fn attachment(default_bridge: bool) -> Attachment {
        let subnet: crate::model::ipnet::Ipv4Net = "172.18.0.0/16".parse().unwrap();
        Attachment {
            record: NetworkRecord {
                id: "ab".repeat(32),
                name: "n".into(),
                created: String::new(),
                driver: "bridge".into(),
                subnet,
                gateway: subnet.gateway(),
                ip_range: None,
                user_subnet: false,
                user_gateway: false,
                internal: false,
                attachable: false,
                labels: Default::default(),
                options: Default::default(),
                default_bridge,
            },
            endpoint: Default::default(),
            ip: Ipv4Addr::new(172, 18, 0, 2),
            interface: "eth0".into(),
        }
    }

    #[test]
    fn hosts_as_docker_plus_the_host_names() {
        let cfg = NetworkConfig {
            extra_hosts: vec!["foo:1.2.3.4".into(), "gw:host-gateway".into()],
            ..Default::default()
        };
        let gw = Ipv4Addr::new(172, 18, 255, 254);
        let h = hosts(
            "abc",
            &cfg,
            Some(gw),
            Some(Ipv4Addr::new(172, 18, 0, 2)),
            true,
        );
        assert!(h.starts_with("127.0.0.1\tlocalhost\n"));
        assert!(
            h.ends_with(
                "ff02::2\tip6-allrouters\n1.2.3.4\tfoo\n172.18.255.254\tgw\n\
             172.18.255.254\thost.docker.internal host.containers.internal\n172.18.0.2\tabc\n"
            ),
            "{h}"
        );
        // The user's own entry wins.
        let cfg = NetworkConfig {
            extra_hosts: vec!["host.docker.internal:10.0.0.9".into()],
            ..Default::default()
        };
        let h = hosts("abc", &cfg, Some(gw), None, true);
        assert!(
            h.contains(
                "10.0.0.9\thost.docker.internal\n172.18.255.254\thost.containers.internal\n"
            ),
            "{h}"
        );
        assert!(h.ends_with("127.0.1.1\tabc\n"));
        let h = hosts("abc", &NetworkConfig::default(), None, None, false);
        assert!(!h.contains("host.docker.internal"));
    }

    #[test]
    fn extra_host_values() {
        assert_eq!(
            check_extra_host("a:1.2.3.4").unwrap(),
            ("a".into(), "1.2.3.4".into())
        );
        assert_eq!(
            check_extra_host("a:[::1]").unwrap(),
            ("a".into(), "::1".into())
        );
        assert_eq!(check_extra_host("a=::1").unwrap().1, "::1");
        assert_eq!(
            check_extra_host("a:host-gateway").unwrap().1,
            "host-gateway"
        );
        assert!(check_extra_host("a").is_err());
        assert!(check_extra_host("a:1.2.3").is_err());
        assert!(check_extra_host(":1.2.3.4").is_err());
    }

    #[test]
    fn resolv_conf_per_mode() {
        let host = "# by systemd\nnameserver 127.0.0.53\nsearch lan corp\noptions edns0\n";
        let cfg = NetworkConfig::default();
        let bridge = attachment(true);
        assert_eq!(
            resolv_conf(host, &cfg, Some(&bridge)),
            "search lan corp\nnameserver 172.18.0.1\noptions edns0\n"
        );
        let user = attachment(false);
        assert_eq!(
            resolv_conf(host, &cfg, Some(&user)),
            "search lan corp\nnameserver 172.18.0.1\noptions edns0 ndots:0\n"
        );
        let dns = NetworkConfig {
            dns: vec!["9.9.9.9".into()],
            dns_search: vec!["example.com".into()],
            dns_options: vec!["ndots:2".into()],
            ..Default::default()
        };
        // Docker's default bridge names --dns servers directly...
        assert_eq!(
            resolv_conf(host, &dns, Some(&bridge)),
            "search example.com\nnameserver 9.9.9.9\noptions ndots:2\n"
        );
        // ...a user-defined network keeps its resolver, which forwards to them.
        assert_eq!(
            resolv_conf(host, &dns, Some(&user)),
            "search example.com\nnameserver 172.18.0.1\noptions ndots:2\n"
        );
        let none = NetworkConfig {
            mode: NetworkMode::None,
            ..Default::default()
        };
        assert_eq!(
            resolv_conf(host, &none, None),
            "search lan corp\nnameserver 8.8.8.8\nnameserver 8.8.4.4\noptions edns0\n"
        );
        let host_mode = NetworkConfig {
            mode: NetworkMode::Host,
            ..Default::default()
        };
        assert_eq!(resolv_conf(host, &host_mode, None), host);
    }
}
