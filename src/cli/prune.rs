//! `container prune`, `image prune`, `volume prune` and `system prune`, as
//! Docker's CLI and daemon do them: the same prompts (on stdout; only `y`
//! goes on, anything else or no input ends quietly), the same filters per
//! kind, the same `Deleted ...:` lists and `Total reclaimed space:`.
//!
//! `system prune` runs the list [`PRUNERS`]; a kind of thing that can be
//! pruned (networks, the build cache) is one more entry.

use super::args::{ContainerPruneArgs, PruneArgs, SystemPruneArgs, VolumePruneArgs};
use super::filters::prune::PruneFilter;
use crate::model::filters::{FilterArgs, FilterError};
use crate::runtime::lifecycle::{self, RemoveOptions};
use crate::store::Store;
use crate::util::du::tree_size;
use crate::util::humanize::human_size;
use anyhow::Result;
use std::io::Write;

/// What `system prune` asks of each pruner.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PruneOptions {
    /// `-a`: images without containers, not only dangling ones.
    pub(crate) all: bool,
    /// `--volumes`.
    pub(crate) volumes: bool,
}

/// What one pruner removed.
#[derive(Debug, Default)]
pub(crate) struct Pruned {
    /// `Deleted Containers:`... and one line per item; empty: nothing went.
    pub(crate) output: String,
    pub(crate) reclaimed: u64,
}

/// One kind of thing `system prune` cleans up.
pub(crate) struct Pruner {
    /// The line of `system prune`'s prompt; None: not run with these options.
    pub(crate) warning: fn(PruneOptions) -> Option<&'static str>,
    /// Filter keys this kind takes.
    pub(crate) filters: &'static [&'static str],
    pub(crate) run: fn(&Store, PruneOptions, &PruneFilter) -> Result<Pruned>,
    /// Run only when `system prune` has no `--filter` (the build cache
    /// takes none of the containers', images' or volumes' filters; with
    /// filters it is left alone and not listed in the prompt).
    pub(crate) unfiltered_only: bool,
}

/// In Docker's order: containers first, so that images and volumes they
/// held can go in the same run.
pub(crate) const PRUNERS: &[Pruner] = &[
    Pruner {
        warning: |_| Some("all stopped containers"),
        filters: CONTAINER_FILTERS,
        run: |store, _, filter| prune_containers(store, filter),
        unfiltered_only: false,
    },
    Pruner {
        warning: |_| Some("all networks not used by at least one container"),
        filters: super::network::PRUNE_FILTERS,
        run: |store, _, filter| super::network::prune_networks(store, filter),
        unfiltered_only: false,
    },
    Pruner {
        warning: |o| {
            o.volumes
                .then_some("all anonymous volumes not used by at least one container")
        },
        filters: VOLUME_FILTERS,
        run: |store, _, filter| prune_volumes(store, false, filter),
        unfiltered_only: false,
    },
    Pruner {
        warning: |o| {
            Some(if o.all {
                "all images without at least one container associated to them"
            } else {
                "all dangling images"
            })
        },
        filters: IMAGE_FILTERS,
        run: |store, o, filter| prune_images(store, o.all, filter),
        unfiltered_only: false,
    },
    Pruner {
        warning: |o| {
            Some(if o.all {
                "all build cache"
            } else {
                "unused build cache"
            })
        },
        filters: &[],
        run: |store, o, _| prune_build_cache(store, o.all),
        unfiltered_only: true,
    },
];

/// The build cache, as `builder prune [-a]` removes it.
fn prune_build_cache(store: &Store, all: bool) -> Result<Pruned> {
    let report = crate::build::prune::prune(store, all)?;
    let mut output = String::new();
    if !report.removed.is_empty() {
        output.push_str("Deleted build cache objects:");
        for id in &report.removed {
            output.push('\n');
            output.push_str(id);
        }
        output.push('\n');
    }
    Ok(Pruned {
        output,
        reclaimed: report.reclaimed,
    })
}

const CONTAINER_FILTERS: &[&str] = &["label", "label!", "until"];
const IMAGE_FILTERS: &[&str] = &["dangling", "label", "label!", "until"];
const VOLUME_FILTERS: &[&str] = &["label", "label!", "all"];

/// Docker's prompt: the warning and `Are you sure you want to continue?
/// [y/N] ` on stdout, one line read from stdin; only `y` or `Y` goes on.
pub(crate) fn confirm(warning: &str) -> Result<bool> {
    use std::io::BufRead;
    let mut out = std::io::stdout().lock();
    write!(out, "{warning}\nAre you sure you want to continue? [y/N] ")?;
    out.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim().eq_ignore_ascii_case("y"))
}

fn filter(flags: &[String], accepted: &[&str]) -> Result<PruneFilter> {
    let args = FilterArgs::parse(flags)?;
    PruneFilter::new(args, accepted).map_err(super::daemon_error)
}

