//! Flags of `inspect`, `version`, `info`, `events` and the man page generator.

use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    /// Format output using a custom template: 'json', or a Go template
    #[arg(short = 'f', long, value_name = "string")]
    pub(crate) format: Option<String>,
    /// Return JSON for specified type (container or image)
    #[arg(long = "type", value_name = "string")]
    pub(crate) kind: Option<String>,
    /// Display total file sizes (accepted for compatibility: sizes are always shown)
    #[arg(short = 's', long)]
    pub(crate) size: bool,
    #[arg(value_name = "NAME|ID", required = true)]
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
