//! Host devices and GPUs for containers, as plain data for the launch to
//! apply: which device nodes to bind, which host files to bind read-only,
//! which environment to add.
//!
//! - [`flags`] parses `--device /dev/X[:/dev/Y][:rwm]` (or a CDI name,
//!   `nvidia.com/gpu=all`) and Docker's `--gpus all|N|device=ID[,ID]`.
//! - [`cdi`] reads Container Device Interface specs (`/etc/cdi`,
//!   `/var/run/cdi`, JSON or YAML) and resolves qualified device names.
//! - [`nvidia`] finds NVIDIA devices and the host's driver libraries and
//!   tools without CDI, as Apptainer's `--nv` does (`/dev/nvidia*`,
//!   `ldconfig -p`).
//! - [`resolve_gpus`] picks CDI when a spec for NVIDIA GPUs exists, else
//!   discovery, and explains when there is no GPU.
//!
//! Every root (`/dev`, the CDI directories, the ldconfig output, the
//! binary directories) is a parameter ([`Roots`]), so tests build a fake
//! layout in a temporary directory. Nothing here mounts anything.

pub mod cdi;
pub mod flags;
pub mod nvidia;

use anyhow::Result;
use std::path::PathBuf;

/// Device cgroup style permissions: read, write, mknod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Perms {
    pub read: bool,
    pub write: bool,
    pub mknod: bool,
}

impl Perms {
    pub const ALL: Perms = Perms {
        read: true,
        write: true,
        mknod: true,
    };

    /// `rwm`, `r`, `rw`...; None when a letter is not one of those.
    pub fn parse(s: &str) -> Option<Perms> {
        if s.is_empty() {
            return None;
        }
        let mut p = Perms {
            read: false,
            write: false,
            mknod: false,
        };
        for c in s.chars() {
            match c {
                'r' => p.read = true,
                'w' => p.write = true,
                'm' => p.mknod = true,
                _ => return None,
            }
        }
        Some(p)
    }
}

impl std::fmt::Display for Perms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (on, c) in [(self.read, 'r'), (self.write, 'w'), (self.mknod, 'm')] {
            if on {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

/// A device node to make available in the container (bind-mounted from
/// the host: an unprivileged user cannot mknod).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceNode {
    pub host_path: PathBuf,
    pub container_path: PathBuf,
    pub perms: Perms,
}

/// A host file or directory bound into the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindMount {
    pub host_path: PathBuf,
    pub container_path: PathBuf,
    pub read_only: bool,
    /// Further mount options as a CDI spec gives them (`nosuid`, ...).
    pub options: Vec<String>,
}

/// An OCI hook from a CDI spec (`createContainer`, ...), run by the
/// launch at that point with the container's state on stdin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    pub hook_name: String,
    pub path: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub timeout: Option<u32>,
}

/// Everything a set of devices needs, merged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Provision {
    pub device_nodes: Vec<DeviceNode>,
    pub mounts: Vec<BindMount>,
    /// `KEY=value` to set.
    pub env: Vec<String>,
    /// Directories (in the container) to prepend to LD_LIBRARY_PATH.
    pub ld_library_path: Vec<String>,
    /// Directories (in the container) to append to PATH.
    pub path: Vec<String>,
    pub hooks: Vec<Hook>,
    /// Supplementary groups a CDI spec asks for.
    pub additional_gids: Vec<u32>,
}

impl Provision {
    /// Adds `other`, skipping device nodes and mounts already there (a
    /// spec's common edits come with each of its devices).
    pub fn merge(&mut self, other: Provision) {
        for d in other.device_nodes {
            if !self
                .device_nodes
                .iter()
                .any(|x| x.container_path == d.container_path)
            {
                self.device_nodes.push(d);
            }
        }
        for m in other.mounts {
            if !self
                .mounts
                .iter()
                .any(|x| x.container_path == m.container_path)
            {
                self.mounts.push(m);
            }
        }
        for (into, from) in [
            (&mut self.env, other.env),
            (&mut self.ld_library_path, other.ld_library_path),
            (&mut self.path, other.path),
        ] {
            for v in from {
                if !into.contains(&v) {
                    into.push(v);
                }
            }
        }
        for h in other.hooks {
            if !self.hooks.contains(&h) {
                self.hooks.push(h);
            }
        }
        for g in other.additional_gids {
            if !self.additional_gids.contains(&g) {
                self.additional_gids.push(g);
            }
        }
    }
}

