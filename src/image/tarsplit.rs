//! The tar-split record of a layer: what is needed, besides the unpacked
//! files, to regenerate the exact uncompressed layer tar (and so its diff
//! id) without keeping a second copy of the layer. Like containers/storage's
//! tar-split, it holds the raw bytes of everything that is not file content
//! (headers, PAX and GNU long-name records, padding, end-of-archive blocks,
//! trailing bytes, the content of entries that were not extracted) and, for
//! file contents, a reference to the unpacked file.
//!
//! Format (gzip-compressed): the magic `BERTHTS1`, then records:
//! `R <u64 len> <bytes>` raw bytes, `F <u64 size> <u32 len> <path>` the
//! first `size` bytes of the file at `path` (relative to the layer
//! directory). Integers are little-endian.

use crate::store::Store;
use crate::util::digest::HashingWriter;
use anyhow::{bail, Context, Result};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::Path;

const MAGIC: &[u8; 8] = b"BERTHTS1";
const TAG_RAW: u8 = b'R';
const TAG_FILE: u8 = b'F';

/// One piece of the tar stream.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Piece {
    Raw(Vec<u8>),
    /// `size` bytes taken from the file at `path`, relative to the layer dir.
    File {
        path: String,
        size: u64,
    },
}

/// The pieces of a tar stream, in order.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct TarSplit {
    pieces: Vec<Piece>,
}

impl TarSplit {
    pub(crate) fn pieces(&self) -> &[Piece] {
        &self.pieces
    }

    /// Appends raw bytes, merged with a raw piece just before.
    pub(crate) fn push_raw(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if let Some(Piece::Raw(last)) = self.pieces.last_mut() {
            last.extend_from_slice(bytes);
        } else {
            self.pieces.push(Piece::Raw(bytes.to_vec()));
        }
    }

    pub(crate) fn push_file(&mut self, path: String, size: u64) {
        self.pieces.push(Piece::File { path, size });
    }

    /// Rewrites references to `from` and to files under it so that they
    /// name `to` instead (the entry was moved aside); true if any did.
    pub(crate) fn rename_prefix(&mut self, from: &str, to: &str) -> bool {
        let mut any = false;
        for piece in &mut self.pieces {
            if let Piece::File { path, .. } = piece {
                let rest = match path.strip_prefix(from) {
                    Some("") => Some(String::new()),
                    Some(r) if r.starts_with('/') => Some(r.to_string()),
                    _ => None,
                };
                if let Some(rest) = rest {
                    *path = format!("{to}{rest}");
                    any = true;
                }
            }
        }
        any
    }

    pub(crate) fn write_to(&self, path: &Path) -> Result<()> {
        let file =
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
        let mut gz =
            flate2::write::GzEncoder::new(BufWriter::new(file), flate2::Compression::fast());
        gz.write_all(MAGIC)?;
        for piece in &self.pieces {
            match piece {
                Piece::Raw(bytes) => {
                    gz.write_all(&[TAG_RAW])?;
                    gz.write_all(&(bytes.len() as u64).to_le_bytes())?;
                    gz.write_all(bytes)?;
                }
                Piece::File { path, size } => {
                    gz.write_all(&[TAG_FILE])?;
                    gz.write_all(&size.to_le_bytes())?;
                    gz.write_all(&(path.len() as u32).to_le_bytes())?;
                    gz.write_all(path.as_bytes())?;
                }
            }
        }
        let file = gz
            .finish()?
            .into_inner()
            .map_err(|e| e.into_error())
            .with_context(|| format!("writing {}", path.display()))?;
        file.sync_all()
            .with_context(|| format!("syncing {}", path.display()))
    }

    pub(crate) fn read_from(path: &Path) -> Result<TarSplit> {
        let file =
            std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let mut r = flate2::read::GzDecoder::new(BufReader::new(file));
        Self::decode(&mut r).with_context(|| format!("reading the tar-split {}", path.display()))
    }

    fn decode(r: &mut impl Read) -> Result<TarSplit> {
        let mut magic = [0u8; 8];
        r.read_exact(&mut magic)?;
        if &magic != MAGIC {
            bail!("not a berth tar-split record (bad magic)");
        }
        let mut split = TarSplit::default();
        loop {
            let mut tag = [0u8; 1];
            match r.read(&mut tag)? {
                0 => return Ok(split),
                _ => match tag[0] {
                    TAG_RAW => {
                        let len = read_u64(r)?;
                        let mut bytes = Vec::new();
                        r.take(len).read_to_end(&mut bytes)?;
                        if bytes.len() as u64 != len {
                            bail!("truncated raw record");
                        }
                        split.pieces.push(Piece::Raw(bytes));
                    }
                    TAG_FILE => {
                        let size = read_u64(r)?;
                        let mut len = [0u8; 4];
                        r.read_exact(&mut len)?;
                        let len = u64::from(u32::from_le_bytes(len));
                        // Grown as bytes arrive: a length from a damaged
                        // record must not allocate gigabytes up front.
                        let mut path = Vec::new();
                        r.take(len).read_to_end(&mut path)?;
                        if path.len() as u64 != len {
                            bail!("truncated file record");
                        }
                        let path =
                            String::from_utf8(path).context("file reference is not UTF-8")?;
                        split.pieces.push(Piece::File { path, size });
                    }
                    other => bail!("unknown record tag {other:#x}"),
                },
            }
        }
    }
}

