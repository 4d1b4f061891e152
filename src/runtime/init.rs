//! The container's init: what the forked child does between fork and
//! exec — namespaces, root filesystem, pivot_root, hostname, user,
//! capabilities — and the exec itself. It never returns: it execs the
//! container's program or reports why it could not (exit status and
//! message through a close-on-exec pipe, whose EOF tells the parent the
//! exec happened) and exits.

use super::message::Message;
use super::{namespaces, spec, user};
use crate::model::exit::{EXIT_BERTH_ERROR, EXIT_CANNOT_INVOKE, EXIT_NOT_FOUND};
use crate::model::{ContainerRecord, StartFailure};
use crate::mounts::{self, rootfs::OverlaySpec};
use anyhow::{Context, Result};
use std::ffi::CString;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// Everything the child needs, prepared by the parent before the fork.
pub(crate) struct InitContext<'a> {
    pub(crate) record: &'a ContainerRecord,
    pub(crate) store_root: &'a Path,
    pub(crate) container_dir: PathBuf,
    pub(crate) overlay: OverlaySpec,
    pub(crate) private_net: bool,
    /// What the init does about the network (namespace, TAP devices).
    pub(crate) network: &'a super::network::InitNetwork,
    pub(crate) attach_stdin: bool,
    /// `-t`: the socket to send the terminal's master end over.
    pub(crate) console_socket: Option<std::os::fd::RawFd>,
    /// gid for devpts terminals, when mapped.
    pub(crate) tty_gid: Option<u32>,
    pub(crate) setgroups_allowed: bool,
    /// Namespaces shared with other containers or the host, prepared by
    /// the monitor (`--ipc`, `--pid`, `--userns`).
    pub(crate) namespaces: &'a super::namespaces::Launch,
    /// Capabilities and Landlock, decided before the clone; the seccomp
    /// filter comes later, with [`Go`].
    pub(crate) confinement: &'a super::security::Confinement,
    /// The cores the monitor may use: the init is kept off the monitor's
    /// until released (`util::cpus`).
    pub(crate) cpus: Option<crate::util::cpus::Spread>,
}

/// Runs in the forked child; never returns. `go` brings what the
/// monitor makes while the init makes its namespaces ([`Go`]); `files`
/// says when the /etc files it writes after that exist ([`files_ready`]).
pub(crate) fn run(ctx: &InitContext, err_pipe: OwnedFd, go: OwnedFd, files: OwnedFd) -> ! {
    let err = match setup_and_exec(ctx, &err_pipe, go, files) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    let code = err.code;
    let _ = Message::Failed(err).write_to(&mut std::fs::File::from(err_pipe));
    // SAFETY: _exit skips atexit handlers and buffers that belong to the
    // parent's copy of this process.
    unsafe { libc::_exit(code) }
}

fn setup_and_exec(
    ctx: &InitContext,
    err_pipe: &OwnedFd,
    go: OwnedFd,
    files: OwnedFd,
) -> Result<std::convert::Infallible, StartFailure> {
    // A session of its own: nothing the container runs can reach a
    // terminal of the monitor's session (the monitor has none either).
    // SAFETY: setsid has no arguments.
    unsafe {
        libc::setsid();
    }
    make_namespaces(ctx).map_err(StartFailure::setup)?;
    // The monitor is still making the overlay, most often: /dev now, as
    // a detached tree attached once the root exists (`mounts::dev`).
    let dev = match mounts::dev::detached() {
        Ok(Some(fd)) => {
            crate::util::trace::step("/dev made (detached)");
            Some(fd)
        }
        Ok(None) => None,
        Err(e) => {
            crate::util::trace::step(&format!("/dev left for later: {e:#}"));
            None
        }
    };
    let go = Go::receive(go).map_err(StartFailure::setup)?;
    if let Some(cpus) = &ctx.cpus {
        cpus.restore();
    }
    crate::util::trace::step("released (directories, cgroup, overlay, seccomp filter)");
    enter_cgroup(ctx, &go.cgroup_procs).map_err(StartFailure::setup)?;
    let mut confinement = ctx.confinement.clone();
    confinement.set_filter(go.filter);
    make_root(ctx, go.overlay, dev, files).map_err(StartFailure::setup)?;
    super::resources::ulimit::apply(&ctx.record.host.resources.ulimits)
        .map_err(StartFailure::setup)?;
    let (argv, env) = identity_and_env(ctx, &confinement).map_err(StartFailure::setup)?;
    if ctx.record.config.init {
        use std::os::fd::AsRawFd;
        super::init_reaper::become_init(&[err_pipe.as_raw_fd()])
            .map_err(|e| StartFailure::setup(anyhow::anyhow!("starting the init (--init): {e}")))?;
    }
    send_trace(err_pipe);
    exec(&argv, &env)
}

