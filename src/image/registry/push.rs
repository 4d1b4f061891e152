//! `push NAME[:TAG]`: layers, then the config, then the manifest, which
//! makes the image visible only once everything it names is there.
//!
//! A layer the registry may already have is known by the manifest it was
//! pulled with (kept in the store's blobs): then a HEAD, or a
//! cross-repository mount from the repository it came from, avoids the
//! upload. Otherwise the layer tar is regenerated from the store, gzipped
//! into a temporary file (its digest and size must be known before the
//! upload ends) and uploaded whole, or in chunks above `CHUNK_THRESHOLD`;
//! the temporary file goes when the layer is done.

use super::client::{Client, Transport};
use super::manifest::{self, Document};
use crate::model::reference::Reference;
use crate::store::images::ImageRecord;
use crate::store::Store;
use crate::util::digest::HashingWriter;
use crate::util::report::{self, LayerProgress};
use anyhow::{bail, Context, Result};
use serde_json::json;
use std::fs::File;
use std::io::{BufWriter, Seek, Write};

pub(crate) const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub(crate) const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub(crate) const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";

/// Layers larger than this go up in chunks of `CHUNK` (PATCH).
const CHUNK_THRESHOLD: u64 = 32 << 20;
const CHUNK: u64 = 16 << 20;

pub(crate) struct PushOptions {
    pub(crate) transport: Transport,
    pub(crate) quiet: bool,
}

/// What a push produced.
pub(crate) struct Pushed {
    pub(crate) manifest_digest: String,
}

/// A layer as the pushed manifest names it.
#[derive(Clone)]
struct Blob {
    media_type: String,
    digest: String,
    size: u64,
}

/// The manifest an image was pulled with, and where from: its layers'
/// compressed digests, which the registry may already hold.
struct Source {
    repo: Reference,
    media_type: String,
    layers: Vec<manifest::Descriptor>,
}

/// Pushes the image named `reference` (normalized, tagged). The caller is
/// inside the user namespace (it reads the layers' files).
pub(crate) fn push(store: &Store, reference: &Reference, opts: &PushOptions) -> Result<Pushed> {
    let tag = reference.tag().context("push needs a tag")?.to_string();
    let image = store.images()?.resolve(&reference.to_string())?.clone();
    let progress = report::progress(opts.quiet);
    progress.line(&format!(
        "The push refers to repository [{}]",
        reference.name()
    ));
    let mut client = Client::new(reference.domain(), &opts.transport)?;
    let repo = reference.path().to_string();
    let source = find_source(store, &image);

    // Docker lists the top layer first.
    let mut blobs = vec![None; image.layers.len()];
    for i in (0..image.layers.len()).rev() {
        let bar = progress.layer(crate::util::ids::short_id(&image.layers[i]));
        bar.status("Preparing");
        let known = source.as_ref().map(|s| (s, &s.layers[i]));
        let blob = push_layer(
            store,
            &mut client,
            &repo,
            reference.domain(),
            &image.layers[i],
            known,
            &*bar,
        )
        .with_context(|| {
            format!(
                "pushing layer {} of {}",
                image.layers[i],
                reference.familiar()
            )
        })?;
        blobs[i] = Some(blob);
    }
    let blobs: Vec<Blob> = blobs
        .into_iter()
        .map(|b| b.expect("every layer pushed"))
        .collect();

    let config = store
        .get_blob(&image.id)
        .with_context(|| format!("reading the configuration of {}", reference.familiar()))?;
    if !client.blob_exists(&repo, &image.id)? {
        let loc = client
            .start_upload(&repo, None)?
            .expect("an upload without mount is never mounted");
        let mut tmp = tempfile::tempfile_in(store.root().join("tmp"))
            .context("creating a temporary file in the store")?;
        tmp.write_all(&config)?;
        client.finish_upload(&repo, &loc, &image.id, Some((&tmp, 0, config.len() as u64)))?;
    }

    // An OCI source stays OCI; anything else becomes Docker's schema 2,
    // which every registry accepts.
    let oci = source
        .as_ref()
        .is_some_and(|s| s.media_type == manifest::OCI_MANIFEST);
    let (media_type, config_type) = if oci {
        (manifest::OCI_MANIFEST, OCI_CONFIG)
    } else {
        (manifest::DOCKER_MANIFEST, DOCKER_CONFIG)
    };
    let doc = json!({
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {"mediaType": config_type, "size": config.len(), "digest": image.id},
        "layers": blobs.iter().map(|b| json!({"mediaType": b.media_type, "size": b.size, "digest": b.digest})).collect::<Vec<_>>(),
    });
    let bytes = serde_json::to_vec_pretty(&doc)?;
    client.put_manifest(&repo, &tag, media_type, &bytes)?;
    let digest = store.put_blob(&bytes)?;

    // As Docker: the pushed image now has this repository digest, and the
    // manifest (kept above) tells the next push where its layers are.
    let lock = store.lock()?;
    let mut index = store.images()?;
    if let Some(i) = index.images.iter().position(|i| i.id == image.id) {
        let rd = format!("{}@{digest}", reference.name());
        let rec = &mut index.images[i];
        let name = reference.name();
        rec.repo_digests
            .retain(|d| d.rsplit_once('@').map(|(n, _)| n) != Some(name.as_str()));
        rec.repo_digests.push(rd);
        store.save_images(&index, &lock)?;
    }
    drop(lock);
    progress.line(&format!("{tag}: digest: {digest} size: {}", bytes.len()));
    store.record_event(&crate::model::event::Event::image(
        &reference.familiar(),
        &reference.familiar_name(),
        "push",
    ));
    Ok(Pushed {
        manifest_digest: digest,
    })
}

