//! The data path of published ports, driven by the container's monitor:
//! accept on the host, make a socket inside the container's network
//! namespace ([`NetnsSockets`]), connect it to the container's port and
//! splice(2) the two through a pipe per direction, so bytes never enter
//! user space and no TCP/IP stack of ours is involved. UDP is relayed
//! datagram by datagram through a socket per client (request/response
//! traffic such as DNS).
//!
//! Everything is non-blocking and edge-triggered behind one epoll
//! descriptor ([`Forwarder::as_fd`]) that the monitor adds to its poll
//! set; [`Forwarder::run_once`] does the work that is ready.
//!
//! Where the time goes (issue 10 item 8, measured on a 2-core VM): not
//! here. Each wake-up moves ~1.7 MB and each splice ~0.5 MB (perf stat on
//! the monitor), so system calls and the loop are noise; the monitor's
//! time is the kernel sending on the inner connection and, in the same
//! context, receiving it on the container's `lo`. A byte through `-p`
//! crosses two TCP connections: the data path costs about twice the CPU
//! per GB of the host's loopback (iperf3 CPU + softirq, same rounds), so
//! with both cores busy `-p` stays near 0.6-0.75x of loopback. Tried and
//! not kept, none measurably better in paired rounds: BIG TCP on the
//! container's `lo` (gso/gro_ipv4_max_size 185000: container -> host
//! packets on `lo` grow from ~57 to ~100 KB, but host -> container ones
//! cannot, a spliced skb holds at most 17 (MAX_SKB_FRAGS) page-sized
//! fragments, ~68 KB, and that direction cost ~10% more CPU per GB),
//! the same with 64 KiB splices into the container, a 64 KiB pipe and
//! chunk (worse), SO_SNDBUF/SO_RCVBUF of 4 MiB instead of autotuning, a
//! blocking thread per direction, and copying through user space (read and
//! write, which lets BIG TCP work host -> container but adds two copies).
//! Handing the host's socket to the container's server instead (no proxy
//! at all) is unsafe rootless: see ARCHITECTURE.md, "Figures and limits".

use super::listen::Listener;
use super::spec::{PortMapping, Proto};
use crate::slirp::netns::NetnsSockets;
use crate::slirp::sock::{self, Errno};
use anyhow::{Context, Result};
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::socket::{accept4, shutdown, Shutdown, SockFlag, SockType};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

const TAG_MASK: u64 = 0xff << 56;
const TAG_LISTEN: u64 = 1 << 56;
const TAG_CLIENT: u64 = 2 << 56;
const TAG_SERVER: u64 = 3 << 56;
const TAG_UDP: u64 = 4 << 56;

/// Bytes moved per splice call (a pipe holds 64 KiB by default).
const SPLICE_CHUNK: usize = 1 << 20;
/// Splice rounds one connection gets before the others have their turn.
const ROUNDS: usize = 32;
/// Pipes of the first connections are enlarged to this: fewer splice calls
/// per byte for the bulk transfers that matter. Only a few: every pipe of
/// the user counts against fs.pipe-user-pages-soft (64 MiB by default),
/// past which the kernel gives new pipes a single page.
const BIG_PIPE: i32 = 1 << 20;
const BIG_PIPE_CONNECTIONS: usize = 8;
/// A UDP client silent this long is forgotten.
const UDP_IDLE: Duration = Duration::from_secs(30);

struct Bound {
    fd: OwnedFd,
    proto: Proto,
    container_port: u16,
}

/// One direction of a connection: a pipe and what is in it.
struct Dir {
    r: OwnedFd,
    w: OwnedFd,
    queued: usize,
    eof: bool,
    shut: bool,
}

impl Dir {
    fn new(big: bool) -> Result<Dir> {
        let (r, w) =
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK)
                .context("creating a pipe")?;
        if big {
            // Best effort: a smaller pipe only costs speed.
            let _ = nix::fcntl::fcntl(&w, nix::fcntl::FcntlArg::F_SETPIPE_SZ(BIG_PIPE));
        }
        Ok(Dir {
            r,
            w,
            queued: 0,
            eof: false,
            shut: false,
        })
    }
}

struct Splice {
    client: OwnedFd,
    server: OwnedFd,
    connected: bool,
    client_readable: bool,
    client_writable: bool,
    server_readable: bool,
    server_writable: bool,
    up: Dir,
    down: Dir,
}

struct UdpFlow {
    listener: usize,
    client: SocketAddr,
    sock: OwnedFd,
    last: Instant,
}

