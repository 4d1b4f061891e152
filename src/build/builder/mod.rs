//! The builder: runs a Dockerfile's stages into an image, with BuildKit's
//! semantics and its cache rules.
//!
//! A build takes a plain [`BuildRequest`] (the CLI's flags, or compose's
//! `build:` section) and reports through a [`BuildProgress`]:
//!
//! 1. The context is opened and the Dockerfile parsed and evaluated; the
//!    stage graph decides which stages are needed (errors such as a
//!    missing `--target` come before anything runs); base images are
//!    found in the store.
//! 2. The build is first tried from the cache alone, in this process as
//!    it is: a fully cached rebuild reads records and writes one image
//!    record, without a user namespace or a container.
//! 3. Otherwise berth enters its user namespace (pulling missing images)
//!    and builds: stages of one wave of the graph on threads of their
//!    own, each step a cache hit or a run (`RUN` in a throwaway container
//!    through `runtime::oneshot`; `COPY`, `ADD` and `WORKDIR` written as
//!    layers directly), each new layer committed with its cache record.
//! 4. The target stage becomes an image (or a tar or directory with `-o`).
//!
//! Each step's cache key is BuildKit's: the parent filesystem state, the
//! instruction after substitution (with the build arguments it uses) and,
//! for COPY and ADD, the content that ends up in the image. Instructions
//! that only change the configuration (ENV, LABEL, CMD...) do not change
//! the filesystem state, so they do not invalidate the steps after them
//! unless those read what they changed (a RUN's environment).

mod cache;
mod copy;
mod export;
mod run;
mod stage;

pub use export::Output;

use crate::build::context::{BuildContext, ContextSource, DockerfileSource};
use crate::build::dockerfile::{self, Dockerfile};
use crate::build::eval::{BuildOptions, Evaluator, Platform};
use crate::build::graph::{Base, StageGraph};
use crate::build::progress::{BuildError, BuildProgress, Recorder};
use crate::image::config::ImageConfig;
use crate::model::reference::Reference;
use crate::store::Store;
use anyhow::{anyhow, Context, Result};
use stage::StageResult;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// The network RUN steps use (`--network`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BuildNetwork {
    /// The default network of containers.
    #[default]
    Default,
    Host,
    None,
}

/// A secret a `RUN --mount=type=secret` may read (`--secret id=,src=`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secret {
    pub id: String,
    /// The secret's bytes (read from the file or variable by the caller).
    pub data: Vec<u8>,
}

/// Everything a build needs, as plain values.
pub struct BuildRequest {
    pub context: ContextSource,
    pub dockerfile: DockerfileSource,
    /// `-t` names, as the user wrote them.
    pub tags: Vec<String>,
    pub build_args: BTreeMap<String, String>,
    pub target: Option<String>,
    pub no_cache: bool,
    /// Pull base images even when the store has them.
    pub pull: bool,
    /// `--label` values added to the image's labels.
    pub labels: Vec<(String, String)>,
    pub network: BuildNetwork,
    pub secrets: Vec<Secret>,
    /// `--add-host NAME:IP` entries for RUN steps' /etc/hosts.
    pub add_hosts: Vec<(String, String)>,
    /// `-o`: write the result there instead of making an image.
    pub output: Option<Output>,
}

impl BuildRequest {
    /// A request for a directory context with its default Dockerfile.
    pub fn for_directory(dir: PathBuf) -> BuildRequest {
        BuildRequest {
            context: ContextSource::Directory(dir),
            dockerfile: DockerfileSource::Default,
            tags: Vec::new(),
            build_args: BTreeMap::new(),
            target: None,
            no_cache: false,
            pull: false,
            labels: Vec::new(),
            network: BuildNetwork::Default,
            secrets: Vec::new(),
            add_hosts: Vec::new(),
            output: None,
        }
    }
}

/// What a build made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildOutcome {
    /// `sha256:` id of the image (also when `-o` wrote it elsewhere).
    pub image_id: String,
    /// Whether an image was recorded in the store (not with `-o`).
    pub stored: bool,
}

