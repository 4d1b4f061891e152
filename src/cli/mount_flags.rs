//! `-v`, `--mount`, `--tmpfs` and `--volumes-from` as Docker reads them:
//! first parsed and checked without touching anything (bad input is an
//! error before anything is created), then turned into the container's
//! mount list, creating named and anonymous volumes on the way.

use crate::store::containers::{MountKind, MountPoint};
use crate::store::volumes::{valid_volume_name, VolumeRecord};
use crate::store::{Store, StoreLock};
use anyhow::{bail, Context, Result};
use indexmap::IndexMap;
use std::path::PathBuf;

/// One requested mount, before volumes exist.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MountRequest {
    pub kind: MountKind,
    /// Host path (bind) or volume name; `None` for an anonymous volume or tmpfs.
    pub source: Option<String>,
    pub destination: String,
    pub read_only: bool,
    pub nocopy: bool,
    pub tmpfs_options: String,
    /// `-v` creates a missing bind source; `--mount` refuses it (as Docker).
    pub create_missing_source: bool,
    pub volume_labels: IndexMap<String, String>,
}

/// Parses every mount flag; fails on the first bad one.
pub fn parse_all(
    volumes: &[String],
    mounts: &[String],
    tmpfs: &[String],
) -> Result<Vec<MountRequest>> {
    let mut out = Vec::new();
    for v in volumes {
        out.push(parse_volume_flag(v)?);
    }
    for m in mounts {
        out.push(parse_mount_flag(m)?);
    }
    for t in tmpfs {
        out.push(parse_tmpfs_flag(t)?);
    }
    let mut seen = std::collections::HashSet::new();
    for r in &out {
        if !seen.insert(r.destination.clone()) {
            bail!("Duplicate mount point: {}", r.destination);
        }
    }
    Ok(out)
}

/// `-v NAME:/path[:ro]`, `-v /host:/path[:ro|rw]`, `-v /path`.
pub fn parse_volume_flag(spec: &str) -> Result<MountRequest> {
    let invalid = |why: &str| anyhow::anyhow!("invalid volume specification: '{spec}': {why}");
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, dest, mode) = match parts.as_slice() {
        [dest] => (None, *dest, None),
        [src, dest] => (Some(*src), *dest, None),
        [src, dest, mode] => (Some(*src), *dest, Some(*mode)),
        _ => return Err(invalid("too many colons")),
    };
    if source == Some("") {
        return Err(invalid("empty source"));
    }
    let destination = check_destination(dest).map_err(|e| invalid(&e))?;
    let mut req = MountRequest {
        destination,
        create_missing_source: true,
        ..Default::default()
    };
    for opt in mode
        .map(|m| m.split(',').collect::<Vec<_>>())
        .unwrap_or_default()
    {
        match opt {
            "ro" => req.read_only = true,
            "rw" => req.read_only = false,
            "nocopy" => req.nocopy = true,
            other => {
                return Err(invalid(&format!(
                    "unsupported mode {other:?}: berth supports ro, rw and nocopy"
                )))
            }
        }
    }
    match source {
        None => req.kind = MountKind::Volume,
        Some(src) if src.starts_with('/') => {
            req.kind = MountKind::Bind;
            req.source = Some(src.to_string());
            if req.nocopy {
                return Err(invalid("nocopy applies to volumes, not to bind mounts"));
            }
        }
        Some(name) => {
            if !valid_volume_name(name) {
                bail!(
                    "create {name}: \"{name}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
                );
            }
            req.kind = MountKind::Volume;
            req.source = Some(name.to_string());
        }
    }
    Ok(req)
}

