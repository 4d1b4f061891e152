//! The image configuration JSON (OCI image config, Docker's superset).
//!
//! Our own types rather than oci-spec's `ImageConfiguration` because that
//! one drops Docker's fields (`Healthcheck`, `Shell`, `OnBuild`, ...);
//! anything we do not model is kept in `extra` so that a config we rewrite
//! loses nothing. The image id is the digest of the config's exact bytes,
//! so a loaded config is stored as it came and never re-serialized.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct ImageConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) author: Option<String>,
    #[serde(default)]
    pub(crate) architecture: String,
    #[serde(default)]
    pub(crate) os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) variant: Option<String>,
    #[serde(default)]
    pub(crate) config: ContainerConfig,
    #[serde(default)]
    pub(crate) rootfs: RootFs,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) history: Vec<History>,
    #[serde(flatten)]
    pub(crate) extra: IndexMap<String, Value>,
}

/// The `config` object: how to run the image.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ContainerConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) exposed_ports: Option<IndexMap<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) env: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) entrypoint: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) cmd: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) volumes: Option<IndexMap<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) working_dir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) labels: Option<IndexMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) stop_signal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) healthcheck: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) shell: Option<Vec<String>>,
    #[serde(flatten)]
    pub(crate) extra: IndexMap<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RootFs {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    #[serde(default)]
    pub(crate) diff_ids: Vec<String>,
}

impl Default for RootFs {
    fn default() -> Self {
        RootFs {
            kind: "layers".into(),
            diff_ids: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct History {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) created_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) comment: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) empty_layer: bool,
}

impl ImageConfig {
    pub(crate) fn parse(data: &[u8]) -> anyhow::Result<ImageConfig> {
        serde_json::from_slice(data)
            .map_err(|e| anyhow::anyhow!("invalid image configuration: {e}"))
    }
}

/// The architecture name OCI uses for the machine we run on.
pub(crate) fn host_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_survive_a_round_trip() {
        let raw = r#"{"architecture":"amd64","os":"linux","config":{"Cmd":["sh"],"OnBuild":["RUN x"]},"rootfs":{"type":"layers","diff_ids":[]},"moby.extra":1}"#;
        let c = ImageConfig::parse(raw.as_bytes()).unwrap();
        assert_eq!(c.config.cmd.as_deref(), Some(&["sh".to_string()][..]));
        let back = serde_json::to_string(&c).unwrap();
        assert!(back.contains("OnBuild") && back.contains("moby.extra"));
    }
}
