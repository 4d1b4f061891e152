//! The network helper, `berth __berth-netd`: one process per network with
//! running members, started by the first member ([`super::client`]) and
//! gone when the last one leaves. It runs in the host's network namespace
//! and holds its members' TAP devices; one epoll loop, no threads.
//!
//! - **Switch**: frames from a member's TAP go to the member whose MAC they
//!   name, broadcasts to everyone; a member may only send from its own MAC
//!   and, to the gateway, its own IPv4 address (no spoofing its way past
//!   another member's options).
//! - **Gateway** (MAC derived from its address): answers ARP for the
//!   gateway and host addresses; TCP through smoltcp to real host sockets
//!   (`gateway.rs`); UDP and ICMP echo relayed datagram by datagram through
//!   host sockets; DNS at the gateway address (`dns.rs`).
//! - **Host address** (`host-gateway`, the subnet's last host address):
//!   reaches the host's own non-loopback address; with a member's
//!   `allow_host_loopback`, 127.0.0.1 first.
//! - **Internal** networks: only the switch, ARP and DNS of member names.

mod dns;
mod frames;
mod gateway;

use super::addr::forbidden_destination;
use super::client::{lock, lock_path, socket_path};
use super::proto::{self, Join, Joined, MemberSpec, NetworkSpec, Reply};
use super::sock;
use super::tap::{MAX_FRAME, VNET_HDR_LEN};
use anyhow::{bail, Context, Result};
use gateway::{Flow, Gateway, SynState};
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::socket::{accept4, SockFlag, SockType};
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol,
    Icmpv4DstUnreachable, Icmpv4Packet, Icmpv4Repr, IpProtocol, Ipv4Packet, Ipv4Repr, TcpPacket,
    UdpPacket,
};
use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The first argument of a network helper:
/// `__berth-netd READY_FD LISTEN_FD RUN_DIR SPEC_JSON` (the spawner binds
/// the listening socket, so members can connect before the helper is up).
pub const REEXEC_ARG: &str = "__berth-netd";

const TOKEN_LISTENER: u64 = 1;
const TAG_MASK: u64 = 0xff << 56;
const TAG_CONN: u64 = 1 << 56;
const TAG_TAP: u64 = 2 << 56;
const TAG_UDP: u64 = 4 << 56;
const TAG_PING: u64 = 5 << 56;

/// Frames read from one TAP before the others get their turn.
const TAP_BATCH: usize = 64;
/// UDP flows and pings idle this long are forgotten.
const UDP_IDLE: Duration = Duration::from_secs(60);
const PING_IDLE: Duration = Duration::from_secs(10);
const JOIN_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the helper stays after its last member left: back-to-back
/// `run --rm`s on a network (a script, a test suite, a build's steps)
/// find it running instead of each starting one (about 6 ms of a run on
/// a 2-core machine). Short enough that nothing of berth is left running
/// soon after the last container stopped.
pub const LINGER: Duration = Duration::from_secs(2);

/// Entry point of the re-executed helper.
pub fn main(args: &[String]) -> i32 {
    let [fd, listen_fd, run_dir, spec] = args else {
        eprintln!("usage: berth {REEXEC_ARG} READY_FD LISTEN_FD RUN_DIR SPEC_JSON");
        return 2;
    };
    let (Ok(fd), Ok(listen_fd)) = (fd.parse::<i32>(), listen_fd.parse::<i32>()) else {
        eprintln!("{REEXEC_ARG}: bad descriptors {fd:?} {listen_fd:?}");
        return 2;
    };
    close_strays(&[fd, listen_fd]);
    // SAFETY: the spawner passed us these descriptors (its ready pipe and
    // the network's listening socket) and nothing else in this process
    // owns them.
    let (mut ready, listener) = unsafe {
        (
            std::fs::File::from(OwnedFd::from_raw_fd(fd)),
            OwnedFd::from_raw_fd(listen_fd),
        )
    };
    let started = serde_json::from_str::<NetworkSpec>(spec)
        .context("reading the network's description")
        .and_then(|spec| Netd::new(Path::new(run_dir), spec, listener));
    match started {
        Ok(netd) => {
            let _ = ready.write_all(b"ready\n");
            drop(ready);
            netd.run()
        }
        Err(e) => {
            let _ = writeln!(ready, "failed {e:#}");
            eprintln!("{REEXEC_ARG}: {e:#}");
            1
        }
    }
}

/// Closes every descriptor above stdio but `keep`: the spawner makes
/// them close at exec, but not where the kernel has no close_range, and a
/// descriptor kept by a long-lived helper (a build step's pipe) would hold
/// its other end open.
fn close_strays(keep: &[i32]) {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    let fds: Vec<i32> = dir
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|fd| *fd > 2 && !keep.contains(fd))
        .collect();
    for fd in fds {
        // SAFETY: closing descriptors nothing in this process owns yet (we
        // just started; the directory's own descriptor is closed already
        // or gets EBADF).
        unsafe {
            libc::close(fd);
        }
    }
}

struct Member {
    conn: OwnedFd,
    /// Set once the member's join was accepted.
    joined: Option<Joined_>,
    /// When the connection came: one that never joins is dropped after
    /// [`JOIN_TIMEOUT`] (it would keep the helper alive for nothing).
    accepted: Instant,
}

struct Joined_ {
    spec: MemberSpec,
    tap: OwnedFd,
    mac: EthernetAddress,
    /// Lower-case names the DNS answers with this member's address.
    names: Vec<String>,
    /// The TAP failed (its namespace is gone): no longer watched.
    tap_dead: bool,
}

