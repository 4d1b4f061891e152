//! What a container runs, decided at `create` from the image's config and
//! the user's flags (Docker's rules for entrypoint, command, env, user,
//! working directory and hostname).

use super::env;
use super::health::{parse_duration_ns, HealthConfig};
use crate::image::config::ContainerConfig;
use crate::store::containers::ProcessConfig;
use anyhow::{bail, Result};
use std::path::PathBuf;

/// The process-related settings of `create`/`run`, already parsed.
#[derive(Debug, Clone, Default)]
pub struct ProcessOptions {
    /// Replaces the image's CMD when not empty.
    pub command: Vec<String>,
    /// `--entrypoint`: one executable (empty string clears the image's).
    pub entrypoint: Option<String>,
    pub env: Vec<String>,
    pub env_files: Vec<PathBuf>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub interactive: bool,
    pub tty: bool,
    /// `--stop-signal`, replacing the image's STOPSIGNAL.
    pub stop_signal: Option<String>,
    pub health: HealthFlags,
}

/// `--health-*` and `--no-healthcheck`, as typed.
#[derive(Debug, Clone, Default)]
pub struct HealthFlags {
    pub cmd: Option<String>,
    pub interval: Option<String>,
    pub timeout: Option<String>,
    pub start_period: Option<String>,
    pub retries: Option<u32>,
    pub disabled: bool,
}

/// The image's HEALTHCHECK with the flags applied; None when there is no
/// check to run.
fn healthcheck(image: &ContainerConfig, flags: &HealthFlags) -> Result<Option<HealthConfig>> {
    if flags.disabled {
        if flags.cmd.is_some() {
            bail!("--no-healthcheck conflicts with --health-* options");
        }
        return Ok(None);
    }
    let mut hc: HealthConfig = match &image.healthcheck {
        Some(v) => serde_json::from_value(v.clone()).unwrap_or_default(),
        None => HealthConfig::default(),
    };
    if let Some(cmd) = &flags.cmd {
        hc.test = vec!["CMD-SHELL".into(), cmd.clone()];
    }
    let dur = |v: &Option<String>, name: &str| -> Result<Option<u64>> {
        v.as_deref()
            .map(|d| {
                parse_duration_ns(d).map_err(|e| anyhow::anyhow!("invalid --health-{name}: {e}"))
            })
            .transpose()
    };
    if let Some(ns) = dur(&flags.interval, "interval")? {
        hc.interval = ns;
    }
    if let Some(ns) = dur(&flags.timeout, "timeout")? {
        hc.timeout = ns;
    }
    if let Some(ns) = dur(&flags.start_period, "start-period")? {
        hc.start_period = ns;
    }
    if let Some(r) = flags.retries {
        hc.retries = r;
    }
    Ok(hc.command().is_some().then_some(hc))
}

