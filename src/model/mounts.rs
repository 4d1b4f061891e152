//! Mounts: what a user asks for (`-v`, `--mount`, `--tmpfs`, parsed but
//! not yet made) and what a container has (volumes exist, paths resolved).

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Which kind of mount a `MountPoint` is.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub(crate) enum MountKind {
    #[default]
    Bind,
    Volume,
    Tmpfs,
}

/// Which flag (or the image) asked for a mount: `inspect` shows `-v`
/// mounts in `HostConfig.Binds`, `--mount` ones in `HostConfig.Mounts`,
/// `--tmpfs` in `HostConfig.Tmpfs`, as Docker keeps them apart.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum MountOrigin {
    /// `-v` (also records written before origins were kept).
    #[default]
    VolumeFlag,
    MountFlag,
    TmpfsFlag,
    /// A VOLUME of the image.
    Image,
    /// `--volumes-from`.
    Inherited,
}

impl MountOrigin {
    fn is_default(&self) -> bool {
        *self == MountOrigin::VolumeFlag
    }
}

/// One mount of a container (`-v`, `--mount`, `--tmpfs`, an image VOLUME).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub(crate) struct MountPoint {
    pub(crate) kind: MountKind,
    /// Host path for binds, the volume's `_data` for volumes, empty for tmpfs.
    pub(crate) source: PathBuf,
    /// Absolute path inside the container.
    pub(crate) destination: String,
    pub(crate) read_only: bool,
    /// The volume's name, for volumes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) volume: Option<String>,
    /// Anonymous volumes go away with `rm -v` and `run --rm`.
    pub(crate) anonymous: bool,
    /// Do not fill an empty volume with the image's content at the path.
    pub(crate) nocopy: bool,
    /// Mount options of a tmpfs (`size=64m,mode=1777`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) tmpfs_options: String,
    #[serde(skip_serializing_if = "MountOrigin::is_default")]
    pub(crate) origin: MountOrigin,
}

/// One requested mount, checked but before volumes exist.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct MountRequest {
    pub(crate) kind: MountKind,
    /// Host path (bind) or volume name; `None` for an anonymous volume or tmpfs.
    pub(crate) source: Option<String>,
    pub(crate) destination: String,
    pub(crate) read_only: bool,
    pub(crate) nocopy: bool,
    pub(crate) tmpfs_options: String,
    /// `-v` creates a missing bind source; `--mount` refuses it (as Docker).
    pub(crate) create_missing_source: bool,
    pub(crate) volume_labels: IndexMap<String, String>,
    pub(crate) origin: MountOrigin,
    /// The named source is an anonymous volume this container takes over
    /// (compose keeps a replaced container's): it goes with this one.
    pub(crate) anonymous: bool,
}

/// The container's root filesystem and what is mounted on it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct StorageConfig {
    /// Volumes, binds and tmpfs mounts, in the order they are mounted.
    pub(crate) mounts: Vec<MountPoint>,
    /// `--read-only`: the root filesystem is mounted read-only.
    pub(crate) read_only: bool,
}
