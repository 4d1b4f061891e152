//! The container's environment as Docker builds it: `--env-file` lines,
//! then `-e` flags (a later setting of a name replaces the earlier one in
//! place), then the image's `Env` entries the user did not set.

use anyhow::{Context, Result};
use std::path::Path;

/// PATH when neither the image nor the user sets one (Docker's default).
pub(crate) const DEFAULT_PATH: &str =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Sets `entry` (`K=V`) in `env`, replacing an earlier value of `K`.
pub(crate) fn set(env: &mut Vec<String>, entry: String) {
    let key = entry.split_once('=').map_or(entry.as_str(), |(k, _)| k);
    match env
        .iter()
        .position(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) == key)
    {
        Some(i) => env[i] = entry,
        None => env.push(entry),
    }
}

/// The value of `key` in `env`, if set.
pub(crate) fn get<'a>(env: &'a [String], key: &str) -> Option<&'a str> {
    env.iter().find_map(|e| match e.split_once('=') {
        Some((k, v)) if k == key => Some(v),
        _ => None,
    })
}

/// One `-e` flag or env-file line: `K=V` as is; `K` alone takes its value
/// from our environment and is dropped when we do not have it (Docker).
fn resolve(item: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    if item.contains('=') {
        return Some(item.to_string());
    }
    lookup(item).map(|v| format!("{item}={v}"))
}

/// Parses an env file as Docker does: `K=V` lines, `K` alone from our
/// environment, `#` comment lines and blank lines skipped; leading
/// whitespace of the name is dropped, the value is taken verbatim.
pub(crate) fn parse_env_file(
    content: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for (n, line) in content.lines().enumerate() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let name = line.split_once('=').map_or(line, |(k, _)| k);
        if name.is_empty() {
            anyhow::bail!("line {}: no variable name before '='", n + 1);
        }
        if name.contains(char::is_whitespace) {
            anyhow::bail!("line {}: variable '{name}' contains whitespaces", n + 1);
        }
        let line = if line.contains('=') {
            line.to_string()
        } else {
            line.trim_end().to_string()
        };
        if let Some(e) = resolve(&line, lookup) {
            out.push(e);
        }
    }
    Ok(out)
}

/// The container's env as Docker's daemon records it (`Config.Env`): the
/// user's settings (env files, then `-e` flags; a later one of a name
/// replaces the earlier in place), then the image's entries whose names
/// the user left alone.
pub(crate) fn merge(
    image_env: &[String],
    env_files: &[impl AsRef<Path>],
    flags: &[String],
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<String>> {
    let mut env = Vec::new();
    for f in env_files {
        let f = f.as_ref();
        let content = std::fs::read_to_string(f)
            .with_context(|| format!("reading the env file {}", f.display()))?;
        for e in parse_env_file(&content, lookup)
            .with_context(|| format!("parsing the env file {}", f.display()))?
        {
            set(&mut env, e);
        }
    }
    for flag in flags {
        if flag.is_empty() || flag.starts_with('=') {
            anyhow::bail!("invalid environment variable: {flag}");
        }
        if let Some(e) = resolve(flag, lookup) {
            set(&mut env, e);
        }
    }
    let users = env.len();
    for e in image_env {
        let key = e.split_once('=').map_or(e.as_str(), |(k, _)| k);
        if get(&env[..users], key).is_none() {
            set(&mut env, e.clone());
        }
    }
    Ok(env)
}

/// Our own environment, for `-e K` and env-file `K` lines.
pub(crate) fn host_lookup(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(k: &str) -> Option<String> {
        (k == "FROM_HOST").then(|| "h".to_string())
    }

    #[test]
    fn users_settings_first_then_the_images_rest() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("env");
        std::fs::write(
            &f,
            "# comment\n\nA=file\n  B=with spaces \nFROM_HOST\nMISSING\nC=x=y\n",
        )
        .unwrap();
        let env = merge(
            &[
                "PATH=/bin".into(),
                "A=image".into(),
                "D=image".into(),
                "E=1".into(),
                "E=2".into(),
            ],
            &[&f],
            &["D=flag".into(), "FROM_HOST".into(), "NOPE".into()],
            &lookup,
        )
        .unwrap();
        // `docker inspect -f '{{json .Config.Env}}'` of the same run.
        assert_eq!(
            env,
            [
                "A=file",
                "B=with spaces ",
                "FROM_HOST=h",
                "C=x=y",
                "D=flag",
                "PATH=/bin",
                "E=2"
            ]
        );
    }

    #[test]
    fn bad_lines_are_errors() {
        assert!(parse_env_file("=v\n", &lookup).is_err());
        assert!(parse_env_file("A B=v\n", &lookup).is_err());
        assert!(merge(&[], &[] as &[&Path], &["=x".into()], &lookup).is_err());
        assert!(merge(&[], &["/nonexistent/env"], &[], &lookup)
            .unwrap_err()
            .to_string()
            .contains("/nonexistent/env"));
    }

    #[test]
    fn get_finds_values() {
        let env = vec!["A=1".to_string(), "B=".to_string()];
        assert_eq!(get(&env, "A"), Some("1"));
        assert_eq!(get(&env, "B"), Some(""));
        assert_eq!(get(&env, "C"), None);
    }
}
