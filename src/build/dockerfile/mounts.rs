//! `RUN --mount=type=cache|secret|bind|tmpfs|ssh,...`: the comma-separated
//! fields (CSV quoting allowed) become a typed [`Mount`], after variable
//! substitution of each value, with BuildKit's checks and messages.

use super::suggest::with_hint;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MountType {
    Bind,
    Cache,
    Tmpfs,
    Secret,
    Ssh,
}

impl MountType {
    pub fn as_str(self) -> &'static str {
        match self {
            MountType::Bind => "bind",
            MountType::Cache => "cache",
            MountType::Tmpfs => "tmpfs",
            MountType::Secret => "secret",
            MountType::Ssh => "ssh",
        }
    }
}

/// How concurrent builds share a cache mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheSharing {
    Shared,
    Private,
    Locked,
}

/// One `--mount` of a RUN step.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Mount {
    pub kind: MountType,
    /// A stage or image the files come from (bind, cache).
    pub from: Option<String>,
    pub source: Option<String>,
    pub target: Option<String>,
    pub read_only: bool,
    /// tmpfs size in bytes.
    pub size_limit: Option<u64>,
    /// Cache or secret id.
    pub id: Option<String>,
    pub sharing: Option<CacheSharing>,
    /// Secret or ssh: the build fails if it is not provided.
    pub required: bool,
    /// Secret exposed as this environment variable.
    pub env: Option<String>,
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

impl Mount {
    /// Where the mount appears in the container, with BuildKit's defaults:
    /// a secret without a target goes to `/run/secrets/<id>`.
    pub fn effective_target(&self) -> Option<String> {
        match (&self.target, self.kind) {
            (Some(t), _) => Some(t.clone()),
            (None, MountType::Secret) => {
                let id = self.id.clone().or_else(|| self.source.clone())?;
                let base = id.rsplit('/').next().unwrap_or(&id).to_string();
                Some(format!("/run/secrets/{base}"))
            }
            (None, MountType::Ssh) => None,
            (None, _) => None,
        }
    }

    /// A cache mount's id: the `id=` field, else its target.
    pub fn cache_id(&self) -> Option<String> {
        self.id.clone().or_else(|| self.target.clone())
    }
}

/// Splits one CSV record (RFC 4180: `"..."` fields, `""` for a quote).
pub(super) fn csv_fields(s: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    loop {
        let mut field = String::new();
        if chars.get(i) == Some(&'"') {
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err("extraneous or missing \" in quoted-field".to_string()),
                    Some('"') if chars.get(i + 1) == Some(&'"') => {
                        field.push('"');
                        i += 2;
                    }
                    Some('"') => {
                        i += 1;
                        break;
                    }
                    Some(c) => {
                        field.push(*c);
                        i += 1;
                    }
                }
            }
            if !matches!(chars.get(i), None | Some(',')) {
                return Err("extraneous or missing \" in quoted-field".to_string());
            }
        } else {
            while let Some(&c) = chars.get(i) {
                if c == ',' {
                    break;
                }
                if c == '"' {
                    return Err("bare \" in non-quoted-field".to_string());
                }
                field.push(c);
                i += 1;
            }
        }
        fields.push(field);
        if chars.get(i) == Some(&',') {
            i += 1;
        } else {
            return Ok(fields);
        }
    }
}

/// docker/go-units `RAMInBytes`: `64m`, `1g`, `512k`, `100`, binary units.
fn ram_in_bytes(s: &str) -> Option<u64> {
    let t = s.trim();
    let num_len = t
        .char_indices()
        .find(|&(_, c)| !(c.is_ascii_digit() || c == '.'))
        .map_or(t.len(), |(i, _)| i);
    let (num, unit) = t.split_at(num_len);
    let value: f64 = num.parse().ok()?;
    let unit = unit.trim_start().to_ascii_lowercase();
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let mult: u64 = match unit {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        "p" => 1 << 50,
        _ => return None,
    };
    Some((value * mult as f64) as u64)
}

fn parse_bool(key: &str, v: &str) -> Result<bool, String> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(format!("invalid value for {key}: {v}")),
    }
}

/// The `from=` field of a mount, read before substitution: the stage graph
/// needs it, and BuildKit forbids variables in it.
pub fn mount_from(spec: &str) -> Result<Option<String>, String> {
    let fields = csv_fields(spec).map_err(|e| format!("failed to parse csv mounts: {e}"))?;
    let mut from = None;
    for f in fields {
        if let Some((k, v)) = f.split_once('=') {
            if k.eq_ignore_ascii_case("from") {
                if v.find('$').is_some_and(|i| i != v.len() - 1) {
                    return Err(
                        "'from' doesn't support variable expansion, define alias stage instead"
                            .to_string(),
                    );
                }
                from = Some(v.to_string());
            }
        }
    }
    Ok(from)
}

