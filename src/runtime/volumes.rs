//! The mounts of a new container, made from its requests under the
//! store lock: missing bind sources for `-v`, named volumes on first use,
//! anonymous volumes for `-v /path` and the image's VOLUMEs, and the
//! mounts of `--volumes-from`.

use super::mount_spec::check_destination;
use crate::model::{MountKind, MountOrigin, MountPoint, MountRequest};
use crate::store::volumes::VolumeRecord;
use crate::store::{Store, StoreLock};
use anyhow::{bail, Context, Result};
use indexmap::IndexMap;
use std::path::PathBuf;

/// `--volumes-from CONTAINER[:ro|rw]`: the other container's volumes and
/// binds, read-only when asked.
pub(crate) fn volumes_from(store: &Store, specs: &[String]) -> Result<Vec<MountPoint>> {
    let mut out = Vec::new();
    for spec in specs {
        let (name, mode) = match spec.rsplit_once(':') {
            Some((n, m @ ("ro" | "rw"))) => (n, Some(m)),
            _ => (spec.as_str(), None),
        };
        let other = store
            .resolve_container(name)
            .with_context(|| format!("--volumes-from {spec}"))?;
        for m in other
            .host
            .storage
            .mounts
            .iter()
            .filter(|m| m.kind != MountKind::Tmpfs)
        {
            let mut m = m.clone();
            if let Some(mode) = mode {
                m.read_only = mode == "ro";
            }
            // The volume stays the other container's: removing this one must not delete it.
            m.anonymous = false;
            out.push(m);
        }
    }
    Ok(out)
}

/// Turns requests into the container's mounts: creates missing bind
/// directories for `-v`, named volumes on first use, anonymous volumes for
/// `-v /path` and for the image's VOLUMEs not otherwise mounted. Bind
/// sources are checked and made first, so that a refused one leaves no
/// volume behind; volumes made here go again if a later one fails.
pub(crate) fn materialize(
    store: &Store,
    requests: &[MountRequest],
    inherited: Vec<MountPoint>,
    image_volumes: &[String],
    lock: &StoreLock,
) -> Result<Vec<MountPoint>> {
    for r in requests.iter().filter(|r| r.kind == MountKind::Bind) {
        let src = PathBuf::from(r.source.as_deref().unwrap_or_default());
        if !src.exists() {
            if !r.create_missing_source {
                bail!(
                    "invalid mount config for type \"bind\": bind source path does not exist: {}",
                    src.display()
                );
            }
            std::fs::create_dir_all(&src)
                .with_context(|| format!("creating the bind mount source {}", src.display()))?;
        }
    }
    let mut made = Vec::new();
    let result = mount_points(store, requests, inherited, image_volumes, lock, &mut made);
    if result.is_err() {
        for name in made {
            let _ = store.remove_volume(&name, lock);
        }
    }
    result
}

/// The second half of [`materialize`]; `made` collects the volumes it created.
fn mount_points(
    store: &Store,
    requests: &[MountRequest],
    inherited: Vec<MountPoint>,
    image_volumes: &[String],
    lock: &StoreLock,
    made: &mut Vec<String>,
) -> Result<Vec<MountPoint>> {
    let mut volume = |name: String, labels: IndexMap<String, String>, anonymous: bool| {
        let existed = store.volume(&name).is_ok();
        let rec = store.create_volume(
            VolumeRecord {
                name: name.clone(),
                driver: "local".into(),
                labels,
                options: IndexMap::new(),
                created_at: crate::util::humanize::now_rfc3339(),
                anonymous,
            },
            lock,
        )?;
        if !existed {
            made.push(name);
        }
        anyhow::Ok(rec)
    };
    let mut out: Vec<MountPoint> = Vec::new();
    for r in requests {
        let mut m = MountPoint {
            kind: r.kind,
            destination: r.destination.clone(),
            read_only: r.read_only,
            nocopy: r.nocopy,
            tmpfs_options: r.tmpfs_options.clone(),
            origin: r.origin,
            ..Default::default()
        };
        match r.kind {
            MountKind::Bind => m.source = PathBuf::from(r.source.as_deref().unwrap_or_default()),
            MountKind::Volume => {
                let (name, anonymous) = match &r.source {
                    Some(n) => (n.clone(), r.anonymous),
                    None => (crate::util::ids::random_id(), true),
                };
                let rec = volume(name.clone(), r.volume_labels.clone(), anonymous)?;
                m.source = store.volume_mount_source(&rec);
                m.volume = Some(name);
                m.anonymous = anonymous;
            }
            MountKind::Tmpfs => {}
        }
        out.push(m);
    }
    for mut m in inherited {
        if !out.iter().any(|o| o.destination == m.destination) {
            m.origin = MountOrigin::Inherited;
            out.push(m);
        }
    }
    for path in image_volumes {
        let Ok(dest) = check_destination(path) else {
            continue;
        };
        if out.iter().any(|o| o.destination == dest) {
            continue;
        }
        let name = crate::util::ids::random_id();
        let rec = volume(name.clone(), IndexMap::new(), true)?;
        out.push(MountPoint {
            kind: MountKind::Volume,
            source: store.volume_mount_source(&rec),
            destination: dest,
            volume: Some(name),
            anonymous: true,
            origin: MountOrigin::Image,
            ..Default::default()
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::mount_spec::parse_all;

    #[test]
    fn materialize_creates_volumes_and_bind_sources() {
        let (dir, store) = crate::store::test_store();
        let lock = store.lock().unwrap();
        let host = dir.path().join("made/by/v");
        let reqs = parse_all(
            &[
                format!("{}:/h", host.display()),
                "named:/n".into(),
                "/anon".into(),
            ],
            &[],
            &["/t".into()],
        )
        .unwrap();
        let mounts =
            materialize(&store, &reqs, vec![], &["/n".into(), "/img".into()], &lock).unwrap();
        assert!(host.is_dir());
        assert_eq!(mounts.len(), 5);
        assert_eq!(mounts[1].volume.as_deref(), Some("named"));
        assert!(mounts[2].anonymous && mounts[4].anonymous && mounts[4].destination == "/img");
        assert_eq!(store.volumes().unwrap().len(), 3);
        let missing = parse_all(
            &[],
            &["type=bind,source=/no/such/dir,target=/x".into()],
            &[],
        )
        .unwrap();
        assert!(materialize(&store, &missing, vec![], &[], &lock)
            .unwrap_err()
            .to_string()
            .contains("does not exist"));
        // A refused bind source comes before any volume is made.
        let mixed = parse_all(
            &["fresh:/f".into(), "/anon".into()],
            &["type=bind,source=/no/such/dir,target=/x".into()],
            &[],
        )
        .unwrap();
        assert!(materialize(&store, &mixed, vec![], &["/img".into()], &lock).is_err());
        assert_eq!(store.volumes().unwrap().len(), 3);
        assert!(store.volume("fresh").is_err());
    }
}
