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
//! networks/<id>/            network.json and leases/ (see `networks`)
//! compose/<project>/        secrets and configs compose wrote for a project
//! tmp/                      work in progress, removed when its owner is gone
//! notices/<key>             warnings already given for this store (said once)
//! build-cache/              step results of builds and RUN cache mounts (`build_cache`)
//! run/                      runtime directory when the usual ones are unsafe
//! ```
//!
//! Where the store and the runtime directory go is decided in
//! `placement` and `rundir`; read-only additional image stores are in
//! `image_stores`.

pub(crate) mod blobs;
pub(crate) mod build_cache;
pub(crate) mod compose;
pub(crate) mod containers;
pub(crate) mod events;
pub(crate) mod fstype;
pub(crate) mod image_stores;
pub mod images;
pub mod layers;
pub(crate) mod lock;
pub(crate) mod networks;
pub(crate) mod placement;
pub(crate) mod rundir;
pub(crate) mod skeleton;
pub(crate) mod sweep;
pub(crate) mod volumes;

use crate::util::fsutil::create_dir_mode;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

pub use lock::StoreLock;

/// An opened store: its root, the per-user runtime directory, and the
/// read-only additional image stores it looks into.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
    run_dir: PathBuf,
    image_stores: Vec<image_stores::ImageStore>,
    /// Mode of the directories that hold images (blobs, layers): 0700, or
    /// readable by others when the root is (a store prepared for sharing).
    image_dir_mode: u32,
}

/// The mode of a store's image directories for a root of mode
/// `root_mode`: a root that others may enter is a store prepared to be
/// shared read-only (see `Store::open`), whose image directories are
/// readable too.
fn image_dir_mode_for(root_mode: u32) -> u32 {
    let root_mode = root_mode & 0o755;
    if root_mode & 0o055 != 0 {
        root_mode | 0o700
    } else {
        0o700
    }
}

impl Store {
    /// Opens (and creates if needed) the store named by the environment:
    /// `$BERTH_ROOT`, else `$XDG_DATA_HOME/berth` (`~/.local/share/berth`)
    /// unless that is a new store on a network filesystem, which goes to
    /// node-local space (see `placement`). Warnings about the placement
    /// and the runtime directory are given once per store.
    pub(crate) fn open_default() -> Result<Store> {
        let choice = placement::choose_root(&placement::RootInputs::from_env())?;
        let mut store = Store::open(choice.root.clone(), PathBuf::new())?;
        crate::util::trace::step("store: root chosen and opened");
        let xdg = std::env::var_os("XDG_RUNTIME_DIR");
        let run = rundir::choose(&rundir::Inputs {
            xdg_runtime_dir: xdg.as_deref(),
            tmp: Path::new("/tmp"),
            host_uid: host_uid(),
            store_root: &store.root,
        });
        if let Some(w) = rundir::warning(&run) {
            let (path, problem) = &run.refused[0];
            let key = format!("rundir-{}-{problem:?}", path.display());
            placement::warn_once(&store.root, &key, &w);
        }
        let _ = CHOSEN_RUN_DIR.set(run.path.clone());
        store.run_dir = run.path;
        crate::util::trace::step("store: runtime directory checked");
        for (key, w) in placement::placement_warnings(
            &choice,
            placement::filesystem_of(&store.root),
            &store.run_dir,
            placement::filesystem_of(&store.run_dir),
        ) {
            placement::warn_once(&store.root, &key, &w);
        }
        store.image_stores = image_stores::configured(&store.root)
            .into_iter()
            .map(image_stores::ImageStore::new)
            .collect();
        crate::util::trace::step("store: placement and image stores read");
        Ok(store)
    }

    /// The store a command opened (`open_default`) and handed to a process
    /// it started, by its root and runtime directory: nothing is chosen,
    /// created or warned about again (the command did that).
    pub(crate) fn reopen(root: PathBuf, run_dir: PathBuf) -> Result<Store> {
        use std::os::unix::fs::MetadataExt;
        let root_mode = std::fs::metadata(&root)
            .with_context(|| format!("opening the store at {}", root.display()))?
            .mode();
        let image_dir_mode = image_dir_mode_for(root_mode);
        let image_stores = image_stores::configured(&root)
            .into_iter()
            .map(image_stores::ImageStore::new)
            .collect();
        crate::util::trace::step("store: reopened");
        Ok(Store {
            root,
            run_dir,
            image_stores,
            image_dir_mode,
        })
    }

