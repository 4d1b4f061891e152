//! A stack of unpacked layers read as the one tree overlay would show,
//! without mounting anything: lookups go down the layers top first,
//! stop at whiteouts (0/0 character devices) and opaque directories,
//! and a non-directory hides everything below it. Symlinks are resolved
//! by us, inside the tree (`..` and absolute targets stop at its root),
//! never by the kernel, so nothing a layer holds can lead out of the
//! store.
//!
//! The builder uses it where a container would be too slow: to find what a
//! COPY destination is, to resolve `--chown` names in /etc/passwd, to copy
//! from another stage, and to export a result.

use super::whiteout;
use crate::store::Store;
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fs::Metadata;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// How many symlinks one resolution may follow (Linux's limit).
const MAX_LINKS: usize = 40;

/// The layers' `diff` directories, top first.
#[derive(Debug, Clone, Default)]
pub(crate) struct LayerView {
    dirs: Vec<PathBuf>,
}

/// One path of the merged tree.
#[derive(Debug, Clone)]
pub(crate) struct ViewEntry {
    /// Which layer directory holds it.
    pub(crate) layer: usize,
    /// Its path below the root, every component a real name.
    pub(crate) rel: PathBuf,
    pub(crate) meta: Metadata,
}

impl ViewEntry {
    pub(crate) fn is_dir(&self) -> bool {
        self.meta.is_dir()
    }
    pub(crate) fn is_symlink(&self) -> bool {
        self.meta.file_type().is_symlink()
    }
}

/// Where a path leads.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    /// The path with every symlink resolved (absolute, clean). When a
    /// component is missing, the rest is appended as written.
    pub(crate) path: String,
    /// What is there; None when missing.
    pub(crate) entry: Option<ViewEntry>,
}

fn is_whiteout(m: &Metadata) -> bool {
    m.file_type().is_char_device() && m.rdev() == 0
}

fn is_opaque(path: &Path) -> bool {
    [whiteout::opaque_xattr(true), whiteout::opaque_xattr(false)]
        .iter()
        .any(|x| matches!(xattr::get(path, x), Ok(Some(v)) if v == b"y"))
}

/// Splits an absolute or relative in-root path into clean components;
/// `..` at the top stays at the top.
fn components(path: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c.to_string()),
        }
    }
    out
}

fn join(parts: &[String]) -> String {
    if parts.is_empty() {
        "/".to_string()
    } else {
        format!("/{}", parts.join("/"))
    }
}

impl LayerView {
    /// The view of an image's layers (diff ids, base first).
    pub(crate) fn open(store: &Store, layers: &[String]) -> Result<LayerView> {
        let mut dirs = Vec::with_capacity(layers.len());
        for l in layers.iter().rev() {
            dirs.push(store.layer_diff(l)?);
        }
        Ok(LayerView { dirs })
    }

    /// A view of directories given top first (an overlay's lower
    /// directories, a single tree).
    pub(crate) fn from_dirs(dirs: Vec<PathBuf>) -> LayerView {
        LayerView { dirs }
    }

    /// The layer directory of an entry.
    pub(crate) fn layer_dir(&self, entry: &ViewEntry) -> &Path {
        &self.dirs[entry.layer]
    }

    /// The layers that contribute to directory `rel` (a real path, no
    /// symlinks), top first; empty when it is not a directory.
    fn dir_layers(&self, rel: &[String]) -> Result<Vec<usize>> {
        let mut visible: Vec<usize> = (0..self.dirs.len()).collect();
        let mut prefix = PathBuf::new();
        for name in rel {
            prefix.push(name);
            let mut next = Vec::new();
            for &l in &visible {
                let p = self.dirs[l].join(&prefix);
                match std::fs::symlink_metadata(&p) {
                    Ok(m) if is_whiteout(&m) => break,
                    Ok(m) if m.is_dir() => {
                        next.push(l);
                        if is_opaque(&p) {
                            break;
                        }
                    }
                    // A file or symlink here hides the lower layers.
                    Ok(_) => break,
                    Err(e) if not_there(&e) => continue,
                    Err(e) => return Err(e).with_context(|| format!("reading {}", p.display())),
                }
            }
            if next.is_empty() {
                return Ok(next);
            }
            visible = next;
        }
        Ok(visible)
    }

