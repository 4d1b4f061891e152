//! RUN: the command runs in a throwaway container on the stage's
//! filesystem (`runtime::oneshot`), as the stage's USER, with its
//! environment, SHELL and WORKDIR, on the build's network, with the
//! step's `--mount`s; what it changed in the overlay's upper directory
//! becomes the step's layer.

use super::cache::{self, StepSpec};
use super::stage::{display_text, located, StageCx, StageState};
use super::{default_network, BuildNetwork};
use crate::build::dockerfile::{CacheSharing, Instruction, Mount, MountType, Network, Security};
use crate::build::eval::{Evaluated, Value};
use crate::build::graph::{resolve_reference, Source};
use crate::build::progress::{BuildError, VertexId};
use crate::image::layer::UnpackedLayer;
use crate::image::view::LayerView;
use crate::model::{MountKind, MountPoint, NetworkMode};
use crate::runtime::oneshot::{run_step, StepRequest, StepStream};
use anyhow::{anyhow, bail, Context, Result};
use serde_json::json;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The hostname of build steps (BuildKit's).
const HOSTNAME: &str = "buildkitsandbox";
/// Output lines kept for the error report of a failing step.
const TAIL_LINES: usize = 10;

/// Where a bind mount's files come from.
enum BindSource {
    Context(String),
    View(LayerView, String),
}

/// A `--mount` ready for the step: its part of the cache key, and what to
/// do once the step runs.
struct PreparedMount {
    mount: Mount,
    bind: Option<BindSource>,
}

pub(crate) fn run_instruction(
    cx: &StageCx,
    st: &mut StageState,
    instr: &Instruction,
    ev: Evaluated,
    onbuild: bool,
) -> Result<()> {
    let p = cx.p;
    let Value::Run {
        command,
        mounts,
        network,
        security,
        env,
        proxy_env,
    } = ev.value
    else {
        unreachable!("run_instruction takes RUN");
    };
    if security == Security::Insecure {
        return Err(located(
            p,
            instr,
            "RUN --security=insecure needs the security.insecure entitlement, which berth build does not grant".into(),
        ));
    }
    let text = display_text(instr, &st.scope, onbuild);
    // The argv: BuildKit's rules for shell form and heredocs.
    let mut script: Option<(String, String)> = None;
    let args: Vec<String> = if command.shell_form {
        let line = command.args.first().cloned().unwrap_or_default();
        let body = if command.heredocs.is_empty() {
            line
        } else if command.heredocs.len() == 1 && is_heredoc_marker(&line) {
            let h = &command.heredocs[0];
            let data = h.body();
            if data.starts_with("#!") {
                script = Some((h.name.clone(), data));
                String::new()
            } else {
                data
            }
        } else {
            let mut b = line.clone();
            for h in &command.heredocs {
                b.push('\n');
                b.push_str(&h.content);
                b.push_str(&h.name);
            }
            b
        };
        match &script {
            Some((name, _)) => vec![format!("/dev/pipes/{name}")],
            None => {
                let mut a = st.shell();
                a.push(body);
                a
            }
        }
    } else {
        command.args.clone()
    };
    let env_list: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let net = match (network, p.network) {
        (Network::None, _) | (Network::Default, BuildNetwork::None) => NetworkMode::None,
        (Network::Host, _) | (Network::Default, BuildNetwork::Host) => NetworkMode::Host,
        (Network::Default, BuildNetwork::Default) => default_network(),
    };
    let mut prepared = Vec::new();
    let mut mount_keys = Vec::new();
    for m in mounts {
        let (pm, k) = prepare_mount(cx, instr, m)?;
        prepared.push(pm);
        mount_keys.push(k);
    }
    let user = st.user();
    let workdir = st.workdir();
    let key = cache::key(
        &st.fs_key,
        &json!({
            "op": "run",
            "args": args,
            "script": script,
            "env": env_list,
            "user": user,
            "workdir": workdir,
            "network": net.to_string(),
            "mounts": mount_keys,
            "hosts": p.add_hosts,
        }),
    );
    let mut history_args: Vec<String> = Vec::new();
    if !ev.used_args.is_empty() {
        history_args.push(format!("|{}", ev.used_args.len()));
        history_args.extend(ev.used_args.iter().map(|(k, v)| format!("{k}={v}")));
    }
    history_args.extend(args.iter().cloned());
    let spec = StepSpec {
        name: st.step_name(&text),
        key,
        history: format!("RUN {}", history_args.join(" ")),
        buildkit_suffix: true,
    };
    let mut full_env = env_list.clone();
    full_env.extend(proxy_env.iter().map(|(k, v)| format!("{k}={v}")));
    cache::step(cx, st, instr, spec, |cx, st, v| {
        let job = Job {
            args: &args,
            env: full_env,
            user,
            workdir,
            net,
            mounts: prepared,
            script: script.as_ref(),
        };
        execute(cx, st, v, job)
    })
}

/// `<<EOF`, `<<-EOF`, `3<<"EOF"`: the whole command is one heredoc.
fn is_heredoc_marker(word: &str) -> bool {
    let w = word.trim();
    let digits = w.bytes().take_while(u8::is_ascii_digit).count();
    w[digits..].starts_with("<<") && !w.contains(char::is_whitespace)
}

/// Checks a mount and computes its part of the cache key.
fn prepare_mount(
    cx: &StageCx,
    instr: &Instruction,
    m: Mount,
) -> Result<(PreparedMount, serde_json::Value)> {
    let p = cx.p;
    let fail = |msg: String| located(p, instr, msg);
    let target = m.effective_target();
    match m.kind {
        MountType::Ssh => Err(fail(
            "RUN --mount=type=ssh needs an SSH agent forwarded into the build, which berth build does not do; copy a deploy key with --mount=type=secret instead".into(),
        )),
        MountType::Cache => {
            if m.from.is_some() {
                return Err(fail("RUN --mount=type=cache,from=... is not supported by berth build; seed the cache in a RUN step instead".into()));
            }
            let Some(id) = m.cache_id() else {
                return Err(fail("a cache mount needs a target".into()));
            };
            let key = json!({"type": "cache", "id": id, "target": target,
                "ro": m.read_only});
            Ok((PreparedMount { mount: m, bind: None }, key))
        }
        MountType::Tmpfs => {
            if target.is_none() {
                return Err(fail("a tmpfs mount needs a target".into()));
            }
            let key = json!({"type": "tmpfs", "target": target, "size": m.size_limit});
            Ok((PreparedMount { mount: m, bind: None }, key))
        }
        MountType::Secret => {
            let id = secret_id(&m);
            let present = p.secrets.iter().any(|s| s.id == id);
            if m.required && !present {
                return Err(fail(format!(
                    "secret {id}: not found; pass it with --secret id={id},src=FILE"
                )));
            }
            // The secret's content is never part of the key (as BuildKit).
            let key = json!({"type": "secret", "id": id, "target": target, "env": m.env,
                "mode": m.mode, "uid": m.uid, "gid": m.gid, "present": present});
            Ok((PreparedMount { mount: m, bind: None }, key))
        }
        MountType::Bind => {
            if target.is_none() {
                return Err(fail("a bind mount needs a target".into()));
            }
            let source = m.source.clone().unwrap_or_else(|| "/".into());
            let (bind, key) = match &m.from {
                None => {
                    let rel = source.trim_start_matches('/').to_string();
                    let plan = p
                        .ctx
                        .plan(&crate::build::context::CopyRequest {
                            instruction: "RUN --mount",
                            sources: std::slice::from_ref(&source),
                            dest: "/",
                            workdir: "/",
                            excludes: &[],
                            parents: false,
                            dest_kind: crate::build::context::DestKind::Dir,
                        })
                        .map_err(|e| fail(format!("{e:#}")))?;
                    p.ctx.prefetch_hashes([&plan])?;
                    let content = p
                        .ctx
                        .plan_key(&plan, Default::default())
                        .map_err(|e| fail(format!("{e:#}")))?;
                    (
                        BindSource::Context(rel),
                        json!({"from": "context", "content": content}),
                    )
                }
                Some(from) => {
                    let (view, state) = source_view(cx, from).map_err(|e| fail(format!("{e:#}")))?;
                    (BindSource::View(view, source.clone()), json!({"from": state, "source": source}))
                }
            };
            let key = json!({"type": "bind", "target": target, "rw": !m.read_only, "src": key});
            Ok((
                PreparedMount {
                    mount: m,
                    bind: Some(bind),
                },
                key,
            ))
        }
    }
}

/// The id of a secret mount: `id=`, else the target's file name.
fn secret_id(m: &Mount) -> String {
    m.id.clone()
        .or_else(|| {
            m.target
                .as_ref()
                .map(|t| t.rsplit('/').next().unwrap_or(t).to_string())
        })
        .unwrap_or_default()
}

/// The files of a stage or image named by `--from`, and the key of that
/// state.
pub(crate) fn source_view(cx: &StageCx, from: &str) -> Result<(LayerView, String)> {
    match resolve_reference(&cx.p.df, from).map_err(|e| anyhow!(e))? {
        Source::Stage(i) => {
            let r = cx
                .done
                .get(i)
                .cloned()
                .flatten()
                .with_context(|| format!("stage {from} was not built first"))?;
            Ok((LayerView::open(cx.store, &r.layers)?, r.fs_key))
        }
        Source::Image(img) => {
            let info =
                cx.p.images
                    .get(&img)
                    .ok_or(super::NeedsExecution)
                    .map_err(anyhow::Error::from)?;
            Ok((
                LayerView::open(cx.store, &info.layers)?,
                format!("image:{}", info.id),
            ))
        }
    }
}

struct Job<'a> {
    args: &'a [String],
    env: Vec<String>,
    user: String,
    workdir: String,
    net: NetworkMode,
    mounts: Vec<PreparedMount>,
    script: Option<&'a (String, String)>,
}

