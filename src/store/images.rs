//! Image records and their names, kept in one `images.json` so that a name
//! and the image it points to always change together.

use super::Store;
use crate::model::reference::Reference;
use crate::util::fsutil::{read_json, write_json_atomic};
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// One image: its id is the digest of its config blob.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ImageRecord {
    /// `sha256:<hex>` of the config blob.
    pub id: String,
    /// Fully normalized names (`docker.io/library/busybox:latest`).
    #[serde(default)]
    pub repo_tags: Vec<String>,
    /// `name@sha256:<manifest digest>` for images that came from a registry.
    #[serde(default)]
    pub repo_digests: Vec<String>,
    /// Diff ids of the layers, base first.
    pub layers: Vec<String>,
    /// Sum of the uncompressed layer sizes.
    pub size: u64,
    /// `created` of the config, when it has one.
    #[serde(default)]
    pub created: Option<String>,
    /// When this store got the image.
    pub added: String,
}

/// Everything `images.json` holds.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ImageIndex {
    pub(crate) images: Vec<ImageRecord>,
}

/// No image matched; the message is Docker's.
#[derive(Debug, thiserror::Error)]
#[error("No such image: {0}")]
pub(crate) struct NoSuchImage(pub(crate) String);

impl ImageIndex {
    /// The image a user means by `spec`: a name (normalized), `name@digest`,
    /// a full id (with or without `sha256:`), or a unique id prefix.
    pub(crate) fn resolve(&self, spec: &str) -> Result<&ImageRecord> {
        let idx = self.resolve_index(spec)?;
        Ok(&self.images[idx])
    }

    pub(crate) fn resolve_index(&self, spec: &str) -> Result<usize> {
        if let Ok(r) = Reference::parse_tagged(spec) {
            let full = r.to_string();
            let found = if r.digest().is_some() {
                self.images
                    .iter()
                    .position(|i| i.repo_digests.contains(&full))
            } else {
                self.images.iter().position(|i| i.repo_tags.contains(&full))
            };
            if let Some(i) = found {
                return Ok(i);
            }
        }
        let hex = spec.strip_prefix("sha256:").unwrap_or(spec);
        if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(NoSuchImage(spec.to_string()).into());
        }
        let hex = hex.to_ascii_lowercase();
        let matches: Vec<usize> = (0..self.images.len())
            .filter(|&i| self.images[i].id["sha256:".len()..].starts_with(&hex))
            .collect();
        match matches.as_slice() {
            [] => Err(NoSuchImage(spec.to_string()).into()),
            [one] => Ok(*one),
            many => bail!(
                "image ID prefix {spec:?} is ambiguous: it matches {} images; type more characters of the ID",
                many.len()
            ),
        }
    }

    pub(crate) fn by_id(&self, id: &str) -> Option<&ImageRecord> {
        self.images.iter().find(|i| i.id == id)
    }

    /// Points `name` (fully normalized) at `id`, taking it off any other image.
    pub(crate) fn set_tag(&mut self, name: &str, id: &str) {
        for img in &mut self.images {
            img.repo_tags.retain(|t| t != name);
        }
        if let Some(img) = self.images.iter_mut().find(|i| i.id == id) {
            img.repo_tags.push(name.to_string());
        }
    }

    /// Adds an image, or merges names into the record that has its id.
    pub fn upsert(&mut self, record: ImageRecord) {
        let names = record.repo_tags.clone();
        match self.images.iter_mut().find(|i| i.id == record.id) {
            Some(existing) => {
                for d in record.repo_digests {
                    if !existing.repo_digests.contains(&d) {
                        existing.repo_digests.push(d);
                    }
                }
            }
            None => self.images.push(ImageRecord {
                repo_tags: Vec::new(),
                ..record.clone()
            }),
        }
        for n in names {
            self.set_tag(&n, &record.id);
        }
    }
}

impl Store {
    fn images_path(&self) -> PathBuf {
        self.root.join("images.json")
    }

    /// Reads the image index. Readers need no lock: the file is replaced
    /// atomically, so they see one whole version.
    pub(crate) fn images(&self) -> Result<ImageIndex> {
        let path = self.images_path();
        if !path.exists() {
            return Ok(ImageIndex::default());
        }
        read_json(&path)
    }

    /// Replaces the image index; the caller holds the store lock.
    pub fn save_images(&self, index: &ImageIndex, _lock: &super::StoreLock) -> Result<()> {
        write_json_atomic(&self.images_path(), index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id_char: char, tags: &[&str]) -> ImageRecord {
        ImageRecord {
            id: format!("sha256:{}", id_char.to_string().repeat(64)),
            repo_tags: tags.iter().map(|t| t.to_string()).collect(),
            repo_digests: vec![],
            layers: vec![],
            size: 0,
            created: None,
            added: String::new(),
        }
    }

    #[test]
    fn resolves_names_ids_and_prefixes() {
        let mut idx = ImageIndex::default();
        idx.upsert(rec('a', &["docker.io/library/busybox:latest"]));
        idx.upsert(rec('b', &["localhost:5000/x:1"]));
        assert_eq!(idx.resolve("busybox").unwrap().id, rec('a', &[]).id);
        assert_eq!(
            idx.resolve("docker.io/library/busybox:latest").unwrap().id,
            rec('a', &[]).id
        );
        assert_eq!(
            idx.resolve("localhost:5000/x:1").unwrap().id,
            rec('b', &[]).id
        );
        assert_eq!(idx.resolve("bbbb").unwrap().id, rec('b', &[]).id);
        assert_eq!(
            idx.resolve(&format!("sha256:{}", "a".repeat(64)))
                .unwrap()
                .id,
            rec('a', &[]).id
        );
        assert!(idx
            .resolve("nothere")
            .unwrap_err()
            .to_string()
            .contains("No such image"));
    }

    #[test]
    fn ambiguous_prefix_is_an_error() {
        let mut idx = ImageIndex::default();
        let mut a = rec('a', &[]);
        a.id = format!("sha256:ab{}", "0".repeat(62));
        let mut b = rec('a', &[]);
        b.id = format!("sha256:ac{}", "0".repeat(62));
        idx.upsert(a);
        idx.upsert(b);
        assert!(idx
            .resolve("a")
            .unwrap_err()
            .to_string()
            .contains("ambiguous"));
        assert!(idx.resolve("ab").is_ok());
    }

    #[test]
    fn a_tag_moves_to_the_newer_image() {
        let mut idx = ImageIndex::default();
        idx.upsert(rec('a', &["docker.io/library/x:latest"]));
        idx.upsert(rec('b', &["docker.io/library/x:latest"]));
        assert!(idx.images[0].repo_tags.is_empty());
        assert_eq!(idx.images[1].repo_tags, vec!["docker.io/library/x:latest"]);
    }
}
