//! Flags of `create` and `run`, in groups: each group is a struct of its
//! own, flattened into [`CreateArgs`], in a file of its own with the code
//! that turns its flags into its part of the [`CreateRequest`] (checked:
//! bad input fails here, before an image is pulled or anything is made).
//!
//! A new group (security, resources, logging...) is a new file here with
//! its struct and its `apply`, one `#[command(flatten)]` field below and
//! one `apply` call in [`CreateArgs::request`].

mod health;
mod lifecycle;
mod mounts;
mod network;
mod process;
mod security;

pub(crate) use health::HealthFlags;
pub(crate) use lifecycle::LifecycleFlags;
pub(crate) use mounts::MountFlags;
pub(crate) use network::NetworkFlags;
pub(crate) use process::ProcessFlags;
pub(crate) use security::SecurityFlags;

use crate::model::CreateRequest;
use anyhow::Result;
use clap::Args;

/// Options shared by `create` and `run`.
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
    /// Pull image before running ("always", "missing", "never")
    #[arg(long, default_value = "missing", value_name = "string")]
    pub(crate) pull: String,
    /// Suppress the pull output
    #[arg(short = 'q', long)]
    pub(crate) quiet: bool,
    /// Image to run
    #[arg(value_name = "IMAGE")]
    pub(crate) image: String,
    /// Command and arguments, replacing the image's CMD
    #[arg(
        value_name = "COMMAND",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub(crate) command: Vec<String>,
}

impl CreateArgs {
    /// The request these flags make, checked.
    pub(crate) fn request(&self) -> Result<CreateRequest> {
        let mut req = CreateRequest {
            name: self.name.clone(),
            image: self.image.clone(),
            ..Default::default()
        };
        req.process.command = self.command.clone();
        self.process.apply(&mut req)?;
        self.health.apply(&mut req)?;
        self.mounts.apply(&mut req)?;
        self.network.apply(&mut req)?;
        self.lifecycle.apply(&mut req)?;
        self.security.apply(&mut req)?;
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
