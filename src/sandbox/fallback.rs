//! The sandbox where user namespaces are refused (a locked-down machine):
//! no new namespaces, so no mounts; Landlock keeps the filesystem rules in
//! the kernel (hidden paths are denied rather than replaced by empty
//! ones), seccomp and no_new_privs still apply, and:
//! - `/tmp` becomes a private directory of its own under the host's
//!   (`$TMPDIR` points to it; the host's /tmp, /var/tmp and /dev/shm are
//!   denied), removed when the command ends;
//! - `--network none` is kept by seccomp (no IPv4/IPv6 sockets) and, with
//!   Landlock ABI 4, TCP rules; with `--allow-port`, IPv4/IPv6 sockets are
//!   allowed and only Landlock's TCP port rules apply;
//! - signals to, and abstract sockets of, processes outside are refused
//!   with Landlock ABI 6 (there is no pid namespace to hide them).
//!
//! Without Landlock at all there is no way left to keep the filesystem
//! rules: the sandbox refuses to run.

use super::{process, Network, Plan};
use anyhow::{bail, Context, Result};
use nix::unistd::{fork, ForkResult};

/// Runs the plan without namespaces; `why` says why there are none.
pub fn run(plan: &Plan, why: &str, landlock_abi: u32) -> Result<i32> {
    if landlock_abi == 0 {
        bail!(
            "cannot sandbox here: user namespaces are not available ({why}) and this kernel has \
             no Landlock, so nothing could keep the filesystem rules; an administrator can \
             allow user namespaces, or boot a kernel with Landlock (Linux 5.13+, `landlock` in \
             the lsm= list)"
        );
    }
    let deny_inet = plan.network == Network::None && plan.allow_ports.is_none();
    let filter = super::seccomp_filter(deny_inet)?;
    let tmp = tempfile::Builder::new()
        .prefix("berth-sandbox-")
        .tempdir_in(std::env::temp_dir())
        .context("creating the sandbox's private temporary directory")?;
    let tmp_path = tmp.path().to_path_buf();
    let prepared = crate::landlock::prepare(&plan.landlock_rules(false, Some(&tmp_path)))?;
    let mut lacking = vec![
        "new mount, pid, ipc and uts namespaces (the host's filesystem is shown as it is: \
         Landlock denies what is hidden, and /tmp is a private directory, $TMPDIR)"
            .to_string(),
    ];
    if plan.network == Network::None {
        lacking.push(if deny_inet {
            "a network namespace (seccomp denies IPv4 and IPv6 sockets instead)".to_string()
        } else {
            "a network namespace (only Landlock's TCP port rules apply; UDP is open)".to_string()
        });
    }
    for missing in &prepared.report().missing {
        lacking.push(format!("Landlock {missing}"));
    }
    crate::util::report::warning(&format!(
        "berth sandbox: user namespaces are not available ({why}); running with Landlock, \
         seccomp and no_new_privs only. Not added: {}",
        lacking.join("; ")
    ));
    let (err_r, err_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let pipe = process::ErrorPipe(std::os::fd::AsRawFd::as_raw_fd(&err_w));
    let old_mask = crate::util::signals::block();
    // SAFETY: berth is single-threaded here.
    match unsafe { fork() }? {
        ForkResult::Child => {
            drop(err_r);
            crate::util::signals::unblock_in_child(&old_mask);
            // SAFETY: prctl with integer arguments only.
            unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };
            let env = [("TMPDIR", tmp_path.to_string_lossy().into_owned())];
            process::exec_confined(plan, prepared, &filter, &env, pipe)
        }
        ForkResult::Parent { child } => {
            drop(prepared);
            drop(err_w);
            crate::util::signals::forward_to(child);
            let code = process::wait_for(child, err_r);
            // The command's files go with it; a failure to remove is only
            // worth a note.
            if let Err(e) = tmp.close() {
                crate::util::report::warning(&format!(
                    "berth sandbox: removing {}: {e}",
                    tmp_path.display()
                ));
            }
            code
        }
    }
}
