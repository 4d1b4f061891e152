//! Additional image stores: stores that other people prepared (a group's
//! images on a shared filesystem, prepared with `berth --root
//! /shared/berth-images pull ...`), used read-only. Their images can be
//! run without copying: their layers serve in place as overlay lower
//! directories, through links under our own `l/`.
//!
//! Configured by `BERTH_IMAGE_STORES=/a:/b` (set, even empty, it wins),
//! else `image-stores` in `$XDG_CONFIG_HOME/berth/storage.json`
//! (`~/.config/berth/storage.json`), else in `/etc/berth/storage.json`
//! for every user of a machine:
//!
//! ```json
//! {"image-stores": ["/shared/berth-images"]}
//! ```
//!
//! Nothing is ever written to an additional store, not even a lock: its
//! records are replaced by atomic renames and a layer counts only once its
//! `layer.json` (written last) is there, so readers need no lock, and two
//! machines (or two hundred) reading it at once never disturb each other
//! or the machine that adds images to it.

use super::images::ImageIndex;
use super::layers::LayerRecord;
use crate::util::digest::digest_hex;
use crate::util::fsutil::read_json;
use anyhow::{Context, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The settings file's content.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSettings {
    #[serde(default, rename = "image-stores")]
    pub image_stores: Vec<PathBuf>,
}

/// The additional stores in effect, without `main_root` itself (a store
/// being prepared may be listed for everyone). Relative or missing paths
/// are left out with a warning.
pub fn configured(main_root: &Path) -> Vec<PathBuf> {
    let (listed, from) = match std::env::var_os("BERTH_IMAGE_STORES") {
        Some(v) => (
            std::env::split_paths(&v)
                .filter(|p| !p.as_os_str().is_empty())
                .collect(),
            "BERTH_IMAGE_STORES".to_string(),
        ),
        None => from_files(),
    };
    filter_usable(listed, &from, main_root)
}

fn from_files() -> (Vec<PathBuf>, String) {
    let user = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .map(|c| c.join("berth/storage.json"));
    for path in user
        .into_iter()
        .chain([PathBuf::from("/etc/berth/storage.json")])
    {
        match std::fs::read(&path) {
            Ok(data) => match serde_json::from_slice::<StorageSettings>(&data) {
                Ok(s) => return (s.image_stores, path.display().to_string()),
                Err(e) => crate::util::report::warning(&format!(
                    "ignoring {}: {e} (expected {{\"image-stores\": [\"/path\", ...]}})",
                    path.display()
                )),
            },
            Err(_) => continue,
        }
    }
    (Vec::new(), String::new())
}

fn filter_usable(listed: Vec<PathBuf>, from: &str, main_root: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    for p in listed {
        if !p.is_absolute() {
            crate::util::report::warning(&format!(
                "ignoring the image store {} from {from}: it must be an absolute path",
                p.display()
            ));
            continue;
        }
        if same_dir(&p, main_root) || out.contains(&p) {
            continue;
        }
        match std::fs::metadata(p.join("images.json")) {
            Ok(m) if m.is_file() => {}
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                crate::util::report::warning(&format!(
                    "ignoring the image store {} from {from}: you may not read it ({e}); its \
                     owner can open it to others with `chmod a+rX` on the store's directories",
                    p.display()
                ));
                continue;
            }
            _ => {
                crate::util::report::warning(&format!(
                    "ignoring the image store {} from {from}: it has no images.json (prepare it \
                     with `berth --root {} pull IMAGE`)",
                    p.display(),
                    p.display()
                ));
                continue;
            }
        }
        out.push(p);
    }
    out
}

fn same_dir(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => a == b,
    }
}

/// One additional store, read-only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageStore {
    pub root: PathBuf,
}

impl ImageStore {
    pub fn new(root: PathBuf) -> ImageStore {
        ImageStore { root }
    }

    /// Its image index, read without a lock (the file is replaced whole).
    pub fn images(&self) -> Result<ImageIndex> {
        let path = self.root.join("images.json");
        read_json(&path)
            .with_context(|| format!("reading the additional image store {}", self.root.display()))
    }

    pub fn layer_dir(&self, diff_id: &str) -> Result<PathBuf> {
        Ok(self.root.join("layers").join(digest_hex(diff_id)?))
    }

    /// A complete layer's record.
    pub fn layer(&self, diff_id: &str) -> Option<LayerRecord> {
        read_json(&self.layer_dir(diff_id).ok()?.join("layer.json")).ok()
    }

    pub fn blob_path(&self, digest: &str) -> Result<PathBuf> {
        Ok(self.root.join("blobs/sha256").join(digest_hex(digest)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_absolute_existing_stores_other_than_ours() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        std::fs::write(a.path().join("images.json"), b"{\"images\":[]}").unwrap();
        std::fs::write(b.path().join("images.json"), b"{\"images\":[]}").unwrap();
        let listed = vec![
            PathBuf::from("relative/store"),
            a.path().to_path_buf(),
            b.path().to_path_buf(),
            a.path().to_path_buf(),
            PathBuf::from("/nonexistent/berth-images"),
        ];
        assert_eq!(
            filter_usable(listed, "test", b.path()),
            vec![a.path().to_path_buf()]
        );
    }

    #[test]
    fn settings_file_format() {
        let s: StorageSettings =
            serde_json::from_str(r#"{"image-stores": ["/shared/x"]}"#).unwrap();
        assert_eq!(s.image_stores, vec![PathBuf::from("/shared/x")]);
        assert!(serde_json::from_str::<StorageSettings>(r#"{"imagestores": []}"#).is_err());
    }
}
