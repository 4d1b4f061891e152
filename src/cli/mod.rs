//! The command line: clap definitions (Docker's names, aliases and help
//! texts), dispatch to one handler file per command group, and the mapping
//! of failures to Docker's exit codes (125 berth's own error, 126 cannot
//! invoke, 127 not found, otherwise the container's status).

mod archive;
mod args;
mod build;
mod build_progress;
mod compose;
mod compose_args;
mod compose_ops;
mod compose_progress;
mod compose_up;
mod container;
mod df;
mod doctor;
mod events;
mod exec;
mod fast_parse;
mod files;
mod filters;
mod host_config;
mod image;
mod inspect;
mod inspect_run_flags;
mod inspect_security;
mod lifecycle;
mod network;
mod output;
mod prune;
mod ps;
mod registry;
mod report;
mod rmi;
mod run;
mod sandbox;
mod stats;
mod system;
mod template;
mod terminal;
mod volume;

use args::{Cli, Command};
pub use system::write_man_pages;

use crate::model::exit::EXIT_BERTH_ERROR;
use clap::{CommandFactory, FromArgMatches};

/// An error that carries the exit status the process must end with, used
/// to pass a container's status (or 126/127) up through `anyhow`.
#[derive(Debug)]
pub(crate) struct ExitStatus(pub(crate) i32);

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit status {}", self.0)
    }
}
impl std::error::Error for ExitStatus {}

/// The clap command tree, named as the program was invoked: through a
/// symlink called `docker` it presents itself as `docker`.
pub(crate) fn command() -> clap::Command {
    let cmd = Cli::command();
    match invoked_name().as_deref() {
        Some("docker") => cmd.name("docker").bin_name("docker"),
        _ => cmd,
    }
}

fn invoked_name() -> Option<String> {
    let arg0 = std::env::args_os().next()?;
    let name = std::path::Path::new(&arg0)
        .file_name()?
        .to_string_lossy()
        .into_owned();
    Some(name)
}

/// Parses the command line, runs it and returns the process exit status.
pub fn main() -> i32 {
    crate::util::stdio::ensure_standard_descriptors();
    crate::util::trace::init("cli");
    // Output piped into `head` must end us quietly, as it ends docker.
    // SAFETY: setting a signal disposition before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // Library code reports through this; the CLI alone prints.
    crate::util::report::install(Box::new(report::Terminal));
    // Re-executions of ourselves (helpers inside namespaces) are not user
    // commands: they are recognised before clap sees argv.
    if let Some(status) = crate::runtime::reexec::dispatch() {
        return status;
    }
    crate::util::trace::install_printer(report::trace_line);
    // Library warnings reach the user's terminal only through the CLI.
    if invoked_name().as_deref() == Some("docker-compose") {
        return compose::standalone_main();
    }
    // `run` and its kin are parsed with their own flags only; the rest,
    // and every error or help, with the whole tree.
    let cli = match fast_parse::parse(&std::env::args_os().collect::<Vec<_>>()) {
        Some(cli) => cli,
        None => match parse_all() {
            Ok(cli) => cli,
            Err(status) => return status,
        },
    };
    crate::util::trace::step("arguments parsed");
    let status = match dispatch(cli) {
        Ok(()) => 0,
        Err(err) => report(&err),
    };
    crate::util::trace::step("done");
    status
}

/// Parses the command line with the whole clap tree, printing clap's
/// message (help, version, an error) and returning the exit status if it
/// does not come to a command.
fn parse_all() -> Result<Cli, i32> {
    let matches = match command().try_get_matches() {
        Ok(m) => m,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_BERTH_ERROR } else { 0 };
            let _ = e.print();
            return Err(code);
        }
    };
    match Cli::from_arg_matches(&matches) {
        Ok(c) => Ok(c),
        Err(e) => {
            let _ = e.print();
            Err(EXIT_BERTH_ERROR)
        }
    }
}

/// Runs `op` for each name a user gave, printing the name when it worked;
/// the command fails (status 1) if any did not, after trying them all,
/// with Docker's "Error response from daemon" line for each failure
/// printed after the names, as Docker's `rm`, `stop`, `kill`, `restart`,
/// `pause` and `update` print them (errors joined at the end).
pub(crate) fn for_each_name(
    names: &[String],
    op: impl FnMut(&str) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    for_each_name_tolerating(names, |_| false, op)
}

