//! Kernel settings of the container: `--sysctl`, `--shm-size` and
//! `--oom-score-adj`.

use crate::model::kernel::{self, SysctlNamespace};
use crate::model::CreateRequest;
use anyhow::{bail, Result};
use clap::Args;

#[derive(Debug, Args, Clone, Default)]
pub(crate) struct KernelFlags {
    /// Sysctl options of the container's own namespaces (net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*)
    #[arg(long = "sysctl", value_name = "map")]
    pub(crate) sysctl: Vec<String>,
    /// Size of /dev/shm (default 64m)
    #[arg(long = "shm-size", value_name = "bytes")]
    pub(crate) shm_size: Option<String>,
    /// Tune host's OOM preferences (-1000 to 1000)
    #[arg(
        long = "oom-score-adj",
        value_name = "int",
        allow_negative_numbers = true
    )]
    pub(crate) oom_score_adj: Option<i64>,
}

impl KernelFlags {
    /// Needs the network and IPC modes of the request (applied before).
    pub(crate) fn apply(&self, req: &mut CreateRequest) -> Result<()> {
        for item in &self.sysctl {
            let (key, value, ns) = kernel::parse_sysctl(item)?;
            match ns {
                SysctlNamespace::Network if !req.network.mode.is_private() => bail!(
                    "sysctl {key:?} not allowed in host network namespace: net.* sysctls need a \
                     network namespace of the container's own (the default network, a user-defined \
                     network or --network none)"
                ),
                SysctlNamespace::Ipc if !req.namespaces.ipc.is_private() => bail!(
                    "sysctl {key:?} is not allowed in the hosts ipc namespace: it needs an IPC \
                     namespace of the container's own (--ipc private, shareable or none)"
                ),
                _ => {}
            }
            req.kernel.sysctls.insert(key, value);
        }
        if let Some(s) = &self.shm_size {
            let bytes = crate::util::ram_bytes::parse(s).map_err(|e| {
                anyhow::anyhow!("invalid argument {s:?} for \"--shm-size\" flag: {e}")
            })?;
            use crate::model::namespaces::IpcMode;
            match &req.namespaces.ipc {
                IpcMode::Private | IpcMode::Shareable => {}
                other => bail!(
                    "--shm-size sizes the container's own /dev/shm, which --ipc {other} does not \
                     make"
                ),
            }
            // 0 is Docker's way of asking for the default.
            req.kernel.shm_size = (bytes > 0).then_some(bytes);
        }
        if let Some(v) = self.oom_score_adj {
            req.kernel.oom_score_adj = Some(kernel::check_oom_score_adj(v)?);
        }
        Ok(())
    }
}
