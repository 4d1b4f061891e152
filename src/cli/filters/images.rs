//! `images -f` as Docker's daemon decides it (daemon/images/image_list.go):
//! `dangling`, `label`, `before`, `since`, `until` and `reference` (glob
//! patterns as Go's `path.Match`, tried on the familiar and the full forms
//! of each name, with and without the tag).

use crate::model::filters::{FilterArgs, FilterError};
use crate::model::reference::Reference;
use crate::store::images::ImageRecord;
use indexmap::IndexMap;
use jiff::Timestamp;

pub(crate) const IMAGE_FILTER_KEYS: &[&str] =
    &["dangling", "label", "before", "since", "reference", "until"];

/// One image as the filters see it.
pub(crate) struct ImageFacts<'a> {
    pub(crate) record: &'a ImageRecord,
    pub(crate) labels: &'a IndexMap<String, String>,
    /// Another image is built on it: without `-a`, an unnamed one is an
    /// intermediate image and not listed.
    pub(crate) has_children: bool,
}

/// Parsed and resolved `images` filters.
#[derive(Debug, Clone, Default)]
pub(crate) struct ImageFilter {
    args: FilterArgs,
    dangling: Option<bool>,
    before: Option<Timestamp>,
    since: Option<Timestamp>,
}

impl ImageFilter {
    /// `created_of` finds an image by name or id and gives its creation
    /// time (`before=`/`since=`); an unknown one is Docker's error.
    pub(crate) fn new(
        args: FilterArgs,
        created_of: impl Fn(&str) -> Result<Option<Timestamp>, String>,
    ) -> Result<ImageFilter, FilterError> {
        args.validate(IMAGE_FILTER_KEYS)?;
        let dangling = args.bool_value("dangling")?;
        let mut before: Option<Timestamp> = None;
        for v in args.get("before") {
            if let Some(t) = created_of(v).map_err(FilterError::Other)? {
                // Several values: the oldest, as ANDing them.
                before = Some(before.map_or(t, |b| b.min(t)));
            }
        }
        let now = Timestamp::now();
        for v in args.get("until") {
            let t = crate::util::timestamp::parse(v, now).map_err(|e| {
                FilterError::Other(format!("invalid value for 'until' filter: {e}"))
            })?;
            before = Some(before.map_or(t, |b| b.min(t)));
        }
        let mut since: Option<Timestamp> = None;
        for v in args.get("since") {
            if let Some(t) = created_of(v).map_err(FilterError::Other)? {
                since = Some(since.map_or(t, |s| s.max(t)));
            }
        }
        for pattern in args.get("reference") {
            if let Err(e) = path_match(pattern, "") {
                return Err(FilterError::Other(e));
            }
        }
        Ok(ImageFilter {
            args,
            dangling,
            before,
            since,
        })
    }

    /// The names (tags and digests, stored form) under which the image is
    /// listed, or None when the image is not listed at all.
    pub(crate) fn select(&self, img: &ImageFacts, all: bool) -> Option<Vec<String>> {
        let r = img.record;
        let created = r
            .created
            .as_deref()
            .and_then(|c| c.parse::<Timestamp>().ok());
        if let Some(b) = self.before {
            if created.is_none_or(|c| c >= b) {
                return None;
            }
        }
        if let Some(s) = self.since {
            if created.is_none_or(|c| c <= s) {
                return None;
            }
        }
        if self.args.contains("label")
            && !self
                .args
                .match_kv_list("label", |k| img.labels.get(k).map(String::as_str))
        {
            return None;
        }
        let names: Vec<String> = r
            .repo_tags
            .iter()
            .chain(&r.repo_digests)
            .filter(|n| self.reference_matches(n))
            .cloned()
            .collect();
        let tags = names.iter().filter(|n| !n.contains('@')).count();
        if names.is_empty() {
            if (!all && img.has_children) || self.dangling == Some(false) {
                return None;
            }
            if self.args.contains("reference") {
                return None;
            }
        } else if self.dangling == Some(true) && tags > 0 {
            return None;
        }
        Some(names)
    }

    fn reference_matches(&self, name: &str) -> bool {
        let patterns = self.args.get("reference");
        if patterns.is_empty() {
            return true;
        }
        let Ok(r) = Reference::parse(name) else {
            return false;
        };
        let tagged = match r.tag() {
            Some(_) => r.to_string(),
            None if r.digest().is_some() => r.to_string(),
            None => format!("{}:latest", r.name()),
        };
        let targets = [r.familiar(), r.familiar_name(), tagged, r.name()];
        patterns
            .iter()
            .any(|p| targets.iter().any(|t| path_match(p, t).unwrap_or(false)))
    }
}

/// Go's `path.Match`: `*` any run of non-`/`, `?` one non-`/`, `[...]`
/// classes with ranges and `^` negation, `\` escapes. A malformed pattern
/// is an error (`syntax error in pattern`).
pub(crate) fn path_match(pattern: &str, name: &str) -> Result<bool, String> {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    check_pattern(&p)?;
    Ok(match_here(&p, &n))
}

