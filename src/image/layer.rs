//! Unpacking a layer tar into a private staging directory: `diff/` gets the
//! files, `tar-split.gz` the record that regenerates the exact tar, and the
//! diff id and size are computed from the very bytes that were unpacked.
//!
//! The extractor is ours rather than `tar::Entry::unpack`, because layers
//! need OCI whiteouts, in-root symlink resolution and rootless ownership
//! handling. Every path is resolved with `pathrs` (RESOLVE_IN_ROOT): a
//! symlink `a -> /etc` inside the layer leads to `<layer>/etc`, as in
//! Docker, and nothing is ever created outside `diff/`. The last path
//! component is always handled with `*at` calls that do not follow it.

use super::tarsplit::TarSplit;
use super::whiteout;
use crate::store::Store;
use crate::util::digest::Hasher;
use crate::util::fsutil::remove_tree;
use crate::util::report;
use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use nix::fcntl::{openat, renameat, AtFlags, OFlag};
use nix::sys::stat::{fstatat, mknodat, utimensat, Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchownat, linkat, symlinkat, Gid, Uid};
use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use tar::EntryType;

/// One-time warnings of a command: each is printed once however many
/// layers and files trigger it.
#[derive(Debug, Default)]
pub(crate) struct Notices {
    chown: bool,
    devices: bool,
    xattrs: bool,
}

impl Notices {
    fn chown_failed(&mut self) {
        if !std::mem::replace(&mut self.chown, true) && !crate::userns::single_mapping() {
            report::warning("the user namespace does not map every owner in the image (no or a too small /etc/subuid range?): files owned by other users in the image are owned by root");
        }
    }
    fn device_skipped(&mut self, path: &Path) {
        if !std::mem::replace(&mut self.devices, true) {
            report::warning(&format!(
                "skipping device nodes in the image (first: /{}): creating devices needs real root",
                path.display()
            ));
        }
    }
    fn xattr_failed(&mut self, name: &str, err: &io::Error) {
        if !std::mem::replace(&mut self.xattrs, true) {
            report::warning(&format!("could not set extended attribute {name} on files of the image ({err}); continuing without it"));
        }
    }
}

/// A layer unpacked in a staging directory, ready for `Store::commit_layer`.
/// The staging directory is removed when this is dropped uncommitted.
#[derive(Debug)]
pub(crate) struct UnpackedLayer {
    pub(crate) staging: PathBuf,
    /// What unpacking found: digest and sizes.
    pub(crate) found: Unpacked,
    committed: bool,
}

impl UnpackedLayer {
    pub(crate) fn record(&self) -> crate::store::layers::LayerRecord {
        crate::store::layers::LayerRecord {
            diff_id: self.found.diff_id.clone(),
            size: self.found.size,
            content_size: Some(self.found.content_size),
        }
    }

    /// Moves the layer into the store (the caller holds the lock).
    pub(crate) fn commit(mut self, store: &Store, lock: &crate::store::StoreLock) -> Result<()> {
        store.commit_layer(&self.staging, &self.record(), lock)?;
        self.committed = true;
        Ok(())
    }