fn read_u64(r: &mut impl Read) -> io::Result<u64> {
    let mut b = [0u8; 8];
    r.read_exact(&mut b)?;
    Ok(u64::from_le_bytes(b))
}

/// Streams the layer tar recorded in `layer_dir` (its `tar-split.gz` and
/// files) to `out`; returns the digest and size of what was written.
pub(crate) fn regenerate_from(layer_dir: &Path, out: &mut dyn Write) -> Result<(String, u64)> {
    let split = TarSplit::read_from(&layer_dir.join("tar-split.gz"))?;
    // File references are resolved inside the layer directory so that a
    // tampered reference (`../../etc/shadow`) cannot read outside it.
    let root = pathrs::Root::open(layer_dir)
        .with_context(|| format!("opening layer directory {}", layer_dir.display()))?;
    let mut w = HashingWriter::new(out);
    for piece in split.pieces() {
        match piece {
            Piece::Raw(bytes) => w.write_all(bytes)?,
            Piece::File { path, size } => {
                let file = root
                    .open_subpath(path, pathrs::flags::OpenFlags::O_RDONLY)
                    .with_context(|| format!("opening layer file {path}"))?;
                let copied = io::copy(&mut file.take(*size), &mut w)
                    .with_context(|| format!("reading layer file {path}"))?;
                if copied != *size {
                    bail!("layer file {path} is shorter than recorded ({copied} of {size} bytes): the layer was changed after it was unpacked");
                }
            }
        }
    }
    w.flush()?;
    let (_, digest, size) = w.finish();
    Ok((digest, size))
}

/// Writes the exact uncompressed tar of layer `diff_id` to `out`, and fails
/// if what was written does not hash to `diff_id` (the layer's files were
/// changed in the store). The size to expect is [`layer_tar_size`].
pub(crate) fn regenerate(store: &Store, diff_id: &str, out: &mut dyn Write) -> Result<()> {
    let dir = store.layer_dir(diff_id)?;
    let (digest, _) =
        regenerate_from(&dir, out).with_context(|| format!("regenerating layer {diff_id}"))?;
    if digest != diff_id {
        bail!("regenerating layer {diff_id}: the regenerated tar hashes to {digest}, so the layer's files in the store were modified; remove the images that use it and load or pull them again");
    }
    Ok(())
}

/// The size of the uncompressed tar of a layer in the store.
pub(crate) fn layer_tar_size(store: &Store, diff_id: &str) -> Result<u64> {
    store.layer(diff_id).map(|l| l.size).with_context(|| {
        format!(
            "layer {diff_id} is missing from the store; remove the image and load or pull it again"
        )
    })
}

#[cfg(test)]
#[path = "tarsplit_props.rs"]
mod props;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_merge_raw_pieces() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = TarSplit::default();
        s.push_raw(b"ab");
        s.push_raw(b"cd");
        s.push_file("diff/x".into(), 3);
        s.push_raw(b"");
        s.push_raw(b"ef");
        assert_eq!(s.pieces().len(), 3);
        let p = dir.path().join("ts.gz");
        s.write_to(&p).unwrap();
        assert_eq!(TarSplit::read_from(&p).unwrap(), s);
    }

    #[test]
    fn renames_exact_paths_and_children_only() {
        let mut s = TarSplit::default();
        s.push_file("diff/a".into(), 1);
        s.push_file("diff/a/b".into(), 1);
        s.push_file("diff/ab".into(), 1);
        assert!(s.rename_prefix("diff/a", "shadow/0"));
        let paths: Vec<_> = s
            .pieces()
            .iter()
            .map(|p| match p {
                Piece::File { path, .. } => path.as_str(),
                _ => "",
            })
            .collect();
        assert_eq!(paths, ["shadow/0", "shadow/0/b", "diff/ab"]);
        assert!(!s.rename_prefix("diff/zz", "shadow/1"));
    }

    #[test]
    fn a_reference_cannot_leave_the_layer_dir() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("secret");
        std::fs::write(&outside, b"secret").unwrap();
        let layer = dir.path().join("layer");
        std::fs::create_dir(&layer).unwrap();
        let mut s = TarSplit::default();
        s.push_file("../secret".into(), 6);
        s.write_to(&layer.join("tar-split.gz")).unwrap();
        let mut out = Vec::new();
        assert!(regenerate_from(&layer, &mut out).is_err());
        assert!(out.is_empty());
    }
}
