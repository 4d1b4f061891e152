//! Flags of the commands that read or write a container's files.

use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub(crate) struct CpArgs {
    /// Archive mode (copy all uid/gid information)
    #[arg(short = 'a', long)]
    pub(crate) archive: bool,
    /// Always follow symbol link in SRC_PATH
    #[arg(short = 'L', long = "follow-link")]
    pub(crate) follow_link: bool,
    /// Suppress progress output during copy (berth prints none)
    #[arg(short = 'q', long)]
    pub(crate) quiet: bool,
    /// CONTAINER:SRC_PATH, a local path, or - (a tar archive on STDIN)
    #[arg(value_name = "SRC_PATH")]
    pub(crate) source: String,
    /// CONTAINER:DEST_PATH, a local path, or - (a tar archive to STDOUT)
    #[arg(value_name = "DEST_PATH")]
    pub(crate) destination: String,
}

#[derive(Debug, Args)]
pub(crate) struct CommitArgs {
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")
    #[arg(short = 'a', long, value_name = "string")]
    pub(crate) author: Option<String>,
    /// Apply Dockerfile instruction to the created image
    #[arg(short = 'c', long = "change", value_name = "list")]
    pub(crate) change: Vec<String>,
    /// Commit message
    #[arg(short = 'm', long, value_name = "string")]
    pub(crate) message: Option<String>,
    #[arg(value_name = "CONTAINER")]
    pub(crate) container: String,
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub(crate) reference: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short = 'o', long = "output", value_name = "string")]
    pub(crate) output: Option<PathBuf>,
    #[arg(value_name = "CONTAINER")]
    pub(crate) container: String,
}

#[derive(Debug, Args)]
pub(crate) struct DiffArgs {
    #[arg(value_name = "CONTAINER")]
    pub(crate) container: String,
}
