//! The store lock: one `flock` on `<root>/lock`, held for the short
//! critical sections in which metadata changes. Long work (unpacking,
//! downloading) happens outside it, in private temporary directories.

use anyhow::{Context, Result};
use std::fs::{File, OpenOptions};
use std::path::Path;

/// Held exclusive lock; released when dropped (or when the process dies,
/// which is why flock and not a lock file is used).
pub struct StoreLock {
    _file: File,
}

impl StoreLock {
    pub(crate) fn exclusive(path: &Path) -> Result<StoreLock> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .with_context(|| format!("opening the store lock {}", path.display()))?;
        file.lock().with_context(|| {
            format!(
                "locking {} (on NFS, flock needs lock support; put BERTH_ROOT on a local disk)",
                path.display()
            )
        })?;
        Ok(StoreLock { _file: file })
    }
}
