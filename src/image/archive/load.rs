//! `load`: images from a Docker archive (manifest.json, as `docker save`
//! writes it) or an OCI image layout in a tar (index.json and blobs/, as
//! `skopeo copy ... oci-archive:` writes it).

use super::Archive;
use crate::image::compression::decompress;
use crate::image::config::{host_architecture, ImageConfig};
use crate::image::layer::{unpack_layer, Notices, UnpackedLayer};
use crate::model::reference::Reference;
use crate::store::images::ImageRecord;
use crate::store::Store;
use crate::util::digest::sha256_digest;
use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

/// One image found in an archive.
#[derive(Debug, Clone)]
struct Candidate {
    config: Vec<u8>,
    manifest: Option<Vec<u8>>,
    /// Archive entry names of the layers, base first.
    layers: Vec<String>,
    /// Fully normalized names.
    names: Vec<String>,
}

/// An image that was loaded: its id and names (fully normalized).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LoadedImage {
    pub(crate) id: String,
    pub(crate) names: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerManifestItem {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    #[serde(default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    platform: Option<Platform>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct Platform {
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    os: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OciIndex {
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OciManifest {
    #[serde(default)]
    media_type: String,
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Vec<Descriptor>,
    #[serde(default)]
    manifests: Option<Vec<Descriptor>>,
}

/// Loads every image of `archive` into the store and returns them in
/// archive order.
pub(crate) fn load(
    store: &Store,
    archive: &Archive,
    notices: &mut Notices,
) -> Result<Vec<LoadedImage>> {
    let candidates = if archive.contains("manifest.json") {
        docker_candidates(archive)?
    } else if archive.contains("index.json") {
        oci_candidates(archive)?
    } else if archive.contains("repositories") {
        bail!("this archive is in the pre-2016 Docker format (a repositories file but no manifest.json), which berth cannot load; save it again with a newer Docker or convert it with skopeo");
    } else {
        bail!("this is not an image archive: it has neither manifest.json (docker save) nor index.json (OCI layout)");
    };
    if candidates.is_empty() {
        bail!("the archive holds no image");
    }
    let mut unpacked: HashMap<String, UnpackedLayer> = HashMap::new();
    let mut configs = Vec::new();
    for c in &candidates {
        let config = ImageConfig::parse(&c.config)?;
        if config.rootfs.diff_ids.len() != c.layers.len() {
            bail!(
                "image {}: its configuration lists {} layers but its manifest {}",
                sha256_digest(&c.config),
                config.rootfs.diff_ids.len(),
                c.layers.len()
            );
        }
        configs.push(config);
    }
    // A layer could vanish between this check and the lock (a concurrent
    // `rmi` removing unused layers), so the check is repeated under the
    // lock and missing layers are unpacked before trying again.
    for _attempt in 0..3 {
        unpack_missing(
            store,
            archive,
            &candidates,
            &configs,
            &mut unpacked,
            notices,
        )?;
        let lock = store.lock()?;
        let missing = configs
            .iter()
            .flat_map(|c| &c.rootfs.diff_ids)
            .any(|d| store.layer(d).is_none() && !unpacked.contains_key(d));
        if missing {
            continue;
        }
        for (_, layer) in unpacked.drain() {
            layer.commit(store, &lock)?;
        }
        let mut index = store.images()?;
        let mut loaded = Vec::new();
        for (c, config) in candidates.iter().zip(&configs) {
            let id = store.put_blob(&c.config)?;
            if let Some(m) = &c.manifest {
                store.put_blob(m)?;
            }
            let mut size = 0;
            for d in &config.rootfs.diff_ids {
                size += store
                    .layer(d)
                    .with_context(|| format!("layer {d} disappeared from the store"))?
                    .shown_size();
            }
            index.upsert(ImageRecord {
                id: id.clone(),
                repo_tags: c.names.clone(),
                repo_digests: Vec::new(),
                layers: config.rootfs.diff_ids.clone(),
                size,
                created: config.created.clone(),
                added: crate::util::humanize::now_rfc3339(),
            });
            loaded.push(LoadedImage {
                id,
                names: c.names.clone(),
            });
        }
        store.save_images(&index, &lock)?;
        for image in &loaded {
            store.record_event(&crate::model::event::Event::image(
                &image.id, &image.id, "load",
            ));
        }
        return Ok(loaded);
    }
    bail!("the image's layers keep being removed by other berth commands while loading; try again")
}

/// Unpacks the layers neither in the store nor unpacked yet, checking each
/// against the diff id its image's configuration gives.
fn unpack_missing(
    store: &Store,
    archive: &Archive,
    candidates: &[Candidate],
    configs: &[ImageConfig],
    unpacked: &mut HashMap<String, UnpackedLayer>,
    notices: &mut Notices,
) -> Result<()> {
    for (c, config) in candidates.iter().zip(configs) {
        for (entry, diff_id) in c.layers.iter().zip(&config.rootfs.diff_ids) {
            crate::util::digest::digest_hex(diff_id)
                .with_context(|| format!("image {}: bad diff id", sha256_digest(&c.config)))?;
            if unpacked.contains_key(diff_id) || store.layer(diff_id).is_some() {
                continue;
            }
            let reader = decompress(archive.entry(entry)?)
                .with_context(|| format!("reading layer {entry} of the archive"))?;
            let layer = unpack_layer(store, reader, notices)
                .with_context(|| format!("unpacking layer {entry} of the archive"))?;
            if &layer.found.diff_id != diff_id {
                bail!("layer {entry} of the archive does not match the image: its content hashes to {}, the image configuration expects {diff_id}; the archive is corrupt", layer.found.diff_id);
            }
            unpacked.insert(diff_id.clone(), layer);
        }
    }
    Ok(())
}

fn docker_candidates(archive: &Archive) -> Result<Vec<Candidate>> {
    let items: Vec<DockerManifestItem> = serde_json::from_slice(&archive.read("manifest.json")?)
        .context("parsing manifest.json of the archive")?;
    // Tags of the older `repositories` file, by top layer id, for images
    // whose manifest.json entry has none.
    let repositories: BTreeMap<String, BTreeMap<String, String>> =
        if archive.contains("repositories") {
            serde_json::from_slice(&archive.read("repositories")?)
                .context("parsing the repositories file of the archive")?
        } else {
            BTreeMap::new()
        };
    let mut out = Vec::new();
    for item in items {
        let mut tags = item.repo_tags.unwrap_or_default();
        if tags.is_empty() {
            let top = item
                .layers
                .last()
                .and_then(|l| l.split('/').next())
                .unwrap_or_default();
            for (repo, by_tag) in &repositories {
                for (tag, id) in by_tag {
                    if !top.is_empty() && id == top {
                        tags.push(format!("{repo}:{tag}"));
                    }
                }
            }
        }
        out.push(Candidate {
            config: archive.read(&item.config)?,
            manifest: None,
            layers: item.layers,
            names: normalize_names(&tags)?,
        });
    }
    Ok(out)
}

fn normalize_names(names: &[String]) -> Result<Vec<String>> {
    names
        .iter()
        .map(|n| {
            Reference::parse_tagged(n)
                .map(|r| r.to_string())
                .map_err(|e| anyhow::anyhow!("invalid image name {n:?} in the archive: {e}"))
        })
        .collect()
}

fn blob_name(digest: &str) -> Result<String> {
    let (alg, hex) = digest
        .split_once(':')
        .with_context(|| format!("invalid digest {digest:?} in the archive"))?;
    Ok(format!("blobs/{alg}/{hex}"))
}

/// A blob of the layout, checked against its digest.
fn read_blob(archive: &Archive, digest: &str) -> Result<Vec<u8>> {
    let data = archive.read(&blob_name(digest)?)?;
    crate::util::digest::digest_hex(digest)?;
    let actual = sha256_digest(&data);
    if actual != digest {
        bail!("blob {digest} of the archive is corrupt: its content hashes to {actual}");
    }
    Ok(data)
}

const INDEX_TYPES: [&str; 2] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

fn oci_candidates(archive: &Archive) -> Result<Vec<Candidate>> {
    let index: OciIndex = serde_json::from_slice(&archive.read("index.json")?)
        .context("parsing index.json of the archive")?;
    let mut out: Vec<Candidate> = Vec::new();
    for desc in &index.manifests {
        let names = match oci_name(&desc.annotations) {
            Some(n) => normalize_names(&[n])?,
            None => Vec::new(),
        };
        let (manifest_bytes, manifest) = resolve_manifest(archive, desc, 0)?;
        let config_desc = manifest
            .config
            .as_ref()
            .with_context(|| format!("manifest {} of the archive has no config", desc.digest))?;
        let config = read_blob(archive, &config_desc.digest)?;
        let layers = manifest
            .layers
            .iter()
            .map(|l| blob_name(&l.digest))
            .collect::<Result<Vec<_>>>()?;
        // Several names for one image come as several descriptors.
        if let Some(existing) = out.iter_mut().find(|c| c.config == config) {
            existing.names.extend(names);
            continue;
        }
        out.push(Candidate {
            config,
            manifest: Some(manifest_bytes),
            layers,
            names,
        });
    }
    Ok(out)
}

/// The image name of an index entry: containerd's full-name annotation, or
/// the OCI ref name when it is a full reference (skopeo writes `name:tag`);
/// a bare tag (`latest`, as some tools write) names no repository.
fn oci_name(annotations: &BTreeMap<String, String>) -> Option<String> {
    if let Some(n) = annotations.get("io.containerd.image.name") {
        return Some(n.clone());
    }
    let r = annotations.get("org.opencontainers.image.ref.name")?;
    (r.contains(':') || r.contains('/')).then(|| r.clone())
}

/// Follows indexes down to the image manifest for this machine.
fn resolve_manifest(
    archive: &Archive,
    desc: &Descriptor,
    depth: u32,
) -> Result<(Vec<u8>, OciManifest)> {
    if depth > 4 {
        bail!("the archive's indexes nest too deep");
    }
    let bytes = read_blob(archive, &desc.digest)?;
    let m: OciManifest = serde_json::from_slice(&bytes)
        .with_context(|| format!("parsing manifest {} of the archive", desc.digest))?;
    let is_index = INDEX_TYPES.contains(&desc.media_type.as_str())
        || INDEX_TYPES.contains(&m.media_type.as_str())
        || m.manifests.is_some();
    if !is_index {
        return Ok((bytes, m));
    }
    let manifests = m.manifests.unwrap_or_default();
    let arch = host_architecture();
    let pick = manifests
        .iter()
        .find(|d| {
            d.platform
                .as_ref()
                .is_some_and(|p| p.os == "linux" && p.architecture == arch)
        })
        .or(if manifests.len() == 1 {
            manifests.first()
        } else {
            None
        })
        .with_context(|| {
            format!(
                "the archive has no image for linux/{arch} in index {}",
                desc.digest
            )
        })?;
    resolve_manifest(archive, pick, depth + 1)
}

#[cfg(test)]
#[path = "load_tests.rs"]
pub(crate) mod tests;

#[cfg(test)]
#[path = "load_props.rs"]
mod props;
