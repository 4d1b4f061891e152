//! Starting a container in the foreground: the container's init is forked
//! into a new pid namespace (pid 1 there), berth records it as running,
//! forwards signals to it, waits, and records how it ended.

use super::init::{self, InitContext};
use crate::mounts::rootfs::OverlaySpec;
use crate::store::containers::{ContainerRecord, ContainerState};
use crate::store::Store;
use crate::util::fsutil::create_dir_mode;
use crate::util::humanize::now_rfc3339;
use anyhow::{bail, Context, Result};
use nix::sched::CloneFlags;
use nix::unistd::{fork, pipe2, ForkResult};
use std::io::Read;

/// How the container ended, or why it never ran.
#[derive(Debug)]
pub enum Outcome {
    /// The container's exit status (128 + signal when killed).
    Exited(i32),
    /// Setting up or exec failed: the status (125, 126, 127) and message.
    Failed(i32, String),
}

/// Runs the container attached to our stdio until it exits. The caller
/// is inside berth's user namespace (or real root) and no thread exists.
pub fn start_attached(
    store: &Store,
    record: &ContainerRecord,
    attach_stdin: bool,
) -> Result<Outcome> {
    let state = store.observed_state(&record.id)?;
    if state.status == "running" {
        bail!(
            "container {} is already running (pid {}); attaching to a running container is not \
             available yet",
            record.name,
            state.pid
        );
    }
    let dir = store.container_dir(&record.id);
    for sub in ["upper", "work", "merged"] {
        // upper's mode becomes the mode of the container's `/`.
        create_dir_mode(&dir.join(sub), 0o755)
            .with_context(|| format!("preparing container {}", record.id))?;
    }
    let private_net = record.host.network_mode == "none";
    crate::mounts::files::write_all(&dir, &record.config.hostname, private_net)?;
    let overlay = overlay_spec(store, record)?;
    let ctx = InitContext {
        record,
        store_root: store.root(),
        container_dir: dir,
        overlay,
        private_net,
        attach_stdin,
        tty_gid: tty_gid(),
        setgroups_allowed: crate::userns::setgroups_allowed(),
    };
    let (err_r, err_w) = pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("creating a pipe")?;
    let old_mask = super::signals::block();
    // Our next child becomes pid 1 of a new pid namespace.
    nix::sched::unshare(CloneFlags::CLONE_NEWPID)
        .context("creating the container's pid namespace")?;
    // SAFETY: no thread exists on the launch path, so the child is a
    // complete single-threaded copy of this process.
    let child = match unsafe { fork() }.context("starting the container's process")? {
        ForkResult::Child => {
            drop(err_r);
            super::signals::unblock_in_child(&old_mask);
            init::run(&ctx, err_w)
        }
        ForkResult::Parent { child } => child,
    };
    drop(err_w);
    super::signals::forward_to(child);
    let state = ContainerState {
        status: "running".into(),
        pid: child.as_raw(),
        started_at: Some(now_rfc3339()),
        ..Default::default()
    };
    let saved = store.save_container_state(&record.id, &state);
    let mut report = Vec::new();
    let _ = std::fs::File::from(err_r).read_to_end(&mut report);
    let status = super::signals::wait_exit(child).context("waiting for the container")?;
    let outcome = match init::decode(&report) {
        Some(e) => Outcome::Failed(e.code, e.message),
        None => Outcome::Exited(status),
    };
    saved?;
    // A `--rm` container's record is removed next: writing (and syncing)
    // its final state would only slow every `run --rm` down. The caller
    // records it with `record_exit` if the removal fails.
    if !record.host.auto_remove {
        record_exit(store, &record.id, &outcome, state.started_at)?;
    }
    Ok(outcome)
}

/// Saves the final state of a container that ran.
pub fn record_exit(
    store: &Store,
    id: &str,
    outcome: &Outcome,
    started_at: Option<String>,
) -> Result<()> {
    let (exit_code, error) = match outcome {
        Outcome::Exited(code) => (*code, String::new()),
        Outcome::Failed(code, msg) => (*code, msg.clone()),
    };
    let state = ContainerState {
        status: "exited".into(),
        pid: 0,
        exit_code,
        started_at,
        finished_at: Some(now_rfc3339()),
        error,
    };
    store.save_container_state(id, &state)
}

/// The overlay for the container, relative to the store root.
fn overlay_spec(store: &Store, record: &ContainerRecord) -> Result<OverlaySpec> {
    let mut lowers = Vec::with_capacity(record.layers.len());
    for diff_id in record.layers.iter().rev() {
        lowers.push(store.layer_link(diff_id)?);
    }
    let base = format!("containers/{}", record.id);
    if lowers.is_empty() {
        // An image without layers: overlay needs a lower directory.
        create_dir_mode(&store.root().join(&base).join("empty"), 0o755)?;
        lowers.push(format!("{base}/empty"));
    }
    Ok(OverlaySpec {
        lowers,
        upper: format!("{base}/upper"),
        work: format!("{base}/work"),
        userxattr: !crate::userns::is_real_root(),
    })
}

/// gid 5 ("tty") for terminals when the namespace maps it.
fn tty_gid() -> Option<u32> {
    let map = std::fs::read_to_string("/proc/self/gid_map").ok()?;
    crate::userns::idmap::is_mapped(&crate::userns::idmap::parse_proc_map(&map), 5).then_some(5)
}