/// The last lines of a step's output, with BuildKit's timestamps.
struct Tail {
    start: Instant,
    partial: String,
    lines: VecDeque<String>,
}

impl Tail {
    fn feed(&mut self, data: &[u8]) {
        let at = self.start.elapsed().as_secs_f64();
        for c in String::from_utf8_lossy(data).chars() {
            if c == '\n' {
                let line = std::mem::take(&mut self.partial);
                self.lines.push_back(format!("{at:.3} {line}"));
                if self.lines.len() > TAIL_LINES {
                    self.lines.pop_front();
                }
            } else {
                self.partial.push(c);
            }
        }
    }

    fn finish(mut self) -> Vec<String> {
        if !self.partial.is_empty() {
            let at = self.start.elapsed().as_secs_f64();
            let line = std::mem::take(&mut self.partial);
            self.lines.push_back(format!("{at:.3} {line}"));
            if self.lines.len() > TAIL_LINES {
                self.lines.pop_front();
            }
        }
        self.lines.into()
    }
}

fn execute(cx: &StageCx, st: &StageState, v: VertexId, job: Job) -> Result<UnpackedLayer> {
    let dir = cx.store.temp_dir("step")?;
    let result = execute_in(cx, st, v, job, &dir);
    let _ = crate::util::fsutil::remove_tree(&dir);
    result
}

