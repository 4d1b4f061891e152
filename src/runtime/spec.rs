//! What a container runs, decided at `create` from the image's config and
//! the user's flags (Docker's rules for entrypoint, command, env, user,
//! working directory and hostname).

use super::env;
use crate::image::config::ContainerConfig;
use crate::model::{HealthConfig, HealthOverrides, NetworkMode, ProcessConfig, ProcessRequest};
use anyhow::{bail, Result};

/// The image's HEALTHCHECK with the flags applied; None when there is no
/// check to run.
fn healthcheck(image: &ContainerConfig, flags: &HealthOverrides) -> Result<Option<HealthConfig>> {
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
    if let Some(ns) = flags.interval {
        hc.interval = ns;
    }
    if let Some(ns) = flags.timeout {
        hc.timeout = ns;
    }
    if let Some(ns) = flags.start_period {
        hc.start_period = ns;
    }
    if let Some(ns) = flags.start_interval {
        hc.start_interval = ns;
    }
    if let Some(r) = flags.retries {
        hc.retries = r;
    }
    Ok(hc.command().is_some().then_some(hc))
}

/// Builds the container's process from the image config and the flags.
pub(crate) fn build_process(
    image: &ContainerConfig,
    opts: &ProcessRequest,
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
        labels: {
            let mut labels = image.labels.clone().unwrap_or_default();
            labels.extend(opts.labels.clone());
            labels
        },
        stop_signal: match &opts.stop_signal {
            Some(s) => Some(check_stop_signal(s, "--stop-signal")?),
            None => image
                .stop_signal
                .as_deref()
                .map(|s| check_stop_signal(s, "the image's STOPSIGNAL"))
                .transpose()?,
        },
        healthcheck: healthcheck(image, &opts.health)?,
        init: opts.init,
        stop_timeout: opts.stop_timeout,
        domainname: opts.domainname.clone().unwrap_or_default(),
        group_add: opts.group_add.clone(),
        attach: opts.attach,
    })
}