/// The network RUN steps get for `--network default`: berth's default
/// network (`bridge`), as `run` and BuildKit's default. Each step joins
/// it for its run only (`runtime::oneshot`), so a fully cached build
/// starts no network helper.
pub(crate) fn default_network() -> crate::model::NetworkMode {
    crate::model::NetworkMode::Bridge
}

/// A base or `--from` image, found in the store.
#[derive(Debug, Clone)]
pub(crate) struct ImageInfo {
    pub(crate) id: String,
    pub(crate) layers: Vec<String>,
    pub(crate) config: ImageConfig,
    /// The normalized name BuildKit shows (`docker.io/library/busybox:latest`).
    pub(crate) display: String,
}

/// A build whose every decision that needs no step is made.
pub(crate) struct Prepared {
    pub(crate) ctx: BuildContext,
    /// The Dockerfile's text (for error excerpts).
    pub(crate) source: String,
    pub(crate) df: Dockerfile,
    pub(crate) opts: BuildOptions,
    pub(crate) graph: StageGraph,
    /// Images by the reference the Dockerfile wrote.
    pub(crate) images: HashMap<String, ImageInfo>,
    pub(crate) no_cache: bool,
    pub(crate) network: BuildNetwork,
    pub(crate) secrets: Vec<Secret>,
    pub(crate) add_hosts: Vec<(String, String)>,
    pub(crate) labels: Vec<(String, String)>,
}

/// The build could not be finished from the cache alone.
#[derive(Debug)]
pub(crate) struct NeedsExecution;

impl std::fmt::Display for NeedsExecution {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the build needs to run steps")
    }
}
impl std::error::Error for NeedsExecution {}

/// How far a build may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Cache hits only: anything else is [`NeedsExecution`].
    CacheOnly,
    Full,
}

/// Runs a build. A failure of the build itself (a Dockerfile error, a
/// failing step, a missing source) is a [`BuildError`]; anything else is
/// berth's own error. Must be called before the caller starts threads
/// (the build may enter the user namespace).
pub fn build(
    store: &Store,
    req: BuildRequest,
    progress: &dyn BuildProgress,
) -> Result<BuildOutcome> {
    let tags = normalize_tags(&req.tags)?;
    let output = req.output.clone();
    let staging = store.temp_dir("build")?;
    let result = build_in(store, req, &tags, output.as_ref(), &staging, progress);
    let _ = crate::util::fsutil::remove_tree(&staging);
    result
}

fn build_in(
    store: &Store,
    req: BuildRequest,
    tags: &[String],
    output: Option<&Output>,
    staging: &std::path::Path,
    progress: &dyn BuildProgress,
) -> Result<BuildOutcome> {
    let pull = req.pull;
    let mut prepared = prepare(store, req, staging, progress)?;
    let missing = images_needed(&prepared)
        .into_iter()
        .filter(|r| !prepared.images.contains_key(r))
        .count();
    if !pull && missing == 0 {
        let recorder = Recorder::default();
        // Any failure here (a step to run, but also a file of a layer this
        // process may not read outside the user namespace) sends the build
        // the full way, which shows real failures as they happen.
        if let Ok(result) = execute(store, &prepared, &recorder, Mode::CacheOnly) {
            recorder.replay(progress);
            return export::finish(store, &prepared, result, tags, output, progress);
        }
    }
    crate::userns::enter()?;
    store.clean_stale_tmp();
    resolve_images(store, &mut prepared, pull, progress)?;
    let result = execute(store, &prepared, progress, Mode::Full)?;
    // The steps' layers and records were written without fsyncs: one
    // sync of the store makes them durable before the image names them.
    store.sync()?;
    export::finish(store, &prepared, result, tags, output, progress)
}

