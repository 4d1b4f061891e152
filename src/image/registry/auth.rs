//! Registry authentication: Basic, and the Bearer token flow of Docker
//! Hub (`WWW-Authenticate: Bearer realm=...,service=...,scope=...`).
//! Credentials come from [`super::credentials`]; they are never printed.

use anyhow::{bail, Result};
use base64::Engine as _;

/// A user's credentials for one registry.
#[derive(Clone)]
pub(crate) enum Credentials {
    Basic {
        username: String,
        password: String,
    },
    /// An OAuth2 refresh token (`identitytoken` in config.json).
    IdentityToken(String),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never show secrets, even in debug output.
        match self {
            Credentials::Basic { username, .. } => write!(f, "Basic({username}, <hidden>)"),
            Credentials::IdentityToken(_) => write!(f, "IdentityToken(<hidden>)"),
        }
    }
}

/// The key `config.json` uses for a registry: Docker Hub's is historic.
pub(crate) fn config_key(domain: &str) -> String {
    if domain == "docker.io" {
        "https://index.docker.io/v1/".into()
    } else {
        domain.to_string()
    }
}

/// Looks up stored credentials for a registry; `None` when there are none.
/// A broken config file or helper is reported as a warning and treated as no
/// credentials, so that anonymous pulls still work.
pub(crate) fn lookup(domain: &str) -> Option<Credentials> {
    match super::credentials::get(domain) {
        Ok(c) => c,
        Err(e) => {
            crate::util::report::warning(&format!("reading the credentials for {domain}: {e:#}"));
            None
        }
    }
}

/// `Authorization: Basic ...`
pub(crate) fn basic_header(username: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
    )
}

/// What a registry asked for in `WWW-Authenticate`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

/// Parses a `WWW-Authenticate` header into the challenge we can answer.
pub(crate) fn parse_challenge(header: &str) -> Result<Challenge> {
    let challenges = http_auth::parse_challenges(header)
        .map_err(|e| anyhow::anyhow!("unreadable WWW-Authenticate header {header:?}: {e}"))?;
    for c in challenges {
        let param = |name: &str| {
            c.params
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.to_unescaped())
        };
        if c.scheme.eq_ignore_ascii_case("bearer") {
            let realm = param("realm")
                .ok_or_else(|| anyhow::anyhow!("Bearer challenge without realm: {header:?}"))?;
            return Ok(Challenge::Bearer {
                realm,
                service: param("service"),
                scope: param("scope"),
            });
        }
        if c.scheme.eq_ignore_ascii_case("basic") {
            return Ok(Challenge::Basic);
        }
    }
    bail!("the registry asks for an authentication scheme berth does not speak: {header:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_hub_challenge() {
        let h = r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/ubuntu:pull""#;
        assert_eq!(
            parse_challenge(h).unwrap(),
            Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/ubuntu:pull".into()),
            }
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="Registry Realm""#).unwrap(),
            Challenge::Basic
        );
        assert!(parse_challenge("Negotiate").is_err());
    }

    #[test]
    fn secrets_stay_hidden() {
        let c = Credentials::Basic {
            username: "u".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
        assert_eq!(
            basic_header("Aladdin", "open sesame"),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert_eq!(config_key("docker.io"), "https://index.docker.io/v1/");
    }
}
