//! Docker's `run` flags that berth cannot honour. Each is accepted by the
//! parser so that the error can say why it is refused and what to use
//! instead, rather than "unexpected argument" (and never parsed and
//! ignored). A value that means what berth does anyway (`--isolation
//! default`, `--volume-driver local`, `--disable-content-trust`) passes.

use anyhow::{bail, Result};
use clap::Args;

#[derive(Debug, Args, Clone, Default)]
pub(crate) struct RefusedFlags {
    /// Not supported: run berth inside the cgroup you want instead
    #[arg(long = "cgroup-parent", value_name = "string")]
    pub(crate) cgroup_parent: Option<String>,
    /// Skip image verification (berth never verifies signatures, only digests)
    #[arg(
        long = "disable-content-trust",
        value_name = "bool",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    pub(crate) disable_content_trust: Option<bool>,
    /// Container isolation technology (only "default" on Linux)
    #[arg(long = "isolation", value_name = "string")]
    pub(crate) isolation: Option<String>,
    /// Not supported (legacy links): use a user-defined network instead
    #[arg(long = "link", value_name = "list")]
    pub(crate) link: Vec<String>,
    /// Not supported: berth is its own runtime
    #[arg(long = "runtime", value_name = "string")]
    pub(crate) runtime: Option<String>,
    /// Not supported: berth's overlay storage has no per-container options
    #[arg(long = "storage-opt", value_name = "list")]
    pub(crate) storage_opt: Vec<String>,
    /// Not supported: berth has no daemon, so no API socket
    #[arg(long = "use-api-socket")]
    pub(crate) use_api_socket: bool,
    /// Driver for the volumes of -v (only "local")
    #[arg(long = "volume-driver", value_name = "string")]
    pub(crate) volume_driver: Option<String>,
}

impl RefusedFlags {
    /// Fails for the first flag given that berth cannot honour.
    pub(crate) fn check(&self) -> Result<()> {
        if self.cgroup_parent.is_some() {
            bail!(
                "--cgroup-parent is not supported: berth has no daemon to create cgroups \
                 elsewhere; a container's cgroup is a child of its monitor's (when the \
                 cgroup tree is delegated to you), so start berth inside the cgroup you want \
                 (systemd-run --user --scope, or a Slurm job's cgroup)"
            );
        }
        if self.disable_content_trust == Some(false) {
            bail!(
                "--disable-content-trust=false asks for Docker Content Trust (image signatures \
                 checked with Notary), which berth does not support; images are verified by \
                 their digests only"
            );
        }
        if let Some(i) = self
            .isolation
            .as_deref()
            .filter(|i| !i.is_empty() && *i != "default")
        {
            bail!("Invalid isolation: {i:?} - linux only supports 'default'");
        }
        if !self.link.is_empty() {
            bail!(
                "--link is a legacy Docker feature that berth does not have: put the containers \
                 on a user-defined network (--network NAME), where they reach each other by \
                 name (and by --network-alias)"
            );
        }
        if let Some(r) = &self.runtime {
            bail!(
                "--runtime {r:?} is not supported: berth starts containers itself and has no \
                 OCI runtimes to choose from"
            );
        }
        if !self.storage_opt.is_empty() {
            bail!(
                "--storage-opt is not supported: berth's overlay storage has no per-container \
                 options (a size limit needs a quota-capable filesystem and root); use --tmpfs \
                 or a volume for bounded scratch space"
            );
        }
        if self.use_api_socket {
            bail!(
                "--use-api-socket is not supported: berth has no daemon and so no API socket \
                 to mount into the container"
            );
        }
        if let Some(d) = self
            .volume_driver
            .as_deref()
            .filter(|d| !d.is_empty() && *d != "local")
        {
            bail!("volume driver {d:?} is not available: berth has only the local driver");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_that_mean_the_default_pass() {
        let ok = RefusedFlags {
            disable_content_trust: Some(true),
            isolation: Some("default".into()),
            volume_driver: Some("local".into()),
            ..Default::default()
        };
        assert!(ok.check().is_ok());
        let e = RefusedFlags {
            isolation: Some("process".into()),
            ..Default::default()
        }
        .check()
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Invalid isolation: \"process\" - linux only supports 'default'"
        );
        for f in [
            RefusedFlags {
                link: vec!["db".into()],
                ..Default::default()
            },
            RefusedFlags {
                runtime: Some("runc".into()),
                ..Default::default()
            },
            RefusedFlags {
                use_api_socket: true,
                ..Default::default()
            },
            RefusedFlags {
                disable_content_trust: Some(false),
                ..Default::default()
            },
        ] {
            assert!(f.check().is_err(), "{f:?}");
        }
    }
}
