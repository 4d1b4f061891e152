//! The network of a process launched without a monitor: a build's RUN
//! step (`--network default` is the default bridge, as for `run`). The
//! launcher keeps a [`OneShotNetwork`] while the process runs; dropping it
//! leaves the networks and gives the address back.
//!
//! ```ignore
//! let (mut net, launch) = OneShotNetwork::prepare(&store, &mut record)?;
//! let launched = start::launch(..., &launch)?;   // the init makes the TAPs
//! net.launched(launched.pid.as_raw(), launch)?;  // joins the helper now
//! wait_exit(launched.pid);
//! drop(net);
//! ```

use super::monitor_side::{ContainerNetwork, Launch};
use super::records;
use crate::model::ContainerRecord;
use crate::store::Store;
use anyhow::{bail, Result};

/// A process's membership of its networks, held while it runs.
pub(crate) struct OneShotNetwork {
    net: ContainerNetwork,
    store: Store,
    record: ContainerRecord,
}

impl OneShotNetwork {
    /// Leases the record's addresses (a record made in code with the
    /// default mode and no endpoints gets the default bridge) and returns
    /// what the launch needs. Published ports are not for one-shot
    /// processes and are ignored.
    pub(crate) fn prepare(
        store: &Store,
        record: &mut ContainerRecord,
    ) -> Result<(OneShotNetwork, Launch)> {
        record.host.network.publish.clear();
        record.host.network.publish_all = false;
        if record.host.network.mode.is_user_mode() && record.host.network.endpoints.is_empty() {
            let lock = store.lock()?;
            records::resolve_at_create(store, &lock, &mut record.host.network, &[])?;
        }
        let mut net = ContainerNetwork::new(record)?;
        let launch = net.prepare(store, record)?;
        Ok((
            OneShotNetwork {
                net,
                store: store.clone(),
                record: record.clone(),
            },
            launch,
        ))
    }

    /// The process runs: its network devices are taken and the networks'
    /// helpers joined at once (started if none runs).
    pub(crate) fn launched(&mut self, pid: i32, launch: Launch) -> Result<()> {
        self.net.launched(pid, launch);
        self.net.settle();
        if self.net.join_due() {
            self.net.join(&self.store, &self.record);
        }
        if let Some(p) = self.net.problem() {
            bail!("connecting the build step to its network: {p}");
        }
        Ok(())
    }
}

impl Drop for OneShotNetwork {
    fn drop(&mut self) {
        self.net.stopped(&self.store);
    }
}
