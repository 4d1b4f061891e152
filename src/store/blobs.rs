//! Content-addressed blobs (manifests, configs): written once, verified
//! against their digest on write and on read.

use super::Store;
use crate::util::digest::{digest_hex, sha256_digest};
use crate::util::fsutil::write_atomic;
use anyhow::{bail, Context, Result};
use std::path::PathBuf;

impl Store {
    pub(crate) fn blob_path(&self, digest: &str) -> Result<PathBuf> {
        Ok(self.root.join("blobs/sha256").join(digest_hex(digest)?))
    }

    /// Stores `data` under its own digest and returns that digest.
    pub fn put_blob(&self, data: &[u8]) -> Result<String> {
        let digest = sha256_digest(data);
        let path = self.blob_path(&digest)?;
        if !path.exists() {
            write_atomic(&path, data)?;
        }
        Ok(digest)
    }

    /// Stores `data`, which must have the given digest.
    pub(crate) fn put_blob_expecting(&self, digest: &str, data: &[u8]) -> Result<()> {
        let actual = sha256_digest(data);
        if actual != digest {
            bail!("content does not match its digest: expected {digest}, got {actual}");
        }
        self.put_blob(data).map(|_| ())
    }

    /// Reads a blob and checks it still matches its name; a blob this
    /// store lacks is read from the additional image stores.
    pub(crate) fn get_blob(&self, digest: &str) -> Result<Vec<u8>> {
        let mut path = self.blob_path(digest)?;
        if !path.exists() {
            if let Some(p) = self
                .image_stores()
                .iter()
                .filter_map(|s| s.blob_path(digest).ok())
                .find(|p| p.exists())
            {
                path = p;
            }
        }
        let data = std::fs::read(&path).with_context(|| format!("reading blob {digest}"))?;
        let actual = sha256_digest(&data);
        if actual != digest {
            bail!("blob {digest} in the store is corrupt (its content hashes to {actual}); remove the image and load or pull it again");
        }
        Ok(data)
    }

    pub(crate) fn remove_blob(&self, digest: &str) -> Result<()> {
        match std::fs::remove_file(self.blob_path(digest)?) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::store::test_store;

    #[test]
    fn blobs_round_trip_and_detect_corruption() {
        let (_d, store) = test_store();
        let digest = store.put_blob(b"{}").unwrap();
        assert_eq!(store.get_blob(&digest).unwrap(), b"{}");
        std::fs::write(store.blob_path(&digest).unwrap(), b"{ }").unwrap();
        assert!(store
            .get_blob(&digest)
            .unwrap_err()
            .to_string()
            .contains("corrupt"));
        assert!(store.put_blob_expecting(&digest, b"nope").is_err());
    }
}