    /// Opens a store at explicit locations, creating its directories.
    pub fn open(root: PathBuf, run_dir: PathBuf) -> Result<Store> {
        create_dir_mode(&root, 0o700)
            .with_context(|| format!("preparing the store at {}", root.display()))?;
        use std::os::unix::fs::MetadataExt;
        // A root that others may enter is a store prepared to be shared
        // read-only (`mkdir -m 755 /shared/x; berth --root /shared/x pull`):
        // its image directories are made readable too.
        let root_mode = std::fs::metadata(&root).map_or(0o700, |m| m.mode());
        let image_dir_mode = image_dir_mode_for(root_mode);
        let store = Store {
            root,
            run_dir,
            image_stores: Vec::new(),
            image_dir_mode,
        };
        for (dir, mode) in [
            ("blobs", image_dir_mode),
            ("blobs/sha256", image_dir_mode),
            ("layers", image_dir_mode),
            ("l", image_dir_mode),
            ("containers", 0o700),
            ("names", 0o700),
            ("volumes", 0o700),
            ("tmp", 0o700),
        ] {
            create_dir_mode(&store.root.join(dir), mode)
                .with_context(|| format!("preparing the store at {}", store.root.display()))?;
        }
        Ok(store)
    }

    /// The additional read-only image stores in effect.
    pub(crate) fn image_stores(&self) -> &[image_stores::ImageStore] {
        &self.image_stores
    }

    /// The mode for directories that hold image content (see `open`).
    pub(crate) fn image_dir_mode(&self) -> u32 {
        self.image_dir_mode
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// Where the runtime directory is, without making it.
    pub(crate) fn run_dir_path(&self) -> &Path {
        &self.run_dir
    }

    /// The runtime directory (attach sockets): `$XDG_RUNTIME_DIR/berth`,
    /// else `/tmp/berth-$UID`, when safe (see `rundir`); created 0700.
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
        let dir = self.temp_path(what);
        create_dir_mode(&dir, 0o700)?;
        Ok(dir)
    }

    /// A fresh name under `tmp/` that carries our pid (see `temp_dir`),
    /// not created.
    pub(crate) fn temp_path(&self, what: &str) -> PathBuf {
        self.root.join("tmp").join(format!(
            "{what}-{}-{}",
            std::process::id(),
            &crate::util::ids::random_id()[..8]
        ))
    }

    /// Writes everything of the store's filesystem to disk (`syncfs`):
    /// one wait instead of an fsync per file, for work that wrote many
    /// (a build's layers and cache records) before it records its result.
    pub(crate) fn sync(&self) -> Result<()> {
        let dir = std::fs::File::open(&self.root)
            .with_context(|| format!("opening {}", self.root.display()))?;
        use std::os::fd::AsRawFd;
        // SAFETY: syncfs takes an open descriptor and nothing else.
        if unsafe { libc::syncfs(dir.as_raw_fd()) } != 0 {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("syncing the store at {}", self.root.display()));
        }
        Ok(())
    }

    /// Removes leftovers of commands that were killed part-way: `tmp/`
    /// entries of dead processes, then what `sweep_interrupted` finds.
    /// Called by the commands that change the store (rm, rmi, prune, load,
    /// import, pull, commit, volume rm), in the user namespace, without the
    /// lock; not by `run`, whose start must not wait for a dead download's
    /// files to be deleted.
    pub(crate) fn clean_stale_tmp(&self) {
        if let Ok(entries) = std::fs::read_dir(self.root.join("tmp")) {
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
        self.sweep_interrupted();
    }
}

/// The runtime directory `Store::open_default` chose in this process.
static CHOSEN_RUN_DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// The runtime directory of the default store (as `Store::open_default`
/// picks it, without its warnings), for what lives there before or
/// without a `Store`: the record of the kept user namespace
/// (`userns::keeper`). The choice already made in this process when
/// there is one (no file system access then); None when no store can be
/// found.
pub(crate) fn default_run_dir() -> Option<PathBuf> {
    if let Some(dir) = CHOSEN_RUN_DIR.get() {
        return Some(dir.clone());
    }
    let root = placement::choose_root(&placement::RootInputs::from_env())
        .ok()?
        .root;
    let xdg = std::env::var_os("XDG_RUNTIME_DIR");
    let run = rundir::choose(&rundir::Inputs {
        xdg_runtime_dir: xdg.as_deref(),
        tmp: Path::new("/tmp"),
        host_uid: host_uid(),
        store_root: &root,
    });
    Some(run.path)
}

/// Our uid as the host sees it: inside berth's user namespace we are 0,
/// but the runtime directory belongs to the user who ran berth.
pub(crate) fn host_uid() -> u32 {
    let own = nix::unistd::geteuid().as_raw();
    std::fs::read_to_string("/proc/self/uid_map")
        .ok()
        .and_then(|map| host_id_of(&map, own))
        .unwrap_or(own)
}

/// The outside id that `inside` maps to, from a uid_map's lines
/// (`inside outside count`).
pub fn host_id_of(map: &str, inside: u32) -> Option<u32> {
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
