//! `--device` and `--gpus`, parsed as Docker parses them.
//!
//! `--device /dev/X[:/dev/Y][:rwm]`: a host device, its path in the
//! container (default the same) and cgroup permissions (default `rwm`);
//! with two parts the second is permissions when it only has `r`, `w`,
//! `m`. `--device vendor.com/class=name` names a CDI device.
//!
//! `--gpus` is one CSV record (docker/cli `opts/gpus.go`): `all`, a count,
//! `count=N|all`, `device=ID[,ID]` (quoted, as in `--gpus '"device=0,1"'`,
//! since the comma also separates fields), `capabilities=...`,
//! `driver=...`, `options=k=v`. A count and device ids together are an
//! error, as in Docker.

use super::Perms;
use anyhow::{bail, Result};
use std::path::PathBuf;

/// One `--device` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceFlag {
    Host {
        host: PathBuf,
        container: PathBuf,
        perms: Perms,
    },
    /// A fully qualified CDI device name (`nvidia.com/gpu=all`).
    Cdi(String),
}

/// Whether `s` is a qualified CDI name: `vendor/class=name`.
pub fn is_cdi_name(s: &str) -> bool {
    let Some((kind, name)) = s.split_once('=') else {
        return false;
    };
    let Some((vendor, class)) = kind.split_once('/') else {
        return false;
    };
    !s.starts_with('/')
        && !vendor.is_empty()
        && !class.is_empty()
        && !name.is_empty()
        && vendor
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && class
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
}

pub fn parse_device(value: &str) -> Result<DeviceFlag> {
    if is_cdi_name(value) {
        return Ok(DeviceFlag::Cdi(value.to_string()));
    }
    let parts: Vec<&str> = value.split(':').collect();
    let (host, container, perms) = match parts.as_slice() {
        [h] => (*h, *h, "rwm"),
        [h, second] if Perms::parse(second).is_some() => (*h, *h, *second),
        [h, c] => (*h, *c, "rwm"),
        [h, c, p] => (*h, *c, *p),
        _ => bail!(
            "invalid device specification {value:?}: expected /dev/HOST[:/dev/CONTAINER][:rwm]"
        ),
    };
    if host.is_empty() || !host.starts_with('/') {
        bail!("invalid device specification {value:?}: the host device must be an absolute path such as /dev/fuse (or a CDI name such as nvidia.com/gpu=all)");
    }
    if !container.starts_with('/') {
        bail!("invalid device specification {value:?}: the path in the container {container:?} must be absolute");
    }
    let Some(perms) = Perms::parse(perms) else {
        bail!("invalid device specification {value:?}: invalid permissions {perms:?}: use a combination of r, w and m");
    };
    Ok(DeviceFlag::Host {
        host: PathBuf::from(host),
        container: PathBuf::from(container),
        perms,
    })
}

/// How many GPUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GpuCount {
    All,
    Some(u32),
}

/// A parsed `--gpus`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GpuRequest {
    pub count: GpuCount,
    /// Indexes or UUIDs (`0`, `GPU-6a3b...`); empty unless `device=`.
    pub device_ids: Vec<String>,
    /// Docker's default is `gpu`.
    pub capabilities: Vec<String>,
    pub driver: Option<String>,
    pub options: Vec<(String, String)>,
}

/// Splits one CSV record: commas separate fields, double quotes group
/// (a doubled quote inside is a quote), as Go's encoding/csv reads it.
fn csv_fields(s: &str) -> Result<Vec<String>> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = s.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            '"' if quoted => quoted = false,
            '"' if at_start => quoted = true,
            ',' if !quoted => {
                fields.push(std::mem::take(&mut field));
                at_start = true;
                continue;
            }
            c => field.push(c),
        }
        at_start = false;
    }
    if quoted {
        bail!("unterminated quote in {s:?}");
    }
    fields.push(field);
    Ok(fields)
}