    /// Moves the layer into the store without waiting for the disk: for a
    /// build, which makes many layers and syncs the store once before it
    /// records its image (`Store::sync`).
    pub(crate) fn commit_unsynced(
        mut self,
        store: &Store,
        lock: &crate::store::StoreLock,
    ) -> Result<()> {
        store.commit_layer_with(&self.staging, &self.record(), lock, false)?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for UnpackedLayer {
    fn drop(&mut self) {
        if !self.committed {
            let _ = remove_tree(&self.staging);
        }
    }
}

/// Records an image made here (import, commit): its new top layer, its
/// config blob and its record, in one locked section so that garbage
/// collection never sees the layer without its image. `below` are the
/// layers under the new one. Returns the image id.
pub(crate) fn record_image(
    store: &Store,
    layer: UnpackedLayer,
    below: &[String],
    config_bytes: &[u8],
    name: Option<String>,
    created: String,
) -> Result<String> {
    let lock = store.lock()?;
    let mut layers = below.to_vec();
    layers.push(layer.found.diff_id.clone());
    let size = layer.found.content_size
        + below
            .iter()
            .map(|l| store.layer(l).map_or(0, |r| r.shown_size()))
            .sum::<u64>();
    layer.commit(store, &lock)?;
    let id = store.put_blob(config_bytes)?;
    let mut index = store.images()?;
    index.upsert(crate::store::images::ImageRecord {
        id: id.clone(),
        repo_tags: name.into_iter().collect(),
        repo_digests: Vec::new(),
        layers,
        size,
        created: Some(created),
        added: crate::util::humanize::now_rfc3339(),
    });
    store.save_images(&index, &lock)?;
    Ok(id)
}

/// Unpacks an uncompressed layer tar from `reader` into a fresh staging
/// directory of the store.
pub(crate) fn unpack_layer(
    store: &Store,
    reader: impl Read,
    notices: &mut Notices,
) -> Result<UnpackedLayer> {
    let staging = store.temp_dir("layer")?;
    // Made first: dropped on an error, it removes the staging directory.
    let mut layer = UnpackedLayer {
        staging,
        found: Unpacked::default(),
        committed: false,
    };
    layer.found = unpack_into(&layer.staging, reader, notices)?;
    Ok(layer)
}

/// What [`unpack_into`] found in a layer tar.
#[derive(Debug, Default)]
pub(crate) struct Unpacked {
    /// sha256 of every byte of the stream, trailing blocks included.
    pub(crate) diff_id: String,
    /// The stream's size.
    pub(crate) size: u64,
    /// What its files hold, as Docker's `directory.Size` counts an
    /// unpacked layer: the sizes of its regular files (a hard link to one
    /// adds nothing) and the lengths of its symlinks' targets.
    pub(crate) content_size: u64,
}

/// Unpacks a layer tar into `dir/diff` and writes `dir/tar-split.gz`.
pub(crate) fn unpack_into(
    dir: &Path,
    reader: impl Read,
    notices: &mut Notices,
) -> Result<Unpacked> {
    let diff = dir.join("diff");
    std::fs::create_dir(&diff).with_context(|| format!("creating {}", diff.display()))?;
    let tap = Rc::new(RefCell::new(Tap::new(reader, max_layer_size()?)));
    let mut unpacker = Unpacker::new(dir, notices)?;
    let mut archive = tar::Archive::new(TapReader(tap.clone()));
    for entry in archive.entries().context("reading the layer tar")? {
        let mut entry = entry.context("reading the layer tar")?;
        let header_bytes = tap.borrow_mut().take_recorded();
        unpacker.split.push_raw(&header_bytes);
        let shown = entry.path().map(|p| p.into_owned()).unwrap_or_default();
        unpacker
            .entry(&mut entry, &tap)
            .with_context(|| format!("unpacking {}", shown.display()))?;
    }
    drop(archive);
    // The end-of-archive blocks and whatever follows them are part of the
    // diff id, so they are read, hashed and recorded too.
    io::copy(&mut TapReader(tap.clone()), &mut io::sink()).context("reading the layer tar")?;
    let rest = tap.borrow_mut().take_recorded();
    unpacker.split.push_raw(&rest);
    let content_size = unpacker.content_size;
    unpacker.finish()?;
    let tap = Rc::try_unwrap(tap)
        .map_err(|_| anyhow::anyhow!("layer reader still shared"))?
        .into_inner();
    Ok(Unpacked {
        diff_id: tap.hasher.finish(),
        size: tap.count,
        content_size,
    })
}

/// Hashes and counts every byte of the stream and keeps those that are
/// not file contents, which go to the tar-split as raw pieces.
/// A stream longer than `limit` is refused: what a layer writes to disk
/// never exceeds its uncompressed stream (holes are kept, see
/// [`copy_sparse`]), so this bounds both a decompression bomb and the
/// disk a small hostile layer can fill.
struct Tap<R> {
    inner: R,
    hasher: Hasher,
    count: u64,
    limit: u64,
    recording: bool,
    recorded: Vec<u8>,
}

impl<R: Read> Tap<R> {
    fn new(inner: R, limit: u64) -> Self {
        Tap {
            inner,
            hasher: Hasher::new(),
            count: 0,
            limit,
            recording: true,
            recorded: Vec::new(),
        }
    }
    fn take_recorded(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.recorded)
    }
}

trait TapControl {
    fn set_recording(&self, on: bool);
}

impl<R: Read> TapControl for Rc<RefCell<Tap<R>>> {
    fn set_recording(&self, on: bool) {
        self.borrow_mut().recording = on;
    }
}

struct TapReader<R>(Rc<RefCell<Tap<R>>>);

impl<R: Read> Read for TapReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut tap = self.0.borrow_mut();
        let n = tap.inner.read(buf)?;
        tap.hasher.update(&buf[..n]);
        tap.count += n as u64;
        if tap.count > tap.limit {
            return Err(io::Error::other(format!(
                "the layer unpacks to more than {} (the limit set by {MAX_LAYER_SIZE_VAR}); if \
                 the image is trusted and that large, raise the limit, e.g. \
                 {MAX_LAYER_SIZE_VAR}=200G",
                binary_size(tap.limit)
            )));
        }
        if tap.recording {
            tap.recorded.extend_from_slice(&buf[..n]);
        }
        Ok(n)
    }
}

