//! A project's networks: `PROJECT_default` and the networks the file
//! declares (`PROJECT_KEY`, or `name:`), made as `network create` makes
//! them and labelled as Docker Compose labels them, or `external` ones
//! that must exist; and how a service joins them (its service name and
//! aliases resolve on each), as Docker Compose wires them.

use super::labels;
use super::progress::{self, Event, Progress, Status};
use super::project::Project;
use super::types::{NetworkConfig as ComposeNetwork, PortConfig, Service};
use crate::model::network::EndpointConfig;
use crate::model::network_record::{DRIVER, OPT_MTU};
use crate::model::ports::{PortMapping, Proto};
use crate::runtime::network::records::{self, CreateNetwork};
use crate::store::Store;
use anyhow::{anyhow, bail, Result};
use indexmap::IndexMap;
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// `com.docker.compose.network`: the network's key in the file.
pub(crate) const NETWORK: &str = "com.docker.compose.network";

/// The name a project network has in the store: `name:` (the loader sets
/// it: `PROJECT_KEY`, or the key for an external one), else `PROJECT_KEY`.
pub(crate) fn network_name(project: &Project, key: &str) -> String {
    match project.model.networks.get(key) {
        Some(n) if !n.name.is_empty() => n.name.clone(),
        Some(n) if n.external => key.to_string(),
        _ => format!("{}_{key}", project.name),
    }
}

/// Compose's `com.docker.compose.config-hash` of a network.
fn network_hash(n: &ComposeNetwork) -> String {
    let json = serde_json::to_string(n).expect("a network serializes");
    hex::encode(Sha256::digest(json.as_bytes()))
}

/// The keys of the networks the project's services are on (those of
/// services with a `network_mode` are on none of them).
fn used_networks(project: &Project) -> Vec<&str> {
    let mut keys: Vec<&str> = Vec::new();
    for s in project.model.services.values() {
        if !s.network_mode.is_empty() {
            continue;
        }
        for k in s.networks.keys() {
            if !keys.contains(&k.as_str()) {
                keys.push(k);
            }
        }
    }
    keys
}

/// Makes the project's networks that do not exist (those its services
/// use); an external one must exist.
pub(crate) fn ensure_networks(
    store: &Store,
    project: &Project,
    events: &dyn Progress,
) -> Result<()> {
    for key in used_networks(project) {
        let Some(n) = project.model.networks.get(key) else {
            bail!("service network {key:?} is not declared in the top-level networks section");
        };
        let name = network_name(project, key);
        match store.network(&name) {
            Ok(existing) => {
                if n.external {
                    continue;
                }
                match existing.labels.get(labels::PROJECT) {
                    None => events.warning(&format!(
                        "a network with name {name} exists but was not created by compose.\nSet `external: true` to use an existing network"
                    )),
                    Some(p) if *p != project.name => events.warning(&format!(
                        "a network with name {name} exists but was not created for project {:?}.\nSet `external: true` to use an existing network",
                        project.name
                    )),
                    Some(_) => {}
                }
            }
            Err(_) if n.external => {
                bail!("network {name} declared as external, but could not be found")
            }
            Err(_) => create_network(store, project, key, &name, n, events)?,
        }
    }
    Ok(())
}

fn create_network(
    store: &Store,
    project: &Project,
    key: &str,
    name: &str,
    n: &ComposeNetwork,
    events: &dyn Progress,
) -> Result<()> {
    let id = format!("Network {name}");
    let request = network_request(project, key, name, n);
    let made = request.and_then(|r| records::create(store, &r));
    if let Err(e) = made {
        events.event(progress::error(&id));
        return Err(e.context(format!("creating network {name} (networks.{key})")));
    }
    events.event(progress::creating(&id));
    events.event(progress::created(&id));
    Ok(())
}

