//! `--device` and `--gpus` for a container: at create, host devices are
//! checked (the user must be able to open them: an unprivileged user
//! cannot be given a device any other way than a bind of the host's node),
//! and GPU requests and CDI names are resolved by `crate::devices` (CDI
//! specs, else NVIDIA discovery) into device nodes, read-only binds of
//! the driver's libraries and programs, and environment, which the record
//! keeps (as Podman fixes CDI edits at create). At start the init binds
//! them (`mounts::devices`) and, after pivot_root, runs the container's
//! own `ldconfig` for the libraries' directories ([`update_ld_cache`]).
//!
//! Test hook: in debug builds, `BERTH_TEST_DEVICE_ROOT=DIR` makes
//! discovery look at a fake machine instead of this one: `DIR/dev`,
//! `DIR/etc/cdi`, `DIR/var/run/cdi`, `DIR/ldconfig.txt` (what
//! `ldconfig -p` would print), `DIR/bin` and `DIR/proc/driver/nvidia`.
//! Release builds ignore it.

use crate::devices::{self as discovery, flags, Provision, Roots};
use crate::model::devices::{
    DeviceMapping, DeviceRequest, DevicesConfig, Provisioned, ReadOnlyBind,
};
use crate::util::report;
use anyhow::{bail, Context, Result};
use std::path::Path;

/// Where discovery looks.
pub(crate) fn roots() -> Roots {
    #[cfg(debug_assertions)]
    if let Some(dir) = std::env::var_os("BERTH_TEST_DEVICE_ROOT").filter(|d| !d.is_empty()) {
        let dir = std::path::PathBuf::from(dir);
        return Roots {
            dev: dir.join("dev"),
            cdi_dirs: vec![dir.join("etc/cdi"), dir.join("var/run/cdi")],
            ldconfig: Some(std::fs::read_to_string(dir.join("ldconfig.txt")).unwrap_or_default()),
            bin_dirs: vec![dir.join("bin")],
            proc_driver_nvidia: dir.join("proc/driver/nvidia"),
        };
    }
    Roots::host()
}

/// `--device` values and `--gpus` requests into the devices group.
pub(crate) fn from_flags(device_flags: &[String], gpus: &[String]) -> Result<DevicesConfig> {
    let mut d = DevicesConfig::default();
    for value in device_flags {
        match flags::parse_device(value)? {
            flags::DeviceFlag::Host {
                host,
                container,
                perms,
            } => {
                if !(perms.read && perms.write) {
                    report::warning(&format!(
                        "--device {value}: berth does not restrict a device to \"{perms}\" (that \
                         needs a devices cgroup, which only root manages): the container may \
                         open it as this user may on the host"
                    ));
                }
                d.devices.push(DeviceMapping {
                    path_on_host: host.display().to_string(),
                    path_in_container: container.display().to_string(),
                    cgroup_permissions: perms.to_string(),
                })
            }
            flags::DeviceFlag::Cdi(name) => d.cdi_devices.push(name),
        }
    }
    for value in gpus {
        let g = flags::parse_gpus(value)?;
        d.requests.push(DeviceRequest {
            driver: g.driver.clone().unwrap_or_default(),
            count: match g.count {
                flags::GpuCount::All => -1,
                flags::GpuCount::Some(n) => i64::from(n),
            },
            device_ids: g.device_ids.clone(),
            capabilities: vec![if g.capabilities.is_empty() {
                vec!["gpu".to_string()]
            } else {
                g.capabilities.clone()
            }],
            options: g.options.iter().cloned().collect(),
            spec: value.clone(),
        });
    }
    Ok(d)
}

/// Checks the host devices and resolves GPUs and CDI names, once: a
/// config already resolved is returned as it is (the CLI resolves before
/// pulling an image, `create` for everyone else).
pub(crate) fn provision(d: &DevicesConfig) -> Result<DevicesConfig> {
    let mut out = d.clone();
    for m in &d.devices {
        check_host_device(&m.path_on_host, &m.cgroup_permissions, "--device")?;
    }
    let wants = !d.requests.is_empty() || !d.cdi_devices.is_empty();
    if !wants || d.provisioned != Provisioned::default() {
        return Ok(out);
    }
    let roots = roots();
    let mut p = Provision::default();
    for r in &d.requests {
        let request = flags::parse_gpus(&r.spec)?;
        p.merge(discovery::resolve_gpus(&request, &roots)?);
    }
    if !d.cdi_devices.is_empty() {
        p.merge(resolve_cdi(&d.cdi_devices, &roots)?);
    }
    out.provisioned = convert(p)?;
    Ok(out)
}

