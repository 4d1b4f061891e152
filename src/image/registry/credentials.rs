//! Where registry credentials live, as Docker and Podman keep them:
//!
//! - the file: `$REGISTRY_AUTH_FILE` when set (as Podman), else
//!   `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`;
//!   `auths.<key>.auth` is base64 `user:pass`. Reading also falls back to
//!   Podman's `$XDG_RUNTIME_DIR/containers/auth.json`.
//! - helpers: `credHelpers.<key>` or `credsStore` name a program
//!   `docker-credential-<name>` spoken to with `get|store|erase` and the
//!   data on stdin — never on its command line, where `ps` would show it.
//!
//! The file is edited as a `serde_json::Value` so that keys berth does not
//! know (`proxies`, `currentContext`, ...) survive, and written atomically
//! with mode 0600.

use super::auth::{config_key, Credentials};
use anyhow::{bail, Context, Result};
use base64::Engine as _;
use serde_json::{json, Map, Value};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The file `login` writes and `logout` edits.
pub(crate) fn auth_file() -> Result<PathBuf> {
    if let Some(f) = std::env::var_os("REGISTRY_AUTH_FILE").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(f));
    }
    if let Some(d) = std::env::var_os("DOCKER_CONFIG").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(d).join("config.json"));
    }
    let home = std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .context("HOME is not set, so ~/.docker/config.json cannot be found; set DOCKER_CONFIG")?;
    Ok(PathBuf::from(home).join(".docker").join("config.json"))
}

