//! Network records and address leases:
//!
//! ```text
//! networks/<id>/network.json          the record (model::network_record)
//! networks/<id>/leases/<container>    a running member's address
//! ```
//!
//! Records change under the store lock (`create_network`,
//! `remove_network`); readers take none (records are replaced atomically).
//! Leases are written and removed by the members' monitors under the lock:
//! allocation reads every lease, so two containers starting at once never
//! get the same address. A lease whose monitor is gone (killed) no longer
//! counts. Which subnet or address to take is decided above (runtime, with
//! `slirp::addr`); this file only keeps what was decided.

use super::{Store, StoreLock};
use crate::model::network_record::{Lease, NetworkRecord};
use crate::util::fsutil::{create_dir_mode, read_json, remove_tree, write_json_atomic};
use anyhow::{bail, Context, Result};
use std::path::PathBuf;

/// Docker's wording for a network that does not exist.
#[derive(Debug, thiserror::Error)]
#[error("network {0} not found")]
pub(crate) struct NoSuchNetwork(pub(crate) String);

impl Store {
    fn networks_dir(&self) -> PathBuf {
        self.root.join("networks")
    }

    fn network_dir(&self, id: &str) -> PathBuf {
        self.networks_dir().join(id)
    }

    /// Every network record, oldest first.
    pub(crate) fn network_records(&self) -> Result<Vec<NetworkRecord>> {
        let mut out = Vec::new();
        let entries = match std::fs::read_dir(self.networks_dir()) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e).context("listing the networks"),
        };
        for e in entries {
            let path = e?.path().join("network.json");
            // A directory without a record is a removal that was interrupted.
            if path.exists() {
                out.push(read_json::<NetworkRecord>(&path)?);
            }
        }
        out.sort_by(|a, b| a.created.cmp(&b.created).then(a.name.cmp(&b.name)));
        Ok(out)
    }

    /// The network a user means, as Docker finds it: full id, exact name,
    /// then a unique id prefix.
    pub(crate) fn network(&self, spec: &str) -> Result<NetworkRecord> {
        let all = self.network_records()?;
        if let Some(r) = all.iter().find(|r| r.id == spec) {
            return Ok(r.clone());
        }
        if let Some(r) = all.iter().find(|r| r.name == spec) {
            return Ok(r.clone());
        }
        let prefixed: Vec<&NetworkRecord> = all
            .iter()
            .filter(|r| !spec.is_empty() && r.id.starts_with(spec))
            .collect();
        match prefixed.as_slice() {
            [one] => Ok((*one).clone()),
            [] => bail!(NoSuchNetwork(spec.to_string())),
            _ => bail!(
                "network {spec} is ambiguous ({} matches found based on ID prefix)",
                prefixed.len()
            ),
        }
    }

    /// The network with this id, if it exists.
    pub(crate) fn network_by_id(&self, id: &str) -> Option<NetworkRecord> {
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        read_json(&self.network_dir(id).join("network.json")).ok()
    }

    /// Writes a new network's record; fails with Docker's message when the
    /// name is taken.
    pub(crate) fn create_network(&self, record: &NetworkRecord, _lock: &StoreLock) -> Result<()> {
        if self
            .network_records()?
            .iter()
            .any(|r| r.name == record.name)
        {
            bail!("network with name {} already exists", record.name);
        }
        create_dir_mode(&self.networks_dir(), 0o700)?;
        let dir = self.network_dir(&record.id);
        create_dir_mode(&dir, 0o700)?;
        write_json_atomic(&dir.join("network.json"), record)
            .with_context(|| format!("creating network {}", record.name))
    }

    /// Deletes a network's record and leases; the caller checked that no
    /// running container is on it.
    pub(crate) fn remove_network(&self, record: &NetworkRecord, _lock: &StoreLock) -> Result<()> {
        let dir = self.network_dir(&record.id);
        // The record goes first: a crash part-way leaves nothing listed.
        let _ = std::fs::remove_file(dir.join("network.json"));
        remove_tree(&dir).with_context(|| format!("removing network {}", record.name))
    }

    /// Every lease of the network, live or not.
    pub(crate) fn leases(&self, network_id: &str) -> Result<Vec<Lease>> {
        let dir = self.network_dir(network_id).join("leases");
        let mut out = Vec::new();
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e).context("listing the network's leases"),
        };
        for e in entries.flatten() {
            // A torn or foreign file is no lease.
            if let Ok(l) = read_json::<Lease>(&e.path()) {
                out.push(l);
            }
        }
        Ok(out)
    }

    /// The leases whose monitor still runs: the network's running members.
    pub(crate) fn live_leases(&self, network_id: &str) -> Result<Vec<Lease>> {
        Ok(self
            .leases(network_id)?
            .into_iter()
            .filter(|l| l.holder().is_alive())
            .collect())
    }

    /// Records a member's address (replacing its previous lease there).
    /// Not fsynced: after a crash no monitor holds it anyway.
    pub(crate) fn write_lease(
        &self,
        network_id: &str,
        lease: &Lease,
        _lock: &StoreLock,
    ) -> Result<()> {
        let dir = self.network_dir(network_id).join("leases");
        create_dir_mode(&dir, 0o700)?;
        let data = serde_json::to_vec(lease)?;
        crate::util::fsutil::write_atomic_relaxed(&dir.join(&lease.container_id), &data)
            .context("recording the container's address on the network")
    }

    /// Gives a member's address back. No lock needed: removing a file is
    /// atomic, and allocation only ever adds.
    pub(crate) fn remove_lease(&self, network_id: &str, container_id: &str) {
        let _ = std::fs::remove_file(
            self.network_dir(network_id)
                .join("leases")
                .join(container_id),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::proc::ProcessId;

    fn record(id: &str, name: &str, subnet: &str) -> NetworkRecord {
        let subnet: crate::model::ipnet::Ipv4Net = subnet.parse().unwrap();
        NetworkRecord {
            id: id.into(),
            name: name.into(),
            created: format!("2026-01-01T00:00:0{}Z", id.len() % 10),
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
            default_bridge: false,
        }
    }

    #[test]
    fn records_by_id_name_and_prefix() {
        let (_d, store) = crate::store::test_store();
        assert!(store.network_records().unwrap().is_empty());
        let lock = store.lock().unwrap();
        let a = record(&"a1".repeat(32), "front", "172.18.0.0/16");
        let b = record(&"a2".repeat(32), "back", "172.19.0.0/16");
        store.create_network(&a, &lock).unwrap();
        store.create_network(&b, &lock).unwrap();
        let dup = record(&"b3".repeat(32), "front", "172.20.0.0/16");
        let e = store.create_network(&dup, &lock).unwrap_err().to_string();
        assert_eq!(e, "network with name front already exists");
        assert_eq!(store.network("front").unwrap(), a);
        assert_eq!(store.network(&b.id).unwrap(), b);
        assert_eq!(store.network("a2a2").unwrap(), b);
        assert!(store
            .network("a")
            .unwrap_err()
            .to_string()
            .contains("ambiguous"));
        let e = store.network("nope").unwrap_err();
        assert!(e.is::<NoSuchNetwork>());
        assert_eq!(e.to_string(), "network nope not found");
        assert_eq!(store.network_by_id(&a.id).unwrap(), a);
        assert!(store.network_by_id("../x").is_none());
        store.remove_network(&a, &lock).unwrap();
        assert_eq!(store.network_records().unwrap(), vec![b]);
    }

    #[test]
    fn leases_count_while_their_monitor_lives() {
        let (_d, store) = crate::store::test_store();
        let lock = store.lock().unwrap();
        let me = ProcessId::current();
        let live = Lease {
            container_id: "c1".into(),
            ip: "10.0.0.2".parse().unwrap(),
            monitor_pid: me.pid,
            monitor_start: me.start,
        };
        let dead = Lease {
            container_id: "c2".into(),
            ip: "10.0.0.3".parse().unwrap(),
            monitor_pid: me.pid,
            monitor_start: me.start + 1,
        };
        store.write_lease("n1", &live, &lock).unwrap();
        store.write_lease("n1", &dead, &lock).unwrap();
        assert_eq!(store.leases("n1").unwrap().len(), 2);
        assert_eq!(store.live_leases("n1").unwrap(), vec![live]);
        store.remove_lease("n1", "c1");
        assert!(store.live_leases("n1").unwrap().is_empty());
        assert!(store.leases("other").unwrap().is_empty());
    }
}
