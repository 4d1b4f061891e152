//! The per-user runtime directory, where monitors put their attach
//! sockets: `$XDG_RUNTIME_DIR/berth`, else `/tmp/berth-$UID`.
//!
//! Another user can create `/tmp/berth-$UID` before us (mode 0777, or a
//! symlink to a directory of theirs) and then replace the sockets and read
//! what we type into a container. So a runtime directory is used only when
//! it is a real directory (made with `mkdir`, checked with `lstat`, never
//! followed through a symlink), owned by us, with no access for others,
//! in a parent where nobody else can rename it away. Otherwise berth warns,
//! naming the directory and its owner, and uses one of its own under the
//! store. Unix socket paths are limited to 107 bytes, so when the store's
//! path is too long the fallback is a short directory in /tmp, checked the
//! same way.
//!
//! Ownership is compared with our effective uid in the namespace we are
//! in: inside berth's user namespace we are uid 0 and a directory we made
//! outside shows as 0 too; another user's shows as the overflow id. Only
//! messages translate ids back to the host's.

use std::ffi::OsStr;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

/// Longest socket name berth puts in the runtime directory
/// (`<16 hex>.sock` today; room for helpers' sockets).
pub const SOCKET_NAME_MAX: usize = 32;

/// Longest runtime directory path: `sun_path` holds 108 bytes with the
/// terminating NUL, and a socket is `<dir>/<name>`.
pub const MAX_LEN: usize = 107 - 1 - SOCKET_NAME_MAX;

/// Why a candidate runtime directory was not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// It is a symbolic link (to `target`): whoever made it chose where
    /// our sockets would go.
    Symlink {
        target: PathBuf,
        owner: u32,
    },
    NotDirectory {
        owner: u32,
    },
    /// Someone else owns it.
    Owner {
        owner: u32,
        mode: u32,
    },
    /// Its parent lets others rename or replace it (world-writable without
    /// the sticky bit).
    UnsafeParent {
        parent: PathBuf,
        mode: u32,
    },
    /// It could not be created or read.
    Inaccessible {
        error: String,
    },
    /// The path leaves no room for socket names.
    TooLong {
        len: usize,
    },
}

/// The directory chosen, and what was refused on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub path: PathBuf,
    pub refused: Vec<(PathBuf, Problem)>,
}

/// Where to look, as parameters so that tests can use directories of
/// their own.
#[derive(Debug, Clone)]
pub struct Inputs<'a> {
    /// `$XDG_RUNTIME_DIR`, if set.
    pub xdg_runtime_dir: Option<&'a OsStr>,
    /// The directory that holds `berth-$UID` (`/tmp`).
    pub tmp: &'a Path,
    /// The user's uid on the host (names `berth-$UID`).
    pub host_uid: u32,
    /// The store root, for the fallback.
    pub store_root: &'a Path,
}

/// Picks the runtime directory, creating it (0700) when missing.
pub fn choose(inputs: &Inputs) -> Choice {
    let mut refused = Vec::new();
    let mut candidates = Vec::new();
    if let Some(xdg) = inputs.xdg_runtime_dir.filter(|v| !v.is_empty()) {
        if Path::new(xdg).is_dir() {
            candidates.push(Path::new(xdg).join("berth"));
        }
    }
    candidates.push(inputs.tmp.join(format!("berth-{}", inputs.host_uid)));
    for c in candidates {
        match check_private_dir(&c) {
            Ok(()) => return Choice { path: c, refused },
            Err(p) => refused.push((c, p)),
        }
    }
    // Our own, under the store (which is ours and 0700) when it fits.
    let under_store = inputs.store_root.join("run");
    match check_private_dir(&under_store) {
        Ok(()) => {
            return Choice {
                path: under_store,
                refused,
            }
        }
        Err(p) => refused.push((under_store, p)),
    }
    // A short name in /tmp derived from the store's path, so that every
    // berth process of this store finds the same one; if even that is
    // taken, a random one recorded in the store.
    let short = inputs.tmp.join(format!(
        "berth-{}-{}",
        inputs.host_uid,
        &hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
            inputs.store_root.as_os_str().as_encoded_bytes()
        ))[..12]
    ));
    match check_private_dir(&short) {
        Ok(()) => {
            return Choice {
                path: short,
                refused,
            }
        }
        Err(p) => refused.push((short, p)),
    }
    let path = recorded_random_dir(inputs).unwrap_or_else(|p| {
        refused.push((inputs.store_root.join("run-dir"), p));
        // Nothing safe exists: a path that fails loudly when used.
        inputs.store_root.join("run")
    });
    Choice { path, refused }
}

