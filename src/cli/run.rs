//! `run`, `create`, `start`, `attach` and `restart`. A container runs
//! under its own monitor process; a foreground `run`, `start -a` and
//! `attach` are clients of that monitor. The flags become a
//! `CreateRequest` (args/create/) and `runtime::lifecycle` does the rest.

use super::args::{AttachArgs, CreateArgs, RestartArgs, RunArgs, StartArgs};
use super::ExitStatus;
use crate::image::registry::pull::PullPolicy;
use crate::model::exit::EXIT_BERTH_ERROR;
use crate::model::{ContainerRecord, CreateRequest, StartFailure};
use crate::runtime::attach_client::{parse_detach_keys, AttachOptions, Outcome, OutputStreams};
use crate::runtime::lifecycle;
use crate::store::Store;
use anyhow::{bail, Context, Result};

pub(crate) fn run(args: RunArgs) -> Result<()> {
    let a = &args.create;
    let detach_keys = parse_detach_keys(&args.detach_keys)?;
    if args.detach && !a.process.attach.is_empty() {
        bail!("conflicting options: cannot specify both --attach and --detach");
    }
    if !args.detach {
        super::check_tty(a.process.interactive, a.process.tty)?;
    }
    let store = Store::open_default()?;
    let mut request = a.request()?;
    crate::runtime::network::ops::enter_userns_for(&store, &request.network)?;
    crate::runtime::namespaces::enter_user_namespace(&store, &request.namespaces)?;
    let cidfile = CidFile::create(a.cidfile.as_deref())?;
    if args.detach {
        request.image_id = Some(ensure_image(&store, a)?);
        crate::util::trace::step("image resolved");
        crate::runtime::network::ops::preflight(&request.network)?;
        let record = cidfile.recording(lifecycle::create(&store, &request))?;
        crate::util::trace::step("container record created");
        return match lifecycle::start(&store, &record) {
            Ok(()) => {
                println!("{}", record.id);
                Ok(())
            }
            Err(e) => start_failed(&record, e),
        };
    }
    // The monitor starts up while the image is resolved and the record
    // written (it exits if they fail).
    let prestarted = lifecycle::Prestarted::new(&store)?;
    request.image_id = Some(ensure_image(&store, a)?);
    crate::util::trace::step("image resolved");
    crate::runtime::network::ops::preflight(&request.network)?;
    let record = cidfile.recording(prestarted.create(&store, &request))?;
    crate::util::trace::step("container record created");
    let output = match request.process.attach {
        Some(streams) => OutputStreams {
            stdout: streams.stdout,
            stderr: streams.stderr,
        },
        None => OutputStreams::default(),
    };
    let opts = AttachOptions {
        stdin: a.process.interactive,
        tty: a.process.tty,
        detach_keys,
        sig_proxy: args.sig_proxy && !a.process.tty,
        signal_target: None,
        output,
    };
    match prestarted.start_attached(&store, &record, &opts) {
        Ok(outcome) => attach_outcome(&record, outcome, false),
        Err(e) => start_failed(&record, e),
    }
}

pub(crate) fn create(args: RunArgs) -> Result<()> {
    let a = &args.create;
    if args.detach {
        bail!(
            "create does not take --detach: a created container is not running; use `berth start`"
        );
    }
    let store = Store::open_default()?;
    let mut request: CreateRequest = a.request()?;
    crate::userns::enter()?;
    let cidfile = CidFile::create(a.cidfile.as_deref())?;
    request.image_id = Some(ensure_image(&store, a)?);
    let record = cidfile.recording(lifecycle::create(&store, &request))?;
    println!("{}", record.id);
    Ok(())
}

/// `--cidfile`: made (exclusively) before the container, so that an
/// existing file stops `run` at once, as Docker; removed again when the
/// container could not be made, kept (with the id) once it was.
struct CidFile(Option<(std::path::PathBuf, std::fs::File)>);

impl CidFile {
    fn create(path: Option<&std::path::Path>) -> Result<CidFile> {
        let Some(path) = path else {
            return Ok(CidFile(None));
        };
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
        {
            Ok(f) => Ok(CidFile(Some((path.to_path_buf(), f)))),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => bail!(
                "container ID file found, make sure the other container isn't running or delete {}",
                path.display()
            ),
            Err(e) => {
                Err(e).with_context(|| format!("creating the container ID file {}", path.display()))
            }
        }
    }

