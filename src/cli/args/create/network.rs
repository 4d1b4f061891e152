//! The container's network: `--network`.

use crate::model::CreateRequest;
use anyhow::Result;
use clap::Args;

#[derive(Debug, Args, Clone, Default)]
pub(crate) struct NetworkFlags {
    /// Connect a container to a network: "host" (the host's network) or
    /// "none" (loopback only); the default is host until private networks exist
    #[arg(
        long = "network",
        alias = "net",
        value_name = "network",
        default_value = "host"
    )]
    pub(crate) network: String,
}

impl NetworkFlags {
    pub(crate) fn apply(&self, req: &mut CreateRequest) -> Result<()> {
        req.network.mode = crate::runtime::spec::check_network(&self.network)?;
        Ok(())
    }
}
