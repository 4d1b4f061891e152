//! The mount points every container gets — /proc, /dev, /sys, and /etc's
//! hosts, hostname and resolv.conf (with fakeroot, apt's file too) —
//! made in the container's upper directory before the overlay is made,
//! where the image lacks them.
//!
//! Made by the init through the overlay, each was a copy-up of its parent
//! (`/etc`: a directory made in `work`, its attributes and extended
//! attributes copied, then renamed into `upper`) and an overlay create:
//! on an image with none of them the init's mounts took 1.2 ms longer
//! than on the same image with all of them. Made here, they are plain
//! creates in `upper`, on the monitor's core; overlay allows changes to
//! its upper directory while it is not mounted.
//!
//! Only what the init would make in the same way is made here. A name the
//! image or the upper directory already has (of any type, a whiteout too)
//! is left alone, and a directory of the image is copied up here only
//! when it is a plain directory of ours without extended attributes, with
//! its mode and the times the kernel's copy-up would leave; otherwise the
//! kernel's copy-up makes it, as before. Nothing here is an error: what
//! is not made here, the init makes and explains.

use crate::image::view::LayerView;
use crate::mounts::rootfs::OverlaySpec;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// The directories the init mounts over at the root, with the mode it
/// gives them when it makes them (`mounts::proc_sys`, `mounts::dev`).
const ROOT_DIRS: [(&str, u32); 3] = [("proc", 0o555), ("dev", 0o755), ("sys", 0o555)];

/// The files of /etc the init binds (`mounts::files::bind_all`).
const ETC_FILES: [&str; 3] = ["hosts", "hostname", "resolv.conf"];

/// A file the init binds over: its directory (components below the
/// root), its name, and whether the init makes the directory when the
/// image has none (else it binds nothing there).
struct BoundFile {
    dir: &'static [&'static str],
    name: &'static str,
    make_dir: bool,
}

/// Makes the mount points the image lacks in `spec`'s upper directory.
/// Called by the monitor before the overlay exists, with the init in our
/// user namespace (so that what we make is owned as what it would make).
/// `user_targets` are the destinations of the user's mounts: /etc files
/// among them are the user's to provide. `fakeroot`: the init binds apt's
/// configuration into an image that has apt (`mounts::files`).
pub(crate) fn premake(
    store_root: &Path,
    spec: &OverlaySpec,
    user_targets: &[&str],
    fakeroot: bool,
) {
    let upper = store_root.join(&spec.upper);
    let view = LayerView::from_dirs(spec.lowers.iter().map(|l| store_root.join(l)).collect());
    for (name, mode) in ROOT_DIRS {
        let path = upper.join(name);
        if absent(&path) && missing(&view, &[name]) {
            let _ = std::fs::DirBuilder::new().mode(mode).create(&path);
        }
    }
    let mut files: Vec<BoundFile> = ETC_FILES
        .into_iter()
        .filter(|name| !user_targets.contains(&format!("/etc/{name}").as_str()))
        .map(|name| BoundFile {
            dir: &["etc"],
            name,
            make_dir: true,
        })
        .collect();
    if fakeroot {
        let (dir, name) = APT_FAKEROOT;
        files.push(BoundFile {
            dir,
            name,
            make_dir: false,
        });
    }
    // Per directory, the files the image lacks; a directory is copied
    // up only for a file to make in it.
    let mut wanted: Vec<(&BoundFile, Vec<&str>)> = Vec::new();
    for file in &files {
        let mut rel = file.dir.to_vec();
        rel.push(file.name);
        if !missing(&view, &rel) {
            continue;
        }
        match wanted.iter_mut().find(|(f, _)| f.dir == file.dir) {
            Some((_, names)) => names.push(file.name),
            None => wanted.push((file, vec![file.name])),
        }
    }
    let mut made = Vec::new();
    for (file, names) in wanted {
        if !copy_up_dirs(&view, &upper, file.dir, file.make_dir, &mut made) {
            continue;
        }
        let dir = upper.join(file.dir.join("/"));
        for name in names {
            let _ = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o644)
                .open(dir.join(name));
        }
    }
}

