//! `build` (also `image build`, `buildx build`) and `builder prune`: the
//! flags become a `BuildRequest` for `build::builder`, the progress goes
//! to one of the printers of `build_progress`, and a failed build exits
//! with status 1 after BuildKit's error block (berth's own errors: 125).

use super::args::{BuildArgs, BuilderPruneArgs};
use super::build_progress::{error_block, Plain, Tty};
use super::ExitStatus;
use crate::build::builder::{self, BuildNetwork, BuildRequest, Output, Secret};
use crate::build::context::{ContextSource, DockerfileSource};
use crate::build::eval::Platform;
use crate::build::progress::{BuildError, BuildProgress, Silent};
use crate::store::Store;
use anyhow::{anyhow, bail, Context, Result};
use std::collections::BTreeMap;
use std::io::{IsTerminal, Read};
use std::path::PathBuf;

pub(crate) fn build(args: BuildArgs) -> Result<()> {
    let req = request(&args)?;
    let store = Store::open_default()?;
    let mode = match args.progress.as_str() {
        _ if args.quiet => "quiet",
        "auto" if std::io::stderr().is_terminal() => "tty",
        "auto" => "plain",
        m @ ("plain" | "tty" | "quiet") => m,
        other => bail!("invalid value {other:?} for --progress: use auto, plain, tty or quiet"),
    };
    let tty = (mode == "tty").then(Tty::new);
    let plain = (mode == "plain").then(Plain::new);
    let progress: &dyn BuildProgress = match (&tty, &plain) {
        (Some(t), _) => t,
        (_, Some(p)) => p,
        _ => &Silent,
    };
    let result = builder::build(&store, req, progress);
    if let Some(t) = &tty {
        t.finish();
    }
    match result {
        Ok(outcome) => {
            if let Some(path) = &args.iidfile {
                std::fs::write(path, &outcome.image_id)
                    .with_context(|| format!("writing the image id to {}", path.display()))?;
            }
            if args.quiet {
                println!("{}", outcome.image_id);
            }
            Ok(())
        }
        Err(e) => match e.downcast_ref::<BuildError>() {
            Some(be) => {
                eprint!("{}", error_block(be));
                Err(ExitStatus(1).into())
            }
            None => Err(e),
        },
    }
}

/// The flags as a request, checked before anything is read.
fn request(args: &BuildArgs) -> Result<BuildRequest> {
    if let Some(p) = &args.platform {
        for one in p.split(',') {
            let asked = Platform::parse(one.trim()).map_err(|e| anyhow!("--platform: {e}"))?;
            if asked != Platform::native() {
                bail!(
                    "--platform {one}: berth builds for this machine's platform only ({}/{}); cross-platform builds need emulation it does not provide",
                    Platform::native().os,
                    Platform::native().arch
                );
            }
        }
    }
    let stdin_context = args.context == "-";
    if args.context.starts_with("http://")
        || args.context.starts_with("https://")
        || args.context.starts_with("git@")
    {
        bail!(
            "unable to prepare context: remote contexts ({}) are not supported; clone or download it and build the directory",
            args.context
        );
    }
    let dockerfile = match args.file.as_deref() {
        None => DockerfileSource::Default,
        Some("-") => {
            if stdin_context {
                bail!("invalid argument: can't use stdin for both build context and dockerfile");
            }
            let mut text = Vec::new();
            std::io::stdin()
                .read_to_end(&mut text)
                .context("reading the Dockerfile from standard input")?;
            DockerfileSource::Contents(text)
        }
        Some(p) => DockerfileSource::Path(PathBuf::from(p)),
    };
    let context = if stdin_context {
        ContextSource::Stdin(Box::new(std::io::stdin()))
    } else {
        let path = PathBuf::from(&args.context);
        if !path.exists() {
            bail!(
                "unable to prepare context: path {:?} not found",
                args.context
            );
        }
        ContextSource::Directory(path)
    };
    let mut build_args = BTreeMap::new();
    for a in &args.build_args {
        match a.split_once('=') {
            Some((k, v)) => {
                build_args.insert(k.to_string(), v.to_string());
            }
            None => {
                // Docker takes a bare name from the environment, and
                // leaves it out when unset.
                if let Ok(v) = std::env::var(a) {
                    build_args.insert(a.clone(), v);
                }
            }
        }
    }
    let mut labels = Vec::new();
    for l in &args.labels {
        let (k, v) = l.split_once('=').unwrap_or((l.as_str(), ""));
        if k.is_empty() {
            bail!("invalid label {l:?}: expected KEY=VALUE");
        }
        labels.push((k.to_string(), v.to_string()));
    }
    let network = match args.network.as_str() {
        "default" => BuildNetwork::Default,
        "host" => BuildNetwork::Host,
        "none" => BuildNetwork::None,
        other => {
            bail!("network mode {other:?} not supported by berth build: use default, host or none")
        }
    };
    let mut secrets = Vec::new();
    for s in &args.secrets {
        secrets.push(parse_secret(s)?);
    }
    let mut add_hosts = Vec::new();
    for h in &args.add_hosts {
        let (name, ip) = h
            .split_once(':')
            .or_else(|| h.split_once('='))
            .ok_or_else(|| {
                anyhow!("invalid argument {h:?} for \"--add-host\" flag: expected HOST:IP")
            })?;
        if name.is_empty() || ip.parse::<std::net::IpAddr>().is_err() {
            bail!("invalid argument {h:?} for \"--add-host\" flag: expected HOST:IP with an IP address");
        }
        add_hosts.push((name.to_string(), ip.to_string()));
    }
    let output = match args.outputs.as_slice() {
        [] => None,
        [one] => Some(parse_output(one)?),
        _ => bail!("only one -o/--output is supported"),
    };
    Ok(BuildRequest {
        context,
        dockerfile,
        tags: args.tags.clone(),
        build_args,
        target: args.target.clone(),
        no_cache: args.no_cache,
        pull: args.pull,
        labels,
        network,
        secrets,
        add_hosts,
        output,
    })
}

