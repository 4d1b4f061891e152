//! `pull`: manifest (and index) → config → layers, each verified against
//! its digest before use. Layers already in the store are not downloaded;
//! the others download in parallel and unpack as they arrive. Nothing
//! enters the store until everything is verified, and then layers and
//! image record enter together under the lock.

use super::client::{Client, Transport};
use super::manifest::{self, Document, Platform};
use crate::image::config::ImageConfig;
use crate::image::layer::{unpack_layer, Notices, UnpackedLayer};
use crate::image::reference::Reference;
use crate::store::images::ImageRecord;
use crate::store::Store;
use crate::util::digest::{sha256_digest, HashingReader};
use anyhow::{bail, Context, Result};
use std::io::Read;

/// What the user asked for.
pub struct PullOptions {
    pub platform: Option<Platform>,
    pub transport: Transport,
    pub quiet: bool,
}

/// What a pull produced.
pub struct Pulled {
    pub id: String,
    pub manifest_digest: String,
    /// True when nothing new was downloaded.
    pub up_to_date: bool,
}

/// Largest config blob accepted.
const MAX_CONFIG: u64 = 8 << 20;

/// Pulls `reference` (normalized, with tag or digest) into the store. The
/// caller is inside the user namespace.
pub fn pull(store: &Store, reference: &Reference, opts: &PullOptions) -> Result<Pulled> {
    let mut client = Client::new(reference.domain(), &opts.transport)?;
    let repo = reference.path();
    let wanted = reference
        .digest()
        .or(reference.tag())
        .unwrap_or("latest")
        .to_string();
    let say = |line: String| {
        if !opts.quiet {
            println!("{line}");
        }
    };
    if let Some(tag) = reference.tag() {
        say(format!("{tag}: Pulling from {repo}"));
    }

    let (mut bytes, mut content_type) = client.get_manifest(repo, &wanted)?;
    let manifest_digest = sha256_digest(&bytes);
    if let Some(d) = reference.digest() {
        if d != manifest_digest {
            bail!("manifest of {reference} does not match its digest: expected {d}, got {manifest_digest}");
        }
    }
    let m = match manifest::parse(&bytes, &content_type)? {
        Document::Manifest(m) => m,
        Document::Index(index) => {
            let platform = opts.platform.clone().unwrap_or_else(Platform::host);
            let chosen = manifest::select(&index, &platform)?.digest.clone();
            (bytes, content_type) = client.get_manifest(repo, &chosen)?;
            let actual = sha256_digest(&bytes);
            if actual != chosen {
                bail!("manifest {chosen} of {reference} does not match its digest (got {actual})");
            }
            // The repo digest stays the index's: it is what the tag names.
            match manifest::parse(&bytes, &content_type)? {
                Document::Manifest(m) => m,
                Document::Index(_) => bail!(
                    "the index of {reference} points at another index; berth follows one level"
                ),
            }
        }
    };
    let platform_manifest = bytes;

    let config_bytes = read_verified(&mut client, repo, &m.config.digest, MAX_CONFIG)?;
    let config = ImageConfig::parse(&config_bytes)?;
    if config.rootfs.diff_ids.len() != m.layers.len() {
        bail!(
            "image {reference} is inconsistent: its manifest lists {} layers but its configuration {}",
            m.layers.len(),
            config.rootfs.diff_ids.len()
        );
    }
    let image_id = m.config.digest.clone();
    let already = store.images()?.by_id(&image_id).is_some()
        && config
            .rootfs
            .diff_ids
            .iter()
            .all(|d| store.layer(d).is_some());

    // Download what is missing, several layers at a time.
    let missing: Vec<usize> = (0..m.layers.len())
        .filter(|&i| store.layer(&config.rootfs.diff_ids[i]).is_none())
        .collect();
    for (i, l) in m.layers.iter().enumerate() {
        if !missing.contains(&i) {
            say(format!("{}: Already exists", short(&l.digest)));
        }
    }
    let unpacked = download_layers(
        store,
        &client,
        repo,
        &m.layers,
        &config.rootfs.diff_ids,
        &missing,
        &say,
    )?;

    let lock = store.lock()?;
    for layer in unpacked {
        layer.commit(store, &lock)?;
    }
    // A layer that was present when we looked may have been removed since.
    if let Some(gone) = config
        .rootfs
        .diff_ids
        .iter()
        .find(|d| store.layer(d).is_none())
    {
        bail!("layer {gone} was removed while pulling {reference}; pull again");
    }
    store.put_blob_expecting(&image_id, &config_bytes)?;
    store.put_blob(&platform_manifest)?;
    let size = config
        .rootfs
        .diff_ids
        .iter()
        .filter_map(|d| store.layer(d))
        .map(|l| l.size)
        .sum();
    let mut index = store.images()?;
    index.upsert(ImageRecord {
        id: image_id.clone(),
        repo_tags: reference
            .tag()
            .map(|_| vec![reference.to_string()])
            .unwrap_or_default(),
        repo_digests: vec![format!("{}@{manifest_digest}", reference.name())],
        layers: config.rootfs.diff_ids.clone(),
        size,
        created: config.created.clone(),
        added: crate::util::humanize::now_rfc3339(),
    });
    store.save_images(&index, &lock)?;
    drop(lock);
    say(format!("Digest: {manifest_digest}"));
    let shown = reference.familiar();
    if already {
        say(format!("Status: Image is up to date for {shown}"));
    } else {
        say(format!("Status: Downloaded newer image for {shown}"));
    }
    Ok(Pulled {
        id: image_id,
        manifest_digest,
        up_to_date: already,
    })
}

