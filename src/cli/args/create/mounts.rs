//! The container's filesystem: `-v`, `--mount`, `--tmpfs`,
//! `--volumes-from` and `--read-only`.

use crate::model::CreateRequest;
use crate::runtime::mount_spec;
use anyhow::Result;
use clap::Args;

#[derive(Debug, Args, Clone, Default)]
pub(crate) struct MountFlags {
    /// Mount the container's root filesystem as read only
    #[arg(long = "read-only")]
    pub(crate) read_only: bool,
    /// Bind mount a volume: NAME:PATH[:ro], /HOST-PATH:PATH[:ro|rw], or PATH for an anonymous volume
    #[arg(short = 'v', long = "volume", value_name = "list")]
    pub(crate) volume: Vec<String>,
    /// Attach a filesystem mount to the container
    /// (type=bind|volume|tmpfs,source=,target=,readonly,volume-nocopy,tmpfs-size=,tmpfs-mode=)
    #[arg(long = "mount", value_name = "mount")]
    pub(crate) mount: Vec<String>,
    /// Mount a tmpfs directory (PATH[:OPTIONS])
    #[arg(long = "tmpfs", value_name = "list")]
    pub(crate) tmpfs: Vec<String>,
    /// Mount volumes from the specified container(s) (CONTAINER[:ro|rw])
    #[arg(long = "volumes-from", value_name = "list")]
    pub(crate) volumes_from: Vec<String>,
}

impl MountFlags {
    pub(crate) fn apply(&self, req: &mut CreateRequest) -> Result<()> {
        req.mounts = mount_spec::parse_all(&self.volume, &self.mount, &self.tmpfs)?;
        req.volumes_from = self.volumes_from.clone();
        req.read_only = self.read_only;
        Ok(())
    }
}