/// The environment variable that sets the most one layer may unpack to.
pub(crate) const MAX_LAYER_SIZE_VAR: &str = "BERTH_MAX_LAYER_SIZE";

/// The default: far above any real layer (CUDA's largest are ~10 GiB),
/// far below what would fill a shared machine's disk from a small tar.
const DEFAULT_MAX_LAYER_SIZE: u64 = 64 << 30;

/// The limit in force: `BERTH_MAX_LAYER_SIZE` (bytes, or with a K, M, G
/// or T suffix, powers of 1024; 0 for no limit), else the default.
fn max_layer_size() -> Result<u64> {
    match std::env::var(MAX_LAYER_SIZE_VAR) {
        Err(_) => Ok(DEFAULT_MAX_LAYER_SIZE),
        Ok(v) => match parse_size(&v) {
            Some(0) => Ok(u64::MAX),
            Some(n) => Ok(n),
            None => bail!(
                "{MAX_LAYER_SIZE_VAR}={v:?} is not a size: use bytes or a number with K, M, G \
                 or T, e.g. 100G (0: no limit)"
            ),
        },
    }
}

/// A size as the limit is written: `64M`, `1G`, or bytes.
fn binary_size(n: u64) -> String {
    for (shift, unit) in [(40, "T"), (30, "G"), (20, "M"), (10, "K")] {
        if n >= 1 << shift && n.is_multiple_of(1 << shift) {
            return format!("{}{unit}", n >> shift);
        }
    }
    format!("{n} bytes")
}

/// `123`, `10K`, `512M`, `64G`, `1T` (powers of 1024; `B`/`iB` allowed).
pub(crate) fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let upper = s.to_ascii_uppercase();
    let t = upper
        .strip_suffix("IB")
        .or_else(|| upper.strip_suffix('B'))
        .unwrap_or(&upper);
    let (digits, shift) = match t.chars().last()? {
        'K' => (&t[..t.len() - 1], 10),
        'M' => (&t[..t.len() - 1], 20),
        'G' => (&t[..t.len() - 1], 30),
        'T' => (&t[..t.len() - 1], 40),
        _ => (t, 0),
    };
    digits
        .trim()
        .parse::<u64>()
        .ok()?
        .checked_mul(1u64 << shift)
}

