//! Which namespaces a container makes for itself and which it shares:
//! `--ipc`, `--pid`, `--uts`, `--cgroupns` and `--userns` (Docker's
//! `IpcMode`, `PidMode`, `UTSMode`, `CgroupnsMode` and `UsernsMode`, with
//! Podman's `keep-id`).
//!
//! `container:X` modes hold the id of the other container, resolved when
//! the container is created (a rename of X does not break them); each
//! start checks that X runs.

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use std::fmt;

/// `--ipc`: System V IPC, POSIX message queues and /dev/shm.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) enum IpcMode {
    /// An IPC namespace and /dev/shm of its own (Docker's daemon default).
    #[default]
    Private,
    /// Like private, and other containers may join it (`container:X`).
    Shareable,
    /// An IPC namespace of its own and no /dev/shm at all.
    None,
    /// The host's IPC namespace and /dev/shm.
    Host,
    /// The IPC namespace and /dev/shm of container `id`.
    Container(String),
}

/// `--pid`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) enum PidMode {
    /// A pid namespace of its own, the program as pid 1.
    #[default]
    Private,
    /// The host's pid namespace: /proc shows every process of the host.
    Host,
    /// The pid namespace of container `id`.
    Container(String),
}

/// `--uts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum UtsMode {
    #[default]
    Private,
    /// The host's host name and domain name.
    Host,
}

/// `--cgroupns`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum CgroupnsMode {
    #[default]
    Private,
    Host,
}

/// `--userns`: how ids inside the container map to the user's.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum UsernsMode {
    /// berth's user namespace: the user is root in the container, the
    /// subordinate ids (if any) are the other users.
    #[default]
    Default,
    /// `--userns host`: as rootless, berth's own user namespace, the same
    /// as the default (there is no host namespace an unprivileged user can
    /// run a container in); as root, no user namespace at all.
    Host,
    /// Podman's `keep-id`: the user's own uid and gid inside the container
    /// (`uid`, `gid`: the ids they appear as), mapped to themselves.
    KeepId(KeepId),
}

/// The ids of `--userns keep-id[:uid=U,gid=G]`, fixed at create.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub(crate) struct KeepId {
    /// The uid the user has inside the container.
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    /// The user's login name, for the container's /etc/passwd.
    pub(crate) user: String,
}

/// The namespace group of the host config.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct NamespaceConfig {
    #[serde(with = "as_string")]
    pub(crate) ipc: IpcMode,
    #[serde(with = "as_string")]
    pub(crate) pid: PidMode,
    #[serde(with = "as_string")]
    pub(crate) uts: UtsMode,
    #[serde(with = "as_string")]
    pub(crate) cgroupns: CgroupnsMode,
    pub(crate) userns: UsernsMode,
}

impl NamespaceConfig {
    pub(crate) fn is_default(&self) -> bool {
        *self == NamespaceConfig::default()
    }

    /// Whether it shares a namespace of another container.
    pub(crate) fn joins_container(&self) -> bool {
        matches!(self.ipc, IpcMode::Container(_)) || matches!(self.pid, PidMode::Container(_))
    }
}

impl IpcMode {
    /// A `--ipc` value; `container:X` keeps X as given (the caller
    /// resolves it to an id).
    pub(crate) fn parse(s: &str) -> Result<IpcMode> {
        Ok(match s {
            "" | "private" => IpcMode::Private,
            "shareable" => IpcMode::Shareable,
            "none" => IpcMode::None,
            "host" => IpcMode::Host,
            _ => match s.strip_prefix("container:") {
                Some(c) if !c.is_empty() => IpcMode::Container(c.to_string()),
                _ => bail!(
                    "invalid --ipc value {s:?}: use private, shareable, none, host or \
                     container:NAME"
                ),
            },
        })
    }

    /// Whether the container has an IPC namespace of its own.
    pub(crate) fn is_private(&self) -> bool {
        matches!(self, IpcMode::Private | IpcMode::Shareable | IpcMode::None)
    }
}

impl PidMode {
    pub(crate) fn parse(s: &str) -> Result<PidMode> {
        Ok(match s {
            "" | "private" => PidMode::Private,
            "host" => PidMode::Host,
            _ => match s.strip_prefix("container:") {
                Some(c) if !c.is_empty() => PidMode::Container(c.to_string()),
                _ => bail!("invalid --pid value {s:?}: use host or container:NAME"),
            },
        })
    }
}

