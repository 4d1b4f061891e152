//! COPY, ADD and WORKDIR without a container: the files are written as a
//! layer tar, straight into the layer extractor (`image::commit::
//! layer_from_tar`), so every path goes through its rules (nothing is
//! created outside the layer, no symlink is followed out of it).
//!
//! Destinations are resolved in the stage's filesystem as overlay would
//! show it (`image::view`): `COPY x /bin/` on an image whose `/bin` links
//! to `usr/bin` writes `usr/bin/x`, and the parent directories the layer
//! touches carry the metadata they have below (a `COPY` into `/tmp` keeps
//! `/tmp` 1777). Directories the copy creates are 0755, owned by the
//! `--chown` user. With `--link` nothing below is looked at, as BuildKit's
//! independent layers.

use super::cache::{self, StepSpec};
use super::run::source_view;
use super::stage::{display_text, located, StageCx, StageState};
use crate::build::context::{BuildContext, CopyRequest, DestKind, EntryKind, Ownership};
use crate::build::dockerfile::Instruction;
use crate::build::eval::{CopyValues, Evaluated, Value};
use crate::build::ignore::{contains_wildcards, Glob, Matcher};
use crate::build::progress::BuildError;
use crate::image::layer::UnpackedLayer;
use crate::image::view::{name_str, LayerView, ViewEntry};
use crate::util::path::go_clean;
use anyhow::{anyhow, bail, Context, Result};
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Where a file's bytes come from.
#[derive(Debug, Clone)]
enum FileSource {
    /// A context path (opened refusing symlinks).
    Context(String),
    /// A file of a stage or image.
    View(ViewEntry),
    /// Bytes we have (heredoc sources).
    Bytes(Vec<u8>),
    /// A file we downloaded.
    Local(PathBuf),
    /// An archive to extract at the target directory (ADD).
    Archive(Box<FileSource>),
}

#[derive(Debug, Clone)]
enum Content {
    Dir,
    File(FileSource),
    Symlink(String),
}

/// One path to write.
#[derive(Debug, Clone)]
struct Item {
    /// Absolute target as planned (before symlinks of the image).
    target: String,
    content: Content,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: u64,
    /// The size planned (the size written is the file's when opened).
    #[allow(dead_code)]
    size: u64,
    /// A directory whose contents are copied onto an existing directory:
    /// that directory keeps its own metadata.
    keep_existing: bool,
}

/// The WORKDIR layer: the directory and its missing parents, owned by
/// the stage's user.
pub(crate) fn mkdir_layer(cx: &StageCx, st: &StageState, wd: &str) -> Result<UnpackedLayer> {
    let view = st.view(cx.store)?;
    let (uid, gid) = resolve_user_ids(&view, &st.user(), false)?;
    let item = Item {
        target: wd.to_string(),
        content: Content::Dir,
        mode: 0o755,
        uid,
        gid,
        mtime: now(),
        size: 0,
        keep_existing: true,
    };
    write_items(cx, Some(&view), None, vec![item], (uid, gid))
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `uid:gid` from a `--chown` or USER value, names looked up in the
/// stage's /etc/passwd and /etc/group. A user without a group gets the
/// group of the same number (`--chown=1000` is 1000:1000), a named user
/// their primary group, as BuildKit.
fn resolve_user_ids(
    view: &LayerView,
    spec: &str,
    numeric_group_is_uid: bool,
) -> Result<(u32, u32)> {
    if spec.is_empty() {
        return Ok((0, 0));
    }
    let (u, g) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let passwd = view.read_small_file("/etc/passwd");
    let group = view.read_small_file("/etc/group");
    let (uid, primary) = match u.parse::<u32>() {
        Ok(n) => (n, if numeric_group_is_uid { n } else { 0 }),
        Err(_) => {
            let found = passwd.as_deref().and_then(|p| {
                p.lines().find_map(|l| {
                    let f: Vec<&str> = l.split(':').collect();
                    (f.len() >= 4 && f[0] == u)
                        .then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
                        .flatten()
                })
            });
            found.ok_or_else(|| {
                anyhow!("unable to find user {u}: no matching entries in the stage's /etc/passwd")
            })?
        }
    };
    let gid = match g.filter(|g| !g.is_empty()) {
        None => primary,
        Some(g) => match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => group
                .as_deref()
                .and_then(|c| {
                    c.lines().find_map(|l| {
                        let f: Vec<&str> = l.split(':').collect();
                        (f.len() >= 3 && f[0] == g)
                            .then(|| f[2].parse().ok())
                            .flatten()
                    })
                })
                .ok_or_else(|| {
                    anyhow!(
                        "unable to find group {g}: no matching entries in the stage's /etc/group"
                    )
                })?,
        },
    };
    Ok((uid, gid))
}

/// `--chmod` in octal.
fn parse_chmod(s: &str) -> Result<u32> {
    u32::from_str_radix(s, 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| anyhow!("invalid chmod parameter {s:?}: use an octal mode such as 0755"))
}

/// What the destination is in the current filesystem.
fn dest_kind(view: &LayerView, dest: &str, workdir: &str) -> DestKind {
    let abs = if dest.starts_with('/') {
        dest.to_string()
    } else {
        format!("{}/{dest}", workdir.trim_end_matches('/'))
    };
    match view.resolve(&go_clean(&abs), true) {
        Ok(r) => match r.entry {
            Some(e) if e.is_dir() => DestKind::Dir,
            Some(_) => DestKind::File,
            None => DestKind::Missing,
        },
        Err(_) => DestKind::Missing,
    }
}

