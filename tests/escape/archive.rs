//! Hostile images for the escape suite: layer tars with entries the `tar`
//! crate's safe API refuses to write (`..`, absolute names, sparse
//! headers), packed as Docker archives for `berth load`, on top of the
//! busybox fixture's layers so that the images can run a shell.

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

/// One entry of a hostile layer.
pub enum Entry<'a> {
    Dir(&'a str),
    File(&'a str, u32, &'a [u8]),
    Symlink(&'a str, &'a str),
    Hardlink(&'a str, &'a str),
    Char(&'a str, u32, u32),
    Block(&'a str, u32, u32),
    /// A GNU sparse file: `data` at offset `at`, `size` bytes in all.
    Sparse(&'a str, u64, &'a [u8], u64),
}

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(1_600_000_000);
    h.set_uid(0);
    h.set_gid(0);
    h
}

/// Writes a name and link target byte for byte (no checks, no PAX).
fn raw(out: &mut Vec<u8>, mut h: tar::Header, name: &str, link: &str, data: &[u8]) {
    {
        let old = h.as_old_mut();
        old.name = [0; 100];
        old.name[..name.len()].copy_from_slice(name.as_bytes());
        old.linkname = [0; 100];
        old.linkname[..link.len()].copy_from_slice(link.as_bytes());
    }
    h.set_cksum();
    out.extend_from_slice(h.as_bytes());
    out.extend_from_slice(data);
    let pad = (512 - data.len() % 512) % 512;
    out.extend(std::iter::repeat_n(0u8, pad));
}

fn octal(field: &mut [u8], value: u64) {
    let s = format!("{:0width$o}", value, width = field.len() - 1);
    field[..s.len()].copy_from_slice(s.as_bytes());
    field[s.len()..].fill(0);
}

/// A layer tar of `entries`, in order.
pub fn layer(entries: &[Entry]) -> Vec<u8> {
    use tar::EntryType as T;
    let mut out = Vec::new();
    for e in entries {
        match e {
            Entry::Dir(n) => raw(&mut out, header(T::Directory, 0o755, 0), n, "", &[]),
            Entry::File(n, mode, data) => raw(
                &mut out,
                header(T::Regular, *mode, data.len() as u64),
                n,
                "",
                data,
            ),
            Entry::Symlink(n, to) => raw(&mut out, header(T::Symlink, 0o777, 0), n, to, &[]),
            Entry::Hardlink(n, to) => raw(&mut out, header(T::Link, 0o644, 0), n, to, &[]),
            Entry::Char(n, major, minor) | Entry::Block(n, major, minor) => {
                let kind = if matches!(e, Entry::Char(..)) {
                    T::Char
                } else {
                    T::Block
                };
                let mut h = header(kind, 0o666, 0);
                h.set_device_major(*major).unwrap();
                h.set_device_minor(*minor).unwrap();
                raw(&mut out, h, n, "", &[]);
            }
            Entry::Sparse(n, at, data, size) => {
                let mut h = header(T::GNUSparse, 0o644, data.len() as u64);
                {
                    let gnu = h.as_gnu_mut().unwrap();
                    octal(&mut gnu.sparse[0].offset, *at);
                    octal(&mut gnu.sparse[0].numbytes, data.len() as u64);
                    octal(&mut gnu.realsize, *size);
                }
                raw(&mut out, h, n, "", data);
            }
        }
    }
    out.extend(std::iter::repeat_n(0u8, 1024));
    out
}

fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// The busybox fixture's layers (uncompressed tars), bottom first.
pub fn busybox_layers(fixture: &Path) -> Vec<Vec<u8>> {
    let mut files: HashMap<String, Vec<u8>> = HashMap::new();
    let mut a = tar::Archive::new(std::fs::File::open(fixture).expect("opening busybox.tar"));
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        files.insert(name.trim_start_matches("./").to_string(), data);
    }
    let manifest: serde_json::Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    manifest[0]["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| files[l.as_str().unwrap()].clone())
        .collect()
}

/// A Docker archive of an image named `tag` made of `layers` (each a tar,
/// optionally gzip-compressed: `compressed` then holds the bytes stored and
/// `layers` the uncompressed ones, for the diff ids). `mangle` may change
/// the manifest before it is written.
pub fn docker_archive(
    tag: &str,
    layers: &[Vec<u8>],
    stored: Option<&[Vec<u8>]>,
    mangle: impl FnOnce(&mut serde_json::Value),
) -> Vec<u8> {
    let diff_ids: Vec<String> = layers.iter().map(|l| sha256(l)).collect();
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["sh"], "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    });
    let config_bytes = serde_json::to_vec(&config).unwrap();
    let config_name = format!("{}.json", &sha256(&config_bytes)[7..]);
    let stored = stored.unwrap_or(layers);
    let layer_names: Vec<String> = stored
        .iter()
        .enumerate()
        .map(|(i, _)| format!("layer{i}/layer.tar"))
        .collect();
    let mut manifest = serde_json::json!([{
        "Config": config_name,
        "RepoTags": [tag],
        "Layers": layer_names,
    }]);
    mangle(&mut manifest);
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, name, data).unwrap();
    };
    add(&config_name, &config_bytes);
    for (name, data) in layer_names.iter().zip(stored) {
        add(name, data);
    }
    add("manifest.json", &serde_json::to_vec(&manifest).unwrap());
    b.into_inner().unwrap()
}

/// A layer with one regular file of `size` zero bytes, gzip-compressed
/// (by gzip(1): the uncompressed tar is never held in memory, and a
/// debug build of the test would take minutes); its diff id.
pub fn zero_bomb(dir: &Path, name: &str, size: u64) -> (Vec<u8>, String) {
    let mut h = header(tar::EntryType::Regular, 0o644, size);
    h.set_path(name).unwrap();
    h.set_cksum();
    let head = dir.join("bomb-header");
    std::fs::write(&head, h.as_bytes()).unwrap();
    let pad = (512 - size % 512) % 512 + 1024;
    let stream = format!(
        "(cat {head}; head -c {size} /dev/zero; head -c {pad} /dev/zero)",
        head = head.display()
    );
    let sh = |cmd: String| {
        let o = std::process::Command::new("sh")
            .args(["-c", &cmd])
            .output()
            .expect("sh");
        assert!(
            o.status.success(),
            "{cmd}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        o.stdout
    };
    let gz = sh(format!("{stream} | gzip -1"));
    let sum = String::from_utf8(sh(format!("{stream} | sha256sum"))).unwrap();
    let id = format!("sha256:{}", sum.split_whitespace().next().unwrap());
    (gz, id)
}

/// A Docker archive whose layers are given as stored bytes with their diff
/// ids (for layers too large to hold uncompressed).
pub fn docker_archive_by_id(tag: &str, stored: &[Vec<u8>], diff_ids: &[String]) -> Vec<u8> {
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    });
    let config_bytes = serde_json::to_vec(&config).unwrap();
    let config_name = format!("{}.json", &sha256(&config_bytes)[7..]);
    let layer_names: Vec<String> = (0..stored.len())
        .map(|i| format!("layer{i}/layer.tar"))
        .collect();
    let manifest = serde_json::json!([{
        "Config": config_name,
        "RepoTags": [tag],
        "Layers": layer_names,
    }]);
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, name, data).unwrap();
    };
    add(&config_name, &config_bytes);
    for (name, data) in layer_names.iter().zip(stored) {
        add(name, data);
    }
    add("manifest.json", &serde_json::to_vec(&manifest).unwrap());
    b.into_inner().unwrap()
}
