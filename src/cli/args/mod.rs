//! clap definitions. Names, aliases and help texts follow Docker's CLI so
//! that `berth --help` reads like `docker --help`.
//!
//! One file per command group; `create/` holds the flags of `create` and
//! `run`, one file per flag group (process, health, mounts, network,
//! lifecycle), each a `#[command(flatten)]` struct that also turns its
//! flags into its part of the `CreateRequest`. A new flag group is a new
//! file there and one line in `create/mod.rs`.

mod build;
mod container;
mod create;
mod files;
mod image;
mod limits;
mod network;
mod system;
mod volume;

pub(crate) use build::*;
pub(crate) use container::*;
pub(crate) use create::*;
pub(crate) use files::*;
pub(crate) use image::*;
pub(crate) use limits::*;
pub(crate) use network::*;
pub(crate) use system::*;
pub(crate) use volume::*;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "berth",
    version,
    about = "A self-sufficient runtime for containers, without root and without a daemon",
    long_about = "A self-sufficient runtime for containers, without root and without a daemon.\n\n\
        berth runs OCI and Docker images as an unprivileged user with user namespaces \
        and overlay layering. Its commands and flags are Docker's; invoked through a \
        symlink named `docker` it behaves the same.",
    disable_help_subcommand = true,
    subcommand_help_heading = "Commands",
    after_help = "Run 'berth COMMAND --help' for more information on a command."
)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: GlobalArgs,

    #[command(subcommand)]
    pub(crate) command: Command,
}

// The options every command takes (`global`), in a struct of their own so
// that `cli::fast_parse` adds them exactly as defined here. (A plain
// comment: a doc comment would become the about of `berth`.)
#[derive(Debug, Args)]
pub(crate) struct GlobalArgs {
    /// Location of the store (images, layers, containers); default
    /// $BERTH_ROOT, else $XDG_DATA_HOME/berth, else ~/.local/share/berth
    /// (a new store there on a network filesystem goes to
    /// /var/tmp/berth-$USER); BERTH_IMAGE_STORES adds read-only image stores
    #[arg(long, global = true, value_name = "PATH")]
    pub(crate) root: Option<PathBuf>,
}