pub(crate) fn copy_instruction(
    cx: &StageCx,
    st: &mut StageState,
    instr: &Instruction,
    ev: Evaluated,
    onbuild: bool,
) -> Result<()> {
    let p = cx.p;
    let fail = |m: String| located(p, instr, m);
    let (values, from, parents, is_add, checksum, unpack) = match ev.value {
        Value::Copy {
            values,
            from,
            parents,
        } => (values, from, parents, false, None, None),
        Value::Add {
            values,
            checksum,
            keep_git_dir: _,
            unpack,
        } => (values, None, false, true, checksum, unpack),
        _ => unreachable!("copy_instruction takes COPY and ADD"),
    };
    let word = if is_add { "ADD" } else { "COPY" };
    let text = display_text(instr, &st.scope, onbuild);
    let view = st.view(cx.store)?;
    let chmod = values
        .chmod
        .as_deref()
        .map(parse_chmod)
        .transpose()
        .map_err(|e| fail(format!("{e:#}")))?;
    let chown = match &values.chown {
        Some(c) => Some(resolve_user_ids(&view, c, true).map_err(|e| fail(format!("{e:#}")))?),
        None => None,
    };
    if checksum.is_some()
        && !(values.sources.len() == 1
            && (values.sources[0].starts_with("http://")
                || values.sources[0].starts_with("https://")))
    {
        return Err(fail("checksum requires HTTP(S) or Git sources".into()));
    }
    let workdir = st.workdir();
    let kind = dest_kind(&view, &values.dest, &workdir);
    let downloads = cx.store.temp_dir("download")?;
    let planned = plan_items(
        cx,
        &values,
        from.as_deref(),
        parents,
        is_add,
        unpack,
        checksum.as_deref(),
        &workdir,
        kind,
        chmod,
        chown,
        &downloads,
    );
    let (items, content_key, src_view) = match planned {
        Ok(x) => x,
        Err(e) => {
            let _ = crate::util::fsutil::remove_tree(&downloads);
            if e.is::<super::NeedsExecution>() {
                return Err(e);
            }
            let v = cx.progress.start(&st.step_name(&text));
            cx.progress.error(v, &format!("{e:#}"));
            let mut err = fail(format!("{e:#}"));
            if let Some(be) = err.downcast_mut::<BuildError>() {
                be.vertex = None;
            }
            return Err(err);
        }
    };
    let link = values.link;
    let parent_key = if link {
        String::new()
    } else {
        st.fs_key.clone()
    };
    let key = cache::key(
        &parent_key,
        &json!({
            "op": if is_add { "add" } else { "copy" },
            "content": content_key,
            "dest": values.dest,
            "workdir": workdir,
            "chown": chown,
            "chmod": chmod,
            "link": link,
            "parents": parents,
            "unpack": unpack,
            "excludes": values.excludes,
        }),
    );
    let mut history = String::from(word);
    if parents {
        history.push_str(" --parents");
    }
    if let Some(c) = &values.chown {
        history.push_str(&format!(" --chown={c}"));
    }
    if let Some(c) = &values.chmod {
        history.push_str(&format!(" --chmod={c}"));
    }
    for s in &values.sources {
        history.push_str(&format!(" {s}"));
    }
    for s in &values.inline_sources {
        history.push_str(&format!(" <<{}", s.name));
    }
    history.push_str(&format!(" {}", values.dest));
    let spec = StepSpec {
        name: st.step_name(&text),
        key,
        history,
        buildkit_suffix: true,
    };
    let owner = chown.unwrap_or((0, 0));
    let r = cache::step(cx, st, instr, spec, |cx, _st, _v| {
        write_items(
            cx,
            (!link).then_some(&view),
            src_view.as_ref(),
            items,
            owner,
        )
    });
    let _ = crate::util::fsutil::remove_tree(&downloads);
    r
}

