//! What members and a network's helper say to each other over the
//! helper's unix socket, and how descriptors travel (SCM_RIGHTS).
//!
//! The socket is SOCK_SEQPACKET: one message per datagram, and the end of
//! a member's connection is seen as EOF. The protocol, version 1:
//!
//! 1. the member connects and sends one `Join` (JSON) with its TAP
//!    descriptor attached;
//! 2. the helper answers one `Reply` (JSON): `{"ok":{...}}` with the
//!    gateway and host addresses, or `{"error":"..."}`;
//! 3. nothing more is said; the member stays a member while the
//!    connection is open. Closing it (or the member's process dying)
//!    detaches it; the helper exits when its last member is gone.

use super::addr::{Ipv4Net, Mac};
use anyhow::{bail, Context, Result};
use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};
use serde::{Deserialize, Serialize};
use std::io::{IoSlice, IoSliceMut};
use std::net::{Ipv4Addr, SocketAddr};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// The protocol version in every `Join`.
/// 2: TAP devices carry a `virtio_net_hdr` (tap::VNET_HDR_LEN): a helper
/// of another version would misread their frames, so it refuses the join.
pub const VERSION: u32 = 2;

/// The largest message either side sends.
pub const MAX_MESSAGE: usize = 64 * 1024;

/// A network as its helper serves it; passed to the helper when it is
/// started (it is the network record's data the helper needs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NetworkSpec {
    /// The network's id (hex); names the helper's socket.
    pub id: String,
    pub name: String,
    pub subnet: Ipv4Net,
    pub gateway: Ipv4Addr,
    /// No outbound access: no NAT, no forwarding of DNS to the host's
    /// resolvers, no host address. Members still reach each other and
    /// resolve each other's names.
    #[serde(default)]
    pub internal: bool,
    /// Resolvers that DNS queries for other names are forwarded to; empty:
    /// the `nameserver`s of the host's /etc/resolv.conf, read when the
    /// helper starts (a loopback resolver such as 127.0.0.53 works: the
    /// helper runs in the host's network namespace).
    #[serde(default)]
    pub dns_upstream: Vec<SocketAddr>,
    #[serde(default = "default_mtu")]
    pub mtu: u32,
    /// Whether the DNS answers members' names (Docker's default bridge
    /// does not: only user-defined networks have name resolution).
    #[serde(default = "yes")]
    pub resolve_names: bool,
}

fn yes() -> bool {
    true
}

fn default_mtu() -> u32 {
    super::tap::MTU
}

impl NetworkSpec {
    /// A network on `subnet` with its first host address as the gateway.
    pub fn new(id: &str, name: &str, subnet: Ipv4Net) -> NetworkSpec {
        NetworkSpec {
            id: id.to_string(),
            name: name.to_string(),
            subnet,
            gateway: subnet.gateway(),
            internal: false,
            dns_upstream: Vec::new(),
            mtu: super::tap::MTU,
            resolve_names: true,
        }
    }

    /// The address members reach the host through (`host-gateway`).
    pub fn host_gateway(&self) -> Ipv4Addr {
        self.subnet.host_gateway()
    }

    /// The gateway's MAC: derived from its address, so it survives a
    /// restart of the helper.
    pub fn gateway_mac(&self) -> Mac {
        Mac::for_ip(self.gateway)
    }

    pub fn check(&self) -> Result<()> {
        self.subnet.check_usable()?;
        if !self.subnet.contains(self.gateway)
            || self.gateway == self.subnet.network()
            || self.gateway == self.subnet.broadcast()
            || self.gateway == self.host_gateway()
        {
            bail!(
                "invalid gateway {} for subnet {}: it must be a host address of the subnet other \
                 than its last one ({}, the host's address)",
                self.gateway,
                self.subnet,
                self.host_gateway()
            );
        }
        if self.id.is_empty() || !self.id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            bail!("invalid network id {:?}", self.id);
        }
        Ok(())
    }
}

/// A member as it joins: who it is for DNS, where it is on the segment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemberSpec {
    pub container_id: String,
    /// The container's name; answered by the network's DNS.
    pub name: String,
    /// Further names (`--network-alias`, compose service names).
    #[serde(default)]
    pub aliases: Vec<String>,
    pub ip: Ipv4Addr,
    pub mac: Mac,
    /// Whether the host address also reaches services bound only to the
    /// host's loopback (127.0.0.1). Off by default: an untrusted image must
    /// not reach them (Podman's `allow_host_loopback`).
    #[serde(default)]
    pub allow_host_loopback: bool,
    /// This member's own resolvers (`--dns` on a user-defined network):
    /// its queries for names that are not members go there rather than to
    /// the network's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_upstream: Vec<SocketAddr>,
}

impl MemberSpec {
    /// The names the network's DNS answers with this member's address: the
    /// name, the aliases and the short (12-character) id, as Docker's.
    pub fn dns_names(&self) -> impl Iterator<Item = &str> {
        let short = &self.container_id[..12.min(self.container_id.len())];
        std::iter::once(self.name.as_str())
            .chain(self.aliases.iter().map(String::as_str))
            .chain((!short.is_empty()).then_some(short))
            .filter(|n| !n.is_empty())
    }
}

/// The first message of a member's connection (its TAP descriptor rides
/// along).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Join {
    pub version: u32,
    /// The network the member means; the helper refuses a mismatch (a
    /// stale socket of another network).
    pub network_id: String,
    pub member: MemberSpec,
}

