//! Typed instructions: what each Dockerfile instruction says, before any
//! variable substitution (that is the evaluator's job, because it depends
//! on build arguments and on the stage's environment).

use super::heredoc::Heredoc;
use serde::Serialize;

/// Lines of the Dockerfile an instruction spans (1-based, inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Location {
    pub start_line: usize,
    pub end_line: usize,
}

/// A parsed instruction with where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Instruction {
    pub location: Location,
    /// The logical line, trimmed: continuations joined, comments removed.
    /// BuildKit shows this in progress output and errors.
    pub original: String,
    pub kind: InstructionKind,
}

impl Instruction {
    /// The instruction's name in upper case (`RUN`, `COPY`...).
    pub fn name(&self) -> &'static str {
        self.kind.name()
    }
}

/// A command in exec form (`["a", "b"]`) or shell form (`a b`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommandLine {
    /// Exec form: the argv. Shell form: one string for the shell.
    pub args: Vec<String>,
    /// Shell form: run `args[0]` with the stage's `SHELL`.
    pub shell_form: bool,
    /// Heredocs of a shell-form RUN.
    pub heredocs: Vec<Heredoc>,
}

/// `RUN [--mount=...] [--network=...] [--security=...] command`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Run {
    pub command: CommandLine,
    /// `--mount` values as written; the evaluator substitutes variables and
    /// parses them into [`super::Mount`]s.
    pub mounts: Vec<String>,
    pub network: Network,
    pub security: Security,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    /// The build's network (`--network` of `berth build`).
    Default,
    None,
    Host,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    Sandbox,
    Insecure,
}

/// `KEY=value` of ENV and LABEL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
    /// Written in the legacy `ENV KEY value` form.
    pub legacy: bool,
}

/// One name of an ARG instruction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArgDecl {
    pub name: String,
    /// The default, unsubstituted, with its quotes.
    pub default: Option<String>,
}

/// An inline source file of `COPY <<EOF /dest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InlineSource {
    /// The heredoc name, used as the file name.
    pub name: String,
    /// The body (tabs already stripped for `<<-`).
    pub data: String,
    /// Substitute variables in the body (unquoted delimiter).
    pub expand: bool,
}

/// Flags and operands shared by COPY and ADD.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CopySpec {
    /// Source paths (or URLs for ADD), unsubstituted.
    pub sources: Vec<String>,
    pub inline_sources: Vec<InlineSource>,
    pub dest: String,
    pub chown: Option<String>,
    pub chmod: Option<String>,
    pub link: bool,
    pub excludes: Vec<String>,
}

/// `COPY [--from=] [--parents] ...`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Copy {
    pub spec: CopySpec,
    /// A stage name or index, or an image; never substituted.
    pub from: Option<String>,
    pub parents: bool,
}

/// `ADD [--checksum=] [--keep-git-dir] [--unpack] ...`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Add {
    pub spec: CopySpec,
    pub checksum: Option<String>,
    pub keep_git_dir: Option<bool>,
    pub unpack: Option<bool>,
}

/// HEALTHCHECK's configuration in the image config's terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Healthcheck {
    /// `HEALTHCHECK NONE`: disable any inherited check (`Test: ["NONE"]`).
    None,
    Check {
        /// `["CMD", argv...]` or `["CMD-SHELL", command]`.
        test: Vec<String>,
        /// Nanoseconds; 0 means "inherit the default".
        interval: u64,
        timeout: u64,
        start_period: u64,
        start_interval: u64,
        retries: u32,
    },
}

/// `ONBUILD <instruction>`: stored in the image, run by a later build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Onbuild {
    /// The trigger as it goes into the image config's `OnBuild` list.
    pub expression: String,
    /// The trigger's keyword, upper case.
    pub trigger: String,
}

/// What an instruction says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum InstructionKind {
    Run(Run),
    Cmd(CommandLine),
    /// `None` for `ENTRYPOINT []`, which clears it.
    Entrypoint(Option<CommandLine>),
    Env(Vec<KeyValue>),
    Arg(Vec<ArgDecl>),
    Label(Vec<KeyValue>),
    Expose(Vec<String>),
    User(String),
    Workdir(String),
    Volume(Vec<String>),
    StopSignal(String),
    Healthcheck(Healthcheck),
    Shell(Vec<String>),
    Onbuild(Onbuild),
    Maintainer(String),
    Copy(Copy),
    Add(Add),
}

impl InstructionKind {
    pub fn name(&self) -> &'static str {
        match self {
            InstructionKind::Run(_) => "RUN",
            InstructionKind::Cmd(_) => "CMD",
            InstructionKind::Entrypoint(_) => "ENTRYPOINT",
            InstructionKind::Env(_) => "ENV",
            InstructionKind::Arg(_) => "ARG",
            InstructionKind::Label(_) => "LABEL",
            InstructionKind::Expose(_) => "EXPOSE",
            InstructionKind::User(_) => "USER",
            InstructionKind::Workdir(_) => "WORKDIR",
            InstructionKind::Volume(_) => "VOLUME",
            InstructionKind::StopSignal(_) => "STOPSIGNAL",
            InstructionKind::Healthcheck(_) => "HEALTHCHECK",
            InstructionKind::Shell(_) => "SHELL",
            InstructionKind::Onbuild(_) => "ONBUILD",
            InstructionKind::Maintainer(_) => "MAINTAINER",
            InstructionKind::Copy(_) => "COPY",
            InstructionKind::Add(_) => "ADD",
        }
    }
}

/// A build stage: `FROM` and the instructions up to the next `FROM`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stage {
    /// Position among the stages (what `COPY --from=0` refers to).
    pub index: usize,
    /// `AS name`, lower-cased (stage names are case-insensitive).
    pub name: Option<String>,
    /// The image or stage to start from, unsubstituted.
    pub base: String,
    /// `--platform`, unsubstituted.
    pub platform: Option<String>,
    pub location: Location,
    /// The FROM line.
    pub original: String,
    pub instructions: Vec<Instruction>,
}

impl Stage {
    /// The name BuildKit shows for the stage: its name or `stage-N`.
    pub fn display_name(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| format!("stage-{}", self.index))
    }
}
