//! A blocking registry client: one per registry and command, reusing its
//! connections and tokens. Requests that get a 401 are answered with the
//! challenge's scheme (Basic, or a Bearer token fetched from the realm for
//! the repository's scope) and sent again once.

use super::auth::{self, Challenge, Credentials};
use super::manifest;
use super::settings::{RegistrySettings, Settings};
use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::io::Read;
use std::sync::OnceLock;
use std::time::Duration;
use ureq::http::Response;
use ureq::Body;

/// How to reach a registry.
#[derive(Debug, Clone)]
pub(crate) struct Transport {
    /// Verify TLS certificates (`--tls-verify=false` turns it off).
    pub(crate) tls_verify: bool,
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
pub(crate) struct Client {
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
pub(crate) fn is_loopback(domain: &str) -> bool {
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
    pub(crate) fn new(domain: &str, transport: &Transport) -> Result<Client> {
        let settings = Settings::load()?.registry(domain);
        Client::with_settings(domain, transport, &settings)
    }

    fn with_settings(
        domain: &str,
        transport: &Transport,
        settings: &RegistrySettings,
    ) -> Result<Client> {
        let host = if domain == "docker.io" {
            "registry-1.docker.io"
        } else {
            domain
        };
        let loopback = is_loopback(domain);
        let insecure = !transport.tls_verify || settings.insecure;
        let verify = !insecure && !loopback;
        let mut tls = ureq::tls::TlsConfig::builder().disable_verification(!verify);
        if verify {
            tls = tls.root_certs(system_roots());
        }
        // The proxy comes from HTTPS_PROXY/ALL_PROXY/HTTP_PROXY and NO_PROXY
        // (ureq's default configuration reads them).
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_recv_response(Some(Duration::from_secs(300)))
            .timeout_recv_body(Some(Duration::from_secs(120)))
            .user_agent(format!("berth/{}", env!("CARGO_PKG_VERSION")))
            .tls_config(tls.build())
            .build();
        // Host names go through `getent`, not getaddrinfo (resolve.rs).
        let agent = super::resolve::agent(config);
        Ok(Client {
            domain: domain.to_string(),
            base: format!("https://{host}"),
            agent,
            insecure_fallback: loopback || insecure,
            credentials: auth::lookup(domain),
            tokens: HashMap::new(),
            basic: false,
        })
    }

    /// Uses these credentials instead of the stored ones (`login`).
    pub(crate) fn with_credentials(mut self, creds: Credentials) -> Client {
        self.credentials = Some(creds);
        self
    }

    pub(crate) fn domain(&self) -> &str {
        &self.domain
    }

    /// The URL of `target`: a path on this registry, or an absolute URL
    /// (upload locations may be either).
    fn url(&self, target: &str) -> String {
        if target.starts_with("http://") || target.starts_with("https://") {
            target.to_string()
        } else {
            format!("{}{target}", self.base)
        }
    }

    /// Sends a request built by `build`, with authentication for `scope`;
    /// idempotent requests are sent again, with backoff, after transient
    /// failures (connection reset or refused, 5xx, 429 with a short
    /// Retry-After).
    fn send(
        &mut self,
        scope: &str,
        build: &RequestFn,
        target: &str,
        idempotent: bool,
    ) -> Result<Response<Body>> {
        let mut attempt = 0u32;
        loop {
            let last = !idempotent || attempt >= RETRIES;
            let delay = backoff(attempt);
            attempt += 1;
            match self.send_once(scope, build, target) {
                Ok(r) if !last && is_transient_status(r.status().as_u16()) => {
                    match retry_after(&r) {
                        Some(wait) if wait > MAX_RETRY_AFTER => return Ok(r),
                        Some(wait) => std::thread::sleep(wait.max(delay)),
                        None => std::thread::sleep(delay),
                    }
                }
                Err(e) if !last && e.downcast_ref::<Unreachable>().is_some_and(|u| u.transient) => {
                    std::thread::sleep(delay)
                }
                other => return other,
            }
        }
    }

    /// One attempt: falls back to plain HTTP for loopback and insecure
    /// registries, and answers a 401 challenge once.
    fn send_once(
        &mut self,
        scope: &str,
        build: &RequestFn,
        target: &str,
    ) -> Result<Response<Body>> {
        let url = self.url(target);
        let first = build(&self.agent, &url, self.auth_header(scope).as_deref());
        let response = match first {
            Ok(r) => r,
            Err(e)
                if self.insecure_fallback
                    && url.starts_with("https://")
                    && self.base.starts_with("https://")
                    && is_transport_error(&e) =>
            {
                self.base = self.base.replacen("https://", "http://", 1);
                let url = self.url(target);
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
                if self.credentials.is_none() || self.basic {
                    bail!(self.unauthorized());
                }
                self.basic = true;
            }
            Challenge::Bearer { realm, service, .. } => {
                let token = self.fetch_token(&realm, service.as_deref(), scope)?;
                self.tokens.insert(scope.to_string(), token);
            }
        }
        let url = self.url(target);
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
        if matches!(e, ureq::Error::Tls(_)) || text.to_ascii_lowercase().contains("certificate") {
            return anyhow::anyhow!("TLS connection to the registry {} failed: {text}; if you trust this registry, use --tls-verify=false or mark it insecure in {}", self.domain, settings_hint());
        }
        let transient = match &e {
            ureq::Error::Io(io) => matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionRefused
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::UnexpectedEof
                    | std::io::ErrorKind::TimedOut
                    | std::io::ErrorKind::Interrupted
            ),
            ureq::Error::ConnectionFailed | ureq::Error::Timeout(_) => true,
            _ => false,
        };
        anyhow::Error::new(Unreachable {
            domain: self.domain.clone(),
            detail: text,
            transient,
        })
    }

