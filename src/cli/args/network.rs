//! Flags of `network ...` and `port`.

use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub(crate) enum NetworkCommand {
    /// Connect a container to a network
    Connect(NetworkConnectArgs),
    /// Create a network
    Create(NetworkCreateArgs),
    /// Disconnect a container from a network
    Disconnect(NetworkDisconnectArgs),
    /// Display detailed information on one or more networks
    Inspect(NetworkInspectArgs),
    /// List networks
    #[command(alias = "list")]
    Ls(NetworkLsArgs),
    /// Remove all unused networks
    Prune(NetworkPruneArgs),
    /// Remove one or more networks
    #[command(alias = "remove")]
    Rm(NetworkRmArgs),
}

#[derive(Debug, Args)]
pub(crate) struct NetworkCreateArgs {
    /// Driver to manage the Network (only "bridge": berth's user-mode network)
    #[arg(short = 'd', long, default_value = "bridge", value_name = "string")]
    pub(crate) driver: String,
    /// Subnet in CIDR format that represents a network segment
    #[arg(long, value_name = "strings")]
    pub(crate) subnet: Vec<String>,
    /// IPv4 Gateway for the master subnet
    #[arg(long, value_name = "strings")]
    pub(crate) gateway: Vec<String>,
    /// Allocate container ip from a sub-range
    #[arg(long = "ip-range", value_name = "strings")]
    pub(crate) ip_range: Vec<String>,
    /// Restrict external access to the network
    #[arg(long)]
    pub(crate) internal: bool,
    /// Enable manual container attachment
    #[arg(long)]
    pub(crate) attachable: bool,
    /// Enable or disable IPv6 networking (not supported yet)
    #[arg(long)]
    pub(crate) ipv6: bool,
    /// Set metadata on a network
    #[arg(long = "label", value_name = "list")]
    pub(crate) label: Vec<String>,
    /// Set driver specific options (com.docker.network.driver.mtu=N)
    #[arg(short = 'o', long = "opt", value_name = "map")]
    pub(crate) opt: Vec<String>,
    #[arg(value_name = "NETWORK")]
    pub(crate) name: String,
}

#[derive(Debug, Args)]
pub(crate) struct NetworkLsArgs {
    /// Only display network IDs
    #[arg(short = 'q', long)]
    pub(crate) quiet: bool,
    /// Do not truncate the output
    #[arg(long = "no-trunc")]
    pub(crate) no_trunc: bool,
    /// Provide filter values (e.g. "driver=bridge"): name=, id=, label=,
    /// driver=, scope=, type=custom|builtin, dangling=true|false
    #[arg(short = 'f', long = "filter", value_name = "filter")]
    pub(crate) filter: Vec<String>,
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json', or a Go template
    #[arg(long, value_name = "string")]
    pub(crate) format: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct NetworkInspectArgs {
    /// Format output using a custom template: 'json', or a Go template
    #[arg(short = 'f', long, value_name = "string")]
    pub(crate) format: Option<String>,
    /// Verbose output for diagnostics (accepted; berth's output is complete)
    #[arg(short = 'v', long)]
    pub(crate) verbose: bool,
    #[arg(value_name = "NETWORK", required = true)]
    pub(crate) names: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct NetworkRmArgs {
    /// Do not error if the network does not exist
    #[arg(short = 'f', long)]
    pub(crate) force: bool,
    #[arg(value_name = "NETWORK", required = true)]
    pub(crate) names: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct NetworkPruneArgs {
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub(crate) force: bool,
    /// Provide filter values (label=KEY[=VALUE], label!=..., until=TIMESTAMP)
    #[arg(long = "filter", value_name = "filter")]
    pub(crate) filter: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct NetworkConnectArgs {
    /// Add network-scoped alias for the container
    #[arg(long = "alias", value_name = "strings")]
    pub(crate) alias: Vec<String>,
    /// IPv4 address (e.g., "172.30.100.104")
    #[arg(long = "ip", value_name = "string")]
    pub(crate) ip: Option<String>,
    #[arg(value_name = "NETWORK")]
    pub(crate) network: String,
    #[arg(value_name = "CONTAINER")]
    pub(crate) container: String,
}

#[derive(Debug, Args)]
pub(crate) struct NetworkDisconnectArgs {
    /// Force the container to disconnect from a network
    #[arg(short = 'f', long)]
    pub(crate) force: bool,
    #[arg(value_name = "NETWORK")]
    pub(crate) network: String,
    #[arg(value_name = "CONTAINER")]
    pub(crate) container: String,
}

#[derive(Debug, Args)]
pub(crate) struct PortArgs {
    #[arg(value_name = "CONTAINER")]
    pub(crate) container: String,
    /// The container port (and protocol) to show: PRIVATE_PORT[/PROTO]
    #[arg(value_name = "PRIVATE_PORT[/PROTO]")]
    pub(crate) port: Option<String>,
}