struct UdpFlow {
    /// The member's address and the destination as the member addressed it.
    src: SocketAddrV4,
    dst: SocketAddrV4,
    sock: OwnedFd,
    last: Instant,
}

struct PingFlow {
    member_ip: Ipv4Addr,
    dst: Ipv4Addr,
    ident: u16,
    sock: OwnedFd,
    last: Instant,
}

struct Netd {
    spec: NetworkSpec,
    sock_path: PathBuf,
    lock_path: PathBuf,
    epoll: Epoll,
    listener: OwnedFd,
    members: Vec<Option<Member>>,
    gw: Gateway,
    gw_mac: EthernetAddress,
    udp: Vec<Option<UdpFlow>>,
    udp_by_key: HashMap<(SocketAddrV4, SocketAddrV4), usize>,
    pings: Vec<Option<PingFlow>>,
    ping_by_key: HashMap<(Ipv4Addr, Ipv4Addr, u16), usize>,
    upstream: Vec<SocketAddr>,
    host_addr: Option<(Ipv4Addr, Instant)>,
    /// Frames read from TAPs land here; a buffer handed to smoltcp is
    /// replaced.
    rx: Vec<u8>,
    /// The `virtio_net_hdr` of the frame in `rx`.
    rx_hdr: [u8; VNET_HDR_LEN],
    /// Frames the helper builds itself.
    scratch: Vec<u8>,
    /// Data moved between smoltcp and host sockets.
    io_buf: Vec<u8>,
    ping_denied_said: bool,
    last_sweep: Instant,
    /// Since when no member is connected (the helper lingers [`LINGER`]).
    unused_since: Option<Instant>,
}

