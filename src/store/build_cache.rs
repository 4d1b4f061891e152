//! The build cache on disk (`build-cache/`): one record per step result,
//! named by the step's cache key, and the directories of `RUN
//! --mount=type=cache` mounts.
//!
//! ```text
//! build-cache/steps/<key>.json     what a step produced: its layer (or none) and when
//! build-cache/mounts/<hash>/data   a cache mount's files, kept across builds
//! build-cache/mounts/<hash>/lock   flock'd by a step using it with sharing=locked
//! ```
//!
//! A record is written atomically (temporary file, rename) under
//! the store lock, in the same locked section that commits the layer it
//! names, so that garbage collection never sees one without the other;
//! the build syncs the store once (`Store::sync`) before its image record.
//! Layers named by records are kept by `remove_unused_layers`: the cache
//! survives `image prune` of the images that were built with it. Readers
//! take no lock; a record whose layer is gone is a miss.

use super::{Store, StoreLock};
use crate::util::fsutil::{create_dir_mode, read_json, remove_tree, write_atomic_relaxed};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::PathBuf;

/// What one step produced.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct CacheRecord {
    /// The step's cache key (64 hex digits).
    pub(crate) key: String,
    /// The layer the step added, by diff id; None when it added none.
    #[serde(default)]
    pub(crate) layer: Option<String>,
    /// When the step ran (RFC 3339): a cache hit keeps this time, so an
    /// identical rebuild gives the identical image.
    pub(crate) created: String,
    /// The step as the progress shows it (`RUN apt-get update`), for
    /// `builder prune` and `system df`.
    #[serde(default)]
    pub(crate) description: String,
}

/// A cache mount's directory on disk.
#[derive(Debug, Clone)]
pub(crate) struct CacheMountDir {
    /// Its files.
    pub(crate) data: PathBuf,
    /// A file to flock for `sharing=locked`.
    pub(crate) lock: PathBuf,
}

fn valid_key(key: &str) -> Result<()> {
    if key.len() != 64 || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("invalid build cache key {key:?}");
    }
    Ok(())
}

impl Store {
    fn cache_steps_dir(&self) -> PathBuf {
        self.root.join("build-cache").join("steps")
    }

    fn cache_mounts_dir(&self) -> PathBuf {
        self.root.join("build-cache").join("mounts")
    }

    /// The record of a step, if this store has one.
    pub(crate) fn cache_record(&self, key: &str) -> Option<CacheRecord> {
        valid_key(key).ok()?;
        let path = self.cache_steps_dir().join(format!("{key}.json"));
        read_json(&path).ok()
    }

    /// Writes a step's record; the caller holds the lock (and committed the
    /// layer it names in the same locked section).
    pub(crate) fn save_cache_record(&self, record: &CacheRecord, _lock: &StoreLock) -> Result<()> {
        valid_key(&record.key)?;
        let dir = self.cache_steps_dir();
        create_dir_mode(&self.root.join("build-cache"), 0o700)?;
        create_dir_mode(&dir, 0o700)?;
        // Not fsynced: a build syncs the store once before it records its
        // image; a record lost in a crash only costs a rebuild of the step.
        let data = serde_json::to_vec_pretty(record).context("serializing metadata")?;
        write_atomic_relaxed(&dir.join(format!("{}.json", record.key)), &data)
            .context("writing a build cache record")
    }