/// Our `BERTH_TRACE` lines, to the monitor, just before the exec (the
/// pipe's end tells it the exec happened; lines come before that).
fn send_trace(err_pipe: &OwnedFd) {
    if crate::util::trace::enabled() {
        crate::util::trace::step("exec");
        let lines = crate::util::trace::take();
        if let Ok(mut pipe) = err_pipe.try_clone().map(std::fs::File::from) {
            let _ = Message::Trace(lines).write_to(&mut pipe);
        }
    }
}

/// What the monitor sends the init once the container's directories and
/// cgroups exist: the `cgroup.procs` files to join, the
/// compiled seccomp filter and, when the monitor could make it, the
/// container's overlay as a detached mount. The init is cloned before
/// those are made, so that making its namespaces (the largest part of a
/// launch the kernel does) runs on the other core meanwhile.
pub(crate) struct Go {
    pub(crate) cgroup_procs: Vec<PathBuf>,
    pub(crate) filter: Option<crate::seccomp::Filter>,
    /// The rootfs overlay, made but not attached
    /// (`mounts::rootfs::detached_overlay`); sent as SCM_RIGHTS. Without
    /// it the init mounts the overlay itself.
    pub(crate) overlay: Option<OwnedFd>,
}

impl Go {
    /// In the monitor: lets the init go on. The overlay's descriptor goes
    /// with the first bytes; the caller then closes its own.
    pub(crate) fn send(&self, to: OwnedFd) -> Result<()> {
        use nix::sys::socket::{sendmsg, ControlMessage};
        use std::os::fd::AsRawFd;
        use std::os::unix::ffi::OsStrExt;
        let mut message = Vec::new();
        message.push(u8::from(self.overlay.is_some()));
        message.extend_from_slice(&(self.cgroup_procs.len() as u32).to_le_bytes());
        for path in &self.cgroup_procs {
            let bytes = path.as_os_str().as_bytes();
            message.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
            message.extend_from_slice(bytes);
        }
        if let Some(f) = &self.filter {
            message.extend_from_slice(&f.to_bytes());
        }
        let fds: Vec<std::os::fd::RawFd> = self.overlay.iter().map(|f| f.as_raw_fd()).collect();
        let rights = [ControlMessage::ScmRights(&fds)];
        // A socket, not a pipe: an init that died meanwhile must not end
        // us with SIGPIPE (MSG_NOSIGNAL); its report says why it died.
        let mut sent = 0;
        while sent < message.len() {
            let cmsgs: &[ControlMessage] = if sent == 0 && !fds.is_empty() {
                &rights
            } else {
                &[]
            };
            match sendmsg::<()>(
                to.as_raw_fd(),
                &[std::io::IoSlice::new(&message[sent..])],
                cmsgs,
                nix::sys::socket::MsgFlags::MSG_NOSIGNAL,
                None,
            ) {
                Ok(n) => sent += n,
                Err(nix::errno::Errno::EINTR) => {}
                // Gone: its start report tells why.
                Err(nix::errno::Errno::EPIPE | nix::errno::Errno::ECONNRESET) => break,
                Err(e) => return Err(e).context("releasing the container's init"),
            }
        }
        Ok(())
    }