/// apt's configuration directory and the name bound in it with fakeroot
/// (`mounts::files::APT_FAKEROOT_PATH`).
const APT_FAKEROOT: (&[&str], &str) = (&["etc", "apt", "apt.conf.d"], "00berth-fakeroot");

/// Whether nothing is at `rel` in the image's layers.
fn missing(view: &LayerView, rel: &[&str]) -> bool {
    let rel: Vec<String> = rel.iter().map(|s| s.to_string()).collect();
    matches!(view.lstat(&rel), Ok(None))
}

/// Makes `dir` in `upper` as the init's work through the overlay would
/// have: each directory the image has is copied up (its mode; its owner
/// is ours), each it lacks is made as `mkdir -p` would when `make_missing`.
/// False when it is not made so and is left to the init: a directory
/// the upper one already holds (a container started before: the init saw
/// to it then) unless `made` says we made it in this start, one the image
/// has in another form, or whose copy the kernel must make. The
/// directories made are added to `made`.
fn copy_up_dirs(
    view: &LayerView,
    upper: &Path,
    dir: &[&str],
    make_missing: bool,
    made: &mut Vec<std::path::PathBuf>,
) -> bool {
    // Decided for the whole path first: nothing is made for a path that
    // is then left to the init. Per directory: None when we made it
    // already; else what to make, with the image's metadata to copy.
    let mut plan = Vec::with_capacity(dir.len());
    let mut rel: Vec<String> = Vec::new();
    for name in dir {
        rel.push(name.to_string());
        let path = upper.join(rel.join("/"));
        if made.contains(&path) {
            plan.push(None);
            continue;
        }
        if !absent(&path) {
            return false;
        }
        plan.push(Some(match view.lstat(&rel) {
            Ok(None) if make_missing => None,
            Ok(Some(entry)) if copyable_dir(view, &entry) => Some(entry.meta),
            // Not a directory, not ours, with extended attributes, or
            // unreadable: the kernel's copy-up, in the init.
            _ => return false,
        }));
    }
    let mut path = upper.to_path_buf();
    let mut copied = Vec::new();
    for (name, step) in dir.iter().zip(plan) {
        path.push(name);
        let Some(lower) = step else { continue };
        if std::fs::DirBuilder::new()
            .mode(0o755)
            .create(&path)
            .is_err()
        {
            return false;
        }
        if let Some(lower) = lower {
            let mode = std::fs::Permissions::from_mode(lower.mode() & 0o7777);
            if std::fs::set_permissions(&path, mode).is_err() {
                // A directory without the image's mode would show; take it
                // back and leave it to the init. (Its parents made here
                // are exact copies: they may stay.)
                let _ = std::fs::remove_dir(&path);
                return false;
            }
            copied.push((path.clone(), lower));
        }
        made.push(path.clone());
    }
    // The kernel's copy-up keeps a directory's times, and a parent's
    // when it copies up a child: only the last directory, where the
    // files are then made, shows the time of this start.
    let last = upper.join(dir.join("/"));
    for (path, lower) in copied.iter().filter(|(p, _)| *p != last) {
        let time = |secs: i64, nanos: i64| nix::sys::time::TimeSpec::new(secs, nanos);
        let _ = nix::sys::stat::utimensat(
            nix::fcntl::AT_FDCWD,
            path,
            &time(lower.atime(), lower.atime_nsec()),
            &time(lower.mtime(), lower.mtime_nsec()),
            nix::sys::stat::UtimensatFlags::NoFollowSymlink,
        );
    }
    true
}

/// Nothing at all at `path` (not even a whiteout).
fn absent(path: &Path) -> bool {
    matches!(std::fs::symlink_metadata(path), Err(e) if e.kind() == std::io::ErrorKind::NotFound)
}