impl Netd {
    fn new(run_dir: &Path, spec: NetworkSpec, listener: OwnedFd) -> Result<Netd> {
        spec.check()?;
        sock::raise_nofile_limit();
        let sock_path = socket_path(run_dir, &spec.id);
        let flags = nix::fcntl::fcntl(&listener, nix::fcntl::FcntlArg::F_GETFD)
            .context("checking the listening socket the helper was given")?;
        let _ = nix::fcntl::fcntl(
            &listener,
            nix::fcntl::FcntlArg::F_SETFD(
                nix::fcntl::FdFlag::from_bits_truncate(flags) | nix::fcntl::FdFlag::FD_CLOEXEC,
            ),
        );
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).context("creating an epoll")?;
        epoll.add(
            &listener,
            EpollEvent::new(EpollFlags::EPOLLIN, TOKEN_LISTENER),
        )?;
        let upstream = if spec.dns_upstream.is_empty() {
            dns::host_resolvers()
        } else {
            spec.dns_upstream.clone()
        };
        let gw_mac = EthernetAddress(spec.gateway_mac().0);
        let gw = Gateway::new(gw_mac.0, spec.gateway, spec.subnet.prefix(), spec.mtu);
        let _ = std::env::set_current_dir("/");
        Ok(Netd {
            lock_path: lock_path(run_dir, &spec.id),
            sock_path,
            spec,
            epoll,
            listener,
            members: Vec::new(),
            gw,
            gw_mac,
            udp: Vec::new(),
            udp_by_key: HashMap::new(),
            pings: Vec::new(),
            ping_by_key: HashMap::new(),
            upstream,
            host_addr: None,
            rx: Vec::with_capacity(MAX_FRAME + 64),
            rx_hdr: [0; VNET_HDR_LEN],
            scratch: Vec::with_capacity(MAX_FRAME + 64),
            io_buf: vec![0; 256 * 1024],
            ping_denied_said: false,
            last_sweep: Instant::now(),
            unused_since: None,
        })
    }

    fn run(mut self) -> i32 {
        let mut events = vec![EpollEvent::empty(); 256];
        loop {
            let timeout = self
                .gw
                .poll_delay()
                .unwrap_or(Duration::from_secs(5))
                .min(Duration::from_secs(5));
            // Lingering without members: wake up when it is over.
            let timeout = match self.unused_since {
                Some(t) => {
                    timeout.min(LINGER.saturating_sub(t.elapsed()) + Duration::from_millis(1))
                }
                None => timeout,
            };
            let timeout = EpollTimeout::try_from(timeout).unwrap_or(EpollTimeout::ZERO);
            let n = match self.epoll.wait(&mut events, timeout) {
                Ok(n) => n,
                Err(nix::errno::Errno::EINTR) => 0,
                Err(e) => {
                    eprintln!("{REEXEC_ARG}: epoll_wait: {e}");
                    return 1;
                }
            };
            for ev in &events[..n] {
                let data = ev.data();
                let slot = (data & !TAG_MASK) as usize;
                match data & TAG_MASK {
                    0 if data == TOKEN_LISTENER => self.accept_members(),
                    TAG_CONN => self.member_message(slot),
                    TAG_TAP => self.read_tap(slot),
                    gateway::TOKEN_TAG => self.gw.host_event(slot, ev.events(), &self.epoll),
                    TAG_UDP => self.udp_replies(slot),
                    TAG_PING => self.ping_replies(slot),
                    _ => {}
                }
            }
            self.service_gateway();
            if self.last_sweep.elapsed() >= Duration::from_secs(5) {
                self.sweep();
            }
            if self.members.iter().all(Option::is_none) {
                let since = *self.unused_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= LINGER && self.exit_if_unused() {
                    return 0;
                }
            } else {
                self.unused_since = None;
            }
        }
    }

    /// With no member left: under the network's lock (members connect
    /// under it), a connection already queued keeps us alive; otherwise
    /// the socket goes and so do we. The lock is released by our exit.
    fn exit_if_unused(&mut self) -> bool {
        // A lock that cannot be taken (the runtime directory was removed
        // while we lingered) cannot be taken by a member either, and
        // members connect under it: nobody can be joining, so we go.
        let held = lock(&self.lock_path).ok();
        self.accept_members();
        if self.members.iter().any(Option::is_some) {
            drop(held);
            return false;
        }
        let _ = std::fs::remove_file(&self.sock_path);
        std::mem::forget(held);
        true
    }

    fn accept_members(&mut self) {
        loop {
            let fd = match accept4(
                self.listener.as_raw_fd(),
                SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
            ) {
                Ok(fd) => fd,
                Err(nix::errno::Errno::EINTR) | Err(nix::errno::Errno::ECONNABORTED) => continue,
                Err(_) => return,
            };
            // SAFETY: accept4 just returned this descriptor.
            let conn = unsafe { OwnedFd::from_raw_fd(fd) };
            let slot = self
                .members
                .iter()
                .position(Option::is_none)
                .unwrap_or_else(|| {
                    self.members.push(None);
                    self.members.len() - 1
                });
            let ev = EpollEvent::new(
                EpollFlags::EPOLLIN | EpollFlags::EPOLLRDHUP,
                TAG_CONN | slot as u64,
            );
            if self.epoll.add(&conn, ev).is_ok() {
                self.members[slot] = Some(Member {
                    conn,
                    joined: None,
                    accepted: Instant::now(),
                });
            }
        }
    }

    /// A member's connection is readable: its join, or its end.
    fn member_message(&mut self, slot: usize) {
        let Some(Some(m)) = self.members.get(slot) else {
            return;
        };
        let msg = proto::recv_msg(m.conn.as_fd());
        let (data, mut fds) = match msg {
            Err(e) if is_eagain(&e) => return,
            Err(_) => (Vec::new(), Vec::new()),
            Ok(x) => x,
        };
        if data.is_empty() || m.joined.is_some() {
            // EOF (or anything after the join): the member left.
            self.remove_member(slot);
            return;
        }
        let reply = match (serde_json::from_slice::<Join>(&data), fds.pop()) {
            (Ok(join), Some(tap)) => match self.admit(slot, join, tap) {
                Ok(joined) => Reply::Ok(joined),
                Err(e) => Reply::Error(format!("{e:#}")),
            },
            (Ok(_), None) => Reply::Error("the join carried no TAP descriptor".into()),
            (Err(e), _) => Reply::Error(format!("unreadable join: {e}")),
        };
        let failed = matches!(reply, Reply::Error(_));
        if let (Ok(bytes), Some(Some(m))) = (serde_json::to_vec(&reply), self.members.get(slot)) {
            let _ = proto::send_msg(m.conn.as_fd(), &bytes, None);
        }
        if failed {
            self.remove_member(slot);
        } else {
            // Joins are rare; what served them (JSON, the launch) is not
            // needed by the switch loop.
            crate::util::resident::trim_code();
        }
    }

    fn admit(&mut self, slot: usize, join: Join, tap: OwnedFd) -> Result<Joined> {
        if join.version != proto::VERSION {
            bail!("protocol version {} is not {} (berth was upgraded while containers ran: restart them)", join.version, proto::VERSION);
        }
        if join.network_id != self.spec.id {
            bail!(
                "this helper serves network {}, not {}",
                self.spec.id,
                join.network_id
            );
        }
        let m = join.member;
        let net = &self.spec;
        if !net.subnet.contains(m.ip)
            || m.ip == net.gateway
            || m.ip == net.host_gateway()
            || m.ip == net.subnet.network()
            || m.ip == net.subnet.broadcast()
        {
            bail!(
                "address {} is not a member address of subnet {}",
                m.ip,
                net.subnet
            );
        }
        if !m.mac.is_unicast() || m.mac == net.gateway_mac() {
            bail!("MAC address {} cannot be a member's", m.mac);
        }
        // A member that rejoins (its monitor reconnected) replaces its old
        // connection; anyone else's address or MAC is refused.
        let mut stale = Vec::new();
        for (i, other) in self.members.iter().enumerate() {
            let Some(Member {
                joined: Some(o), ..
            }) = other
            else {
                continue;
            };
            if o.spec.ip == m.ip || o.spec.mac == m.mac {
                if o.spec.container_id == m.container_id {
                    stale.push(i);
                } else {
                    bail!(
                        "address {} or MAC {} is already used by container {} on network {}",
                        m.ip,
                        m.mac,
                        o.spec.name,
                        net.name
                    );
                }
            }
        }
        for i in stale {
            self.remove_member(i);
        }
        set_nonblocking(tap.as_fd())?;
        self.epoll
            .add(
                &tap,
                EpollEvent::new(EpollFlags::EPOLLIN, TAG_TAP | slot as u64),
            )
            .context("watching the TAP device")?;
        let names = m.dns_names().map(|n| n.to_ascii_lowercase()).collect();
        let member = self.members[slot].as_mut().expect("the joining slot");
        member.joined = Some(Joined_ {
            mac: EthernetAddress(m.mac.0),
            spec: m,
            tap,
            names,
            tap_dead: false,
        });
        Ok(Joined {
            gateway: self.spec.gateway,
            gateway_mac: self.spec.gateway_mac(),
            host_gateway: self.spec.host_gateway(),
            helper_pid: std::process::id(),
        })
    }

    fn remove_member(&mut self, slot: usize) {
        if let Some(m) = self.members.get_mut(slot).and_then(Option::take) {
            let _ = self.epoll.delete(&m.conn);
            if let Some(j) = m.joined {
                let _ = self.epoll.delete(&j.tap);
                // The last descriptor of the device may be ours: its
                // unregistering must not stall the switch.
                super::tap::close_detached(vec![j.tap]);
            }
        }
    }

    fn joined(&self, slot: usize) -> Option<&Joined_> {
        self.members.get(slot)?.as_ref()?.joined.as_ref()
    }

    fn member_by_mac(&self, mac: EthernetAddress) -> Option<usize> {
        self.members
            .iter()
            .position(|m| matches!(m, Some(Member { joined: Some(j), .. }) if j.mac == mac))
    }

    fn member_by_ip(&self, ip: Ipv4Addr) -> Option<usize> {
        self.members
            .iter()
            .position(|m| matches!(m, Some(Member { joined: Some(j), .. }) if j.spec.ip == ip))
    }

    /// Reads up to a batch of frames from member `slot`'s TAP.
    fn read_tap(&mut self, slot: usize) {
        for _ in 0..TAP_BATCH {
            let Some(Some(Member {
                joined: Some(j), ..
            })) = self.members.get(slot)
            else {
                return;
            };
            match read_frame(j.tap.as_fd(), &mut self.rx_hdr, &mut self.rx) {
                Ok(0) => return,
                Ok(_) => {
                    self.switch(slot);
                    if self.gw.dev.rx.len() >= gateway::RX_QUEUE {
                        self.service_gateway();
                    }
                }
                Err(nix::errno::Errno::EAGAIN) => return,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => {
                    // The device is gone (its namespace died before its
                    // monitor closed the connection): stop watching it.
                    if let Some(Some(Member {
                        joined: Some(j), ..
                    })) = self.members.get_mut(slot)
                    {
                        let _ = self.epoll.delete(&j.tap);
                        j.tap_dead = true;
                    }
                    return;
                }
            }
        }
    }

    /// Delivers the frame in `self.rx`, read from member `from`.
    fn switch(&mut self, from: usize) {
        let Ok(eth) = EthernetFrame::new_checked(&self.rx[..]) else {
            return;
        };
        let Some(sender) = self.joined(from) else {
            return;
        };
        if eth.src_addr() != sender.mac {
            return; // spoofed source MAC
        }
        let dst = eth.dst_addr();
        if dst == self.gw_mac {
            self.for_gateway(from);
        } else if dst.is_broadcast() || dst.is_multicast() {
            let is_arp = eth.ethertype() == EthernetProtocol::Arp;
            for (i, m) in self.members.iter().enumerate() {
                if let Some(Member {
                    joined: Some(j), ..
                }) = m
                {
                    if i != from && !j.tap_dead {
                        let _ = forward_frame(j.tap.as_fd(), &self.rx_hdr, &self.rx);
                    }
                }
            }
            if is_arp {
                self.for_gateway(from);
            }
        } else if let Some(to) = self.member_by_mac(dst) {
            if to != from {
                if let Some(j) = self.joined(to) {
                    let _ = forward_frame(j.tap.as_fd(), &self.rx_hdr, &self.rx);
                }
            }
        }
    }

    /// A frame from member `from` for the gateway (in `self.rx`).
    fn for_gateway(&mut self, from: usize) {
        let Some(sender) = self.joined(from) else {
            return;
        };
        let member_ip = sender.spec.ip;
        let eth = EthernetFrame::new_unchecked(&self.rx[..]);
        match eth.ethertype() {
            EthernetProtocol::Arp => {
                let Ok(arp) = ArpPacket::new_checked(eth.payload()) else {
                    return;
                };
                let Ok(ArpRepr::EthernetIpv4 {
                    operation,
                    target_protocol_addr,
                    source_protocol_addr,
                    ..
                }) = ArpRepr::parse(&arp)
                else {
                    return;
                };
                if source_protocol_addr != member_ip {
                    return;
                }
                // smoltcp with any-IP would answer ARP for every address:
                // only the gateway's and the host's are ours.
                let ours = target_protocol_addr == self.spec.gateway
                    || (target_protocol_addr == self.spec.host_gateway() && !self.spec.internal);
                let take = match operation {
                    ArpOperation::Request => ours,
                    ArpOperation::Reply => target_protocol_addr == self.spec.gateway,
                    _ => false,
                };
                if take {
                    self.hand_to_smoltcp();
                }
            }
            EthernetProtocol::Ipv4 => {
                let Ok(ip) = Ipv4Packet::new_checked(eth.payload()) else {
                    return;
                };
                if ip.src_addr() != member_ip || ip.more_frags() || ip.frag_offset() != 0 {
                    return;
                }
                match ip.next_header() {
                    IpProtocol::Tcp => {
                        let Ok(tcp) = TcpPacket::new_checked(ip.payload()) else {
                            return;
                        };
                        let flow = Flow {
                            src: SocketAddrV4::new(ip.src_addr(), tcp.src_port()),
                            dst: SocketAddrV4::new(ip.dst_addr(), tcp.dst_port()),
                        };
                        let syn = tcp.syn() && !tcp.ack();
                        if syn {
                            match self.gw.syn_state(&flow) {
                                SynState::New => {
                                    let targets = self.tcp_targets(from, flow.dst);
                                    let frame = self.take_rx();
                                    if let Some(frame) =
                                        self.gw.on_syn(flow, targets, frame, &self.epoll)
                                    {
                                        self.gw.dev.rx.push_back(frame);
                                    }
                                    return;
                                }
                                SynState::Pending => {
                                    let frame = self.take_rx();
                                    self.gw.replace_syn(&flow, frame);
                                    return;
                                }
                                SynState::Live => {}
                            }
                        } else if self.gw.is_pending(&flow) {
                            return; // nothing but SYNs before the handshake
                        }
                        self.hand_to_smoltcp();
                    }
                    IpProtocol::Udp => self.udp_from_member(from),
                    IpProtocol::Icmp => self.icmp_from_member(from),
                    _ => {}
                }
            }
            _ => {}
        }
    }

    /// Moves the frame in `self.rx` to smoltcp's queue (no copy).
    fn hand_to_smoltcp(&mut self) {
        let frame = self.take_rx();
        self.gw.dev.rx.push_back(frame);
    }

    /// Takes the frame in `self.rx`, leaving a fresh (reused) buffer.
    fn take_rx(&mut self) -> Vec<u8> {
        let fresh = self.gw.dev.rx_buffer();
        std::mem::replace(&mut self.rx, fresh)
    }

    /// Runs smoltcp and the TCP relays until they settle, delivering what
    /// smoltcp sends.
    fn service_gateway(&mut self) {
        for _ in 0..32 {
            let polled = self.gw.poll();
            let sent = self.flush_gateway();
            let moved = self.gw.pump(&self.epoll);
            if !polled && !sent && !moved && self.gw.dev.rx.is_empty() {
                break;
            }
        }
        self.gw.poll();
        self.flush_gateway();
    }

    fn flush_gateway(&mut self) -> bool {
        if self.gw.dev.tx.is_empty() {
            return false;
        }
        let frames = std::mem::take(&mut self.gw.dev.tx);
        for frame in frames {
            if let Ok(eth) = EthernetFrame::new_checked(&frame[..]) {
                let dst = eth.dst_addr();
                if dst.is_broadcast() || dst.is_multicast() {
                    for m in self.members.iter().flatten() {
                        if let Some(j) = &m.joined {
                            let _ = write_frame(j.tap.as_fd(), &frame);
                        }
                    }
                } else if let Some(to) = self.member_by_mac(dst) {
                    if let Some(j) = self.joined(to) {
                        let _ = write_frame(j.tap.as_fd(), &frame);
                    }
                }
            }
            self.gw.dev.recycle(frame);
        }
        true
    }

    /// The host's address that the host address stands for: the source
    /// address of the host's default route, else its first non-loopback
    /// IPv4 address. Looked up again after a while (DHCP, VPNs).
    fn host_address(&mut self) -> Option<Ipv4Addr> {
        if let Some((ip, when)) = self.host_addr {
            if when.elapsed() < Duration::from_secs(10) {
                return Some(ip);
            }
        }
        let ip = primary_host_ipv4()?;
        self.host_addr = Some((ip, Instant::now()));
        Some(ip)
    }

    /// Where a member's connection to `dst` goes on the host, in order of
    /// preference; empty when it is not allowed.
    fn tcp_targets(&mut self, from: usize, dst: SocketAddrV4) -> Vec<SocketAddr> {
        let allow_loopback = self
            .joined(from)
            .is_some_and(|j| j.spec.allow_host_loopback);
        let ip = *dst.ip();
        if ip == self.spec.gateway {
            // DNS over TCP is forwarded to the upstream resolvers.
            return if dst.port() == 53 && !self.spec.internal {
                self.upstream_of(from)
            } else {
                Vec::new()
            };
        }
        self.outbound_target(ip, allow_loopback)
            .map(|t| vec![SocketAddr::new(t, dst.port())])
            .into_iter()
            .flatten()
            .chain(
                // The host address with loopback allowed: 127.0.0.1 first,
                // then the host's own address (a service bound to it only).
                (ip == self.spec.host_gateway() && allow_loopback)
                    .then(|| self.host_address())
                    .flatten()
                    .map(|h| SocketAddr::new(h.into(), dst.port())),
            )
            .collect()
    }

    /// The host address a member's datagram or connection to `ip` goes to;
    /// `None` when it is not allowed.
    fn outbound_target(&mut self, ip: Ipv4Addr, allow_loopback: bool) -> Option<IpAddr> {
        if self.spec.internal || ip == self.spec.gateway {
            return None;
        }
        if ip == self.spec.host_gateway() {
            if allow_loopback {
                return Some(Ipv4Addr::LOCALHOST.into());
            }
            return self.host_address().map(IpAddr::V4);
        }
        if self.spec.subnet.contains(ip) || forbidden_destination(ip.into()) {
            return None;
        }
        Some(ip.into())
    }

    fn udp_from_member(&mut self, from: usize) {
        let eth = EthernetFrame::new_unchecked(&self.rx[..]);
        let ip = Ipv4Packet::new_unchecked(eth.payload());
        let Ok(udp) = UdpPacket::new_checked(ip.payload()) else {
            return;
        };
        let src = SocketAddrV4::new(ip.src_addr(), udp.src_port());
        let dst = SocketAddrV4::new(ip.dst_addr(), udp.dst_port());
        let payload = udp.payload().to_vec();
        if *dst.ip() == self.spec.gateway {
            if dst.port() == 53 {
                self.dns_query(from, src, dst, &payload);
            }
            return;
        }
        let allow_loopback = self
            .joined(from)
            .is_some_and(|j| j.spec.allow_host_loopback);
        let Some(target) = self.outbound_target(*dst.ip(), allow_loopback) else {
            return;
        };
        self.udp_send(src, dst, SocketAddr::new(target, dst.port()), &payload);
    }

    /// A query to the gateway's DNS: a member name is answered here,
    /// anything else forwarded (refused on an internal network).
    fn dns_query(&mut self, from: usize, src: SocketAddrV4, dst: SocketAddrV4, query: &[u8]) {
        let Some(mac) = self.joined(from).map(|j| j.mac) else {
            return;
        };
        let upstream = self.upstream_of(from);
        let answer = dns::parse_query(query).and_then(|q| {
            // Docker's default bridge resolves no member names.
            let local = self.members.iter().flatten().find_map(|m| {
                let j = m.joined.as_ref()?;
                (self.spec.resolve_names && j.names.contains(&q.name)).then_some(j.spec.ip)
            });
            match local {
                Some(ip) => Some(dns::local_answer(query, &q, ip)),
                None if self.spec.internal => {
                    Some(dns::error_answer(query, &q, dns::RCODE_REFUSED))
                }
                None if upstream.is_empty() => {
                    Some(dns::error_answer(query, &q, dns::RCODE_SERVFAIL))
                }
                None => None,
            }
        });
        if let Some(answer) = answer {
            frames::udp(&mut self.scratch, self.gw_mac, mac, dst, src, &answer);
            if let Some(j) = self.joined(from) {
                let _ = write_frame(j.tap.as_fd(), &self.scratch);
            }
            return;
        }
        if self.spec.internal || upstream.is_empty() {
            return;
        }
        self.udp_send(src, dst, upstream[0], query);
    }

    /// Where member `from`'s DNS queries for other names go: its own
    /// resolvers (`--dns`) if it has some, else the network's.
    fn upstream_of(&self, from: usize) -> Vec<SocketAddr> {
        match self.joined(from) {
            Some(j) if !j.spec.dns_upstream.is_empty() => j.spec.dns_upstream.clone(),
            _ => self.upstream.clone(),
        }
    }

    /// Sends a member's datagram through the flow's host socket (made on
    /// first use, connected to `target`).
    fn udp_send(
        &mut self,
        src: SocketAddrV4,
        dst: SocketAddrV4,
        target: SocketAddr,
        payload: &[u8],
    ) {
        let slot = match self.udp_by_key.get(&(src, dst)) {
            Some(&i) => i,
            None => {
                let Ok(fd) = sock::nonblocking(&target, SockType::Datagram) else {
                    return;
                };
                if sock::start_connect(fd.as_fd(), &target).is_err() {
                    return;
                }
                let slot = self
                    .udp
                    .iter()
                    .position(Option::is_none)
                    .unwrap_or_else(|| {
                        self.udp.push(None);
                        self.udp.len() - 1
                    });
                let ev = EpollEvent::new(EpollFlags::EPOLLIN, TAG_UDP | slot as u64);
                if self.epoll.add(&fd, ev).is_err() {
                    return;
                }
                self.udp[slot] = Some(UdpFlow {
                    src,
                    dst,
                    sock: fd,
                    last: Instant::now(),
                });
                self.udp_by_key.insert((src, dst), slot);
                slot
            }
        };
        if let Some(flow) = self.udp[slot].as_mut() {
            flow.last = Instant::now();
            let _ = sock::send(flow.sock.as_fd(), payload);
        }
    }

    /// Replies on a UDP flow's host socket go back to its member.
    fn udp_replies(&mut self, slot: usize) {
        let mut buf = std::mem::take(&mut self.io_buf);
        let max = frames::max_udp_payload(self.spec.mtu);
        while let Some(Some(flow)) = self.udp.get(slot) {
            let n = match sock::recv(flow.sock.as_fd(), &mut buf) {
                Ok(n) => n,
                Err(nix::errno::Errno::EAGAIN) => break,
                // ICMP errors (port unreachable) arrive as socket errors.
                Err(_) => continue,
            };
            let (src, dst) = (flow.src, flow.dst);
            if n > max {
                continue;
            }
            let Some(to) = self.member_by_ip(*src.ip()) else {
                break;
            };
            let mac = self.joined(to).expect("a joined member").mac;
            frames::udp(&mut self.scratch, self.gw_mac, mac, dst, src, &buf[..n]);
            if let Some(j) = self.joined(to) {
                let _ = write_frame(j.tap.as_fd(), &self.scratch);
            }
            if let Some(Some(flow)) = self.udp.get_mut(slot) {
                flow.last = Instant::now();
            }
        }
        self.io_buf = buf;
    }

    fn icmp_from_member(&mut self, from: usize) {
        let eth = EthernetFrame::new_unchecked(&self.rx[..]);
        let ip = Ipv4Packet::new_unchecked(eth.payload());
        let caps = ChecksumCapabilities::ignored();
        let Ok(icmp) = Icmpv4Packet::new_checked(ip.payload()) else {
            return;
        };
        let Ok(Icmpv4Repr::EchoRequest {
            ident,
            seq_no,
            data,
        }) = Icmpv4Repr::parse(&icmp, &caps)
        else {
            return;
        };
        let (src, dst) = (ip.src_addr(), ip.dst_addr());
        let Some(j) = self.joined(from) else {
            return;
        };
        let (mac, allow_loopback) = (j.mac, j.spec.allow_host_loopback);
        if dst == self.spec.gateway {
            // The gateway is a real hop: it answers for itself.
            let reply = Icmpv4Repr::EchoReply {
                ident,
                seq_no,
                data,
            };
            frames::icmp(&mut self.scratch, self.gw_mac, mac, dst, src, &reply);
            let _ = write_frame(
                self.joined(from).expect("joined").tap.as_fd(),
                &self.scratch,
            );
            return;
        }
        let data = data.to_vec();
        let Some(IpAddr::V4(target)) = self.outbound_target(dst, allow_loopback) else {
            return;
        };
        let key = (src, dst, ident);
        let slot = match self.ping_by_key.get(&key) {
            Some(&i) => i,
            None => match ping_socket(target) {
                Ok(fd) => {
                    let slot = self
                        .pings
                        .iter()
                        .position(Option::is_none)
                        .unwrap_or_else(|| {
                            self.pings.push(None);
                            self.pings.len() - 1
                        });
                    if self
                        .epoll
                        .add(
                            &fd,
                            EpollEvent::new(EpollFlags::EPOLLIN, TAG_PING | slot as u64),
                        )
                        .is_err()
                    {
                        return;
                    }
                    self.pings[slot] = Some(PingFlow {
                        member_ip: src,
                        dst,
                        ident,
                        sock: fd,
                        last: Instant::now(),
                    });
                    self.ping_by_key.insert(key, slot);
                    slot
                }
                Err(e) => {
                    self.ping_denied(from, e);
                    return;
                }
            },
        };
        let Some(flow) = self.pings[slot].as_mut() else {
            return;
        };
        flow.last = Instant::now();
        // The kernel fills in the identifier and the checksum.
        let mut msg = vec![8u8, 0, 0, 0, 0, 0];
        msg.extend_from_slice(&seq_no.to_be_bytes());
        msg.extend_from_slice(&data);
        let _ = sock::send(flow.sock.as_fd(), &msg);
    }

    /// ICMP sockets are not allowed for us (net.ipv4.ping_group_range):
    /// the member's ping gets "communication administratively prohibited"
    /// rather than silence or a fake reply, and the log says why.
    fn ping_denied(&mut self, from: usize, err: nix::errno::Errno) {
        if !self.ping_denied_said {
            let range =
                std::fs::read_to_string("/proc/sys/net/ipv4/ping_group_range").unwrap_or_default();
            eprintln!(
                "{REEXEC_ARG}: ping from containers of network {} is answered with \
                 'communication administratively prohibited': unprivileged ICMP sockets are not \
                 allowed ({err}); net.ipv4.ping_group_range is {:?} and must include group {} \
                 (e.g. `sysctl net.ipv4.ping_group_range=\"0 2147483647\"` as root)",
                self.spec.name,
                range.trim(),
                host_gid()
            );
            self.ping_denied_said = true;
        }
        let eth = EthernetFrame::new_unchecked(&self.rx[..]);
        let ip = Ipv4Packet::new_unchecked(eth.payload());
        let caps = ChecksumCapabilities::ignored();
        let Ok(header) = Ipv4Repr::parse(&ip, &caps) else {
            return;
        };
        let payload = ip.payload();
        let data = &payload[..payload.len().min(8)];
        let repr = Icmpv4Repr::DstUnreachable {
            reason: Icmpv4DstUnreachable::CommProhibited,
            header,
            data,
        };
        let Some(j) = self.joined(from) else {
            return;
        };
        let mac = j.mac;
        let (gw, src) = (self.spec.gateway, header.src_addr);
        let mut out = std::mem::take(&mut self.scratch);
        frames::icmp(&mut out, self.gw_mac, mac, gw, src, &repr);
        if let Some(j) = self.joined(from) {
            let _ = write_frame(j.tap.as_fd(), &out);
        }
        self.scratch = out;
    }

    fn ping_replies(&mut self, slot: usize) {
        let mut buf = [0u8; 65536];
        loop {
            let Some(Some(flow)) = self.pings.get(slot) else {
                return;
            };
            let n = match sock::recv(flow.sock.as_fd(), &mut buf) {
                Ok(n) => n,
                Err(nix::errno::Errno::EAGAIN) => return,
                Err(_) => continue,
            };
            if n < 8 || buf[0] != 0 {
                continue;
            }
            let (member_ip, dst, ident) = (flow.member_ip, flow.dst, flow.ident);
            let seq_no = u16::from_be_bytes([buf[6], buf[7]]);
            let Some(to) = self.member_by_ip(member_ip) else {
                return;
            };
            let mac = self.joined(to).expect("joined").mac;
            let reply = Icmpv4Repr::EchoReply {
                ident,
                seq_no,
                data: &buf[8..n],
            };
            frames::icmp(&mut self.scratch, self.gw_mac, mac, dst, member_ip, &reply);
            let _ = write_frame(self.joined(to).expect("joined").tap.as_fd(), &self.scratch);
        }
    }

    /// Forgets idle UDP flows and pings, and connections that never joined;
    /// follows changes of the host's resolvers (a laptop changing networks).
    fn sweep(&mut self) {
        self.last_sweep = Instant::now();
        if self.spec.dns_upstream.is_empty() {
            self.upstream = dns::host_resolvers();
        }
        for i in 0..self.members.len() {
            let silent = matches!(&self.members[i], Some(m) if m.joined.is_none() && m.accepted.elapsed() > JOIN_TIMEOUT);
            if silent {
                self.remove_member(i);
            }
        }
        for i in 0..self.udp.len() {
            if self.udp[i]
                .as_ref()
                .is_some_and(|f| f.last.elapsed() > UDP_IDLE)
            {
                let f = self.udp[i].take().expect("checked");
                let _ = self.epoll.delete(&f.sock);
                self.udp_by_key.remove(&(f.src, f.dst));
            }
        }
        for i in 0..self.pings.len() {
            if self.pings[i]
                .as_ref()
                .is_some_and(|f| f.last.elapsed() > PING_IDLE)
            {
                let f = self.pings[i].take().expect("checked");
                let _ = self.epoll.delete(&f.sock);
                self.ping_by_key.remove(&(f.member_ip, f.dst, f.ident));
            }
        }
    }
}