/// The items of a COPY/ADD and the key of their content.
#[allow(clippy::too_many_arguments)]
fn plan_items(
    cx: &StageCx,
    values: &CopyValues,
    from: Option<&str>,
    parents: bool,
    is_add: bool,
    unpack: Option<bool>,
    checksum: Option<&str>,
    workdir: &str,
    kind: DestKind,
    chmod: Option<u32>,
    chown: Option<(u32, u32)>,
    downloads: &Path,
) -> Result<(Vec<Item>, serde_json::Value, Option<LayerView>)> {
    let p = cx.p;
    let word = if is_add { "ADD" } else { "COPY" };
    let mut source: Option<LayerView> = None;
    let mut items = Vec::new();
    let mut keys = Vec::new();
    let mut dest_kind = kind;
    // Heredoc sources: files named after their delimiter.
    if !values.inline_sources.is_empty() {
        let (dest, wants_dir) = dest_path(&values.dest, workdir);
        let several = values.inline_sources.len() + values.sources.len() > 1;
        for s in &values.inline_sources {
            let target = if wants_dir || several || dest_kind == DestKind::Dir {
                go_clean(&format!("{dest}/{}", s.name))
            } else {
                dest.clone()
            };
            let (uid, gid) = chown.unwrap_or((0, 0));
            items.push(Item {
                target: target.clone(),
                content: Content::File(FileSource::Bytes(s.data.clone().into_bytes())),
                mode: chmod.unwrap_or(0o644),
                uid,
                gid,
                mtime: 0,
                size: s.data.len() as u64,
                keep_existing: false,
            });
            keys.push(json!({"inline": s.name, "target": target, "data": crate::util::digest::sha256_digest(s.data.as_bytes())}));
        }
        dest_kind = DestKind::Dir;
    }
    let local: Vec<String> = values
        .sources
        .iter()
        .filter(|s| !(s.starts_with("http://") || s.starts_with("https://")))
        .cloned()
        .collect();
    let remote: Vec<String> = values
        .sources
        .iter()
        .filter(|s| s.starts_with("http://") || s.starts_with("https://"))
        .cloned()
        .collect();
    if !remote.is_empty() && !is_add {
        bail!("source can't be a URL for COPY");
    }
    if values.sources.len() > 1 {
        dest_kind = DestKind::Dir;
        if !values.dest.ends_with('/') && kind != DestKind::Dir {
            bail!("When using {word} with more than one source file, the destination must be a directory and end with a /");
        }
    }
    match from {
        None if !local.is_empty() => {
            let plan = p.ctx.plan(&CopyRequest {
                instruction: word,
                sources: &local,
                dest: &values.dest,
                workdir,
                excludes: &values.excludes,
                parents,
                dest_kind,
            })?;
            p.ctx.prefetch_hashes([&plan])?;
            let own = Ownership {
                uid: chown.map_or(0, |c| c.0),
                gid: chown.map_or(0, |c| c.1),
                chmod,
            };
            keys.push(json!({"context": p.ctx.plan_key(&plan, own)?}));
            let root = p.ctx.root().to_path_buf();
            let tops: HashSet<String> = top_targets(&plan, &values.dest, workdir);
            for ci in &plan.items {
                let (uid, gid) = chown.unwrap_or((0, 0));
                let full = if ci.source.is_empty() {
                    root.clone()
                } else {
                    root.join(&ci.source)
                };
                let mtime = std::fs::symlink_metadata(&full).map_or(0, |m| m.mtime().max(0) as u64);
                let content = match &ci.entry.kind {
                    EntryKind::Dir => Content::Dir,
                    EntryKind::File => {
                        let src = FileSource::Context(ci.source.clone());
                        if is_add && unpack != Some(false) && is_archive(&p.ctx, &ci.source)? {
                            Content::File(FileSource::Archive(Box::new(src)))
                        } else {
                            Content::File(src)
                        }
                    }
                    EntryKind::Symlink(t) => Content::Symlink(t.clone()),
                    EntryKind::Special => bail!(
                        "{word} failed: {:?} in the build context is not a file, directory or symlink",
                        ci.source
                    ),
                };
                let target = match &content {
                    // An archive is extracted into the directory it names.
                    Content::File(FileSource::Archive(_)) => {
                        let (dest, _) = dest_path(&values.dest, workdir);
                        dest
                    }
                    _ => ci.target.clone(),
                };
                items.push(Item {
                    keep_existing: matches!(content, Content::Dir) && tops.contains(&ci.target),
                    target,
                    mode: match &ci.entry.kind {
                        EntryKind::Symlink(_) => 0o777,
                        _ => chmod.unwrap_or(ci.entry.mode),
                    },
                    uid,
                    gid,
                    mtime,
                    size: ci.entry.size,
                    content,
                });
            }
        }
        None => {}
        Some(from) => {
            let (src_view, state) =
                source_view(cx, from).with_context(|| format!("{word} --from={from}"))?;
            let planned = plan_view(
                &src_view,
                &local,
                &values.dest,
                workdir,
                dest_kind,
                &values.excludes,
                word,
            )?;
            keys.push(json!({"from": state, "sources": local}));
            for (entry, target, top) in planned {
                let ft = entry.meta.file_type();
                let content = if ft.is_dir() {
                    Content::Dir
                } else if ft.is_symlink() {
                    let t = std::fs::read_link(src_view.layer_dir(&entry).join(&entry.rel))?;
                    Content::Symlink(t.to_string_lossy().into_owned())
                } else if ft.is_file() {
                    Content::File(FileSource::View(entry.clone()))
                } else {
                    continue;
                };
                let (uid, gid) = chown.unwrap_or((entry.meta.uid(), entry.meta.gid()));
                items.push(Item {
                    target,
                    mode: if ft.is_symlink() {
                        0o777
                    } else {
                        chmod.unwrap_or(entry.meta.mode() & 0o7777)
                    },
                    uid,
                    gid,
                    mtime: entry.meta.mtime().max(0) as u64,
                    size: if ft.is_file() { entry.meta.len() } else { 0 },
                    keep_existing: top && ft.is_dir(),
                    content,
                });
            }
            source = Some(src_view);
        }
    }
    for (n, url) in remote.iter().enumerate() {
        let (file, name, mtime) = download(url, downloads, n)?;
        let digest = crate::util::digest::sha256_file(&file)?;
        if let Some(want) = checksum {
            if want != digest {
                bail!("digest mismatch {want}: {digest}");
            }
        }
        let (dest, wants_dir) = dest_path(&values.dest, workdir);
        let target = if wants_dir || dest_kind == DestKind::Dir {
            go_clean(&format!("{dest}/{name}"))
        } else {
            dest
        };
        let (uid, gid) = chown.unwrap_or((0, 0));
        let size = std::fs::metadata(&file)?.len();
        keys.push(json!({"url": url, "digest": digest, "target": target}));
        items.push(Item {
            target,
            content: Content::File(FileSource::Local(file)),
            mode: chmod.unwrap_or(0o600),
            uid,
            gid,
            mtime,
            size,
            keep_existing: false,
        });
    }
    Ok((items, json!(keys), source))
}

