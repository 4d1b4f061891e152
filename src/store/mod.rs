//! The on-disk store: where everything lives, how it is locked, and the
//! records of images, layers, blobs and containers.
//!
//! Layout (under the root, see `ARCHITECTURE.md`):
//!
//! ```text
//! lock                      flock taken exclusively by every metadata change
//! blobs/sha256/<hex>        manifests and image configs, content addressed
//! layers/<hex>/diff         a layer unpacked once, keyed by its diff id
//! layers/<hex>/tar-split.gz the tar stream's headers, to regenerate the layer tar
//! l/<short>                 short symlinks to layer dirs (overlay lowerdir is page-limited)
//! images.json               every image record and its names
//! containers/<id>/          container record, state, upper/ and work/
//! names/<name>              container name reservations (content: the id)
//! volumes/<name>/_data      named and anonymous volumes (volume.json beside)
//! volumes/<name>/_data      volumes
//! tmp/                      work in progress, removed when its owner is gone
//! ```

pub(crate) mod blobs;
pub(crate) mod containers;
pub mod images;
pub mod layers;
pub(crate) mod lock;
pub(crate) mod volumes;

use crate::util::fsutil::create_dir_mode;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

pub use lock::StoreLock;

/// An opened store: its root and the per-user runtime directory.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
    run_dir: PathBuf,
}

impl Store {
    /// Opens (and creates if needed) the store named by the environment:
    /// `$BERTH_ROOT`, else `$XDG_DATA_HOME/berth`, else `~/.local/share/berth`.
    pub(crate) fn open_default() -> Result<Store> {
        Store::open(default_root()?, default_run_dir())
    }

    /// Opens a store at explicit locations, creating its directories.
    pub fn open(root: PathBuf, run_dir: PathBuf) -> Result<Store> {
        let store = Store { root, run_dir };
        for dir in [
            "blobs/sha256",
            "layers",
            "l",
            "containers",
            "names",
            "volumes",
            "tmp",
        ] {
            create_dir_mode(&store.root.join(dir), 0o700)
                .with_context(|| format!("preparing the store at {}", store.root.display()))?;
        }
        Ok(store)
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// `$XDG_RUNTIME_DIR/berth`, else `/tmp/berth-$UID`; created 0700 on first use.
    pub(crate) fn run_dir(&self) -> Result<&Path> {
        create_dir_mode(&self.run_dir, 0o700)?;
        Ok(&self.run_dir)
    }

    /// Takes the store's exclusive lock; every metadata change happens under it.
    pub fn lock(&self) -> Result<StoreLock> {
        StoreLock::exclusive(&self.root.join("lock"))
    }

    /// A fresh private directory under `tmp/` for work in progress. Its
    /// name carries our pid so that `clean_stale_tmp` can tell abandoned
    /// work (its owner died) from work still going on.
    pub fn temp_dir(&self, what: &str) -> Result<PathBuf> {
        let dir = self.root.join("tmp").join(format!(
            "{what}-{}-{}",
            std::process::id(),
            &crate::util::ids::random_id()[..8]
        ));
        create_dir_mode(&dir, 0o700)?;
        Ok(dir)
    }

    /// Removes leftovers of commands that were killed part-way. Called by
    /// the commands that change the store (rm, rmi, prune, load, import,
    /// pull, commit, volume rm), in the user namespace; not by `run`,
    /// where the scan (about 10 µs with `tmp/` empty) is not worth it.
    pub(crate) fn clean_stale_tmp(&self) {
        let Ok(entries) = std::fs::read_dir(self.root.join("tmp")) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let pid = name.split('-').nth(1).and_then(|p| p.parse::<i32>().ok());
            if let Some(pid) = pid {
                if !crate::util::proc::pid_exists(pid) {
                    let _ = crate::util::fsutil::remove_tree(&e.path());
                }
            }
        }
    }
}

fn default_root() -> Result<PathBuf> {
    if let Some(root) = std::env::var_os("BERTH_ROOT").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(root));
    }
    if let Some(data) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(data).join("berth"));
    }
    let home = std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .context("finding the store: neither BERTH_ROOT, XDG_DATA_HOME nor HOME is set; set BERTH_ROOT to a directory berth may use")?;
    Ok(PathBuf::from(home).join(".local/share/berth"))
}

fn default_run_dir() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
        Some(dir) if Path::new(&dir).is_dir() => PathBuf::from(dir).join("berth"),
        _ => PathBuf::from(format!("/tmp/berth-{}", host_uid())),
    }
}

/// Our uid as the host sees it: inside berth's user namespace we are 0,
/// but the runtime directory belongs to the user who ran berth.
fn host_uid() -> u32 {
    let own = nix::unistd::geteuid().as_raw();
    std::fs::read_to_string("/proc/self/uid_map")
        .ok()
        .and_then(|map| host_id_of(&map, own))
        .unwrap_or(own)
}

/// The outside id that `inside` maps to, from a uid_map's lines
/// (`inside outside count`).
fn host_id_of(map: &str, inside: u32) -> Option<u32> {
    map.lines().find_map(|line| {
        let mut f = line.split_whitespace().map(|n| n.parse::<u64>().ok());
        let (Some(Some(start)), Some(Some(outside)), Some(Some(count))) =
            (f.next(), f.next(), f.next())
        else {
            return None;
        };
        let inside = u64::from(inside);
        (inside >= start && inside < start + count).then(|| (outside + inside - start) as u32)
    })
}

#[cfg(test)]
pub(crate) fn test_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("root"), dir.path().join("run")).unwrap();
    (dir, store)
}

#[cfg(test)]
mod tests {
    #[test]
    fn host_ids_come_from_the_map() {
        assert_eq!(
            super::host_id_of("         0       1000          1\n", 0),
            Some(1000)
        );
        assert_eq!(
            super::host_id_of("0 1000 1\n1 100000 65536\n", 1000),
            Some(100999)
        );
        assert_eq!(super::host_id_of("0 0 4294967295\n", 0), Some(0));
        assert_eq!(super::host_id_of("0 1000 1\n", 5), None);
    }
}
