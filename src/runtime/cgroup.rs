//! `pause` and `unpause` through the cgroup v2 freezer. The freezer acts
//! on a whole cgroup, so a container can be frozen only when its
//! processes sit alone in a cgroup v2 directory whose `cgroup.freeze` we
//! may write. When the monitor's own cgroup is writable (delegated to the
//! user, or as root), each container gets a child cgroup of its own at
//! start, which its init joins before it execs (`resources::ContainerCgroup`);
//! otherwise pausing is refused with what an administrator can delegate.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Where the cgroup v2 hierarchy is mounted: `/sys/fs/cgroup` on unified
/// systems, `/sys/fs/cgroup/unified` on hybrid ones.
fn v2_root() -> PathBuf {
    // The two usual places first: a statfs each instead of reading the
    // whole mount table (on the launch path, twice per container).
    for usual in ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"] {
        if nix::sys::statfs::statfs(usual)
            .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
        {
            return PathBuf::from(usual);
        }
    }
    std::fs::read_to_string("/proc/self/mountinfo")
        .ok()
        .and_then(|info| {
            info.lines().find_map(|l| {
                let (left, right) = l.split_once(" - ")?;
                (right.split_whitespace().next() == Some("cgroup2"))
                    .then(|| left.split_whitespace().nth(4).map(PathBuf::from))
                    .flatten()
            })
        })
        .unwrap_or_else(|| PathBuf::from("/sys/fs/cgroup"))
}

/// The cgroup v2 path of a process (`0::/user.slice/...`), if it has one.
pub(crate) fn parse_proc_cgroup(content: &str) -> Option<&str> {
    content.lines().find_map(|l| l.strip_prefix("0::"))
}

fn help(dir: &Path, why: &str) -> String {
    format!(
        "pausing needs the container alone in a cgroup v2 that this user may write (berth \
         creates no cgroups itself), but {why} (cgroup {}); an administrator can delegate a \
         cgroup to the user (systemd: run berth in a unit or scope with `Delegate=yes`, e.g. \
         `systemd-run --user --scope -p Delegate=yes berth run ...`; without systemd: create \
         a directory under /sys/fs/cgroup, chown it and its cgroup.procs to the user, and start \
         the container from a shell moved into it)",
        dir.display()
    )
}

/// The container's cgroup directory, checked as freezable.
fn freezable_cgroup(pid: i32) -> Result<PathBuf> {
    let content = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .context("reading the container's cgroup")?;
    let Some(rel) = parse_proc_cgroup(&content) else {
        bail!(help(
            Path::new("?"),
            "the container is not in a cgroup v2 hierarchy"
        ));
    };
    let dir = v2_root().join(rel.trim_start_matches('/'));
    let freeze = dir.join("cgroup.freeze");
    if !freeze.exists() {
        bail!(help(&dir, "cgroup v2 is not mounted or has no freezer"));
    }
    if nix::unistd::access(&freeze, nix::unistd::AccessFlags::W_OK).is_err() {
        bail!(help(&dir, "its cgroup.freeze is not writable by this user"));
    }
    let container_ns = std::fs::read_link(format!("/proc/{pid}/ns/pid"))
        .context("reading the container's pid namespace")?;
    let procs = std::fs::read_to_string(dir.join("cgroup.procs"))
        .context("listing the processes of the container's cgroup")?;
    for p in procs.split_whitespace() {
        let ns = std::fs::read_link(format!("/proc/{p}/ns/pid")).ok();
        if ns.is_some_and(|ns| ns != container_ns) {
            bail!(help(
                &dir,
                &format!("the cgroup also holds process {p}, which is not the container's")
            ));
        }
    }
    Ok(dir)
}

/// Freezes (or thaws) the cgroup of the container whose init is `pid`,
/// and waits until the kernel says it is done. Only the container's
/// monitor calls this, for the init it started.
pub(crate) fn freeze(pid: i32, frozen: bool) -> Result<()> {
    let dir = freezable_cgroup(pid)?;
    std::fs::write(dir.join("cgroup.freeze"), if frozen { "1" } else { "0" })
        .with_context(|| format!("writing {}/cgroup.freeze", dir.display()))?;
    wait_frozen(&dir, frozen)
}

/// The freeze is asynchronous: `cgroup.events` says when it is complete.
fn wait_frozen(dir: &Path, frozen: bool) -> Result<()> {
    let want = if frozen { "frozen 1" } else { "frozen 0" };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let events = std::fs::read_to_string(dir.join("cgroup.events")).unwrap_or_default();
        if events.lines().any(|l| l.trim() == want) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "the cgroup {} did not reach `{want}` within 10 s",
                dir.display()
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_path_is_found_among_v1_lines() {
        assert_eq!(
            parse_proc_cgroup("12:cpu:/x\n0::/user.slice/u.scope\n"),
            Some("/user.slice/u.scope")
        );
        assert_eq!(parse_proc_cgroup("1:name=systemd:/\n"), None);
    }

    #[test]
    fn the_error_says_how_to_delegate() {
        let h = help(Path::new("/sys/fs/cgroup/x"), "it is shared");
        assert!(
            h.contains("Delegate=yes") && h.contains("it is shared"),
            "{h}"
        );
    }
}
