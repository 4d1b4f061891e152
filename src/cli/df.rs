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
use crate::util::humanize::{go_time, human_size, human_size_precision, time_ago};
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
    build_cache: crate::build::prune::CacheUsage,
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
    Section {
        kind: "Build Cache",
        row: build_cache_row,
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
    let layer_size = |l: &str| store.layer(l).map_or(0, |r| r.shown_size());
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
        build_cache: crate::build::prune::usage(store)?,
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

fn build_cache_row(u: &Usage) -> Json {
    let c = &u.build_cache;
    json!({
        "TotalCount": c.count.to_string(),
        "Active": c.active.to_string(),
        "Size": human_size(c.size),
        "Reclaimable": human_size(c.reclaimable),
    })
}

/// `-v`: one table per kind, as Docker's `verboseWriteTable`; with a
/// `--format` template, the template run once on `{Images, Containers,
/// Volumes, BuildCache}` (untruncated rows), as Docker's `verboseWrite`.
fn verbose(store: &Store, u: &Usage, format: Option<&str>) -> Result<()> {
    let table = matches!(format, None | Some("") | Some("table"));
    let index = store.images()?;
    let images: Vec<Json> = u
        .images
        .iter()
        .map(|i| {
            let r = &i.record;
            let (repo, tag) = r
                .repo_tags
                .first()
                .and_then(|t| crate::model::reference::Reference::parse(t).ok())
                .and_then(|t| t.tag().map(|tag| (t.familiar_name(), tag.to_string())))
                .unwrap_or_else(|| ("<none>".into(), "<none>".into()));
            json!({
                "Containers": i.containers.to_string(),
                "CreatedAt": r.created.as_deref().map(go_time).unwrap_or_default(),
                "CreatedSince": r.created.as_deref().map(time_ago).unwrap_or_else(|| "N/A".into()),
                "Digest": "",
                "ID": if table { short_id(&r.id).to_string() } else { r.id.clone() },
                "Repository": repo,
                "SharedSize": human_size(i.shared),
                "Size": human_size_precision(r.size, 3),
                "Tag": tag,
                "UniqueSize": human_size(r.size.saturating_sub(i.shared)),
                "VirtualSize": human_size(r.size),
            })
        })
        .collect();
    let containers: Vec<Json> = u
        .containers
        .iter()
        .map(|(c, state, size)| {
            let mut row = super::ps::row(store, &index, c, state, table, false);
            // Docker leaves the virtual size out here.
            row["Size"] = json!(human_size_precision(*size, 3));
            row
        })
        .collect();
    let volumes: Vec<Json> = u
        .volumes
        .iter()
        .map(|(v, links, size)| {
            json!({
                "Availability": "N/A",
                "Driver": v.driver,
                "Group": "N/A",
                "Labels": v.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
                "Links": links.to_string(),
                "Mountpoint": store.volume_data(&v.name),
                "Name": v.name,
                "Scope": "local",
                "Size": human_size(*size),
                "Status": "N/A",
            })
        })
        .collect();
    if let Some(f) = format.filter(|_| !table) {
        let data = json!({
            "Images": images,
            "Containers": containers,
            "Volumes": volumes,
            "BuildCache": [],
        });
        // As Docker: the template's output alone, no newline after it.
        let text = if f.trim() == "{{json .}}" || f.trim() == "json" {
            serde_json::to_string(&data)?
        } else {
            let tmpl = super::template::parse(
                &super::template::unescape(f),
                super::template::Mode::Object,
            )?;
            super::template::execute(&tmpl, &data)?
        };
        return write_out(&text, false);
    }
    let section =
        |title: &str, format: &str, headers: &[(&str, &str)], rows: Vec<Json>| -> Result<()> {
            write_out(title, false)?;
            let listing = Listing {
                columns: &[],
                extra_headers: headers,
                rows,
                labels: Vec::new(),
            };
            print_rows(&Format::parse(None, format), &listing)
        };
    section(
        "Images space usage:\n\n",
        "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}",
        &[
            ("Repository", "REPOSITORY"),
            ("Tag", "TAG"),
            ("ID", "IMAGE ID"),
            ("CreatedSince", "CREATED"),
            ("Size", "SIZE"),
            ("SharedSize", "SHARED SIZE"),
            ("UniqueSize", "UNIQUE SIZE"),
            ("Containers", "CONTAINERS"),
        ],
        images,
    )?;
    section(
        "\nContainers space usage:\n\n",
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}",
        super::ps::HEADERS,
        containers,
    )?;
    section(
        "\nLocal Volumes space usage:\n\n",
        "table {{.Name}}\t{{.Links}}\t{{.Size}}",
        &[
            ("Name", "VOLUME NAME"),
            ("Links", "LINKS"),
            ("Size", "SIZE"),
        ],
        volumes,
    )
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
