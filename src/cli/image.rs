//! `images`, `rmi`, `tag`, `history`, `image inspect`, `image prune`.

use super::args::{HistoryArgs, ImagesArgs, InspectArgs, PruneArgs, RmiArgs, TagArgs};
use anyhow::{bail, Result};

pub fn images(_args: ImagesArgs) -> Result<()> {
    bail!("images is not implemented yet")
}
pub fn rmi(_args: RmiArgs) -> Result<()> {
    bail!("rmi is not implemented yet")
}
pub fn tag(_args: TagArgs) -> Result<()> {
    bail!("tag is not implemented yet")
}
pub fn history(_args: HistoryArgs) -> Result<()> {
    bail!("history is not implemented yet")
}
pub fn inspect(_args: InspectArgs) -> Result<()> {
    bail!("image inspect is not implemented yet")
}
pub fn prune(_args: PruneArgs) -> Result<()> {
    bail!("image prune is not implemented yet")
}
