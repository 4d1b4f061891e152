//! `-v`, `--mount` and `--tmpfs` as Docker reads them: parsed and checked
//! into [`MountRequest`]s without touching anything, so that bad input is
//! an error before anything is created. The CLI parses its flags with
//! these, and compose its service's `volumes` and `tmpfs` (same syntax);
//! `runtime::volumes` makes the mounts at create.

use crate::model::{MountKind, MountOrigin, MountRequest};
use crate::store::volumes::valid_volume_name;
use anyhow::{bail, Result};

/// Parses every mount flag; fails on the first bad one.
pub(crate) fn parse_all(
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
pub(crate) fn parse_volume_flag(spec: &str) -> Result<MountRequest> {
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
pub(crate) fn parse_mount_flag(spec: &str) -> Result<MountRequest> {
    let invalid =
        |why: String| anyhow::anyhow!("invalid argument \"{spec}\" for \"--mount\" flag: {why}");
    let mut kind = None;
    let mut req = MountRequest {
        origin: MountOrigin::MountFlag,
        ..Default::default()
    };
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
pub(crate) fn parse_tmpfs_flag(spec: &str) -> Result<MountRequest> {
    let (dest, opts) = spec.split_once(':').unwrap_or((spec, ""));
    let destination = check_destination(dest)
        .map_err(|e| anyhow::anyhow!("invalid --tmpfs value '{spec}': {e}"))?;
    let mut req = MountRequest {
        kind: MountKind::Tmpfs,
        destination,
        origin: MountOrigin::TmpfsFlag,
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
pub(crate) fn check_destination(dest: &str) -> std::result::Result<String, String> {
    if !dest.starts_with('/') {
        return Err(format!(
            "invalid mount path: '{dest}' mount path must be absolute"
        ));
    }
    let cleaned = crate::util::path::clean(std::path::Path::new(dest));
    if cleaned.parts.is_empty() {
        return Err("invalid mount config: destination can't be '/'".into());
    }
    Ok(cleaned.absolute())
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
}
