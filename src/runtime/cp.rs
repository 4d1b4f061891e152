//! `cp` and `export` with Docker's rules: a source `dir/.` copies the
//! directory's contents, a source `dir` copies the directory itself (into
//! an existing directory, or as the new name), a file lands in an
//! existing directory or under the new name, and `-` is a tar on stdin
//! or stdout. The source side sends one line (its kind and name) and a
//! tar through a pipe; the destination side decides where it goes.
//! Container paths resolve inside the container's root (cfs.rs);
//! extraction never leaves the chosen destination (treetar.rs).

use super::cfs::{self, View};
use crate::image::treetar::{self, ExtractOptions, WalkOptions, Walker};
use crate::model::ContainerRecord;
use crate::store::Store;
use anyhow::{bail, Context, Result};
use nix::fcntl::OFlag;
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

/// A path `cp` did not find. The CLI words each as Docker does: the
/// container's side as its daemon's error, ours as its CLI's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Missing {
    /// A source, or the directory a destination goes in, inside the
    /// container.
    InContainer { path: String, container: String },
    /// A source on our side (absolute).
    Local { path: String },
    /// The directory on our side that a copy out was to go in.
    LocalDir { path: String },
}

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Missing::InContainer { path, container } => {
                write!(f, "Could not find the file {path} in container {container}")
            }
            Missing::Local { path } => write!(f, "lstat {path}: no such file or directory"),
            Missing::LocalDir { path } => {
                write!(
                    f,
                    "invalid output path: directory \"{path}\" does not exist"
                )
            }
        }
    }
}

impl std::error::Error for Missing {}

/// What the source or destination side did not find, before the caller
/// knows which side it is: the path as the user named it.
#[derive(Debug)]
struct NotFound(String);

impl std::fmt::Display for NotFound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "no such file or directory: {}", self.0)
    }
}

impl std::error::Error for NotFound {}

/// The status a copy helper reports a [`NotFound`] with (its message is
/// the path): any other failure is berth's own, 125.
const HELPER_NOT_FOUND: i32 = 1;

/// In a copy helper: a [`NotFound`] crosses to the parent as its status
/// and path.
fn helper_result(r: Result<()>) -> Result<()> {
    r.map_err(|e| match e.downcast::<NotFound>() {
        Ok(NotFound(path)) => crate::model::StartFailure {
            code: HELPER_NOT_FOUND,
            message: path,
        }
        .into(),
        Err(e) => e,
    })
}

/// In the parent: what the helper did not find, inside `record`.
fn in_container(e: anyhow::Error, record: &ContainerRecord) -> anyhow::Error {
    match e.downcast_ref::<crate::model::StartFailure>() {
        Some(f) if f.code == HELPER_NOT_FOUND => Missing::InContainer {
            path: f.message.clone(),
            container: record.name.clone(),
        }
        .into(),
        _ => e,
    }
}

/// `cp` flags.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CpOptions {
    /// `-a`: keep the owners of the source.
    pub(crate) archive: bool,
    /// `-L`: follow a symlink given as the source.
    pub(crate) follow_link: bool,
}

/// What the source is, sent before its tar.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// A directory, named (`d NAME`).
    Dir(OsString),
    /// A directory's contents (`c`: entries under `.`).
    Contents,
    /// Anything else, named (`f NAME`).
    File(OsString),
    /// A tar from stdin, extracted into the destination directory.
    Raw,
}

impl Kind {
    fn line(&self) -> Vec<u8> {
        use std::os::unix::ffi::OsStrExt;
        let mut out = match self {
            Kind::Dir(n) => [b"d ", n.as_bytes()].concat(),
            Kind::File(n) => [b"f ", n.as_bytes()].concat(),
            Kind::Contents => b"c".to_vec(),
            Kind::Raw => b"r".to_vec(),
        };
        out.push(b'\n');
        out
    }

    fn parse(line: &[u8]) -> Result<Kind> {
        use std::os::unix::ffi::OsStrExt;
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let name = || std::ffi::OsStr::from_bytes(line.get(2..).unwrap_or_default()).to_owned();
        Ok(match line.first() {
            Some(b'd') => Kind::Dir(name()),
            Some(b'f') => Kind::File(name()),
            Some(b'c') => Kind::Contents,
            Some(b'r') => Kind::Raw,
            _ => bail!("the copy helper sent nothing (it failed)"),
        })
    }
}