/// The helper's answer to a `Join`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reply {
    Ok(Joined),
    Error(String),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Joined {
    pub gateway: Ipv4Addr,
    pub gateway_mac: Mac,
    pub host_gateway: Ipv4Addr,
    /// The helper's pid (diagnostics; tests kill it).
    pub helper_pid: u32,
}

/// Sends one message with an optional descriptor.
pub fn send_msg(sock: BorrowedFd<'_>, data: &[u8], fd: Option<BorrowedFd<'_>>) -> Result<()> {
    let iov = [IoSlice::new(data)];
    let fds: Vec<RawFd> = fd.iter().map(|f| f.as_raw_fd()).collect();
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let cmsgs: &[ControlMessage] = if fds.is_empty() { &[] } else { &cmsg };
    loop {
        match sendmsg::<()>(sock.as_raw_fd(), &iov, cmsgs, MsgFlags::MSG_NOSIGNAL, None) {
            Ok(n) if n == data.len() => return Ok(()),
            Ok(n) => bail!("short send on a unix socket ({n} of {} bytes)", data.len()),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e).context("sending on a unix socket"),
        }
    }
}

/// Receives one message and the descriptors that came with it. An empty
/// message with no descriptor is the end of the connection.
pub fn recv_msg(sock: BorrowedFd<'_>) -> Result<(Vec<u8>, Vec<OwnedFd>)> {
    let mut buf = vec![0u8; MAX_MESSAGE];
    let mut cspace = nix::cmsg_space!([RawFd; 4]);
    loop {
        let mut iov = [IoSliceMut::new(&mut buf)];
        let res = recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut cspace),
            MsgFlags::MSG_CMSG_CLOEXEC,
        );
        let msg = match res {
            Ok(m) => m,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e).context("receiving on a unix socket"),
        };
        let mut fds = Vec::new();
        for c in msg.cmsgs().context("reading the control messages")? {
            if let ControlMessageOwned::ScmRights(raw) = c {
                // SAFETY: the kernel just installed these descriptors in
                // our table for us; nothing else owns them.
                fds.extend(raw.into_iter().map(|r| unsafe { OwnedFd::from_raw_fd(r) }));
            }
        }
        let truncated = msg.flags.contains(MsgFlags::MSG_TRUNC);
        let n = msg.bytes;
        if truncated {
            bail!("a message on a unix socket was longer than {MAX_MESSAGE} bytes");
        }
        buf.truncate(n);
        return Ok((buf, fds));
    }
}

/// Sends a descriptor alone: what the container's init does to hand its
/// TAP device to the monitor over a socketpair (any socket type).
pub fn send_fd(sock: BorrowedFd<'_>, fd: BorrowedFd<'_>) -> Result<()> {
    send_msg(sock, b"fd", Some(fd))
}

/// Receives a descriptor sent by [`send_fd`].
pub fn recv_fd(sock: BorrowedFd<'_>) -> Result<OwnedFd> {
    let (_, mut fds) = recv_msg(sock)?;
    if fds.is_empty() {
        bail!("expected a descriptor on the socket, got none (the sender ended early?)");
    }
    Ok(fds.swap_remove(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
    use std::os::fd::AsFd;

    #[test]
    fn join_roundtrip_with_descriptor() {
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .unwrap();
        let join = Join {
            version: VERSION,
            network_id: "abc123".into(),
            member: MemberSpec {
                container_id: "0123456789abcdef0123".into(),
                name: "web".into(),
                aliases: vec!["www".into()],
                ip: "172.18.0.2".parse().unwrap(),
                mac: "02:42:ac:12:00:02".parse().unwrap(),
                allow_host_loopback: false,
                dns_upstream: vec![],
            },
        };
        let file = std::fs::File::open("/proc/self/status").unwrap();
        send_msg(
            a.as_fd(),
            &serde_json::to_vec(&join).unwrap(),
            Some(file.as_fd()),
        )
        .unwrap();
        let (data, fds) = recv_msg(b.as_fd()).unwrap();
        let got: Join = serde_json::from_slice(&data).unwrap();
        assert_eq!(got, join);
        assert_eq!(fds.len(), 1);
        let names: Vec<&str> = got.member.dns_names().collect();
        assert_eq!(names, ["web", "www", "0123456789ab"]);
        drop(a);
        let (data, fds) = recv_msg(b.as_fd()).unwrap();
        assert!(data.is_empty() && fds.is_empty(), "EOF");
    }

    #[test]
    fn spec_checks() {
        let mut n = NetworkSpec::new("abc", "net", "10.5.0.0/24".parse().unwrap());
        n.check().unwrap();
        assert_eq!(n.host_gateway(), Ipv4Addr::new(10, 5, 0, 254));
        n.gateway = Ipv4Addr::new(10, 5, 0, 254);
        assert!(n.check().is_err());
        n.gateway = Ipv4Addr::new(10, 6, 0, 1);
        assert!(n.check().is_err());
        let json = r#"{"id":"a1","name":"n","subnet":"10.0.0.0/24","gateway":"10.0.0.1"}"#;
        let n: NetworkSpec = serde_json::from_str(json).unwrap();
        assert_eq!(n.mtu, 65520);
        assert!(!n.internal && n.resolve_names);
        let r = serde_json::to_string(&Reply::Error("x".into())).unwrap();
        assert_eq!(r, r#"{"error":"x"}"#);
    }
}
