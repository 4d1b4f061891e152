//! What happens when a container exits: `--rm` and `--restart`.

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

/// The lifecycle group of the host config.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct LifecycleConfig {
    /// `--rm`: the container and its anonymous volumes go when it exits.
    pub(crate) auto_remove: bool,
    pub(crate) restart: RestartPolicy,
}

/// `--restart`, as Docker's `HostConfig.RestartPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "Name", content = "MaximumRetryCount", rename_all = "kebab-case")]
pub(crate) enum RestartPolicy {
    #[default]
    No,
    /// Restart on a non-zero exit, at most N times (0 = no limit).
    OnFailure(u32),
    Always,
    UnlessStopped,
}

impl RestartPolicy {
    /// `no`, `on-failure[:N]`, `always`, `unless-stopped`.
    pub(crate) fn parse(s: &str) -> Result<RestartPolicy> {
        Ok(match s.split_once(':') {
            None if s == "no" || s.is_empty() => RestartPolicy::No,
            None if s == "always" => RestartPolicy::Always,
            None if s == "unless-stopped" => RestartPolicy::UnlessStopped,
            None if s == "on-failure" => RestartPolicy::OnFailure(0),
            Some(("on-failure", n)) => match n.parse::<u32>() {
                Ok(n) => RestartPolicy::OnFailure(n),
                Err(_) => bail!("invalid restart policy {s:?}: the maximum retry count must be a number"),
            },
            Some((p, _)) if ["no", "always", "unless-stopped"].contains(&p) => {
                bail!("invalid restart policy {s:?}: maximum retry count can only be used with 'on-failure'")
            }
            _ => bail!("invalid restart policy {s:?}: use no, on-failure[:max-retries], always or unless-stopped"),
        })
    }

    /// Whether a container that exited with `exit_code` after `restarts`
    /// restarts goes again. A container stopped by the user never does.
    pub(crate) fn should_restart(
        self,
        exit_code: i32,
        restarts: u32,
        stopped_by_user: bool,
    ) -> bool {
        if stopped_by_user {
            return false;
        }
        match self {
            RestartPolicy::No => false,
            RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
            RestartPolicy::OnFailure(max) => exit_code != 0 && (max == 0 || restarts < max),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_forms() {
        assert_eq!(RestartPolicy::parse("no").unwrap(), RestartPolicy::No);
        assert_eq!(
            RestartPolicy::parse("on-failure").unwrap(),
            RestartPolicy::OnFailure(0)
        );
        assert_eq!(
            RestartPolicy::parse("on-failure:3").unwrap(),
            RestartPolicy::OnFailure(3)
        );
        assert_eq!(
            RestartPolicy::parse("always").unwrap(),
            RestartPolicy::Always
        );
        assert_eq!(
            RestartPolicy::parse("unless-stopped").unwrap(),
            RestartPolicy::UnlessStopped
        );
        assert!(RestartPolicy::parse("always:3").is_err());
        assert!(RestartPolicy::parse("sometimes").is_err());
        assert!(RestartPolicy::parse("on-failure:x").is_err());
    }

    #[test]
    fn decisions() {
        assert!(!RestartPolicy::No.should_restart(1, 0, false));
        assert!(RestartPolicy::Always.should_restart(0, 10, false));
        assert!(!RestartPolicy::Always.should_restart(0, 0, true));
        assert!(RestartPolicy::OnFailure(2).should_restart(1, 1, false));
        assert!(!RestartPolicy::OnFailure(2).should_restart(1, 2, false));
        assert!(!RestartPolicy::OnFailure(0).should_restart(0, 0, false));
    }

    #[test]
    fn stored_form_is_dockers() {
        let json = serde_json::to_string(&RestartPolicy::OnFailure(3)).unwrap();
        assert_eq!(json, r#"{"Name":"on-failure","MaximumRetryCount":3}"#);
        let no: RestartPolicy = serde_json::from_str(r#"{"Name":"no"}"#).unwrap();
        assert_eq!(no, RestartPolicy::No);
    }
}
