//! Flags of `create` and `run`, in groups: each group is a struct of its
//! own, flattened into [`CreateArgs`], in a file of its own with the code
//! that turns its flags into its part of the [`CreateRequest`] (checked:
//! bad input fails here, before an image is pulled or anything is made).
//!
//! A new group (security, resources, logging...) is a new file here with
//! its struct and its `apply`, one `#[command(flatten)]` field below and
//! one `apply` call in [`CreateArgs::request`].
//!
//! # Docker 28's `run --help`, flag by flag
//!
//! Every flag Docker 28 lists (against a current daemon; `--annotation`
//! and `--health-start-interval` need API 1.43/1.44) is implemented, or
//! refused with an error that says why. Nothing is parsed and ignored.
//! "before": implemented before issue 8; "issue 8": added then; an
//! owner: another group's flags, added in its own file.
//!
//! | flag | state | where |
//! |---|---|---|
//! | `--add-host` | networking | |
//! | `--annotation` | issue 8: stored, shown by inspect (berth has no OCI runtime to pass it to) | metadata.rs |
//! | `-a, --attach` | issue 8: streams a foreground `run` relays; inspect's Attach* | process.rs |
//! | `--blkio-weight` | issue 13: the io/blkio controller's weight, where it is available | resources.rs |
//! | `--blkio-weight-device`, `--device-read-*`, `--device-write-*` | issue 13: refused: no per-device I/O limits | resources.rs |
//! | `--cap-add`, `--cap-drop` | issue 9: Docker's rules (ALL, names with or without CAP_, any case) | security.rs |
//! | `--cgroup-parent` | refused: no daemon to make cgroups elsewhere; start berth in the cgroup wanted | refused.rs |
//! | `--cgroupns` | issue 8: private (default) or host | namespaces.rs |
//! | `--cidfile` | issue 8: Docker's semantics (an existing file stops `run`; removed if the container is not made; kept after `--rm`) | mod.rs, cli/run.rs |
//! | `--cpu-period`, `--cpu-quota`, `-c, --cpu-shares`, `--cpus`, `--cpuset-*` | issue 13: the container's own cgroup (v1 where writable, v2 where delegated), else one warning | resources.rs |
//! | `--cpu-rt-*` | issue 13: refused: needs real-time group scheduling and root | resources.rs |
//! | `-d, --detach`, `--detach-keys` | before | mod.rs |
//! | `--device`, `--gpus` | issue 13: binds of host devices the user may open; GPUs through CDI or NVIDIA discovery | devices.rs |
//! | `--device-cgroup-rule` | issue 13: refused: no device cgroup | devices.rs |
//! | `--disable-content-trust` | issue 8: true (the default) passes; false refused: no Docker Content Trust | refused.rs |
//! | `--dns`, `--dns-option`, `--dns-search` | networking | |
//! | `--domainname` | issue 8: the UTS namespace's NIS domain name | process.rs |
//! | `--entrypoint`, `-e, --env`, `--env-file` | before | process.rs |
//! | `--expose` | networking | |
//! | `--group-add` | issue 8: names of the container's /etc/group or gids; must be mapped; not with a single id mapping (setgroups is denied) | process.rs |
//! | `--health-cmd`, `--health-interval`, `--health-retries`, `--health-start-period`, `--health-timeout`, `--no-healthcheck` | before | health.rs |
//! | `--health-start-interval` | issue 8 | health.rs |
//! | `--help`, `-h, --hostname`, `--init`, `-i, --interactive` | before | |
//! | `--ip`, `--ip6`, `--link-local-ip`, `--mac-address`, `--network-alias` | networking | |
//! | `--ipc` | issue 8: private, shareable, none, host, container:NAME (joins its IPC namespace and /dev/shm; NAME must be shareable, as Docker's default daemon) | namespaces.rs |
//! | `--isolation` | issue 8: "default" passes; others refused (Linux has only default) | refused.rs |
//! | `-m, --memory`, `--memory-*`, `--oom-kill-disable`, `--pids-limit` | issue 13: as `--cpus` (`--memory-swappiness`, `--oom-kill-disable`: cgroup v1 only) | resources.rs |
//! | `--ulimit` | issue 13: setrlimit in the init and exec | resources.rs |
//! | `--kernel-memory` | issue 13: refused: deprecated, gone from Linux 5.4 | resources.rs |
//! | `-l, --label`, `--label-file` | issue 8: file lines read as env files, then flags, over the image's labels | metadata.rs |
//! | `--link` | refused: legacy; use a user-defined network | refused.rs |
//! | `--log-driver`, `--log-opt` | issue 8: json-file, local (json-file on disk, local's defaults: 20m, 5 files, compressed), none; max-size, max-file, compress, mode=blocking; rotation by the monitor | logging.rs |
//! | `--mount`, `--read-only`, `--tmpfs`, `-v, --volume`, `--volumes-from` | before | mounts.rs |
//! | `--name`, `--pull`, `-q, --quiet`, `--restart`, `--rm`, `--sig-proxy`, `--stop-signal`, `-t, --tty`, `-u, --user`, `-w, --workdir` | before | |
//! | `--network` | before (host, none); other values: networking | network.rs |
//! | `--oom-score-adj` | issue 8: raising works rootless; lowering needs CAP_SYS_RESOURCE, refused with that reason | kernel.rs |
//! | `--pid` | issue 8: host (the host's /proc bound in, as Podman; leftovers end with the program), container:NAME | namespaces.rs |
//! | `--platform` | issue 8: this machine's platform only (also `create` and `pull`) | mod.rs |
//! | `--privileged`, `--security-opt` | issue 9: Podman's rootless meaning; seccomp=unconfined/builtin/FILE, no-new-privileges; label= and apparmor= accepted with a note | security.rs |
//! | `--landlock` | issue 9: berth's own: Landlock confines the container to its root | security.rs |
//! | `-p, --publish`, `-P, --publish-all` | networking | |
//! | `--runtime` | refused: berth is its own runtime | refused.rs |
//! | `--shm-size` | issue 8: size of the private /dev/shm | kernel.rs |
//! | `--stop-timeout` | issue 8: used by stop and restart, shown by inspect | lifecycle.rs |
//! | `--storage-opt` | refused: no per-container storage options | refused.rs |
//! | `--sysctl` | issue 8: Docker's namespaced list (net.* with a private network; kernel.msg*/sem/shm* and fs.mqueue.* with a private IPC namespace) | kernel.rs |
//! | `--use-api-socket` | refused: no daemon, no API socket | refused.rs |
//! | `--userns` | issue 8: host (berth's own namespace, the default) or keep-id[:uid=,gid=] (see userns/keep_id.rs) | namespaces.rs |
//! | `--uts` | issue 8: host | namespaces.rs |
//! | `--volume-driver` | issue 8: "local" passes; others refused | refused.rs |
//!
//! `exec` takes Docker 28's exec flags: `-d`, `--detach-keys` (issue 8:
//! with `-it` the process runs on), `-e`, `--env-file`, `-i`, `-t`, `-u`,
//! `-w`; `--privileged` is the security group's.

