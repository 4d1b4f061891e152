//! Trees to tar and tar to trees, for `cp`, `export` and `commit`, with
//! every path handled through descriptors: the walker descends only into
//! directories it opened with `O_NOFOLLOW`, and the extractor resolves
//! each parent with `openat2(RESOLVE_IN_ROOT)` under the destination and
//! creates the last component with `*at` calls that never follow it, so
//! neither a hostile symlink in the container nor a `../` in a tar can
//! lead outside the tree being read or written.

use super::whiteout;
use anyhow::{bail, Context, Result};
use nix::fcntl::{openat, OFlag};
use nix::sys::stat::{fstatat, FileStat, Mode};
use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// How the walker writes entries.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct WalkOptions {
    /// Stay on the mount of the starting directory (export of a running
    /// container: /proc, /sys, /dev and volumes are not its filesystem).
    pub(crate) one_mount: bool,
    /// Overlay upper directory: whiteouts (0/0 character devices) become
    /// `.wh.NAME` entries and opaque directories get `.wh..wh..opq`.
    pub(crate) overlay_upper: bool,
}

fn mount_id(fd: BorrowedFd<'_>) -> Option<u64> {
    // SAFETY: statx fills the struct we pass; AT_EMPTY_PATH on an fd.
    unsafe {
        let mut st: libc::statx = std::mem::zeroed();
        let r = libc::statx(
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            libc::STATX_MNT_ID,
            &mut st,
        );
        (r == 0 && st.stx_mask & libc::STATX_MNT_ID != 0).then_some(st.stx_mnt_id)
    }
}

fn header_for(st: &FileStat, kind: tar::EntryType) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(st.st_mode & 0o7777);
    h.set_uid(u64::from(st.st_uid));
    h.set_gid(u64::from(st.st_gid));
    h.set_mtime(st.st_mtime.max(0) as u64);
    h.set_size(0);
    h
}

/// Writes tar entries for a tree.
pub(crate) struct Walker<W: Write> {
    pub(crate) builder: tar::Builder<W>,
    opts: WalkOptions,
    root_mount: Option<u64>,
    /// Hard links: (dev, ino) → the first name written.
    links: std::collections::HashMap<(u64, u64), PathBuf>,
    /// Tar names left out when they are empty (mount points berth made).
    skip_empty: Vec<PathBuf>,
}

impl<W: Write> Walker<W> {
    pub(crate) fn new(out: W, opts: WalkOptions) -> Walker<W> {
        let mut builder = tar::Builder::new(out);
        builder.follow_symlinks(false);
        Walker {
            builder,
            opts,
            root_mount: None,
            links: Default::default(),
            skip_empty: Vec::new(),
        }
    }

    /// Leaves out these tar names when they are an empty file or an empty
    /// directory: the mount points berth creates in a container's upper
    /// directory (Docker keeps them in a separate "init" layer).
    pub(crate) fn skip_empty(&mut self, names: Vec<PathBuf>) {
        self.skip_empty = names;
    }

