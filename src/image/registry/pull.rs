//! `pull`: manifest (and index) → config → layers, each verified against
//! its digest before use. Layers already in the store are not downloaded;
//! the others download in parallel and unpack as they arrive. Each layer
//! is committed to the store as soon as it is verified (so that a pull
//! that fails later, or a concurrent pull, does not fetch it again); the
//! image record enters only at the end, when everything is there.
//!
//! Two pulls of the same layer (two commands, or two threads) meet at a
//! per-layer lock file (`tmp/locks/<hex>`, flock): the second waits, then
//! finds the layer committed.

use super::client::{Client, NotFound, Transport, Unreachable};
use super::manifest::{self, Document, Platform};
use super::settings::Settings;
use crate::image::config::ImageConfig;
use crate::image::layer::{unpack_layer, Notices, UnpackedLayer};
use crate::model::reference::Reference;
use crate::store::images::ImageRecord;
use crate::store::Store;
use crate::util::digest::{digest_hex, sha256_digest, HashingReader};
use crate::util::report::{self, LayerProgress, Progress};
use anyhow::{bail, Context, Result};
use std::fs::File;
use std::io::Read;
use std::sync::Arc;

/// What the user asked for.
pub(crate) struct PullOptions {
    pub(crate) platform: Option<Platform>,
    pub(crate) transport: Transport,
    pub(crate) quiet: bool,
}

/// What a pull produced.
pub(crate) struct Pulled {
    pub(crate) id: String,
    /// True when nothing new was downloaded.
    pub(crate) up_to_date: bool,
}

/// Largest config blob accepted.
const MAX_CONFIG: u64 = 8 << 20;
/// Layers downloaded at the same time.
const PARALLEL: usize = 4;
/// Attempts for a layer whose download broke off.
const LAYER_ATTEMPTS: u32 = 3;

/// When `run` and `create` pull (`--pull`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PullPolicy {
    /// Pull only when the image is not in the store (the default).
    Missing,
    /// Pull every time (up to date check against the registry).
    Always,
    /// Never pull; fail when the image is missing.
    Never,
}

impl std::str::FromStr for PullPolicy {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<PullPolicy> {
        match s {
            "missing" => Ok(PullPolicy::Missing),
            "always" => Ok(PullPolicy::Always),
            "never" => Ok(PullPolicy::Never),
            _ => bail!("invalid pull policy {s:?}: expected missing, always or never"),
        }
    }
}

/// The image `name` for `run`/`create`, pulled first according to
/// `policy` (printing Docker's "Unable to find image" line on stderr when
/// it is missing). May enter the user namespace (to unpack layers), so it
/// must be called before the caller starts threads.
pub(crate) fn ensure_image(
    store: &Store,
    name: &str,
    policy: PullPolicy,
    quiet: bool,
) -> Result<ImageRecord> {
    let settings = super::settings::Settings::load()?;
    let local = resolve_local(store, &settings, name)?;
    let candidates = match (policy, &local) {
        (PullPolicy::Never, Some(img)) | (PullPolicy::Missing, Some(img)) => return Ok(img.clone()),
        (PullPolicy::Never, None) => bail!(
            "image {name} is not in the store and --pull=never forbids pulling it; pull it first with `berth pull {name}`"
        ),
        (PullPolicy::Always, _) | (PullPolicy::Missing, None) => match settings.candidates(name) {
            Ok(c) => c,
            // Not a name (an id prefix): nothing to pull.
            Err(_) if local.is_some() => return Ok(local.expect("checked")),
            // Neither a local image nor a reference: Docker's "invalid
            // reference format" says why.
            Err(e) => return Err(e),
        },
    };
    if local.is_none() {
        report::notice(&format!(
            "Unable to find image '{}' locally",
            candidates[0].familiar()
        ));
    }
    crate::userns::enter()?;
    let opts = PullOptions {
        platform: None,
        transport: Transport::default(),
        quiet,
    };
    let mut errors = Vec::new();
    for reference in &candidates {
        // Docker prints the pull's progress on stderr here: stdout is the
        // container's.
        match pull_with(store, reference, &opts, &report::Silent) {
            Ok(pulled) => {
                if !quiet {
                    report::notice(&format!(
                        "Status: {} for {}",
                        if pulled.up_to_date {
                            "Image is up to date"
                        } else {
                            "Downloaded newer image"
                        },
                        reference.familiar()
                    ));
                }
                return store.images()?.by_id(&pulled.id).cloned().with_context(|| {
                    format!(
                        "image {} vanished right after it was pulled",
                        reference.familiar()
                    )
                });
            }
            Err(e) => errors.push(e.context(format!("pulling {}", reference.familiar()))),
        }
    }
    Err(join_errors(errors))
}

