//! Binding the host side of published ports, before the container starts,
//! so that a port in use fails `run` with Docker's wording and nothing
//! left behind. A wildcard address gets an IPv4 and an IPv6 listener, as
//! Docker's; random ports come from the kernel's ephemeral range.

use super::spec::{PortMapping, Proto};
use crate::slirp::sock;
use anyhow::Result;
use nix::sys::socket::{
    bind, listen, setsockopt, sockopt, Backlog, SockType, SockaddrIn, SockaddrIn6,
};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

/// The host sockets of one published port.
pub struct Listener {
    /// The mapping with the port actually bound in `host_ports` (one port).
    pub mapping: PortMapping,
    /// The bound sockets and their addresses (IPv4, then IPv6 for a
    /// wildcard).
    pub sockets: Vec<(SocketAddr, OwnedFd)>,
}

impl Listener {
    pub fn host_port(&self) -> u16 {
        self.mapping.host_ports.0
    }
}

/// Binds every mapping; on the first failure, everything bound so far is
/// closed and the error says what was in the way.
pub fn bind_all(mappings: &[PortMapping]) -> Result<Vec<Listener>> {
    mappings.iter().map(bind_one).collect()
}

/// Binds one mapping (its first free port for a range, a random one when
/// none is given).
pub fn bind_one(m: &PortMapping) -> Result<Listener> {
    let addrs: Vec<IpAddr> = match m.host_ip {
        Some(ip) => vec![ip],
        None => vec![Ipv4Addr::UNSPECIFIED.into(), Ipv6Addr::UNSPECIFIED.into()],
    };
    let wildcard = m.host_ip.is_none();
    if m.is_random() {
        // The kernel picks the IPv4 port; the IPv6 socket must get the same
        // one, which can be taken there: try a few times.
        let mut last = None;
        for _ in 0..16 {
            match bind_port(&addrs, 0, m.proto, wildcard) {
                Ok(s) => return Ok(listener(m, s)),
                Err(e) => last = Some(e),
            }
        }
        return Err(last.expect("tried at least once"));
    }
    let (first, last) = m.host_ports;
    let mut err = None;
    for port in first..=last {
        match bind_port(&addrs, port, m.proto, wildcard) {
            Ok(s) => return Ok(listener(m, s)),
            Err(e) => err = Some(e),
        }
    }
    Err(err.expect("a non-empty range"))
}

fn listener(m: &PortMapping, sockets: Vec<(SocketAddr, OwnedFd)>) -> Listener {
    let port = sockets[0].0.port();
    let mut mapping = m.clone();
    mapping.host_ports = (port, port);
    Listener { mapping, sockets }
}

/// Binds `port` (0: any) on every address; the port the first socket got
/// is used for the others. A missing IPv6 stack is not an error for a
/// wildcard.
fn bind_port(
    addrs: &[IpAddr],
    port: u16,
    proto: Proto,
    wildcard: bool,
) -> Result<Vec<(SocketAddr, OwnedFd)>> {
    let mut out: Vec<(SocketAddr, OwnedFd)> = Vec::new();
    let mut port = port;
    for ip in addrs {
        let addr = SocketAddr::new(*ip, port);
        match bind_socket(&addr, proto) {
            Ok((bound, fd)) => {
                port = bound.port();
                out.push((bound, fd));
            }
            Err(e)
                if wildcard
                    && ip.is_ipv6()
                    && matches!(
                        e,
                        nix::errno::Errno::EAFNOSUPPORT | nix::errno::Errno::EADDRNOTAVAIL
                    ) => {}
            Err(e) => return Err(bind_error(&addr, proto, e)),
        }
    }
    Ok(out)
}

fn bind_socket(
    addr: &SocketAddr,
    proto: Proto,
) -> Result<(SocketAddr, OwnedFd), nix::errno::Errno> {
    let ty = match proto {
        Proto::Tcp => SockType::Stream,
        Proto::Udp => SockType::Datagram,
    };
    let fd = sock::nonblocking(addr, ty)?;
    if addr.is_ipv6() {
        // The IPv4 listener is a socket of its own, as Docker's.
        setsockopt(&fd, sockopt::Ipv6V6Only, &true)?;
    }
    if proto == Proto::Tcp {
        // As every server: connections in TIME_WAIT must not block a restart.
        setsockopt(&fd, sockopt::ReuseAddr, &true)?;
    }
    match addr {
        SocketAddr::V4(a) => bind(fd.as_raw_fd(), &SockaddrIn::from(*a))?,
        SocketAddr::V6(a) => bind(fd.as_raw_fd(), &SockaddrIn6::from(*a))?,
    }
    if proto == Proto::Tcp {
        listen(&fd, Backlog::MAXCONN)?;
    }
    let bound = sock::local_addr(fd.as_fd())?;
    Ok((bound, fd))
}

