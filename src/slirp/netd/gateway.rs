//! The gateway's TCP: a smoltcp interface that terminates the TCP
//! connections members open to addresses outside their network and joins
//! each to a real socket of the host (outbound NAT in user space).
//!
//! smoltcp has no "accept anything" listener, so the helper peeks at every
//! SYN before handing the frame over ([`Gateway::on_syn`]): it keeps the
//! SYN aside and connects on the host first. Once the host's `connect()`
//! succeeds, a socket listening on exactly that destination is made and
//! the SYN handed to smoltcp; if it fails, the socket is made with its
//! SYN-ACK held (`pause_synack`) and aborted, so the member gets a RST, as
//! from a real closed port. (A socket waiting in SYN-RECEIVED inside
//! smoltcp would make it ask to be polled continuously.)
//!
//! Frames smoltcp sends are queued in [`GwDevice::tx`]; the switch delivers
//! them by destination MAC.

use crate::slirp::sock::{self, Errno};
use nix::sys::epoll::{Epoll, EpollEvent, EpollFlags};
use nix::sys::socket::{shutdown, Shutdown, SockType};
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{Checksum, ChecksumCapabilities, Device, DeviceCapabilities, Medium};
use smoltcp::socket::tcp;
use smoltcp::wire::{EthernetAddress, IpCidr, IpListenEndpoint};
use std::collections::{HashMap, VecDeque};
use std::net::{SocketAddr, SocketAddrV4};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

/// Per-connection buffers: big, because the window a member may have in
/// flight is what limits a single flow's throughput (smoltcp scales the
/// window by itself). Memory is only touched as data passes.
const TCP_BUFFER: usize = 4 << 20;

/// At most this many connections at once; more get a RST.
const MAX_CONNECTIONS: usize = 8192;

/// A TCP flow as the member sees it: (member address, destination).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Flow {
    pub src: SocketAddrV4,
    pub dst: SocketAddrV4,
}

/// The smoltcp device: frames for the gateway wait in `rx`; frames it
/// sends collect in `tx` until the switch delivers them.
pub struct GwDevice {
    pub rx: VecDeque<Vec<u8>>,
    pub tx: Vec<Vec<u8>>,
    spare: Vec<Vec<u8>>,
    /// Buffers of frames smoltcp has read, for the next frames from the
    /// TAPs: a fresh 64 KiB buffer per frame cost page faults and zeroing
    /// on every frame of a bulk transfer (about 7% of the helper's time).
    rx_spare: Vec<Vec<u8>>,
    mtu: usize,
}

/// Frames queued for smoltcp at most (the helper runs it when this many
/// wait), and buffers kept for reuse: bounded memory (1 MiB) and reuse.
pub const RX_QUEUE: usize = 16;

impl GwDevice {
    /// A buffer for the next frame read from a TAP.
    pub fn rx_buffer(&mut self) -> Vec<u8> {
        self.rx_spare
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(crate::slirp::tap::MAX_FRAME + 64))
    }

    /// Hands a delivered frame's buffer back for reuse.
    pub fn recycle(&mut self, mut buf: Vec<u8>) {
        if self.spare.len() < 64 {
            buf.clear();
            self.spare.push(buf);
        }
    }
}

pub struct RxTok<'a> {
    frame: Vec<u8>,
    spare: &'a mut Vec<Vec<u8>>,
}
pub struct TxTok<'a> {
    tx: &'a mut Vec<Vec<u8>>,
    spare: &'a mut Vec<Vec<u8>>,
}

impl smoltcp::phy::RxToken for RxTok<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        let r = f(&self.frame);
        if self.spare.len() < RX_QUEUE {
            let mut frame = self.frame;
            frame.clear();
            self.spare.push(frame);
        }
        r
    }
}

impl smoltcp::phy::TxToken for TxTok<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buf = self.spare.pop().unwrap_or_default();
        buf.resize(len, 0);
        let r = f(&mut buf);
        self.tx.push(buf);
        r
    }
}

impl Device for GwDevice {
    type RxToken<'a> = RxTok<'a>;
    type TxToken<'a> = TxTok<'a>;

    fn receive(&mut self, _: smoltcp::time::Instant) -> Option<(RxTok<'_>, TxTok<'_>)> {
        let frame = self.rx.pop_front()?;
        Some((
            RxTok {
                frame,
                spare: &mut self.rx_spare,
            },
            TxTok {
                tx: &mut self.tx,
                spare: &mut self.spare,
            },
        ))
    }

