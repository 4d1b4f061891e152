//! `volume create|ls|inspect|rm|prune` and `unshare`.

use super::args::{
    UnshareArgs, VolumeCreateArgs, VolumeInspectArgs, VolumeLsArgs, VolumePruneArgs, VolumeRmArgs,
};
use super::output::{confirm, print_listing, print_objects, Listing};
use crate::store::volumes::{NoSuchVolume, VolumeRecord};
use crate::store::Store;
use crate::util::humanize::{human_size, now_rfc3339};
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
    let mut volumes = store.volumes()?;
    // Docker's CLI lists by name, in natural order (vol2 before vol10).
    volumes.sort_by(|a, b| natural_cmp(&a.name, &b.name));
    for v in volumes {
        let dangling = !used.contains(&v.name);
        let keep = args.filter.iter().try_fold(true, |keep, f| -> Result<bool> {
            Ok(keep
                && match f.split_once('=') {
                    Some(("dangling", d)) => match d {
                        "true" | "1" => dangling,
                        "false" | "0" => !dangling,
                        _ => bail!("invalid filter 'dangling={d}': use true or false"),
                    },
                    Some(("name", n)) => v.name.contains(n),
                    Some(("driver", d)) => v.driver == d,
                    Some(("label", l)) => match l.split_once('=') {
                        Some((k, val)) => v.labels.get(k).is_some_and(|x| x == val),
                        None => v.labels.contains_key(l),
                    },
                    _ => bail!("invalid filter '{f}': supported filters are dangling=, name=, driver= and label="),
                })
        })?;
        if !keep {
            continue;
        }
        if args.quiet {
            println!("{}", v.name);
            continue;
        }
        rows.push(json!({
            "Driver": v.driver,
            "Name": v.name,
            "Mountpoint": store.volume_data(&v.name),
            "Labels": v.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
            "Scope": "local",
            "CreatedAt": v.created_at,
        }));
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
                ("CreatedAt", "CREATED AT"),
            ],
            rows,
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
    super::image::report_missing(missing)
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

pub(crate) fn prune(args: VolumePruneArgs) -> Result<()> {
    let labels: Vec<(String, Option<String>)> = args
        .filter
        .iter()
        .map(|f| match f.split_once('=') {
            Some(("label", l)) => Ok(match l.split_once('=') {
                Some((k, v)) => (k.to_string(), Some(v.to_string())),
                None => (l.to_string(), None),
            }),
            _ => bail!("invalid filter '{f}': volume prune supports label=KEY[=VALUE]"),
        })
        .collect::<Result<_>>()?;
    let store = Store::open_default()?;
    if !args.force {
        let what = if args.all {
            "WARNING! This will remove all local volumes not used by at least one container."
        } else {
            "WARNING! This will remove anonymous local volumes not used by at least one container."
        };
        if !confirm(what)? {
            return Ok(());
        }
    }
    crate::userns::enter()?;
    // Leftovers of killed commands go while we hold the store anyway.
    store.clean_stale_tmp();
    let lock = store.lock()?;
    let mut removed = Vec::new();
    let mut reclaimed = 0;
    for v in store.volumes()? {
        let label_ok = labels.iter().all(|(k, val)| match val {
            Some(val) => v.labels.get(k) == Some(val),
            None => v.labels.contains_key(k),
        });
        if (!args.all && !v.anonymous) || !label_ok || !store.volume_users(&v.name)?.is_empty() {
            continue;
        }
        reclaimed += disk_usage(&store.volume_data(&v.name));
        store.remove_volume(&v.name, &lock)?;
        removed.push(v.name);
    }
    if !removed.is_empty() {
        println!("Deleted Volumes:\n{}\n", removed.join("\n"));
    }
    println!("Total reclaimed space: {}", human_size(reclaimed));
    Ok(())
}

/// Bytes used by the files under `path` (not following symlinks).
fn disk_usage(path: &std::path::Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    let mut total = meta.blocks() * 512;
    if meta.is_dir() {
        if let Ok(entries) = std::fs::read_dir(path) {
            total += entries
                .flatten()
                .map(|e| disk_usage(&e.path()))
                .sum::<u64>();
        }
    }
    total
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
