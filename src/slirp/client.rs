//! A member's side of a network: joining the network's helper (starting it
//! when none runs), staying a member while the connection is open, and
//! rejoining a fresh helper after the old one died.
//!
//! The container's monitor owns a [`Membership`] per network: it polls
//! [`Membership::connection`] with its other descriptors, and when that
//! becomes readable or hangs up the helper is gone: [`Membership::reconnect`]
//! starts a new one and hands it the same TAP device again, with the same
//! address, so the container keeps its network (connections through the
//! old helper's NAT are lost; published ports never went through it).

use super::proto::{self, Join, Joined, MemberSpec, NetworkSpec, Reply};
use anyhow::{bail, Context, Result};
use nix::fcntl::{Flock, FlockArg};
use nix::sys::socket::{connect, socket, AddressFamily, SockFlag, SockType, UnixAddr};
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

/// How to start a network helper: the berth executable to re-execute.
#[derive(Clone, Debug)]
pub struct Launcher {
    pub exe: PathBuf,
}

impl Default for Launcher {
    /// Our own executable: right in berth's processes (the monitor).
    fn default() -> Launcher {
        Launcher {
            exe: PathBuf::from("/proc/self/exe"),
        }
    }
}

/// The helper's socket for network `id` in the runtime directory. Short
/// (12 hex characters of the id): socket paths are limited to 108 bytes.
pub fn socket_path(run_dir: &Path, network_id: &str) -> PathBuf {
    run_dir.join(format!("net-{}.sock", short(network_id)))
}

/// The lock that serialises starting and stopping the helper of a network.
pub fn lock_path(run_dir: &Path, network_id: &str) -> PathBuf {
    run_dir.join(format!("net-{}.lock", short(network_id)))
}

/// Where the helper writes what goes wrong.
pub fn log_path(run_dir: &Path, network_id: &str) -> PathBuf {
    run_dir.join(format!("net-{}.log", short(network_id)))
}

fn short(id: &str) -> &str {
    &id[..12.min(id.len())]
}

/// What a member of one network is, joined or joining: the network, the
/// member, its TAP device (a duplicate stays here, so the device outlives
/// a helper that dies) and how to start the network's helper.
struct Link {
    run_dir: PathBuf,
    network: NetworkSpec,
    member: MemberSpec,
    launcher: Launcher,
    tap: OwnedFd,
}

impl Link {
    /// Joins again from the start (a new helper if none runs).
    fn join(&self) -> Result<(OwnedFd, Joined)> {
        join(
            &self.run_dir,
            &self.network,
            &self.member,
            self.tap.as_fd(),
            &self.launcher,
        )
    }
}

/// Membership of one network: the open connection to its helper and the
/// TAP device it was given.
pub struct Membership {
    link: Link,
    conn: OwnedFd,
    joined: Joined,
}

impl Membership {
    /// Joins `network` with the TAP device `tap` (made by the container's
    /// init with [`super::tap::create_tap`]), starting the network's helper
    /// if none runs. The helper refuses an address or MAC that another
    /// member uses (the caller allocates addresses under the store lock).
    pub fn attach(
        run_dir: &Path,
        network: &NetworkSpec,
        member: &MemberSpec,
        tap: OwnedFd,
        launcher: &Launcher,
    ) -> Result<Membership> {
        Connecting::start(run_dir, network, launcher)?
            .send_join(member, tap)?
            .finish()
    }