    /// Writes `name` (an entry of directory `dir`, or `dir` itself when
    /// `name` is None) under the tar name `tar_name`, recursively.
    /// `follow` follows `name` when it is a symlink (`cp -L`).
    pub(crate) fn add(
        &mut self,
        dir: BorrowedFd<'_>,
        name: Option<&OsStr>,
        tar_name: &Path,
        follow: bool,
    ) -> Result<()> {
        let flags = if follow {
            nix::fcntl::AtFlags::empty()
        } else {
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW
        };
        let st = match name {
            Some(n) => fstatat(dir, n, flags),
            None => nix::sys::stat::fstat(dir),
        }
        .with_context(|| format!("reading {}", tar_name.display()))?;
        let fmt = st.st_mode & libc::S_IFMT;
        let at = |extra: OFlag| -> Result<OwnedFd> {
            let f = OFlag::O_CLOEXEC | OFlag::O_NOCTTY | OFlag::O_NONBLOCK | extra;
            let f = if follow { f } else { f | OFlag::O_NOFOLLOW };
            match name {
                Some(n) => openat(dir, n, f, Mode::empty()),
                None => openat(dir, ".", f, Mode::empty()),
            }
            .with_context(|| format!("opening {}", tar_name.display()))
        };
        match fmt {
            libc::S_IFDIR => {
                let fd = at(OFlag::O_RDONLY | OFlag::O_DIRECTORY)?;
                let mnt = mount_id(fd.as_fd());
                let names = list_dir(&fd, tar_name)?;
                if names.is_empty() && self.skip_empty.iter().any(|s| s == tar_name) {
                    return Ok(());
                }
                let mut h = header_for(&st, tar::EntryType::Directory);
                self.append(&mut h, &dir_name(tar_name), std::io::empty())?;
                if self.opts.one_mount {
                    // A mount point is kept as an empty directory, as Docker.
                    match self.root_mount {
                        None => self.root_mount = mnt,
                        Some(root) if mnt.is_some() && mnt != Some(root) => return Ok(()),
                        _ => {}
                    }
                }
                if self.opts.overlay_upper && whiteout::is_opaque_dir(fd.as_fd()) {
                    let mut h = header_for(&st, tar::EntryType::Regular);
                    h.set_mode(0o644);
                    let marker = tar_name.join(whiteout::OPAQUE_MARKER);
                    self.append(&mut h, &marker, std::io::empty())?;
                }
                for n in names {
                    self.add(fd.as_fd(), Some(&n), &tar_name.join(&n), false)?;
                }
            }
            libc::S_IFREG if st.st_size == 0 && self.skip_empty.iter().any(|s| s == tar_name) => {}
            libc::S_IFREG => {
                let key = (st.st_dev, st.st_ino);
                if st.st_nlink > 1 {
                    if let Some(first) = self.links.get(&key).cloned() {
                        let mut h = header_for(&st, tar::EntryType::Link);
                        self.builder
                            .append_link(&mut h, tar_name, &first)
                            .context("writing the archive")?;
                        return Ok(());
                    }
                    self.links.insert(key, tar_name.to_path_buf());
                }
                let f = std::fs::File::from(at(OFlag::O_RDONLY)?);
                let mut h = header_for(&st, tar::EntryType::Regular);
                h.set_size(st.st_size as u64);
                self.append(&mut h, tar_name, f.take(st.st_size as u64))?;
            }
            libc::S_IFLNK => {
                let target = nix::fcntl::readlinkat(dir, name.unwrap_or(OsStr::new("")))
                    .with_context(|| format!("reading the link {}", tar_name.display()))?;
                let mut h = header_for(&st, tar::EntryType::Symlink);
                self.builder
                    .append_link(&mut h, tar_name, Path::new(&target))
                    .context("writing the archive")?;
            }
            libc::S_IFCHR
                if self.opts.overlay_upper
                    && whiteout::is_overlay_whiteout(st.st_mode, st.st_rdev) =>
            {
                // An overlay whiteout: the OCI way to say "deleted".
                let wh = whiteout::whiteout_name(tar_name.file_name().unwrap_or_default());
                let mut h = header_for(&st, tar::EntryType::Regular);
                h.set_mode(0o644);
                self.append(&mut h, &tar_name.with_file_name(wh), std::io::empty())?;
            }
            libc::S_IFCHR | libc::S_IFBLK | libc::S_IFIFO => {
                let kind = match fmt {
                    libc::S_IFCHR => tar::EntryType::Char,
                    libc::S_IFBLK => tar::EntryType::Block,
                    _ => tar::EntryType::Fifo,
                };
                let mut h = header_for(&st, kind);
                let rdev = st.st_rdev;
                h.set_device_major(libc::major(rdev)).ok();
                h.set_device_minor(libc::minor(rdev)).ok();
                self.append(&mut h, tar_name, std::io::empty())?;
            }
            // Sockets are not archived (as Docker).
            _ => {}
        }
        Ok(())
    }

    fn append(&mut self, h: &mut tar::Header, name: &Path, data: impl Read) -> Result<()> {
        self.builder
            .append_data(h, name, data)
            .with_context(|| format!("archiving {}", name.display()))
    }

    pub(crate) fn finish(self) -> Result<W> {
        self.builder.into_inner().context("finishing the archive")
    }
}

