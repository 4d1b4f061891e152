//! How a container is attached to the host (Docker's `HostConfig`),
//! grouped by concern: each group is a struct in a file of its own, so
//! that adding one (security, resources, logging...) is one field here and
//! a new file, without touching the others.
//!
//! The first groups are flattened: their fields sit directly in the
//! `host` object of `config.json`, where berth wrote them before groups
//! existed. A new group is a nested field with `#[serde(default)]`, so
//! that older records load with the group's defaults.

use super::devices::DevicesConfig;
use super::kernel::KernelConfig;
use super::lifecycle::LifecycleConfig;
use super::logging::LogConfig;
use super::mounts::StorageConfig;
use super::namespaces::NamespaceConfig;
use super::network::NetworkConfig;
use super::resources::ResourcesConfig;
use super::security::SecurityConfig;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct HostConfig {
    /// The root filesystem and the mounts on it.
    #[serde(flatten)]
    pub(crate) storage: StorageConfig,
    #[serde(flatten)]
    pub(crate) network: NetworkConfig,
    /// `--rm` and `--restart`: what happens when the container exits.
    #[serde(flatten)]
    pub(crate) lifecycle: LifecycleConfig,
    /// Capabilities, seccomp, Landlock (written only when not the
    /// defaults, so records of containers without them stay as they were).
    #[serde(default, skip_serializing_if = "SecurityConfig::is_default")]
    pub(crate) security: SecurityConfig,
    /// `--memory`, `--cpus`, `--pids-limit`, `--ulimit`... (left out of
    /// the record when none is given, so records keep their old shape).
    #[serde(default, skip_serializing_if = "ResourcesConfig::is_unset")]
    pub(crate) resources: ResourcesConfig,
    /// `--device`, `--gpus`.
    #[serde(default, skip_serializing_if = "DevicesConfig::is_unset")]
    pub(crate) devices: DevicesConfig,
    /// `--ipc`, `--pid`, `--uts`, `--cgroupns`, `--userns`.
    #[serde(default, skip_serializing_if = "NamespaceConfig::is_default")]
    pub(crate) namespaces: NamespaceConfig,
    /// `--log-driver`, `--log-opt`.
    #[serde(
        default,
        rename = "log_config",
        skip_serializing_if = "LogConfig::is_default"
    )]
    pub(crate) log: LogConfig,
    /// `--sysctl`, `--shm-size`, `--oom-score-adj`.
    #[serde(default, skip_serializing_if = "KernelConfig::is_default")]
    pub(crate) kernel: KernelConfig,
    /// `--annotation KEY=VALUE`: metadata for tools, shown by inspect.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub(crate) annotations: IndexMap<String, String>,
    /// With `-t`: the terminal's size (rows, columns) when the container
    /// was made (Docker's `ConsoleSize`), the pty's size before its
    /// program starts; an attached client resizes it from then on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) console_size: Option<[u16; 2]>,
}
