//! `save`: images as a Docker archive in the classic layout that `docker
//! load`, `podman load` and skopeo's `docker-archive:` read:
//! `<config hex>.json`, `<diff id hex>/layer.tar`, `manifest.json` and
//! `repositories`. Layer tars are regenerated from the store and checked
//! against their diff ids as they are written.

use crate::image::tarsplit::{layer_tar_size, regenerate};
use crate::model::reference::Reference;
use crate::store::images::ImageRecord;
use crate::store::Store;
use crate::util::digest::digest_hex;
use anyhow::{bail, Context, Result};
use indexmap::IndexMap;
use serde::Serialize;
use std::io::{self, Write};

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ManifestItem {
    config: String,
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// What to save: an image and the names it is saved under.
struct Selected {
    image: ImageRecord,
    tags: Vec<String>,
}

/// Resolves `specs` (names or ids) to images. As in Docker, an image named
/// by a tag is saved with that tag, one named by id without any.
fn select(store: &Store, specs: &[String]) -> Result<Vec<Selected>> {
    let index = store.images()?;
    let mut out: Vec<Selected> = Vec::new();
    for spec in specs {
        let image = index.resolve(spec)?.clone();
        let tag = Reference::parse_tagged(spec)
            .ok()
            .map(|r| r.to_string())
            .filter(|full| image.repo_tags.contains(full));
        let entry = match out.iter_mut().position(|s| s.image.id == image.id) {
            Some(i) => &mut out[i],
            None => {
                out.push(Selected {
                    image,
                    tags: Vec::new(),
                });
                out.last_mut().expect("just pushed")
            }
        };
        if let Some(t) = tag {
            if !entry.tags.contains(&t) {
                entry.tags.push(t);
            }
        }
    }
    Ok(out)
}

/// Writes the archive of `specs` to `out`.
pub(crate) fn save(store: &Store, specs: &[String], out: &mut dyn Write) -> Result<()> {
    let selected = select(store, specs)?;
    let mut tar = TarWriter { out, mtime: 0 };
    let mut manifest = Vec::new();
    let mut repositories: IndexMap<String, IndexMap<String, String>> = IndexMap::new();
    let mut written_layers = std::collections::HashSet::new();
    for s in &selected {
        // Docker dates an image's entries at its creation, the rest at 0.
        tar.mtime = s
            .image
            .created
            .as_deref()
            .and_then(|c| c.parse::<jiff::Timestamp>().ok())
            .map_or(0, |t| t.as_second().max(0) as u64);
        let config = store.get_blob(&s.image.id)?;
        let config_name = format!("{}.json", digest_hex(&s.image.id)?);
        tar.file(&config_name, &config)?;
        let mut layers = Vec::new();
        for diff_id in &s.image.layers {
            let hex = digest_hex(diff_id)?;
            let name = format!("{hex}/layer.tar");
            if written_layers.insert(diff_id.clone()) {
                tar.dir(&format!("{hex}/"))?;
                let size = layer_tar_size(store, diff_id)?;
                tar.stream(&name, size, &mut |w| regenerate(store, diff_id, w))?;
            }
            layers.push(name);
        }
        let familiar: Vec<String> = s
            .tags
            .iter()
            .map(|t| crate::model::reference::familiar(t))
            .collect();
        if let Some(top) = s.image.layers.last() {
            for t in &familiar {
                if let Some((repo, tag)) = t.rsplit_once(':') {
                    repositories
                        .entry(repo.to_string())
                        .or_default()
                        .insert(tag.to_string(), digest_hex(top)?.to_string());
                }
            }
        }
        manifest.push(ManifestItem {
            config: config_name,
            repo_tags: (!familiar.is_empty()).then_some(familiar),
            layers,
        });
    }
    tar.mtime = 0;
    tar.file("manifest.json", &serde_json::to_vec(&manifest)?)?;
    if !repositories.is_empty() {
        tar.file("repositories", &serde_json::to_vec(&repositories)?)?;
    }
    tar.finish()?;
    for s in &selected {
        let id = &s.image.id;
        store.record_event(&crate::model::event::Event::image(id, id, "save"));
    }
    Ok(())
}

/// A minimal tar writer: headers written by us so that a layer's size is
/// declared before its regenerated body streams through.
struct TarWriter<'a> {
    out: &'a mut dyn Write,
    /// The modification time of the entries written next.
    mtime: u64,
}

impl TarWriter<'_> {
    fn header(&mut self, name: &str, kind: tar::EntryType, mode: u32, size: u64) -> Result<()> {
        let mut h = tar::Header::new_ustar();
        h.set_path(name)
            .with_context(|| format!("naming archive entry {name}"))?;
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h.set_mtime(self.mtime);
        // Owned by root, by number and by name, as in Docker's archives.
        h.set_uid(0);
        h.set_gid(0);
        h.set_username("root")
            .and_then(|()| h.set_groupname("root"))
            .context("naming the owner of an archive entry")?;
        h.set_cksum();
        self.out.write_all(h.as_bytes())?;
        Ok(())
    }

    fn pad(&mut self, size: u64) -> io::Result<()> {
        let rem = (size % 512) as usize;
        if rem != 0 {
            self.out.write_all(&[0u8; 512][..512 - rem])?;
        }
        Ok(())
    }

    fn dir(&mut self, name: &str) -> Result<()> {
        self.header(name, tar::EntryType::Directory, 0o755, 0)
    }

    fn file(&mut self, name: &str, data: &[u8]) -> Result<()> {
        self.header(name, tar::EntryType::Regular, 0o644, data.len() as u64)?;
        self.out.write_all(data)?;
        self.pad(data.len() as u64)?;
        Ok(())
    }

    /// An entry of `size` bytes produced by `body`, which must write exactly that.
    fn stream(
        &mut self,
        name: &str,
        size: u64,
        body: &mut dyn FnMut(&mut dyn Write) -> Result<()>,
    ) -> Result<()> {
        self.header(name, tar::EntryType::Regular, 0o644, size)?;
        let mut counter = Counter {
            inner: &mut *self.out,
            count: 0,
        };
        body(&mut counter)?;
        if counter.count != size {
            bail!(
                "{name}: wrote {} bytes where {size} were declared",
                counter.count
            );
        }
        self.pad(size)?;
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        self.out.write_all(&[0u8; 1024])?;
        self.out.flush()?;
        Ok(())
    }
}

struct Counter<'a> {
    inner: &'a mut dyn Write,
    count: u64,
}

impl Write for Counter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Saves to a file: written beside it under a temporary name and renamed
/// into place only when complete, so that a failure (a layer that no longer
/// matches its diff id) leaves no partial archive behind.
pub(crate) fn save_to_file(store: &Store, specs: &[String], path: &std::path::Path) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = path
        .file_name()
        .with_context(|| format!("{} is not a file name", path.display()))?;
    let tmp = dir.join(format!(
        ".{}.berth-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| -> Result<()> {
        let file =
            std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let mut w = io::BufWriter::new(file);
        save(store, specs, &mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path).with_context(|| format!("renaming into {}", path.display()))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
#[path = "save_tests.rs"]
mod tests;