/// The published ports of one container.
pub struct Forwarder {
    epoll: Epoll,
    netns: Option<NetnsSockets>,
    target: IpAddr,
    bound: Vec<Bound>,
    mappings: Vec<(PortMapping, Vec<SocketAddr>)>,
    conns: Vec<Option<Splice>>,
    free: Vec<usize>,
    /// Connections that stopped after their share of rounds with work left.
    busy: Vec<usize>,
    udp: Vec<Option<UdpFlow>>,
    udp_by_client: HashMap<(usize, SocketAddr), usize>,
    buf: Vec<u8>,
}

impl Forwarder {
    /// Serves `listeners` (bound with [`super::bind_all`]), forwarding to
    /// `target` (the container's address on its network; 127.0.0.1 reaches
    /// services bound to its loopback) inside the namespace `netns`.
    /// Without a namespace (the container is not running), connections are
    /// accepted and closed at once.
    pub fn new(
        listeners: Vec<Listener>,
        target: IpAddr,
        netns: Option<NetnsSockets>,
    ) -> Result<Forwarder> {
        sock::raise_nofile_limit();
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).context("creating an epoll")?;
        let mut bound = Vec::new();
        let mut mappings = Vec::new();
        for l in listeners {
            let addrs = l.sockets.iter().map(|(a, _)| *a).collect();
            for (_, fd) in l.sockets {
                let idx = bound.len() as u64;
                epoll
                    .add(
                        &fd,
                        EpollEvent::new(
                            EpollFlags::EPOLLIN | EpollFlags::EPOLLET,
                            TAG_LISTEN | idx,
                        ),
                    )
                    .context("watching a published port")?;
                bound.push(Bound {
                    fd,
                    proto: l.mapping.proto,
                    container_port: l.mapping.container_port,
                });
            }
            mappings.push((l.mapping, addrs));
        }
        Ok(Forwarder {
            epoll,
            netns,
            target,
            bound,
            mappings,
            conns: Vec::new(),
            free: Vec::new(),
            busy: Vec::new(),
            udp: Vec::new(),
            udp_by_client: HashMap::new(),
            buf: vec![0; 65536],
        })
    }

    /// Poll this for input; when readable, call [`run_once`](Self::run_once).
    pub fn as_fd(&self) -> BorrowedFd<'_> {
        self.epoll.0.as_fd()
    }

    /// How long the monitor may sleep without calling
    /// [`run_once`](Self::run_once) even if nothing is readable: zero while a
    /// connection has work left over, a few seconds while UDP clients may
    /// need forgetting, else forever.
    pub fn timeout(&self) -> Option<Duration> {
        if !self.busy.is_empty() {
            Some(Duration::ZERO)
        } else if !self.udp_by_client.is_empty() {
            Some(Duration::from_secs(5))
        } else {
            None
        }
    }

    /// The container's network namespace changed (a restart) or went away.
    /// Connections to the old one are closed.
    pub fn set_netns(&mut self, netns: Option<NetnsSockets>, target: IpAddr) {
        self.netns = netns;
        self.target = target;
        for i in 0..self.conns.len() {
            self.close(i);
        }
        for i in 0..self.udp.len() {
            self.close_udp(i);
        }
    }

    /// The published ports: each mapping with its bound port, and the
    /// addresses it listens on (for `port`, `ps` and `inspect`).
    pub fn ports(&self) -> &[(PortMapping, Vec<SocketAddr>)] {
        &self.mappings
    }

    /// Open forwarded TCP connections and UDP clients.
    pub fn connections(&self) -> usize {
        self.conns.iter().flatten().count() + self.udp_by_client.len()
    }

    /// Does all the work that is ready, without blocking.
    pub fn run_once(&mut self) -> Result<()> {
        let mut events = [EpollEvent::empty(); 128];
        let busy = std::mem::take(&mut self.busy);
        for i in busy {
            self.pump(i);
        }
        loop {
            let n = match self.epoll.wait(&mut events, EpollTimeout::ZERO) {
                Ok(n) => n,
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e).context("waiting for published ports"),
            };
            for ev in &events[..n] {
                let data = ev.data();
                let idx = (data & !TAG_MASK) as usize;
                let flags = ev.events();
                match data & TAG_MASK {
                    TAG_LISTEN => self.listener_ready(idx),
                    TAG_CLIENT | TAG_SERVER => {
                        let server = data & TAG_MASK == TAG_SERVER;
                        if let Some(Some(c)) = self.conns.get_mut(idx) {
                            let rd = flags.intersects(
                                EpollFlags::EPOLLIN
                                    | EpollFlags::EPOLLRDHUP
                                    | EpollFlags::EPOLLHUP
                                    | EpollFlags::EPOLLERR,
                            );
                            let wr = flags.intersects(
                                EpollFlags::EPOLLOUT | EpollFlags::EPOLLHUP | EpollFlags::EPOLLERR,
                            );
                            if server {
                                c.server_readable |= rd;
                                c.server_writable |= wr;
                            } else {
                                c.client_readable |= rd;
                                c.client_writable |= wr;
                            }
                            self.pump(idx);
                        }
                    }
                    TAG_UDP => self.udp_reply(idx),
                    _ => {}
                }
            }
            if n < events.len() {
                break;
            }
        }
        self.expire_udp();
        Ok(())
    }

    fn listener_ready(&mut self, idx: usize) {
        match self.bound[idx].proto {
            Proto::Tcp => self.accept_tcp(idx),
            Proto::Udp => self.udp_requests(idx),
        }
    }

    fn accept_tcp(&mut self, idx: usize) {
        let mut accepted = Vec::new();
        loop {
            match accept4(
                self.bound[idx].fd.as_raw_fd(),
                SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
            ) {
                // SAFETY: accept4 just returned this descriptor.
                Ok(fd) => accepted.push(unsafe { OwnedFd::from_raw_fd(fd) }),
                Err(Errno::EINTR) | Err(Errno::ECONNABORTED) => continue,
                Err(_) => break,
            }
        }
        if accepted.is_empty() {
            return;
        }
        let Some(netns) = &self.netns else {
            return; // not running: the clients see the connection closed
        };
        let family = sock::family(&SocketAddr::new(self.target, 0));
        // One thread visit to the namespace for the whole batch.
        let servers = match netns.sockets(family, SockType::Stream, accepted.len()) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("publishing port {}: {e:#}", self.bound[idx].container_port);
                return;
            }
        };
        let dest = SocketAddr::new(self.target, self.bound[idx].container_port);
        for (client, server) in accepted.into_iter().zip(servers) {
            let connected = match sock::start_connect(server.as_fd(), &dest) {
                Ok(done) => done,
                Err(_) => continue, // refused at once: close the client
            };
            if let Err(e) = self.add_conn(client, server, connected) {
                eprintln!("publishing port {}: {e:#}", self.bound[idx].container_port);
            }
        }
    }

    fn add_conn(&mut self, client: OwnedFd, server: OwnedFd, connected: bool) -> Result<()> {
        let slot = self.free.pop().unwrap_or_else(|| {
            self.conns.push(None);
            self.conns.len() - 1
        });
        let flags = EpollFlags::EPOLLIN
            | EpollFlags::EPOLLOUT
            | EpollFlags::EPOLLRDHUP
            | EpollFlags::EPOLLET;
        let big = self.conns.iter().flatten().count() < BIG_PIPE_CONNECTIONS;
        let conn = Splice {
            up: Dir::new(big)?,
            down: Dir::new(big)?,
            client,
            server,
            connected,
            client_readable: true,
            client_writable: true,
            server_readable: true,
            server_writable: connected,
        };
        let added = self
            .epoll
            .add(
                &conn.client,
                EpollEvent::new(flags, TAG_CLIENT | slot as u64),
            )
            .and_then(|_| {
                self.epoll.add(
                    &conn.server,
                    EpollEvent::new(flags, TAG_SERVER | slot as u64),
                )
            });
        self.conns[slot] = Some(conn);
        if let Err(e) = added {
            self.close(slot);
            return Err(e).context("watching a forwarded connection");
        }
        self.pump(slot);
        Ok(())
    }

    /// Moves what can be moved on connection `i`; closes it when both
    /// directions are done or one fails.
    fn pump(&mut self, i: usize) {
        let Some(Some(c)) = self.conns.get_mut(i) else {
            return;
        };
        if !c.connected {
            if !c.server_writable {
                return;
            }
            if sock::take_error(c.server.as_fd()).is_err() {
                self.close(i);
                return;
            }
            c.connected = true;
        }
        let up = transfer(
            c.client.as_fd(),
            c.server.as_fd(),
            &mut c.up,
            &mut c.client_readable,
            &mut c.server_writable,
        );
        let down = transfer(
            c.server.as_fd(),
            c.client.as_fd(),
            &mut c.down,
            &mut c.server_readable,
            &mut c.client_writable,
        );
        match (up, down) {
            (Ok(more_up), Ok(more_down)) => {
                if c.up.shut && c.down.shut {
                    self.close(i);
                } else if (more_up || more_down) && !self.busy.contains(&i) {
                    self.busy.push(i);
                }
            }
            _ => self.close(i),
        }
    }

    fn close(&mut self, i: usize) {
        if let Some(c) = self.conns.get_mut(i).and_then(Option::take) {
            let _ = self.epoll.delete(&c.client);
            let _ = self.epoll.delete(&c.server);
            self.free.push(i);
            self.busy.retain(|b| *b != i);
        }
    }

    /// Datagrams from clients on UDP listener `idx`.
    fn udp_requests(&mut self, idx: usize) {
        loop {
            let (n, from) = match sock::recv_from(self.bound[idx].fd.as_fd(), &mut self.buf) {
                Ok((n, Some(from))) => (n, from),
                Ok((_, None)) => continue,
                Err(Errno::EAGAIN) => return,
                Err(_) => continue,
            };
            let slot = match self.udp_by_client.get(&(idx, from)) {
                Some(&s) => s,
                None => match self.new_udp_flow(idx, from) {
                    Some(s) => s,
                    None => continue,
                },
            };
            if let Some(f) = self.udp[slot].as_mut() {
                f.last = Instant::now();
                let _ = sock::send(f.sock.as_fd(), &self.buf[..n]);
            }
        }
    }

    fn new_udp_flow(&mut self, idx: usize, client: SocketAddr) -> Option<usize> {
        let netns = self.netns.as_ref()?;
        let dest = SocketAddr::new(self.target, self.bound[idx].container_port);
        let sock = netns
            .sockets(sock::family(&dest), SockType::Datagram, 1)
            .ok()?
            .pop()?;
        sock::start_connect(sock.as_fd(), &dest).ok()?;
        let slot = self
            .udp
            .iter()
            .position(Option::is_none)
            .unwrap_or_else(|| {
                self.udp.push(None);
                self.udp.len() - 1
            });
        self.epoll
            .add(
                &sock,
                EpollEvent::new(EpollFlags::EPOLLIN, TAG_UDP | slot as u64),
            )
            .ok()?;
        self.udp[slot] = Some(UdpFlow {
            listener: idx,
            client,
            sock,
            last: Instant::now(),
        });
        self.udp_by_client.insert((idx, client), slot);
        Some(slot)
    }

    /// Replies from the container go back to the client, from the
    /// published address.
    fn udp_reply(&mut self, slot: usize) {
        loop {
            let Some(Some(f)) = self.udp.get(slot) else {
                return;
            };
            let n = match sock::recv(f.sock.as_fd(), &mut self.buf) {
                Ok(n) => n,
                Err(Errno::EAGAIN) => return,
                Err(_) => continue,
            };
            let _ = sock::send_to(self.bound[f.listener].fd.as_fd(), &self.buf[..n], &f.client);
            if let Some(Some(f)) = self.udp.get_mut(slot) {
                f.last = Instant::now();
            }
        }
    }

    fn expire_udp(&mut self) {
        for i in 0..self.udp.len() {
            if self.udp[i]
                .as_ref()
                .is_some_and(|f| f.last.elapsed() > UDP_IDLE)
            {
                self.close_udp(i);
            }
        }
    }

    fn close_udp(&mut self, i: usize) {
        if let Some(f) = self.udp.get_mut(i).and_then(Option::take) {
            let _ = self.epoll.delete(&f.sock);
            self.udp_by_client.remove(&(f.listener, f.client));
        }
    }
}