pub fn parse_gpus(value: &str) -> Result<GpuRequest> {
    let mut req = GpuRequest {
        count: GpuCount::Some(0),
        device_ids: Vec::new(),
        capabilities: Vec::new(),
        driver: None,
        options: Vec::new(),
    };
    let mut count_given = false;
    let bad = |why: String| -> anyhow::Error {
        anyhow::anyhow!("invalid --gpus value {value:?}: {why} (e.g. all, 2, '\"device=0,1\"', 'device=GPU-3a23c669', count=2,capabilities=utility)")
    };
    for field in csv_fields(value).map_err(|e| bad(e.to_string()))? {
        let (key, val) = match field.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), v.trim().to_string()),
            None => {
                let f = field.trim();
                if f == "all" {
                    req.count = GpuCount::All;
                } else if let Ok(n) = f.parse::<u32>() {
                    req.count = GpuCount::Some(n);
                } else {
                    return Err(bad(format!("unexpected {f:?}")));
                }
                count_given = true;
                continue;
            }
        };
        match key.as_str() {
            "count" => {
                req.count = if val == "all" {
                    GpuCount::All
                } else {
                    GpuCount::Some(
                        val.parse()
                            .map_err(|_| bad(format!("count {val:?} is not a number")))?,
                    )
                };
                count_given = true;
            }
            "device" => {
                req.device_ids = val
                    .split(',')
                    .map(str::trim)
                    .filter(|d| !d.is_empty())
                    .map(str::to_string)
                    .collect();
                if req.device_ids.is_empty() {
                    return Err(bad("device= names no device".into()));
                }
            }
            "capabilities" => {
                req.capabilities = val
                    .split(',')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(str::to_string)
                    .collect()
            }
            "driver" => req.driver = Some(val),
            "options" => {
                for kv in val.split(',') {
                    let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                    req.options.push((k.to_string(), v.to_string()));
                }
            }
            other => return Err(bad(format!("unexpected key {other:?}"))),
        }
    }
    if count_given && !req.device_ids.is_empty() && req.count != GpuCount::Some(0) {
        return Err(bad(
            "cannot set both Count and DeviceIDs on device request".into()
        ));
    }
    if !count_given && req.device_ids.is_empty() {
        return Err(bad("it names neither a count nor devices".into()));
    }
    if !req.device_ids.is_empty() {
        req.count = GpuCount::Some(req.device_ids.len() as u32);
    }
    if req.capabilities.is_empty() {
        req.capabilities.push("gpu".into());
    }
    if let Some(d) = &req.driver {
        if d != "nvidia" {
            return Err(bad(format!(
                "driver {d:?} is not supported: berth knows nvidia"
            )));
        }
    }
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(h: &str, c: &str, p: &str) -> DeviceFlag {
        DeviceFlag::Host {
            host: h.into(),
            container: c.into(),
            perms: Perms::parse(p).unwrap(),
        }
    }

    #[test]
    fn device_forms() {
        assert_eq!(
            parse_device("/dev/fuse").unwrap(),
            host("/dev/fuse", "/dev/fuse", "rwm")
        );
        assert_eq!(
            parse_device("/dev/sda:/dev/xvda").unwrap(),
            host("/dev/sda", "/dev/xvda", "rwm")
        );
        assert_eq!(
            parse_device("/dev/sda:r").unwrap(),
            host("/dev/sda", "/dev/sda", "r")
        );
        assert_eq!(
            parse_device("/dev/sda:/dev/xvda:rw").unwrap(),
            host("/dev/sda", "/dev/xvda", "rw")
        );
        assert_eq!(
            parse_device("nvidia.com/gpu=all").unwrap(),
            DeviceFlag::Cdi("nvidia.com/gpu=all".into())
        );
        assert!(parse_device("dev/fuse")
            .unwrap_err()
            .to_string()
            .contains("absolute"));
        assert!(parse_device("/dev/sda:xvda")
            .unwrap_err()
            .to_string()
            .contains("must be absolute"));
        assert!(parse_device("/dev/sda:/dev/b:rx")
            .unwrap_err()
            .to_string()
            .contains("permissions"));
        assert!(parse_device("/a:/b:r:x").is_err());
    }

    #[test]
    fn cdi_names() {
        assert!(is_cdi_name("nvidia.com/gpu=0"));
        assert!(is_cdi_name("vendor.com/class=GPU-6a3b-22"));
        assert!(!is_cdi_name("/dev/x=1"));
        assert!(!is_cdi_name("gpu=0"));
        assert!(!is_cdi_name("nvidia.com/gpu="));
    }

    #[test]
    fn gpus_all_count_and_devices() {
        let all = parse_gpus("all").unwrap();
        assert_eq!(all.count, GpuCount::All);
        assert_eq!(all.capabilities, ["gpu"]);
        assert_eq!(parse_gpus("2").unwrap().count, GpuCount::Some(2));
        assert_eq!(parse_gpus("count=all").unwrap().count, GpuCount::All);
        let d = parse_gpus("\"device=0,1\"").unwrap();
        assert_eq!(d.device_ids, ["0", "1"]);
        assert_eq!(d.count, GpuCount::Some(2));
        let u = parse_gpus("device=GPU-3a23c669-1f69-c64e-cf85-44e9b07e7a2a").unwrap();
        assert_eq!(u.device_ids, ["GPU-3a23c669-1f69-c64e-cf85-44e9b07e7a2a"]);
        let c = parse_gpus("count=2,\"capabilities=compute,utility\",driver=nvidia").unwrap();
        assert_eq!(c.capabilities, ["compute", "utility"]);
        assert_eq!(c.driver.as_deref(), Some("nvidia"));
        let o = parse_gpus("all,options=a=b").unwrap();
        assert_eq!(o.options, [("a".to_string(), "b".to_string())]);
    }

    #[test]
    fn gpus_errors_as_docker() {
        // Unquoted, the comma splits: "1" is then a count beside device=0.
        let e = parse_gpus("device=0,1").unwrap_err().to_string();
        assert!(e.contains("cannot set both Count and DeviceIDs"), "{e}");
        assert!(parse_gpus("many")
            .unwrap_err()
            .to_string()
            .contains("unexpected \"many\""));
        assert!(parse_gpus("\"device=0")
            .unwrap_err()
            .to_string()
            .contains("unterminated"));
        assert!(parse_gpus("foo=1").is_err());
        assert!(parse_gpus("driver=amd,all").is_err());
        assert!(parse_gpus("").is_err());
    }
}