/// A `--domainname`: what the kernel takes (at most 64 bytes), printable
/// and without spaces.
pub(crate) fn check_domainname(d: &str) -> Result<()> {
    let ok = !d.is_empty() && d.len() <= 64 && d.bytes().all(|b| b.is_ascii_graphic());
    if !ok {
        bail!("invalid domain name {d:?}: use at most 64 printable characters without spaces");
    }
    Ok(())
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
pub(crate) fn validate_name(name: &str) -> Result<String> {
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

/// A stop signal as it will be stored: checked now, so that `stop` never
/// meets one it cannot send. `source` names where it came from.
pub(crate) fn check_stop_signal(value: &str, source: &str) -> Result<String> {
    match crate::util::signals::parse_signal(value) {
        Ok(_) => Ok(value.to_string()),
        Err(_) => bail!(
            "invalid stop signal {value:?} (from {source}): use a signal name such as SIGTERM \
             or TERM, or a number such as 15"
        ),
    }
}

/// A `--network` value as a mode: `host`, `none`, `bridge` (`default`),
/// `container:NAME` or a network's name (which must exist when the
/// container is created).
pub(crate) fn check_network(mode: &str) -> Result<NetworkMode> {
    let parsed = NetworkMode::parse(mode);
    match &parsed {
        NetworkMode::Container(c) if c.is_empty() => {
            bail!("--network container: needs the name or id of a container")
        }
        NetworkMode::Named(n) => crate::model::network::check_network_name(n)?,
        _ => {}
    }
    Ok(parsed)
}

/// The environment a process starts with, in the order Docker's daemon
/// builds it: its PATH default, HOSTNAME and, with a terminal,
/// `TERM=xterm`; then the container's env and an exec's `-e` entries
/// (`extra`), each replacing a name set before in place or appended; and
/// HOME from passwd last when nothing set it.
pub(crate) fn final_env(
    config: &ProcessConfig,
    home: &str,
    tty: bool,
    extra: &[String],
) -> Vec<String> {
    let mut out = vec![
        format!("PATH={}", env::DEFAULT_PATH),
        format!("HOSTNAME={}", config.hostname),
    ];
    if tty {
        out.push("TERM=xterm".into());
    }
    for e in config.env.iter().chain(extra) {
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

    fn build(opts: &ProcessRequest) -> Result<ProcessConfig> {
        build_process(&image(), opts, ID, &|_| None)
    }

    #[test]
    fn image_defaults_apply() {
        let p = build(&ProcessRequest::default()).unwrap();
        assert_eq!(p.args, ["/entry", "default"]);
        assert_eq!(p.working_dir, "/srv");
        assert_eq!(p.user, "daemon");
        assert_eq!(p.hostname, "0123456789ab");
    }

    #[test]
    fn command_replaces_cmd_and_entrypoint_clears_it() {
        let p = build(&ProcessRequest {
            command: vec!["x".into(), "y".into()],
            ..Default::default()
        })
        .unwrap();
        assert_eq!(p.args, ["/entry", "x", "y"]);
        let p = build(&ProcessRequest {
            entrypoint: Some("/bin/sh".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(p.args, ["/bin/sh"]);
        let e = build(&ProcessRequest {
            entrypoint: Some(String::new()),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(e.to_string(), "No command specified");
    }

    #[test]
    fn flags_override_user_workdir_hostname() {
        let p = build(&ProcessRequest {
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
        // The user's first, as Docker's Config.Env.
        assert_eq!(p.env, ["A=2", "PATH=/img/bin"]);
        assert!(build(&ProcessRequest {
            workdir: Some("rel".into()),
            ..Default::default()
        })
        .is_err());
        assert!(build(&ProcessRequest {
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
        let mut p = build(&ProcessRequest::default()).unwrap();
        let env = final_env(&p, "/root", false, &[]);
        assert_eq!(
            env,
            [
                "PATH=/img/bin",
                "HOSTNAME=0123456789ab",
                "A=1",
                "HOME=/root"
            ]
        );
        // Docker's order: `docker run -t -e HOME=/h -e B=2 IMAGE env`.
        p.env = vec!["HOME=/h".into(), "B=2".into()];
        let env = final_env(&p, "/root", true, &[]);
        assert_eq!(
            env,
            [
                format!("PATH={}", env::DEFAULT_PATH),
                "HOSTNAME=0123456789ab".into(),
                "TERM=xterm".into(),
                "HOME=/h".into(),
                "B=2".into()
            ]
        );
        // A TERM of the user's replaces xterm where it stands.
        p.env = vec!["A=1".into(), "TERM=dumb".into()];
        let env = final_env(&p, "/root", true, &[]);
        assert_eq!(env[2], "TERM=dumb");
        assert_eq!(env.len(), 5);
    }

    #[test]
    fn networks() {
        assert_eq!(check_network("none").unwrap(), NetworkMode::None);
        assert_eq!(check_network("default").unwrap(), NetworkMode::Bridge);
        assert_eq!(check_network("x").unwrap(), NetworkMode::Named("x".into()));
        assert!(check_network("container:").is_err());
        assert!(check_network("a b").is_err());
    }
}

#[cfg(test)]
mod stop_signal_tests {
    use super::*;

    #[test]
    fn stop_signals_are_checked_at_create() {
        let p = build_process(
            &ContainerConfig {
                cmd: Some(vec!["x".into()]),
                stop_signal: Some("SIGUSR1".into()),
                ..Default::default()
            },
            &ProcessRequest::default(),
            "0123456789abcdef",
            &|_| None,
        )
        .unwrap();
        assert_eq!(p.stop_signal.as_deref(), Some("SIGUSR1"));
        let e = build_process(
            &ContainerConfig {
                cmd: Some(vec!["x".into()]),
                ..Default::default()
            },
            &ProcessRequest {
                stop_signal: Some("SIGNOPE".into()),
                ..Default::default()
            },
            "0123456789abcdef",
            &|_| None,
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("invalid stop signal \"SIGNOPE\" (from --stop-signal)"),
            "{e}"
        );
        let e = build_process(
            &ContainerConfig {
                cmd: Some(vec!["x".into()]),
                stop_signal: Some("99".into()),
                ..Default::default()
            },
            &ProcessRequest::default(),
            "0123456789abcdef",
            &|_| None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("the image's STOPSIGNAL"), "{e}");
    }
}
