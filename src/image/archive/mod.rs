//! Image archives: `load` reads what `docker save` and `skopeo copy
//! oci-archive:` write, `save` writes Docker's classic layout.
//!
//! An archive is indexed once (entry name → offset and size) and then read
//! in any order: `docker save` may put manifest.json after the layers, and
//! layers are looked up by the names manifest.json gives.

pub(crate) mod load;
pub(crate) mod save;

use crate::image::compression::{decompress, Compression};
use crate::store::Store;
use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// What an archive entry is, for lookups by name.
#[derive(Debug, Clone)]
enum Slot {
    File {
        offset: u64,
        size: u64,
    },
    /// Symlinks and hardlinks, by normalized target name: older `docker
    /// save` links layers shared between images to one copy.
    Link(String),
}

/// An indexed, seekable image archive.
pub(crate) struct Archive {
    file: File,
    entries: HashMap<String, Slot>,
    /// A spool made for a pipe or a compressed archive, removed on drop.
    spool: Option<PathBuf>,
}

impl Drop for Archive {
    fn drop(&mut self) {
        if let Some(dir) = &self.spool {
            let _ = crate::util::fsutil::remove_tree(dir);
        }
    }
}

impl Archive {
    /// Opens `path`, or standard input when `None`. Pipes and compressed
    /// archives (`docker save | gzip`) are first spooled, uncompressed, to
    /// a temporary file of the store so that entries can be read in any
    /// order.
    pub(crate) fn open(store: &Store, path: Option<&Path>) -> Result<Archive> {
        let what = path.map_or("standard input".to_string(), |p| p.display().to_string());
        let mut file = match path {
            Some(p) => File::open(p).with_context(|| format!("opening {}", p.display()))?,
            None => File::from(std::io::stdin().lock().as_fd_owned()?),
        };
        let seekable = file.metadata().map(|m| m.is_file()).unwrap_or(false);
        let mut head = [0u8; 4];
        let compressed = seekable && {
            let n = read_head(&mut file, &mut head)?;
            file.seek(SeekFrom::Start(0))?;
            Compression::detect(&head[..n]) != Compression::None
        };
        let (file, spool) = if seekable && !compressed {
            (file, None)
        } else {
            let dir = store.temp_dir("load")?;
            let spool_path = dir.join("archive.tar");
            let mut out = File::options()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&spool_path)
                .with_context(|| format!("creating {}", spool_path.display()))?;
            let copied = decompress(file)
                .and_then(|mut r| io::copy(&mut r, &mut out))
                .with_context(|| format!("reading the archive from {what}"));
            if let Err(e) = copied {
                let _ = crate::util::fsutil::remove_tree(&dir);
                return Err(e);
            }
            (out, Some(dir))
        };
        let mut archive = Archive {
            file,
            entries: HashMap::new(),
            spool,
        };
        archive
            .index()
            .with_context(|| format!("reading the archive {what}"))?;
        Ok(archive)
    }

    fn index(&mut self) -> Result<()> {
        self.file.seek(SeekFrom::Start(0))?;
        let mut tar = tar::Archive::new(&self.file);
        for entry in tar.entries_with_seek()? {
            let entry = entry?;
            let name = normalize(&entry.path_bytes());
            let kind = entry.header().entry_type();
            let slot = if kind.is_file() || kind == tar::EntryType::Continuous {
                Slot::File {
                    offset: entry.raw_file_position(),
                    size: entry.size(),
                }
            } else if kind.is_symlink() || kind.is_hard_link() {
                let target = entry.link_name_bytes().unwrap_or_default();
                let target = String::from_utf8_lossy(&target).into_owned();
                let resolved = if kind.is_symlink() && !target.starts_with('/') {
                    // Symlink targets are relative to the link's directory.
                    let dir = name.rsplit_once('/').map_or("", |(d, _)| d);
                    normalize(format!("{dir}/{target}").as_bytes())
                } else {
                    normalize(target.as_bytes())
                };
                Slot::Link(resolved)
            } else {
                continue;
            };
            self.entries.insert(name, slot);
        }
        Ok(())
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        self.entries.contains_key(&normalize(name.as_bytes()))
    }

    /// A reader over the content of entry `name`, links followed.
    pub(crate) fn entry(&self, name: &str) -> Result<EntryReader<'_>> {
        let mut name = normalize(name.as_bytes());
        for _ in 0..16 {
            match self.entries.get(&name) {
                Some(Slot::File { offset, size }) => {
                    return Ok(EntryReader {
                        file: &self.file,
                        pos: *offset,
                        end: offset + size,
                    })
                }
                Some(Slot::Link(target)) => name = target.clone(),
                None => bail!("the archive has no file {name}"),
            }
        }
        bail!("too many levels of links at {name} in the archive")
    }

    /// The whole content of a small entry (manifests, configs).
    pub(crate) fn read(&self, name: &str) -> Result<Vec<u8>> {
        let mut data = Vec::new();
        self.entry(name)?
            .read_to_end(&mut data)
            .with_context(|| format!("reading {name} from the archive"))?;
        Ok(data)
    }
}

/// Reads a section of the archive file with positioned reads, so that
/// several can be open at once.
pub(crate) struct EntryReader<'a> {
    file: &'a File,
    pos: u64,
    end: u64,
}

impl Read for EntryReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf.len().min((self.end - self.pos) as usize);
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the archive is truncated",
            ));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

fn read_head(file: &mut File, head: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// `./a//b/` → `a/b`, as entry names and manifest references are compared.
fn normalize(raw: &[u8]) -> String {
    let s = String::from_utf8_lossy(raw);
    crate::util::path::clean(std::path::Path::new(s.as_ref()))
        .relative()
        .to_string_lossy()
        .into_owned()
}

trait StdinFd {
    fn as_fd_owned(&self) -> io::Result<std::os::fd::OwnedFd>;
}

impl StdinFd for std::io::StdinLock<'_> {
    /// A duplicate of descriptor 0, so that a regular file given as
    /// standard input (`berth load < x.tar`) can be seeked like `-i`.
    fn as_fd_owned(&self) -> io::Result<std::os::fd::OwnedFd> {
        use std::os::fd::AsFd;
        self.as_fd().try_clone_to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_names() {
        assert_eq!(normalize(b"./a//b/"), "a/b");
        assert_eq!(normalize(b"abc/../def/layer.tar"), "def/layer.tar");
    }

    #[test]
    fn indexes_entries_and_follows_links() {
        let (_d, store) = crate::store::test_store();
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(5);
        b.append_data(&mut h, "./one/layer.tar", &b"hello"[..])
            .unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, "two/layer.tar", "../one/layer.tar")
            .unwrap();
        let data = b.into_inner().unwrap();
        let path = store.root().join("a.tar");
        std::fs::write(&path, &data).unwrap();
        let a = Archive::open(&store, Some(&path)).unwrap();
        assert_eq!(a.read("two/layer.tar").unwrap(), b"hello");
        assert!(a.contains("one/layer.tar"));
        assert!(a.read("three").is_err());

        // The same archive gzip'd is spooled and reads the same.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &data).unwrap();
        std::fs::write(&path, gz.finish().unwrap()).unwrap();
        let a = Archive::open(&store, Some(&path)).unwrap();
        assert_eq!(a.read("one/layer.tar").unwrap(), b"hello");
    }
}
