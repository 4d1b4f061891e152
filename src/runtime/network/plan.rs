//! A container's place on its networks for one run: the address leased on
//! each (under the store lock, so concurrent starts never share one), its
//! interface, and what the helper and the TAP device are told.

use crate::model::network::EndpointConfig;
use crate::model::network_record::{Lease, NetworkRecord};
use crate::model::ContainerRecord;
use crate::slirp::addr;
use crate::slirp::proto::{MemberSpec, NetworkSpec};
use crate::slirp::tap::{TapConfig, MTU};
use crate::slirp::Mac;
use crate::store::{Store, StoreLock};
use crate::util::proc::ProcessId;
use anyhow::{bail, Result};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The container on one network for this run.
#[derive(Debug, Clone)]
pub(crate) struct Attachment {
    pub(crate) record: NetworkRecord,
    pub(crate) endpoint: EndpointConfig,
    pub(crate) ip: Ipv4Addr,
    /// `eth0` for the first network (it has the default route), `eth1`...
    pub(crate) interface: String,
}

impl Attachment {
    pub(crate) fn mac(&self) -> Mac {
        self.endpoint.mac.unwrap_or_else(|| Mac::for_ip(self.ip))
    }

    /// The first network holds the default route, unless it is internal
    /// (Docker gives internal networks no gateway route).
    pub(crate) fn tap_config(&self, default_route: bool) -> TapConfig {
        TapConfig {
            name: self.interface.clone(),
            mac: self.mac(),
            ip: self.ip,
            subnet: self.record.subnet,
            default_gateway: (default_route && !self.record.internal)
                .then_some(self.record.gateway),
            mtu: self.record.mtu().unwrap_or(MTU),
        }
    }

    /// What the network's helper is started with.
    pub(crate) fn network_spec(&self) -> NetworkSpec {
        NetworkSpec {
            gateway: self.record.gateway,
            internal: self.record.internal,
            mtu: self.record.mtu().unwrap_or(MTU),
            resolve_names: !self.record.default_bridge,
            ..NetworkSpec::new(&self.record.id, &self.record.name, self.record.subnet)
        }
    }

    /// Who the container is on this network. `--dns` servers become the
    /// member's own resolvers on a user-defined network (the default
    /// bridge names them in resolv.conf instead, as Docker).
    pub(crate) fn member_spec(&self, container: &ContainerRecord) -> MemberSpec {
        let dns_upstream = if self.record.default_bridge {
            Vec::new()
        } else {
            container
                .host
                .network
                .dns
                .iter()
                .filter_map(|d| d.parse::<IpAddr>().ok())
                .map(|ip| SocketAddr::new(ip, 53))
                .collect()
        };
        MemberSpec {
            container_id: container.id.clone(),
            name: container.name.clone(),
            aliases: self.endpoint.aliases.clone(),
            ip: self.ip,
            mac: self.mac(),
            allow_host_loopback: self.endpoint.allow_host_loopback,
            dns_upstream,
        }
    }

    /// The address `host-gateway` and `host.docker.internal` stand for.
    pub(crate) fn host_gateway(&self) -> Option<Ipv4Addr> {
        (!self.record.internal).then(|| self.record.subnet.host_gateway())
    }
}

/// Leases an address on each network, in order, interfaces numbered from
/// `first_interface`. On failure the leases taken so far are given back.
pub(crate) fn allocate(
    store: &Store,
    container: &ContainerRecord,
    endpoints: &[EndpointConfig],
    first_interface: usize,
) -> Result<Vec<Attachment>> {
    let lock = store.lock()?;
    let mut out: Vec<Attachment> = Vec::new();
    for (i, ep) in endpoints.iter().enumerate() {
        match allocate_one(store, &lock, container, ep, first_interface + i) {
            Ok(a) => out.push(a),
            Err(e) => {
                release(store, &container.id, &out);
                return Err(e);
            }
        }
    }
    Ok(out)
}

fn allocate_one(
    store: &Store,
    lock: &StoreLock,
    container: &ContainerRecord,
    ep: &EndpointConfig,
    index: usize,
) -> Result<Attachment> {
    let record = match store.network_by_id(&ep.network_id) {
        Some(r) => r,
        // A default-mode record made in code, before its network existed.
        None if ep.network_id.is_empty() => super::records::resolve(store, lock, &ep.network)?,
        None => bail!(crate::store::networks::NoSuchNetwork(ep.network.clone())),
    };
    let used: Vec<Ipv4Addr> = store
        .live_leases(&record.id)?
        .into_iter()
        .filter(|l| l.container_id != container.id)
        .map(|l| l.ip)
        .collect();
    let ip = match ep.ip {
        Some(ip) => {
            addr::check_ip(&record.subnet, record.gateway, &used, ip)?;
            ip
        }
        None => next_free(&record, &used).ok_or_else(|| {
            anyhow::anyhow!(
                "no available IPv4 addresses on network {}: every address of {} is in use",
                record.name,
                record.ip_range.unwrap_or(record.subnet)
            )
        })?,
    };
    let me = ProcessId::current();
    store.write_lease(
        &record.id,
        &Lease {
            container_id: container.id.clone(),
            ip,
            monitor_pid: me.pid,
            monitor_start: me.start,
        },
        lock,
    )?;
    Ok(Attachment {
        record,
        endpoint: ep.clone(),
        ip,
        interface: format!("eth{index}"),
    })
}