/// Docker's wording ("Error starting userland proxy: listen tcp4
/// 0.0.0.0:8080: bind: address already in use"), with what to do about a
/// privileged port or a missing address.
fn bind_error(addr: &SocketAddr, proto: Proto, e: nix::errno::Errno) -> anyhow::Error {
    let net = match (proto, addr) {
        (Proto::Tcp, SocketAddr::V4(_)) => "tcp4",
        (Proto::Tcp, SocketAddr::V6(_)) => "tcp6",
        (Proto::Udp, SocketAddr::V4(_)) => "udp4",
        (Proto::Udp, SocketAddr::V6(_)) => "udp6",
    };
    let what = match e {
        nix::errno::Errno::EADDRINUSE => "address already in use".to_string(),
        nix::errno::Errno::EACCES => "permission denied".to_string(),
        nix::errno::Errno::EADDRNOTAVAIL => "cannot assign requested address".to_string(),
        other => other.desc().to_lowercase(),
    };
    let base = format!("Error starting userland proxy: listen {net} {addr}: bind: {what}");
    match e {
        nix::errno::Errno::EACCES => {
            let start = unprivileged_port_start();
            match start {
                Some(start) if addr.port() < start => anyhow::anyhow!(
                    "{base}: ports below {start} are privileged (net.ipv4.ip_unprivileged_port_start \
                     is {start}); publish a port of {start} or more (e.g. -p {}:...), or an \
                     administrator can allow it: sysctl net.ipv4.ip_unprivileged_port_start={}",
                    start.max(8000),
                    addr.port()
                ),
                _ => anyhow::anyhow!("{base}"),
            }
        }
        nix::errno::Errno::EADDRNOTAVAIL => {
            anyhow::anyhow!("{base}: the host has no address {}", addr.ip())
        }
        _ => anyhow::anyhow!("{base}"),
    }
}

/// `net.ipv4.ip_unprivileged_port_start` (1024 when unreadable: the
/// kernel's default).
pub fn unprivileged_port_start() -> Option<u16> {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .or(Some(1024))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slirp::portfwd::spec::parse_publish;

    #[test]
    fn binds_random_and_reports_ports_in_use() {
        let m = &parse_publish("127.0.0.1::80").unwrap()[0];
        let l = bind_one(m).unwrap();
        let port = l.host_port();
        assert_ne!(port, 0);
        assert_eq!(l.sockets.len(), 1);
        let again = parse_publish(&format!("127.0.0.1:{port}:80")).unwrap();
        let err = bind_all(&again).err().expect("port in use").to_string();
        assert_eq!(
            err,
            format!("Error starting userland proxy: listen tcp4 127.0.0.1:{port}: bind: address already in use")
        );
        // A range skips the port in use.
        let range = parse_publish(&format!("127.0.0.1:{port}-{}:80", port + 20)).unwrap();
        let l2 = bind_all(&range).unwrap();
        assert_ne!(l2[0].host_port(), port);
    }

    #[test]
    fn wildcard_binds_both_families() {
        let m = &parse_publish("53/udp").unwrap()[0];
        let l = bind_one(m).unwrap();
        let v6 = std::path::Path::new("/proc/net/if_inet6").exists();
        assert_eq!(l.sockets.len(), if v6 { 2 } else { 1 });
        assert!(l.sockets.iter().all(|(a, _)| a.port() == l.host_port()));
    }

    #[test]
    fn privileged_port_error_names_the_sysctl() {
        let e = bind_error(
            &"0.0.0.0:80".parse().unwrap(),
            Proto::Tcp,
            nix::errno::Errno::EACCES,
        )
        .to_string();
        let start = unprivileged_port_start().unwrap();
        if start > 80 {
            assert!(e.contains("net.ipv4.ip_unprivileged_port_start"), "{e}");
            assert!(e.contains(&format!("is {start}")), "{e}");
        }
        assert!(
            e.starts_with(
                "Error starting userland proxy: listen tcp4 0.0.0.0:80: bind: permission denied"
            ),
            "{e}"
        );
    }
}