/// `--mount type=volume|bind|tmpfs,source=,target=,readonly,volume-nocopy,tmpfs-size=`.
pub fn parse_mount_flag(spec: &str) -> Result<MountRequest> {
    let invalid =
        |why: String| anyhow::anyhow!("invalid argument \"{spec}\" for \"--mount\" flag: {why}");
    let mut kind = None;
    let mut req = MountRequest::default();
    let mut target = None;
    let (mut size, mut mode) = (None, None);
    for field in spec.split(',') {
        let (key, value) = match field.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), Some(v.trim())),
            None => (field.trim().to_ascii_lowercase(), None),
        };
        let flag = |v: Option<&str>| -> Result<bool> {
            match v {
                None | Some("1") | Some("true") => Ok(true),
                Some("0") | Some("false") => Ok(false),
                Some(other) => Err(invalid(format!("invalid value for {key}: {other}"))),
            }
        };
        let value_of = |v: Option<&str>| {
            v.map(str::to_string)
                .ok_or_else(|| invalid(format!("{key} needs a value")))
        };
        match key.as_str() {
            "type" => {
                kind = Some(match value {
                    Some("bind") => MountKind::Bind,
                    Some("volume") => MountKind::Volume,
                    Some("tmpfs") => MountKind::Tmpfs,
                    other => {
                        return Err(invalid(format!(
                            "unsupported mount type {other:?}: use bind, volume or tmpfs"
                        )))
                    }
                })
            }
            "source" | "src" => req.source = Some(value_of(value)?),
            "target" | "destination" | "dst" => target = Some(value_of(value)?),
            "readonly" | "ro" => req.read_only = flag(value)?,
            "volume-nocopy" => req.nocopy = flag(value)?,
            "volume-driver" => {
                if value != Some("local") {
                    return Err(invalid("only the local volume driver exists".into()));
                }
            }
            "volume-label" => {
                let v = value_of(value)?;
                let (k, val) = v.split_once('=').unwrap_or((&v, ""));
                req.volume_labels.insert(k.to_string(), val.to_string());
            }
            "tmpfs-size" => size = Some(value_of(value)?),
            "tmpfs-mode" => mode = Some(value_of(value)?),
            other => return Err(invalid(format!("unexpected key '{other}' in '{field}'"))),
        }
    }
    req.kind = kind.unwrap_or(MountKind::Volume);
    let target = target.ok_or_else(|| invalid("target is required".into()))?;
    req.destination = check_destination(&target).map_err(invalid)?;
    match req.kind {
        MountKind::Bind => {
            let src = req
                .source
                .clone()
                .ok_or_else(|| invalid("source is required when specifying bind mount".into()))?;
            if !src.starts_with('/') {
                return Err(invalid(format!("invalid mount config for type \"bind\": bind source path must be absolute: {src}")));
            }
        }
        MountKind::Volume => {
            if let Some(name) = &req.source {
                if !valid_volume_name(name) {
                    return Err(invalid(format!(
                        "\"{name}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed"
                    )));
                }
            }
        }
        MountKind::Tmpfs => {
            if req.source.is_some() {
                return Err(invalid(
                    "invalid mount config for type \"tmpfs\": source must not be specified".into(),
                ));
            }
            let mut opts = Vec::new();
            if let Some(s) = &size {
                opts.push(format!("size={}", tmpfs_size(s).map_err(invalid)?));
            }
            if let Some(m) = &mode {
                if u32::from_str_radix(m, 8).is_err() {
                    return Err(invalid(format!(
                        "invalid tmpfs-mode {m:?}: an octal mode such as 1777"
                    )));
                }
                opts.push(format!("mode={m}"));
            }
            req.tmpfs_options = opts.join(",");
        }
    }
    if req.kind != MountKind::Tmpfs && (size.is_some() || mode.is_some()) {
        return Err(invalid(
            "tmpfs-size and tmpfs-mode apply to type=tmpfs".into(),
        ));
    }
    Ok(req)
}

/// `--tmpfs /path[:rw,size=64m,mode=1777,...]`.
pub fn parse_tmpfs_flag(spec: &str) -> Result<MountRequest> {
    let (dest, opts) = spec.split_once(':').unwrap_or((spec, ""));
    let destination = check_destination(dest)
        .map_err(|e| anyhow::anyhow!("invalid --tmpfs value '{spec}': {e}"))?;
    let mut req = MountRequest {
        kind: MountKind::Tmpfs,
        destination,
        ..Default::default()
    };
    let mut kept = Vec::new();
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" => req.read_only = true,
            "rw" => req.read_only = false,
            o if o.starts_with("size=") => kept.push(format!(
                "size={}",
                tmpfs_size(&o[5..])
                    .map_err(|e| anyhow::anyhow!("invalid --tmpfs value '{spec}': {e}"))?
            )),
            o if o.starts_with("mode=")
                || o.starts_with("nr_inodes=")
                || ["noexec", "exec", "nosuid", "suid", "nodev", "dev"].contains(&o) =>
            {
                kept.push(o.to_string())
            }
            other => bail!("invalid --tmpfs value '{spec}': unsupported option {other:?}"),
        }
    }
    req.tmpfs_options = kept.join(",");
    Ok(req)
}

