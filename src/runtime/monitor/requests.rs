//! The monitor's answers to `update` and `stats`, and what it does when
//! asked to go away (SIGTERM from `kill`, Slurm's `scancel`, a shutdown):
//! kept apart from the event loop so each stays small.

use super::Monitor;
use crate::model::resources::ResourcesConfig;
use crate::model::{RestartPolicy, Status};
use crate::runtime::message::Message;
use serde::{Deserialize, Serialize};

/// What `update` sends the monitor of a running container.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct UpdateRequest {
    /// The container's limits after the update (all of them).
    pub(crate) resources: ResourcesConfig,
    /// The flags given (zero where not): their controllers are written.
    pub(crate) changed: ResourcesConfig,
    /// A new restart policy, when `--restart` was given.
    pub(crate) restart: Option<RestartPolicy>,
}

impl Monitor {
    /// Applies new limits to the running container's cgroups; the caller
    /// writes the record once we said `Done`.
    pub(super) fn update_resources(&mut self, json: &str) -> Message {
        let request: UpdateRequest = match serde_json::from_str(json) {
            Ok(r) => r,
            Err(e) => return Message::Refused(format!("reading the update: {e}")),
        };
        if let (Some(init), Some(cgroup)) = (self.init, self.cgroup.as_mut()) {
            let (id, r) = (&self.record.id, &request.resources);
            if let Err(e) = cgroup.update(id, init.as_raw(), r, &request.changed) {
                return Message::Refused(format!("{e:#}"));
            }
        }
        self.record.host.resources = request.resources;
        if let Some(restart) = request.restart {
            self.record.host.lifecycle.restart = restart;
        }
        Message::Done
    }

    /// The container's counters for `stats`, as JSON.
    pub(super) fn stats_sample(&self) -> Message {
        let Some(init) = self.init.filter(|_| self.state.status.is_active()) else {
            return Message::Refused(format!("container {} is not running", self.record.id));
        };
        let private_net = self.record.host.network.mode.is_private();
        let sample =
            crate::runtime::resources::stats::sample(init.as_raw(), &self.record.id, private_net);
        match serde_json::to_string(&sample) {
            Ok(json) => Message::Stats(json),
            Err(e) => Message::Refused(e.to_string()),
        }
    }

    /// Asked to go away: the container is killed, and what must outlive
    /// us is done first, since a SIGKILL may follow at once (Slurm kills
    /// what is left of a job as soon as its batch script ends): a `--rm`
    /// container's record goes (the files follow once the container is
    /// reaped, or with the next removal), any other container is recorded
    /// as killed. Its exit, reaped by the event loop, then ends us without
    /// a restart.
    pub(super) fn terminate(&mut self) {
        self.terminating = true;
        self.restart_at = None;
        if let Some(pid) = self.init {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        }
        if self.record.host.lifecycle.auto_remove {
            self.store.forget_container_record(&self.record.id);
        } else if self.init.is_some() {
            let mut killed = self.state.clone();
            killed.status = Status::Exited;
            killed.exit_code = 128 + libc::SIGKILL;
            killed.finished_at = Some(crate::util::humanize::now_rfc3339());
            killed.pid = 0;
            killed.pid_start = 0;
            let _ = self.store.save_container_state(&self.record.id, &killed);
        }
    }
}
