//! `--change` instructions of `import` (Dockerfile syntax), applied to an
//! image's run configuration.

use crate::image::config::ContainerConfig;
use anyhow::{bail, Context, Result};
use serde_json::Value;

const SUPPORTED: &str = "CMD, ENTRYPOINT, ENV, WORKDIR, USER, EXPOSE, LABEL, VOLUME";

/// Applies each instruction in order.
pub(crate) fn apply_changes(config: &mut ContainerConfig, changes: &[String]) -> Result<()> {
    for change in changes {
        apply(config, change).with_context(|| format!("applying --change {change:?}"))?;
    }
    Ok(())
}

fn apply(config: &mut ContainerConfig, change: &str) -> Result<()> {
    let change = change.trim();
    let (keyword, rest) = change
        .split_once(char::is_whitespace)
        .map(|(k, r)| (k, r.trim()))
        .unwrap_or((change, ""));
    let keyword = keyword.to_ascii_uppercase();
    if rest.is_empty() {
        bail!("{keyword} needs an argument");
    }
    match keyword.as_str() {
        "CMD" => config.cmd = Some(command_form(rest)),
        "ENTRYPOINT" => config.entrypoint = Some(command_form(rest)),
        "ENV" => {
            let env = config.env.get_or_insert_with(Vec::new);
            for (k, v) in key_values(rest, "ENV")? {
                env.retain(|e| e.split_once('=').map_or(e.as_str(), |(n, _)| n) != k);
                env.push(format!("{k}={v}"));
            }
        }
        "LABEL" => {
            let labels = config.labels.get_or_insert_with(Default::default);
            for (k, v) in key_values(rest, "LABEL")? {
                labels.insert(k, v);
            }
        }
        "WORKDIR" => {
            let dir = words(rest)?.join(" ");
            config.working_dir = Some(if dir.starts_with('/') {
                dir
            } else {
                let base = config.working_dir.as_deref().unwrap_or("/");
                format!("{}/{dir}", base.trim_end_matches('/'))
            });
        }
        "USER" => config.user = Some(words(rest)?.join(" ")),
        "EXPOSE" => {
            let ports = config.exposed_ports.get_or_insert_with(Default::default);
            for p in words(rest)? {
                let (port, proto) = p.split_once('/').unwrap_or((&p, "tcp"));
                let proto = proto.to_ascii_lowercase();
                if port.is_empty() || !port.split('-').all(|n| n.parse::<u16>().is_ok()) {
                    bail!("invalid port {p:?}: expected PORT[/PROTO] such as 80/tcp");
                }
                if !["tcp", "udp", "sctp"].contains(&proto.as_str()) {
                    bail!("invalid protocol in {p:?}: expected tcp, udp or sctp");
                }
                ports.insert(format!("{port}/{proto}"), Value::Object(Default::default()));
            }
        }
        "VOLUME" => {
            let list = json_array(rest).map_or_else(|| words(rest), Ok)?;
            let vols = config.volumes.get_or_insert_with(Default::default);
            for v in list {
                vols.insert(v, Value::Object(Default::default()));
            }
        }
        other => bail!("{other} is not supported by --change; use one of {SUPPORTED}"),
    }
    Ok(())
}

/// Exec form (a JSON array) or shell form, run by `/bin/sh -c`.
fn command_form(rest: &str) -> Vec<String> {
    json_array(rest).unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into(), rest.to_string()])
}

fn json_array(rest: &str) -> Option<Vec<String>> {
    if !rest.starts_with('[') {
        return None;
    }
    serde_json::from_str(rest).ok()
}

/// `k=v k2="v 2"`, or the legacy `k v w` (key, then the rest as value).
fn key_values(rest: &str, what: &str) -> Result<Vec<(String, String)>> {
    let first = rest.split_whitespace().next().unwrap_or_default();
    if !first.contains('=') {
        let (k, v) = rest
            .split_once(char::is_whitespace)
            .with_context(|| format!("{what} needs KEY=VALUE or KEY VALUE"))?;
        return Ok(vec![(k.to_string(), words_keep_space(v.trim())?)]);
    }
    words(rest)?
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => bail!("{what}: {w:?} is not KEY=VALUE"),
        })
        .collect()
}

/// Splits on unquoted whitespace, removing quotes and backslash escapes
/// the way Dockerfile words are read.
fn words(s: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '"' | '\'' => {
                in_word = true;
                read_quoted(&mut chars, c, &mut cur)?;
            }
            '\\' => {
                in_word = true;
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

/// Like `words` but keeps the whitespace between them (a legacy ENV value).
fn words_keep_space(s: &str) -> Result<String> {
    let mut cur = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' | '\'' => read_quoted(&mut chars, c, &mut cur)?,
            '\\' => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            c => cur.push(c),
        }
    }
    Ok(cur)
}

fn read_quoted(chars: &mut std::str::Chars<'_>, quote: char, cur: &mut String) -> Result<()> {
    loop {
        match chars.next() {
            None => bail!("unterminated {quote} quote"),
            Some(c) if c == quote => return Ok(()),
            Some('\\') if quote == '"' => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            Some(c) => cur.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(changes: &[&str]) -> ContainerConfig {
        let mut c = ContainerConfig::default();
        apply_changes(
            &mut c,
            &changes.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
        .unwrap();
        c
    }

    #[test]
    fn cmd_and_entrypoint_take_both_forms() {
        let c = applied(&[r#"CMD ["echo", "hi"]"#, "entrypoint /bin/run --flag"]);
        assert_eq!(c.cmd.unwrap(), ["echo", "hi"]);
        assert_eq!(c.entrypoint.unwrap(), ["/bin/sh", "-c", "/bin/run --flag"]);
    }

    #[test]
    fn env_takes_pairs_quotes_and_the_legacy_form() {
        let c = applied(&[
            r#"ENV A=1 B="two words" C=x\ y"#,
            "ENV LEGACY some value",
            "ENV A=3",
        ]);
        assert_eq!(
            c.env.unwrap(),
            ["B=two words", "C=x y", "LEGACY=some value", "A=3"]
        );
    }

    #[test]
    fn other_instructions() {
        let c = applied(&[
            "WORKDIR /app",
            "WORKDIR sub",
            "USER 1000:1000",
            "EXPOSE 80 53/udp",
            r#"LABEL a=b "c d"=e"#,
            r#"VOLUME ["/data", "/logs"]"#,
            "VOLUME /cache",
        ]);
        assert_eq!(c.working_dir.as_deref(), Some("/app/sub"));
        assert_eq!(c.user.as_deref(), Some("1000:1000"));
        let ports: Vec<_> = c.exposed_ports.unwrap().keys().cloned().collect();
        assert_eq!(ports, ["80/tcp", "53/udp"]);
        let labels = c.labels.unwrap();
        assert_eq!(labels["a"], "b");
        assert_eq!(labels["c d"], "e");
        let vols: Vec<_> = c.volumes.unwrap().keys().cloned().collect();
        assert_eq!(vols, ["/data", "/logs", "/cache"]);
    }

    #[test]
    fn unsupported_or_malformed_changes_are_errors() {
        let mut c = ContainerConfig::default();
        for bad in [
            "RUN echo",
            "ONBUILD CMD x",
            "EXPOSE http",
            "ENV",
            "ENV A=\"open",
            "CMD",
        ] {
            let err = apply_changes(&mut c, &[bad.to_string()]).unwrap_err();
            assert!(format!("{err:#}").contains("--change"), "{bad}");
        }
        let err = apply_changes(&mut c, &["RUN x".to_string()]).unwrap_err();
        assert!(format!("{err:#}").contains("not supported"));
    }
}