/// CDI names through the specs; `nvidia.com/gpu=...` without a spec
/// through NVIDIA discovery (`all`, an index or a UUID).
fn resolve_cdi(names: &[String], roots: &Roots) -> Result<Provision> {
    let registry = discovery::cdi::Registry::load(&roots.cdi_dirs)?;
    let kind = discovery::nvidia::CDI_KIND;
    let (nvidia, other): (Vec<&String>, Vec<&String>) = names
        .iter()
        .partition(|n| n.starts_with(&format!("{kind}=")) && !registry.has_kind(kind));
    let mut p = Provision::default();
    if !other.is_empty() {
        let names: Vec<String> = other.into_iter().cloned().collect();
        p.merge(registry.resolve(&names)?);
    }
    for n in nvidia {
        let id = &n[kind.len() + 1..];
        let spec = if id == "all" {
            "all".to_string()
        } else {
            format!("device={id}")
        };
        p.merge(discovery::nvidia::discover(
            &flags::parse_gpus(&spec)?,
            roots,
        )?);
    }
    Ok(p)
}

/// The devices' provision as the record keeps it; OCI hooks of CDI specs
/// that berth knows (NVIDIA's `create-symlinks` and `update-ldcache`) are
/// done by berth itself; others are named in a warning, not run.
fn convert(p: Provision) -> Result<Provisioned> {
    let mut out = Provisioned::default();
    for n in p.device_nodes {
        let host = n.host_path.display().to_string();
        check_host_device(&host, &n.perms.to_string(), "--gpus")?;
        out.device_nodes.push(DeviceMapping {
            path_on_host: host,
            path_in_container: n.container_path.display().to_string(),
            cgroup_permissions: n.perms.to_string(),
        });
    }
    for m in p.mounts {
        if !m.host_path.exists() {
            bail!(
                "the GPU's file {} (for {} in the container) does not exist on this host",
                m.host_path.display(),
                m.container_path.display()
            );
        }
        out.binds.push(ReadOnlyBind {
            source: m.host_path.display().to_string(),
            destination: m.container_path.display().to_string(),
            read_only: m.read_only,
        });
    }
    out.env = p.env;
    out.ld_library_path = p.ld_library_path.clone();
    out.path = p.path;
    out.ldcache_dirs = p.ld_library_path;
    let mut skipped = Vec::new();
    for h in &p.hooks {
        let program = h
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let args: Vec<&str> = h.args.iter().map(String::as_str).collect();
        let sub = args
            .iter()
            .position(|a| *a == "create-symlinks" || *a == "update-ldcache");
        match sub.map(|i| (args[i], &args[i + 1..])) {
            Some(("create-symlinks", rest)) => {
                for pair in flag_values(rest, "--link") {
                    if let Some((target, link)) = pair.split_once("::") {
                        out.symlinks.push((target.to_string(), link.to_string()));
                    }
                }
            }
            Some(("update-ldcache", rest)) => {
                for dir in flag_values(rest, "--folder") {
                    if !out.ldcache_dirs.contains(&dir) {
                        out.ldcache_dirs.push(dir);
                    }
                }
            }
            _ => skipped.push(format!("{program} {}", h.args.join(" "))),
        }
    }
    if !skipped.is_empty() {
        report::warning(&format!(
            "the CDI specs ask for OCI hooks that berth does not run: {}; the devices, files and \
             environment of the specs are given to the container without them",
            skipped.join("; ")
        ));
    }
    if !p.additional_gids.is_empty() {
        report::warning(&format!(
            "the CDI specs ask for supplementary groups {:?}, which berth does not add (they are \
             not mapped in a user namespace); the devices keep the access this user has",
            p.additional_gids
        ));
    }
    Ok(out)
}

