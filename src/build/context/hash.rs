//! Content hashes for the cache, after BuildKit's "content checksum": a
//! COPY is the same step when what it puts in the image is the same:
//! every path's place, type, mode and owner as they will be in the image,
//! symlink targets, and file bytes; never modification times, never files
//! it does not copy. File bytes are hashed once per build, only for files
//! some COPY/ADD uses, on several threads.

use super::index::EntryKind;
use super::open::ContextRoot;
use super::sources::CopyPlan;
use crate::util::digest::Hasher;
use anyhow::{anyhow, Result};
use std::collections::HashMap;
use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// File digests of one context, filled on demand.
pub struct ContentHashes {
    root: ContextRoot,
    done: Mutex<HashMap<String, String>>,
}

/// `sha256:` of one file's bytes.
fn hash_file(root: &ContextRoot, rel: &str, buf: &mut [u8]) -> Result<String> {
    let mut f = root
        .open_file(rel)
        .map_err(|e| anyhow!("reading {rel:?} from the build context: {e}"))?;
    let mut h = Hasher::new();
    loop {
        let n = f
            .read(buf)
            .map_err(|e| anyhow!("reading {rel:?} from the build context: {e}"))?;
        if n == 0 {
            return Ok(h.finish());
        }
        h.update(&buf[..n]);
    }
}

impl ContentHashes {
    pub fn new(root: ContextRoot) -> ContentHashes {
        ContentHashes {
            root,
            done: Mutex::new(HashMap::new()),
        }
    }

    /// Hashes the files among `paths` not hashed yet, on up to `threads`
    /// threads (the machine's parallelism when 0). Each thread takes the
    /// next file from a shared counter, so large and small files balance.
    pub fn prefetch(&self, paths: &[String], threads: usize) -> Result<()> {
        let todo: Vec<&String> = {
            let done = self.done.lock().unwrap();
            let mut seen = std::collections::HashSet::new();
            paths
                .iter()
                .filter(|p| !done.contains_key(*p) && seen.insert(*p))
                .collect()
        };
        if todo.is_empty() {
            return Ok(());
        }
        let threads = if threads == 0 {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        } else {
            threads
        }
        .min(todo.len())
        .max(1);
        let next = AtomicUsize::new(0);
        let results: Mutex<Vec<(String, String)>> = Mutex::new(Vec::with_capacity(todo.len()));
        let first_error: Mutex<Option<anyhow::Error>> = Mutex::new(None);
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    let mut buf = vec![0u8; 256 * 1024];
                    let mut local = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(path) = todo.get(i) else { break };
                        match hash_file(&self.root, path, &mut buf) {
                            Ok(d) => local.push(((*path).clone(), d)),
                            Err(e) => {
                                first_error.lock().unwrap().get_or_insert(e);
                                // Stop every thread at its next file.
                                next.store(todo.len(), Ordering::Relaxed);
                                break;
                            }
                        }
                    }
                    results.lock().unwrap().extend(local);
                });
            }
        });
        if let Some(e) = first_error.into_inner().unwrap() {
            return Err(e);
        }
        self.done
            .lock()
            .unwrap()
            .extend(results.into_inner().unwrap());
        Ok(())
    }

    /// One file's digest (hashed now if it was not prefetched).
    pub fn get(&self, rel: &str) -> Result<String> {
        if let Some(d) = self.done.lock().unwrap().get(rel) {
            return Ok(d.clone());
        }
        let d = hash_file(&self.root, rel, &mut vec![0u8; 256 * 1024])?;
        self.done.lock().unwrap().insert(rel.to_string(), d.clone());
        Ok(d)
    }

    /// How many files have been hashed.
    pub fn len(&self) -> usize {
        self.done.lock().unwrap().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How the copied files will be owned and moded in the image.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ownership {
    /// `--chown` resolved to numbers; context files are 0:0 without it.
    pub uid: u32,
    pub gid: u32,
    /// `--chmod` in octal, applied to every copied path.
    pub chmod: Option<u32>,
}

/// The files of a plan that need hashing.
pub fn files_of(plan: &CopyPlan) -> Vec<String> {
    plan.items
        .iter()
        .filter(|i| i.entry.kind == EntryKind::File)
        .map(|i| i.source.clone())
        .collect()
}

/// The cache key of a plan's content: `sha256:` over each item's target
/// path, type, mode and owner as they will be in the image, symlink target
/// and file digest, in target order.
pub fn plan_key(plan: &CopyPlan, hashes: &ContentHashes, own: Ownership) -> Result<String> {
    let mut items: Vec<_> = plan.items.iter().collect();
    items.sort_by(|a, b| a.target.cmp(&b.target));
    let mut h = Hasher::new();
    for i in items {
        let mode = match i.entry.kind {
            EntryKind::Symlink(_) => 0o777,
            _ => own.chmod.unwrap_or(i.entry.mode),
        };
        let (kind, detail) = match &i.entry.kind {
            EntryKind::File => ('f', hashes.get(&i.source)?),
            EntryKind::Dir => ('d', String::new()),
            EntryKind::Symlink(t) => ('l', t.clone()),
            EntryKind::Special => {
                anyhow::bail!(
                    "{:?} in the build context is not a file, directory or symlink",
                    i.source
                )
            }
        };
        // NUL separators: paths cannot contain NUL, so no two different
        // item lists serialize alike.
        h.update(
            format!(
                "{}\0{kind}\0{mode:o}\0{}:{}\0{detail}\0",
                i.target, own.uid, own.gid
            )
            .as_bytes(),
        );
    }
    for r in &plan.remote {
        h.update(format!("url\0{r}\0").as_bytes());
    }
    Ok(h.finish())
}