    /// In the init: waits for the monitor's message. The socket's end
    /// without a message means the monitor failed and is about to end
    /// us: we leave quietly.
    fn receive(from: OwnedFd) -> Result<Go> {
        use std::os::unix::ffi::OsStrExt;
        let (message, mut fds) =
            receive_all(&from).context("waiting for the container's monitor")?;
        if message.is_empty() {
            // SAFETY: _exit in the forked child, whose parent reports.
            unsafe { libc::_exit(EXIT_BERTH_ERROR) }
        }
        let bad = || anyhow::anyhow!("the container's monitor sent a message the init cannot read");
        let mut rest = message.as_slice();
        let mut take = |n: usize| -> Result<&[u8]> {
            let (head, tail) = rest.split_at_checked(n).ok_or_else(bad)?;
            rest = tail;
            Ok(head)
        };
        let word = |b: &[u8]| u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize;
        let overlay = match take(1)? {
            [0] => None,
            [1] => Some(fds.pop().ok_or_else(|| {
                anyhow::anyhow!("the container's monitor sent no overlay with its message")
            })?),
            _ => return Err(bad()),
        };
        let count = word(take(4)?);
        let mut cgroup_procs = Vec::with_capacity(count.min(16));
        for _ in 0..count {
            let len = word(take(4)?);
            cgroup_procs.push(PathBuf::from(std::ffi::OsStr::from_bytes(take(len)?)));
        }
        let filter = match rest {
            [] => None,
            bytes => Some(crate::seccomp::Filter::from_bytes(bytes).ok_or_else(bad)?),
        };
        Ok(Go {
            cgroup_procs,
            filter,
            overlay,
        })
    }
}

/// In the monitor, after [`Go`]: the container's /etc files (hosts,
/// hostname, resolv.conf) are written. The init binds them only after
/// attaching the overlay and mounting /proc, /dev and /sys, so the
/// monitor writes them meanwhile instead of before the release.
pub(crate) fn files_ready(to: OwnedFd) -> Result<()> {
    use std::os::fd::AsRawFd;
    loop {
        match nix::sys::socket::send(
            to.as_raw_fd(),
            &[1],
            nix::sys::socket::MsgFlags::MSG_NOSIGNAL,
        ) {
            Ok(_) => return Ok(()),
            Err(nix::errno::Errno::EINTR) => {}
            // Gone: its start report tells why.
            Err(nix::errno::Errno::EPIPE | nix::errno::Errno::ECONNRESET) => return Ok(()),
            Err(e) => return Err(e).context("telling the container's init its files exist"),
        }
    }
}

/// In the init: waits for [`files_ready`]. The socket's end without the
/// byte means the monitor failed and is about to end us: we leave
/// quietly, as in [`Go::receive`].
fn wait_for_files(from: OwnedFd) -> Result<()> {
    let mut byte = [0u8; 1];
    loop {
        match nix::unistd::read(&from, &mut byte) {
            Ok(1) => return Ok(()),
            // SAFETY: _exit in the forked child, whose parent reports.
            Ok(_) => unsafe { libc::_exit(EXIT_BERTH_ERROR) },
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e).context("waiting for the container's /etc files"),
        }
    }
}

/// Reads a stream socket to its end, with the descriptors that came on it
/// (close-on-exec).
fn receive_all(from: &OwnedFd) -> Result<(Vec<u8>, Vec<OwnedFd>)> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    use std::os::fd::{AsRawFd, FromRawFd, RawFd};
    let mut message = Vec::new();
    let mut fds = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let mut space = nix::cmsg_space!([RawFd; 1]);
        let msg = match recvmsg::<()>(
            from.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Ok(msg) => msg,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        };
        for c in msg.cmsgs()? {
            if let ControlMessageOwned::ScmRights(raw) = c {
                // SAFETY: the kernel just installed these descriptors in
                // our table for us; nothing else owns them.
                fds.extend(raw.into_iter().map(|r| unsafe { OwnedFd::from_raw_fd(r) }));
            }
        }
        let n = msg.bytes;
        if n == 0 {
            return Ok((message, fds));
        }
        message.extend_from_slice(&buf[..n]);
    }
}

