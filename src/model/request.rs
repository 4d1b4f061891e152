//! A request to create a container: everything `create` and `run` decide
//! from their flags, checked but not yet applied (as ripgrep's high-level
//! args, or firecracker's validated `Env`). The CLI builds one from argv;
//! compose builds one from a service, build from a RUN step; then
//! `runtime::lifecycle::create` makes the container from it and the image.
//!
//! A new host-config group (security, resources, logging...) usually goes
//! here as the same type `HostConfig` stores, copied as it is by `create`.

use super::container::AttachStreams;
use super::devices::DevicesConfig;
use super::kernel::KernelConfig;
use super::lifecycle::LifecycleConfig;
use super::logging::LogConfig;
use super::mounts::MountRequest;
use super::namespaces::NamespaceConfig;
use super::network::NetworkConfig;
use super::resources::ResourcesConfig;
use super::security::SecurityConfig;
use indexmap::IndexMap;
use std::path::PathBuf;

#[derive(Debug, Clone, Default)]
pub(crate) struct CreateRequest {
    /// `--name`; a random name when None.
    pub(crate) name: Option<String>,
    /// The image as the user named it (kept for `ps` and `inspect`).
    pub(crate) image: String,
    /// The image's id when the caller already resolved the name (after a
    /// pull, or a short name found under an unqualified-search registry).
    pub(crate) image_id: Option<String>,
    pub(crate) process: ProcessRequest,
    /// `-v`, `--mount`, `--tmpfs`, in order; volumes are made at create.
    pub(crate) mounts: Vec<MountRequest>,
    /// `--volumes-from CONTAINER[:ro|rw]`.
    pub(crate) volumes_from: Vec<String>,
    /// `--read-only`.
    pub(crate) read_only: bool,
    pub(crate) network: NetworkConfig,
    pub(crate) lifecycle: LifecycleConfig,
    pub(crate) security: SecurityConfig,
    pub(crate) resources: ResourcesConfig,
    pub(crate) devices: DevicesConfig,
    /// `--ipc`, `--pid`, `--uts`, `--cgroupns`, `--userns`; `container:X`
    /// names X as given (create resolves it).
    pub(crate) namespaces: NamespaceConfig,
    pub(crate) log: LogConfig,
    pub(crate) kernel: KernelConfig,
    pub(crate) annotations: IndexMap<String, String>,
    /// With `-t`: the caller's terminal size (rows, columns), so that the
    /// program finds its pty sized when it starts.
    pub(crate) console_size: Option<[u16; 2]>,
}

/// The process-related settings, merged with the image's config at create.
#[derive(Debug, Clone, Default)]
pub(crate) struct ProcessRequest {
    /// Replaces the image's CMD when not empty.
    pub(crate) command: Vec<String>,
    /// `--entrypoint`: one executable (empty string clears the image's).
    pub(crate) entrypoint: Option<String>,
    /// `-e`: `K=V`, or `K` to take the caller's value.
    pub(crate) env: Vec<String>,
    pub(crate) env_files: Vec<PathBuf>,
    pub(crate) workdir: Option<String>,
    pub(crate) user: Option<String>,
    pub(crate) hostname: Option<String>,
    /// `-i`: keep stdin open.
    pub(crate) interactive: bool,
    /// `-t`: a terminal.
    pub(crate) tty: bool,
    /// `--stop-signal`, replacing the image's STOPSIGNAL.
    pub(crate) stop_signal: Option<String>,
    pub(crate) health: HealthOverrides,
    /// `--init`: berth's minimal init as pid 1.
    pub(crate) init: bool,
    /// `--stop-timeout` in seconds.
    pub(crate) stop_timeout: Option<i64>,
    pub(crate) domainname: Option<String>,
    pub(crate) group_add: Vec<String>,
    /// `--label-file` then `-l`, merged over the image's labels.
    pub(crate) labels: IndexMap<String, String>,
    pub(crate) attach: Option<AttachStreams>,
}

/// `--health-*` and `--no-healthcheck`, applied over the image's HEALTHCHECK.
#[derive(Debug, Clone, Default)]
pub(crate) struct HealthOverrides {
    pub(crate) cmd: Option<String>,
    /// Nanoseconds.
    pub(crate) interval: Option<u64>,
    pub(crate) timeout: Option<u64>,
    pub(crate) start_period: Option<u64>,
    pub(crate) start_interval: Option<u64>,
    pub(crate) retries: Option<u32>,
    pub(crate) disabled: bool,
}
