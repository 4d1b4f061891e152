//! `pause` and `unpause` through the cgroup v2 freezer. berth makes no
//! cgroups (there is no daemon or systemd to delegate one to it), so it
//! can freeze a container only when the container's processes sit alone
//! in a cgroup v2 directory whose `cgroup.freeze` we may write: the
//! freezer acts on a whole cgroup, and freezing a cgroup shared with the
//! container's monitor, or with the user's shell, would freeze those too.

use crate::store::Store;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// The cgroup v2 path of a process (`0::/user.slice/...`), if it has one.
pub fn parse_proc_cgroup(content: &str) -> Option<&str> {
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
    let dir = Path::new(CGROUP_ROOT).join(rel.trim_start_matches('/'));
    let freeze = dir.join("cgroup.freeze");
    if !freeze.exists() {
        bail!(help(
            &dir,
            "cgroup v2 is not mounted at /sys/fs/cgroup or has no freezer there"
        ));
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

/// Freezes (or thaws) the container and records the status.
pub fn set_paused(store: &Store, name: &str, freeze: bool) -> Result<()> {
    let record = store.resolve_container(name)?;
    let mut state = store.observed_state(&record.id)?;
    match (freeze, state.status.as_str()) {
        (true, "running") | (false, "paused") => {}
        (true, "paused") => bail!("container {} is already paused", record.id),
        (false, "running") => bail!("container {} is not paused", record.id),
        _ => bail!("container {} is not running", record.id),
    }
    let dir = freezable_cgroup(state.pid)?;
    std::fs::write(dir.join("cgroup.freeze"), if freeze { "1" } else { "0" })
        .with_context(|| format!("writing {}/cgroup.freeze", dir.display()))?;
    wait_frozen(&dir, freeze)?;
    state.status = if freeze { "paused" } else { "running" }.into();
    store.save_container_state(&record.id, &state)
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