/// `--link a::b --link=c::d` values.
fn flag_values(args: &[&str], flag: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if *a == flag {
            if let Some(v) = it.next() {
                out.push(v.to_string());
            }
        } else if let Some(v) = a.strip_prefix(flag).and_then(|r| r.strip_prefix('=')) {
            out.push(v.to_string());
        }
    }
    out
}

/// The user must be able to open the host device as `perms` ask (r, w):
/// its node is bound into the container as it is.
fn check_host_device(host: &str, perms: &str, flag: &str) -> Result<()> {
    use nix::unistd::{access, AccessFlags};
    let path = Path::new(host);
    let meta = std::fs::metadata(path).with_context(|| {
        format!("{flag} {host}: error gathering device information: no such device on this host")
    })?;
    if meta.is_dir() {
        bail!("{flag} {host}: is a directory; name its devices one by one");
    }
    let mut mode = AccessFlags::empty();
    let mut wanted = Vec::new();
    if perms.contains('r') {
        mode |= AccessFlags::R_OK;
        wanted.push("reading");
    }
    if perms.contains('w') {
        mode |= AccessFlags::W_OK;
        wanted.push("writing");
    }
    if access(path, mode).is_err() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let group =
            crate::util::passwd::group_name(meta.gid()).unwrap_or_else(|| meta.gid().to_string());
        let owner =
            crate::util::passwd::user_name(meta.uid()).unwrap_or_else(|| meta.uid().to_string());
        bail!(
            "{flag} {host}: this user cannot open it for {} (mode {:o}, owner {owner}, group \
             {group}); berth gives a container only the devices its user may open: an \
             administrator can grant access (e.g. add the user to group {group}){}",
            wanted.join(" and "),
            meta.permissions().mode() & 0o7777,
            if perms.contains('w') {
                format!(", or ask for read-only access with {host}:r")
            } else {
                String::new()
            }
        );
    }
    Ok(())
}

/// The environment of the devices added to the container's: the specs'
/// variables, the libraries' directories first in LD_LIBRARY_PATH and
/// the programs' directories at the end of PATH.
pub(crate) fn add_env(env: &mut Vec<String>, p: &Provisioned) {
    for e in &p.env {
        super::env::set(env, e.clone());
    }
    if !p.path.is_empty() && super::env::get(env, "PATH").is_none() {
        super::env::set(env, format!("PATH={}", super::env::DEFAULT_PATH));
    }
    extend_list(env, "LD_LIBRARY_PATH", &p.ld_library_path, true);
    extend_list(env, "PATH", &p.path, false);
}

/// Puts `dirs` first (or last) in the colon-separated list `key`.
fn extend_list(env: &mut Vec<String>, key: &str, dirs: &[String], first: bool) {
    if dirs.is_empty() {
        return;
    }
    let current = super::env::get(env, key).unwrap_or_default().to_string();
    let mut parts: Vec<String> = current
        .split(':')
        .filter(|s| !s.is_empty() && !dirs.iter().any(|d| d == s))
        .map(str::to_string)
        .collect();
    if first {
        parts.splice(0..0, dirs.iter().cloned());
    } else {
        parts.extend(dirs.iter().cloned());
    }
    super::env::set(env, format!("{key}={}", parts.join(":")));
}

