//! Where the container's output goes: `--log-driver` and `--log-opt`.

use crate::model::logging::LogConfig;
use crate::model::CreateRequest;
use anyhow::Result;
use clap::Args;

#[derive(Debug, Args, Clone, Default)]
pub(crate) struct LoggingFlags {
    /// Logging driver for the container: json-file (the default), local or none
    #[arg(long = "log-driver", value_name = "string")]
    pub(crate) log_driver: Option<String>,
    /// Log driver options: max-size=SIZE, max-file=N, compress=BOOL
    #[arg(long = "log-opt", value_name = "list")]
    pub(crate) log_opt: Vec<String>,
}

impl LoggingFlags {
    pub(crate) fn apply(&self, req: &mut CreateRequest) -> Result<()> {
        req.log = LogConfig::parse(self.log_driver.as_deref(), &self.log_opt)?;
        Ok(())
    }
}
