//! `exec`: a new process in a running container, with the container's
//! namespaces, user, environment, working directory, capabilities and
//! seccomp filter. Health probes start their processes the same way
//! ([`become_process`]).
//!
//! berth joins the container (nsenter.rs) and forks: the child lands in
//! the container's pid namespace, takes its identity and execs; we wait,
//! forward signals, and relay: for `-t` between our terminal and a pty
//! that the child made from the container's own devpts, otherwise
//! between our stdio and pipes (the process never gets one of our own
//! descriptors, so never the caller's terminal). Every process starts a
//! session of its own and a fresh session keyring. A close-on-exec pipe
//! tells us whether the exec happened, and if not, why (Docker's 126/127
//! statuses and wording).
//!
//! Our binary is never what runs in the container: the CLI made sure its
//! own executable cannot be written through /proc/PID/exe before it got
//! here (`selfexe`), and the child is not dumpable until it execs.

use super::init;
use super::message::{read_start_report, Message};
use super::nsenter::{self, Target};
use super::security::{single_mapping_in, Confinement};
use super::{console, spec, user};
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
    /// `--privileged`: every capability (the container's seccomp filter
    /// still applies, as with Docker).
    pub(crate) privileged: bool,
    /// `--detach-keys` as bytes: with `-it`, leave the process running.
    pub(crate) detach_keys: Vec<u8>,
    /// With `-t`: the caller's terminal size (rows, columns), given to the
    /// pty before the process starts.
    pub(crate) console_size: Option<[u16; 2]>,
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

/// The process's stdio, ours and its.
enum Stdio {
    /// `-t`: the child makes a pty and sends us the master.
    Tty { ours: OwnedFd, theirs: OwnedFd },
    /// Pipes (stdin /dev/null without `-i`); `-d`: /dev/null everywhere.
    Pipes {
        child: [OwnedFd; 3],
        ours: Option<super::pipe_relay::PipeEnds>,
    },
}

impl Stdio {
    fn for_exec(opts: &ExecOptions) -> Result<Stdio> {
        let null = || -> Result<OwnedFd> {
            Ok(std::fs::File::open("/dev/null")
                .context("opening /dev/null")?
                .into())
        };
        let pipe = || pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("creating a pipe");
        if opts.detach {
            return Ok(Stdio::Pipes {
                child: [null()?, null()?, null()?],
                ours: None,
            });
        }
        if opts.tty {
            let (ours, theirs) = nix::sys::socket::socketpair(
                nix::sys::socket::AddressFamily::Unix,
                nix::sys::socket::SockType::Stream,
                None,
                nix::sys::socket::SockFlag::SOCK_CLOEXEC,
            )
            .context("creating the terminal socket")?;
            return Ok(Stdio::Tty { ours, theirs });
        }
        let (stdin_child, stdin_ours) = if opts.interactive {
            let (r, w) = pipe()?;
            (r, Some(w))
        } else {
            (null()?, None)
        };
        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        Ok(Stdio::Pipes {
            child: [stdin_child, out_w, err_w],
            ours: Some(super::pipe_relay::PipeEnds {
                stdin: stdin_ours,
                stdout: out_r,
                stderr: err_r,
            }),
        })
    }
}

/// Runs `opts` in the container whose init is `init`. No thread may exist.
pub(crate) fn exec(
    record: &ContainerRecord,
    init: ProcessId,
    opts: &ExecOptions,
) -> Result<ExecOutcome> {
    let target = Target::open(init, &record.id, CloneFlags::all())?;
    // Compiled before the fork, as for the container's init.
    let confinement =
        Confinement::for_exec(record, single_mapping_in(Some(init.pid)), opts.privileged)?;
    let stdio = Stdio::for_exec(opts)?;
    let (err_r, err_w) = pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("creating a pipe")?;
    super::resources::join_for_exec(init.pid, &record.id);
    nsenter::not_dumpable();
    target.join()?;
    let old_mask = crate::util::signals::block();
    let (child_stdio, console) = match &stdio {
        Stdio::Tty { theirs, .. } => (None, Some(theirs.as_raw_fd())),
        Stdio::Pipes { child, .. } => (Some(child.each_ref().map(|f| f.as_raw_fd())), None),
    };
    let user = opts.user.as_deref().unwrap_or(&record.config.user);
    let workdir = opts
        .workdir
        .as_deref()
        .unwrap_or(&record.config.working_dir);
    let process = InContainer {
        record,
        user,
        workdir,
        argv: &opts.argv,
        extra_env: &opts.env,
        group_add: opts.user.is_none(),
        tty: opts.tty,
        console_size: opts.console_size,
        stdio: child_stdio,
        console,
        confinement: &confinement,
    };
    // SAFETY: no thread exists, so the child is a complete copy.
    let child = match unsafe { fork() }.context("starting the process in the container")? {
        ForkResult::Child => {
            drop(err_r);
            crate::util::signals::unblock_in_child(&old_mask);
            child_main(&process, opts.detach, err_w)
        }
        ForkResult::Parent { child } => child,
    };
    drop(err_w);
    let (master, pipes) = match stdio {
        Stdio::Tty { ours, theirs } => {
            drop(theirs);
            // A child that failed before making the terminal closes its end.
            (console::receive_master(ours.as_raw_fd()).ok(), None)
        }
        Stdio::Pipes { child, ours } => {
            drop(child);
            (None, ours)
        }
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
    } else if let Some(pipes) = pipes {
        super::pipe_relay::relay(pipes, child)?;
    }
    let code = crate::util::signals::wait_exit(child).context("waiting for the process")?;
    Ok(ExecOutcome::Exited(code))
}

