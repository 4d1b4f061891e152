//! The id maps berth asks for: the user's own id becomes root in the
//! namespace, and the subordinate ranges follow it from id 1 on.

use super::subid::SubRange;

/// One line of a uid_map/gid_map: `inside outside count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MapLine {
    pub(crate) inside: u32,
    pub(crate) outside: u32,
    pub(crate) count: u32,
}

/// Our id as 0, then every subordinate range in order from 1 on. Ranges
/// that would run past the 32-bit id space are cut there.
pub(crate) fn full_map(own: u32, ranges: &[SubRange]) -> Vec<MapLine> {
    let mut lines = vec![MapLine {
        inside: 0,
        outside: own,
        count: 1,
    }];
    let mut next: u32 = 1;
    for r in ranges {
        // u32::MAX itself is never a valid id (it means "no id").
        let room = u32::MAX - next;
        let count = r.count.min(room);
        if count == 0 {
            break;
        }
        lines.push(MapLine {
            inside: next,
            outside: r.start,
            count,
        });
        next += count;
    }
    lines
}

/// The arguments newuidmap/newgidmap take after the pid.
pub(crate) fn helper_args(lines: &[MapLine]) -> Vec<String> {
    lines
        .iter()
        .flat_map(|l| [l.inside, l.outside, l.count])
        .map(|n| n.to_string())
        .collect()
}

/// The map as `inside:outside:count` items joined by commas.
pub(crate) fn describe(lines: &[MapLine]) -> String {
    lines
        .iter()
        .map(|l| format!("{}:{}:{}", l.inside, l.outside, l.count))
        .collect::<Vec<_>>()
        .join(",")
}

/// Parses /proc/<pid>/uid_map content.
pub(crate) fn parse_proc_map(content: &str) -> Vec<MapLine> {
    content
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace().map(|x| x.parse::<u32>());
            match (f.next(), f.next(), f.next()) {
                (Some(Ok(inside)), Some(Ok(outside)), Some(Ok(count))) => Some(MapLine {
                    inside,
                    outside,
                    count,
                }),
                _ => None,
            }
        })
        .collect()
}

/// Whether `id` (inside the namespace) has a mapping.
pub(crate) fn is_mapped(lines: &[MapLine], id: u32) -> bool {
    lines
        .iter()
        .any(|l| id >= l.inside && u64::from(id) < u64::from(l.inside) + u64::from(l.count))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_id_is_root_and_ranges_follow() {
        let m = full_map(
            1000,
            &[
                SubRange {
                    start: 100000,
                    count: 65536,
                },
                SubRange {
                    start: 300000,
                    count: 10,
                },
            ],
        );
        assert_eq!(
            helper_args(&m),
            ["0", "1000", "1", "1", "100000", "65536", "65537", "300000", "10"]
        );
        assert_eq!(describe(&m), "0:1000:1,1:100000:65536,65537:300000:10");
        assert!(is_mapped(&m, 65546));
        assert!(!is_mapped(&m, 65547));
    }

    #[test]
    fn proc_map_round_trip() {
        let m =
            parse_proc_map("         0       1000          1\n         1     100000      65536\n");
        assert_eq!(describe(&m), "0:1000:1,1:100000:65536");
        assert!(is_mapped(&m, 5) && !is_mapped(&m, 70000));
    }

    #[test]
    fn huge_ranges_are_cut_at_the_id_space() {
        let m = full_map(
            1,
            &[
                SubRange {
                    start: 10,
                    count: u32::MAX - 3,
                },
                SubRange { start: 5, count: 5 },
            ],
        );
        assert_eq!(m.len(), 3);
        assert_eq!(m[2].count, 2);
        assert_eq!(m[2].inside + m[2].count, u32::MAX);
    }
}