fn execute_in(
    cx: &StageCx,
    st: &StageState,
    v: VertexId,
    job: Job,
    dir: &Path,
) -> Result<UnpackedLayer> {
    let mut points: Vec<MountPoint> = Vec::new();
    let mut env = job.env.clone();
    let mut locks: Vec<nix::fcntl::Flock<std::fs::File>> = Vec::new();
    for (n, pm) in job.mounts.iter().enumerate() {
        if let Some(point) = mount_point(cx, pm, dir, n, &mut env, &mut locks)? {
            points.push(point);
        }
    }
    if let Some((name, data)) = job.script {
        let pipes = dir.join("pipes");
        std::fs::create_dir_all(&pipes)?;
        let file = pipes.join(name);
        std::fs::write(&file, data)?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755))?;
        points.push(MountPoint {
            kind: MountKind::Bind,
            source: file,
            destination: format!("/dev/pipes/{name}"),
            read_only: true,
            ..Default::default()
        });
    }
    let targets: Vec<String> = points.iter().map(|m| m.destination.clone()).collect();
    let req = StepRequest {
        layers: st.layers.clone(),
        dir: dir.to_path_buf(),
        args: job.args.to_vec(),
        env,
        workdir: job.workdir.clone(),
        user: job.user.clone(),
        hostname: HOSTNAME.into(),
        mounts: points,
        network: job.net.clone(),
        extra_hosts: cx
            .p
            .add_hosts
            .iter()
            .map(|(name, ip)| format!("{name}={ip}"))
            .collect(),
    };
    let mut tail = Tail {
        start: Instant::now(),
        partial: String::new(),
        lines: VecDeque::new(),
    };
    let outcome = run_step(cx.store, &req, &mut |stream, data| {
        if data.is_empty() {
            cx.progress.tick();
            return;
        }
        cx.progress.log(v, stream == StepStream::Stderr, data);
        tail.feed(data);
    });
    drop(locks);
    let shown = job.args.join(" ");
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            let message = match e.downcast_ref::<crate::model::StartFailure>() {
                Some(f) => format!("process \"{shown}\" could not be started: {}", f.message),
                None => format!("{e:#}"),
            };
            return Err(BuildError {
                message,
                vertex: None,
                logs: tail.finish(),
                snippet: None,
            }
            .into());
        }
    };
    if outcome.exit_code != 0 {
        return Err(BuildError {
            message: format!(
                "process \"{shown}\" did not complete successfully: exit code: {}",
                outcome.exit_code
            ),
            vertex: None,
            logs: tail.finish(),
            snippet: None,
        }
        .into());
    }
    let upper = dir.join("upper");
    let view = st.view(cx.store)?;
    let mut placeholders: Vec<String> = crate::image::commit::berth_mount_points()
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    placeholders.extend(
        targets
            .iter()
            .map(|t| t.trim_start_matches('/').to_string()),
    );
    prune_placeholders(&upper, &view, &placeholders)?;
    let skip: Vec<PathBuf> = placeholders.iter().map(PathBuf::from).collect();
    crate::image::commit::layer_from_upper(cx.store, &upper, skip)
}

