//! Small socket helpers shared by the network helper and the port
//! forwarder: non-blocking sockets from std addresses, and I/O that never
//! raises SIGPIPE.

use nix::sys::socket::{
    connect, socket, AddressFamily, MsgFlags, SockFlag, SockType, SockaddrIn, SockaddrIn6,
    SockaddrLike,
};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

pub type Errno = nix::errno::Errno;

pub fn family(addr: &SocketAddr) -> AddressFamily {
    match addr {
        SocketAddr::V4(_) => AddressFamily::Inet,
        SocketAddr::V6(_) => AddressFamily::Inet6,
    }
}

/// A non-blocking, close-on-exec socket of `ty` for `addr`'s family.
pub fn nonblocking(addr: &SocketAddr, ty: SockType) -> Result<OwnedFd, Errno> {
    socket(
        family(addr),
        ty,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        None,
    )
}

/// Starts connecting `fd` to `addr`: `Ok(true)` connected, `Ok(false)` in
/// progress (wait for writability, then [`take_error`]).
pub fn start_connect(fd: BorrowedFd<'_>, addr: &SocketAddr) -> Result<bool, Errno> {
    let res = match addr {
        SocketAddr::V4(a) => connect(fd.as_raw_fd(), &SockaddrIn::from(*a)),
        SocketAddr::V6(a) => connect(fd.as_raw_fd(), &SockaddrIn6::from(*a)),
    };
    match res {
        Ok(()) => Ok(true),
        Err(Errno::EINPROGRESS) | Err(Errno::EINTR) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The pending error of a socket (the outcome of a non-blocking connect).
pub fn take_error(fd: BorrowedFd<'_>) -> Result<(), Errno> {
    match nix::sys::socket::getsockopt(&fd, nix::sys::socket::sockopt::SocketError) {
        Ok(0) => Ok(()),
        Ok(e) => Err(Errno::from_raw(e)),
        Err(e) => Err(e),
    }
}

pub fn recv(fd: BorrowedFd<'_>, buf: &mut [u8]) -> Result<usize, Errno> {
    loop {
        match nix::sys::socket::recv(fd.as_raw_fd(), buf, MsgFlags::MSG_DONTWAIT) {
            Err(Errno::EINTR) => continue,
            r => return r,
        }
    }
}

pub fn send(fd: BorrowedFd<'_>, buf: &[u8]) -> Result<usize, Errno> {
    loop {
        match nix::sys::socket::send(
            fd.as_raw_fd(),
            buf,
            MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL,
        ) {
            Err(Errno::EINTR) => continue,
            r => return r,
        }
    }
}

/// Receives one datagram and its sender.
pub fn recv_from(fd: BorrowedFd<'_>, buf: &mut [u8]) -> Result<(usize, Option<SocketAddr>), Errno> {
    loop {
        match nix::sys::socket::recvfrom::<nix::sys::socket::SockaddrStorage>(fd.as_raw_fd(), buf) {
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
            Ok((n, from)) => return Ok((n, from.and_then(|s| to_std(&s)))),
        }
    }
}

/// Sends one datagram to `to`.
pub fn send_to(fd: BorrowedFd<'_>, buf: &[u8], to: &SocketAddr) -> Result<usize, Errno> {
    let flags = MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL;
    loop {
        let r = match to {
            SocketAddr::V4(a) => {
                nix::sys::socket::sendto(fd.as_raw_fd(), buf, &SockaddrIn::from(*a), flags)
            }
            SocketAddr::V6(a) => {
                nix::sys::socket::sendto(fd.as_raw_fd(), buf, &SockaddrIn6::from(*a), flags)
            }
        };
        match r {
            Err(Errno::EINTR) => continue,
            r => return r,
        }
    }
}

pub fn to_std(s: &nix::sys::socket::SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = s.as_sockaddr_in() {
        return Some(SocketAddr::V4((*v4).into()));
    }
    if let Some(v6) = s.as_sockaddr_in6() {
        return Some(SocketAddr::V6((*v6).into()));
    }
    let _ = s.len();
    None
}

/// The local address a socket is bound to.
pub fn local_addr(fd: BorrowedFd<'_>) -> Result<SocketAddr, Errno> {
    let s: nix::sys::socket::SockaddrStorage = nix::sys::socket::getsockname(fd.as_raw_fd())?;
    to_std(&s).ok_or(Errno::EAFNOSUPPORT)
}

/// Raises the soft limit on open descriptors to the hard limit: a helper
/// or monitor serving hundreds of connections needs more than the usual
/// 1024.
pub fn raise_nofile_limit() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        if soft < hard {
            let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
        }
    }
}
