//! `/etc/subuid` and `/etc/subgid`: the subordinate id ranges an
//! administrator gave each user (`name:start:count`, or `uid:start:count`).

/// One subordinate range: host ids `start .. start + count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SubRange {
    pub(crate) start: u32,
    pub(crate) count: u32,
}

/// Every range in `content` that belongs to the user, by name or by
/// numeric id, in file order. Malformed lines are skipped, as shadow's
/// own tools skip them.
pub(crate) fn ranges_for(content: &str, name: Option<&str>, id: u32) -> Vec<SubRange> {
    let id = id.to_string();
    let mut out = Vec::new();
    for line in content.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut f = line.split(':');
        let (Some(owner), Some(start), Some(count), None) =
            (f.next(), f.next(), f.next(), f.next())
        else {
            continue;
        };
        if owner != id && Some(owner) != name {
            continue;
        }
        let (Ok(start), Ok(count)) = (start.parse::<u32>(), count.parse::<u32>()) else {
            continue;
        };
        if count == 0 || start.checked_add(count).is_none() {
            continue;
        }
        out.push(SubRange { start, count });
    }
    out
}

/// The ranges of a file on this host; a missing file means none.
pub(crate) fn read_ranges(path: &str, name: Option<&str>, id: u32) -> Vec<SubRange> {
    match std::fs::read_to_string(path) {
        Ok(content) => ranges_for(&content, name, id),
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_by_name_and_by_uid() {
        let f = "alice:100000:65536\nbob:165536:65536\n1001:231072:1000\n";
        assert_eq!(
            ranges_for(f, Some("alice"), 1000),
            vec![SubRange {
                start: 100000,
                count: 65536
            }]
        );
        assert_eq!(
            ranges_for(f, Some("carol"), 1001),
            vec![SubRange {
                start: 231072,
                count: 1000
            }]
        );
        assert!(ranges_for(f, Some("dave"), 1002).is_empty());
        // Without a name (uid unknown to passwd), only numeric lines match.
        assert!(ranges_for(f, None, 1000).is_empty());
    }

    #[test]
    fn several_ranges_and_bad_lines() {
        let f = "# comment\nalice:1:2:3\nalice:x:10\nalice:10:0\nalice:4294967295:2\nalice:500:10\n\n  alice:700:5  \n";
        assert_eq!(
            ranges_for(f, Some("alice"), 7),
            vec![
                SubRange {
                    start: 500,
                    count: 10
                },
                SubRange {
                    start: 700,
                    count: 5
                }
            ]
        );
    }
}
