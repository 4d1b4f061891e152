//! `images`, `rmi`, `tag`, `history`, `image inspect`, `image prune`.

use super::args::{HistoryArgs, ImagesArgs, InspectArgs, PruneArgs, RmiArgs, TagArgs};
use super::output::{print_listing, print_objects, Listing};
use crate::image::config::ImageConfig;
use crate::model::event::Event;
use crate::model::reference::{familiar, Reference};
use crate::store::images::{ImageIndex, ImageRecord};
use crate::store::{Store, StoreLock};
use crate::util::humanize::{human_size, time_ago};
use crate::util::ids::short_id;
use anyhow::{bail, Context, Result};
use serde_json::{json, Value as Json};

const NONE: &str = "<none>";

pub(crate) fn images(args: ImagesArgs) -> Result<()> {
    let store = Store::open_default()?;
    let index = store.images()?;
    let filters = ImageFilters::parse(&args.filter, args.reference.as_deref())?;
    // Images of read-only additional stores are listed with ours.
    let shared = index.visible_shared();
    let mut images: Vec<&ImageRecord> = index.images.iter().chain(&shared).collect();
    images.sort_by(|a, b| b.created.cmp(&a.created));
    let id_of = |img: &ImageRecord| {
        if args.no_trunc {
            img.id.clone()
        } else {
            short_id(&img.id).to_string()
        }
    };
    if args.quiet {
        let mut seen = Vec::new();
        for img in images.iter().filter(|i| filters.matches_image(i)) {
            if !seen.contains(&img.id) {
                println!("{}", id_of(img));
                seen.push(img.id.clone());
            }
        }
        return Ok(());
    }
    let mut rows = Vec::new();
    for img in images {
        let names: Vec<(String, String)> = if img.repo_tags.is_empty() {
            vec![(NONE.into(), NONE.into())]
        } else {
            img.repo_tags
                .iter()
                .filter_map(|t| Reference::parse(t).ok())
                .map(|r| (r.familiar_name(), r.tag().unwrap_or(NONE).to_string()))
                .collect()
        };
        for (repo, tag) in names {
            if !filters.matches_row(img, &repo, &tag) {
                continue;
            }
            let digest = img
                .repo_digests
                .iter()
                .find(|d| {
                    d.starts_with(&format!("{repo}@"))
                        || familiar(d).starts_with(&format!("{repo}@"))
                })
                .and_then(|d| d.split_once('@').map(|(_, h)| h.to_string()))
                .unwrap_or_else(|| NONE.into());
            rows.push(json!({
                "ID": id_of(img),
                "Repository": repo,
                "Tag": tag,
                "Digest": digest,
                "CreatedSince": img.created.as_deref().map(time_ago).unwrap_or_else(|| "N/A".into()),
                "CreatedAt": img.created.clone().unwrap_or_default(),
                "Size": human_size(img.size),
                "VirtualSize": human_size(img.size),
                "SharedSize": "N/A",
                "UniqueSize": "N/A",
                "Containers": "N/A",
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
    };
    print_listing(args.format.as_deref(), &listing)
}

/// `images -f dangling=true|false -f reference=PATTERN [REPOSITORY[:TAG]]`.
struct ImageFilters {
    dangling: Option<bool>,
    references: Vec<String>,
}

impl ImageFilters {
    fn parse(filters: &[String], positional: Option<&str>) -> Result<ImageFilters> {
        let mut f = ImageFilters {
            dangling: None,
            references: Vec::new(),
        };
        for filter in filters {
            match filter.split_once('=') {
                Some(("dangling", v)) => {
                    f.dangling = Some(match v.to_ascii_lowercase().as_str() {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        _ => bail!("invalid filter 'dangling={v}': use dangling=true or dangling=false"),
                    })
                }
                Some(("reference", v)) => f.references.push(v.to_string()),
                _ => bail!("invalid filter '{filter}': supported filters are dangling=true|false and reference=PATTERN"),
            }
        }
        if let Some(p) = positional {
            f.references.push(p.to_string());
        }
        Ok(f)
    }

    fn matches_image(&self, img: &ImageRecord) -> bool {
        if let Some(d) = self.dangling {
            if img.repo_tags.is_empty() != d {
                return false;
            }
        }
        self.references.is_empty()
            || img.repo_tags.iter().any(|t| {
                let r = Reference::parse(t).ok();
                r.is_some_and(|r| {
                    self.reference_matches(&r.familiar_name(), r.tag().unwrap_or(NONE))
                })
            })
    }

    fn matches_row(&self, img: &ImageRecord, repo: &str, tag: &str) -> bool {
        if let Some(d) = self.dangling {
            if img.repo_tags.is_empty() != d {
                return false;
            }
        }
        self.references.is_empty() || (repo != NONE && self.reference_matches(repo, tag))
    }

    /// Docker matches the pattern against `name` and `name:tag` with
    /// shell-style globbing.
    fn reference_matches(&self, repo: &str, tag: &str) -> bool {
        let full = format!("{repo}:{tag}");
        self.references
            .iter()
            .any(|p| glob_match(p, repo) || glob_match(p, &full))
    }
}

/// `path.Match`-style globbing: `*` and `?` do not cross `/`.
fn glob_match(pattern: &str, text: &str) -> bool {
    fn go(p: &[u8], t: &[u8]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], t) || (!t.is_empty() && t[0] != b'/' && go(p, &t[1..])),
            (Some(b'?'), Some(&c)) => c != b'/' && go(&p[1..], &t[1..]),
            (Some(a), Some(b)) => a == b && go(&p[1..], &t[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), text.as_bytes())
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
    let id = index.resolve(&args.source)?.id.clone();
    index.set_tag(&target.to_string(), &id);
    store.save_images(&index, &lock)?;
    store.record_event(&Event::image(&id, &target.familiar(), "tag"));
    Ok(())
}

pub(crate) fn rmi(args: RmiArgs) -> Result<()> {
    let store = Store::open_default()?;
    crate::userns::enter()?;
    // Leftovers of killed commands go while we hold the store anyway.
    store.clean_stale_tmp();
    let mut failed = false;
    for spec in &args.images {
        let lock = store.lock()?;
        match remove_image(&store, spec, args.force, &lock) {
            Ok(lines) => lines.iter().for_each(|l| println!("{l}")),
            Err(e) => {
                failed = true;
                eprintln!("Error response from daemon: {e:#}");
            }
        }
    }
    if failed {
        return Err(super::ExitStatus(1).into());
    }
    Ok(())
}

/// Untags or deletes one image as Docker's `rmi` does, returning the
/// `Untagged:`/`Deleted:` lines.
fn remove_image(store: &Store, spec: &str, force: bool, lock: &StoreLock) -> Result<Vec<String>> {
    let mut index = store.images()?;
    let i = index.resolve_index(spec)?;
    let img = index.images[i].clone();
    let by_name = Reference::parse_tagged(spec)
        .ok()
        .map(|r| r.to_string())
        .filter(|n| img.repo_tags.contains(n) || img.repo_digests.contains(n));
    let mut lines = Vec::new();

    // Removing one of several names only untags, whoever uses the image.
    if let Some(name) = &by_name {
        if img.repo_tags.len() + img.repo_digests.len() > 1 && img.repo_tags.contains(name) {
            index.images[i].repo_tags.retain(|t| t != name);
            store.save_images(&index, lock)?;
            store.record_image_removal(&img.id, 1, false);
            return Ok(vec![format!("Untagged: {}", familiar(name))]);
        }
    } else if img.repo_tags.len() > 1 && !force {
        bail!(
            "conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories",
            short_id(&img.id)
        );
    }

    for c in store.containers()? {
        if c.image_id != img.id {
            continue;
        }
        let running = store.observed_state(&c.id)?.status.is_running();
        if running {
            bail!(
                "conflict: unable to delete {} (cannot be forced) - image is being used by running container {}",
                short_id(&img.id),
                short_id(&c.id)
            );
        }
        if !force {
            match &by_name {
                Some(name) => bail!(
                    "conflict: unable to remove repository reference \"{}\" (must force) - container {} is using its referenced image {}",
                    familiar(name),
                    short_id(&c.id),
                    short_id(&img.id)
                ),
                None => bail!(
                    "conflict: unable to delete {} (must be forced) - image is being used by stopped container {}",
                    short_id(&img.id),
                    short_id(&c.id)
                ),
            }
        }
    }

    for t in img.repo_tags.iter().chain(&img.repo_digests) {
        lines.push(format!("Untagged: {}", familiar(t)));
    }
    index.images.remove(i);
    store.save_images(&index, lock)?;
    let untags = match by_name {
        Some(_) => 1,
        None => img.repo_tags.len() + img.repo_digests.len(),
    };
    store.record_image_removal(&img.id, untags, true);
    lines.push(format!("Deleted: {}", img.id));
    delete_unreferenced(store, &index, &img, lock)?;
    Ok(lines)
}

/// After an image record is gone: its config blob and the layers nobody uses.
fn delete_unreferenced(
    store: &Store,
    index: &ImageIndex,
    img: &ImageRecord,
    lock: &StoreLock,
) -> Result<()> {
    if index.by_id(&img.id).is_none() {
        store.remove_blob(&img.id)?;
    }
    store.remove_unused_layers(lock)?;
    Ok(())
}

pub(crate) fn prune(args: PruneArgs) -> Result<()> {
    let store = Store::open_default()?;
    if !args.force {
        let what = if args.all {
            "WARNING! This will remove all images without at least one container associated to them."
        } else {
            "WARNING! This will remove all dangling images."
        };
        if !super::output::confirm(what)? {
            return Ok(());
        }
    }
    crate::userns::enter()?;
    // Leftovers of killed commands go while we hold the store anyway.
    store.clean_stale_tmp();
    let lock = store.lock()?;
    let mut index = store.images()?;
    let used: Vec<String> = store
        .containers()?
        .into_iter()
        .map(|c| c.image_id)
        .collect();
    let (remove, keep): (Vec<ImageRecord>, Vec<ImageRecord>) = index
        .images
        .drain(..)
        .partition(|img| !used.contains(&img.id) && (args.all || img.repo_tags.is_empty()));
    index.images = keep;
    store.save_images(&index, &lock)?;
    let mut out = String::new();
    for img in &remove {
        for t in &img.repo_tags {
            out.push_str(&format!("untagged: {}\n", familiar(t)));
        }
        out.push_str(&format!("deleted: {}\n", img.id));
        store.record_image_removal(&img.id, img.repo_tags.len() + img.repo_digests.len(), true);
        store.remove_blob(&img.id)?;
    }
    let reclaimed: u64 = store
        .remove_unused_layers(&lock)?
        .iter()
        .map(|(_, size)| size)
        .sum();
    if !out.is_empty() {
        print!("Deleted Images:\n{out}\n");
    }
    println!("Total reclaimed space: {}", human_size(reclaimed));
    Ok(())
}

pub(crate) fn history(args: HistoryArgs) -> Result<()> {
    let store = Store::open_default()?;
    let index = store.images()?;
    let img = index.resolve(&args.image)?;
    let config = ImageConfig::parse(&store.get_blob(&img.id)?)?;
    let mut layer_sizes = img
        .layers
        .iter()
        .map(|l| store.layer(l).map_or(0, |r| r.size));
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
            "Size": if args.human { human_size(size) } else { size.to_string() },
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
    };
    print_listing(args.format.as_deref(), &listing)
}

pub(crate) fn inspect(args: InspectArgs) -> Result<()> {
    let store = Store::open_default()?;
    let index = store.images()?;
    let mut objects = Vec::new();
    let mut missing = Vec::new();
    for name in &args.names {
        match index.resolve(name) {
            Ok(img) => objects.push(inspect_json(&store, img)?),
            Err(e) => missing.push(e),
        }
    }
    print_objects(args.format.as_deref(), &objects)?;
    report_missing(missing)
}

/// Prints "Error: No such ..." for each name not found, exiting 1 as Docker.
pub(crate) fn report_missing(missing: Vec<anyhow::Error>) -> Result<()> {
    if missing.is_empty() {
        return Ok(());
    }
    for e in &missing {
        eprintln!("Error: {e}");
    }
    Err(super::ExitStatus(1).into())
}

/// `docker image inspect`'s object.
pub(crate) fn inspect_json(store: &Store, img: &ImageRecord) -> Result<Json> {
    let config = ImageConfig::parse(&store.get_blob(&img.id)?)?;
    let mut cfg = serde_json::to_value(&config.config)?;
    if let Json::Object(m) = &mut cfg {
        for (k, v) in [
            ("User", json!("")),
            ("Env", Json::Null),
            ("Cmd", Json::Null),
            ("WorkingDir", json!("")),
            ("Entrypoint", Json::Null),
            ("Labels", Json::Null),
            ("Volumes", Json::Null),
        ] {
            m.entry(k).or_insert(v);
        }
    }
    let lower: Vec<String> = img
        .layers
        .iter()
        .rev()
        .filter_map(|l| store.layer_diff(l).ok())
        .map(|p| p.display().to_string())
        .collect();
    let comment = config
        .history
        .last()
        .and_then(|h| h.comment.clone())
        .unwrap_or_default();
    Ok(json!({
        "Id": img.id,
        "RepoTags": img.repo_tags.iter().map(|t| familiar(t)).collect::<Vec<_>>(),
        "RepoDigests": img.repo_digests.iter().map(|t| familiar(t)).collect::<Vec<_>>(),
        "Parent": "",
        "Comment": comment,
        "Created": config.created.clone().unwrap_or_else(|| "0001-01-01T00:00:00Z".into()),
        "DockerVersion": "",
        "Author": config.author.clone().unwrap_or_default(),
        "Config": cfg,
        "Architecture": config.architecture,
        "Variant": config.variant,
        "Os": config.os,
        "Size": img.size,
        "GraphDriver": {
            "Name": "overlay",
            "Data": { "LowerDir": lower.join(":") },
        },
        "RootFS": { "Type": "layers", "Layers": img.layers },
        "Metadata": { "LastTagTime": img.added },
    }))
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn glob_follows_path_match() {
        assert!(glob_match("busy*", "busybox"));
        assert!(glob_match("busybox:*", "busybox:latest"));
        assert!(!glob_match("*", "a/b"));
        assert!(glob_match("*/*", "a/b"));
        assert!(glob_match("b?sybox", "busybox"));
        assert!(!glob_match("debian", "busybox"));
    }
}
