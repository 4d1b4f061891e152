//! Registries: pull, push, login and logout against real `docker-registry`
//! instances (one per test, on a free loopback port, storage in a temporary
//! directory), Basic auth with htpasswd, a Bearer token flow (a small proxy
//! in front of the registry that demands tokens from its own endpoint),
//! multi-arch indexes, corrupted blobs, a registry that dies mid-pull, and
//! concurrent pulls.
//!
//! Needs `docker-registry`, `skopeo` and `htpasswd` (Debian: docker-registry,
//! skopeo, apache2-utils); a test skips (or fails under BERTH_TEST_STRICT)
//! when one is missing.

mod common;

use base64::Engine as _;
use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn tools_present() -> bool {
    for tool in ["docker-registry", "skopeo", "htpasswd"] {
        let found = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).exists()))
            .unwrap_or(false);
        if !found {
            skip_or_fail(&format!("{tool} is not installed"));
            return false;
        }
    }
    true
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A running `docker-registry serve`; killed when dropped.
struct Registry {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Registry {
    fn start(htpasswd: Option<(&str, &str)>) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("data").display()
        );
        if let Some((user, pass)) = htpasswd {
            let out = Command::new("htpasswd")
                .args(["-Bbn", user, pass])
                .output()
                .unwrap();
            assert!(out.status.success());
            std::fs::write(dir.path().join("htpasswd"), &out.stdout).unwrap();
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: berth-test\n    path: {}\n",
                dir.path().join("htpasswd").display()
            ));
        }
        std::fs::write(dir.path().join("config.yml"), config).unwrap();
        let mut r = Registry {
            port,
            dir,
            child: None,
        };
        r.restart();
        r
    }

    fn restart(&mut self) {
        // Its access log (stdout) tells which blobs were fetched how often.
        let access = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("access.log"))
            .unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(self.dir.path().join("config.yml"))
            .stdout(access)
            .stderr(std::fs::File::create(self.dir.path().join("log")).unwrap())
            .spawn()
            .expect("starting docker-registry");
        self.child = Some(child);
        wait_for_port(self.port);
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Puts a fixture archive into the registry with skopeo (not berth).
    fn seed(&self, fixture_name: &str, name: &str, creds: Option<&str>) {
        let mut cmd = Command::new("skopeo");
        cmd.args(["copy", "-q", "--dest-tls-verify=false"]);
        if let Some(c) = creds {
            cmd.arg(format!("--dest-creds={c}"));
        }
        cmd.arg(format!(
            "docker-archive:{}",
            fixture(fixture_name).display()
        ))
        .arg(format!("docker://{}/{name}", self.host()));
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "skopeo: {}", show(&out));
    }

    /// How many times each blob was downloaded (`GET .../blobs/<digest>`
    /// answered 200), from the access log.
    fn blob_downloads(&self) -> std::collections::BTreeMap<String, usize> {
        let log = std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default();
        let mut counts = std::collections::BTreeMap::new();
        for line in log.lines() {
            let Some(req) = line.split('"').nth(1) else {
                continue;
            };
            let ok = line
                .split('"')
                .nth(2)
                .is_some_and(|r| r.trim_start().starts_with("200"));
            if let (true, Some(path)) = (ok, req.strip_prefix("GET ")) {
                if let Some(d) = path.split("/blobs/").nth(1) {
                    let digest = d.split_whitespace().next().unwrap_or(d).to_string();
                    *counts.entry(digest).or_insert(0) += 1;
                }
            }
        }
        counts
    }

    /// The registry's file for a blob (filesystem storage driver layout).
    fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.dir.path().join(format!(
            "data/docker/registry/v2/blobs/sha256/{}/{hex}/data",
            &hex[..2]
        ))
    }

    fn get(&self, path: &str, accept: &str) -> (Vec<u8>, String) {
        let mut r = ureq::get(&format!("http://{}{path}", self.host()))
            .header("Accept", accept)
            .call()
            .unwrap();
        let ct = r
            .headers()
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        (r.body_mut().read_to_vec().unwrap(), ct)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.kill();
    }
}

/// berth as the test user, with its own Docker config dir and berth config
/// dir (so that nothing of the user's real home is read or written).
struct Env {
    b: Berth,
    docker_config: PathBuf,
    xdg_config: PathBuf,
}

