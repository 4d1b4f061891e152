//! `run`, `create` and `start`.

use super::args::{RunArgs, StartArgs};
use anyhow::{bail, Result};

pub fn run(_args: RunArgs) -> Result<()> {
    bail!("run is not implemented yet")
}

pub fn create(_args: RunArgs) -> Result<()> {
    bail!("create is not implemented yet")
}

pub fn start(_args: StartArgs) -> Result<()> {
    bail!("start is not implemented yet")
}
