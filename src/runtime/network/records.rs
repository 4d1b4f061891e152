//! Networks as the user manages them (`network create`, `rm`, `prune`) and
//! as `create` resolves them: subnets picked from Docker's pools so that
//! they collide neither with the host's routes nor with each other, the
//! default `bridge` network made on first use, and a container's network
//! flags checked against the records.
//!
//! Everything that writes runs under the store lock; the choice of subnet
//! and the records it is checked against are read in the same section.

use crate::model::ipnet::Ipv4Net;
use crate::model::network::{check_network_name, EndpointConfig, NetworkConfig, DEFAULT_BRIDGE};
use crate::model::network_record::{NetworkRecord, DRIVER, OPT_MTU};
use crate::model::ports::parse_exposed;
use crate::model::NetworkMode;
use crate::slirp::addr;
use crate::store::{Store, StoreLock};
use crate::util::report;
use anyhow::{bail, Context, Result};
use indexmap::IndexMap;
use std::net::Ipv4Addr;

/// Names Docker reserves for its predefined networks.
pub(crate) const PREDEFINED: [&str; 3] = [DEFAULT_BRIDGE, "host", "none"];

/// `network create`, checked and ready to make.
#[derive(Debug, Clone, Default)]
pub(crate) struct CreateNetwork {
    pub(crate) name: String,
    /// `-d`: only `bridge` (berth's user-mode network) exists.
    pub(crate) driver: Option<String>,
    pub(crate) subnet: Option<Ipv4Net>,
    pub(crate) gateway: Option<Ipv4Addr>,
    pub(crate) ip_range: Option<Ipv4Net>,
    pub(crate) internal: bool,
    pub(crate) attachable: bool,
    pub(crate) ipv6: bool,
    pub(crate) labels: IndexMap<String, String>,
    /// `-o`: the MTU is the one option berth has.
    pub(crate) options: IndexMap<String, String>,
}

/// Makes a network: checks the request, picks or checks the subnet under
/// the store lock, writes the record.
pub(crate) fn create(store: &Store, req: &CreateNetwork) -> Result<NetworkRecord> {
    check_network_name(&req.name)?;
    if let Some(d) = req.driver.as_deref().filter(|d| *d != DRIVER) {
        bail!(
            "network driver {d:?} is not available: berth's networks are user-mode bridges \
             (-d bridge, the default)"
        );
    }
    if req.ipv6 {
        bail!("IPv6 networks are not supported by berth yet: create the network without --ipv6");
    }
    for (k, v) in &req.options {
        if k != OPT_MTU {
            bail!(
                "network option {k:?} is not supported: the one option berth's networks have is \
                 {OPT_MTU} (the members' MTU)"
            );
        }
        match v.parse::<u32>() {
            Ok(m) if (576..=crate::slirp::tap::MTU).contains(&m) => {}
            _ => bail!(
                "invalid {OPT_MTU} {v:?}: an MTU from 576 to {}",
                crate::slirp::tap::MTU
            ),
        }
    }
    if req.gateway.is_some() && req.subnet.is_none() {
        bail!("--gateway needs --subnet: a gateway is an address of the network's subnet");
    }
    if req.ip_range.is_some() && req.subnet.is_none() {
        bail!("--ip-range needs --subnet: the range is a part of the network's subnet");
    }
    let lock = store.lock()?;
    if PREDEFINED.contains(&req.name.as_str()) {
        bail!("network with name {} already exists", req.name);
    }
    let taken = taken_subnets(store)?;
    let routes = addr::host_routes_v4();
    let subnet = match req.subnet {
        Some(s) => {
            addr::check_subnet(&s, &taken, &routes)?;
            s
        }
        None => addr::pick_subnet(&taken, &routes).context(
            "could not find an available, non-overlapping IPv4 address pool among the defaults \
             to assign to the network (remove unused networks with `network prune`, or give \
             one with --subnet)",
        )?,
    };
    let gateway = req.gateway.unwrap_or_else(|| subnet.gateway());
    let spec = crate::slirp::NetworkSpec {
        gateway,
        ..crate::slirp::NetworkSpec::new("0", &req.name, subnet)
    };
    spec.check()?;
    if let Some(r) = req.ip_range {
        if !subnet.contains(r.network()) || !subnet.contains(r.broadcast()) {
            bail!("invalid --ip-range {r}: it is not inside the subnet {subnet}");
        }
    }
    let record = NetworkRecord {
        id: crate::util::ids::random_id(),
        name: req.name.clone(),
        created: crate::util::humanize::now_rfc3339(),
        driver: DRIVER.to_string(),
        subnet,
        gateway,
        ip_range: req.ip_range,
        user_subnet: req.subnet.is_some(),
        user_gateway: req.gateway.is_some(),
        internal: req.internal,
        attachable: req.attachable,
        labels: req.labels.clone(),
        options: req.options.clone(),
        default_bridge: false,
    };
    store.create_network(&record, &lock)?;
    Ok(record)
}