/// Whether the image's directory `entry` can be copied up by hand and
/// look as the kernel's copy-up would make it: a directory owned by our
/// ids (what we create is), without extended attributes to copy.
fn copyable_dir(view: &LayerView, entry: &crate::image::view::ViewEntry) -> bool {
    if !entry.is_dir()
        || entry.meta.uid() != nix::unistd::geteuid().as_raw()
        || entry.meta.gid() != nix::unistd::getegid().as_raw()
    {
        return false;
    }
    let path = view.layer_dir(entry).join(&entry.rel);
    xattr::list(&path).is_ok_and(|mut names| names.next().is_none())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileTypeExt;

    fn spec(root: &Path, lowers: &[&str]) -> OverlaySpec {
        std::fs::create_dir_all(root.join("upper")).unwrap();
        OverlaySpec {
            lowers: lowers.iter().map(|s| s.to_string()).collect(),
            upper: "upper".into(),
            work: "work".into(),
            userxattr: true,
            volatile: false,
        }
    }

    fn mode(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).unwrap().mode() & 0o7777
    }

    #[test]
    fn an_image_without_mount_points_gets_them_in_upper() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("l1/bin")).unwrap();
        let s = spec(d.path(), &["l1"]);
        premake(d.path(), &s, &[], false);
        let up = d.path().join("upper");
        for dir in ["proc", "dev", "sys", "etc"] {
            assert!(up.join(dir).is_dir(), "{dir}");
        }
        for f in ETC_FILES {
            let m = std::fs::symlink_metadata(up.join("etc").join(f)).unwrap();
            assert!(m.is_file() && m.len() == 0, "{f}");
        }
        // Nothing of the lower layer is copied.
        assert!(!up.join("bin").exists());
    }

    #[test]
    fn the_image_s_etc_is_copied_up_with_its_mode_and_only_missing_files_made() {
        let d = tempfile::tempdir().unwrap();
        let etc = d.path().join("l1/etc");
        std::fs::create_dir_all(&etc).unwrap();
        std::fs::write(etc.join("hosts"), "image's").unwrap();
        std::fs::set_permissions(&etc, std::fs::Permissions::from_mode(0o750)).unwrap();
        for dir in ["proc", "dev", "sys"] {
            std::fs::create_dir(d.path().join("l1").join(dir)).unwrap();
        }
        let s = spec(d.path(), &["l1"]);
        premake(d.path(), &s, &["/etc/resolv.conf"], false);
        let up = d.path().join("upper");
        // The image has them: nothing made.
        for dir in ["proc", "dev", "sys"] {
            assert!(!up.join(dir).exists(), "{dir}");
        }
        assert_eq!(mode(&up.join("etc")), 0o750);
        assert!(up.join("etc/hostname").is_file());
        // The image's file stays the image's; the user's mount target
        // is the user's.
        assert!(!up.join("etc/hosts").exists());
        assert!(!up.join("etc/resolv.conf").exists());
    }

    #[test]
    fn names_the_image_or_upper_holds_in_any_form_are_left_to_the_init() {
        let d = tempfile::tempdir().unwrap();
        // The top layer deletes /proc (a whiteout): missing, so made. Its
        // /etc is a symlink: left to the init, which resolves it.
        let top = d.path().join("top");
        let base = d.path().join("base");
        std::fs::create_dir_all(&top).unwrap();
        std::fs::create_dir_all(base.join("proc")).unwrap();
        std::fs::create_dir_all(base.join("etc")).unwrap();
        std::os::unix::fs::symlink("/srv/etc", top.join("etc")).unwrap();
        let whiteout = nix::sys::stat::mknod(
            &top.join("proc"),
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::from_bits_truncate(0o600),
            0,
        );
        let s = spec(d.path(), &["top", "base"]);
        // A container started before: its upper has /dev as a file.
        std::fs::write(d.path().join("upper/dev"), "").unwrap();
        premake(d.path(), &s, &[], false);
        let up = d.path().join("upper");
        assert!(up.join("dev").is_file());
        assert!(up.join("sys").is_dir());
        assert!(!up.join("etc").exists());
        if whiteout.is_ok() {
            assert!(std::fs::symlink_metadata(top.join("proc"))
                .unwrap()
                .file_type()
                .is_char_device());
            assert!(up.join("proc").is_dir());
        } else {
            // No mknod here (a user namespace without the right): /proc
            // is the base layer's.
            assert!(!up.join("proc").exists());
        }
    }

    #[test]
    fn an_image_with_every_file_keeps_its_etc() {
        let d = tempfile::tempdir().unwrap();
        let etc = d.path().join("l1/etc");
        std::fs::create_dir_all(&etc).unwrap();
        for f in ETC_FILES {
            std::fs::write(etc.join(f), "").unwrap();
        }
        let s = spec(d.path(), &["l1"]);
        premake(d.path(), &s, &[], true);
        // No file to make: /etc is not copied up (its time stays the
        // image's), and an image without apt gets no apt directory.
        assert!(!d.path().join("upper/etc").exists());
    }

    #[test]
    fn fakeroot_gets_apt_s_file_where_the_image_has_apt() {
        let mtime = |p: &Path| std::fs::symlink_metadata(p).unwrap().mtime();
        let d = tempfile::tempdir().unwrap();
        let conf = d.path().join("l1/etc/apt/apt.conf.d");
        std::fs::create_dir_all(&conf).unwrap();
        for f in ETC_FILES {
            std::fs::write(d.path().join("l1/etc").join(f), "").unwrap();
        }
        std::fs::set_permissions(
            d.path().join("l1/etc/apt"),
            std::fs::Permissions::from_mode(0o711),
        )
        .unwrap();
        let old = nix::sys::time::TimeSpec::new(1_000_000_000, 0);
        for dir in ["etc", "etc/apt", "etc/apt/apt.conf.d"] {
            let p = d.path().join("l1").join(dir);
            nix::sys::stat::utimensat(
                nix::fcntl::AT_FDCWD,
                &p,
                &old,
                &old,
                nix::sys::stat::UtimensatFlags::NoFollowSymlink,
            )
            .unwrap();
        }
        let s = spec(d.path(), &["l1"]);
        premake(d.path(), &s, &[], false);
        assert!(!d.path().join("upper/etc").exists());
        premake(d.path(), &s, &[], true);
        let up = d.path().join("upper");
        assert_eq!(mode(&up.join("etc/apt")), 0o711);
        // Times as the kernel's copy-up leaves them: the image's, but
        // where a file was made.
        assert_eq!(mtime(&up.join("etc")), 1_000_000_000);
        assert_eq!(mtime(&up.join("etc/apt")), 1_000_000_000);
        assert!(mtime(&up.join("etc/apt/apt.conf.d")) > 1_000_000_000);
        assert!(up.join("etc/apt/apt.conf.d/00berth-fakeroot").is_file());
        assert!(!up.join("etc/hosts").exists());
    }

    #[test]
    fn an_etc_made_for_its_files_takes_apt_s_too() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("l1/etc/apt/apt.conf.d")).unwrap();
        let s = spec(d.path(), &["l1"]);
        premake(d.path(), &s, &[], true);
        let up = d.path().join("upper/etc");
        assert!(up.join("hosts").is_file());
        assert!(up.join("apt/apt.conf.d/00berth-fakeroot").is_file());
    }

    #[test]
    fn an_upper_etc_from_an_earlier_start_is_left_alone() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("l1")).unwrap();
        let s = spec(d.path(), &["l1"]);
        std::fs::create_dir(d.path().join("upper/etc")).unwrap();
        premake(d.path(), &s, &[], false);
        assert!(!d.path().join("upper/etc/hosts").exists());
    }
}