/// In the init, after pivot_root: adds the GPU libraries' directories to
/// the container's ld.so cache with the container's own `ldconfig`, when
/// it has one (glibc images; musl has no cache, and LD_LIBRARY_PATH covers
/// every image). It runs as the container's root, with no capabilities,
/// under no_new_privs; a failure (a read-only root, say) is not an error.
pub(crate) fn update_ld_cache(p: &Provisioned) {
    if p.ldcache_dirs.is_empty() {
        return;
    }
    let Some(ldconfig) = [
        "/sbin/ldconfig",
        "/usr/sbin/ldconfig",
        "/sbin/ldconfig.real",
    ]
    .into_iter()
    .find(|l| Path::new(l).is_file()) else {
        return;
    };
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new(ldconfig);
    cmd.args(&p.ldcache_dirs)
        .env_clear()
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    // SAFETY: only prctl and capset (async-signal-safe) between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
            for cap in 0..=63 {
                libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0);
            }
            let header = CapHeader {
                version: 0x2008_0522,
                pid: 0,
            };
            let data = [CapData::default(); 2];
            libc::syscall(libc::SYS_capset, &header, data.as_ptr());
            Ok(())
        });
    }
    let _ = cmd.status();
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_become_mappings_requests_and_cdi_names() {
        let d = from_flags(
            &[
                "/dev/null:/dev/mynull:r".into(),
                "nvidia.com/gpu=all".into(),
            ],
            &["\"device=0,1\"".into()],
        )
        .unwrap();
        assert_eq!(
            d.devices,
            [DeviceMapping {
                path_on_host: "/dev/null".into(),
                path_in_container: "/dev/mynull".into(),
                cgroup_permissions: "r".into()
            }]
        );
        assert_eq!(d.cdi_devices, ["nvidia.com/gpu=all"]);
        assert_eq!(d.requests[0].device_ids, ["0", "1"]);
        assert_eq!(d.requests[0].capabilities, [vec!["gpu".to_string()]]);
        provision(&DevicesConfig {
            devices: d.devices.clone(),
            ..Default::default()
        })
        .unwrap();
    }

    #[test]
    fn a_device_the_user_cannot_open_is_refused() {
        let e = check_host_device("/no/such/dev", "rwm", "--device").unwrap_err();
        assert!(e.to_string().contains("no such device"), "{e:#}");
        if nix::unistd::geteuid().is_root() {
            return;
        }
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("dev0");
        std::fs::write(&f, "").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o400)).unwrap();
        let e = check_host_device(f.to_str().unwrap(), "rw", "--device").unwrap_err();
        assert!(
            e.to_string()
                .contains("cannot open it for reading and writing (mode 400"),
            "{e}"
        );
        check_host_device(f.to_str().unwrap(), "r", "--device").unwrap();
    }

    #[test]
    fn environment_gets_the_driver_directories() {
        let mut env = vec![
            "PATH=/usr/bin:/bin".into(),
            "LD_LIBRARY_PATH=/opt/lib".into(),
        ];
        add_env(
            &mut env,
            &Provisioned {
                env: vec!["NVIDIA_VISIBLE_DEVICES=all".into()],
                ld_library_path: vec!["/usr/local/nvidia/lib64".into()],
                path: vec!["/usr/local/nvidia/bin".into()],
                ..Default::default()
            },
        );
        assert_eq!(
            env,
            [
                "PATH=/usr/bin:/bin:/usr/local/nvidia/bin",
                "LD_LIBRARY_PATH=/usr/local/nvidia/lib64:/opt/lib",
                "NVIDIA_VISIBLE_DEVICES=all"
            ]
        );
    }

    #[test]
    fn nvidia_hooks_are_done_by_berth() {
        let p = Provision {
            hooks: vec![
                discovery::Hook {
                    hook_name: "createContainer".into(),
                    path: "/usr/bin/nvidia-cdi-hook".into(),
                    args: vec![
                        "nvidia-cdi-hook".into(),
                        "create-symlinks".into(),
                        "--link".into(),
                        "libcuda.so.1::/usr/lib/libcuda.so".into(),
                    ],
                    env: vec![],
                    timeout: None,
                },
                discovery::Hook {
                    hook_name: "createContainer".into(),
                    path: "/usr/bin/nvidia-ctk".into(),
                    args: vec![
                        "nvidia-ctk".into(),
                        "hook".into(),
                        "update-ldcache".into(),
                        "--folder=/usr/lib/x86_64-linux-gnu".into(),
                    ],
                    env: vec![],
                    timeout: None,
                },
            ],
            ..Default::default()
        };
        let out = convert(p).unwrap();
        assert_eq!(
            out.symlinks,
            [(
                "libcuda.so.1".to_string(),
                "/usr/lib/libcuda.so".to_string()
            )]
        );
        assert_eq!(out.ldcache_dirs, ["/usr/lib/x86_64-linux-gnu"]);
    }
}