/// Sizes as Docker accepts them (`64m`, `1g`, bytes) in a form tmpfs takes.
fn tmpfs_size(s: &str) -> std::result::Result<String, String> {
    let lower = s.to_ascii_lowercase();
    let digits = lower.trim_end_matches(['k', 'm', 'g', 'b']);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "invalid size {s:?}: use a number with an optional k, m or g suffix"
        ));
    }
    Ok(lower.trim_end_matches('b').to_string())
}

/// An absolute, non-root path inside the container, cleaned of `//` and `/.`.
fn check_destination(dest: &str) -> std::result::Result<String, String> {
    if !dest.starts_with('/') {
        return Err(format!(
            "invalid mount path: '{dest}' mount path must be absolute"
        ));
    }
    let mut parts = Vec::new();
    for c in dest.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    if parts.is_empty() {
        return Err("invalid mount config: destination can't be '/'".into());
    }
    Ok(format!("/{}", parts.join("/")))
}

/// `--volumes-from CONTAINER[:ro|rw]`: the other container's volumes and
/// binds, read-only when asked.
pub fn volumes_from(store: &Store, specs: &[String]) -> Result<Vec<MountPoint>> {
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
pub fn materialize(
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
            ..Default::default()
        };
        match r.kind {
            MountKind::Bind => m.source = PathBuf::from(r.source.as_deref().unwrap_or_default()),
            MountKind::Volume => {
                let (name, anonymous) = match &r.source {
                    Some(n) => (n.clone(), false),
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
    for m in inherited {
        if !out.iter().any(|o| o.destination == m.destination) {
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
            ..Default::default()
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_flag_forms() {
        let v = parse_volume_flag("data:/var/lib/data:ro").unwrap();
        assert_eq!(
            (
                v.kind,
                v.source.as_deref(),
                v.destination.as_str(),
                v.read_only
            ),
            (MountKind::Volume, Some("data"), "/var/lib/data", true)
        );
        let b = parse_volume_flag("/srv/x:/x").unwrap();
        assert_eq!((b.kind, b.create_missing_source), (MountKind::Bind, true));
        let a = parse_volume_flag("/cache").unwrap();
        assert_eq!((a.kind, a.source), (MountKind::Volume, None));
        assert_eq!(parse_volume_flag("/a:/b//c/").unwrap().destination, "/b/c");
    }

    #[test]
    fn bad_volume_flags_are_refused() {
        assert!(parse_volume_flag("./rel:/x")
            .unwrap_err()
            .to_string()
            .contains("use absolute path"));
        assert!(parse_volume_flag("/a:/")
            .unwrap_err()
            .to_string()
            .contains("can't be '/'"));
        assert!(parse_volume_flag("/a:rel")
            .unwrap_err()
            .to_string()
            .contains("must be absolute"));
        assert!(parse_volume_flag("/a:/b:zz").is_err());
        assert!(parse_volume_flag("a$b:/x").is_err());
        assert!(parse_volume_flag("relative").is_err());
    }

    #[test]
    fn mount_flag_forms() {
        let m = parse_mount_flag("type=bind,source=/src,target=/dst,readonly").unwrap();
        assert_eq!(
            (m.kind, m.read_only, m.create_missing_source),
            (MountKind::Bind, true, false)
        );
        let v = parse_mount_flag("type=volume,src=v1,dst=/d,volume-nocopy").unwrap();
        assert!(v.nocopy);
        let t = parse_mount_flag("type=tmpfs,target=/t,tmpfs-size=64m").unwrap();
        assert_eq!(t.tmpfs_options, "size=64m");
        assert!(parse_mount_flag("type=bind,source=/s,target=/t,bogus=1")
            .unwrap_err()
            .to_string()
            .contains("unexpected key"));
        assert!(parse_mount_flag("type=volume,target=x").is_err());
        assert!(parse_mount_flag("type=bind,target=/x").is_err());
    }

    #[test]
    fn tmpfs_flag_and_duplicates() {
        let t = parse_tmpfs_flag("/run:rw,size=64m,mode=1777").unwrap();
        assert_eq!(t.tmpfs_options, "size=64m,mode=1777");
        assert!(parse_tmpfs_flag("/run:weird").is_err());
        assert!(parse_all(&["/a:/x".into()], &[], &["/x".into()])
            .unwrap_err()
            .to_string()
            .contains("Duplicate"));
    }

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
