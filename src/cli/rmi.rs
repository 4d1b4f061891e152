//! `rmi` as Docker's daemon decides it (daemon/images/image_delete.go):
//! which names go, when the image itself goes, which conflicts stop it and
//! with which words, and the `Untagged:`/`Deleted:` lines, including the
//! layers (by chain id) that no other image or container shares.

use super::args::RmiArgs;
use crate::model::reference::{familiar, Reference};
use crate::model::Status;
use crate::store::images::{ImageIndex, ImageRecord};
use crate::store::{Store, StoreLock};
use crate::util::digest::sha256_digest;
use crate::util::ids::short_id;
use anyhow::{bail, Result};

pub(crate) fn rmi(args: RmiArgs) -> Result<()> {
    let store = Store::open_default()?;
    crate::userns::enter()?;
    // Leftovers of killed commands go while we hold the store anyway.
    store.clean_stale_tmp();
    // Docker prints the failures after everything removed.
    let mut errors = Vec::new();
    for spec in &args.images {
        let lock = store.lock()?;
        match remove_image(&store, spec, args.force, &lock) {
            Ok(removal) => removal.lines.iter().for_each(|l| println!("{l}")),
            Err(e) => errors.push(e),
        }
    }
    super::daemon_errors(errors)
}

/// A container of the image, as the conflicts see it.
struct User {
    id: String,
    active: bool,
}

/// The repository part of a stored name (`docker.io/library/busybox`).
fn repository(name: &str) -> String {
    Reference::parse(name)
        .map(|r| r.name())
        .unwrap_or_else(|_| name.to_string())
}

fn is_digest(name: &str) -> bool {
    name.contains('@')
}

/// Docker's `isSingleReference`: at most one tag, and every name in one
/// repository.
fn is_single_reference(refs: &[String]) -> bool {
    if refs.len() <= 1 {
        return refs.len() == 1;
    }
    let tags: Vec<&String> = refs.iter().filter(|r| !is_digest(r)).collect();
    if tags.len() > 1 {
        return false;
    }
    let digests: std::collections::HashSet<String> = refs
        .iter()
        .filter(|r| is_digest(r))
        .map(|r| repository(r))
        .collect();
    let single = tags.first().copied().unwrap_or(&refs[0]);
    digests.len() == 1 && digests.contains(&repository(single))
}

/// What one removal did: Docker's `Untagged:`/`Deleted:` lines and the
/// bytes of the layers that went.
#[derive(Debug, Default)]
pub(crate) struct Removal {
    pub(crate) lines: Vec<String>,
    pub(crate) reclaimed: u64,
}

/// Untags or deletes one image as Docker's `rmi` does.
pub(crate) fn remove_image(
    store: &Store,
    spec: &str,
    force: bool,
    lock: &StoreLock,
) -> Result<Removal> {
    let mut index = store.images()?;
    let i = index.resolve_index(spec)?;
    let img = index.images[i].clone();
    let mut refs: Vec<String> = img
        .repo_tags
        .iter()
        .chain(&img.repo_digests)
        .cloned()
        .collect();
    let mut users = Vec::new();
    for c in store.containers()? {
        if c.image_id == img.id {
            let status = store.observed_state(&c.id)?.status;
            users.push(User {
                id: c.id,
                active: status.is_active() || status == Status::Removing,
            });
        }
    }
    let named = Reference::parse_tagged(spec)
        .ok()
        .map(|r| r.to_string())
        .filter(|n| refs.contains(n));
    let mut lines = Vec::new();

    if let Some(name) = &named {
        if !force && is_single_reference(&refs) {
            if let Some(u) = users.first() {
                bail!(
                    "conflict: unable to remove repository reference {spec:?} (must force) - container {} is using its referenced image {}",
                    short_id(&u.id),
                    short_id(&img.id)
                );
            }
        }
        refs.retain(|r| r != name);
        lines.push(format!("Untagged: {}", familiar(name)));
        // The last tag of a repository takes that repository's digests along.
        if !is_digest(name) {
            let repo = repository(name);
            if !refs.iter().any(|r| !is_digest(r) && repository(r) == repo) {
                refs.retain(|r| {
                    let goes = is_digest(r) && repository(r) == repo;
                    if goes {
                        lines.push(format!("Untagged: {}", familiar(r)));
                    }
                    !goes
                });
            }
        }
        set_names(&mut index.images[i], &refs);
        store.save_images(&index, lock)?;
        // Other names keep the image; so does, quietly (no error, as
        // Docker), a container that stands in the way.
        let kept =
            !refs.is_empty() || users.iter().any(|u| u.active) || (!force && !users.is_empty());
        if kept {
            // Docker's events: one `untag` for the name given (its
            // digests go silently).
            store.record_image_removal(&img.id, 1, false);
            return Ok(Removal {
                lines: lines.clone(),
                reclaimed: 0,
            });
        }
    } else if is_single_reference(&refs) {
        // By id, with at most one tag in one repository: all names go,
        // unless a container stands in the way.
        check_conflicts(&img, &users, false, force)?;
        for r in refs.drain(..) {
            lines.push(format!("Untagged: {}", familiar(&r)));
        }
    }

    check_conflicts(&img, &users, !refs.is_empty(), force)?;
    for r in &refs {
        lines.push(format!("Untagged: {}", familiar(r)));
    }
    index.images.remove(i);
    store.save_images(&index, lock)?;
    // By id, an `untag` per name removed; by name, the one name.
    let untags = match named {
        Some(_) => 1,
        None => lines.iter().filter(|l| l.starts_with("Untagged:")).count(),
    };
    store.record_image_removal(&img.id, untags, true);
    lines.push(format!("Deleted: {}", img.id));
    let (layer_lines, reclaimed) = delete_files(store, &index, &img, lock)?;
    lines.extend(layer_lines);
    Ok(Removal { lines, reclaimed })
}

