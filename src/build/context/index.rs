//! The build context read once: a walk of the context directory that
//! records every file the build may see (after `.dockerignore`), with its
//! type, mode, size and symlink target, without reading contents. Symlinks
//! are recorded as symlinks and never followed by the walk. Directories
//! that are excluded but hold re-included files stay as parents only.

use crate::build::ignore::{MatchInfo, Matcher};
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

/// What a context path is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    Symlink(String),
    /// A FIFO, socket or device: recorded so errors can name it.
    Special,
}

/// One context path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub kind: EntryKind,
    /// Permission bits with setuid/setgid/sticky (`& 0o7777`).
    pub mode: u32,
    pub size: u64,
    pub uid: u32,
    pub gid: u32,
    /// Excluded by `.dockerignore` but kept because something inside it is
    /// re-included: it exists for its children only.
    pub parent_only: bool,
}

/// Metadata from an archive's headers, which wins over what extraction
/// could set as an unprivileged user.
pub type HeaderMeta = BTreeMap<String, (u32, u32, u32)>;

/// Every visible path of a context, relative, slash-separated; the root is
/// the empty string.
#[derive(Debug, Clone, Default)]
pub struct Index {
    entries: BTreeMap<String, Entry>,
    children: BTreeMap<String, Vec<String>>,
}

impl Index {
    pub fn get(&self, path: &str) -> Option<&Entry> {
        self.entries.get(path)
    }

    /// Names directly inside directory `dir`, sorted.
    pub fn children(&self, dir: &str) -> &[String] {
        self.children.get(dir).map_or(&[], |v| v.as_slice())
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.len() <= 1
    }

    /// Every entry at or below `dir`, depth first in name order.
    pub fn walk_below<'a>(&'a self, dir: &str, out: &mut Vec<(&'a str, &'a Entry)>) {
        for name in self.children(dir) {
            let path = join(dir, name);
            if let Some((p, e)) = self.entries.get_key_value(&path) {
                out.push((p.as_str(), e));
                if e.kind == EntryKind::Dir {
                    self.walk_below(p, out);
                }
            }
        }
    }

    fn insert(&mut self, path: String, entry: Entry) {
        if let Some((parent, name)) = split_parent(&path) {
            self.children
                .entry(parent.to_string())
                .or_default()
                .push(name.to_string());
        }
        self.entries.insert(path, entry);
    }

    /// An index of nothing but the root (a Dockerfile given alone).
    pub fn empty() -> Index {
        let mut idx = Index::default();
        idx.entries.insert(String::new(), root_entry(0o755));
        idx
    }

    /// Walks `root` with `ignore`. `meta` overrides mode and ownership of
    /// the paths it names (a context extracted from an archive).
    pub fn build(root: &Path, ignore: &Matcher, meta: &HeaderMeta) -> Result<Index> {
        let mut idx = Index::default();
        let md =
            std::fs::metadata(root).with_context(|| format!("build context {}", root.display()))?;
        let mut rootent = root_entry(md.mode() & 0o7777);
        rootent.uid = md.uid();
        rootent.gid = md.gid();
        idx.entries.insert(String::new(), rootent);
        walk(&mut idx, root, "", ignore, &MatchInfo::default(), meta)?;
        Ok(idx)
    }
}

fn root_entry(mode: u32) -> Entry {
    Entry {
        kind: EntryKind::Dir,
        mode,
        size: 0,
        uid: 0,
        gid: 0,
        parent_only: false,
    }
}

/// `dir/name`, or `name` at the root.
pub fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

fn split_parent(path: &str) -> Option<(&str, &str)> {
    if path.is_empty() {
        return None;
    }
    Some(path.rsplit_once('/').unwrap_or(("", path)))
}

/// Walks directory `rel` of the context; returns whether anything below it
/// was recorded (an excluded directory is kept only then).
fn walk(
    idx: &mut Index,
    root: &Path,
    rel: &str,
    ignore: &Matcher,
    info: &MatchInfo,
    meta: &HeaderMeta,
) -> Result<bool> {
    let dir = root.join(rel);
    let mut names: Vec<String> = Vec::new();
    for e in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let e = e.with_context(|| format!("reading {}", dir.display()))?;
        match e.file_name().into_string() {
            Ok(n) => names.push(n),
            Err(n) => anyhow::bail!(
                "build context path {} is not valid UTF-8; rename it or exclude it in .dockerignore",
                dir.join(n).display()
            ),
        }
    }
    names.sort();
    let mut any = false;
    for name in names {
        let path = join(rel, &name);
        let (excluded, child_info) = if ignore.is_empty() {
            (false, MatchInfo::default())
        } else {
            ignore.matches(&path, info)
        };
        let full = root.join(&path);
        let md = std::fs::symlink_metadata(&full)
            .with_context(|| format!("reading {}", full.display()))?;
        let ft = md.file_type();
        let (mut mode, mut uid, mut gid) = (md.mode() & 0o7777, md.uid(), md.gid());
        if let Some(&(m, u, g)) = meta.get(&path) {
            (mode, uid, gid) = (m, u, g);
        }
        let kind = if ft.is_dir() {
            EntryKind::Dir
        } else if ft.is_symlink() {
            let target = std::fs::read_link(&full)
                .with_context(|| format!("reading link {}", full.display()))?;
            EntryKind::Symlink(target.to_string_lossy().into_owned())
        } else if ft.is_file() {
            EntryKind::File
        } else {
            debug_assert!(
                ft.is_fifo() || ft.is_socket() || ft.is_char_device() || ft.is_block_device()
            );
            EntryKind::Special
        };
        let entry = Entry {
            kind: kind.clone(),
            mode,
            size: if kind == EntryKind::File { md.len() } else { 0 },
            uid,
            gid,
            parent_only: excluded,
        };
        if kind == EntryKind::Dir {
            if excluded && !ignore.may_include_below(&path) {
                continue;
            }
            // Record the directory first so children list under it; drop
            // it again if it was excluded and nothing inside came back.
            idx.insert(path.clone(), entry);
            let inner = walk(idx, root, &path, ignore, &child_info, meta)?;
            if excluded && !inner {
                idx.entries.remove(&path);
                if let Some(siblings) = idx.children.get_mut(rel) {
                    siblings.retain(|n| *n != name);
                }
                continue;
            }
            any = true;
        } else if !excluded {
            idx.insert(path, entry);
            any = true;
        }
    }
    Ok(any)
}
