//! Resolving COPY/ADD sources in the build context with Docker's rules
//! (BuildKit's file copy): paths are relative to the context root (a
//! leading `/` too) and may not leave it; wildcards match per path
//! component with Go's `filepath.Match`; a directory source copies its
//! contents; symlinks along a source path are followed inside the context,
//! symlinks inside a copied directory are copied as symlinks; several
//! sources, or a destination ending in `/`, copy into a directory.

use super::index::{join, Entry, EntryKind, Index};
use crate::build::ignore::{contains_wildcards, Glob, Matcher};
use crate::util::path::go_clean;
use anyhow::{anyhow, bail, Result};

/// How deep symlinks may chain while resolving one source path.
const MAX_LINKS: usize = 40;

/// What the destination path is in the image before the copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DestKind {
    Missing,
    File,
    Dir,
}

/// One context path to put in the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyItem {
    /// The context path the data comes from (symlinks along the source
    /// path resolved; `""` is the context root).
    pub source: String,
    /// Absolute path in the image.
    pub target: String,
    pub entry: Entry,
}

/// Everything one COPY/ADD takes from the context, in copy order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyPlan {
    pub items: Vec<CopyItem>,
    /// Sources that are URLs (ADD downloads them).
    pub remote: Vec<String>,
    /// Wildcards that matched nothing (BuildKit copies nothing for them
    /// and goes on).
    pub empty_wildcards: Vec<String>,
}

/// One COPY/ADD after substitution.
#[derive(Debug, Clone)]
pub struct CopyRequest<'a> {
    /// `COPY` or `ADD`, for messages.
    pub instruction: &'a str,
    pub sources: &'a [String],
    pub dest: &'a str,
    /// The stage's working directory (absolute), for a relative dest.
    pub workdir: &'a str,
    pub excludes: &'a [String],
    /// `COPY --parents`: keep each source's path below the context root
    /// (or below a `/./` pivot in the source).
    pub parents: bool,
    /// What the destination path is in the image now.
    pub dest_kind: DestKind,
}

/// Why a source cannot be used, with the path named.
fn not_found(req: &CopyRequest, src: &str, ignore: &Matcher) -> anyhow::Error {
    let rel = clean_rel(src).unwrap_or_default();
    match ignore.deciding_pattern(&rel) {
        Some(p) => anyhow!(
            "{} failed: {:?} is excluded by .dockerignore (pattern {:?}); remove it from .dockerignore or add an exception (!{})",
            req.instruction, src, p.text, rel
        ),
        None => anyhow!("{} failed: {:?} not found in the build context", req.instruction, src),
    }
}

/// The context-relative form of a source, `None` when it leaves the
/// context.
fn clean_rel(src: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for c in src.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    Some(parts.join("/"))
}

/// BuildKit's destination: relative to the working directory, with the
/// trailing slash (a directory) kept; `.` and `` mean the directory.
fn dest_path(dest: &str, workdir: &str) -> (String, bool) {
    let wants_dir = dest.ends_with('/') || dest.ends_with("/.") || dest == "." || dest.is_empty();
    let joined = if dest.starts_with('/') {
        dest.to_string()
    } else {
        format!("{}/{}", workdir.trim_end_matches('/'), dest)
    };
    (go_clean(&format!("/{joined}")), wants_dir)
}

/// Resolves `path` (context-relative) following symlinks, all inside the
/// context. Returns the resolved path, or `Ok(None)` when a component does
/// not exist.
fn resolve(
    index: &Index,
    path: &str,
    follow_last: bool,
    src: &str,
    instr: &str,
) -> Result<Option<String>> {
    let mut todo: Vec<String> = path
        .split('/')
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect();
    todo.reverse();
    let mut cur: Vec<String> = Vec::new();
    let mut links = 0;
    while let Some(comp) = todo.pop() {
        match comp.as_str() {
            "." => continue,
            ".." => {
                if cur.pop().is_none() {
                    bail!("{instr} failed: forbidden path outside the build context: {src} (a symlink along it leads out)");
                }
                continue;
            }
            _ => {}
        }
        cur.push(comp);
        let here = cur.join("/");
        let Some(entry) = index.get(&here) else {
            return Ok(None);
        };
        let last = todo.is_empty();
        if let EntryKind::Symlink(target) = &entry.kind {
            if last && !follow_last {
                continue;
            }
            links += 1;
            if links > MAX_LINKS {
                bail!("{instr} failed: {src:?}: too many levels of symbolic links");
            }
            if target.starts_with('/') {
                bail!(
                    "{instr} failed: forbidden path outside the build context: {src} ({here} -> {target})"
                );
            }
            cur.pop();
            let mut parts: Vec<String> = target.split('/').map(str::to_string).collect();
            parts.reverse();
            todo.extend(parts);
        }
    }
    Ok(Some(cur.join("/")))
}