/// The container's cgroups, then its own cgroup namespace rooted there
/// (made only now: a namespace made before the move would show the
/// container its cgroup's path instead of `/`).
fn enter_cgroup(ctx: &InitContext, procs: &[PathBuf]) -> Result<()> {
    super::resources::join(procs)?;
    if namespaces::unshare_flags(ctx.record, false)
        .contains(nix::sched::CloneFlags::CLONE_NEWCGROUP)
    {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP)
            .context("creating the container's cgroup namespace")?;
    }
    Ok(())
}

/// The container's namespaces (network devices included), before the
/// monitor releases us.
fn make_namespaces(ctx: &InitContext) -> Result<()> {
    if !ctx.attach_stdin {
        let null = std::fs::File::open("/dev/null").context("opening /dev/null")?;
        nix::unistd::dup2_stdin(&null).context("redirecting stdin from /dev/null")?;
    }
    // The network namespace is made by the network's setup, with its
    // devices, before the sysctls of `after_unshare` apply to it.
    // The cgroup namespace comes once the cgroup is joined (`enter_cgroup`).
    let flags =
        namespaces::unshare_flags(ctx.record, false) - nix::sched::CloneFlags::CLONE_NEWCGROUP;
    nix::sched::unshare(flags).context("creating the container's namespaces")?;
    super::network::init_side::setup(ctx.network)?;
    namespaces::after_unshare(ctx.record, ctx.namespaces)?;
    // Nothing we mount may propagate back to the host.
    crate::mounts::make_private()?;
    crate::util::trace::step("namespaces made");
    Ok(())
}

/// The root filesystem, up to pivot_root and the masks. `overlay` is the
/// overlay the monitor made ([`Go::overlay`]), attached here; without it
/// the overlay is mounted here. `files`: see [`wait_for_files`].
fn make_root(
    ctx: &InitContext,
    overlay: Option<OwnedFd>,
    dev: Option<OwnedFd>,
    files: OwnedFd,
) -> Result<()> {
    nix::unistd::chdir(ctx.store_root).context("entering the store")?;
    let rootfs = ctx.container_dir.join("merged");
    if mounts::rootfs::attach_or_mount_overlay(&ctx.overlay, overlay, &rootfs)? {
        crate::util::trace::step("overlay attached");
    } else {
        crate::util::trace::step("overlay mounted");
    }
    let root =
        mounts::inroot::InRoot::open(&rootfs).context("opening the container's root filesystem")?;
    namespaces::after_rootfs(&root, ctx.record)?;
    namespaces::mount_proc(&root, ctx.record)?;
    crate::util::trace::step("/proc mounted");
    mounts::dev::setup(&root, ctx.tty_gid, dev)?;
    namespaces::after_dev(&root, ctx.record, ctx.namespaces)?;
    crate::util::trace::step("/dev made");
    mounts::proc_sys::mount_sys(&root, ctx.private_net)?;
    crate::util::trace::step("/sys mounted");
    mounts::binds::mount_all(&root, &ctx.record.host.storage.mounts)?;
    mounts::devices::bind_all(&root, &ctx.record.host.devices)?;
    let user_targets: Vec<&str> = ctx
        .record
        .host
        .storage
        .mounts
        .iter()
        .map(|m| m.destination.as_str())
        .collect();
    wait_for_files(files)?;
    mounts::files::bind_all(&root, &ctx.container_dir, &user_targets)?;
    if ctx.confinement.fakeroot {
        mounts::files::bind_apt_fakeroot(&root, &ctx.container_dir)?;
    }
    if ctx.record.host.storage.read_only {
        mounts::pivot::make_root_read_only(&rootfs)?;
    }
    if ctx.confinement.privileged {
        mounts::dev::add_host_devices(&root)?;
    }
    drop(root);
    crate::util::trace::step("binds and /etc files mounted");
    mounts::pivot::pivot(&rootfs)?;
    crate::util::trace::step("pivot_root done");
    if !ctx.confinement.privileged {
        mounts::proc_sys::restrict_paths()?;
        crate::util::trace::step("/proc and /sys paths masked");
    }
    super::devices::update_ld_cache(&ctx.record.host.devices.provisioned);
    namespaces::set_names(ctx.record)?;
    Ok(())
}

