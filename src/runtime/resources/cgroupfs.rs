//! Where the cgroup hierarchies are and where a process sits in them:
//! `/proc/self/mountinfo` gives the cgroup v2 mount and each cgroup v1
//! hierarchy with its controllers (`/sys/fs/cgroup/memory`, or
//! `cpu,cpuacct` mounted together); `/proc/PID/cgroup` gives a process's
//! path in each. Both are parsed from text, so tests need no cgroupfs.

use std::path::{Path, PathBuf};

/// The controllers a cgroup v1 mount can carry (other super options, such
/// as `rw`, `name=systemd` or `clone_children`, are not controllers).
const V1_CONTROLLERS: [&str; 14] = [
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "net_cls",
    "net_prio",
    "blkio",
    "perf_event",
    "hugetlb",
    "pids",
    "rdma",
    "misc",
];

/// One mounted hierarchy: where, and which part of the hierarchy its root is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mount {
    pub(crate) point: PathBuf,
    /// The mount's root within the hierarchy (`/` unless a sub-tree is mounted).
    pub(crate) root: String,
    /// v1 controllers of this hierarchy (empty for cgroup v2).
    pub(crate) controllers: Vec<String>,
}

impl Mount {
    /// The directory of a cgroup path (as /proc/PID/cgroup gives it).
    pub(crate) fn dir(&self, cgroup_path: &str) -> PathBuf {
        let rel = cgroup_path
            .strip_prefix(self.root.as_str())
            .filter(|_| self.root != "/")
            .unwrap_or(cgroup_path);
        self.point.join(rel.trim_start_matches('/'))
    }
}

/// The cgroup hierarchies this process sees.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Hierarchies {
    pub(crate) v2: Option<Mount>,
    pub(crate) v1: Vec<Mount>,
}

impl Hierarchies {
    pub(crate) fn read() -> Hierarchies {
        Hierarchies::parse(&std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default())
    }

    pub(crate) fn parse(mountinfo: &str) -> Hierarchies {
        let mut h = Hierarchies::default();
        for line in mountinfo.lines() {
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let mut l = left.split_whitespace();
            let root = l.nth(3).unwrap_or("/").to_string();
            let point = PathBuf::from(l.next().unwrap_or(""));
            let mut r = right.split_whitespace();
            let fstype = r.next().unwrap_or("");
            let super_opts = r.nth(1).unwrap_or("");
            match fstype {
                "cgroup2" if h.v2.is_none() => {
                    h.v2 = Some(Mount {
                        point,
                        root,
                        controllers: vec![],
                    })
                }
                "cgroup" => {
                    let controllers: Vec<String> = super_opts
                        .split(',')
                        .filter(|o| V1_CONTROLLERS.contains(o))
                        .map(str::to_string)
                        .collect();
                    // A hierarchy mounted twice is used where it was first.
                    if !controllers.is_empty() && !h.v1.iter().any(|m| m.controllers == controllers)
                    {
                        h.v1.push(Mount {
                            point,
                            root,
                            controllers,
                        });
                    }
                }
                _ => {}
            }
        }
        h
    }

    /// The v1 hierarchy that carries `controller`, if any.
    pub(crate) fn v1_for(&self, controller: &str) -> Option<&Mount> {
        self.v1
            .iter()
            .find(|m| m.controllers.iter().any(|c| c == controller))
    }
}

/// The cgroup v2 hierarchy where it is usually mounted, found without
/// /proc/self/mountinfo (whose reading, on the launch path, waits for the
/// namespace lock of the init's unshare): `/sys/fs/cgroup` (unified) or
/// `/sys/fs/cgroup/unified` (hybrid), when statfs says cgroup2 and the
/// mount is the hierarchy's root, which alone has no `cgroup.type`. None
/// otherwise: mountinfo tells.
pub(crate) fn usual_v2_mount() -> Option<Mount> {
    use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC};
    let point = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
        .into_iter()
        .find(|p| statfs(*p).is_ok_and(|s| s.filesystem_type() == CGROUP2_SUPER_MAGIC))?;
    let point = Path::new(point);
    let root_of_hierarchy = matches!(
        std::fs::symlink_metadata(point.join("cgroup.type")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound
    );
    root_of_hierarchy.then(|| Mount {
        point: point.to_path_buf(),
        root: "/".to_string(),
        controllers: vec![],
    })
}

