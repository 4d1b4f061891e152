//! `ps` (`container ls`): Docker's columns, `--format` fields, `-a -n -l -q
//! -s --no-trunc`, and the filters of `model::container_filter`.

use super::args::PsArgs;
use super::filters::lineage;
use super::output::{print_rows, Listing};
use super::template::Format;
use crate::image::config::ImageConfig;
use crate::model::container_filter::{Ancestor, Candidate, ContainerFilter, ListOptions};
use crate::model::filters::FilterArgs;
use crate::model::reference::Reference;
use crate::model::{ContainerRecord, ContainerState, MountKind};
use crate::store::images::{ImageIndex, ImageRecord};
use crate::store::Store;
use crate::util::humanize::{go_time, human_size_precision, time_ago};
use crate::util::ids::short_id;
use anyhow::Result;
use serde_json::{json, Value as Json};

const DEFAULT_FORMAT: &str =
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";

/// Docker's `ps` headers of every field a template can name.
pub(crate) const HEADERS: &[(&str, &str)] = &[
    ("ID", "CONTAINER ID"),
    ("Image", "IMAGE"),
    ("Command", "COMMAND"),
    ("CreatedAt", "CREATED AT"),
    ("RunningFor", "CREATED"),
    ("Ports", "PORTS"),
    ("State", "STATE"),
    ("Status", "STATUS"),
    ("Size", "SIZE"),
    ("Names", "NAMES"),
    ("Labels", "LABELS"),
    ("Mounts", "MOUNTS"),
    ("LocalVolumes", "LOCAL VOLUMES"),
    ("Networks", "NETWORKS"),
    ("Platform", "PLATFORM"),
];

pub(crate) fn ps(args: PsArgs) -> Result<()> {
    let store = Store::open_default()?;
    let filter_args = FilterArgs::parse(&args.filter)?;
    let index = store.images()?;
    let mut containers: Vec<(ContainerRecord, ContainerState)> = Vec::new();
    for c in store.containers()? {
        let state = store.observed_state(&c.id)?;
        containers.push((c, state));
    }
    // Newest first, as Docker lists.
    containers.sort_by_key(|(c, _)| std::cmp::Reverse(created_ns(&c.created)));
    // Reading each image's config costs: only for `expose=`.
    let wants_exposed = filter_args.contains("expose");
    let filter = ContainerFilter::new(
        filter_args,
        |v| container_by_id_or_name(&containers, v),
        |v| ancestor(&store, &index, v),
    )
    .map_err(super::daemon_error)?;
    let exposed: Vec<Vec<String>> = containers
        .iter()
        .map(|(c, _)| {
            if wants_exposed {
                exposed_ports(&store, &index, c)
            } else {
                Vec::new()
            }
        })
        .collect();
    let candidates: Vec<Candidate> = containers
        .iter()
        .zip(&exposed)
        .map(|((record, state), exposed)| Candidate {
            record,
            state,
            exposed,
        })
        .collect();
    let limit = if args.latest {
        Some(1)
    } else {
        usize::try_from(args.last).ok().filter(|&n| n > 0)
    };
    let opts = ListOptions {
        all: args.all,
        limit,
    };
    let chosen = filter.select(opts, &candidates);

    let format = match (args.quiet, args.format.as_deref()) {
        (true, _) => Format::parse(Some("{{.ID}}"), DEFAULT_FORMAT),
        (false, f) if args.size && matches!(f, None | Some("") | Some("table")) => {
            Format::parse(None, &format!("{DEFAULT_FORMAT}\t{{{{.Size}}}}"))
        }
        (false, f) => Format::parse(f, DEFAULT_FORMAT),
    };
    // Sizes cost a walk of each container's files: only when asked for.
    let sizes = args.size || format.template.contains(".Size");
    if sizes {
        crate::userns::enter()?;
    }
    let trunc = !args.no_trunc;
    let mut rows = Vec::new();
    let mut labels = Vec::new();
    for i in chosen {
        let (c, state) = &containers[i];
        rows.push(row(&store, &index, c, state, trunc, sizes));
        labels.push(
            c.config
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        );
    }
    let listing = Listing {
        columns: &[],
        extra_headers: HEADERS,
        rows,
        labels,
    };
    print_rows(&format, &listing)
}

fn created_ns(created: &str) -> i128 {
    created
        .parse::<jiff::Timestamp>()
        .map(|t| t.as_nanosecond())
        .unwrap_or(0)
}

/// `before=`/`since=`: a full id, a unique id prefix, or a name.
fn container_by_id_or_name(all: &[(ContainerRecord, ContainerState)], v: &str) -> Option<String> {
    let v = v.trim_start_matches('/');
    if let Some((c, _)) = all.iter().find(|(c, _)| c.id == v || c.name == v) {
        return Some(c.id.clone());
    }
    let hits: Vec<&ContainerRecord> = all
        .iter()
        .map(|(c, _)| c)
        .filter(|c| !v.is_empty() && c.id.starts_with(v))
        .collect();
    match hits.as_slice() {
        [one] => Some(one.id.clone()),
        _ => None,
    }
}

/// `ancestor=NAME|ID`: the image, and the images of this store built on
/// it (more layers on top of its layers, or the same layers with more
/// history, as a Dockerfile that only sets ENV makes).
fn ancestor(store: &Store, index: &ImageIndex, spec: &str) -> Option<Ancestor> {
    let img = index.resolve(spec).ok()?;
    let mut history = |i: &ImageRecord| lineage::history(store, i);
    let descendants = index
        .images
        .iter()
        .chain(&index.visible_shared())
        .filter(|other| lineage::built_on(other, img, &mut history))
        .map(|other| other.id.clone())
        .collect();
    Some(Ancestor {
        id: img.id.clone(),
        layers: img.layers.clone(),
        descendants,
    })
}

