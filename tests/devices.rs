//! Host devices and GPUs in containers:
//!
//! - `--device HOST[:CONTAINER][:PERMS]` binds a host device the user may
//!   open; one the user may not open is refused before anything is made;
//! - `--gpus` and `--device nvidia.com/gpu=...` on a fake machine (the
//!   debug build's `BERTH_TEST_DEVICE_ROOT` hook: fake /dev nodes as
//!   regular files, fake driver libraries listed in a fake `ldconfig -p`,
//!   a fake `nvidia-smi`, GPU UUIDs under a fake /proc/driver/nvidia):
//!   the nodes, the read-only libraries and programs and the environment
//!   are in the container; a CDI spec's devices, mounts and environment too;
//! - on this machine, which has no GPU, `--gpus` fails with a clear error
//!   and creates nothing.

mod common;

use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

fn write(path: &Path, text: &str, mode: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    if mode & 0o111 != 0 {
        // A program is written beside and installed by a child process
        // (see install_executable: "Text file busy").
        let draft = path.with_extension("draft");
        std::fs::write(&draft, text).unwrap();
        install_executable(&draft, path);
        std::fs::remove_file(&draft).unwrap();
    } else {
        std::fs::write(path, text).unwrap();
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A machine with two NVIDIA GPUs, as files the test user can read (and
/// open for writing, as the real nodes are 0666).
fn fake_gpu_machine(b: &Berth) -> PathBuf {
    let root = b.scratch_dir().join("machine");
    for node in [
        "nvidiactl",
        "nvidia0",
        "nvidia1",
        "nvidia-uvm",
        "nvidia-caps/nvidia-cap1",
    ] {
        write(
            &root.join("dev").join(node),
            &format!("node {node}\n"),
            0o666,
        );
    }
    for (i, uuid) in ["GPU-1111", "GPU-2222"].iter().enumerate() {
        write(
            &root.join(format!(
                "proc/driver/nvidia/gpus/0000:0{i}:00.0/information"
            )),
            &format!("Model: \t Fake T4\nGPU UUID: \t {uuid}\nDevice Minor: \t {i}\n"),
            0o644,
        );
    }
    write(&root.join("lib64/libcuda.so.1"), "fake libcuda\n", 0o644);
    write(&root.join("lib64/libnvidia-ml.so.1"), "fake nvml\n", 0o644);
    write(
        &root.join("ldconfig.txt"),
        &format!(
            "3 libs found in cache `/etc/ld.so.cache'\n\
             \tlibcuda.so.1 (libc6,x86-64) => {0}/lib64/libcuda.so.1\n\
             \tlibnvidia-ml.so.1 (libc6,x86-64) => {0}/lib64/libnvidia-ml.so.1\n\
             \tlibc.so.6 (libc6,x86-64) => /lib/x86_64-linux-gnu/libc.so.6\n",
            root.display()
        ),
        0o644,
    );
    write(
        &root.join("bin/nvidia-smi"),
        "#!/bin/sh\necho \"fake nvidia-smi sees $(cat /dev/nvidia0)\"\n",
        0o755,
    );
    // Every directory on the way is the user's scratch space, or ours and open.
    for d in walk_dirs(&root) {
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    root
}

fn walk_dirs(root: &Path) -> Vec<PathBuf> {
    let mut out = vec![root.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        for e in std::fs::read_dir(&out[i]).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                out.push(e.path());
            }
        }
        i += 1;
    }
    out
}

/// `berth ARGS` against the fake machine.
fn on_fake(b: &Berth, machine: &Path, args: &[&str]) -> std::process::Output {
    let mut c = b.command(args);
    c.env("BERTH_TEST_DEVICE_ROOT", machine);
    run(c)
}

#[test]
fn gpus_of_a_fake_machine_appear_in_the_container() {
    each_user(|b| {
        b.load_busybox();
        let machine = fake_gpu_machine(b);
        let script = "ls /dev/nvidia0 /dev/nvidia1 /dev/nvidiactl /dev/nvidia-uvm /dev/nvidia-caps/nvidia-cap1 && \
             cat /dev/nvidia1 /usr/local/nvidia/lib64/libcuda.so.1 /usr/local/nvidia/lib64/libnvidia-ml.so.1 && \
             nvidia-smi && echo \"LD=$LD_LIBRARY_PATH\" && echo \"PATH=$PATH\" && \
             if echo x > /usr/local/nvidia/lib64/libcuda.so.1; then echo WRITABLE; else echo READ-ONLY; fi";
        let out = on_fake(
            b,
            &machine,
            &[
                "run", "--rm", "--gpus", "all", "busybox", "sh", "-c", script,
            ],
        );
        assert_success(&out, "run --gpus all");
        let text = stdout(&out);
        for want in [
            "node nvidia1\n",
            "fake libcuda\nfake nvml\n",
            "fake nvidia-smi sees node nvidia0\n",
            "LD=/usr/local/nvidia/lib64\n",
            ":/usr/local/nvidia/bin\n",
            "READ-ONLY\n",
        ] {
            assert!(text.contains(want), "{want:?} in\n{}", show(&out));
        }
        // One GPU by index or UUID: only its node.
        for spec in ["\"device=1\"", "device=GPU-2222"] {
            let out = on_fake(
                b,
                &machine,
                &[
                    "run",
                    "--rm",
                    "--gpus",
                    spec,
                    "busybox",
                    "sh",
                    "-c",
                    "ls /dev | grep '^nvidia[0-9]'",
                ],
            );
            assert_success(&out, spec);
            assert_eq!(stdout(&out), "nvidia1\n", "--gpus {spec}");
        }
        let out = on_fake(
            b,
            &machine,
            &["run", "--rm", "--gpus", "3", "busybox", "true"],
        );
        assert_status(&out, 125, "--gpus 3 of 2");
        assert!(
            stderr(&out)
                .contains("--gpus 3: this machine has 2 NVIDIA GPUs: 0 (GPU-1111), 1 (GPU-2222)"),
            "{}",
            show(&out)
        );
        // The CDI name of NVIDIA GPUs, without a CDI spec: discovery.
        let out = on_fake(
            b,
            &machine,
            &[
                "run",
                "--rm",
                "--device",
                "nvidia.com/gpu=all",
                "busybox",
                "sh",
                "-c",
                "ls /dev | grep '^nvidia[0-9]'; nvidia-smi",
            ],
        );
        assert_success(&out, "--device nvidia.com/gpu=all");
        assert_eq!(
            stdout(&out),
            "nvidia0\nnvidia1\nfake nvidia-smi sees node nvidia0\n"
        );
        // inspect: Docker's DeviceRequests, and the environment in Config.
        let out = on_fake(
            b,
            &machine,
            &["create", "--name", "gpu1", "--gpus", "all", "busybox"],
        );
        assert_success(&out, "create --gpus all");
        assert_eq!(
            b.ok(&[
                "inspect",
                "-f",
                "{{json .HostConfig.DeviceRequests}}",
                "gpu1"
            ])
            .trim(),
            r#"[{"Capabilities":[["gpu"]],"Count":-1,"DeviceIDs":null,"Driver":"","Options":{}}]"#
        );
        let env = b.ok(&["inspect", "-f", "{{json .Config.Env}}", "gpu1"]);
        assert!(
            env.contains("LD_LIBRARY_PATH=/usr/local/nvidia/lib64"),
            "{env}"
        );
        b.ok(&["rm", "gpu1"]);
    });
}

#[test]
fn cdi_specs_give_devices_mounts_and_environment() {
    each_user(|b| {
        b.load_busybox();
        let machine = fake_gpu_machine(b);
        write(&machine.join("dev/sensor0"), "sensor reading 42\n", 0o666);
        write(
            &machine.join("lib64/libsensor.so"),
            "sensor library\n",
            0o644,
        );
        write(
            &machine.join("etc/cdi/example.yaml"),
            &format!(
                "cdiVersion: 0.6.0\nkind: example.com/sensor\ndevices:\n- name: temp0\n  containerEdits:\n    deviceNodes:\n    - path: /dev/sensor0\n      hostPath: {0}/dev/sensor0\n    env: [SENSOR=temp0]\ncontainerEdits:\n  mounts:\n  - hostPath: {0}/lib64/libsensor.so\n    containerPath: /usr/lib/libsensor.so\n    options: [ro, nosuid, nodev, bind]\n",
                machine.display()
            ),
            0o644,
        );
        std::fs::set_permissions(
            machine.join("etc/cdi"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        let out = on_fake(
            b,
            &machine,
            &[
                "run",
                "--rm",
                "--device",
                "example.com/sensor=temp0",
                "busybox",
                "sh",
                "-c",
                "cat /dev/sensor0 /usr/lib/libsensor.so; echo $SENSOR",
            ],
        );
        assert_success(&out, "--device example.com/sensor=temp0");
        assert_eq!(stdout(&out), "sensor reading 42\nsensor library\ntemp0\n");
        let out = on_fake(
            b,
            &machine,
            &[
                "run",
                "--rm",
                "--device",
                "example.com/sensor=nope",
                "busybox",
                "true",
            ],
        );
        assert_status(&out, 125, "an unknown CDI device");
        assert!(stderr(&out).contains("nope"), "{}", show(&out));
    });
}

#[test]
fn no_gpu_here_is_a_clear_error_and_nothing_is_made() {
    if Path::new("/dev/nvidiactl").exists() {
        skip_or_fail("this machine has an NVIDIA GPU");
        return;
    }
    each_user(|b| {
        b.load_busybox();
        for args in [
            vec!["run", "--rm", "--gpus", "all", "busybox", "true"],
            vec!["create", "--device", "nvidia.com/gpu=0", "busybox"],
        ] {
            let out = b.status(&args, 125);
            let e = stderr(&out);
            assert!(
                e.starts_with("Error: no NVIDIA GPU found: /dev/nvidiactl missing; "),
                "{e}"
            );
            assert!(e.contains("srun --gres=gpu:1"), "{e}");
        }
        assert!(b.container_ids().is_empty(), "nothing was created");
    });
}

#[test]
fn host_devices_are_bound_when_the_user_may_open_them() {
    each_user(|b| {
        b.load_busybox();
        let out = b.ok(&[
            "run", "--rm", "--device", "/dev/null:/dev/mynull", "--device", "/dev/zero", "busybox", "sh", "-c",
            "[ -c /dev/mynull ] && echo hi > /dev/mynull && head -c 4 /dev/zero | od -An -tx1 && echo ok",
        ]);
        assert_eq!(out, " 00 00 00 00\nok\n");
        // Permissions berth cannot enforce are said.
        let out = b.cmd(&[
            "create",
            "--name",
            "dev1",
            "--device",
            "/dev/null:/dev/n:r",
            "busybox",
        ]);
        assert_success(&out, "create --device ...:r");
        assert!(
            stderr(&out)
                .contains("--device /dev/null:/dev/n:r: berth does not restrict a device to \"r\""),
            "{}",
            show(&out)
        );
        assert_eq!(
            b.ok(&["inspect", "-f", "{{json .HostConfig.Devices}}", "dev1"])
                .trim(),
            r#"[{"CgroupPermissions":"r","PathInContainer":"/dev/n","PathOnHost":"/dev/null"}]"#
        );
        b.ok(&["rm", "dev1"]);
        let out = b.status(
            &[
                "run",
                "--rm",
                "--device",
                "/dev/no-such-device",
                "busybox",
                "true",
            ],
            125,
        );
        assert!(
            stderr(&out).contains("no such device on this host"),
            "{}",
            show(&out)
        );
        if !b.user.is_root() {
            // A node only root may open.
            let secret = b.scratch_dir().join("rootonly");
            write(&secret, "", 0o600);
            std::os::unix::fs::chown(&secret, Some(0), Some(0)).unwrap();
            let out = b.status(
                &[
                    "run",
                    "--rm",
                    "--device",
                    secret.to_str().unwrap(),
                    "busybox",
                    "true",
                ],
                125,
            );
            let e = stderr(&out);
            assert!(
                e.contains("this user cannot open it for reading and writing (mode 600, owner root, group root)"),
                "{e}"
            );
            assert!(e.contains(":r"), "{e}");
        }
        assert!(b.container_ids().is_empty());
    });
}
