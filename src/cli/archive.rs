//! `load`, `save` and `import`: image archives in and out.

use super::args::{ImportArgs, LoadArgs, SaveArgs};
use crate::image::archive::{load::load as load_archive, save, Archive};
use crate::image::import::{import as import_tarball, ImportOptions};
use crate::image::layer::Notices;
use crate::model::reference::familiar;
use crate::store::Store;
use anyhow::{Context, Result};
use std::io::Write;

pub(crate) fn load(args: LoadArgs) -> Result<()> {
    let store = Store::open_default()?;
    crate::userns::enter()?;
    // Leftovers of killed commands go while we hold the store anyway.
    store.clean_stale_tmp();
    let archive = Archive::open(&store, args.input.as_deref())?;
    let loaded = load_archive(&store, &archive, &mut Notices::default())?;
    if !args.quiet {
        let mut out = std::io::stdout().lock();
        for image in loaded {
            if image.names.is_empty() {
                writeln!(out, "Loaded image ID: {}", image.id)?;
            }
            for name in &image.names {
                writeln!(out, "Loaded image: {}", familiar(name))?;
            }
        }
    }
    Ok(())
}

pub(crate) fn save(args: SaveArgs) -> Result<()> {
    let store = Store::open_default()?;
    crate::userns::enter()?;
    save_images(&store, &args).map_err(|e| {
        // Docker's daemon names a missing image as it was given here.
        match e.downcast_ref::<crate::store::images::NoSuchImage>() {
            Some(missing) => super::daemon_error(format!("No such image: {}", missing.0)),
            None => e,
        }
    })
}

fn save_images(store: &Store, args: &SaveArgs) -> Result<()> {
    match &args.output {
        Some(path) => save::save_to_file(store, &args.images, path),
        None => {
            let stdout = std::io::stdout();
            if nix::unistd::isatty(&stdout).unwrap_or(false) {
                anyhow::bail!("refusing to write an image archive to a terminal; use -o FILE or redirect the output");
            }
            let mut out = std::io::BufWriter::new(stdout.lock());
            save::save(store, &args.images, &mut out)?;
            out.flush()
                .context("writing the archive to standard output")
        }
    }
}

pub(crate) fn import(args: ImportArgs) -> Result<()> {
    let store = Store::open_default()?;
    crate::userns::enter()?;
    // Leftovers of killed commands go while we hold the store anyway.
    store.clean_stale_tmp();
    let opts = ImportOptions {
        changes: args.change,
        message: args.message,
        platform: args.platform,
        source: args.file.clone(),
        reference: args.reference,
    };
    let mut notices = Notices::default();
    let id = if args.file == "-" {
        import_tarball(&store, std::io::stdin().lock(), &opts, &mut notices)?
    } else {
        let file =
            std::fs::File::open(&args.file).with_context(|| format!("opening {}", args.file))?;
        import_tarball(&store, file, &opts, &mut notices)?
    };
    println!("{id}");
    Ok(())
}
