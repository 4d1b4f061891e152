//! Evaluation of a parsed Dockerfile with build arguments: global ARGs
//! (before the first FROM, usable in FROM lines), stage scoping of ARG and
//! ENV, the predefined platform and proxy arguments, substitution in
//! exactly the instructions BuildKit substitutes in, the arguments each
//! step uses (for its cache key), and the build arguments nothing consumed.
//!
//! Substituted: ADD, COPY (sources, destination, --chown, --chmod, ADD's
//! --checksum, heredoc bodies with unquoted delimiters), ENV, LABEL, ARG
//! defaults, EXPOSE, USER, WORKDIR, VOLUME, STOPSIGNAL, FROM (with global
//! ARGs only) and RUN's --mount values. Not substituted: RUN, CMD,
//! ENTRYPOINT and HEALTHCHECK commands (the shell expands those at run
//! time), SHELL, MAINTAINER, ONBUILD triggers (substituted when they run),
//! COPY --from and --exclude.

mod evaluated;
mod platform;
mod scope;

pub use evaluated::{CopyValues, Evaluated, Value};
pub use platform::{predefined_args, Platform};
pub use scope::{Scope, DEFAULT_PATH};

use crate::build::dockerfile::{
    parse_mount, CopySpec, Dockerfile, Instruction, InstructionKind, ParseError, Stage,
};
use crate::build::shell::{Env, Lexer, WordResult};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

/// Build arguments Docker accepts without a declaring ARG: proxies. They
/// reach RUN steps but stay out of history and cache keys.
pub const PROXY_ARGS: &[&str] = &[
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// What the user asked for.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// `--build-arg K=V` (a bare `--build-arg K` is resolved from the
    /// caller's environment by the CLI, and left out when unset).
    pub build_args: BTreeMap<String, String>,
    pub build_platform: Platform,
    pub target_platform: Platform,
    /// `--target`; the last stage when `None`.
    pub target: Option<String>,
}

impl BuildOptions {
    /// Native platform, no arguments, last stage.
    pub fn native() -> BuildOptions {
        BuildOptions {
            build_args: BTreeMap::new(),
            build_platform: Platform::native(),
            target_platform: Platform::native(),
            target: None,
        }
    }
}

/// A stage's FROM with its variables substituted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedFrom {
    pub base: String,
    pub platform: Option<String>,
    /// Global arguments the FROM line read.
    pub used_args: Vec<(String, String)>,
}

/// Evaluates the stages of one Dockerfile for one build.
pub struct Evaluator<'a> {
    df: &'a Dockerfile,
    opts: &'a BuildOptions,
    lexer: Lexer,
    /// Predefined and global ARG values, in order.
    globals: Vec<(String, String)>,
    /// Names some evaluated ARG declared: those build arguments were
    /// consumed.
    declared: RefCell<BTreeSet<String>>,
}