fn short(digest: &str) -> &str {
    crate::util::ids::short_id(digest)
}

/// Reads a small blob whole and checks its digest.
fn read_verified(client: &mut Client, repo: &str, digest: &str, limit: u64) -> Result<Vec<u8>> {
    let mut data = Vec::new();
    client
        .get_blob(repo, digest)?
        .take(limit + 1)
        .read_to_end(&mut data)?;
    if data.len() as u64 > limit {
        bail!("blob {digest} is larger than the {limit} bytes allowed for it");
    }
    let actual = sha256_digest(&data);
    if actual != digest {
        bail!("blob {digest} from {repo} does not match its digest (got {actual}); the registry or the network corrupted it");
    }
    Ok(data)
}

/// Downloads and unpacks the missing layers with up to four at a time.
fn download_layers(
    store: &Store,
    client: &Client,
    repo: &str,
    layers: &[manifest::Descriptor],
    diff_ids: &[String],
    missing: &[usize],
    say: &(dyn Fn(String) + Sync),
) -> Result<Vec<UnpackedLayer>> {
    const PARALLEL: usize = 4;
    let mut results: Vec<Option<Result<UnpackedLayer>>> =
        (0..missing.len()).map(|_| None).collect();
    for chunk_start in (0..missing.len()).step_by(PARALLEL) {
        let chunk = &missing[chunk_start..(chunk_start + PARALLEL).min(missing.len())];
        std::thread::scope(|s| {
            let handles: Vec<_> = chunk
                .iter()
                .map(|&i| {
                    let mut client = client.clone();
                    let layer = &layers[i];
                    let diff_id = &diff_ids[i];
                    s.spawn(move || {
                        say(format!("{}: Pulling fs layer", short(&layer.digest)));
                        let r = fetch_layer(store, &mut client, repo, &layer.digest, diff_id);
                        if r.is_ok() {
                            say(format!("{}: Pull complete", short(&layer.digest)));
                        }
                        r
                    })
                })
                .collect();
            for (n, h) in handles.into_iter().enumerate() {
                results[chunk_start + n] = Some(
                    h.join()
                        .unwrap_or_else(|_| Err(anyhow::anyhow!("a download thread panicked"))),
                );
            }
        });
    }
    results
        .into_iter()
        .map(|r| r.expect("every layer was downloaded"))
        .collect()
}

/// One layer: stream → verify compressed digest → decompress → unpack
/// (which computes the diff id) → check the diff id.
fn fetch_layer(
    store: &Store,
    client: &mut Client,
    repo: &str,
    digest: &str,
    diff_id: &str,
) -> Result<UnpackedLayer> {
    let body = client.get_blob(repo, digest)?;
    let mut hashing = HashingReader::new(body);
    let mut notices = Notices::default();
    let layer = {
        let decoded = crate::image::compression::decompress(&mut hashing)
            .with_context(|| format!("reading layer {digest}"))?;
        unpack_layer(store, decoded, &mut notices)
            .with_context(|| format!("unpacking layer {digest}"))?
    };
    // Drain what the decompressor did not need (padding after the gzip stream).
    std::io::copy(&mut hashing, &mut std::io::sink())?;
    let (actual, _) = hashing.finish();
    if actual != digest {
        bail!("layer {digest} from {repo} does not match its digest (got {actual}); nothing of it was kept");
    }
    if layer.diff_id != diff_id {
        bail!(
            "layer {digest} of {repo} unpacks to {} but the image configuration says {diff_id}",
            layer.diff_id
        );
    }
    Ok(layer)
}
