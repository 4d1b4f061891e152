//! `pull`, `push`, `login`, `logout`.

use super::args::{LoginArgs, LogoutArgs, PullArgs, PushArgs};
use crate::image::registry::auth::Credentials;
use crate::image::registry::client::{Client, Transport};
use crate::image::registry::credentials;
use crate::image::registry::manifest::Platform;
use crate::image::registry::pull::{pull as pull_image, pull_all_tags, PullOptions};
use crate::image::registry::push::{local_tags, push as push_image, PushOptions};
use crate::image::registry::settings::Settings;
use crate::model::reference::Reference;
use crate::store::Store;
use anyhow::{bail, Context, Result};
use std::io::{BufRead, IsTerminal, Write};

pub(crate) fn pull(args: PullArgs) -> Result<()> {
    let reference =
        Reference::parse(&args.name).with_context(|| format!("pulling {}", args.name))?;
    let platform = args
        .platform
        .as_deref()
        .map(Platform::native_only)
        .transpose()?;
    let opts = PullOptions {
        platform,
        transport: Transport {
            tls_verify: args.tls_verify,
        },
        quiet: args.quiet,
    };
    let store = Store::open_default()?;
    crate::userns::enter()?;
    // Leftovers of killed commands go while we hold the store anyway.
    store.clean_stale_tmp();
    if args.all_tags {
        pull_all_tags(&store, &reference, &opts)
            .with_context(|| format!("pulling all tags of {}", reference.familiar_name()))?;
        println!("{}", reference.name());
        return Ok(());
    }
    if reference.tag().is_none() && reference.digest().is_none() && !args.quiet {
        println!("Using default tag: latest");
    }
    // A name without a registry may mean several (unqualified-search).
    let candidates = Settings::load()?.candidates(&args.name)?;
    let mut errors = Vec::new();
    for reference in &candidates {
        match pull_image(&store, reference, &opts) {
            Ok(_) => {
                println!("{reference}");
                return Ok(());
            }
            Err(e) => errors.push(e.context(format!("pulling {}", reference.familiar()))),
        }
    }
    Err(crate::image::registry::pull::join_errors(errors))
}

pub(crate) fn push(args: PushArgs) -> Result<()> {
    let reference =
        Reference::parse(&args.name).with_context(|| format!("pushing {}", args.name))?;
    if reference.digest().is_some() {
        bail!("pushing {}: push a tag, not a digest", args.name);
    }
    let store = Store::open_default()?;
    let targets = if args.all_tags {
        if reference.tag().is_some() {
            bail!("tag can't be used with --all-tags/-a");
        }
        local_tags(&store, &reference)?
    } else {
        let r = match reference.tag() {
            Some(_) => reference,
            None => {
                if !args.quiet {
                    println!("Using default tag: latest");
                }
                Reference::parse_tagged(&args.name)?
            }
        };
        // Docker's message when there is nothing by that name.
        if store.images()?.resolve(&r.to_string()).is_err() {
            bail!(
                "An image does not exist locally with the tag: {}",
                r.familiar_name()
            );
        }
        vec![r]
    };
    crate::userns::enter()?;
    let opts = PushOptions {
        transport: Transport {
            tls_verify: args.tls_verify,
        },
        quiet: args.quiet,
    };
    for r in targets {
        let pushed =
            push_image(&store, &r, &opts).with_context(|| format!("pushing {}", r.familiar()))?;
        if args.quiet {
            println!("{}@{}", r.name(), pushed.manifest_digest);
        }
    }
    Ok(())
}

/// `docker.io`, `reg:5000` from what users type: `https://reg:5000/`,
/// `https://index.docker.io/v1/`, `registry-1.docker.io`...
pub(crate) fn normalize_server(server: Option<&str>) -> Result<String> {
    let Some(s) = server.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok("docker.io".into());
    };
    let s = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .unwrap_or(s);
    let host = s.split('/').next().unwrap_or(s).to_ascii_lowercase();
    if host.is_empty() || host.contains(char::is_whitespace) || host.contains('@') {
        bail!("invalid registry {s:?}: expected host[:port]");
    }
    Ok(match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "docker.io" | "registry.hub.docker.com" => {
            "docker.io".into()
        }
        _ => host,
    })
}