/// The targets that are a source directory copied onto the destination
/// itself (its contents go there; the directory keeps its metadata).
fn top_targets(
    plan: &crate::build::context::CopyPlan,
    dest: &str,
    workdir: &str,
) -> HashSet<String> {
    let (d, _) = dest_path(dest, workdir);
    plan.items
        .iter()
        .filter(|i| i.entry.kind == EntryKind::Dir && i.target == d)
        .map(|i| i.target.clone())
        .collect()
}

/// BuildKit's destination: relative to the working directory; a trailing
/// slash (or `.`) means a directory.
fn dest_path(dest: &str, workdir: &str) -> (String, bool) {
    let wants_dir = dest.ends_with('/') || dest.ends_with("/.") || dest == "." || dest.is_empty();
    let joined = if dest.starts_with('/') {
        dest.to_string()
    } else {
        format!("{}/{dest}", workdir.trim_end_matches('/'))
    };
    (go_clean(&format!("/{joined}")), wants_dir)
}

/// Whether a context file is an archive ADD extracts (tar, gzip or zstd
/// compressed tar); bzip2 and xz are refused rather than copied as files.
fn is_archive(ctx: &BuildContext, rel: &str) -> Result<bool> {
    let mut f = ctx
        .open_file(rel)
        .with_context(|| format!("reading {rel:?} from the build context"))?;
    let mut head = vec![0u8; 512];
    let n = read_full(&mut f, &mut head)?;
    head.truncate(n);
    archive_kind(&head, || ctx.open_file(rel).map_err(Into::into), rel)
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

fn archive_kind(
    head: &[u8],
    reopen: impl Fn() -> Result<std::fs::File>,
    name: &str,
) -> Result<bool> {
    let is_tar = |b: &[u8]| b.len() >= 262 && &b[257..262] == b"ustar";
    if is_tar(head) {
        return Ok(true);
    }
    if head.starts_with(b"BZh") || head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        bail!("ADD {name}: bzip2 and xz archives are not supported by berth; recompress it with gzip or zstd, or use --unpack=false to copy it as a file");
    }
    let decompressed: Option<Box<dyn Read>> = if head.starts_with(&[0x1f, 0x8b]) {
        Some(Box::new(flate2::read::GzDecoder::new(reopen()?)))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Some(Box::new(zstd::stream::read::Decoder::new(reopen()?)?))
    } else {
        None
    };
    let Some(mut r) = decompressed else {
        return Ok(false);
    };
    let mut inner = vec![0u8; 512];
    let n = read_full(&mut r, &mut inner).unwrap_or(0);
    Ok(is_tar(&inner[..n]))
}

/// Resolves COPY --from sources in a stage's or image's files: the same
/// rules as for the context, in the other tree.
#[allow(clippy::too_many_arguments)]
fn plan_view(
    view: &LayerView,
    sources: &[String],
    dest: &str,
    workdir: &str,
    kind: DestKind,
    excludes: &[String],
    word: &str,
) -> Result<Vec<(ViewEntry, String, bool)>> {
    let (dest, wants_dir) = dest_path(dest, workdir);
    let excludes =
        Matcher::new(excludes).map_err(|e| anyhow!("{word} failed: bad --exclude: {e}"))?;
    let mut dest_kind = if wants_dir { DestKind::Dir } else { kind };
    let mut out = Vec::new();
    for src in sources {
        let clean = go_clean(&format!("/{src}"));
        let matches: Vec<(String, ViewEntry)> = if contains_wildcards(&clean) {
            glob_view(view, &clean)?
        } else {
            let r = view.resolve(&clean, true)?;
            match r.entry {
                Some(e) => vec![(r.path, e)],
                None => bail!("{word} failed: {src:?} not found in the source"),
            }
        };
        for (path, entry) in matches {
            let entry = if entry.is_symlink() {
                match view.resolve(&path, true)?.entry {
                    Some(e) => e,
                    None => bail!("{word} failed: {src:?} is a dangling symlink"),
                }
            } else {
                entry
            };
            let base = path.rsplit('/').next().unwrap_or("").to_string();
            if !entry.is_dir() && !excludes.is_empty() && excludes.is_excluded(&base) {
                continue;
            }
            let top = if entry.is_dir() {
                if dest_kind == DestKind::File {
                    bail!("{word} failed: cannot copy directory {src:?} onto file {dest:?}");
                }
                dest.clone()
            } else if dest_kind == DestKind::Dir {
                go_clean(&format!("{dest}/{base}"))
            } else {
                dest.clone()
            };
            if top == dest {
                dest_kind = if entry.is_dir() {
                    DestKind::Dir
                } else {
                    DestKind::File
                };
            }
            let is_dir = entry.is_dir();
            out.push((entry.clone(), top.clone(), true));
            if is_dir {
                walk_view(view, &entry.rel, "", &top, &excludes, &mut out)?;
            }
        }
    }
    Ok(out)
}