fn is_eagain(e: &anyhow::Error) -> bool {
    e.chain()
        .any(|c| c.downcast_ref::<nix::errno::Errno>() == Some(&nix::errno::Errno::EAGAIN))
}

fn set_nonblocking(fd: BorrowedFd<'_>) -> Result<()> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let flags = fcntl(fd, FcntlArg::F_GETFL).context("reading the TAP's flags")?;
    fcntl(
        fd,
        FcntlArg::F_SETFL(OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK),
    )
    .context("making the TAP non-blocking")?;
    Ok(())
}

/// Reads one frame into `buf` (its previous contents are dropped).
/// Reads one frame: its `virtio_net_hdr` into `hdr`, the Ethernet frame
/// into `buf`. The frame's length (0: nothing usable).
fn read_frame(
    fd: BorrowedFd<'_>,
    hdr: &mut [u8; VNET_HDR_LEN],
    buf: &mut Vec<u8>,
) -> Result<usize, nix::errno::Errno> {
    buf.clear();
    buf.reserve(MAX_FRAME + 64);
    let iov = [
        libc::iovec {
            iov_base: hdr.as_mut_ptr().cast(),
            iov_len: VNET_HDR_LEN,
        },
        libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.capacity(),
        },
    ];
    // SAFETY: readv(2) writes at most each iovec's length into the header
    // and the vector's spare capacity; we only expose what it reports.
    let n = unsafe { libc::readv(fd.as_raw_fd(), iov.as_ptr(), 2) };
    if n < 0 {
        return Err(nix::errno::Errno::last());
    }
    let frame = (n as usize).saturating_sub(VNET_HDR_LEN);
    // SAFETY: the first `frame` bytes were just written by the kernel.
    unsafe { buf.set_len(frame) };
    Ok(frame)
}