/// Builds the container's process from the image config and the flags.
pub fn build_process(
    image: &ContainerConfig,
    opts: &ProcessOptions,
    id: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<ProcessConfig> {
    // Docker: setting --entrypoint clears the image's CMD as well.
    let (entrypoint, image_cmd) = match &opts.entrypoint {
        Some(e) if e.is_empty() => (None, None),
        Some(e) => (Some(vec![e.clone()]), None),
        None => (image.entrypoint.clone(), image.cmd.clone()),
    };
    let cmd = if opts.command.is_empty() {
        image_cmd
    } else {
        Some(opts.command.clone())
    };
    let mut args: Vec<String> = entrypoint.clone().unwrap_or_default();
    args.extend(cmd.clone().unwrap_or_default());
    if args.is_empty() {
        bail!("No command specified");
    }
    let working_dir = opts
        .workdir
        .clone()
        .or_else(|| image.working_dir.clone())
        .unwrap_or_default();
    if !working_dir.is_empty() && !working_dir.starts_with('/') {
        bail!("the working directory '{working_dir}' is invalid, it needs to be an absolute path");
    }
    let hostname = match &opts.hostname {
        Some(h) => {
            check_hostname(h)?;
            h.clone()
        }
        None => id[..12.min(id.len())].to_string(),
    };
    let env = env::merge(
        image.env.as_deref().unwrap_or_default(),
        &opts.env_files,
        &opts.env,
        lookup,
    )?;
    Ok(ProcessConfig {
        args,
        entrypoint,
        cmd,
        env,
        working_dir,
        user: opts
            .user
            .clone()
            .or_else(|| image.user.clone())
            .unwrap_or_default(),
        hostname,
        tty: opts.tty,
        open_stdin: opts.interactive,
        labels: image.labels.clone().unwrap_or_default(),
        stop_signal: opts
            .stop_signal
            .clone()
            .or_else(|| image.stop_signal.clone()),
        healthcheck: healthcheck(image, &opts.health)?,
        init: false,
    })
}

/// A host name the kernel and resolvers accept: at most 64 bytes, letters,
/// digits, `-`, `_` and `.`.
fn check_hostname(h: &str) -> Result<()> {
    let ok = !h.is_empty()
        && h.len() <= 64
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
    if !ok {
        bail!("invalid hostname {h:?}: use at most 64 letters, digits, '-', '_' and '.'");
    }
    Ok(())
}

/// Docker's container name rule: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn validate_name(name: &str) -> Result<String> {
    let name = name.strip_prefix('/').unwrap_or(name);
    let mut bytes = name.bytes();
    let first_ok = bytes.next().is_some_and(|b| b.is_ascii_alphanumeric());
    let rest_ok = name.len() >= 2
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if !first_ok || !rest_ok {
        bail!("Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
    }
    Ok(name.to_string())
}

/// The network modes that exist so far.
pub fn check_network(mode: &str) -> Result<String> {
    match mode {
        "host" | "none" => Ok(mode.to_string()),
        "bridge" | "default" => bail!(
            "network {mode}: private networks are not available yet; use --network host (the \
             default) or --network none"
        ),
        other => bail!("network {other} not found"),
    }
}

/// The environment the process starts with: Docker's PATH default and
/// HOSTNAME first, then the container's env (which may override them),
/// and HOME from passwd when nothing set it.
pub fn final_env(config: &ProcessConfig, home: &str) -> Vec<String> {
    let mut out = vec![
        format!("PATH={}", env::DEFAULT_PATH),
        format!("HOSTNAME={}", config.hostname),
    ];
    for e in &config.env {
        env::set(&mut out, e.clone());
    }
    if env::get(&out, "HOME").is_none() {
        out.push(format!("HOME={home}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image() -> ContainerConfig {
        ContainerConfig {
            entrypoint: Some(vec!["/entry".into()]),
            cmd: Some(vec!["default".into()]),
            env: Some(vec!["PATH=/img/bin".into(), "A=1".into()]),
            working_dir: Some("/srv".into()),
            user: Some("daemon".into()),
            ..Default::default()
        }
    }
    const ID: &str = "0123456789abcdef0123";

    fn build(opts: &ProcessOptions) -> Result<ProcessConfig> {
        build_process(&image(), opts, ID, &|_| None)
    }

    #[test]
    fn image_defaults_apply() {
        let p = build(&ProcessOptions::default()).unwrap();
        assert_eq!(p.args, ["/entry", "default"]);
        assert_eq!(p.working_dir, "/srv");
        assert_eq!(p.user, "daemon");
        assert_eq!(p.hostname, "0123456789ab");
    }

    #[test]
    fn command_replaces_cmd_and_entrypoint_clears_it() {
        let p = build(&ProcessOptions {
            command: vec!["x".into(), "y".into()],
            ..Default::default()
        })
        .unwrap();
        assert_eq!(p.args, ["/entry", "x", "y"]);
        let p = build(&ProcessOptions {
            entrypoint: Some("/bin/sh".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(p.args, ["/bin/sh"]);
        let e = build(&ProcessOptions {
            entrypoint: Some(String::new()),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(e.to_string(), "No command specified");
    }

    #[test]
    fn flags_override_user_workdir_hostname() {
        let p = build(&ProcessOptions {
            user: Some("1000:1000".into()),
            workdir: Some("/work".into()),
            hostname: Some("box".into()),
            env: vec!["A=2".into()],
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            (p.user.as_str(), p.working_dir.as_str()),
            ("1000:1000", "/work")
        );
        assert_eq!(p.hostname, "box");
        assert_eq!(p.env, ["PATH=/img/bin", "A=2"]);
        assert!(build(&ProcessOptions {
            workdir: Some("rel".into()),
            ..Default::default()
        })
        .is_err());
        assert!(build(&ProcessOptions {
            hostname: Some("a b".into()),
            ..Default::default()
        })
        .is_err());
    }

    #[test]
    fn names_follow_docker() {
        assert_eq!(validate_name("/web_1.a-b").unwrap(), "web_1.a-b");
        for bad in ["a", "_x", "a b", "x/y", ""] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn final_env_defaults_and_overrides() {
        let mut p = build(&ProcessOptions::default()).unwrap();
        let env = final_env(&p, "/root");
        assert_eq!(
            env,
            [
                "PATH=/img/bin",
                "HOSTNAME=0123456789ab",
                "A=1",
                "HOME=/root"
            ]
        );
        p.env = vec!["HOME=/h".into()];
        let env = final_env(&p, "/root");
        assert_eq!(env[0], format!("PATH={}", env::DEFAULT_PATH));
        assert_eq!(env[2], "HOME=/h");
    }

    #[test]
    fn networks() {
        assert_eq!(check_network("none").unwrap(), "none");
        assert!(check_network("bridge").is_err());
        assert_eq!(
            check_network("x").unwrap_err().to_string(),
            "network x not found"
        );
    }
}
