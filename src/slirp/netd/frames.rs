//! Building the Ethernet frames the helper sends to members itself (UDP
//! replies, DNS answers, ICMP), with smoltcp's wire types.

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    EthernetAddress, EthernetFrame, EthernetProtocol, Icmpv4Packet, Icmpv4Repr, IpProtocol,
    Ipv4Packet, Ipv4Repr, UdpPacket, UdpRepr,
};
use std::net::{Ipv4Addr, SocketAddrV4};

const ETH: usize = 14;
const IP: usize = 20;

/// The largest UDP payload that fits one frame of `mtu`.
pub fn max_udp_payload(mtu: u32) -> usize {
    mtu as usize - IP - 8
}

fn ethernet(out: &mut Vec<u8>, len: usize, src: EthernetAddress, dst: EthernetAddress) {
    out.clear();
    out.resize(ETH + len, 0);
    let mut eth = EthernetFrame::new_unchecked(&mut out[..]);
    eth.set_src_addr(src);
    eth.set_dst_addr(dst);
    eth.set_ethertype(EthernetProtocol::Ipv4);
}

fn ipv4(out: &mut [u8], src: Ipv4Addr, dst: Ipv4Addr, proto: IpProtocol, payload_len: usize) {
    let repr = Ipv4Repr {
        src_addr: src,
        dst_addr: dst,
        next_header: proto,
        payload_len,
        hop_limit: 64,
    };
    repr.emit(
        &mut Ipv4Packet::new_unchecked(&mut out[ETH..]),
        &ChecksumCapabilities::default(),
    );
}

/// A UDP datagram from `src` to `dst` in an Ethernet frame.
pub fn udp(
    out: &mut Vec<u8>,
    src_mac: EthernetAddress,
    dst_mac: EthernetAddress,
    src: SocketAddrV4,
    dst: SocketAddrV4,
    payload: &[u8],
) {
    let udp_len = 8 + payload.len();
    ethernet(out, IP + udp_len, src_mac, dst_mac);
    ipv4(out, *src.ip(), *dst.ip(), IpProtocol::Udp, udp_len);
    let repr = UdpRepr {
        src_port: src.port(),
        dst_port: dst.port(),
    };
    repr.emit(
        &mut UdpPacket::new_unchecked(&mut out[ETH + IP..]),
        &(*src.ip()).into(),
        &(*dst.ip()).into(),
        payload.len(),
        |p| p.copy_from_slice(payload),
        &ChecksumCapabilities::default(),
    );
}

/// An ICMP message from `src` to `dst` in an Ethernet frame.
pub fn icmp(
    out: &mut Vec<u8>,
    src_mac: EthernetAddress,
    dst_mac: EthernetAddress,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    repr: &Icmpv4Repr<'_>,
) {
    let len = repr.buffer_len();
    ethernet(out, IP + len, src_mac, dst_mac);
    ipv4(out, src, dst, IpProtocol::Icmp, len);
    repr.emit(
        &mut Icmpv4Packet::new_unchecked(&mut out[ETH + IP..]),
        &ChecksumCapabilities::default(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udp_frames_parse_back_with_valid_checksums() {
        let mut out = Vec::new();
        let a = EthernetAddress([2, 0x42, 1, 2, 3, 4]);
        let b = EthernetAddress([2, 0x42, 5, 6, 7, 8]);
        let src: SocketAddrV4 = "172.18.0.1:53".parse().unwrap();
        let dst: SocketAddrV4 = "172.18.0.2:40000".parse().unwrap();
        udp(&mut out, a, b, src, dst, b"hello");
        let eth = EthernetFrame::new_checked(&out[..]).unwrap();
        assert_eq!(eth.dst_addr(), b);
        let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
        let caps = ChecksumCapabilities::default();
        let ip_repr = Ipv4Repr::parse(&ip, &caps).unwrap();
        assert_eq!(ip_repr.src_addr, *src.ip());
        let pkt = UdpPacket::new_checked(ip.payload()).unwrap();
        let repr = UdpRepr::parse(&pkt, &(*src.ip()).into(), &(*dst.ip()).into(), &caps).unwrap();
        assert_eq!(repr.dst_port, 40000);
        assert_eq!(pkt.payload(), b"hello");
    }
}
