//! Instructions after substitution: the values a builder acts on.

use crate::build::dockerfile::{
    CommandLine, Healthcheck, InlineSource, Instruction, Mount, Network, Onbuild, Security,
};

/// COPY/ADD operands with variables substituted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyValues {
    pub sources: Vec<String>,
    /// Heredoc sources; bodies substituted when their delimiter was
    /// unquoted.
    pub inline_sources: Vec<InlineSource>,
    pub dest: String,
    pub chown: Option<String>,
    pub chmod: Option<String>,
    pub link: bool,
    /// `--exclude` patterns (BuildKit does not substitute these).
    pub excludes: Vec<String>,
}

/// What an instruction means once substituted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Run {
        /// Untouched: the shell expands shell-form commands itself.
        command: CommandLine,
        mounts: Vec<Mount>,
        network: Network,
        security: Security,
        /// The step's environment: image env, ENV and ARG values.
        env: Vec<(String, String)>,
        /// Proxy settings from build arguments (`HTTP_PROXY` and the like,
        /// both cases). They reach the step's environment but, unless
        /// declared with ARG, neither its history nor its cache key.
        proxy_env: Vec<(String, String)>,
    },
    Cmd(CommandLine),
    Entrypoint(Option<CommandLine>),
    Env(Vec<(String, String)>),
    /// Declared names with the value each got (`None`: no value).
    Arg(Vec<(String, Option<String>)>),
    Label(Vec<(String, String)>),
    /// Port words after substitution and splitting (`80/tcp`).
    Expose(Vec<String>),
    User(String),
    Workdir(String),
    Volume(Vec<String>),
    StopSignal(String),
    Healthcheck(Healthcheck),
    Shell(Vec<String>),
    Onbuild(Onbuild),
    Maintainer(String),
    Copy {
        values: CopyValues,
        /// Stage name or index, or image.
        from: Option<String>,
        parents: bool,
    },
    Add {
        values: CopyValues,
        checksum: Option<String>,
        keep_git_dir: Option<bool>,
        unpack: Option<bool>,
    },
}

/// One instruction, evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluated<'a> {
    pub instruction: &'a Instruction,
    pub value: Value,
    /// The build arguments (ARG values) this step depends on, with their
    /// values: those its substitutions read, and for RUN every ARG in
    /// scope (they are in its environment). A cache key needs exactly
    /// these. For RUN this is also the `|N K=V` prefix of its history.
    pub used_args: Vec<(String, String)>,
}
