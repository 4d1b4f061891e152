//! The container's network: `--network`, `--network-alias`, `--ip`,
//! `-p`/`-P`/`--expose`, `--add-host` and `--dns*`.

use crate::model::network::{EndpointConfig, NetworkConfig, DEFAULT_BRIDGE};
use crate::model::{CreateRequest, NetworkMode};
use anyhow::{bail, Context, Result};
use clap::Args;
use std::net::{IpAddr, Ipv4Addr};

#[derive(Debug, Args, Clone, Default)]
pub(crate) struct NetworkFlags {
    /// Connect a container to a network: "bridge" (the default: a private
    /// network of berth's, with outbound access), a network made with
    /// `network create`, "host" (the host's network), "none" (loopback only)
    /// or "container:NAME" (another container's). Repeat for several
    /// networks. NAME:allow_host_loopback=true lets the container reach
    /// services bound to the host's 127.0.0.1 through host.docker.internal
    #[arg(long = "network", alias = "net", value_name = "network")]
    pub(crate) network: Vec<String>,
    /// Add network-scoped alias for the container
    #[arg(long = "network-alias", alias = "net-alias", value_name = "list")]
    pub(crate) network_alias: Vec<String>,
    /// IPv4 address (e.g., 172.30.100.104)
    #[arg(long = "ip", value_name = "string")]
    pub(crate) ip: Option<String>,
    /// Container MAC address (e.g., 92:d0:c6:0a:29:33)
    #[arg(long = "mac-address", value_name = "string")]
    pub(crate) mac_address: Option<String>,
    /// IPv6 address: refused, berth's networks are IPv4 only
    #[arg(long = "ip6", value_name = "string")]
    pub(crate) ip6: Option<String>,
    /// Container IPv4/IPv6 link-local addresses: refused, berth's networks
    /// give one address per interface
    #[arg(long = "link-local-ip", value_name = "list")]
    pub(crate) link_local_ip: Vec<String>,
    /// Publish a container's port(s) to the host: [IP:][HOSTPORT:]CTRPORT[/tcp|/udp]
    #[arg(short = 'p', long = "publish", value_name = "list")]
    pub(crate) publish: Vec<String>,
    /// Publish all exposed ports to random ports
    #[arg(short = 'P', long = "publish-all")]
    pub(crate) publish_all: bool,
    /// Expose a port or a range of ports
    #[arg(long = "expose", value_name = "list")]
    pub(crate) expose: Vec<String>,
    /// Add a custom host-to-IP mapping (host:ip, or host:host-gateway)
    #[arg(long = "add-host", value_name = "list")]
    pub(crate) add_host: Vec<String>,
    /// Set custom DNS servers
    #[arg(long = "dns", value_name = "list")]
    pub(crate) dns: Vec<String>,
    /// Set custom DNS search domains
    #[arg(long = "dns-search", value_name = "list")]
    pub(crate) dns_search: Vec<String>,
    /// Set DNS options
    #[arg(long = "dns-option", alias = "dns-opt", value_name = "list")]
    pub(crate) dns_option: Vec<String>,
}

impl NetworkFlags {
    pub(crate) fn apply(&self, req: &mut CreateRequest) -> Result<()> {
        req.network = self.config()?;
        Ok(())
    }

