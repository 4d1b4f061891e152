//! `network create|ls|inspect|rm|prune|connect|disconnect`, `port`, and the
//! network parts of `ps` and `container inspect` (the PORTS column,
//! `NetworkSettings`, `HostConfig.PortBindings`), printed as Docker does.

use super::args::{
    NetworkConnectArgs, NetworkCreateArgs, NetworkDisconnectArgs, NetworkInspectArgs,
    NetworkLsArgs, NetworkPruneArgs, NetworkRmArgs, PortArgs,
};
use super::filters::networks::{NetworkFacts, NetworkFilter};
use super::filters::prune::PruneFilter;
use super::output::{print_listing, print_objects, Listing};
use super::prune::{confirm, Pruned};
use crate::model::filters::FilterArgs;
use crate::model::network::DEFAULT_BRIDGE;
use crate::model::network_record::NetworkRecord;
use crate::model::ports::{parse_exposed, PortBinding, Proto};
use crate::model::{ContainerRecord, ContainerState, NetworkMode};
use crate::runtime::network::{ops, records};
use crate::store::Store;
use anyhow::{bail, Context, Result};
use indexmap::IndexMap;
use serde_json::{json, Value as Json};
use std::net::IpAddr;

pub(crate) fn create(args: NetworkCreateArgs) -> Result<()> {
    let one = |v: &[String], flag: &str| -> Result<Option<String>> {
        match v {
            [] => Ok(None),
            [x] => Ok(Some(x.clone())),
            _ => bail!("berth networks have one IPv4 subnet: give {flag} once"),
        }
    };
    let req = records::CreateNetwork {
        name: args.name.clone(),
        driver: Some(args.driver.clone()),
        subnet: one(&args.subnet, "--subnet")?
            .map(|s| s.parse())
            .transpose()?,
        gateway: one(&args.gateway, "--gateway")?
            .map(|g| {
                g.parse()
                    .map_err(|_| anyhow::anyhow!("invalid --gateway {g:?}: not an IPv4 address"))
            })
            .transpose()?,
        ip_range: one(&args.ip_range, "--ip-range")?
            .map(|s| s.parse().context("invalid --ip-range"))
            .transpose()?,
        internal: args.internal,
        attachable: args.attachable,
        ipv6: args.ipv6,
        labels: key_values(&args.label, "--label")?,
        options: key_values(&args.opt, "--opt")?,
    };
    let store = Store::open_default()?;
    let record =
        records::create(&store, &req).map_err(|e| super::daemon_error(format!("{e:#}")))?;
    println!("{}", record.id);
    Ok(())
}

fn key_values(items: &[String], flag: &str) -> Result<IndexMap<String, String>> {
    let mut out = IndexMap::new();
    for item in items {
        match item.split_once('=') {
            Some((k, v)) if !k.is_empty() => {
                out.insert(k.to_string(), v.to_string());
            }
            None if flag == "--label" && !item.is_empty() => {
                out.insert(item.clone(), String::new());
            }
            _ => bail!("invalid {flag} value {item:?}: expected KEY=VALUE"),
        }
    }
    Ok(out)
}

/// A network as listings and inspect show it: a record, or Docker's
/// predefined `host` and `none`, which berth has no record of.
struct Shown {
    record: Option<NetworkRecord>,
    id: String,
    name: String,
    driver: &'static str,
    created: String,
}