/// Every tag of `reference`'s repository that the store has (`push -a`).
pub(crate) fn local_tags(store: &Store, reference: &Reference) -> Result<Vec<Reference>> {
    let name = reference.name();
    let mut tags: Vec<Reference> = store
        .images()?
        .images
        .iter()
        .flat_map(|i| i.repo_tags.iter())
        .filter_map(|t| Reference::parse(t).ok())
        .filter(|r| r.name() == name && r.tag().is_some())
        .collect();
    tags.sort_by_key(|r| r.to_string());
    if tags.is_empty() {
        bail!(
            "An image does not exist locally with the tag: {}",
            reference.familiar_name()
        );
    }
    Ok(tags)
}

/// The manifest `image` was pulled (or pushed) with, from the store's blobs.
fn find_source(store: &Store, image: &ImageRecord) -> Option<Source> {
    let matches = |bytes: &[u8]| -> Option<(String, Vec<manifest::Descriptor>)> {
        match manifest::parse(bytes, "").ok()? {
            Document::Manifest(m)
                if m.config.digest == image.id && m.layers.len() == image.layers.len() =>
            {
                Some((
                    m.media_type
                        .clone()
                        .unwrap_or_else(|| manifest::DOCKER_MANIFEST.into()),
                    m.layers,
                ))
            }
            _ => None,
        }
    };
    for rd in &image.repo_digests {
        let Ok(r) = Reference::parse(rd) else {
            continue;
        };
        let Some(d) = r.digest() else { continue };
        let Ok(bytes) = store.get_blob(d) else {
            continue;
        };
        let found = match manifest::parse(&bytes, "").ok()? {
            Document::Manifest(_) => matches(&bytes),
            Document::Index(idx) => idx
                .manifests
                .iter()
                .filter_map(|e| store.get_blob(&e.digest).ok())
                .find_map(|b| matches(&b)),
        };
        if let Some((media_type, layers)) = found {
            return Some(Source {
                repo: r,
                media_type,
                layers,
            });
        }
    }
    None
}

