//! `commit` and `diff`: a container's changes are its overlay upper
//! directory. `diff` lists them against the image's layers; `commit`
//! turns them into a layer (overlay whiteouts become OCI `.wh.` entries)
//! and records a new image whose config is the container's.
//!
//! Both run inside berth's user namespace: the upper directory holds
//! files owned by subordinate ids.

use crate::image::changes::apply_changes;
use crate::image::config::{History, ImageConfig};
use crate::image::layer::{unpack_layer, Notices, UnpackedLayer};
use crate::image::treetar::{list_dir, WalkOptions, Walker};
use crate::image::whiteout;
use crate::model::event::Event;
use crate::model::reference::{familiar, Reference};
use crate::model::ContainerRecord;
use crate::store::Store;
use anyhow::{anyhow, Context, Result};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Paths berth creates as mount points in every container; they are not
/// the container's changes when they are empty.
const BERTH_MOUNT_POINTS: [&str; 7] = [
    "proc",
    "sys",
    "dev",
    "etc/hostname",
    "etc/hosts",
    "etc/resolv.conf",
    "etc/apt/apt.conf.d/00berth-fakeroot",
];

/// The mount points berth makes in every container (relative paths).
pub(crate) fn berth_mount_points() -> Vec<PathBuf> {
    BERTH_MOUNT_POINTS.iter().map(PathBuf::from).collect()
}

fn mount_points(record: &ContainerRecord) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = BERTH_MOUNT_POINTS.iter().map(PathBuf::from).collect();
    for m in &record.host.storage.mounts {
        out.push(PathBuf::from(m.destination.trim_start_matches('/')));
    }
    out
}

/// One line of `diff`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Change {
    /// 'A' added, 'C' changed, 'D' deleted.
    pub(crate) kind: char,
    pub(crate) path: String,
}

/// Whether `rel` exists in the image's layers (top first), honouring
/// whiteouts and opaque directories of upper layers.
fn in_lower(layers: &[PathBuf], rel: &Path) -> bool {
    for layer in layers {
        if std::fs::symlink_metadata(layer.join(rel)).is_ok() {
            return true;
        }
        let (Some(parent), Some(name)) = (rel.parent(), rel.file_name()) else {
            return false;
        };
        let wh = whiteout::whiteout_name(name);
        if std::fs::symlink_metadata(layer.join(parent).join(wh)).is_ok()
            || layer.join(parent).join(whiteout::OPAQUE_MARKER).exists()
        {
            return false;
        }
    }
    false
}

