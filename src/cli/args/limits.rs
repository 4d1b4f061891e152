//! `update` (new limits for a container) and `stats` (its resource use).

use super::LimitFlags;
use clap::Args;

#[derive(Debug, Args)]
pub(crate) struct UpdateArgs {
    #[command(flatten)]
    pub(crate) limits: LimitFlags,
    /// Not supported: real-time CPU scheduling of containers
    #[arg(long = "cpu-rt-period", value_name = "int")]
    pub(crate) cpu_rt_period: Option<i64>,
    /// Not supported: real-time CPU scheduling of containers
    #[arg(long = "cpu-rt-runtime", value_name = "int")]
    pub(crate) cpu_rt_runtime: Option<i64>,
    /// Restart policy to apply when a container exits
    #[arg(long, value_name = "string")]
    pub(crate) restart: Option<String>,
    #[arg(value_name = "CONTAINER", required = true)]
    pub(crate) containers: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct StatsArgs {
    /// Show all containers (default shows just running)
    #[arg(short = 'a', long)]
    pub(crate) all: bool,
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json', or a Go template
    #[arg(long, value_name = "string")]
    pub(crate) format: Option<String>,
    /// Disable streaming stats and only pull the first result
    #[arg(long = "no-stream")]
    pub(crate) no_stream: bool,
    /// Do not truncate output
    #[arg(long = "no-trunc")]
    pub(crate) no_trunc: bool,
    #[arg(value_name = "CONTAINER")]
    pub(crate) containers: Vec<String>,
}
