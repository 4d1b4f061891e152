//! `berth compose` (and berth invoked as `docker-compose`): the project
//! flags Docker Compose v2 takes before its command, and the commands that
//! need no runtime: `config` and `version`. The orchestration commands
//! (`up`, `down`, ...) build on `crate::compose::Project` the same way.

use super::compose_args as A;
use super::ExitStatus;
use crate::compose::{LoadOptions, Project, Selection};
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use std::io::{Read, Write};
use std::path::PathBuf;

// Define and run multi-container applications. (A plain comment: a doc
// comment here would replace the subcommand's about, its flags being
// built late, `defer`.)
#[derive(Debug, Args)]
#[command(
    subcommand_help_heading = "Commands",
    after_help = "Run 'berth compose COMMAND --help' for more information on a command."
)]
pub struct ComposeArgs {
    /// Compose configuration files ("-" for standard input); default
    /// $COMPOSE_FILE, else compose.yaml (or compose.yml, docker-compose.yml,
    /// docker-compose.yaml) here or in a parent directory, with its
    /// compose.override.yaml
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Project name (default: $COMPOSE_PROJECT_NAME, the files' `name:`,
    /// else the project directory's name)
    #[arg(short = 'p', long, value_name = "NAME")]
    pub project_name: Option<String>,
    /// Specify an alternate working directory (default: the path of the
    /// first specified Compose file)
    #[arg(long, value_name = "DIR")]
    pub project_directory: Option<PathBuf>,
    /// Specify an alternate environment file (default: .env in the project
    /// directory)
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_files: Vec<PathBuf>,
    /// Specify a profile to enable (default: $COMPOSE_PROFILES)
    #[arg(long = "profile", value_name = "PROFILE")]
    pub profiles: Vec<String>,
    /// Include all resources, even those not used by services
    #[arg(long)]
    pub all_resources: bool,
    /// Set type of progress output (auto, tty, plain, json, quiet)
    #[arg(long, value_name = "MODE", env = "COMPOSE_PROGRESS")]
    pub progress: Option<String>,
    /// Control when to print ANSI control characters ("never"|"always"|"auto")
    #[arg(
        long,
        value_name = "WHEN",
        default_value = "auto",
        env = "COMPOSE_ANSI"
    )]
    pub ansi: String,
    #[command(subcommand)]
    pub command: ComposeCommand,
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum ComposeCommand {
    /// Build or rebuild services
    Build(A::BuildArgs),
    /// Parse, resolve and render compose file in canonical format
    Config(ConfigArgs),
    /// Copy files/folders between a service container and the local
    /// filesystem
    Cp(A::CpArgs),
    /// Creates containers for a service
    Create(A::CreateArgs),
    /// Stop and remove containers, networks
    Down(A::DownArgs),
    /// Execute a command in a running container
    Exec(A::ExecArgs),
    /// List images used by the created containers
    Images(A::ImagesArgs),
    /// Force stop service containers
    Kill(A::KillArgs),
    /// View output from containers
    Logs(A::LogsArgs),
    /// List running compose projects
    Ls(A::LsArgs),
    /// Pause services
    Pause(A::ServicesArgs),
    /// Print the public port for a port binding
    Port(A::PortArgs),
    /// List containers
    Ps(A::PsArgs),
    /// Pull service images
    Pull(A::PullArgs),
    /// Push service images
    Push(A::PushArgs),
    /// Restart service containers
    Restart(A::RestartArgs),
    /// Removes stopped service containers
    Rm(A::RmArgs),
    /// Run a one-off command on a service
    Run(A::RunArgs),
    /// Start services
    Start(A::ServicesArgs),
    /// Stop services
    Stop(A::StopArgs),
    /// Display the running processes
    Top(A::ServicesArgs),
    /// Unpause services
    Unpause(A::ServicesArgs),
    /// Create and start containers
    Up(A::UpArgs),
    /// Show the Docker Compose version information
    Version(ComposeVersionArgs),
    /// Block until containers of all (or specified) services stop.
    Wait(A::WaitArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ConfigFormat {
    Yaml,
    Json,
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Format the output
    #[arg(long, value_enum, default_value = "yaml")]
    pub format: ConfigFormat,
    /// Only validate the configuration, don't print anything
    #[arg(short, long)]
    pub quiet: bool,
    /// Don't interpolate environment variables
    #[arg(long)]
    pub no_interpolate: bool,
    /// Print the service names, one per line
    #[arg(long)]
    pub services: bool,
    /// Print the volume names, one per line
    #[arg(long)]
    pub volumes: bool,
    /// Print the network names, one per line
    #[arg(long)]
    pub networks: bool,
    /// Print the profile names, one per line
    #[arg(long)]
    pub profiles: bool,
    /// Print the image names, one per line
    #[arg(long)]
    pub images: bool,
    /// Print the service config hash, one per line ("*" for all services,
    /// or a comma-separated list)
    #[arg(long, value_name = "SERVICES")]
    pub hash: Option<String>,
    /// Save to file (default to stdout)
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Services to render (with what they depend on)
    #[arg(value_name = "SERVICE")]
    pub service: Vec<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum VersionFormat {
    Pretty,
    Json,
}

#[derive(Debug, Args)]
pub struct ComposeVersionArgs {
    /// Format the output
    #[arg(short, long, value_enum, default_value = "pretty")]
    pub format: VersionFormat,
    /// Shows only Compose's version number
    #[arg(long)]
    pub short: bool,
}

/// berth invoked through a symlink named `docker-compose`: the same
/// commands, at the top level.
#[derive(Debug, Parser)]
#[command(
    name = "docker-compose",
    version,
    about = "Define and run multi-container applications (berth)",
    disable_help_subcommand = true
)]
struct Standalone {
    #[command(flatten)]
    compose: ComposeArgs,
}

/// Entry point for `docker-compose ...`.
pub fn standalone_main() -> i32 {
    let matches = match Standalone::command().try_get_matches() {
        Ok(m) => m,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    let args = match Standalone::from_arg_matches(&matches) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return 1;
        }
    };
    match compose(args.compose) {
        Ok(()) => 0,
        Err(e) => super::report(&e),
    }
}

