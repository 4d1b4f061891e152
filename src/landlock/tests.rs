//! Landlock rules checked in forked children that enforce them and report
//! what real system calls return. Parts that need a newer ABI than this
//! kernel's print SKIPPED with the reason.

use super::*;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;

/// Forks; the child enforces `prepared` and reports what `probe` returned
/// (a value, or -errno). The ruleset is built in the parent: the child
/// only makes system calls (the test process has other threads).
fn in_child(prepared: Prepared, probe: impl FnOnce() -> i64) -> i64 {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills the array we pass.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: the child only makes system calls before _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        let result = match prepared.enforce() {
            Ok(_) => probe(),
            Err(_) => i64::MIN,
        };
        // SAFETY: writes 8 bytes of a local, then leaves without unwinding.
        unsafe {
            libc::write(fds[1], &result as *const i64 as *const libc::c_void, 8);
            libc::_exit(0);
        }
    }
    drop(prepared);
    let mut out = 0i64;
    // SAFETY: our descriptors and a local buffer; reaping our child.
    let n = unsafe {
        libc::close(fds[1]);
        let n = libc::read(fds[0], &mut out as *mut i64 as *mut libc::c_void, 8);
        libc::close(fds[0]);
        libc::waitpid(pid, std::ptr::null_mut(), 0);
        n
    };
    assert_eq!(n, 8, "the child reported nothing");
    assert_ne!(out, i64::MIN, "enforcing failed in the child");
    out
}

fn ret(r: libc::c_long) -> i64 {
    if r < 0 {
        -(std::io::Error::last_os_error().raw_os_error().unwrap_or(0) as i64)
    } else {
        r
    }
}

fn cpath(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).unwrap()
}

/// open(2) in the child: the descriptor (kept open), or -errno.
fn open(path: &CString, flags: i32) -> i64 {
    // SAFETY: a valid C string.
    ret(unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC, 0o600) } as libc::c_long)
}

fn need_abi(min: u32, what: &str) -> bool {
    let have = abi();
    if have < min {
        eprintln!("SKIPPED: {what} needs Landlock ABI {min}; this kernel has {have}");
        return false;
    }
    true
}

#[test]
fn abi_is_the_kernels() {
    let a = abi();
    // The kernel this project is developed on (6.18) has ABI 7.
    let release = nix::sys::utsname::uname().unwrap();
    eprintln!(
        "Landlock ABI {a} on {}",
        release.release().to_string_lossy()
    );
    if a > 0 {
        assert!(describe_abi(a).starts_with(&a.to_string()));
    } else {
        assert!(describe_abi(0).contains("not available"));
    }
}

#[test]
fn read_allowed_write_denied_elsewhere_denied() {
    if !need_abi(1, "filesystem rules") {
        return;
    }
    let ro = tempfile::tempdir().unwrap();
    let rw = tempfile::tempdir().unwrap();
    let other = tempfile::tempdir().unwrap();
    std::fs::write(ro.path().join("f"), "x").unwrap();
    std::fs::write(other.path().join("f"), "x").unwrap();
    let rules = Rules {
        read: vec![ro.path().to_path_buf()],
        read_write: vec![rw.path().to_path_buf()],
        ..Rules::default()
    };
    let (ro_f, ro_new) = (cpath(&ro.path().join("f")), cpath(&ro.path().join("new")));
    let rw_new = cpath(&rw.path().join("new"));
    let other_f = cpath(&other.path().join("f"));
    let eacces = -(libc::EACCES as i64);
    let p = || prepare(&rules).unwrap();
    assert!(in_child(p(), || open(&ro_f, libc::O_RDONLY)) >= 0);
    assert_eq!(in_child(p(), || open(&ro_f, libc::O_WRONLY)), eacces);
    assert_eq!(
        in_child(p(), || open(&ro_new, libc::O_WRONLY | libc::O_CREAT)),
        eacces
    );
    assert!(in_child(p(), || open(&rw_new, libc::O_WRONLY | libc::O_CREAT)) >= 0);
    assert!(rw.path().join("new").exists());
    assert_eq!(in_child(p(), || open(&other_f, libc::O_RDONLY)), eacces);
    let report = prepare(&rules).unwrap().report().clone();
    assert!(report.enforced.contains(&"filesystem"), "{report:?}");
}

