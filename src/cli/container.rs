//! `ps`, `rm` and `container inspect`.

use super::args::{InspectArgs, PsArgs, RmArgs};
use anyhow::{bail, Result};

pub fn ps(_args: PsArgs) -> Result<()> {
    bail!("ps is not implemented yet")
}

pub fn rm(_args: RmArgs) -> Result<()> {
    bail!("rm is not implemented yet")
}

pub fn inspect(_args: InspectArgs) -> Result<()> {
    bail!("container inspect is not implemented yet")
}
