//! Capabilities, privileges, seccomp settings and Landlock as a user sees
//! them: `/proc/self/status` in the container for root and non-root users
//! under `--cap-add`, `--cap-drop`, `--privileged`, `--security-opt`, and
//! `exec --privileged`; `run --landlock`; `sandbox --image`.

mod common;

use common::*;
use std::path::Path;

/// The `Cap*`, `NoNewPrivs` and `Seccomp` lines of the container's status.
fn status(b: &Berth, flags: &[&str]) -> std::collections::HashMap<String, String> {
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["busybox", "cat", "/proc/self/status"]);
    parse_status(&b.ok(&args))
}

fn parse_status(text: &str) -> std::collections::HashMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect()
}

/// Every capability this kernel knows, as /proc/self/status shows a set.
fn all_caps() -> String {
    let last: u32 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    format!("{:016x}", (1u64 << (last + 1)) - 1)
}

const DOCKER_DEFAULT: &str = "00000000a80425fb";

#[test]
fn capabilities_follow_dockers_rules() {
    each_user(|b| {
        b.load_busybox();
        let s = status(b, &[]);
        assert_eq!(s["CapEff"], DOCKER_DEFAULT);
        assert_eq!(s["CapBnd"], DOCKER_DEFAULT);
        assert_eq!(s["CapInh"], "0000000000000000");
        assert_eq!(s["CapAmb"], "0000000000000000");
        assert_eq!(s["NoNewPrivs"], "0");
        assert_eq!(s["Seccomp"], "2");
        let s = status(b, &["--cap-drop", "ALL", "--cap-add", "chown"]);
        assert_eq!(s["CapEff"], "0000000000000001");
        assert_eq!(s["CapBnd"], "0000000000000001");
        let s = status(b, &["--cap-add", "CAP_NET_ADMIN", "--cap-drop", "net_raw"]);
        let eff = u64::from_str_radix(&s["CapEff"], 16).unwrap();
        assert_ne!(eff & (1 << 12), 0, "NET_ADMIN: {eff:x}");
        assert_eq!(eff & (1 << 13), 0, "NET_RAW dropped: {eff:x}");
        let s = status(b, &["--privileged"]);
        assert_eq!(s["CapEff"], all_caps());
        assert_eq!(s["CapBnd"], all_caps());
        let s = status(b, &["--security-opt", "no-new-privileges"]);
        assert_eq!(s["NoNewPrivs"], "1");
        // A non-root user has none in effect (Docker 20.10+), the bounding
        // set still limits what a set-user-id program could get.
        if b.user.subids {
            let s = status(b, &["-u", "1000", "--cap-add", "NET_ADMIN"]);
            assert_eq!(s["CapEff"], "0000000000000000");
            assert_eq!(s["CapPrm"], "0000000000000000");
            assert_eq!(s["CapBnd"], "00000000a80435fb");
        }
        let out = b.fails(&["run", "--rm", "--cap-add", "FLY", "busybox", "true"]);
        assert!(
            stderr(&out).contains("unknown capability"),
            "{}",
            show(&out)
        );
    });
}

#[test]
fn exec_privileged_gets_every_capability() {
    each_user(|b| {
        b.load_busybox();
        b.ok(&["run", "-d", "--name", "cap", "busybox", "sleep", "60"]);
        let s = parse_status(&b.ok(&["exec", "cap", "cat", "/proc/self/status"]));
        assert_eq!(s["CapEff"], DOCKER_DEFAULT);
        assert_eq!(s["Seccomp"], "2");
        let s = parse_status(&b.ok(&["exec", "--privileged", "cap", "cat", "/proc/self/status"]));
        assert_eq!(s["CapEff"], all_caps());
        // The container's filter still applies, as with Docker.
        assert_eq!(s["Seccomp"], "2");
        b.ok(&["rm", "-f", "cap"]);
        // Into a privileged container, with or without --privileged: every
        // capability (decided in the process that gets them, not in the
        // command, which holds none before it enters the namespace).
        b.ok(&[
            "run",
            "-d",
            "--name",
            "pcap",
            "--privileged",
            "busybox",
            "sleep",
            "60",
        ]);
        for flags in [&["exec"][..], &["exec", "--privileged"]] {
            let mut args = flags.to_vec();
            args.extend_from_slice(&["pcap", "cat", "/proc/self/status"]);
            let s = parse_status(&b.ok(&args));
            assert_eq!(s["CapEff"], all_caps(), "{flags:?}");
        }
        b.ok(&["rm", "-f", "pcap"]);
    });
}