/// One error from the attempts at each candidate registry.
pub(crate) fn join_errors(mut errors: Vec<anyhow::Error>) -> anyhow::Error {
    if errors.len() == 1 {
        return errors.remove(0);
    }
    let text: Vec<String> = errors.iter().map(|e| format!("{e:#}")).collect();
    anyhow::anyhow!("no registry had it: {}", text.join("; "))
}

/// The local image a name means: as typed (name, id, prefix), else under
/// each unqualified-search registry.
pub(crate) fn resolve_local(
    store: &Store,
    settings: &super::settings::Settings,
    name: &str,
) -> Result<Option<ImageRecord>> {
    let index = store.images()?;
    if let Ok(img) = index.resolve(name) {
        return Ok(Some(img.clone()));
    }
    for candidate in settings.candidates(name).unwrap_or_default() {
        if let Ok(img) = index.resolve(&candidate.to_string()) {
            return Ok(Some(img.clone()));
        }
    }
    Ok(None)
}

/// Pulls `reference` (normalized, with tag or digest) into the store,
/// trying the registry's mirrors first. The caller is inside the user
/// namespace.
pub(crate) fn pull(store: &Store, reference: &Reference, opts: &PullOptions) -> Result<Pulled> {
    pull_with(store, reference, opts, &*report::progress(opts.quiet))
}

fn pull_with(
    store: &Store,
    reference: &Reference,
    opts: &PullOptions,
    progress: &dyn Progress,
) -> Result<Pulled> {
    let settings = Settings::load()?;
    for mirror in &settings.registry(reference.domain()).mirrors {
        match Client::new(mirror, &opts.transport)
            .and_then(|client| pull_from(store, client, reference, opts, progress))
        {
            Ok(p) => return Ok(p),
            Err(e) => {
                if !opts.quiet {
                    report::warning(&format!(
                        "pulling {} from the mirror {mirror} failed ({e:#}); trying {}",
                        reference.familiar(),
                        reference.domain()
                    ));
                }
            }
        }
    }
    let client = Client::new(reference.domain(), &opts.transport)?;
    pull_from(store, client, reference, opts, progress)
}

/// `pull -a`: every tag of the repository named by `reference`.
pub(crate) fn pull_all_tags(
    store: &Store,
    reference: &Reference,
    opts: &PullOptions,
) -> Result<Vec<Pulled>> {
    if reference.tag().is_some() || reference.digest().is_some() {
        bail!("tag can't be used with --all-tags/-a");
    }
    let mut client = Client::new(reference.domain(), &opts.transport)?;
    let tags = client.list_tags(reference.path())?;
    if tags.is_empty() {
        bail!("the repository {} has no tags", reference.familiar_name());
    }
    let progress = report::progress(opts.quiet);
    let mut pulled = Vec::new();
    for tag in tags {
        let r = reference.with_tag(&tag);
        pulled.push(pull_from(store, client.clone(), &r, opts, &*progress)?);
    }
    Ok(pulled)
}

fn pull_from(
    store: &Store,
    mut client: Client,
    reference: &Reference,
    opts: &PullOptions,
    progress: &dyn Progress,
) -> Result<Pulled> {
    let repo = reference.path();
    let wanted = reference
        .digest()
        .or(reference.tag())
        .unwrap_or("latest")
        .to_string();
    if let Some(tag) = reference.tag() {
        progress.line(&format!("{tag}: Pulling from {repo}"));
    }

    let (mut bytes, mut content_type) = client.get_manifest(repo, &wanted).map_err(|e| {
        if e.is::<NotFound>() {
            anyhow::anyhow!(
                "image not found: {}: the registry {} has no manifest for it",
                reference.familiar(),
                client.domain()
            )
        } else {
            e
        }
    })?;
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
            // Kept so that `push` knows which blobs the registry has.
            store.put_blob(&bytes)?;
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

    let config_bytes = config_blob(store, &mut client, repo, &m.config.digest)?;
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

    // Download what is missing, several layers at a time; each is
    // committed as soon as it is verified.
    download_layers(
        store,
        &client,
        repo,
        &m.layers,
        &config.rootfs.diff_ids,
        progress,
    )?;

    let lock = store.lock()?;
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
        .map(|l| l.shown_size())
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
    progress.line(&format!("Digest: {manifest_digest}"));
    let shown = reference.familiar();
    if already {
        progress.line(&format!("Status: Image is up to date for {shown}"));
    } else {
        progress.line(&format!("Status: Downloaded newer image for {shown}"));
    }
    store.record_event(&crate::model::event::Event::image(
        &shown,
        &reference.familiar_name(),
        "pull",
    ));
    Ok(Pulled {
        id: image_id,
        up_to_date: already,
    })
}

