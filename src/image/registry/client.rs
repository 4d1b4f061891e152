//! A blocking registry client: one per registry and command, reusing its
//! connections and tokens. Requests that get a 401 are answered with the
//! challenge's scheme (Basic, or a Bearer token fetched from the realm for
//! the repository's scope) and sent again once.

use super::auth::{self, Challenge, Credentials};
use super::manifest;
use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::io::Read;
use std::time::Duration;
use ureq::http::Response;
use ureq::Body;

/// How to reach a registry.
#[derive(Debug, Clone)]
pub struct Transport {
    /// Verify TLS certificates (`--tls-verify=false` turns it off).
    pub tls_verify: bool,
}

impl Default for Transport {
    fn default() -> Self {
        Transport { tls_verify: true }
    }
}

/// Builds and sends one request: `(agent, url, Authorization header)`.
type RequestFn<'a> =
    dyn Fn(&ureq::Agent, &str, Option<&str>) -> Result<Response<Body>, ureq::Error> + 'a;

#[derive(Clone)]
pub struct Client {
    domain: String,
    /// `https://host[:port]` or `http://...` once chosen.
    base: String,
    agent: ureq::Agent,
    /// Plain HTTP may be tried after HTTPS fails (loopback registries).
    insecure_fallback: bool,
    credentials: Option<Credentials>,
    /// Bearer tokens by scope, reused within the command.
    tokens: HashMap<String, String>,
    /// The registry answered a Basic challenge: send credentials up front.
    basic: bool,
}

