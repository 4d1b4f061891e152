//! Flags of `volume ...` and `unshare`.

use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub(crate) enum VolumeCommand {
    /// Create a volume
    Create(VolumeCreateArgs),
    /// List volumes
    #[command(alias = "list")]
    Ls(VolumeLsArgs),
    /// Display detailed information on one or more volumes
    Inspect(VolumeInspectArgs),
    /// Remove one or more volumes
    #[command(alias = "remove")]
    Rm(VolumeRmArgs),
    /// Remove unused local volumes
    Prune(VolumePruneArgs),
}

#[derive(Debug, Args)]
pub(crate) struct VolumeCreateArgs {
    /// Specify volume driver name (only "local")
    #[arg(short = 'd', long, default_value = "local", value_name = "string")]
    pub(crate) driver: String,
    /// Set metadata for a volume (KEY=VALUE)
    #[arg(long = "label", value_name = "list")]
    pub(crate) label: Vec<String>,
    /// Set driver specific options: type=none,o=bind,device=/HOST/PATH makes
    /// a volume of an existing host directory
    #[arg(short = 'o', long = "opt", value_name = "map")]
    pub(crate) opt: Vec<String>,
    /// Volume name (a random one when omitted)
    #[arg(value_name = "VOLUME")]
    pub(crate) name: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct VolumeLsArgs {
    /// Only display volume names
    #[arg(short = 'q', long)]
    pub(crate) quiet: bool,
    /// Provide filter values (dangling=true|false, name=, label=, driver=)
    #[arg(short = 'f', long = "filter", value_name = "filter")]
    pub(crate) filter: Vec<String>,
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json', or a Go template
    #[arg(long, value_name = "string")]
    pub(crate) format: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct VolumeInspectArgs {
    /// Format output using a custom template: 'json', or a Go template
    #[arg(short = 'f', long, value_name = "string")]
    pub(crate) format: Option<String>,
    #[arg(value_name = "VOLUME", required = true)]
    pub(crate) names: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct VolumeRmArgs {
    /// Do not report volumes that do not exist as errors
    #[arg(short = 'f', long)]
    pub(crate) force: bool,
    #[arg(value_name = "VOLUME", required = true)]
    pub(crate) names: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct VolumePruneArgs {
    /// Remove all unused volumes, not just anonymous ones
    #[arg(short = 'a', long)]
    pub(crate) all: bool,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub(crate) force: bool,
    /// Provide filter values (e.g. "label=<key>[=<value>]", "label!=<key>", "all=true")
    #[arg(long = "filter", value_name = "filter")]
    pub(crate) filter: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct UnshareArgs {
    /// Command to run (default: $SHELL, else /bin/sh)
    #[arg(
        value_name = "COMMAND",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub(crate) command: Vec<String>,
}