/// Real root's privileged container runs in no user namespace of its
/// own: it gets every capability root has here (its bounding set, which
/// on some machines lacks one, e.g. CAP_SYS_RESOURCE), as Podman gives,
/// instead of failing as a request for all of them would; `exec
/// --privileged` into it likewise. Its other containers are in a user
/// namespace of their own, whose bounding set is whole.
#[test]
fn privileged_as_real_root_gets_the_capabilities_root_has() {
    let Some(root) = root_user() else { return };
    let b = Berth::new(&root);
    b.load_busybox();
    let ours = parse_status(&std::fs::read_to_string("/proc/self/status").unwrap());
    let s = status(&b, &["--privileged"]);
    assert_eq!(s["CapEff"], ours["CapBnd"]);
    assert_eq!(s["CapBnd"], ours["CapBnd"]);
    let s = status(&b, &["--cap-add", "ALL"]);
    assert_eq!(s["CapEff"], all_caps());
    b.ok(&[
        "run",
        "-d",
        "--name",
        "priv",
        "--privileged",
        "busybox",
        "sleep",
        "60",
    ]);
    let s = parse_status(&b.ok(&["exec", "--privileged", "priv", "cat", "/proc/self/status"]));
    assert_eq!(s["CapEff"], ours["CapBnd"]);
    let s = parse_status(&b.ok(&["exec", "priv", "cat", "/proc/self/status"]));
    assert_eq!(s["CapEff"], ours["CapBnd"]);
    b.ok(&["rm", "-f", "priv"]);
}

#[test]
fn seccomp_settings() {
    each_user(|b| {
        b.load_busybox();
        // Without subordinate ids fakeroot's filter stays, on an
        // allow-all profile.
        let unconfined = if b.user.subids { "0" } else { "2" };
        let s = status(b, &["--security-opt", "seccomp=unconfined"]);
        assert_eq!(s["Seccomp"], unconfined);
        let s = status(b, &["--privileged"]);
        assert_eq!(s["Seccomp"], unconfined);
        // A profile of the user's: everything allowed but mkdir.
        let profile = b.write_file(
            "profile.json",
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}"#,
        );
        let opt = format!("seccomp={}", profile.display());
        let out = b.cmd(&[
            "run",
            "--rm",
            "--security-opt",
            &opt,
            "busybox",
            "mkdir",
            "/x",
        ]);
        assert!(!out.status.success(), "{}", show(&out));
        assert!(
            stderr(&out).contains("Operation not permitted"),
            "{}",
            show(&out)
        );
        b.ok(&[
            "run",
            "--rm",
            "--security-opt",
            &opt,
            "busybox",
            "touch",
            "/x",
        ]);
        let bad = b.write_file("bad.json", "{not json");
        let out = b.fails(&[
            "run",
            "--rm",
            "--security-opt",
            &format!("seccomp={}", bad.display()),
            "busybox",
            "true",
        ]);
        assert!(stderr(&out).contains("bad.json"), "{}", show(&out));
        // Docker's default profile: the keyring, bpf and nested user
        // namespaces are refused.
        let out = b.cmd(&["run", "--rm", "busybox", "unshare", "-U", "true"]);
        assert!(!out.status.success(), "{}", show(&out));
        // label= and apparmor= are accepted with a note.
        let out = b.cmd(&[
            "run",
            "--rm",
            "--security-opt",
            "label=disable",
            "busybox",
            "true",
        ]);
        assert_success(&out, "--security-opt label=disable");
        assert!(
            stderr(&out).contains("applies no SELinux label"),
            "{}",
            show(&out)
        );
        b.fails(&["run", "--rm", "--security-opt", "bogus", "busybox", "true"]);
    });
}

#[test]
fn privileged_drops_the_masks_and_brings_the_users_devices() {
    each_user(|b| {
        b.load_busybox();
        let masked = b.run_rm("busybox", &["wc", "-c", "/proc/interrupts"]);
        assert!(masked.starts_with("0 "), "{masked}");
        let out = b.ok(&[
            "run",
            "--rm",
            "--privileged",
            "busybox",
            "wc",
            "-c",
            "/proc/interrupts",
        ]);
        assert!(!out.starts_with("0 "), "{out}");
        // A host device the user may open is there; one it may not is not.
        let devs = b.ok(&[
            "run",
            "--rm",
            "--privileged",
            "busybox",
            "ls",
            "/dev",
            "/dev/net",
        ]);
        let usable = |p: &str| {
            let o = run(b.user_command(Path::new("/usr/bin/test"), &["-r", p]));
            o.status.success()
        };
        if usable("/dev/net/tun") {
            assert!(devs.contains("tun"), "{devs}");
        }
        if Path::new("/dev/kvm").exists() && !usable("/dev/kvm") {
            assert!(!devs.contains("kvm"), "{devs}");
        }
    });
}

#[test]
fn landlock_on_run() {
    each_user(|b| {
        b.load_busybox();
        let out = b.ok(&[
            "run",
            "--rm",
            "--landlock",
            "busybox",
            "sh",
            "-c",
            "echo x > /tmp/f && cat /tmp/f && grep NoNewPrivs /proc/self/status",
        ]);
        assert!(
            out.contains("x\n") && out.contains("NoNewPrivs:\t1"),
            "{out}"
        );
        // A volume is beneath the root: writable.
        let dir = b.scratch_dir();
        let vol = format!("{}:/data", dir.display());
        b.ok(&[
            "run",
            "--rm",
            "--landlock",
            "-v",
            &vol,
            "busybox",
            "sh",
            "-c",
            "echo y > /data/g",
        ]);
        assert_eq!(std::fs::read_to_string(dir.join("g")).unwrap(), "y\n");
    });
}