    /// What is at `rel` (real components, the last not followed).
    pub(crate) fn lstat(&self, rel: &[String]) -> Result<Option<ViewEntry>> {
        let Some((name, parent)) = rel.split_last() else {
            // The root: the top layer's directory.
            return Ok(self.dirs.iter().enumerate().find_map(|(l, d)| {
                std::fs::symlink_metadata(d).ok().map(|meta| ViewEntry {
                    layer: l,
                    rel: PathBuf::new(),
                    meta,
                })
            }));
        };
        let mut rel_path: PathBuf = parent.iter().collect();
        rel_path.push(name);
        for l in self.dir_layers(parent)? {
            let p = self.dirs[l].join(&rel_path);
            match std::fs::symlink_metadata(&p) {
                Ok(m) if is_whiteout(&m) => return Ok(None),
                Ok(meta) => {
                    return Ok(Some(ViewEntry {
                        layer: l,
                        rel: rel_path,
                        meta,
                    }))
                }
                Err(e) if not_there(&e) => {}
                Err(e) => return Err(e).with_context(|| format!("reading {}", p.display())),
            }
        }
        Ok(None)
    }

    /// Resolves `path` inside the tree, following symlinks on the way (and
    /// the last component too with `follow_last`).
    pub(crate) fn resolve(&self, path: &str, follow_last: bool) -> Result<Resolved> {
        let mut todo: Vec<String> = components(path);
        todo.reverse();
        let mut cur: Vec<String> = Vec::new();
        let mut links = 0;
        while let Some(c) = todo.pop() {
            if c == ".." {
                cur.pop();
                continue;
            }
            cur.push(c);
            let last = todo.is_empty();
            let Some(entry) = self.lstat(&cur)? else {
                let mut rest: Vec<String> = todo.into_iter().rev().collect();
                cur.append(&mut rest);
                return Ok(Resolved {
                    path: join(&components(&join(&cur))),
                    entry: None,
                });
            };
            if entry.is_symlink() && (!last || follow_last) {
                links += 1;
                if links > MAX_LINKS {
                    bail!("{path}: too many levels of symbolic links");
                }
                let target = std::fs::read_link(self.dirs[entry.layer].join(&entry.rel))
                    .with_context(|| format!("reading the link {}", join(&cur)))?;
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
                continue;
            }
            if !last && !entry.is_dir() {
                bail!("{}: not a directory", join(&cur));
            }
            if last {
                return Ok(Resolved {
                    path: join(&cur),
                    entry: Some(entry),
                });
            }
        }
        // The root itself.
        Ok(Resolved {
            path: "/".into(),
            entry: self.lstat(&[])?,
        })
    }

    /// The names in directory `rel` (real components), merged and sorted.
    pub(crate) fn read_dir(&self, rel: &[String]) -> Result<Vec<OsString>> {
        let rel_path: PathBuf = rel.iter().collect();
        let mut names: BTreeMap<OsString, bool> = BTreeMap::new();
        for l in self.dir_layers(rel)? {
            let dir = self.dirs[l].join(&rel_path);
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if not_there(&e) => continue,
                Err(e) => return Err(e).with_context(|| format!("listing {}", dir.display())),
            };
            for e in entries {
                let e = e.with_context(|| format!("listing {}", dir.display()))?;
                let name = e.file_name();
                if names.contains_key(&name) {
                    continue;
                }
                let m = e.metadata()?;
                names.insert(name, !is_whiteout(&m));
            }
        }
        Ok(names
            .into_iter()
            .filter_map(|(n, visible)| visible.then_some(n))
            .collect())
    }

    /// Opens a regular file of the tree for reading; symlinks along the
    /// way are refused by the kernel (the path is one we resolved).
    pub(crate) fn open_file(&self, entry: &ViewEntry) -> Result<std::fs::File> {
        let dir = std::fs::File::open(&self.dirs[entry.layer])
            .with_context(|| format!("opening layer {}", self.dirs[entry.layer].display()))?;
        let fd = open_beneath(&dir.into(), &entry.rel)
            .with_context(|| format!("opening /{}", entry.rel.display()))?;
        Ok(std::fs::File::from(fd))
    }

    /// A small regular file's text (`/etc/passwd`), following symlinks in
    /// the tree; None when missing, not a file or unreadable.
    pub(crate) fn read_small_file(&self, path: &str) -> Option<String> {
        use std::io::Read;
        let r = self.resolve(path, true).ok()?;
        let e = r.entry?;
        if !e.meta.is_file() {
            return None;
        }
        let mut s = String::new();
        self.open_file(&e)
            .ok()?
            .take(16 << 20)
            .read_to_string(&mut s)
            .ok()?;
        Some(s)
    }

    /// The components of a clean absolute path (for `lstat`, `read_dir`).
    pub(crate) fn parts(path: &str) -> Vec<String> {
        components(path)
    }
}