impl Env {
    fn new() -> Env {
        let b = Berth::new(&main_user());
        let docker_config = b.scratch_dir();
        let xdg_config = b.scratch_dir();
        Env {
            b,
            docker_config,
            xdg_config,
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = self.b.command(args);
        c.env("DOCKER_CONFIG", &self.docker_config)
            .env("XDG_CONFIG_HOME", &self.xdg_config);
        c
    }

    #[track_caller]
    fn cmd(&self, args: &[&str]) -> std::process::Output {
        run(self.command(args))
    }

    #[track_caller]
    fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd(args);
        assert_success(&out, &format!("berth {}", args.join(" ")));
        stdout(&out)
    }

    #[track_caller]
    fn fails(&self, args: &[&str]) -> String {
        let out = self.cmd(args);
        assert!(
            !out.status.success(),
            "berth {} should fail\n{}",
            args.join(" "),
            show(&out)
        );
        stderr(&out)
    }

    fn config_json(&self) -> serde_json::Value {
        let path = self.docker_config.join("config.json");
        serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|_| b"{}".to_vec())).unwrap()
    }

    /// What is left in the store's tmp/ besides the layer lock files.
    fn tmp_leftovers(&self) -> Vec<String> {
        std::fs::read_dir(self.b.root.join("tmp"))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n != "locks")
                    .collect()
            })
            .unwrap_or_default()
    }

    fn layer_count(&self) -> usize {
        std::fs::read_dir(self.b.root.join("layers"))
            .map(|d| d.count())
            .unwrap_or(0)
    }
}

#[test]
fn anonymous_pull_push_mount_and_run() {
    if !tools_present() {
        return;
    }
    let reg = Registry::start(None);
    reg.seed("busybox.tar", "library/busybox:1.36", None);
    let host = reg.host();
    let env = Env::new();
    let name = format!("{host}/library/busybox:1.36");

    let out = env.ok(&["pull", &name]);
    assert!(out.contains("1.36: Pulling from library/busybox"), "{out}");
    assert!(out.contains("Pull complete"), "{out}");
    assert!(out.contains("Digest: sha256:"), "{out}");
    assert!(
        out.contains(&format!("Status: Downloaded newer image for {name}")),
        "{out}"
    );
    assert!(out.ends_with(&format!("{name}\n")), "{out}");
    let again = env.ok(&["pull", &name]);
    assert!(again.contains("Already exists"), "{again}");
    assert!(again.contains("Status: Image is up to date"), "{again}");
    // -q: the name only.
    assert_eq!(env.ok(&["pull", "-q", &name]), format!("{name}\n"));

    // Tag into another repository of the same registry: the layer is mounted.
    let other = format!("{host}/mine/bb:v1");
    env.ok(&["tag", &name, &other]);
    let out = env.ok(&["push", &other]);
    assert!(
        out.starts_with(&format!("The push refers to repository [{host}/mine/bb]\n")),
        "{out}"
    );
    assert!(out.contains("Mounted from library/busybox"), "{out}");
    let last = out.lines().last().unwrap();
    assert!(
        last.starts_with("v1: digest: sha256:") && last.contains(" size: "),
        "{out}"
    );
    let again = env.ok(&["push", &other]);
    assert!(again.contains("Layer already exists"), "{again}");
    let inspect = inspect_json(&env.ok(&["image", "inspect", &other]));
    let digests = inspect[0]["RepoDigests"].to_string();
    assert!(
        digests.contains(&format!("{host}/mine/bb@sha256:")),
        "{digests}"
    );

    // Gone from the store, back from the registry, and it runs.
    let id = env.ok(&["image", "inspect", "-f", "{{.Id}}", &name]);
    env.ok(&["rmi", "-f", id.trim()]);
    assert_eq!(env.ok(&["images", "-a", "-q"]), "");
    env.ok(&["pull", "-q", &other]);
    assert_eq!(env.ok(&["run", "--rm", &other, "echo", "hello"]), "hello\n");

    // run pulls what is missing, and only that (--pull, as Docker).
    let err = env.fails(&["run", "--rm", "--pull", "never", &name, "true"]);
    assert!(err.contains("--pull=never"), "{err}");
    assert_eq!(
        env.ok(&["run", "--rm", "-q", &name, "echo", "pulled"]),
        "pulled\n"
    );
    assert_eq!(
        env.ok(&["run", "--rm", "--pull", "never", &name, "echo", "local"]),
        "local\n"
    );

    // Unknown tags and unreachable registries say what is wrong.
    let err = env.fails(&["pull", &format!("{host}/library/busybox:nope")]);
    assert!(err.contains("image not found"), "{err}");
    let closed = format!("127.0.0.1:{}/x:y", free_port());
    let err = env.fails(&["pull", &closed]);
    assert!(
        err.contains("cannot reach the registry 127.0.0.1:"),
        "{err}"
    );
}

