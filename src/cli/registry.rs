//! `pull` (and later `push`, `login`, `logout`).

use super::args::PullArgs;
use crate::image::reference::Reference;
use crate::image::registry::client::Transport;
use crate::image::registry::manifest::Platform;
use crate::image::registry::pull::{pull as pull_image, PullOptions};
use crate::store::Store;
use anyhow::{Context, Result};

pub fn pull(args: PullArgs) -> Result<()> {
    let reference =
        Reference::parse(&args.name).with_context(|| format!("pulling {}", args.name))?;
    let reference = if reference.tag().is_none() && reference.digest().is_none() {
        if !args.quiet {
            println!("Using default tag: latest");
        }
        Reference::parse_tagged(&args.name)?
    } else {
        reference
    };
    let platform = args.platform.as_deref().map(Platform::parse).transpose()?;
    let store = Store::open_default()?;
    crate::userns::enter()?;
    let opts = PullOptions {
        platform,
        transport: Transport {
            tls_verify: args.tls_verify,
        },
        quiet: args.quiet,
    };
    pull_image(&store, &reference, &opts)
        .with_context(|| format!("pulling {}", reference.familiar()))?;
    println!("{reference}");
    Ok(())
}