fn read_config(path: &Path) -> Result<Value> {
    match std::fs::read(path) {
        Ok(data) if data.iter().all(u8::is_ascii_whitespace) => Ok(json!({})),
        Ok(data) => {
            let v: Value = serde_json::from_slice(&data)
                .with_context(|| format!("parsing {}", path.display()))?;
            if !v.is_object() {
                bail!("{} is not a JSON object", path.display());
            }
            Ok(v)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(json!({})),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Writes the config file atomically, mode 0600 (it holds secrets).
fn write_config(path: &Path, value: &Value) -> Result<()> {
    let dir = path.parent().context("the auth file has no directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    let result = (|| -> Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("creating {}", tmp.display()))?;
        let mut data = serde_json::to_vec_pretty(value)?;
        data.push(b'\n');
        f.write_all(&data)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The helper configured for a registry: `credHelpers` first, then `credsStore`.
fn helper_for(config: &Value, domain: &str) -> Option<String> {
    let key = config_key(domain);
    let helpers = config.get("credHelpers");
    [key.as_str(), domain]
        .iter()
        .find_map(|k| helpers?.get(*k)?.as_str().map(str::to_string))
        .or_else(|| config.get("credsStore")?.as_str().map(str::to_string))
        .filter(|h| !h.is_empty())
}

fn auth_entry<'a>(config: &'a Value, domain: &str) -> Option<&'a Map<String, Value>> {
    let auths = config.get("auths")?.as_object()?;
    let key = config_key(domain);
    // Docker also accepts keys written as URLs (`https://reg:5000`).
    auths
        .get(&key)
        .or_else(|| {
            auths
                .iter()
                .find(|(k, _)| strip_url(k) == domain)
                .map(|(_, v)| v)
        })?
        .as_object()
}

fn strip_url(key: &str) -> &str {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    k.split('/').next().unwrap_or(k)
}

fn decode_entry(entry: &Map<String, Value>) -> Result<Option<Credentials>> {
    if let Some(t) = entry
        .get("identitytoken")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
    {
        return Ok(Some(Credentials::IdentityToken(t.to_string())));
    }
    let Some(auth) = entry
        .get("auth")
        .and_then(Value::as_str)
        .filter(|a| !a.is_empty())
    else {
        return Ok(None);
    };
    let raw = base64::engine::general_purpose::STANDARD
        .decode(auth.trim())
        .context("an `auth` value is not base64")?;
    let text = String::from_utf8(raw).context("an `auth` value is not UTF-8")?;
    let (username, password) = text
        .split_once(':')
        .context("an `auth` value is not user:password")?;
    Ok(Some(Credentials::Basic {
        username: username.to_string(),
        password: password.to_string(),
    }))
}

/// The credentials stored for `domain`, if any.
pub(crate) fn get(domain: &str) -> Result<Option<Credentials>> {
    let path = auth_file()?;
    let config = read_config(&path)?;
    if let Some(helper) = helper_for(&config, domain) {
        return helper_get(&helper, domain);
    }
    if let Some(entry) = auth_entry(&config, domain) {
        return decode_entry(entry).with_context(|| format!("in {}", path.display()));
    }
    // Podman's default file, for users who logged in with podman.
    if std::env::var_os("REGISTRY_AUTH_FILE").is_none() {
        if let Some(run) = std::env::var_os("XDG_RUNTIME_DIR") {
            let podman = PathBuf::from(run).join("containers/auth.json");
            let config = read_config(&podman)?;
            if let Some(entry) = auth_entry(&config, domain) {
                return decode_entry(entry).with_context(|| format!("in {}", podman.display()));
            }
        }
    }
    Ok(None)
}

/// Saves credentials for `domain` (in its helper when one is configured);
/// returns where they went, for the message.
pub(crate) fn store(domain: &str, creds: &Credentials) -> Result<String> {
    let path = auth_file()?;
    let mut config = read_config(&path)?;
    let key = config_key(domain);
    let helper = helper_for(&config, domain);
    if let Some(h) = &helper {
        helper_store(h, &key, creds)?;
    }
    let root = config.as_object_mut().expect("checked to be an object");
    let auths = root
        .entry("auths")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .with_context(|| format!("`auths` in {} is not an object", path.display()))?;
    let entry = match (&helper, creds) {
        // Docker leaves an empty entry so that the registry is listed.
        (Some(_), _) => json!({}),
        (None, Credentials::Basic { username, password }) => json!({
            "auth": base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
        }),
        (None, Credentials::IdentityToken(t)) => json!({ "identitytoken": t }),
    };
    auths.insert(key, entry);
    write_config(&path, &config)?;
    Ok(match helper {
        Some(h) => format!("the credential helper docker-credential-{h}"),
        None => path.display().to_string(),
    })
}

/// Removes the credentials of `domain`; false when there were none.
pub(crate) fn erase(domain: &str) -> Result<bool> {
    let path = auth_file()?;
    let mut config = read_config(&path)?;
    let key = config_key(domain);
    let mut found = false;
    if let Some(h) = helper_for(&config, domain) {
        found |= helper_erase(&h, &key)?;
    }
    if let Some(auths) = config.get_mut("auths").and_then(Value::as_object_mut) {
        let keys: Vec<String> = auths
            .keys()
            .filter(|k| **k == key || strip_url(k) == domain)
            .cloned()
            .collect();
        for k in keys {
            auths.remove(&k);
            found = true;
        }
    }
    if found {
        write_config(&path, &config)?;
    }
    Ok(found)
}

/// Runs `docker-credential-<helper> <action>` with `input` on stdin.
fn run_helper(helper: &str, action: &str, input: &[u8]) -> Result<(bool, Vec<u8>)> {
    let program = format!("docker-credential-{helper}");
    let mut child = Command::new(&program)
        .arg(action)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| {
            format!("running the credential helper {program} (configured in {}); install it or remove it from the file", auth_file().map(|p| p.display().to_string()).unwrap_or_default())
        })?;
    // Written before waiting: the helper reads all of stdin first.
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(input)
        .with_context(|| format!("talking to {program}"))?;
    let out = child
        .wait_with_output()
        .with_context(|| format!("waiting for {program}"))?;
    let mut text = out.stdout;
    if !out.status.success() {
        text.extend_from_slice(&out.stderr);
    }
    Ok((out.status.success(), text))
}

fn helper_get(helper: &str, domain: &str) -> Result<Option<Credentials>> {
    let key = config_key(domain);
    let (ok, out) = run_helper(helper, "get", key.as_bytes())?;
    if !ok {
        let msg = String::from_utf8_lossy(&out);
        if msg.contains("credentials not found") {
            return Ok(None);
        }
        bail!(
            "docker-credential-{helper} get failed: {}",
            first_line(&msg)
        );
    }
    #[derive(serde::Deserialize)]
    struct Answer {
        #[serde(rename = "Username")]
        username: String,
        #[serde(rename = "Secret")]
        secret: String,
    }
    let a: Answer = serde_json::from_slice(&out)
        .with_context(|| format!("reading the answer of docker-credential-{helper}"))?;
    Ok(Some(if a.username == "<token>" {
        Credentials::IdentityToken(a.secret)
    } else {
        Credentials::Basic {
            username: a.username,
            password: a.secret,
        }
    }))
}

fn helper_store(helper: &str, key: &str, creds: &Credentials) -> Result<()> {
    let (username, secret) = match creds {
        Credentials::Basic { username, password } => (username.as_str(), password.as_str()),
        Credentials::IdentityToken(t) => ("<token>", t.as_str()),
    };
    let input =
        serde_json::to_vec(&json!({"ServerURL": key, "Username": username, "Secret": secret}))?;
    let (ok, out) = run_helper(helper, "store", &input)?;
    if !ok {
        // The helper's message, never the input (it holds the secret).
        bail!(
            "docker-credential-{helper} store failed: {}",
            first_line(&String::from_utf8_lossy(&out))
        );
    }
    Ok(())
}

fn helper_erase(helper: &str, key: &str) -> Result<bool> {
    let (ok, out) = run_helper(helper, "erase", key.as_bytes())?;
    if ok {
        return Ok(true);
    }
    let msg = String::from_utf8_lossy(&out);
    if msg.contains("credentials not found") {
        return Ok(false);
    }
    bail!(
        "docker-credential-{helper} erase failed: {}",
        first_line(&msg)
    )
}

fn first_line(s: &str) -> &str {
    s.lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::sync::Mutex;

    /// The environment is process-wide: tests that change it take turns.
    static ENV: Mutex<()> = Mutex::new(());

    fn with_auth_file<T>(body: impl FnOnce(&Path) -> T) -> T {
        let _g = ENV.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sub/auth.json");
        // SAFETY: tests touching the environment hold ENV; no other thread
        // of this test binary reads REGISTRY_AUTH_FILE meanwhile.
        unsafe { std::env::set_var("REGISTRY_AUTH_FILE", &file) };
        let r = body(&file);
        // SAFETY: as above.
        unsafe { std::env::remove_var("REGISTRY_AUTH_FILE") };
        r
    }

    #[test]
    fn store_get_erase_keep_unknown_keys() {
        with_auth_file(|file| {
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(
                file,
                r#"{"proxies":{"default":{}},"auths":{"other:1":{"auth":"eDp5"}}}"#,
            )
            .unwrap();
            let creds = Credentials::Basic {
                username: "alice".into(),
                password: "s3:cret".into(),
            };
            store("reg.lan:5000", &creds).unwrap();
            store("docker.io", &creds).unwrap();
            let v: Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
            assert!(v["proxies"].is_object());
            assert_eq!(v["auths"]["reg.lan:5000"]["auth"], "YWxpY2U6czM6Y3JldA==");
            assert!(v["auths"]["https://index.docker.io/v1/"].is_object());
            let mode = std::fs::metadata(file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            match get("reg.lan:5000").unwrap() {
                Some(Credentials::Basic { username, password }) => {
                    assert_eq!((username.as_str(), password.as_str()), ("alice", "s3:cret"))
                }
                other => panic!("{other:?}"),
            }
            assert!(matches!(
                get("other:1").unwrap(),
                Some(Credentials::Basic { .. })
            ));
            assert!(get("nowhere:1").unwrap().is_none());
            assert!(erase("reg.lan:5000").unwrap());
            assert!(!erase("reg.lan:5000").unwrap());
            assert!(get("reg.lan:5000").unwrap().is_none());
            let v: Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
            assert!(v["auths"]["other:1"].is_object() && v["proxies"].is_object());
        });
    }

    #[test]
    fn url_keys_and_helpers_are_found() {
        let config = json!({
            "auths": {"https://reg.lan:5000/v1/": {"auth": "dTpw"}},
            "credsStore": "desktop",
            "credHelpers": {"gcr.io": "gcloud"}
        });
        assert!(auth_entry(&config, "reg.lan:5000").is_some());
        assert_eq!(helper_for(&config, "gcr.io").as_deref(), Some("gcloud"));
        assert_eq!(
            helper_for(&config, "reg.lan:5000").as_deref(),
            Some("desktop")
        );
        assert_eq!(helper_for(&json!({}), "x"), None);
    }

    #[test]
    fn helper_gets_secrets_on_stdin() {
        with_auth_file(|file| {
            let dir = file.parent().unwrap();
            std::fs::create_dir_all(dir).unwrap();
            // A helper that records its argv and stdin, and answers `get`.
            let helper = dir.join("docker-credential-berthtest");
            let log = dir.join("log");
            std::fs::write(
                &helper,
                format!(
                    "#!/bin/sh\necho \"ARGS $*\" >> {log}\ncat >> {log}\necho >> {log}\n[ \"$1\" = get ] && echo '{{\"Username\":\"bob\",\"Secret\":\"pw\"}}'\nexit 0\n",
                    log = log.display()
                ),
            )
            .unwrap();
            std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
            std::fs::write(file, r#"{"credsStore":"berthtest"}"#).unwrap();
            let old_path = std::env::var_os("PATH").unwrap_or_default();
            let mut path = dir.as_os_str().to_owned();
            path.push(":");
            path.push(&old_path);
            // SAFETY: ENV is held (with_auth_file).
            unsafe { std::env::set_var("PATH", &path) };
            let creds = Credentials::Basic {
                username: "bob".into(),
                password: "topsecret".into(),
            };
            let r = store("reg.lan:5000", &creds);
            let got = get("reg.lan:5000");
            // SAFETY: as above.
            unsafe { std::env::set_var("PATH", &old_path) };
            assert!(r.unwrap().contains("berthtest"));
            assert!(
                matches!(got.unwrap(), Some(Credentials::Basic { username, .. }) if username == "bob")
            );
            let logged = std::fs::read_to_string(&log).unwrap();
            assert!(logged.contains("ARGS store\n"), "{logged}");
            assert!(logged.contains("\"Secret\":\"topsecret\""), "{logged}");
            assert!(!logged
                .lines()
                .any(|l| l.starts_with("ARGS") && l.contains("topsecret")));
            let v: Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
            assert!(!v.to_string().contains("topsecret"));
        });
    }
}
