//! `run`, `create`, `start`, `attach` and `restart`. A container runs
//! under its own monitor process; a foreground `run`, `start -a` and
//! `attach` are clients of that monitor.

use super::args::{AttachArgs, CreateArgs, RestartArgs, RunArgs, StartArgs};
use super::{mount_flags, ExitStatus};
use crate::image::registry::pull::PullPolicy;
use crate::runtime::attach::parse_detach_keys;
use crate::runtime::attach_client::{attach as attach_to, AttachOptions, Outcome};
use crate::runtime::create::{create as create_container, CreateOptions};
use crate::runtime::monitor::{self, Ready};
use crate::runtime::policy::RestartPolicy;
use crate::runtime::spec::{HealthFlags, ProcessOptions};
use crate::store::containers::ContainerRecord;
use crate::store::Store;
use anyhow::{bail, Result};

pub fn run(args: RunArgs) -> Result<()> {
    let a = &args.create;
    let detach_keys = parse_detach_keys(&args.detach_keys)?;
    let store = Store::open_default()?;
    let requests = mount_flags::parse_all(&a.volume, &a.mount, &a.tmpfs)?;
    let restart = RestartPolicy::parse(&a.restart)?;
    if a.rm && restart != RestartPolicy::No {
        bail!("conflicting options: cannot specify both --restart and --rm");
    }
    crate::userns::enter()?;
    let image_id = ensure_image(&store, a)?;
    let record = create_record(&store, a, &requests, restart, image_id)?;
    if args.detach {
        return match monitor::spawn(&record.id, false)? {
            Ready::Started(_) | Ready::Listening => {
                println!("{}", record.id);
                Ok(())
            }
            Ready::Failed(code, msg) => failed(&record, code, &msg),
        };
    }
    let opts = AttachOptions {
        stdin: a.interactive,
        tty: a.tty,
        detach_keys,
        sig_proxy: args.sig_proxy && !a.tty,
        send_ready: true,
        signal_target: None,
    };
    run_attached(&record, &opts)
}

pub fn create(args: RunArgs) -> Result<()> {
    let a = &args.create;
    if args.detach {
        bail!(
            "create does not take --detach: a created container is not running; use `berth start`"
        );
    }
    let store = Store::open_default()?;
    let requests = mount_flags::parse_all(&a.volume, &a.mount, &a.tmpfs)?;
    let restart = RestartPolicy::parse(&a.restart)?;
    crate::userns::enter()?;
    let image_id = ensure_image(&store, a)?;
    let record = create_record(&store, a, &requests, restart, image_id)?;
    println!("{}", record.id);
    Ok(())
}

/// Spawns a monitor that waits for us, attaches, and turns the outcome
/// into our exit status.
fn run_attached(record: &ContainerRecord, opts: &AttachOptions) -> Result<()> {
    let store = Store::open_default()?;
    match monitor::spawn(&record.id, true)? {
        Ready::Failed(code, msg) => return failed(record, code, &msg),
        Ready::Started(_) | Ready::Listening => {}
    }
    let socket = monitor::socket_path(store.run_dir()?, &record.id);
    match attach_to(&socket, opts)? {
        Outcome::Exited(0) | Outcome::Detached => Ok(()),
        Outcome::Exited(code) => Err(ExitStatus(code).into()),
        Outcome::Failed(code, msg) => failed(record, code, &msg),
        Outcome::Lost => bail!(
            "lost the connection to the monitor of container {}",
            record.id
        ),
    }
}

/// A container that could not start: berth's own failures are errors
/// (125); 126 and 127 print Docker's message and exit with that status.
fn failed(record: &ContainerRecord, code: i32, msg: &str) -> Result<()> {
    if code == super::EXIT_BERTH_ERROR {
        bail!("starting container {}: {msg}", record.id);
    }
    eprintln!("Error: starting container {}: {msg}", record.id);
    Err(ExitStatus(code).into())
}

pub fn start(args: StartArgs) -> Result<()> {
    let detach_keys = parse_detach_keys(&args.detach_keys)?;
    if (args.attach || args.interactive) && args.containers.len() > 1 {
        bail!("you cannot start and attach multiple containers at once");
    }
    let store = Store::open_default()?;
    crate::userns::enter()?;
    if args.attach || args.interactive {
        let record = store.resolve_container(&args.containers[0])?;
        ensure_not_running(&store, &record)?;
        let opts = AttachOptions {
            stdin: args.interactive && record.config.open_stdin,
            tty: record.config.tty,
            detach_keys,
            sig_proxy: !record.config.tty,
            send_ready: true,
            signal_target: None,
        };
        return run_attached(&record, &opts);
    }
    super::for_each_name(&args.containers, |spec| start_detached(&store, spec))
}

