//! Which filesystem a path is on, from `statfs(2)`'s magic number, and
//! what that means for a store: network and parallel filesystems (NFS,
//! Lustre, GPFS, BeeGFS, CephFS, ...) break flock locking, cannot hold
//! overlay upper directories, and refuse chowns to subordinate ids.
//!
//! The table and [`classify`] are plain data and a pure function, so that
//! the decisions can be tested without such filesystems; [`probe`] does
//! the one system call.

use std::path::Path;

/// What kind of filesystem a store or runtime directory is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsKind {
    /// A disk of this machine (ext4, xfs, btrfs, tmpfs, ...).
    Local,
    /// Shared over the network or a cluster fabric.
    Network,
}

/// One known filesystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FsInfo {
    /// The `f_type` magic number of statfs.
    pub magic: u32,
    /// Its usual name (`nfs`, `lustre`, `ext4`).
    pub name: &'static str,
    pub kind: FsKind,
    /// Why overlay cannot use a directory on it as upper directory (the
    /// container's writable layer), when it cannot.
    pub no_overlay_upper: Option<&'static str>,
}

const NET_UPPER: &str = "overlay needs an upper directory with extended attributes, d_type and \
                         whiteouts, which network filesystems do not give unprivileged users";

const fn fs(
    magic: u32,
    name: &'static str,
    kind: FsKind,
    no_overlay_upper: Option<&'static str>,
) -> FsInfo {
    FsInfo {
        magic,
        name,
        kind,
        no_overlay_upper,
    }
}

/// Known magic numbers (linux/magic.h and the vendors' modules).
pub const KNOWN: &[FsInfo] = &[
    fs(0x6969, "nfs", FsKind::Network, Some(NET_UPPER)),
    fs(0x0BD0_0BD0, "lustre", FsKind::Network, Some(NET_UPPER)),
    fs(0x4750_4653, "gpfs", FsKind::Network, Some(NET_UPPER)),
    fs(0x1983_0326, "beegfs", FsKind::Network, Some(NET_UPPER)),
    fs(0x00C3_6400, "cephfs", FsKind::Network, Some(NET_UPPER)),
    fs(0xFF53_4D42, "cifs", FsKind::Network, Some(NET_UPPER)),
    fs(0xFE53_4D42, "smb2", FsKind::Network, Some(NET_UPPER)),
    fs(0x517B, "smbfs", FsKind::Network, Some(NET_UPPER)),
    fs(0x6B41_4653, "afs", FsKind::Network, Some(NET_UPPER)),
    fs(0x5346_414F, "openafs", FsKind::Network, Some(NET_UPPER)),
    fs(0xAAD7_AAEA, "panfs", FsKind::Network, Some(NET_UPPER)),
    fs(0x2003_0528, "orangefs", FsKind::Network, Some(NET_UPPER)),
    fs(0x7461_636F, "ocfs2", FsKind::Network, Some(NET_UPPER)),
    fs(0x0116_1970, "gfs2", FsKind::Network, Some(NET_UPPER)),
    fs(0x7375_7245, "coda", FsKind::Network, Some(NET_UPPER)),
    fs(0x0102_1997, "9p", FsKind::Network, Some(NET_UPPER)),
    // FUSE hides what is behind it (sshfs, GlusterFS, ceph-fuse, virtiofs):
    // treated as shared, the safe assumption for where a store goes.
    fs(
        0x6573_5546,
        "fuse",
        FsKind::Network,
        Some("FUSE filesystems do not support overlay upper directories (no whiteouts or tmpfile)"),
    ),
    fs(
        0x794C_7630,
        "overlay",
        FsKind::Local,
        Some("overlay cannot use a directory on another overlay as upper directory (is berth running inside a container? give it a volume for its store)"),
    ),
    fs(
        0x7371_7368,
        "squashfs",
        FsKind::Local,
        Some("squashfs is read-only"),
    ),
    fs(0xEF53, "ext4", FsKind::Local, None),
    fs(0x5846_5342, "xfs", FsKind::Local, None),
    fs(0x9123_683E, "btrfs", FsKind::Local, None),
    fs(0x0102_1994, "tmpfs", FsKind::Local, None),
    fs(0x8584_58F6, "ramfs", FsKind::Local, None),
    fs(0x2FC1_2FC1, "zfs", FsKind::Local, None),
    fs(0xF2F5_2010, "f2fs", FsKind::Local, None),
    fs(0xCA45_1A4E, "bcachefs", FsKind::Local, None),
];