/// Copies a file's contents and keeps its holes: blocks of zeros are
/// skipped, not written, and the length is set at the end. A sparse tar
/// entry (or a file of zeros) thus takes the disk its data needs, not
/// its apparent size. Returns the bytes read.
fn copy_sparse(reader: &mut impl Read, file: &mut File) -> io::Result<u64> {
    use std::os::unix::fs::FileExt;
    const BLOCK: usize = 4096;
    // Compared with `==`, which is a memcmp even in a debug build.
    static ZEROS: [u8; BLOCK] = [0; BLOCK];
    let is_zero = |b: &[u8]| b == &ZEROS[..b.len()];
    let mut buf = vec![0u8; 256 * 1024];
    let mut pos: u64 = 0;
    loop {
        // Fill the buffer (a tar entry hands out at most what is left).
        let mut n = 0;
        while n < buf.len() {
            match reader.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if n == 0 {
            break;
        }
        let data = &buf[..n];
        let mut start = 0;
        while start < n {
            // Skip zero blocks, then write the run of blocks that are not.
            let end = (start + BLOCK).min(n);
            if is_zero(&data[start..end]) {
                start = end;
                continue;
            }
            let mut run_end = end;
            while run_end < n {
                let next = (run_end + BLOCK).min(n);
                if is_zero(&data[run_end..next]) {
                    break;
                }
                run_end = next;
            }
            file.write_all_at(&data[start..run_end], pos + start as u64)?;
            start = run_end;
        }
        pos += n as u64;
        if n < buf.len() {
            break;
        }
    }
    file.set_len(pos)?;
    Ok(pos)
}

/// Metadata of a tar entry, PAX overrides applied.
struct Meta {
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: TimeSpec,
    xattrs: Vec<(String, Vec<u8>)>,
}

/// A directory whose mode and mtime are applied at the end: its mode may
/// forbid creating its children, and creating them changes its mtime.
struct PendingDir {
    parent: String,
    name: OsString,
    mode: u32,
    mtime: TimeSpec,
}

struct Unpacker<'n> {
    layer_dir: PathBuf,
    /// `diff/` canonicalized, to map `/proc/self/fd` links back to paths.
    diff: PathBuf,
    root: pathrs::Root,
    split: TarSplit,
    pending_dirs: Vec<PendingDir>,
    shadow: Option<OwnedFd>,
    shadowed: u32,
    real_root: bool,
    notices: &'n mut Notices,
    /// [`Unpacked::content_size`] so far.
    content_size: u64,
}

impl<'n> Unpacker<'n> {
    fn new(layer_dir: &Path, notices: &'n mut Notices) -> Result<Self> {
        let diff = layer_dir
            .join("diff")
            .canonicalize()
            .context("resolving the staging directory")?;
        let root = pathrs::Root::open(&diff).context("opening the staging directory")?;
        Ok(Unpacker {
            layer_dir: layer_dir.to_path_buf(),
            diff,
            root,
            split: TarSplit::default(),
            pending_dirs: Vec::new(),
            shadow: None,
            shadowed: 0,
            real_root: is_real_root(),
            notices,
            content_size: 0,
        })
    }

