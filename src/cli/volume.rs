//! `volume create|ls|inspect|rm|prune` and `unshare`.

use super::args::{UnshareArgs, VolumeCreateArgs, VolumeInspectArgs, VolumeLsArgs, VolumeRmArgs};
use super::filters::volumes::VolumeFilter;
use super::output::{print_listing, print_objects, Listing};
use crate::model::filters::FilterArgs;
use crate::store::volumes::{NoSuchVolume, VolumeRecord};
use crate::store::Store;
use crate::util::humanize::now_rfc3339;
use anyhow::{bail, Context, Result};
use indexmap::IndexMap;
use serde_json::{json, Value as Json};

pub(crate) fn create(args: VolumeCreateArgs) -> Result<()> {
    if args.driver != "local" {
        bail!(
            "creating a volume: driver {:?} is not available: berth has only the \"local\" driver",
            args.driver
        );
    }
    let labels = key_values(&args.label, "--label")?;
    let options = key_values(&args.opt, "--opt")?;
    check_local_options(&options)?;
    let store = Store::open_default()?;
    let name = args.name.unwrap_or_else(crate::util::ids::random_id);
    let lock = store.lock()?;
    let record = VolumeRecord {
        name,
        driver: "local".into(),
        labels,
        options,
        created_at: now_rfc3339(),
        anonymous: false,
    };
    let made = store.create_volume(record, &lock)?;
    println!("{}", made.name);
    Ok(())
}

fn key_values(items: &[String], flag: &str) -> Result<IndexMap<String, String>> {
    let mut out = IndexMap::new();
    for item in items {
        match item.split_once('=') {
            Some((k, v)) if !k.is_empty() => {
                out.insert(k.to_string(), v.to_string());
            }
            None if flag == "--label" && !item.is_empty() => {
                out.insert(item.clone(), String::new());
            }
            _ => bail!("invalid {flag} value {item:?}: expected KEY=VALUE"),
        }
    }
    Ok(out)
}

/// The local driver's options mount a filesystem on the host, which needs
/// privileges berth does not have, except the bind form: a volume that is an
/// existing host directory.
fn check_local_options(options: &IndexMap<String, String>) -> Result<()> {
    if options.is_empty() {
        return Ok(());
    }
    let is_bind = options.get("type").map(String::as_str) == Some("none")
        && options
            .get("o")
            .is_some_and(|o| o.split(',').any(|x| x == "bind" || x == "rbind"))
        && options
            .keys()
            .all(|k| ["type", "o", "device"].contains(&k.as_str()));
    if !is_bind {
        bail!(
            "creating a volume: options {:?} would mount a filesystem on the host, which needs root; \
             berth supports type=none,o=bind,device=/HOST/PATH, or use --tmpfs or a bind mount (-v /HOST/PATH:/PATH) instead",
            options
        );
    }
    let device = options
        .get("device")
        .map(String::as_str)
        .unwrap_or_default();
    if !device.starts_with('/') || !std::path::Path::new(device).is_dir() {
        bail!("creating a volume: device {device:?} must be an existing absolute host directory");
    }
    Ok(())
}

pub(crate) fn ls(args: VolumeLsArgs) -> Result<()> {
    let store = Store::open_default()?;
    let used: Vec<String> = store
        .containers()?
        .into_iter()
        .flat_map(|c| c.host.storage.mounts.into_iter().filter_map(|m| m.volume))
        .collect();
    let mut rows = Vec::new();
    let mut labels = Vec::new();
    let mut volumes = store.volumes()?;
    // Docker's CLI lists by name, in natural order (vol2 before vol10).
    volumes.sort_by(|a, b| natural_cmp(&a.name, &b.name));
    let filter =
        VolumeFilter::new(FilterArgs::parse(&args.filter)?).map_err(super::daemon_error)?;
    for v in volumes {
        if !filter.matches(&v.name, &v.driver, &v.labels, used.contains(&v.name)) {
            continue;
        }
        if args.quiet {
            println!("{}", v.name);
            continue;
        }
        rows.push(json!({
            "Availability": "N/A",
            "Driver": v.driver,
            "Group": "N/A",
            "Labels": v.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
            "Links": "N/A",
            "Mountpoint": store.volume_data(&v.name),
            "Name": v.name,
            "Scope": "local",
            "Size": "N/A",
            "Status": "N/A",
        }));
        labels.push(
            v.labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        );
    }
    if args.quiet {
        return Ok(());
    }
    print_listing(
        args.format.as_deref(),
        &Listing {
            columns: &[("Driver", "DRIVER"), ("Name", "VOLUME NAME")],
            extra_headers: &[
                ("Mountpoint", "MOUNTPOINT"),
                ("Labels", "LABELS"),
                ("Scope", "SCOPE"),
                ("Links", "LINKS"),
                ("Size", "SIZE"),
                ("Group", "GROUP"),
                ("Availability", "AVAILABILITY"),
                ("Status", "STATUS"),
            ],
            rows,
            labels,
        },
    )
}