/// Parses one `--mount` value, substituting variables in each value with
/// `expand`.
pub fn parse_mount(
    spec: &str,
    expand: &mut dyn FnMut(&str) -> Result<String, String>,
) -> Result<Mount, String> {
    let fields = csv_fields(spec).map_err(|e| format!("failed to parse csv mounts: {e}"))?;
    let mut m = Mount {
        kind: MountType::Bind,
        from: None,
        source: None,
        target: None,
        read_only: false,
        size_limit: None,
        id: None,
        sharing: None,
        required: false,
        env: None,
        mode: None,
        uid: None,
        gid: None,
    };
    let mut ro_auto = true;
    for field in &fields {
        let (key, value) = match field.split_once('=') {
            Some((k, v)) => (k.to_ascii_lowercase(), Some(v)),
            None => (field.to_ascii_lowercase(), None),
        };
        let Some(value) = value else {
            match key.as_str() {
                "readonly" | "ro" => {
                    m.read_only = true;
                    ro_auto = false;
                }
                "readwrite" | "rw" => {
                    m.read_only = false;
                    ro_auto = false;
                }
                "required" if matches!(m.kind, MountType::Secret | MountType::Ssh) => {
                    m.required = true
                }
                "required" => {
                    return Err(format!(
                        "unexpected key '{key}' for mount type '{}'",
                        m.kind.as_str()
                    ))
                }
                _ => return Err(format!("invalid field '{field}' must be a key=value pair")),
            }
            continue;
        };
        let value = expand(value)?;
        let num = |radix: u32, what: &str| {
            u32::from_str_radix(&value, radix)
                .map_err(|_| format!("invalid value {value} for {what}"))
        };
        match key.as_str() {
            "type" => {
                m.kind = match value.to_ascii_lowercase().as_str() {
                    "bind" => MountType::Bind,
                    "cache" => MountType::Cache,
                    "tmpfs" => MountType::Tmpfs,
                    "secret" => MountType::Secret,
                    "ssh" => MountType::Ssh,
                    _ => {
                        return Err(with_hint(
                            format!("unsupported mount type {}", super::ast::go_quote(&value)),
                            &value,
                            &["bind", "cache", "tmpfs", "secret", "ssh"],
                            true,
                        ))
                    }
                }
            }
            "from" => m.from = Some(value),
            "source" | "src" => m.source = Some(value),
            "target" | "dst" | "destination" => m.target = Some(value),
            "readonly" | "ro" => {
                m.read_only = parse_bool(&key, &value)?;
                ro_auto = false;
            }
            "readwrite" | "rw" => {
                m.read_only = !parse_bool(&key, &value)?;
                ro_auto = false;
            }
            "required" if matches!(m.kind, MountType::Secret | MountType::Ssh) => {
                m.required = parse_bool(&key, &value)?
            }
            "size" if m.kind == MountType::Tmpfs => {
                m.size_limit = Some(
                    ram_in_bytes(&value)
                        .ok_or_else(|| format!("invalid value for {key}: {value}"))?,
                )
            }
            "required" | "size" => {
                return Err(format!(
                    "unexpected key '{key}' for mount type '{}'",
                    m.kind.as_str()
                ))
            }
            "id" => m.id = Some(value),
            "sharing" => {
                m.sharing = Some(match value.to_ascii_lowercase().as_str() {
                    "shared" => CacheSharing::Shared,
                    "private" => CacheSharing::Private,
                    "locked" => CacheSharing::Locked,
                    _ => {
                        return Err(with_hint(
                            format!("unsupported sharing value {}", super::ast::go_quote(&value)),
                            &value,
                            &["shared", "private", "locked"],
                            true,
                        ))
                    }
                })
            }
            "mode" => m.mode = Some(num(8, "mode")?),
            "uid" => m.uid = Some(num(10, "uid")?),
            "gid" => m.gid = Some(num(10, "gid")?),
            "env" => m.env = Some(value),
            _ => {
                return Err(with_hint(
                    format!("unexpected key '{key}' in '{field}'"),
                    &key,
                    &[
                        "type",
                        "from",
                        "source",
                        "target",
                        "readonly",
                        "id",
                        "sharing",
                        "required",
                        "size",
                        "mode",
                        "uid",
                        "gid",
                        "src",
                        "dst",
                        "destination",
                        "ro",
                        "rw",
                        "readwrite",
                        "env",
                    ],
                    true,
                ))
            }
        }
    }
    let file_info_allowed = matches!(
        m.kind,
        MountType::Secret | MountType::Ssh | MountType::Cache
    );
    if !file_info_allowed {
        let t = super::ast::go_quote(m.kind.as_str());
        if m.mode.is_some() {
            return Err(format!("mode not allowed for {t} type mounts"));
        }
        if m.uid.is_some() {
            return Err(format!("uid not allowed for {t} type mounts"));
        }
        if m.gid.is_some() {
            return Err(format!("gid not allowed for {t} type mounts"));
        }
    }
    if ro_auto {
        m.read_only = !matches!(m.kind, MountType::Cache | MountType::Tmpfs);
    }
    if m.kind == MountType::Secret {
        if m.from.is_some() {
            return Err("secret mount should not have a from".to_string());
        }
        if m.sharing.is_some() {
            return Err("secret mount should not define sharing".to_string());
        }
        if m.source.is_none() && m.target.is_none() && m.id.is_none() {
            return Err("invalid secret mount. one of source, target required".to_string());
        }
        if m.source.is_some() && m.id.is_some() {
            return Err("both source and id can't be set".to_string());
        }
    }
    if m.sharing.is_some() && m.kind != MountType::Cache {
        return Err(format!(
            "invalid cache sharing set for {} mount",
            m.kind.as_str()
        ));
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(spec: &str) -> Result<Mount, String> {
        parse_mount(spec, &mut |v| Ok(v.replace("$DIR", "/d")))
    }

    #[test]
    fn typed_mounts() {
        let m =
            parse("type=cache,target=$DIR/cache,id=x,sharing=locked,mode=0755,uid=1000").unwrap();
        assert_eq!(m.kind, MountType::Cache);
        assert_eq!(m.target.as_deref(), Some("/d/cache"));
        assert_eq!(m.sharing, Some(CacheSharing::Locked));
        assert_eq!(
            (m.mode, m.uid, m.read_only),
            (Some(0o755), Some(1000), false)
        );
        let m = parse("type=bind,from=build,source=/out,target=/in").unwrap();
        assert_eq!((m.from.as_deref(), m.read_only), (Some("build"), true));
        let m = parse("type=bind,target=/x,rw").unwrap();
        assert!(!m.read_only);
        let m = parse("type=secret,id=aws,required").unwrap();
        assert!(m.required);
        assert_eq!(m.effective_target().as_deref(), Some("/run/secrets/aws"));
        let m = parse("type=tmpfs,target=/t,size=64m").unwrap();
        assert_eq!(m.size_limit, Some(64 << 20));
        let m = parse("target=/x").unwrap();
        assert_eq!(m.kind, MountType::Bind);
        let m = parse(r#""type=cache","target=/a,b""#).unwrap();
        assert_eq!(m.target.as_deref(), Some("/a,b"));
    }

    #[test]
    fn errors_in_buildkits_words() {
        let e = |s: &str| parse(s).unwrap_err();
        assert_eq!(
            e("type=cach,target=/x"),
            "unsupported mount type \"cach\" (did you mean cache?)"
        );
        assert_eq!(
            e("type=bind,target=/x,mode=0644"),
            "mode not allowed for \"bind\" type mounts"
        );
        assert_eq!(
            e("type=secret,from=a,id=x"),
            "secret mount should not have a from"
        );
        assert_eq!(
            e("type=secret"),
            "invalid secret mount. one of source, target required"
        );
        assert_eq!(
            e("type=bind,sharing=shared"),
            "invalid cache sharing set for bind mount"
        );
        assert_eq!(
            e("type=bind,required"),
            "unexpected key 'required' for mount type 'bind'"
        );
        assert_eq!(
            e("type=cache,targt=/x"),
            "unexpected key 'targt' in 'targt=/x' (did you mean target?)"
        );
        assert_eq!(
            e("type=cache,bogus"),
            "invalid field 'bogus' must be a key=value pair"
        );
        assert_eq!(e("type=cache,uid=x"), "invalid value x for uid");
        assert_eq!(
            e("a\"b"),
            "failed to parse csv mounts: bare \" in non-quoted-field"
        );
        assert_eq!(
            mount_from("type=bind,from=$X,target=/"),
            Err("'from' doesn't support variable expansion, define alias stage instead".into())
        );
        assert_eq!(mount_from("type=bind,from=build"), Ok(Some("build".into())));
    }
}
