//! `--health-*` and `--no-healthcheck`: the container's health check,
//! over the image's HEALTHCHECK.

use crate::model::CreateRequest;
use crate::util::humanize::parse_duration_ns;
use anyhow::Result;
use clap::Args;

#[derive(Debug, Args, Clone, Default)]
pub(crate) struct HealthFlags {
    /// Command to run to check health
    #[arg(long = "health-cmd", value_name = "string")]
    pub(crate) health_cmd: Option<String>,
    /// Time between running the check (ms|s|m|h) (default 30s)
    #[arg(long = "health-interval", value_name = "duration")]
    pub(crate) health_interval: Option<String>,
    /// Maximum time to allow one check to run (ms|s|m|h) (default 30s)
    #[arg(long = "health-timeout", value_name = "duration")]
    pub(crate) health_timeout: Option<String>,
    /// Consecutive failures needed to report unhealthy
    #[arg(long = "health-retries", value_name = "int")]
    pub(crate) health_retries: Option<u32>,
    /// Start period for the container to initialize before starting health-retries countdown (ms|s|m|h)
    #[arg(long = "health-start-period", value_name = "duration")]
    pub(crate) health_start_period: Option<String>,
    /// Time between running the check during the start period (ms|s|m|h) (default 5s)
    #[arg(long = "health-start-interval", value_name = "duration")]
    pub(crate) health_start_interval: Option<String>,
    /// Disable any container-specified HEALTHCHECK
    #[arg(long = "no-healthcheck")]
    pub(crate) no_healthcheck: bool,
}

/// A `--health-NAME` duration in nanoseconds.
fn duration(value: &Option<String>, name: &str) -> Result<Option<u64>> {
    value
        .as_deref()
        .map(|d| parse_duration_ns(d).map_err(|e| anyhow::anyhow!("invalid --health-{name}: {e}")))
        .transpose()
}

impl HealthFlags {
    pub(crate) fn apply(&self, req: &mut CreateRequest) -> Result<()> {
        let h = &mut req.process.health;
        h.cmd = self.health_cmd.clone();
        h.interval = duration(&self.health_interval, "interval")?;
        h.timeout = duration(&self.health_timeout, "timeout")?;
        h.start_period = duration(&self.health_start_period, "start-period")?;
        h.start_interval = duration(&self.health_start_interval, "start-interval")?;
        h.retries = self.health_retries;
        h.disabled = self.no_healthcheck;
        Ok(())
    }
}