    fn transmit(&mut self, _: smoltcp::time::Instant) -> Option<TxTok<'_>> {
        Some(TxTok {
            tx: &mut self.tx,
            spare: &mut self.spare,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = self.mtu + 14;
        // Frames come from the member's kernel, which has checksummed them
        // (a TAP without offloads gets no partial checksums): verifying them
        // again would cost a pass over every byte for nothing. Frames we
        // send are checksummed: the member's kernel verifies them.
        caps.checksum = ChecksumCapabilities::ignored();
        caps.checksum.ipv4 = Checksum::Tx;
        caps.checksum.tcp = Checksum::Tx;
        caps.checksum.udp = Checksum::Tx;
        caps.checksum.icmpv4 = Checksum::Tx;
        caps
    }
}

struct Conn {
    /// The smoltcp socket; `None` while the host connect is under way.
    handle: Option<SocketHandle>,
    /// The member's SYN, kept until the host connect is decided.
    syn: Option<Vec<u8>>,
    flow: Flow,
    host: Option<OwnedFd>,
    /// Where to connect, tried in order (the host address with loopback
    /// allowed tries 127.0.0.1 first).
    targets: Vec<SocketAddr>,
    next_target: usize,
    connected: bool,
    /// Edge-triggered readiness of the host socket, cleared on EAGAIN.
    readable: bool,
    writable: bool,
    host_eof: bool,
    shut_wr: bool,
}

pub struct Gateway {
    pub iface: Interface,
    pub sockets: SocketSet<'static>,
    pub dev: GwDevice,
    conns: Vec<Option<Conn>>,
    free: Vec<usize>,
    by_flow: HashMap<Flow, usize>,
    start: std::time::Instant,
}

/// What a SYN from a member is for (see [`Gateway::syn_state`]).
pub enum SynState {
    New,
    Pending,
    Live,
}

/// Epoll tokens of host TCP sockets: this tag in the top byte, the
/// connection's slot below.
pub const TOKEN_TAG: u64 = 3 << 56;

impl Gateway {
    pub fn new(mac: [u8; 6], gateway: std::net::Ipv4Addr, prefix: u8, mtu: u32) -> Gateway {
        let mut dev = GwDevice {
            rx: VecDeque::new(),
            tx: Vec::new(),
            spare: Vec::new(),
            rx_spare: Vec::new(),
            mtu: mtu as usize,
        };
        let mut config = Config::new(EthernetAddress(mac).into());
        let mut seed = [0u8; 8];
        let _ = getrandom::fill(&mut seed);
        config.random_seed = u64::from_ne_bytes(seed);
        let start = std::time::Instant::now();
        let mut iface = Interface::new(config, &mut dev, smoltcp::time::Instant::from_millis(0));
        iface.update_ip_addrs(|addrs| {
            let _ = addrs.push(IpCidr::new(gateway.into(), prefix));
        });
        // Accept segments for every destination: each connection's socket
        // listens on the address the member asked for.
        iface.set_any_ip(true);
        Gateway {
            iface,
            sockets: SocketSet::new(Vec::new()),
            dev,
            conns: Vec::new(),
            free: Vec::new(),
            by_flow: HashMap::new(),
            start,
        }
    }

    pub fn now(&self) -> smoltcp::time::Instant {
        smoltcp::time::Instant::from_micros(self.start.elapsed().as_micros() as i64)
    }

    /// Runs smoltcp once: queued frames in, pending segments out.
    pub fn poll(&mut self) -> bool {
        let now = self.now();
        self.iface.poll(now, &mut self.dev, &mut self.sockets) != smoltcp::iface::PollResult::None
    }

    /// How long smoltcp may sleep (retransmissions, delayed ACKs).
    pub fn poll_delay(&mut self) -> Option<std::time::Duration> {
        let now = self.now();
        self.iface
            .poll_delay(now, &self.sockets)
            .map(|d| std::time::Duration::from_micros(d.total_micros()))
    }

    /// What a SYN for `flow` means: a new connection, a retransmission
    /// while the host connect is under way (the SYN replaces the kept
    /// one), or one for smoltcp (a live socket). A finished socket whose
    /// port the member reuses is retired first.
    pub fn syn_state(&mut self, flow: &Flow) -> SynState {
        let Some(&i) = self.by_flow.get(flow) else {
            return SynState::New;
        };
        let conn = self.conns[i].as_ref().expect("a live slot");
        let Some(handle) = conn.handle else {
            return SynState::Pending;
        };
        let state = self.sockets.get::<tcp::Socket>(handle).state();
        if matches!(state, tcp::State::Closed | tcp::State::TimeWait) && conn.connected {
            self.remove(i, None);
            SynState::New
        } else {
            SynState::Live
        }
    }

