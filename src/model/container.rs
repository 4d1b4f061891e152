//! A container's record, `containers/<id>/config.json`: everything decided
//! at `create`, fixed from then on (only `rename` rewrites it).

use super::health::HealthConfig;
use super::host::HostConfig;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

/// Everything decided at `create`: the image, the process and its settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct ContainerRecord {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) created: String,
    /// The image as the user named it.
    pub(crate) image: String,
    /// `sha256:` id of the image.
    pub(crate) image_id: String,
    /// The layers of the image, base first (kept so that removing the image
    /// does not pull the container's files away).
    pub(crate) layers: Vec<String>,
    pub(crate) config: ProcessConfig,
    pub(crate) host: HostConfig,
}

/// The process to run and its environment (Docker's `Config`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct ProcessConfig {
    /// The full argv: entrypoint followed by command.
    pub(crate) args: Vec<String>,
    pub(crate) entrypoint: Option<Vec<String>>,
    pub(crate) cmd: Option<Vec<String>>,
    pub(crate) env: Vec<String>,
    pub(crate) working_dir: String,
    /// As given: `name`, `uid`, `name:group`, `uid:gid`; empty is root.
    pub(crate) user: String,
    pub(crate) hostname: String,
    pub(crate) tty: bool,
    pub(crate) open_stdin: bool,
    pub(crate) labels: IndexMap<String, String>,
    /// As the user or the image gave it (`SIGTERM`, `term`, `15`); checked
    /// at create, so a stored one always parses.
    pub(crate) stop_signal: Option<String>,
    /// Health check from the image or `--health-*`; None when there is none
    /// or `--no-healthcheck`.
    pub(crate) healthcheck: Option<HealthConfig>,
    /// `--init`: a minimal init runs as pid 1, reaping and forwarding signals.
    pub(crate) init: bool,
}