fn walk_view(
    view: &LayerView,
    dir: &Path,
    inner: &str,
    top: &str,
    excludes: &Matcher,
    out: &mut Vec<(ViewEntry, String, bool)>,
) -> Result<()> {
    let parts: Vec<String> = dir
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    for name in view.read_dir(&parts)? {
        let name = name_str(&name)?;
        let inner_path = if inner.is_empty() {
            name.clone()
        } else {
            format!("{inner}/{name}")
        };
        if !excludes.is_empty() && excludes.is_excluded(&inner_path) {
            continue;
        }
        let mut child = parts.clone();
        child.push(name.clone());
        let Some(e) = view.lstat(&child)? else {
            continue;
        };
        let target = go_clean(&format!("{top}/{inner_path}"));
        let is_dir = e.is_dir();
        let rel = e.rel.clone();
        out.push((e, target.clone(), false));
        if is_dir {
            walk_view(view, &rel, &inner_path, top, excludes, out)?;
        }
    }
    Ok(())
}

/// Paths of `view` matching a wildcard path, component by component.
fn glob_view(view: &LayerView, pattern: &str) -> Result<Vec<(String, ViewEntry)>> {
    let comps: Vec<&str> = pattern.split('/').filter(|c| !c.is_empty()).collect();
    let split = comps
        .iter()
        .position(|c| contains_wildcards(c))
        .unwrap_or(comps.len());
    let base = format!("/{}", comps[..split].join("/"));
    let r = view.resolve(&base, true)?;
    let Some(e) = r.entry else {
        return Ok(vec![]);
    };
    if !e.is_dir() {
        return Ok(vec![]);
    }
    let globs = comps[split..]
        .iter()
        .map(|c| Glob::new(c).map_err(|e| anyhow!("bad wildcard {pattern:?}: {e}")))
        .collect::<Result<Vec<_>>>()?;
    let mut out = Vec::new();
    fn descend(
        view: &LayerView,
        dir: Vec<String>,
        globs: &[Glob],
        out: &mut Vec<(String, ViewEntry)>,
    ) -> Result<()> {
        for name in view.read_dir(&dir)? {
            let name = name_str(&name)?;
            if !globs[0].matches(&name) {
                continue;
            }
            let mut p = dir.clone();
            p.push(name);
            let Some(e) = view.lstat(&p)? else { continue };
            if globs.len() == 1 {
                out.push((format!("/{}", p.join("/")), e));
            } else if e.is_dir() {
                descend(view, p, &globs[1..], out)?;
            }
        }
        Ok(())
    }
    descend(view, LayerView::parts(&r.path), &globs, &mut out)?;
    Ok(out)
}

/// Downloads `url` into `dir`; the file, its name and its Last-Modified time.
fn download(url: &str, dir: &Path, n: usize) -> Result<(PathBuf, String, u64)> {
    // ureq's defaults, with host names resolved through `getent`.
    let resp = crate::image::registry::resolve::agent(ureq::config::Config::default())
        .get(url)
        .call()
        .map_err(|e| anyhow!("ADD failed: downloading {url}: {e}"))?;
    let mtime = resp
        .headers()
        .get("last-modified")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| jiff::fmt::rfc2822::parse(v).ok())
        .map_or(0, |z| z.timestamp().as_second().max(0) as u64);
    let name = url
        .split(['?', '#'])
        .next()
        .unwrap_or(url)
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .filter(|n| !n.is_empty() && !n.contains(':'))
        .unwrap_or("__unnamed__")
        .to_string();
    let path = dir.join(format!("{n}"));
    let mut f = std::fs::File::create(&path)?;
    let mut body = resp.into_body();
    std::io::copy(&mut body.as_reader(), &mut f)
        .map_err(|e| anyhow!("ADD failed: downloading {url}: {e}"))?;
    Ok((path, name, mtime))
}

/// Resolves targets through the image's symlinks (unless `--link`),
/// writes the parent directories the layer needs, then the items.
struct DestTree<'v> {
    view: Option<&'v LayerView>,
    /// Real paths this layer writes: true for directories.
    created: HashMap<String, bool>,
    emitted: HashSet<String>,
    /// Owner of directories the copy creates.
    owner: (u32, u32),
    now: u64,
}

fn rel_of(path: &str) -> String {
    path.trim_start_matches('/').to_string()
}

fn dir_header(mode: u32, uid: u32, gid: u32, mtime: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_mode(mode);
    h.set_uid(u64::from(uid));
    h.set_gid(u64::from(gid));
    h.set_mtime(mtime);
    h.set_size(0);
    h
}

impl<'v> DestTree<'v> {
    fn emit_dir<W: Write>(
        &mut self,
        tar: &mut tar::Builder<W>,
        path: &str,
        mut h: tar::Header,
    ) -> Result<()> {
        if path == "/" || !self.emitted.insert(path.to_string()) {
            return Ok(());
        }
        tar.append_data(&mut h, format!("{}/", rel_of(path)), std::io::empty())
            .with_context(|| format!("writing {path}"))
    }