#[test]
fn push_of_loaded_and_imported_images_then_pull_elsewhere() {
    if !tools_present() {
        return;
    }
    let reg = Registry::start(None);
    let host = reg.host();
    let env = Env::new();
    env.ok(&[
        "load",
        "-q",
        "-i",
        fixture("busybox-layers.tar").to_str().unwrap(),
    ]);
    let loaded = format!("{host}/loaded:2layers");
    env.ok(&["tag", "busybox:layers", &loaded]);
    let out = env.ok(&["push", &loaded]);
    assert_eq!(out.matches(": Pushed").count(), 2, "{out}");
    // Compressed the same way, the second push finds both layers.
    env.ok(&["rmi", &loaded]);
    env.ok(&["tag", "busybox:layers", &loaded]);
    let out = env.ok(&["push", &loaded]);
    assert_eq!(out.matches("Layer already exists").count(), 2, "{out}");
    assert!(env.tmp_leftovers().is_empty(), "{:?}", env.tmp_leftovers());

    let imported = format!("{host}/imported:1");
    let rootfs = fixture("busybox-rootfs.tar.gz");
    env.ok(&["import", rootfs.to_str().unwrap(), &imported]);
    env.ok(&["push", "-q", &imported]);

    // skopeo reads what berth pushed (another client agrees on the format).
    let out = Command::new("skopeo")
        .args(["inspect", "--tls-verify=false"])
        .arg(format!("docker://{imported}"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));

    let other = Env::new();
    other.ok(&["pull", "-q", &loaded]);
    other.ok(&["pull", "-q", &imported]);
    assert_eq!(
        other.ok(&["run", "--rm", &imported, "echo", "imported"]),
        "imported\n"
    );
    assert_eq!(
        other.ok(&["image", "inspect", "-f", "{{.Id}}", &loaded]),
        env.ok(&["image", "inspect", "-f", "{{.Id}}", &loaded])
    );
}

