//! Where a container's output goes: `--log-driver` and `--log-opt`
//! (Docker's `HostConfig.LogConfig`). berth's monitor writes the log
//! itself: `json-file` (the default) and `local` are both Docker's
//! json-file format on disk, `local` with Docker's local-driver defaults
//! (rotation at 20 MB, 5 files, compressed); `none` keeps nothing, so
//! `logs` has nothing to read.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The logging drivers berth has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub(crate) enum LogDriver {
    #[default]
    #[serde(rename = "json-file")]
    JsonFile,
    #[serde(rename = "local")]
    Local,
    #[serde(rename = "none")]
    None,
}

impl LogDriver {
    pub(crate) fn name(self) -> &'static str {
        match self {
            LogDriver::JsonFile => "json-file",
            LogDriver::Local => "local",
            LogDriver::None => "none",
        }
    }
}

/// Docker's logging drivers that berth does not have (they send the log
/// to a service; berth keeps it in the store).
const SERVICE_DRIVERS: [&str; 9] = [
    "syslog",
    "journald",
    "gelf",
    "fluentd",
    "awslogs",
    "splunk",
    "etwlogs",
    "gcplogs",
    "logentries",
];

/// `--log-driver` and `--log-opt`, as Docker shows them in inspect.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct LogConfig {
    #[serde(rename = "Type")]
    pub(crate) driver: LogDriver,
    /// The options as given (`max-size`, `max-file`, `compress`, `mode`).
    #[serde(rename = "Config")]
    pub(crate) options: BTreeMap<String, String>,
}

/// When the monitor starts a new log file, and what it keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rotation {
    /// Bytes after which the file is rotated.
    pub(crate) max_size: u64,
    /// Files kept, the current one included (at least 1).
    pub(crate) max_files: u32,
    /// Rotated files are gzipped (`json.log.1.gz`).
    pub(crate) compress: bool,
}

impl LogConfig {
    pub(crate) fn is_default(&self) -> bool {
        *self == LogConfig::default()
    }

    /// Checks `--log-driver` and every `--log-opt KEY=VALUE`.
    pub(crate) fn parse(driver: Option<&str>, opts: &[String]) -> Result<LogConfig> {
        let driver = match driver.unwrap_or("json-file") {
            "json-file" | "" => LogDriver::JsonFile,
            "local" => LogDriver::Local,
            "none" => LogDriver::None,
            d if SERVICE_DRIVERS.contains(&d) => bail!(
                "logging driver {d:?} is not supported: berth keeps logs itself, without a \
                 daemon to forward them; use --log-driver json-file (the default), local or none"
            ),
            d => bail!(
                "unknown logging driver {d:?}: berth has json-file (the default), local and none"
            ),
        };
        let mut options = BTreeMap::new();
        for o in opts {
            let Some((k, v)) = o.split_once('=') else {
                bail!("invalid --log-opt {o:?}: expected KEY=VALUE, e.g. max-size=10m");
            };
            options.insert(k.to_string(), v.to_string());
        }
        let config = LogConfig { driver, options };
        for (k, v) in &config.options {
            config.check_option(k, v)?;
        }
        config.rotation()?;
        Ok(config)
    }

    fn check_option(&self, key: &str, value: &str) -> Result<()> {
        let driver = self.driver.name();
        match (self.driver, key) {
            (LogDriver::None, _) => bail!("unknown log opt '{key}' for none log driver"),
            (_, "max-size" | "max-file" | "compress") => Ok(()),
            (_, "mode") if value == "blocking" => Ok(()),
            (_, "mode") => bail!(
                "log opt mode={value} is not supported: berth's monitor writes every line as it \
                 comes (mode=blocking)"
            ),
            (_, "max-buffer-size") => bail!(
                "log opt max-buffer-size applies to mode=non-blocking, which berth does not have"
            ),
            (LogDriver::JsonFile, "labels" | "labels-regex" | "env" | "env-regex" | "tag") => {
                bail!(
                "log opt '{key}' is not supported by berth: its json-file records carry no extra \
                 attributes; the supported options are max-size, max-file and compress"
            )
            }
            _ => bail!("unknown log opt '{key}' for {driver} log driver"),
        }
    }

    /// Whether `logs` can read what this driver kept.
    pub(crate) fn readable(&self) -> bool {
        self.driver != LogDriver::None
    }

    /// The rotation the options ask for; None when the log only grows.
    pub(crate) fn rotation(&self) -> Result<Option<Rotation>> {
        let local = self.driver == LogDriver::Local;
        let max_size = match self.options.get("max-size") {
            Some(s) => Some(
                crate::util::ram_bytes::parse(s)
                    .ok()
                    .filter(|n| *n > 0)
                    .with_context(|| {
                        format!(
                            "invalid log opt max-size={s:?}: use a positive size such as 10m or 1g"
                        )
                    })?,
            ),
            None if local => Some(20 << 20),
            None => None,
        };
        let max_files = match self.options.get("max-file") {
            Some(s) => match s.parse::<u32>() {
                Ok(n) if n >= 1 => n,
                _ => bail!("invalid log opt max-file={s:?}: max-file cannot be less than 1"),
            },
            None if local => 5,
            None => 1,
        };
        let compress = match self.options.get("compress").map(String::as_str) {
            Some("1" | "t" | "T" | "true" | "TRUE" | "True") => true,
            Some("0" | "f" | "F" | "false" | "FALSE" | "False") => false,
            Some(s) => bail!("invalid log opt compress={s:?}: use true or false"),
            None => local,
        };
        Ok(max_size.map(|max_size| Rotation {
            max_size,
            max_files,
            compress,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(driver: &str, opts: &[&str]) -> Result<LogConfig> {
        let opts: Vec<String> = opts.iter().map(|s| s.to_string()).collect();
        LogConfig::parse(Some(driver), &opts)
    }

    #[test]
    fn drivers_and_their_options() {
        let c = parse("json-file", &["max-size=1k", "max-file=3"]).unwrap();
        assert_eq!(
            c.rotation().unwrap(),
            Some(Rotation {
                max_size: 1024,
                max_files: 3,
                compress: false
            })
        );
        assert_eq!(parse("json-file", &[]).unwrap().rotation().unwrap(), None);
        let local = parse("local", &[]).unwrap().rotation().unwrap().unwrap();
        assert_eq!(
            (local.max_size, local.max_files, local.compress),
            (20 << 20, 5, true)
        );
        assert!(!parse("none", &[]).unwrap().readable());
        let e = parse("none", &["max-size=1k"]).unwrap_err().to_string();
        assert_eq!(e, "unknown log opt 'max-size' for none log driver");
        let e = parse("json-file", &["foo=1"]).unwrap_err().to_string();
        assert_eq!(e, "unknown log opt 'foo' for json-file log driver");
        for bad in [
            &["max-size=1x"][..],
            &["max-size=-1"],
            &["max-size=10k", "max-file=0"],
            &["compress=maybe"],
            &["mode=non-blocking"],
            &["labels=a"],
            &["max-size"],
        ] {
            assert!(parse("json-file", bad).is_err(), "{bad:?}");
        }
        assert!(parse("syslog", &[])
            .unwrap_err()
            .to_string()
            .contains("not supported"));
        assert!(parse("nosuch", &[]).is_err());
    }

    #[test]
    fn stored_as_dockers_log_config() {
        let c = parse("local", &["max-file=2"]).unwrap();
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"Type":"local","Config":{"max-file":"2"}}"#
        );
        assert!(LogConfig::default().is_default());
    }
}
