//! Namespaces the container shares or makes: `--ipc`, `--pid`, `--uts`,
//! `--cgroupns` and `--userns`.

use crate::model::namespaces::{CgroupnsMode, IpcMode, PidMode, UsernsMode, UtsMode};
use crate::model::CreateRequest;
use anyhow::{bail, Result};
use clap::Args;

#[derive(Debug, Args, Clone, Default)]
pub(crate) struct NamespaceFlags {
    /// IPC mode to use: private (the default), shareable, none, host or container:NAME
    #[arg(long = "ipc", value_name = "string")]
    pub(crate) ipc: Option<String>,
    /// PID namespace to use: host or container:NAME (the default is a private one)
    #[arg(long = "pid", value_name = "string")]
    pub(crate) pid: Option<String>,
    /// UTS namespace to use: host (the default is a private one)
    #[arg(long = "uts", value_name = "string")]
    pub(crate) uts: Option<String>,
    /// Cgroup namespace to use (host|private)
    #[arg(long = "cgroupns", value_name = "string")]
    pub(crate) cgroupns: Option<String>,
    /// User namespace to use: host (berth's own, the default) or keep-id[:uid=UID,gid=GID] (your own uid and gid inside)
    #[arg(long = "userns", value_name = "string")]
    pub(crate) userns: Option<String>,
}

impl NamespaceFlags {
    pub(crate) fn apply(&self, req: &mut CreateRequest) -> Result<()> {
        let ns = &mut req.namespaces;
        if let Some(v) = &self.ipc {
            ns.ipc = IpcMode::parse(v)?;
        }
        if let Some(v) = &self.pid {
            ns.pid = PidMode::parse(v)?;
        }
        if let Some(v) = &self.uts {
            ns.uts = UtsMode::parse(v)?;
        }
        if let Some(v) = &self.cgroupns {
            ns.cgroupns = CgroupnsMode::parse(v)?;
        }
        if let Some(v) = &self.userns {
            ns.userns = crate::userns::keep_id::parse_mode(v)?;
        }
        Ok(())
    }
}

/// Combinations Docker (or the kernel, rootless) refuses, checked once
/// every group has filled in its part of the request.
pub(crate) fn check_combinations(req: &CreateRequest) -> Result<()> {
    let ns = &req.namespaces;
    if ns.uts == UtsMode::Host {
        if req.process.hostname.is_some() {
            bail!("conflicting options: hostname and the UTS mode");
        }
        if req.process.domainname.is_some() {
            bail!(
                "conflicting options: --domainname sets the domain name of the container's own \
                 UTS namespace, which --uts host does not make"
            );
        }
    }
    if let UsernsMode::KeepId(_) = &ns.userns {
        let joins =
            matches!(ns.ipc, IpcMode::Container(_)) || matches!(ns.pid, PidMode::Container(_));
        if joins {
            bail!(
                "--userns keep-id cannot be combined with --ipc or --pid container:NAME: the \
                 container would run in a user namespace of its own, which cannot enter the \
                 other container's namespaces"
            );
        }
    }
    Ok(())
}