fn check_pattern(p: &[char]) -> Result<(), String> {
    let bad = || "syntax error in pattern".to_string();
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            '\\' => {
                if i + 1 >= p.len() {
                    return Err(bad());
                }
                i += 2;
            }
            '[' => {
                let end = class_end(p, i).ok_or_else(bad)?;
                i = end + 1;
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// The index of the `]` that closes the class opened at `open`.
fn class_end(p: &[char], open: usize) -> Option<usize> {
    let mut i = open + 1;
    if p.get(i) == Some(&'^') {
        i += 1;
    }
    let mut first = true;
    while i < p.len() {
        match p[i] {
            ']' | '-' if first => return None,
            ']' => return Some(i),
            '\\' => i += 2,
            _ => i += 1,
        }
        first = false;
    }
    None
}

fn match_here(p: &[char], n: &[char]) -> bool {
    match p.first() {
        None => n.is_empty(),
        Some('*') => {
            let rest = &p[1..];
            (0..=n.len())
                .take_while(|&k| k == 0 || n[k - 1] != '/')
                .any(|k| match_here(rest, &n[k..]))
        }
        Some('?') => !n.is_empty() && n[0] != '/' && match_here(&p[1..], &n[1..]),
        Some('[') => {
            let Some(end) = class_end(p, 0) else {
                return false;
            };
            !n.is_empty()
                && n[0] != '/'
                && in_class(&p[1..end], n[0])
                && match_here(&p[end + 1..], &n[1..])
        }
        Some('\\') if p.len() > 1 => !n.is_empty() && n[0] == p[1] && match_here(&p[2..], &n[1..]),
        Some(c) => !n.is_empty() && n[0] == *c && match_here(&p[1..], &n[1..]),
    }
}

fn in_class(class: &[char], c: char) -> bool {
    let (negated, class) = match class.first() {
        Some('^') => (true, &class[1..]),
        _ => (false, class),
    };
    let mut i = 0;
    let mut found = false;
    while i < class.len() {
        let mut lo = class[i];
        if lo == '\\' && i + 1 < class.len() {
            i += 1;
            lo = class[i];
        }
        let mut hi = lo;
        if class.get(i + 1) == Some(&'-') && i + 2 < class.len() {
            hi = class[i + 2];
            if hi == '\\' && i + 3 < class.len() {
                hi = class[i + 3];
                i += 1;
            }
            i += 2;
        }
        if lo <= c && c <= hi {
            found = true;
        }
        i += 1;
    }
    found != negated
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_match_is_gos() {
        let m = |p: &str, n: &str| path_match(p, n).unwrap();
        assert!(m("busy*", "busybox"));
        assert!(m("busybox:*", "busybox:latest"));
        assert!(!m("*", "a/b"));
        assert!(m("*/*", "a/b"));
        assert!(m("b?sybox", "busybox"));
        assert!(m("b[a-z]sybox", "busybox") && !m("b[^u]sybox", "busybox"));
        assert!(m("a\\*b", "a*b") && !m("a\\*b", "axb"));
        assert!(!m("debian", "busybox"));
        assert!(path_match("[", "x").is_err());
        assert!(path_match("a\\", "a").is_err());
    }

    fn rec(tags: &[&str], digests: &[&str], created: &str) -> ImageRecord {
        ImageRecord {
            id: "sha256:x".into(),
            repo_tags: tags.iter().map(|t| t.to_string()).collect(),
            repo_digests: digests.iter().map(|t| t.to_string()).collect(),
            layers: vec![],
            size: 0,
            created: Some(created.into()),
            added: String::new(),
        }
    }

    fn pick(flags: &[&str], r: &ImageRecord, children: bool, all: bool) -> Option<Vec<String>> {
        let f = ImageFilter::new(FilterArgs::parse(flags).unwrap(), |v| match v {
            "old" => Ok(Some("2020-01-01T00:00:00Z".parse().unwrap())),
            _ => Err(format!("No such image: {v}")),
        })
        .unwrap();
        let labels: IndexMap<String, String> = [("a".to_string(), "1".to_string())].into();
        f.select(
            &ImageFacts {
                record: r,
                labels: &labels,
                has_children: children,
            },
            all,
        )
    }

    #[test]
    fn names_dangling_and_times() {
        let bb = rec(
            &[
                "docker.io/library/busybox:latest",
                "docker.io/library/busybox:1",
            ],
            &[],
            "2024-01-01T00:00:00Z",
        );
        let none = rec(&[], &[], "2024-01-01T00:00:00Z");
        let dig = rec(&[], &["docker.io/library/x@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"], "2024-01-01T00:00:00Z");
        assert_eq!(
            pick(&["reference=busybox:1"], &bb, false, false).unwrap(),
            ["docker.io/library/busybox:1"]
        );
        assert_eq!(
            pick(&["reference=busy*"], &bb, false, false).unwrap().len(),
            2
        );
        assert_eq!(
            pick(&["reference=docker.io/library/busybox"], &bb, false, false)
                .unwrap()
                .len(),
            2
        );
        assert!(pick(&["reference=debian"], &bb, false, false).is_none());
        assert!(pick(&["dangling=true"], &bb, false, false).is_none());
        assert!(pick(&["dangling=true"], &none, false, false).is_some());
        assert!(pick(&["dangling=true"], &dig, false, false).is_some());
        assert!(pick(&["dangling=false"], &none, false, false).is_none());
        assert!(
            pick(&[], &none, true, false).is_none(),
            "intermediate images need -a"
        );
        assert!(pick(&[], &none, true, true).is_some());
        assert!(pick(&["since=old"], &bb, false, false).is_some());
        assert!(pick(&["before=old"], &bb, false, false).is_none());
        assert!(pick(&["until=2023-01-01T00:00:00Z"], &bb, false, false).is_none());
        assert!(pick(&["label=a=1"], &bb, false, false).is_some());
        assert!(pick(&["label=b"], &bb, false, false).is_none());
    }
}
