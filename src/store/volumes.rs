//! Volumes: `volumes/<name>/_data` holds the data, `volume.json` the
//! record. Volume data is only ever deleted by `volume rm`, `volume prune`
//! and `rm -v`/`run --rm` of anonymous volumes.

use super::{Store, StoreLock};
use crate::util::fsutil::{create_dir_mode, read_json, remove_tree, write_json_atomic};
use anyhow::{bail, Context, Result};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct VolumeRecord {
    pub(crate) name: String,
    pub(crate) driver: String,
    #[serde(default)]
    pub(crate) labels: IndexMap<String, String>,
    #[serde(default)]
    pub(crate) options: IndexMap<String, String>,
    pub(crate) created_at: String,
    /// Made for one container (`-v /path`, an image's VOLUME), not by name.
    #[serde(default)]
    pub(crate) anonymous: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("get {0}: no such volume")]
pub(crate) struct NoSuchVolume(pub(crate) String);

/// Docker's rule for local volume names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub(crate) fn valid_volume_name(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() >= 2
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || c == b'-')
}

impl Store {
    fn volume_dir(&self, name: &str) -> PathBuf {
        self.root.join("volumes").join(name)
    }

    /// The directory mounted into containers.
    pub(crate) fn volume_data(&self, name: &str) -> PathBuf {
        self.volume_dir(name).join("_data")
    }

    /// What containers mount for this volume: `_data`, or the host
    /// directory of a volume made with `-o type=none,o=bind,device=DIR`.
    pub(crate) fn volume_mount_source(&self, record: &VolumeRecord) -> PathBuf {
        match record.options.get("device") {
            Some(dev) if record.options.get("type").map(String::as_str) == Some("none") => {
                PathBuf::from(dev)
            }
            _ => self.volume_data(&record.name),
        }
    }

    pub(crate) fn volume(&self, name: &str) -> Result<VolumeRecord> {
        let path = self.volume_dir(name).join("volume.json");
        if !valid_volume_name(name) || !path.exists() {
            bail!(NoSuchVolume(name.to_string()));
        }
        read_json(&path)
    }

    /// Every volume, oldest first.
    pub(crate) fn volumes(&self) -> Result<Vec<VolumeRecord>> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(self.root.join("volumes"))? {
            let path = e?.path().join("volume.json");
            if path.exists() {
                out.push(read_json::<VolumeRecord>(&path)?);
            }
        }
        out.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.name.cmp(&b.name)));
        Ok(out)
    }

    /// Creates a volume, or returns the existing one of that name (as
    /// `docker volume create` does for a name that exists).
    pub(crate) fn create_volume(
        &self,
        record: VolumeRecord,
        _lock: &StoreLock,
    ) -> Result<VolumeRecord> {
        if !valid_volume_name(&record.name) {
            bail!(
                "create {0}: \"{0}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path",
                record.name
            );
        }
        if let Ok(existing) = self.volume(&record.name) {
            return Ok(existing);
        }
        let dir = self.volume_dir(&record.name);
        // 0755 as Docker: the container's users must be able to reach _data.
        create_dir_mode(&dir.join("_data"), 0o755)?;
        write_json_atomic(&dir.join("volume.json"), &record)
            .with_context(|| format!("creating volume {}", record.name))?;
        self.record_event(&crate::model::event::Event::volume(
            &record.name,
            "create",
            [],
        ));
        Ok(record)
    }

    /// Deletes a volume and its data; the caller checked nobody uses it
    /// and runs inside the user namespace (data may belong to subordinate ids).
    pub(crate) fn remove_volume(&self, name: &str, _lock: &StoreLock) -> Result<()> {
        let dir = self.volume_dir(name);
        // The record goes first: a crash part-way leaves no half volume in listings.
        let _ = std::fs::remove_file(dir.join("volume.json"));
        self.record_event(&crate::model::event::Event::volume(name, "destroy", []));
        remove_tree(&dir).with_context(|| format!("removing volume {name}"))
    }

    /// `rm -v` and `run --rm`: the container's anonymous volumes go with it,
    /// unless another container (through `--volumes-from`) still uses them.
    /// Named volumes are never removed here. The container's record is
    /// already gone.
    pub(crate) fn remove_anonymous_volumes(
        &self,
        record: &crate::model::ContainerRecord,
        lock: &StoreLock,
    ) -> Result<()> {
        for m in record.host.storage.mounts.iter().filter(|m| m.anonymous) {
            if let Some(name) = &m.volume {
                if self.volume(name).is_ok_and(|v| v.anonymous)
                    && self.volume_users(name)?.is_empty()
                {
                    self.remove_volume(name, lock)?;
                }
            }
        }
        Ok(())
    }

    /// Names of the containers whose mounts use the volume.
    pub(crate) fn volume_users(&self, name: &str) -> Result<Vec<String>> {
        Ok(self
            .containers()?
            .into_iter()
            .filter(|c| {
                c.host
                    .storage
                    .mounts
                    .iter()
                    .any(|m| m.volume.as_deref() == Some(name))
            })
            .map(|c| c.id)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_store;

    fn rec(name: &str) -> VolumeRecord {
        VolumeRecord {
            name: name.into(),
            driver: "local".into(),
            labels: IndexMap::new(),
            options: IndexMap::new(),
            created_at: crate::util::humanize::now_rfc3339(),
            anonymous: false,
        }
    }

    #[test]
    fn names_follow_docker_rules() {
        for ok in ["data", "my-vol_1.x", "a1"] {
            assert!(valid_volume_name(ok), "{ok}");
        }
        for bad in ["", "a", "-x", "./x", "x/y", "a b", "/abs"] {
            assert!(!valid_volume_name(bad), "{bad}");
        }
    }

    #[test]
    fn create_is_idempotent_and_remove_deletes_data() {
        let (_d, store) = test_store();
        let lock = store.lock().unwrap();
        store.create_volume(rec("data"), &lock).unwrap();
        std::fs::write(store.volume_data("data").join("f"), b"x").unwrap();
        let again = store.create_volume(rec("data"), &lock).unwrap();
        assert_eq!(again.name, "data");
        assert!(store.volume_data("data").join("f").exists());
        assert_eq!(store.volumes().unwrap().len(), 1);
        store.remove_volume("data", &lock).unwrap();
        assert!(store.volume("data").is_err());
        assert!(store.create_volume(rec("../x"), &lock).is_err());
    }
}
