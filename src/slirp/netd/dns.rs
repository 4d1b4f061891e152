//! The network's DNS at the gateway address: names of the network's members
//! (container names, aliases, short ids) are answered here; every other
//! query is forwarded to the upstream resolvers, or refused on an internal
//! network. Only what that needs of the DNS wire format is parsed: the
//! header and the first question.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Docker's TTL for container names.
const TTL: u32 = 600;

const TYPE_A: u16 = 1;
#[cfg(test)]
const TYPE_AAAA: u16 = 28;
const TYPE_ANY: u16 = 255;
const CLASS_IN: u16 = 1;

pub const RCODE_SERVFAIL: u8 = 2;
pub const RCODE_REFUSED: u8 = 5;

/// The first question of a query.
#[derive(Debug, PartialEq)]
pub struct Question {
    /// Lower case, without the trailing dot.
    pub name: String,
    pub qtype: u16,
    pub qclass: u16,
    /// Where the question ends in the message.
    end: usize,
}

/// Parses a query: `None` for a response, a truncated message or one
/// without exactly one question.
pub fn parse_query(msg: &[u8]) -> Option<Question> {
    if msg.len() < 12 || msg[2] & 0x80 != 0 {
        return None;
    }
    let qdcount = u16::from_be_bytes([msg[4], msg[5]]);
    if qdcount != 1 {
        return None;
    }
    let mut pos = 12;
    let mut name = String::new();
    loop {
        let len = *msg.get(pos)? as usize;
        pos += 1;
        if len == 0 {
            break;
        }
        // Compression pointers never appear in a question of a query we
        // answer; anything unusual is forwarded as it is.
        if len > 63 {
            return None;
        }
        let label = msg.get(pos..pos + len)?;
        if !name.is_empty() {
            name.push('.');
        }
        name.push_str(&String::from_utf8_lossy(label).to_ascii_lowercase());
        pos += len;
    }
    let qtype = u16::from_be_bytes([*msg.get(pos)?, *msg.get(pos + 1)?]);
    let qclass = u16::from_be_bytes([*msg.get(pos + 2)?, *msg.get(pos + 3)?]);
    Some(Question {
        name,
        qtype,
        qclass,
        end: pos + 4,
    })
}

/// The answer to a query for a local name with address `ip`: an A record
/// for A and ANY, no records (NOERROR, so the resolver does not go on
/// searching) for other types.
pub fn local_answer(query: &[u8], q: &Question, ip: Ipv4Addr) -> Vec<u8> {
    let with_a = q.qclass == CLASS_IN && matches!(q.qtype, TYPE_A | TYPE_ANY);
    let mut out = response_header(query, q, 0, u16::from(with_a));
    if with_a {
        out.extend_from_slice(&[0xc0, 0x0c]); // the name: pointer to the question
        out.extend_from_slice(&TYPE_A.to_be_bytes());
        out.extend_from_slice(&CLASS_IN.to_be_bytes());
        out.extend_from_slice(&TTL.to_be_bytes());
        out.extend_from_slice(&4u16.to_be_bytes());
        out.extend_from_slice(&ip.octets());
    }
    out
}

/// An error answer (REFUSED, SERVFAIL) to a query.
pub fn error_answer(query: &[u8], q: &Question, rcode: u8) -> Vec<u8> {
    response_header(query, q, rcode, 0)
}

fn response_header(query: &[u8], q: &Question, rcode: u8, ancount: u16) -> Vec<u8> {
    let mut out = Vec::with_capacity(q.end + 16);
    out.extend_from_slice(&query[..2]); // id
                                        // QR=1, opcode and RD copied, AA=1 for our names; RA=1.
    out.push(0x80 | (query[2] & 0x79) | if rcode == 0 { 0x04 } else { 0 });
    out.push(0x80 | (rcode & 0x0f));
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&ancount.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&query[12..q.end]);
    out
}

/// The `nameserver`s of a resolv.conf, as socket addresses on port 53.
/// Scoped IPv6 addresses (`fe80::1%eth0`) are skipped.
pub fn parse_resolv_conf(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            (f.next()? == "nameserver").then_some(())?;
            let ip: IpAddr = f.next()?.parse().ok()?;
            Some(SocketAddr::new(ip, 53))
        })
        .collect()
}

/// The host's resolvers; glibc's default (the local resolver) when
/// resolv.conf names none.
pub fn host_resolvers() -> Vec<SocketAddr> {
    let found = std::fs::read_to_string("/etc/resolv.conf")
        .map(|t| parse_resolv_conf(&t))
        .unwrap_or_default();
    if found.is_empty() {
        vec![SocketAddr::from(([127, 0, 0, 1], 53))]
    } else {
        found
    }
}

#[cfg(test)]
pub fn build_query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut q = Vec::new();
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.').filter(|l| !l.is_empty()) {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&CLASS_IN.to_be_bytes());
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_a_queries_for_local_names() {
        let query = build_query(0x1234, "Web.", TYPE_A);
        let q = parse_query(&query).unwrap();
        assert_eq!(q.name, "web");
        let ans = local_answer(&query, &q, Ipv4Addr::new(172, 18, 0, 2));
        assert_eq!(&ans[..2], &[0x12, 0x34]);
        assert_eq!(ans[2] & 0x80, 0x80, "a response");
        assert_eq!(ans[3] & 0x0f, 0, "NOERROR");
        assert_eq!(u16::from_be_bytes([ans[6], ans[7]]), 1, "one answer");
        assert_eq!(&ans[ans.len() - 4..], &[172, 18, 0, 2]);
        assert_eq!(&ans[ans.len() - 10..ans.len() - 6], &TTL.to_be_bytes());

        let query = build_query(7, "web", TYPE_AAAA);
        let q = parse_query(&query).unwrap();
        let ans = local_answer(&query, &q, Ipv4Addr::new(172, 18, 0, 2));
        assert_eq!(u16::from_be_bytes([ans[6], ans[7]]), 0, "no AAAA records");
        assert_eq!(ans[3] & 0x0f, 0);

        let ans = error_answer(&query, &q, RCODE_REFUSED);
        assert_eq!(ans[3] & 0x0f, RCODE_REFUSED);
    }

    #[test]
    fn odd_messages_are_not_parsed() {
        assert!(parse_query(&[0; 5]).is_none());
        let mut resp = build_query(1, "a", TYPE_A);
        resp[2] |= 0x80;
        assert!(parse_query(&resp).is_none());
        let mut two = build_query(1, "a", TYPE_A);
        two[5] = 2;
        assert!(parse_query(&two).is_none());
        let q = build_query(1, "a.b", TYPE_A);
        assert!(parse_query(&q[..q.len() - 1]).is_none());
    }

    #[test]
    fn resolv_conf() {
        let t = "# comment\nnameserver 127.0.0.53\nsearch example.com\nnameserver ::1\nnameserver fe80::1%eth0\nnameserver bogus\n";
        assert_eq!(
            parse_resolv_conf(t),
            vec![
                SocketAddr::from(([127, 0, 0, 53], 53)),
                "[::1]:53".parse().unwrap()
            ]
        );
    }
}