    fn entry<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, TapReader<R>>,
        tap: &Rc<RefCell<Tap<R>>>,
    ) -> Result<()> {
        let path = entry.path()?.into_owned();
        let meta = read_meta(entry)?;
        let kind = entry.header().entry_type();
        let Some((parent_path, name)) = clean_path(&path)? else {
            // The layer's root itself (`./`): only its metadata applies.
            if kind.is_dir() {
                chown_at(self.notices, self.root.as_fd(), OsStr::new("."), &meta);
                self.pending_dirs.push(PendingDir {
                    parent: String::new(),
                    name: ".".into(),
                    mode: meta.mode,
                    mtime: meta.mtime,
                });
            }
            return Ok(());
        };
        let name_str = name.to_string_lossy();
        if name_str.starts_with(whiteout::PREFIX) {
            let parent = self.parent_dir(&parent_path)?;
            return self.whiteout(&parent, &name_str, &meta);
        }
        let parent = self.parent_dir(&parent_path)?;
        let parent_rel = self.real_rel(parent.as_fd())?;
        match kind {
            EntryType::Directory => {
                if !self.exists_as_dir(&parent, &name, &parent_rel)? {
                    nix::sys::stat::mkdirat(
                        &parent,
                        name.as_os_str(),
                        Mode::from_bits_truncate(0o700),
                    )?;
                }
                chown_at(self.notices, parent.as_fd(), &name, &meta);
                let dir = open_nofollow(&parent, &name, OFlag::O_DIRECTORY | OFlag::O_RDONLY)?;
                self.set_xattrs(&File::from(dir), &meta);
                self.pending_dirs.push(PendingDir {
                    parent: parent_rel,
                    name,
                    mode: meta.mode,
                    mtime: meta.mtime,
                });
            }
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                self.make_room(&parent, &name, &parent_rel)?;
                let fd = openat(
                    &parent,
                    name.as_os_str(),
                    OFlag::O_CREAT
                        | OFlag::O_EXCL
                        | OFlag::O_WRONLY
                        | OFlag::O_NOFOLLOW
                        | OFlag::O_CLOEXEC,
                    Mode::from_bits_truncate(0o600),
                )?;
                let mut file = File::from(fd);
                let size = entry.size();
                // Plain file contents are not recorded: the tar-split refers
                // to the file instead. A sparse entry's stream bytes differ
                // from the file's, so they stay recorded, inline.
                let by_reference = kind != EntryType::GNUSparse;
                tap.set_recording(!by_reference);
                let copied = copy_sparse(entry, &mut file);
                tap.set_recording(true);
                let copied = copied?;
                self.content_size += copied;
                if by_reference && copied != size {
                    bail!("the layer tar ends inside this file ({copied} of {size} bytes)");
                }
                if by_reference && size > 0 {
                    let rel = join_rel(&parent_rel, &name);
                    self.split.push_file(format!("diff/{rel}"), size);
                }
                self.chown_fd(&file, &meta);
                self.set_xattrs(&file, &meta);
                // After chown, which clears set-user-id and set-group-id bits.
                nix::sys::stat::fchmod(&file, Mode::from_bits_truncate(meta.mode))?;
                nix::sys::stat::futimens(&file, &meta.mtime, &meta.mtime)?;
            }
            EntryType::Symlink => {
                let target = entry
                    .link_name()?
                    .context("symlink entry without a target")?
                    .into_owned();
                self.make_room(&parent, &name, &parent_rel)?;
                // The target is stored as is; it is only ever resolved
                // inside the rootfs, where `..` and `/` stop at its root.
                symlinkat(target.as_os_str(), &parent, name.as_os_str())?;
                self.content_size += target.as_os_str().len() as u64;
                chown_at(self.notices, parent.as_fd(), &name, &meta);
                set_times_nofollow(&parent, &name, &meta.mtime)?;
            }
            EntryType::Link => {
                let target = entry
                    .link_name()?
                    .context("hardlink entry without a target")?
                    .into_owned();
                let Some((tparent_path, tname)) = clean_path(&target)? else {
                    bail!("hardlink to the layer's root directory");
                };
                let tparent = self
                    .root
                    .resolve(in_root(&tparent_path))
                    .with_context(|| format!("finding hardlink target {}", target.display()))?;
                self.make_room(&parent, &name, &parent_rel)?;
                linkat(
                    &tparent,
                    tname.as_os_str(),
                    &parent,
                    name.as_os_str(),
                    AtFlags::empty(),
                )
                .with_context(|| format!("linking to {}", target.display()))?;
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                let (sflag, dev) = match kind {
                    EntryType::Char => (SFlag::S_IFCHR, device(entry)?),
                    EntryType::Block => (SFlag::S_IFBLK, device(entry)?),
                    _ => (SFlag::S_IFIFO, 0),
                };
                self.make_room(&parent, &name, &parent_rel)?;
                match mknodat(
                    &parent,
                    name.as_os_str(),
                    sflag,
                    Mode::from_bits_truncate(0o600),
                    dev,
                ) {
                    Err(Errno::EPERM) if sflag != SFlag::S_IFIFO => {
                        self.notices.device_skipped(&join_path(&parent_path, &name));
                        return Ok(());
                    }
                    r => r?,
                }
                chown_at(self.notices, parent.as_fd(), &name, &meta);
                nix::sys::stat::fchmodat(
                    &parent,
                    name.as_os_str(),
                    Mode::from_bits_truncate(meta.mode),
                    nix::sys::stat::FchmodatFlags::FollowSymlink,
                )?;
                set_times_nofollow(&parent, &name, &meta.mtime)?;
            }
            // PAX global headers and the like carry no file; their bytes
            // are in the tar-split already.
            _ => {}
        }
        Ok(())
    }

    /// The directory an entry goes in, created (0755, as Docker) if missing.
    fn parent_dir(&self, parent: &Path) -> Result<pathrs::Handle> {
        use std::os::unix::fs::PermissionsExt;
        self.root
            .mkdir_all(in_root(parent), &std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("creating parent directory /{}", parent.display()))
    }

    /// `.wh.name` and `.wh..wh..opq` in their overlay form.
    fn whiteout(&mut self, parent: &pathrs::Handle, name: &str, meta: &Meta) -> Result<()> {
        if name == whiteout::OPAQUE_MARKER {
            let xattr = whiteout::opaque_xattr(self.real_root);
            let dir = File::from(openat(
                parent,
                ".",
                OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )?);
            xattr::FileExt::set_xattr(&dir, xattr, b"y")
                .with_context(|| format!("marking the directory opaque ({xattr})"))?;
            if self.real_root {
                // Root may be preparing a shared image store that users
                // mount rootless (`userxattr`): they read the user.* name.
                let _ = xattr::FileExt::set_xattr(&dir, "user.overlay.opaque", b"y");
            }
            return Ok(());
        }
        let Some(target) = whiteout::deleted_name(name) else {
            return Ok(());
        };
        let target = OsString::from(target);
        if target.is_empty() || target == "." || target == ".." {
            bail!("invalid whiteout name {name:?}");
        }
        let parent_rel = self.real_rel(parent.as_fd())?;
        self.make_room(parent, &target, &parent_rel)?;
        // A 0/0 character device is overlay's whiteout; creating one needs
        // no privilege since Linux 5.8.
        mknodat(parent, target.as_os_str(), SFlag::S_IFCHR, Mode::empty(), 0).context(
            "creating an overlay whiteout (0/0 character device; needs Linux 5.8 or later)",
        )?;
        chown_at(self.notices, parent.as_fd(), &target, meta);
        Ok(())
    }

    /// True if `name` is a directory (kept, as tar merges directories);
    /// anything else there is moved out of the way.
    fn exists_as_dir(
        &mut self,
        parent: &pathrs::Handle,
        name: &OsStr,
        parent_rel: &str,
    ) -> Result<bool> {
        match fstatat(parent, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFDIR => Ok(true),
            Ok(_) => {
                self.move_aside(parent, name, parent_rel)?;
                Ok(false)
            }
            Err(Errno::ENOENT) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Clears the way for a new non-directory entry at `name`.
    fn make_room(&mut self, parent: &pathrs::Handle, name: &OsStr, parent_rel: &str) -> Result<()> {
        match fstatat(parent, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(_) => self.move_aside(parent, name, parent_rel),
            Err(Errno::ENOENT) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// An entry replaced by a later one of the same layer. Files it holds
    /// may still be referenced by the tar-split (the earlier entries'
    /// contents), so it moves to `shadow/` and those references follow;
    /// otherwise it is deleted.
    fn move_aside(
        &mut self,
        parent: &pathrs::Handle,
        name: &OsStr,
        parent_rel: &str,
    ) -> Result<()> {
        if self.shadow.is_none() {
            let dir = self.layer_dir.join("shadow");
            std::fs::create_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
            self.shadow = Some(openat(
                nix::fcntl::AT_FDCWD,
                &dir,
                OFlag::O_DIRECTORY | OFlag::O_PATH | OFlag::O_CLOEXEC,
                Mode::empty(),
            )?);
        }
        let slot = self.shadowed.to_string();
        self.shadowed += 1;
        renameat(
            parent,
            name,
            self.shadow.as_ref().expect("shadow dir"),
            slot.as_str(),
        )
        .context("moving a replaced entry aside")?;
        let old = format!("diff/{}", join_rel(parent_rel, name));
        let new = format!("shadow/{slot}");
        let old_in_diff = &old["diff/".len()..];
        self.pending_dirs.retain(|d| {
            let p = join_rel(&d.parent, &d.name);
            !(p == old_in_diff || p.starts_with(&format!("{old_in_diff}/")))
        });
        if !self.split.rename_prefix(&old, &new) {
            remove_tree(&self.layer_dir.join(&new))?;
        }
        Ok(())
    }

    /// The path of an open directory relative to `diff/`, with every
    /// symlink resolved: what a tar-split reference must name.
    fn real_rel(&self, fd: impl AsFd) -> Result<String> {
        let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_fd().as_raw_fd()))
            .context("reading /proc/self/fd (is /proc mounted?)")?;
        let rel = link
            .strip_prefix(&self.diff)
            .with_context(|| format!("{} is outside the layer being unpacked", link.display()))?;
        rel.to_str()
            .map(str::to_string)
            .context("layer path is not UTF-8")
    }

    fn chown_fd(&mut self, file: &File, meta: &Meta) {
        let r = nix::unistd::fchown(
            file,
            Some(Uid::from_raw(meta.uid as u32)),
            Some(Gid::from_raw(meta.gid as u32)),
        );
        chown_result(self.notices, r);
    }

    /// Best effort, and only the names that mean something in a rootless
    /// container: `user.*` and file capabilities (the kernel stores them
    /// relative to the user namespace). `trusted.*` needs real root and
    /// `security.selinux` labels are the host's business.
    fn set_xattrs(&mut self, file: &File, meta: &Meta) {
        for (name, value) in &meta.xattrs {
            if !(name.starts_with("user.") || name == "security.capability") {
                continue;
            }
            if let Err(e) = xattr::FileExt::set_xattr(file, name, value) {
                self.notices.xattr_failed(name, &e);
            }
        }
    }

    /// Applies deferred directory modes and mtimes, children first, and
    /// writes the tar-split.
    fn finish(mut self) -> Result<()> {
        for d in self.pending_dirs.iter().rev() {
            let dir = if d.name == "." && d.parent.is_empty() {
                File::from(openat(
                    self.root.as_fd(),
                    ".",
                    OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )?)
            } else {
                let parent = self.root.resolve(in_root(Path::new(&d.parent)))?;
                File::from(open_nofollow(
                    &parent,
                    &d.name,
                    OFlag::O_DIRECTORY | OFlag::O_RDONLY,
                )?)
            };
            nix::sys::stat::fchmod(&dir, Mode::from_bits_truncate(d.mode))?;
            nix::sys::stat::futimens(&dir, &d.mtime, &d.mtime)?;
        }
        if self.shadow.take().is_some() {
            // Empty unless some reference needs it.
            let _ = std::fs::remove_dir(self.layer_dir.join("shadow"));
        }
        self.split.write_to(&self.layer_dir.join("tar-split.gz"))
    }
}

fn chown_at(notices: &mut Notices, dir: impl AsFd, name: &OsStr, meta: &Meta) {
    let r = fchownat(
        dir,
        name,
        Some(Uid::from_raw(meta.uid as u32)),
        Some(Gid::from_raw(meta.gid as u32)),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    );
    chown_result(notices, r);
}

/// Owners the user namespace does not map (EINVAL) or may not give
/// (EPERM) leave the file owned by us, i.e. by root in the container.
fn chown_result(notices: &mut Notices, r: nix::Result<()>) {
    if let Err(Errno::EINVAL | Errno::EPERM) = r {
        notices.chown_failed();
    }
}

fn open_nofollow(dir: impl AsFd, name: &OsStr, flags: OFlag) -> nix::Result<OwnedFd> {
    openat(
        dir,
        name,
        flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

fn set_times_nofollow(dir: impl AsFd, name: &OsStr, t: &TimeSpec) -> nix::Result<()> {
    utimensat(dir, name, t, t, UtimensatFlags::NoFollowSymlink)
}

/// pathrs wants `.`, not an empty path, for the root itself.
fn in_root(p: &Path) -> &Path {
    if p.as_os_str().is_empty() {
        Path::new(".")
    } else {
        p
    }
}

fn join_rel(parent: &str, name: &OsStr) -> String {
    let name = name.to_string_lossy();
    if parent.is_empty() {
        name.into_owned()
    } else {
        format!("{parent}/{name}")
    }
}

fn join_path(parent: &Path, name: &OsStr) -> PathBuf {
    parent.join(name)
}

/// Splits an entry path into its parent and last component, with `.`,
/// leading `/` and inner `..` resolved lexically. `None` is the layer root.
/// A path that climbs above the root is refused, as Docker refuses it.
pub(crate) fn clean_path(path: &Path) -> Result<Option<(PathBuf, OsString)>> {
    let cleaned = crate::util::path::clean(path);
    if cleaned.escaped {
        bail!(
            "refusing tar entry {}: its path leads out of the layer",
            path.display()
        );
    }
    let mut parts = cleaned.parts;
    let Some(name) = parts.pop() else {
        return Ok(None);
    };
    Ok(Some((parts.iter().collect(), name.to_os_string())))
}

fn device<R: Read>(entry: &tar::Entry<'_, R>) -> Result<u64> {
    let h = entry.header();
    let major = h.device_major()?.unwrap_or(0);
    let minor = h.device_minor()?.unwrap_or(0);
    Ok(nix::sys::stat::makedev(major.into(), minor.into()))
}

fn read_meta<R: Read>(entry: &mut tar::Entry<'_, R>) -> Result<Meta> {
    let h = entry.header();
    // Set-user-id and set-group-id bits are kept, as Podman keeps them: in
    // a user namespace they can only give the ids that namespace maps,
    // which the user already has, and images rely on them (`su`, `ping`).
    // Empty numeric fields read as 0, as Go's archive/tar (and so Docker)
    // reads them; some tar writers leave them blank.
    let mut meta = Meta {
        mode: h.mode().unwrap_or(0) & 0o7777,
        uid: h.uid().unwrap_or(0),
        gid: h.gid().unwrap_or(0),
        mtime: TimeSpec::new(h.mtime().unwrap_or(0) as i64, 0),
        xattrs: Vec::new(),
    };
    if let Some(pax) = entry.pax_extensions()? {
        let mut overrides: HashMap<String, Vec<u8>> = HashMap::new();
        for ext in pax {
            let ext = ext?;
            let key = ext
                .key()
                .map_err(|_| anyhow::anyhow!("PAX key is not UTF-8"))?;
            overrides.insert(key.to_string(), ext.value_bytes().to_vec());
        }
        for (key, value) in overrides {
            let text = String::from_utf8_lossy(&value);
            match key.as_str() {
                "uid" => meta.uid = text.trim().parse().context("PAX uid")?,
                "gid" => meta.gid = text.trim().parse().context("PAX gid")?,
                "mtime" => meta.mtime = parse_pax_time(&text)?,
                k => {
                    if let Some(name) = k.strip_prefix("SCHILY.xattr.") {
                        meta.xattrs.push((name.to_string(), value));
                    }
                }
            }
        }
    }
    Ok(meta)
}

/// PAX times are decimal seconds with an optional fraction (`1700000000.25`).
fn parse_pax_time(text: &str) -> Result<TimeSpec> {
    let text = text.trim();
    let (secs, frac) = text.split_once('.').unwrap_or((text, ""));
    let secs: i64 = secs
        .parse()
        .with_context(|| format!("PAX mtime {text:?}"))?;
    let mut nanos = 0i64;
    if !frac.is_empty() {
        let digits: String = frac.chars().take(9).collect();
        let scale = 10i64.pow(9 - digits.len() as u32);
        nanos = digits
            .parse::<i64>()
            .with_context(|| format!("PAX mtime {text:?}"))?
            * scale;
        if secs < 0 {
            nanos = -nanos;
        }
    }
    Ok(TimeSpec::new(secs, nanos))
}

/// Root of the initial user namespace (not root of a user namespace we
/// made): only it may use `trusted.*` xattrs and real device nodes.
pub(crate) fn is_real_root() -> bool {
    if !nix::unistd::geteuid().is_root() {
        return false;
    }
    let map = std::fs::read_to_string("/proc/self/uid_map").unwrap_or_default();
    let fields: Vec<&str> = map.split_whitespace().collect();
    fields == ["0", "0", "4294967295"]
}

#[cfg(test)]
#[path = "layer_tests.rs"]
mod tests;
