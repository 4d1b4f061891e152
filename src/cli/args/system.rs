//! Flags of `inspect`, `version`, `info`, `events` and the man page generator.

use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    /// Format output using a custom template: 'json', or a Go template
    #[arg(short = 'f', long, value_name = "string")]
    pub(crate) format: Option<String>,
    /// Return JSON for specified type (container, image, network or volume)
    #[arg(long = "type", value_name = "string")]
    pub(crate) kind: Option<String>,
    /// Display total file sizes (accepted for compatibility: sizes are always shown)
    #[arg(short = 's', long)]
    pub(crate) size: bool,
    #[arg(value_name = "NAME|ID", required = true)]
    pub(crate) names: Vec<String>,
}

// `container inspect`: `inspect` without --type.
#[derive(Debug, Args)]
pub(crate) struct ContainerInspectArgs {
    /// Format output using a custom template: 'json', or a Go template
    #[arg(short = 'f', long, value_name = "string")]
    pub(crate) format: Option<String>,
    /// Display total file sizes (accepted for compatibility: sizes are always shown)
    #[arg(short = 's', long)]
    pub(crate) size: bool,
    #[arg(value_name = "CONTAINER", required = true)]
    pub(crate) names: Vec<String>,
}

// `image inspect`: `inspect` of images only.
#[derive(Debug, Args)]
pub(crate) struct ImageInspectArgs {
    /// Format output using a custom template: 'json', or a Go template
    #[arg(short = 'f', long, value_name = "string")]
    pub(crate) format: Option<String>,
    #[arg(value_name = "IMAGE", required = true)]
    pub(crate) names: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct VersionArgs {
    /// Format output using a custom template: 'json', or a Go template
    #[arg(short = 'f', long, value_name = "string")]
    pub(crate) format: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct DoctorArgs {
    /// Output format: 'json' for scripts (default: one line per check)
    #[arg(short = 'f', long, value_name = "string")]
    pub(crate) format: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct InfoArgs {
    /// Format output using a custom template: 'json', or a Go template
    #[arg(short = 'f', long, value_name = "string")]
    pub(crate) format: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ManArgs {
    #[arg(value_name = "DIR")]
    pub(crate) dir: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct EventsArgs {
    /// Filter output based on conditions provided (container, image,
    /// event, label, type, volume, network, scope)
    #[arg(short = 'f', long = "filter", value_name = "filter")]
    pub(crate) filter: Vec<String>,
    /// Format output using a custom template: 'json': Print in JSON
    /// format; 'TEMPLATE': Print output using the given Go template
    #[arg(long, value_name = "string")]
    pub(crate) format: Option<String>,
    /// Show all events created since timestamp
    #[arg(long, value_name = "string")]
    pub(crate) since: Option<String>,
    /// Stream events until this timestamp
    #[arg(long, value_name = "string")]
    pub(crate) until: Option<String>,
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub(crate) enum SystemCommand {
    /// Show berth disk usage
    Df(DfArgs),
    /// Display system-wide information
    Info(InfoArgs),
    /// Remove unused data
    Prune(SystemPruneArgs),
}

#[derive(Debug, Args)]
pub(crate) struct DfArgs {
    /// Show detailed information on space usage
    #[arg(short = 'v', long)]
    pub(crate) verbose: bool,
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json', or a Go template
    #[arg(long, value_name = "string")]
    pub(crate) format: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct SystemPruneArgs {
    /// Remove all unused images not just dangling ones
    #[arg(short = 'a', long)]
    pub(crate) all: bool,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub(crate) force: bool,
    /// Prune anonymous volumes
    #[arg(long)]
    pub(crate) volumes: bool,
    /// Provide filter values (e.g. "label=<key>=<value>", "until=<timestamp>")
    #[arg(long = "filter", value_name = "filter")]
    pub(crate) filter: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ContainerPruneArgs {
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub(crate) force: bool,
    /// Provide filter values (e.g. "until=<timestamp>", "label=<key>[=<value>]", "label!=<key>")
    #[arg(long = "filter", value_name = "filter")]
    pub(crate) filter: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct CompletionArgs {
    /// The shell to write the completion script for
    #[arg(value_name = "SHELL")]
    pub(crate) shell: clap_complete::Shell,
}
