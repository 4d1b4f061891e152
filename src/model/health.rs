//! Health checks: the configuration (image HEALTHCHECK and `--health-*`
//! flags) and the state the monitor advances with each probe's result.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// Docker's `Healthcheck` object (durations in nanoseconds).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct HealthConfig {
    /// `["NONE"]`, `["CMD", args...]` or `["CMD-SHELL", "command"]`.
    pub(crate) test: Vec<String>,
    pub(crate) interval: u64,
    pub(crate) timeout: u64,
    pub(crate) start_period: u64,
    pub(crate) retries: u32,
    /// Time between checks during the start period (Docker 25+).
    #[serde(skip_serializing_if = "is_zero")]
    pub(crate) start_interval: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Docker's default time between checks during the start period.
const DEFAULT_START_INTERVAL: Duration = Duration::from_secs(5);

const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_RETRIES: u32 = 3;
/// Results kept in `State.Health.Log`, as Docker.
const MAX_LOG: usize = 5;
/// Output kept per result, as Docker.
pub(crate) const MAX_OUTPUT: usize = 4096;

impl HealthConfig {
    /// Docker's JSON of it (inspect's `Config.Healthcheck`, an image's):
    /// the durations and retries that are zero are left out, as Go's
    /// `omitempty` does. (berth's own records keep every field.)
    pub(crate) fn docker_json(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        if let serde_json::Value::Object(m) = &mut value {
            m.retain(|k, v| k == "Test" || v.as_u64() != Some(0));
        }
        value
    }

    /// The argv to run in the container, or None when checks are disabled.
    pub(crate) fn command(&self) -> Option<Vec<String>> {
        match self.test.split_first() {
            Some((kind, rest)) if kind == "CMD" && !rest.is_empty() => Some(rest.to_vec()),
            Some((kind, rest)) if kind == "CMD-SHELL" && !rest.is_empty() => {
                Some(vec!["/bin/sh".into(), "-c".into(), rest.join(" ")])
            }
            _ => None,
        }
    }
    pub(crate) fn interval(&self) -> Duration {
        nonzero(self.interval).unwrap_or(DEFAULT_INTERVAL)
    }
    pub(crate) fn timeout(&self) -> Duration {
        nonzero(self.timeout).unwrap_or(DEFAULT_TIMEOUT)
    }
    pub(crate) fn start_period(&self) -> Duration {
        Duration::from_nanos(self.start_period)
    }
    /// The time until the next check, as Docker decides it: the start
    /// interval while the container is in its start period and still
    /// `starting`, else the interval.
    pub(crate) fn next_interval(&self, since_start: Duration, status: HealthStatus) -> Duration {
        if since_start < self.start_period() && status == HealthStatus::Starting {
            nonzero(self.start_interval).unwrap_or(DEFAULT_START_INTERVAL)
        } else {
            self.interval()
        }
    }
    pub(crate) fn retries(&self) -> u32 {
        if self.retries == 0 {
            DEFAULT_RETRIES
        } else {
            self.retries
        }
    }
}

fn nonzero(ns: u64) -> Option<Duration> {
    (ns > 0).then(|| Duration::from_nanos(ns))
}

/// One probe's outcome, as `State.Health.Log` shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct HealthResult {
    pub(crate) start: String,
    pub(crate) end: String,
    pub(crate) exit_code: i32,
    pub(crate) output: String,
}

/// `State.Health.Status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum HealthStatus {
    #[default]
    Starting,
    Healthy,
    Unhealthy,
}

impl HealthStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Starting => "starting",
            HealthStatus::Healthy => "healthy",
            HealthStatus::Unhealthy => "unhealthy",
        }
    }
}

impl fmt::Display for HealthStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `State.Health`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct HealthState {
    pub(crate) status: HealthStatus,
    #[serde(default)]
    pub(crate) failing_streak: u32,
    #[serde(default)]
    pub(crate) log: Vec<HealthResult>,
}

impl HealthState {
    /// Records a result. `in_start_period` failures do not count against
    /// the container, as Docker's start period.
    pub(crate) fn record(&mut self, mut result: HealthResult, retries: u32, in_start_period: bool) {
        if result.output.len() > MAX_OUTPUT {
            let mut cut = MAX_OUTPUT;
            while !result.output.is_char_boundary(cut) {
                cut -= 1;
            }
            result.output.truncate(cut);
        }
        let ok = result.exit_code == 0;
        self.log.push(result);
        if self.log.len() > MAX_LOG {
            self.log.remove(0);
        }
        if ok {
            self.status = HealthStatus::Healthy;
            self.failing_streak = 0;
        } else if !in_start_period {
            self.failing_streak += 1;
            if self.failing_streak >= retries {
                self.status = HealthStatus::Unhealthy;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(code: i32) -> HealthResult {
        HealthResult {
            start: String::new(),
            end: String::new(),
            exit_code: code,
            output: "x".repeat(5000),
        }
    }

    #[test]
    fn commands_from_test_forms() {
        let shell = HealthConfig {
            test: vec!["CMD-SHELL".into(), "curl -f x".into()],
            ..Default::default()
        };
        assert_eq!(shell.command().unwrap(), vec!["/bin/sh", "-c", "curl -f x"]);
        let exec = HealthConfig {
            test: vec!["CMD".into(), "true".into()],
            ..Default::default()
        };
        assert_eq!(exec.command().unwrap(), vec!["true"]);
        assert!(HealthConfig {
            test: vec!["NONE".into()],
            ..Default::default()
        }
        .command()
        .is_none());
        assert_eq!(exec.interval(), DEFAULT_INTERVAL);
        assert_eq!(exec.retries(), 3);
    }

    #[test]
    fn start_interval_applies_while_starting_in_the_start_period() {
        let hc = HealthConfig {
            interval: 60_000_000_000,
            start_period: 10_000_000_000,
            start_interval: 1_000_000_000,
            ..Default::default()
        };
        let s = Duration::from_secs;
        assert_eq!(hc.next_interval(s(2), HealthStatus::Starting), s(1));
        assert_eq!(hc.next_interval(s(2), HealthStatus::Healthy), s(60));
        assert_eq!(hc.next_interval(s(11), HealthStatus::Starting), s(60));
        let default = HealthConfig {
            start_period: 10_000_000_000,
            ..Default::default()
        };
        assert_eq!(default.next_interval(s(0), HealthStatus::Starting), s(5));
        assert_eq!(
            HealthConfig::default().next_interval(s(0), HealthStatus::Starting),
            s(30)
        );
    }

    #[test]
    fn state_machine_follows_docker() {
        let mut s = HealthState::default();
        s.record(result(1), 2, true);
        assert_eq!((s.status, s.failing_streak), (HealthStatus::Starting, 0));
        s.record(result(1), 2, false);
        s.record(result(1), 2, false);
        assert_eq!(s.status, HealthStatus::Unhealthy);
        s.record(result(0), 2, false);
        assert_eq!((s.status, s.failing_streak), (HealthStatus::Healthy, 0));
        for _ in 0..10 {
            s.record(result(0), 2, false);
        }
        assert_eq!(s.log.len(), MAX_LOG);
        assert_eq!(s.log[0].output.len(), MAX_OUTPUT);
    }

    #[test]
    fn stored_form_is_dockers() {
        let s: HealthState =
            serde_json::from_str(r#"{"Status":"healthy","FailingStreak":0,"Log":[]}"#).unwrap();
        assert_eq!(s.status, HealthStatus::Healthy);
        assert!(serde_json::to_string(&s)
            .unwrap()
            .contains(r#""Status":"healthy""#));
    }
}