/// The container's changes, sorted by path.
pub(crate) fn changes(store: &Store, record: &ContainerRecord) -> Result<Vec<Change>> {
    let upper = store.container_dir(&record.id).join("upper");
    let mut layers = Vec::new();
    for diff_id in record.layers.iter().rev() {
        layers.push(store.layer_diff(diff_id)?);
    }
    let skip = mount_points(record);
    let mut out = Vec::new();
    if upper.is_dir() {
        walk_changes(&upper, Path::new(""), &layers, &skip, &mut out)?;
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// Adds the changes under `rel`; returns whether it reported any.
fn walk_changes(
    upper: &Path,
    rel: &Path,
    layers: &[PathBuf],
    skip: &[PathBuf],
    out: &mut Vec<Change>,
) -> Result<bool> {
    let dir = upper.join(rel);
    let mut any = false;
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = rel.join(e.file_name());
        let meta = e.metadata()?;
        let shown = format!("/{}", path.display());
        let ft = meta.file_type();
        if whiteout::is_overlay_whiteout(meta.mode(), meta.rdev()) {
            out.push(Change {
                kind: 'D',
                path: shown,
            });
            any = true;
            continue;
        }
        let placeholder = skip.contains(&path)
            && ((ft.is_file() && meta.len() == 0)
                || (ft.is_dir() && std::fs::read_dir(upper.join(&path))?.next().is_none()));
        if placeholder {
            continue;
        }
        let existed = in_lower(layers, &path);
        if ft.is_dir() {
            let idx = out.len();
            let inner = walk_changes(upper, &path, layers, skip, out)?;
            if !existed || inner {
                let kind = if existed { 'C' } else { 'A' };
                out.insert(idx, Change { kind, path: shown });
                any = true;
            }
        } else {
            out.push(Change {
                kind: if existed { 'C' } else { 'A' },
                path: shown,
            });
            any = true;
        }
    }
    Ok(any)
}

/// What `commit` was asked for.
#[derive(Debug, Default, Clone)]
pub(crate) struct CommitOptions {
    pub(crate) author: Option<String>,
    pub(crate) message: Option<String>,
    /// Dockerfile instructions applied to the new config.
    pub(crate) changes: Vec<String>,
    pub(crate) reference: Option<String>,
}

/// Writes the upper directory as an OCI layer tar.
fn write_layer(upper: &Path, skip: Vec<PathBuf>, out: std::fs::File) -> Result<()> {
    let fd: OwnedFd = std::fs::File::open(upper)
        .with_context(|| format!("opening {}", upper.display()))?
        .into();
    let mut w = Walker::new(
        std::io::BufWriter::new(out),
        WalkOptions {
            overlay_upper: true,
            ..Default::default()
        },
    );
    w.skip_empty(skip);
    for name in list_dir(&fd, upper)? {
        w.add(fd.as_fd(), Some(&name), Path::new(&name), false)?;
    }
    use std::io::Write;
    w.finish()?.flush().context("writing the layer")
}

/// An overlay upper directory as a layer of the store (not yet
/// committed): overlay whiteouts become OCI ones, and `skip` names mount
/// points berth made that are left out when empty.
pub(crate) fn layer_from_upper(
    store: &Store,
    upper: &Path,
    skip: Vec<PathBuf>,
) -> Result<UnpackedLayer> {
    let upper = upper.to_path_buf();
    layer_from_tar(store, move |w| write_layer(&upper, skip, w))
        .context("storing the changes as a layer")
}

/// A layer made from the tar stream `write` produces (on a thread of its
/// own), unpacked by the layer extractor with all its rules: paths stay
/// in the layer, symlinks are never followed out, and the diff id is the
/// digest of exactly the bytes written.
pub(crate) fn layer_from_tar<F>(store: &Store, write: F) -> Result<UnpackedLayer>
where
    F: FnOnce(std::fs::File) -> Result<()> + Send,
{
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("creating a pipe")?;
    std::thread::scope(|s| {
        let writer = s.spawn(move || {
            // A reader that gave up must cost this thread an EPIPE, not
            // the process a SIGPIPE (whose default action ends it).
            let mut pipe = nix::sys::signal::SigSet::empty();
            pipe.add(nix::sys::signal::Signal::SIGPIPE);
            let _ = pipe.thread_block();
            write(std::fs::File::from(w))
        });
        let layer = unpack_layer(store, std::fs::File::from(r), &mut Notices::default());
        let written = writer
            .join()
            .map_err(|_| anyhow!("the layer writer panicked"))?;
        // The writer's error explains a reader's "unexpected end".
        written.context("writing the layer")?;
        layer
    })
}

/// Makes the image; returns its id (`sha256:...`).
pub(crate) fn commit(
    store: &Store,
    record: &ContainerRecord,
    opts: &CommitOptions,
) -> Result<String> {
    let name = opts
        .reference
        .as_deref()
        .map(|r| {
            Reference::parse_tagged(r)
                .map(|r| r.to_string())
                .map_err(|e| anyhow!("invalid reference format {r:?}: {e}"))
        })
        .transpose()?;
    let base = store.get_blob(&record.image_id).with_context(|| {
        format!(
            "reading the configuration of image {} (removed while the container exists?)",
            record.image
        )
    })?;
    let mut config = ImageConfig::parse(&base)?;
    let c = &record.config;
    let run = &mut config.config;
    run.cmd = c.cmd.clone();
    run.entrypoint = c.entrypoint.clone();
    run.env = Some(c.env.clone());
    run.working_dir = (!c.working_dir.is_empty()).then(|| c.working_dir.clone());
    run.user = (!c.user.is_empty()).then(|| c.user.clone());
    run.labels = (!c.labels.is_empty()).then(|| c.labels.clone());
    // Docker's commit keeps the rest of the container's config too: its
    // exposed ports (EXPOSE, --expose and -p), declared volumes, stop
    // signal and health check (checked against Docker 20.10).
    if let Some(ports) = record.host.network.exposed_ports_json() {
        run.exposed_ports = Some(ports);
    }
    let volumes: indexmap::IndexMap<String, serde_json::Value> = record
        .declared_volumes()
        .map(|d| (d.to_string(), serde_json::Value::Object(Default::default())))
        .collect();
    if !volumes.is_empty() {
        run.volumes = Some(volumes);
    }
    if c.stop_signal.is_some() {
        run.stop_signal = c.stop_signal.clone();
    }
    if let Some(h) = &c.healthcheck {
        run.healthcheck = Some(h.docker_json());
    }
    apply_changes(run, &opts.changes)?;

    let upper = store.container_dir(&record.id).join("upper");
    crate::util::fsutil::create_dir_mode(&upper, 0o755)?;
    let layer = layer_from_upper(store, &upper, mount_points(record))?;

    let created = crate::util::humanize::now_rfc3339();
    config.created = Some(created.clone());
    config.author = opts.author.clone();
    config.rootfs.diff_ids.push(layer.found.diff_id.clone());
    config.history.push(History {
        created: Some(created.clone()),
        created_by: Some(c.args.join(" ")),
        author: opts.author.clone(),
        comment: opts.message.clone(),
        empty_layer: false,
    });
    config
        .extra
        .insert("container".into(), record.id.clone().into());
    let config_bytes = serde_json::to_vec(&config).context("serializing the image config")?;

    let id = crate::image::layer::record_image(
        store,
        layer,
        &record.layers,
        &config_bytes,
        name.clone(),
        created,
    )?;
    if let Some(n) = &name {
        store.record_event(&Event::image(&id, &familiar(n), "tag"));
    }
    store.record_event(&Event::container(
        record,
        "commit",
        [
            ("comment", opts.message.clone().unwrap_or_default()),
            ("imageID", id.clone()),
            (
                "imageRef",
                name.as_deref().map(familiar).unwrap_or_default(),
            ),
        ],
    ));
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whiteouts_and_opaque_dirs_of_lower_layers_hide_paths() {
        let d = tempfile::tempdir().unwrap();
        let top = d.path().join("top");
        let base = d.path().join("base");
        std::fs::create_dir_all(base.join("etc/sub")).unwrap();
        std::fs::write(base.join("etc/a"), b"").unwrap();
        std::fs::write(base.join("etc/b"), b"").unwrap();
        std::fs::create_dir_all(top.join("etc/sub")).unwrap();
        std::fs::write(top.join("etc/.wh.a"), b"").unwrap();
        std::fs::write(top.join("etc/sub/.wh..wh..opq"), b"").unwrap();
        let layers = [top, base];
        assert!(in_lower(&layers, Path::new("etc/b")));
        assert!(!in_lower(&layers, Path::new("etc/a")));
        assert!(!in_lower(&layers, Path::new("etc/sub/x")));
        assert!(!in_lower(&layers, Path::new("nothere")));
    }

    #[test]
    fn changes_are_a_c_d_without_berth_mount_points() {
        let (_d, store) = crate::store::test_store();
        let record = ContainerRecord {
            id: "c1".into(),
            ..Default::default()
        };
        let upper = store.container_dir("c1").join("upper");
        std::fs::create_dir_all(upper.join("etc")).unwrap();
        std::fs::create_dir_all(upper.join("proc")).unwrap();
        std::fs::write(upper.join("etc/hostname"), b"").unwrap();
        std::fs::write(upper.join("etc/new"), b"x").unwrap();
        let c = changes(&store, &record).unwrap();
        let shown: Vec<String> = c.iter().map(|c| format!("{} {}", c.kind, c.path)).collect();
        assert_eq!(shown, ["A /etc", "A /etc/new"]);
    }
}