/// Compares names with runs of digits taken as numbers.
fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let run = |s: &[u8]| s.iter().take_while(|c| c.is_ascii_digit()).count();
                let (na, nb) = (run(a), run(b));
                let trim = |s: &'_ [u8]| -> usize { s.iter().take_while(|&&c| c == b'0').count() };
                let (da, db) = (&a[trim(&a[..na])..na], &b[trim(&b[..nb])..nb]);
                let ord = da.len().cmp(&db.len()).then(da.cmp(db));
                if ord != Ordering::Equal {
                    return ord;
                }
                a = &a[na..];
                b = &b[nb..];
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(y);
                }
                a = &a[1..];
                b = &b[1..];
            }
        }
    }
}

pub(crate) fn inspect(args: VolumeInspectArgs) -> Result<()> {
    let store = Store::open_default()?;
    let mut objects = Vec::new();
    let mut missing = Vec::new();
    for name in &args.names {
        match store.volume(name) {
            Ok(v) => objects.push(inspect_json(&store, &v)),
            Err(e) => missing.push(e),
        }
    }
    print_objects(args.format.as_deref(), &objects)?;
    super::image::report_missing(missing, true)
}

/// The `inspect` object of volume `name`, for `berth inspect`; `None`
/// when there is no such volume.
pub(crate) fn inspect_object(store: &Store, name: &str) -> Option<Json> {
    store.volume(name).ok().map(|v| inspect_json(store, &v))
}

fn inspect_json(store: &Store, v: &VolumeRecord) -> Json {
    json!({
        "CreatedAt": v.created_at,
        "Driver": v.driver,
        "Labels": if v.labels.is_empty() { Json::Null } else { json!(v.labels) },
        "Mountpoint": store.volume_data(&v.name),
        "Name": v.name,
        "Options": if v.options.is_empty() { Json::Null } else { json!(v.options) },
        "Scope": "local",
    })
}

pub(crate) fn rm(args: VolumeRmArgs) -> Result<()> {
    let store = Store::open_default()?;
    crate::userns::enter()?;
    // Leftovers of killed commands go while we hold the store anyway.
    store.clean_stale_tmp();
    let mut failed = false;
    for name in &args.names {
        let lock = store.lock()?;
        let result = store.volume(name).and_then(|_| {
            let users = store.volume_users(name)?;
            if !users.is_empty() {
                bail!("remove {name}: volume is in use - [{}]", users.join(", "));
            }
            store.remove_volume(name, &lock)
        });
        match result {
            Ok(()) => println!("{name}"),
            Err(e) if args.force && e.downcast_ref::<NoSuchVolume>().is_some() => {}
            Err(e) => {
                failed = true;
                eprintln!("Error response from daemon: {e}");
            }
        }
    }
    if failed {
        return Err(super::ExitStatus(1).into());
    }
    Ok(())
}

/// `berth unshare [COMMAND]`: the command runs as root of berth's user
/// namespace, where files of subordinate ids can be changed and removed.
pub(crate) fn unshare(args: UnshareArgs) -> Result<()> {
    use std::os::unix::process::CommandExt;
    let store = Store::open_default()?;
    crate::userns::enter()?;
    let argv = if args.command.is_empty() {
        vec![std::env::var("SHELL").unwrap_or_else(|_| "/bin/sh".into())]
    } else {
        args.command
    };
    let err = std::process::Command::new(&argv[0])
        .args(&argv[1..])
        .env("BERTH_ROOT", store.root())
        .exec();
    let code = if err.kind() == std::io::ErrorKind::NotFound {
        127
    } else {
        126
    };
    eprintln!(
        "Error: running {:?} in berth's user namespace: {err}",
        argv[0]
    );
    Err(super::ExitStatus(code)).context("unshare")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_naturally() {
        let mut names = vec!["vol10", "b", "vol2", "a1", "vol02x", "vol2a", "A"];
        names.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(names, ["A", "a1", "b", "vol2", "vol2a", "vol02x", "vol10"]);
    }

    #[test]
    fn labels_and_options_are_key_values() {
        let l = key_values(&["a=b".into(), "bare".into()], "--label").unwrap();
        assert_eq!(l.get("bare").map(String::as_str), Some(""));
        assert!(key_values(&["bare".into()], "--opt").is_err());
        assert!(key_values(&["=x".into()], "--label").is_err());
    }

    #[test]
    fn only_bind_options_are_allowed() {
        let opts = |kv: &[(&str, &str)]| -> IndexMap<String, String> {
            kv.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert!(check_local_options(&opts(&[])).is_ok());
        assert!(
            check_local_options(&opts(&[("type", "none"), ("o", "bind"), ("device", "/")])).is_ok()
        );
        assert!(check_local_options(&opts(&[("type", "tmpfs"), ("device", "tmpfs")])).is_err());
        assert!(
            check_local_options(&opts(&[("type", "none"), ("o", "bind"), ("device", "rel")]))
                .is_err()
        );
        assert!(check_local_options(&opts(&[
            ("type", "none"),
            ("o", "bind"),
            ("device", "/no/such")
        ]))
        .is_err());
    }
}