mod devices;
mod health;
mod kernel;
mod lifecycle;
mod logging;
mod metadata;
mod mounts;
mod namespaces;
mod network;
mod process;
mod refused;
mod resources;
mod security;

pub(crate) use devices::DeviceFlags;
pub(crate) use health::HealthFlags;
pub(crate) use kernel::KernelFlags;
pub(crate) use lifecycle::LifecycleFlags;
pub(crate) use logging::LoggingFlags;
pub(crate) use metadata::MetadataFlags;
pub(crate) use mounts::MountFlags;
pub(crate) use namespaces::NamespaceFlags;
pub(crate) use network::NetworkFlags;
pub(crate) use process::ProcessFlags;
pub(crate) use refused::RefusedFlags;
pub(crate) use resources::{refuse_cpu_rt, LimitFlags, ResourceFlags};
pub(crate) use security::SecurityFlags;

use crate::model::CreateRequest;
use anyhow::Result;
use clap::Args;

// Options shared by `create` and `run`. (A plain comment: a doc comment
// would become the about of `run` and `create`, whose flags are built
// late, `defer`.)
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct CreateArgs {
    /// Assign a name to the container
    #[arg(long)]
    pub(crate) name: Option<String>,
    #[command(flatten)]
    pub(crate) process: ProcessFlags,
    #[command(flatten)]
    pub(crate) health: HealthFlags,
    #[command(flatten)]
    pub(crate) mounts: MountFlags,
    #[command(flatten)]
    pub(crate) network: NetworkFlags,
    #[command(flatten)]
    pub(crate) lifecycle: LifecycleFlags,
    #[command(flatten)]
    pub(crate) security: SecurityFlags,
    #[command(flatten)]
    pub(crate) resources: ResourceFlags,
    #[command(flatten)]
    pub(crate) devices: DeviceFlags,
    #[command(flatten)]
    pub(crate) metadata: MetadataFlags,
    #[command(flatten)]
    pub(crate) namespaces: NamespaceFlags,
    #[command(flatten)]
    pub(crate) kernel: KernelFlags,
    #[command(flatten)]
    pub(crate) logging: LoggingFlags,
    #[command(flatten)]
    pub(crate) refused: RefusedFlags,
    /// Write the container ID to the file (which must not exist)
    #[arg(long, value_name = "string")]
    pub(crate) cidfile: Option<std::path::PathBuf>,
    /// Set platform if server is multi-platform capable (only this machine's, e.g. linux/amd64)
    #[arg(long, value_name = "string")]
    pub(crate) platform: Option<String>,
    /// Pull image before running ("always", "missing", "never")
    #[arg(long, default_value = "missing", value_name = "string")]
    pub(crate) pull: String,
    /// Suppress the pull output
    #[arg(short = 'q', long)]
    pub(crate) quiet: bool,
    // As Docker, flags end at the image: everything after it is the
    // command's (`run IMG -c x` runs `-c x`), so one positional holds both
    // (read them with `image()` and `command()`).
    /// Image to run, then the command and arguments replacing the image's CMD
    #[arg(
        value_names = ["IMAGE", "COMMAND"],
        required = true,
        num_args = 1..,
        trailing_var_arg = true
    )]
    pub(crate) image_and_command: Vec<String>,
}