#[test]
fn sandbox_runs_a_command_in_an_image() {
    each_user(|b| {
        b.load_busybox();
        let dir = b.scratch_dir();
        let mut cmd = b.command(&[
            "sandbox",
            "--image",
            "busybox",
            "--",
            "sh",
            "-c",
            "pwd; echo made > out; touch /etc/x 2>/dev/null && echo etc-writable; \
             wc -l < /proc/net/dev; cat /proc/self/status",
        ]);
        cmd.current_dir(&dir);
        let out = run(cmd);
        assert_success(&out, "sandbox --image");
        let text = stdout(&out);
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some(dir.to_str().unwrap()), "{text}");
        assert!(!text.contains("etc-writable"), "{text}");
        // Loopback only: two header lines and lo.
        assert_eq!(lines.next(), Some("3"), "{text}");
        let s = parse_status(&text);
        assert_eq!(s["CapEff"], "0000000000000000");
        assert_eq!(s["NoNewPrivs"], "1");
        assert_eq!(std::fs::read_to_string(dir.join("out")).unwrap(), "made\n");
        // Nothing of the container is left.
        assert!(b.container_ids().is_empty());
        let out = b.cmd(&["sandbox", "--image", "busybox", "--", "false"]);
        assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    });
}

#[test]
fn inspect_shows_the_security_settings() {
    each_user(|b| {
        b.load_busybox();
        b.ok(&[
            "create",
            "--name",
            "sec",
            "--cap-add",
            "net_admin",
            "--cap-drop",
            "CHOWN",
            "--security-opt",
            "no-new-privileges",
            "busybox",
        ]);
        let out = b.ok(&[
            "inspect",
            "--format",
            "{{json .HostConfig.CapAdd}} {{json .HostConfig.CapDrop}} {{json .HostConfig.SecurityOpt}} {{.HostConfig.Privileged}}",
            "sec",
        ]);
        assert_eq!(
            out.trim(),
            r#"["CAP_NET_ADMIN"] ["CAP_CHOWN"] ["no-new-privileges"] false"#
        );
        b.ok(&["rm", "sec"]);
    });
}

/// A build's RUN steps are confined as containers are: Docker's default
/// capabilities, a seccomp filter (the default profile), and, for
/// the user without subordinate ids, the fakeroot emulation (chown
/// "succeeds").
#[test]
fn build_steps_get_the_default_confinement() {
    each_user(|b| {
        b.load_busybox();
        let ctx = b.scratch_dir();
        std::fs::write(
            ctx.join("Dockerfile"),
            "FROM busybox\n\
             RUN grep -E '^(CapBnd|CapEff|Seccomp):' /proc/self/status > /status\n\
             RUN touch /f && chown 1234:1234 /f && echo chown-ok > /chown\n",
        )
        .unwrap();
        if running_as_root() && !b.user.is_root() {
            let status = std::process::Command::new("chown")
                .args(["-R", &format!("{}:{}", b.user.uid, b.user.gid)])
                .arg(&ctx)
                .status()
                .unwrap();
            assert!(status.success());
        }
        let ctx_arg = ctx.display().to_string();
        b.ok(&["build", "-q", "-t", "confined", &ctx_arg]);
        let s = parse_status(&b.run_rm("confined", &["cat", "/status"]));
        assert_eq!(s["Seccomp"], "2", "{s:?}");
        assert_eq!(s["CapBnd"], DOCKER_DEFAULT, "{s:?}");
        assert_eq!(s["CapEff"], DOCKER_DEFAULT, "{s:?}");
        assert_eq!(b.run_rm("confined", &["cat", "/chown"]), "chown-ok\n");
        b.ok(&["rmi", "confined"]);
    });
}

/// `info` and `doctor` report the kernel's Landlock ABI (the number the
/// kernel gives `landlock_create_ruleset(NULL, 0, VERSION)`).
#[test]
fn info_and_doctor_report_the_landlock_abi() {
    let b = Berth::new(&main_user());
    // SAFETY: the version query takes no pointer and changes nothing.
    let abi = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<u8>(),
            0usize,
            1u32,
        )
    };
    let abi = if abi < 0 { 0 } else { abi };
    assert_eq!(
        b.ok(&["info", "--format", "{{.LandlockABI}}"]).trim(),
        abi.to_string()
    );
    let info = b.ok(&["info"]);
    assert!(info.contains(&format!(" Landlock ABI: {abi}")), "{info}");
    let doctor = b.cmd(&["doctor"]);
    let line = stdout(&doctor)
        .lines()
        .find(|l| l.contains("landlock:"))
        .map(str::to_string)
        .unwrap_or_else(|| panic!("no landlock line: {}", show(&doctor)));
    if abi > 0 {
        assert!(line.contains(&format!("Landlock ABI {abi}")), "{line}");
    }
}