    /// Writes the id of the container made, or removes the file.
    fn recording(mut self, created: Result<ContainerRecord>) -> Result<ContainerRecord> {
        let Some((path, mut file)) = self.0.take() else {
            return created;
        };
        let written = created.as_ref().map(|record| {
            use std::io::Write;
            file.write_all(record.id.as_bytes())
        });
        match written {
            Ok(Ok(())) => created,
            Ok(Err(e)) => {
                let _ = std::fs::remove_file(&path);
                Err(anyhow::Error::from(e)
                    .context(format!("writing the container ID file {}", path.display())))
            }
            Err(_) => {
                let _ = std::fs::remove_file(&path);
                created
            }
        }
    }
}

impl Drop for CidFile {
    /// A command that fails before the container is made (a pull that
    /// fails) leaves no file behind.
    fn drop(&mut self) {
        if let Some((path, _)) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Starts the container attached, and turns the outcome into our exit status.
pub(crate) fn run_attached(
    store: &Store,
    record: &ContainerRecord,
    opts: &AttachOptions,
) -> Result<()> {
    match lifecycle::start_attached(store, record, opts) {
        Ok(outcome) => attach_outcome(record, outcome, false),
        Err(e) => start_failed(record, e),
    }
}

/// How an attached client ended, as our exit status.
fn attach_outcome(record: &ContainerRecord, outcome: Outcome, lost_is_ok: bool) -> Result<()> {
    match outcome {
        Outcome::Exited(0) | Outcome::Detached => Ok(()),
        Outcome::Exited(code) => Err(ExitStatus(code).into()),
        Outcome::Failed(f) => failed(record, &f),
        Outcome::Lost if lost_is_ok => Ok(()),
        Outcome::Lost => bail!(
            "lost the connection to the monitor of container {}",
            record.id
        ),
    }
}

/// An error from starting: a start failure is reported as Docker does,
/// anything else is berth's own error.
fn start_failed(record: &ContainerRecord, e: anyhow::Error) -> Result<()> {
    match e.downcast_ref::<StartFailure>() {
        Some(f) => failed(record, f),
        None => Err(e),
    }
}

/// A container that could not start: berth's own failures are errors
/// (125); 126 and 127 print Docker's message and exit with that status.
fn failed(record: &ContainerRecord, f: &StartFailure) -> Result<()> {
    if f.code == EXIT_BERTH_ERROR {
        bail!("starting container {}: {}", record.id, f.message);
    }
    eprintln!("Error: starting container {}: {}", record.id, f.message);
    Err(ExitStatus(f.code).into())
}

pub(crate) fn start(args: StartArgs) -> Result<()> {
    let detach_keys = parse_detach_keys(&args.detach_keys)?;
    if (args.attach || args.interactive) && args.containers.len() > 1 {
        bail!("you cannot start and attach multiple containers at once");
    }
    let store = Store::open_default()?;
    crate::runtime::network::ops::enter_userns_for_names(&store, &args.containers)?;
    enter_for(&store, &args.containers)?;
    if args.attach || args.interactive {
        let record = super::named_container(&store, &args.containers[0])?;
        ensure_not_running(&store, &record)?;
        let opts = AttachOptions {
            stdin: args.interactive && record.config.open_stdin,
            tty: record.config.tty,
            detach_keys,
            sig_proxy: !record.config.tty,
            signal_target: None,
            output: Default::default(),
        };
        return run_attached(&store, &record, &opts);
    }
    // Docker's `start`: each failure printed as it happens, then one line
    // naming them all (status 1).
    let mut failed = Vec::new();
    for spec in &args.containers {
        match store
            .resolve_container(spec)
            .and_then(|record| start_detached(&store, &record))
        {
            Ok(()) => println!("{spec}"),
            Err(e) => {
                eprintln!("Error response from daemon: {e:#}");
                failed.push(spec.as_str());
            }
        }
    }
    if !failed.is_empty() {
        return Err(super::PlainError(format!(
            "Error: failed to start containers: {}",
            failed.join(", ")
        ))
        .into());
    }
    Ok(())
}

fn ensure_not_running(store: &Store, record: &ContainerRecord) -> Result<()> {
    let status = store.observed_state(&record.id)?.status;
    if !status.can_start() {
        bail!(
            "container {} is already running; use `berth attach {}` to attach to it",
            record.name,
            record.name
        );
    }
    Ok(())
}

/// `start` without `-a`: a failure is an error of the command (status 1,
/// as Docker), whatever the container's status would have been.
fn start_detached(store: &Store, record: &ContainerRecord) -> Result<()> {
    lifecycle::start(store, record).map_err(|e| detached_failure(record, e))
}

fn detached_failure(record: &ContainerRecord, e: anyhow::Error) -> anyhow::Error {
    match e.downcast::<StartFailure>() {
        Ok(f) => anyhow::anyhow!("starting container {}: {}", record.id, f.message),
        Err(e) => e,
    }
}

pub(crate) fn attach(args: AttachArgs) -> Result<()> {
    let detach_keys = parse_detach_keys(&args.detach_keys)?;
    let store = Store::open_default()?;
    let record = super::named_container(&store, &args.container)?;
    let state = store.observed_state(&record.id)?;
    let refused = match state.status {
        crate::model::Status::Running => None,
        crate::model::Status::Paused => Some("a paused container, unpause it first"),
        _ => Some("a stopped container, start it first"),
    };
    if let Some(what) = refused {
        return Err(super::PlainError(format!("You cannot attach to {what}")).into());
    }
    // Docker checks the terminal whether or not the container keeps its
    // stdin open: only --no-stdin attaches without one.
    super::check_tty(!args.no_stdin, record.config.tty)?;
    let opts = AttachOptions {
        stdin: !args.no_stdin && record.config.open_stdin,
        tty: record.config.tty,
        detach_keys,
        sig_proxy: args.sig_proxy && !record.config.tty,
        signal_target: Some(state.process()),
        output: Default::default(),
    };
    let outcome = lifecycle::attach(&store, &record, &opts)?;
    attach_outcome(&record, outcome, true)
}

pub(crate) fn restart(args: RestartArgs) -> Result<()> {
    let signal = args
        .signal
        .as_deref()
        .map(crate::util::signals::parse_signal)
        .transpose()?;
    let store = Store::open_default()?;
    crate::runtime::network::ops::enter_userns_for_names(&store, &args.containers)?;
    enter_for(&store, &args.containers)?;
    super::for_each_name(&args.containers, |spec| {
        let record = store.resolve_container(spec)?;
        let timeout = super::lifecycle::timeout(args.time, &record);
        lifecycle::restart(&store, &record, signal, timeout)
            .map_err(|e| detached_failure(&record, e))
    })
}

/// Enters berth's user namespace for starting the containers `names`:
/// the one of the container the first of them shares namespaces with
/// (`--ipc`/`--pid container:X`), else a new one.
fn enter_for(store: &Store, names: &[String]) -> Result<()> {
    let sharing = names
        .iter()
        .filter_map(|n| store.resolve_container(n).ok())
        .find(|r| r.host.namespaces.joins_container());
    match sharing {
        Some(r) => crate::runtime::namespaces::enter_user_namespace(store, &r.host.namespaces),
        None => crate::userns::enter(),
    }
}

/// `--pull`: the image is pulled when missing (or always), as Docker;
/// returns its id.
/// With `--platform` (this machine's only), the image must be of it.
fn ensure_image(store: &Store, a: &CreateArgs) -> Result<String> {
    let policy: PullPolicy = a.pull.parse()?;
    let platform = a
        .platform
        .as_deref()
        .map(crate::image::registry::manifest::Platform::native_only)
        .transpose()?;
    let image = crate::image::registry::pull::ensure_image(store, a.image(), policy, a.quiet)?;
    if let Some(wanted) = platform {
        let config = crate::image::config::ImageConfig::parse(&store.get_blob(&image.id)?)?;
        if !wanted.fits_image(&config.os, &config.architecture) {
            bail!(
                "image with reference {} was found but does not match the specified platform: \
                 wanted {wanted}, actual: {}/{}",
                a.image(),
                config.os,
                config.architecture
            );
        }
    }
    Ok(image.id)
}

/// Starts a container `compose run` made: detached (its id printed unless
/// `quiet`), or attached as a foreground `run`.
pub(crate) fn start_created(
    store: &Store,
    record: &ContainerRecord,
    detach: bool,
    tty: bool,
    interactive: bool,
    quiet: bool,
) -> Result<()> {
    if detach {
        start_detached(store, record)?;
        if !quiet {
            println!("{}", record.id);
        }
        return Ok(());
    }
    let opts = AttachOptions {
        stdin: interactive,
        tty,
        detach_keys: parse_detach_keys("ctrl-p,ctrl-q")?,
        sig_proxy: !tty,
        signal_target: None,
        output: Default::default(),
    };
    run_attached(store, record, &opts)
}