/// `builder prune [-a]`: the same pruner `system prune` runs, printed alone.
pub(crate) fn print_build_cache_prune(store: &Store, all: bool) -> Result<()> {
    print(&prune_build_cache(store, all)?);
    Ok(())
}

fn print(pruned: &Pruned) {
    if !pruned.output.is_empty() {
        println!("{}", pruned.output);
    }
    println!("Total reclaimed space: {}", human_size(pruned.reclaimed));
}

fn open_for_removal() -> Result<Store> {
    let store = Store::open_default()?;
    crate::userns::enter()?;
    // Leftovers of killed commands go while we hold the store anyway.
    store.clean_stale_tmp();
    Ok(store)
}

pub(crate) fn container_prune(args: ContainerPruneArgs) -> Result<()> {
    let f = filter(&args.filter, CONTAINER_FILTERS)?;
    if !args.force && !confirm("WARNING! This will remove all stopped containers.")? {
        return Ok(());
    }
    let store = open_for_removal()?;
    print(&prune_containers(&store, &f)?);
    Ok(())
}

pub(crate) fn image_prune(args: PruneArgs) -> Result<()> {
    let f = filter(&args.filter, IMAGE_FILTERS)?;
    let warning = if args.all {
        "WARNING! This will remove all images without at least one container associated to them."
    } else {
        "WARNING! This will remove all dangling images."
    };
    if !args.force && !confirm(warning)? {
        return Ok(());
    }
    let store = open_for_removal()?;
    print(&prune_images(&store, args.all, &f)?);
    Ok(())
}

pub(crate) fn volume_prune(args: VolumePruneArgs) -> Result<()> {
    let f = filter(&args.filter, VOLUME_FILTERS)?;
    if args.all && f.args().contains("all") {
        return Err(super::daemon_error(
            "conflicting options: cannot specify both --all and --filter all=1",
        ));
    }
    let all = args.all || all_filter(&f)?;
    let warning = if all {
        "WARNING! This will remove all local volumes not used by at least one container."
    } else {
        "WARNING! This will remove anonymous local volumes not used by at least one container."
    };
    if !args.force && !confirm(warning)? {
        return Ok(());
    }
    let store = open_for_removal()?;
    print(&prune_volumes(&store, all, &f)?);
    Ok(())
}

/// `--filter all=BOOL` of `volume prune`.
fn all_filter(f: &PruneFilter) -> Result<bool> {
    let values = f.args().get("all");
    match values.as_slice() {
        [] => Ok(false),
        [one] => match *one {
            "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
            "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
            v => Err(super::daemon_error(format!(
                "invalid filter 'all': strconv.ParseBool: parsing {v:?}: invalid syntax"
            ))),
        },
        many => Err(super::daemon_error(format!(
            "invalid filter 'all=[{}]': only one value is expected",
            many.join(" ")
        ))),
    }
}