/// Lexical parts of a path: its normal components and whether it asks for
/// a directory's contents (`/.` at the end, or the root itself).
fn split(path: &str) -> (Vec<OsString>, bool) {
    let trailing_dot = path.ends_with("/.") || path == ".";
    let parts: Vec<OsString> = crate::util::path::clean(Path::new(path))
        .parts
        .into_iter()
        .map(OsString::from)
        .collect();
    let contents = trailing_dot || parts.is_empty();
    (parts, contents)
}

fn join(parts: &[OsString]) -> PathBuf {
    parts.iter().collect()
}

/// Writes the kind line and the tar of `src` (resolved inside `base`);
/// a source that is not there is a [`NotFound`].
fn send_source(base: &OwnedFd, src: &str, follow: bool, out: impl Write) -> Result<()> {
    let (parts, contents) = split(src);
    let mut out = out;
    let not_found = || NotFound(src.to_string());
    let opts = WalkOptions::default();
    if contents {
        let dir = treetar::resolve(base, &join(&parts), OFlag::O_RDONLY | OFlag::O_DIRECTORY)
            .map_err(|_| not_found())?;
        out.write_all(&Kind::Contents.line())?;
        let mut w = Walker::new(out, opts);
        w.add(dir.as_fd(), None, Path::new("."), false)?;
        w.finish()?;
        return Ok(());
    }
    let (name, parent) = parts.split_last().expect("not empty outside contents mode");
    let parent = treetar::resolve(base, &join(parent), OFlag::O_RDONLY | OFlag::O_DIRECTORY)
        .map_err(|_| not_found())?;
    let flags = if follow {
        nix::fcntl::AtFlags::empty()
    } else {
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW
    };
    let st = nix::sys::stat::fstatat(parent.as_fd(), name.as_os_str(), flags)
        .map_err(|_| not_found())?;
    let kind = if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
        Kind::Dir(name.clone())
    } else {
        Kind::File(name.clone())
    };
    out.write_all(&kind.line())?;
    let mut w = Walker::new(out, opts);
    w.add(parent.as_fd(), Some(name), Path::new(name), follow)?;
    w.finish()?;
    Ok(())
}

/// Reads the kind line and extracts the tar at `dest` inside `base`.
fn receive(
    base: &OwnedFd,
    dest: &str,
    input: impl Read,
    keep_owner: bool,
    strip_setid: bool,
) -> Result<()> {
    let mut input = BufReader::new(input);
    let mut line = Vec::new();
    input.read_until(b'\n', &mut line)?;
    let kind = Kind::parse(&line)?;
    let (parts, _) = split(dest);
    let dest_path = join(&parts);
    let existing = treetar::resolve(base, &dest_path, OFlag::O_PATH).ok();
    let dest_is_dir = existing.as_ref().is_some_and(crate::mounts::inroot::is_dir);
    // Docker names the directory the copy goes in when it is missing.
    let open_dir = |p: &Path| -> Result<OwnedFd> {
        treetar::resolve(base, p, OFlag::O_RDONLY | OFlag::O_DIRECTORY).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                NotFound(display(p)).into()
            } else {
                anyhow::Error::new(e).context(format!("opening the directory {}", display(p)))
            }
        })
    };
    let mut opts = ExtractOptions {
        keep_owner,
        rename_top: None,
        strip_setid,
    };
    let (into, rename) = match (&kind, existing.is_some(), dest_is_dir) {
        (_, _, true) => (dest_path.clone(), None),
        (Kind::Raw, _, false) => bail!("destination {dest} must be a directory"),
        (Kind::Contents | Kind::Dir(_), true, false) => {
            bail!("cannot copy a directory to a file: {dest}")
        }
        (Kind::File(_), false, _) if dest.ends_with('/') => {
            bail!("destination directory {dest} does not exist")
        }
        (_, _, false) => {
            let Some((new_name, parent)) = parts.split_last() else {
                bail!("invalid destination {dest}");
            };
            let from = match &kind {
                Kind::Dir(n) | Kind::File(n) => n.clone(),
                _ => OsString::from("."),
            };
            (join(parent), Some((from, new_name.clone())))
        }
    };
    opts.rename_top = rename;
    let dir = open_dir(&into)?;
    treetar::extract(&dir, &mut input, &opts)?;
    // The tar reader stops at the end marker: the padding after it must
    // still be read, or the sender fails on a closed pipe.
    std::io::copy(&mut input, &mut std::io::sink()).context("reading the archive's end")?;
    Ok(())
}