    /// The real path of directory `dir`, its missing parts created and its
    /// existing ones written with the metadata they have.
    fn ensure_dir<W: Write>(&mut self, tar: &mut tar::Builder<W>, dir: &str) -> Result<String> {
        let mut todo: Vec<String> = LayerView::parts(dir);
        todo.reverse();
        let mut cur: Vec<String> = Vec::new();
        let mut links = 0;
        while let Some(c) = todo.pop() {
            if c == ".." {
                cur.pop();
                continue;
            }
            cur.push(c);
            let p = format!("/{}", cur.join("/"));
            if let Some(is_dir) = self.created.get(&p) {
                if !is_dir {
                    bail!("cannot copy to {p}: not a directory");
                }
                continue;
            }
            let entry = match self.view {
                Some(v) => v.lstat(&cur)?,
                None => None,
            };
            match entry {
                None => {
                    let (uid, gid) = self.owner;
                    self.emit_dir(tar, &p, dir_header(0o755, uid, gid, self.now))?;
                    self.created.insert(p, true);
                }
                Some(e) if e.is_symlink() => {
                    links += 1;
                    if links > 40 {
                        bail!("{dir}: too many levels of symbolic links");
                    }
                    let view = self.view.expect("entries come from the view");
                    let target = std::fs::read_link(view.layer_dir(&e).join(&e.rel))?;
                    let target = target.to_string_lossy().into_owned();
                    cur.pop();
                    if target.starts_with('/') {
                        cur.clear();
                    }
                    let mut parts: Vec<String> = target
                        .split('/')
                        .filter(|s| !s.is_empty() && *s != ".")
                        .map(str::to_string)
                        .collect();
                    parts.reverse();
                    todo.extend(parts);
                }
                Some(e) if e.is_dir() => {
                    let m = &e.meta;
                    let h =
                        dir_header(m.mode() & 0o7777, m.uid(), m.gid(), m.mtime().max(0) as u64);
                    self.emit_dir(tar, &p, h)?;
                }
                Some(_) => bail!("cannot copy to {p}: not a directory"),
            }
        }
        Ok(if cur.is_empty() {
            "/".into()
        } else {
            format!("/{}", cur.join("/"))
        })
    }
}

fn split_target(target: &str) -> (String, String) {
    let t = go_clean(target);
    match t.rsplit_once('/') {
        Some((parent, name)) => (
            if parent.is_empty() {
                "/".into()
            } else {
                parent.into()
            },
            name.to_string(),
        ),
        None => ("/".into(), t),
    }
}

/// Writes the items as a layer.
fn write_items(
    cx: &StageCx,
    view: Option<&LayerView>,
    source: Option<&LayerView>,
    items: Vec<Item>,
    owner: (u32, u32),
) -> Result<UnpackedLayer> {
    let ctx = &cx.p.ctx;
    crate::image::commit::layer_from_tar(cx.store, move |out| {
        let mut tar = tar::Builder::new(std::io::BufWriter::new(out));
        tar.mode(tar::HeaderMode::Complete);
        let mut tree = DestTree {
            view,
            created: HashMap::new(),
            emitted: HashSet::new(),
            owner,
            now: now(),
        };
        for item in &items {
            write_item(ctx, source, &mut tree, &mut tar, item)?;
        }
        tar.into_inner()?.flush()?;
        Ok(())
    })
}

fn write_item<W: Write>(
    ctx: &BuildContext,
    source: Option<&LayerView>,
    tree: &mut DestTree,
    tar: &mut tar::Builder<W>,
    item: &Item,
) -> Result<()> {
    if let Content::File(FileSource::Archive(src)) = &item.content {
        let dir = tree.ensure_dir(tar, &item.target)?;
        return extract_archive(ctx, tree, tar, src, &dir, item);
    }
    if go_clean(&item.target) == "/" {
        // The root itself: its contents go there, it keeps its metadata.
        return Ok(());
    }
    let (parent, name) = split_target(&item.target);
    let real_parent = tree.ensure_dir(tar, &parent)?;
    let real = if real_parent == "/" {
        format!("/{name}")
    } else {
        format!("{real_parent}/{name}")
    };
    let rel = rel_of(&real);
    let mut h = tar::Header::new_gnu();
    h.set_mode(item.mode);
    h.set_uid(u64::from(item.uid));
    h.set_gid(u64::from(item.gid));
    h.set_mtime(item.mtime);
    match &item.content {
        Content::Dir => {
            if tree.created.get(&real) == Some(&true) {
                return Ok(());
            }
            let existing = match tree.view {
                Some(v) => v.lstat(&LayerView::parts(&real))?,
                None => None,
            };
            match existing {
                Some(e) if e.is_dir() && item.keep_existing => {
                    let m = &e.meta;
                    let eh =
                        dir_header(m.mode() & 0o7777, m.uid(), m.gid(), m.mtime().max(0) as u64);
                    tree.emit_dir(tar, &real, eh)?;
                }
                _ => {
                    tree.emitted.remove(&real);
                    tree.emit_dir(
                        tar,
                        &real,
                        dir_header(item.mode, item.uid, item.gid, item.mtime),
                    )?;
                }
            }
            tree.created.insert(real, true);
        }
        Content::Symlink(target) => {
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            tar.append_link(&mut h, &rel, target)
                .with_context(|| format!("writing {real}"))?;
            tree.created.insert(real, false);
        }
        Content::File(src) => {
            h.set_entry_type(tar::EntryType::Regular);
            let reader = open_source(ctx, source, src)?;
            let size = reader.1;
            h.set_size(size);
            tar.append_data(&mut h, &rel, reader.0.take(size))
                .with_context(|| format!("writing {real}"))?;
            tree.created.insert(real, false);
        }
    }
    Ok(())
}