/// `-t` names, normalized and checked before anything runs.
fn normalize_tags(tags: &[String]) -> Result<Vec<String>> {
    tags.iter()
        .map(|t| {
            let r = Reference::parse_tagged(t).map_err(|e| {
                anyhow!(
                    "invalid argument {t:?} for \"-t, --tag\" flag: invalid reference format: {e}"
                )
            })?;
            if r.digest().is_some() {
                anyhow::bail!(
                    "invalid argument {t:?} for \"-t, --tag\" flag: a tag cannot carry a digest"
                );
            }
            Ok(r.to_string())
        })
        .collect()
}

/// A Dockerfile error as a failed build, with its excerpt.
pub(crate) fn parse_failure(e: &dockerfile::ParseError, source: &str) -> anyhow::Error {
    BuildError {
        message: e.to_string(),
        vertex: None,
        logs: Vec::new(),
        snippet: Some(e.snippet(source)),
    }
    .into()
}

/// Opens the context, parses and evaluates the Dockerfile, resolves the
/// stage graph and finds the images in the store.
fn prepare(
    store: &Store,
    req: BuildRequest,
    staging: &std::path::Path,
    progress: &dyn BuildProgress,
) -> Result<Prepared> {
    let v = progress.start("[internal] load build definition from Dockerfile");
    let ctx = match BuildContext::open(req.context, req.dockerfile, staging) {
        Ok(c) => c,
        Err(e) => {
            progress.error(v, &format!("{e:#}"));
            return Err(BuildError::new(format!("{e:#}")).into());
        }
    };
    progress.status(
        v,
        &format!("transferring dockerfile: {}B done", ctx.dockerfile().len()),
    );
    let source = String::from_utf8_lossy(ctx.dockerfile()).into_owned();
    let df = match dockerfile::parse(ctx.dockerfile_name(), &source) {
        Ok(df) => df,
        Err(e) => {
            progress.error(v, &e.to_string());
            return Err(parse_failure(&e, &source));
        }
    };
    progress.done(v);
    if let Some(f) = df.directives.foreign_frontend() {
        progress.warning(&format!(
            "the Dockerfile asks for the frontend {f} (# syntax=); berth builds with its own Dockerfile 1.x frontend"
        ));
    }
    for w in &df.warnings {
        progress.warning(&format!(
            "{}:{}: {}",
            ctx.dockerfile_name(),
            w.line,
            w.message
        ));
    }
    let opts = BuildOptions {
        build_args: req.build_args,
        build_platform: Platform::native(),
        target_platform: Platform::native(),
        target: req.target,
    };
    let graph = {
        let ev = Evaluator::new(&df, &opts).map_err(|e| parse_failure(&e, &source))?;
        StageGraph::resolve(&df, &ev, opts.target.as_deref())
            .map_err(|e| parse_failure(&e, &source))?
    };
    for &i in &graph.needed {
        if let Some(p) = &graph.stages[i].platform {
            let asked = Platform::parse(p).map_err(|e| parse_failure_at(&df, &source, i, &e))?;
            if asked != Platform::native() {
                return Err(parse_failure_at(
                    &df,
                    &source,
                    i,
                    &format!(
                        "platform {p} is not this machine's ({}); berth builds for the native platform only",
                        native_name()
                    ),
                ));
            }
        }
    }
    let mut prepared = Prepared {
        ctx,
        source,
        df,
        opts,
        graph,
        images: HashMap::new(),
        no_cache: req.no_cache,
        network: req.network,
        secrets: req.secrets,
        add_hosts: req.add_hosts,
        labels: req.labels,
    };
    // Images already in the store; missing ones are pulled once berth is
    // in its user namespace.
    let settings = crate::image::registry::settings::Settings::load()?;
    for r in images_needed(&prepared) {
        let v = progress.start(&format!(
            "[internal] load metadata for {}",
            display_name(&r)
        ));
        match crate::image::registry::pull::resolve_local(store, &settings, &r)? {
            Some(img) if !req.pull => {
                prepared
                    .images
                    .insert(r.clone(), image_info(store, &img, &r)?);
                progress.done(v);
            }
            _ => progress.done(v),
        }
    }
    let v = progress.start("[internal] load .dockerignore");
    // BuildKit counts 2 bytes when there is no file.
    let ignore_len = prepared
        .ctx
        .ignore()
        .source
        .as_ref()
        .and_then(|f| std::fs::metadata(f).ok())
        .map_or(2, |m| m.len());
    progress.status(v, &format!("transferring context: {ignore_len}B done"));
    progress.done(v);
    if uses_context(&prepared) {
        let v = progress.start("[internal] load build context");
        let mut all = Vec::new();
        prepared.ctx.index().walk_below("", &mut all);
        let size: u64 = all.iter().map(|(_, e)| e.size).sum();
        progress.status(v, &format!("transferring context: {}B done", size));
        progress.done(v);
    }
    Ok(prepared)
}

