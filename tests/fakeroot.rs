//! Without subordinate ids (issue 13 item 1): ownership and identity
//! changes succeed without effect, so package managers work; with a range
//! they are real. Both test users install a package with apt from the
//! machine's Debian mirror (host network).

mod common;

use common::*;
use std::ffi::OsStr;

const EMULATED: &str = "containers run with emulated ownership";

#[test]
fn ownership_changes_are_real_with_a_range_and_emulated_without() {
    each_user(|b| {
        b.load_busybox();
        // A device node: refused with a range (as for any rootless
        // container), "made" without one.
        let script = "touch /f && chown 1234:1234 /f && stat -c '%u:%g' /f && \
                      { mknod /dev/x c 1 3 && echo mknod-ok || echo mknod-refused; }";
        let out = b.cmd(&["run", "--rm", "busybox", "sh", "-c", script]);
        assert_success(&out, "chown and mknod");
        if b.user.subids {
            assert_eq!(stdout(&out), "1234:1234\nmknod-refused\n", "{}", show(&out));
            assert!(!stderr(&out).contains(EMULATED), "{}", show(&out));
        } else {
            // The call succeeded; the file is still root's.
            assert!(stdout(&out).starts_with("0:0\n"), "{}", show(&out));
            assert!(stdout(&out).contains("mknod-ok"), "{}", show(&out));
            assert!(stderr(&out).contains(EMULATED), "{}", show(&out));
            // Said once per store.
            let again = b.cmd(&["run", "--rm", "busybox", "true"]);
            assert!(!stderr(&again).contains(EMULATED), "{}", show(&again));
            // So is why the mapping is single (on the store's first use).
            assert!(
                !stderr(&again).contains("no subuid range"),
                "{}",
                show(&again)
            );
            // setuid "works" for programs that drop privileges.
            let out = b.ok(&[
                "run", "--rm", "busybox", "su", "-s", "/bin/sh", "nobody", "-c", "echo ran",
            ]);
            assert_eq!(out, "ran\n");
        }
    });
}

#[test]
fn apt_installs_a_package_with_and_without_a_range() {
    each_user(|b| {
        let Some(archive) = debian_fixture() else {
            return;
        };
        b.ok(&[OsStr::new("load"), "-i".as_ref(), archive.as_os_str()]);
        let out = b.cmd(&[
            "run",
            "--rm",
            "debian:bookworm",
            "sh",
            "-c",
            "apt-get update -q && apt-get install -y -q --no-install-recommends hello && hello",
        ]);
        assert_success(&out, "apt-get install hello");
        assert!(stdout(&out).ends_with("Hello, world!\n"), "{}", show(&out));
    });
}
