//! A build context sent as a tar archive (plain, gzip or zstd): unpacked
//! once into a private staging directory, with every path checked. Entry
//! names are relative to the context; `..` components, links that would
//! put a later entry behind a symlink, and hard links to anything but an
//! earlier regular file are refused. Owners and modes come from the
//! headers (an unprivileged user cannot set them) and are returned so the
//! index reports what Docker would.

use super::index::HeaderMeta;
use crate::util::path::go_clean;
use anyhow::{bail, Context, Result};
use std::collections::HashSet;
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// The context-relative form of an archive entry name, or an error when it
/// leaves the context.
fn clean_entry_name(raw: &str) -> Result<String> {
    let trimmed = raw.trim_start_matches('/');
    if trimmed.split('/').any(|c| c == "..") {
        bail!("build context archive entry {raw:?} points outside the context");
    }
    let clean = go_clean(trimmed);
    Ok(if clean == "." { String::new() } else { clean })
}

/// Unpacks `reader` (any supported compression) into `dest`, an empty
/// directory.
pub fn unpack(reader: impl Read, dest: &Path) -> Result<HeaderMeta> {
    let stream =
        crate::image::compression::decompress(reader).context("reading build context archive")?;
    let mut archive = tar::Archive::new(stream);
    let mut meta = HeaderMeta::new();
    let mut symlinks: HashSet<String> = HashSet::new();
    let mut files: HashSet<String> = HashSet::new();
    for entry in archive.entries().context("reading build context archive")? {
        let mut entry = entry.context("reading build context archive")?;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let name = clean_entry_name(&raw)?;
        if name.is_empty() {
            continue;
        }
        // No entry may be created through a symlink this archive made.
        let mut prefix = String::new();
        for comp in name.split('/').take(name.split('/').count() - 1) {
            prefix = if prefix.is_empty() {
                comp.to_string()
            } else {
                format!("{prefix}/{comp}")
            };
            if symlinks.contains(&prefix) {
                bail!("build context archive entry {raw:?} is below the symlink {prefix:?}");
            }
        }
        let header = entry.header();
        let mode = header.mode().unwrap_or(0o644) & 0o7777;
        let uid = header.uid().unwrap_or(0) as u32;
        let gid = header.gid().unwrap_or(0) as u32;
        let kind = header.entry_type();
        let target = dest.join(&name);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        // A later entry replaces an earlier one of the same name (a
        // directory is kept and merged into).
        if let Ok(md) = fs::symlink_metadata(&target) {
            if !md.is_dir() || !kind.is_dir() {
                if md.is_dir() {
                    fs::remove_dir_all(&target)?;
                } else {
                    fs::remove_file(&target)?;
                }
            }
            // Forget what was at or below the replaced path, so no later
            // hard link can reach through what replaces it.
            let below = format!("{name}/");
            symlinks.retain(|p| *p != name && !p.starts_with(&below));
            files.retain(|p| *p != name && !p.starts_with(&below));
        }
        if kind.is_dir() {
            fs::create_dir_all(&target)?;
            fs::set_permissions(&target, fs::Permissions::from_mode(0o700 | (mode & 0o777)))?;
        } else if kind.is_symlink() {
            let link = entry
                .link_name()
                .context("reading build context archive")?
                .context("symlink without target in build context archive")?;
            std::os::unix::fs::symlink(&link, &target)
                .with_context(|| format!("creating {}", target.display()))?;
            symlinks.insert(name.clone());
        } else if kind.is_hard_link() {
            let link = entry
                .link_name()
                .context("reading build context archive")?
                .context("hard link without target in build context archive")?;
            let link_name = clean_entry_name(&link.to_string_lossy())?;
            if !files.contains(&link_name) {
                bail!("build context archive entry {raw:?} links to {link_name:?}, which is not an earlier regular file of the archive");
            }
            fs::hard_link(dest.join(&link_name), &target)
                .with_context(|| format!("creating {}", target.display()))?;
            files.insert(name.clone());
        } else if kind.is_file() || kind == tar::EntryType::Continuous {
            let mut out = fs::File::create(&target)
                .with_context(|| format!("creating {}", target.display()))?;
            std::io::copy(&mut entry, &mut out)
                .with_context(|| format!("writing {}", target.display()))?;
            fs::set_permissions(&target, fs::Permissions::from_mode(0o600 | (mode & 0o777)))?;
            files.insert(name.clone());
        } else {
            // Devices and FIFOs cannot be made without privilege, and a
            // build copies none; PAX and GNU metadata entries are consumed
            // by the tar reader.
            continue;
        }
        meta.insert(name, (mode, uid, gid));
    }
    Ok(meta)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_with(entries: &[(&str, tar::EntryType, &str)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, kind, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(*kind);
            h.set_mode(0o640);
            h.set_uid(1234);
            h.set_gid(99);
            if kind.is_symlink() || kind.is_hard_link() {
                h.set_size(0);
                b.append_link(&mut h, name, data).unwrap();
            } else {
                h.set_size(data.len() as u64);
                // Write the raw name so "../" survives the builder's checks.
                h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
                h.set_cksum();
                b.append(&h, data.as_bytes()).unwrap();
            }
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn unpacks_with_header_metadata() {
        let t = tar_with(&[
            ("./a/b.txt", tar::EntryType::Regular, "hi"),
            ("link", tar::EntryType::Symlink, "a/b.txt"),
            ("hard", tar::EntryType::Link, "a/b.txt"),
        ]);
        let dir = tempfile::tempdir().unwrap();
        let meta = unpack(&t[..], dir.path()).unwrap();
        assert_eq!(
            fs::read_to_string(dir.path().join("a/b.txt")).unwrap(),
            "hi"
        );
        assert_eq!(
            fs::read_link(dir.path().join("link")).unwrap().to_str(),
            Some("a/b.txt")
        );
        assert_eq!(fs::read_to_string(dir.path().join("hard")).unwrap(), "hi");
        assert_eq!(meta["a/b.txt"], (0o640, 1234, 99));
    }

    #[test]
    fn refuses_escapes() {
        let dir = tempfile::tempdir().unwrap();
        let t = tar_with(&[("../evil", tar::EntryType::Regular, "x")]);
        assert!(unpack(&t[..], dir.path())
            .unwrap_err()
            .to_string()
            .contains("outside the context"));
        let t = tar_with(&[
            ("up", tar::EntryType::Symlink, "/tmp"),
            ("up/evil", tar::EntryType::Regular, "x"),
        ]);
        let dir = tempfile::tempdir().unwrap();
        assert!(unpack(&t[..], dir.path())
            .unwrap_err()
            .to_string()
            .contains("below the symlink"));
        let t = tar_with(&[("h", tar::EntryType::Link, "/etc/passwd")]);
        let dir = tempfile::tempdir().unwrap();
        assert!(unpack(&t[..], dir.path()).is_err());
    }
}
