//! SHA-256 digests in the `sha256:<hex>` form that image ids, layer diff
//! ids and blob names use, and readers/writers that hash what passes.

use sha2::{Digest as _, Sha256};
use std::io::{self, Read, Write};

/// Prefix of every digest berth writes; other algorithms are refused when
/// parsed so that a store never holds a blob it cannot verify.
pub(crate) const SHA256_PREFIX: &str = "sha256:";

/// `sha256:<hex>` of a byte slice.
pub(crate) fn sha256_digest(data: &[u8]) -> String {
    format!("{SHA256_PREFIX}{}", hex::encode(Sha256::digest(data)))
}

/// `sha256:<hex>` of a file's contents.
pub(crate) fn sha256_file(path: &std::path::Path) -> anyhow::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Hasher::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(h.finish());
        }
        h.update(&buf[..n]);
    }
}

/// The 64 hex characters of a `sha256:` digest, checked for shape.
pub(crate) fn digest_hex(digest: &str) -> anyhow::Result<&str> {
    let hex = digest.strip_prefix(SHA256_PREFIX).ok_or_else(|| {
        anyhow::anyhow!("unsupported digest {digest:?}: only sha256 is supported")
    })?;
    if !is_sha256_hex(hex) {
        anyhow::bail!(
            "invalid digest {digest:?}: expected sha256: and 64 lowercase hex characters"
        );
    }
    Ok(hex)
}

/// True for exactly 64 lowercase hex characters.
pub(crate) fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Running SHA-256 that can be fed piecewise.
#[derive(Default, Clone)]
pub(crate) struct Hasher(Sha256);

impl Hasher {
    pub(crate) fn new() -> Self {
        Self(Sha256::new())
    }
    pub(crate) fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }
    /// `sha256:<hex>` of everything fed so far.
    pub(crate) fn finish(self) -> String {
        format!("{SHA256_PREFIX}{}", hex::encode(self.0.finalize()))
    }
}

/// A reader that hashes and counts every byte read through it.
pub(crate) struct HashingReader<R> {
    inner: R,
    hasher: Hasher,
    count: u64,
}

impl<R: Read> HashingReader<R> {
    pub(crate) fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: Hasher::new(),
            count: 0,
        }
    }
    /// Digest and byte count of what was read.
    pub(crate) fn finish(self) -> (String, u64) {
        (self.hasher.finish(), self.count)
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// A writer that hashes and counts every byte written through it.
pub(crate) struct HashingWriter<W> {
    inner: W,
    hasher: Hasher,
    count: u64,
}

impl<W: Write> HashingWriter<W> {
    pub(crate) fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Hasher::new(),
            count: 0,
        }
    }
    pub(crate) fn finish(self) -> (W, String, u64) {
        (self.inner, self.hasher.finish(), self.count)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_of_empty_input_is_the_well_known_one() {
        assert_eq!(
            sha256_digest(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn digest_hex_rejects_other_algorithms_and_bad_shapes() {
        assert!(digest_hex("sha512:abcd").is_err());
        assert!(digest_hex("sha256:ABC").is_err());
        let d = sha256_digest(b"x");
        assert_eq!(digest_hex(&d).unwrap().len(), 64);
    }

    #[test]
    fn hashing_reader_matches_one_shot_digest() {
        let mut r = HashingReader::new(&b"hello world"[..]);
        std::io::copy(&mut r, &mut std::io::sink()).unwrap();
        let (d, n) = r.finish();
        assert_eq!(n, 11);
        assert_eq!(d, sha256_digest(b"hello world"));
    }
}
