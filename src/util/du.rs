//! How much a directory tree holds, as Docker's `directory.Size` counts it
//! for `ps -s`, `system df` and the prunes: the apparent sizes of the files
//! under it, each inode once, symlinks not followed.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Bytes under `path`; unreadable parts count as nothing.
pub(crate) fn tree_size(path: &Path) -> u64 {
    let mut seen = HashSet::new();
    walk(path, &mut seen)
}

fn walk(path: &Path, seen: &mut HashSet<(u64, u64)>) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if meta.is_dir() {
        let Ok(entries) = std::fs::read_dir(path) else {
            return 0;
        };
        return entries.flatten().map(|e| walk(&e.path(), seen)).sum();
    }
    // A file with several links counts once.
    if meta.nlink() > 1 && !seen.insert((meta.dev(), meta.ino())) {
        return 0;
    }
    meta.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_files_once_and_not_directories() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("a"), b"12345").unwrap();
        std::fs::write(dir.path().join("sub/b"), b"123").unwrap();
        std::fs::hard_link(dir.path().join("a"), dir.path().join("sub/a2")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("link")).unwrap();
        let link_len = std::fs::symlink_metadata(dir.path().join("link"))
            .unwrap()
            .len();
        assert_eq!(tree_size(dir.path()), 8 + link_len);
        assert_eq!(tree_size(&dir.path().join("nothing")), 0);
    }
}
