//! berth is linked statically, glibc included (scripts/rustc-wrapper), so
//! it must never call glibc's name service: a static glibc loads the
//! modules of /etc/nsswitch.conf (libnss_systemd, sss, ldap), built for
//! the shared libc, and crashes in them. berth reads users, groups and
//! host names itself or through `getent` (src/util/getent.rs).

mod common;

use std::process::{Command, Stdio};

use common::*;

/// glibc's name service entry points: none may be linked into berth.
const NSS_FUNCTIONS: &[&str] = &[
    "getpwuid",
    "getpwuid_r",
    "getpwnam",
    "getpwnam_r",
    "getpwent",
    "getpwent_r",
    "getgrgid",
    "getgrgid_r",
    "getgrnam",
    "getgrnam_r",
    "getgrent",
    "getgrent_r",
    "getgrouplist",
    "initgroups",
    "getspnam",
    "getspnam_r",
    "getlogin",
    "getlogin_r",
    "getaddrinfo",
    "getnameinfo",
    "gethostbyname",
    "gethostbyname_r",
    "gethostbyname2",
    "gethostbyname2_r",
    "gethostbyaddr",
    "gethostbyaddr_r",
    "getservbyname",
    "getservbyname_r",
    "getservbyport",
    "getservbyport_r",
    "getprotobyname",
    "getprotobyname_r",
    "getnetgrent",
    "innetgr",
];

#[test]
fn the_executable_is_static_and_links_no_name_service_function() {
    let program = env!("CARGO_BIN_EXE_berth");
    let header = Command::new("readelf")
        .args(["--program-headers", "--wide", program])
        .output()
        .expect("running readelf (binutils)");
    let header = String::from_utf8_lossy(&header.stdout);
    assert!(
        header.contains("LOAD"),
        "readelf printed no program header: {header}"
    );
    assert!(
        !header.contains("INTERP") && !header.contains("DYNAMIC"),
        "berth is linked dynamically (is scripts/rustc-wrapper replaced by a RUSTC_WRAPPER?):\n\
         {header}"
    );
    let symbols = Command::new("nm")
        .arg(program)
        .stderr(Stdio::inherit())
        .output()
        .expect("running nm (binutils)");
    let symbols = String::from_utf8_lossy(&symbols.stdout);
    assert!(
        symbols.lines().count() > 1000,
        "nm listed too little: {symbols}"
    );
    let linked: Vec<&str> = symbols
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (kind, name) = (f.nth(1)?, f.next()?);
            (kind != "U" && NSS_FUNCTIONS.contains(&name)).then_some(name)
        })
        .collect();
    assert!(
        linked.is_empty(),
        "berth links glibc's name service: {linked:?}"
    );
}

/// A uid that /etc/passwd does not name (a cluster's directory user, here
/// one nobody has): the name service is asked through getent, and `run`,
/// `info` and a failed pull from a host name all work or fail cleanly.
#[test]
fn a_user_missing_from_etc_passwd_runs_containers() {
    if !running_as_root() {
        skip_or_fail("switching to a uid missing from /etc/passwd needs root");
        return;
    }
    let uid = 4_242_424u32;
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    assert!(!passwd
        .lines()
        .any(|l| l.split(':').nth(2) == Some(&uid.to_string())));
    let dir = tempfile::Builder::new()
        .prefix("berth-nouser")
        .tempdir_in("/tmp")
        .unwrap();
    std::os::unix::fs::chown(dir.path(), Some(uid), Some(uid)).unwrap();
    let busybox = dir.path().join("busybox.tar");
    std::fs::copy(fixture("busybox.tar"), &busybox).unwrap();
    std::os::unix::fs::chown(&busybox, Some(uid), Some(uid)).unwrap();
    let berth = |args: &[&str]| {
        let mut c = Command::new("setpriv");
        c.args([
            &format!("--reuid={uid}"),
            &format!("--regid={uid}"),
            "--clear-groups",
            "--",
            env!("CARGO_BIN_EXE_berth"),
        ])
        .args(args)
        .env_clear()
        .env("HOME", dir.path())
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("BERTH_ROOT", dir.path().join("store"))
        .env("XDG_RUNTIME_DIR", dir.path().join("run"))
        .current_dir(dir.path())
        .stdin(Stdio::null());
        run(c)
    };
    let out = berth(&["load", "-i", busybox.to_str().unwrap()]);
    assert_success(&out, "load as a uid missing from /etc/passwd");
    let out = berth(&["run", "--rm", "busybox", "id", "-u"]);
    assert_success(&out, "run as a uid missing from /etc/passwd");
    assert_eq!(stdout(&out).trim(), "0");
    let out = berth(&["info"]);
    assert_success(&out, "info as a uid missing from /etc/passwd");
    // A name the host cannot resolve: a clear error, not a crash.
    let out = berth(&["pull", "berth-no-such-host.invalid:5000/x:1"]);
    assert!(!out.status.success(), "{}", show(&out));
    assert!(
        stderr(&out)
            .contains("cannot reach the registry berth-no-such-host.invalid:5000: host not found"),
        "{}",
        show(&out)
    );
    common::remove_tree(dir.path());
}
