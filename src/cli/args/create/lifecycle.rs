//! What happens when the container exits or is stopped: `--restart`,
//! `--rm` and `--stop-timeout`.

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
    /// Timeout (in seconds) to stop a container (default 10; negative waits forever)
    #[arg(
        long = "stop-timeout",
        value_name = "int",
        allow_negative_numbers = true
    )]
    pub(crate) stop_timeout: Option<i64>,
}

impl LifecycleFlags {
    pub(crate) fn apply(&self, req: &mut CreateRequest) -> Result<()> {
        let restart = RestartPolicy::parse(&self.restart)?;
        if self.rm && restart != RestartPolicy::No {
            bail!("conflicting options: cannot specify both --restart and --rm");
        }
        req.lifecycle.restart = restart;
        req.lifecycle.auto_remove = self.rm;
        req.process.stop_timeout = self.stop_timeout;
        Ok(())
    }
}
