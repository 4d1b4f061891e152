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
    /// Not supported: berth makes no device cgroup; --device gives a device
    #[arg(long = "device-cgroup-rule", value_name = "list")]
    pub(crate) device_cgroup_rule: Vec<String>,
}

impl DeviceFlags {
    pub(crate) fn apply(&self, req: &mut CreateRequest) -> Result<()> {
        if !self.device_cgroup_rule.is_empty() {
            anyhow::bail!(
                "--device-cgroup-rule is not supported: berth makes no device cgroup (an \
                 unprivileged user cannot); a container has exactly the devices given with \
                 --device, with the access this user has to them"
            );
        }
        if self.device.is_empty() && self.gpus.is_empty() {
            return Ok(());
        }
        let devices = crate::runtime::devices::from_flags(&self.device, &self.gpus)?;
        req.devices = crate::runtime::devices::provision(&devices)?;
        Ok(())
    }
}
