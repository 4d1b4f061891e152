//! One stage: its base (an image, scratch or an earlier stage), the base
//! image's ONBUILD triggers, then every instruction in order. Instructions
//! that only change the configuration are applied here, with the history
//! entry BuildKit writes for each; RUN, COPY, ADD and WORKDIR are steps
//! (`cache::step`) that add a layer.

use super::cache::{self, StepSpec};
use super::{parse_failure, Mode, NeedsExecution, Prepared};
use crate::build::dockerfile::{
    go_quote, parse_onbuild_trigger, CommandLine, Healthcheck, Instruction, InstructionKind,
    ParseError,
};
use crate::build::eval::{Evaluated, Evaluator, Scope, Value};
use crate::build::graph::Base;
use crate::build::progress::{BuildError, BuildProgress};
use crate::build::shell::Lexer;
use crate::image::config::{host_architecture, History, ImageConfig};
use crate::image::view::LayerView;
use crate::store::Store;
use anyhow::Result;
use serde_json::{json, Value as Json};
use std::sync::atomic::{AtomicBool, Ordering};

/// The comment BuildKit puts on the history entries it writes.
pub(crate) const HISTORY_COMMENT: &str = "buildkit.dockerfile.v0";

/// What a stage's thread works with.
pub(crate) struct StageCx<'a> {
    pub(crate) store: &'a Store,
    pub(crate) p: &'a Prepared,
    pub(crate) progress: &'a dyn BuildProgress,
    pub(crate) mode: Mode,
    pub(crate) ev: &'a Evaluator<'a>,
    /// Results of the stages built before this wave.
    pub(crate) done: &'a [Option<StageResult>],
    /// Another stage failed: stop at the next step.
    pub(crate) failed: &'a AtomicBool,
}

/// A finished stage.
#[derive(Debug, Clone)]
pub(crate) struct StageResult {
    /// Diff ids, base first.
    pub(crate) layers: Vec<String>,
    /// The cache key of the filesystem state.
    pub(crate) fs_key: String,
    /// Its image configuration; history entries of configuration-only
    /// instructions have no time yet (see `export::normalize_history`).
    pub(crate) config: ImageConfig,
    /// The variables at its end, which a stage built FROM it starts with.
    pub(crate) scope: Scope,
}

/// A stage while it runs.
pub(crate) struct StageState {
    pub(crate) layers: Vec<String>,
    pub(crate) fs_key: String,
    pub(crate) config: ImageConfig,
    pub(crate) scope: Scope,
    /// `name ` (multi-stage Dockerfiles) or empty, before the step number.
    prefix: String,
    index: usize,
    total: usize,
    /// CMD was set by this stage (ENTRYPOINT then keeps it).
    cmd_set: bool,
}

impl StageState {
    /// The vertex name of the next step: `[build 2/5] RUN make`.
    pub(crate) fn step_name(&mut self, text: &str) -> String {
        if self.total == 0 {
            return text.to_string();
        }
        self.index += 1;
        let width = self.total.to_string().len();
        format!(
            "[{}{:>width$}/{}] {text}",
            self.prefix, self.index, self.total
        )
    }

    /// The view of the current filesystem.
    pub(crate) fn view(&self, store: &Store) -> Result<LayerView> {
        LayerView::open(store, &self.layers)
    }

    /// A history entry of a configuration-only instruction.
    fn history(&mut self, created_by: String) {
        self.config.history.push(History {
            created: None,
            created_by: Some(created_by),
            author: None,
            comment: Some(HISTORY_COMMENT.into()),
            empty_layer: true,
        });
    }

    /// The stage's user (`USER`), empty for root.
    pub(crate) fn user(&self) -> String {
        self.config.config.user.clone().unwrap_or_default()
    }

    /// The working directory, `/` when unset.
    pub(crate) fn workdir(&self) -> String {
        self.config
            .config
            .working_dir
            .clone()
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| "/".into())
    }

    /// The shell of shell-form commands.
    pub(crate) fn shell(&self) -> Vec<String> {
        self.config
            .config
            .shell
            .clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()])
    }
}