fn push_layer(
    store: &Store,
    client: &mut Client,
    repo: &str,
    domain: &str,
    diff_id: &str,
    known: Option<(&Source, &manifest::Descriptor)>,
    bar: &dyn LayerProgress,
) -> Result<Blob> {
    let mut location = None;
    if let Some((source, d)) = known {
        let blob = Blob {
            media_type: d.media_type.clone(),
            digest: d.digest.clone(),
            size: d.size,
        };
        if client.blob_exists(repo, &d.digest)? {
            bar.done("Layer already exists");
            return Ok(blob);
        }
        if source.repo.domain() == domain && source.repo.path() != repo {
            match client.start_upload(repo, Some((&d.digest, source.repo.path())))? {
                None => {
                    bar.done(&format!("Mounted from {}", source.repo.path()));
                    return Ok(blob);
                }
                // Not mounted: the registry opened an upload instead.
                Some(loc) => location = Some(loc),
            }
        }
    }
    let dir = store.temp_dir("push")?;
    let result = (|| {
        let (file, digest, size) = compress_layer(store, diff_id, &dir, bar)?;
        let blob = Blob {
            media_type: DOCKER_LAYER_GZIP.into(),
            digest: digest.clone(),
            size,
        };
        if client.blob_exists(repo, &digest)? {
            bar.done("Layer already exists");
            return Ok(blob);
        }
        let loc = match location.take() {
            Some(l) => l,
            None => client
                .start_upload(repo, None)?
                .expect("an upload without mount is never mounted"),
        };
        upload(client, repo, &loc, &file, &digest, size, bar)?;
        bar.done("Pushed");
        Ok(blob)
    })();
    let _ = crate::util::fsutil::remove_tree(&dir);
    result
}

/// Regenerates the layer tar and gzips it into a file in `dir`; returns
/// the file (rewound), the compressed digest and size.
fn compress_layer(
    store: &Store,
    diff_id: &str,
    dir: &std::path::Path,
    bar: &dyn LayerProgress,
) -> Result<(File, String, u64)> {
    let total = crate::image::tarsplit::layer_tar_size(store, diff_id)?;
    bar.transfer("Compressing", Some(total));
    let path = dir.join("layer.tar.gz");
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    let hashing = HashingWriter::new(BufWriter::with_capacity(256 << 10, file));
    // No name or time in the gzip header: the same layer compresses to the
    // same bytes, so a second push finds the blob it uploaded before.
    let mut gz = flate2::GzBuilder::new().write(hashing, flate2::Compression::new(6));
    {
        let mut counting = ProgressWriter {
            inner: &mut gz,
            bar,
        };
        crate::image::tarsplit::regenerate(store, diff_id, &mut counting)?;
    }
    let hashing = gz.finish()?;
    let (buffered, digest, size) = hashing.finish();
    let mut file = buffered.into_inner().map_err(|e| e.into_error())?;
    file.rewind()?;
    Ok((file, digest, size))
}

struct ProgressWriter<'a, W> {
    inner: W,
    bar: &'a dyn LayerProgress,
}

impl<W: Write> Write for ProgressWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bar.advance(n as u64);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Monolithic (one PUT) for small blobs, PATCH chunks for large ones.
fn upload(
    client: &mut Client,
    repo: &str,
    location: &str,
    file: &File,
    digest: &str,
    size: u64,
    bar: &dyn LayerProgress,
) -> Result<()> {
    bar.transfer("Pushing", Some(size));
    if size <= CHUNK_THRESHOLD {
        client.finish_upload(repo, location, digest, Some((file, 0, size)))?;
        bar.advance(size);
        return Ok(());
    }
    let mut loc = location.to_string();
    let mut offset = 0;
    while offset < size {
        let len = CHUNK.min(size - offset);
        loc = client.upload_chunk(repo, &loc, file, offset, len)?;
        offset += len;
        bar.advance(len);
    }
    client.finish_upload(repo, &loc, digest, None)
}