/// The mount point of one `--mount` (None for a secret that is absent
/// or given only as an environment variable).
fn mount_point(
    cx: &StageCx,
    pm: &PreparedMount,
    dir: &Path,
    n: usize,
    env: &mut Vec<String>,
    locks: &mut Vec<nix::fcntl::Flock<std::fs::File>>,
) -> Result<Option<MountPoint>> {
    let m = &pm.mount;
    let target = m.effective_target().unwrap_or_default();
    match m.kind {
        MountType::Cache => {
            let id = m.cache_id().unwrap_or_default();
            let name = cache::key("", &json!({"cache-mount": id}));
            let cm = cx.store.cache_mount_dir(
                &name,
                m.mode.unwrap_or(0o755),
                m.uid.unwrap_or(0),
                m.gid.unwrap_or(0),
            )?;
            if m.sharing == Some(CacheSharing::Locked) {
                let f = std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&cm.lock)?;
                let held = nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive)
                    .map_err(|(_, e)| e)
                    .context("locking a cache mount")?;
                locks.push(held);
            }
            Ok(Some(MountPoint {
                kind: MountKind::Bind,
                source: cm.data,
                destination: target,
                read_only: m.read_only,
                ..Default::default()
            }))
        }
        MountType::Tmpfs => {
            let mut opts = String::from("exec");
            if let Some(size) = m.size_limit {
                opts.push_str(&format!(",size={size}"));
            }
            Ok(Some(MountPoint {
                kind: MountKind::Tmpfs,
                destination: target,
                tmpfs_options: opts,
                ..Default::default()
            }))
        }
        MountType::Secret => {
            let id = secret_id(m);
            let Some(secret) = cx.p.secrets.iter().find(|s| s.id == id) else {
                return Ok(None);
            };
            if let Some(var) = &m.env {
                env.push(format!("{var}={}", String::from_utf8_lossy(&secret.data)));
                if m.target.is_none() {
                    return Ok(None);
                }
            }
            let secrets = dir.join("secrets");
            std::fs::create_dir_all(&secrets)?;
            let file = secrets.join(n.to_string());
            std::fs::write(&file, &secret.data)?;
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(
                &file,
                std::fs::Permissions::from_mode(m.mode.unwrap_or(0o400)),
            )?;
            let _ =
                std::os::unix::fs::chown(&file, Some(m.uid.unwrap_or(0)), Some(m.gid.unwrap_or(0)));
            Ok(Some(MountPoint {
                kind: MountKind::Bind,
                source: file,
                destination: target,
                read_only: true,
                ..Default::default()
            }))
        }
        MountType::Bind => {
            let copy = dir.join(format!("bind-{n}"));
            match pm.bind.as_ref().expect("bind mounts have a source") {
                BindSource::Context(rel) => {
                    super::copy::materialize_context(&cx.p.ctx, rel, &copy)?
                }
                BindSource::View(view, source) => {
                    super::copy::materialize_view(view, source, &copy)?
                }
            }
            Ok(Some(MountPoint {
                kind: MountKind::Bind,
                source: copy,
                destination: target,
                read_only: m.read_only,
                ..Default::default()
            }))
        }
        MountType::Ssh => bail!("ssh mounts are refused before the step runs"),
    }
}