#[test]
fn hidden_paths_are_carved_out_of_a_grant() {
    if !need_abi(1, "filesystem rules") {
        return;
    }
    let top = tempfile::tempdir().unwrap();
    let t = top.path();
    std::fs::create_dir_all(t.join("home/alice/.ssh")).unwrap();
    std::fs::create_dir_all(t.join("home/alice/project")).unwrap();
    std::fs::create_dir_all(t.join("home/bob")).unwrap();
    std::fs::create_dir_all(t.join("usr")).unwrap();
    for f in [
        "home/alice/.ssh/id",
        "home/alice/project/src",
        "home/bob/notes",
        "usr/tool",
    ] {
        std::fs::write(t.join(f), "x").unwrap();
    }
    std::os::unix::fs::symlink(t.join("home/alice/.ssh"), t.join("usr/ssh-link")).unwrap();
    let rules = Rules {
        read: vec![t.to_path_buf()],
        read_write: vec![t.join("home/alice/project")],
        hidden: vec![t.join("home/alice")],
        ..Rules::default()
    };
    let eacces = -(libc::EACCES as i64);
    let c = |p: &str| cpath(&t.join(p));
    let (id, link, src, notes, tool) = (
        c("home/alice/.ssh/id"),
        c("usr/ssh-link/id"),
        c("home/alice/project/src"),
        c("home/bob/notes"),
        c("usr/tool"),
    );
    let p = || prepare(&rules).unwrap();
    assert_eq!(in_child(p(), || open(&id, libc::O_RDONLY)), eacces);
    assert_eq!(
        in_child(p(), || open(&link, libc::O_RDONLY)),
        eacces,
        "through a symlink"
    );
    assert!(
        in_child(p(), || open(&src, libc::O_RDWR)) >= 0,
        "listed beneath the hidden one"
    );
    assert!(in_child(p(), || open(&notes, libc::O_RDONLY)) >= 0);
    assert!(in_child(p(), || open(&tool, libc::O_RDONLY)) >= 0);
    assert_eq!(in_child(p(), || open(&tool, libc::O_WRONLY)), eacces);
}

/// A TCP socket's connect to 127.0.0.1:port: 0, or -errno.
fn connect_tcp(port: u16) -> i64 {
    // SAFETY: socket/connect/close on a descriptor we own, with a valid
    // sockaddr_in.
    unsafe {
        let s = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if s < 0 {
            return ret(-1);
        }
        let mut addr: libc::sockaddr_in = std::mem::zeroed();
        addr.sin_family = libc::AF_INET as libc::sa_family_t;
        addr.sin_port = port.to_be();
        addr.sin_addr.s_addr = u32::from_be_bytes([127, 0, 0, 1]).to_be();
        let r = libc::connect(
            s,
            &addr as *const libc::sockaddr_in as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_in>() as u32,
        );
        let r = ret(r as libc::c_long);
        libc::close(s);
        r
    }
}

#[test]
fn tcp_connect_only_to_allowed_ports() {
    if !need_abi(4, "TCP port rules") {
        return;
    }
    let allowed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let denied = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (a, d) = (
        allowed.local_addr().unwrap().port(),
        denied.local_addr().unwrap().port(),
    );
    let rules = Rules {
        read: vec![PathBuf::from("/")],
        tcp_ports: Some(vec![a]),
        ..Rules::default()
    };
    let p = || prepare(&rules).unwrap();
    assert!(p().report().enforced.contains(&"TCP ports"));
    assert_eq!(in_child(p(), || connect_tcp(a)), 0);
    assert_eq!(in_child(p(), || connect_tcp(d)), -(libc::EACCES as i64));
    // Without port rules, TCP is not restricted.
    let open = Rules {
        read: vec![PathBuf::from("/")],
        ..Rules::default()
    };
    assert_eq!(in_child(prepare(&open).unwrap(), || connect_tcp(d)), 0);
}