/// The names in a directory, sorted, without `.` and `..`.
pub(crate) fn list_dir(fd: &OwnedFd, what: &Path) -> Result<Vec<OsString>> {
    let mut names: Vec<OsString> = Vec::new();
    let mut d = nix::dir::Dir::from_fd(fd.try_clone().context("duplicating a descriptor")?)
        .with_context(|| format!("listing {}", what.display()))?;
    for e in d.iter() {
        let e = e.with_context(|| format!("listing {}", what.display()))?;
        let n = OsStr::from_bytes(e.file_name().to_bytes());
        if n != "." && n != ".." {
            names.push(n.to_owned());
        }
    }
    names.sort();
    Ok(names)
}

fn dir_name(p: &Path) -> PathBuf {
    if p.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        p.to_path_buf()
    }
}

/// How `extract` writes.
#[derive(Debug, Clone, Default)]
pub(crate) struct ExtractOptions {
    /// Keep the owners of the archive (`cp -a`); otherwise files belong to
    /// whoever extracts (the container's root, or the user on the host).
    pub(crate) keep_owner: bool,
    /// Replace the first path component `from` of every entry by `to`.
    pub(crate) rename_top: Option<(OsString, OsString)>,
    /// Clear set-user-id and set-group-id bits of everything but
    /// directories: a copy out of a container must not plant a program
    /// that runs as the user for whoever can reach it.
    pub(crate) strip_setid: bool,
}

/// Extracts a tar into `base` (an open directory). Entry paths and the
/// symlinks met on the way resolve inside `base`.
pub(crate) fn extract(base: &OwnedFd, reader: impl Read, opts: &ExtractOptions) -> Result<()> {
    let mut archive = tar::Archive::new(reader);
    let mut dirs: Vec<(PathBuf, tar::Header)> = Vec::new();
    for entry in archive.entries().context("reading the archive")? {
        let mut entry = entry.context("reading the archive")?;
        let raw = entry.path().context("reading an entry name")?.into_owned();
        let Some(path) = clean(&raw, opts.rename_top.as_ref()) else {
            continue;
        };
        let header = entry.header().clone();
        write_entry(base, &path, &mut entry, &header, opts)
            .with_context(|| format!("extracting {}", raw.display()))?;
        if header.entry_type() == tar::EntryType::Directory {
            dirs.push((path, header));
        }
    }
    // Directory times last: writing into them changed their mtime.
    for (path, h) in dirs.iter().rev() {
        if let Ok(fd) = resolve(base, path, OFlag::O_RDONLY | OFlag::O_DIRECTORY) {
            set_times(fd.as_fd(), h);
        }
    }
    Ok(())
}

/// A relative path cleaned by `util::path`'s rule, with the top renamed.
fn clean(raw: &Path, rename: Option<&(OsString, OsString)>) -> Option<PathBuf> {
    let mut parts = crate::util::path::clean(raw).parts;
    let mut out = PathBuf::new();
    match rename {
        Some((from, to)) if from == "." => {
            out.push(to);
        }
        Some((from, to)) if parts.first().copied() == Some(from.as_os_str()) => {
            parts.remove(0);
            out.push(to);
        }
        Some(_) => {}
        None => {}
    }
    for p in parts {
        out.push(p);
    }
    Some(if out.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        out
    })
}

/// openat2(RESOLVE_IN_ROOT) relative to `base`.
pub(crate) fn resolve(base: &OwnedFd, path: &Path, flags: OFlag) -> std::io::Result<OwnedFd> {
    let p = if path.as_os_str().is_empty() {
        Path::new(".")
    } else {
        path
    };
    crate::util::openat2::in_root(base, p, flags.bits(), 0)
}