fn not_there(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ENOTDIR))
}

/// openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) for reading.
fn open_beneath(dir: &std::os::fd::OwnedFd, rel: &Path) -> std::io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::{AsRawFd, FromRawFd};
    #[repr(C)]
    struct OpenHow {
        flags: u64,
        mode: u64,
        resolve: u64,
    }
    const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
    const RESOLVE_NO_SYMLINKS: u64 = 0x04;
    const RESOLVE_BENEATH: u64 = 0x08;
    let c = crate::util::openat2::cpath(if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    })?;
    let how = OpenHow {
        flags: (libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NOCTTY) as u64,
        mode: 0,
        resolve: RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    };
    loop {
        // SAFETY: valid C string and open_how struct for the call's duration.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dir.as_raw_fd(),
                c.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        if fd >= 0 {
            // SAFETY: a fresh descriptor that we own from here on.
            return Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) });
        }
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EAGAIN) {
            return Err(err);
        }
    }
}

/// `name` as a string component, refusing names that are not UTF-8.
pub(crate) fn name_str(name: &OsStr) -> Result<String> {
    name.to_str()
        .map(str::to_string)
        .with_context(|| format!("the file name {name:?} is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn layers_merge_with_whiteouts_opaque_dirs_and_symlinks() {
        let d = tempfile::tempdir().unwrap();
        let top = d.path().join("top");
        let base = d.path().join("base");
        std::fs::create_dir_all(base.join("usr/bin")).unwrap();
        std::fs::write(base.join("usr/bin/a"), "a").unwrap();
        std::fs::write(base.join("usr/bin/gone"), "g").unwrap();
        std::fs::create_dir_all(base.join("opq")).unwrap();
        std::fs::write(base.join("opq/old"), "o").unwrap();
        symlink("usr/bin", base.join("bin")).unwrap();
        symlink("/etc/../../usr", base.join("up")).unwrap();
        std::fs::create_dir_all(top.join("usr/bin")).unwrap();
        std::fs::write(top.join("usr/bin/b"), "b").unwrap();
        nix::sys::stat::mknod(
            &top.join("usr/bin/gone"),
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::empty(),
            0,
        )
        .ok();
        std::fs::create_dir_all(top.join("opq")).unwrap();
        std::fs::write(top.join("opq/new"), "n").unwrap();
        let opaque_ok = xattr::set(top.join("opq"), whiteout::opaque_xattr(false), b"y").is_ok();
        let v = LayerView::from_dirs(vec![top.clone(), base.clone()]);
        let r = v.resolve("/bin/a", true).unwrap();
        assert_eq!(r.path, "/usr/bin/a");
        assert_eq!(r.entry.unwrap().layer, 1);
        let r = v.resolve("/up/bin/b", true).unwrap();
        assert_eq!(r.path, "/usr/bin/b");
        let r = v.resolve("/bin/new/x", true).unwrap();
        assert!(r.entry.is_none());
        assert_eq!(r.path, "/usr/bin/new/x");
        let listed = v.read_dir(&LayerView::parts("/usr/bin")).unwrap();
        if top.join("usr/bin/gone").exists() {
            assert_eq!(listed, ["a", "b"]);
        }
        if opaque_ok {
            assert_eq!(v.read_dir(&LayerView::parts("/opq")).unwrap(), ["new"]);
        }
        assert_eq!(v.read_small_file("/bin/b").as_deref(), Some("b"));
        assert!(v.resolve("/usr/bin/a/x", true).is_err());
    }
}
