//! A container's record, `containers/<id>/config.json`: everything decided
//! at `create`, fixed from then on (only `rename` rewrites it).

use super::health::HealthConfig;
use super::host::HostConfig;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

/// Everything decided at `create`: the image, the process and its settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct ContainerRecord {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) created: String,
    /// The image as the user named it.
    pub(crate) image: String,
    /// `sha256:` id of the image.
    pub(crate) image_id: String,
    /// The layers of the image, base first (kept so that removing the image
    /// does not pull the container's files away).
    pub(crate) layers: Vec<String>,
    pub(crate) config: ProcessConfig,
    pub(crate) host: HostConfig,
}

/// The process to run and its environment (Docker's `Config`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct ProcessConfig {
    /// The full argv: entrypoint followed by command.
    pub(crate) args: Vec<String>,
    pub(crate) entrypoint: Option<Vec<String>>,
    pub(crate) cmd: Option<Vec<String>>,
    pub(crate) env: Vec<String>,
    pub(crate) working_dir: String,
    /// As given: `name`, `uid`, `name:group`, `uid:gid`; empty is root.
    pub(crate) user: String,
    pub(crate) hostname: String,
    pub(crate) tty: bool,
    pub(crate) open_stdin: bool,
    pub(crate) labels: IndexMap<String, String>,
    /// As the user or the image gave it (`SIGTERM`, `term`, `15`); checked
    /// at create, so a stored one always parses.
    pub(crate) stop_signal: Option<String>,
    /// Health check from the image or `--health-*`; None when there is none
    /// or `--no-healthcheck`.
    pub(crate) healthcheck: Option<HealthConfig>,
    /// `--init`: a minimal init runs as pid 1, reaping and forwarding signals.
    pub(crate) init: bool,
    /// `--stop-timeout`: seconds `stop` waits before SIGKILL (negative:
    /// forever); None is Docker's 10.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) stop_timeout: Option<i64>,
    /// `--domainname`: the NIS domain name of the container's UTS namespace.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) domainname: String,
    /// `--group-add`: names (of the container's /etc/group) or gids.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) group_add: Vec<String>,
    /// `-a`: the streams `run` attached; None is Docker's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) attach: Option<AttachStreams>,
}

/// `-a/--attach`: which of the container's streams a foreground `run`
/// relays (Docker's `AttachStdin`, `AttachStdout`, `AttachStderr`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub(crate) struct AttachStreams {
    pub(crate) stdin: bool,
    pub(crate) stdout: bool,
    pub(crate) stderr: bool,
}

impl ContainerRecord {
    /// The container's declared volumes (Docker's `Config.Volumes`): the
    /// anonymous ones of `-v /path` and of the image's VOLUME.
    pub(crate) fn declared_volumes(&self) -> impl Iterator<Item = &str> {
        use super::mounts::MountOrigin;
        self.host
            .storage
            .mounts
            .iter()
            .filter(|m| {
                m.anonymous && matches!(m.origin, MountOrigin::VolumeFlag | MountOrigin::Image)
            })
            .map(|m| m.destination.as_str())
    }
}

impl AttachStreams {
    /// Reads `-a` values (STDIN, STDOUT, STDERR in any case); `-i`
    /// attaches stdin too, as Docker. None when `-a` was not given.
    pub(crate) fn parse(values: &[String], interactive: bool) -> anyhow::Result<Option<Self>> {
        if values.is_empty() {
            return Ok(None);
        }
        let mut s = AttachStreams {
            stdin: interactive,
            ..Default::default()
        };
        for v in values {
            match v.to_ascii_lowercase().as_str() {
                "stdin" => s.stdin = true,
                "stdout" => s.stdout = true,
                "stderr" => s.stderr = true,
                _ => anyhow::bail!(
                    "invalid argument {v:?} for \"-a, --attach\" flag: valid streams are STDIN, \
                     STDOUT and STDERR"
                ),
            }
        }
        Ok(Some(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{MountKind, NetworkMode, RestartPolicy};

    /// A config.json as berth wrote it before the model layer existed.
    const BEFORE_GROUPS: &str = r#"{
      "id": "cf4e", "name": "old", "created": "2026-11-30T08:58:51.643238574Z",
      "image": "busybox", "image_id": "sha256:1991", "layers": ["sha256:37a2"],
      "config": {
        "args": ["sleep", "9"], "entrypoint": null, "cmd": ["sleep", "9"],
        "env": ["PATH=/bin"], "working_dir": "", "user": "", "hostname": "cf4e72ee1cc2",
        "tty": false, "open_stdin": false, "labels": {}, "stop_signal": "USR1",
        "healthcheck": {"Test": ["CMD-SHELL", "true"], "Interval": 0, "Timeout": 0,
                        "StartPeriod": 0, "Retries": 0},
        "init": false
      },
      "host": {
        "mounts": [
          {"kind": "volume", "source": "/s/volumes/vol1/_data", "destination": "/data",
           "read_only": false, "volume": "vol1", "anonymous": false, "nocopy": false},
          {"kind": "tmpfs", "source": "", "destination": "/t", "read_only": false,
           "anonymous": false, "nocopy": false}
        ],
        "network_mode": "none", "read_only": true, "auto_remove": false,
        "restart": {"Name": "on-failure", "MaximumRetryCount": 3}
      }
    }"#;

    #[test]
    fn records_written_before_the_groups_load_and_are_written_back_the_same() {
        let r: ContainerRecord = serde_json::from_str(BEFORE_GROUPS).unwrap();
        assert_eq!(r.host.storage.mounts.len(), 2);
        assert_eq!(r.host.storage.mounts[1].kind, MountKind::Tmpfs);
        assert!(r.host.storage.read_only);
        assert_eq!(r.host.network.mode, NetworkMode::None);
        assert_eq!(r.host.lifecycle.restart, RestartPolicy::OnFailure(3));
        assert_eq!(r.config.stop_signal.as_deref(), Some("USR1"));
        let again: serde_json::Value = serde_json::to_value(&r).unwrap();
        let before: serde_json::Value = serde_json::from_str(BEFORE_GROUPS).unwrap();
        assert_eq!(again, before);
        // The oldest records had no health check, init or mount flags.
        let minimal: ContainerRecord =
            serde_json::from_str(r#"{"id":"x","host":{"network_mode":"host"}}"#).unwrap();
        assert_eq!(minimal.host.network.mode, NetworkMode::Host);
        assert!(minimal.config.healthcheck.is_none());
    }
}