/// Docker's rule: registries on the loopback interface may speak plain HTTP.
pub fn is_loopback(domain: &str) -> bool {
    let host = match domain.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => domain.rsplit_once(':').map_or(domain, |(h, _)| h),
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl Client {
    pub fn new(domain: &str, transport: &Transport) -> Result<Client> {
        let host = if domain == "docker.io" {
            "registry-1.docker.io"
        } else {
            domain
        };
        let loopback = is_loopback(domain);
        let tls = ureq::tls::TlsConfig::builder()
            .disable_verification(!transport.tls_verify || loopback)
            .build();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_recv_response(Some(Duration::from_secs(120)))
            .user_agent(format!("berth/{}", env!("CARGO_PKG_VERSION")))
            .tls_config(tls)
            .build()
            .into();
        Ok(Client {
            domain: domain.to_string(),
            base: format!("https://{host}"),
            agent,
            insecure_fallback: loopback || !transport.tls_verify,
            credentials: auth::lookup(domain),
            tokens: HashMap::new(),
            basic: false,
        })
    }

    /// Uses these credentials instead of the stored ones (`login`).
    pub fn with_credentials(mut self, creds: Credentials) -> Client {
        self.credentials = Some(creds);
        self
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// Sends a request built by `build` (called again for the retry), with
    /// authentication for `scope`, falling back to plain HTTP for loopback.
    fn send(&mut self, scope: &str, build: &RequestFn, path: &str) -> Result<Response<Body>> {
        let url = format!("{}{path}", self.base);
        let first = build(&self.agent, &url, self.auth_header(scope).as_deref());
        let response = match first {
            Ok(r) => r,
            Err(e)
                if self.insecure_fallback
                    && self.base.starts_with("https://")
                    && is_transport_error(&e) =>
            {
                self.base = self.base.replacen("https://", "http://", 1);
                let url = format!("{}{path}", self.base);
                build(&self.agent, &url, self.auth_header(scope).as_deref())
                    .map_err(|e| self.transport_error(e))?
            }
            Err(e) => return Err(self.transport_error(e)),
        };
        if response.status() != 401 {
            return Ok(response);
        }
        let challenge = response
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "{} answered 401 without saying how to authenticate",
                    self.domain
                )
            })?;
        match auth::parse_challenge(&challenge)? {
            Challenge::Basic => {
                if self.credentials.is_none() {
                    bail!(self.unauthorized());
                }
                self.basic = true;
            }
            Challenge::Bearer { realm, service, .. } => {
                let token = self.fetch_token(&realm, service.as_deref(), scope)?;
                self.tokens.insert(scope.to_string(), token);
            }
        }
        let url = format!("{}{path}", self.base);
        let retry = build(&self.agent, &url, self.auth_header(scope).as_deref())
            .map_err(|e| self.transport_error(e))?;
        if retry.status() == 401 {
            bail!(self.unauthorized());
        }
        Ok(retry)
    }

    fn auth_header(&self, scope: &str) -> Option<String> {
        if let Some(t) = self.tokens.get(scope) {
            return Some(format!("Bearer {t}"));
        }
        match (&self.credentials, self.basic) {
            (Some(Credentials::Basic { username, password }), true) => {
                Some(auth::basic_header(username, password))
            }
            _ => None,
        }
    }

    fn unauthorized(&self) -> anyhow::Error {
        let login = if self.domain == "docker.io" {
            String::new()
        } else {
            format!(" {}", self.domain)
        };
        if self.credentials.is_some() {
            anyhow::anyhow!("unauthorized: the registry {} refused the stored credentials; run `berth login{login}` again", self.domain)
        } else {
            anyhow::anyhow!(
                "unauthorized: authentication required by {}; run `berth login{login}`",
                self.domain
            )
        }
    }

    fn transport_error(&self, e: ureq::Error) -> anyhow::Error {
        let text = e.to_string();
        if text.to_ascii_lowercase().contains("certificate") || matches!(e, ureq::Error::Tls(_)) {
            anyhow::anyhow!("TLS connection to the registry {} failed: {text}; if you trust this registry, use --tls-verify=false", self.domain)
        } else {
            anyhow::anyhow!("cannot reach the registry {}: {text}", self.domain)
        }
    }

    /// The Bearer token flow: GET the realm with service and scope (Basic
    /// credentials when we have them), or POST an identity token.
    fn fetch_token(&self, realm: &str, service: Option<&str>, scope: &str) -> Result<String> {
        let mut request = self.agent.get(realm);
        if let Some(s) = service {
            request = request.query("service", s);
        }
        if !scope.is_empty() {
            request = request.query("scope", scope);
        }
        let response = match &self.credentials {
            Some(Credentials::IdentityToken(refresh)) => {
                let mut form = vec![
                    ("grant_type", "refresh_token"),
                    ("refresh_token", refresh.as_str()),
                    ("client_id", "berth"),
                ];
                if let Some(s) = service {
                    form.push(("service", s));
                }
                if !scope.is_empty() {
                    form.push(("scope", scope));
                }
                self.agent.post(realm).send_form(form)
            }
            Some(Credentials::Basic { username, password }) => request
                .header("Authorization", auth::basic_header(username, password))
                .call(),
            None => request.call(),
        }
        .map_err(|e| anyhow::anyhow!("getting a token from {realm}: {e}"))?;
        let status = response.status();
        if status == 401 || status == 403 {
            bail!(self.unauthorized());
        }
        if !status.is_success() {
            bail!("getting a token from {realm}: the token service answered {status}");
        }
        #[derive(serde::Deserialize)]
        struct Token {
            token: Option<String>,
            access_token: Option<String>,
        }
        let body = response
            .into_body()
            .with_config()
            .limit(1 << 20)
            .read_to_vec()?;
        let t: Token =
            serde_json::from_slice(&body).context("reading the token service's answer")?;
        t.token
            .or(t.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| anyhow::anyhow!("the token service {realm} answered without a token"))
    }

    /// Fetches a manifest or index: its raw bytes and content type.
    pub fn get_manifest(&mut self, repo: &str, reference: &str) -> Result<(Vec<u8>, String)> {
        let scope = format!("repository:{repo}:pull");
        let path = format!("/v2/{repo}/manifests/{reference}");
        let response = self.send(
            &scope,
            &|agent, url, auth| {
                let mut r = agent.get(url).header("Accept", manifest::ACCEPT);
                if let Some(a) = auth {
                    r = r.header("Authorization", a);
                }
                r.call()
            },
            &path,
        )?;
        let status = response.status();
        if status == 404 {
            bail!(NotFound(format!("{repo}:{reference}")));
        }
        check_status(
            &response,
            &format!("fetching the manifest of {repo}:{reference}"),
        )?;
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let body = response
            .into_body()
            .with_config()
            .limit(manifest::MAX_MANIFEST)
            .read_to_vec()?;
        Ok((body, content_type))
    }

    /// Streams a blob; the caller verifies its digest while reading.
    pub fn get_blob(&mut self, repo: &str, digest: &str) -> Result<Box<dyn Read + Send>> {
        let scope = format!("repository:{repo}:pull");
        let path = format!("/v2/{repo}/blobs/{digest}");
        let response = self.send(
            &scope,
            &|agent, url, auth| {
                let mut r = agent.get(url);
                if let Some(a) = auth {
                    r = r.header("Authorization", a);
                }
                r.call()
            },
            &path,
        )?;
        check_status(&response, &format!("downloading {digest} from {repo}"))?;
        Ok(Box::new(response.into_body().into_reader()))
    }

    /// Checks credentials against the registry (`login`).
    pub fn ping(&mut self) -> Result<()> {
        let response = self.send(
            "",
            &|agent, url, auth| {
                let mut r = agent.get(url);
                if let Some(a) = auth {
                    r = r.header("Authorization", a);
                }
                r.call()
            },
            "/v2/",
        )?;
        check_status(&response, &format!("logging in to {}", self.domain))
    }
}

/// A manifest or tag the registry does not have.
#[derive(Debug, thiserror::Error)]
#[error("image not found: {0}")]
pub struct NotFound(pub String);

fn is_transport_error(e: &ureq::Error) -> bool {
    !matches!(e, ureq::Error::StatusCode(_))
}

/// Turns an unsuccessful status into an error a user can act on.
fn check_status(response: &Response<Body>, what: &str) -> Result<()> {
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    if status == 429 {
        let reset = response
            .headers()
            .get("ratelimit-reset")
            .or_else(|| response.headers().get("retry-after"))
            .and_then(|v| v.to_str().ok())
            .map(|v| format!(" (try again after {v} seconds)"))
            .unwrap_or_default();
        bail!("{what}: the registry's rate limit is reached (429 Too Many Requests){reset}; log in to get a higher limit");
    }
    bail!("{what}: the registry answered {status}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_registries() {
        for d in [
            "localhost",
            "localhost:5000",
            "127.0.0.1:5000",
            "127.1.2.3",
            "[::1]:5000",
        ] {
            assert!(is_loopback(d), "{d}");
        }
        for d in ["docker.io", "example.com:5000", "10.0.0.1:5000"] {
            assert!(!is_loopback(d), "{d}");
        }
    }
}
