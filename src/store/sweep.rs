//! What a command killed part-way (SIGKILL, a crash, a full disk) can
//! leave behind, and its removal. Every change to the store is ordered so
//! that a kill at any point leaves the store consistent — each record
//! appears and disappears with one rename — but some work can be left
//! over, invisible to every listing:
//!
//! - a name reserved in `names/` whose container was never written (a
//!   `create` killed between the two) or is gone (`rm` killed between
//!   moving the container away and freeing its name);
//! - a directory under `containers/` without `config.json` (written by
//!   versions before the records were renamed into place);
//! - a layer directory without `layer.json` (a removal killed part-way),
//!   or a volume directory without `volume.json`;
//! - a temporary file of an atomic write (`.NAME.tmp-PID`) whose writer
//!   is dead, in the root or `blobs/sha256`;
//! - directories under `tmp/` of dead processes (downloads, unpacks,
//!   containers being deleted).
//!
//! [`Store::sweep_interrupted`] removes them, under the store lock, so
//! that no command in progress can be mistaken for a dead one (each of
//! the above is made and consumed within one locked section, except
//! `tmp/`, whose entries carry their owner's pid).

use super::{Store, StoreLock};
use crate::util::fsutil::remove_tree;
use std::path::Path;

impl Store {
    /// Removes the leftovers of interrupted commands (see the module). The
    /// caller is in berth's user namespace (leftovers may hold files of
    /// subordinate ids) and does not hold the lock.
    pub(crate) fn sweep_interrupted(&self) {
        let Ok(lock) = self.lock() else { return };
        self.sweep_names(&lock);
        self.sweep_container_dirs(&lock);
        self.sweep_layers(&lock);
        self.sweep_volumes(&lock);
        for dir in [self.root().to_path_buf(), self.root().join("blobs/sha256")] {
            sweep_atomic_temporaries(&dir);
        }
    }

    fn sweep_names(&self, _lock: &StoreLock) {
        let Ok(entries) = std::fs::read_dir(self.root().join("names")) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let owner = std::fs::read_to_string(e.path()).unwrap_or_default();
            let owner = owner.trim();
            let keep = !owner.is_empty()
                && !owner.contains('/')
                && self.container(owner).is_ok_and(|c| c.name == name);
            if !keep {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }

    fn sweep_container_dirs(&self, _lock: &StoreLock) {
        let Ok(entries) = std::fs::read_dir(self.root().join("containers")) else {
            return;
        };
        for e in entries.flatten() {
            if !e.path().join("config.json").exists() {
                let _ = remove_tree(&e.path());
            }
        }
    }

    /// A volume directory without `volume.json`: a create killed before
    /// its record, or a removal killed after it.
    fn sweep_volumes(&self, _lock: &StoreLock) {
        let Ok(entries) = std::fs::read_dir(self.root().join("volumes")) else {
            return;
        };
        for e in entries.flatten() {
            if !e.path().join("volume.json").exists() {
                let _ = remove_tree(&e.path());
            }
        }
    }

    fn sweep_layers(&self, _lock: &StoreLock) {
        let Ok(entries) = std::fs::read_dir(self.root().join("layers")) else {
            return;
        };
        for e in entries.flatten() {
            if !e.path().join("layer.json").exists() {
                let _ = remove_tree(&e.path());
            }
        }
        // Links to layers that are gone.
        if let Ok(links) = std::fs::read_dir(self.root().join("l")) {
            for l in links.flatten() {
                if std::fs::metadata(l.path()).is_err() {
                    let _ = std::fs::remove_file(l.path());
                }
            }
        }
    }
}

/// `.NAME.tmp-PID` files of `fsutil::write_atomic` whose writer is dead.
fn sweep_atomic_temporaries(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let pid = name
            .strip_prefix('.')
            .and_then(|n| n.rsplit_once(".tmp-"))
            .and_then(|(_, pid)| pid.parse::<i32>().ok());
        if pid.is_some_and(|p| !crate::util::proc::pid_exists(p)) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::model::ContainerRecord;

    #[test]
    fn leftovers_of_interrupted_commands_go_and_the_rest_stays() {
        let (_d, store) = crate::store::test_store();
        let root = store.root().to_path_buf();
        // A container that exists, with its name.
        let lock = store.lock().unwrap();
        let record = ContainerRecord {
            id: "a".repeat(64),
            name: "kept".into(),
            ..Default::default()
        };
        store.create_container(&record, &lock).unwrap();
        drop(lock);
        // A reservation of nothing, one of a gone container, a record-less
        // directory, a half-removed layer, a dead writer's temporary.
        std::fs::write(root.join("names/stale"), "b".repeat(64)).unwrap();
        std::fs::write(root.join("names/empty"), "").unwrap();
        std::fs::create_dir_all(root.join("containers").join("c".repeat(64)).join("upper"))
            .unwrap();
        std::fs::create_dir_all(root.join("layers").join("d".repeat(64)).join("diff")).unwrap();
        std::fs::create_dir_all(root.join("volumes/half/_data")).unwrap();
        std::os::unix::fs::symlink("../layers/gone/diff", root.join("l/0123456789abcdef")).unwrap();
        std::fs::write(root.join(".images.json.tmp-999999999"), "x").unwrap();
        store.sweep_interrupted();
        let names: Vec<_> = std::fs::read_dir(root.join("names"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, ["kept"]);
        assert!(store.container_dir(&record.id).join("config.json").exists());
        assert!(!root.join("containers").join("c".repeat(64)).exists());
        assert!(!root.join("layers").join("d".repeat(64)).exists());
        assert!(!root.join("volumes/half").exists());
        assert!(std::fs::symlink_metadata(root.join("l/0123456789abcdef")).is_err());
        assert!(!root.join(".images.json.tmp-999999999").exists());
    }
}