/// Whether another user could reach `dest` (an existing directory, or
/// the directory a new name goes in): every directory from `/` down to it
/// lets its group or others search it.
fn reachable_by_others(dest: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let dir = if dest.is_dir() {
        dest
    } else {
        dest.parent().unwrap_or(Path::new("/"))
    };
    let Ok(dir) = std::fs::canonicalize(dir) else {
        return true;
    };
    dir.ancestors()
        .all(|d| std::fs::metadata(d).map_or(true, |m| m.permissions().mode() & 0o011 != 0))
}

fn display(p: &Path) -> String {
    format!("/{}", p.display())
}

/// The host's side: paths relative to our working directory, resolved
/// as the host resolves them.
fn host_root_and_path(path: &str) -> Result<(OwnedFd, String)> {
    let abs = if path.starts_with('/') {
        path.to_string()
    } else {
        let cwd = std::env::current_dir().context("reading the working directory")?;
        let mut s = cwd.to_string_lossy().into_owned();
        s.push('/');
        s.push_str(path);
        s
    };
    let root = std::fs::File::open("/").context("opening /")?;
    Ok((root.into(), abs))
}

/// `cp CONTAINER:SRC DEST` (DEST `-`: a tar on stdout).
pub(crate) fn copy_out(
    store: &Store,
    record: &ContainerRecord,
    src: &str,
    dest: &str,
    opts: CpOptions,
) -> Result<()> {
    let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).context("creating a pipe")?;
    let child = cfs::with_root(store, record, &[], move |root, _| {
        helper_result(send_source(
            root,
            src,
            opts.follow_link,
            std::fs::File::from(w),
        ))
    })?;
    let input = BufReader::new(std::fs::File::from(r));
    // Each branch consumes (and so closes) our end of the pipe, so that a
    // helper still writing is not left blocked while we wait for it.
    let received = if dest == "-" {
        let mut input = input;
        let mut line = Vec::new();
        input.read_until(b'\n', &mut line)?;
        let stdout = std::io::stdout();
        if nix::unistd::isatty(&stdout).unwrap_or(false) {
            bail!("refusing to write a tar archive to a terminal; redirect the output");
        }
        // SAFETY: setting a signal disposition; no other thread exists.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        }
        Kind::parse(&line).and_then(|_| {
            std::io::copy(&mut input, &mut stdout.lock())
                .map(|_| ())
                .context("writing the archive to standard output")
        })
    } else {
        let (root, abs) = host_root_and_path(dest)?;
        // Set-id bits survive only with -a, into a place nobody else can
        // reach (Docker keeps them always; an image's author could plant
        // a program that runs as the user).
        let keep_setid = opts.archive && !reachable_by_others(Path::new(&abs));
        receive(
            &root,
            &abs,
            input,
            opts.archive && crate::userns::is_real_root(),
            !keep_setid,
        )
        .map_err(|e| match e.downcast::<NotFound>() {
            Ok(NotFound(path)) => Missing::LocalDir { path }.into(),
            Err(e) => e,
        })
    };
    if dest == "-" && is_broken_pipe(&received) {
        // The reader of our output stopped early (`| tar t`): its choice.
        let _ = child.wait();
        return Ok(());
    }
    child.wait().map_err(|e| in_container(e, record))?;
    received
}

fn is_broken_pipe(r: &Result<()>) -> bool {
    r.as_ref().err().is_some_and(is_broken_pipe_error)
}

fn is_broken_pipe_error(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// `cp SRC CONTAINER:DEST` (SRC `-`: a tar on stdin).
pub(crate) fn copy_in(
    store: &Store,
    record: &ContainerRecord,
    src: &str,
    dest: &str,
    opts: CpOptions,
) -> Result<()> {
    let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).context("creating a pipe")?;
    let w_raw = std::os::fd::AsRawFd::as_raw_fd(&w);
    // The fork copies our write end: the helper closes it, or it would
    // never see the end of the archive.
    let child = cfs::with_root(store, record, &[w_raw], move |root, view| {
        let r = receive(root, dest, std::fs::File::from(r), opts.archive, false);
        helper_result(if view == View::Running {
            r.with_context(|| format!("copying into container {}", record.name))
        } else {
            r
        })
    })?;
    // A helper that fails stops reading: that is an error, not a signal.
    // SAFETY: setting a signal disposition; no other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    let mut out = std::fs::File::from(w);
    let sent = if src == "-" {
        out.write_all(&Kind::Raw.line())
            .and_then(|_| std::io::copy(&mut std::io::stdin().lock(), &mut out).map(|_| ()))
            .context("reading the archive from standard input")
    } else {
        let (root, abs) = host_root_and_path(src)?;
        send_source(&root, &abs, opts.follow_link, &mut out).map_err(|e| {
            match e.downcast::<NotFound>() {
                Ok(_) => Missing::Local { path: abs }.into(),
                Err(e) => e,
            }
        })
    };
    drop(out);
    let received = child.wait().map_err(|e| in_container(e, record));
    // A source that could not be read is the cause when the helper then
    // found nothing to extract; a helper that failed first made our
    // writes fail with a broken pipe, and its error is the cause then.
    match sent {
        Err(e) if !is_broken_pipe_error(&e) => Err(e),
        _ => received,
    }
}