    /// The connection to the helper: poll it for input; readable (EOF) or
    /// hung up means the helper is gone and [`reconnect`](Self::reconnect)
    /// is due. Nothing is ever sent on it after the join.
    pub fn connection(&self) -> BorrowedFd<'_> {
        self.conn.as_fd()
    }

    /// Whether the helper has gone (non-blocking check of the connection).
    pub fn helper_gone(&self) -> bool {
        readable(self.conn.as_fd())
    }

    /// Joins again (a new helper if the old one died), with the same TAP
    /// device and address.
    pub fn reconnect(&mut self) -> Result<()> {
        let (conn, joined) = self
            .link
            .join()
            .with_context(|| format!("rejoining network {}", self.link.network.name))?;
        self.conn = conn;
        self.joined = joined;
        Ok(())
    }

    pub fn joined(&self) -> &Joined {
        &self.joined
    }

    pub fn network(&self) -> &NetworkSpec {
        &self.link.network
    }

    pub fn member(&self) -> &MemberSpec {
        &self.link.member
    }

    /// The member's TAP device (the monitor's duplicate).
    pub fn tap(&self) -> BorrowedFd<'_> {
        self.link.tap.as_fd()
    }

    /// Leaves the network without waiting for the device to go (see
    /// [`super::tap::close_detached`]).
    pub fn leave(self) {
        super::tap::close_detached(vec![self.link.tap]);
    }
}

fn readable(fd: BorrowedFd<'_>) -> bool {
    let mut fds = [nix::poll::PollFd::new(fd, nix::poll::PollFlags::POLLIN)];
    matches!(nix::poll::poll(&mut fds, nix::poll::PollTimeout::ZERO), Ok(n) if n > 0)
}

/// The first half of a join, done before the member's device exists: a
/// connection to the network's helper, which is started (and not waited
/// for) when none runs. A monitor makes it before launching its
/// container, so the helper starts while the container is set up; the
/// connection also keeps a lingering helper from leaving meanwhile.
pub struct Connecting {
    run_dir: PathBuf,
    network: NetworkSpec,
    launcher: Launcher,
    conn: OwnedFd,
    /// The ready pipe of the helper we started: why it failed, if it did.
    started: Option<std::fs::File>,
}

impl Connecting {
    /// Connects to the network's helper, starting one when none runs.
    pub fn start(run_dir: &Path, network: &NetworkSpec, launcher: &Launcher) -> Result<Connecting> {
        network.check()?;
        let (conn, started) = connect_or_start(run_dir, network, launcher)
            .with_context(|| format!("joining network {}", network.name))?;
        Ok(Connecting {
            run_dir: run_dir.to_path_buf(),
            network: network.clone(),
            launcher: launcher.clone(),
            conn,
            started,
        })
    }

    /// Sends the join with the member's TAP device. The helper answers
    /// when it is up: poll [`PendingJoin::connection`] for it, or call
    /// [`PendingJoin::finish`], which waits.
    pub fn send_join(self, member: &MemberSpec, tap: OwnedFd) -> Result<PendingJoin> {
        let message = join_message(&self.network, member)?;
        let sent = proto::send_msg(self.conn.as_fd(), &message, Some(tap.as_fd()));
        Ok(PendingJoin {
            sent: sent.is_ok(),
            link: Link {
                run_dir: self.run_dir,
                network: self.network,
                member: member.clone(),
                launcher: self.launcher,
                tap,
            },
            conn: self.conn,
            started: self.started,
        })
    }
}

/// A join sent and not answered yet.
pub struct PendingJoin {
    link: Link,
    conn: OwnedFd,
    started: Option<std::fs::File>,
    sent: bool,
}

impl PendingJoin {
    /// Readable when the helper answered (or went away).
    pub fn connection(&self) -> BorrowedFd<'_> {
        self.conn.as_fd()
    }

    /// Whether [`Self::finish`] would not wait.
    pub fn answered(&self) -> bool {
        !self.sent || readable(self.conn.as_fd())
    }

    /// The helper's answer (waiting for it). A helper that went away
    /// unanswered is replaced as in [`Membership::attach`]; one that could
    /// not start says why.
    pub fn finish(self) -> Result<Membership> {
        let name = self.link.network.name.clone();
        self.finish_inner()
            .with_context(|| format!("joining network {name}"))
    }

    fn finish_inner(mut self) -> Result<Membership> {
        let answer = if self.sent {
            read_reply(self.conn.as_fd())
        } else {
            Err(anyhow::anyhow!("the network helper closed the connection"))
        };
        let (conn, joined) = match answer {
            Ok(Reply::Ok(joined)) => (self.conn, joined),
            Ok(Reply::Error(e)) => bail!("{e}"),
            Err(e) => {
                if let Some(ready) = self.started.take() {
                    let link = &self.link;
                    if let Some(why) = helper_failure(ready, &link.run_dir, &link.network) {
                        return Err(why);
                    }
                }
                drop(self.conn);
                self.link
                    .join()
                    .map_err(|again| again.context(format!("{e:#}")))?
            }
        };
        Ok(Membership {
            link: self.link,
            conn,
            joined,
        })
    }

    /// Gives up the join without waiting for the device to go.
    pub fn abandon(self) {
        super::tap::close_detached(vec![self.link.tap]);
    }
}

