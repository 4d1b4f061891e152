//! Flags of the image and registry commands.

use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub(crate) struct ImagesArgs {
    /// Show all images (default hides intermediate images)
    #[arg(short = 'a', long)]
    pub(crate) all: bool,
    /// Only show image IDs
    #[arg(short = 'q', long)]
    pub(crate) quiet: bool,
    /// Show digests
    #[arg(long)]
    pub(crate) digests: bool,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    pub(crate) no_trunc: bool,
    /// Filter output based on conditions provided (dangling=true|false, reference=PATTERN)
    #[arg(short = 'f', long = "filter", value_name = "filter")]
    pub(crate) filter: Vec<String>,
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json', or a Go template
    #[arg(long, value_name = "string")]
    pub(crate) format: Option<String>,
    /// Only images of this repository (REPOSITORY[:TAG])
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub(crate) reference: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct RmiArgs {
    /// Force removal of the image
    #[arg(short = 'f', long)]
    pub(crate) force: bool,
    #[arg(value_name = "IMAGE", required = true)]
    pub(crate) images: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct TagArgs {
    #[arg(value_name = "SOURCE_IMAGE[:TAG]")]
    pub(crate) source: String,
    #[arg(value_name = "TARGET_IMAGE[:TAG]")]
    pub(crate) target: String,
}

#[derive(Debug, Args)]
pub(crate) struct HistoryArgs {
    /// Print sizes and dates in human readable format
    #[arg(short = 'H', long, default_value_t = true, action = clap::ArgAction::Set, value_name = "bool")]
    pub(crate) human: bool,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    pub(crate) no_trunc: bool,
    /// Only show image IDs
    #[arg(short = 'q', long)]
    pub(crate) quiet: bool,
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json', or a Go template
    #[arg(long, value_name = "string")]
    pub(crate) format: Option<String>,
    #[arg(value_name = "IMAGE")]
    pub(crate) image: String,
}

#[derive(Debug, Args)]
pub(crate) struct PruneArgs {
    /// Remove all unused images, not just dangling ones
    #[arg(short = 'a', long)]
    pub(crate) all: bool,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub(crate) force: bool,
    /// Provide filter values (e.g. "until=<timestamp>", "label=<key>[=<value>]", "label!=<key>")
    #[arg(long = "filter", value_name = "filter")]
    pub(crate) filter: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct LoadArgs {
    /// Read from tar archive file, instead of STDIN
    #[arg(short = 'i', long = "input", value_name = "string")]
    pub(crate) input: Option<PathBuf>,
    /// Suppress the load output
    #[arg(short = 'q', long)]
    pub(crate) quiet: bool,
}

#[derive(Debug, Args)]
pub(crate) struct SaveArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short = 'o', long = "output", value_name = "string")]
    pub(crate) output: Option<PathBuf>,
    #[arg(value_name = "IMAGE", required = true)]
    pub(crate) images: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    /// Apply Dockerfile instruction to the created image (CMD, ENTRYPOINT,
    /// ENV, WORKDIR, USER, EXPOSE, LABEL, VOLUME)
    #[arg(short = 'c', long = "change", value_name = "list")]
    pub(crate) change: Vec<String>,
    /// Set commit message for imported image
    #[arg(short = 'm', long = "message", value_name = "string")]
    pub(crate) message: Option<String>,
    /// Set platform if server is multi-platform capable (os/arch[/variant])
    #[arg(long, value_name = "string")]
    pub(crate) platform: Option<String>,
    /// A tar archive (optionally gzip or zstd compressed), or - for STDIN
    #[arg(value_name = "file|-")]
    pub(crate) file: String,
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub(crate) reference: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct PullArgs {
    /// Download all tagged images in the repository
    #[arg(short = 'a', long = "all-tags")]
    pub(crate) all_tags: bool,
    /// Suppress verbose output
    #[arg(short = 'q', long)]
    pub(crate) quiet: bool,
    /// Set platform if the image is multi-platform (os/arch[/variant])
    #[arg(long, value_name = "string")]
    pub(crate) platform: Option<String>,
    /// Require HTTPS and verify certificates when talking to the registry
    #[arg(long = "tls-verify", default_value_t = true, action = clap::ArgAction::Set, value_name = "bool")]
    pub(crate) tls_verify: bool,
    #[arg(value_name = "NAME[:TAG|@DIGEST]")]
    pub(crate) name: String,
}

#[derive(Debug, Args)]
pub(crate) struct PushArgs {
    /// Push all tags of the image's repository
    #[arg(short = 'a', long = "all-tags")]
    pub(crate) all_tags: bool,
    /// Suppress verbose output
    #[arg(short = 'q', long)]
    pub(crate) quiet: bool,
    /// Require HTTPS and verify certificates when talking to the registry
    #[arg(long = "tls-verify", default_value_t = true, action = clap::ArgAction::Set, value_name = "bool")]
    pub(crate) tls_verify: bool,
    #[arg(value_name = "NAME[:TAG]")]
    pub(crate) name: String,
}

#[derive(Debug, Args)]
pub(crate) struct LoginArgs {
    /// Username
    #[arg(short = 'u', long, value_name = "string")]
    pub(crate) username: Option<String>,
    /// Password (visible to other users in the process list: prefer --password-stdin)
    #[arg(
        short = 'p',
        long,
        value_name = "string",
        conflicts_with = "password_stdin"
    )]
    pub(crate) password: Option<String>,
    /// Take the password from stdin
    #[arg(long = "password-stdin")]
    pub(crate) password_stdin: bool,
    /// Require HTTPS and verify certificates when talking to the registry
    #[arg(long = "tls-verify", default_value_t = true, action = clap::ArgAction::Set, value_name = "bool")]
    pub(crate) tls_verify: bool,
    /// Registry (default: Docker Hub)
    #[arg(value_name = "SERVER")]
    pub(crate) server: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct LogoutArgs {
    /// Registry (default: Docker Hub)
    #[arg(value_name = "SERVER")]
    pub(crate) server: Option<String>,
}