    /// Whether segments of `flow` must wait (host connect under way).
    pub fn is_pending(&self, flow: &Flow) -> bool {
        self.by_flow
            .get(flow)
            .is_some_and(|&i| self.conns[i].as_ref().is_some_and(|c| c.handle.is_none()))
    }

    /// Keeps a retransmitted SYN of a pending connection.
    pub fn replace_syn(&mut self, flow: &Flow, frame: Vec<u8>) {
        if let Some(&i) = self.by_flow.get(flow) {
            if let Some(c) = self.conns[i].as_mut() {
                c.syn = Some(frame);
            }
        }
    }

    /// A member sent a SYN (`frame`) for a new `flow`, allowed to reach
    /// `targets`: keep it and start connecting on the host. With no target
    /// (not allowed) the frame is given back: smoltcp, with no socket for
    /// it, answers RST.
    pub fn on_syn(
        &mut self,
        flow: Flow,
        targets: Vec<SocketAddr>,
        frame: Vec<u8>,
        epoll: &Epoll,
    ) -> Option<Vec<u8>> {
        if targets.is_empty() || self.by_flow.len() >= MAX_CONNECTIONS {
            return Some(frame);
        }
        let conn = Conn {
            handle: None,
            syn: Some(frame),
            flow,
            host: None,
            targets,
            next_target: 0,
            connected: false,
            readable: false,
            writable: false,
            host_eof: false,
            shut_wr: false,
        };
        let i = match self.free.pop() {
            Some(i) => {
                self.conns[i] = Some(conn);
                i
            }
            None => {
                self.conns.push(Some(conn));
                self.conns.len() - 1
            }
        };
        self.by_flow.insert(flow, i);
        self.connect_next(i, epoll);
        None
    }