fn join_message(network: &NetworkSpec, member: &MemberSpec) -> Result<Vec<u8>> {
    Ok(serde_json::to_vec(&Join {
        version: proto::VERSION,
        network_id: network.id.clone(),
        member: member.clone(),
    })?)
}

/// The helper's reply; an error when the connection ended unanswered.
fn read_reply(conn: BorrowedFd<'_>) -> Result<Reply> {
    let (reply, _) = proto::recv_msg(conn)?;
    if reply.is_empty() {
        bail!("the network helper closed the connection");
    }
    serde_json::from_slice::<Reply>(&reply).context("reading the helper's reply")
}

/// Why a helper we started is not serving, from its ready pipe (it wrote
/// "ready" or "failed ..." and closed it, or died); `None` when it was
/// ready (it went away later, or dropped us while exiting).
fn helper_failure(
    ready: std::fs::File,
    run_dir: &Path,
    network: &NetworkSpec,
) -> Option<anyhow::Error> {
    let mut line = String::new();
    let mut ready = ready;
    if let Err(e) = ready.read_to_string(&mut line) {
        return Some(anyhow::Error::new(e).context("waiting for the network helper"));
    }
    let line = line.trim_end();
    if line == "ready" {
        return None;
    }
    if let Some(msg) = line.strip_prefix("failed ") {
        return Some(anyhow::anyhow!("the network helper could not start: {msg}"));
    }
    Some(anyhow::anyhow!(
        "the network helper exited before it was ready (see {})",
        log_path(run_dir, &network.id).display()
    ))
}

/// Connects (starting the helper when none listens), sends the join and
/// reads the answer. A helper that was just deciding to exit may drop a
/// connection unanswered: that is retried.
fn join(
    run_dir: &Path,
    network: &NetworkSpec,
    member: &MemberSpec,
    tap: BorrowedFd<'_>,
    launcher: &Launcher,
) -> Result<(OwnedFd, Joined)> {
    let message = join_message(network, member)?;
    let mut last_err = None;
    for _ in 0..5 {
        let (conn, started) = connect_or_start(run_dir, network, launcher)?;
        let answer = proto::send_msg(conn.as_fd(), &message, Some(tap))
            .context("sending the join")
            .and_then(|()| read_reply(conn.as_fd()));
        match answer {
            Ok(Reply::Ok(joined)) => return Ok((conn, joined)),
            Ok(Reply::Error(e)) => bail!("{e}"),
            Err(e) => {
                if let Some(why) = started.and_then(|r| helper_failure(r, run_dir, network)) {
                    return Err(why);
                }
                last_err = Some(e);
            }
        }
    }
    Err(last_err.unwrap_or_else(|| anyhow::anyhow!("the network helper did not answer")))
}

