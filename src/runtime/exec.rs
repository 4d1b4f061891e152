//! `exec`: a new process in a running container, with the container's
//! namespaces, user, environment, working directory and capabilities.
//!
//! berth joins the container (nsenter.rs) and forks: the child lands in
//! the container's pid namespace, takes its identity and execs; we wait,
//! forward signals, and for `-t` relay between our terminal and a pty
//! that the child made from the container's own devpts. A close-on-exec
//! pipe tells us whether the exec happened, and if not, why (Docker's
//! 126/127 statuses and wording).

use super::init;
use super::message::{read_start_report, Message};
use super::nsenter::{self, Target};
use super::{caps, console, env, spec, user};
use crate::model::exit::EXIT_CANNOT_INVOKE;
use crate::model::{ContainerRecord, ProcessConfig, StartFailure};
use crate::util::proc::ProcessId;
use anyhow::{Context, Result};
use nix::sched::CloneFlags;
use nix::unistd::{fork, pipe2, ForkResult};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// What `exec` runs and how.
#[derive(Debug, Clone, Default)]
pub(crate) struct ExecOptions {
    pub(crate) argv: Vec<String>,
    /// Keep stdin open (`-i`); otherwise it is /dev/null.
    pub(crate) interactive: bool,
    /// A terminal (`-t`).
    pub(crate) tty: bool,
    /// Leave the process running and return (`-d`).
    pub(crate) detach: bool,
    /// `K=V` entries added to the container's environment.
    pub(crate) env: Vec<String>,
    /// Overrides the container's working directory.
    pub(crate) workdir: Option<String>,
    /// Overrides the container's user.
    pub(crate) user: Option<String>,
    /// `--detach-keys` as bytes: with `-it`, leave the process running.
    pub(crate) detach_keys: Vec<u8>,
}

/// How the exec ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ExecOutcome {
    /// The process's exit status (128 + signal when killed); 0 for `-d`.
    Exited(i32),
    /// It never ran: Docker's status (126, 127) and the message.
    Failed(StartFailure),
    /// The user typed the detach keys; the process runs on.
    Detached,
}

/// Runs `opts` in the container whose init is `init`. No thread may exist.
pub(crate) fn exec(
    record: &ContainerRecord,
    init: ProcessId,
    opts: &ExecOptions,
) -> Result<ExecOutcome> {
    let target = Target::open(init, &record.id, CloneFlags::all())?;
    let null = if opts.interactive && !opts.detach {
        None
    } else {
        Some(OwnedFd::from(
            std::fs::File::open("/dev/null").context("opening /dev/null")?,
        ))
    };
    let console = if opts.tty && !opts.detach {
        let (ours, theirs) = nix::sys::socket::socketpair(
            nix::sys::socket::AddressFamily::Unix,
            nix::sys::socket::SockType::Stream,
            None,
            nix::sys::socket::SockFlag::SOCK_CLOEXEC,
        )
        .context("creating the terminal socket")?;
        Some((ours, theirs))
    } else {
        None
    };
    let (err_r, err_w) = pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("creating a pipe")?;
    super::resources::join_for_exec(init.pid, &record.id);
    nsenter::not_dumpable();
    target.join()?;
    let old_mask = crate::util::signals::block();
    let child_ctx = ChildContext {
        record,
        opts,
        null: null.as_ref().map(|f| f.as_raw_fd()),
        console: console.as_ref().map(|(_, theirs)| theirs.as_raw_fd()),
    };
    // SAFETY: no thread exists, so the child is a complete copy.
    let child = match unsafe { fork() }.context("starting the process in the container")? {
        ForkResult::Child => {
            drop(err_r);
            crate::util::signals::unblock_in_child(&old_mask);
            child_main(&child_ctx, err_w)
        }
        ForkResult::Parent { child } => child,
    };
    drop(err_w);
    drop(null);
    let master = match console {
        Some((ours, theirs)) => {
            drop(theirs);
            // A child that failed before making the terminal closes its end.
            console::receive_master(ours.as_raw_fd()).ok()
        }
        None => None,
    };
    if let Some(failure) = read_start_report(err_r) {
        let _ = crate::util::signals::wait_exit(child);
        return Ok(ExecOutcome::Failed(failure));
    }
    if opts.detach {
        // The intermediate child exits once the process is on its own.
        let _ = crate::util::signals::wait_exit(child);
        return Ok(ExecOutcome::Exited(0));
    }
    crate::util::signals::forward_to(child);
    if let Some(master) = master {
        if let super::pty::Relayed::Detached(master) =
            super::pty::relay(master, child, opts.interactive, &opts.detach_keys)?
        {
            super::pty::hold_detached(master, child)?;
            return Ok(ExecOutcome::Detached);
        }
    }
    let code = crate::util::signals::wait_exit(child).context("waiting for the process")?;
    Ok(ExecOutcome::Exited(code))
}

struct ChildContext<'a> {
    record: &'a ContainerRecord,
    opts: &'a ExecOptions,
    null: Option<RawFd>,
    console: Option<RawFd>,
}

/// In the forked child, inside the container's namespaces; never returns.
fn child_main(ctx: &ChildContext, err_w: OwnedFd) -> ! {
    let err = match setup_and_exec(ctx) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    let code = err.code;
    let _ = Message::Failed(err).write_to(&mut std::fs::File::from(err_w));
    // SAFETY: leave without running the parent's destructors.
    unsafe { libc::_exit(code) }
}

