//! `load`, `save` and `import`: image archives in and out.

use super::args::{ImportArgs, LoadArgs, SaveArgs};
use anyhow::{bail, Result};

pub fn load(_args: LoadArgs) -> Result<()> {
    bail!("load is not implemented yet")
}

pub fn save(_args: SaveArgs) -> Result<()> {
    bail!("save is not implemented yet")
}

pub fn import(_args: ImportArgs) -> Result<()> {
    bail!("import is not implemented yet")
}