/// Whether a needed stage reads the context (COPY/ADD without --from, a
/// bind mount without from=).
fn uses_context(p: &Prepared) -> bool {
    use crate::build::dockerfile::InstructionKind;
    p.graph.needed.iter().any(|&i| {
        p.df.stages[i]
            .instructions
            .iter()
            .any(|instr| match &instr.kind {
                InstructionKind::Copy(c) => c.from.is_none(),
                InstructionKind::Add(_) => true,
                InstructionKind::Run(r) => r.mounts.iter().any(|m| {
                    m.contains("bind") && dockerfile::mount_from(m).ok().flatten().is_none()
                }),
                _ => false,
            })
    })
}

fn native_name() -> String {
    let p = Platform::native();
    match &p.variant {
        Some(v) => format!("{}/{}/{v}", p.os, p.arch),
        None => format!("{}/{}", p.os, p.arch),
    }
}

fn parse_failure_at(df: &Dockerfile, source: &str, stage: usize, message: &str) -> anyhow::Error {
    let s = &df.stages[stage];
    parse_failure(
        &dockerfile::ParseError {
            file: df.file.clone(),
            start_line: s.location.start_line,
            end_line: s.location.end_line,
            instruction: Some("FROM".into()),
            message: message.to_string(),
        },
        source,
    )
}

/// `busybox` → `docker.io/library/busybox:latest`, as BuildKit shows it.
pub(crate) fn display_name(r: &str) -> String {
    Reference::parse_tagged(r).map_or_else(|_| r.to_string(), |r| r.to_string())
}

/// The images the needed stages use: bases, `COPY --from` and mounts.
fn images_needed(p: &Prepared) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for &i in &p.graph.needed {
        let node = &p.graph.stages[i];
        if let Base::Image(r) = &node.base {
            out.insert(r.clone());
        }
        out.extend(node.images.iter().cloned());
    }
    out
}

fn image_info(
    store: &Store,
    img: &crate::store::images::ImageRecord,
    written: &str,
) -> Result<ImageInfo> {
    let config = ImageConfig::parse(&store.get_blob(&img.id)?)
        .with_context(|| format!("reading the configuration of image {written}"))?;
    Ok(ImageInfo {
        id: img.id.clone(),
        layers: img.layers.clone(),
        config,
        display: display_name(written),
    })
}

/// Pulls the images the store lacks (all of them with `--pull`).
fn resolve_images(
    store: &Store,
    p: &mut Prepared,
    pull: bool,
    progress: &dyn BuildProgress,
) -> Result<()> {
    use crate::image::registry::pull::{ensure_image, PullPolicy};
    for r in images_needed(p) {
        if p.images.contains_key(&r) && !pull {
            continue;
        }
        let v = progress.start(&format!("[internal] pulling {}", display_name(&r)));
        let policy = if pull {
            PullPolicy::Always
        } else {
            PullPolicy::Missing
        };
        match ensure_image(store, &r, policy, true) {
            Ok(img) => {
                p.images.insert(r.clone(), image_info(store, &img, &r)?);
                progress.done(v);
            }
            Err(e) => {
                let message = format!(
                    "{}: failed to resolve source metadata: {e:#}",
                    display_name(&r)
                );
                progress.error(v, &message);
                return Err(BuildError::new(message).into());
            }
        }
    }
    Ok(())
}