/// The last resort: a directory of random name in /tmp, named in
/// `<store>/run-dir` so that the monitor and later commands use the same.
fn recorded_random_dir(inputs: &Inputs) -> Result<PathBuf, Problem> {
    let record = inputs.store_root.join("run-dir");
    if let Ok(text) = std::fs::read_to_string(&record) {
        let path = PathBuf::from(text.trim());
        if path.starts_with(inputs.tmp) && check_private_dir(&path).is_ok() {
            return Ok(path);
        }
    }
    let inaccessible = |e: std::io::Error| Problem::Inaccessible {
        error: e.to_string(),
    };
    for _ in 0..16 {
        let path = inputs.tmp.join(format!(
            "berth-{}-{}",
            inputs.host_uid,
            &crate::util::ids::random_id()[..12]
        ));
        match std::fs::DirBuilder::new().mode(0o700).create(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(inaccessible(e)),
        }
        check_private_dir(&path)?;
        crate::util::fsutil::write_atomic(&record, path.as_os_str().as_encoded_bytes()).map_err(
            |e| Problem::Inaccessible {
                error: format!("{e:#}"),
            },
        )?;
        return Ok(path);
    }
    Err(Problem::Inaccessible {
        error: "no free name in the temporary directory".into(),
    })
}

/// Creates `path` (0700) unless it exists, then checks without following
/// symlinks that it is a directory of ours that nobody else can use.
pub fn check_private_dir(path: &Path) -> Result<(), Problem> {
    let len = path.as_os_str().len();
    if len > MAX_LEN {
        return Err(Problem::TooLong { len });
    }
    if let Some(parent) = path.parent() {
        if let Ok(m) = std::fs::metadata(parent) {
            let mode = m.mode() & 0o7777;
            // A world-writable parent without the sticky bit lets anyone
            // rename our directory away and put theirs in its place.
            if mode & 0o002 != 0 && mode & 0o1000 == 0 {
                return Err(Problem::UnsafeParent {
                    parent: parent.to_path_buf(),
                    mode,
                });
            }
        }
    }
    match std::fs::DirBuilder::new().mode(0o700).create(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => {
            return Err(Problem::Inaccessible {
                error: e.to_string(),
            })
        }
    }
    let meta = std::fs::symlink_metadata(path).map_err(|e| Problem::Inaccessible {
        error: e.to_string(),
    })?;
    let owner = meta.uid();
    if meta.file_type().is_symlink() {
        return Err(Problem::Symlink {
            target: std::fs::read_link(path).unwrap_or_default(),
            owner,
        });
    }
    if !meta.is_dir() {
        return Err(Problem::NotDirectory { owner });
    }
    let mode = meta.mode() & 0o7777;
    if owner != nix::unistd::geteuid().as_raw() {
        return Err(Problem::Owner { owner, mode });
    }
    if mode & 0o077 != 0 {
        // Ours but open to others (an old umask, a user's chmod): close it,
        // through a descriptor that cannot have followed a swapped path.
        tighten(path, &meta).map_err(|e| Problem::Inaccessible {
            error: format!("it is ours but mode {mode:04o}, and chmod 0700 failed: {e}"),
        })?;
    }
    Ok(())
}

