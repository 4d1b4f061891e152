//! `version`, `info`, `inspect` (either kind) and man page generation.

use super::args::{InfoArgs, InspectArgs, ManArgs, VersionArgs};
use anyhow::{bail, Result};

pub fn version(_args: VersionArgs) -> Result<()> {
    bail!("version is not implemented yet")
}
pub fn info(_args: InfoArgs) -> Result<()> {
    bail!("info is not implemented yet")
}
pub fn inspect(_args: InspectArgs) -> Result<()> {
    bail!("inspect is not implemented yet")
}
pub fn generate_man_pages(_args: ManArgs) -> Result<()> {
    bail!("not implemented yet")
}