/// A source file's reader and its size now (what is written is what was
/// measured: a file growing meanwhile is cut, one shrinking fails).
fn open_source(
    ctx: &BuildContext,
    source: Option<&LayerView>,
    src: &FileSource,
) -> Result<(Box<dyn Read>, u64)> {
    Ok(match src {
        FileSource::Context(rel) => {
            let f = ctx
                .open_file(rel)
                .with_context(|| format!("reading {rel:?} from the build context"))?;
            let len = f.metadata()?.len();
            (Box::new(f), len)
        }
        FileSource::View(e) => {
            let view = source.context("internal: a stage's file without its stage")?;
            let f = view.open_file(e)?;
            let len = f.metadata()?.len();
            (Box::new(f), len)
        }
        FileSource::Bytes(b) => (Box::new(std::io::Cursor::new(b.clone())), b.len() as u64),
        FileSource::Local(p) => {
            let f = std::fs::File::open(p)?;
            let len = f.metadata()?.len();
            (Box::new(f), len)
        }
        FileSource::Archive(_) => bail!("internal: archives are extracted, not copied"),
    })
}

/// ADD of a local archive: its entries go below `dir`, each path cleaned
/// (a `..` that climbs out is refused) and never a whiteout.
fn extract_archive<W: Write>(
    ctx: &BuildContext,
    tree: &mut DestTree,
    tar: &mut tar::Builder<W>,
    src: &FileSource,
    dir: &str,
    item: &Item,
) -> Result<()> {
    let FileSource::Context(rel) = src else {
        bail!("internal: only context archives are extracted");
    };
    let open = || {
        ctx.open_file(rel)
            .with_context(|| format!("reading {rel:?}"))
    };
    let mut head = vec![0u8; 4];
    let n = read_full(&mut open()?, &mut head)?;
    head.truncate(n);
    let reader: Box<dyn Read> = if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::GzDecoder::new(open()?))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Box::new(zstd::stream::read::Decoder::new(open()?)?)
    } else {
        Box::new(open()?)
    };
    let mut archive = tar::Archive::new(reader);
    for entry in archive
        .entries()
        .with_context(|| format!("reading the archive {rel}"))?
    {
        let mut entry = entry.with_context(|| format!("reading the archive {rel}"))?;
        let raw = entry.path()?.into_owned();
        let cleaned = crate::util::path::clean(&raw);
        if cleaned.escaped {
            bail!(
                "ADD {rel}: the archive entry {} leads out of the destination",
                raw.display()
            );
        }
        let inner = cleaned.relative();
        if inner.as_os_str().is_empty() {
            continue;
        }
        if inner.iter().any(|c| {
            c.to_string_lossy()
                .starts_with(crate::image::whiteout::PREFIX)
        }) {
            bail!("ADD {rel}: the archive entry {} has a whiteout name (.wh.), which a layer cannot hold", raw.display());
        }
        let target = format!("{}/{}", dir.trim_end_matches('/'), inner.display());
        let (parent, _) = split_target(&target);
        tree.ensure_dir(tar, &parent)?;
        let mut h = entry.header().clone();
        if let Some((uid, gid)) = item_chown(item) {
            h.set_uid(u64::from(uid));
            h.set_gid(u64::from(gid));
        }
        let kind = h.entry_type();
        let rel_target = rel_of(&target);
        match kind {
            tar::EntryType::Link => {
                let link = entry
                    .link_name()?
                    .context("a hard link without a target")?
                    .into_owned();
                let lc = crate::util::path::clean(&link);
                if lc.escaped {
                    bail!(
                        "ADD {rel}: the hard link {} leads out of the destination",
                        raw.display()
                    );
                }
                let to = format!(
                    "{}/{}",
                    rel_of(dir).trim_end_matches('/'),
                    lc.relative().display()
                );
                let to = to.trim_start_matches('/').to_string();
                tar.append_link(&mut h, &rel_target, &to)?;
            }
            tar::EntryType::Symlink => {
                let link = entry
                    .link_name()?
                    .context("a symlink without a target")?
                    .into_owned();
                tar.append_link(&mut h, &rel_target, &link)?;
            }
            tar::EntryType::Directory => {
                tree.emitted.insert(go_clean(&target));
                tree.created.insert(go_clean(&target), true);
                tar.append_data(&mut h, format!("{rel_target}/"), std::io::empty())?;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let size = entry.size();
                tar.append_data(&mut h, &rel_target, &mut entry)?;
                let _ = size;
            }
            // Devices and FIFOs are left to the extractor's rules.
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                tar.append_data(&mut h, &rel_target, std::io::empty())?;
            }
            _ => {}
        }
    }
    Ok(())
}

fn item_chown(item: &Item) -> Option<(u32, u32)> {
    // Archives keep their owners unless --chown gave others, which the
    // planner put on the item.
    (item.uid != 0 || item.gid != 0).then_some((item.uid, item.gid))
}