pub(crate) fn login(args: LoginArgs) -> Result<()> {
    let domain = normalize_server(args.server.as_deref())?;
    let shown = if domain == "docker.io" {
        "Docker Hub".to_string()
    } else {
        domain.clone()
    };
    let interactive = std::io::stdin().is_terminal();
    let password = if let Some(p) = args.password {
        eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
        Some(p)
    } else if args.password_stdin {
        if args.username.is_none() {
            bail!("Must provide --username with --password-stdin");
        }
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from stdin")?;
        Some(line.trim_end_matches(['\n', '\r']).to_string())
    } else {
        None
    };
    let username = match args.username {
        Some(u) => u,
        None if interactive => prompt("Username: ")?,
        None => bail!("Cannot perform an interactive login from a non TTY device: give --username and --password-stdin"),
    };
    let password = match password {
        Some(p) => p,
        None if interactive => prompt_hidden("Password: ")?,
        None => bail!(
            "Cannot perform an interactive login from a non TTY device: give --password-stdin"
        ),
    };
    if username.is_empty() {
        bail!("Error: Non-null Username Required");
    }
    if password.is_empty() {
        bail!("Error: Non-null Password Required");
    }
    let creds = Credentials::Basic { username, password };
    let mut client = Client::new(
        &domain,
        &Transport {
            tls_verify: args.tls_verify,
        },
    )?
    .with_credentials(creds.clone());
    client.ping().map_err(|e| {
        let text = format!("{e:#}");
        if text.contains("unauthorized") {
            anyhow::anyhow!("login to {shown} failed: unauthorized: incorrect username or password")
        } else {
            e.context(format!("logging in to {shown}"))
        }
    })?;
    let place = credentials::store(&domain, &creds)
        .with_context(|| format!("saving the credentials for {shown}"))?;
    if !place.starts_with("the credential helper") {
        eprintln!("WARNING! Your password will be stored unencrypted in {place}.");
    }
    println!("Login Succeeded");
    Ok(())
}

pub(crate) fn logout(args: LogoutArgs) -> Result<()> {
    let domain = normalize_server(args.server.as_deref())?;
    let key = crate::image::registry::auth::config_key(&domain);
    if credentials::erase(&domain)? {
        println!("Removing login credentials for {key}");
    } else {
        println!("Not logged in to {key}");
    }
    Ok(())
}

fn prompt(text: &str) -> Result<String> {
    print!("{text}");
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim().to_string())
}

/// Reads a line from the terminal on stdin without echoing it.
fn prompt_hidden(text: &str) -> Result<String> {
    use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg};
    print!("{text}");
    std::io::stdout().flush()?;
    let stdin = std::io::stdin();
    let saved = tcgetattr(&stdin).context("reading the terminal settings")?;
    let mut quiet = saved.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    quiet.local_flags.insert(LocalFlags::ECHONL);
    tcsetattr(&stdin, SetArg::TCSAFLUSH, &quiet).context("turning off the terminal's echo")?;
    let mut line = String::new();
    let r = stdin.lock().read_line(&mut line);
    // Echo comes back whatever happened.
    let _ = tcsetattr(&stdin, SetArg::TCSAFLUSH, &saved);
    r.context("reading the password")?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_are_normalized() {
        assert_eq!(normalize_server(None).unwrap(), "docker.io");
        assert_eq!(
            normalize_server(Some("https://index.docker.io/v1/")).unwrap(),
            "docker.io"
        );
        assert_eq!(
            normalize_server(Some("https://Reg.lan:5000/")).unwrap(),
            "reg.lan:5000"
        );
        assert_eq!(
            normalize_server(Some("127.0.0.1:5000")).unwrap(),
            "127.0.0.1:5000"
        );
        assert!(normalize_server(Some("a b")).is_err());
    }
}