// `defer`: each subcommand's flags are built only when that subcommand
// is parsed (or help, completions or man pages need them). Building all
// of them took about 1.5 ms of every command, a sixth of `run`'s start.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub(crate) enum Command {
    /// Create and run a new container from an image
    Run(RunArgs),
    /// Create a new container
    Create(RunArgs),
    /// Start one or more stopped containers
    Start(StartArgs),
    /// List containers
    Ps(PsArgs),
    /// Remove one or more containers
    Rm(RmArgs),
    /// Attach local standard input, output, and error streams to a running container
    Attach(AttachArgs),
    /// Restart one or more containers
    Restart(RestartArgs),
    /// Fetch the logs of a container
    Logs(LogsArgs),
    /// Stop one or more running containers
    Stop(StopArgs),
    /// Kill one or more running containers
    Kill(KillArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(WaitArgs),
    /// Rename a container
    Rename(RenameArgs),
    /// Display the running processes of a container
    Top(TopArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(StatsArgs),
    /// Update configuration of one or more containers
    Update(UpdateArgs),
    /// Execute a command in a running container
    Exec(ExecArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(CpArgs),
    /// Create a new image from a container's changes
    Commit(CommitArgs),
    /// Export a container's filesystem as a tar archive
    Export(ExportArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(DiffArgs),
    /// Pause all processes within one or more containers
    Pause(PauseArgs),
    /// Unpause all processes within one or more containers
    Unpause(PauseArgs),
    /// List images
    Images(ImagesArgs),
    /// Remove one or more images
    Rmi(RmiArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(TagArgs),
    /// Show the history of an image
    History(HistoryArgs),
    /// Build an image from a Dockerfile
    Build(BuildArgs),
    /// Manage builds
    #[command(subcommand)]
    Builder(BuilderCommand),
    /// Docker Buildx (the same builder: build, prune)
    #[command(subcommand)]
    Buildx(BuildxCommand),
    /// Return low-level information on containers or images
    Inspect(InspectArgs),
    /// Download an image from a registry
    Pull(PullArgs),
    /// Upload an image to a registry
    Push(PushArgs),
    /// Log in to a registry
    Login(LoginArgs),
    /// Log out from a registry
    Logout(LogoutArgs),
    /// Load an image from a tar archive or STDIN
    Load(LoadArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(SaveArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(ImportArgs),
    /// Show the berth version information
    Version(VersionArgs),
    /// Get real time events: what berth's commands and containers did
    Events(EventsArgs),
    /// Display system-wide information
    Info(InfoArgs),
    /// Check what this machine lets berth do, and what an administrator must change
    #[command(
        long_about = "Check what this machine lets berth do, and what an administrator must change.\n\n\
            Each check prints a one-line verdict (ok, note, warn, fail) and, when something is \
            missing, the exact fix: kernel and unprivileged user namespaces (sysctls, Ubuntu's \
            AppArmor restriction), /etc/subuid and /etc/subgid ranges and newuidmap/newgidmap, \
            overlay in a user namespace (tried in the store), /dev/fuse and /dev/net/tun, cgroup \
            v2 delegation, the runtime directory, the store's filesystem and free space, \
            net.ipv4.ping_group_range, net.ipv4.ip_unprivileged_port_start, Landlock and \
            seccomp. Exit status 0 when berth can run containers here, 1 otherwise."
    )]
    Doctor(DoctorArgs),
    /// Manage images
    #[command(subcommand)]
    Image(ImageCommand),
    /// Manage containers
    #[command(subcommand)]
    Container(ContainerCommand),
    /// Manage volumes
    #[command(subcommand)]
    Volume(VolumeCommand),
    /// Manage networks
    #[command(subcommand)]
    Network(NetworkCommand),
    /// List port mappings or a specific mapping for the container
    Port(PortArgs),
    /// Manage berth (disk usage, information, cleaning up)
    #[command(subcommand)]
    System(SystemCommand),
    /// Write a shell completion script (bash, zsh, fish, elvish, powershell)
    #[command(
        long_about = "Write a shell completion script (bash, zsh, fish, elvish, powershell) to standard output.\n\n\
            bash: berth completion bash > ~/.local/share/bash-completion/completions/berth\n\
            zsh: berth completion zsh > ~/.zfunc/_berth (with fpath+=~/.zfunc before compinit)\n\
            fish: berth completion fish > ~/.config/fish/completions/berth.fish"
    )]
    Completion(CompletionArgs),
    /// Define and run multi-container applications (Docker Compose)
    Compose(super::compose::ComposeArgs),
    /// Run a command inside berth's user namespace (as `podman unshare`), e.g.
    /// to remove files that a container created under a subordinate id
    Unshare(UnshareArgs),
    /// Run a host command isolated: read-only system, writable working directory, no network
    Sandbox(crate::cli::sandbox::SandboxArgs),
    /// Write the man pages generated from these definitions into a directory
    #[command(hide = true, name = "generate-man-pages")]
    GenerateManPages(ManArgs),
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub(crate) enum ImageCommand {
    /// Build an image from a Dockerfile
    Build(BuildArgs),
    /// List images
    #[command(alias = "list")]
    Ls(ImagesArgs),
    /// Remove one or more images
    #[command(alias = "remove", alias = "rmi")]
    Rm(RmiArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(TagArgs),
    /// Show the history of an image
    History(HistoryArgs),
    /// Display detailed information on one or more images
    Inspect(ImageInspectArgs),
    /// Remove unused images
    Prune(PruneArgs),
    /// Download an image from a registry
    Pull(PullArgs),
    /// Upload an image to a registry
    Push(PushArgs),
    /// Load an image from a tar archive or STDIN
    Load(LoadArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(SaveArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(ImportArgs),
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub(crate) enum ContainerCommand {
    /// List containers
    #[command(alias = "list", alias = "ps")]
    Ls(PsArgs),
    /// Remove one or more containers
    #[command(alias = "remove")]
    Rm(RmArgs),
    /// Display detailed information on one or more containers
    Inspect(ContainerInspectArgs),
    /// Create and run a new container from an image
    Run(RunArgs),
    /// Create a new container
    Create(RunArgs),
    /// Start one or more stopped containers
    Start(StartArgs),
    /// Attach local standard input, output, and error streams to a running container
    Attach(AttachArgs),
    /// Restart one or more containers
    Restart(RestartArgs),
    /// Fetch the logs of a container
    Logs(LogsArgs),
    /// Stop one or more running containers
    Stop(StopArgs),
    /// Kill one or more running containers
    Kill(KillArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(WaitArgs),
    /// Rename a container
    Rename(RenameArgs),
    /// Display the running processes of a container
    Top(TopArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(StatsArgs),
    /// Update configuration of one or more containers
    Update(UpdateArgs),
    /// Execute a command in a running container
    Exec(ExecArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(CpArgs),
    /// Create a new image from a container's changes
    Commit(CommitArgs),
    /// Export a container's filesystem as a tar archive
    Export(ExportArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(DiffArgs),
    /// Pause all processes within one or more containers
    Pause(PauseArgs),
    /// Unpause all processes within one or more containers
    Unpause(PauseArgs),
    /// List port mappings or a specific mapping for the container
    Port(PortArgs),
    /// Remove all stopped containers
    Prune(ContainerPruneArgs),
}