fn ensure_not_running(store: &Store, record: &ContainerRecord) -> Result<()> {
    let state = store.observed_state(&record.id)?;
    if state.status == "running" || state.status == "restarting" {
        bail!(
            "container {} is already running; use `berth attach {}` to attach to it",
            record.name,
            record.name
        );
    }
    Ok(())
}

fn start_detached(store: &Store, spec: &str) -> Result<()> {
    let record = store.resolve_container(spec)?;
    let state = store.observed_state(&record.id)?;
    // Starting a running container is not an error in Docker.
    if state.status == "running" || state.status == "restarting" {
        return Ok(());
    }
    match monitor::spawn(&record.id, false)? {
        Ready::Started(_) | Ready::Listening => Ok(()),
        Ready::Failed(_, msg) => bail!("starting container {}: {msg}", record.id),
    }
}

pub fn attach(args: AttachArgs) -> Result<()> {
    let detach_keys = parse_detach_keys(&args.detach_keys)?;
    let store = Store::open_default()?;
    let record = store.resolve_container(&args.container)?;
    let state = store.observed_state(&record.id)?;
    if state.status != "running" {
        bail!("You cannot attach to a stopped container, start it first");
    }
    let opts = AttachOptions {
        stdin: !args.no_stdin && record.config.open_stdin,
        tty: record.config.tty,
        detach_keys,
        sig_proxy: args.sig_proxy && !record.config.tty,
        send_ready: false,
        signal_target: Some(nix::unistd::Pid::from_raw(state.pid)),
    };
    let socket = monitor::socket_path(store.run_dir()?, &record.id);
    match attach_to(&socket, &opts)? {
        Outcome::Exited(0) | Outcome::Detached => Ok(()),
        Outcome::Exited(code) => Err(ExitStatus(code).into()),
        Outcome::Failed(code, msg) => failed(&record, code, &msg),
        Outcome::Lost => Ok(()),
    }
}

pub fn restart(args: RestartArgs) -> Result<()> {
    let signal = args
        .signal
        .as_deref()
        .map(super::lifecycle::parse_signal)
        .transpose()?;
    let store = Store::open_default()?;
    crate::userns::enter()?;
    super::for_each_name(&args.containers, |spec| {
        let record = store.resolve_container(spec)?;
        super::lifecycle::stop_one(&store, &record, signal, args.time)?;
        start_detached(&store, &record.id)
    })
}

/// `--pull`: the image is pulled when missing (or always), as Docker;
/// returns its id.
fn ensure_image(store: &Store, a: &CreateArgs) -> Result<String> {
    let policy: PullPolicy = a.pull.parse()?;
    Ok(crate::image::registry::pull::ensure_image(store, &a.image, policy, a.quiet)?.id)
}

fn create_record(
    store: &Store,
    a: &CreateArgs,
    requests: &[mount_flags::MountRequest],
    restart: RestartPolicy,
    image_id: String,
) -> Result<ContainerRecord> {
    let opts = CreateOptions {
        name: a.name.clone(),
        image: a.image.clone(),
        image_id: Some(image_id),
        process: ProcessOptions {
            command: a.command.clone(),
            entrypoint: a.entrypoint.clone(),
            env: a.env.clone(),
            env_files: a.env_file.clone(),
            workdir: a.workdir.clone(),
            user: a.user.clone(),
            hostname: a.hostname.clone(),
            interactive: a.interactive,
            tty: a.tty,
            stop_signal: a.stop_signal.clone(),
            health: HealthFlags {
                cmd: a.health_cmd.clone(),
                interval: a.health_interval.clone(),
                timeout: a.health_timeout.clone(),
                start_period: a.health_start_period.clone(),
                retries: a.health_retries,
                disabled: a.no_healthcheck,
            },
        },
        network: a.network.clone(),
        read_only: a.read_only,
        auto_remove: a.rm,
        restart,
        init: a.init,
    };
    create_container(store, &opts, |image_volumes, lock| {
        let inherited = mount_flags::volumes_from(store, &a.volumes_from)?;
        mount_flags::materialize(store, requests, inherited, image_volumes, lock)
    })
}