fn write_entry(
    base: &OwnedFd,
    path: &Path,
    entry: &mut impl Read,
    h: &tar::Header,
    opts: &ExtractOptions,
) -> Result<()> {
    let kind = h.entry_type();
    let mode = h.mode().unwrap_or(0o644) & 0o7777;
    if path == Path::new(".") {
        // The destination directory itself: only its metadata.
        if kind == tar::EntryType::Directory {
            let fd = resolve(base, path, OFlag::O_RDONLY | OFlag::O_DIRECTORY)?;
            apply_meta(fd.as_fd(), h, opts, mode);
        }
        return Ok(());
    }
    let parent_path = path.parent().unwrap_or(Path::new(""));
    let name = path.file_name().context("an entry without a name")?;
    let parent = mkdir_all(base, parent_path)?;
    let p = parent.as_fd();
    let existing = fstatat(p, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW).ok();
    let is_dir = |st: &FileStat| st.st_mode & libc::S_IFMT == libc::S_IFDIR;
    if kind == tar::EntryType::Directory {
        match &existing {
            Some(st) if is_dir(st) => {}
            Some(_) => {
                nix::unistd::unlinkat(p, name, nix::unistd::UnlinkatFlags::NoRemoveDir)?;
                nix::sys::stat::mkdirat(p, name, Mode::from_bits_truncate(0o700))?;
            }
            None => nix::sys::stat::mkdirat(p, name, Mode::from_bits_truncate(0o700))?,
        }
        let fd = openat(
            p,
            name,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        apply_meta(fd.as_fd(), h, opts, mode);
        return Ok(());
    }
    if let Some(st) = &existing {
        if is_dir(st) {
            bail!(
                "cannot overwrite directory {} with a non-directory",
                path.display()
            );
        }
        nix::unistd::unlinkat(p, name, nix::unistd::UnlinkatFlags::NoRemoveDir)?;
    }
    match kind {
        tar::EntryType::Regular | tar::EntryType::Continuous => {
            let fd = openat(
                p,
                name,
                OFlag::O_WRONLY
                    | OFlag::O_CREAT
                    | OFlag::O_EXCL
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_CLOEXEC,
                Mode::from_bits_truncate(0o600),
            )?;
            let mut f = std::fs::File::from(fd);
            std::io::copy(entry, &mut f)?;
            apply_meta(f.as_fd(), h, opts, mode);
        }
        tar::EntryType::Symlink => {
            let target = h.link_name()?.context("a symlink without a target")?;
            nix::unistd::symlinkat(target.as_ref(), p, name)?;
            if opts.keep_owner {
                let _ = nix::unistd::fchownat(
                    p,
                    name,
                    h.uid().ok().map(|u| nix::unistd::Uid::from_raw(u as u32)),
                    h.gid().ok().map(|g| nix::unistd::Gid::from_raw(g as u32)),
                    nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
                );
            }
        }
        tar::EntryType::Link => {
            let target = h.link_name()?.context("a hard link without a target")?;
            let target = clean(&target, opts.rename_top.as_ref()).context("a bad link")?;
            let src = resolve(base, &target, OFlag::O_PATH | OFlag::O_NOFOLLOW)?;
            nix::unistd::linkat(src.as_fd(), "", p, name, nix::fcntl::AtFlags::AT_EMPTY_PATH)
                .or_else(|_| {
                    // AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; the /proc path does not.
                    nix::unistd::linkat(
                        nix::fcntl::AT_FDCWD,
                        format!("/proc/self/fd/{}", src.as_raw_fd()).as_str(),
                        p,
                        name,
                        nix::fcntl::AtFlags::AT_SYMLINK_FOLLOW,
                    )
                })?;
        }
        tar::EntryType::Fifo | tar::EntryType::Char | tar::EntryType::Block => {
            let (k, dev) = match kind {
                tar::EntryType::Fifo => (nix::sys::stat::SFlag::S_IFIFO, 0),
                tar::EntryType::Char => (
                    nix::sys::stat::SFlag::S_IFCHR,
                    libc::makedev(
                        h.device_major()?.unwrap_or(0),
                        h.device_minor()?.unwrap_or(0),
                    ),
                ),
                _ => (
                    nix::sys::stat::SFlag::S_IFBLK,
                    libc::makedev(
                        h.device_major()?.unwrap_or(0),
                        h.device_minor()?.unwrap_or(0),
                    ),
                ),
            };
            nix::sys::stat::mknodat(p, name, k, Mode::from_bits_truncate(mode), dev)?;
        }
        // PAX/GNU metadata entries are consumed by the tar crate.
        _ => {}
    }
    Ok(())
}

fn apply_meta(fd: BorrowedFd<'_>, h: &tar::Header, opts: &ExtractOptions, mode: u32) {
    if opts.keep_owner {
        let _ = nix::unistd::fchown(
            fd,
            h.uid().ok().map(|u| nix::unistd::Uid::from_raw(u as u32)),
            h.gid().ok().map(|g| nix::unistd::Gid::from_raw(g as u32)),
        );
    }
    let is_dir = h.entry_type() == tar::EntryType::Directory;
    let mode = if opts.strip_setid && !is_dir {
        mode & !0o6000
    } else {
        mode
    };
    // After the chown, which clears set-id bits.
    let _ = nix::sys::stat::fchmod(fd, Mode::from_bits_truncate(mode));
    set_times(fd, h);
}

fn set_times(fd: BorrowedFd<'_>, h: &tar::Header) {
    let t = nix::sys::time::TimeSpec::new(h.mtime().unwrap_or(0) as i64, 0);
    let _ = nix::sys::stat::futimens(fd, &t, &t);
}

/// `mkdir -p` of `path` under `base`, each step resolved inside it.
fn mkdir_all(base: &OwnedFd, path: &Path) -> Result<OwnedFd> {
    match resolve(base, path, OFlag::O_RDONLY | OFlag::O_DIRECTORY) {
        Ok(fd) => return Ok(fd),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
        Err(e) => return Err(e).with_context(|| format!("opening {}", path.display())),
    }
    let parent = mkdir_all(base, path.parent().unwrap_or(Path::new("")))?;
    let name = path.file_name().context("creating a directory")?;
    match nix::sys::stat::mkdirat(parent.as_fd(), name, Mode::from_bits_truncate(0o755)) {
        Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
        Err(e) => return Err(e).with_context(|| format!("creating {}", path.display())),
    }
    resolve(base, path, OFlag::O_RDONLY | OFlag::O_DIRECTORY)
        .with_context(|| format!("opening {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open_dir(p: &Path) -> OwnedFd {
        std::fs::File::open(p).unwrap().into()
    }

    #[test]
    fn a_tree_round_trips_with_links() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src");
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::write(src.join("sub/f"), b"data").unwrap();
        std::fs::hard_link(src.join("sub/f"), src.join("hard")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", src.join("link")).unwrap();
        let mut w = Walker::new(Vec::new(), WalkOptions::default());
        w.add(
            open_dir(d.path()).as_fd(),
            Some(OsStr::new("src")),
            Path::new("src"),
            false,
        )
        .unwrap();
        let tar = w.finish().unwrap();
        let dst = d.path().join("dst");
        std::fs::create_dir(&dst).unwrap();
        let opts = ExtractOptions {
            rename_top: Some(("src".into(), "copy".into())),
            ..Default::default()
        };
        extract(&open_dir(&dst), &tar[..], &opts).unwrap();
        assert_eq!(std::fs::read(dst.join("copy/sub/f")).unwrap(), b"data");
        assert_eq!(
            std::fs::read_link(dst.join("copy/link")).unwrap(),
            Path::new("/etc/passwd")
        );
        use std::os::unix::fs::MetadataExt;
        assert_eq!(
            std::fs::metadata(dst.join("copy/hard")).unwrap().ino(),
            std::fs::metadata(dst.join("copy/sub/f")).unwrap().ino()
        );
    }

    #[test]
    fn hostile_archives_stay_inside() {
        let d = tempfile::tempdir().unwrap();
        let dst = d.path().join("dst");
        let outside = d.path().join("outside");
        std::fs::create_dir_all(&dst).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, dst.join("esc")).unwrap();
        let mut b = tar::Builder::new(Vec::new());
        for name in ["../../x", "esc/y"] {
            let mut h = tar::Header::new_gnu();
            h.set_size(1);
            h.set_mode(0o644);
            // set_path refuses `..`: write the name bytes ourselves.
            h.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
            h.set_cksum();
            b.append(&h, &b"z"[..]).unwrap();
        }
        let tar = b.into_inner().unwrap();
        // `esc` resolves inside dst, where its target does not exist.
        let e = extract(&open_dir(&dst), &tar[..], &ExtractOptions::default()).unwrap_err();
        assert!(format!("{e:#}").contains("esc/y"), "{e:#}");
        assert!(dst.join("x").exists());
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
    }
}