/// `export`: the container's whole filesystem as a tar on `out`.
pub(crate) fn export(store: &Store, record: &ContainerRecord, out: OwnedFd) -> Result<()> {
    let child = cfs::with_root(store, record, &[], move |root, view| {
        let opts = WalkOptions {
            one_mount: view == View::Running,
            ..Default::default()
        };
        let mut w = Walker::new(std::io::BufWriter::new(std::fs::File::from(out)), opts);
        w.add(root.as_fd(), None, Path::new(""), false)?;
        w.finish()?.flush().context("writing the archive")
    })?;
    child.wait()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_like_docker() {
        assert_eq!(split("/a/b/."), (vec!["a".into(), "b".into()], true));
        assert_eq!(split("/a/b/"), (vec!["a".into(), "b".into()], false));
        assert_eq!(split("/"), (vec![], true));
        assert_eq!(split("/a/../../b"), (vec!["b".into()], false));
    }

    #[test]
    fn kind_lines_round_trip() {
        for k in [
            Kind::Dir("x y".into()),
            Kind::File("f".into()),
            Kind::Contents,
            Kind::Raw,
        ] {
            assert_eq!(Kind::parse(&k.line()).unwrap(), k);
        }
        assert!(Kind::parse(b"").is_err());
    }

    fn tree() -> (tempfile::TempDir, OwnedFd) {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("src/dir/sub")).unwrap();
        std::fs::write(d.path().join("src/dir/sub/f"), b"1").unwrap();
        std::fs::write(d.path().join("src/file"), b"2").unwrap();
        std::fs::create_dir(d.path().join("dst")).unwrap();
        std::fs::write(d.path().join("dst/existing"), b"old").unwrap();
        let fd = std::fs::File::open(d.path()).unwrap().into();
        (d, fd)
    }

    fn copy(base: &OwnedFd, src: &str, dest: &str) -> Result<()> {
        let mut buf = Vec::new();
        send_source(base, src, false, &mut buf)?;
        receive(base, dest, &buf[..], false, true)
    }

    #[test]
    fn docker_cp_rules() {
        let (d, base) = tree();
        let p = d.path();
        copy(&base, "/src/dir", "/dst").unwrap();
        assert!(p.join("dst/dir/sub/f").exists());
        copy(&base, "/src/dir/.", "/dst").unwrap();
        assert!(p.join("dst/sub/f").exists());
        copy(&base, "/src/dir", "/dst/new").unwrap();
        assert!(p.join("dst/new/sub/f").exists());
        copy(&base, "/src/file", "/dst/existing").unwrap();
        assert_eq!(std::fs::read(p.join("dst/existing")).unwrap(), b"2");
        copy(&base, "/src/file", "/dst/renamed").unwrap();
        assert_eq!(std::fs::read(p.join("dst/renamed")).unwrap(), b"2");
        let e = copy(&base, "/src/dir", "/dst/existing").unwrap_err();
        assert!(
            e.to_string().contains("cannot copy a directory to a file"),
            "{e}"
        );
        let e = copy(&base, "/src/file", "/dst/nodir/").unwrap_err();
        assert!(e.to_string().contains("does not exist"), "{e}");
        let e = copy(&base, "/src/none", "/dst").unwrap_err();
        assert_eq!(e.downcast_ref::<NotFound>().unwrap().0, "/src/none");
        let e = copy(&base, "/src/file", "/no/such/x").unwrap_err();
        assert_eq!(e.downcast_ref::<NotFound>().unwrap().0, "/no/such");
    }
}
