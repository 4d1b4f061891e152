//! Host devices and GPUs of a container: what `--device` and `--gpus`
//! asked for (Docker's `HostConfig.Devices` and `DeviceRequests`) and
//! what they resolved to when the container was created (device nodes to
//! bind, the driver's files to bind read-only, environment), as Podman
//! fixes CDI devices at create.

use serde::{Deserialize, Serialize};

/// The devices group of the host config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct DevicesConfig {
    /// `--device /dev/X[:/dev/Y][:rwm]`.
    pub(crate) devices: Vec<DeviceMapping>,
    /// `--gpus`.
    pub(crate) requests: Vec<DeviceRequest>,
    /// `--device vendor.com/class=name`: CDI device names.
    pub(crate) cdi_devices: Vec<String>,
    /// What `requests` and `cdi_devices` resolved to at create.
    pub(crate) provisioned: Provisioned,
}

/// Docker's `DeviceMapping`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DeviceMapping {
    pub(crate) path_on_host: String,
    pub(crate) path_in_container: String,
    pub(crate) cgroup_permissions: String,
}

/// Docker's `DeviceRequest` (`--gpus`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct DeviceRequest {
    pub(crate) driver: String,
    /// -1: all.
    pub(crate) count: i64,
    #[serde(rename = "DeviceIDs")]
    pub(crate) device_ids: Vec<String>,
    pub(crate) capabilities: Vec<Vec<String>>,
    pub(crate) options: std::collections::BTreeMap<String, String>,
    /// The `--gpus` value as given, parsed again at create.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) spec: String,
}

/// Device nodes, read-only binds and environment for GPUs and CDI
/// devices, resolved on the host at create.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct Provisioned {
    pub(crate) device_nodes: Vec<DeviceMapping>,
    pub(crate) binds: Vec<ReadOnlyBind>,
    /// `KEY=value` added to the container's environment.
    pub(crate) env: Vec<String>,
    /// Directories in the container to put first in LD_LIBRARY_PATH.
    pub(crate) ld_library_path: Vec<String>,
    /// Directories in the container to add to PATH.
    pub(crate) path: Vec<String>,
    /// Symlinks to create in the container (target, link), as NVIDIA's
    /// `create-symlinks` CDI hook asks.
    pub(crate) symlinks: Vec<(String, String)>,
    /// Directories of libraries to add to the container's ld.so cache
    /// (by running the container's `ldconfig`, as NVIDIA's
    /// `update-ldcache` hook does).
    pub(crate) ldcache_dirs: Vec<String>,
    pub(crate) additional_gids: Vec<u32>,
}

/// A host file bound into the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ReadOnlyBind {
    pub(crate) source: String,
    pub(crate) destination: String,
    /// Writable binds come only from CDI specs that ask for them.
    #[serde(default = "yes")]
    pub(crate) read_only: bool,
}

fn yes() -> bool {
    true
}

impl DevicesConfig {
    /// Nothing given.
    pub(crate) fn is_unset(&self) -> bool {
        self == &DevicesConfig::default()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.devices.is_empty() && self.requests.is_empty() && self.cdi_devices.is_empty()
    }

    /// Device nodes to bind: `--device` ones, then resolved ones.
    pub(crate) fn all_nodes(&self) -> impl Iterator<Item = &DeviceMapping> {
        self.devices.iter().chain(&self.provisioned.device_nodes)
    }
}
