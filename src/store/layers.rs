//! Unpacked layers: `layers/<hex>/diff` holds a layer's files, unpacked
//! once and shared by every image and container; `tar-split.gz` records the
//! tar stream's headers so that the exact layer tar can be regenerated;
//! `layer.json` is written last and marks the layer complete.

use super::{Store, StoreLock};
use crate::util::digest::digest_hex;
use crate::util::fsutil::{read_json, remove_tree, sync_dir, write_json_atomic};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// What we keep about a layer besides its files.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LayerRecord {
    /// `sha256:` of the uncompressed tar.
    pub diff_id: String,
    /// Size of the uncompressed tar in bytes.
    pub size: u64,
}

/// Length of the names under `l/`: overlay's `lowerdir` option must fit in
/// one page, so each layer is named there by a short prefix of its id.
const LINK_LEN: usize = 16;

impl Store {
    pub(crate) fn layer_dir(&self, diff_id: &str) -> Result<PathBuf> {
        Ok(self.root.join("layers").join(digest_hex(diff_id)?))
    }

    /// The directory holding the layer's files.
    pub(crate) fn layer_diff(&self, diff_id: &str) -> Result<PathBuf> {
        Ok(self.layer_dir(diff_id)?.join("diff"))
    }

    /// `l/<short>`, relative to the root: the name used in overlay's lowerdir
    /// when mounting with the store root as working directory.
    pub(crate) fn layer_link(&self, diff_id: &str) -> Result<String> {
        Ok(format!("l/{}", &digest_hex(diff_id)?[..LINK_LEN]))
    }

    /// The record of a complete layer, or None if it is absent or half made.
    pub(crate) fn layer(&self, diff_id: &str) -> Option<LayerRecord> {
        let path = self.layer_dir(diff_id).ok()?.join("layer.json");
        read_json(&path).ok()
    }

    /// Moves a layer unpacked in `staging` (holding `diff/` and
    /// `tar-split.gz`) into place. If another process committed the same
    /// layer first, ours is discarded: both are the same bytes.
    pub fn commit_layer(
        &self,
        staging: &Path,
        record: &LayerRecord,
        _lock: &StoreLock,
    ) -> Result<()> {
        let dir = self.layer_dir(&record.diff_id)?;
        if self.layer(&record.diff_id).is_some() {
            return remove_tree(staging);
        }
        // A directory without layer.json is a leftover of a crash.
        remove_tree(&dir)?;
        write_json_atomic(&staging.join("layer.json"), record)?;
        std::fs::rename(staging, &dir)
            .with_context(|| format!("moving layer {} into the store", record.diff_id))?;
        let link = self.root.join(self.layer_link(&record.diff_id)?);
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(
            Path::new("../layers")
                .join(digest_hex(&record.diff_id)?)
                .join("diff"),
            &link,
        )
        .with_context(|| format!("linking layer {}", record.diff_id))?;
        sync_dir(&self.root.join("layers"))
    }

    /// Removes every layer that no image and no container uses; returns
    /// their diff ids and sizes.
    pub(crate) fn remove_unused_layers(&self, lock: &StoreLock) -> Result<Vec<(String, u64)>> {
        let mut used: HashSet<String> = HashSet::new();
        for img in self.images()?.images {
            used.extend(img.layers);
        }
        for c in self.containers()? {
            used.extend(c.layers);
        }
        let mut removed = Vec::new();
        for entry in std::fs::read_dir(self.root.join("layers"))? {
            let entry = entry?;
            let diff_id = format!("sha256:{}", entry.file_name().to_string_lossy());
            if !used.contains(&diff_id) {
                let size = self.layer(&diff_id).map_or(0, |r| r.size);
                self.remove_layer(&diff_id, lock)?;
                removed.push((diff_id, size));
            }
        }
        Ok(removed)
    }

    fn remove_layer(&self, diff_id: &str, _lock: &StoreLock) -> Result<()> {
        let dir = self.layer_dir(diff_id)?;
        // layer.json goes first: a crash part-way leaves an incomplete layer
        // that the next commit of the same layer replaces.
        let _ = std::fs::remove_file(dir.join("layer.json"));
        let _ = std::fs::remove_file(self.root.join(self.layer_link(diff_id)?));
        remove_tree(&dir).with_context(|| format!("removing layer {diff_id}"))
    }
}
