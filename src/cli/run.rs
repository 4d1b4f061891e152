//! `run`, `create` and `start`.

use super::args::{CreateArgs, RunArgs, StartArgs};
use super::{mount_flags, ExitStatus};
use crate::runtime::create::{create as create_container, CreateOptions};
use crate::runtime::spec::ProcessOptions;
use crate::runtime::start::{start_attached, Outcome};
use crate::store::containers::ContainerRecord;
use crate::store::Store;
use anyhow::{bail, Result};

pub fn run(args: RunArgs) -> Result<()> {
    let a = args.create;
    let store = Store::open_default()?;
    let requests = mount_flags::parse_all(&a.volume, &a.mount, &a.tmpfs)?;
    crate::userns::enter()?;
    let record = create_record(&store, &a, &requests)?;
    let outcome = start_attached(&store, &record, a.interactive);
    finish(&store, &record, outcome)
}

pub fn create(args: RunArgs) -> Result<()> {
    let a = args.create;
    let store = Store::open_default()?;
    let requests = mount_flags::parse_all(&a.volume, &a.mount, &a.tmpfs)?;
    crate::userns::enter()?;
    let record = create_record(&store, &a, &requests)?;
    println!("{}", record.id);
    Ok(())
}

pub fn start(args: StartArgs) -> Result<()> {
    if !args.attach {
        bail!(
            "starting a container in the background needs berth's container monitor, which is \
             not available yet; run it in the foreground with `start -a{} {}`",
            if args.interactive { " -i" } else { "" },
            args.containers.join(" ")
        );
    }
    if args.containers.len() > 1 {
        bail!("you cannot start and attach multiple containers at once");
    }
    let store = Store::open_default()?;
    crate::userns::enter()?;
    let record = store.resolve_container(&args.containers[0])?;
    let stdin = args.interactive && record.config.open_stdin;
    let outcome = start_attached(&store, &record, stdin);
    finish(&store, &record, outcome)
}

fn create_record(
    store: &Store,
    a: &CreateArgs,
    requests: &[mount_flags::MountRequest],
) -> Result<ContainerRecord> {
    let opts = CreateOptions {
        name: a.name.clone(),
        image: a.image.clone(),
        process: ProcessOptions {
            command: a.command.clone(),
            entrypoint: a.entrypoint.clone(),
            env: a.env.clone(),
            env_files: a.env_file.clone(),
            workdir: a.workdir.clone(),
            user: a.user.clone(),
            hostname: a.hostname.clone(),
            interactive: a.interactive,
        },
        network: a.network.clone(),
        read_only: a.read_only,
        auto_remove: a.rm,
    };
    create_container(store, &opts, |image_volumes, lock| {
        let inherited = mount_flags::volumes_from(store, &a.volumes_from)?;
        mount_flags::materialize(store, requests, inherited, image_volumes, lock)
    })
}

fn remove(store: &Store, record: &ContainerRecord) -> Result<()> {
    let lock = store.lock()?;
    store.remove_container(record, &lock)?;
    super::container::remove_anonymous_volumes(store, record, &lock)?;
    // Layers go only when their image went while the container ran.
    if store.images()?.by_id(&record.image_id).is_none() {
        store.remove_unused_layers(&lock)?;
    }
    Ok(())
}

/// Applies `--rm` and turns the outcome into berth's exit status.
fn finish(store: &Store, record: &ContainerRecord, outcome: Result<Outcome>) -> Result<()> {
    let outcome = outcome?;
    if record.host.auto_remove {
        if let Err(e) = remove(store, record) {
            let _ = crate::runtime::start::record_exit(store, &record.id, &outcome, None);
            return Err(e.context(format!("removing container {} (--rm)", record.id)));
        }
    }
    match outcome {
        Outcome::Exited(0) => Ok(()),
        Outcome::Exited(code) => Err(ExitStatus(code).into()),
        Outcome::Failed(code, message) if code == super::EXIT_BERTH_ERROR => {
            bail!("starting container {}: {message}", record.id)
        }
        Outcome::Failed(code, message) => {
            eprintln!("Error: starting container {}: {message}", record.id);
            Err(ExitStatus(code).into())
        }
    }
}
