//! The end of a build: the target stage's configuration finished as
//! BuildKit finishes it (history times, `created`), then recorded as an
//! image with its names, or written out with `-o` as a tar archive of the
//! filesystem or a directory.

use super::stage::StageResult;
use super::{BuildOutcome, Prepared};
use crate::build::progress::BuildProgress;
use crate::image::config::History;
use crate::image::view::{name_str, LayerView, ViewEntry};
use crate::store::images::ImageRecord;
use crate::store::Store;
use anyhow::{bail, Context, Result};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

/// `-o`: where the result goes instead of the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// `type=tar,dest=PATH`: the filesystem as a tar archive.
    Tar(PathBuf),
    /// `type=local,dest=DIR`: the filesystem as files.
    Local(PathBuf),
}

/// BuildKit's times for history entries without one (configuration-only
/// instructions): the first new layer's time for those before it, the
/// previous entry's for the others.
pub(crate) fn normalize_history(history: &mut [History]) {
    let mut created: Option<String> = None;
    let mut missing = false;
    for h in history.iter() {
        if h.created.is_some() {
            created = h.created.clone();
            if missing {
                break;
            }
        } else {
            missing = true;
        }
    }
    missing = false;
    for h in history.iter_mut() {
        if h.created.is_some() {
            if missing {
                created = h.created.clone();
            }
        } else {
            missing = true;
            h.created = created.clone();
        }
    }
}

/// The image configuration's bytes and its id.
fn finished_config(p: &Prepared, result: &StageResult) -> Result<(Vec<u8>, String)> {
    let mut config = result.config.clone();
    if !p.labels.is_empty() {
        let labels = config.config.labels.get_or_insert_with(Default::default);
        for (k, v) in &p.labels {
            labels.insert(k.clone(), v.clone());
        }
    }
    if let Some(l) = config.config.labels.as_mut() {
        // Go writes maps sorted by key.
        l.sort_keys();
    }
    config.rootfs.diff_ids = result.layers.clone();
    normalize_history(&mut config.history);
    config.created = config.history.iter().rev().find_map(|h| h.created.clone());
    let bytes = serde_json::to_vec(&config).context("serializing the image configuration")?;
    let id = crate::util::digest::sha256_digest(&bytes);
    Ok((bytes, id))
}

pub(crate) fn finish(
    store: &Store,
    p: &Prepared,
    result: StageResult,
    tags: &[String],
    output: Option<&Output>,
    progress: &dyn BuildProgress,
) -> Result<BuildOutcome> {
    let (bytes, id) = finished_config(p, &result)?;
    match output {
        None => {
            let v = progress.start("exporting to image");
            progress.status(v, "exporting layers done");
            if let Err(e) = record(store, &result.layers, &bytes, &id, tags) {
                progress.error(v, &format!("{e:#}"));
                return Err(e);
            }
            progress.status(v, &format!("writing image {id} done"));
            for t in tags {
                progress.status(v, &format!("naming to {t} done"));
            }
            progress.done(v);
            Ok(BuildOutcome {
                image_id: id,
                stored: true,
            })
        }
        Some(out) => {
            let view = LayerView::open(store, &result.layers)?;
            let (name, status) = match out {
                Output::Tar(_) => ("exporting to client tarball", "sending tarball"),
                Output::Local(_) => ("exporting to client directory", "copying files"),
            };
            let v = progress.start(name);
            let started = std::time::Instant::now();
            let written = match out {
                Output::Tar(path) => write_tar_file(&view, path),
                Output::Local(dir) => write_local(&view, dir),
            };
            if let Err(e) = written {
                progress.error(v, &format!("{e:#}"));
                return Err(e);
            }
            let secs = started.elapsed().as_secs_f64();
            if secs > 0.01 {
                progress.status(v, &format!("{status} {secs:.1}s done"));
            } else {
                progress.status(v, &format!("{status} done"));
            }
            progress.done(v);
            Ok(BuildOutcome {
                image_id: id,
                stored: false,
            })
        }
    }
}

/// Records the image and its names, under the lock. Nothing is written
/// when the store already has exactly this (a cached rebuild).
fn record(
    store: &Store,
    layers: &[String],
    config: &[u8],
    id: &str,
    tags: &[String],
) -> Result<()> {
    let lock = store.lock()?;
    let mut size = 0;
    for l in layers {
        match store.layer(l) {
            Some(r) => size += r.shown_size(),
            None => bail!(
                "layer {l} of the build vanished from the store (pruned meanwhile?); build again"
            ),
        }
    }
    store.put_blob(config)?;
    let mut index = store.images()?;
    let unchanged = index
        .images
        .iter()
        .any(|i| i.id == id && tags.iter().all(|t| i.repo_tags.contains(t)));
    if unchanged {
        return Ok(());
    }
    let created = serde_json::from_slice::<crate::image::config::ImageConfig>(config)
        .ok()
        .and_then(|c| c.created);
    index.upsert(ImageRecord {
        id: id.to_string(),
        repo_tags: tags.to_vec(),
        repo_digests: Vec::new(),
        layers: layers.to_vec(),
        size,
        created,
        added: crate::util::humanize::now_rfc3339(),
    });
    store.save_images(&index, &lock)
}