/// Under the network's lock: connect to the helper, or start one and
/// connect. Holding the lock while connecting means a helper deciding to
/// exit (it takes the same lock) either sees our connection or has removed
/// its socket before we look. A helper we start gets its listening socket
/// from us, bound before we let go of the lock: our connection (and any
/// other member's) waits in its backlog until it accepts, so nobody waits
/// for it to be up here. The ready pipe of a helper we started is returned.
fn connect_or_start(
    run_dir: &Path,
    network: &NetworkSpec,
    launcher: &Launcher,
) -> Result<(OwnedFd, Option<std::fs::File>)> {
    let _lock = lock(&lock_path(run_dir, &network.id))?;
    let path = socket_path(run_dir, &network.id);
    match connect_unix(&path) {
        Ok(c) => return Ok((c, None)),
        Err(nix::errno::Errno::ENOENT | nix::errno::Errno::ECONNREFUSED) => {}
        Err(e) => return Err(e).with_context(|| format!("connecting to {}", path.display())),
    }
    // A socket file whose helper died: remove it, the new helper's
    // socket is bound anew.
    let _ = std::fs::remove_file(&path);
    let listener = listen_unix(&path)?;
    let conn = connect_unix(&path).with_context(|| {
        format!(
            "connecting to the network helper's socket {}",
            path.display()
        )
    })?;
    match start_helper(run_dir, network, launcher, listener.as_fd()) {
        Ok(ready) => Ok((conn, Some(ready))),
        Err(e) => {
            let _ = std::fs::remove_file(&path);
            Err(e)
        }
    }
}

/// The helper's listening socket at `path` (SOCK_SEQPACKET, non-blocking
/// as the helper's epoll loop wants it).
fn listen_unix(path: &Path) -> Result<OwnedFd> {
    let (addr, _dir) = short_unix_addr(path)?;
    let sock = socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        None,
    )
    .context("creating the helper's socket")?;
    nix::sys::socket::bind(sock.as_raw_fd(), &addr)
        .with_context(|| format!("binding {}", path.display()))?;
    nix::sys::socket::listen(&sock, nix::sys::socket::Backlog::new(128)?)
        .context("listening on the helper's socket")?;
    Ok(sock)
}

pub(crate) fn lock(path: &Path) -> Result<Flock<std::fs::File>> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("opening the lock {}", path.display()))?;
    Flock::lock(file, FlockArg::LockExclusive)
        .map_err(|(_, e)| e)
        .with_context(|| format!("locking {}", path.display()))
}

/// Starts `berth __berth-netd` for the network on `listener`, detached
/// (own session, double fork: no process of ours is its parent), without
/// waiting for it, not even for its `exec`: the caller (a monitor about to
/// launch its container) goes on while the helper loads. The read end of
/// its ready pipe is returned (it gets "ready" or "failed ..."; an `exec`
/// that fails says so there too). The helper inherits its ready pipe and
/// the listener and nothing else, whatever the caller left open.
fn start_helper(
    run_dir: &Path,
    network: &NetworkSpec,
    launcher: &Launcher,
    listener: BorrowedFd<'_>,
) -> Result<std::fs::File> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let (ready_r, ready_w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("creating a pipe")?;
    let fd = ready_w.as_raw_fd();
    let listen_fd = listener.as_raw_fd();
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path(run_dir, &network.id))
        .with_context(|| format!("opening {}", log_path(run_dir, &network.id).display()))?;
    let null = std::fs::File::open("/dev/null").context("opening /dev/null")?;
    // Everything the child needs is made before the fork: after it, only
    // async-signal-safe calls.
    let exe = CString::new(launcher.exe.as_os_str().as_bytes())?;
    let args = [
        CString::new(super::netd::REEXEC_ARG)?,
        CString::new(fd.to_string())?,
        CString::new(listen_fd.to_string())?,
        CString::new(run_dir.as_os_str().as_bytes())?,
        CString::new(serde_json::to_string(network)?)?,
    ];
    let mut argv: Vec<*const libc::c_char> = std::iter::once(exe.as_ptr())
        .chain(args.iter().map(|a| a.as_ptr()))
        .collect();
    argv.push(std::ptr::null());
    let (null_fd, log_fd) = (null.as_raw_fd(), log.as_raw_fd());
    // SAFETY: fork in a process whose other threads (if any) the child
    // never waits for: the child only makes async-signal-safe calls
    // (setsid, fork, sigprocmask, dup2, close_range, fcntl, execv, write,
    // _exit) on data prepared above, and the parent only waits for the
    // intermediate child.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(std::io::Error::last_os_error()).context("starting the network helper");
    }
    if pid == 0 {
        // SAFETY: see above; this is the child and never returns.
        unsafe {
            if libc::setsid() < 0 || libc::fork() != 0 {
                // The intermediate process exits at once; the helper is
                // adopted by init or the nearest subreaper, so it is no
                // monitor's child.
                libc::_exit(0);
            }
            // A monitor blocks the signals it reads from a signalfd; the
            // mask survives exec, and the helper must be stoppable.
            let mut empty: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut empty);
            libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
            libc::dup2(null_fd, 0);
            libc::dup2(null_fd, 1);
            libc::dup2(log_fd, 2);
            // Whatever the caller left inheritable (a build step's pipes,
            // say) must not live as long as the helper: everything above
            // stdio closes at exec (the helper also closes strays itself,
            // for kernels without close_range)...
            libc::syscall(
                libc::SYS_close_range,
                3u32,
                u32::MAX,
                libc::CLOSE_RANGE_CLOEXEC,
            );
            // ...except the ready pipe and the listener.
            for keep in [fd, listen_fd] {
                let flags = libc::fcntl(keep, libc::F_GETFD);
                libc::fcntl(keep, libc::F_SETFD, flags & !libc::FD_CLOEXEC);
            }
            libc::execv(exe.as_ptr(), argv.as_ptr());
            let msg = b"failed cannot execute the berth executable for the network helper\n";
            libc::write(fd, msg.as_ptr().cast(), msg.len());
            libc::_exit(127);
        }
    }
    drop(ready_w);
    // The intermediate exits right after its fork.
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
    Ok(std::fs::File::from(ready_r))
}