pub(crate) fn system_prune(args: SystemPruneArgs) -> Result<()> {
    let opts = PruneOptions {
        all: args.all,
        volumes: args.volumes,
    };
    let flags = FilterArgs::parse(&args.filter)?;
    if opts.volumes && flags.contains("until") {
        anyhow::bail!("ERROR: The \"until\" filter is not supported with \"--volumes\"");
    }
    // Every pruner checks the filters before anything is asked or removed.
    let mut chosen = Vec::new();
    let mut errors: Vec<FilterError> = Vec::new();
    let mut warnings = Vec::new();
    for p in PRUNERS {
        if p.unfiltered_only && !args.filter.is_empty() {
            continue;
        }
        let Some(w) = (p.warning)(opts) else {
            continue;
        };
        warnings.push(w);
        match PruneFilter::new(flags.clone(), p.filters) {
            Ok(f) => chosen.push((p, f)),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        let text: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        return Err(super::daemon_error(text.join("\n")));
    }
    let described = chosen
        .first()
        .map(|(_, f)| f.describe())
        .unwrap_or_default();
    if !args.force && !confirm(&system_warning(&warnings, &described))? {
        return Ok(());
    }
    let store = open_for_removal()?;
    let mut total = 0;
    for (p, f) in &chosen {
        let pruned = (p.run)(&store, opts, f)?;
        if !pruned.output.is_empty() {
            println!("{}", pruned.output);
        }
        total += pruned.reclaimed;
    }
    println!("Total reclaimed space: {}", human_size(total));
    Ok(())
}

/// Docker's `system prune` confirmation text.
fn system_warning(warnings: &[&str], filters: &[String]) -> String {
    let mut s = String::from("WARNING! This will remove:");
    for w in warnings {
        s.push_str(&format!("\n  - {w}"));
    }
    s.push('\n');
    if !filters.is_empty() {
        s.push_str("\n  Items to be pruned will be filtered with:");
        for f in filters {
            s.push_str(&format!("\n  - {f}"));
        }
        s.push('\n');
    }
    s
}

/// Containers that are not running, paused or restarting.
fn prune_containers(store: &Store, filter: &PruneFilter) -> Result<Pruned> {
    let mut out = Pruned::default();
    let mut ids = Vec::new();
    for c in store.containers()? {
        let state = store.observed_state(&c.id)?;
        if !state.status.can_remove() {
            continue;
        }
        if !filter.allows(Some(&c.created), |k| {
            c.config.labels.get(k).map(String::as_str)
        }) {
            continue;
        }
        let size = tree_size(&store.container_dir(&c.id).join("upper"));
        lifecycle::remove(
            store,
            &c,
            RemoveOptions {
                force: false,
                volumes: false,
            },
        )?;
        out.reclaimed += size;
        ids.push(c.id);
    }
    if !ids.is_empty() {
        out.output = format!("Deleted Containers:\n{}\n", ids.join("\n"));
    }
    Ok(out)
}

/// Images no container uses: dangling ones (no tag), or all with `-a`.
fn prune_images(store: &Store, all: bool, filter: &PruneFilter) -> Result<Pruned> {
    let dangling = filter
        .args()
        .bool_value("dangling")
        .map_err(super::daemon_error)?;
    // `image prune -a` is `dangling=false`; the filter can say it too.
    let dangling_only = dangling.unwrap_or(!all);
    let used: std::collections::HashSet<String> = store
        .containers()?
        .into_iter()
        .map(|c| c.image_id)
        .collect();
    let mut lines = Vec::new();
    let mut out = Pruned::default();
    for img in store.images()?.images {
        if used.contains(&img.id) || (dangling_only && !img.repo_tags.is_empty()) {
            continue;
        }
        let labels = super::image::image_labels(store, &img);
        if !filter.allows(img.created.as_deref(), |k| {
            labels.get(k).map(String::as_str)
        }) {
            continue;
        }
        // Each name goes as `rmi NAME` would take it, the last one with
        // the image; an image without names goes by its id.
        let mut specs: Vec<String> = img
            .repo_tags
            .iter()
            .chain(&img.repo_digests)
            .cloned()
            .collect();
        if specs.is_empty() {
            specs.push(img.id.clone());
        }
        for spec in specs {
            let lock = store.lock()?;
            let removal = super::rmi::remove_image(store, &spec, false, &lock)?;
            out.reclaimed += removal.reclaimed;
            lines.extend(removal.lines.into_iter().map(|l| {
                l.replacen("Untagged: ", "untagged: ", 1)
                    .replacen("Deleted: ", "deleted: ", 1)
            }));
        }
    }
    if !lines.is_empty() {
        out.output = format!("Deleted Images:\n{}\n", lines.join("\n"));
    }
    Ok(out)
}

/// Local volumes no container uses: anonymous ones, or all with `all`;
/// never those made with `--opt` (a host directory is not berth's to empty).
fn prune_volumes(store: &Store, all: bool, filter: &PruneFilter) -> Result<Pruned> {
    let mut out = Pruned::default();
    let mut names = Vec::new();
    for v in store.volumes()? {
        if (!all && !v.anonymous) || !v.options.is_empty() {
            continue;
        }
        if !filter.allows(None, |k| v.labels.get(k).map(String::as_str)) {
            continue;
        }
        let lock = store.lock()?;
        if !store.volume_users(&v.name)?.is_empty() {
            continue;
        }
        let size = tree_size(&store.volume_data(&v.name));
        store.remove_volume(&v.name, &lock)?;
        out.reclaimed += size;
        names.push(v.name);
    }
    if !names.is_empty() {
        out.output = format!("Deleted Volumes:\n{}\n", names.join("\n"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_prompt_is_dockers() {
        let w = system_warning(&["all stopped containers", "all dangling images"], &[]);
        assert_eq!(
            w,
            "WARNING! This will remove:\n  - all stopped containers\n  - all dangling images\n"
        );
        let w = system_warning(&["all stopped containers"], &["label=a".into()]);
        assert_eq!(
            w,
            "WARNING! This will remove:\n  - all stopped containers\n\n  Items to be pruned will be filtered with:\n  - label=a\n"
        );
    }

    #[test]
    fn pruners_follow_the_options() {
        let plain = PruneOptions {
            all: false,
            volumes: false,
        };
        let warnings: Vec<&str> = PRUNERS.iter().filter_map(|p| (p.warning)(plain)).collect();
        assert_eq!(
            warnings,
            [
                "all stopped containers",
                "all networks not used by at least one container",
                "all dangling images",
                "unused build cache"
            ]
        );
        let all = PruneOptions {
            all: true,
            volumes: true,
        };
        assert_eq!(PRUNERS.iter().filter_map(|p| (p.warning)(all)).count(), 5);
    }
}