/// Where a process sits: its cgroup v2 path and its v1 path per hierarchy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Membership {
    pub(crate) v2: Option<String>,
    /// (controllers of the hierarchy, path).
    pub(crate) v1: Vec<(Vec<String>, String)>,
}

impl Membership {
    /// Of this process (`pid` None) or of another.
    pub(crate) fn read(pid: Option<i32>) -> Membership {
        let path = match pid {
            Some(p) => format!("/proc/{p}/cgroup"),
            None => "/proc/self/cgroup".to_string(),
        };
        Membership::parse(&std::fs::read_to_string(path).unwrap_or_default())
    }

    pub(crate) fn parse(text: &str) -> Membership {
        let mut m = Membership::default();
        for line in text.lines() {
            let mut f = line.splitn(3, ':');
            let (Some(_), Some(ctrls), Some(path)) = (f.next(), f.next(), f.next()) else {
                continue;
            };
            if ctrls.is_empty() {
                m.v2 = Some(path.to_string());
            } else {
                let list: Vec<String> = ctrls
                    .split(',')
                    .filter(|c| V1_CONTROLLERS.contains(c))
                    .map(str::to_string)
                    .collect();
                if !list.is_empty() {
                    m.v1.push((list, path.to_string()));
                }
            }
        }
        m
    }

    /// The v1 path in the hierarchy that carries `controller`.
    pub(crate) fn v1_path(&self, controller: &str) -> Option<&str> {
        self.v1
            .iter()
            .find(|(c, _)| c.iter().any(|x| x == controller))
            .map(|(_, p)| p.as_str())
    }
}

/// Whether this user may create a child cgroup in `dir` and move
/// processes into it.
pub(crate) fn writable(dir: &Path) -> bool {
    use nix::unistd::{access, AccessFlags};
    access(dir, AccessFlags::W_OK).is_ok()
        && access(&dir.join("cgroup.procs"), AccessFlags::W_OK).is_ok()
}

/// The words of a space-separated cgroup file (`cgroup.controllers`).
pub(crate) fn words(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// `key value` lines of a cgroup file (`memory.stat`, `cpu.stat`,
/// `memory.events`): the value of `key`.
pub(crate) fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn hybrid_hierarchies() {
        let h = Hierarchies::parse(HYBRID);
        assert_eq!(
            h.v2.as_ref().unwrap().point,
            Path::new("/sys/fs/cgroup/unified")
        );
        assert_eq!(h.v1.len(), 3, "{h:?}");
        assert_eq!(
            h.v1_for("memory").unwrap().point,
            Path::new("/sys/fs/cgroup/memory")
        );
        assert!(h.v1_for("pids").is_none());
        let m = Membership::parse(
            "9:name=systemd:/\n4:memory:/process_api/4e43\n1:cpu:/\n0::/user.slice\n",
        );
        assert_eq!(m.v2.as_deref(), Some("/user.slice"));
        assert_eq!(m.v1_path("memory"), Some("/process_api/4e43"));
        assert_eq!(m.v1_path("freezer"), None);
        assert_eq!(
            h.v1_for("memory").unwrap().dir("/process_api/4e43"),
            Path::new("/sys/fs/cgroup/memory/process_api/4e43")
        );
    }

    #[test]
    fn a_mounted_subtree_is_stripped() {
        let h = Hierarchies::parse(
            "1 0 0:1 /user.slice /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n",
        );
        let v2 = h.v2.unwrap();
        assert_eq!(
            v2.dir("/user.slice/u.scope"),
            Path::new("/sys/fs/cgroup/u.scope")
        );
        assert_eq!(v2.dir("/other"), Path::new("/sys/fs/cgroup/other"));
    }

    #[test]
    fn keyed_values() {
        assert_eq!(keyed("low 0\nhigh 0\noom_kill 3\n", "oom_kill"), Some(3));
        assert_eq!(keyed("usage_usec 17\n", "user_usec"), None);
    }

    /// The shortcut finds what mountinfo says, where it finds anything.
    #[test]
    fn the_usual_v2_mount_is_mountinfos() {
        if let Some(usual) = usual_v2_mount() {
            let from_mountinfo = Hierarchies::read().v2.expect("cgroup2 in mountinfo");
            assert_eq!(usual.point, from_mountinfo.point);
            assert_eq!(from_mountinfo.root, "/");
        }
    }
}