/// `network create` for a declared network: the bridge driver (berth's
/// user-mode network), one IPv4 pool, the MTU option, labels.
fn network_request(
    project: &Project,
    key: &str,
    name: &str,
    n: &ComposeNetwork,
) -> Result<CreateNetwork> {
    let at = |field: &str, why: String| anyhow!("networks.{key}.{field}: {why}");
    if !matches!(n.driver.as_str(), "" | DRIVER) {
        return Err(at(
            "driver",
            format!(
                "driver {:?} is not available: berth's networks are user-mode bridges (driver: bridge)",
                n.driver
            ),
        ));
    }
    if n.enable_ipv6 == Some(true) {
        return Err(at("enable_ipv6", "berth's networks are IPv4 only".into()));
    }
    if n.enable_ipv4 == Some(false) {
        return Err(at(
            "enable_ipv4",
            "berth's networks are IPv4 networks".into(),
        ));
    }
    let mut options = IndexMap::new();
    for (k, v) in &n.driver_opts {
        if k != OPT_MTU {
            return Err(at(
                "driver_opts",
                format!("option {k:?} is not supported: berth's networks take {OPT_MTU} only"),
            ));
        }
        options.insert(k.clone(), v.0.clone());
    }
    if !matches!(n.ipam.driver.as_str(), "" | "default") {
        return Err(at(
            "ipam.driver",
            format!(
                "{:?} is not available: berth has the default one",
                n.ipam.driver
            ),
        ));
    }
    let mut req = CreateNetwork {
        name: name.to_string(),
        driver: Some(DRIVER.to_string()),
        internal: n.internal,
        attachable: n.attachable,
        options,
        ..Default::default()
    };
    match n.ipam.config.as_slice() {
        [] => {}
        [pool] => {
            if !pool.aux_addresses.is_empty() {
                return Err(at(
                    "ipam.config.aux_addresses",
                    "not supported by berth's networks".into(),
                ));
            }
            if !pool.subnet.is_empty() {
                req.subnet = Some(
                    pool.subnet
                        .parse()
                        .map_err(|e| at("ipam.config.subnet", format!("{e:#}")))?,
                );
            }
            if !pool.gateway.is_empty() {
                req.gateway = Some(pool.gateway.parse().map_err(|_| {
                    at(
                        "ipam.config.gateway",
                        format!("{:?} is not an IPv4 address", pool.gateway),
                    )
                })?);
            }
            if !pool.ip_range.is_empty() {
                req.ip_range = Some(
                    pool.ip_range
                        .parse()
                        .map_err(|e| at("ipam.config.ip_range", format!("{e:#}")))?,
                );
            }
        }
        _ => {
            return Err(at(
                "ipam.config",
                "berth's networks have one IPv4 subnet: give one pool".into(),
            ))
        }
    }
    let mut labels: IndexMap<String, String> = n
        .labels
        .0
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    labels.insert(labels::PROJECT.into(), project.name.clone());
    labels.insert(NETWORK.into(), key.to_string());
    labels.insert(labels::VERSION.into(), labels::version().to_string());
    labels.insert(labels::CONFIG_HASH.into(), network_hash(n));
    req.labels = labels;
    Ok(req)
}

/// The networks `down` removes: the project's own (not external) ones the
/// file declares, and those labelled for the project that it no longer
/// declares. Names.
pub(crate) fn project_networks(store: &Store, project: &Project) -> Result<Vec<String>> {
    let mut names: Vec<String> = project
        .model
        .networks
        .iter()
        .filter(|(_, n)| !n.external)
        .map(|(k, _)| network_name(project, k))
        .collect();
    for r in store.network_records()? {
        if r.labels.get(labels::PROJECT) == Some(&project.name) && !names.contains(&r.name) {
            names.push(r.name);
        }
    }
    Ok(names)
}