/// `berth compose ...`.
pub fn compose(args: ComposeArgs) -> anyhow::Result<()> {
    super::compose_progress::mark_start();
    if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) || args.ansi == "never" {
        super::compose_progress::disable_colors();
    }
    use super::compose_ops as O;
    use super::compose_up as U;
    use ComposeCommand as C;
    match &args.command {
        C::Version(v) => version(v),
        C::Config(c) => config(&args, c),
        C::Up(a) => U::up(&args, a),
        C::Create(a) => U::create(&args, a),
        C::Start(a) => U::start(&args, a),
        C::Run(a) => U::run(&args, a),
        C::Down(a) => O::down(&args, a),
        C::Stop(a) => O::stop(&args, a),
        C::Restart(a) => O::restart(&args, a),
        C::Kill(a) => O::kill(&args, a),
        C::Rm(a) => O::rm(&args, a),
        C::Pause(a) => O::pause(&args, a, true),
        C::Unpause(a) => O::pause(&args, a, false),
        C::Ps(a) => O::ps(&args, a),
        C::Ls(a) => O::ls(&args, a),
        C::Logs(a) => O::logs(&args, a),
        C::Exec(a) => O::exec(&args, a),
        C::Top(a) => O::top(&args, a),
        C::Port(a) => O::port(&args, a),
        C::Images(a) => O::images(&args, a),
        C::Cp(a) => O::cp(&args, a),
        C::Wait(a) => O::wait(&args, a),
        C::Pull(a) => O::pull(&args, a),
        C::Push(a) => O::push(&args, a),
        C::Build(a) => O::build(&args, a),
    }
}