/// After pivot_root: who the process runs as, its environment, working
/// directory, ids and capabilities. Returns argv and env for exec.
fn identity_and_env(
    ctx: &InitContext,
    confinement: &super::security::Confinement,
) -> Result<(Vec<String>, Vec<String>)> {
    let config = &ctx.record.config;
    let passwd = read_small_file("/etc/passwd");
    let group = read_small_file("/etc/group");
    let mut u = user::resolve(&config.user, passwd.as_deref(), group.as_deref())?;
    u.groups.extend(namespaces::extra_groups(
        &config.group_add,
        group.as_deref(),
        ctx.setgroups_allowed,
    )?);
    if let Some(socket) = ctx.console_socket {
        super::console::setup_in_container(
            socket,
            u.uid,
            ctx.tty_gid.unwrap_or(u.gid),
            ctx.record.host.console_size,
        )?;
    }
    let env = spec::final_env(config, &u.home, config.tty, &[]);
    enter_workdir(&config.working_dir, true)?;
    crate::util::trace::step("user resolved, working directory entered");
    confinement.before_identity()?;
    let not_mapped = |what: &str, id: u32| {
        format!(
            "switching to {what} {id}: the id is not mapped in berth's user namespace (with a \
             single mapping only root exists, or only you with --userns keep-id; an \
             administrator can add a subordinate range in /etc/subuid and /etc/subgid)"
        )
    };
    if ctx.setgroups_allowed {
        let groups: Vec<nix::unistd::Gid> = u
            .groups
            .iter()
            .map(|g| nix::unistd::Gid::from_raw(*g))
            .collect();
        nix::unistd::setgroups(&groups).context("setting supplementary groups")?;
    }
    let gid = nix::unistd::Gid::from_raw(u.gid);
    nix::unistd::setresgid(gid, gid, gid).with_context(|| not_mapped("group", u.gid))?;
    let uid = nix::unistd::Uid::from_raw(u.uid);
    nix::unistd::setresuid(uid, uid, uid).with_context(|| not_mapped("user", u.uid))?;
    // The container must not outlive its monitor (or, before the monitor
    // existed, the berth that waits for it). Set after the id change,
    // which clears it.
    // SAFETY: prctl with integer arguments only.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
    }
    crate::util::trace::step("bounding set cut, ids set");
    confinement.after_identity(u.uid)?;
    crate::util::trace::step("capabilities, seccomp filter, Landlock applied");
    Ok((config.args.clone(), env))
}

/// Enters the working directory (`/` when empty), resolved inside the
/// container's root after pivot_root: `..`, symlinks and `/proc/self/fd/N`
/// links can never lead out of it (openat2 RESOLVE_IN_ROOT and
/// RESOLVE_NO_MAGICLINKS). The init creates a missing one, as Docker;
/// exec fails with runc's wording.
pub(crate) fn enter_workdir(workdir: &str, create: bool) -> Result<()> {
    use std::os::fd::AsRawFd;
    let workdir = if workdir.is_empty() { "/" } else { workdir };
    let root = mounts::inroot::InRoot::open(Path::new("/")).context("opening the root")?;
    let dir = if create {
        root.mkdir_all(workdir, 0o755)
            .with_context(|| format!("creating the working directory {workdir}"))?
    } else {
        match root.resolve(workdir) {
            Ok(fd) if mounts::inroot::is_dir(&fd) => fd,
            Ok(_) => anyhow::bail!(
                "chdir to cwd ({workdir:?}) set in config.json failed: not a directory"
            ),
            Err(e) => {
                let errno = nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EINVAL));
                anyhow::bail!(
                    "chdir to cwd ({workdir:?}) set in config.json failed: {}",
                    errno_text(errno)
                )
            }
        }
    };
    // SAFETY: fchdir on a directory descriptor we hold.
    if unsafe { libc::fchdir(dir.as_raw_fd()) } != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("entering the working directory {workdir}"));
    }
    Ok(())
}