    /// The network part of the request, checked.
    pub(crate) fn config(&self) -> Result<NetworkConfig> {
        let mut cfg = NetworkConfig::default();
        let parsed: Vec<(NetworkMode, EndpointConfig)> = if self.network.is_empty() {
            vec![(NetworkMode::Bridge, endpoint(DEFAULT_BRIDGE))]
        } else {
            self.network
                .iter()
                .map(|v| parse_network_value(v))
                .collect::<Result<_>>()?
        };
        if parsed.len() > 1 && parsed.iter().any(|(m, _)| !m.is_user_mode()) {
            bail!(
                "conflicting options: cannot attach both user-defined and non-user-defined \
                 network-modes"
            );
        }
        cfg.mode = parsed[0].0.clone();
        if cfg.mode.is_user_mode() {
            cfg.endpoints = parsed.into_iter().map(|(_, e)| e).collect();
            let first = &mut cfg.endpoints[0];
            first.aliases.extend(self.network_alias.iter().cloned());
            if let Some(ip) = &self.ip {
                first.ip = Some(parse_ipv4(ip, "--ip")?);
            }
            if let Some(mac) = &self.mac_address {
                first.mac = Some(parse_mac(mac)?);
            }
        } else {
            if self.mac_address.is_some() {
                bail!(
                    "conflicting options: mac-address and the network mode: --mac-address needs                      a network of berth's (bridge or one made with `network create`)"
                );
            }
            if !self.network_alias.is_empty() {
                bail!(
                    "network-scoped alias is supported only for containers in user defined \
                     networks"
                );
            }
            if self.ip.is_some() {
                bail!("--ip needs a network of berth's (bridge or one made with `network create`)");
            }
        }
        if self.ip6.is_some() {
            bail!(
                "--ip6 is not supported: berth's networks are IPv4 only (published ports still \
                 listen on the host's IPv6 addresses)"
            );
        }
        if !self.link_local_ip.is_empty() {
            bail!(
                "--link-local-ip is not supported: berth's networks give each interface one \
                 IPv4 address (use --ip to choose it)"
            );
        }
        for p in &self.publish {
            cfg.publish
                .extend(crate::slirp::portfwd::parse_publish(p).context("invalid -p")?);
        }
        cfg.publish_all = self.publish_all;
        for e in &self.expose {
            cfg.exposed.extend(crate::model::ports::expand_expose(e)?);
        }
        for h in &self.add_host {
            crate::runtime::network::etc::check_extra_host(h)?;
            cfg.extra_hosts.push(h.clone());
        }
        for d in &self.dns {
            d.parse::<IpAddr>().map_err(|_| {
                anyhow::anyhow!(
                    "invalid argument \"{d}\" for \"--dns\" flag: {d} is not an ip address"
                )
            })?;
            cfg.dns.push(d.clone());
        }
        cfg.dns_search = self.dns_search.clone();
        cfg.dns_options = self.dns_option.clone();
        Ok(cfg)
    }
}

fn endpoint(name: &str) -> EndpointConfig {
    EndpointConfig {
        network: name.to_string(),
        ..Default::default()
    }
}

/// Docker's rule: a unicast MAC address.
fn parse_mac(value: &str) -> Result<crate::model::ipnet::Mac> {
    let mac: crate::model::ipnet::Mac = value.parse().map_err(|e| {
        anyhow::anyhow!("invalid argument \"{value}\" for \"--mac-address\" flag: {e}")
    })?;
    if !mac.is_unicast() {
        bail!("invalid argument \"{value}\" for \"--mac-address\" flag: not a unicast MAC address");
    }
    Ok(mac)
}

fn parse_ipv4(value: &str, flag: &str) -> Result<Ipv4Addr> {
    value.parse::<Ipv4Addr>().map_err(|_| {
        anyhow::anyhow!("invalid argument \"{value}\" for \"{flag}\" flag: not an IPv4 address")
    })
}