/// Removes a project network for `down`, with Compose's events; a network
/// that is not there is skipped, one a running container of another
/// project is on is a warning.
pub(crate) fn remove_network(store: &Store, name: &str, events: &dyn Progress) -> Result<bool> {
    let Ok(record) = store.network(name) else {
        return Ok(false);
    };
    let id = format!("Network {}", record.name);
    events.event(progress::removing(&id));
    if !members_gone(store, &record.id)? {
        events.event(Event::new(&id, Status::Warning, "Resource is still in use"));
        return Ok(true);
    }
    if let Err(e) = records::remove(store, &record.name) {
        events.event(progress::error_message(&id, "Error while Removing"));
        return Err(e);
    }
    events.event(progress::removed(&id));
    Ok(true)
}

/// Whether the network has no running member, once the monitors of the
/// members that just stopped (`down` stopped them) let go of their
/// addresses: a monitor exits a moment after it recorded the exit.
fn members_gone(store: &Store, network_id: &str) -> Result<bool> {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let members = records::running_members(store, network_id)?;
        if members.is_empty() {
            return Ok(true);
        }
        let settling = members.iter().all(|id| {
            store
                .observed_state(id)
                .map_or(true, |s| !s.status.is_active())
        });
        if !settling || Instant::now() >= deadline {
            return Ok(false);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The service's endpoints, in Compose's order (highest `gw_priority`,
/// then `priority`, then name): the first holds the default route. Each
/// has the service name as an alias, and the service's aliases.
pub(crate) fn endpoints(project: &Project, s: &Service) -> Result<Vec<EndpointConfig>> {
    let mut keys: Vec<&String> = s.networks.keys().collect();
    let prio = |k: &String| {
        s.networks
            .get(k)
            .and_then(|n| n.as_ref())
            .map_or((0, 0), |n| (n.gw_priority, n.priority))
    };
    keys.sort_by(|a, b| prio(b).cmp(&prio(a)).then(a.cmp(b)));
    let mut out = Vec::new();
    for key in keys {
        let at = |field: &str| format!("service {:?}: networks.{key}.{field}", s.name);
        let mut ep = EndpointConfig {
            network: network_name(project, key),
            aliases: vec![s.name.clone()],
            ..Default::default()
        };
        if let Some(n) = s.networks.get(key).and_then(|n| n.as_ref()) {
            for a in &n.aliases {
                if !ep.aliases.contains(a) {
                    ep.aliases.push(a.clone());
                }
            }
            if !n.ipv4_address.is_empty() {
                ep.ip = Some(n.ipv4_address.parse().map_err(|_| {
                    anyhow!(
                        "{}: {:?} is not an IPv4 address",
                        at("ipv4_address"),
                        n.ipv4_address
                    )
                })?);
            }
            if !n.ipv6_address.is_empty() {
                bail!("{}: berth's networks are IPv4 only", at("ipv6_address"));
            }
            if !n.link_local_ips.is_empty() {
                bail!(
                    "{}: not supported by berth's networks",
                    at("link_local_ips")
                );
            }
            if !n.driver_opts.is_empty() {
                bail!("{}: not supported by berth's networks", at("driver_opts"));
            }
            if !n.interface_name.is_empty() {
                bail!("{}: not supported by berth's networks (interfaces are eth0, eth1, ... in order)", at("interface_name"));
            }
            if !n.mac_address.is_empty() {
                ep.mac = Some(
                    n.mac_address
                        .parse()
                        .map_err(|e| anyhow!("{}: {e:#}", at("mac_address")))?,
                );
            }
        }
        out.push(ep);
    }
    if !s.mac_address.is_empty() {
        let Some(first) = out.first_mut() else {
            bail!(
                "service {:?}: mac_address needs a network of the project",
                s.name
            );
        };
        if first.mac.is_none() {
            first.mac = Some(
                s.mac_address
                    .parse()
                    .map_err(|e| anyhow!("service {:?}: mac_address: {e:#}", s.name))?,
            );
        }
    }
    Ok(out)
}

/// A `ports:` entry as `-p` would give it.
pub(crate) fn port_mapping(s: &Service, p: &PortConfig) -> Result<PortMapping> {
    let at = |why: String| anyhow!("service {:?}: ports: {why}", s.name);
    let container_port = u16::try_from(p.target)
        .ok()
        .filter(|t| *t > 0)
        .ok_or_else(|| at(format!("invalid target port {}", p.target)))?;
    let proto = match p.protocol.to_ascii_lowercase().as_str() {
        "" => Proto::Tcp,
        other => Proto::parse(other)
            .ok_or_else(|| at(format!("protocol {other:?}: berth publishes tcp and udp")))?,
    };
    let host_ip = match p.host_ip.as_str() {
        "" => None,
        ip => Some(
            ip.parse::<IpAddr>()
                .map_err(|_| at(format!("invalid host_ip {ip:?}")))?,
        ),
    };
    let port = |x: &str| {
        x.parse::<u16>()
            .map_err(|_| at(format!("invalid published port {:?}", p.published.0)))
    };
    let published = p.published.0.as_str();
    let host_ports = match published.split_once('-') {
        _ if published.is_empty() => (0, 0),
        Some((a, b)) => {
            let (a, b) = (port(a)?, port(b)?);
            if a > b {
                return Err(at(format!("invalid published range {published:?}")));
            }
            (a, b)
        }
        None => {
            let a = port(published)?;
            (a, a)
        }
    };
    Ok(PortMapping {
        host_ip,
        host_ports,
        container_port,
        proto,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(yaml: &str) -> Project {
        Project::from_yaml(yaml)
    }

    #[test]
    fn services_join_their_networks_with_their_name_as_alias() {
        let p = project(
            "services:
  web:
    image: x
    networks:
      front: {aliases: [www], ipv4_address: 10.5.0.9}
      default: {gw_priority: 1}
  db: {image: x, networks: [ext, default]}
networks:
  front: {ipam: {config: [{subnet: 10.5.0.0/24}]}}
  ext: {external: true, name: shared}
",
        );
        let eps = endpoints(&p, p.service("web").unwrap()).unwrap();
        // The highest gw_priority first: it holds the default route.
        assert_eq!(eps[0].network, "p_default");
        assert_eq!(eps[0].aliases, ["web"]);
        assert_eq!(eps[1].network, "p_front");
        assert_eq!(eps[1].aliases, ["web", "www"]);
        assert_eq!(eps[1].ip, Some("10.5.0.9".parse().unwrap()));
        // By key otherwise; an external network by its own name.
        let eps = endpoints(&p, p.service("db").unwrap()).unwrap();
        let names: Vec<&str> = eps.iter().map(|e| e.network.as_str()).collect();
        assert_eq!(names, ["p_default", "shared"]);
        let req = network_request(&p, "front", "p_front", &p.model.networks["front"]).unwrap();
        assert_eq!(req.subnet, Some("10.5.0.0/24".parse().unwrap()));
        assert_eq!(req.labels[labels::PROJECT], "p");
        assert_eq!(req.labels[NETWORK], "front");
    }

    #[test]
    fn ports_become_publish_mappings() {
        let p = project(
            "services:
  web:
    image: x
    ports: [\"8080:80\", \"127.0.0.1:9000-9002:90/udp\", \"7000\"]
",
        );
        let s = p.service("web").unwrap();
        let m: Vec<String> = s
            .ports
            .iter()
            .map(|x| port_mapping(s, x).unwrap().to_string())
            .collect();
        assert_eq!(m, ["8080:80/tcp", "127.0.0.1:9000-9002:90/udp", "7000/tcp"]);
    }

    #[test]
    fn unsupported_drivers_are_errors_naming_the_key() {
        let p = project(
            "services:
  web: {image: x, networks: [o]}
networks:
  o: {driver: overlay}
",
        );
        let e = network_request(&p, "o", "p_o", &p.model.networks["o"]).unwrap_err();
        assert!(format!("{e:#}").contains("networks.o.driver"), "{e:#}");
    }
}
