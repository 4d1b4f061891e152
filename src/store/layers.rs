//! Unpacked layers: `layers/<hex>/diff` holds a layer's files, unpacked
//! once and shared by every image and container; `tar-split.gz` records the
//! tar stream's headers so that the exact layer tar can be regenerated;
//! `layer.json` is written last and marks the layer complete.
//!
//! A layer this store lacks may be in an additional read-only image store
//! (`image_stores`): lookups fall back to those, and such a layer is used
//! in place, through a link under our `l/`. Writes only ever touch this
//! store's own directories.

use super::{Store, StoreLock};
use crate::util::digest::digest_hex;
use crate::util::fsutil::{read_json, remove_tree, sync_dir};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// What we keep about a layer besides its files.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LayerRecord {
    /// `sha256:` of the uncompressed tar.
    pub diff_id: String,
    /// Size of the uncompressed tar in bytes (what its tar-split
    /// reassembles).
    pub size: u64,
    /// What its files hold, as Docker counts a layer's size (`images`,
    /// `history`, `system df`, `inspect`'s `Size`): the apparent sizes of
    /// its files and symlinks, each hard-linked file once, without the
    /// tar's headers and padding. Absent in the records of stores made
    /// before it was kept, which show the tar's size instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_size: Option<u64>,
}

impl LayerRecord {
    /// The layer's size as `images`, `history` and `system df` show it.
    pub fn shown_size(&self) -> u64 {
        self.content_size.unwrap_or(self.size)
    }
}

/// Length of the names under `l/`: overlay's `lowerdir` option must fit in
/// one page, so each layer is named there by a short prefix of its id.
const LINK_LEN: usize = 16;

impl Store {
    /// This store's own directory for the layer (where it is written).
    fn local_layer_dir(&self, diff_id: &str) -> Result<PathBuf> {
        Ok(self.root.join("layers").join(digest_hex(diff_id)?))
    }

    fn local_layer(&self, diff_id: &str) -> Option<LayerRecord> {
        read_json(&self.local_layer_dir(diff_id).ok()?.join("layer.json")).ok()
    }

    /// The additional store that has the layer when this one does not.
    fn shared_layer_dir(&self, diff_id: &str) -> Option<PathBuf> {
        if self.local_layer(diff_id).is_some() {
            return None;
        }
        self.image_stores()
            .iter()
            .find(|s| s.layer(diff_id).is_some())
            .and_then(|s| s.layer_dir(diff_id).ok())
    }

    /// Whether this store has the layer itself (not through an
    /// additional image store).
    pub fn layer_is_local(&self, diff_id: &str) -> bool {
        self.local_layer(diff_id).is_some()
    }

    /// The layer's directory: this store's, else that of the additional
    /// store that has it complete. Read-only use only.
    pub fn layer_dir(&self, diff_id: &str) -> Result<PathBuf> {
        match self.shared_layer_dir(diff_id) {
            Some(dir) => Ok(dir),
            None => self.local_layer_dir(diff_id),
        }
    }

    /// The directory holding the layer's files.
    pub(crate) fn layer_diff(&self, diff_id: &str) -> Result<PathBuf> {
        Ok(self.layer_dir(diff_id)?.join("diff"))
    }

    /// `l/<short>`, relative to the root: the name used in overlay's lowerdir
    /// when mounting with the store root as working directory. For a layer
    /// of an additional store, the link points at its directory there
    /// (made or corrected here: the links keep the option string within
    /// the page overlay allows, wherever the layers are).
    pub(crate) fn layer_link(&self, diff_id: &str) -> Result<String> {
        let name = format!("l/{}", &digest_hex(diff_id)?[..LINK_LEN]);
        if let Some(dir) = self.shared_layer_dir(diff_id) {
            let target = dir.join("diff");
            let link = self.root.join(&name);
            if std::fs::read_link(&link).ok().as_deref() != Some(target.as_path()) {
                // A new link renamed over the old one: a concurrent start
                // sees one or the other, both right.
                let tmp = self.root.join(format!(
                    "l/.{}-{}",
                    &name[2..],
                    crate::util::ids::random_id().get(..8).unwrap_or("0")
                ));
                std::os::unix::fs::symlink(&target, &tmp)
                    .and_then(|()| std::fs::rename(&tmp, &link))
                    .with_context(|| {
                        format!(
                            "linking layer {diff_id} of the image store {}",
                            dir.display()
                        )
                    })?;
            }
        }
        Ok(name)
    }

