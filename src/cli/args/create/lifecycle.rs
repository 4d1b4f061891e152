//! What happens when the container exits: `--restart` and `--rm`.

use crate::model::{CreateRequest, RestartPolicy};
use anyhow::{bail, Result};
use clap::Args;

#[derive(Debug, Args, Clone, Default)]
pub(crate) struct LifecycleFlags {
    /// Restart policy to apply when a container exits (no, on-failure[:max-retries], always, unless-stopped)
    #[arg(long, default_value = "no", value_name = "string")]
    pub(crate) restart: String,
    /// Automatically remove the container and its associated anonymous volumes when it exits
    #[arg(long = "rm")]
    pub(crate) rm: bool,
}

impl LifecycleFlags {
    pub(crate) fn apply(&self, req: &mut CreateRequest) -> Result<()> {
        let restart = RestartPolicy::parse(&self.restart)?;
        if self.rm && restart != RestartPolicy::No {
            bail!("conflicting options: cannot specify both --restart and --rm");
        }
        req.lifecycle.restart = restart;
        req.lifecycle.auto_remove = self.rm;
        Ok(())
    }
}
