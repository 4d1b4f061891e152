//! NVIDIA GPUs without CDI, as Apptainer's `--nv` finds them: the device
//! nodes (`/dev/nvidia<N>`, `/dev/nvidiactl`, `/dev/nvidia-uvm*`,
//! `/dev/nvidia-modeset`, `/dev/nvidia-caps/*`), the driver's libraries
//! listed by `ldconfig -p`, and its programs (`nvidia-smi`, ...). The
//! libraries are bound read-only under `/usr/local/nvidia/lib64` and the
//! programs under `/usr/local/nvidia/bin`, the directories NVIDIA's CUDA
//! images already put in LD_LIBRARY_PATH and PATH; the provision adds them
//! for other images.

use super::flags::{GpuCount, GpuRequest};
use super::{BindMount, DeviceNode, Perms, Provision, Roots};
use anyhow::{bail, Result};
use std::path::{Path, PathBuf};

/// The CDI kind of NVIDIA GPUs.
pub const CDI_KIND: &str = "nvidia.com/gpu";
/// Where the driver's libraries appear in the container.
pub const CONTAINER_LIB_DIR: &str = "/usr/local/nvidia/lib64";
/// Where the driver's programs appear in the container.
pub const CONTAINER_BIN_DIR: &str = "/usr/local/nvidia/bin";

/// The driver's libraries (soname stems), as Apptainer's nvliblist.conf.
pub const LIBRARIES: &[&str] = &[
    "libcuda.so",
    "libcudadebugger.so",
    "libEGL_nvidia.so",
    "libGLESv1_CM_nvidia.so",
    "libGLESv2_nvidia.so",
    "libGLX_nvidia.so",
    "libnvcuvid.so",
    "libnvidia-allocator.so",
    "libnvidia-api.so",
    "libnvidia-cfg.so",
    "libnvidia-compiler.so",
    "libnvidia-eglcore.so",
    "libnvidia-egl-wayland.so",
    "libnvidia-encode.so",
    "libnvidia-fatbinaryloader.so",
    "libnvidia-fbc.so",
    "libnvidia-glcore.so",
    "libnvidia-glsi.so",
    "libnvidia-glvkspirv.so",
    "libnvidia-gpucomp.so",
    "libnvidia-ifr.so",
    "libnvidia-ml.so",
    "libnvidia-nvvm.so",
    "libnvidia-opencl.so",
    "libnvidia-opticalflow.so",
    "libnvidia-ptxjitcompiler.so",
    "libnvidia-rtcore.so",
    "libnvidia-tls.so",
    "libnvoptix.so",
    "libvdpau_nvidia.so",
];

/// The driver's programs.
pub const BINARIES: &[&str] = &[
    "nvidia-smi",
    "nvidia-debugdump",
    "nvidia-persistenced",
    "nvidia-cuda-mps-control",
    "nvidia-cuda-mps-server",
];

/// One GPU's device node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gpu {
    pub index: u32,
    /// The host's node (under `roots.dev`).
    pub node: PathBuf,
    pub uuid: Option<String>,
}

/// The GPUs of the machine, by index.
pub fn gpus(roots: &Roots) -> Vec<Gpu> {
    let uuids = uuids_by_minor(&roots.proc_driver_nvidia);
    let mut out: Vec<Gpu> = std::fs::read_dir(&roots.dev)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let index: u32 = name.strip_prefix("nvidia")?.parse().ok()?;
            Some(Gpu {
                index,
                node: e.path(),
                uuid: uuids
                    .iter()
                    .find(|(m, _)| *m == index)
                    .map(|(_, u)| u.clone()),
            })
        })
        .collect();
    out.sort_by_key(|g| g.index);
    out
}

/// (device minor, UUID) from `/proc/driver/nvidia/gpus/*/information`
/// (`GPU UUID: GPU-...`, `Device Minor: 0`).
fn uuids_by_minor(proc_driver: &Path) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(proc_driver.join("gpus"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let Ok(text) = std::fs::read_to_string(e.path().join("information")) else {
            continue;
        };
        let field = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key))
                .map(|v| v.trim_start_matches(':').trim().to_string())
        };
        if let (Some(uuid), Some(minor)) = (
            field("GPU UUID"),
            field("Device Minor").and_then(|m| m.parse().ok()),
        ) {
            out.push((minor, uuid));
        }
    }
    out
}