/// What statfs said about a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FsStat {
    pub magic: u32,
    /// Bytes available to an unprivileged user.
    pub available: u64,
    pub total: u64,
}

/// The description of a filesystem magic number; unknown ones are taken
/// as local (no warning) under a name that shows the number.
pub fn classify(magic: u32) -> FsInfo {
    KNOWN
        .iter()
        .copied()
        .find(|f| f.magic == magic)
        .unwrap_or(FsInfo {
            magic,
            name: "unknown",
            kind: FsKind::Local,
            no_overlay_upper: None,
        })
}

/// A name for messages: `nfs`, or `unknown (0x1234abcd)`.
pub fn display_name(info: &FsInfo) -> String {
    if info.name == "unknown" {
        format!("unknown filesystem (magic 0x{:x})", info.magic)
    } else {
        info.name.to_string()
    }
}

/// statfs of `path`, or of its nearest existing ancestor (a store that
/// does not exist yet will be created on that filesystem).
pub fn probe(path: &Path) -> Option<FsStat> {
    let mut p = Some(path);
    while let Some(dir) = p {
        if let Ok(st) = nix::sys::statfs::statfs(dir) {
            let bsize = st.block_size() as u64;
            // f_type is a signed word; the magic numbers are 32-bit.
            let magic = (st.filesystem_type().0 as u64 & 0xFFFF_FFFF) as u32;
            return Some(FsStat {
                magic,
                available: st.blocks_available() * bsize,
                total: st.blocks() * bsize,
            });
        }
        p = dir.parent();
    }
    None
}

/// What breaks when a store is on a network filesystem, for warnings.
pub fn network_consequences(info: &FsInfo) -> String {
    let mut text = format!(
        "locks (flock) on {name} are slow or fail, and two machines sharing the store would \
         corrupt it; chowns to subordinate ids are refused by most {name} servers",
        name = display_name(info)
    );
    if let Some(why) = info.no_overlay_upper {
        text.push_str(&format!(
            "; containers' writable layers cannot live there ({why})"
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_filesystems_are_recognised() {
        for (magic, name) in [
            (0x6969, "nfs"),
            (0x0BD0_0BD0, "lustre"),
            (0x4750_4653, "gpfs"),
            (0x1983_0326, "beegfs"),
            (0x00C3_6400, "cephfs"),
        ] {
            let info = classify(magic);
            assert_eq!(info.name, name);
            assert_eq!(info.kind, FsKind::Network, "{name}");
            assert!(info.no_overlay_upper.is_some(), "{name}");
        }
    }

    #[test]
    fn local_and_unknown_filesystems() {
        let ext4 = classify(0xEF53);
        assert_eq!((ext4.name, ext4.kind), ("ext4", FsKind::Local));
        assert!(ext4.no_overlay_upper.is_none());
        let unknown = classify(0x1234_5678);
        assert_eq!(unknown.kind, FsKind::Local);
        assert_eq!(
            display_name(&unknown),
            "unknown filesystem (magic 0x12345678)"
        );
        let ovl = classify(0x794C_7630);
        assert!(ovl.no_overlay_upper.unwrap().contains("another overlay"));
    }

    #[test]
    fn magic_numbers_are_unique() {
        for (i, a) in KNOWN.iter().enumerate() {
            assert!(
                KNOWN[i + 1..].iter().all(|b| b.magic != a.magic),
                "{}",
                a.name
            );
        }
    }

    #[test]
    fn consequences_name_locking_overlay_and_chown() {
        let text = network_consequences(&classify(0x6969));
        assert!(text.contains("flock"), "{text}");
        assert!(text.contains("subordinate ids"), "{text}");
        assert!(text.contains("writable layers"), "{text}");
    }

    #[test]
    fn probe_reads_this_machine_and_walks_up_to_an_existing_dir() {
        let d = tempfile::tempdir().unwrap();
        let here = probe(d.path()).expect("statfs of a temp dir");
        let below = probe(&d.path().join("not/yet/there")).expect("an ancestor exists");
        assert_eq!(here.magic, below.magic);
        assert!(here.total >= here.available);
    }
}
