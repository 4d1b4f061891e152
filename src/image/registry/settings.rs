//! Per-registry settings from berth's own small config file,
//! `$XDG_CONFIG_HOME/berth/registries.json` (else
//! `~/.config/berth/registries.json`):
//!
//! ```json
//! {"registries": {"registry.lan:5000": {"insecure": true,
//!                                       "mirrors": ["mirror.lan:5000"]}}}
//! ```
//!
//! `insecure` allows plain HTTP and unverified TLS for that registry (as
//! Docker's `insecure-registries`); `mirrors` are tried in order for pulls
//! before the registry itself. `"unqualified-search": ["quay.io",
//! "docker.io"]` (as Podman's `unqualified-search-registries`) makes a name
//! without a registry (`busybox`) mean the first of those registries that
//! has it, locally and for pulls; without it such a name is Docker Hub's,
//! as in Docker. A missing file means no settings.

use anyhow::{Context, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RegistrySettings {
    #[serde(default)]
    pub(crate) insecure: bool,
    #[serde(default)]
    pub(crate) mirrors: Vec<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Settings {
    #[serde(default)]
    pub(crate) registries: BTreeMap<String, RegistrySettings>,
    #[serde(default, rename = "unqualified-search")]
    pub(crate) unqualified_search: Vec<String>,
}

impl Settings {
    /// Reads the settings file; a missing file is empty settings, an
    /// unreadable one an error naming it (a typo should not be ignored).
    pub(crate) fn load() -> Result<Settings> {
        let Some(path) = settings_path() else {
            return Ok(Settings::default());
        };
        match std::fs::read(&path) {
            Ok(data) => Settings::parse(&data).with_context(|| {
                format!(
                    "reading the registry settings {} (see README, \"Registries\")",
                    path.display()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Settings::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    pub(crate) fn parse(data: &[u8]) -> Result<Settings> {
        Ok(serde_json::from_slice(data)?)
    }

    /// What a name the user typed may mean, in the order to try: the name
    /// under each unqualified-search registry when it names none itself,
    /// else just its normal Docker reading.
    pub(crate) fn candidates(&self, name: &str) -> Result<Vec<crate::model::reference::Reference>> {
        use crate::model::reference::{has_explicit_domain, Reference};
        if has_explicit_domain(name) || self.unqualified_search.is_empty() {
            return Ok(vec![Reference::parse_tagged(name)?]);
        }
        self.unqualified_search
            .iter()
            .map(|registry| Ok(Reference::parse_tagged(&format!("{registry}/{name}"))?))
            .collect()
    }

    /// The settings of one registry (`host[:port]`), default when absent.
    pub(crate) fn registry(&self, domain: &str) -> RegistrySettings {
        self.registries.get(domain).cloned().unwrap_or_default()
    }
}

pub(crate) fn settings_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("berth").join("registries.json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unqualified_names_search_the_listed_registries() {
        let s = Settings::parse(br#"{"unqualified-search":["quay.io","docker.io"]}"#).unwrap();
        let c: Vec<String> = s
            .candidates("busybox")
            .unwrap()
            .iter()
            .map(|r| r.to_string())
            .collect();
        assert_eq!(
            c,
            vec!["quay.io/busybox:latest", "docker.io/library/busybox:latest"]
        );
        let c = s.candidates("localhost:5000/x").unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(
            Settings::default().candidates("busybox").unwrap()[0].to_string(),
            "docker.io/library/busybox:latest"
        );
    }

    #[test]
    fn parses_and_defaults() {
        let s = Settings::parse(
            br#"{"registries":{"reg.lan:5000":{"insecure":true,"mirrors":["m:1"]}}}"#,
        )
        .unwrap();
        assert!(s.registry("reg.lan:5000").insecure);
        assert_eq!(s.registry("reg.lan:5000").mirrors, vec!["m:1"]);
        assert!(!s.registry("other").insecure);
        assert!(Settings::parse(br#"{"registries":{"x":{"insecur":true}}}"#).is_err());
        assert!(Settings::parse(b"{}").unwrap().registries.is_empty());
    }
}