/// The driver's libraries in an `ldconfig -p` listing: (soname, host
/// path), 64-bit ones only, each soname once.
pub fn libraries(ldconfig: &str) -> Vec<(String, PathBuf)> {
    let mut out: Vec<(String, PathBuf)> = Vec::new();
    for line in ldconfig.lines() {
        // `\tlibcuda.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcuda.so.1`
        let Some((left, path)) = line.split_once("=>") else {
            continue;
        };
        let mut l = left.split_whitespace();
        let (Some(soname), Some(flags)) = (l.next(), l.next()) else {
            continue;
        };
        if !flags.contains("64") {
            continue;
        }
        let wanted = LIBRARIES.iter().any(|stem| {
            soname == *stem
                || soname
                    .strip_prefix(stem)
                    .is_some_and(|rest| rest.starts_with('.'))
        });
        if wanted && !out.iter().any(|(s, _)| s == soname) {
            out.push((soname.to_string(), PathBuf::from(path.trim())));
        }
    }
    out
}

/// The device nodes, library and program binds, and environment for a
/// GPU request, without CDI.
pub fn discover(request: &GpuRequest, roots: &Roots) -> Result<Provision> {
    let ctl = roots.dev.join("nvidiactl");
    if !ctl.exists() {
        bail!(
            "no NVIDIA GPU found: {} missing; the NVIDIA driver is not loaded on this machine, and \
             no CDI spec in {} names nvidia.com/gpu devices. Run on a machine with an NVIDIA GPU \
             (on a cluster: a GPU node, e.g. srun --gres=gpu:1), where `nvidia-smi` works on the host",
            ctl.display(),
            roots
                .cdi_dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(" or ")
        );
    }
    let all = gpus(roots);
    let chosen: Vec<&Gpu> = if !request.device_ids.is_empty() {
        request
            .device_ids
            .iter()
            .map(|id| {
                all.iter()
                    .find(|g| {
                        id.parse::<u32>().is_ok_and(|i| i == g.index)
                            || g.uuid.as_deref() == Some(id.as_str())
                    })
                    .ok_or_else(|| {
                        anyhow::anyhow!(
                            "--gpus device={id}: no such NVIDIA GPU here (this machine has {})",
                            describe(&all)
                        )
                    })
            })
            .collect::<Result<_>>()?
    } else {
        match request.count {
            GpuCount::All => all.iter().collect(),
            GpuCount::Some(n) if n as usize <= all.len() => all.iter().take(n as usize).collect(),
            GpuCount::Some(n) => bail!("--gpus {n}: this machine has {}", describe(&all)),
        }
    };
    if chosen.is_empty() {
        bail!(
            "no NVIDIA GPU found: {} exists but no /dev/nvidia<N> device node does",
            ctl.display()
        );
    }
    let node = |host: PathBuf| DeviceNode {
        container_path: Path::new("/dev").join(host.strip_prefix(&roots.dev).unwrap_or(&host)),
        host_path: host,
        perms: Perms {
            read: true,
            write: true,
            mknod: false,
        },
    };
    let mut p = Provision::default();
    p.device_nodes
        .extend(chosen.iter().map(|g| node(g.node.clone())));
    for extra in [
        "nvidiactl",
        "nvidia-uvm",
        "nvidia-uvm-tools",
        "nvidia-modeset",
    ] {
        let path = roots.dev.join(extra);
        if path.exists() {
            p.device_nodes.push(node(path));
        }
    }
    let caps = roots.dev.join("nvidia-caps");
    let mut cap_nodes: Vec<PathBuf> = std::fs::read_dir(&caps)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    cap_nodes.sort();
    p.device_nodes.extend(cap_nodes.into_iter().map(node));
    for (soname, host) in libraries(&roots.ldconfig_output()?) {
        p.mounts.push(BindMount {
            // The file itself, not the symlink chain the soname is.
            host_path: std::fs::canonicalize(&host).unwrap_or(host),
            container_path: Path::new(CONTAINER_LIB_DIR).join(&soname),
            read_only: true,
            options: vec!["nosuid".into(), "nodev".into()],
        });
    }
    for bin in BINARIES {
        if let Some(host) = roots
            .bin_dirs
            .iter()
            .map(|d| d.join(bin))
            .find(|p| p.exists())
        {
            p.mounts.push(BindMount {
                host_path: host,
                container_path: Path::new(CONTAINER_BIN_DIR).join(bin),
                read_only: true,
                options: vec!["nodev".into()],
            });
        }
    }
    p.ld_library_path.push(CONTAINER_LIB_DIR.into());
    p.path.push(CONTAINER_BIN_DIR.into());
    Ok(p)
}

