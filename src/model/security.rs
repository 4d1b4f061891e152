//! The security group of the host config: capabilities, privileges, the
//! seccomp profile and Landlock (`--cap-add`, `--cap-drop`,
//! `--privileged`, `--security-opt`, `--landlock`), as plain data. The
//! runtime turns it into what a process gets (`runtime::security`).

use serde::{Deserialize, Serialize};

/// `--security-opt seccomp=...`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "profile", rename_all = "lowercase")]
pub(crate) enum SeccompConfig {
    /// Docker's default profile.
    #[default]
    Default,
    /// `unconfined`: no filter.
    Unconfined,
    /// A Docker-format JSON profile, its text as read at create (Docker
    /// keeps the content too: the file may change or go afterwards).
    Custom(String),
}

/// How a container's processes are confined.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct SecurityConfig {
    /// `--privileged`: every capability (of berth's user namespace when
    /// rootless), no seccomp, no masked or read-only paths, the host's
    /// devices the user can open.
    pub(crate) privileged: bool,
    /// `--cap-add`, canonical names (`CAP_NET_ADMIN`) or `ALL`.
    pub(crate) cap_add: Vec<String>,
    /// `--cap-drop`, canonical names or `ALL`.
    pub(crate) cap_drop: Vec<String>,
    /// `--security-opt no-new-privileges`.
    pub(crate) no_new_privileges: bool,
    pub(crate) seccomp: SeccompConfig,
    /// `--landlock`: the container's processes may write only beneath its
    /// root (its volumes included) and reach nothing of the host, enforced
    /// by the kernel.
    pub(crate) landlock: bool,
}

impl SecurityConfig {
    /// Docker's defaults: nothing was asked for.
    pub(crate) fn is_default(&self) -> bool {
        *self == SecurityConfig::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_default_when_absent() {
        let c = SecurityConfig {
            cap_add: vec!["CAP_NET_ADMIN".into()],
            seccomp: SeccompConfig::Custom("{}".into()),
            landlock: true,
            ..Default::default()
        };
        let text = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<SecurityConfig>(&text).unwrap(), c);
        assert_eq!(
            serde_json::from_str::<SecurityConfig>("{}").unwrap(),
            SecurityConfig::default()
        );
        let u: SecurityConfig =
            serde_json::from_str(r#"{"seccomp":{"kind":"unconfined"}}"#).unwrap();
        assert_eq!(u.seccomp, SeccompConfig::Unconfined);
    }
}
