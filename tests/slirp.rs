//! The user-mode networking engine (src/slirp) end to end, without `run`:
//! real network helpers, real TAP devices in real network namespaces.
//!
//! Each scenario runs as every test user (tests/common): the test process
//! re-executes itself as the user inside `unshare -Ur` (the "runner",
//! which plays the container's monitor: root in a user namespace, in the
//! host's network namespace), and the runner starts "members" with
//! `unshare -n` (each plays a container's init: it makes and configures
//! the TAP device in its own network namespace, hands the descriptor over,
//! then runs network commands the runner sends it).
//!
//! A re-executed copy enters the same `#[test]` function (`--exact`), which
//! starts with [`role`]: it does the copy's part and exits.

mod common;

use berth::slirp::addr::{Ipv4Net, Mac};
use berth::slirp::client::{socket_path, Launcher, Membership};
use berth::slirp::netns::NetnsSockets;
use berth::slirp::portfwd::{bind_all, parse_publish, Forwarder};
use berth::slirp::proto::{self, MemberSpec, NetworkSpec};
use berth::slirp::tap::{create_tap, TapConfig, MTU};
use common::{Berth, TestUser};
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};

const ROLE: &str = "BERTH_SLIRP_ROLE";
const DIR: &str = "BERTH_SLIRP_DIR";
const BERTH: &str = "BERTH_SLIRP_BERTH";
const TAP: &str = "BERTH_SLIRP_TAP";
const TEST: &str = "BERTH_SLIRP_TEST";

/// Scenarios share /dev/net/tun's mode; the one that closes it takes this
/// for writing.
static TUN_MODE: RwLock<()> = RwLock::new(());

// ---------------------------------------------------------------------------
// Roles

/// In a re-executed copy: do its part and exit. In the test process:
/// return.
fn role(scenario: fn(&Runner)) {
    match std::env::var(ROLE).as_deref() {
        Ok("runner") => {
            let runner = Runner::from_env();
            scenario(&runner);
            std::process::exit(0);
        }
        Ok("member") => {
            member_main();
            std::process::exit(0);
        }
        _ => {}
    }
}

/// What a member is told to do, one JSON message at a time.
#[derive(Serialize, Deserialize, Debug)]
#[serde(rename_all = "snake_case")]
enum Cmd {
    /// Connect, send, half-close, read everything back.
    Tcp { addr: SocketAddr, send: String },
    /// One DNS query over UDP; answers "rcode=N" and the A records.
    Dns { server: SocketAddr, name: String },
    /// One datagram, one reply.
    Udp { addr: SocketAddr, send: String },
    /// Serve TCP (echo with a prefix) and UDP (echo) on this port, in the
    /// background.
    Serve { port: u16, tag: String },
    /// One ICMP echo request (raw socket); answers "reply", "unreachable
    /// code N" or "timeout".
    Ping { addr: Ipv4Addr },
    /// Runs a program in the member's namespace; answers its stdout.
    Run { argv: Vec<String> },
    /// Starts a program in the member's namespace, in the background (it
    /// is killed when the member ends).
    Spawn { argv: Vec<String> },
}

#[derive(Serialize, Deserialize, Debug)]
#[serde(rename_all = "snake_case")]
enum Answer {
    Ok(String),
    Err(String),
}

fn member_main() {
    let sock: OwnedFd = {
        let fd: i32 = std::env::var("BERTH_SLIRP_FD").unwrap().parse().unwrap();
        // SAFETY: the runner put this socket at that descriptor for us.
        unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) }
    };
    let Ok(cfg) = std::env::var(TAP) else {
        // A bare namespace (for slirp4netns, in the benchmark).
        berth::slirp::tap::loopback_up().unwrap();
        proto::send_msg(sock.as_fd(), b"bare", None).unwrap();
        return serve_commands(sock);
    };
    let cfg: TapJson = serde_json::from_str(&cfg).unwrap();
    let tap = create_tap(&TapConfig {
        name: "eth0".into(),
        mac: cfg.mac,
        ip: cfg.ip,
        subnet: cfg.subnet,
        default_gateway: Some(cfg.subnet.gateway()),
        mtu: MTU,
    });
    match tap {
        Ok(fd) => proto::send_msg(sock.as_fd(), b"tap", Some(fd.as_fd())).unwrap(),
        Err(e) => {
            proto::send_msg(sock.as_fd(), format!("error {e:#}").as_bytes(), None).unwrap();
            return;
        }
    }
    serve_commands(sock);
}

fn serve_commands(sock: OwnedFd) {
    let mut children: Vec<Child> = Vec::new();
    loop {
        let (msg, _) = proto::recv_msg(sock.as_fd()).unwrap();
        if msg.is_empty() {
            for mut c in children {
                let _ = c.kill();
                let _ = c.wait();
            }
            return;
        }
        let cmd: Cmd = serde_json::from_slice(&msg).unwrap();
        if let Cmd::Spawn { argv } = &cmd {
            let child = Command::new(&argv[0])
                .args(&argv[1..])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn();
            let answer = match child {
                Ok(c) => {
                    let a = Answer::Ok(c.id().to_string());
                    children.push(c);
                    a
                }
                Err(e) => Answer::Err(e.to_string()),
            };
            proto::send_msg(sock.as_fd(), &serde_json::to_vec(&answer).unwrap(), None).unwrap();
            continue;
        }
        let answer = match do_cmd(cmd) {
            Ok(s) => Answer::Ok(s),
            Err(e) => Answer::Err(e),
        };
        proto::send_msg(sock.as_fd(), &serde_json::to_vec(&answer).unwrap(), None).unwrap();
    }
}