#[test]
fn basic_auth_login_logout() {
    if !tools_present() {
        return;
    }
    let reg = Registry::start(Some(("alice", "wonderland")));
    reg.seed("busybox.tar", "team/bb:1", Some("alice:wonderland"));
    let host = reg.host();
    let env = Env::new();
    let name = format!("{host}/team/bb:1");
    // Unknown keys of config.json survive logins and logouts.
    std::fs::write(
        env.docker_config.join("config.json"),
        r#"{"psFormat": "table {{.ID}}", "auths": {}}"#,
    )
    .unwrap();
    chown_to(&env, &env.docker_config.join("config.json"));

    let err = env.fails(&["pull", &name]);
    assert!(err.contains(&format!("berth login {host}")), "{err}");

    let out = run_with_input(
        env.command(&["login", "-u", "alice", "--password-stdin", &host]),
        b"wrong\n",
    );
    assert!(!out.status.success(), "{}", show(&out));
    assert!(
        stderr(&out).contains("incorrect username or password"),
        "{}",
        show(&out)
    );
    assert!(!stderr(&out).contains("wrong"), "{}", show(&out));
    assert!(env.config_json()["auths"].get(&host).is_none());

    let out = run_with_input(
        env.command(&["login", "-u", "alice", "--password-stdin", &host]),
        b"wonderland\n",
    );
    assert_success(&out, "login");
    assert_eq!(stdout(&out), "Login Succeeded\n");
    let config = env.config_json();
    assert_eq!(config["psFormat"], "table {{.ID}}");
    assert_eq!(
        config["auths"][&host]["auth"],
        base64::engine::general_purpose::STANDARD.encode("alice:wonderland")
    );
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(env.docker_config.join("config.json"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);

    env.ok(&["pull", "-q", &name]);
    let pushed = format!("{host}/team/copy:1");
    env.ok(&["tag", &name, &pushed]);
    env.ok(&["push", "-q", &pushed]);

    // -p works, with Docker's warning.
    let out = env.cmd(&["login", "-u", "alice", "-p", "wonderland", &host]);
    assert_success(&out, "login -p");
    assert!(stderr(&out).contains("--password-stdin"), "{}", show(&out));

    assert_eq!(
        env.ok(&["logout", &host]),
        format!("Removing login credentials for {host}\n")
    );
    assert!(env.config_json()["auths"].get(&host).is_none());
    assert_eq!(env.config_json()["psFormat"], "table {{.ID}}");
    assert_eq!(
        env.ok(&["logout", &host]),
        format!("Not logged in to {host}\n")
    );
    env.ok(&["rmi", &name, &pushed]);
    env.fails(&["pull", &name]);
}

/// Files written by the test (as root) for the test user.
fn chown_to(env: &Env, path: &Path) {
    if running_as_root() {
        let out = Command::new("chown")
            .arg(format!("{}:{}", env.b.user.uid, env.b.user.gid))
            .arg(path)
            .output()
            .unwrap();
        assert!(out.status.success());
    }
}

/// A proxy in front of a registry: it can demand Bearer tokens from its
/// own `/token` endpoint (Basic credentials checked there), and can cut a
/// blob download in the middle and run `on_cut` (to kill the registry).
struct Proxy {
    port: u16,
    token_requests: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

/// What the proxy does once, when it cuts a blob download.
type OnCut = Box<dyn FnOnce() + Send>;

#[derive(Clone)]
struct ProxyMode {
    bearer: Option<(String, String)>,
    cut_blobs: Option<Arc<Mutex<Option<OnCut>>>>,
}

impl Proxy {
    fn start(upstream: u16, mode: ProxyMode) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let token_requests = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (tr, st) = (token_requests.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                let (mode, tr) = (mode.clone(), tr.clone());
                std::thread::spawn(move || {
                    let _ = serve(conn, upstream, port, &mode, &tr);
                });
            }
        });
        Proxy {
            port,
            token_requests,
            stop,
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

const TOKEN: &str = "berth-test-token";

fn serve(
    mut conn: TcpStream,
    upstream: u16,
    port: u16,
    mode: &ProxyMode,
    token_requests: &AtomicUsize,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let mut body = vec![
        0;
        header("content-length")
            .and_then(|l| l.parse().ok())
            .unwrap_or(0)
    ];
    reader.read_exact(&mut body)?;

    let respond = |conn: &mut TcpStream, status: u16, extra: &str, body: &[u8]| {
        write!(
            conn,
            "HTTP/1.1 {status} X\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )?;
        conn.write_all(body)
    };
    if let Some((user, pass)) = &mode.bearer {
        if path.starts_with("/token") {
            token_requests.fetch_add(1, Ordering::SeqCst);
            let expected = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
            );
            if header("authorization").as_deref() == Some(expected.as_str()) {
                return respond(
                    &mut conn,
                    200,
                    "Content-Type: application/json\r\n",
                    format!(r#"{{"token":"{TOKEN}"}}"#).as_bytes(),
                );
            }
            return respond(&mut conn, 401, "", b"{}");
        }
        if header("authorization").as_deref() != Some(&format!("Bearer {TOKEN}")) {
            let challenge = format!(
                "WWW-Authenticate: Bearer realm=\"http://127.0.0.1:{port}/token\",service=\"berth-test\"\r\n"
            );
            return respond(&mut conn, 401, &challenge, b"{}");
        }
    }

    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let mut req = ureq::http::Request::builder()
        .method(method.as_str())
        .uri(format!("http://127.0.0.1:{upstream}{path}"));
    for (k, v) in &headers {
        if !matches!(
            k.as_str(),
            "host" | "authorization" | "connection" | "content-length"
        ) {
            req = req.header(k, v);
        }
    }
    let response = match agent.run(req.body(body).unwrap()) {
        Ok(r) => r,
        Err(_) => return respond(&mut conn, 502, "", b"upstream gone"),
    };
    let status = response.status().as_u16();
    let mut extra = String::new();
    for (k, v) in response.headers() {
        let k = k.as_str();
        if matches!(k, "content-length" | "connection" | "transfer-encoding") {
            continue;
        }
        let v = v.to_str().unwrap_or("").replace(
            &format!("127.0.0.1:{upstream}"),
            &format!("127.0.0.1:{port}"),
        );
        extra.push_str(&format!("{k}: {v}\r\n"));
    }
    let length = response
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let data = response.into_body().read_to_vec().unwrap_or_default();
    if method == "HEAD" {
        write!(
            conn,
            "HTTP/1.1 {status} X\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
            length.unwrap_or(0)
        )?;
        return Ok(());
    }
    let is_blob = method == "GET" && path.contains("/blobs/sha256:") && data.len() > 4096;
    if let (true, Some(cut)) = (is_blob, &mode.cut_blobs) {
        // Half the blob, then the registry dies and the connection breaks.
        if let Some(f) = cut.lock().unwrap().take() {
            write!(
                conn,
                "HTTP/1.1 {status} X\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
                data.len()
            )?;
            conn.write_all(&data[..data.len() / 2])?;
            conn.flush()?;
            f();
            return Ok(());
        }
    }
    respond(&mut conn, status, &extra, &data)
}

#[test]
fn bearer_token_flow_with_login() {
    if !tools_present() {
        return;
    }
    let reg = Registry::start(None);
    reg.seed("busybox-layers.tar", "secret/bb:1", None);
    let proxy = Proxy::start(
        reg.port,
        ProxyMode {
            bearer: Some(("bob".into(), "builder".into())),
            cut_blobs: None,
        },
    );
    let host = format!("127.0.0.1:{}", proxy.port);
    let env = Env::new();
    let name = format!("{host}/secret/bb:1");

    let err = env.fails(&["pull", &name]);
    assert!(
        err.contains("unauthorized") && err.contains(&format!("berth login {host}")),
        "{err}"
    );
    let out = run_with_input(
        env.command(&["login", "-u", "bob", "--password-stdin", &host]),
        b"nope\n",
    );
    assert!(!out.status.success());
    let out = run_with_input(
        env.command(&["login", "-u", "bob", "--password-stdin", &host]),
        b"builder\n",
    );
    assert_success(&out, "login");
    proxy.token_requests.store(0, Ordering::SeqCst);
    let out = env.ok(&["pull", &name]);
    assert!(out.contains("Status: Downloaded newer image"), "{out}");
    // One token for the repository, reused for the manifest, config and
    // both layers (each download thread starts with the token it got).
    assert_eq!(proxy.token_requests.load(Ordering::SeqCst), 1);
    assert_eq!(env.layer_count(), 2);
}

#[test]
fn multi_arch_index_picks_the_platform() {
    if !tools_present() {
        return;
    }
    let reg = Registry::start(None);
    reg.seed("busybox.tar", "multi:single", None);
    let (manifest, ct) = reg.get(
        "/v2/multi/manifests/single",
        "application/vnd.docker.distribution.manifest.v2+json",
    );
    let digest = format!(
        "sha256:{}",
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&manifest))
    );
    // The same image offered for two platforms (and an attestation entry
    // to be skipped).
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": ct, "digest": digest, "size": manifest.len(),
             "platform": {"architecture": "riscv64", "os": "linux"}},
            {"mediaType": ct, "digest": digest, "size": manifest.len(),
             "platform": {"architecture": "unknown", "os": "unknown"},
             "annotations": {"vnd.docker.reference.type": "attestation-manifest"}},
            {"mediaType": ct, "digest": digest, "size": manifest.len(),
             "platform": {"architecture": host_arch(), "os": "linux"}}
        ]
    });
    let status = ureq::put(&format!("http://{}/v2/multi/manifests/all", reg.host()))
        .header("Content-Type", "application/vnd.oci.image.index.v1+json")
        .send(serde_json::to_vec(&index).unwrap())
        .unwrap()
        .status();
    assert_eq!(status, 201);
    let env = Env::new();
    let name = format!("{}/multi:all", reg.host());
    // berth runs this machine's platform only: another one is refused
    // before anything is fetched.
    let err = env.fails(&["pull", "--platform", "linux/riscv64", &name]);
    assert!(
        err.contains("platform \"linux/riscv64\" is not supported")
            && err.contains("this machine's platform"),
        "{err}"
    );
    env.ok(&["pull", "-q", &name]);
    env.ok(&[
        "pull",
        "-q",
        "--platform",
        &format!("linux/{}", host_arch()),
        &name,
    ]);
    let tags = env.ok(&["images", "--format", "{{.Tag}}"]);
    assert_eq!(tags, "all\n");
}

fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

#[test]
fn corrupted_blob_is_refused_and_nothing_is_kept() {
    if !tools_present() {
        return;
    }
    let reg = Registry::start(None);
    reg.seed("busybox.tar", "broken:1", None);
    let (manifest, _) = reg.get(
        "/v2/broken/manifests/1",
        "application/vnd.docker.distribution.manifest.v2+json",
    );
    let m: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    let layer = m["layers"][0]["digest"].as_str().unwrap();
    let file = reg.blob_file(layer);
    let mut data = std::fs::read(&file).unwrap();
    let at = data.len() / 2;
    data[at] ^= 0x55;
    std::fs::write(&file, data).unwrap();

    let env = Env::new();
    let err = env.fails(&["pull", &format!("{}/broken:1", reg.host())]);
    assert!(
        err.contains("does not match its digest")
            || err.contains("corrupt")
            || err.contains("unpacking layer"),
        "{err}"
    );
    assert_eq!(env.ok(&["images", "-q"]), "");
    assert_eq!(env.layer_count(), 0);
    assert!(env.tmp_leftovers().is_empty(), "{:?}", env.tmp_leftovers());
}

#[test]
fn registry_dying_mid_pull_then_resume() {
    if !tools_present() {
        return;
    }
    let reg = Arc::new(Mutex::new(Registry::start(None)));
    let upstream = reg.lock().unwrap().port;
    reg.lock()
        .unwrap()
        .seed("busybox-layers.tar", "flaky:1", None);
    let killer = reg.clone();
    let cut: OnCut = Box::new(move || killer.lock().unwrap().kill());
    let proxy = Proxy::start(
        upstream,
        ProxyMode {
            bearer: None,
            cut_blobs: Some(Arc::new(Mutex::new(Some(cut)))),
        },
    );
    let env = Env::new();
    let name = format!("127.0.0.1:{}/flaky:1", proxy.port);
    let err = env.fails(&["pull", &name]);
    assert!(err.contains("flaky"), "{err}");
    assert_eq!(env.ok(&["images", "-q"]), "");
    assert!(env.tmp_leftovers().is_empty(), "{:?}", env.tmp_leftovers());

    reg.lock().unwrap().restart();
    let out = env.ok(&["pull", &name]);
    assert!(out.contains("Status: Downloaded newer image"), "{out}");
    assert_eq!(env.layer_count(), 2);
    assert_eq!(
        env.ok(&["run", "--rm", &name, "echo", "resumed"]),
        "resumed\n"
    );
}