/// Copies a context path (file or directory, `.dockerignore` applied)
/// into `to`, for a bind mount.
pub(crate) fn materialize_context(ctx: &BuildContext, rel: &str, to: &Path) -> Result<()> {
    let index = ctx.index();
    let entry = index
        .get(rel)
        .ok_or_else(|| anyhow!("{rel:?} not found in the build context"))?;
    let mut all: Vec<(String, crate::build::context::Entry)> =
        vec![(rel.to_string(), entry.clone())];
    if entry.kind == EntryKind::Dir {
        let mut below = Vec::new();
        index.walk_below(rel, &mut below);
        all.extend(below.into_iter().map(|(p, e)| (p.to_string(), e.clone())));
    }
    let strip = if rel.is_empty() { 0 } else { rel.len() + 1 };
    for (path, e) in all {
        let inner = if path.len() > strip {
            &path[strip..]
        } else {
            ""
        };
        let dest = if inner.is_empty() {
            to.to_path_buf()
        } else {
            to.join(inner)
        };
        match &e.kind {
            EntryKind::Dir => std::fs::create_dir_all(&dest)?,
            EntryKind::File => {
                let mut f = ctx.open_file(&path)?;
                let mut out = std::fs::File::create(&dest)?;
                std::io::copy(&mut f, &mut out)?;
            }
            EntryKind::Symlink(t) => std::os::unix::fs::symlink(t, &dest)?,
            EntryKind::Special => {}
        }
        if !matches!(e.kind, EntryKind::Symlink(_)) {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(e.mode));
        }
    }
    Ok(())
}

/// Copies `source` of a stage's files into `to`, for a bind mount.
pub(crate) fn materialize_view(view: &LayerView, source: &str, to: &Path) -> Result<()> {
    let r = view.resolve(&go_clean(&format!("/{source}")), true)?;
    let entry = r
        .entry
        .ok_or_else(|| anyhow!("{source:?} not found in the mount's source"))?;
    copy_view_entry(view, &entry, to)
}

fn copy_view_entry(view: &LayerView, entry: &ViewEntry, to: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let ft = entry.meta.file_type();
    if ft.is_dir() {
        std::fs::create_dir_all(to)?;
        let parts: Vec<String> = entry
            .rel
            .iter()
            .map(|c| c.to_string_lossy().into_owned())
            .collect();
        for name in view.read_dir(&parts)? {
            let mut child = parts.clone();
            child.push(name_str(&name)?);
            if let Some(e) = view.lstat(&child)? {
                copy_view_entry(view, &e, &to.join(&name))?;
            }
        }
    } else if ft.is_symlink() {
        let t = std::fs::read_link(view.layer_dir(entry).join(&entry.rel))?;
        std::os::unix::fs::symlink(t, to)?;
        return Ok(());
    } else if ft.is_file() {
        let mut f = view.open_file(entry)?;
        let mut out = std::fs::File::create(to)?;
        std::io::copy(&mut f, &mut out)?;
    } else {
        return Ok(());
    }
    let _ = std::os::unix::fs::lchown(to, Some(entry.meta.uid()), Some(entry.meta.gid()));
    let _ = std::fs::set_permissions(
        to,
        std::fs::Permissions::from_mode(entry.meta.mode() & 0o7777),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chmod_is_octal() {
        assert_eq!(parse_chmod("755").unwrap(), 0o755);
        assert_eq!(parse_chmod("0644").unwrap(), 0o644);
        assert!(parse_chmod("u+x").is_err());
        assert!(parse_chmod("99999").is_err());
    }

    #[test]
    fn destinations() {
        assert_eq!(dest_path("app/", "/w"), ("/w/app".into(), true));
        assert_eq!(dest_path("/x", "/w"), ("/x".into(), false));
        assert_eq!(dest_path(".", "/w"), ("/w".into(), true));
        assert_eq!(split_target("/a/b"), ("/a".into(), "b".into()));
        assert_eq!(split_target("/a"), ("/".into(), "a".into()));
    }

    #[test]
    fn users_resolve_in_the_stage() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("etc")).unwrap();
        std::fs::write(
            d.path().join("etc/passwd"),
            "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(d.path().join("etc/group"), "root:x:0:\nstaff:x:50:\n").unwrap();
        let v = LayerView::from_dirs(vec![d.path().to_path_buf()]);
        assert_eq!(resolve_user_ids(&v, "app", true).unwrap(), (1000, 1001));
        assert_eq!(resolve_user_ids(&v, "app:staff", true).unwrap(), (1000, 50));
        assert_eq!(resolve_user_ids(&v, "42", true).unwrap(), (42, 42));
        assert_eq!(resolve_user_ids(&v, "42:7", true).unwrap(), (42, 7));
        assert!(resolve_user_ids(&v, "nobody", true)
            .unwrap_err()
            .to_string()
            .contains("unable to find user nobody"));
        assert!(resolve_user_ids(&v, "app:nogroup", true).is_err());
    }

    #[test]
    fn archives_are_recognized() {
        let mut tarball = Vec::new();
        {
            let mut b = tar::Builder::new(&mut tarball);
            let mut h = tar::Header::new_ustar();
            h.set_size(1);
            h.set_mode(0o644);
            b.append_data(&mut h, "a", &b"x"[..]).unwrap();
            b.finish().unwrap();
        }
        let none = || -> Result<std::fs::File> { bail!("not reopened") };
        assert!(archive_kind(&tarball[..512], none, "t").unwrap());
        assert!(!archive_kind(b"hello", none, "t").unwrap());
        assert!(archive_kind(b"BZh91AY", none, "t").is_err());
    }
}
