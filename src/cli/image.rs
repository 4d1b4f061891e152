//! `images`, `rmi`, `tag`, `history`, `image inspect`, `image prune`.

use super::args::{HistoryArgs, ImageInspectArgs, ImagesArgs, TagArgs};
use super::filters::images::{ImageFacts, ImageFilter};
use super::filters::lineage;
use super::output::{print_listing, print_objects, Listing};
use crate::image::config::ImageConfig;
use crate::model::event::Event;
use crate::model::filters::FilterArgs;
use crate::model::reference::Reference;
use crate::store::images::ImageRecord;
use crate::store::Store;
use crate::util::humanize::{go_time, human_size, human_size_precision, time_ago};
use crate::util::ids::short_id;
use anyhow::{bail, Context, Result};
use indexmap::IndexMap;
use serde_json::json;

const NONE: &str = "<none>";

pub(crate) fn images(args: ImagesArgs) -> Result<()> {
    let store = Store::open_default()?;
    let index = store.images()?;
    let mut flags = args.filter.clone();
    if let Some(r) = &args.reference {
        flags.push(format!("reference={r}"));
    }
    let filter_args = FilterArgs::parse(&flags)?;
    let wants_labels = filter_args.contains("label");
    let filter = ImageFilter::new(filter_args, |v| {
        index
            .resolve(v)
            .map(|i| i.created.as_deref().and_then(|c| c.parse().ok()))
            .map_err(|e| format!("{e:#}"))
    })
    .map_err(super::daemon_error)?;
    // Images of read-only additional stores are listed with ours.
    let shared = index.visible_shared();
    let mut images: Vec<&ImageRecord> = index.images.iter().chain(&shared).collect();
    images.sort_by(|a, b| b.created.cmp(&a.created));
    let mut history = |i: &ImageRecord| lineage::history(&store, i);
    let mut rows = Vec::new();
    for img in &images {
        // Reading each image's config costs: only for `label=`.
        let labels = if wants_labels {
            image_labels(&store, img)
        } else {
            IndexMap::new()
        };
        let has_children = img.repo_tags.is_empty()
            && img.repo_digests.is_empty()
            && images
                .iter()
                .any(|other| lineage::built_on(other, img, &mut history));
        let facts = ImageFacts {
            record: img,
            labels: &labels,
            has_children,
        };
        let Some(names) = filter.select(&facts, args.all) else {
            continue;
        };
        for (repo, tag, digest) in image_rows(&names, args.digests) {
            rows.push(json!({
                "Containers": "N/A",
                "CreatedAt": img.created.as_deref().map(go_time).unwrap_or_default(),
                "CreatedSince": img.created.as_deref().map(time_ago).unwrap_or_else(|| "N/A".into()),
                "Digest": digest,
                "ID": if args.no_trunc { img.id.clone() } else { short_id(&img.id).to_string() },
                "Repository": repo,
                "SharedSize": "N/A",
                "Size": human_size_precision(img.size, 3),
                "Tag": tag,
                "UniqueSize": "N/A",
                "VirtualSize": human_size(img.size),
            }));
        }
    }
    let with_digests: &[(&str, &str)] = &[
        ("Repository", "REPOSITORY"),
        ("Tag", "TAG"),
        ("Digest", "DIGEST"),
        ("ID", "IMAGE ID"),
        ("CreatedSince", "CREATED"),
        ("Size", "SIZE"),
    ];
    let plain: &[(&str, &str)] = &[
        ("Repository", "REPOSITORY"),
        ("Tag", "TAG"),
        ("ID", "IMAGE ID"),
        ("CreatedSince", "CREATED"),
        ("Size", "SIZE"),
    ];
    let listing = Listing {
        columns: if args.digests { with_digests } else { plain },
        extra_headers: &[
            ("Digest", "DIGEST"),
            ("CreatedAt", "CREATED AT"),
            ("VirtualSize", "VIRTUAL SIZE"),
            ("SharedSize", "SHARED SIZE"),
            ("UniqueSize", "UNIQUE SIZE"),
            ("Containers", "CONTAINERS"),
        ],
        rows,
        labels: Vec::new(),
    };
    let format = if args.quiet {
        Some("{{.ID}}")
    } else {
        args.format.as_deref()
    };
    print_listing(format, &listing)
}

/// The labels of an image's config (empty when it cannot be read).
pub(crate) fn image_labels(store: &Store, img: &ImageRecord) -> IndexMap<String, String> {
    store
        .get_blob(&img.id)
        .ok()
        .and_then(|b| ImageConfig::parse(&b).ok())
        .and_then(|c| c.config.labels)
        .unwrap_or_default()
}

/// The rows of one image as Docker's CLI lays them out: one per tag (and
/// per digest of its repository with `--digests`), digest-only
/// repositories on rows of their own, `<none>` when it has no name.
fn image_rows(names: &[String], digests: bool) -> Vec<(String, String, String)> {
    let mut tags: IndexMap<String, Vec<String>> = IndexMap::new();
    let mut digs: IndexMap<String, Vec<String>> = IndexMap::new();
    for n in names {
        let Ok(r) = Reference::parse(n) else { continue };
        match (r.tag(), r.digest()) {
            (Some(t), _) => tags
                .entry(r.familiar_name())
                .or_default()
                .push(t.to_string()),
            (None, Some(d)) => digs
                .entry(r.familiar_name())
                .or_default()
                .push(d.to_string()),
            _ => {}
        }
    }
    if tags.is_empty() && digs.is_empty() {
        return vec![(NONE.into(), NONE.into(), NONE.into())];
    }
    let mut rows = Vec::new();
    for (repo, ts) in &tags {
        let ds = digs
            .shift_remove(repo)
            .filter(|_| digests)
            .unwrap_or_default();
        for t in ts {
            if ds.is_empty() {
                rows.push((repo.clone(), t.clone(), NONE.into()));
            }
            for d in &ds {
                rows.push((repo.clone(), t.clone(), d.clone()));
            }
        }
    }
    for (repo, ds) in digs {
        if digests {
            for d in ds {
                rows.push((repo.clone(), NONE.into(), d));
            }
        } else {
            rows.push((repo, NONE.into(), String::new()));
        }
    }
    rows
}

