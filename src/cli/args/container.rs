//! Flags of the commands that act on existing containers.

use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub(crate) struct StartArgs {
    /// Attach STDOUT/STDERR and forward signals
    #[arg(short = 'a', long)]
    pub(crate) attach: bool,
    /// Attach container's STDIN
    #[arg(short = 'i', long)]
    pub(crate) interactive: bool,
    /// Override the key sequence for detaching a container
    #[arg(
        long = "detach-keys",
        default_value = "ctrl-p,ctrl-q",
        value_name = "string"
    )]
    pub(crate) detach_keys: String,
    #[arg(value_name = "CONTAINER", required = true)]
    pub(crate) containers: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct AttachArgs {
    /// Do not attach STDIN
    #[arg(long = "no-stdin")]
    pub(crate) no_stdin: bool,
    /// Proxy all received signals to the process
    #[arg(long = "sig-proxy", default_value_t = true, action = clap::ArgAction::Set, value_name = "bool")]
    pub(crate) sig_proxy: bool,
    /// Override the key sequence for detaching a container
    #[arg(
        long = "detach-keys",
        default_value = "ctrl-p,ctrl-q",
        value_name = "string"
    )]
    pub(crate) detach_keys: String,
    #[arg(value_name = "CONTAINER")]
    pub(crate) container: String,
}

#[derive(Debug, Args)]
pub(crate) struct RestartArgs {
    /// Signal to send to the container
    #[arg(short = 's', long = "signal", value_name = "string")]
    pub(crate) signal: Option<String>,
    /// Seconds to wait before killing the container (default: the container's --stop-timeout, else 10; negative waits forever)
    #[arg(
        short = 't',
        long = "time",
        alias = "timeout",
        value_name = "int",
        allow_negative_numbers = true
    )]
    pub(crate) time: Option<i64>,
    #[arg(value_name = "CONTAINER", required = true)]
    pub(crate) containers: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct StopArgs {
    /// Signal to send to the container (default: the image's STOPSIGNAL, else SIGTERM)
    #[arg(short = 's', long = "signal", value_name = "string")]
    pub(crate) signal: Option<String>,
    /// Seconds to wait before killing the container (default: the container's --stop-timeout, else 10; negative waits forever)
    #[arg(
        short = 't',
        long = "time",
        alias = "timeout",
        value_name = "int",
        allow_negative_numbers = true
    )]
    pub(crate) time: Option<i64>,
    #[arg(value_name = "CONTAINER", required = true)]
    pub(crate) containers: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct KillArgs {
    /// Signal to send to the container
    #[arg(
        short = 's',
        long = "signal",
        default_value = "KILL",
        value_name = "string"
    )]
    pub(crate) signal: String,
    #[arg(value_name = "CONTAINER", required = true)]
    pub(crate) containers: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct WaitArgs {
    #[arg(value_name = "CONTAINER", required = true)]
    pub(crate) containers: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct PsArgs {
    /// Show all containers (default shows just running)
    #[arg(short = 'a', long)]
    pub(crate) all: bool,
    /// Only display container IDs
    #[arg(short = 'q', long)]
    pub(crate) quiet: bool,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    pub(crate) no_trunc: bool,
    /// Filter output based on conditions provided (ancestor=, before=, since=, exited=, status=, health=, id=, name=, label=, volume=, expose=, is-task=, isolation=)
    #[arg(short = 'f', long = "filter", value_name = "filter")]
    pub(crate) filter: Vec<String>,
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json', or a Go template
    #[arg(long, value_name = "string")]
    pub(crate) format: Option<String>,
    /// Show n last created containers (includes all states)
    #[arg(short = 'n', long = "last", default_value_t = -1, allow_negative_numbers = true, value_name = "int")]
    pub(crate) last: i64,
    /// Show the latest created container (includes all states)
    #[arg(short = 'l', long)]
    pub(crate) latest: bool,
    /// Display total file sizes
    #[arg(short = 's', long)]
    pub(crate) size: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RmArgs {
    /// Force the removal of a running container
    #[arg(short = 'f', long)]
    pub(crate) force: bool,
    /// Remove anonymous volumes associated with the container
    #[arg(short = 'v', long = "volumes")]
    pub(crate) volumes: bool,
    #[arg(value_name = "CONTAINER", required = true)]
    pub(crate) containers: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct LogsArgs {
    /// Follow log output (ends when the container stops)
    #[arg(short = 'f', long)]
    pub(crate) follow: bool,
    /// Number of lines to show from the end of the logs ("all" for every line)
    #[arg(
        short = 'n',
        long,
        default_value = "all",
        value_name = "string",
        allow_hyphen_values = true
    )]
    pub(crate) tail: String,
    /// Show timestamps
    #[arg(short = 't', long)]
    pub(crate) timestamps: bool,
    /// Show extra details provided to logs (Docker's log attributes, which berth's records do not carry: an empty field before each line)
    #[arg(long)]
    pub(crate) details: bool,
    /// Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)
    #[arg(long, value_name = "string")]
    pub(crate) since: Option<String>,
    /// Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)
    #[arg(long, value_name = "string")]
    pub(crate) until: Option<String>,
    #[arg(value_name = "CONTAINER")]
    pub(crate) container: String,
}

#[derive(Debug, Args)]
pub(crate) struct RenameArgs {
    #[arg(value_name = "CONTAINER")]
    pub(crate) container: String,
    #[arg(value_name = "NEW_NAME")]
    pub(crate) new_name: String,
}

#[derive(Debug, Args)]
pub(crate) struct TopArgs {
    #[arg(value_name = "CONTAINER")]
    pub(crate) container: String,
    /// ps options (accepted: -ef, the default listing)
    #[arg(
        value_name = "ps OPTIONS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub(crate) ps_options: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ExecArgs {
    /// Detached mode: run command in the background
    #[arg(short = 'd', long)]
    pub(crate) detach: bool,
    /// Override the key sequence for detaching a container
    #[arg(
        long = "detach-keys",
        default_value = "ctrl-p,ctrl-q",
        value_name = "string"
    )]
    pub(crate) detach_keys: String,
    /// Set environment variables
    #[arg(short = 'e', long = "env", value_name = "list")]
    pub(crate) env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file", value_name = "list")]
    pub(crate) env_file: Vec<PathBuf>,
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long)]
    pub(crate) interactive: bool,
    /// Give extended privileges to the command: every capability (of
    /// berth's user namespace when rootless); the container's seccomp
    /// filter still applies
    #[arg(long)]
    pub(crate) privileged: bool,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub(crate) tty: bool,
    /// Username or UID (format: "<name|uid>[:<group|gid>]")
    #[arg(short = 'u', long, value_name = "string")]
    pub(crate) user: Option<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long, value_name = "string")]
    pub(crate) workdir: Option<String>,
    #[arg(value_name = "CONTAINER")]
    pub(crate) container: String,
    #[arg(
        value_name = "COMMAND",
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub(crate) command: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct PauseArgs {
    #[arg(value_name = "CONTAINER", required = true)]
    pub(crate) containers: Vec<String>,
}