impl<'a> Evaluator<'a> {
    /// Evaluates the global ARGs.
    pub fn new(df: &'a Dockerfile, opts: &'a BuildOptions) -> Result<Evaluator<'a>, ParseError> {
        let target_stage = match &opts.target {
            Some(t) => t.clone(),
            None => df
                .stages
                .last()
                .and_then(|s| s.name.clone())
                .unwrap_or_default(),
        };
        let mut globals =
            predefined_args(&opts.build_platform, &opts.target_platform, &target_stage);
        for (k, v) in globals.iter_mut() {
            if let Some(o) = opts.build_args.get(k) {
                *v = o.clone();
            }
        }
        let mut ev = Evaluator {
            df,
            opts,
            lexer: Lexer::new(df.directives.escape),
            globals,
            declared: RefCell::new(BTreeSet::new()),
        };
        for instr in &df.meta_args {
            let InstructionKind::Arg(decls) = &instr.kind else {
                continue;
            };
            for d in decls {
                ev.declared.borrow_mut().insert(d.name.clone());
                let value = match (opts.build_args.get(&d.name), &d.default) {
                    (Some(v), _) => Some(v.clone()),
                    (None, Some(default)) => {
                        Some(ev.expand(instr, default, &ev.globals.clone())?.result)
                    }
                    (None, None) => None,
                };
                if let Some(v) = value {
                    match ev.globals.iter_mut().find(|(k, _)| *k == d.name) {
                        Some(slot) => slot.1 = v,
                        None => ev.globals.push((d.name.clone(), v)),
                    }
                }
            }
        }
        Ok(ev)
    }

    /// The global arguments (predefined ones included) with their values.
    pub fn global_args(&self) -> &[(String, String)] {
        &self.globals
    }

    fn error(&self, instr: &Instruction, message: String) -> ParseError {
        ParseError {
            file: self.df.file.clone(),
            start_line: instr.location.start_line,
            end_line: instr.location.end_line,
            instruction: Some(instr.name().to_string()),
            message,
        }
    }

    fn expand(
        &self,
        instr: &Instruction,
        word: &str,
        env: &dyn Env,
    ) -> Result<WordResult, ParseError> {
        self.lexer
            .process_word(word, env)
            .map_err(|e| self.error(instr, e.to_string()))
    }

    /// Substitutes a stage's FROM line with the global arguments.
    pub fn resolve_from(&self, stage: &Stage) -> Result<ResolvedFrom, ParseError> {
        let fail = |message: String| ParseError {
            file: self.df.file.clone(),
            start_line: stage.location.start_line,
            end_line: stage.location.end_line,
            instruction: Some("FROM".to_string()),
            message,
        };
        let globals = self.globals.clone();
        let base = self
            .lexer
            .process_word(&stage.base, &globals)
            .map_err(|e| fail(e.to_string()))?;
        if base.result.is_empty() {
            return Err(fail(format!(
                "base name ({}) should not be blank",
                stage.base
            )));
        }
        let mut used: BTreeSet<String> = base.matched;
        let platform = match &stage.platform {
            None => None,
            Some(p) => {
                let r = self.lexer.process_word(p, &globals).map_err(|e| {
                    fail(format!("failed to process arguments for platform {p}: {e}"))
                })?;
                if r.result.is_empty() {
                    return Err(fail(format!("empty platform value from expression {p}")));
                }
                used.extend(r.matched);
                Some(r.result)
            }
        };
        let used_args = used
            .into_iter()
            .filter_map(|n| lookup(&globals, &n).map(|v| (n, v)))
            .collect();
        Ok(ResolvedFrom {
            base: base.result,
            platform,
            used_args,
        })
    }

    /// Evaluates every instruction of a stage in order, starting from
    /// `scope` (see [`Scope::from_image_env`]); `scope` ends as the stage's
    /// final state, which a stage built FROM this one starts with.
    pub fn eval_stage(
        &self,
        stage: &'a Stage,
        scope: &mut Scope,
    ) -> Result<Vec<Evaluated<'a>>, ParseError> {
        stage
            .instructions
            .iter()
            .map(|i| self.eval(i, scope))
            .collect()
    }

    /// Evaluates one instruction and applies it to `scope`.
    pub fn eval<'i>(
        &self,
        instr: &'i Instruction,
        scope: &mut Scope,
    ) -> Result<Evaluated<'i>, ParseError> {
        let mut used = BTreeSet::new();
        let word =
            |w: &str, scope: &Scope, used: &mut BTreeSet<String>| -> Result<String, ParseError> {
                let r = self.expand(instr, w, scope)?;
                used.extend(r.matched.into_iter().filter(|n| scope.is_arg(n)));
                Ok(r.result)
            };
        let value = match &instr.kind {
            InstructionKind::Run(run) => {
                let mut mounts = Vec::new();
                for spec in &run.mounts {
                    let mut expand = |v: &str| word(v, scope, &mut used).map_err(|e| e.message);
                    mounts.push(parse_mount(spec, &mut expand).map_err(|m| self.error(instr, m))?);
                }
                Value::Run {
                    command: run.command.clone(),
                    mounts,
                    network: run.network,
                    security: run.security,
                    env: scope.run_env(),
                    proxy_env: self.proxy_env(),
                }
            }
            InstructionKind::Cmd(c) => Value::Cmd(c.clone()),
            InstructionKind::Entrypoint(c) => Value::Entrypoint(c.clone()),
            InstructionKind::Env(kvs) => {
                // Every pair is substituted with the variables from before
                // this instruction: `ENV a=1 b=$a` gives b the old a.
                let mut pairs = Vec::new();
                for kv in kvs {
                    pairs.push((
                        word(&kv.key, scope, &mut used)?,
                        word(&kv.value, scope, &mut used)?,
                    ));
                }
                for (k, v) in &pairs {
                    scope.set_env(k, v);
                }
                Value::Env(pairs)
            }
            InstructionKind::Label(kvs) => {
                let mut pairs = Vec::new();
                for kv in kvs {
                    pairs.push((
                        word(&kv.key, scope, &mut used)?,
                        word(&kv.value, scope, &mut used)?,
                    ));
                }
                Value::Label(pairs)
            }
            InstructionKind::Arg(decls) => {
                let mut out = Vec::new();
                for d in decls {
                    self.declared.borrow_mut().insert(d.name.clone());
                    let value = match (self.opts.build_args.get(&d.name), &d.default) {
                        (Some(v), _) => Some(v.clone()),
                        (None, Some(default)) => Some(word(default, scope, &mut used)?),
                        // Without a default a global ARG of the same name
                        // (or a predefined one) provides the value.
                        (None, None) => lookup(&self.globals, &d.name),
                    };
                    scope.set_arg(&d.name, value.as_deref());
                    out.push((d.name.clone(), value));
                }
                Value::Arg(out)
            }
            InstructionKind::Expose(ports) => {
                let mut out = Vec::new();
                for p in ports {
                    let words = self
                        .lexer
                        .process_word(p, scope)
                        .map_err(|e| self.error(instr, e.to_string()))?;
                    used.extend(words.matched.into_iter().filter(|n| scope.is_arg(n)));
                    out.extend(words.words);
                }
                Value::Expose(out)
            }
            InstructionKind::User(u) => Value::User(word(u, scope, &mut used)?),
            InstructionKind::Workdir(w) => Value::Workdir(word(w, scope, &mut used)?),
            InstructionKind::StopSignal(s) => Value::StopSignal(word(s, scope, &mut used)?),
            InstructionKind::Volume(vols) => {
                let mut out = Vec::new();
                for v in vols {
                    out.push(word(v, scope, &mut used)?);
                }
                Value::Volume(out)
            }
            InstructionKind::Healthcheck(h) => Value::Healthcheck(h.clone()),
            InstructionKind::Shell(s) => Value::Shell(s.clone()),
            InstructionKind::Onbuild(o) => Value::Onbuild(o.clone()),
            InstructionKind::Maintainer(m) => Value::Maintainer(m.clone()),
            InstructionKind::Copy(c) => {
                if let Some(from) = &c.from {
                    let plain = self
                        .lexer
                        .process_word(from, &())
                        .map_err(|e| self.error(instr, e.to_string()))?;
                    if plain.result != *from {
                        return Err(self.error(instr, "variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround".to_string()));
                    }
                }
                Value::Copy {
                    values: self.copy_values(instr, &c.spec, scope, &mut used)?,
                    from: c.from.clone(),
                    parents: c.parents,
                }
            }
            InstructionKind::Add(a) => {
                let checksum = match &a.checksum {
                    Some(c) => Some(word(c, scope, &mut used)?),
                    None => None,
                };
                Value::Add {
                    values: self.copy_values(instr, &a.spec, scope, &mut used)?,
                    checksum,
                    keep_git_dir: a.keep_git_dir,
                    unpack: a.unpack,
                }
            }
        };
        let used_args = match &value {
            Value::Run { .. } => scope.run_args(),
            _ => used
                .into_iter()
                .filter_map(|n| scope.get(&n).map(|v| (n.clone(), v.to_string())))
                .collect(),
        };
        Ok(Evaluated {
            instruction: instr,
            value,
            used_args,
        })
    }

    fn copy_values(
        &self,
        instr: &Instruction,
        spec: &CopySpec,
        scope: &Scope,
        used: &mut BTreeSet<String>,
    ) -> Result<CopyValues, ParseError> {
        let mut word = |w: &str| -> Result<String, ParseError> {
            let r = self.expand(instr, w, scope)?;
            used.extend(r.matched.into_iter().filter(|n| scope.is_arg(n)));
            Ok(r.result)
        };
        let chown = spec.chown.as_deref().map(&mut word).transpose()?;
        let chmod = spec.chmod.as_deref().map(&mut word).transpose()?;
        let sources = spec
            .sources
            .iter()
            .map(|s| word(s))
            .collect::<Result<Vec<_>, _>>()?;
        let dest = word(&spec.dest)?;
        // Heredoc bodies: variables and escapes only, quotes stay.
        let mut body_lexer = Lexer::new('\\');
        body_lexer.skip_process_quotes = true;
        let mut inline_sources = Vec::new();
        for s in &spec.inline_sources {
            let mut s = s.clone();
            if s.expand {
                let r = body_lexer
                    .process_word(&s.data, scope)
                    .map_err(|e| self.error(instr, e.to_string()))?;
                used.extend(r.matched.into_iter().filter(|n| scope.is_arg(n)));
                s.data = r.result;
            }
            inline_sources.push(s);
        }
        Ok(CopyValues {
            sources,
            inline_sources,
            dest,
            chown,
            chmod,
            link: spec.link,
            excludes: spec.excludes.clone(),
        })
    }

    /// Proxy build arguments as environment variables, in both cases.
    fn proxy_env(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for base in [
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "FTP_PROXY",
            "NO_PROXY",
            "ALL_PROXY",
        ] {
            let value = self
                .opts
                .build_args
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(base))
                .map(|(_, v)| v.clone());
            if let Some(v) = value {
                out.push((base.to_string(), v.clone()));
                out.push((base.to_lowercase(), v));
            }
        }
        out
    }

    /// Build arguments no evaluated ARG declared, sorted (proxies never
    /// count: Docker accepts them undeclared).
    pub fn unconsumed_build_args(&self) -> Vec<String> {
        let declared = self.declared.borrow();
        self.opts
            .build_args
            .keys()
            .filter(|k| !declared.contains(*k) && !PROXY_ARGS.contains(&k.as_str()))
            .cloned()
            .collect()
    }

    /// Docker's warning about unconsumed build arguments, if any.
    pub fn unconsumed_warning(&self) -> Option<String> {
        let left = self.unconsumed_build_args();
        (!left.is_empty()).then(|| {
            format!(
                "[Warning] One or more build-args [{}] were not consumed",
                left.join(" ")
            )
        })
    }
}

/// The last value of `name` in an ordered list of variables.
fn lookup(list: &[(String, String)], name: &str) -> Option<String> {
    list.iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

#[cfg(test)]
mod tests;