#[test]
fn signals_and_abstract_sockets_are_scoped() {
    if !need_abi(6, "scoping") {
        return;
    }
    // A process outside the sandbox to signal: a sleeping child of ours.
    let mut outside = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let target = outside.id() as i32;
    let rules = Rules {
        read: vec![PathBuf::from("/")],
        scope_signals: true,
        scope_abstract_unix: true,
        ..Rules::default()
    };
    // SAFETY: kill with signal 0 only checks permission.
    let probe = || ret(unsafe { libc::kill(target, 0) } as libc::c_long);
    assert_eq!(in_child(prepare(&Rules::default()).unwrap(), probe), 0);
    assert_eq!(
        in_child(prepare(&rules).unwrap(), probe),
        -(libc::EPERM as i64)
    );
    let _ = outside.kill();
    let _ = outside.wait();
    // An abstract socket made outside.
    let name = format!("berth-landlock-test-{}", std::process::id());
    let listener = {
        use std::os::linux::net::SocketAddrExt;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        std::os::unix::net::UnixListener::bind_addr(&addr).unwrap()
    };
    let connect = || {
        // SAFETY: a sockaddr_un for an abstract name (leading NUL), and a
        // descriptor we own.
        unsafe {
            let s = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
            let mut addr: libc::sockaddr_un = std::mem::zeroed();
            addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
            for (i, b) in name.as_bytes().iter().enumerate() {
                addr.sun_path[i + 1] = *b as libc::c_char;
            }
            let len = (std::mem::size_of::<libc::sa_family_t>() + 1 + name.len()) as u32;
            let r = libc::connect(
                s,
                &addr as *const libc::sockaddr_un as *const libc::sockaddr,
                len,
            );
            let r = ret(r as libc::c_long);
            libc::close(s);
            r
        }
    };
    assert_eq!(in_child(prepare(&Rules::default()).unwrap(), connect), 0);
    assert_eq!(
        in_child(prepare(&rules).unwrap(), connect),
        -(libc::EPERM as i64)
    );
    drop(listener);
}

#[test]
fn a_missing_path_is_an_error_naming_it() {
    if abi() == 0 {
        eprintln!("SKIPPED: no Landlock here");
        return;
    }
    let rules = Rules {
        read: vec![PathBuf::from("/nonexistent/berth-test")],
        ..Rules::default()
    };
    let err = prepare(&rules).err().expect("fails");
    assert!(
        format!("{err:#}").contains("/nonexistent/berth-test"),
        "{err:#}"
    );
}

#[test]
fn the_report_names_what_an_old_kernel_lacks() {
    // Computed the same way for any ABI: check the wording on this one.
    let rules = Rules {
        tcp_ports: Some(vec![80]),
        scope_signals: true,
        ..Rules::default()
    };
    let report = prepare(&rules).unwrap().report().clone();
    let a = abi();
    assert_eq!(report.abi, a);
    assert_eq!(report.enforced.contains(&"TCP ports"), a >= 4);
    assert_eq!(
        report.missing.iter().any(|m| m.contains("ABI 6")),
        a < 6 && a > 0
    );
}

#[test]
fn a_deeper_read_only_path_stays_read_only_inside_a_writable_one() {
    if !need_abi(1, "filesystem rules") {
        return;
    }
    let top = tempfile::tempdir().unwrap();
    let t = top.path();
    std::fs::create_dir_all(t.join("work/vendor")).unwrap();
    std::fs::write(t.join("work/vendor/lib"), "x").unwrap();
    std::fs::write(t.join("work/main"), "x").unwrap();
    let rules = Rules {
        read_write: vec![t.join("work")],
        read: vec![t.join("work/vendor")],
        ..Rules::default()
    };
    let (lib, main) = (
        cpath(&t.join("work/vendor/lib")),
        cpath(&t.join("work/main")),
    );
    let p = || prepare(&rules).unwrap();
    assert_eq!(
        in_child(p(), || open(&lib, libc::O_WRONLY)),
        -(libc::EACCES as i64)
    );
    assert!(in_child(p(), || open(&lib, libc::O_RDONLY)) >= 0);
    assert!(in_child(p(), || open(&main, libc::O_WRONLY)) >= 0);
}