fn tighten(path: &Path, seen: &std::fs::Metadata) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let dir = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)?;
    let now = dir.metadata()?;
    if now.dev() != seen.dev() || now.ino() != seen.ino() {
        return Err(std::io::Error::other("it was replaced while being checked"));
    }
    dir.set_permissions(std::fs::Permissions::from_mode(0o700))
}

/// One line saying what was wrong with a refused directory, with ids as
/// the host knows them.
pub fn describe(path: &Path, problem: &Problem) -> String {
    let p = path.display();
    match problem {
        Problem::Symlink { target, owner } => format!(
            "{p} is a symbolic link to {} made by {}: whoever made it chooses where berth's \
             sockets go",
            target.display(),
            owner_name(*owner)
        ),
        Problem::NotDirectory { owner } => {
            format!(
                "{p} is not a directory (it belongs to {})",
                owner_name(*owner)
            )
        }
        Problem::Owner { owner, mode } => format!(
            "{p} belongs to {} (mode {mode:04o}), not to you: that user could replace berth's \
             attach sockets and read what you type into containers",
            owner_name(*owner)
        ),
        Problem::UnsafeParent { parent, mode } => format!(
            "{p} is in {} (mode {mode:04o}, world-writable without the sticky bit): anyone can \
             replace it",
            parent.display()
        ),
        Problem::Inaccessible { error } => format!("{p} cannot be used: {error}"),
        Problem::TooLong { len } => format!(
            "{p} is {len} bytes long: unix socket paths in it would pass the kernel's limit of \
             107 bytes"
        ),
    }
}

/// `uid 1002 (alice)` for an id seen in our namespace, translated to the
/// host's; an id that our namespace does not map is someone outside it.
pub fn owner_name(uid_here: u32) -> String {
    let map = std::fs::read_to_string("/proc/self/uid_map").unwrap_or_default();
    let Some(host) = super::host_id_of(&map, uid_here) else {
        return format!("a user outside berth's user namespace (shown as uid {uid_here})");
    };
    match crate::util::passwd::user_name(host) {
        Some(name) => format!("uid {host} ({name})"),
        None => format!("uid {host}"),
    }
}

