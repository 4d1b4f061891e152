//! `--userns keep-id` (Podman's): the user keeps their own uid and gid
//! inside the container, so that files they create in a bind-mounted work
//! directory are theirs on the host and tools see their usual ids.
//!
//! The container runs in a user namespace of its own, a child of berth's
//! (whose root is the user and whose ids 1.. are the subordinate ones).
//! Its map gives the chosen id (the user's uid by default) berth's 0,
//! which is the user on the host, and leaves every other id of berth's
//! namespace where it is, except that root and the chosen id trade places:
//!
//! ```text
//! inside the container        berth's namespace        host
//! U (the user's uid)     ->   0                   ->   the user
//! 0 (root)               ->   U  (when mapped)    ->   a subordinate id
//! any other k            ->   k                   ->   a subordinate id
//! ```
//!
//! Image files are stored as berth's 0 (the user), so in such a container
//! the files the image gives root appear as the user's; files of the
//! image's other users keep their owners. With a single mapping (no
//! subordinate range) only the user exists inside. The parent (the
//! container's monitor, root of berth's namespace) writes the maps: it may
//! map any of its own ids, so no setuid helper runs.

use super::idmap::{parse_proc_map, MapLine};
use crate::model::namespaces::{KeepId, UsernsMode};
use anyhow::{bail, Context, Result};

/// Reads a `--userns` value. `keep-id` takes the caller's ids, so it is
/// resolved here, before berth enters its user namespace (or from the
/// map of that namespace after).
pub(crate) fn parse_mode(s: &str) -> Result<UsernsMode> {
    match s {
        "" => return Ok(UsernsMode::Default),
        "host" => return Ok(UsernsMode::Host),
        _ => {}
    }
    let Some(rest) = s.strip_prefix("keep-id") else {
        let why = match s.split(':').next().unwrap_or_default() {
            "auto" | "private" => {
                "berth gives every container the same user namespace (yours, with your \
                 subordinate ids) so that files keep their owners across containers"
            }
            "nomap" => "berth maps you as root of its user namespace",
            "ns" | "container" => "berth cannot join a user namespace made outside it",
            _ => "berth knows host (the default) and keep-id[:uid=UID,gid=GID]",
        };
        bail!("invalid --userns value {s:?}: {why}; use --userns host or --userns keep-id");
    };
    let (host_uid, host_gid) = host_ids();
    if host_uid == 0 {
        bail!(
            "--userns keep-id maps an unprivileged user's own ids into the container; as root, \
             run with -u UID:GID instead"
        );
    }
    let mut keep = KeepId {
        uid: host_uid,
        gid: host_gid,
        user: crate::util::passwd::user_name(host_uid).unwrap_or_else(|| format!("u{host_uid}")),
    };
    if let Some(opts) = rest.strip_prefix(':') {
        for opt in opts.split(',') {
            let value = |v: &str| {
                v.parse::<u32>()
                    .ok()
                    .filter(|n| *n < u32::MAX)
                    .with_context(|| format!("invalid --userns option {opt:?}: not an id"))
            };
            match opt.split_once('=') {
                Some(("uid", v)) => keep.uid = value(v)?,
                Some(("gid", v)) => keep.gid = value(v)?,
                _ => bail!("invalid --userns option {opt:?}: keep-id takes uid=UID and gid=GID"),
            }
        }
    } else if !rest.is_empty() {
        bail!("invalid --userns value {s:?}: use keep-id or keep-id:uid=UID,gid=GID");
    }
    Ok(UsernsMode::KeepId(keep))
}

/// The caller's uid and gid on the host, inside berth's namespace or not.
fn host_ids() -> (u32, u32) {
    if super::is_initial_userns() {
        return (
            nix::unistd::getuid().as_raw(),
            nix::unistd::getgid().as_raw(),
        );
    }
    let root_of = |path: &str, fallback: u32| {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|m| {
                parse_proc_map(&m)
                    .into_iter()
                    .find(|l| l.inside == 0)
                    .map(|l| l.outside)
            })
            .unwrap_or(fallback)
    };
    (
        root_of("/proc/self/uid_map", nix::unistd::getuid().as_raw()),
        root_of("/proc/self/gid_map", nix::unistd::getgid().as_raw()),
    )
}

