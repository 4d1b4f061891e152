//! File operations with the durability rules of the store: a metadata file
//! is either its old or its new content, never a torn mix.

use anyhow::{Context, Result};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Writes `data` to `path` through a temporary file in the same directory,
/// fsyncs it, renames it over `path` and fsyncs the directory, so that a
/// crash leaves either the old or the new content.
pub(crate) fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    replace_file(path, data, true)
}

/// Replaces `path` atomically (temporary file, rename) without waiting
/// for the disk: for state that is rewritten often and that a crash may
/// lose (a container's runtime state is re-derived from its processes).
pub(crate) fn write_atomic_relaxed(path: &Path, data: &[u8]) -> Result<()> {
    replace_file(path, data, false)
}

fn replace_file(path: &Path, data: &[u8], durable: bool) -> Result<()> {
    let dir = path
        .parent()
        .context("atomic write target has no parent directory")?;
    let name = path
        .file_name()
        .context("atomic write target has no file name")?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| -> Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(&tmp)
            .with_context(|| format!("creating {}", tmp.display()))?;
        f.write_all(data)
            .with_context(|| format!("writing {}", tmp.display()))?;
        if durable {
            f.sync_all()
                .with_context(|| format!("syncing {}", tmp.display()))?;
        }
        fs::rename(&tmp, path).with_context(|| format!("renaming into {}", path.display()))?;
        if durable {
            sync_dir(dir)?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Serializes `value` as pretty JSON and writes it atomically.
pub(crate) fn write_json_atomic<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let data = serde_json::to_vec_pretty(value).context("serializing metadata")?;
    write_atomic(path, &data)
}

/// Reads and parses a JSON file, naming the file on failure.
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let data = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_slice(&data).with_context(|| format!("parsing {}", path.display()))
}

/// fsync of a directory, so that a rename or create in it is durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing directory {}", dir.display()))
}

/// Creates a directory (and parents) with the given mode; an existing one is fine.
pub(crate) fn create_dir_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(path)
        .with_context(|| format!("creating directory {}", path.display()))
}

/// Removes a directory tree; a missing one is not an error. Directories
/// without write permission (an image may ship `dr-xr-xr-x` ones) are made
/// writable first so that the tree can be emptied.
pub(crate) fn remove_tree(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("inspecting {}", path.display())),
        Ok(m) if !m.is_dir() => {
            return fs::remove_file(path).with_context(|| format!("removing {}", path.display()))
        }
        Ok(_) => {}
    }
    if fs::remove_dir_all(path).is_ok() {
        return Ok(());
    }
    make_tree_writable(path);
    fs::remove_dir_all(path).with_context(|| format!("removing {}", path.display()))
}

/// The bytes a tree takes (apparent sizes of its files), without following
/// symlinks; unreadable parts count as empty.
pub(crate) fn tree_size(path: &Path) -> u64 {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    fs::read_dir(path).map_or(0, |entries| {
        entries.flatten().map(|e| tree_size(&e.path())).sum()
    })
}

fn make_tree_writable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = fs::symlink_metadata(path) else {
        return;
    };
    if !meta.is_dir() {
        return;
    }
    let mode = meta.permissions().mode();
    if mode & 0o700 != 0o700 {
        let _ = fs::set_permissions(path, fs::Permissions::from_mode(mode | 0o700));
    }
    if let Ok(entries) = fs::read_dir(path) {
        for e in entries.flatten() {
            make_tree_writable(&e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_content_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn remove_tree_handles_read_only_directories() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path().join("t");
        fs::create_dir_all(t.join("ro/sub")).unwrap();
        fs::write(t.join("ro/sub/f"), b"x").unwrap();
        fs::set_permissions(t.join("ro"), fs::Permissions::from_mode(0o555)).unwrap();
        remove_tree(&t).unwrap();
        assert!(!t.exists());
        remove_tree(&t).unwrap();
    }
}