#[test]
fn concurrent_pulls_share_the_work() {
    if !tools_present() {
        return;
    }
    let reg = Registry::start(None);
    reg.seed("busybox-layers.tar", "shared:1", None);
    reg.seed("busybox-layers.tar", "shared:2", None);
    let env = Env::new();
    let one = format!("{}/shared:1", reg.host());
    let two = format!("{}/shared:2", reg.host());
    let a = env.command(&["pull", &one]);
    let b = env.command(&["pull", &two]);
    let ta = std::thread::spawn(move || run(a));
    let tb = std::thread::spawn(move || run(b));
    let (oa, ob) = (ta.join().unwrap(), tb.join().unwrap());
    assert_success(&oa, "first pull");
    assert_success(&ob, "second pull");
    assert_eq!(env.layer_count(), 2);
    assert_eq!(
        env.ok(&["images", "--format", "{{.Tag}}"]).lines().count(),
        2
    );
    assert!(env.tmp_leftovers().is_empty(), "{:?}", env.tmp_leftovers());
    // Layers shared with an image already present are not downloaded.
    let three = format!("{}/shared:3", reg.host());
    reg.seed("busybox-layers.tar", "shared:3", None);
    let out = env.ok(&["pull", &three]);
    assert_eq!(out.matches("Already exists").count(), 2, "{out}");
    // -a pulls every tag of the repository.
    let all = env.ok(&["pull", "-a", &format!("{}/shared", reg.host())]);
    for t in ["1", "2", "3"] {
        assert!(all.contains(&format!("{t}: Pulling from shared")), "{all}");
    }
}