/// The ports the container exposes (`80/tcp`): recorded at create (the
/// image's EXPOSE, `--expose`, `-p`), else the image's.
fn exposed_ports(store: &Store, index: &ImageIndex, c: &ContainerRecord) -> Vec<String> {
    if !c.host.network.exposed.is_empty() {
        return c.host.network.exposed.clone();
    }
    if index.by_id(&c.image_id).is_none() {
        return Vec::new();
    }
    let Ok(blob) = store.get_blob(&c.image_id) else {
        return Vec::new();
    };
    ImageConfig::parse(&blob)
        .ok()
        .and_then(|cfg| cfg.config.exposed_ports)
        .map(|ports| {
            ports
                .keys()
                .map(|p| {
                    if p.contains('/') {
                        p.to_ascii_lowercase()
                    } else {
                        format!("{p}/tcp")
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

/// One row: Docker's `ContainerContext` fields.
pub(crate) fn row(
    store: &Store,
    index: &ImageIndex,
    c: &ContainerRecord,
    state: &ContainerState,
    trunc: bool,
    sizes: bool,
) -> Json {
    let mut label_pairs: Vec<String> = c
        .config
        .labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    label_pairs.sort();
    let mounts: Vec<String> = c
        .host
        .storage
        .mounts
        .iter()
        .filter(|m| m.kind != MountKind::Tmpfs)
        .map(|m| {
            let name = m
                .volume
                .clone()
                .unwrap_or_else(|| m.source.display().to_string());
            if trunc {
                ellipsis(&name, 15)
            } else {
                name
            }
        })
        .collect();
    let local_volumes = c
        .host
        .storage
        .mounts
        .iter()
        .filter(|m| m.kind == MountKind::Volume)
        .count();
    let size = if sizes {
        let rw = crate::util::du::tree_size(&store.container_dir(&c.id).join("upper"));
        let image: u64 = c
            .layers
            .iter()
            .filter_map(|l| store.layer(l).map(|r| r.shown_size()))
            .sum();
        let virt = rw + image;
        if virt > 0 {
            format!(
                "{} (virtual {})",
                human_size_precision(rw, 3),
                human_size_precision(virt, 3)
            )
        } else {
            human_size_precision(rw, 3)
        }
    } else {
        "0B".to_string()
    };
    json!({
        "Command": quoted_command(&c.config.args, trunc),
        "CreatedAt": go_time(&c.created),
        "ID": if trunc { short_id(&c.id).to_string() } else { c.id.clone() },
        "Image": image_column(index, c, trunc),
        "Labels": label_pairs.join(","),
        "LocalVolumes": local_volumes.to_string(),
        "Mounts": mounts.join(","),
        "Names": c.name,
        "Networks": super::network::network_names(c),
        "Platform": Json::Null,
        "Ports": super::network::display_ports(c, state),
        "RunningFor": time_ago(&c.created),
        "Size": size,
        "State": state.status.as_str(),
        "Status": super::container::status_text(state),
    })
}

/// The image as the user named it while that name still means the
/// container's image (its tag, no digest), else the image's short id, as
/// Docker's daemon and CLI decide together.
fn image_column(index: &ImageIndex, c: &ContainerRecord, trunc: bool) -> String {
    let same = index.resolve(&c.image).is_ok_and(|i| i.id == c.image_id);
    if !same {
        return if trunc {
            short_id(&c.image_id).to_string()
        } else {
            c.image_id.clone()
        };
    }
    if !trunc {
        return c.image.clone();
    }
    if short_id(&c.image_id) == short_id(&c.image) {
        return short_id(&c.image_id).to_string();
    }
    match Reference::parse(&c.image) {
        Ok(r) => match (r.tag(), r.digest()) {
            (Some(tag), Some(_)) => format!("{}:{tag}", r.familiar_name()),
            (None, Some(_)) => r.familiar_name(),
            _ => r.familiar(),
        },
        Err(_) => c.image.clone(),
    }
}

/// Docker's Command column: the arguments with spaces in single quotes,
/// cut to 20 characters with an ellipsis, Go-quoted.
pub(crate) fn quoted_command(args: &[String], truncate: bool) -> String {
    let joined = args
        .iter()
        .enumerate()
        .map(|(i, a)| {
            if i > 0 && a.contains(' ') {
                format!("'{a}'")
            } else {
                a.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    let shown = if truncate {
        ellipsis(&joined, 20)
    } else {
        joined
    };
    serde_json::to_string(&shown).unwrap_or_default()
}

/// Docker's `Ellipsis`: at most `max` characters, the last one `…`.
fn ellipsis(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    format!(
        "{}…",
        s.chars().take(max.saturating_sub(1)).collect::<String>()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_quoted_and_cut_like_docker_ps() {
        assert_eq!(quoted_command(&["sh".into()], true), "\"sh\"");
        let long: Vec<String> = vec!["sh".into(), "-c".into(), "exit 3".into()];
        assert_eq!(quoted_command(&long, true), "\"sh -c 'exit 3'\"");
        let longer: Vec<String> = vec![
            "sh".into(),
            "-c".into(),
            "echo a very long command line".into(),
        ];
        assert_eq!(quoted_command(&longer, true), "\"sh -c 'echo a very …\"");
        assert_eq!(
            quoted_command(&longer, false),
            "\"sh -c 'echo a very long command line'\""
        );
        assert_eq!(ellipsis("abcdefghijklmnopqrstu", 15), "abcdefghijklmn…");
    }
}