/// One `--network` value: a mode, or a network with options, in
/// berth's/Podman's form `NAME:allow_host_loopback=true` or Docker's
/// `name=NAME,alias=A,ip=IP`.
pub(crate) fn parse_network_value(value: &str) -> Result<(NetworkMode, EndpointConfig)> {
    if value.starts_with("name=") {
        let mut ep = EndpointConfig::default();
        for kv in value.split(',') {
            let (k, v) = kv
                .split_once('=')
                .with_context(|| format!("invalid --network {value:?}: {kv:?} is not key=value"))?;
            match k {
                "name" => ep.network = v.to_string(),
                "alias" => ep.aliases.push(v.to_string()),
                "ip" => ep.ip = Some(parse_ipv4(v, "--network ip=")?),
                "mac-address" => ep.mac = Some(parse_mac(v)?),
                "allow_host_loopback" => ep.allow_host_loopback = parse_bool(v, value)?,
                other => bail!(
                    "invalid --network {value:?}: unknown option {other:?} (berth knows name, \
                     alias, ip, mac-address and allow_host_loopback)"
                ),
            }
        }
        let mode = crate::runtime::spec::check_network(&ep.network)?;
        if !mode.is_user_mode() {
            bail!("invalid --network {value:?}: options are for networks of berth's");
        }
        return Ok((mode, ep));
    }
    if value.starts_with("container:") {
        return Ok((
            crate::runtime::spec::check_network(value)?,
            EndpointConfig::default(),
        ));
    }
    let (name, opts) = match value.split_once(':') {
        Some((n, o)) => (n, Some(o)),
        None => (value, None),
    };
    let mode = crate::runtime::spec::check_network(name)?;
    let mut ep = endpoint(mode.network_name().unwrap_or(name));
    if let Some(opts) = opts {
        if !mode.is_user_mode() {
            bail!("invalid --network {value:?}: options are for networks of berth's");
        }
        for kv in opts.split(',') {
            match kv.split_once('=') {
                Some(("allow_host_loopback", v)) => ep.allow_host_loopback = parse_bool(v, value)?,
                _ => bail!(
                    "invalid --network {value:?}: unknown option {kv:?} (the option is \
                     allow_host_loopback=true)"
                ),
            }
        }
    }
    Ok((mode, ep))
}

fn parse_bool(v: &str, whole: &str) -> Result<bool> {
    match v {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => bail!("invalid --network {whole:?}: {v:?} is not true or false"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(networks: &[&str]) -> NetworkFlags {
        NetworkFlags {
            network: networks.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn default_is_the_bridge() {
        let c = flags(&[]).config().unwrap();
        assert_eq!(c.mode, NetworkMode::Bridge);
        assert_eq!(c.endpoints[0].network, "bridge");
        let c = flags(&["none"]).config().unwrap();
        assert_eq!(c.mode, NetworkMode::None);
        assert!(c.endpoints.is_empty());
    }

    #[test]
    fn several_networks_and_options() {
        let mut f = flags(&["a:allow_host_loopback=true", "name=b,alias=x,ip=10.0.0.5"]);
        f.network_alias = vec!["web".into()];
        let c = f.config().unwrap();
        assert_eq!(c.mode, NetworkMode::Named("a".into()));
        assert!(c.endpoints[0].allow_host_loopback);
        assert_eq!(c.endpoints[0].aliases, ["web"]);
        assert_eq!(c.endpoints[1].network, "b");
        assert_eq!(c.endpoints[1].aliases, ["x"]);
        assert_eq!(c.endpoints[1].ip, Some(Ipv4Addr::new(10, 0, 0, 5)));
        let c = flags(&["bridge:allow_host_loopback=true"])
            .config()
            .unwrap();
        assert_eq!(c.mode, NetworkMode::Bridge);
        assert!(c.endpoints[0].allow_host_loopback);
        assert!(flags(&["host", "a"]).config().is_err());
        assert!(flags(&["host:allow_host_loopback=true"]).config().is_err());
        assert!(flags(&["a:bogus=1"]).config().is_err());
        assert!(flags(&["container:"]).config().is_err());
        let c = flags(&["container:web"]).config().unwrap();
        assert_eq!(c.mode, NetworkMode::Container("web".into()));
    }

    #[test]
    fn ports_hosts_and_dns() {
        let f = NetworkFlags {
            publish: vec!["8080:80".into(), "127.0.0.1::53/udp".into()],
            expose: vec!["7000-7001".into()],
            add_host: vec!["db:10.0.0.2".into()],
            dns: vec!["9.9.9.9".into()],
            ..Default::default()
        };
        let c = f.config().unwrap();
        assert_eq!(c.publish.len(), 2);
        assert_eq!(c.exposed, ["7000/tcp", "7001/tcp"]);
        let bad = NetworkFlags {
            dns: vec!["nope".into()],
            ..Default::default()
        };
        assert!(bad.config().is_err());
        let bad = NetworkFlags {
            add_host: vec!["db".into()],
            ..Default::default()
        };
        assert!(bad.config().is_err());
        let bad = NetworkFlags {
            ip: Some("10.0.0.1".into()),
            ..flags(&["host"])
        };
        assert!(bad.config().is_err());
    }
}
