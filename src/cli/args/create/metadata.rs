//! Metadata on the container: `-l/--label`, `--label-file` and
//! `--annotation`.

use crate::model::CreateRequest;
use anyhow::{bail, Context, Result};
use clap::Args;
use indexmap::IndexMap;
use std::path::PathBuf;

#[derive(Debug, Args, Clone, Default)]
pub(crate) struct MetadataFlags {
    /// Set meta data on a container
    #[arg(short = 'l', long = "label", value_name = "list")]
    pub(crate) label: Vec<String>,
    /// Read in a line delimited file of labels
    #[arg(long = "label-file", value_name = "list")]
    pub(crate) label_file: Vec<PathBuf>,
    /// Add an annotation to the container (shown by inspect; berth has no OCI runtime to pass it to)
    #[arg(long = "annotation", value_name = "map")]
    pub(crate) annotation: Vec<String>,
}

impl MetadataFlags {
    pub(crate) fn apply(&self, req: &mut CreateRequest) -> Result<()> {
        req.process.labels = self.labels()?;
        req.annotations = self.annotations()?;
        Ok(())
    }

    /// Label files first, then `-l`; a later setting of a key wins. Files
    /// are read as env files (Docker reads them alike: a bare `KEY` line
    /// takes the value of our environment variable KEY, or is dropped).
    fn labels(&self) -> Result<IndexMap<String, String>> {
        let mut items = Vec::new();
        for file in &self.label_file {
            let content = std::fs::read_to_string(file)
                .with_context(|| format!("reading the label file {}", file.display()))?;
            let lines =
                crate::runtime::env::parse_env_file(&content, &crate::runtime::env::host_lookup)
                    .with_context(|| format!("invalid label file {}", file.display()))?;
            items.extend(lines);
        }
        for l in &self.label {
            let key = l.split_once('=').map_or(l.as_str(), |(k, _)| k);
            if key.is_empty() {
                bail!("invalid argument {l:?} for \"-l, --label\" flag: invalid label '{l}': empty name");
            }
            if key.contains(char::is_whitespace) {
                bail!("invalid argument {l:?} for \"-l, --label\" flag: label '{key}' contains whitespaces");
            }
            items.push(l.clone());
        }
        Ok(to_map(&items))
    }

    fn annotations(&self) -> Result<IndexMap<String, String>> {
        for a in &self.annotation {
            if a.split_once('=').map_or(a.as_str(), |(k, _)| k).is_empty() {
                bail!("invalid argument {a:?} for \"--annotation\" flag: empty key");
            }
        }
        Ok(to_map(&self.annotation))
    }
}

/// `KEY=VALUE` items (a bare `KEY` has an empty value) as a map, later
/// items replacing earlier ones.
fn to_map(items: &[String]) -> IndexMap<String, String> {
    let mut map = IndexMap::new();
    for item in items {
        let (k, v) = item.split_once('=').unwrap_or((item.as_str(), ""));
        map.insert(k.to_string(), v.to_string());
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_files_and_bare_keys_are_empty() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("labels");
        std::fs::write(&file, "# c\nfa=1\n\nfc= 3 x \nshared=file\n").unwrap();
        let flags = MetadataFlags {
            label: vec!["a=1".into(), "b".into(), "shared=flag".into()],
            label_file: vec![file],
            annotation: vec!["x=y".into(), "z".into()],
        };
        let mut req = CreateRequest::default();
        flags.apply(&mut req).unwrap();
        let labels: Vec<(&str, &str)> = req
            .process
            .labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            labels,
            [
                ("fa", "1"),
                ("fc", " 3 x "),
                ("shared", "flag"),
                ("a", "1"),
                ("b", "")
            ]
        );
        assert_eq!(req.annotations.get("z").map(String::as_str), Some(""));
        let bad = MetadataFlags {
            label: vec!["=x".into()],
            ..Default::default()
        };
        assert!(bad
            .apply(&mut req)
            .unwrap_err()
            .to_string()
            .contains("empty name"));
        let bad = MetadataFlags {
            label: vec!["a b=c".into()],
            ..Default::default()
        };
        assert!(bad
            .apply(&mut req)
            .unwrap_err()
            .to_string()
            .contains("whitespaces"));
    }
}