fn taken_subnets(store: &Store) -> Result<Vec<Ipv4Net>> {
    Ok(store.network_records()?.iter().map(|r| r.subnet).collect())
}

/// The default network (`bridge`), made on first use: Docker's
/// 172.17.0.0/16 unless the host routes it (a Docker daemon's docker0)
/// or another network has it, then the next free pool.
pub(crate) fn default_bridge(store: &Store, lock: &StoreLock) -> Result<NetworkRecord> {
    let all = store.network_records()?;
    if let Some(r) = all.iter().find(|r| r.default_bridge) {
        return Ok(r.clone());
    }
    let taken: Vec<Ipv4Net> = all.iter().map(|r| r.subnet).collect();
    let subnet = addr::pick_subnet(&taken, &addr::host_routes_v4()).context(
        "could not find a free subnet for the default network among Docker's pools \
         (172.17-31.0.0/16, 192.168.0-240.0/20): remove unused networks with `network prune`",
    )?;
    let mut options = IndexMap::new();
    options.insert(
        "com.docker.network.bridge.default_bridge".to_string(),
        "true".to_string(),
    );
    options.insert(OPT_MTU.to_string(), crate::slirp::tap::MTU.to_string());
    let record = NetworkRecord {
        id: crate::util::ids::random_id(),
        name: DEFAULT_BRIDGE.to_string(),
        created: crate::util::humanize::now_rfc3339(),
        driver: DRIVER.to_string(),
        subnet,
        gateway: subnet.gateway(),
        ip_range: None,
        user_subnet: false,
        user_gateway: false,
        internal: false,
        attachable: false,
        labels: IndexMap::new(),
        options,
        default_bridge: true,
    };
    store.create_network(&record, lock)?;
    Ok(record)
}

/// The network a user names, the default bridge (made if needed) for
/// `bridge`/`default`.
pub(crate) fn resolve(store: &Store, lock: &StoreLock, spec: &str) -> Result<NetworkRecord> {
    if spec == DEFAULT_BRIDGE || spec == "default" {
        return default_bridge(store, lock);
    }
    let r = store.network(spec)?;
    Ok(r)
}

/// Containers whose running monitor holds an address on the network.
pub(crate) fn running_members(store: &Store, network_id: &str) -> Result<Vec<String>> {
    Ok(store
        .live_leases(network_id)?
        .into_iter()
        .map(|l| l.container_id)
        .collect())
}

/// `network rm`: refused for the predefined networks and while a running
/// container is on it (Docker's messages).
pub(crate) fn remove(store: &Store, spec: &str) -> Result<NetworkRecord> {
    if PREDEFINED.contains(&spec) || spec == "default" {
        bail!("{spec} is a pre-defined network and cannot be removed");
    }
    let lock = store.lock()?;
    let record = store.network(spec)?;
    if record.default_bridge {
        bail!(
            "{} is a pre-defined network and cannot be removed",
            record.name
        );
    }
    if !running_members(store, &record.id)?.is_empty() {
        bail!(
            "error while removing network: network {} id {} has active endpoints",
            record.name,
            record.id
        );
    }
    store.remove_network(&record, &lock)?;
    Ok(record)
}