/// A process to become in a running container, once in its namespaces.
pub(crate) struct InContainer<'a> {
    pub(crate) record: &'a ContainerRecord,
    /// `USER[:GROUP]` (empty: root).
    pub(crate) user: &'a str,
    /// Empty: `/`.
    pub(crate) workdir: &'a str,
    pub(crate) argv: &'a [String],
    /// Added to the container's environment.
    pub(crate) extra_env: &'a [String],
    /// `--group-add` applies: the container's own user (Docker's exec
    /// with -u gets the groups of that user only).
    pub(crate) group_add: bool,
    pub(crate) tty: bool,
    /// The pty's size before the process starts (rows, columns).
    pub(crate) console_size: Option<[u16; 2]>,
    /// Descriptors for stdin, stdout and stderr.
    pub(crate) stdio: Option<[RawFd; 3]>,
    /// `-t`: the socket to send the pty's master over.
    pub(crate) console: Option<RawFd>,
    pub(crate) confinement: &'a Confinement,
}

/// In the forked child, inside the container's namespaces; never returns.
fn child_main(p: &InContainer, detach: bool, err_w: OwnedFd) -> ! {
    let err = match setup_and_exec(p, detach) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    let code = err.code;
    let _ = Message::Failed(err).write_to(&mut std::fs::File::from(err_w));
    // SAFETY: leave without running the parent's destructors.
    unsafe { libc::_exit(code) }
}

/// Docker reports a process that could not be set up with 126.
pub(crate) fn cannot_run(e: anyhow::Error) -> StartFailure {
    StartFailure {
        code: EXIT_CANNOT_INVOKE,
        message: format!("{e:#}"),
    }
}

fn setup_and_exec(p: &InContainer, detach: bool) -> Result<std::convert::Infallible, StartFailure> {
    if detach {
        // A grandchild that nobody waits for: the intermediate child exits
        // once the exec happened or failed.
        // SAFETY: single-threaded; the child continues as a full copy.
        match unsafe { fork() } {
            Ok(ForkResult::Child) => {}
            // The intermediate child leaves at once: the error pipe
            // reaches the first berth process directly.
            // SAFETY: leave without running destructors.
            Ok(ForkResult::Parent { .. }) => unsafe { libc::_exit(0) },
            Err(e) => return Err(cannot_run(anyhow::Error::from(e).context("forking"))),
        }
    }
    let (argv, env) = become_process(p).map_err(cannot_run)?;
    init::exec(&argv, &env)
}

/// In a child already in the container's namespaces (its pid namespace
/// included): stdio, a new session, user, environment, working directory,
/// ids, capabilities, seccomp. Returns argv and env for `init::exec`.
pub(crate) fn become_process(p: &InContainer) -> Result<(Vec<String>, Vec<String>)> {
    // Nothing of berth's (the monitor's sockets and log, the CLI's
    // descriptors) survives the exec.
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets flags.
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        );
    }
    if let Some(fds) = p.stdio {
        for (fd, target) in fds.into_iter().zip(0..) {
            // SAFETY: dup2 onto our own standard descriptors.
            if unsafe { libc::dup2(fd, target) } < 0 {
                return Err(std::io::Error::last_os_error()).context("connecting stdio");
            }
        }
    }
    // SAFETY: setsid has no arguments; a pty (console) makes its own.
    unsafe {
        libc::setsid();
    }
    let config = &p.record.config;
    let passwd = init::read_small_file("/etc/passwd");
    let group = init::read_small_file("/etc/group");
    let mut u = user::resolve(p.user, passwd.as_deref(), group.as_deref())?;
    if p.group_add {
        u.groups.extend(super::namespaces::extra_groups(
            &config.group_add,
            group.as_deref(),
            crate::userns::setgroups_allowed(),
        )?);
    }
    if let Some(socket) = p.console {
        console::setup_in_container(
            socket,
            u.uid,
            super::start::tty_gid().unwrap_or(u.gid),
            p.console_size,
        )?;
    }
    let env = exec_env(config, &u.home, p.extra_env, p.tty);
    init::enter_workdir(p.workdir, false)?;
    super::resources::ulimit::apply(&p.record.host.resources.ulimits)?;
    p.confinement.before_identity()?;
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
    p.confinement.after_identity(u.uid)?;
    Ok((p.argv.to_vec(), env))
}

/// The container's environment, then `-e` entries, with `TERM=xterm`
/// when this exec has a terminal (the container's own `-t` does not
/// count), and HOME last: Docker's order.
fn exec_env(config: &ProcessConfig, home: &str, extra: &[String], tty: bool) -> Vec<String> {
    spec::final_env(config, home, tty, extra)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::env;

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
                "C=4".into(),
                "HOME=/root".into()
            ]
        );
        let e = exec_env(&config, "/root", &[], true);
        assert_eq!(e[2], "TERM=xterm");
        let e = exec_env(&config, "/root", &["TERM=dumb".into()], true);
        assert!(e.contains(&"TERM=dumb".to_string()) && !e.contains(&"TERM=xterm".to_string()));
        let tty_container = ProcessConfig {
            tty: true,
            ..config
        };
        let e = exec_env(&tty_container, "/root", &[], false);
        assert!(!e.iter().any(|v| v.starts_with("TERM=")), "{e:?}");
    }
}
