//! Which images are built on which: what Docker's image graph knows as
//! parents and children, found from the images themselves, since berth
//! keeps no parent links: a child has the parent's layers and more, or the
//! same layers and a longer history (a Dockerfile that only sets ENV).

use crate::image::config::ImageConfig;
use crate::store::images::ImageRecord;
use crate::store::Store;

/// The `(created, created_by)` steps of an image's history.
pub(crate) type History = Vec<(Option<String>, Option<String>)>;

pub(crate) fn history(store: &Store, img: &ImageRecord) -> History {
    store
        .get_blob(&img.id)
        .ok()
        .and_then(|b| ImageConfig::parse(&b).ok())
        .map(|c| {
            c.history
                .into_iter()
                .map(|h| (h.created, h.created_by))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `child` was built on `parent`. Histories are read only when the
/// layers alone cannot tell.
pub(crate) fn built_on(
    child: &ImageRecord,
    parent: &ImageRecord,
    history: &mut impl FnMut(&ImageRecord) -> History,
) -> bool {
    if child.id == parent.id || !child.layers.starts_with(&parent.layers) {
        return false;
    }
    if child.layers.len() > parent.layers.len() {
        return !parent.layers.is_empty();
    }
    let (p, c) = (history(parent), history(child));
    !p.is_empty() && c.len() > p.len() && c.starts_with(&p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(id: &str, layers: &[&str]) -> ImageRecord {
        ImageRecord {
            id: id.into(),
            repo_tags: vec![],
            repo_digests: vec![],
            layers: layers.iter().map(|l| l.to_string()).collect(),
            size: 0,
            created: None,
            added: String::new(),
        }
    }

    #[test]
    fn children_have_more_layers_or_more_history() {
        let step = |s: &str| (None, Some(s.to_string()));
        let base = img("a", &["l1"]);
        let more = img("b", &["l1", "l2"]);
        let env_only = img("c", &["l1"]);
        let other = img("d", &["l9", "l1"]);
        let mut hist = |i: &ImageRecord| match i.id.as_str() {
            "a" => vec![step("ADD")],
            "c" => vec![step("ADD"), step("ENV x=1")],
            _ => vec![],
        };
        assert!(built_on(&more, &base, &mut hist));
        assert!(built_on(&env_only, &base, &mut hist));
        assert!(!built_on(&base, &env_only, &mut hist));
        assert!(!built_on(&base, &more, &mut hist));
        assert!(!built_on(&other, &base, &mut hist));
        assert!(!built_on(&base, &base, &mut hist));
    }
}