/// A missing image named by `tag` or `history`: Docker's daemon's error,
/// status 1.
fn image_error(e: anyhow::Error) -> anyhow::Error {
    super::daemon_error_if::<crate::store::images::NoSuchImage>(e)
}

pub(crate) fn tag(args: TagArgs) -> Result<()> {
    let store = Store::open_default()?;
    let target = Reference::parse_tagged(&args.target)
        .with_context(|| format!("tagging {} as {}", args.source, args.target))?;
    if target.digest().is_some() {
        bail!(
            "refusing to create a tag with a digest reference: {}",
            args.target
        );
    }
    let lock = store.lock()?;
    let mut index = store.images()?;
    let id = index.resolve(&args.source).map_err(image_error)?.id.clone();
    index.set_tag(&target.to_string(), &id);
    store.save_images(&index, &lock)?;
    store.record_event(&Event::image(&id, &target.familiar(), "tag"));
    Ok(())
}

pub(crate) fn history(args: HistoryArgs) -> Result<()> {
    let store = Store::open_default()?;
    let index = store.images()?;
    let img = index.resolve(&args.image).map_err(image_error)?;
    let config = ImageConfig::parse(&store.get_blob(&img.id)?)?;
    let mut layer_sizes = img
        .layers
        .iter()
        .map(|l| store.layer(l).map_or(0, |r| r.shown_size()));
    let mut rows = Vec::new();
    let history = if config.history.is_empty() {
        // An image without history (some importers write none): one row per layer.
        img.layers
            .iter()
            .map(|_| crate::image::config::History::default())
            .collect()
    } else {
        config.history.clone()
    };
    let count = history.len();
    for (n, h) in history.iter().enumerate() {
        let size = if h.empty_layer {
            0
        } else {
            layer_sizes.next().unwrap_or(0)
        };
        let id = if n + 1 == count {
            if args.no_trunc {
                img.id.clone()
            } else {
                short_id(&img.id).to_string()
            }
        } else {
            "<missing>".to_string()
        };
        let created_by = h.created_by.clone().unwrap_or_default();
        let shown_by = if args.no_trunc || created_by.chars().count() <= 45 {
            created_by.clone()
        } else {
            format!("{}…", created_by.chars().take(44).collect::<String>())
        };
        let created = h
            .created
            .clone()
            .or_else(|| config.created.clone())
            .unwrap_or_default();
        rows.push(json!({
            "ID": id,
            "CreatedSince": if args.human { time_ago(&created) } else { created.clone() },
            "CreatedAt": created,
            "CreatedBy": shown_by,
            // Three significant digits, as `docker history` prints them.
            "Size": if args.human { human_size_precision(size, 3) } else { size.to_string() },
            "Comment": h.comment.clone().unwrap_or_default(),
        }));
    }
    rows.reverse();
    if args.quiet {
        for r in rows {
            println!("{}", r["ID"].as_str().unwrap_or_default());
        }
        return Ok(());
    }
    let listing = Listing {
        columns: &[
            ("ID", "IMAGE"),
            ("CreatedSince", "CREATED"),
            ("CreatedBy", "CREATED BY"),
            ("Size", "SIZE"),
            ("Comment", "COMMENT"),
        ],
        extra_headers: &[("CreatedAt", "CREATED AT")],
        rows,
        labels: Vec::new(),
    };
    print_listing(args.format.as_deref(), &listing)
}

pub(crate) fn inspect(args: ImageInspectArgs) -> Result<()> {
    let store = Store::open_default()?;
    let index = store.images()?;
    let mut objects = Vec::new();
    let mut missing = Vec::new();
    for name in &args.names {
        match index.resolve(name) {
            Ok(img) => objects.push(super::inspect::image(&store, img)?),
            Err(e) => missing.push(e),
        }
    }
    print_objects(args.format.as_deref(), &objects)?;
    report_missing(missing, true)
}

/// The names an `inspect` did not find, after the objects it did, with
/// status 1: the daemon's errors for `container`/`image`/`volume inspect`,
/// the CLI's own (`Error: No such object: X`) for `inspect`.
pub(crate) fn report_missing(missing: Vec<anyhow::Error>, from_daemon: bool) -> Result<()> {
    if missing.is_empty() {
        return Ok(());
    }
    let prefix = if from_daemon {
        "Error response from daemon"
    } else {
        "Error"
    };
    for e in &missing {
        eprintln!("{prefix}: {e}");
    }
    Err(super::ExitStatus(1).into())
}

#[cfg(test)]
mod tests {
    use super::image_rows;

    #[test]
    fn rows_per_tag_and_digest_as_docker() {
        let d = "docker.io/library/x@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        let names = vec!["docker.io/library/x:1".to_string(), d.to_string()];
        let rows = image_rows(&names, false);
        assert_eq!(rows, [("x".into(), "1".into(), "<none>".into())]);
        let rows = image_rows(&names, true);
        assert_eq!(rows.len(), 1);
        assert!(rows[0].2.starts_with("sha256:"));
        let only = vec![d.to_string()];
        assert_eq!(
            image_rows(&only, false),
            [("x".into(), "<none>".into(), String::new())]
        );
        assert_eq!(
            image_rows(&[], false),
            [("<none>".into(), "<none>".into(), "<none>".into())]
        );
    }
}