fn describe(all: &[Gpu]) -> String {
    match all.len() {
        0 => "no NVIDIA GPU device node".into(),
        n => format!(
            "{n} NVIDIA GPU{}: {}",
            if n == 1 { "" } else { "s" },
            all.iter()
                .map(|g| match &g.uuid {
                    Some(u) => format!("{} ({u})", g.index),
                    None => g.index.to_string(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LDCONFIG: &str = "\
1234 libs found in cache `/etc/ld.so.cache'
\tlibnvidia-ml.so.1 (libc6,x86-64) => /host/lib64/libnvidia-ml.so.1
\tlibnvidia-ml.so (libc6,x86-64) => /host/lib64/libnvidia-ml.so
\tlibcuda.so.1 (libc6,x86-64) => /host/lib64/libcuda.so.1
\tlibcuda.so.1 (libc6) => /host/lib32/libcuda.so.1
\tlibcudart.so.12 (libc6,x86-64) => /host/lib64/libcudart.so.12
\tlibnvidia-ptxjitcompiler.so.1 (libc6,x86-64) => /host/lib64/libnvidia-ptxjitcompiler.so.1
\tlibc.so.6 (libc6,x86-64, OS ABI: Linux 3.2.0) => /lib/x86_64-linux-gnu/libc.so.6
";

    /// A fake machine with two GPUs in a temporary directory.
    fn fake(gpus: u32) -> (tempfile::TempDir, Roots) {
        let d = tempfile::tempdir().unwrap();
        let dev = d.path().join("dev");
        std::fs::create_dir_all(dev.join("nvidia-caps")).unwrap();
        for n in [
            "nvidiactl",
            "nvidia-uvm",
            "nvidia-uvm-tools",
            "nvidia-caps/nvidia-cap1",
            "nvidia-caps/nvidia-cap2",
        ] {
            std::fs::write(dev.join(n), b"").unwrap();
        }
        for i in 0..gpus {
            std::fs::write(dev.join(format!("nvidia{i}")), b"").unwrap();
            let info = d.path().join(format!("proc/gpus/0000:0{i}:00.0"));
            std::fs::create_dir_all(&info).unwrap();
            std::fs::write(
                info.join("information"),
                format!("Model: \t\t Tesla T4\nGPU UUID: \t GPU-aaaa-{i}\nDevice Minor: \t {i}\n"),
            )
            .unwrap();
        }
        let bin = d.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::write(bin.join("nvidia-smi"), b"").unwrap();
        let roots = Roots {
            dev,
            cdi_dirs: vec![d.path().join("etc/cdi"), d.path().join("run/cdi")],
            ldconfig: Some(LDCONFIG.into()),
            bin_dirs: vec![bin],
            proc_driver_nvidia: d.path().join("proc"),
        };
        (d, roots)
    }

    fn all() -> GpuRequest {
        crate::devices::flags::parse_gpus("all").unwrap()
    }

    #[test]
    fn libraries_from_ldconfig() {
        let libs = libraries(LDCONFIG);
        let names: Vec<&str> = libs.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(
            names,
            [
                "libnvidia-ml.so.1",
                "libnvidia-ml.so",
                "libcuda.so.1",
                "libnvidia-ptxjitcompiler.so.1"
            ]
        );
        assert_eq!(libs[2].1, PathBuf::from("/host/lib64/libcuda.so.1"));
    }

    #[test]
    fn all_gpus_with_control_devices_libraries_and_programs() {
        let (_d, roots) = fake(2);
        let p = discover(&all(), &roots).unwrap();
        let nodes: Vec<String> = p
            .device_nodes
            .iter()
            .map(|n| n.container_path.display().to_string())
            .collect();
        assert_eq!(
            nodes,
            [
                "/dev/nvidia0",
                "/dev/nvidia1",
                "/dev/nvidiactl",
                "/dev/nvidia-uvm",
                "/dev/nvidia-uvm-tools",
                "/dev/nvidia-caps/nvidia-cap1",
                "/dev/nvidia-caps/nvidia-cap2"
            ]
        );
        assert_eq!(p.device_nodes[0].host_path, roots.dev.join("nvidia0"));
        let binds: Vec<String> = p
            .mounts
            .iter()
            .map(|m| m.container_path.display().to_string())
            .collect();
        assert!(
            binds.contains(&"/usr/local/nvidia/lib64/libcuda.so.1".to_string()),
            "{binds:?}"
        );
        assert!(
            binds.contains(&"/usr/local/nvidia/bin/nvidia-smi".to_string()),
            "{binds:?}"
        );
        assert!(p.mounts.iter().all(|m| m.read_only));
        assert_eq!(p.ld_library_path, [CONTAINER_LIB_DIR]);
        assert_eq!(p.path, [CONTAINER_BIN_DIR]);
    }

    #[test]
    fn counts_indexes_and_uuids() {
        let (_d, roots) = fake(2);
        let gpu_nodes = |spec: &str| -> Vec<String> {
            discover(&crate::devices::flags::parse_gpus(spec).unwrap(), &roots)
                .unwrap()
                .device_nodes
                .iter()
                .map(|n| n.container_path.display().to_string())
                .filter(|n| n["/dev/nvidia".len()..].chars().all(|c| c.is_ascii_digit()))
                .collect()
        };
        assert_eq!(gpu_nodes("1"), ["/dev/nvidia0"]);
        assert_eq!(gpu_nodes("\"device=1\""), ["/dev/nvidia1"]);
        assert_eq!(gpu_nodes("device=GPU-aaaa-1"), ["/dev/nvidia1"]);
        let e = discover(&crate::devices::flags::parse_gpus("3").unwrap(), &roots).unwrap_err();
        assert!(
            e.to_string()
                .contains("this machine has 2 NVIDIA GPUs: 0 (GPU-aaaa-0), 1 (GPU-aaaa-1)"),
            "{e}"
        );
        let e = discover(
            &crate::devices::flags::parse_gpus("device=7").unwrap(),
            &roots,
        )
        .unwrap_err();
        assert!(e.to_string().contains("no such NVIDIA GPU"), "{e}");
    }

    #[test]
    fn no_gpu_is_a_clear_error() {
        let (d, mut roots) = fake(0);
        std::fs::remove_file(roots.dev.join("nvidiactl")).unwrap();
        let e = discover(&all(), &roots).unwrap_err().to_string();
        assert!(e.starts_with("no NVIDIA GPU found: "), "{e}");
        assert!(e.contains("nvidiactl missing"), "{e}");
        // And through resolve_gpus on the real layout of a fake machine.
        roots.cdi_dirs = vec![d.path().join("none")];
        let e = crate::devices::resolve_gpus(&all(), &roots)
            .unwrap_err()
            .to_string();
        assert!(e.contains("nvidiactl missing"), "{e}");
    }

    #[test]
    fn cdi_wins_when_a_spec_exists() {
        let (d, roots) = fake(2);
        let cdi = d.path().join("run/cdi");
        std::fs::create_dir_all(&cdi).unwrap();
        std::fs::write(
            cdi.join("nvidia.yaml"),
            "cdiVersion: 0.5.0\nkind: nvidia.com/gpu\ndevices:\n- name: \"0\"\n  containerEdits:\n    deviceNodes:\n    - path: /dev/nvidia0\n- name: \"1\"\n  containerEdits:\n    deviceNodes:\n    - path: /dev/nvidia1\ncontainerEdits:\n  env: [FROM_CDI=1]\n",
        )
        .unwrap();
        let p =
            crate::devices::resolve_gpus(&crate::devices::flags::parse_gpus("1").unwrap(), &roots)
                .unwrap();
        assert_eq!(p.env, ["FROM_CDI=1"]);
        assert_eq!(p.device_nodes.len(), 1);
        let p = crate::devices::resolve_gpus(&all(), &roots).unwrap();
        assert_eq!(p.device_nodes.len(), 2);
        let e =
            crate::devices::resolve_gpus(&crate::devices::flags::parse_gpus("3").unwrap(), &roots)
                .unwrap_err();
        assert!(e.to_string().contains("name only 2"), "{e}");
    }

    #[test]
    fn this_machine_has_no_gpu() {
        // The machines this project is tested on have none.
        if Path::new("/dev/nvidiactl").exists() {
            return;
        }
        let e = crate::devices::resolve_gpus(&all(), &Roots::host())
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("no NVIDIA GPU found: /dev/nvidiactl missing"),
            "{e}"
        );
    }
}