/// [`for_each_name`], where an error that `tolerated` accepts is printed
/// at once and does not fail the command (`rm -f` of a missing name).
pub(crate) fn for_each_name_tolerating(
    names: &[String],
    tolerated: impl Fn(&anyhow::Error) -> bool,
    mut op: impl FnMut(&str) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut errors = Vec::new();
    for name in names {
        match op(name) {
            Ok(()) => println!("{name}"),
            Err(e) if tolerated(&e) => eprintln!("Error response from daemon: {e:#}"),
            Err(e) => errors.push(e),
        }
    }
    daemon_errors(errors)
}

/// The failures of a command that went through several names, printed
/// after what worked as Docker's CLI joins them: each as the daemon's
/// error, then status 1. Nothing failed: Ok.
pub(crate) fn daemon_errors(errors: Vec<anyhow::Error>) -> anyhow::Result<()> {
    if errors.is_empty() {
        return Ok(());
    }
    for e in &errors {
        eprintln!("Error response from daemon: {e:#}");
    }
    Err(ExitStatus(1).into())
}

/// An error Docker's daemon would answer, printed as
/// `Error response from daemon: ...` with exit status 1.
#[derive(Debug)]
pub(crate) struct DaemonError(pub(crate) String);

impl std::fmt::Display for DaemonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for DaemonError {}

/// An error Docker's CLI prints as it is, with exit status 1 (a template
/// that does not parse or run).
#[derive(Debug)]
pub(crate) struct PlainError(pub(crate) String);

impl std::fmt::Display for PlainError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for PlainError {}

/// Docker's check before attaching a terminal: `-i` with `-t` needs a
/// terminal on stdin (a pty fed from a pipe or file would echo and mangle
/// it), else its error, status 1, before anything is made.
pub(crate) fn check_tty(interactive: bool, tty: bool) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    if interactive && tty && !std::io::stdin().is_terminal() {
        return Err(PlainError("the input device is not a TTY".into()).into());
    }
    Ok(())
}

/// The one container a command names (`logs`, `exec`, `top`, `cp`...):
/// a name that matches none is Docker's daemon's error, status 1.
pub(crate) fn named_container(
    store: &crate::store::Store,
    spec: &str,
) -> anyhow::Result<crate::model::ContainerRecord> {
    store
        .resolve_container(spec)
        .map_err(daemon_error_if::<crate::store::containers::NoSuchContainer>)
}

/// `e` as Docker's daemon's error when it is a `T` (a missing container
/// or image), else as it is.
pub(crate) fn daemon_error_if<T>(e: anyhow::Error) -> anyhow::Error
where
    T: std::fmt::Display + std::fmt::Debug + Send + Sync + 'static,
{
    if e.is::<T>() {
        daemon_error(e)
    } else {
        e
    }
}

/// Wraps an error as one of Docker's daemon (for `map_err`).
pub(crate) fn daemon_error(e: impl std::fmt::Display) -> anyhow::Error {
    DaemonError(e.to_string()).into()
}

/// Prints an error chain as `Error: what was being done: what went wrong`
/// and picks the exit status.
pub(crate) fn report(err: &anyhow::Error) -> i32 {
    if let Some(ExitStatus(code)) = err.downcast_ref::<ExitStatus>() {
        return *code;
    }
    if let Some(DaemonError(msg)) = err.downcast_ref::<DaemonError>() {
        eprintln!("Error response from daemon: {msg}");
        return 1;
    }
    if let Some(PlainError(msg)) = err.downcast_ref::<PlainError>() {
        eprintln!("{msg}");
        return 1;
    }
    eprintln!("Error: {err:#}");
    EXIT_BERTH_ERROR
}