/// `network prune`: the user-defined networks no running container is on
/// (Docker's rule; containers that are stopped do not count). Returns the
/// names removed.
pub(crate) fn prune(store: &Store, keep: impl Fn(&NetworkRecord) -> bool) -> Result<Vec<String>> {
    let lock = store.lock()?;
    let mut removed = Vec::new();
    for r in store.network_records()? {
        if r.default_bridge || keep(&r) || !running_members(store, &r.id)?.is_empty() {
            continue;
        }
        store.remove_network(&r, &lock)?;
        removed.push(r.name);
    }
    Ok(removed)
}

/// Resolves the network part of a create request under the store lock:
/// each user-mode network by name to its record (the default bridge made
/// on first use), the rules Docker applies to `--ip` and aliases, the
/// container of `container:NAME`, and the exposed ports (the image's
/// EXPOSE, `--expose`, the ports of `-p`).
pub(crate) fn resolve_at_create(
    store: &Store,
    lock: &StoreLock,
    cfg: &mut NetworkConfig,
    image_exposed: &[String],
) -> Result<()> {
    if let NetworkMode::Container(other) = &cfg.mode {
        let c = store.resolve_container(other)?;
        cfg.mode = NetworkMode::Container(c.id);
    }
    let mut endpoints: Vec<EndpointConfig> = Vec::new();
    for mut ep in cfg.requested_networks() {
        let record = resolve(store, lock, &ep.network)?;
        if endpoints.iter().any(|e| e.network_id == record.id) {
            bail!(
                "container cannot be connected to network {} more than once",
                record.name
            );
        }
        check_endpoint(&record, &ep)?;
        ep.network = record.name.clone();
        ep.network_id = record.id.clone();
        endpoints.push(ep);
    }
    cfg.endpoints = endpoints;
    if !cfg.publish.is_empty() || cfg.publish_all {
        match &cfg.mode {
            NetworkMode::Host | NetworkMode::None => {
                report::warning(&format!(
                    "Published ports are discarded when using {} network mode",
                    cfg.mode
                ));
                cfg.publish.clear();
                cfg.publish_all = false;
            }
            NetworkMode::Container(_) => {
                bail!("conflicting options: port publishing and the container type network mode")
            }
            _ => {}
        }
    }
    let mut exposed: Vec<String> = Vec::new();
    let published = cfg
        .publish
        .iter()
        .map(|m| format!("{}/{}", m.container_port, m.proto));
    for p in image_exposed
        .iter()
        .filter_map(|e| parse_exposed(e).map(|(p, proto)| format!("{p}/{proto}")))
        .chain(cfg.exposed.iter().cloned())
        .chain(published)
    {
        if !exposed.contains(&p) {
            exposed.push(p);
        }
    }
    cfg.exposed = exposed;
    Ok(())
}

