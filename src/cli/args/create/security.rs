//! Capabilities and confinement: `--cap-add`, `--cap-drop`, `--privileged`,
//! `--security-opt`, `--landlock`.

use crate::model::{CreateRequest, SeccompConfig, SecurityConfig};
use anyhow::{bail, Context, Result};
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
    let names = |list: &[String], flag: &str| -> Result<Vec<String>> {
        list.iter()
            .flat_map(|v| v.split(','))
            .filter(|n| !n.trim().is_empty())
            .map(|n| {
                crate::runtime::caps::canonical_name(n.trim())
                    .with_context(|| format!("{flag} {n}"))
            })
            .collect()
    };
    let mut config = SecurityConfig {
        privileged: flags.privileged,
        cap_add: names(&flags.cap_add, "--cap-add")?,
        cap_drop: names(&flags.cap_drop, "--cap-drop")?,
        landlock: flags.landlock,
        ..Default::default()
    };
    for opt in &flags.security_opt {
        apply_security_opt(&mut config, opt)?;
    }
    Ok(config)
}

/// One `--security-opt` value (`key=value`; Docker also takes `key:value`
/// from its older releases).
fn apply_security_opt(config: &mut SecurityConfig, opt: &str) -> Result<()> {
    let (key, value) = match opt.split_once('=').or_else(|| opt.split_once(':')) {
        Some((k, v)) => (k, Some(v)),
        None => (opt, None),
    };
    match (key, value) {
        ("no-new-privileges", None) => config.no_new_privileges = true,
        ("no-new-privileges", Some(v)) => {
            config.no_new_privileges = match v {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => bail!("invalid --security-opt {opt}: no-new-privileges takes true or false"),
            }
        }
        ("seccomp", Some(v)) => {
            config.seccomp = match v {
                "unconfined" => SeccompConfig::Unconfined,
                "builtin" | "default" => SeccompConfig::Default,
                "" => bail!(
                    "invalid --security-opt {opt}: seccomp needs unconfined, builtin or the path \
                     of a profile in Docker's JSON format"
                ),
                path => {
                    let text = std::fs::read_to_string(path).with_context(|| {
                        format!("--security-opt seccomp={path}: reading the profile")
                    })?;
                    // Checked now: a bad profile is the user's error at create,
                    // not a container that cannot start.
                    crate::seccomp::json::parse(&text)
                        .with_context(|| format!("--security-opt seccomp={path}"))?;
                    SeccompConfig::Custom(text)
                }
            }
        }
        ("label" | "apparmor", Some(_)) => crate::util::report::notice(&format!(
            "--security-opt {opt}: accepted, but berth applies no SELinux label or AppArmor \
             profile (it confines containers with user namespaces, seccomp and, with \
             --landlock, Landlock)"
        )),
        ("systempaths", Some("unconfined")) => bail!(
            "--security-opt systempaths=unconfined is not supported: use --privileged to drop \
             the masked paths"
        ),
        _ => bail!(
            "invalid --security-opt {opt}: berth knows seccomp=unconfined|builtin|PROFILE.json, \
             no-new-privileges[=true|false], label=... and apparmor=... (the last two are not \
             applied)"
        ),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