    /// Every step record (unreadable ones left out).
    pub(crate) fn cache_records(&self) -> Result<Vec<CacheRecord>> {
        let dir = self.cache_steps_dir();
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
        };
        let mut out = Vec::new();
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(key) = name.strip_suffix(".json") {
                if let Some(r) = self.cache_record(key) {
                    out.push(r);
                }
            }
        }
        out.sort_by(|a, b| a.created.cmp(&b.created).then(a.key.cmp(&b.key)));
        Ok(out)
    }

    /// Removes a step record (its layer goes with the next
    /// `remove_unused_layers` if nothing else uses it).
    pub(crate) fn remove_cache_record(&self, key: &str, _lock: &StoreLock) -> Result<()> {
        valid_key(key)?;
        match std::fs::remove_file(self.cache_steps_dir().join(format!("{key}.json"))) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).context("removing a build cache record"),
        }
    }

    /// The layers the build cache names: kept by garbage collection.
    pub(crate) fn cache_layers(&self) -> Result<HashSet<String>> {
        Ok(self
            .cache_records()?
            .into_iter()
            .filter_map(|r| r.layer)
            .collect())
    }

    /// The directory of cache mount `name` (a hash of its id), created
    /// with `mode`, `uid` and `gid` the first time.
    pub(crate) fn cache_mount_dir(
        &self,
        name: &str,
        mode: u32,
        uid: u32,
        gid: u32,
    ) -> Result<CacheMountDir> {
        valid_key(name)?;
        create_dir_mode(&self.root.join("build-cache"), 0o700)?;
        create_dir_mode(&self.cache_mounts_dir(), 0o700)?;
        let top = self.cache_mounts_dir().join(name);
        create_dir_mode(&top, 0o700)?;
        let data = top.join("data");
        if !data.exists() {
            // Made aside and renamed, so a concurrent first use never sees
            // a directory with the wrong owner.
            let tmp = top.join(format!("data-{}", std::process::id()));
            let _ = remove_tree(&tmp);
            create_dir_mode(&tmp, mode)?;
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode))?;
            // Ids the namespace does not map stay ours (root in the build).
            let _ = std::os::unix::fs::chown(&tmp, Some(uid), Some(gid));
            if let Err(e) = std::fs::rename(&tmp, &data) {
                let _ = remove_tree(&tmp);
                if !data.exists() {
                    return Err(e).context("creating a cache mount");
                }
            }
        }
        Ok(CacheMountDir {
            data,
            lock: top.join("lock"),
        })
    }

    /// The cache mounts' directories with their sizes on disk.
    pub(crate) fn cache_mounts(&self) -> Result<Vec<(PathBuf, u64)>> {
        let dir = self.cache_mounts_dir();
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for e in entries.flatten() {
            let size = crate::util::fsutil::tree_size(&e.path());
            out.push((e.path(), size));
        }
        out.sort();
        Ok(out)
    }

    /// Removes a cache mount (the caller holds the lock).
    pub(crate) fn remove_cache_mount(
        &self,
        path: &std::path::Path,
        _lock: &StoreLock,
    ) -> Result<()> {
        if path.parent() != Some(self.cache_mounts_dir().as_path()) {
            bail!("{} is not a cache mount of this store", path.display());
        }
        remove_tree(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_name_their_layers() {
        let (_d, store) = crate::store::test_store();
        let key = "a".repeat(64);
        assert!(store.cache_record(&key).is_none());
        let rec = CacheRecord {
            key: key.clone(),
            layer: Some("sha256:1234".into()),
            created: "2026-01-01T00:00:00Z".into(),
            description: "RUN true".into(),
        };
        let lock = store.lock().unwrap();
        store.save_cache_record(&rec, &lock).unwrap();
        assert_eq!(store.cache_record(&key), Some(rec.clone()));
        assert_eq!(store.cache_records().unwrap(), vec![rec]);
        assert!(store.cache_layers().unwrap().contains("sha256:1234"));
        store.remove_cache_record(&key, &lock).unwrap();
        assert!(store.cache_records().unwrap().is_empty());
        assert!(store.cache_record("../x").is_none());
        let bad = CacheRecord {
            key: "../../etc".into(),
            layer: None,
            created: String::new(),
            description: String::new(),
        };
        assert!(store.save_cache_record(&bad, &lock).is_err());
    }

    #[test]
    fn cache_mounts_persist() {
        let (_d, store) = crate::store::test_store();
        let name = "b".repeat(64);
        let m = store.cache_mount_dir(&name, 0o755, 0, 0).unwrap();
        std::fs::write(m.data.join("f"), "x").unwrap();
        let again = store.cache_mount_dir(&name, 0o755, 0, 0).unwrap();
        assert_eq!(std::fs::read_to_string(again.data.join("f")).unwrap(), "x");
        let listed = store.cache_mounts().unwrap();
        assert_eq!(listed.len(), 1);
        let lock = store.lock().unwrap();
        store.remove_cache_mount(&listed[0].0, &lock).unwrap();
        assert!(store.cache_mounts().unwrap().is_empty());
    }
}