    /// Makes connection `i`'s smoltcp socket and hands it the kept SYN.
    /// `refuse`: the SYN-ACK is held and the socket aborted after the SYN
    /// is taken, which sends the member a RST.
    fn open_socket(&mut self, i: usize, refuse: bool) {
        let conn = self.conns[i].as_mut().expect("a live slot");
        let mut socket = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0u8; if refuse { 1 } else { TCP_BUFFER }]),
            tcp::SocketBuffer::new(vec![0u8; if refuse { 1 } else { TCP_BUFFER }]),
        );
        socket.pause_synack(refuse);
        socket.set_nagle_enabled(false);
        let ep = IpListenEndpoint {
            addr: Some((*conn.flow.dst.ip()).into()),
            port: conn.flow.dst.port(),
        };
        if socket.listen(ep).is_err() {
            return;
        }
        conn.handle = Some(self.sockets.add(socket));
        if let Some(syn) = conn.syn.take() {
            self.dev.rx.push_back(syn);
        }
    }

    /// Tries the next target of connection `i`; aborts (RST to the member)
    /// when none is left.
    fn connect_next(&mut self, i: usize, epoll: &Epoll) {
        loop {
            let conn = self.conns[i].as_mut().expect("a live slot");
            if let Some(old) = conn.host.take() {
                let _ = epoll.delete(&old);
            }
            let Some(target) = conn.targets.get(conn.next_target).copied() else {
                // Nothing took the connection: the member gets a RST.
                self.open_socket(i, true);
                return;
            };
            conn.next_target += 1;
            let Ok(fd) = sock::nonblocking(&target, SockType::Stream) else {
                continue;
            };
            match sock::start_connect(fd.as_fd(), &target) {
                Ok(done) => {
                    let ev = EpollEvent::new(
                        EpollFlags::EPOLLIN
                            | EpollFlags::EPOLLOUT
                            | EpollFlags::EPOLLRDHUP
                            | EpollFlags::EPOLLET,
                        TOKEN_TAG | i as u64,
                    );
                    if epoll.add(&fd, ev).is_err() {
                        continue;
                    }
                    conn.host = Some(fd);
                    if done {
                        self.established(i);
                    }
                    return;
                }
                Err(_) => continue,
            }
        }
    }

    fn established(&mut self, i: usize) {
        let conn = self.conns[i].as_mut().expect("a live slot");
        conn.connected = true;
        conn.writable = true;
        conn.readable = true;
        self.open_socket(i, false);
    }

    /// Readiness of connection `slot`'s host socket.
    pub fn host_event(&mut self, slot: usize, flags: EpollFlags, epoll: &Epoll) {
        let Some(Some(conn)) = self.conns.get_mut(slot) else {
            return;
        };
        let Some(fd) = conn.host.as_ref() else {
            return;
        };
        if !conn.connected {
            if !flags.intersects(EpollFlags::EPOLLOUT | EpollFlags::EPOLLERR | EpollFlags::EPOLLHUP)
            {
                return;
            }
            match sock::take_error(fd.as_fd()) {
                Ok(()) => self.established(slot),
                Err(_) => self.connect_next(slot, epoll),
            }
            return;
        }
        if flags.intersects(
            EpollFlags::EPOLLIN
                | EpollFlags::EPOLLRDHUP
                | EpollFlags::EPOLLHUP
                | EpollFlags::EPOLLERR,
        ) {
            conn.readable = true;
        }
        if flags.intersects(EpollFlags::EPOLLOUT | EpollFlags::EPOLLHUP | EpollFlags::EPOLLERR) {
            conn.writable = true;
        }
    }

    /// Moves data between every established connection's smoltcp socket
    /// and host socket, and retires finished connections. True when bytes
    /// moved (smoltcp then has segments to send).
    pub fn pump(&mut self, epoll: &Epoll) -> bool {
        let mut moved = false;
        for i in 0..self.conns.len() {
            let Some(conn) = self.conns[i].as_mut() else {
                continue;
            };
            let Some(handle) = conn.handle else {
                continue; // connecting on the host
            };
            let socket = self.sockets.get_mut::<tcp::Socket>(handle);
            let state = socket.state();
            if !conn.connected {
                // A refused connection: once smoltcp has taken the SYN,
                // abort (RST); once that is sent, forget it.
                match state {
                    tcp::State::SynReceived => {
                        socket.abort();
                        moved = true;
                    }
                    tcp::State::Listen => {}
                    _ => self.remove(i, Some(epoll)),
                }
                continue;
            }
            if matches!(state, tcp::State::Closed | tcp::State::TimeWait) {
                self.remove(i, Some(epoll));
                continue;
            }
            let Some(fd) = conn.host.as_ref() else {
                continue;
            };
            let mut failed = false;
            // Member -> host.
            while conn.writable && socket.can_recv() {
                let r = socket.recv(|data| match sock::send(fd.as_fd(), data) {
                    Ok(n) => (n, Ok(n)),
                    Err(e) => (0, Err(e)),
                });
                match r {
                    Ok(Ok(n)) if n > 0 => moved = true,
                    Ok(Ok(_)) => break,
                    Ok(Err(Errno::EAGAIN)) => conn.writable = false,
                    Ok(Err(_)) | Err(_) => {
                        failed = true;
                        break;
                    }
                }
            }
            if !failed
                && !conn.shut_wr
                && !socket.may_recv()
                && socket.recv_queue() == 0
                && state != tcp::State::SynReceived
                && state != tcp::State::Listen
            {
                // The member closed its side and everything it sent is out.
                let _ = shutdown(fd.as_raw_fd(), Shutdown::Write);
                conn.shut_wr = true;
            }
            // Host -> member: straight into smoltcp's send buffer.
            while !failed && conn.readable && !conn.host_eof && socket.can_send() {
                let r = socket.send(|space| match sock::recv(fd.as_fd(), space) {
                    Ok(n) => (n, Ok(n)),
                    Err(e) => (0, Err(e)),
                });
                match r {
                    Ok(Ok(0)) => {
                        conn.host_eof = true;
                        socket.close();
                    }
                    Ok(Ok(_)) => moved = true,
                    Ok(Err(Errno::EAGAIN)) => conn.readable = false,
                    Ok(Err(_)) | Err(_) => failed = true,
                }
            }
            if failed {
                // The host connection broke: reset the member's side too.
                socket.abort();
                moved = true;
            }
        }
        moved
    }

    fn remove(&mut self, i: usize, epoll: Option<&Epoll>) {
        if let Some(conn) = self.conns[i].take() {
            if let (Some(fd), Some(ep)) = (conn.host.as_ref(), epoll) {
                let _ = ep.delete(fd);
            }
            if let Some(h) = conn.handle {
                self.sockets.remove(h);
            }
            self.by_flow.remove(&conn.flow);
            self.free.push(i);
        }
    }
}