/// Docker's `checkImageDeleteConflict`: a running container always stops
/// the removal; names and stopped containers only without `-f`.
fn check_conflicts(img: &ImageRecord, users: &[User], named: bool, force: bool) -> Result<()> {
    let conflict = |forced: bool, why: String| -> anyhow::Error {
        anyhow::anyhow!(
            "conflict: unable to delete {} ({}) - {why}",
            short_id(&img.id),
            if forced {
                "cannot be forced"
            } else {
                "must be forced"
            }
        )
    };
    if let Some(u) = users.iter().find(|u| u.active) {
        return Err(conflict(
            true,
            format!(
                "image is being used by running container {}",
                short_id(&u.id)
            ),
        ));
    }
    if force {
        return Ok(());
    }
    if named {
        return Err(conflict(
            false,
            "image is referenced in multiple repositories".into(),
        ));
    }
    if let Some(u) = users.first() {
        return Err(conflict(
            false,
            format!(
                "image is being used by stopped container {}",
                short_id(&u.id)
            ),
        ));
    }
    Ok(())
}

fn set_names(img: &mut ImageRecord, refs: &[String]) {
    img.repo_tags.retain(|t| refs.contains(t));
    img.repo_digests.retain(|d| refs.contains(d));
}

/// After an image record is gone: its config blob and the layers nobody
/// uses. Returns the `Deleted: sha256:<chain id>` lines Docker prints for
/// the layers it releases, top first: each layer whose stack (chain) no
/// remaining image or container has; and the bytes of the layers removed.
fn delete_files(
    store: &Store,
    index: &ImageIndex,
    img: &ImageRecord,
    lock: &StoreLock,
) -> Result<(Vec<String>, u64)> {
    if index.by_id(&img.id).is_none() {
        store.remove_blob(&img.id)?;
    }
    let mut stacks: Vec<Vec<String>> = index.images.iter().map(|i| i.layers.clone()).collect();
    stacks.extend(store.containers()?.into_iter().map(|c| c.layers));
    let chains = chain_ids(&img.layers);
    let mut lines = Vec::new();
    for n in (1..=img.layers.len()).rev() {
        let prefix = &img.layers[..n];
        if stacks.iter().any(|s| s.starts_with(prefix)) {
            break;
        }
        lines.push(format!("Deleted: {}", chains[n - 1]));
    }
    let reclaimed = store
        .remove_unused_layers(lock)?
        .iter()
        .map(|(_, size)| size)
        .sum();
    Ok((lines, reclaimed))
}

/// The chain ids of a stack of diff ids, as the OCI image spec defines
/// them: the first is its diff id, each next the digest of
/// `"<previous chain id> <diff id>"`.
pub(crate) fn chain_ids(layers: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(layers.len());
    for l in layers {
        let next = match out.last() {
            None => l.clone(),
            Some(prev) => sha256_digest(format!("{prev} {l}").as_bytes()),
        };
        out.push(next);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn single_reference_is_one_tag_with_its_digests() {
        let tag = "docker.io/library/x:1";
        let dig = "docker.io/library/x@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        assert!(is_single_reference(&s(&[tag])));
        assert!(is_single_reference(&s(&[tag, dig])));
        assert!(!is_single_reference(&s(&[])));
        assert!(!is_single_reference(&s(&[tag, "docker.io/library/x:2"])));
        assert!(!is_single_reference(&s(&[tag, "docker.io/library/y:1"])));
    }

    #[test]
    fn chain_ids_follow_the_image_spec() {
        let layers = s(&["sha256:a", "sha256:b"]);
        let chains = chain_ids(&layers);
        assert_eq!(chains[0], "sha256:a");
        assert_eq!(chains[1], sha256_digest(b"sha256:a sha256:b"));
    }
}