fn do_cmd(cmd: Cmd) -> Result<String, String> {
    let t = Duration::from_secs(5);
    match cmd {
        Cmd::Tcp { addr, send } => {
            let mut s = TcpStream::connect_timeout(&addr, t).map_err(|e| e.to_string())?;
            s.set_read_timeout(Some(t)).unwrap();
            s.write_all(send.as_bytes()).map_err(|e| e.to_string())?;
            s.shutdown(std::net::Shutdown::Write)
                .map_err(|e| e.to_string())?;
            let mut out = String::new();
            s.read_to_string(&mut out).map_err(|e| e.to_string())?;
            Ok(out)
        }
        Cmd::Udp { addr, send } => {
            let s = UdpSocket::bind("0.0.0.0:0").unwrap();
            s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            s.send_to(send.as_bytes(), addr)
                .map_err(|e| e.to_string())?;
            let mut buf = [0u8; 2048];
            let (n, _) = s.recv_from(&mut buf).map_err(|e| e.to_string())?;
            Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
        }
        Cmd::Dns { server, name } => dns_query(server, &name),
        Cmd::Serve { port, tag } => {
            let l = TcpListener::bind(("0.0.0.0", port)).map_err(|e| e.to_string())?;
            std::thread::spawn(move || serve_tcp(l, tag));
            let u = UdpSocket::bind(("0.0.0.0", port)).map_err(|e| e.to_string())?;
            std::thread::spawn(move || {
                let mut buf = [0u8; 65536];
                while let Ok((n, from)) = u.recv_from(&mut buf) {
                    let _ = u.send_to(&buf[..n], from);
                }
            });
            Ok("serving".into())
        }
        Cmd::Ping { addr } => ping(addr),
        Cmd::Run { argv } => {
            let out = Command::new(&argv[0])
                .args(&argv[1..])
                .output()
                .map_err(|e| e.to_string())?;
            if !out.status.success() {
                return Err(format!(
                    "{argv:?}: {}\n{}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        }
        Cmd::Spawn { .. } => unreachable!("handled by serve_commands"),
    }
}

/// Echoes every connection's bytes back after `tag`.
fn serve_tcp(l: TcpListener, tag: String) {
    for s in l.incoming() {
        let Ok(mut s) = s else { continue };
        let tag = tag.clone();
        std::thread::spawn(move || {
            let _ = s.write_all(tag.as_bytes());
            let mut buf = [0u8; 65536];
            while let Ok(n) = s.read(&mut buf) {
                if n == 0 || s.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        });
    }
}

fn dns_query(server: SocketAddr, name: &str) -> Result<String, String> {
    let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    let s = UdpSocket::bind("0.0.0.0:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut buf = [0u8; 1500];
    let mut n = 0;
    for _ in 0..3 {
        s.send_to(&q, server).map_err(|e| e.to_string())?;
        if let Ok((got, _)) = s.recv_from(&mut buf) {
            n = got;
            break;
        }
    }
    if n == 0 {
        return Err("no answer".into());
    }
    let r = &buf[..n];
    let rcode = r[3] & 0x0f;
    let ancount = u16::from_be_bytes([r[6], r[7]]);
    // Answers follow the question; ours use a name pointer (2 bytes), the
    // fake upstream's too.
    let mut pos = q.len();
    let mut addrs = Vec::new();
    for _ in 0..ancount {
        let rtype = u16::from_be_bytes([r[pos + 2], r[pos + 3]]);
        let rdlen = u16::from_be_bytes([r[pos + 10], r[pos + 11]]) as usize;
        if rtype == 1 && rdlen == 4 {
            let a = &r[pos + 12..pos + 16];
            addrs.push(Ipv4Addr::new(a[0], a[1], a[2], a[3]).to_string());
        }
        pos += 12 + rdlen;
    }
    Ok(format!("rcode={rcode} {}", addrs.join(",")))
}

fn ping(addr: Ipv4Addr) -> Result<String, String> {
    // SAFETY: socket(2) with constant arguments; checked below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_ICMP) };
    if fd < 0 {
        return Err(format!("raw socket: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: socket just returned this descriptor.
    let sock: OwnedFd = unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) };
    let mut req = vec![8u8, 0, 0, 0, 0x42, 0x42, 0, 1];
    req.extend_from_slice(b"berth ping");
    let sum = checksum(&req);
    req[2..4].copy_from_slice(&sum.to_be_bytes());
    let to = nix::sys::socket::SockaddrIn::from(std::net::SocketAddrV4::new(addr, 0));
    nix::sys::socket::sendto(
        sock.as_raw_fd(),
        &req,
        &to,
        nix::sys::socket::MsgFlags::empty(),
    )
    .map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut buf = [0u8; 2048];
    while Instant::now() < deadline {
        let mut pfd = [nix::poll::PollFd::new(
            sock.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        if nix::poll::poll(&mut pfd, nix::poll::PollTimeout::from(200u16)).unwrap_or(0) == 0 {
            continue;
        }
        let n = nix::unistd::read(sock.as_fd(), &mut buf).map_err(|e| e.to_string())?;
        let ihl = ((buf[0] & 0x0f) as usize) * 4;
        if n < ihl + 8 {
            continue;
        }
        let icmp = &buf[ihl..n];
        match icmp[0] {
            0 if icmp[4..6] == [0x42, 0x42] => return Ok("reply".into()),
            3 => return Ok(format!("unreachable code {}", icmp[1])),
            _ => continue,
        }
    }
    Ok("timeout".into())
}

fn checksum(data: &[u8]) -> u16 {
    let mut sum = 0u32;
    for c in data.chunks(2) {
        sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[derive(Serialize, Deserialize)]
struct TapJson {
    mac: Mac,
    ip: Ipv4Addr,
    subnet: Ipv4Net,
}

// ---------------------------------------------------------------------------
// The runner's side

struct Runner {
    dir: PathBuf,
    berth: PathBuf,
    test: String,
}

/// A member process and its command socket.
struct MemberProc {
    child: Child,
    sock: OwnedFd,
    spec: MemberSpec,
}

impl MemberProc {
    fn cmd(&self, cmd: Cmd) -> Result<String, String> {
        proto::send_msg(self.sock.as_fd(), &serde_json::to_vec(&cmd).unwrap(), None).unwrap();
        let (msg, _) = proto::recv_msg(self.sock.as_fd()).unwrap();
        assert!(!msg.is_empty(), "the member process ended");
        match serde_json::from_slice(&msg).unwrap() {
            Answer::Ok(s) => Ok(s),
            Answer::Err(e) => Err(e),
        }
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }
}

impl Drop for MemberProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Runner {
    fn from_env() -> Runner {
        Runner {
            dir: std::env::var_os(DIR).unwrap().into(),
            berth: std::env::var_os(BERTH).unwrap().into(),
            test: std::env::var(TEST).unwrap(),
        }
    }

    fn launcher(&self) -> Launcher {
        Launcher {
            exe: self.berth.clone(),
        }
    }

    fn network(&self, id: &str, subnet: &str) -> NetworkSpec {
        NetworkSpec::new(id, &format!("net-{id}"), subnet.parse().unwrap())
    }

    /// Starts a member process in a network namespace of its own, with a
    /// TAP configured as `tap` (none: a bare namespace with `lo` up).
    /// Returns it with its first message and descriptors.
    fn spawn_proc(&self, tap: Option<&TapJson>) -> (Child, OwnedFd, Vec<u8>, Vec<OwnedFd>) {
        let (ours, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .unwrap();
        let mut cmd = Command::new("unshare");
        cmd.arg("-n")
            .arg(std::env::current_exe().unwrap())
            .args([
                "--exact",
                &self.test,
                "--include-ignored",
                "--nocapture",
                "--test-threads=1",
                "-q",
            ])
            .env(ROLE, "member")
            .env("BERTH_SLIRP_FD", "3")
            .stdout(Stdio::null());
        if let Some(tap) = tap {
            cmd.env(TAP, serde_json::to_string(tap).unwrap());
        }
        let raw = theirs.as_raw_fd();
        // SAFETY: dup2 is async-signal-safe; it runs between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if libc::dup2(raw, 3) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("starting unshare -n");
        drop(theirs);
        let (msg, fds) = proto::recv_msg(ours.as_fd()).unwrap();
        (child, ours, msg, fds)
    }

    /// Starts a member process for `net` at host number `n`. Returns the
    /// process and its TAP, or the error it met making the TAP.
    fn spawn_member(
        &self,
        net: &NetworkSpec,
        n: u8,
        name: &str,
    ) -> Result<(MemberProc, OwnedFd), String> {
        let ip = Ipv4Addr::from(u32::from(net.subnet.network()) + u32::from(n));
        let mac = Mac::for_ip(ip);
        let (child, sock, msg, mut fds) = self.spawn_proc(Some(&TapJson {
            mac,
            ip,
            subnet: net.subnet,
        }));
        let spec = MemberSpec {
            container_id: format!("{n:02x}{:02x}{}", name.len(), "ab".repeat(30)),
            name: name.into(),
            aliases: vec![format!("{name}-alias")],
            ip,
            mac,
            allow_host_loopback: false,
            dns_upstream: vec![],
        };
        let proc_ = MemberProc { child, sock, spec };
        if msg.starts_with(b"error ") {
            return Err(String::from_utf8_lossy(&msg[6..]).into_owned());
        }
        Ok((proc_, fds.pop().expect("the member's TAP")))
    }

    /// A process in a bare network namespace (only `lo`).
    fn bare(&self) -> MemberProc {
        let (child, sock, msg, _) = self.spawn_proc(None);
        assert_eq!(msg, b"bare");
        let ip = Ipv4Addr::new(10, 0, 2, 100);
        let spec = MemberSpec {
            container_id: "bare".into(),
            name: "bare".into(),
            aliases: vec![],
            ip,
            mac: Mac::for_ip(ip),
            allow_host_loopback: false,
            dns_upstream: vec![],
        };
        MemberProc { child, sock, spec }
    }

    /// A member joined to `net`.
    fn member(
        &self,
        net: &NetworkSpec,
        n: u8,
        name: &str,
        allow_loopback: bool,
    ) -> (MemberProc, Membership) {
        let (mut p, tap) = self
            .spawn_member(net, n, name)
            .expect("making the member's TAP");
        p.spec.allow_host_loopback = allow_loopback;
        let m = Membership::attach(&self.dir, net, &p.spec, tap, &self.launcher())
            .unwrap_or_else(|e| panic!("attaching {name}: {e:#}"));
        (p, m)
    }
}

/// A TCP server on the host that answers every connection with `tag`
/// followed by what it received.
fn host_server(addr: &str) -> (SocketAddr, Arc<AtomicUsize>) {
    let l = TcpListener::bind(addr).unwrap();
    let local = l.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            c.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || {
                let mut got = Vec::new();
                let _ = s.read_to_end(&mut got);
                let _ = s.write_all(format!("host:{}", String::from_utf8_lossy(&got)).as_bytes());
            });
        }
    });
    (local, count)
}

fn host_address() -> Ipv4Addr {
    berth::slirp::netd::host_address_for_tests().expect("the host has a non-loopback IPv4 address")
}

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

// ---------------------------------------------------------------------------
// The test process's side

/// Opens /dev/net/tun as distributions ship it (the test setup does so).
fn open_tun_device() {
    if common::running_as_root() {
        let _ = std::fs::set_permissions("/dev/net/tun", std::fs::Permissions::from_mode(0o666));
    }
}

/// A copy of this test binary the test users can execute.
fn test_binary_copy(berth: &Berth) -> PathBuf {
    static COPY: OnceLock<PathBuf> = OnceLock::new();
    COPY.get_or_init(|| {
        let bin_dir = berth.program().parent().unwrap();
        let copy = bin_dir.join("slirp-tests");
        common::install_executable(&std::env::current_exe().unwrap(), &copy);
        copy
    })
    .clone()
}

/// Runs scenario `test` as `user` in a runner process.
fn run_scenario(user: &TestUser, test: &str) -> std::process::Output {
    let berth = Berth::new(user);
    let run_dir = berth.scratch_dir();
    let exe = test_binary_copy(&berth);
    let mut cmd = berth.user_command(
        Path::new("/usr/bin/unshare"),
        &[
            "-Ur".as_ref(),
            exe.as_os_str(),
            "--exact".as_ref(),
            test.as_ref(),
            "--include-ignored".as_ref(),
            "--nocapture".as_ref(),
            "--test-threads=1".as_ref(),
        ],
    );
    for (k, v) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("BERTH_BENCH_") {
            cmd.env(k, v);
        }
    }
    cmd.env(ROLE, "runner")
        .env(DIR, &run_dir)
        .env(BERTH, berth.program())
        .env(TEST, test);
    // The benchmark runs as long as it was asked to; scenarios get the
    // harness's timeout.
    let out = if test == "bench_net" {
        cmd.stdin(Stdio::null())
            .output()
            .expect("running the benchmark")
    } else {
        common::run(cmd)
    };
    // What the helpers said, for failures.
    if let Ok(entries) = std::fs::read_dir(&run_dir) {
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().ends_with(".log") {
                let log = std::fs::read_to_string(e.path()).unwrap_or_default();
                if !log.is_empty() {
                    eprintln!("{}:\n{log}", e.path().display());
                }
            }
        }
    }
    out
}

/// Runs scenario `test` as every test user and checks it passed.
fn each_user(test: &str) {
    open_tun_device();
    let _shared = TUN_MODE.read().unwrap_or_else(|e| e.into_inner());
    for user in common::users() {
        eprintln!("== {test} as {}", user.name);
        let out = run_scenario(&user, test);
        common::assert_success(&out, &format!("scenario {test} as {}", user.name));
    }
}

// ---------------------------------------------------------------------------
// Scenarios

#[test]
fn outbound_tcp_host_gateway_and_loopback_boundary() {
    role(|r| {
        let net = r.network("a1b2c3d4e5f6", "10.91.0.0/24");
        let (any, _) = host_server("0.0.0.0:0");
        let (lo, lo_count) = host_server("127.0.0.1:0");
        let host = host_address();
        let (a, ma) = r.member(&net, 2, "plain", false);
        let (b, _mb) = r.member(&net, 3, "trusted", true);
        assert_eq!(ma.joined().host_gateway, Ipv4Addr::new(10, 91, 0, 254));
        let hg = ma.joined().host_gateway;
        eprintln!("network helper pid {}", ma.joined().helper_pid);

        // Outbound NAT to the host's own address.
        let got = a.cmd(Cmd::Tcp {
            addr: SocketAddr::new(host.into(), any.port()),
            send: "hi".into(),
        });
        assert_eq!(got, Ok("host:hi".into()), "to the host's address {host}");
        // The host address reaches the host's non-loopback services.
        let got = a.cmd(Cmd::Tcp {
            addr: SocketAddr::new(hg.into(), any.port()),
            send: "via".into(),
        });
        assert_eq!(got, Ok("host:via".into()), "via host-gateway");
        // A service bound only to 127.0.0.1 is not reachable by default...
        let got = a.cmd(Cmd::Tcp {
            addr: SocketAddr::new(hg.into(), lo.port()),
            send: "x".into(),
        });
        assert!(
            got.as_ref().is_err_and(|e| e.contains("refused")),
            "loopback-only service reached: {got:?}"
        );
        assert_eq!(lo_count.load(Ordering::SeqCst), 0);
        // ... nor by addressing 127.0.0.1 through the gateway.
        let got = a.cmd(Cmd::Tcp {
            addr: SocketAddr::new(Ipv4Addr::LOCALHOST.into(), lo.port()),
            send: "x".into(),
        });
        assert!(got.is_err(), "{got:?}");
        // ... but is with allow_host_loopback.
        let got = b.cmd(Cmd::Tcp {
            addr: SocketAddr::new(hg.into(), lo.port()),
            send: "lo".into(),
        });
        assert_eq!(got, Ok("host:lo".into()), "with allow_host_loopback");
        assert_eq!(lo_count.load(Ordering::SeqCst), 1);
        // A closed host port is a prompt RST, not a hang.
        let closed = TcpListener::bind("0.0.0.0:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let t = Instant::now();
        let got = a.cmd(Cmd::Tcp {
            addr: SocketAddr::new(host.into(), closed),
            send: "x".into(),
        });
        assert!(
            got.as_ref().is_err_and(|e| e.contains("refused")),
            "{got:?}"
        );
        assert!(t.elapsed() < Duration::from_secs(3));
        // Member to member through the switch, by address.
        b.cmd(Cmd::Serve {
            port: 7070,
            tag: "b:".into(),
        })
        .unwrap();
        let got = a.cmd(Cmd::Tcp {
            addr: SocketAddr::new(b.spec.ip.into(), 7070),
            send: "peer".into(),
        });
        assert_eq!(got, Ok("b:peer".into()));
        // ICMP: the gateway answers for itself; elsewhere, where
        // unprivileged ICMP sockets are not allowed, a clear prohibition.
        assert_eq!(a.cmd(Cmd::Ping { addr: net.gateway }), Ok("reply".into()));
        let range = std::fs::read_to_string("/proc/sys/net/ipv4/ping_group_range").unwrap();
        let denied = {
            let f: Vec<i64> = range
                .split_whitespace()
                .map(|x| x.parse().unwrap())
                .collect();
            let gid = i64::from(nix::unistd::getegid().as_raw());
            !(f[0] <= gid && gid <= f[1])
        };
        let got = a.cmd(Cmd::Ping { addr: host }).unwrap();
        if denied {
            assert_eq!(
                got, "unreachable code 13",
                "ping with ping_group_range {range:?}"
            );
        } else {
            assert_eq!(got, "reply");
        }
    });
    each_user("outbound_tcp_host_gateway_and_loopback_boundary");
}

/// A fake upstream resolver on the host's loopback: A queries for names
/// starting with "web" get NXDOMAIN, all others 10.9.8.7.
fn fake_upstream() -> SocketAddr {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = s.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while let Ok((n, from)) = s.recv_from(&mut buf) {
            let q = &buf[..n];
            let name_start = 13;
            let nx = q.get(name_start..name_start + 3) == Some(b"web");
            let mut r = q.to_vec();
            r[2] |= 0x80;
            r[3] = 0x80 | if nx { 3 } else { 0 };
            if !nx {
                r[7] = 1;
                r.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 9, 8, 7]);
            }
            let _ = s.send_to(&r, from);
        }
    });
    addr
}

#[test]
fn dns_names_per_network_and_forwarding() {
    role(|r| {
        let upstream = fake_upstream();
        let mut n1 = r.network("0a0b0c0d0e0f", "10.92.0.0/24");
        n1.dns_upstream = vec![upstream];
        let mut n2 = r.network("1a1b1c1d1e1f", "10.93.0.0/24");
        n2.dns_upstream = vec![upstream];
        let (web, _m1) = r.member(&n1, 2, "web", false);
        let (client, _m2) = r.member(&n1, 3, "client", false);
        let (other, _m3) = r.member(&n2, 2, "other", false);
        let dns1 = SocketAddr::new(n1.gateway.into(), 53);
        let dns2 = SocketAddr::new(n2.gateway.into(), 53);

        // Names of members of this network: name, alias, short id.
        assert_eq!(
            client.cmd(Cmd::Dns {
                server: dns1,
                name: "web".into()
            }),
            Ok("rcode=0 10.92.0.2".into())
        );
        assert_eq!(
            client.cmd(Cmd::Dns {
                server: dns1,
                name: "WEB-alias".into()
            }),
            Ok("rcode=0 10.92.0.2".into())
        );
        let short = web.spec.container_id[..12].to_string();
        assert_eq!(
            client.cmd(Cmd::Dns {
                server: dns1,
                name: short
            }),
            Ok("rcode=0 10.92.0.2".into())
        );
        // Everything else is forwarded to the upstream (on the host's
        // loopback, as systemd-resolved's 127.0.0.53).
        assert_eq!(
            client.cmd(Cmd::Dns {
                server: dns1,
                name: "example.test".into()
            }),
            Ok("rcode=0 10.9.8.7".into())
        );
        // Another network does not see them: forwarded, and the upstream
        // does not know "web".
        assert_eq!(
            other.cmd(Cmd::Dns {
                server: dns2,
                name: "web".into()
            }),
            Ok("rcode=3 ".into())
        );
        assert_eq!(
            other.cmd(Cmd::Dns {
                server: dns2,
                name: "other".into()
            }),
            Ok("rcode=0 10.93.0.2".into())
        );
        // Reaching a member by name: what a web app and its database do.
        web.cmd(Cmd::Serve {
            port: 8080,
            tag: "web:".into(),
        })
        .unwrap();
        let got = client.cmd(Cmd::Tcp {
            addr: SocketAddr::new(Ipv4Addr::new(10, 92, 0, 2).into(), 8080),
            send: "GET".into(),
        });
        assert_eq!(got, Ok("web:GET".into()));
        // Two networks never see each other's traffic.
        let got = other.cmd(Cmd::Tcp {
            addr: SocketAddr::new(Ipv4Addr::new(10, 92, 0, 2).into(), 8080),
            send: "x".into(),
        });
        assert!(got.is_err(), "{got:?}");
        // Outbound UDP through the NAT (to the upstream directly).
        let echo = UdpSocket::bind("0.0.0.0:0").unwrap();
        let port = echo.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while let Ok((n, from)) = echo.recv_from(&mut buf) {
                let _ = echo.send_to(&buf[..n], from);
            }
        });
        let got = client.cmd(Cmd::Udp {
            addr: SocketAddr::new(host_address().into(), port),
            send: "udp!".into(),
        });
        assert_eq!(got, Ok("udp!".into()));
    });
    each_user("dns_names_per_network_and_forwarding");
}

#[test]
fn internal_network_has_no_outbound() {
    role(|r| {
        let (any, count) = host_server("0.0.0.0:0");
        let mut net = r.network("2a2b2c2d2e2f", "10.94.0.0/24");
        net.internal = true;
        net.dns_upstream = vec![fake_upstream()];
        let (a, m) = r.member(&net, 2, "a", false);
        let (b, _mb) = r.member(&net, 3, "b", false);
        let dns = SocketAddr::new(net.gateway.into(), 53);
        let hg = m.joined().host_gateway;
        let got = a.cmd(Cmd::Tcp {
            addr: SocketAddr::new(host_address().into(), any.port()),
            send: "x".into(),
        });
        assert!(got.is_err(), "{got:?}");
        let got = a.cmd(Cmd::Tcp {
            addr: SocketAddr::new(hg.into(), any.port()),
            send: "x".into(),
        });
        assert!(got.is_err(), "{got:?}");
        assert_eq!(count.load(Ordering::SeqCst), 0);
        // Member names resolve; other names are refused, not forwarded.
        assert_eq!(
            a.cmd(Cmd::Dns {
                server: dns,
                name: "b".into()
            }),
            Ok("rcode=0 10.94.0.3".into())
        );
        assert_eq!(
            a.cmd(Cmd::Dns {
                server: dns,
                name: "example.test".into()
            }),
            Ok("rcode=5 ".into())
        );
        b.cmd(Cmd::Serve {
            port: 9090,
            tag: "b:".into(),
        })
        .unwrap();
        let got = a.cmd(Cmd::Tcp {
            addr: SocketAddr::new(Ipv4Addr::new(10, 94, 0, 3).into(), 9090),
            send: "in".into(),
        });
        assert_eq!(got, Ok("b:in".into()));
    });
    each_user("internal_network_has_no_outbound");
}

#[test]
fn helper_lifecycle_kill_and_reconnect() {
    role(|r| {
        let (any, _) = host_server("0.0.0.0:0");
        let target = SocketAddr::new(host_address().into(), any.port());
        let net = r.network("3a3b3c3d3e3f", "10.95.0.0/24");
        let (a, mut ma) = r.member(&net, 2, "a", false);
        let pid = ma.joined().helper_pid;
        assert!(pid_alive(pid));
        assert_eq!(
            a.cmd(Cmd::Tcp {
                addr: target,
                send: "1".into()
            }),
            Ok("host:1".into())
        );

        // A connection whose host side never answers (a black-holed
        // address) leaves the helper asleep, not spinning.
        let cpu = |pid: u32| -> u64 {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
            let f: Vec<&str> = stat.rsplit_once(") ").unwrap().1.split(' ').collect();
            f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
        };
        let before = cpu(pid);
        let got = a.cmd(Cmd::Tcp {
            addr: "198.51.100.7:80".parse().unwrap(),
            send: "x".into(),
        });
        assert!(got.is_err(), "{got:?}");
        let used = cpu(pid) - before;
        assert!(
            used < 50,
            "the helper used {used} clock ticks of CPU in 5 s waiting for a connect"
        );

        // A member rejoining a live helper with its address replaces itself.
        ma.reconnect().unwrap();
        assert_eq!(ma.joined().helper_pid, pid);
        // Another container cannot take that address.
        let (c, tap) = r.spawn_member(&net, 2, "impostor").unwrap();
        let err = Membership::attach(&r.dir, &net, &c.spec, tap, &r.launcher())
            .err()
            .expect("a clash");
        assert!(
            format!("{err:#}").contains("already used by container a"),
            "{err:#}"
        );

        // SIGKILL: the monitor sees its connection end, rejoins a new helper.
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        wait_until("the connection to see the helper die", || ma.helper_gone());
        let got = a.cmd(Cmd::Tcp {
            addr: target,
            send: "dead".into(),
        });
        assert!(got.is_err(), "{got:?}");
        ma.reconnect().unwrap();
        let pid2 = ma.joined().helper_pid;
        assert_ne!(pid2, pid);
        assert_eq!(
            a.cmd(Cmd::Tcp {
                addr: target,
                send: "2".into()
            }),
            Ok("host:2".into())
        );

        // A second member, then both leave: the helper exits and removes
        // its socket.
        let (_b, mb) = r.member(&net, 3, "b", false);
        assert_eq!(mb.joined().helper_pid, pid2);
        drop(ma);
        std::thread::sleep(Duration::from_millis(100));
        assert!(pid_alive(pid2), "the helper left while a member remained");
        drop(mb);
        wait_until("the helper to exit", || !pid_alive(pid2));
        assert!(!socket_path(&r.dir, &net.id).exists());
        // The next member starts a new one, even from a monitor that blocks
        // the signals it reads from a signalfd: the helper still stops on
        // SIGTERM (and its stale socket is no obstacle afterwards).
        let mut term = nix::sys::signal::SigSet::empty();
        term.add(nix::sys::signal::Signal::SIGTERM);
        term.thread_block().unwrap();
        let (_c2, mut mc) = r.member(&net, 4, "c", false);
        term.thread_unblock().unwrap();
        let pid3 = mc.joined().helper_pid;
        assert_ne!(pid3, pid2);
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid3 as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        wait_until("the helper to stop on SIGTERM", || !pid_alive(pid3));
        mc.reconnect().unwrap();
        assert_ne!(mc.joined().helper_pid, pid3);
        drop(a);
    });
    each_user("helper_lifecycle_kill_and_reconnect");
}

fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn port_forwarder_200_connections_without_leaks() {
    role(|r| {
        let net = r.network("4a4b4c4d4e4f", "10.96.0.0/24");
        // The forwarder needs no helper: only the container's namespace.
        // The TAP lives while a descriptor of it is open (the monitor's).
        let (web, _tap) = r.spawn_member(&net, 2, "web").unwrap();
        web.cmd(Cmd::Serve {
            port: 8080,
            tag: "".into(),
        })
        .unwrap();

        let before = fd_count();
        let mut maps = parse_publish("127.0.0.1::8080").unwrap();
        maps.extend(parse_publish("127.0.0.1::8080/udp").unwrap());
        let listeners = bind_all(&maps).unwrap();
        let tcp_port = listeners[0].host_port();
        let udp_port = listeners[1].host_port();
        // A port in use fails with Docker's wording.
        let err = bind_all(&parse_publish(&format!("127.0.0.1:{tcp_port}:80")).unwrap())
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            format!("Error starting userland proxy: listen tcp4 127.0.0.1:{tcp_port}: bind: address already in use")
        );
        // A privileged port names the sysctl (we are not root on the host).
        let start = berth::slirp::portfwd::unprivileged_port_start().unwrap();
        if start > 80 {
            let err = bind_all(&parse_publish("127.0.0.1:80:80").unwrap())
                .err()
                .unwrap()
                .to_string();
            assert!(
                err.contains("net.ipv4.ip_unprivileged_port_start")
                    && err.contains(&format!("is {start}")),
                "{err}"
            );
        }

        let fwd = Forwarder::new(
            listeners,
            web.spec.ip.into(),
            Some(NetnsSockets::of_pid(web.pid()).unwrap()),
        )
        .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let open = Arc::new(AtomicUsize::new(usize::MAX));
        let driver = {
            let (stop, open) = (stop.clone(), open.clone());
            std::thread::spawn(move || {
                let mut fwd = fwd;
                while !stop.load(Ordering::SeqCst) {
                    let timeout = fwd.timeout().map_or(50, |t| t.as_millis().min(50) as u16);
                    let mut pfd = [nix::poll::PollFd::new(
                        fwd.as_fd(),
                        nix::poll::PollFlags::POLLIN,
                    )];
                    let _ = nix::poll::poll(&mut pfd, nix::poll::PollTimeout::from(timeout));
                    fwd.run_once().unwrap();
                    open.store(fwd.connections(), Ordering::SeqCst);
                }
                drop(fwd);
            })
        };
        // 200 connections open at once, each echoing its own payload.
        let mut clients = Vec::new();
        for _ in 0..200 {
            clients.push(TcpStream::connect(("127.0.0.1", tcp_port)).unwrap());
        }
        for (i, c) in clients.iter_mut().enumerate() {
            c.write_all(format!("conn {i} ").repeat(100).as_bytes())
                .unwrap();
            c.shutdown(std::net::Shutdown::Write).unwrap();
        }
        for (i, c) in clients.iter_mut().enumerate() {
            c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut got = String::new();
            c.read_to_string(&mut got).unwrap();
            assert_eq!(got, format!("conn {i} ").repeat(100), "connection {i}");
        }
        drop(clients);
        // UDP request/response.
        let u = UdpSocket::bind("127.0.0.1:0").unwrap();
        u.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        u.send_to(b"query", ("127.0.0.1", udp_port)).unwrap();
        let mut buf = [0u8; 64];
        let (n, from) = u.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"query");
        assert_eq!(from.port(), udp_port);
        drop(u);
        wait_until("the forwarder to close every TCP connection", || {
            open.load(Ordering::SeqCst) == 1
        });
        stop.store(true, Ordering::SeqCst);
        driver.join().unwrap();
        assert_eq!(fd_count(), before, "descriptors leaked");
    });
    each_user("port_forwarder_200_connections_without_leaks");
}