/// `id=ID[,src=PATH|,env=VAR][,type=file|env]`.
fn parse_secret(s: &str) -> Result<Secret> {
    let mut id = None;
    let mut src = None;
    let mut env = None;
    let mut kind = None;
    for field in s.split(',') {
        let (k, v) = field
            .split_once('=')
            .ok_or_else(|| anyhow!("invalid secret {s:?}: expected id=ID,src=PATH"))?;
        match k {
            "id" => id = Some(v.to_string()),
            "src" | "source" => src = Some(v.to_string()),
            "env" => env = Some(v.to_string()),
            "type" => kind = Some(v.to_string()),
            _ => bail!("invalid secret {s:?}: unexpected key {k:?} (use id, src, env, type)"),
        }
    }
    let id = id.ok_or_else(|| anyhow!("invalid secret {s:?}: it needs id=ID"))?;
    let data = match (kind.as_deref(), src, env) {
        (Some("env"), src, env) => {
            let var = env.or(src).unwrap_or_else(|| id.clone());
            std::env::var(&var)
                .map_err(|_| anyhow!("secret {id}: the environment variable {var} is not set"))?
                .into_bytes()
        }
        (None, None, Some(var)) => std::env::var(&var)
            .map_err(|_| anyhow!("secret {id}: the environment variable {var} is not set"))?
            .into_bytes(),
        (None | Some("file"), Some(path), _) => {
            std::fs::read(&path).with_context(|| format!("secret {id}: reading {path}"))?
        }
        (None | Some("file"), None, None) => {
            bail!("secret {id}: give its file with src=PATH or its variable with env=VAR")
        }
        (Some(other), _, _) => bail!("secret {id}: unknown type {other:?} (file or env)"),
    };
    Ok(Secret { id, data })
}

/// `type=tar,dest=F`, `type=local,dest=D`, `D` (local) or `-` (tar on stdout).
fn parse_output(s: &str) -> Result<Output> {
    if s == "-" {
        return Ok(Output::Tar(PathBuf::from("/dev/stdout")));
    }
    if !s.contains('=') {
        return Ok(Output::Local(PathBuf::from(s)));
    }
    let mut kind = None;
    let mut dest = None;
    for field in s.split(',') {
        match field.split_once('=') {
            Some(("type", v)) => kind = Some(v.to_string()),
            Some(("dest", v)) => dest = Some(v.to_string()),
            _ => bail!("invalid output {s:?}: expected type=tar|local,dest=PATH"),
        }
    }
    let dest = dest.ok_or_else(|| anyhow!("invalid output {s:?}: dest=PATH is required"))?;
    match kind.as_deref() {
        Some("tar") if dest == "-" => Ok(Output::Tar(PathBuf::from("/dev/stdout"))),
        Some("tar") => Ok(Output::Tar(PathBuf::from(dest))),
        Some("local") => Ok(Output::Local(PathBuf::from(dest))),
        Some(other) => bail!(
            "output type {other:?} is not supported by berth build: use tar or local (an image is the default)"
        ),
        None => bail!("invalid output {s:?}: type=tar or type=local is required"),
    }
}

pub(crate) fn builder_prune(args: BuilderPruneArgs) -> Result<()> {
    let store = Store::open_default()?;
    if !args.force {
        let what = if args.all {
            "WARNING! This will remove all build cache."
        } else {
            "WARNING! This will remove all dangling build cache."
        };
        if !super::prune::confirm(what)? {
            return Ok(());
        }
    }
    crate::userns::enter()?;
    store.clean_stale_tmp();
    super::prune::print_build_cache_prune(&store, args.all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs() {
        assert_eq!(
            parse_output("type=tar,dest=out.tar").unwrap(),
            Output::Tar("out.tar".into())
        );
        assert_eq!(parse_output("dir").unwrap(), Output::Local("dir".into()));
        assert_eq!(
            parse_output("-").unwrap(),
            Output::Tar("/dev/stdout".into())
        );
        assert!(parse_output("type=registry,dest=x").is_err());
        assert!(parse_output("type=tar").is_err());
    }

    #[test]
    fn secrets() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("s");
        std::fs::write(&f, "top").unwrap();
        let s = parse_secret(&format!("id=tok,src={}", f.display())).unwrap();
        assert_eq!((s.id.as_str(), s.data.as_slice()), ("tok", &b"top"[..]));
        assert!(parse_secret("src=/x").is_err());
        assert!(parse_secret("id=x").is_err());
        assert!(parse_secret("id=x,env=BERTH_SURELY_UNSET_VAR").is_err());
    }
}