/// Docker reports a process that could not be set up with 126.
fn cannot_run(e: anyhow::Error) -> StartFailure {
    StartFailure {
        code: EXIT_CANNOT_INVOKE,
        message: format!("{e:#}"),
    }
}

fn setup_and_exec(ctx: &ChildContext) -> Result<std::convert::Infallible, StartFailure> {
    if ctx.opts.detach {
        // A new session, and a grandchild that nobody waits for: the
        // intermediate child exits once the exec happened or failed.
        // SAFETY: single-threaded; the child continues as a full copy.
        match unsafe { fork() } {
            Ok(ForkResult::Child) => {
                let _ = nix::unistd::setsid();
            }
            // The intermediate child leaves at once: the error pipe
            // reaches the first berth process directly.
            // SAFETY: leave without running destructors.
            Ok(ForkResult::Parent { .. }) => unsafe { libc::_exit(0) },
            Err(e) => return Err(cannot_run(anyhow::Error::from(e).context("forking"))),
        }
    }
    let (argv, env) = identity(ctx).map_err(cannot_run)?;
    init::exec(&argv, &env)
}

/// Stdio, user, environment, working directory, ids and capabilities;
/// returns argv and env for exec.
fn identity(ctx: &ChildContext) -> Result<(Vec<String>, Vec<String>)> {
    let config = &ctx.record.config;
    let passwd = init::read_small_file("/etc/passwd");
    let group = init::read_small_file("/etc/group");
    let spec_user = ctx.opts.user.as_deref().unwrap_or(&config.user);
    let mut u = user::resolve(spec_user, passwd.as_deref(), group.as_deref())?;
    if ctx.opts.user.is_none() {
        // `--group-add` applies to the container's own user (Docker's exec
        // with -u gets the groups of that user only).
        u.groups.extend(super::namespaces::extra_groups(
            &config.group_add,
            group.as_deref(),
            crate::userns::setgroups_allowed(),
        )?);
    }
    if let Some(null) = ctx.null {
        let targets: &[i32] = if ctx.opts.detach { &[0, 1, 2] } else { &[0] };
        for &t in targets {
            // SAFETY: dup2 onto our own standard descriptors.
            unsafe {
                libc::dup2(null, t);
            }
        }
    }
    if let Some(socket) = ctx.console {
        console::setup_in_container(socket, u.uid, super::start::tty_gid().unwrap_or(u.gid))?;
    }
    let env = exec_env(config, &u.home, &ctx.opts.env, ctx.opts.tty);
    let workdir = match &ctx.opts.workdir {
        Some(w) => w.as_str(),
        None if config.working_dir.is_empty() => "/",
        None => config.working_dir.as_str(),
    };
    if let Err(e) = nix::unistd::chdir(workdir) {
        let text = e.desc().to_lowercase();
        anyhow::bail!("chdir to cwd ({workdir:?}) set in config.json failed: {text}");
    }
    super::resources::ulimit::apply(&ctx.record.host.resources.ulimits)?;
    let keep = caps::default_set();
    caps::limit_bounding(&keep)?;
    if crate::userns::setgroups_allowed() {
        let groups: Vec<nix::unistd::Gid> = u
            .groups
            .iter()
            .map(|g| nix::unistd::Gid::from_raw(*g))
            .collect();
        nix::unistd::setgroups(&groups).context("setting supplementary groups")?;
    }
    let gid = nix::unistd::Gid::from_raw(u.gid);
    nix::unistd::setresgid(gid, gid, gid)
        .with_context(|| format!("switching to group {}: the id is not mapped", u.gid))?;
    let uid = nix::unistd::Uid::from_raw(u.uid);
    nix::unistd::setresuid(uid, uid, uid)
        .with_context(|| format!("switching to user {}: the id is not mapped", u.uid))?;
    caps::apply_after_setuid(&keep, u.uid == 0)?;
    Ok((ctx.opts.argv.clone(), env))
}

/// The container's environment (as its init got it), then `-e` entries,
/// and `TERM=xterm` with a terminal unless set, as Docker.
fn exec_env(config: &ProcessConfig, home: &str, extra: &[String], tty: bool) -> Vec<String> {
    let mut out = spec::final_env(config, home);
    if tty && env::get(&out, "TERM").is_none() {
        out.push("TERM=xterm".into());
    }
    for e in extra {
        env::set(&mut out, e.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_is_the_containers_plus_flags() {
        let config = ProcessConfig {
            env: vec!["A=1".into(), "B=2".into()],
            hostname: "h".into(),
            ..Default::default()
        };
        let e = exec_env(&config, "/root", &["B=3".into(), "C=4".into()], false);
        assert_eq!(
            e,
            [
                format!("PATH={}", env::DEFAULT_PATH),
                "HOSTNAME=h".into(),
                "A=1".into(),
                "B=3".into(),
                "HOME=/root".into(),
                "C=4".into()
            ]
        );
        let e = exec_env(&config, "/root", &[], true);
        assert_eq!(e.last().unwrap(), "TERM=xterm");
        let e = exec_env(&config, "/root", &["TERM=dumb".into()], true);
        assert!(e.contains(&"TERM=dumb".to_string()) && !e.contains(&"TERM=xterm".to_string()));
    }
}
