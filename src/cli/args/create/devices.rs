//! `--device` and `--gpus`: host devices the user may open, GPUs and CDI
//! devices. They are resolved here, before an image is pulled, so that a
//! machine without a GPU says so at once.

use crate::model::CreateRequest;
use anyhow::Result;
use clap::Args;

#[derive(Debug, Args, Clone, Default)]
pub(crate) struct DeviceFlags {
    /// Add a host device to the container
    #[arg(long = "device", value_name = "list")]
    pub(crate) device: Vec<String>,
    /// GPU devices to add to the container ('all' to pass all GPUs)
    #[arg(long, value_name = "gpu-request")]
    pub(crate) gpus: Vec<String>,
}

impl DeviceFlags {
    pub(crate) fn apply(&self, req: &mut CreateRequest) -> Result<()> {
        if self.device.is_empty() && self.gpus.is_empty() {
            return Ok(());
        }
        let devices = crate::runtime::devices::from_flags(&self.device, &self.gpus)?;
        req.devices = crate::runtime::devices::provision(&devices)?;
        Ok(())
    }
}
