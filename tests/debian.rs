//! A real distribution image (debootstrap minbase bookworm, made by
//! scripts/fixtures.sh --debian): many files, hard links, setgid programs
//! and files owned by groups other than root.

mod common;

use common::*;
use std::ffi::OsStr;

fn load_debian(b: &Berth) -> bool {
    let Some(archive) = debian_fixture() else {
        return false;
    };
    let out = b.ok(&[OsStr::new("load"), "-i".as_ref(), archive.as_os_str()]);
    assert!(out.contains("Loaded image: debian:bookworm"), "{out}");
    true
}

#[test]
fn debian_runs() {
    each_user(|b| {
        if !load_debian(b) {
            return;
        }
        let version = b.run_rm("debian", &["cat", "/etc/debian_version"]);
        assert!(version.starts_with("12."), "{version}");
        let out = b.run_rm(
            "debian:bookworm",
            &[
                "sh",
                "-c",
                "dpkg-query -W -f='${Package}\\n' bash coreutils",
            ],
        );
        assert_eq!(out, "bash\ncoreutils\n");
        b.status(&["run", "--rm", "debian", "bash", "-c", "exit 42"], 42);
        // The Cmd is bash.
        let out = b.cmd_stdin(&["run", "--rm", "-i", "debian"], b"echo $BASH_VERSION\n");
        assert_success(&out, "run -i debian (bash)");
        assert!(stdout(&out).starts_with("5."), "{}", show(&out));
    });
}

#[test]
fn debian_owners_under_the_id_map() {
    each_user(|b| {
        if !load_debian(b) {
            return;
        }
        let owners = b.run_rm(
            "debian",
            &[
                "stat",
                "-c",
                "%U:%G %a",
                "/etc/shadow",
                "/usr/bin/chage",
                "/var/mail",
            ],
        );
        if b.user.subids {
            assert_eq!(
                owners,
                "root:shadow 640\nroot:shadow 2755\nroot:mail 2775\n"
            );
            // Root in the container can give files to other users.
            let out = b.run_rm(
                "debian",
                &[
                    "sh",
                    "-c",
                    "touch /tmp/f && chown 1234:5678 /tmp/f && stat -c %u:%g /tmp/f",
                ],
            );
            assert_eq!(out, "1234:5678\n");
            let out = b.ok(&["run", "--rm", "-u", "_apt", "debian", "id", "-un"]);
            assert_eq!(out, "_apt\n");
        } else {
            // One id mapped: all files are root's, the modes stay.
            assert_eq!(owners, "root:root 640\nroot:root 2755\nroot:root 2775\n");
        }
    });
}