/// Writes a frame the helper made (checksums complete: a zero header).
fn write_frame(fd: BorrowedFd<'_>, frame: &[u8]) -> Result<usize, nix::errno::Errno> {
    forward_frame(fd, &[0; VNET_HDR_LEN], frame)
}

/// Writes a frame with the header it came with from another member.
fn forward_frame(
    fd: BorrowedFd<'_>,
    hdr: &[u8; VNET_HDR_LEN],
    frame: &[u8],
) -> Result<usize, nix::errno::Errno> {
    let iov = [std::io::IoSlice::new(hdr), std::io::IoSlice::new(frame)];
    nix::sys::uio::writev(fd, &iov)
}

/// An unprivileged ICMP echo socket connected to `target`.
fn ping_socket(target: Ipv4Addr) -> Result<OwnedFd, nix::errno::Errno> {
    // SAFETY: socket(2) with constant arguments; the result is checked.
    let fd = unsafe {
        libc::socket(
            libc::AF_INET,
            libc::SOCK_DGRAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            libc::IPPROTO_ICMP,
        )
    };
    if fd < 0 {
        return Err(nix::errno::Errno::last());
    }
    // SAFETY: socket just returned this descriptor.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    sock::start_connect(fd.as_fd(), &SocketAddr::new(target.into(), 0))?;
    Ok(fd)
}