/// Context paths matching a wildcard source: the part before the first
/// wildcard component is resolved (following symlinks), the rest matched
/// component by component over the visible tree, in name order; a
/// matching directory is not searched further.
fn wildcard_matches(
    index: &Index,
    rel: &str,
    src: &str,
    instr: &str,
) -> Result<Vec<(String, String)>> {
    let comps: Vec<&str> = rel.split('/').collect();
    let split = comps
        .iter()
        .position(|c| contains_wildcards(c))
        .unwrap_or(comps.len());
    let base_written = comps[..split].join("/");
    let Some(base) = resolve(index, &base_written, true, src, instr)? else {
        return Ok(vec![]);
    };
    let globs = comps[split..]
        .iter()
        .map(|c| Glob::new(c).map_err(|e| anyhow!("{instr} failed: bad wildcard {src:?}: {e}")))
        .collect::<Result<Vec<_>>>()?;
    let mut out = Vec::new();
    fn descend(
        index: &Index,
        dir: &str,
        written: &str,
        globs: &[Glob],
        out: &mut Vec<(String, String)>,
    ) {
        for name in index.children(dir) {
            if !globs[0].matches(name) {
                continue;
            }
            let path = join(dir, name);
            let w = join(written, name);
            if globs.len() == 1 {
                out.push((path, w));
            } else if index.get(&path).is_some_and(|e| e.kind == EntryKind::Dir) {
                descend(index, &path, &w, &globs[1..], out);
            }
        }
    }
    descend(index, &base, &base_written, &globs, &mut out);
    Ok(out)
}

/// Plans a COPY/ADD from the context.
pub fn plan(index: &Index, ignore: &Matcher, req: &CopyRequest) -> Result<CopyPlan> {
    let instr = req.instruction;
    let (dest, wants_dir) = dest_path(req.dest, req.workdir);
    let excludes =
        Matcher::new(req.excludes).map_err(|e| anyhow!("{instr} failed: bad --exclude: {e}"))?;
    let mut plan = CopyPlan::default();
    let mut dest_kind = if wants_dir {
        DestKind::Dir
    } else {
        req.dest_kind
    };
    for src in req.sources {
        if src.starts_with("http://") || src.starts_with("https://") {
            if instr == "COPY" {
                bail!("source can't be a URL for COPY");
            }
            plan.remote.push(src.clone());
            continue;
        }
        // --parents: `a/./b/c` keeps `b/c`.
        let (pivot, src_path) = match (req.parents, src.split_once("/./")) {
            (true, Some((p, rest))) => (Some(p.to_string()), format!("{p}/{rest}")),
            _ => (None, src.clone()),
        };
        let rel = clean_rel(&src_path).ok_or_else(|| {
            anyhow!("{instr} failed: forbidden path outside the build context: {src}")
        })?;
        let matches: Vec<(String, String)> = if contains_wildcards(&rel) {
            let m = wildcard_matches(index, &rel, src, instr)?;
            if m.is_empty() {
                plan.empty_wildcards.push(src.clone());
            }
            m
        } else {
            match resolve(index, &rel, true, src, instr)? {
                Some(resolved) => vec![(resolved, rel.clone())],
                None => return Err(not_found(req, src, ignore)),
            }
        };
        for (resolved, written) in matches {
            let resolved = match index.get(&resolved).map(|e| &e.kind) {
                // A wildcard match that is a symlink is followed too.
                Some(EntryKind::Symlink(_)) => match resolve(index, &resolved, true, src, instr)? {
                    Some(r) => r,
                    None => return Err(not_found(req, src, ignore)),
                },
                _ => resolved,
            };
            let Some(entry) = index.get(&resolved) else {
                return Err(not_found(req, src, ignore));
            };
            if entry.parent_only && entry.kind != EntryKind::Dir {
                return Err(not_found(req, src, ignore));
            }
            let base_name = written.rsplit('/').next().unwrap_or("").to_string();
            // --exclude applies to a file source by its name, and to what
            // is below a directory source by the path inside it.
            if entry.kind != EntryKind::Dir
                && !excludes.is_empty()
                && excludes.is_excluded(&base_name)
            {
                continue;
            }
            let top_target = if req.parents {
                let keep = match &pivot {
                    Some(p) => written
                        .strip_prefix(&format!("{}/", clean_rel(p).unwrap_or_default()))
                        .unwrap_or(&written)
                        .to_string(),
                    None => written.clone(),
                };
                go_clean(&format!("{dest}/{keep}"))
            } else if entry.kind == EntryKind::Dir {
                if dest_kind == DestKind::File {
                    bail!("{instr} failed: cannot copy directory {src:?} onto file {dest:?}");
                }
                dest.clone()
            } else if dest_kind == DestKind::Dir {
                go_clean(&format!("{dest}/{base_name}"))
            } else {
                dest.clone()
            };
            // The destination is a directory now, or the file just copied
            // onto it (a later file replaces it, as BuildKit's copies do).
            if !req.parents && top_target == dest {
                dest_kind = if entry.kind == EntryKind::Dir {
                    DestKind::Dir
                } else {
                    DestKind::File
                };
            }
            plan.items.push(CopyItem {
                source: resolved.clone(),
                target: top_target.clone(),
                entry: entry.clone(),
            });
            if entry.kind == EntryKind::Dir {
                let mut below = Vec::new();
                index.walk_below(&resolved, &mut below);
                let strip = if resolved.is_empty() {
                    0
                } else {
                    resolved.len() + 1
                };
                for (path, e) in below {
                    let inner = &path[strip..];
                    if !excludes.is_empty() && excludes.is_excluded(inner) {
                        continue;
                    }
                    plan.items.push(CopyItem {
                        source: path.to_string(),
                        target: go_clean(&format!("{top_target}/{inner}")),
                        entry: e.clone(),
                    });
                }
            }
        }
    }
    Ok(plan)
}