impl UtsMode {
    pub(crate) fn parse(s: &str) -> Result<UtsMode> {
        match s {
            "" => Ok(UtsMode::Private),
            "host" => Ok(UtsMode::Host),
            _ => bail!("invalid --uts value {s:?}: use host (the default is a private one)"),
        }
    }
}

impl CgroupnsMode {
    pub(crate) fn parse(s: &str) -> Result<CgroupnsMode> {
        match s {
            "" | "private" => Ok(CgroupnsMode::Private),
            "host" => Ok(CgroupnsMode::Host),
            _ => bail!("invalid --cgroupns value {s:?}: use host or private"),
        }
    }
}

impl fmt::Display for IpcMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IpcMode::Private => f.write_str("private"),
            IpcMode::Shareable => f.write_str("shareable"),
            IpcMode::None => f.write_str("none"),
            IpcMode::Host => f.write_str("host"),
            IpcMode::Container(c) => write!(f, "container:{c}"),
        }
    }
}

impl fmt::Display for PidMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PidMode::Private => Ok(()),
            PidMode::Host => f.write_str("host"),
            PidMode::Container(c) => write!(f, "container:{c}"),
        }
    }
}

impl fmt::Display for UtsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UtsMode::Private => Ok(()),
            UtsMode::Host => f.write_str("host"),
        }
    }
}

impl fmt::Display for CgroupnsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CgroupnsMode::Private => f.write_str("private"),
            CgroupnsMode::Host => f.write_str("host"),
        }
    }
}

impl fmt::Display for UsernsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsernsMode::Default => Ok(()),
            UsernsMode::Host => f.write_str("host"),
            UsernsMode::KeepId(k) => write!(f, "keep-id:uid={},gid={}", k.uid, k.gid),
        }
    }
}

/// Modes stored as the strings Docker shows (`container:ID`, `host`, "").
mod as_string {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::fmt::Display;

    pub(super) trait Parse: Sized {
        fn parse_stored(s: &str) -> Option<Self>;
    }
    impl Parse for super::IpcMode {
        fn parse_stored(s: &str) -> Option<Self> {
            super::IpcMode::parse(s).ok()
        }
    }
    impl Parse for super::PidMode {
        fn parse_stored(s: &str) -> Option<Self> {
            super::PidMode::parse(s).ok()
        }
    }
    impl Parse for super::UtsMode {
        fn parse_stored(s: &str) -> Option<Self> {
            super::UtsMode::parse(s).ok()
        }
    }
    impl Parse for super::CgroupnsMode {
        fn parse_stored(s: &str) -> Option<Self> {
            super::CgroupnsMode::parse(s).ok()
        }
    }

    pub(super) fn serialize<T: Display, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    pub(super) fn deserialize<'de, T: Parse, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
        let s = String::deserialize(d)?;
        T::parse_stored(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown namespace mode {s:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_as_docker_spells_them() {
        assert_eq!(IpcMode::parse("").unwrap(), IpcMode::Private);
        assert_eq!(
            IpcMode::parse("container:db").unwrap(),
            IpcMode::Container("db".into())
        );
        assert!(IpcMode::parse("bogus").is_err());
        assert!(IpcMode::parse("container:").is_err());
        assert_eq!(PidMode::parse("host").unwrap(), PidMode::Host);
        assert!(PidMode::parse("bogus").is_err());
        assert!(UtsMode::parse("private").is_err());
        assert_eq!(CgroupnsMode::parse("host").unwrap(), CgroupnsMode::Host);
        assert!(IpcMode::None.is_private() && !IpcMode::Host.is_private());
    }

    #[test]
    fn stored_form_round_trips() {
        let c = NamespaceConfig {
            ipc: IpcMode::Container("abc".into()),
            pid: PidMode::Host,
            uts: UtsMode::Host,
            cgroupns: CgroupnsMode::Host,
            userns: UsernsMode::KeepId(KeepId {
                uid: 1000,
                gid: 100,
                user: "me".into(),
            }),
        };
        let json = serde_json::to_string(&c).unwrap();
        assert!(json.contains(r#""ipc":"container:abc""#), "{json}");
        let back: NamespaceConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
        let empty: NamespaceConfig = serde_json::from_str("{}").unwrap();
        assert!(empty.is_default());
        assert_eq!(c.userns.to_string(), "keep-id:uid=1000,gid=100");
    }
}