fn short(digest: &str) -> &str {
    crate::util::ids::short_id(digest)
}

/// The image config: from the store when an earlier or concurrent pull
/// already fetched it (20 ranks pulling one image download it once: the
/// per-digest lock makes the others wait, then read the stored copy).
fn config_blob(store: &Store, client: &mut Client, repo: &str, digest: &str) -> Result<Vec<u8>> {
    let _lock = lock_digest(store, digest, || {})?;
    if let Ok(data) = store.get_blob(digest) {
        return Ok(data);
    }
    let data = read_verified(client, repo, digest, MAX_CONFIG)?;
    store.put_blob_expecting(digest, &data)?;
    Ok(data)
}

/// Reads a small blob whole and checks its digest.
fn read_verified(client: &mut Client, repo: &str, digest: &str, limit: u64) -> Result<Vec<u8>> {
    let mut data = Vec::new();
    client
        .get_blob(repo, digest)?
        .0
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

/// Fetches every layer not yet in the store, `PARALLEL` at a time (a
/// shared queue: a thread takes the next layer when it is done).
fn download_layers(
    store: &Store,
    client: &Client,
    repo: &str,
    layers: &[manifest::Descriptor],
    diff_ids: &[String],
    progress: &dyn Progress,
) -> Result<()> {
    let bars: Vec<Arc<dyn LayerProgress>> = layers
        .iter()
        .map(|l| progress.layer(short(&l.digest)))
        .collect();
    let mut todo = Vec::new();
    for (i, bar) in bars.iter().enumerate() {
        if store.layer(&diff_ids[i]).is_some() {
            bar.done("Already exists");
        } else {
            bar.status("Pulling fs layer");
            todo.push(i);
        }
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failed = std::sync::atomic::AtomicBool::new(false);
    let errors = std::sync::Mutex::new(Vec::<(usize, anyhow::Error)>::new());
    std::thread::scope(|s| {
        for _ in 0..PARALLEL.min(todo.len()) {
            let mut client = client.clone();
            let (next, failed, errors, todo, bars) = (&next, &failed, &errors, &todo, &bars);
            s.spawn(move || loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= todo.len() || failed.load(std::sync::atomic::Ordering::Relaxed) {
                    return;
                }
                let i = todo[n];
                let r = layer_once(store, &mut client, repo, &layers[i], &diff_ids[i], &bars[i]);
                if let Err(e) = r {
                    bars[i].done("Failed");
                    failed.store(true, std::sync::atomic::Ordering::Relaxed);
                    errors
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((i, e));
                }
            });
        }
    });
    let mut errors = errors.into_inner().unwrap_or_else(|e| e.into_inner());
    errors.sort_by_key(|(i, _)| *i);
    match errors.into_iter().next() {
        Some((_, e)) => Err(e),
        None => Ok(()),
    }
}

/// Holds the per-layer lock file; released when dropped.
struct LayerLock(#[allow(dead_code)] File);

/// Takes the lock of one layer, waiting (and saying so) while another
/// pull holds it.
fn lock_layer(store: &Store, diff_id: &str, bar: &dyn LayerProgress) -> Result<LayerLock> {
    lock_digest(store, diff_id, || bar.status("Waiting"))
}

/// The lock file of one digest (`tmp/locks/<hex>`); `waiting` is called
/// when another process holds it.
fn lock_digest(store: &Store, digest: &str, waiting: impl FnOnce()) -> Result<LayerLock> {
    let dir = store.root().join("tmp").join("locks");
    crate::util::fsutil::create_dir_mode(&dir, 0o700)?;
    // The file stays: removing a lock file races with its next user.
    let path = dir.join(digest_hex(digest)?);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("opening the layer lock {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            waiting();
            file.lock()
                .with_context(|| format!("locking {}", path.display()))?;
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("locking {}", path.display()))
        }
    }
    Ok(LayerLock(file))
}

/// One layer, under its lock: skipped when another pull committed it
/// meanwhile; else fetched (again after a broken connection), verified and
/// committed.
fn layer_once(
    store: &Store,
    client: &mut Client,
    repo: &str,
    layer: &manifest::Descriptor,
    diff_id: &str,
    bar: &Arc<dyn LayerProgress>,
) -> Result<()> {
    let _lock = lock_layer(store, diff_id, &**bar)?;
    if store.layer(diff_id).is_some() {
        bar.done("Already exists");
        return Ok(());
    }
    let mut attempt = 1;
    let unpacked = loop {
        match fetch_layer(store, client, repo, layer, diff_id, bar) {
            Ok(u) => break u,
            Err(e) if attempt < LAYER_ATTEMPTS && is_broken_transfer(&e) => {
                attempt += 1;
                bar.status(&format!("Retrying ({e:#})"));
                std::thread::sleep(std::time::Duration::from_millis(500 << attempt));
            }
            Err(e) => return Err(e),
        }
    };
    bar.status("Extracting");
    let lock = store.lock()?;
    unpacked.commit(store, &lock)?;
    drop(lock);
    bar.done("Pull complete");
    Ok(())
}

