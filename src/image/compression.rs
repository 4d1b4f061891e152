//! Layer compression, recognised by magic bytes rather than by media type:
//! archives in the wild label layers inconsistently (`docker save` calls a
//! plain tar `layer.tar`, OCI layouts may hold gzip or zstd blobs).

use std::io::{self, BufRead, BufReader, Read};

/// The compression of a layer stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compression {
    None,
    Gzip,
    Zstd,
}

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];

impl Compression {
    /// Recognises the compression from the first bytes of a stream.
    pub(crate) fn detect(head: &[u8]) -> Compression {
        if head.starts_with(GZIP_MAGIC) {
            Compression::Gzip
        } else if head.starts_with(ZSTD_MAGIC) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

/// Wraps `reader` in the decoder its first bytes call for.
///
/// Gzip uses `MultiGzDecoder` because Go's gzip reader (and so Docker) reads
/// every member of a multi-member stream; a single-member decoder would
/// silently stop after the first and produce a wrong diff id.
pub(crate) fn decompress<'a, R: Read + 'a>(reader: R) -> io::Result<Box<dyn Read + 'a>> {
    let mut buffered = BufReader::with_capacity(128 * 1024, reader);
    let kind = Compression::detect(fill_at_least(&mut buffered, ZSTD_MAGIC.len())?);
    Ok(match kind {
        Compression::None => Box::new(buffered),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(buffered)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(buffered)?),
    })
}

/// Peeks at up to `n` bytes without consuming them (a short stream gives
/// fewer: a zero-length layer is still a valid, if odd, uncompressed one).
fn fill_at_least<R: Read>(r: &mut BufReader<R>, n: usize) -> io::Result<&[u8]> {
    // BufReader only refills when empty; a first read shorter than the magic
    // number (a pipe delivering a few bytes) is rare enough to accept: the
    // buffer is 128 KiB and the first read of a file or spool fills it.
    let buf = r.fill_buf()?;
    Ok(&buf[..buf.len().min(n)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn round_trip(data: &[u8], compressed: Vec<u8>) {
        let mut out = Vec::new();
        decompress(&compressed[..])
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn detects_and_decodes_each_kind() {
        let data = b"hello layer".repeat(100);
        round_trip(&data, data.clone());
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&data).unwrap();
        round_trip(&data, gz.finish().unwrap());
        round_trip(&data, zstd::encode_all(&data[..], 3).unwrap());
        round_trip(b"", Vec::new());
    }

    #[test]
    fn reads_every_gzip_member() {
        let mut both = Vec::new();
        for part in [&b"first "[..], &b"second"[..]] {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            gz.write_all(part).unwrap();
            both.extend(gz.finish().unwrap());
        }
        round_trip(b"first second", both);
    }
}
