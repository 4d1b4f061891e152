//! Capabilities and confinement: `--cap-add`, `--cap-drop`, `--privileged`,
//! `--security-opt`, `--landlock`.

use crate::model::{CreateRequest, SecurityConfig};
use anyhow::Result;
use clap::Args;

#[derive(Debug, Args, Clone, Default)]
pub(crate) struct SecurityFlags {
    /// Add Linux capabilities (names with or without CAP_, or ALL)
    #[arg(long = "cap-add", value_name = "list")]
    pub(crate) cap_add: Vec<String>,
    /// Drop Linux capabilities (names with or without CAP_, or ALL)
    #[arg(long = "cap-drop", value_name = "list")]
    pub(crate) cap_drop: Vec<String>,
    /// Give extended privileges to this container: rootless, every
    /// capability of berth's user namespace, no seccomp filter, no masked
    /// paths, and the host's devices the user can open
    #[arg(long)]
    pub(crate) privileged: bool,
    /// Security options: seccomp=unconfined|builtin|PROFILE.json,
    /// no-new-privileges[=true|false]; label=... and apparmor=... are
    /// accepted and not applied
    #[arg(long = "security-opt", value_name = "list")]
    pub(crate) security_opt: Vec<String>,
    /// Confine the container with Landlock (berth's own): its processes
    /// may write only beneath its root and volumes and reach nothing of
    /// the host, enforced by the kernel
    #[arg(long)]
    pub(crate) landlock: bool,
}

impl SecurityFlags {
    pub(crate) fn apply(&self, req: &mut CreateRequest) -> Result<()> {
        req.security = security_config(self)?;
        Ok(())
    }
}

fn security_config(flags: &SecurityFlags) -> Result<SecurityConfig> {
    crate::runtime::security::config(&crate::runtime::security::Settings {
        privileged: flags.privileged,
        cap_add: &flags.cap_add,
        cap_drop: &flags.cap_drop,
        security_opt: &flags.security_opt,
        landlock: flags.landlock,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SeccompConfig;

    fn flags(add: &[&str], drop: &[&str], opts: &[&str]) -> SecurityFlags {
        SecurityFlags {
            cap_add: add.iter().map(|s| s.to_string()).collect(),
            cap_drop: drop.iter().map(|s| s.to_string()).collect(),
            security_opt: opts.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn capability_names_are_canonical() {
        let c = security_config(&flags(&["net_admin", "CAP_SYS_PTRACE"], &["all"], &[])).unwrap();
        assert_eq!(c.cap_add, ["CAP_NET_ADMIN", "CAP_SYS_PTRACE"]);
        assert_eq!(c.cap_drop, ["ALL"]);
        let e = security_config(&flags(&["FLY"], &[], &[])).unwrap_err();
        assert!(format!("{e:#}").contains("--cap-add FLY"), "{e:#}");
    }

    #[test]
    fn security_opts() {
        let c = security_config(&flags(
            &[],
            &[],
            &["no-new-privileges", "seccomp=unconfined", "label=disable"],
        ))
        .unwrap();
        assert!(c.no_new_privileges);
        assert_eq!(c.seccomp, SeccompConfig::Unconfined);
        let c = security_config(&flags(&[], &[], &["no-new-privileges:false"])).unwrap();
        assert!(!c.no_new_privileges);
        assert!(security_config(&flags(&[], &[], &["bogus=1"])).is_err());
        let e = security_config(&flags(&[], &[], &["seccomp=/no/such.json"])).unwrap_err();
        assert!(format!("{e:#}").contains("/no/such.json"), "{e:#}");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.json");
        std::fs::write(&p, r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#).unwrap();
        let c = security_config(&flags(&[], &[], &[&format!("seccomp={}", p.display())])).unwrap();
        assert!(matches!(c.seccomp, SeccompConfig::Custom(_)));
        std::fs::write(&p, "{nope").unwrap();
        assert!(security_config(&flags(&[], &[], &[&format!("seccomp={}", p.display())])).is_err());
    }
}