/// Slurm ranks pulling one image at once: each blob (config and
/// layers) crosses the network once, every pull succeeds.
#[test]
fn twenty_concurrent_pulls_download_each_blob_once() {
    if !tools_present() {
        return;
    }
    let reg = Registry::start(None);
    reg.seed("busybox-layers.tar", "ranks/bb:1", None);
    let before = reg.blob_downloads();
    let env = Env::new();
    let name = format!("{}/ranks/bb:1", reg.host());
    let pulls: Vec<_> = (0..20)
        .map(|_| {
            let c = env.command(&["pull", &name]);
            std::thread::spawn(move || run(c))
        })
        .collect();
    for (i, p) in pulls.into_iter().enumerate() {
        assert_success(&p.join().unwrap(), &format!("pull {i} of 20"));
    }
    let after = reg.blob_downloads();
    let fetched: Vec<(&String, usize)> = after
        .iter()
        .map(|(d, n)| (d, n - before.get(d).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect();
    // A config and two layers, once each.
    assert_eq!(fetched.len(), 3, "{fetched:?}");
    assert!(fetched.iter().all(|(_, n)| *n == 1), "{fetched:?}");
    assert_eq!(env.layer_count(), 2);
    assert!(env.tmp_leftovers().is_empty(), "{:?}", env.tmp_leftovers());
    assert_eq!(
        env.ok(&["run", "--rm", &name, "cat", "/etc/layer2.txt"]),
        "layer 2\n"
    );
}

#[test]
fn unqualified_names_search_the_configured_registries() {
    if !tools_present() {
        return;
    }
    let reg = Registry::start(None);
    reg.seed("busybox.tar", "tools/sbox:2", None);
    let host = reg.host();
    let env = Env::new();
    // Without settings a short name is Docker Hub's, which is not reachable here.
    let err = env.fails(&["pull", "tools/sbox:2"]);
    assert!(err.contains("docker.io"), "{err}");
    let dir = env.xdg_config.join("berth");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("registries.json"),
        format!(r#"{{"unqualified-search": ["127.0.0.1:1", "{host}"]}}"#),
    )
    .unwrap();
    chown_to(&env, &env.xdg_config);
    // The first registry is unreachable; the second has it.
    let out = env.ok(&["pull", "tools/sbox:2"]);
    assert!(out.ends_with(&format!("{host}/tools/sbox:2\n")), "{out}");
    // The short name finds the pulled image locally, and run uses it.
    assert_eq!(
        env.ok(&[
            "run",
            "--rm",
            "--pull",
            "never",
            "tools/sbox:2",
            "echo",
            "short"
        ]),
        "short\n"
    );
    let err = env.fails(&["pull", "tools/nothere:1"]);
    assert!(err.contains("no registry had it"), "{err}");
}

/// `rmi` of an image's last tag takes its digest names along and deletes
/// the image and its layers, with Docker's lines (issue 8).
#[test]
fn rmi_of_the_last_tag_drops_the_digests_and_the_image() {
    if !tools_present() {
        return;
    }
    let reg = Registry::start(None);
    reg.seed("busybox-layers.tar", "library/bb:1", None);
    let env = Env::new();
    let name = format!("{}/library/bb:1", reg.host());
    env.ok(&["pull", "-q", &name]);
    let id = env.ok(&["image", "inspect", "-f", "{{.Id}}", &name]);
    let digests = env.ok(&["image", "inspect", "-f", "{{json .RepoDigests}}", &name]);
    let digest: Vec<String> = serde_json::from_str(&digests).unwrap();
    assert_eq!(digest.len(), 1, "{digests}");
    // A second tag: removing one name only untags.
    env.ok(&["tag", &name, "other:2"]);
    assert_eq!(env.ok(&["rmi", "other:2"]), "Untagged: other:2\n");
    let out = env.ok(&["rmi", &name]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], format!("Untagged: {name}"), "{out}");
    assert_eq!(lines[1], format!("Untagged: {}", digest[0]), "{out}");
    assert_eq!(lines[2], format!("Deleted: {}", id.trim()), "{out}");
    // Both layers are this image's alone: two chain ids, top first.
    assert_eq!(lines.len(), 5, "{out}");
    assert!(
        lines[3..].iter().all(|l| l.starts_with("Deleted: sha256:")),
        "{out}"
    );
    assert_eq!(env.ok(&["images", "-a", "-q"]), "");
    assert_eq!(env.layer_count(), 0);
}
