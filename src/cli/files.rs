//! `cp`, `commit`, `export` and `diff`.

use super::args::{CommitArgs, CpArgs, DiffArgs, ExportArgs};
use crate::image::commit::{changes, commit as commit_image, CommitOptions};
use crate::runtime::cp::{copy_in, copy_out, export as export_fs, CpOptions, Missing};
use crate::store::Store;
use anyhow::{bail, Context, Result};
use std::io::Write;
use std::os::fd::OwnedFd;

/// `CONTAINER:PATH` → (container, path); a local path → None. As Docker,
/// a path starting with `/` or `.` is local even with a colon in it.
fn container_path(arg: &str) -> Option<(&str, &str)> {
    if arg.starts_with('/') || arg.starts_with('.') {
        return None;
    }
    let (c, p) = arg.split_once(':')?;
    (!c.is_empty()).then_some((c, p))
}

pub(crate) fn cp(args: CpArgs) -> Result<()> {
    let opts = CpOptions {
        archive: args.archive,
        follow_link: args.follow_link,
    };
    let store = Store::open_default()?;
    let copied = match (
        container_path(&args.source),
        container_path(&args.destination),
    ) {
        (Some((c, src)), None) => {
            let record = super::named_container(&store, c)?;
            let src = if src.is_empty() { "/" } else { src };
            copy_out(&store, &record, &absolute(src), &args.destination, opts)
        }
        (None, Some((c, dest))) => {
            let record = super::named_container(&store, c)?;
            let dest = if dest.is_empty() { "/" } else { dest };
            copy_in(&store, &record, &args.source, &absolute(dest), opts)
        }
        (Some(_), Some(_)) => bail!("copying between containers is not supported"),
        (None, None) => bail!(
            "must specify at least one container source: use CONTAINER:PATH as the source or \
             the destination"
        ),
    };
    copied.map_err(|e| match e.downcast::<Missing>() {
        Ok(m @ Missing::InContainer { .. }) => super::daemon_error(m),
        Ok(m) => super::PlainError(m.to_string()).into(),
        Err(e) => e,
    })
}

/// Container paths are relative to the container's `/`.
fn absolute(p: &str) -> String {
    if p.starts_with('/') {
        p.to_string()
    } else {
        format!("/{p}")
    }
}

pub(crate) fn commit(args: CommitArgs) -> Result<()> {
    let store = Store::open_default()?;
    let record = super::named_container(&store, &args.container)?;
    crate::userns::enter()?;
    // Leftovers of killed commands go while we hold the store anyway.
    store.clean_stale_tmp();
    let opts = CommitOptions {
        author: args.author,
        message: args.message,
        changes: args.change,
        reference: args.reference,
    };
    let id = commit_image(&store, &record, &opts)?;
    println!("{id}");
    Ok(())
}

pub(crate) fn export(args: ExportArgs) -> Result<()> {
    let store = Store::open_default()?;
    let record = super::named_container(&store, &args.container)?;
    let out: OwnedFd = match &args.output {
        Some(path) => std::fs::File::create(path)
            .with_context(|| format!("creating {}", path.display()))?
            .into(),
        None => {
            let stdout = std::io::stdout();
            if nix::unistd::isatty(&stdout).unwrap_or(false) {
                bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
            }
            stdout.lock().flush()?;
            // Close-on-exec, as every descriptor berth opens.
            std::os::fd::AsFd::as_fd(&stdout)
                .try_clone_to_owned()
                .context("duplicating standard output")?
        }
    };
    export_fs(&store, &record, out)?;
    crate::runtime::events::container(&store, &record, "export");
    Ok(())
}

pub(crate) fn diff(args: DiffArgs) -> Result<()> {
    let store = Store::open_default()?;
    let record = super::named_container(&store, &args.container)?;
    crate::userns::enter()?;
    let mut out = std::io::stdout().lock();
    for c in changes(&store, &record)? {
        writeln!(out, "{} {}", c.kind, c.path)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_paths_as_docker() {
        assert_eq!(container_path("c:/etc"), Some(("c", "/etc")));
        assert_eq!(container_path("c:etc"), Some(("c", "etc")));
        assert_eq!(container_path("/tmp/a:b"), None);
        assert_eq!(container_path("./a:b"), None);
        assert_eq!(container_path("file"), None);
        assert_eq!(container_path("-"), None);
    }
}