/// A build error located at `instr`.
pub(crate) fn located(p: &Prepared, instr: &Instruction, message: String) -> anyhow::Error {
    let e = ParseError {
        file: p.df.file.clone(),
        start_line: instr.location.start_line,
        end_line: instr.location.end_line,
        instruction: Some(instr.name().to_string()),
        message: message.clone(),
    };
    BuildError {
        message,
        vertex: None,
        logs: Vec::new(),
        snippet: Some(e.snippet(&p.source)),
    }
    .into()
}

/// Builds stage `i`.
pub(crate) fn run_stage(cx: &StageCx, i: usize) -> Result<StageResult> {
    let p = cx.p;
    let node = &p.graph.stages[i];
    let stage = &p.df.stages[i];
    let (mut config, layers, fs_key, scope, from_text) = match &node.base {
        Base::Scratch => {
            let config = ImageConfig {
                architecture: host_architecture().into(),
                os: "linux".into(),
                ..Default::default()
            };
            (
                config,
                Vec::new(),
                cache::key("", &json!({"base": "scratch"})),
                Scope::from_image_env(&[]),
                None,
            )
        }
        Base::Stage(b) => {
            let Some(r) = cx.done.get(*b).cloned().flatten() else {
                anyhow::bail!("stage {b} was not built before stage {i}");
            };
            (r.config, r.layers, r.fs_key, r.scope, None)
        }
        Base::Image(r) => {
            let Some(img) = p.images.get(r) else {
                return Err(NeedsExecution.into());
            };
            let env = img.config.config.env.clone().unwrap_or_default();
            (
                img.config.clone(),
                img.layers.clone(),
                cache::key("", &json!({"base": "image", "id": img.id})),
                Scope::from_image_env(&env),
                Some(format!("FROM {}", img.display)),
            )
        }
    };
    // What BuildKit keeps of a base image's configuration.
    config.extra.clear();
    config.author = None;
    config.created = None;
    if config.architecture.is_empty() {
        config.architecture = host_architecture().into();
    }
    if config.os.is_empty() {
        config.os = "linux".into();
    }
    let triggers: Vec<String> = match config.config.extra.shift_remove("OnBuild") {
        Some(Json::Array(a)) => a
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    config.config.extra.shift_remove("Image");
    config.config.extra.shift_remove("ArgsEscaped");
    let mut trigger_instrs: Vec<Instruction> = Vec::new();
    for t in &triggers {
        let mut instr = parse_onbuild_trigger(t).map_err(|e| {
            BuildError::new(format!(
                "failed to parse ONBUILD trigger {t:?} of the base image: {e}"
            ))
        })?;
        instr.location = stage.location;
        trigger_instrs.push(instr);
    }
    let all: Vec<&Instruction> = trigger_instrs.iter().chain(&stage.instructions).collect();
    let counts_from = matches!(node.base, Base::Image(_));
    let total = usize::from(counts_from)
        + all
            .iter()
            .filter(|i| {
                matches!(
                    i.kind,
                    InstructionKind::Run(_)
                        | InstructionKind::Copy(_)
                        | InstructionKind::Add(_)
                        | InstructionKind::Workdir(_)
                )
            })
            .count();
    let prefix = if p.df.stages.len() > 1 {
        format!("{} ", stage.display_name())
    } else {
        String::new()
    };
    let mut st = StageState {
        layers,
        fs_key,
        config,
        scope,
        prefix,
        index: 0,
        total,
        cmd_set: false,
    };
    if let Some(text) = from_text {
        let name = st.step_name(&text);
        let v = cx.progress.start(&name);
        cx.progress.done(v);
    }
    for (n, instr) in all.into_iter().enumerate() {
        if cx.failed.load(Ordering::Relaxed) {
            anyhow::bail!("another stage failed");
        }
        let onbuild = n < trigger_instrs.len();
        let ev = cx
            .ev
            .eval(instr, &mut st.scope)
            .map_err(|e| parse_failure(&e, &p.source))?;
        apply(cx, &mut st, instr, ev, onbuild)?;
    }
    Ok(StageResult {
        layers: st.layers,
        fs_key: st.fs_key,
        config: st.config,
        scope: st.scope,
    })
}

/// The text BuildKit shows for an instruction: variables of the stage
/// substituted (quotes kept), the keyword in upper case.
pub(crate) fn display_text(instr: &Instruction, scope: &Scope, onbuild: bool) -> String {
    let mut lexer = Lexer::new('\\');
    lexer.raw_quotes = true;
    lexer.skip_unset_env = true;
    let line = instr.original.as_str();
    let expanded = match lexer.process_word(line, scope) {
        Ok(r) => r.result,
        Err(_) => line.to_string(),
    };
    let (kw, rest) = expanded
        .split_once(char::is_whitespace)
        .unwrap_or((expanded.as_str(), ""));
    let mut text = format!("{} {}", kw.to_uppercase(), rest.trim_start());
    if let InstructionKind::Run(r) = &instr.kind {
        if let Some(h) = r.command.heredocs.first() {
            if r.command.heredocs.len() == 1 && r.command.args.len() == 1 {
                text.push_str(&format!(" ({})", summarize_heredoc(&h.content)));
            }
        }
    }
    if onbuild {
        format!("ONBUILD {}", text.trim_end())
    } else {
        text.trim_end().to_string()
    }
}

fn summarize_heredoc(doc: &str) -> String {
    let doc = doc.trim();
    let mut lines = doc.lines();
    let first = lines.next().unwrap_or_default().to_string();
    if lines.next().is_some() {
        format!("{first}...")
    } else {
        first
    }
}

/// Go's `%q` of a string slice: `["a" "b"]`.
pub(crate) fn go_quoted_list(items: &[String]) -> String {
    let q: Vec<String> = items.iter().map(|s| go_quote(s)).collect();
    format!("[{}]", q.join(" "))
}

/// Go's `%v` of a string slice: `[a b]`.
fn go_list(items: &[String]) -> String {
    format!("[{}]", items.join(" "))
}

/// A command of CMD/ENTRYPOINT as it goes into the config.
fn command_args(st: &StageState, c: &CommandLine) -> Vec<String> {
    if c.shell_form {
        let mut shell = st.shell();
        shell.push(c.args.join(" "));
        shell
    } else {
        c.args.clone()
    }
}

/// Go's `time.Duration` text (`30s`, `1m30s`, `500ms`).
pub(crate) fn go_duration(ns: u64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    if ns < 1_000 {
        return format!("{ns}ns");
    }
    if ns < 1_000_000 {
        return format!("{}µs", trim_float(ns as f64 / 1e3));
    }
    if ns < 1_000_000_000 {
        return format!("{}ms", trim_float(ns as f64 / 1e6));
    }
    let total_s = ns / 1_000_000_000;
    let frac = ns % 1_000_000_000;
    let h = total_s / 3600;
    let m = (total_s % 3600) / 60;
    let s = total_s % 60;
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if frac == 0 {
        out.push_str(&format!("{s}s"));
    } else {
        let f = format!("{frac:09}");
        out.push_str(&format!("{s}.{}s", f.trim_end_matches('0')));
    }
    out
}

fn trim_float(v: f64) -> String {
    let s = format!("{v:.9}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// BuildKit's `system.NormalizeWorkdir`: relative to the current one, clean.
pub(crate) fn normalize_workdir(current: &str, requested: &str) -> String {
    let joined = if requested.starts_with('/') {
        requested.to_string()
    } else {
        let base = if current.is_empty() { "/" } else { current };
        format!("{}/{requested}", base.trim_end_matches('/'))
    };
    crate::util::path::go_clean(&joined)
}

fn apply(
    cx: &StageCx,
    st: &mut StageState,
    instr: &Instruction,
    ev: Evaluated,
    onbuild: bool,
) -> Result<()> {
    let c = &mut st.config.config;
    match ev.value {
        Value::Env(pairs) => {
            c.env = Some(st.scope.config_env());
            let text: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
            st.history(format!("ENV {}", text.join(" ")));
        }
        Value::Label(pairs) => {
            let labels = c.labels.get_or_insert_with(Default::default);
            let mut text = Vec::new();
            for (k, v) in pairs {
                text.push(format!("{k}={v}"));
                labels.insert(k, v);
            }
            st.history(format!("LABEL {}", text.join(" ")));
        }
        Value::Arg(decls) => {
            let text: Vec<String> = decls
                .iter()
                .map(|(k, v)| match v {
                    Some(v) => format!("{k}={v}"),
                    None => k.clone(),
                })
                .collect();
            st.history(format!("ARG {}", text.join(" ")));
        }
        Value::Cmd(cl) => {
            let args = command_args(st, &cl);
            let c = &mut st.config.config;
            c.cmd = Some(args.clone());
            c.extra.insert("ArgsEscaped".into(), Json::Bool(true));
            st.cmd_set = true;
            st.history(format!("CMD {}", go_quoted_list(&args)));
        }
        Value::Entrypoint(cl) => {
            let args = match &cl {
                Some(cl) => command_args(st, cl),
                None => Vec::new(),
            };
            let c = &mut st.config.config;
            c.entrypoint = Some(args.clone());
            if !st.cmd_set {
                c.cmd = None;
            }
            st.history(format!("ENTRYPOINT {}", go_quoted_list(&args)));
        }
        Value::Expose(ports) => {
            let ports = expose_ports(&ports).map_err(|m| super::stage::located(cx.p, instr, m))?;
            let c = &mut st.config.config;
            let map = c.exposed_ports.get_or_insert_with(Default::default);
            for p in &ports {
                map.insert(p.clone(), json!({}));
            }
            map.sort_keys();
            st.history(format!("EXPOSE {}", go_list(&ports)));
        }
        Value::User(u) => {
            c.user = Some(u.clone());
            st.history(format!("USER {u}"));
        }
        Value::Volume(vols) => {
            if vols.iter().any(String::is_empty) {
                return Err(located(
                    cx.p,
                    instr,
                    "VOLUME specified can not be an empty string".into(),
                ));
            }
            let map = c.volumes.get_or_insert_with(Default::default);
            for v in &vols {
                map.insert(v.clone(), json!({}));
            }
            map.sort_keys();
            st.history(format!("VOLUME {}", go_list(&vols)));
        }
        Value::StopSignal(s) => {
            if crate::util::signals::parse_signal(&s).is_err() {
                return Err(located(cx.p, instr, format!("Invalid signal: {s}")));
            }
            c.stop_signal = Some(s.clone());
            st.history(format!("STOPSIGNAL {s}"));
        }
        Value::Healthcheck(h) => {
            let (value, text) = healthcheck(&h);
            st.config.config.healthcheck = Some(value);
            st.history(format!("HEALTHCHECK {text}"));
        }
        Value::Shell(s) => {
            c.shell = Some(s.clone());
            st.history(format!("SHELL {}", go_list(&s)));
        }
        Value::Onbuild(o) => {
            let list = c
                .extra
                .entry("OnBuild".to_string())
                .or_insert_with(|| Json::Array(Vec::new()));
            if !list.is_array() {
                *list = Json::Array(Vec::new());
            }
            if let Json::Array(a) = list {
                a.push(Json::String(o.expression.clone()));
            }
        }
        Value::Maintainer(m) => {
            st.config.author = Some(m.clone());
            st.history(format!("MAINTAINER {m}"));
        }
        Value::Workdir(w) => {
            let wd = normalize_workdir(&st.workdir(), &w);
            st.config.config.working_dir = Some(wd.clone());
            if wd != "/" {
                let text = display_text(instr, &st.scope, onbuild);
                let name = st.step_name(&text);
                let user = st.user();
                let key = cache::key(
                    &st.fs_key,
                    &json!({"op": "mkdir", "path": wd, "user": user}),
                );
                let spec = StepSpec {
                    name,
                    key,
                    history: format!("WORKDIR {wd}"),
                    buildkit_suffix: false,
                };
                cache::step(cx, st, instr, spec, |cx, st, _v| {
                    super::copy::mkdir_layer(cx, st, &wd)
                })?;
            } else {
                st.history(format!("WORKDIR {wd}"));
            }
        }
        Value::Run { .. } => super::run::run_instruction(cx, st, instr, ev, onbuild)?,
        Value::Copy { .. } | Value::Add { .. } => {
            super::copy::copy_instruction(cx, st, instr, ev, onbuild)?
        }
    }
    Ok(())
}

/// EXPOSE words as `port/proto` (ranges kept), checked.
fn expose_ports(words: &[String]) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for w in words {
        // `ip:host:container/proto` is accepted by Docker with a warning;
        // the container part is what is exposed.
        let spec = w.rsplit(':').next().unwrap_or(w);
        let (port, proto) = spec.split_once('/').unwrap_or((spec, "tcp"));
        let proto = proto.to_ascii_lowercase();
        let ok_port = !port.is_empty()
            && port
                .split('-')
                .all(|n| n.parse::<u16>().is_ok_and(|n| n > 0));
        if !ok_port {
            return Err(format!("invalid containerPort: {port}"));
        }
        if !["tcp", "udp", "sctp"].contains(&proto.as_str()) {
            return Err(format!("invalid proto: {proto}"));
        }
        out.push(format!("{port}/{proto}"));
    }
    Ok(out)
}

/// The config's Healthcheck and BuildKit's `%+v` text of it.
fn healthcheck(h: &Healthcheck) -> (Json, String) {
    match h {
        Healthcheck::None => (
            json!({"Test": ["NONE"]}),
            "{Test:[NONE] Interval:0s Timeout:0s StartPeriod:0s StartInterval:0s Retries:0}".into(),
        ),
        Healthcheck::Check {
            test,
            interval,
            timeout,
            start_period,
            start_interval,
            retries,
        } => {
            let mut v = serde_json::Map::new();
            v.insert("Test".into(), json!(test));
            for (k, n) in [
                ("Interval", interval),
                ("Timeout", timeout),
                ("StartPeriod", start_period),
                ("StartInterval", start_interval),
            ] {
                if *n != 0 {
                    v.insert(k.into(), json!(n));
                }
            }
            if *retries != 0 {
                v.insert("Retries".into(), json!(retries));
            }
            let text = format!(
                "{{Test:[{}] Interval:{} Timeout:{} StartPeriod:{} StartInterval:{} Retries:{}}}",
                test.join(" "),
                go_duration(*interval),
                go_duration(*timeout),
                go_duration(*start_period),
                go_duration(*start_interval),
                retries
            );
            (Json::Object(v), text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_like_go() {
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(30_000_000_000), "30s");
        assert_eq!(go_duration(90_000_000_000), "1m30s");
        assert_eq!(go_duration(1_500_000_000), "1.5s");
        assert_eq!(go_duration(500_000_000), "500ms");
        assert_eq!(go_duration(3_600_000_000_000), "1h0m0s");
    }

    #[test]
    fn workdirs_are_relative_to_the_previous_one() {
        assert_eq!(normalize_workdir("/", "app"), "/app");
        assert_eq!(normalize_workdir("/app", "sub/../x"), "/app/x");
        assert_eq!(normalize_workdir("/app", "/abs/"), "/abs");
        assert_eq!(normalize_workdir("", ".."), "/");
    }

    #[test]
    fn go_lists() {
        assert_eq!(
            go_quoted_list(&["/bin/sh".into(), "-c".into(), "echo \"hi\"".into()]),
            r#"["/bin/sh" "-c" "echo \"hi\""]"#
        );
        assert_eq!(go_list(&["/data".into(), "/x".into()]), "[/data /x]");
    }

    #[test]
    fn exposed_ports_get_a_protocol() {
        assert_eq!(
            expose_ports(&["80".into(), "53/UDP".into(), "8000-8010".into()]).unwrap(),
            ["80/tcp", "53/udp", "8000-8010/tcp"]
        );
        assert!(expose_ports(&["x".into()]).is_err());
        assert!(expose_ports(&["80/foo".into()]).is_err());
    }
}