/// Reads a small regular file of the container; anything else (missing,
/// a FIFO that would block, a device, huge) counts as absent.
pub(crate) fn read_small_file(path: &str) -> Option<String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .ok()?;
    let meta = f.metadata().ok()?;
    if !meta.is_file() {
        return None;
    }
    let mut s = String::new();
    f.take(16 << 20).read_to_string(&mut s).ok()?;
    Some(s)
}

/// Finds the program and execs it; returns only on failure, with Docker's
/// wording and status (127 not found, 126 cannot be run).
pub(crate) fn exec(
    argv: &[String],
    env: &[String],
) -> Result<std::convert::Infallible, StartFailure> {
    let name = &argv[0];
    let path_var = super::env::get(env, "PATH").unwrap_or(super::env::DEFAULT_PATH);
    let program = find_program(name, path_var)?;
    let c = |s: &str| {
        CString::new(s).map_err(|_| StartFailure {
            code: EXIT_BERTH_ERROR,
            message: format!("argument or environment entry {s:?} contains a NUL byte"),
        })
    };
    let cprog = c(&program)?;
    let cargs = argv.iter().map(|a| c(a)).collect::<Result<Vec<_>, _>>()?;
    let cenv = env.iter().map(|e| c(e)).collect::<Result<Vec<_>, _>>()?;
    // Every descriptor beyond stdio closes at exec (the error pipe too,
    // which tells the parent the exec happened).
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets flags.
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        );
    }
    let err = nix::unistd::execve(&cprog, &cargs, &cenv).unwrap_err();
    Err(exec_error(name, &program, err))
}

fn exec_error(name: &str, program: &str, err: nix::errno::Errno) -> StartFailure {
    use nix::errno::Errno;
    let code = match err {
        Errno::ENOENT => EXIT_NOT_FOUND,
        _ => EXIT_CANNOT_INVOKE,
    };
    let what = if name == program {
        format!("exec: {name:?}")
    } else {
        format!("exec: {name:?} ({program})")
    };
    StartFailure {
        code,
        message: format!("{what}: {}", errno_text(err)),
    }
}

