//! What a container is doing or did: `containers/<id>/state.json`. While
//! a container's monitor lives, the monitor is the only writer.

use super::health::HealthState;
use crate::util::proc::ProcessId;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Docker's container statuses, stored as its lowercase words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Status {
    #[default]
    Created,
    Running,
    Paused,
    Restarting,
    Exited,
    Removing,
    Dead,
}

impl Status {
    pub(crate) const ALL: [Status; 7] = [
        Status::Created,
        Status::Restarting,
        Status::Running,
        Status::Removing,
        Status::Paused,
        Status::Exited,
        Status::Dead,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Restarting => "restarting",
            Status::Exited => "exited",
            Status::Removing => "removing",
            Status::Dead => "dead",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// A monitor owns the container: its process runs, is frozen, or
    /// waits to run again. `ps` without `-a` shows these.
    pub(crate) fn is_active(self) -> bool {
        matches!(self, Status::Running | Status::Paused | Status::Restarting)
    }

    pub(crate) fn is_running(self) -> bool {
        self == Status::Running
    }

    /// `start` launches it (a running one is left alone, as Docker).
    pub(crate) fn can_start(self) -> bool {
        matches!(self, Status::Created | Status::Exited | Status::Dead)
    }

    /// A signal reaches its process.
    pub(crate) fn can_kill(self) -> bool {
        self == Status::Running
    }

    /// `stop` has a process to signal.
    pub(crate) fn can_stop(self) -> bool {
        self == Status::Running
    }

    pub(crate) fn can_pause(self) -> bool {
        self == Status::Running
    }

    pub(crate) fn can_unpause(self) -> bool {
        self == Status::Paused
    }

    /// `exec`, `attach` and `top` need a live, unfrozen process.
    pub(crate) fn can_exec(self) -> bool {
        self == Status::Running
    }

    /// `rm` without `-f`.
    pub(crate) fn can_remove(self) -> bool {
        !self.is_active()
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a container is doing or did.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub(crate) struct ContainerState {
    pub(crate) status: Status,
    /// The container's init, as the host sees it; 0 when none runs.
    pub(crate) pid: i32,
    /// Its start time (field 22 of /proc/PID/stat), so that a reused pid
    /// is never taken for it; 0 in records of older versions.
    pub(crate) pid_start: u64,
    pub(crate) exit_code: i32,
    pub(crate) started_at: Option<String>,
    pub(crate) finished_at: Option<String>,
    pub(crate) error: String,
    /// Restarts done by the restart policy since the last `start`.
    pub(crate) restart_count: u32,
    pub(crate) health: Option<HealthState>,
    /// The monitor process that owns the running container.
    pub(crate) monitor_pid: i32,
    /// The monitor's start time, as `pid_start`.
    pub(crate) monitor_start: u64,
    /// Addresses and published host ports while it runs.
    #[serde(skip_serializing_if = "super::net_state::NetworkState::is_empty")]
    pub(crate) network: super::net_state::NetworkState,
    /// The kernel's OOM killer killed a process of the container's
    /// memory cgroup in its last run (Docker's `State.OOMKilled`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) oom_killed: bool,
}

impl ContainerState {
    /// The container's init, as recorded.
    pub(crate) fn process(&self) -> ProcessId {
        ProcessId {
            pid: self.pid,
            start: self.pid_start,
        }
    }

    /// The container's monitor, as recorded.
    pub(crate) fn monitor(&self) -> ProcessId {
        ProcessId {
            pid: self.monitor_pid,
            start: self.monitor_start,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_stored_as_dockers_words() {
        for s in Status::ALL {
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
        assert_eq!(Status::parse("Running"), None);
    }

    #[test]
    fn older_state_files_load() {
        let old = r#"{"status":"exited","pid":0,"exit_code":3,"started_at":null,"finished_at":"2024-01-01T00:00:00Z"}"#;
        let s: ContainerState = serde_json::from_str(old).unwrap();
        assert_eq!((s.status, s.exit_code, s.pid_start), (Status::Exited, 3, 0));
        let health = r#"{"status":"running","pid":7,"exit_code":0,"started_at":null,"finished_at":null,"health":{"Status":"starting","FailingStreak":0,"Log":[]},"monitor_pid":6}"#;
        let s: ContainerState = serde_json::from_str(health).unwrap();
        assert_eq!(s.status, Status::Running);
        assert_eq!(
            s.health.unwrap().status,
            super::super::HealthStatus::Starting
        );
    }

    #[test]
    fn predicates() {
        assert!(Status::Running.can_kill() && !Status::Exited.can_kill());
        assert!(Status::Paused.can_unpause() && !Status::Paused.can_pause());
        assert!(!Status::Running.can_start() && Status::Exited.can_start());
        assert!(!Status::Restarting.can_remove() && Status::Created.can_remove());
    }
}