/// Moves bytes from `src` to `dst` through `dir`'s pipe until one side
/// would block, `src` ends (then `dst` is shut for writing once the pipe is
/// empty) or the round budget is spent. `Ok(true)`: stopped with work left.
fn transfer(
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    dir: &mut Dir,
    src_readable: &mut bool,
    dst_writable: &mut bool,
) -> Result<bool, Errno> {
    for _ in 0..ROUNDS {
        if dir.queued > 0 {
            if !*dst_writable {
                return Ok(false);
            }
            match splice(dir.r.as_fd(), dst, dir.queued) {
                Ok(n) => dir.queued -= n,
                Err(Errno::EAGAIN) => {
                    *dst_writable = false;
                    return Ok(false);
                }
                Err(e) => return Err(e),
            }
            continue;
        }
        if dir.eof {
            if !dir.shut {
                let _ = shutdown(dst.as_raw_fd(), Shutdown::Write);
                dir.shut = true;
            }
            return Ok(false);
        }
        if !*src_readable {
            return Ok(false);
        }
        // Only into an empty pipe: then EAGAIN can only mean the socket
        // has nothing, never that the pipe is full.
        match splice(src, dir.w.as_fd(), SPLICE_CHUNK) {
            Ok(0) => dir.eof = true,
            Ok(n) => dir.queued = n,
            Err(Errno::EAGAIN) => {
                *src_readable = false;
                return Ok(false);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

fn splice(from: BorrowedFd<'_>, to: BorrowedFd<'_>, len: usize) -> Result<usize, Errno> {
    loop {
        // SAFETY: splice(2) between two descriptors we hold, no offsets.
        let n = unsafe {
            libc::splice(
                from.as_raw_fd(),
                std::ptr::null_mut(),
                to.as_raw_fd(),
                std::ptr::null_mut(),
                len,
                libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK,
            )
        };
        if n >= 0 {
            return Ok(n as usize);
        }
        match Errno::last() {
            Errno::EINTR => continue,
            e => return Err(e),
        }
    }
}