/// Go's wording of an errno (what Docker prints), e.g. "permission denied".
fn errno_text(err: nix::errno::Errno) -> String {
    let s = err.desc();
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// `exec.LookPath` as runc uses it: a name with a slash is used as is;
/// otherwise the first executable regular file in the container's PATH.
pub(crate) fn find_program(name: &str, path_var: &str) -> Result<String, StartFailure> {
    use std::os::unix::fs::PermissionsExt;
    if name.contains('/') {
        if let Err(e) = std::fs::metadata(name) {
            let code = if e.kind() == std::io::ErrorKind::NotFound {
                EXIT_NOT_FOUND
            } else {
                EXIT_CANNOT_INVOKE
            };
            let errno = e
                .raw_os_error()
                .map(|n| errno_text(nix::errno::Errno::from_raw(n)))
                .unwrap_or_else(|| e.to_string());
            return Err(StartFailure {
                code,
                message: format!("exec: {name:?}: stat {name}: {errno}"),
            });
        }
        return Ok(name.to_string());
    }
    if !name.is_empty() {
        for dir in path_var.split(':') {
            let dir = if dir.is_empty() { "." } else { dir };
            let candidate = format!("{dir}/{name}");
            if let Ok(m) = std::fs::metadata(&candidate) {
                if m.is_file() && m.permissions().mode() & 0o111 != 0 {
                    return Ok(candidate);
                }
            }
        }
    }
    Err(StartFailure {
        code: EXIT_NOT_FOUND,
        message: format!("exec: {name:?}: executable file not found in $PATH"),
    })
}

/// `ip link set lo up` in a new network namespace (the sandbox's
/// `--network none`).
pub fn loopback_up() -> Result<()> {
    crate::slirp::tap::loopback_up()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_follows_path_and_reports_like_docker() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let exe = bin.join("tool");
        std::fs::write(&exe, "#!/bin/sh\n").unwrap();
        let noexec = bin.join("data");
        std::fs::write(&noexec, "").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = format!("/nonexistent:{}", bin.display());
        assert_eq!(find_program("tool", &path).unwrap(), exe.to_str().unwrap());
        let e = find_program("data", &path).unwrap_err();
        assert_eq!(e.code, 127);
        assert_eq!(
            e.message,
            "exec: \"data\": executable file not found in $PATH"
        );
        let e = find_program("/no/such", &path).unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (
                127,
                "exec: \"/no/such\": stat /no/such: no such file or directory"
            )
        );
        assert_eq!(
            find_program(exe.to_str().unwrap(), "").unwrap(),
            exe.to_str().unwrap()
        );
    }

    #[test]
    fn exec_failures_map_to_docker_statuses() {
        use nix::errno::Errno;
        let e = exec_error("/x", "/x", Errno::EACCES);
        assert_eq!(
            (e.code, e.message.as_str()),
            (126, "exec: \"/x\": permission denied")
        );
        assert_eq!(exec_error("x", "/bin/x", Errno::ENOEXEC).code, 126);
        assert_eq!(exec_error("x", "/bin/x", Errno::ENOENT).code, 127);
    }

    #[test]
    fn files_ready_reaches_the_init_and_outlives_a_dead_one() {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        files_ready(a.into()).unwrap();
        wait_for_files(b.into()).unwrap();
        // An init that died before its bind step: no SIGPIPE, no error
        // (its start report says why it died).
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        drop(b);
        files_ready(a.into()).unwrap();
    }

    #[test]
    fn the_monitors_go_message_arrives_whole() {
        let profile = crate::seccomp::default_profile();
        let target = crate::seccomp::Target::current(crate::seccomp::CapMask::default());
        let filter = crate::seccomp::compile(&profile, &target, &[]).unwrap();
        // A file stands for the overlay's mount: the same open file must
        // arrive, whatever the size of the message it comes with.
        let file = tempfile::tempfile().unwrap();
        let identity = |fd: &OwnedFd| {
            let st = nix::sys::stat::fstat(fd).unwrap();
            (st.st_dev, st.st_ino)
        };
        for go in [
            Go {
                cgroup_procs: vec![],
                filter: None,
                overlay: None,
            },
            Go {
                cgroup_procs: vec![
                    PathBuf::from("/sys/fs/cgroup/a/cgroup.procs"),
                    PathBuf::from("/sys/fs/cgroup/b c/cgroup.procs"),
                ],
                filter: Some(filter.clone()),
                overlay: None,
            },
            Go {
                cgroup_procs: vec![PathBuf::from("/sys/fs/cgroup/a/cgroup.procs")],
                filter: None,
                overlay: Some(file.try_clone().unwrap().into()),
            },
            Go {
                cgroup_procs: vec![],
                filter: Some(filter.clone()),
                overlay: Some(file.try_clone().unwrap().into()),
            },
        ] {
            let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
            go.send(a.into()).unwrap();
            let got = Go::receive(b.into()).unwrap();
            assert_eq!(got.cgroup_procs, go.cgroup_procs);
            assert_eq!(
                got.overlay.as_ref().map(identity),
                go.overlay.as_ref().map(identity)
            );
            if let Some(fd) = &got.overlay {
                let flags = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFD).unwrap();
                assert_ne!(
                    flags & libc::FD_CLOEXEC,
                    0,
                    "received without close-on-exec"
                );
            }
            assert_eq!(
                got.filter.map(|f| f.to_bytes()),
                go.filter.map(|f| f.to_bytes())
            );
        }
        use std::io::Write;
        // A message cut short is an error, not a guess.
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        (&a).write_all(&[0, 2, 0, 0, 0, 9, 0, 0, 0, b'/']).unwrap();
        drop(a);
        assert!(Go::receive(b.into()).is_err());
        // An overlay announced that did not come is one too.
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        (&a).write_all(&[1, 0, 0, 0, 0]).unwrap();
        drop(a);
        let e = Go::receive(b.into()).err().unwrap();
        assert!(e.to_string().contains("no overlay"), "{e}");
    }
}
