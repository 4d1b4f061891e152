//! Host names of registries (and of their token servers and proxies)
//! turned into addresses without glibc's `getaddrinfo`, which a static
//! glibc cannot run with the host's name service modules (see
//! `util::getent`): an address literal is used as it is; a name is asked
//! of `getent ahosts`, which resolves it as any program on the host
//! would (/etc/hosts, DNS, mDNS, systemd-resolved), and the answer is
//! kept for the rest of the command.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

use crate::util::getent::getent;

/// An HTTP agent with `config` that resolves names through `getent`:
/// every agent berth makes (registries, `ADD <url>`) is one.
pub(crate) fn agent(config: Config) -> ureq::Agent {
    ureq::Agent::with_parts(
        config,
        ureq::unversioned::transport::DefaultConnector::default(),
        GetentResolver,
    )
}

/// The resolver of berth's HTTP agents.
#[derive(Debug, Default)]
pub(crate) struct GetentResolver;

/// Names already resolved by this process.
fn cache() -> &'static Mutex<HashMap<String, Vec<IpAddr>>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Vec<IpAddr>>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

impl Resolver for GetentResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let (Some(scheme), Some(authority)) = (uri.scheme(), uri.authority()) else {
            return Err(ureq::Error::BadUri(format!("{uri} is not a full URL")));
        };
        let host_port = DefaultResolver::host_and_port(scheme, authority)
            .ok_or_else(|| ureq::Error::BadUri(format!("{uri}: no port for its scheme")))?;
        let (host, port) = split_host_port(&host_port)
            .ok_or_else(|| ureq::Error::BadUri(format!("{uri}: bad host or port")))?;
        let ips = match host.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => lookup(host, timeout)?,
        };
        let mut out = self.empty();
        let family = config.ip_family();
        let wanted = family.keep_wanted(ips.into_iter().map(|ip| SocketAddr::new(ip, port)));
        // ureq keeps at most 16 addresses (MAX_ADDRS).
        for addr in wanted.take(16) {
            out.push(addr);
        }
        if out.is_empty() {
            return Err(ureq::Error::HostNotFound);
        }
        Ok(out)
    }
}

/// The addresses of `host`, from the cache or from `getent`, within the
/// time left for the request.
fn lookup(host: &str, timeout: NextTimeout) -> Result<Vec<IpAddr>, ureq::Error> {
    if let Some(ips) = cache().lock().ok().and_then(|c| c.get(host).cloned()) {
        return Ok(ips);
    }
    let query = host.to_string();
    let answer = if timeout.after.is_not_happening() {
        getent("ahosts", &query)
    } else {
        // As ureq's own resolver: the lookup in a thread, given up when
        // the time is over (the thread and its getent end on their own).
        let (tx, rx) = mpsc::sync_channel(1);
        std::thread::spawn(move || tx.send(getent("ahosts", &query)).ok());
        match rx.recv_timeout(*timeout.after) {
            Ok(answer) => answer,
            Err(_) => return Err(ureq::Error::Timeout(timeout.reason)),
        }
    };
    let ips = addresses(&answer?.ok_or(ureq::Error::HostNotFound)?);
    if let Ok(mut c) = cache().lock() {
        c.insert(host.to_string(), ips.clone());
    }
    Ok(ips)
}

/// `host` and `port` of `host:port`, `[v6]:port` unbracketed.
fn split_host_port(s: &str) -> Option<(&str, u16)> {
    let (host, port) = s.rsplit_once(':')?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    Some((host, port.parse().ok()?))
}

/// The distinct addresses of `getent ahosts` output, in its order (the
/// order getaddrinfo sorts them in: RFC 6724's preferences).
fn addresses(text: &str) -> Vec<IpAddr> {
    let mut ips = Vec::new();
    for ip in text
        .lines()
        .filter_map(|l| l.split_whitespace().next()?.parse::<IpAddr>().ok())
    {
        if !ips.contains(&ip) {
            ips.push(ip);
        }
    }
    ips
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_getents_answer_in_its_order_once_each() {
        let text = "::1             STREAM localhost\n::1             DGRAM  \n\
                    127.0.0.1       STREAM \n127.0.0.1       DGRAM  \nbogus\n";
        assert_eq!(
            addresses(text),
            vec![
                "::1".parse::<IpAddr>().unwrap(),
                "127.0.0.1".parse().unwrap()
            ]
        );
    }

    #[test]
    fn splits_names_and_bracketed_addresses_from_their_port() {
        assert_eq!(
            split_host_port("registry.example:5000"),
            Some(("registry.example", 5000))
        );
        assert_eq!(split_host_port("[::1]:443"), Some(("::1", 443)));
        assert_eq!(split_host_port("host:port"), None);
    }

    #[test]
    fn resolves_literals_and_names_of_the_hosts_files() {
        let config = Config::default();
        let resolve = |url: &str| {
            GetentResolver
                .resolve(&url.parse().unwrap(), &config, NextTimeout::default())
                .map(|a| a.iter().copied().collect::<Vec<_>>())
        };
        assert_eq!(
            resolve("http://127.0.0.1:5000/v2/").unwrap(),
            vec!["127.0.0.1:5000".parse().unwrap()]
        );
        assert_eq!(
            resolve("https://[::1]/v2/").unwrap(),
            vec!["[::1]:443".parse().unwrap()]
        );
        let local = resolve("http://localhost:5000/v2/").unwrap();
        assert!(
            local
                .iter()
                .all(|a| a.ip().is_loopback() && a.port() == 5000),
            "{local:?}"
        );
        assert!(matches!(
            resolve("http://berth-no-such-host.invalid/"),
            Err(ureq::Error::HostNotFound)
        ));
    }
}
