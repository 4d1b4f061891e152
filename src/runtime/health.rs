//! Health checks: the configuration (image HEALTHCHECK and `--health-*`
//! flags) and the state machine the monitor advances with each probe's
//! result. The monitor runs the probes itself: there is no systemd timer
//! to forget, which is why they also work on HPC login nodes.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Docker's `Healthcheck` object (durations in nanoseconds).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct HealthConfig {
    /// `["NONE"]`, `["CMD", args...]` or `["CMD-SHELL", "command"]`.
    #[serde(default)]
    pub test: Vec<String>,
    #[serde(default)]
    pub interval: u64,
    #[serde(default)]
    pub timeout: u64,
    #[serde(default)]
    pub start_period: u64,
    #[serde(default)]
    pub retries: u32,
}

const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_RETRIES: u32 = 3;
/// Results kept in `State.Health.Log`, as Docker.
const MAX_LOG: usize = 5;
/// Output kept per result, as Docker.
const MAX_OUTPUT: usize = 4096;

impl HealthConfig {
    /// The argv to run in the container, or None when checks are disabled.
    pub fn command(&self) -> Option<Vec<String>> {
        match self.test.split_first() {
            Some((kind, rest)) if kind == "CMD" && !rest.is_empty() => Some(rest.to_vec()),
            Some((kind, rest)) if kind == "CMD-SHELL" && !rest.is_empty() => {
                Some(vec!["/bin/sh".into(), "-c".into(), rest.join(" ")])
            }
            _ => None,
        }
    }
    pub fn interval(&self) -> Duration {
        nonzero(self.interval).unwrap_or(DEFAULT_INTERVAL)
    }
    pub fn timeout(&self) -> Duration {
        nonzero(self.timeout).unwrap_or(DEFAULT_TIMEOUT)
    }
    pub fn start_period(&self) -> Duration {
        Duration::from_nanos(self.start_period)
    }
    pub fn retries(&self) -> u32 {
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
pub struct HealthResult {
    pub start: String,
    pub end: String,
    pub exit_code: i32,
    pub output: String,
}

/// `State.Health`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct HealthState {
    /// starting, healthy, unhealthy
    pub status: String,
    pub failing_streak: u32,
    pub log: Vec<HealthResult>,
}

impl Default for HealthState {
    fn default() -> Self {
        HealthState {
            status: "starting".into(),
            failing_streak: 0,
            log: Vec::new(),
        }
    }
}

impl HealthState {
    /// Records a result. `in_start_period` failures do not count against
    /// the container, as Docker's start period.
    pub fn record(&mut self, mut result: HealthResult, retries: u32, in_start_period: bool) {
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
            self.status = "healthy".into();
            self.failing_streak = 0;
        } else if !in_start_period {
            self.failing_streak += 1;
            if self.failing_streak >= retries {
                self.status = "unhealthy".into();
            }
        }
    }
}

/// Parses a duration as `--health-interval` takes it (`30s`, `1m30s`, `500ms`), in nanoseconds.
pub fn parse_duration_ns(s: &str) -> anyhow::Result<u64> {
    Ok(crate::util::humanize::parse_go_duration(s)?.as_nanos() as u64)
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
    fn state_machine_follows_docker() {
        let mut s = HealthState::default();
        s.record(result(1), 2, true);
        assert_eq!((s.status.as_str(), s.failing_streak), ("starting", 0));
        s.record(result(1), 2, false);
        s.record(result(1), 2, false);
        assert_eq!(s.status, "unhealthy");
        s.record(result(0), 2, false);
        assert_eq!((s.status.as_str(), s.failing_streak), ("healthy", 0));
        for _ in 0..10 {
            s.record(result(0), 2, false);
        }
        assert_eq!(s.log.len(), MAX_LOG);
        assert_eq!(s.log[0].output.len(), MAX_OUTPUT);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ns("30s").unwrap(), 30_000_000_000);
        assert_eq!(parse_duration_ns("1m30s").unwrap(), 90_000_000_000);
        assert_eq!(parse_duration_ns("500ms").unwrap(), 500_000_000);
        assert!(parse_duration_ns("5 parsecs").is_err());
    }
}