/// Every network, Docker's predefined ones included (the default bridge
/// is made on first use).
fn all_networks(store: &Store) -> Result<Vec<Shown>> {
    let bridge = {
        let lock = store.lock()?;
        records::default_bridge(store, &lock)?
    };
    let mut out = Vec::new();
    for name in ["host", "none"] {
        out.push(Shown {
            record: None,
            id: predefined_id(store, name),
            name: name.to_string(),
            driver: if name == "host" { "host" } else { "null" },
            created: bridge.created.clone(),
        });
    }
    for r in store.network_records()? {
        out.push(shown(r));
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

fn shown(r: NetworkRecord) -> Shown {
    Shown {
        id: r.id.clone(),
        name: r.name.clone(),
        driver: "bridge",
        created: r.created.clone(),
        record: Some(r),
    }
}

/// A stable id for `host` and `none` in this store.
fn predefined_id(store: &Store, name: &str) -> String {
    let d = crate::util::digest::sha256_digest(
        format!("berth predefined network {name} {}", store.root().display()).as_bytes(),
    );
    d.trim_start_matches("sha256:").to_string()
}

fn find(store: &Store, spec: &str) -> Result<Shown> {
    let all = all_networks(store)?;
    if let Some(i) = all.iter().position(|n| {
        n.id == spec || n.name == spec || (spec == "default" && n.name == DEFAULT_BRIDGE)
    }) {
        return Ok(all.into_iter().nth(i).expect("found"));
    }
    let prefixed: Vec<Shown> = all
        .into_iter()
        .filter(|n| !spec.is_empty() && n.id.starts_with(spec))
        .collect();
    match prefixed.len() {
        1 => Ok(prefixed.into_iter().next().expect("one")),
        0 => bail!(crate::store::networks::NoSuchNetwork(spec.to_string())),
        n => bail!("network {spec} is ambiguous ({n} matches found based on ID prefix)"),
    }
}

/// Running containers on each network, with their address.
fn members(store: &Store) -> Result<Vec<(ContainerRecord, ContainerState)>> {
    let mut out = Vec::new();
    for c in store.containers()? {
        let state = store.observed_state(&c.id)?;
        if state.status.is_active() {
            out.push((c, state));
        }
    }
    Ok(out)
}

pub(crate) fn ls(args: NetworkLsArgs) -> Result<()> {
    let filter =
        NetworkFilter::new(FilterArgs::parse(&args.filter)?).map_err(super::daemon_error)?;
    let store = Store::open_default()?;
    let running = members(&store)?;
    let mut rows = Vec::new();
    let mut labels_per_row = Vec::new();
    for n in all_networks(&store)? {
        let facts = NetworkFacts {
            name: &n.name,
            id: &n.id,
            driver: n.driver,
            labels: n.record.as_ref().map(|r| &r.labels),
            builtin: n.record.as_ref().is_none_or(|r| r.default_bridge),
            in_use: running.iter().any(|(c, s)| on_network(c, s, &n)),
        };
        if !filter.matches(&facts) {
            continue;
        }
        let id = if args.no_trunc {
            n.id.clone()
        } else {
            n.id[..12.min(n.id.len())].to_string()
        };
        if args.quiet {
            println!("{id}");
            continue;
        }
        let labels = n
            .record
            .as_ref()
            .map(|r| r.labels.clone())
            .unwrap_or_default();
        labels_per_row.push(labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
        rows.push(json!({
            "ID": id,
            "Name": n.name,
            "Driver": n.driver,
            "Scope": "local",
            "IPv6": "false",
            "Internal": n.record.as_ref().is_some_and(|r| r.internal).to_string(),
            "Labels": labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
            "CreatedAt": crate::util::humanize::go_time(&n.created),
        }));
    }
    if args.quiet {
        return Ok(());
    }
    print_listing(
        args.format.as_deref(),
        &Listing {
            columns: &[
                ("ID", "NETWORK ID"),
                ("Name", "NAME"),
                ("Driver", "DRIVER"),
                ("Scope", "SCOPE"),
            ],
            extra_headers: &[
                ("IPv6", "IPV6"),
                ("Internal", "INTERNAL"),
                ("Labels", "LABELS"),
                ("CreatedAt", "CREATED AT"),
            ],
            rows,
            labels: labels_per_row,
        },
    )
}

fn on_network(c: &ContainerRecord, state: &ContainerState, n: &Shown) -> bool {
    match (&n.record, &c.host.network.mode) {
        (None, NetworkMode::Host) => n.name == "host",
        (None, NetworkMode::None) => n.name == "none",
        (Some(r), _) => state.network.endpoint(&r.id).is_some(),
        _ => false,
    }
}

pub(crate) fn inspect(args: NetworkInspectArgs) -> Result<()> {
    let store = Store::open_default()?;
    let running = members(&store)?;
    let mut objects = Vec::new();
    let mut failed = false;
    for name in &args.names {
        match find(&store, name) {
            Ok(n) => objects.push(network_json(&n, &running)),
            Err(e) => {
                failed = true;
                eprintln!("Error response from daemon: {e}");
            }
        }
    }
    print_objects(args.format.as_deref(), &objects)?;
    if failed {
        return Err(super::ExitStatus(1).into());
    }
    Ok(())
}

/// The `inspect` object of network `spec`, for `berth inspect`; `None`
/// when no network has that name or id.
pub(crate) fn inspect_object(store: &Store, spec: &str) -> Result<Option<Json>> {
    let Ok(n) = find(store, spec) else {
        return Ok(None);
    };
    Ok(Some(network_json(&n, &members(store)?)))
}

/// `docker network inspect`'s object.
fn network_json(n: &Shown, running: &[(ContainerRecord, ContainerState)]) -> Json {
    let mut containers = std::collections::BTreeMap::new();
    for (c, s) in running {
        let ep = match &n.record {
            Some(r) => s.network.endpoint(&r.id),
            None => None,
        };
        if let Some(ep) = ep {
            containers.insert(
                c.id.clone(),
                json!({
                    "Name": c.name,
                    "EndpointID": endpoint_id(&c.id, &ep.network_id),
                    "MacAddress": ep.mac.to_string(),
                    "IPv4Address": format!("{}/{}", ep.ip, ep.prefix),
                    "IPv6Address": "",
                }),
            );
        } else if on_network(c, s, n) {
            containers.insert(
                c.id.clone(),
                json!({"Name": c.name, "EndpointID": endpoint_id(&c.id, &n.id),
                       "MacAddress": "", "IPv4Address": "", "IPv6Address": ""}),
            );
        }
    }
    let (config, options, labels, internal, attachable, ipam_options) = match &n.record {
        Some(r) => {
            let mut cfg = serde_json::Map::new();
            cfg.insert("Subnet".into(), json!(r.subnet.to_string()));
            if let Some(range) = r.ip_range {
                cfg.insert("IPRange".into(), json!(range.to_string()));
            }
            // Docker's default bridge shows no gateway in its IPAM config.
            if !r.default_bridge {
                cfg.insert("Gateway".into(), json!(r.gateway.to_string()));
            }
            (
                vec![Json::Object(cfg)],
                sorted(&r.options),
                sorted(&r.labels),
                r.internal,
                r.attachable,
                if r.default_bridge {
                    Json::Null
                } else {
                    json!({})
                },
            )
        }
        None => (vec![], json!({}), json!({}), false, false, Json::Null),
    };
    json!({
        "Name": n.name,
        "Id": n.id,
        "Created": n.created,
        "Scope": "local",
        "Driver": n.driver,
        "EnableIPv6": false,
        "IPAM": {
            "Driver": "default",
            "Options": ipam_options,
            "Config": config,
        },
        "Internal": internal,
        "Attachable": attachable,
        "Ingress": false,
        "ConfigFrom": { "Network": "" },
        "ConfigOnly": false,
        "Containers": Json::Object(containers.into_iter().collect()),
        "Options": options,
        "Labels": labels,
    })
}

/// A stable endpoint id for a container on a network.
fn endpoint_id(container: &str, network: &str) -> String {
    crate::util::digest::sha256_digest(format!("{container}/{network}").as_bytes())
        .trim_start_matches("sha256:")
        .to_string()
}

pub(crate) fn rm(args: NetworkRmArgs) -> Result<()> {
    let store = Store::open_default()?;
    let mut failed = false;
    for name in &args.names {
        match records::remove(&store, name) {
            Ok(_) => println!("{name}"),
            Err(e) if args.force && e.is::<crate::store::networks::NoSuchNetwork>() => {}
            Err(e) => {
                failed = true;
                eprintln!("Error response from daemon: {e:#}");
            }
        }
    }
    if failed {
        return Err(super::ExitStatus(1).into());
    }
    Ok(())
}

/// Filter keys of `network prune`.
pub(crate) const PRUNE_FILTERS: &[&str] = &["label", "label!", "until"];

pub(crate) fn prune(args: NetworkPruneArgs) -> Result<()> {
    let filter = PruneFilter::new(FilterArgs::parse(&args.filter)?, PRUNE_FILTERS)
        .map_err(super::daemon_error)?;
    if !args.force
        && !confirm(
            "WARNING! This will remove all custom networks not used by at least one container.",
        )?
    {
        return Ok(());
    }
    let store = Store::open_default()?;
    let pruned = prune_networks(&store, &filter)?;
    if !pruned.output.is_empty() {
        println!("{}", pruned.output);
    }
    Ok(())
}

/// The user-defined networks no running container is on, that `filter`
/// lets go (`network prune`, `system prune`).
pub(crate) fn prune_networks(store: &Store, filter: &PruneFilter) -> Result<Pruned> {
    let removed = records::prune(store, |r| {
        !filter.allows(Some(&r.created), |k| r.labels.get(k).map(String::as_str))
    })?;
    let mut output = String::new();
    if !removed.is_empty() {
        output = format!("Deleted Networks:\n{}\n", removed.join("\n"));
    }
    Ok(Pruned {
        output,
        reclaimed: 0,
    })
}

pub(crate) fn connect(args: NetworkConnectArgs) -> Result<()> {
    let ip = args
        .ip
        .as_deref()
        .map(|ip| {
            ip.parse().map_err(|_| {
                anyhow::anyhow!("invalid argument \"{ip}\" for \"--ip\" flag: not an IPv4 address")
            })
        })
        .transpose()?;
    let store = Store::open_default()?;
    let c = store
        .resolve_container(&args.container)
        .map_err(super::daemon_error)?;
    ops::connect(&store, &c, &args.network, &args.alias, ip)
        .map_err(|e| super::daemon_error(format!("{e:#}")))
}

pub(crate) fn disconnect(args: NetworkDisconnectArgs) -> Result<()> {
    let store = Store::open_default()?;
    let c = store
        .resolve_container(&args.container)
        .map_err(super::daemon_error)?;
    ops::disconnect(&store, &c, &args.network, args.force)
        .map_err(|e| super::daemon_error(format!("{e:#}")))
}

/// `port CONTAINER [PRIVATE_PORT[/PROTO]]`.
pub(crate) fn port(args: PortArgs) -> Result<()> {
    let store = Store::open_default()?;
    let c = super::named_container(&store, &args.container)?;
    let state = store.observed_state(&c.id)?;
    let mut bindings: Vec<&PortBinding> = if state.status.is_active() {
        state.network.ports.iter().collect()
    } else {
        Vec::new()
    };
    bindings.sort_by_key(|b| (b.container_port, b.proto == Proto::Udp));
    match &args.port {
        None => {
            for b in bindings {
                println!("{} -> {}", b.key(), b.host());
            }
        }
        Some(want) => {
            let (port, proto) = match want.split_once('/') {
                Some((p, proto)) => (p, proto),
                None => (want.as_str(), "tcp"),
            };
            let (port, proto) = match (port.parse::<u16>(), Proto::parse(proto)) {
                (Ok(p), Some(proto)) => (p, proto),
                _ => bail!("Error: invalid port ({want}): expected PRIVATE_PORT[/PROTO]"),
            };
            let found: Vec<&&PortBinding> = bindings
                .iter()
                .filter(|b| b.container_port == port && b.proto == proto)
                .collect();
            if found.is_empty() {
                eprintln!(
                    "Error: No public port '{want}' published for {}",
                    args.container
                );
                return Err(super::ExitStatus(1).into());
            }
            for b in found {
                println!("{}", b.host());
            }
        }
    }
    Ok(())
}

/// One entry of a container's port list, as the daemon gives `ps`.
struct PortEntry {
    private: u16,
    proto: Proto,
    public: Option<(IpAddr, u16)>,
}

/// The PORTS column of `ps`: Docker's `DisplayablePorts` (exposed ports
/// and ports published on the same number grouped into ranges, others one
/// by one, `[::]` for IPv6). Empty for a container that does not run.
pub(crate) fn display_ports(c: &ContainerRecord, state: &ContainerState) -> String {
    let entries = port_entries(c, state);
    let mut sorted = entries;
    sorted.sort_by(|a, b| {
        a.private
            .cmp(&b.private)
            .then_with(|| ip_order(a.public.map(|p| p.0)).cmp(&ip_order(b.public.map(|p| p.0))))
            .then_with(|| a.public.map(|p| p.1).cmp(&b.public.map(|p| p.1)))
            .then_with(|| a.proto.to_string().cmp(&b.proto.to_string()))
    });
    let mut groups: Vec<(String, u16, u16)> = Vec::new();
    let mut result: Vec<String> = Vec::new();
    let mut host_mappings: Vec<String> = Vec::new();
    for p in &sorted {
        let key = match p.public {
            Some((ip, public)) if public != p.private => {
                host_mappings.push(format!(
                    "{}->{}/{}",
                    std::net::SocketAddr::new(ip, public),
                    p.private,
                    p.proto
                ));
                continue;
            }
            Some((ip, _)) => format!("{ip}/{}", p.proto),
            None => p.proto.to_string(),
        };
        match groups.iter_mut().find(|g| g.0 == key) {
            None => groups.push((key, p.private, p.private)),
            Some(g) if p.private == g.2.wrapping_add(1) => g.2 = p.private,
            Some(g) => {
                result.push(form_group(&g.0, g.1, g.2));
                g.1 = p.private;
                g.2 = p.private;
            }
        }
    }
    for (key, first, last) in &groups {
        result.push(form_group(key, *first, *last));
    }
    result.extend(host_mappings);
    result.join(", ")
}

/// IPv4 before IPv6, then by address (Go's netip order); no address first.
fn ip_order(ip: Option<IpAddr>) -> (u8, u128) {
    match ip {
        None => (0, 0),
        Some(IpAddr::V4(v4)) => (1, u128::from(u32::from(v4))),
        Some(IpAddr::V6(v6)) => (2, u128::from(v6)),
    }
}

fn form_group(key: &str, first: u16, last: u16) -> String {
    let (ip, proto) = match key.rsplit_once('/') {
        Some((ip, proto)) => (Some(ip), proto),
        None => (None, key),
    };
    let ports = if first == last {
        first.to_string()
    } else {
        format!("{first}-{last}")
    };
    match ip {
        Some(ip) => {
            let host = match ip.parse::<IpAddr>() {
                Ok(IpAddr::V6(_)) => format!("[{ip}]:{ports}"),
                _ => format!("{ip}:{ports}"),
            };
            format!("{host}->{ports}/{proto}")
        }
        None => format!("{ports}/{proto}"),
    }
}

/// Exposed ports without a binding and every binding, while it runs.
fn port_entries(c: &ContainerRecord, state: &ContainerState) -> Vec<PortEntry> {
    if !state.status.is_active() || !c.host.network.mode.is_user_mode() {
        return Vec::new();
    }
    let mut out: Vec<PortEntry> = state
        .network
        .ports
        .iter()
        .map(|b| PortEntry {
            private: b.container_port,
            proto: b.proto,
            public: Some((b.host_ip, b.host_port)),
        })
        .collect();
    for e in &c.host.network.exposed {
        if let Some((port, proto)) = parse_exposed(e) {
            if !out.iter().any(|p| p.private == port && p.proto == proto) {
                out.push(PortEntry {
                    private: port,
                    proto,
                    public: None,
                });
            }
        }
    }
    out
}

/// `NetworkSettings.Ports` of inspect: each exposed or published port, its
/// bindings (null when not published); empty while it does not run.
fn ports_json(c: &ContainerRecord, state: &ContainerState) -> Json {
    // Go prints map keys sorted.
    let mut map = std::collections::BTreeMap::new();
    for e in port_entries(c, state) {
        let key = format!("{}/{}", e.private, e.proto);
        let slot = map.entry(key).or_insert(Json::Null);
        if let Some((ip, port)) = e.public {
            let binding = json!({"HostIp": ip.to_string(), "HostPort": port.to_string()});
            match slot {
                Json::Array(a) => a.push(binding),
                _ => *slot = json!([binding]),
            }
        }
    }
    Json::Object(map.into_iter().collect())
}

/// A JSON object with its keys in Go's (sorted) order.
fn sorted(map: &IndexMap<String, String>) -> Json {
    let m: std::collections::BTreeMap<&String, &String> = map.iter().collect();
    json!(m)
}

/// `HostConfig.PortBindings`, `PublishAllPorts`, `Dns*`, `ExtraHosts`.
pub(crate) fn host_config_json(c: &ContainerRecord) -> serde_json::Map<String, Json> {
    let cfg = &c.host.network;
    let mut bindings = serde_json::Map::new();
    for m in &cfg.publish {
        let key = format!("{}/{}", m.container_port, m.proto);
        let host_port = match m.host_ports {
            (0, 0) => String::new(),
            (a, b) if a == b => a.to_string(),
            (a, b) => format!("{a}-{b}"),
        };
        let b = json!({
            "HostIp": m.host_ip.map(|ip| ip.to_string()).unwrap_or_default(),
            "HostPort": host_port,
        });
        match bindings.entry(key).or_insert_with(|| json!([])) {
            Json::Array(a) => a.push(b),
            _ => unreachable!("port bindings are arrays"),
        }
    }
    let mut out = serde_json::Map::new();
    out.insert("PortBindings".into(), Json::Object(bindings));
    out.insert("PublishAllPorts".into(), json!(cfg.publish_all));
    out.insert("Dns".into(), json!(cfg.dns));
    out.insert("DnsOptions".into(), json!(cfg.dns_options));
    out.insert("DnsSearch".into(), json!(cfg.dns_search));
    out.insert(
        "ExtraHosts".into(),
        if cfg.extra_hosts.is_empty() {
            Json::Null
        } else {
            json!(cfg.extra_hosts)
        },
    );
    out
}

/// `NetworkSettings` of `docker container inspect`.
pub(crate) fn settings_json(c: &ContainerRecord, state: &ContainerState) -> Json {
    let running = state.status.is_active();
    let mut networks = std::collections::BTreeMap::new();
    let empty_endpoint = |network_id: &str| {
        json!({
            "IPAMConfig": null, "Links": null, "Aliases": null, "MacAddress": "",
            "DriverOpts": null, "NetworkID": network_id, "EndpointID": "", "Gateway": "",
            "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "", "GlobalIPv6Address": "",
            "GlobalIPv6PrefixLen": 0, "DNSNames": null,
        })
    };
    let mut top = json!({
        "EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0, "MacAddress": "",
    });
    match &c.host.network.mode {
        NetworkMode::Host | NetworkMode::None => {
            networks.insert(c.host.network.mode.to_string(), empty_endpoint(""));
        }
        NetworkMode::Container(_) => {}
        _ => {}
    }
    let short = &c.id[..12.min(c.id.len())];
    for ep in c.host.network.user_networks() {
        let live = running
            .then(|| state.network.endpoint(&ep.network_id))
            .flatten();
        let mut v = empty_endpoint(&ep.network_id);
        let default_bridge = ep.network == DEFAULT_BRIDGE;
        if !default_bridge {
            let mut aliases = vec![short.to_string()];
            aliases.extend(ep.aliases.iter().cloned());
            v["Aliases"] = json!(aliases);
        }
        if let Some(ip) = ep.ip {
            v["IPAMConfig"] = json!({"IPv4Address": ip.to_string()});
        }
        if let Some(l) = live {
            let eid = endpoint_id(&c.id, &ep.network_id);
            v["MacAddress"] = json!(l.mac.to_string());
            v["EndpointID"] = json!(eid);
            v["Gateway"] = json!(l.gateway.to_string());
            v["IPAddress"] = json!(l.ip.to_string());
            v["IPPrefixLen"] = json!(l.prefix);
            if !default_bridge {
                let mut names = vec![c.name.clone()];
                names.extend(ep.aliases.iter().cloned());
                names.push(short.to_string());
                v["DNSNames"] = json!(names);
            } else {
                top = json!({
                    "EndpointID": eid, "Gateway": l.gateway.to_string(),
                    "IPAddress": l.ip.to_string(), "IPPrefixLen": l.prefix,
                    "MacAddress": l.mac.to_string(),
                });
            }
        }
        networks.insert(ep.network.clone(), v);
    }
    let sandbox = if running && state.pid > 0 {
        format!("/proc/{}/ns/net", state.pid)
    } else {
        String::new()
    };
    json!({
        "Bridge": "",
        "SandboxID": "",
        "SandboxKey": sandbox,
        "Ports": ports_json(c, state),
        "HairpinMode": false,
        "LinkLocalIPv6Address": "",
        "LinkLocalIPv6PrefixLen": 0,
        "SecondaryIPAddresses": null,
        "SecondaryIPv6Addresses": null,
        "EndpointID": top["EndpointID"],
        "Gateway": top["Gateway"],
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "IPAddress": top["IPAddress"],
        "IPPrefixLen": top["IPPrefixLen"],
        "IPv6Gateway": "",
        "MacAddress": top["MacAddress"],
        "Networks": Json::Object(networks.into_iter().collect()),
    })
}

/// The networks `ps` shows in NETWORKS (comma-separated names).
pub(crate) fn network_names(c: &ContainerRecord) -> String {
    match &c.host.network.mode {
        NetworkMode::Host | NetworkMode::None => c.host.network.mode.to_string(),
        NetworkMode::Container(_) => String::new(),
        _ => c
            .host
            .network
            .user_networks()
            .iter()
            .map(|e| e.network.clone())
            .collect::<Vec<_>>()
            .join(","),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::net_state::NetworkState;
    use crate::model::Status;

    fn running_with(
        ports: Vec<PortBinding>,
        exposed: &[&str],
    ) -> (ContainerRecord, ContainerState) {
        let mut c = ContainerRecord::default();
        c.host.network.exposed = exposed.iter().map(|s| s.to_string()).collect();
        let state = ContainerState {
            status: Status::Running,
            network: NetworkState {
                endpoints: vec![],
                ports,
            },
            ..Default::default()
        };
        (c, state)
    }

    fn b(private: u16, ip: &str, public: u16, proto: Proto) -> PortBinding {
        PortBinding {
            container_port: private,
            proto,
            host_ip: ip.parse().unwrap(),
            host_port: public,
        }
    }

    #[test]
    fn ports_column_as_docker_28() {
        // docker run -p 18080:80 -p 127.0.0.1::81/udp --expose 7000
        let (c, s) = running_with(
            vec![
                b(80, "0.0.0.0", 18080, Proto::Tcp),
                b(80, "::", 18080, Proto::Tcp),
                b(81, "127.0.0.1", 32768, Proto::Udp),
            ],
            &["7000/tcp", "80/tcp", "81/udp"],
        );
        assert_eq!(
            display_ports(&c, &s),
            "7000/tcp, 0.0.0.0:18080->80/tcp, [::]:18080->80/tcp, 127.0.0.1:32768->81/udp"
        );
        // Same numbers on both sides group into ranges.
        let (c, s) = running_with(
            vec![
                b(8080, "0.0.0.0", 8080, Proto::Tcp),
                b(8081, "0.0.0.0", 8081, Proto::Tcp),
                b(8080, "::", 8080, Proto::Tcp),
                b(8081, "::", 8081, Proto::Tcp),
            ],
            &[],
        );
        assert_eq!(
            display_ports(&c, &s),
            "0.0.0.0:8080-8081->8080-8081/tcp, [::]:8080-8081->8080-8081/tcp"
        );
        let (c, mut s) = running_with(vec![b(80, "0.0.0.0", 1, Proto::Tcp)], &[]);
        s.status = Status::Exited;
        assert_eq!(display_ports(&c, &s), "");
    }

    #[test]
    fn inspect_ports_and_bindings() {
        let (mut c, s) = running_with(
            vec![
                b(80, "0.0.0.0", 18080, Proto::Tcp),
                b(80, "::", 18080, Proto::Tcp),
            ],
            &["7000/tcp", "80/tcp"],
        );
        assert_eq!(
            ports_json(&c, &s),
            json!({"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "18080"}, {"HostIp": "::", "HostPort": "18080"}], "7000/tcp": null})
        );
        c.host.network.publish = crate::slirp::portfwd::parse_publish("18080:80").unwrap();
        c.host
            .network
            .publish
            .extend(crate::slirp::portfwd::parse_publish("127.0.0.1::81/udp").unwrap());
        let h = host_config_json(&c);
        assert_eq!(
            h["PortBindings"],
            json!({"80/tcp": [{"HostIp": "", "HostPort": "18080"}], "81/udp": [{"HostIp": "127.0.0.1", "HostPort": ""}]})
        );
    }
}