/// Docker's rules for an endpoint on a network: a fixed address only on a
/// network whose subnet the user chose, inside it; aliases only on
/// user-defined networks.
pub(crate) fn check_endpoint(record: &NetworkRecord, ep: &EndpointConfig) -> Result<()> {
    if let Some(ip) = ep.ip {
        if !record.user_subnet {
            bail!(
                "user specified IP address is supported only when connecting to networks with \
                 user configured subnets"
            );
        }
        addr::check_ip(&record.subnet, record.gateway, &[], ip)?;
    }
    if record.default_bridge && !ep.aliases.is_empty() {
        bail!("network-scoped alias is supported only for containers in user defined networks");
    }
    for a in &ep.aliases {
        check_network_name(a).with_context(|| format!("invalid alias {a:?}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(name: &str) -> CreateNetwork {
        CreateNetwork {
            name: name.into(),
            ..Default::default()
        }
    }

    #[test]
    fn create_picks_free_subnets_and_refuses_duplicates() {
        let (_d, store) = crate::store::test_store();
        let a = create(&store, &req("a")).unwrap();
        let b = create(&store, &req("b")).unwrap();
        assert!(!a.subnet.overlaps(&b.subnet));
        assert_eq!(a.gateway, a.subnet.gateway());
        assert!(!a.user_subnet);
        let e = create(&store, &req("a")).unwrap_err().to_string();
        assert_eq!(e, "network with name a already exists");
        let e = create(&store, &req("bridge")).unwrap_err().to_string();
        assert_eq!(e, "network with name bridge already exists");
        let mut c = req("c");
        c.subnet = Some(a.subnet);
        let e = format!("{:#}", create(&store, &c).unwrap_err());
        assert!(e.contains("Pool overlaps"), "{e}");
        c.subnet = Some("10.99.0.0/24".parse().unwrap());
        c.gateway = Some("10.99.0.254".parse().unwrap());
        assert!(
            create(&store, &c).is_err(),
            "the host address is no gateway"
        );
        c.gateway = Some("10.99.0.10".parse().unwrap());
        c.ip_range = Some("10.99.0.128/25".parse().unwrap());
        let r = create(&store, &c).unwrap();
        assert!(r.user_subnet && r.user_gateway);
        let mut d = req("d");
        d.driver = Some("overlay".into());
        assert!(create(&store, &d).is_err());
        let mut d = req("d");
        d.options.insert("foo".into(), "1".into());
        assert!(create(&store, &d).is_err());
    }

    #[test]
    fn default_bridge_is_made_once() {
        let (_d, store) = crate::store::test_store();
        let lock = store.lock().unwrap();
        let a = default_bridge(&store, &lock).unwrap();
        let b = default_bridge(&store, &lock).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.name, "bridge");
        assert!(a.default_bridge);
        drop(lock);
        assert!(remove(&store, "bridge").is_err());
        assert_eq!(prune(&store, |_| false).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn endpoint_rules() {
        let (_d, store) = crate::store::test_store();
        let auto = create(&store, &req("auto")).unwrap();
        let mut ep = EndpointConfig {
            network: "auto".into(),
            ip: Some(auto.subnet.gateway()),
            ..Default::default()
        };
        let e = check_endpoint(&auto, &ep).unwrap_err().to_string();
        assert!(e.contains("user configured subnets"), "{e}");
        let mut fixed = req("fixed");
        fixed.subnet = Some("10.98.0.0/24".parse().unwrap());
        let fixed = create(&store, &fixed).unwrap();
        ep.ip = Some("10.98.0.7".parse().unwrap());
        check_endpoint(&fixed, &ep).unwrap();
        ep.ip = Some("10.97.0.7".parse().unwrap());
        assert!(check_endpoint(&fixed, &ep).is_err());
        let lock = store.lock().unwrap();
        let bridge = default_bridge(&store, &lock).unwrap();
        let ep = EndpointConfig {
            aliases: vec!["x".into()],
            ..Default::default()
        };
        assert!(check_endpoint(&bridge, &ep).is_err());
    }

    #[test]
    fn create_time_resolution() {
        let (_d, store) = crate::store::test_store();
        let net = create(&store, &req("front")).unwrap();
        let lock = store.lock().unwrap();
        let mut cfg = NetworkConfig {
            mode: NetworkMode::Named("front".into()),
            endpoints: vec![EndpointConfig {
                network: "front".into(),
                ..Default::default()
            }],
            publish: crate::slirp::portfwd::parse_publish("8080:80").unwrap(),
            exposed: vec!["7000/tcp".into()],
            ..Default::default()
        };
        resolve_at_create(&store, &lock, &mut cfg, &["80/tcp".into(), "53/udp".into()]).unwrap();
        assert_eq!(cfg.endpoints[0].network_id, net.id);
        assert_eq!(cfg.exposed, ["80/tcp", "53/udp", "7000/tcp"]);
        let mut bad = NetworkConfig {
            mode: NetworkMode::Named("nope".into()),
            endpoints: vec![EndpointConfig {
                network: "nope".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let e = resolve_at_create(&store, &lock, &mut bad, &[]).unwrap_err();
        assert_eq!(e.to_string(), "network nope not found");
        let mut dflt = NetworkConfig::default();
        resolve_at_create(&store, &lock, &mut dflt, &[]).unwrap();
        assert_eq!(dflt.endpoints.len(), 1);
        assert_eq!(dflt.endpoints[0].network, "bridge");
    }
}