/// A unix socket path usable with bind/connect: the path itself when it
/// fits in sun_path (108 bytes), else `/proc/self/fd/N/NAME` through a
/// descriptor of its directory, which the caller keeps open meanwhile.
pub(crate) fn short_unix_addr(path: &Path) -> Result<(UnixAddr, Option<OwnedFd>)> {
    use std::os::unix::ffi::OsStrExt;
    if path.as_os_str().as_bytes().len() < 108 {
        return Ok((UnixAddr::new(path)?, None));
    }
    let dir = path.parent().context("a socket path without a directory")?;
    let name = path.file_name().context("a socket path without a name")?;
    let dirfd: OwnedFd = std::fs::File::open(dir)
        .with_context(|| format!("opening {}", dir.display()))?
        .into();
    let short = PathBuf::from(format!("/proc/self/fd/{}", dirfd.as_raw_fd())).join(name);
    Ok((UnixAddr::new(&short)?, Some(dirfd)))
}

fn connect_unix(path: &Path) -> std::result::Result<OwnedFd, nix::errno::Errno> {
    let (addr, _dir) = short_unix_addr(path).map_err(|_| nix::errno::Errno::ENAMETOOLONG)?;
    let sock = socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    loop {
        match connect(sock.as_raw_fd(), &addr) {
            Ok(()) => return Ok(sock),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_short_and_per_network() {
        let p = socket_path(Path::new("/tmp/berth-1000"), "0123456789abcdef");
        assert_eq!(p, Path::new("/tmp/berth-1000/net-0123456789ab.sock"));
        assert_ne!(
            lock_path(Path::new("/r"), "a"),
            log_path(Path::new("/r"), "a")
        );
    }

    #[test]
    fn long_socket_paths_go_through_the_directory_descriptor() {
        let base = tempfile::tempdir().unwrap();
        let deep = base.path().join("d".repeat(100)).join("e".repeat(40));
        std::fs::create_dir_all(&deep).unwrap();
        let path = deep.join("net-x.sock");
        let (addr, dir) = short_unix_addr(&path).unwrap();
        assert!(dir.is_some());
        let sock = socket(
            AddressFamily::Unix,
            SockType::SeqPacket,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .unwrap();
        nix::sys::socket::bind(sock.as_raw_fd(), &addr).unwrap();
        nix::sys::socket::listen(&sock, nix::sys::socket::Backlog::new(4).unwrap()).unwrap();
        assert!(path.exists());
        drop(dir);
        connect_unix(&path).unwrap();
    }
}