/// The container's map for keep-id `keep`, over the ids `parent` (berth's
/// namespace, as its own /proc/self/uid_map lists them: the `inside`
/// column) has.
pub(crate) fn child_map(keep: u32, parent: &[MapLine]) -> Vec<MapLine> {
    let mut out = vec![MapLine {
        inside: keep,
        outside: 0,
        count: 1,
    }];
    let has = |id: u32| super::idmap::is_mapped(parent, id);
    if keep != 0 && has(keep) {
        out.push(MapLine {
            inside: 0,
            outside: keep,
            count: 1,
        });
    }
    // Every other id stays where it is: each range of the parent, less 0
    // and `keep`.
    for l in parent {
        let start = u64::from(l.inside);
        let end = start + u64::from(l.count);
        let mut from = start;
        for cut in [0u64, u64::from(keep)]
            .into_iter()
            .filter(|c| (start..end).contains(c))
            .collect::<std::collections::BTreeSet<_>>()
        {
            if cut > from {
                out.push(identity(from, cut));
            }
            from = cut + 1;
        }
        if end > from {
            out.push(identity(from, end));
        }
    }
    out
}

fn identity(from: u64, to: u64) -> MapLine {
    MapLine {
        inside: from as u32,
        outside: from as u32,
        count: (to - from) as u32,
    }
}

/// Writes the uid and gid maps of the child `pid`, which was cloned into
/// a new user namespace and waits for them. We are root of berth's
/// namespace (the child's parent namespace).
pub(crate) fn write_maps(pid: i32, keep: &KeepId) -> Result<()> {
    for (file, id) in [("uid_map", keep.uid), ("gid_map", keep.gid)] {
        let ours = std::fs::read_to_string(format!("/proc/self/{file}"))
            .with_context(|| format!("reading our {file}"))?;
        let map = child_map(id, &parse_proc_map(&ours));
        let text: String = map
            .iter()
            .map(|l| format!("{} {} {}\n", l.inside, l.outside, l.count))
            .collect();
        std::fs::write(format!("/proc/{pid}/{file}"), text.as_bytes())
            .with_context(|| format!("writing the {file} of the container (--userns keep-id)"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(inside: u32, outside: u32, count: u32) -> MapLine {
        MapLine {
            inside,
            outside,
            count,
        }
    }

    #[test]
    fn root_and_the_user_trade_places_in_a_full_map() {
        // berth's namespace: 0 (the user) and 1..=65536 (subordinate ids).
        let parent = [line(0, 1001, 1), line(1, 100000, 65536)];
        let m = child_map(1001, &parent);
        assert_eq!(
            m,
            [
                line(1001, 0, 1),
                line(0, 1001, 1),
                line(1, 1, 1000),
                line(1002, 1002, 64535)
            ]
        );
        // Every id of the parent is used once, and no inside id twice.
        let total: u64 = m.iter().map(|l| u64::from(l.count)).sum();
        assert_eq!(total, 65537);
    }

    #[test]
    fn a_uid_beyond_the_range_leaves_root_unmapped() {
        let parent = [line(0, 123456, 1), line(1, 100000, 65536)];
        let m = child_map(123456, &parent);
        assert_eq!(m, [line(123456, 0, 1), line(1, 1, 65536)]);
    }

    #[test]
    fn a_single_mapping_has_only_the_user() {
        assert_eq!(child_map(1002, &[line(0, 1002, 1)]), [line(1002, 0, 1)]);
        // keep-id:uid=0 is the plain map.
        assert_eq!(
            child_map(0, &[line(0, 5, 1), line(1, 9, 3)]),
            [line(0, 0, 1), line(1, 1, 3)]
        );
    }

    #[test]
    fn values() {
        assert_eq!(parse_mode("").unwrap(), UsernsMode::Default);
        assert_eq!(parse_mode("host").unwrap(), UsernsMode::Host);
        for bad in [
            "auto",
            "nomap",
            "ns:/proc/1/ns/user",
            "keep-idx",
            "keep-id:uid=x",
        ] {
            assert!(parse_mode(bad).is_err(), "{bad}");
        }
    }
}
