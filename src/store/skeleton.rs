//! Directories of shared layers, made ours in a container's upper layer.
//!
//! A layer of an additional image store belongs to whoever prepared the
//! store (root, or another user's subordinate ids). In our user namespace
//! those owners are unmapped, so the container's root has only "other"
//! rights on them: it could not create `/etc/hosts`, a mount point under
//! `/var`, or any file in a directory of the image. Overlay takes a merged
//! directory's owner and mode from the highest layer that has it, and the
//! upper layer is the highest: so before the first start, every directory
//! whose highest layer is a shared one is created in the upper directory,
//! with its mode, owned by us. Files stay where they are (read in place;
//! changing one that belongs to another user fails, as it would on the
//! host); only the directories are copied, once per container.
//!
//! The walk follows overlay's rules: a whiteout (0/0 character device)
//! hides the path in lower layers, a non-directory hides a lower
//! directory of the same path, an opaque directory hides what lower
//! layers have beneath it.

use super::Store;
use anyhow::{Context, Result};
use std::collections::{BTreeMap, HashSet};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

impl Store {
    /// Prepares `upper` (empty, before the first start) for a container of
    /// these layers (base first). Nothing to do when every layer is ours.
    pub fn prepare_upper_for_shared_layers(&self, layers: &[String], upper: &Path) -> Result<()> {
        let dirs: Vec<(PathBuf, bool)> = layers
            .iter()
            .rev()
            .map(|d| {
                let local = self.layer_is_local(d);
                self.layer_diff(d).map(|p| (p, !local))
            })
            .collect::<Result<_>>()?;
        if dirs.iter().all(|(_, shared)| !shared) {
            return Ok(());
        }
        if std::fs::read_dir(upper).is_ok_and(|mut e| e.next().is_some()) {
            // Started before: the directories are there (or were removed
            // by the container, which must stay so).
            return Ok(());
        }
        let wanted = shared_directories(&dirs);
        for (rel, mode) in &wanted {
            let path = upper.join(rel);
            match std::fs::create_dir(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!(
                            "preparing the directory /{} of the container",
                            rel.display()
                        )
                    })
                }
            }
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(*mode))
                .with_context(|| format!("setting the mode of /{}", rel.display()))?;
        }
        Ok(())
    }
}

/// The directories (relative path, mode) whose highest layer is a shared
/// one, with their ancestors, parents first. `layers` is top first, each
/// with whether it is shared.
pub fn shared_directories(layers: &[(PathBuf, bool)]) -> BTreeMap<PathBuf, u32> {
    // Per path: (mode, highest layer shared?).
    let mut decided: BTreeMap<PathBuf, (u32, bool)> = BTreeMap::new();
    let mut blocked: HashSet<PathBuf> = HashSet::new();
    let mut opaque: Vec<PathBuf> = Vec::new();
    for (root, shared) in layers {
        let mut new_opaque = Vec::new();
        walk(
            root,
            Path::new(""),
            *shared,
            &mut decided,
            &mut blocked,
            &opaque,
            &mut new_opaque,
        );
        opaque.extend(new_opaque);
    }
    let mut out = BTreeMap::new();
    for (path, (mode, shared)) in &decided {
        if !shared {
            continue;
        }
        // Ancestors too, so that mkdir of each finds its parent.
        let mut anc = path.as_path();
        while let Some(parent) = anc.parent().filter(|p| !p.as_os_str().is_empty()) {
            if let Some((m, _)) = decided.get(parent) {
                out.entry(parent.to_path_buf()).or_insert(*m);
            }
            anc = parent;
        }
        out.insert(path.clone(), *mode);
    }
    out
}

fn hidden(path: &Path, blocked: &HashSet<PathBuf>, opaque: &[PathBuf]) -> bool {
    path.ancestors()
        .filter(|a| !a.as_os_str().is_empty())
        .any(|a| blocked.contains(a))
        || opaque.iter().any(|o| path.starts_with(o) && path != o)
}

fn is_opaque(dir: &Path) -> bool {
    ["user.overlay.opaque", "trusted.overlay.opaque"]
        .iter()
        .any(|n| xattr::get(dir, n).ok().flatten().as_deref() == Some(b"y"))
}

fn walk(
    root: &Path,
    rel: &Path,
    shared: bool,
    decided: &mut BTreeMap<PathBuf, (u32, bool)>,
    blocked: &mut HashSet<PathBuf>,
    opaque: &[PathBuf],
    new_opaque: &mut Vec<PathBuf>,
) {
    // A directory we cannot read (0700 of another owner) keeps its
    // content from us anyway.
    let Ok(entries) = std::fs::read_dir(root.join(rel)) else {
        return;
    };
    for entry in entries.flatten() {
        let path = rel.join(entry.file_name());
        if hidden(&path, blocked, opaque) {
            continue;
        }
        let Ok(meta) = std::fs::symlink_metadata(entry.path()) else {
            continue;
        };
        let ft = meta.file_type();
        if ft.is_char_device() && meta.rdev() == 0 {
            blocked.insert(path);
        } else if ft.is_dir() {
            decided
                .entry(path.clone())
                .or_insert((meta.mode() & 0o7777, shared));
            if is_opaque(&entry.path()) {
                new_opaque.push(path.clone());
            }
            walk(root, &path, shared, decided, blocked, opaque, new_opaque);
        } else if !decided.contains_key(&path) {
            blocked.insert(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mkdir(p: &Path, mode: u32) {
        std::fs::create_dir_all(p).unwrap();
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn only_directories_from_shared_layers_with_overlay_rules() {
        let d = tempfile::tempdir().unwrap();
        let (base, top) = (d.path().join("base"), d.path().join("top"));
        // Shared base: /etc, /var/lib/x, /tmp (1777), /gone, /opq/old.
        mkdir(&base.join("etc"), 0o755);
        mkdir(&base.join("var/lib/x"), 0o750);
        mkdir(&base.join("tmp"), 0o1777);
        mkdir(&base.join("gone"), 0o755);
        mkdir(&base.join("opq/old"), 0o755);
        mkdir(&base.join("file-later"), 0o755);
        // Our own top layer: /var (ours), a whiteout of /gone, /opq opaque,
        // a file where base had a directory.
        mkdir(&top.join("var"), 0o711);
        mkdir(&top.join("opq/new"), 0o700);
        let opq = top.join("opq");
        if xattr::set(&opq, "user.overlay.opaque", b"y").is_err() {
            return; // no user xattrs here (tmpfs before 6.6)
        }
        std::fs::write(top.join("file-later"), b"").unwrap();
        let wh = std::ffi::CString::new(top.join("gone").as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: mknod with a valid C string; a 0/0 character device is
        // overlay's whiteout.
        if unsafe { libc::mknod(wh.as_ptr(), libc::S_IFCHR, 0) } != 0 {
            return; // not allowed to make whiteouts here
        }
        let got = shared_directories(&[(top, false), (base, true)]);
        let names: Vec<String> = got.keys().map(|p| p.display().to_string()).collect();
        assert_eq!(names, ["etc", "tmp", "var", "var/lib", "var/lib/x"]);
        assert_eq!(got[Path::new("tmp")], 0o1777);
        assert_eq!(got[Path::new("var")], 0o711, "the highest layer's mode");
        assert_eq!(got[Path::new("var/lib/x")], 0o750);
    }

    #[test]
    fn nothing_when_no_layer_is_shared() {
        let d = tempfile::tempdir().unwrap();
        mkdir(&d.path().join("etc"), 0o755);
        assert!(shared_directories(&[(d.path().to_path_buf(), false)]).is_empty());
    }
}
