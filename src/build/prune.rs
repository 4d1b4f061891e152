//! The build cache as a whole: how much it holds (`system df`) and
//! removing it (`builder prune`, `system prune`). One function each, so
//! that `system prune` can call the same as `builder prune`.

use crate::store::Store;
use anyhow::Result;
use std::collections::HashSet;

/// What a prune removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PruneReport {
    /// Short ids of the cache records and cache mounts removed.
    pub removed: Vec<String>,
    /// Bytes given back (layers no longer used, cache mounts).
    pub reclaimed: u64,
}

/// The build cache's size.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CacheUsage {
    /// Step records and cache mounts.
    pub count: usize,
    /// Records whose layer an image uses.
    pub active: usize,
    /// Bytes of layers only the cache keeps, and of cache mounts.
    pub size: u64,
    /// What `builder prune -a` would give back.
    pub reclaimable: u64,
}

fn image_layers(store: &Store) -> Result<HashSet<String>> {
    Ok(store
        .images()?
        .images
        .into_iter()
        .flat_map(|i| i.layers)
        .collect())
}

/// The build cache's usage (`system df`'s "Build Cache" line).
pub fn usage(store: &Store) -> Result<CacheUsage> {
    let used = image_layers(store)?;
    let mut u = CacheUsage::default();
    let mut counted: HashSet<String> = HashSet::new();
    for r in store.cache_records()? {
        u.count += 1;
        match &r.layer {
            Some(l) if used.contains(l) => u.active += 1,
            Some(l) if counted.insert(l.clone()) => {
                let size = store.layer(l).map_or(0, |x| x.shown_size());
                u.size += size;
                u.reclaimable += size;
            }
            _ => {}
        }
    }
    for (_, size) in store.cache_mounts()? {
        u.count += 1;
        u.size += size;
        u.reclaimable += size;
    }
    Ok(u)
}

/// Removes the build cache: with `all`, every record; otherwise the
/// records whose layer no image uses (BuildKit's "dangling" cache).
/// Cache mounts go in both cases. The caller is in the user namespace
/// (layers hold files of subordinate ids).
pub fn prune(store: &Store, all: bool) -> Result<PruneReport> {
    let lock = store.lock()?;
    let used = image_layers(store)?;
    let mut report = PruneReport::default();
    for r in store.cache_records()? {
        let keep = !all && r.layer.as_ref().is_some_and(|l| used.contains(l));
        if keep {
            continue;
        }
        store.remove_cache_record(&r.key, &lock)?;
        report
            .removed
            .push(r.key[..25.min(r.key.len())].to_string());
    }
    for (path, size) in store.cache_mounts()? {
        store.remove_cache_mount(&path, &lock)?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        report.removed.push(name[..25.min(name.len())].to_string());
        report.reclaimed += size;
    }
    report.reclaimed += store
        .remove_unused_layers(&lock)?
        .iter()
        .map(|(_, s)| s)
        .sum::<u64>();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::build_cache::CacheRecord;

    #[test]
    fn prune_keeps_what_images_use_unless_all() {
        let (_d, store) = crate::store::test_store();
        let lock = store.lock().unwrap();
        for (c, layer) in [('a', "sha256:used"), ('b', "sha256:free")] {
            store
                .save_cache_record(
                    &CacheRecord {
                        key: c.to_string().repeat(64),
                        layer: Some(layer.into()),
                        created: String::new(),
                        description: String::new(),
                    },
                    &lock,
                )
                .unwrap();
        }
        let mut index = store.images().unwrap();
        index.upsert(crate::store::images::ImageRecord {
            id: format!("sha256:{}", "c".repeat(64)),
            repo_tags: vec![],
            repo_digests: vec![],
            layers: vec!["sha256:used".into()],
            size: 0,
            created: None,
            added: String::new(),
        });
        store.save_images(&index, &lock).unwrap();
        drop(lock);
        let u = usage(&store).unwrap();
        assert_eq!((u.count, u.active), (2, 1));
        let r = prune(&store, false).unwrap();
        assert_eq!(r.removed, vec!["b".repeat(25)]);
        assert_eq!(store.cache_records().unwrap().len(), 1);
        let r = prune(&store, true).unwrap();
        assert_eq!(r.removed, vec!["a".repeat(25)]);
        assert!(store.cache_records().unwrap().is_empty());
    }
}