impl CreateArgs {
    /// The image named.
    pub(crate) fn image(&self) -> &str {
        self.image_and_command.first().map_or("", String::as_str)
    }

    /// The command and its arguments given after the image.
    pub(crate) fn command(&self) -> &[String] {
        self.image_and_command.get(1..).unwrap_or_default()
    }

    /// The request these flags make, checked.
    pub(crate) fn request(&self) -> Result<CreateRequest> {
        let mut req = CreateRequest {
            name: self.name.clone(),
            image: self.image().to_string(),
            ..Default::default()
        };
        req.process.command = self.command().to_vec();
        self.process.apply(&mut req)?;
        self.health.apply(&mut req)?;
        self.mounts.apply(&mut req)?;
        self.network.apply(&mut req)?;
        self.lifecycle.apply(&mut req)?;
        self.security.apply(&mut req)?;
        self.resources.apply(&mut req)?;
        self.devices.apply(&mut req)?;
        self.metadata.apply(&mut req)?;
        self.namespaces.apply(&mut req)?;
        self.kernel.apply(&mut req)?;
        self.logging.apply(&mut req)?;
        req.console_size = crate::cli::terminal::console_size(req.process.tty);
        self.refused.check()?;
        namespaces::check_combinations(&req)?;
        Ok(req)
    }
}

#[derive(Debug, Args, Clone)]
#[command(disable_help_flag = true)]
pub(crate) struct RunArgs {
    #[command(flatten)]
    pub(crate) create: CreateArgs,
    /// Run container in background and print container ID
    #[arg(short = 'd', long)]
    pub(crate) detach: bool,
    /// Override the key sequence for detaching a container
    #[arg(
        long = "detach-keys",
        default_value = "ctrl-p,ctrl-q",
        value_name = "string"
    )]
    pub(crate) detach_keys: String,
    /// Proxy received signals to the process
    #[arg(long = "sig-proxy", default_value_t = true, action = clap::ArgAction::Set, value_name = "bool")]
    pub(crate) sig_proxy: bool,
    /// Print usage
    #[arg(long, action = clap::ArgAction::Help)]
    pub(crate) help: Option<bool>,
}