/// Removes from the upper directory what only the mounts put there: the
/// empty files and directories made as mount points, and the parent
/// directories copied up (or made) just to hold them.
fn prune_placeholders(upper: &Path, lower: &LayerView, paths: &[String]) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let mut sorted: Vec<&String> = paths.iter().collect();
    sorted.sort_by_key(|p| std::cmp::Reverse(p.matches('/').count()));
    for rel in sorted {
        let parts = LayerView::parts(rel);
        if parts.is_empty() {
            continue;
        }
        let p = upper.join(rel);
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        let empty = (meta.is_file() && meta.len() == 0)
            || (meta.is_dir() && crate::util::copy::dir_is_empty(&p));
        if !empty || lower.lstat(&parts)?.is_some() {
            continue;
        }
        if meta.is_dir() {
            let _ = std::fs::remove_dir(&p);
        } else {
            let _ = std::fs::remove_file(&p);
        }
        for depth in (1..parts.len()).rev() {
            let a = &parts[..depth];
            let q = upper.join(a.join("/"));
            let Ok(qm) = std::fs::symlink_metadata(&q) else {
                continue;
            };
            if !qm.is_dir() || !crate::util::copy::dir_is_empty(&q) {
                break;
            }
            let copied_up_only = match lower.lstat(a)? {
                None => true,
                Some(l) => {
                    l.is_dir()
                        && l.meta.mode() == qm.mode()
                        && l.meta.uid() == qm.uid()
                        && l.meta.gid() == qm.gid()
                }
            };
            if !copied_up_only || std::fs::remove_dir(&q).is_err() {
                break;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heredoc_markers() {
        assert!(is_heredoc_marker("<<EOF"));
        assert!(is_heredoc_marker("<<-EOT"));
        assert!(is_heredoc_marker("3<<\"EOF\""));
        assert!(!is_heredoc_marker("python3 <<EOF"));
        assert!(!is_heredoc_marker("echo hi"));
    }

    #[test]
    fn placeholders_and_their_copied_up_parents_go() {
        let d = tempfile::tempdir().unwrap();
        let lower = d.path().join("lower");
        let upper = d.path().join("upper");
        std::fs::create_dir_all(lower.join("etc")).unwrap();
        std::fs::create_dir_all(upper.join("etc")).unwrap();
        std::fs::write(upper.join("etc/hosts"), "").unwrap();
        std::fs::create_dir_all(upper.join("run/secrets")).unwrap();
        std::fs::write(upper.join("run/secrets/x"), "").unwrap();
        std::fs::create_dir_all(upper.join("keep")).unwrap();
        std::fs::write(upper.join("keep/real"), "data").unwrap();
        let view = LayerView::from_dirs(vec![lower]);
        prune_placeholders(
            &upper,
            &view,
            &[
                "etc/hosts".into(),
                "run/secrets/x".into(),
                "keep/real".into(),
            ],
        )
        .unwrap();
        assert!(!upper.join("etc").exists());
        assert!(!upper.join("run").exists());
        assert!(upper.join("keep/real").exists());
    }
}