    /// The record of a complete layer, or None if it is absent or half
    /// made; an additional store's when this store lacks it.
    pub(crate) fn layer(&self, diff_id: &str) -> Option<LayerRecord> {
        self.local_layer(diff_id)
            .or_else(|| self.image_stores().iter().find_map(|s| s.layer(diff_id)))
    }

    /// Moves a layer unpacked in `staging` (holding `diff/` and
    /// `tar-split.gz`) into place. If another process committed the same
    /// layer first, ours is discarded: both are the same bytes.
    pub fn commit_layer(
        &self,
        staging: &Path,
        record: &LayerRecord,
        lock: &StoreLock,
    ) -> Result<()> {
        self.commit_layer_with(staging, record, lock, true)
    }

    /// `commit_layer`, with the fsyncs only when `durable` (a build syncs
    /// the whole store once instead, see `Store::sync`).
    pub(crate) fn commit_layer_with(
        &self,
        staging: &Path,
        record: &LayerRecord,
        _lock: &StoreLock,
        durable: bool,
    ) -> Result<()> {
        let dir = self.local_layer_dir(&record.diff_id)?;
        if self.layer(&record.diff_id).is_some() {
            return remove_tree(staging);
        }
        // A directory without layer.json is a leftover of a crash.
        remove_tree(&dir)?;
        let json = serde_json::to_vec_pretty(record).context("serializing metadata")?;
        if durable {
            crate::util::fsutil::write_atomic(&staging.join("layer.json"), &json)?;
        } else {
            crate::util::fsutil::write_atomic_relaxed(&staging.join("layer.json"), &json)?;
        }
        if self.image_dir_mode() != 0o700 {
            // A store prepared for sharing: others must reach the files.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(
                staging,
                std::fs::Permissions::from_mode(self.image_dir_mode()),
            )?;
        }
        // The short link first (dangling for a moment): a layer is complete
        // once it is in place, so its link must already be there when a
        // kill stops us between the two.
        let link = self.root.join(self.layer_link(&record.diff_id)?);
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(
            Path::new("../layers")
                .join(digest_hex(&record.diff_id)?)
                .join("diff"),
            &link,
        )
        .with_context(|| format!("linking layer {}", record.diff_id))?;
        std::fs::rename(staging, &dir)
            .with_context(|| format!("moving layer {} into the store", record.diff_id))?;
        if durable {
            sync_dir(&self.root.join("layers"))?;
        }
        Ok(())
    }

    /// Removes every layer that no image, no container and no build cache
    /// record uses; returns
    /// their diff ids and sizes.
    pub(crate) fn remove_unused_layers(&self, lock: &StoreLock) -> Result<Vec<(String, u64)>> {
        let mut used: HashSet<String> = HashSet::new();
        for img in self.images()?.images {
            used.extend(img.layers);
        }
        for c in self.containers()? {
            used.extend(c.layers);
        }
        // The build cache keeps the layers of its results.
        used.extend(self.cache_layers()?);
        let mut removed = Vec::new();
        for entry in std::fs::read_dir(self.root.join("layers"))? {
            let entry = entry?;
            let diff_id = format!("sha256:{}", entry.file_name().to_string_lossy());
            if !used.contains(&diff_id) {
                let size = self.local_layer(&diff_id).map_or(0, |r| r.shown_size());
                self.remove_layer(&diff_id, lock)?;
                removed.push((diff_id, size));
            }
        }
        Ok(removed)
    }

    fn remove_layer(&self, diff_id: &str, _lock: &StoreLock) -> Result<()> {
        let dir = self.local_layer_dir(diff_id)?;
        // layer.json goes first: a crash part-way leaves an incomplete layer
        // that the next commit of the same layer replaces.
        let _ = std::fs::remove_file(dir.join("layer.json"));
        let _ = std::fs::remove_file(self.root.join(self.layer_link(diff_id)?));
        remove_tree(&dir).with_context(|| format!("removing layer {diff_id}"))
    }
}