/// Where discovery looks; [`Roots::host`] is the real machine.
#[derive(Debug, Clone)]
pub struct Roots {
    /// `/dev`.
    pub dev: PathBuf,
    /// CDI spec directories, lowest priority first (`/etc/cdi`, `/var/run/cdi`).
    pub cdi_dirs: Vec<PathBuf>,
    /// The output of `ldconfig -p` (None: run it).
    pub ldconfig: Option<String>,
    /// Directories searched for the driver's programs.
    pub bin_dirs: Vec<PathBuf>,
    /// `/proc/driver/nvidia`, for GPU UUIDs.
    pub proc_driver_nvidia: PathBuf,
}

impl Roots {
    pub fn host() -> Roots {
        Roots {
            dev: "/dev".into(),
            cdi_dirs: vec!["/etc/cdi".into(), "/var/run/cdi".into()],
            ldconfig: None,
            bin_dirs: ["/usr/bin", "/usr/local/bin", "/bin", "/usr/sbin", "/sbin"]
                .iter()
                .map(PathBuf::from)
                .collect(),
            proc_driver_nvidia: "/proc/driver/nvidia".into(),
        }
    }

    /// The ldconfig cache listing, read once.
    pub fn ldconfig_output(&self) -> Result<String> {
        if let Some(text) = &self.ldconfig {
            return Ok(text.clone());
        }
        for ldconfig in ["/sbin/ldconfig", "/usr/sbin/ldconfig", "ldconfig"] {
            if let Ok(out) = std::process::Command::new(ldconfig).arg("-p").output() {
                if out.status.success() {
                    return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
                }
            }
        }
        anyhow::bail!("running `ldconfig -p` to find the NVIDIA driver's libraries failed")
    }
}

/// What `--gpus` (or `--device nvidia.com/gpu=...`) asks for, resolved:
/// through CDI when a spec names NVIDIA GPUs, else by discovery.
pub fn resolve_gpus(request: &flags::GpuRequest, roots: &Roots) -> Result<Provision> {
    let registry = cdi::Registry::load(&roots.cdi_dirs)?;
    if registry.has_kind(nvidia::CDI_KIND) {
        let names = cdi_names_for(request, &registry)?;
        return registry.resolve(&names);
    }
    nvidia::discover(request, roots)
}

/// The CDI device names a GPU request means.
fn cdi_names_for(request: &flags::GpuRequest, registry: &cdi::Registry) -> Result<Vec<String>> {
    let kind = nvidia::CDI_KIND;
    let q = |n: &str| format!("{kind}={n}");
    if !request.device_ids.is_empty() {
        return Ok(request.device_ids.iter().map(|d| q(d)).collect());
    }
    let devices: Vec<String> = registry
        .device_names(kind)
        .into_iter()
        .filter(|n| n != "all")
        .collect();
    match request.count {
        flags::GpuCount::All if registry.device_names(kind).iter().any(|n| n == "all") => {
            Ok(vec![q("all")])
        }
        flags::GpuCount::All => Ok(devices.iter().map(|d| q(d)).collect()),
        flags::GpuCount::Some(n) => {
            // Numbered devices in order: `--gpus 2` is GPUs 0 and 1.
            let mut numbered: Vec<(u32, &String)> = devices
                .iter()
                .filter_map(|d| d.parse::<u32>().ok().map(|i| (i, d)))
                .collect();
            numbered.sort();
            if numbered.len() < n as usize {
                anyhow::bail!(
                    "--gpus {n}: the CDI specs name only {} NVIDIA GPUs ({})",
                    numbered.len(),
                    devices.join(", ")
                );
            }
            Ok(numbered[..n as usize].iter().map(|(_, d)| q(d)).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perms_parse_and_print() {
        assert_eq!(Perms::parse("rwm"), Some(Perms::ALL));
        assert_eq!(Perms::parse("r").unwrap().to_string(), "r");
        assert!(Perms::parse("rx").is_none());
        assert!(Perms::parse("").is_none());
    }

    #[test]
    fn merge_skips_duplicates() {
        let node = DeviceNode {
            host_path: "/dev/nvidiactl".into(),
            container_path: "/dev/nvidiactl".into(),
            perms: Perms::ALL,
        };
        let mut a = Provision {
            device_nodes: vec![node.clone()],
            env: vec!["A=1".into()],
            ..Default::default()
        };
        a.merge(Provision {
            device_nodes: vec![node],
            env: vec!["A=1".into(), "B=2".into()],
            ..Default::default()
        });
        assert_eq!(a.device_nodes.len(), 1);
        assert_eq!(a.env, ["A=1", "B=2"]);
    }
}