fn write_tar_file(view: &LayerView, path: &std::path::Path) -> Result<()> {
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    let mut w = std::io::BufWriter::new(f);
    write_tar(view, &mut w)?;
    w.flush()?;
    Ok(())
}

/// The whole tree of `view` as a tar stream.
pub(crate) fn write_tar(view: &LayerView, out: &mut dyn Write) -> Result<()> {
    let mut tar = tar::Builder::new(out);
    tar.mode(tar::HeaderMode::Complete);
    walk(view, &mut Vec::new(), &mut tar)?;
    tar.finish().context("finishing the archive")
}

fn header(e: &ViewEntry, kind: tar::EntryType) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(e.meta.mode() & 0o7777);
    h.set_uid(u64::from(e.meta.uid()));
    h.set_gid(u64::from(e.meta.gid()));
    h.set_mtime(e.meta.mtime().max(0) as u64);
    h.set_size(0);
    h
}

fn walk(
    view: &LayerView,
    dir: &mut Vec<String>,
    tar: &mut tar::Builder<&mut dyn Write>,
) -> Result<()> {
    for name in view.read_dir(dir)? {
        dir.push(name_str(&name)?);
        let Some(e) = view.lstat(dir)? else {
            dir.pop();
            continue;
        };
        let path = dir.join("/");
        let ft = e.meta.file_type();
        if ft.is_dir() {
            let mut h = header(&e, tar::EntryType::Directory);
            tar.append_data(&mut h, format!("{path}/"), std::io::empty())?;
            walk(view, dir, tar)?;
        } else if ft.is_symlink() {
            let target = std::fs::read_link(view.layer_dir(&e).join(&e.rel))?;
            let mut h = header(&e, tar::EntryType::Symlink);
            tar.append_link(&mut h, &path, target)?;
        } else if ft.is_file() {
            use std::io::Read;
            let f = view.open_file(&e)?;
            let len = f.metadata()?.len();
            let mut h = header(&e, tar::EntryType::Regular);
            h.set_size(len);
            tar.append_data(&mut h, &path, f.take(len))
                .with_context(|| format!("archiving /{path}"))?;
        }
        // Devices, FIFOs and sockets are not part of an exported tree.
        dir.pop();
    }
    Ok(())
}

/// Writes the tree into `dir` (created if missing), owned by whoever
/// runs the build, through the archive extractor's in-root rules.
fn write_local(view: &LayerView, dir: &std::path::Path) -> Result<()> {
    crate::util::fsutil::create_dir_mode(dir, 0o755)?;
    let base: std::os::fd::OwnedFd = std::fs::File::open(dir)
        .with_context(|| format!("opening {}", dir.display()))?
        .into();
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("creating a pipe")?;
    std::thread::scope(|s| {
        let writer = s.spawn(move || {
            let mut pipe = nix::sys::signal::SigSet::empty();
            pipe.add(nix::sys::signal::Signal::SIGPIPE);
            let _ = pipe.thread_block();
            let mut f = std::io::BufWriter::new(std::fs::File::from(w));
            write_tar(view, &mut f)?;
            f.flush()?;
            Ok::<(), anyhow::Error>(())
        });
        let extracted = crate::image::treetar::extract(
            &base,
            std::fs::File::from(r),
            &crate::image::treetar::ExtractOptions::default(),
        );
        let written = writer
            .join()
            .map_err(|_| anyhow::anyhow!("the exporter panicked"))?;
        written?;
        extracted.with_context(|| format!("writing the result into {}", dir.display()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(created: Option<&str>, empty: bool) -> History {
        History {
            created: created.map(str::to_string),
            created_by: None,
            author: None,
            comment: None,
            empty_layer: empty,
        }
    }

    #[test]
    fn history_times_follow_buildkit() {
        let mut hist = vec![
            h(Some("t0"), false),
            h(Some("t0"), true),
            h(None, true),
            h(None, true),
            h(Some("t1"), false),
            h(Some("t2"), false),
            h(None, true),
        ];
        normalize_history(&mut hist);
        let times: Vec<&str> = hist.iter().map(|h| h.created.as_deref().unwrap()).collect();
        assert_eq!(times, ["t0", "t0", "t1", "t1", "t1", "t2", "t2"]);
        // Only metadata after the base: the base's last time.
        let mut hist = vec![h(Some("t0"), false), h(None, true)];
        normalize_history(&mut hist);
        assert_eq!(hist[1].created.as_deref(), Some("t0"));
    }
}