/// Builds the needed stages, wave by wave, and returns the target's.
fn execute(
    store: &Store,
    p: &Prepared,
    progress: &dyn BuildProgress,
    mode: Mode,
) -> Result<StageResult> {
    let results: Mutex<Vec<Option<StageResult>>> = Mutex::new(vec![None; p.df.stages.len()]);
    let failed = AtomicBool::new(false);
    let unconsumed: Mutex<Option<BTreeSet<String>>> = Mutex::new(None);
    let global = Evaluator::new(&p.df, &p.opts).map_err(|e| parse_failure(&e, &p.source))?;
    note_unconsumed(&unconsumed, &global);
    for wave in &p.graph.waves {
        let run_one = |i: usize| -> Result<()> {
            if failed.load(Ordering::Relaxed) {
                return Ok(());
            }
            let ev = Evaluator::new(&p.df, &p.opts).map_err(|e| parse_failure(&e, &p.source))?;
            let done: Vec<Option<StageResult>> = results.lock().unwrap().clone();
            let r = stage::run_stage(
                &stage::StageCx {
                    store,
                    p,
                    progress,
                    mode,
                    ev: &ev,
                    done: &done,
                    failed: &failed,
                },
                i,
            );
            note_unconsumed(&unconsumed, &ev);
            match r {
                Ok(res) => {
                    results.lock().unwrap()[i] = Some(res);
                    Ok(())
                }
                Err(e) => {
                    failed.store(true, Ordering::Relaxed);
                    Err(e)
                }
            }
        };
        if wave.len() == 1 {
            run_one(wave[0])?;
            continue;
        }
        let errors: Vec<anyhow::Error> = std::thread::scope(|s| {
            let handles: Vec<_> = wave.iter().map(|&i| s.spawn(move || run_one(i))).collect();
            handles
                .into_iter()
                .filter_map(|h| match h.join() {
                    Ok(Ok(())) => None,
                    Ok(Err(e)) => Some(e),
                    Err(_) => Some(anyhow!("a build stage panicked")),
                })
                .collect()
        });
        // A build error wins over "needs execution" and other failures.
        if let Some(e) = pick_error(errors) {
            return Err(e);
        }
    }
    if let Some(left) = unconsumed.lock().unwrap().take() {
        if !left.is_empty() {
            let list: Vec<String> = left.into_iter().collect();
            progress.warning(&format!(
                "[Warning] One or more build-args [{}] were not consumed",
                list.join(" ")
            ));
        }
    }
    let target = results.lock().unwrap()[p.graph.target].take();
    target.context("the target stage produced nothing")
}

fn pick_error(mut errors: Vec<anyhow::Error>) -> Option<anyhow::Error> {
    if errors.is_empty() {
        return None;
    }
    let i = errors
        .iter()
        .position(|e| e.is::<BuildError>())
        .or_else(|| errors.iter().position(|e| !e.is::<NeedsExecution>()))
        .unwrap_or(0);
    Some(errors.swap_remove(i))
}

/// Build arguments unconsumed so far: those no evaluator declared.
fn note_unconsumed(acc: &Mutex<Option<BTreeSet<String>>>, ev: &Evaluator) {
    let left: BTreeSet<String> = ev.unconsumed_build_args().into_iter().collect();
    let mut a = acc.lock().unwrap();
    *a = Some(match a.take() {
        None => left,
        Some(prev) => prev.intersection(&left).cloned().collect(),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_normalized_and_checked() {
        assert_eq!(
            normalize_tags(&["app".into(), "localhost:5000/x:1".into()]).unwrap(),
            ["docker.io/library/app:latest", "localhost:5000/x:1"]
        );
        assert!(normalize_tags(&["Bad Name".into()]).is_err());
    }

    #[test]
    fn a_build_error_wins() {
        let e = pick_error(vec![NeedsExecution.into(), BuildError::new("boom").into()]).unwrap();
        assert!(e.is::<BuildError>());
        assert!(pick_error(vec![]).is_none());
    }
}
