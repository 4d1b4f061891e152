//! Restart policies (`--restart`) and Docker's backoff between restarts.

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "Name", content = "MaximumRetryCount", rename_all = "kebab-case")]
pub enum RestartPolicy {
    #[default]
    No,
    /// Restart on a non-zero exit, at most N times (0 = no limit).
    OnFailure(u32),
    Always,
    UnlessStopped,
}

impl RestartPolicy {
    /// `no`, `on-failure[:N]`, `always`, `unless-stopped`.
    pub fn parse(s: &str) -> Result<RestartPolicy> {
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
    pub fn should_restart(self, exit_code: i32, restarts: u32, stopped_by_user: bool) -> bool {
        if stopped_by_user {
            return false;
        }
        match self {
            RestartPolicy::No => false,
            RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
            RestartPolicy::OnFailure(max) => exit_code != 0 && (max == 0 || restarts < max),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            RestartPolicy::No => "no",
            RestartPolicy::OnFailure(_) => "on-failure",
            RestartPolicy::Always => "always",
            RestartPolicy::UnlessStopped => "unless-stopped",
        }
    }
}

/// Docker's restart backoff: 100 ms, doubling up to one minute; a
/// container that ran at least 10 s starts again from 100 ms.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
}

const FIRST_DELAY: Duration = Duration::from_millis(100);
const MAX_DELAY: Duration = Duration::from_secs(60);
const RESET_AFTER_RUNNING: Duration = Duration::from_secs(10);

impl Default for Backoff {
    fn default() -> Self {
        Backoff { next: FIRST_DELAY }
    }
}

impl Backoff {
    /// The delay before the next start, given how long the last run lasted.
    pub fn delay(&mut self, ran_for: Duration) -> Duration {
        if ran_for >= RESET_AFTER_RUNNING {
            self.next = FIRST_DELAY;
        }
        let d = self.next;
        self.next = (self.next * 2).min(MAX_DELAY);
        d
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
    fn backoff_doubles_caps_and_resets() {
        let mut b = Backoff::default();
        let short = Duration::from_millis(5);
        let delays: Vec<u128> = (0..4).map(|_| b.delay(short).as_millis()).collect();
        assert_eq!(delays, vec![100, 200, 400, 800]);
        for _ in 0..20 {
            b.delay(short);
        }
        assert_eq!(b.delay(short), MAX_DELAY);
        assert_eq!(b.delay(Duration::from_secs(11)), FIRST_DELAY);
    }
}