fn dispatch(cli: Cli) -> anyhow::Result<()> {
    if let Some(root) = &cli.global.root {
        std::env::set_var("BERTH_ROOT", root);
    }
    use args::NetworkCommand as N;
    use args::{ContainerCommand as C, ImageCommand as I, SystemCommand as S, VolumeCommand as V};
    match cli.command {
        Command::Run(a) => run::run(a),
        Command::Create(a) => run::create(a),
        Command::Start(a) => run::start(a),
        Command::Ps(a) => ps::ps(a),
        Command::Rm(a) => container::rm(a),
        Command::Logs(a) => lifecycle::logs(a),
        Command::Attach(a) => run::attach(a),
        Command::Restart(a) => run::restart(a),
        Command::Stop(a) => lifecycle::stop(a),
        Command::Kill(a) => lifecycle::kill(a),
        Command::Wait(a) => lifecycle::wait(a),
        Command::Rename(a) => lifecycle::rename(a),
        Command::Top(a) => lifecycle::top(a),
        Command::Stats(a) => stats::stats(a),
        Command::Update(a) => stats::update(a),
        Command::Exec(a) => exec::exec(a),
        Command::Cp(a) => files::cp(a),
        Command::Commit(a) => files::commit(a),
        Command::Export(a) => files::export(a),
        Command::Diff(a) => files::diff(a),
        Command::Pause(a) => exec::pause(a, true),
        Command::Unpause(a) => exec::pause(a, false),
        Command::Images(a) => image::images(a),
        Command::Rmi(a) => rmi::rmi(a),
        Command::Tag(a) => image::tag(a),
        Command::History(a) => image::history(a),
        Command::Build(a) => build::build(a),
        Command::Builder(args::BuilderCommand::Prune(a)) => build::builder_prune(a),
        Command::Buildx(args::BuildxCommand::Build(a)) => build::build(*a),
        Command::Buildx(args::BuildxCommand::Prune(a)) => build::builder_prune(a),
        Command::Inspect(a) => system::inspect(a),
        Command::Pull(a) => registry::pull(a),
        Command::Push(a) => registry::push(a),
        Command::Login(a) => registry::login(a),
        Command::Logout(a) => registry::logout(a),
        Command::Load(a) => archive::load(a),
        Command::Save(a) => archive::save(a),
        Command::Import(a) => archive::import(a),
        Command::Version(a) => system::version(a),
        Command::Info(a) => system::info(a),
        Command::Events(a) => events::events(a),
        Command::Doctor(a) => doctor::doctor(a),
        Command::Image(sub) => match sub {
            I::Build(a) => build::build(a),
            I::Ls(a) => image::images(a),
            I::Rm(a) => rmi::rmi(a),
            I::Tag(a) => image::tag(a),
            I::History(a) => image::history(a),
            I::Inspect(a) => image::inspect(a),
            I::Prune(a) => prune::image_prune(a),
            I::Pull(a) => registry::pull(a),
            I::Push(a) => registry::push(a),
            I::Load(a) => archive::load(a),
            I::Save(a) => archive::save(a),
            I::Import(a) => archive::import(a),
        },
        Command::Container(sub) => match sub {
            C::Ls(a) => ps::ps(a),
            C::Rm(a) => container::rm(a),
            C::Inspect(a) => container::inspect(a),
            C::Run(a) => run::run(a),
            C::Create(a) => run::create(a),
            C::Start(a) => run::start(a),
            C::Logs(a) => lifecycle::logs(a),
            C::Attach(a) => run::attach(a),
            C::Restart(a) => run::restart(a),
            C::Stop(a) => lifecycle::stop(a),
            C::Kill(a) => lifecycle::kill(a),
            C::Wait(a) => lifecycle::wait(a),
            C::Rename(a) => lifecycle::rename(a),
            C::Top(a) => lifecycle::top(a),
            C::Stats(a) => stats::stats(a),
            C::Update(a) => stats::update(a),
            C::Exec(a) => exec::exec(a),
            C::Cp(a) => files::cp(a),
            C::Commit(a) => files::commit(a),
            C::Export(a) => files::export(a),
            C::Diff(a) => files::diff(a),
            C::Pause(a) => exec::pause(a, true),
            C::Unpause(a) => exec::pause(a, false),
            C::Port(a) => network::port(a),
            C::Prune(a) => prune::container_prune(a),
        },
        Command::Volume(sub) => match sub {
            V::Create(a) => volume::create(a),
            V::Ls(a) => volume::ls(a),
            V::Inspect(a) => volume::inspect(a),
            V::Rm(a) => volume::rm(a),
            V::Prune(a) => prune::volume_prune(a),
        },
        Command::Network(sub) => match sub {
            N::Create(a) => network::create(a),
            N::Ls(a) => network::ls(a),
            N::Inspect(a) => network::inspect(a),
            N::Rm(a) => network::rm(a),
            N::Prune(a) => network::prune(a),
            N::Connect(a) => network::connect(a),
            N::Disconnect(a) => network::disconnect(a),
        },
        Command::Port(a) => network::port(a),
        Command::System(sub) => match sub {
            S::Df(a) => df::df(a),
            S::Info(a) => system::info(a),
            S::Prune(a) => prune::system_prune(a),
        },
        Command::Completion(a) => system::completion(a),
        Command::Compose(a) => compose::compose(a),
        Command::Unshare(a) => volume::unshare(a),
        Command::Sandbox(a) => sandbox::sandbox(a),
        Command::GenerateManPages(a) => system::generate_man_pages(a),
    }
}
