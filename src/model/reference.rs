//! Image references with Docker's normalization, written by hand after
//! distribution/reference (`reference.go`, `normalize.go`): no regex, so
//! parsing costs microseconds on the launch path.
//!
//! `busybox` is `docker.io/library/busybox:latest`, `localhost:5000/x` is
//! on the registry `localhost:5000`, `name@sha256:...` pins a digest.

use std::fmt;

pub(crate) const DEFAULT_DOMAIN: &str = "docker.io";
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
const OFFICIAL_REPO_PREFIX: &str = "library/";
pub(crate) const DEFAULT_TAG: &str = "latest";
const NAME_TOTAL_LENGTH_MAX: usize = 255;

/// A fully normalized reference: the domain is always present.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<String>,
}

/// Why a string is not a reference, in Docker's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ReferenceError {
    #[error("invalid reference format: repository name ({0}) must be lowercase")]
    NameNotCanonical(String),
    #[error("invalid repository name ({0}), cannot specify 64-byte hexadecimal strings")]
    HexName(String),
    #[error("invalid reference format: {0:?}")]
    InvalidFormat(String),
    #[error(
        "invalid reference format: repository name ({0}) must not be more than 255 characters"
    )]
    NameTooLong(String),
    #[error("invalid reference format: invalid digest {0:?}")]
    InvalidDigest(String),
}

impl Reference {
    /// Parses what a user typed (`ParseNormalizedNamed` + default handling).
    pub(crate) fn parse(input: &str) -> Result<Reference, ReferenceError> {
        if crate::util::digest::is_sha256_hex(input) {
            return Err(ReferenceError::HexName(input.to_string()));
        }
        let (rest, digest) = match input.split_once('@') {
            Some((r, d)) => {
                check_digest(d)?;
                (r, Some(d.to_string()))
            }
            None => (input, None),
        };
        // The tag is after the last ':' that comes after the last '/'.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let at = last_slash + i;
                (&rest[..at], Some(&rest[at + 1..]))
            }
            None => (rest, None),
        };
        if let Some(tag) = tag {
            if !valid_tag(tag) {
                return Err(ReferenceError::InvalidFormat(input.to_string()));
            }
        }
        let (domain, path) = split_domain(name);
        if name.is_empty() || !valid_domain(&domain) || !valid_path(&path) {
            let lowered = input.to_ascii_lowercase();
            if lowered != input && Reference::parse(&lowered).is_ok() {
                return Err(ReferenceError::NameNotCanonical(name.to_string()));
            }
            return Err(ReferenceError::InvalidFormat(input.to_string()));
        }
        if domain.len() + 1 + path.len() > NAME_TOTAL_LENGTH_MAX {
            return Err(ReferenceError::NameTooLong(name.to_string()));
        }
        Ok(Reference {
            domain,
            path,
            tag: tag.map(str::to_string),
            digest,
        })
    }

    /// Like `parse`, then adds `:latest` when there is neither tag nor digest.
    pub(crate) fn parse_tagged(input: &str) -> Result<Reference, ReferenceError> {
        let mut r = Reference::parse(input)?;
        if r.tag.is_none() && r.digest.is_none() {
            r.tag = Some(DEFAULT_TAG.to_string());
        }
        Ok(r)
    }

    pub(crate) fn domain(&self) -> &str {
        &self.domain
    }
    /// The repository path on its registry (`library/busybox`).
    pub(crate) fn path(&self) -> &str {
        &self.path
    }
    pub(crate) fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }
    pub(crate) fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }
    /// `docker.io/library/busybox`
    pub(crate) fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }
    /// `busybox` for official images, the full name otherwise (`FamiliarName`).
    pub(crate) fn familiar_name(&self) -> String {
        if self.domain == DEFAULT_DOMAIN {
            match self.path.strip_prefix(OFFICIAL_REPO_PREFIX) {
                Some(rest) if !rest.contains('/') => rest.to_string(),
                _ => self.path.clone(),
            }
        } else {
            self.name()
        }
    }
    /// `busybox:latest` (`FamiliarString`).
    pub(crate) fn familiar(&self) -> String {
        let mut s = self.familiar_name();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }
    /// The same name with another tag and no digest.
    pub(crate) fn with_tag(&self, tag: &str) -> Reference {
        Reference {
            domain: self.domain.clone(),
            path: self.path.clone(),
            tag: Some(tag.into()),
            digest: None,
        }
    }
}

impl fmt::Display for Reference {
    /// The full normalized form, `docker.io/library/busybox:latest`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.domain, self.path)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// True when the name starts with a registry (`quay.io/x`, `localhost:5000/x`),
/// false when Docker's default registry is implied (`busybox`, `user/repo`).
pub(crate) fn has_explicit_domain(input: &str) -> bool {
    match input.split_once('/') {
        Some((first, _)) => {
            first.contains(['.', ':'])
                || first == "localhost"
                || first.to_ascii_lowercase() != first
        }
        None => false,
    }
}

/// Normalizes a user-typed name for display: `docker.io/library/x:latest` → `x:latest`.
pub(crate) fn familiar(full: &str) -> String {
    Reference::parse(full)
        .map(|r| r.familiar())
        .unwrap_or_else(|_| full.to_string())
}

fn split_domain(name: &str) -> (String, String) {
    let (mut domain, mut path) = match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.to_ascii_lowercase() != first =>
        {
            (first.to_string(), rest.to_string())
        }
        _ => (DEFAULT_DOMAIN.to_string(), name.to_string()),
    };
    if domain == LEGACY_DEFAULT_DOMAIN {
        domain = DEFAULT_DOMAIN.to_string();
    }
    if domain == DEFAULT_DOMAIN && !path.contains('/') {
        path = format!("{OFFICIAL_REPO_PREFIX}{path}");
    }
    (domain, path)
}