/// The lowest free member address, within `--ip-range` when the network
/// has one (never the gateway or the host address).
fn next_free(record: &NetworkRecord, used: &[Ipv4Addr]) -> Option<Ipv4Addr> {
    let ip = addr::allocate_ip(&record.subnet, record.gateway, used)?;
    let Some(range) = record.ip_range else {
        return Some(ip);
    };
    let reserved = [
        record.gateway,
        record.subnet.host_gateway(),
        record.subnet.network(),
        record.subnet.broadcast(),
    ];
    (u32::from(range.network())..=u32::from(range.broadcast()))
        .map(Ipv4Addr::from)
        .find(|ip| !reserved.contains(ip) && !used.contains(ip))
}

/// Gives the addresses back.
pub(crate) fn release(store: &Store, container_id: &str, attachments: &[Attachment]) {
    for a in attachments {
        store.remove_lease(&a.record.id, container_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::network::records::{create, CreateNetwork};

    fn container(id: &str) -> ContainerRecord {
        ContainerRecord {
            id: id.into(),
            name: format!("c{id}"),
            ..Default::default()
        }
    }

    #[test]
    fn addresses_are_leased_lowest_first_and_given_back() {
        let (_d, store) = crate::store::test_store();
        let net = create(
            &store,
            &CreateNetwork {
                name: "n".into(),
                subnet: Some("10.77.0.0/24".parse().unwrap()),
                ..Default::default()
            },
        )
        .unwrap();
        let ep = EndpointConfig {
            network: "n".into(),
            network_id: net.id.clone(),
            ..Default::default()
        };
        let a = allocate(&store, &container("a"), std::slice::from_ref(&ep), 0).unwrap();
        let b = allocate(&store, &container("b"), std::slice::from_ref(&ep), 1).unwrap();
        assert_eq!(a[0].ip, Ipv4Addr::new(10, 77, 0, 2));
        assert_eq!(b[0].ip, Ipv4Addr::new(10, 77, 0, 3));
        assert_eq!(b[0].interface, "eth1");
        assert_eq!(a[0].tap_config(true).default_gateway, Some(net.gateway));
        let fixed = EndpointConfig {
            ip: Some(Ipv4Addr::new(10, 77, 0, 3)),
            ..ep.clone()
        };
        let e = allocate(&store, &container("c"), &[fixed], 0).unwrap_err();
        assert!(e.to_string().contains("already in use"), "{e}");
        release(&store, "a", &a);
        let c = allocate(&store, &container("c"), std::slice::from_ref(&ep), 0).unwrap();
        assert_eq!(c[0].ip, Ipv4Addr::new(10, 77, 0, 2));
        let spec = c[0].network_spec();
        spec.check().unwrap();
        assert!(spec.resolve_names);
        let gone = EndpointConfig {
            network: "gone".into(),
            network_id: "ab".repeat(32),
            ..Default::default()
        };
        let e = allocate(&store, &container("d"), &[ep, gone], 0).unwrap_err();
        assert_eq!(e.to_string(), "network gone not found");
        assert!(!store
            .live_leases(&net.id)
            .unwrap()
            .iter()
            .any(|l| l.container_id == "d"));
    }

    #[test]
    fn ip_range_limits_allocation() {
        let rec = NetworkRecord {
            id: "x".into(),
            name: "x".into(),
            created: String::new(),
            driver: "bridge".into(),
            subnet: "10.1.0.0/24".parse().unwrap(),
            gateway: "10.1.0.1".parse().unwrap(),
            ip_range: Some("10.1.0.128/30".parse().unwrap()),
            user_subnet: true,
            user_gateway: false,
            internal: false,
            attachable: false,
            labels: Default::default(),
            options: Default::default(),
            default_bridge: false,
        };
        assert_eq!(next_free(&rec, &[]), Some(Ipv4Addr::new(10, 1, 0, 128)));
        let used: Vec<Ipv4Addr> = (128..=131).map(|i| Ipv4Addr::new(10, 1, 0, i)).collect();
        assert_eq!(next_free(&rec, &used), None);
    }
}