fn version(v: &ComposeVersionArgs) -> anyhow::Result<()> {
    let version = env!("CARGO_PKG_VERSION");
    if v.short {
        println!("{version}");
    } else if matches!(v.format, VersionFormat::Json) {
        println!("{{\"version\":\"v{version}\"}}");
    } else {
        println!("berth compose version v{version}");
    }
    Ok(())
}

/// The options every compose command loads its project with.
pub(crate) fn load_options(args: &ComposeArgs, interpolate: bool) -> anyhow::Result<LoadOptions> {
    let mut opts = LoadOptions::from_process()?;
    opts.files = args.files.clone();
    opts.project_name = args.project_name.clone();
    opts.project_directory = args.project_directory.clone();
    opts.env_files = args.env_files.clone();
    opts.profiles = args.profiles.clone();
    opts.interpolate = interpolate;
    if opts.files.iter().any(|f| f.as_os_str() == "-") {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        opts.stdin = Some(text);
    }
    Ok(opts)
}

/// Loads the project, printing its warnings as Compose does; a broken
/// project is reported and ends the command with status 1, as Compose's.
pub(crate) fn load(opts: &LoadOptions, selection: &Selection) -> anyhow::Result<Project> {
    match Project::load(opts, selection) {
        Ok(p) => {
            for w in &p.warnings {
                eprintln!("WARN[0000] {w}");
            }
            Ok(p)
        }
        Err(e) => {
            eprintln!("{e}");
            Err(ExitStatus(1).into())
        }
    }
}

fn config(args: &ComposeArgs, c: &ConfigArgs) -> anyhow::Result<()> {
    let opts = load_options(args, !c.no_interpolate)?;
    let listing = c.services || c.volumes || c.networks || c.hash.is_some();
    let selection = Selection {
        services: if listing {
            Vec::new()
        } else {
            c.service.clone()
        },
        resolve_env_files: !(c.services || c.volumes || c.networks),
        all_resources: args.all_resources,
    };
    let project = load(&opts, &selection)?;
    let mut out = String::new();
    if c.services {
        for s in project.dependency_order()? {
            out.push_str(&s.name);
            out.push('\n');
        }
    } else if c.volumes {
        for v in project.model.volumes.keys() {
            out.push_str(v);
            out.push('\n');
        }
    } else if c.networks {
        for n in project.model.networks.keys() {
            out.push_str(n);
            out.push('\n');
        }
    } else if let Some(which) = &c.hash {
        let wanted: Vec<&str> = which.split(',').map(str::trim).collect();
        for s in project.model.services.values() {
            if which == "*" || wanted.contains(&s.name.as_str()) {
                out.push_str(&format!("{} {}\n", s.name, Project::config_hash(s)));
            }
        }
    } else if c.profiles {
        let mut all: Vec<&String> = project
            .model
            .services
            .values()
            .chain(project.disabled.values())
            .flat_map(|s| s.profiles.iter())
            .collect();
        all.sort();
        all.dedup();
        for p in all {
            out.push_str(p);
            out.push('\n');
        }
    } else if c.images {
        for s in project.model.services.values() {
            out.push_str(&project.image_name(s));
            out.push('\n');
        }
    } else {
        out = match c.format {
            ConfigFormat::Yaml => crate::compose::output::to_yaml(&project.to_value()),
            ConfigFormat::Json => crate::compose::output::to_json(&project.to_json_value()),
        };
        // Interpolated values must not be interpolated again when the
        // output is used as a compose file.
        if !c.no_interpolate {
            out = out.replace('$', "$$");
        }
    }
    if c.quiet {
        return Ok(());
    }
    match &c.output {
        Some(path) => std::fs::write(path, out.as_bytes())
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?,
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(out.as_bytes())?;
            stdout.flush()?;
        }
    }
    Ok(())
}