    /// The Bearer token flow: GET the realm with service and scope (Basic
    /// credentials when we have them), or POST an identity token.
    fn fetch_token(&self, realm: &str, service: Option<&str>, scope: &str) -> Result<String> {
        let mut request = self.agent.get(realm);
        if let Some(s) = service {
            request = request.query("service", s);
        }
        for one in scope.split(' ').filter(|s| !s.is_empty()) {
            request = request.query("scope", one);
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
                    // Several scopes are one space-separated value here.
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
    pub(crate) fn get_manifest(
        &mut self,
        repo: &str,
        reference: &str,
    ) -> Result<(Vec<u8>, String)> {
        let scope = pull_scope(repo);
        let path = format!("/v2/{repo}/manifests/{reference}");
        let response = self.send(
            &scope,
            &|agent, url, auth| {
                with_auth(agent.get(url).header("Accept", manifest::ACCEPT), auth).call()
            },
            &path,
            true,
        )?;
        if response.status() == 404 {
            bail!(NotFound(format!("{repo}:{reference}")));
        }
        check_status(
            &response,
            &format!("fetching the manifest of {repo}:{reference}"),
        )?;
        let content_type = header(&response, "content-type").unwrap_or_default();
        let body = response
            .into_body()
            .with_config()
            .limit(manifest::MAX_MANIFEST)
            .read_to_vec()?;
        Ok((body, content_type))
    }

    /// Streams a blob; the caller verifies its digest while reading.
    pub(crate) fn get_blob(
        &mut self,
        repo: &str,
        digest: &str,
    ) -> Result<(Box<dyn Read + Send>, Option<u64>)> {
        let scope = pull_scope(repo);
        let path = format!("/v2/{repo}/blobs/{digest}");
        let response = self.send(
            &scope,
            &|agent, url, auth| with_auth(agent.get(url), auth).call(),
            &path,
            true,
        )?;
        if response.status() == 404 {
            bail!("blob {digest} is missing from {}/{repo} (the registry lists it in the image's manifest but does not have it)", self.domain);
        }
        check_status(&response, &format!("downloading {digest} from {repo}"))?;
        let len = header(&response, "content-length").and_then(|v| v.parse().ok());
        Ok((Box::new(response.into_body().into_reader()), len))
    }

    /// Every tag of a repository (`GET /v2/<name>/tags/list`, following
    /// the `Link` header's pages).
    pub(crate) fn list_tags(&mut self, repo: &str) -> Result<Vec<String>> {
        let scope = pull_scope(repo);
        let mut target = format!("/v2/{repo}/tags/list");
        let mut tags = Vec::new();
        loop {
            let response = self.send(
                &scope,
                &|agent, url, auth| with_auth(agent.get(url), auth).call(),
                &target,
                true,
            )?;
            if response.status() == 404 {
                bail!(NotFound(repo.to_string()));
            }
            check_status(&response, &format!("listing the tags of {repo}"))?;
            let next = header(&response, "link").and_then(|l| next_link(&l));
            #[derive(serde::Deserialize)]
            struct TagList {
                tags: Option<Vec<String>>,
            }
            let body = response
                .into_body()
                .with_config()
                .limit(16 << 20)
                .read_to_vec()?;
            let list: TagList = serde_json::from_slice(&body)
                .with_context(|| format!("reading the tag list of {repo}"))?;
            tags.extend(list.tags.unwrap_or_default());
            match next {
                Some(n) => target = n,
                None => return Ok(tags),
            }
        }
    }

    /// Whether the registry has a blob in `repo` (HEAD).
    pub(crate) fn blob_exists(&mut self, repo: &str, digest: &str) -> Result<bool> {
        let scope = push_scope(repo);
        let path = format!("/v2/{repo}/blobs/{digest}");
        let response = self.send(
            &scope,
            &|agent, url, auth| with_auth(agent.head(url), auth).call(),
            &path,
            true,
        )?;
        match response.status().as_u16() {
            200 => Ok(true),
            404 => Ok(false),
            _ => {
                check_status(&response, &format!("checking for {digest} in {repo}"))?;
                Ok(false)
            }
        }
    }

    /// Starts an upload, or mounts the blob from `from` (another repository
    /// of this registry) when given: `Ok(None)` means mounted, `Some(location)`
    /// an upload to continue.
    pub(crate) fn start_upload(
        &mut self,
        repo: &str,
        mount: Option<(&str, &str)>,
    ) -> Result<Option<String>> {
        let (scope, path) = match mount {
            Some((digest, from)) => (
                format!("{} {}", push_scope(repo), pull_scope(from)),
                format!("/v2/{repo}/blobs/uploads/?mount={digest}&from={from}"),
            ),
            None => (push_scope(repo), format!("/v2/{repo}/blobs/uploads/")),
        };
        let response = self.send(
            &scope,
            &|agent, url, auth| {
                with_auth(agent.post(url), auth)
                    .header("Content-Length", "0")
                    .send_empty()
            },
            &path,
            false,
        )?;
        let status = response.status().as_u16();
        if status == 201 && mount.is_some() {
            return Ok(None);
        }
        if status != 202 {
            check_status(&response, &format!("starting an upload to {repo}"))?;
            bail!("starting an upload to {repo}: unexpected answer {status}");
        }
        let location = header(&response, "location")
            .with_context(|| format!("starting an upload to {repo}: no Location in the answer"))?;
        Ok(Some(location))
    }

    /// Sends `len` bytes of `file` (from its start) as one PATCH chunk at
    /// `offset`; returns the next upload location.
    pub(crate) fn upload_chunk(
        &mut self,
        repo: &str,
        location: &str,
        file: &std::fs::File,
        offset: u64,
        len: u64,
    ) -> Result<String> {
        use std::io::{Seek, SeekFrom};
        let scope = push_scope(repo);
        let range = format!("{offset}-{}", offset + len - 1);
        let response = self.send(
            &scope,
            &|agent, url, auth| {
                let mut f = file.try_clone().map_err(ureq::Error::Io)?;
                f.seek(SeekFrom::Start(offset)).map_err(ureq::Error::Io)?;
                with_auth(agent.patch(url), auth)
                    .header("Content-Type", "application/octet-stream")
                    .header("Content-Range", &range)
                    .header("Content-Length", len.to_string())
                    .send(ureq::SendBody::from_owned_reader(f.take(len)))
            },
            location,
            false,
        )?;
        if response.status() != 202 {
            check_status(&response, &format!("uploading to {repo}"))?;
        }
        header(&response, "location")
            .with_context(|| format!("uploading to {repo}: no Location in the answer"))
    }

    /// Ends an upload: PUT `?digest=` with the rest of the data (`body`:
    /// file, offset, length; none for the end of a chunked upload).
    pub(crate) fn finish_upload(
        &mut self,
        repo: &str,
        location: &str,
        digest: &str,
        body: Option<(&std::fs::File, u64, u64)>,
    ) -> Result<()> {
        use std::io::{Seek, SeekFrom};
        let scope = push_scope(repo);
        let sep = if location.contains('?') { '&' } else { '?' };
        let target = format!("{location}{sep}digest={digest}");
        let response = self.send(
            &scope,
            &|agent, url, auth| {
                let r = with_auth(agent.put(url), auth)
                    .header("Content-Type", "application/octet-stream");
                match body {
                    Some((file, offset, len)) => {
                        let mut f = file.try_clone().map_err(ureq::Error::Io)?;
                        f.seek(SeekFrom::Start(offset)).map_err(ureq::Error::Io)?;
                        r.header("Content-Length", len.to_string())
                            .send(ureq::SendBody::from_owned_reader(f.take(len)))
                    }
                    None => r.header("Content-Length", "0").send_empty(),
                }
            },
            &target,
            false,
        )?;
        if response.status() != 201 {
            check_status(&response, &format!("uploading {digest} to {repo}"))?;
        }
        Ok(())
    }

    /// Uploads a manifest under `reference` (a tag or its digest).
    pub(crate) fn put_manifest(
        &mut self,
        repo: &str,
        reference: &str,
        media_type: &str,
        data: &[u8],
    ) -> Result<()> {
        let scope = push_scope(repo);
        let path = format!("/v2/{repo}/manifests/{reference}");
        let response = self.send(
            &scope,
            &|agent, url, auth| {
                with_auth(agent.put(url), auth)
                    .header("Content-Type", media_type)
                    .send(data)
            },
            &path,
            true,
        )?;
        if response.status() != 201 {
            check_status(
                &response,
                &format!("uploading the manifest {repo}:{reference}"),
            )?;
        }
        Ok(())
    }

    /// Checks credentials against the registry (`login`).
    pub(crate) fn ping(&mut self) -> Result<()> {
        let response = self.send(
            "",
            &|agent, url, auth| with_auth(agent.get(url), auth).call(),
            "/v2/",
            true,
        )?;
        check_status(&response, &format!("logging in to {}", self.domain))
    }
}

fn pull_scope(repo: &str) -> String {
    format!("repository:{repo}:pull")
}

fn push_scope(repo: &str) -> String {
    format!("repository:{repo}:pull,push")
}

fn with_auth<B>(r: ureq::RequestBuilder<B>, auth: Option<&str>) -> ureq::RequestBuilder<B> {
    match auth {
        Some(a) => r.header("Authorization", a),
        None => r,
    }
}

fn header(r: &Response<Body>, name: &str) -> Option<String> {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The target of `Link: </v2/x/tags/list?n=100&last=y>; rel="next"`.
fn next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        params.contains("rel=\"next\"").then(|| {
            target
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
    })
}

/// The registry could not be reached (or the connection broke).
#[derive(Debug, thiserror::Error)]
#[error("cannot reach the registry {domain}: {detail}")]
pub(crate) struct Unreachable {
    pub(crate) domain: String,
    pub(crate) detail: String,
    /// Worth trying again (reset, refused, timeout), unlike a DNS failure.
    pub(crate) transient: bool,
}

/// Attempts after the first for idempotent requests.
const RETRIES: u32 = 3;
/// A longer Retry-After is reported to the user instead of waited for.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(500 << attempt.min(4))
}

fn is_transient_status(status: u16) -> bool {
    status == 429 || status == 408 || (500..600).contains(&status) && status != 501 && status != 505
}

/// `Retry-After` in seconds (the HTTP-date form is rare for registries).
fn retry_after(r: &Response<Body>) -> Option<Duration> {
    let v = r.headers().get("retry-after")?.to_str().ok()?;
    v.trim().parse::<u64>().ok().map(Duration::from_secs)
}

fn settings_hint() -> String {
    super::settings::settings_path()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "~/.config/berth/registries.json".into())
}

/// The system's CA certificates, read once and only when an HTTPS registry
/// is verified; webpki's bundled roots when the system has none.
fn system_roots() -> ureq::tls::RootCerts {
    static ROOTS: OnceLock<ureq::tls::RootCerts> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            if found.certs.is_empty() {
                return ureq::tls::RootCerts::WebPki;
            }
            ureq::tls::RootCerts::new_with_certs(
                &found
                    .certs
                    .iter()
                    .map(|c| ureq::tls::Certificate::from_der(c.as_ref()).to_owned())
                    .collect::<Vec<_>>(),
            )
        })
        .clone()
}

/// A manifest or tag the registry does not have.
#[derive(Debug, thiserror::Error)]
#[error("image not found: {0}")]
pub(crate) struct NotFound(pub(crate) String);

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