fn check_digest(d: &str) -> Result<(), ReferenceError> {
    match d.split_once(':') {
        Some(("sha256", hex)) if crate::util::digest::is_sha256_hex(hex) => Ok(()),
        Some(("sha384", hex)) if hex.len() == 96 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Ok(())
        }
        Some(("sha512", hex)) if hex.len() == 128 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Ok(())
        }
        _ => Err(ReferenceError::InvalidDigest(d.to_string())),
    }
}

/// `[\w][\w.-]{0,127}`
fn valid_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || c == b'-')
}

/// host[:port], where host is dot-separated `[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?`
/// components or a bracketed IPv6 address.
fn valid_domain(domain: &str) -> bool {
    let (host, port) = if let Some(rest) = domain.strip_prefix('[') {
        match rest.split_once(']') {
            Some((ip, after)) => {
                if ip.parse::<std::net::Ipv6Addr>().is_err() {
                    return false;
                }
                match after {
                    "" => return true,
                    p => {
                        return p.strip_prefix(':').is_some_and(|p| {
                            !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit())
                        })
                    }
                }
            }
            None => return false,
        }
    } else {
        match domain.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (domain, None),
        }
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit()) {
            return false;
        }
    }
    !host.is_empty()
        && host.split('.').all(|c| {
            let b = c.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|&x| x.is_ascii_alphanumeric() || x == b'-')
        })
}

/// Components `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*` separated by '/'.
fn valid_path(path: &str) -> bool {
    !path.is_empty() && path.split('/').all(valid_component)
}

fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    if b.is_empty() || !is_alnum_lower(b[0]) || !is_alnum_lower(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_alnum_lower(b[i]) {
            i += 1;
            continue;
        }
        // A separator run: '.', '_', '__' or one or more '-'.
        let start = i;
        while i < b.len() && !is_alnum_lower(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn is_alnum_lower(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

#[cfg(test)]
#[path = "reference_props.rs"]
mod props;

#[cfg(test)]
mod tests {
    use super::*;

    fn full(s: &str) -> String {
        Reference::parse_tagged(s).unwrap().to_string()
    }

    #[test]
    fn docker_hub_defaults() {
        assert_eq!(full("ubuntu"), "docker.io/library/ubuntu:latest");
        assert_eq!(full("ubuntu:22.04"), "docker.io/library/ubuntu:22.04");
        assert_eq!(full("user/repo"), "docker.io/user/repo:latest");
        assert_eq!(
            full("index.docker.io/library/ubuntu"),
            "docker.io/library/ubuntu:latest"
        );
        assert_eq!(full("docker.io/ubuntu"), "docker.io/library/ubuntu:latest");
    }

    #[test]
    fn registries_with_ports_and_localhost() {
        let r = Reference::parse_tagged("localhost:5000/x").unwrap();
        assert_eq!(
            (r.domain(), r.path(), r.tag()),
            ("localhost:5000", "x", Some("latest"))
        );
        assert_eq!(full("localhost/foo"), "localhost/foo:latest");
        assert_eq!(full("127.0.0.1:5000/a/b:v1"), "127.0.0.1:5000/a/b:v1");
        assert_eq!(full("[::1]:5000/a"), "[::1]:5000/a:latest");
    }

    #[test]
    fn digests_pin_without_default_tag() {
        let d = format!("sha256:{}", "a".repeat(64));
        let r = Reference::parse_tagged(&format!("busybox@{d}")).unwrap();
        assert_eq!(r.tag(), None);
        assert_eq!(r.digest(), Some(d.as_str()));
        assert_eq!(r.familiar(), format!("busybox@{d}"));
        assert!(Reference::parse("busybox@sha256:abc").is_err());
    }

    #[test]
    fn explicit_domains() {
        assert!(has_explicit_domain("quay.io/a"));
        assert!(has_explicit_domain("localhost/a"));
        assert!(has_explicit_domain("host:5000/a"));
        assert!(!has_explicit_domain("busybox"));
        assert!(!has_explicit_domain("user/repo"));
    }

    #[test]
    fn familiar_forms() {
        assert_eq!(
            Reference::parse_tagged("busybox").unwrap().familiar(),
            "busybox:latest"
        );
        assert_eq!(
            Reference::parse_tagged("user/x").unwrap().familiar(),
            "user/x:latest"
        );
        assert_eq!(
            Reference::parse_tagged("quay.io/a/b:1").unwrap().familiar(),
            "quay.io/a/b:1"
        );
        assert_eq!(familiar("docker.io/library/debian:12"), "debian:12");
    }

    #[test]
    fn invalid_inputs_are_refused_with_docker_words() {
        assert!(matches!(
            Reference::parse("Ubuntu"),
            Err(ReferenceError::NameNotCanonical(_))
        ));
        assert!(matches!(
            Reference::parse(&"a".repeat(64)),
            Err(ReferenceError::HexName(_))
        ));
        for bad in [
            "", ":tag", "a//b", "-a", "a-", "a:", "a:-x", "a b", "a/B/c:x", "a..b",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad:?} should be invalid");
        }
        assert!(Reference::parse(&format!("a/{}", "b".repeat(300))).is_err());
    }

    #[test]
    fn separators_follow_the_grammar() {
        for ok in ["a_b", "a__b", "a---b", "a.b", "a-b.c_d"] {
            assert!(Reference::parse(ok).is_ok(), "{ok:?} should be valid");
        }
        for bad in ["a___b", "a._b", "a_-b"] {
            assert!(Reference::parse(bad).is_err(), "{bad:?} should be invalid");
        }
    }
}
