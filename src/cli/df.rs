//! `system df [-v] [--format]`: what images, containers and volumes take,
//! and how much of it a prune would give back, in Docker's rows and
//! verbose tables. The summary is a list of sections ([`SECTIONS`]); the
//! build cache will be one more.

use super::args::DfArgs;
use super::output::{print_rows, write_out, Listing};
use super::template::Format;
use crate::model::{ContainerRecord, ContainerState, MountKind};
use crate::store::images::ImageRecord;
use crate::store::volumes::VolumeRecord;
use crate::store::Store;
use crate::util::du::tree_size;
use crate::util::humanize::{human_size, human_size_precision, time_ago};
use crate::util::ids::short_id;
use anyhow::Result;
use serde_json::{json, Value as Json};
use std::collections::HashMap;

/// Everything `system df` counts, read once.
pub(crate) struct Usage {
    images: Vec<ImageUsage>,
    /// Sum of the sizes of every layer the images use, each once.
    layers_size: u64,
    containers: Vec<(ContainerRecord, ContainerState, u64)>,
    volumes: Vec<(VolumeRecord, usize, u64)>,
}

struct ImageUsage {
    record: ImageRecord,
    /// Bytes of its layers that other images use too.
    shared: u64,
    containers: usize,
}

/// One row of the summary table.
pub(crate) struct Section {
    pub(crate) kind: &'static str,
    pub(crate) row: fn(&Usage) -> Json,
}

pub(crate) const SECTIONS: &[Section] = &[
    Section {
        kind: "Images",
        row: images_row,
    },
    Section {
        kind: "Containers",
        row: containers_row,
    },
    Section {
        kind: "Local Volumes",
        row: volumes_row,
    },
];

const SUMMARY: &str = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}";

pub(crate) fn df(args: DfArgs) -> Result<()> {
    let store = Store::open_default()?;
    // Container and volume files may belong to subordinate ids.
    crate::userns::enter()?;
    let usage = read_usage(&store)?;
    if args.verbose {
        return verbose(&store, &usage, args.format.as_deref());
    }
    let rows: Vec<Json> = SECTIONS
        .iter()
        .map(|s| {
            let mut r = (s.row)(&usage);
            r["Type"] = json!(s.kind);
            r
        })
        .collect();
    let listing = Listing {
        columns: &[],
        extra_headers: &[
            ("Type", "TYPE"),
            ("TotalCount", "TOTAL"),
            ("Active", "ACTIVE"),
            ("Size", "SIZE"),
            ("Reclaimable", "RECLAIMABLE"),
        ],
        rows,
        labels: Vec::new(),
    };
    print_rows(&Format::parse(args.format.as_deref(), SUMMARY), &listing)
}

fn read_usage(store: &Store) -> Result<Usage> {
    let containers: Vec<(ContainerRecord, ContainerState, u64)> = store
        .containers()?
        .into_iter()
        .map(|c| {
            let state = store.observed_state(&c.id).unwrap_or_default();
            let size = tree_size(&store.container_dir(&c.id).join("upper"));
            (c, state, size)
        })
        .collect();
    let index = store.images()?;
    let mut layer_users: HashMap<&str, usize> = HashMap::new();
    for img in &index.images {
        for l in &img.layers {
            *layer_users.entry(l).or_default() += 1;
        }
    }
    let layer_size = |l: &str| store.layer(l).map_or(0, |r| r.size);
    let layers_size = layer_users.keys().map(|l| layer_size(l)).sum();
    let images = index
        .images
        .iter()
        .map(|img| ImageUsage {
            record: img.clone(),
            shared: img
                .layers
                .iter()
                .filter(|l| layer_users.get(l.as_str()).copied().unwrap_or(0) > 1)
                .map(|l| layer_size(l))
                .sum(),
            containers: containers
                .iter()
                .filter(|(c, _, _)| c.image_id == img.id)
                .count(),
        })
        .collect();
    let mut volumes = Vec::new();
    for v in store.volumes()? {
        let links =
            containers
                .iter()
                .filter(|(c, _, _)| {
                    c.host.storage.mounts.iter().any(|m| {
                        m.kind == MountKind::Volume && m.volume.as_deref() == Some(&v.name)
                    })
                })
                .count();
        let size = tree_size(&store.volume_data(&v.name));
        volumes.push((v, links, size));
    }
    Ok(Usage {
        images,
        layers_size,
        containers,
        volumes,
    })
}

/// `1.2MB (50%)`, or the size alone when there is nothing.
fn reclaimable(part: u64, total: u64) -> String {
    match (part * 100).checked_div(total) {
        Some(percent) => format!("{} ({percent}%)", human_size(part)),
        None => human_size(part),
    }
}

