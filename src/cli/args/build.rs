//! Flags of `build` (also `image build` and `buildx build`) and `builder
//! prune`.

use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub(crate) struct BuildArgs {
    /// Name and optionally a tag in the "name:tag" format
    #[arg(short = 't', long = "tag", value_name = "list")]
    pub(crate) tags: Vec<String>,
    /// Name of the Dockerfile (default: "PATH/Dockerfile"; "-" reads it from STDIN)
    #[arg(short = 'f', long = "file", value_name = "string")]
    pub(crate) file: Option<String>,
    /// Set build-time variables (KEY=VALUE, or KEY to take it from the environment)
    #[arg(long = "build-arg", value_name = "list")]
    pub(crate) build_args: Vec<String>,
    /// Set the target build stage to build
    #[arg(long, value_name = "string")]
    pub(crate) target: Option<String>,
    /// Do not use cache when building the image
    #[arg(long = "no-cache")]
    pub(crate) no_cache: bool,
    /// Always attempt to pull a newer version of the base images
    #[arg(long)]
    pub(crate) pull: bool,
    /// Suppress the build output and print image ID on success
    #[arg(short = 'q', long)]
    pub(crate) quiet: bool,
    /// Set metadata for an image (KEY=VALUE)
    #[arg(long = "label", value_name = "list")]
    pub(crate) labels: Vec<String>,
    /// Set the networking mode for the RUN instructions during build (default, host or none)
    #[arg(long, value_name = "string", default_value = "default")]
    pub(crate) network: String,
    /// Write the image ID to the file
    #[arg(long, value_name = "string")]
    pub(crate) iidfile: Option<std::path::PathBuf>,
    /// Set type of progress output (auto, plain, tty, quiet)
    #[arg(long, value_name = "string", default_value = "auto")]
    pub(crate) progress: String,
    /// Set target platform for build (only the native platform is supported)
    #[arg(long, value_name = "string")]
    pub(crate) platform: Option<String>,
    /// Secret to expose to the build (format: "id=mysecret[,src=/local/secret]" or "id=X,env=VAR")
    #[arg(long = "secret", value_name = "stringArray")]
    pub(crate) secrets: Vec<String>,
    /// Add a custom host-to-IP mapping (format: "host:ip") for RUN instructions
    #[arg(long = "add-host", value_name = "list")]
    pub(crate) add_hosts: Vec<String>,
    /// Output destination instead of an image (format: "type=tar,dest=FILE" or "type=local,dest=DIR"; "-" is a tar on STDOUT)
    #[arg(short = 'o', long = "output", value_name = "stringArray")]
    pub(crate) outputs: Vec<String>,
    /// The build context: a directory, a tar archive, or - (a tar archive or a Dockerfile on STDIN)
    #[arg(value_name = "PATH | -")]
    pub(crate) context: String,
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub(crate) enum BuilderCommand {
    /// Remove build cache
    Prune(BuilderPruneArgs),
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub(crate) enum BuildxCommand {
    /// Start a build
    #[command(alias = "b")]
    Build(Box<BuildArgs>),
    /// Remove build cache
    Prune(BuilderPruneArgs),
}

#[derive(Debug, Args)]
pub(crate) struct BuilderPruneArgs {
    /// Remove all unused build cache, not just dangling ones
    #[arg(short = 'a', long)]
    pub(crate) all: bool,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub(crate) force: bool,
}
