//! Container Device Interface specs: JSON or YAML files in `/etc/cdi`
//! and `/var/run/cdi` (the later directory wins for the same device),
//! each with a `kind` (`vendor.com/class`), `devices` (a name and its
//! `containerEdits`) and `containerEdits` common to all its devices.
//! Edits are device nodes, mounts, environment, hooks and extra groups.

use super::{BindMount, DeviceNode, Hook, Perms, Provision};
use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One spec file.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Spec {
    pub cdi_version: String,
    pub kind: String,
    #[serde(default)]
    pub devices: Vec<Device>,
    #[serde(default)]
    pub container_edits: Edits,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    pub name: String,
    #[serde(default)]
    pub container_edits: Edits,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Edits {
    #[serde(default)]
    pub env: Vec<String>,
    #[serde(default)]
    pub device_nodes: Vec<SpecDeviceNode>,
    #[serde(default)]
    pub mounts: Vec<SpecMount>,
    #[serde(default)]
    pub hooks: Vec<SpecHook>,
    #[serde(default, rename = "additionalGIDs")]
    pub additional_gids: Vec<u32>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SpecDeviceNode {
    pub path: PathBuf,
    #[serde(default)]
    pub host_path: Option<PathBuf>,
    #[serde(default)]
    pub permissions: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SpecMount {
    pub host_path: PathBuf,
    pub container_path: PathBuf,
    #[serde(default)]
    pub options: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SpecHook {
    pub hook_name: String,
    pub path: PathBuf,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: Vec<String>,
    #[serde(default)]
    pub timeout: Option<u32>,
}

impl Edits {
    fn provision(&self) -> Result<Provision> {
        let mut p = Provision {
            env: self.env.clone(),
            additional_gids: self.additional_gids.clone(),
            ..Default::default()
        };
        for d in &self.device_nodes {
            let perms = match d.permissions.as_deref() {
                None => Perms::ALL,
                Some(s) => Perms::parse(s).with_context(|| {
                    format!(
                        "device node {}: invalid permissions {s:?}",
                        d.path.display()
                    )
                })?,
            };
            p.device_nodes.push(DeviceNode {
                host_path: d.host_path.clone().unwrap_or_else(|| d.path.clone()),
                container_path: d.path.clone(),
                perms,
            });
        }
        for m in &self.mounts {
            p.mounts.push(BindMount {
                host_path: m.host_path.clone(),
                container_path: m.container_path.clone(),
                read_only: m.options.iter().any(|o| o == "ro"),
                options: m
                    .options
                    .iter()
                    .filter(|o| !matches!(o.as_str(), "ro" | "rw" | "bind" | "rbind"))
                    .cloned()
                    .collect(),
            });
        }
        for h in &self.hooks {
            p.hooks.push(Hook {
                hook_name: h.hook_name.clone(),
                path: h.path.clone(),
                args: h.args.clone(),
                env: h.env.clone(),
                timeout: h.timeout,
            });
        }
        Ok(p)
    }
}

/// Parses a spec from its file content; `name` (the file) decides JSON
/// or YAML and names it in errors.
pub fn parse_spec(name: &Path, text: &str) -> Result<Spec> {
    let spec: Spec = if name.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(text)
            .with_context(|| format!("parsing the CDI spec {}", name.display()))?
    } else {
        serde_saphyr::from_str(text)
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| format!("parsing the CDI spec {}", name.display()))?
    };
    if !spec.kind.contains('/') {
        bail!(
            "the CDI spec {} has kind {:?}: expected vendor.com/class",
            name.display(),
            spec.kind
        );
    }
    Ok(spec)
}

/// Every spec found, by kind.
#[derive(Debug, Default)]
pub struct Registry {
    /// kind → device name → (spec-wide edits, device edits).
    devices: BTreeMap<String, BTreeMap<String, (Edits, Edits)>>,
}

impl Registry {
    /// Reads `*.json`, `*.yaml` and `*.yml` of each directory, lowest
    /// priority first; a missing directory is empty.
    pub fn load(dirs: &[PathBuf]) -> Result<Registry> {
        let mut reg = Registry::default();
        for dir in dirs {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut files: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.extension()
                        .is_some_and(|e| e == "json" || e == "yaml" || e == "yml")
                })
                .collect();
            files.sort();
            for file in files {
                let text = std::fs::read_to_string(&file)
                    .with_context(|| format!("reading the CDI spec {}", file.display()))?;
                reg.add(parse_spec(&file, &text)?);
            }
        }
        Ok(reg)
    }

    pub fn add(&mut self, spec: Spec) {
        let kind = self.devices.entry(spec.kind.clone()).or_default();
        for d in spec.devices {
            kind.insert(d.name, (spec.container_edits.clone(), d.container_edits));
        }
    }

    pub fn has_kind(&self, kind: &str) -> bool {
        self.devices.get(kind).is_some_and(|d| !d.is_empty())
    }

    /// The device names of a kind, sorted.
    pub fn device_names(&self, kind: &str) -> Vec<String> {
        self.devices
            .get(kind)
            .map(|d| d.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The edits of fully qualified names (`nvidia.com/gpu=0`), merged.
    pub fn resolve(&self, names: &[String]) -> Result<Provision> {
        let mut out = Provision::default();
        for name in names {
            let Some((kind, dev)) = name.split_once('=') else {
                bail!("{name:?} is not a CDI device name (vendor.com/class=name)");
            };
            let Some(devices) = self.devices.get(kind) else {
                bail!(
                    "unresolvable CDI device {name}: no CDI spec in /etc/cdi or /var/run/cdi has kind {kind} (an administrator generates one, e.g. `nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml`)"
                );
            };
            let Some((common, own)) = devices.get(dev) else {
                bail!(
                    "unresolvable CDI device {name}: the specs of {kind} name only {}",
                    devices.keys().cloned().collect::<Vec<_>>().join(", ")
                );
            };
            out.merge(common.provision()?);
            out.merge(own.provision()?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = r#"
cdiVersion: "0.5.0"
kind: nvidia.com/gpu
devices:
  - name: "0"
    containerEdits:
      deviceNodes:
        - path: /dev/nvidia0
  - name: GPU-3a23c669
    containerEdits:
      deviceNodes:
        - path: /dev/nvidia0
  - name: "1"
    containerEdits:
      deviceNodes:
        - path: /dev/nvidia1
          permissions: rw
  - name: all
    containerEdits:
      deviceNodes:
        - path: /dev/nvidia0
        - path: /dev/nvidia1
containerEdits:
  env:
    - NVIDIA_VISIBLE_DEVICES=void
  deviceNodes:
    - path: /dev/nvidiactl
  mounts:
    - hostPath: /usr/lib/x86_64-linux-gnu/libcuda.so.535.104.05
      containerPath: /usr/lib/x86_64-linux-gnu/libcuda.so.535.104.05
      options: [ro, nosuid, nodev, bind]
  hooks:
    - hookName: createContainer
      path: /usr/bin/nvidia-cdi-hook
      args: [nvidia-cdi-hook, update-ldcache, --folder, /usr/lib/x86_64-linux-gnu]
"#;

    #[test]
    fn yaml_spec_resolves_devices_with_common_edits() {
        let mut reg = Registry::default();
        reg.add(parse_spec(Path::new("nvidia.yaml"), YAML).unwrap());
        assert!(reg.has_kind("nvidia.com/gpu"));
        assert_eq!(
            reg.device_names("nvidia.com/gpu"),
            ["0", "1", "GPU-3a23c669", "all"]
        );
        let p = reg.resolve(&["nvidia.com/gpu=1".into()]).unwrap();
        let nodes: Vec<_> = p
            .device_nodes
            .iter()
            .map(|d| d.container_path.display().to_string())
            .collect();
        assert_eq!(nodes, ["/dev/nvidiactl", "/dev/nvidia1"]);
        assert_eq!(p.device_nodes[1].perms.to_string(), "rw");
        assert_eq!(p.env, ["NVIDIA_VISIBLE_DEVICES=void"]);
        assert!(p.mounts[0].read_only);
        assert_eq!(p.mounts[0].options, ["nosuid", "nodev"]);
        assert_eq!(p.hooks[0].hook_name, "createContainer");
        let all = reg.resolve(&["nvidia.com/gpu=all".into()]).unwrap();
        assert_eq!(all.device_nodes.len(), 3);
        let two = reg
            .resolve(&[
                "nvidia.com/gpu=0".into(),
                "nvidia.com/gpu=GPU-3a23c669".into(),
            ])
            .unwrap();
        assert_eq!(two.device_nodes.len(), 2, "the same node once");
        assert_eq!(two.mounts.len(), 1, "common edits once");
    }

    #[test]
    fn json_spec_and_errors() {
        let json = r#"{"cdiVersion":"0.6.0","kind":"vendor.com/device","devices":[{"name":"x","containerEdits":{"deviceNodes":[{"path":"/dev/x","hostPath":"/dev/real-x"}],"additionalGIDs":[44]}}]}"#;
        let spec = parse_spec(Path::new("v.json"), json).unwrap();
        let mut reg = Registry::default();
        reg.add(spec);
        let p = reg.resolve(&["vendor.com/device=x".into()]).unwrap();
        assert_eq!(p.device_nodes[0].host_path, PathBuf::from("/dev/real-x"));
        assert_eq!(p.additional_gids, [44]);
        let e = reg
            .resolve(&["vendor.com/device=y".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("name only x"), "{e}");
        let e = reg
            .resolve(&["nvidia.com/gpu=0".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("nvidia-ctk cdi generate"), "{e}");
        assert!(parse_spec(Path::new("bad.json"), "{").is_err());
        assert!(
            parse_spec(Path::new("k.yaml"), "cdiVersion: '0.5.0'\nkind: nokind\n")
                .unwrap_err()
                .to_string()
                .contains("vendor.com/class")
        );
    }

    #[test]
    fn later_directories_win() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let spec = |node: &str| {
            format!(
                r#"{{"cdiVersion":"0.5.0","kind":"v.com/c","devices":[{{"name":"d","containerEdits":{{"deviceNodes":[{{"path":"{node}"}}]}}}}]}}"#
            )
        };
        std::fs::write(a.path().join("v.json"), spec("/dev/old")).unwrap();
        std::fs::write(b.path().join("v.json"), spec("/dev/new")).unwrap();
        std::fs::write(b.path().join("README"), "not a spec").unwrap();
        let reg =
            Registry::load(&[a.path().into(), b.path().into(), "/nonexistent".into()]).unwrap();
        let p = reg.resolve(&["v.com/c=d".into()]).unwrap();
        assert_eq!(p.device_nodes[0].container_path, PathBuf::from("/dev/new"));
    }
}