#[test]
fn tun_device_not_openable_is_explained() {
    role(|r| {
        let net = r.network("5a5b5c5d5e5f", "10.97.0.0/24");
        let err = r
            .spawn_member(&net, 2, "x")
            .err()
            .expect("the TAP cannot be made");
        assert!(err.contains("/dev/net/tun"), "{err}");
        assert!(err.contains("its mode is 0600"), "{err}");
        assert!(err.contains("chmod 0666 /dev/net/tun"), "{err}");
        assert!(err.contains("--network host"), "{err}");
    });
    if !common::running_as_root() {
        common::skip_or_fail("closing /dev/net/tun to the test users needs root");
        return;
    }
    // A user that is not root cannot open a 0600 device: as on a machine
    // whose administrator never opened it up.
    let user = common::users().pop().unwrap();
    let _exclusive = TUN_MODE.write().unwrap_or_else(|e| e.into_inner());
    std::fs::set_permissions("/dev/net/tun", std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = run_scenario(&user, "tun_device_not_openable_is_explained");
    open_tun_device();
    common::assert_success(&out, "the /dev/net/tun error scenario");
}

// ---------------------------------------------------------------------------
// Benchmark (bench/net.sh runs it: `cargo test --release --test slirp
// bench_net -- --ignored --nocapture`)

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Gbit/s received, from `iperf3 -J`.
fn iperf_gbps(json: &str) -> f64 {
    let start = json
        .find('{')
        .unwrap_or_else(|| panic!("iperf3 -J printed no JSON: {json}"));
    let v: serde_json::Value =
        serde_json::from_str(&json[start..]).unwrap_or_else(|e| panic!("iperf3 -J: {e}: {json}"));
    v["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .unwrap_or_else(|| panic!("no throughput in {json}"))
        / 1e9
}

fn iperf_args(addr: Ipv4Addr, port: u16, secs: u64, reverse: bool) -> Vec<String> {
    let mut v: Vec<String> = [
        "iperf3",
        "-c",
        &addr.to_string(),
        "-p",
        &port.to_string(),
        "-t",
        &secs.to_string(),
        "-J",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if reverse {
        v.push("-R".into());
    }
    v
}

/// Runs an iperf3 client until the server is free (it serves one test
/// at a time and says "busy" while it finishes the previous one).
fn iperf_retry(mut run: impl FnMut() -> String) -> f64 {
    for _ in 0..20 {
        let out = run();
        if out.contains("the server is busy") {
            std::thread::sleep(Duration::from_millis(250));
            continue;
        }
        return iperf_gbps(&out);
    }
    panic!("the iperf3 server stayed busy");
}

fn host_iperf(addr: Ipv4Addr, port: u16, secs: u64, reverse: bool) -> f64 {
    let args = iperf_args(addr, port, secs, reverse);
    iperf_retry(|| {
        let out = Command::new(&args[0]).args(&args[1..]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    })
}

fn member_iperf(m: &MemberProc, addr: Ipv4Addr, port: u16, secs: u64, reverse: bool) -> f64 {
    iperf_retry(|| {
        match m.cmd(Cmd::Run {
            argv: iperf_args(addr, port, secs, reverse),
        }) {
            Ok(out) => out,
            Err(e) => e,
        }
    })
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap()
}

fn host_iperf_server(port: u16) -> Child {
    let c = Command::new("iperf3")
        .args(["-s", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Listening once the port cannot be bound (a probe connection would
    // keep the one-test-at-a-time server busy).
    wait_until("iperf3 -s on the host", || {
        TcpListener::bind(("0.0.0.0", port)).is_err()
    });
    c
}

#[test]
#[ignore = "a benchmark: bench/net.sh runs it"]
fn bench_net() {
    role(|r| {
        let secs = env_num("BERTH_BENCH_SECONDS", 3);
        let runs = env_num("BERTH_BENCH_RUNS", 3) as usize;
        let host = host_address();
        let net = r.network("6a6b6c6d6e6f", "10.98.0.0/24");
        let (a, ma) = r.member(&net, 2, "a", false);
        let (b, _mb) = r.member(&net, 3, "b", false);
        let hg = ma.joined().host_gateway;
        eprintln!("network helper pid {}", ma.joined().helper_pid);
        a.cmd(Cmd::Spawn {
            argv: vec!["iperf3".into(), "-s".into(), "-p".into(), "5201".into()],
        })
        .unwrap();
        std::thread::sleep(Duration::from_millis(300)); // iperf3 -s starting
        let mut lo_srv = host_iperf_server(15201);
        let mut any_srv = host_iperf_server(15202);

        // -p 127.0.0.1::5201 into member a.
        let listeners = bind_all(&parse_publish("127.0.0.1::5201").unwrap()).unwrap();
        let fwd_port = listeners[0].host_port();
        let fwd = Forwarder::new(
            listeners,
            a.spec.ip.into(),
            Some(NetnsSockets::of_pid(a.pid()).unwrap()),
        )
        .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let driver = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut fwd = fwd;
                while !stop.load(Ordering::SeqCst) {
                    let timeout = fwd.timeout().map_or(50, |t| t.as_millis().min(50) as u16);
                    let mut pfd = [nix::poll::PollFd::new(
                        fwd.as_fd(),
                        nix::poll::PollFlags::POLLIN,
                    )];
                    let _ = nix::poll::poll(&mut pfd, nix::poll::PollTimeout::from(timeout));
                    fwd.run_once().unwrap();
                }
            })
        };

        // slirp4netns in a bare namespace, as Podman runs it.
        let slirp = Command::new("slirp4netns")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        let mut slirp_proc = None;
        let x = slirp.then(|| {
            let x = r.bare();
            let child = Command::new("slirp4netns")
                .args([
                    "--configure",
                    "--mtu=65520",
                    "--disable-host-loopback",
                    &x.pid().to_string(),
                    "tap0",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            slirp_proc = Some(child);
            wait_until("slirp4netns to configure tap0", || {
                x.cmd(Cmd::Run {
                    argv: vec!["cat".into(), "/proc/net/route".into()],
                })
                .is_ok_and(|s| s.contains("tap0"))
            });
            x
        });

        let mut lo = vec![];
        let mut fwd_in = vec![];
        let mut fwd_out = vec![];
        let mut gw_out = vec![];
        let mut gw_in = vec![];
        let mut hg_out = vec![];
        let mut slirp_out = vec![];
        let mut slirp_in = vec![];
        let mut c2c = vec![];
        // BERTH_BENCH_ONLY=gw_out,slirp_out,... measures only those.
        let only = std::env::var("BERTH_BENCH_ONLY").unwrap_or_default();
        let want = |k: &str| only.is_empty() || only.split(',').any(|o| o == k) || k == "lo";
        for _ in 0..runs {
            lo.push(host_iperf(Ipv4Addr::LOCALHOST, 15201, secs, false));
            if want("fwd_in") {
                fwd_in.push(host_iperf(Ipv4Addr::LOCALHOST, fwd_port, secs, false));
            }
            if want("fwd_out") {
                fwd_out.push(host_iperf(Ipv4Addr::LOCALHOST, fwd_port, secs, true));
            }
            if want("gw_out") {
                gw_out.push(member_iperf(&a, host, 15202, secs, false));
            }
            if want("gw_in") {
                gw_in.push(member_iperf(&a, host, 15202, secs, true));
            }
            if want("hg_out") {
                hg_out.push(member_iperf(&a, hg, 15202, secs, false));
            }
            if let Some(x) = &x {
                if want("slirp_out") {
                    slirp_out.push(member_iperf(x, host, 15202, secs, false));
                }
                if want("slirp_in") {
                    slirp_in.push(member_iperf(x, host, 15202, secs, true));
                }
            }
            if want("c2c") {
                c2c.push(member_iperf(&b, a.spec.ip, 5201, secs, false));
            }
        }
        let lo = median(&mut lo);
        let row = |what: &str, v: &mut Vec<f64>, base: Option<(f64, &str)>| {
            if v.is_empty() {
                println!("{what:<58} (not measured)");
                return 0.0;
            }
            let m = median(v);
            match base {
                Some((b, name)) => println!("{what:<58} {m:7.2} Gbit/s  {:5.2}x {name}", m / b),
                None => println!("{what:<58} {m:7.2} Gbit/s"),
            }
            m
        };
        println!("\nmedians of {runs} runs of {secs} s (iperf3, one TCP stream)");
        println!("{:<58} {lo:7.2} Gbit/s", "host loopback (floor)");
        row(
            "host -> container through -p (splice)",
            &mut fwd_in,
            Some((lo, "loopback")),
        );
        row(
            "container -> host through -p (splice)",
            &mut fwd_out,
            Some((lo, "loopback")),
        );
        let slirp_o = if slirp_out.is_empty() {
            None
        } else {
            Some(median(&mut slirp_out.clone()))
        };
        let slirp_i = if slirp_in.is_empty() {
            None
        } else {
            Some(median(&mut slirp_in.clone()))
        };
        row(
            "container -> host address, berth gateway",
            &mut gw_out,
            slirp_o.map(|s| (s, "slirp4netns")),
        );
        row(
            "host address -> container (-R), berth gateway",
            &mut gw_in,
            slirp_i.map(|s| (s, "slirp4netns")),
        );
        row(
            "container -> host-gateway address, berth gateway",
            &mut hg_out,
            None,
        );
        row(
            "container -> host address, slirp4netns --mtu=65520",
            &mut slirp_out,
            None,
        );
        row(
            "host address -> container (-R), slirp4netns",
            &mut slirp_in,
            None,
        );
        row(
            "container -> container, one network (berth switch)",
            &mut c2c,
            Some((lo, "loopback")),
        );

        // The helper's memory with ten members.
        drop(ma);
        let big = r.network("7a7b7c7d7e7f", "10.99.0.0/24");
        let mut ten = Vec::new();
        for i in 0..10u8 {
            ten.push(r.member(&big, 2 + i, &format!("m{i}"), false));
        }
        let pid = ten[0].1.joined().helper_pid;
        // Some traffic first, so the figure is not of an idle process only.
        let _ = ten[1].0.cmd(Cmd::Dns {
            server: SocketAddr::new(big.gateway.into(), 53),
            name: "m0".into(),
        });
        let rss = rss_kib(pid);
        println!(
            "{:<58} {:7.2} MiB (goal <= 8)",
            "network helper resident memory, 10 members",
            rss as f64 / 1024.0
        );

        stop.store(true, Ordering::SeqCst);
        driver.join().unwrap();
        let _ = lo_srv.kill();
        let _ = any_srv.kill();
        let _ = lo_srv.wait();
        let _ = any_srv.wait();
        if let Some(mut s) = slirp_proc {
            let _ = s.kill();
            let _ = s.wait();
        }
    });
    let user = common::main_user();
    open_tun_device();
    let out = run_scenario(&user, "bench_net");
    print!("{}", common::stdout(&out));
    common::assert_success(&out, "the network benchmark");
}

#[test]
fn a_helper_that_cannot_start_says_so() {
    role(|r| {
        // The helper is forked without waiting for its exec: an exec that
        // fails still reaches the member as an error, not a hang.
        let net = r.network("6a6b6c6d6e6f", "10.89.0.0/24");
        let (p, tap) = r
            .spawn_member(&net, 2, "x")
            .expect("making the member's TAP");
        let broken = Launcher {
            exe: r.dir.join("no-such-berth"),
        };
        let err = Membership::attach(&r.dir, &net, &p.spec, tap, &broken)
            .err()
            .expect("no helper can start");
        let text = format!("{err:#}");
        assert!(text.contains("cannot execute"), "{text}");
        assert!(text.contains("net-6a6b6c6d6e6f"), "{text}");
    });
    each_user("a_helper_that_cannot_start_says_so");
}
