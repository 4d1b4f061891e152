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

/// Everything `images.json` holds, plus (never saved) the images of the
/// additional read-only stores, which name lookups fall back to.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ImageIndex {
    pub(crate) images: Vec<ImageRecord>,
    /// Images of additional image stores that this store does not have,
    /// with the store each is in. Not part of `images.json`.
    #[serde(skip)]
    pub(crate) shared: Vec<SharedImage>,
}

/// An image of a read-only additional image store.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SharedImage {
    pub(crate) store: PathBuf,
    pub(crate) record: ImageRecord,
}

/// The image is in a read-only additional store: it cannot be changed.
#[derive(Debug, thiserror::Error)]
#[error("image {spec} is in the read-only image store {store}; berth never changes that store from here: its owner can remove it with `berth --root {store} rmi {spec}`")]
pub(crate) struct ReadOnlyImage {
    pub(crate) spec: String,
    pub(crate) store: String,
}

/// No image matched `.0` (as the user gave it); the message is Docker's
/// daemon's, which names a reference with its tag (`busybox:latest`).
#[derive(Debug, thiserror::Error)]
#[error("No such image: {}", self.named())]
pub(crate) struct NoSuchImage(pub(crate) String);

impl NoSuchImage {
    /// The reference as Docker's daemon names it: familiar, tagged
    /// `latest` when it has neither tag nor digest; an id as given.
    pub(crate) fn named(&self) -> String {
        let spec = &self.0;
        let hex = spec.strip_prefix("sha256:").unwrap_or(spec);
        if spec.starts_with("sha256:")
            || (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return spec.clone();
        }
        match crate::model::reference::Reference::parse_tagged(spec) {
            Ok(r) => r.familiar(),
            Err(_) => spec.clone(),
        }
    }
}

impl ImageIndex {
    /// The image a user means by `spec`: a name (normalized), `name@digest`,
    /// a full id (with or without `sha256:`), or a unique id prefix. This
    /// store's images come first, then those of the additional stores.
    pub(crate) fn resolve(&self, spec: &str) -> Result<&ImageRecord> {
        match find(&self.images, spec) {
            Err(e) if e.is::<NoSuchImage>() => match self.resolve_shared(spec)? {
                Some(s) => Ok(&s.record),
                None => Err(e),
            },
            other => other.map(|i| &self.images[i]),
        }
    }

    /// The position in `images` of this store's image named by `spec`, to
    /// change it. An image that only an additional store has is an error
    /// that says so.
    pub(crate) fn resolve_index(&self, spec: &str) -> Result<usize> {
        match find(&self.images, spec) {
            Err(e) if e.is::<NoSuchImage>() => match self.resolve_shared(spec)? {
                Some(s) => Err(ReadOnlyImage {
                    spec: spec.to_string(),
                    store: s.store.display().to_string(),
                }
                .into()),
                None => Err(e),
            },
            other => other,
        }
    }