/// A download that broke off (and may work when tried again), as opposed
/// to wrong content.
fn is_broken_transfer(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        if let Some(u) = c.downcast_ref::<Unreachable>() {
            return u.transient;
        }
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::UnexpectedEof
                    | std::io::ErrorKind::TimedOut
                    | std::io::ErrorKind::BrokenPipe
            ) || io.get_ref().is_some_and(|inner| inner.is::<ureq::Error>());
        }
        c.downcast_ref::<ureq::Error>().is_some()
    })
}

/// One layer: stream → verify compressed digest → decompress → unpack
/// (which computes the diff id) → check the diff id.
fn fetch_layer(
    store: &Store,
    client: &mut Client,
    repo: &str,
    layer: &manifest::Descriptor,
    diff_id: &str,
    bar: &Arc<dyn LayerProgress>,
) -> Result<UnpackedLayer> {
    let digest = &layer.digest;
    let (body, len) = client.get_blob(repo, digest)?;
    let total = len.or((layer.size > 0).then_some(layer.size));
    bar.transfer("Downloading", total);
    // Two stages on two threads, so that both cores work: receiving,
    // hashing and decompressing here; parsing the tar, hashing it and
    // creating the files in the unpacker.
    let (tx, rx) = std::sync::mpsc::sync_channel::<std::io::Result<Vec<u8>>>(8);
    let mut notices = Notices::default();
    let (unpacked, (actual, size)) = std::thread::scope(|s| {
        let producer = s.spawn(move || -> Result<(String, u64)> {
            // A large buffer: fewer, larger reads from the socket and into gunzip.
            let counted = std::io::BufReader::with_capacity(
                256 << 10,
                report::CountingReader::new(body, bar.clone()),
            );
            let mut hashing = HashingReader::new(counted);
            {
                let mut decoded = crate::image::compression::decompress(&mut hashing)
                    .with_context(|| format!("reading layer {digest}"))?;
                loop {
                    let mut block = vec![0u8; 256 << 10];
                    match decoded.read(&mut block) {
                        Ok(0) => break,
                        Ok(n) => {
                            block.truncate(n);
                            if tx.send(Ok(block)).is_err() {
                                // The unpacker stopped (its error is the one to report).
                                return Ok((String::new(), 0));
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            let text = e.to_string();
                            let _ = tx.send(Err(std::io::Error::new(e.kind(), text)));
                            return Err(
                                anyhow::Error::new(e).context(format!("reading layer {digest}"))
                            );
                        }
                    }
                }
            }
            drop(tx);
            // Drain what the decompressor did not need (padding after the gzip stream).
            std::io::copy(&mut hashing, &mut std::io::sink())?;
            Ok(hashing.finish())
        });
        let mut reader = ChannelReader {
            rx,
            block: Vec::new(),
            at: 0,
        };
        let unpacked = unpack_layer(store, &mut reader, &mut notices)
            .with_context(|| format!("unpacking layer {digest}"));
        // Whatever follows the tar's end (zero padding) is still read, so
        // that the producer finishes and the whole blob is hashed.
        if unpacked.is_ok() {
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        }
        drop(reader);
        let produced = producer
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the download thread panicked")));
        // A download error explains an unpack error, so it comes first.
        let produced = produced?;
        Ok::<_, anyhow::Error>((unpacked?, produced))
    })?;
    bar.status("Verifying Checksum");
    if actual != *digest {
        bail!("layer {digest} from {repo} does not match its digest (got {actual}); nothing of it was kept");
    }
    if layer.size > 0 && size != layer.size {
        bail!(
            "layer {digest} from {repo} has {size} bytes, its manifest says {}",
            layer.size
        );
    }
    if unpacked.found.diff_id != diff_id {
        bail!(
            "layer {digest} of {repo} unpacks to {} but the image configuration says {diff_id}",
            unpacked.found.diff_id
        );
    }
    Ok(unpacked)
}

/// Reads the blocks the download thread sends.
struct ChannelReader {
    rx: std::sync::mpsc::Receiver<std::io::Result<Vec<u8>>>,
    block: Vec<u8>,
    at: usize,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.block.len() {
            match self.rx.recv() {
                Ok(block) => {
                    self.block = block?;
                    self.at = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.block.len() - self.at);
        buf[..n].copy_from_slice(&self.block[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}
