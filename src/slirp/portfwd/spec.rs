//! `-p/--publish` values: `[IP:][HOSTPORT:]CTRPORT[/tcp|/udp]`, where each
//! port may be a range (`8000-8002:8000-8002`), HOSTPORT may be empty or
//! missing (a random port), and an IPv6 address is written in brackets
//! (`[::1]:8080:80`). As Docker, a host range with one container port
//! (`8000-8010:80`) means "the first free port of the range".

pub use crate::model::ports::{PortMapping, Proto};
use anyhow::{bail, Context, Result};
use std::net::IpAddr;

/// Parses one `-p` value into its mappings (several for a range).
pub fn parse_publish(value: &str) -> Result<Vec<PortMapping>> {
    let (rest, proto) = match value.rsplit_once('/') {
        Some((r, "tcp")) | Some((r, "")) => (r, Proto::Tcp),
        Some((r, "udp")) => (r, Proto::Udp),
        Some((_, p)) => {
            bail!("invalid proto: {p} (in -p {value}): berth publishes tcp and udp ports")
        }
        None => (value, Proto::Tcp),
    };
    let (ip, ports) = split_ip(rest).with_context(|| format!("invalid -p value {value:?}"))?;
    let parts: Vec<&str> = ports.split(':').collect();
    let (host, ctr) = match (ip.is_some(), parts.as_slice()) {
        (false, [c]) => ("", *c),
        (_, [h, c]) => (*h, *c),
        _ => bail!(
            "invalid -p value {value:?}: expected [IP:][HOSTPORT:]CONTAINERPORT[/PROTO] \
             (an IPv6 address goes in brackets: [::1]:8080:80)"
        ),
    };
    let (c0, c1) = parse_range(ctr).with_context(|| format!("invalid containerPort: {ctr}"))?;
    if c0 == 0 {
        bail!("invalid containerPort: {ctr}: port 0 cannot be published");
    }
    let (h0, h1) = if host.is_empty() {
        (0, 0)
    } else {
        let r = parse_range(host).with_context(|| format!("invalid hostPort: {host}"))?;
        if r.0 == 0 {
            bail!("invalid hostPort: {host}: leave it out for a random port");
        }
        r
    };
    let ctr_len = c1 - c0;
    let host_len = h1 - h0;
    let mk = |hp: (u16, u16), cp: u16| PortMapping {
        host_ip: ip,
        host_ports: hp,
        container_port: cp,
        proto,
    };
    if h0 == 0 {
        return Ok((c0..=c1).map(|c| mk((0, 0), c)).collect());
    }
    if ctr_len == 0 {
        return Ok(vec![mk((h0, h1), c0)]);
    }
    if host_len != ctr_len {
        bail!(
            "invalid ranges specified for container and host Ports: {ctr} and {host} (a host \
             range must be as long as the container range)"
        );
    }
    Ok((0..=ctr_len)
        .map(|i| mk((h0 + i, h0 + i), c0 + i))
        .collect())
}

/// Splits a leading IP address off (`1.2.3.4:` or `[v6]:`).
fn split_ip(s: &str) -> Result<(Option<IpAddr>, &str)> {
    if let Some(inner) = s.strip_prefix('[') {
        let (ip, rest) = inner
            .split_once(']')
            .context("an IPv6 address without its closing bracket")?;
        let rest = rest
            .strip_prefix(':')
            .context("expected ':' after the bracketed address")?;
        let ip: IpAddr = ip
            .parse()
            .with_context(|| format!("invalid IP address: {ip}"))?;
        return Ok((Some(ip), rest));
    }
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() == 3 {
        let ip: IpAddr = parts[0]
            .parse()
            .with_context(|| format!("invalid IP address: {}", parts[0]))?;
        return Ok((Some(ip), &s[parts[0].len() + 1..]));
    }
    if parts.len() > 3 {
        bail!("too many colons: an IPv6 address goes in brackets ([::1]:8080:80)");
    }
    Ok((None, s))
}

fn parse_range(s: &str) -> Result<(u16, u16)> {
    let port = |p: &str| -> Result<u16> {
        p.parse::<u16>()
            .ok()
            .with_context(|| format!("{p:?} is not a port number (0-65535)"))
    };
    match s.split_once('-') {
        None => {
            let p = port(s)?;
            Ok((p, p))
        }
        Some((a, b)) => {
            let (a, b) = (port(a)?, port(b)?);
            if b < a {
                bail!("the range {s} ends before it starts");
            }
            Ok((a, b))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(s: &str) -> PortMapping {
        let mut v = parse_publish(s).unwrap();
        assert_eq!(v.len(), 1, "{s}");
        v.remove(0)
    }

    #[test]
    fn docker_forms() {
        let m = one("80");
        assert_eq!(
            (m.host_ip, m.host_ports, m.container_port, m.proto),
            (None, (0, 0), 80, Proto::Tcp)
        );
        let m = one("8080:80");
        assert_eq!((m.host_ports, m.container_port), ((8080, 8080), 80));
        let m = one("127.0.0.1:8080:80/udp");
        assert_eq!(m.host_ip, Some("127.0.0.1".parse().unwrap()));
        assert_eq!(m.proto, Proto::Udp);
        let m = one("127.0.0.1::80");
        assert!(m.is_random());
        assert_eq!(m.host_ip, Some("127.0.0.1".parse().unwrap()));
        let m = one("[::1]:8080:80/tcp");
        assert_eq!(m.host_ip, Some("::1".parse().unwrap()));
        let m = one("[::]::53/udp");
        assert!(m.is_random());
        let m = one("8000-8010:80");
        assert_eq!(m.host_ports, (8000, 8010));
        assert_eq!(m.to_string(), "8000-8010:80/tcp");
        assert_eq!(one("127.0.0.1::80").to_string(), "127.0.0.1::80/tcp");
        assert_eq!(one("[::1]:8080:80").to_string(), "[::1]:8080:80/tcp");
    }

    #[test]
    fn ranges_expand() {
        let v = parse_publish("8000-8002:9000-9002").unwrap();
        let pairs: Vec<(u16, u16)> = v
            .iter()
            .map(|m| (m.host_ports.0, m.container_port))
            .collect();
        assert_eq!(pairs, [(8000, 9000), (8001, 9001), (8002, 9002)]);
        let v = parse_publish("7000-7001").unwrap();
        assert_eq!(v.len(), 2);
        assert!(v.iter().all(PortMapping::is_random));
    }

    #[test]
    fn errors_name_the_bad_part() {
        let cases = [
            ("abc", "invalid containerPort: abc"),
            ("x:80", "invalid hostPort: x"),
            ("80/sctp", "invalid proto: sctp"),
            ("1.2.3:80:80", "invalid IP address: 1.2.3"),
            ("8000-8001:80-82", "invalid ranges"),
            ("70000:80", "invalid hostPort"),
            ("::1:80:80", "brackets"),
            ("90-80", "ends before it starts"),
            ("0", "port 0"),
        ];
        for (input, want) in cases {
            let err = format!("{:#}", parse_publish(input).unwrap_err());
            assert!(err.contains(want), "{input}: {err}");
        }
    }
}
