//! Plain data: the records berth persists and the requests its layers
//! pass down, with small pure methods and nothing else. Everything above
//! uses these types: `store` persists them, `runtime` executes them, the
//! CLI (and compose, build) fills in a [`CreateRequest`] from what the user
//! typed. Nothing here touches the system.
//!
//! Records load from files written by older versions of berth: every
//! field added later is `#[serde(default)]`, and renames keep the old names.

pub(crate) mod caps;
pub(crate) mod container;
pub(crate) mod container_filter;
pub(crate) mod devices;
pub(crate) mod event;
pub(crate) mod exit;
pub(crate) mod filters;
pub(crate) mod health;
pub(crate) mod host;
pub(crate) mod ipnet;
pub(crate) mod kernel;
pub(crate) mod lifecycle;
pub(crate) mod logging;
pub(crate) mod mounts;
pub(crate) mod namespaces;
pub(crate) mod net_state;
pub(crate) mod network;
pub(crate) mod network_record;
pub(crate) mod ports;
pub(crate) mod reference;
pub(crate) mod request;
pub(crate) mod resources;
pub(crate) mod security;
pub(crate) mod state;

pub(crate) use container::{ContainerRecord, ProcessConfig};
pub(crate) use exit::StartFailure;
pub(crate) use health::{HealthConfig, HealthResult, HealthState, HealthStatus};
pub(crate) use host::HostConfig;
pub(crate) use lifecycle::RestartPolicy;
pub(crate) use mounts::{MountKind, MountOrigin, MountPoint, MountRequest, StorageConfig};
pub(crate) use network::{NetworkConfig, NetworkMode};
pub(crate) use request::{CreateRequest, HealthOverrides, ProcessRequest};
pub(crate) use security::{SeccompConfig, SecurityConfig};
pub(crate) use state::{ContainerState, Status};