fn images_row(u: &Usage) -> Json {
    let active: Vec<&ImageUsage> = u.images.iter().filter(|i| i.containers > 0).collect();
    // Docker: what active images hold alone stays; the rest could go.
    let used: u64 = active
        .iter()
        .map(|i| i.record.size.saturating_sub(i.shared))
        .sum();
    json!({
        "TotalCount": u.images.len().to_string(),
        "Active": active.len().to_string(),
        "Size": human_size(u.layers_size),
        "Reclaimable": reclaimable(u.layers_size.saturating_sub(used), u.layers_size),
    })
}

fn containers_row(u: &Usage) -> Json {
    let total: u64 = u.containers.iter().map(|(_, _, s)| s).sum();
    let idle: u64 = u
        .containers
        .iter()
        .filter(|(_, st, _)| !st.status.is_active())
        .map(|(_, _, s)| s)
        .sum();
    json!({
        "TotalCount": u.containers.len().to_string(),
        "Active": u.containers.iter().filter(|(_, st, _)| st.status.is_active()).count().to_string(),
        "Size": human_size(total),
        "Reclaimable": reclaimable(idle, total),
    })
}

fn volumes_row(u: &Usage) -> Json {
    let total: u64 = u.volumes.iter().map(|(_, _, s)| s).sum();
    let unused: u64 = u
        .volumes
        .iter()
        .filter(|(_, links, _)| *links == 0)
        .map(|(_, _, s)| s)
        .sum();
    json!({
        "TotalCount": u.volumes.len().to_string(),
        "Active": u.volumes.iter().filter(|(_, l, _)| *l > 0).count().to_string(),
        "Size": human_size(total),
        "Reclaimable": reclaimable(unused, total),
    })
}

/// `-v`: one table per kind, as Docker's `verboseWriteTable`.
fn verbose(store: &Store, u: &Usage, format: Option<&str>) -> Result<()> {
    if format.is_some_and(|f| f != "table") {
        anyhow::bail!(
            "berth system df -v prints Docker's tables only; use `berth images`, `berth ps -a -s` or `berth volume ls` with --format for templates"
        );
    }
    let index = store.images()?;
    let mut text = String::from("Images space usage:\n\n");
    let mut rows = String::from(
        "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\tSHARED SIZE\tUNIQUE SIZE\tCONTAINERS\n",
    );
    for i in &u.images {
        let r = &i.record;
        let (repo, tag) = r
            .repo_tags
            .first()
            .and_then(|t| crate::model::reference::Reference::parse(t).ok())
            .and_then(|t| t.tag().map(|tag| (t.familiar_name(), tag.to_string())))
            .unwrap_or_else(|| ("<none>".into(), "<none>".into()));
        rows.push_str(&format!(
            "{repo}\t{tag}\t{}\t{}\t{}\t{}\t{}\t{}\n",
            short_id(&r.id),
            r.created
                .as_deref()
                .map(time_ago)
                .unwrap_or_else(|| "N/A".into()),
            human_size_precision(r.size, 3),
            human_size(i.shared),
            human_size(r.size.saturating_sub(i.shared)),
            i.containers
        ));
    }
    text.push_str(&String::from_utf8_lossy(&super::output::align(&rows)?));
    text.push_str("\nContainers space usage:\n\n");
    let mut rows =
        String::from("CONTAINER ID\tIMAGE\tCOMMAND\tLOCAL VOLUMES\tSIZE\tCREATED\tSTATUS\tNAMES\n");
    for (c, state, size) in &u.containers {
        let image = if index.resolve(&c.image).is_ok_and(|i| i.id == c.image_id) {
            crate::model::reference::familiar(&c.image)
        } else {
            short_id(&c.image_id).to_string()
        };
        let volumes = c
            .host
            .storage
            .mounts
            .iter()
            .filter(|m| m.kind == MountKind::Volume)
            .count();
        rows.push_str(&format!(
            "{}\t{image}\t{}\t{volumes}\t{}\t{}\t{}\t{}\n",
            short_id(&c.id),
            super::ps::quoted_command(&c.config.args, true),
            human_size_precision(*size, 3),
            time_ago(&c.created),
            super::container::status_text(state),
            c.name
        ));
    }
    text.push_str(&String::from_utf8_lossy(&super::output::align(&rows)?));
    text.push_str("\nLocal Volumes space usage:\n\n");
    let mut rows = String::from("VOLUME NAME\tLINKS\tSIZE\n");
    for (v, links, size) in &u.volumes {
        rows.push_str(&format!("{}\t{links}\t{}\n", v.name, human_size(*size)));
    }
    text.push_str(&String::from_utf8_lossy(&super::output::align(&rows)?));
    write_out(&text, false)
}

#[cfg(test)]
mod tests {
    use super::reclaimable;

    #[test]
    fn reclaimable_has_a_percentage_when_there_is_something() {
        assert_eq!(reclaimable(0, 0), "0B");
        assert_eq!(reclaimable(500, 1000), "500B (50%)");
        assert_eq!(reclaimable(1000, 1000), "1kB (100%)");
    }
}
