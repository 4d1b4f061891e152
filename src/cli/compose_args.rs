//! The flags of `compose`'s orchestration commands, with Docker Compose
//! v2's names, defaults and help texts.

use clap::{Args, ValueEnum};
use std::path::PathBuf;

// `up`'s and `create`'s flags that decide the containers. (A plain
// comment: a doc comment would become the about of `up` and `create`,
// whose flags are built late, `defer`.)
#[derive(Debug, Args, Clone)]
pub struct CreateFlags {
    /// Build images before starting containers
    #[arg(long)]
    pub build: bool,
    /// Don't build an image, even if it's policy
    #[arg(long)]
    pub no_build: bool,
    /// Pull image before running ("always"|"missing"|"never"|"build")
    #[arg(long, value_name = "POLICY", default_value = "policy")]
    pub pull: String,
    /// Pull without printing progress information
    #[arg(long)]
    pub quiet_pull: bool,
    /// Recreate containers even if their configuration and image haven't
    /// changed
    #[arg(long)]
    pub force_recreate: bool,
    /// If containers already exist, don't recreate them. Incompatible with
    /// --force-recreate.
    #[arg(long)]
    pub no_recreate: bool,
    /// Remove containers for services not defined in the Compose file
    #[arg(long)]
    pub remove_orphans: bool,
    /// Scale SERVICE to NUM instances. Overrides the `scale` setting in the
    /// Compose file if present.
    #[arg(long, value_name = "SERVICE=NUM")]
    pub scale: Vec<String>,
    /// Assume "yes" as answer to all prompts and run non-interactively
    #[arg(short = 'y', long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Detached mode: Run containers in the background
    #[arg(short, long)]
    pub detach: bool,
    #[command(flatten)]
    pub create: CreateFlags,
    /// Produce monochrome output
    #[arg(long)]
    pub no_color: bool,
    /// Don't print prefix in logs
    #[arg(long)]
    pub no_log_prefix: bool,
    /// Don't start the services after creating them
    #[arg(long)]
    pub no_start: bool,
    /// Stops all containers if any container was stopped. Incompatible with
    /// -d
    #[arg(long)]
    pub abort_on_container_exit: bool,
    /// Stops all containers if any container exited with failure.
    /// Incompatible with -d
    #[arg(long)]
    pub abort_on_container_failure: bool,
    /// Return the exit code of the selected service container. Implies
    /// --abort-on-container-exit
    #[arg(long, value_name = "SERVICE")]
    pub exit_code_from: Option<String>,
    /// Use this timeout in seconds for container shutdown when attached or
    /// when containers are already running
    #[arg(
        short = 't',
        long,
        value_name = "SECONDS",
        allow_negative_numbers = true
    )]
    pub timeout: Option<i64>,
    /// Show timestamps
    #[arg(long)]
    pub timestamps: bool,
    /// Don't start linked services
    #[arg(long)]
    pub no_deps: bool,
    /// Recreate dependent containers. Incompatible with --no-recreate.
    #[arg(long)]
    pub always_recreate_deps: bool,
    /// Recreate anonymous volumes instead of retrieving data from the
    /// previous containers
    #[arg(short = 'V', long)]
    pub renew_anon_volumes: bool,
    /// Restrict attaching to the specified services. Incompatible with
    /// --attach-dependencies.
    #[arg(long, value_name = "SERVICE")]
    pub attach: Vec<String>,
    /// Do not attach (stream logs) to the specified services
    #[arg(long, value_name = "SERVICE")]
    pub no_attach: Vec<String>,
    /// Automatically attach to log output of dependent services
    #[arg(long)]
    pub attach_dependencies: bool,
    /// Wait for services to be running|healthy. Implies detached mode.
    #[arg(long)]
    pub wait: bool,
    /// Maximum duration in seconds to wait for the project to be
    /// running|healthy
    #[arg(long, value_name = "SECONDS")]
    pub wait_timeout: Option<u64>,
    /// Services to start (with what they depend on)
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    pub create: CreateFlags,
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct DownArgs {
    /// Remove containers for services not defined in the Compose file
    #[arg(long)]
    pub remove_orphans: bool,
    /// Specify a shutdown timeout in seconds
    #[arg(
        short = 't',
        long,
        value_name = "SECONDS",
        allow_negative_numbers = true
    )]
    pub timeout: Option<i64>,
    /// Remove named volumes declared in the "volumes" section of the
    /// Compose file and anonymous volumes attached to containers
    #[arg(short = 'v', long)]
    pub volumes: bool,
    /// Remove images used by services. "local" remove only images that
    /// don't have a custom tag ("local"|"all")
    #[arg(long, value_name = "TYPE")]
    pub rmi: Option<RmiKind>,
    #[arg(value_name = "SERVICES")]
    pub services: Vec<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RmiKind {
    Local,
    All,
}

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Format output using a custom template:
    /// 'table':            Print output in table format with column headers
    /// (default)
    /// 'table TEMPLATE':   Print output in table format using the given Go
    /// template
    /// 'json':             Print in JSON format
    /// 'TEMPLATE':         Print output using the given Go template
    #[arg(long, default_value = "table", verbatim_doc_comment)]
    pub format: String,
    /// Filter services by a property (supported filters: status)
    #[arg(long, value_name = "FILTER")]
    pub filter: Option<String>,
    /// Filter services by status. Values: [paused | restarting | removing |
    /// running | dead | created | exited]
    #[arg(long, value_name = "STATUS")]
    pub status: Vec<String>,
    /// Only display IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Display services
    #[arg(long)]
    pub services: bool,
    /// Show all stopped containers (including those created by the run
    /// command)
    #[arg(short, long)]
    pub all: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    #[arg(value_name = "SERVICE")]
    pub service: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Follow log output
    #[arg(short, long)]
    pub follow: bool,
    /// index of the container if service has multiple replicas
    #[arg(long, value_name = "N")]
    pub index: Option<u32>,
    /// Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative
    /// (e.g. 42m for 42 minutes)
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or
    /// relative (e.g. 42m for 42 minutes)
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Produce monochrome output
    #[arg(long)]
    pub no_color: bool,
    /// Don't print prefix in logs
    #[arg(long)]
    pub no_log_prefix: bool,
    /// Show timestamps
    #[arg(short, long)]
    pub timestamps: bool,
    /// Number of lines to show from the end of the logs for each container
    #[arg(short = 'n', long, default_value = "all", value_name = "N")]
    pub tail: String,
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
#[command(trailing_var_arg = true)]
pub struct ExecArgs {
    /// Detached mode: Run command in the background
    #[arg(short, long)]
    pub detach: bool,
    /// Set environment variables
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Index of the container if service has multiple replicas
    #[arg(long, value_name = "N")]
    pub index: Option<u32>,
    /// Give extended privileges to the process
    #[arg(long)]
    pub privileged: bool,
    /// Run the command as this user
    #[arg(short, long)]
    pub user: Option<String>,
    /// Disable pseudo-TTY allocation. By default 'docker compose exec'
    /// allocates a TTY.
    #[arg(short = 'T', long = "no-tty")]
    pub no_tty: bool,
    /// Path to workdir directory for this command
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// Keep STDIN open even if not attached (the default)
    #[arg(short, long, hide = true)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY (the default on a terminal)
    #[arg(short, long, hide = true)]
    pub tty: bool,
    pub service: String,
    #[arg(required = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
#[command(trailing_var_arg = true)]
pub struct RunArgs {
    /// Run container in background and print container ID
    #[arg(short, long)]
    pub detach: bool,
    /// Set environment variables
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Set environment variables from file
    #[arg(long, value_name = "FILE")]
    pub env_from_file: Vec<PathBuf>,
    /// Add or override a label
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub label: Vec<String>,
    /// Automatically remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    /// Disable pseudo-TTY allocation (default: auto-detected)
    #[arg(short = 'T', long = "no-TTY")]
    pub no_tty: bool,
    /// Assign a name to the container
    #[arg(long)]
    pub name: Option<String>,
    /// Run as specified username or uid
    #[arg(short, long)]
    pub user: Option<String>,
    /// Working directory inside the container
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// Override the entrypoint of the image
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Don't start linked services
    #[arg(long)]
    pub no_deps: bool,
    /// Bind mount a volume
    #[arg(short, long)]
    pub volume: Vec<String>,
    /// Publish a container's port(s) to the host
    #[arg(short, long)]
    pub publish: Vec<String>,
    /// Run command with all service's ports enabled and mapped to the host
    #[arg(short = 'P', long)]
    pub service_ports: bool,
    /// Pull image before running ("always"|"missing"|"never")
    #[arg(long, default_value = "policy")]
    pub pull: String,
    /// Don't print anything to STDOUT
    #[arg(short, long)]
    pub quiet: bool,
    /// Pull without printing progress information
    #[arg(long)]
    pub quiet_pull: bool,
    /// Build image before starting container
    #[arg(long)]
    pub build: bool,
    /// Remove containers for services not defined in the Compose file
    #[arg(long)]
    pub remove_orphans: bool,
    /// Keep STDIN open even if not attached (the default)
    #[arg(short, long, hide = true)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY (the default on a terminal)
    #[arg(short, long, hide = true)]
    pub tty: bool,
    pub service: String,
    #[arg(allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Suppress the build output
    #[arg(short, long)]
    pub quiet: bool,
    /// Always attempt to pull a newer version of the image
    #[arg(long)]
    pub pull: bool,
    /// Push service images
    #[arg(long)]
    pub push: bool,
    /// Set build-time variables for services
    #[arg(long, value_name = "KEY=VALUE")]
    pub build_arg: Vec<String>,
    /// Do not use cache when building the image
    #[arg(long)]
    pub no_cache: bool,
    /// Also build dependencies (transitively)
    #[arg(long)]
    pub with_dependencies: bool,
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// Pull without printing progress information
    #[arg(short, long)]
    pub quiet: bool,
    /// Also pull services declared as dependencies
    #[arg(long)]
    pub include_deps: bool,
    /// Pull what it can and ignores images with pull failures
    #[arg(long)]
    pub ignore_pull_failures: bool,
    /// Ignore images that can be built
    #[arg(long)]
    pub ignore_buildable: bool,
    /// Apply pull policy ("missing"|"always")
    #[arg(long, value_name = "POLICY")]
    pub policy: Option<String>,
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// Push what it can and ignores images with push failures
    #[arg(long)]
    pub ignore_push_failures: bool,
    /// Also push images of services declared as dependencies
    #[arg(long)]
    pub include_deps: bool,
    /// Push without printing progress information
    #[arg(short, long)]
    pub quiet: bool,
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ServicesArgs {
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// Specify a shutdown timeout in seconds
    #[arg(
        short = 't',
        long,
        value_name = "SECONDS",
        allow_negative_numbers = true
    )]
    pub timeout: Option<i64>,
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RestartArgs {
    /// Specify a shutdown timeout in seconds
    #[arg(
        short = 't',
        long,
        value_name = "SECONDS",
        allow_negative_numbers = true
    )]
    pub timeout: Option<i64>,
    /// Don't restart dependent services
    #[arg(long)]
    pub no_deps: bool,
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct KillArgs {
    /// Remove containers for services not defined in the Compose file
    #[arg(long)]
    pub remove_orphans: bool,
    /// SIGNAL to send to the container
    #[arg(short, long, default_value = "SIGKILL")]
    pub signal: String,
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Don't ask to confirm removal
    #[arg(short, long)]
    pub force: bool,
    /// Stop the containers, if required, before removing
    #[arg(short, long)]
    pub stop: bool,
    /// Remove any anonymous volumes attached to containers
    #[arg(short, long)]
    pub volumes: bool,
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PortArgs {
    /// tcp or udp
    #[arg(long, default_value = "tcp")]
    pub protocol: String,
    /// Index of the container if service has multiple replicas
    #[arg(long, value_name = "N")]
    pub index: Option<u32>,
    pub service: String,
    #[arg(value_name = "PRIVATE_PORT")]
    pub private_port: u16,
}

#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Format the output. Values: [table | json]
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Only display IDs
    #[arg(short, long)]
    pub quiet: bool,
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CpArgs {
    /// Index of the container if service has multiple replicas
    #[arg(long, value_name = "N")]
    pub index: Option<u32>,
    /// Include containers created by the run command
    #[arg(long)]
    pub all: bool,
    /// Always follow symbol link in SRC_PATH
    #[arg(short = 'L', long)]
    pub follow_link: bool,
    /// Archive mode (copy all uid/gid information)
    #[arg(short, long)]
    pub archive: bool,
    #[arg(value_name = "SRC")]
    pub source: String,
    #[arg(value_name = "DEST")]
    pub dest: String,
}

#[derive(Debug, Args)]
pub struct WaitArgs {
    /// Drops project when the first container stops
    #[arg(long)]
    pub down_project: bool,
    #[arg(value_name = "SERVICE", required = true)]
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Format the output. Values: [table | json]
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Only display project names
    #[arg(short, long)]
    pub quiet: bool,
    /// Filter output based on conditions provided
    #[arg(long, value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Show all stopped Compose projects
    #[arg(short, long)]
    pub all: bool,
}