/// The source address of the host's route to the Internet (no packet is
/// sent: connecting a UDP socket only picks the route), else the first
/// non-loopback IPv4 address of an interface that is up.
fn primary_host_ipv4() -> Option<Ipv4Addr> {
    let probe = SocketAddr::from(([203, 0, 113, 1], 9));
    if let Ok(fd) = sock::nonblocking(&probe, SockType::Datagram) {
        if sock::start_connect(fd.as_fd(), &probe).is_ok() {
            if let Ok(SocketAddr::V4(a)) = sock::local_addr(fd.as_fd()) {
                if !a.ip().is_loopback() && !a.ip().is_unspecified() {
                    return Some(*a.ip());
                }
            }
        }
    }
    nix::ifaddrs::getifaddrs().ok()?.find_map(|ifa| {
        if !ifa.flags.contains(nix::net::if_::InterfaceFlags::IFF_UP) {
            return None;
        }
        let ip = ifa.address?.as_sockaddr_in()?.ip();
        (!ip.is_loopback()).then_some(ip)
    })
}

/// Our group as the host sees it (the helper runs in berth's user
/// namespace, where it is 0): what ping_group_range must include.
fn host_gid() -> u32 {
    let own = nix::unistd::getegid().as_raw();
    std::fs::read_to_string("/proc/self/gid_map")
        .ok()
        .and_then(|map| crate::store::host_id_of(&map, own))
        .unwrap_or(own)
}

/// The helper's idea of the host's address (what `host-gateway` reaches
/// without `allow_host_loopback`).
pub fn host_address() -> Option<Ipv4Addr> {
    primary_host_ipv4()
}

/// For tests: the helper's idea of the host's address.
pub fn host_address_for_tests() -> Option<Ipv4Addr> {
    primary_host_ipv4()
}