/// The warning for a choice that had to pass over unsafe directories
/// (None when the first candidate was fine or only missing ones failed).
pub fn warning(choice: &Choice) -> Option<String> {
    let (first, problem) = choice
        .refused
        .iter()
        .find(|(_, p)| !matches!(p, Problem::TooLong { .. }))?;
    let fix = match problem {
        Problem::Owner { .. } | Problem::Symlink { .. } | Problem::NotDirectory { .. } => format!(
            "; its owner or an administrator can remove it (`rm -rf {}`), or set \
             XDG_RUNTIME_DIR to a private directory of yours",
            first.display()
        ),
        _ => "; set XDG_RUNTIME_DIR to a private directory of yours".to_string(),
    };
    Some(format!(
        "not using the runtime directory {}: {}; using {} instead{fix}",
        first.display(),
        describe(first, problem),
        choice.path.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn inputs<'a>(tmp: &'a Path, root: &'a Path, xdg: Option<&'a OsStr>) -> Inputs<'a> {
        Inputs {
            xdg_runtime_dir: xdg,
            tmp,
            host_uid: 4242,
            store_root: root,
        }
    }

    fn sticky_tmp() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
        d
    }

    #[test]
    fn a_fresh_tmp_dir_is_created_private() {
        let tmp = sticky_tmp();
        let root = tempfile::tempdir().unwrap();
        let c = choose(&inputs(tmp.path(), root.path(), None));
        assert_eq!(c.path, tmp.path().join("berth-4242"));
        assert!(c.refused.is_empty());
        let m = std::fs::symlink_metadata(&c.path).unwrap();
        assert_eq!(m.mode() & 0o777, 0o700);
        assert!(warning(&c).is_none());
    }

    #[test]
    fn xdg_runtime_dir_comes_first() {
        let tmp = sticky_tmp();
        let root = tempfile::tempdir().unwrap();
        let xdg = tempfile::tempdir().unwrap();
        let c = choose(&inputs(
            tmp.path(),
            root.path(),
            Some(xdg.path().as_os_str()),
        ));
        assert_eq!(c.path, xdg.path().join("berth"));
    }

    #[test]
    fn a_symlink_is_refused_and_the_store_fallback_used() {
        let tmp = sticky_tmp();
        let root = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), tmp.path().join("berth-4242")).unwrap();
        let c = choose(&inputs(tmp.path(), root.path(), None));
        assert_eq!(c.path, root.path().join("run"));
        assert!(matches!(c.refused[0].1, Problem::Symlink { .. }));
        let w = warning(&c).unwrap();
        assert!(w.contains("symbolic link"), "{w}");
        assert!(
            w.contains(&root.path().join("run").display().to_string()),
            "{w}"
        );
    }

    #[test]
    fn our_own_open_dir_is_closed_not_refused() {
        let tmp = sticky_tmp();
        let root = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("berth-4242");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let c = choose(&inputs(tmp.path(), root.path(), None));
        assert_eq!(c.path, dir);
        let m = std::fs::symlink_metadata(&dir).unwrap();
        assert_eq!(m.mode() & 0o777, 0o700);
    }

    #[test]
    fn another_users_dir_is_refused() {
        // Only root can make a directory that belongs to someone else.
        if !nix::unistd::geteuid().is_root() {
            return;
        }
        let tmp = sticky_tmp();
        let root = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("berth-4242");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        std::os::unix::fs::chown(&dir, Some(4243), Some(4243)).unwrap();
        let c = choose(&inputs(tmp.path(), root.path(), None));
        assert_eq!(c.path, root.path().join("run"));
        assert_eq!(
            c.refused[0].1,
            Problem::Owner {
                owner: 4243,
                mode: 0o777
            }
        );
        let w = warning(&c).unwrap();
        assert!(w.contains("uid 4243"), "{w}");
        assert!(w.contains("not to you"), "{w}");
    }

    #[test]
    fn a_world_writable_parent_without_sticky_bit_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let root = tempfile::tempdir().unwrap();
        let c = choose(&inputs(tmp.path(), root.path(), None));
        assert_eq!(c.path, root.path().join("run"));
        assert!(matches!(c.refused[0].1, Problem::UnsafeParent { .. }));
    }

    #[test]
    fn a_long_store_path_gets_a_short_dir_in_tmp() {
        let tmp = sticky_tmp();
        let base = tempfile::tempdir().unwrap();
        let root = base.path().join("x".repeat(90));
        std::fs::create_dir_all(&root).unwrap();
        // The usual place is squatted (a file), the store path is too long.
        std::fs::write(tmp.path().join("berth-4242"), b"").unwrap();
        let c = choose(&inputs(tmp.path(), &root, None));
        assert!(c.path.starts_with(tmp.path()), "{:?}", c.path);
        assert!(c.path.as_os_str().len() <= MAX_LEN);
        // Every process of this store arrives at the same directory.
        assert_eq!(choose(&inputs(tmp.path(), &root, None)).path, c.path);
        // And if that one is squatted too, a recorded random one.
        let squatted = c.path.clone();
        std::fs::remove_dir(&squatted).unwrap();
        std::fs::write(&squatted, b"").unwrap();
        let c2 = choose(&inputs(tmp.path(), &root, None));
        assert_ne!(c2.path, squatted);
        assert!(c2.path.starts_with(tmp.path()));
        assert_eq!(choose(&inputs(tmp.path(), &root, None)).path, c2.path);
    }

    #[test]
    fn owner_names_translate_to_the_host() {
        // Outside any namespace of ours the map is the identity.
        let me = nix::unistd::geteuid().as_raw();
        assert!(
            owner_name(me).contains(&format!("uid {me}")) || owner_name(me).contains("outside")
        );
    }
}