    fn resolve_shared(&self, spec: &str) -> Result<Option<&SharedImage>> {
        let records: Vec<ImageRecord> = self.shared.iter().map(|s| s.record.clone()).collect();
        match find(&records, spec) {
            Ok(i) => Ok(Some(&self.shared[i])),
            Err(e) if e.is::<NoSuchImage>() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The image with this id, here or in an additional store.
    pub(crate) fn by_id(&self, id: &str) -> Option<&ImageRecord> {
        self.images
            .iter()
            .find(|i| i.id == id)
            .or_else(|| self.shared.iter().map(|s| &s.record).find(|i| i.id == id))
    }

    /// Points `name` (fully normalized) at `id`, taking it off any other
    /// image. Tagging an image of an additional store gives this store a
    /// record of its own for it (its layers stay where they are).
    pub(crate) fn set_tag(&mut self, name: &str, id: &str) {
        for img in &mut self.images {
            img.repo_tags.retain(|t| t != name);
        }
        if !self.images.iter().any(|i| i.id == id) {
            if let Some(s) = self.shared.iter().find(|s| s.record.id == id) {
                self.images.push(ImageRecord {
                    repo_tags: Vec::new(),
                    repo_digests: Vec::new(),
                    added: crate::util::humanize::now_rfc3339(),
                    ..s.record.clone()
                });
            }
        }
        if let Some(img) = self.images.iter_mut().find(|i| i.id == id) {
            img.repo_tags.push(name.to_string());
        }
    }

    /// The additional stores' images as `images` would list them: names
    /// that this store also has are left to this store's image, images it
    /// has itself are not repeated.
    pub fn visible_shared(&self) -> Vec<ImageRecord> {
        let mut out: Vec<ImageRecord> = Vec::new();
        for s in &self.shared {
            if self.images.iter().any(|i| i.id == s.record.id)
                || out.iter().any(|i| i.id == s.record.id)
            {
                continue;
            }
            let mut r = s.record.clone();
            r.repo_tags
                .retain(|t| !self.images.iter().any(|i| i.repo_tags.contains(t)));
            out.push(r);
        }
        out
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

/// The image `spec` names among `images` (see [`ImageIndex::resolve`]).
fn find(images: &[ImageRecord], spec: &str) -> Result<usize> {
    if let Ok(r) = Reference::parse_tagged(spec) {
        let full = r.to_string();
        let found = if r.digest().is_some() {
            images.iter().position(|i| i.repo_digests.contains(&full))
        } else {
            images.iter().position(|i| i.repo_tags.contains(&full))
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
    let matches: Vec<usize> = (0..images.len())
        .filter(|&i| images[i].id["sha256:".len()..].starts_with(&hex))
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

impl Store {
    fn images_path(&self) -> PathBuf {
        self.root.join("images.json")
    }

    /// Reads the image index. Readers need no lock: the file is replaced
    /// atomically, so they see one whole version.
    /// The images of the additional stores come along in `shared` (an
    /// unreadable additional store is left out with a warning).
    pub(crate) fn images(&self) -> Result<ImageIndex> {
        let path = self.images_path();
        let mut index: ImageIndex = if path.exists() {
            read_json(&path)?
        } else {
            ImageIndex::default()
        };
        for extra in self.image_stores() {
            match extra.images() {
                Ok(other) => {
                    index
                        .shared
                        .extend(other.images.into_iter().map(|record| SharedImage {
                            store: extra.root.clone(),
                            record,
                        }))
                }
                Err(e) => crate::util::report::warning(&format!("{e:#}")),
            }
        }
        Ok(index)
    }

    /// Replaces the image index; the caller holds the store lock.
    pub fn save_images(&self, index: &ImageIndex, _lock: &super::StoreLock) -> Result<()> {
        write_json_atomic(&self.images_path(), index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_images_resolve_but_cannot_be_changed() {
        let mut idx = ImageIndex::default();
        idx.upsert(rec('a', &["docker.io/library/mine:1"]));
        idx.shared.push(SharedImage {
            store: "/shared/x".into(),
            record: rec(
                'b',
                &[
                    "docker.io/library/busybox:latest",
                    "docker.io/library/mine:1",
                ],
            ),
        });
        assert_eq!(idx.resolve("busybox").unwrap().id, rec('b', &[]).id);
        // Our own name wins over the shared one.
        assert_eq!(idx.resolve("mine:1").unwrap().id, rec('a', &[]).id);
        let e = idx.resolve_index("busybox").unwrap_err();
        assert!(
            e.to_string().contains("read-only image store /shared/x"),
            "{e}"
        );
        assert!(idx.by_id(&rec('b', &[]).id).is_some());
        let shown = idx.visible_shared();
        assert_eq!(shown[0].repo_tags, vec!["docker.io/library/busybox:latest"]);
        // Tagging it makes a record of our own; saving keeps only ours.
        idx.set_tag("docker.io/library/bb:mine", &rec('b', &[]).id);
        assert_eq!(idx.images.len(), 2);
        assert_eq!(idx.resolve_index("bb:mine").unwrap(), 1);
        let saved = serde_json::to_string(&idx).unwrap();
        assert!(!saved.contains("busybox"), "{saved}");
    }

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
