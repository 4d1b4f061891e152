//! Tests of the seccomp module: what compiled programs decide (evaluated
//! in-process, for every architecture), and what real syscalls return in a
//! forked child that installed the filter.

use super::*;
use crate::seccomp::profile::FilterFlag;
use caps::Capability;

const ALLOW: u32 = 0x7fff_0000;
const KILL_PROCESS: u32 = 0x8000_0000;
fn errno(e: i32) -> u32 {
    0x0005_0000 | e as u32
}

fn docker_caps() -> CapMask {
    CapMask::of(&crate::model::caps::DOCKER_DEFAULT)
}

fn target(caps: CapMask) -> Target {
    Target {
        caps,
        kernel: KernelVersion::new(6, 18),
        native: Arch::X86_64,
    }
}

fn default_filter(caps: CapMask, options: Options) -> Filter {
    compile(&default_profile(), &target(caps), &options.rules()).expect("compiles")
}

fn eval(f: &Filter, arch: Arch, name: &str, args: [u64; 6]) -> u32 {
    f.evaluate_name(arch, name, args)
        .unwrap_or_else(|| panic!("{name} is not a syscall of {arch:?}"))
}

#[test]
fn default_profile_decisions_on_x86_64() {
    let f = default_filter(docker_caps(), Options::default());
    let a = Arch::X86_64;
    assert_eq!(eval(&f, a, "read", [0; 6]), ALLOW);
    assert_eq!(eval(&f, a, "keyctl", [0; 6]), errno(libc::EPERM));
    assert_eq!(eval(&f, a, "add_key", [0; 6]), errno(libc::EPERM));
    assert_eq!(eval(&f, a, "request_key", [0; 6]), errno(libc::EPERM));
    assert_eq!(eval(&f, a, "io_uring_setup", [0; 6]), errno(libc::EPERM));
    assert_eq!(eval(&f, a, "userfaultfd", [0; 6]), errno(libc::EPERM));
    assert_eq!(eval(&f, a, "clone3", [0; 6]), errno(libc::ENOSYS));
    assert_eq!(eval(&f, a, "unshare", [0; 6]), errno(libc::EPERM));
    assert_eq!(eval(&f, a, "mount", [0; 6]), errno(libc::EPERM));
    // ptrace from kernel 4.8 on.
    assert_eq!(eval(&f, a, "ptrace", [0; 6]), ALLOW);
    // clone: threads and forks yes, namespaces no.
    let fork_flags = (libc::CLONE_CHILD_SETTID | libc::CLONE_CHILD_CLEARTID | libc::SIGCHLD) as u64;
    assert_eq!(eval(&f, a, "clone", [fork_flags, 0, 0, 0, 0, 0]), ALLOW);
    for ns in [
        libc::CLONE_NEWUSER,
        libc::CLONE_NEWNS,
        libc::CLONE_NEWNET,
        libc::CLONE_NEWPID,
    ] {
        let flags = fork_flags | ns as u64;
        assert_eq!(
            eval(&f, a, "clone", [flags, 0, 0, 0, 0, 0]),
            errno(libc::EPERM)
        );
    }
    // personality: the five values only.
    for p in PERSONALITIES {
        assert_eq!(
            eval(&f, a, "personality", [p, 0, 0, 0, 0, 0]),
            ALLOW,
            "{p:#x}"
        );
    }
    assert_eq!(
        eval(&f, a, "personality", [0x0040_0000, 0, 0, 0, 0, 0]),
        errno(libc::EPERM)
    );
    // socket: AF_VSOCK and AF_ALG no, others yes; high bits do not help.
    assert_eq!(
        eval(&f, a, "socket", [libc::AF_INET as u64, 1, 0, 0, 0, 0]),
        ALLOW
    );
    assert_eq!(eval(&f, a, "socket", [39, 1, 0, 0, 0, 0]), ALLOW);
    assert_eq!(eval(&f, a, "socket", [41, 1, 0, 0, 0, 0]), ALLOW);
    for family in [libc::AF_VSOCK as u64, 38, (1 << 32) | 40] {
        assert_eq!(
            eval(&f, a, "socket", [family, 1, 0, 0, 0, 0]),
            errno(libc::EPERM)
        );
    }
    // Newer than the profile, or no syscall at all: ENOSYS.
    assert_eq!(f.evaluate(a, 467, [0; 6]), errno(libc::ENOSYS));
    assert_eq!(f.evaluate(a, 1000, [0; 6]), errno(libc::ENOSYS));
    // Gaps inside the range: the default.
    assert_eq!(eval(&f, a, "kexec_load", [0; 6]), errno(libc::EPERM));
}

#[test]
fn capabilities_unlock_their_syscalls() {
    let with_admin = CapMask(docker_caps().0 | Capability::CAP_SYS_ADMIN.bitmask());
    let f = default_filter(with_admin, Options::default());
    let a = Arch::X86_64;
    assert_eq!(eval(&f, a, "mount", [0; 6]), ALLOW);
    assert_eq!(
        eval(
            &f,
            a,
            "unshare",
            [libc::CLONE_NEWUSER as u64, 0, 0, 0, 0, 0]
        ),
        ALLOW
    );
    assert_eq!(eval(&f, a, "clone3", [0; 6]), ALLOW);
    let ns = libc::CLONE_NEWUSER as u64 | libc::SIGCHLD as u64;
    assert_eq!(eval(&f, a, "clone", [ns, 0, 0, 0, 0, 0]), ALLOW);
    // Still denied with CAP_SYS_ADMIN: no capability unlocks these.
    assert_eq!(eval(&f, a, "keyctl", [0; 6]), errno(libc::EPERM));
    let f = default_filter(
        CapMask(Capability::CAP_SYS_PTRACE.bitmask()),
        Options::default(),
    );
    assert_eq!(eval(&f, a, "kcmp", [0; 6]), ALLOW);
    assert_eq!(eval(&f, a, "chroot", [0; 6]), errno(libc::EPERM));
}

#[test]
fn min_kernel_gates_ptrace() {
    let mut old = target(CapMask::default());
    old.kernel = KernelVersion::new(4, 4);
    let f = compile(&default_profile(), &old, &[]).unwrap();
    assert_eq!(eval(&f, Arch::X86_64, "ptrace", [0; 6]), errno(libc::EPERM));
}

#[test]
fn compat_architectures_have_their_own_numbers() {
    let f = default_filter(docker_caps(), Options::default());
    assert_eq!(f.arches(), &[Arch::X86_64, Arch::X86, Arch::X32]);
    // i386: socketcall and the 32-bit id calls exist only there.
    assert_eq!(eval(&f, Arch::X86, "socketcall", [0; 6]), ALLOW);
    assert_eq!(eval(&f, Arch::X86, "chown32", [0; 6]), ALLOW);
    assert_eq!(eval(&f, Arch::X86, "keyctl", [0; 6]), errno(libc::EPERM));
    assert_eq!(eval(&f, Arch::X86, "modify_ldt", [0; 6]), ALLOW);
    // 32-bit arguments: only the low word.
    assert_eq!(
        eval(&f, Arch::X86, "personality", [0xffff_ffff, 0, 0, 0, 0, 0]),
        ALLOW
    );
    // x32: x86_64's numbers with bit 30, and its own entry points.
    assert_eq!(eval(&f, Arch::X32, "read", [0; 6]), ALLOW);
    assert_eq!(eval(&f, Arch::X32, "ioctl", [0; 6]), ALLOW);
    assert_eq!(eval(&f, Arch::X32, "keyctl", [0; 6]), errno(libc::EPERM));
    assert_eq!(eval(&f, Arch::X32, "arch_prctl", [0; 6]), ALLOW);
    // An architecture the program does not cover: the process dies.
    assert_eq!(f.evaluate(Arch::Aarch64, 63, [0; 6]), KILL_PROCESS);
    // A profile for x86_64 alone kills i386 and x32 callers.
    let mut only = default_profile();
    only.architectures = Architectures::List(vec![Arch::X86_64]);
    let f = compile(&only, &target(docker_caps()), &[]).unwrap();
    assert_eq!(eval(&f, Arch::X86, "read", [0; 6]), KILL_PROCESS);
    assert_eq!(
        f.evaluate(Arch::X86_64, syscalls::X32_SYSCALL_BIT, [0; 6]),
        KILL_PROCESS
    );
}

#[test]
fn the_default_program_is_small_enough_for_the_kernel() {
    let f = default_filter(
        docker_caps(),
        Options {
            fakeroot: true,
            no_tty_injection: true,
            no_inet_sockets: true,
        },
    );
    assert!(f.instructions().len() < 3000, "{}", f.instructions().len());
}

#[test]
fn fakeroot_makes_ownership_calls_succeed_without_effect() {
    let f = default_filter(
        docker_caps(),
        Options {
            fakeroot: true,
            ..Options::default()
        },
    );
    for (arch, names) in [
        (
            Arch::X86_64,
            &[
                "chown",
                "fchownat",
                "setuid",
                "setresgid",
                "setgroups",
                "setfsuid",
            ][..],
        ),
        (
            Arch::X86,
            &["chown32", "setuid32", "setgroups32", "lchown"][..],
        ),
    ] {
        for n in names {
            assert_eq!(eval(&f, arch, n, [0; 6]), errno(0), "{n} on {arch:?}");
        }
    }
    let chr = 0o020644;
    let fifo = 0o010644;
    assert_eq!(
        eval(&f, Arch::X86_64, "mknod", [0, chr, 0, 0, 0, 0]),
        errno(0)
    );
    assert_eq!(
        eval(&f, Arch::X86_64, "mknodat", [0, 0, 0o060600, 0, 0, 0]),
        errno(0)
    );
    assert_eq!(
        eval(&f, Arch::X86_64, "mknod", [0, fifo, 0, 0, 0, 0]),
        ALLOW
    );
    // Without the option, chown is simply allowed.
    let plain = default_filter(docker_caps(), Options::default());
    assert_eq!(eval(&plain, Arch::X86_64, "chown", [0; 6]), ALLOW);
}

#[test]
#[allow(clippy::unnecessary_cast)] // c_ulong with glibc, c_int with musl
fn tty_injection_and_inet_options() {
    let f = default_filter(
        docker_caps(),
        Options {
            no_tty_injection: true,
            no_inet_sockets: true,
            ..Options::default()
        },
    );
    let a = Arch::X86_64;
    let sti = libc::TIOCSTI as u64;
    assert_eq!(
        eval(&f, a, "ioctl", [0, sti, 0, 0, 0, 0]),
        errno(libc::EPERM)
    );
    assert_eq!(
        eval(&f, a, "ioctl", [0, sti | 1 << 40, 0, 0, 0, 0]),
        errno(libc::EPERM)
    );
    assert_eq!(
        eval(&f, a, "ioctl", [0, libc::TCGETS as u64, 0, 0, 0, 0]),
        ALLOW
    );
    assert_eq!(
        eval(&f, a, "socket", [libc::AF_INET6 as u64, 1, 0, 0, 0, 0]),
        errno(libc::EACCES)
    );
    assert_eq!(
        eval(&f, a, "socket", [libc::AF_UNIX as u64, 1, 0, 0, 0, 0]),
        ALLOW
    );
    assert_eq!(
        eval(&f, Arch::X86, "socketcall", [0; 6]),
        errno(libc::EACCES)
    );
}

/// Every comparison, wide and narrow, against values around its operand.
#[test]
fn comparisons_decide_like_their_definition() {
    let ops = [
        CmpOp::Eq,
        CmpOp::Ne,
        CmpOp::Lt,
        CmpOp::Le,
        CmpOp::Gt,
        CmpOp::Ge,
        CmpOp::MaskedEq,
    ];
    let operands = [
        0u64,
        5,
        0xffff_ffff,
        0x1_0000_0000,
        0x1_0000_0005,
        u64::MAX - 1,
    ];
    for op in ops {
        for v in operands {
            let cmp = ArgCmp {
                index: 2,
                value: v,
                value_two: v & 0x1_0000_0004,
                op,
            };
            let profile = Profile {
                default_action: Action::Errno(1),
                architectures: Architectures::List(vec![Arch::X86]),
                rules: vec![Rule::new(&["read"], Action::Allow).arg(cmp)],
                flags: vec![],
            };
            let f = compile(&profile, &target(CapMask::default()), &[]).unwrap();
            for probe in [
                0u64,
                4,
                5,
                6,
                0xffff_ffff,
                0x1_0000_0000,
                0x1_0000_0004,
                0x1_0000_0005,
                u64::MAX,
            ] {
                let want = if cmp.matches(probe) { ALLOW } else { errno(1) };
                let got = eval(&f, Arch::X86_64, "read", [0, 0, probe, 0, 0, 0]);
                assert_eq!(got, want, "{op:?} {v:#x} on {probe:#x} (x86_64)");
                // On i386 the kernel passes 32-bit values.
                let narrow = probe & 0xffff_ffff;
                let want = if cmp.matches(narrow) { ALLOW } else { errno(1) };
                let got = eval(&f, Arch::X86, "read", [0, 0, narrow, 0, 0, 0]);
                assert_eq!(got, want, "{op:?} {v:#x} on {narrow:#x} (i386)");
            }
        }
    }
}

#[test]
fn checks_on_the_same_argument_are_alternatives_as_in_runc() {
    let profile = json::parse(
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 3,
             "args": [{"index": 1, "value": 9, "op": "SCMP_CMP_EQ"},
                      {"index": 1, "value": 15, "op": "SCMP_CMP_EQ"}]},
            {"names": ["tgkill"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                      {"index": 2, "value": 9, "op": "SCMP_CMP_EQ"}]}]}"#,
    )
    .unwrap();
    let f = compile(&profile, &target(CapMask::default()), &[]).unwrap();
    let a = Arch::X86_64;
    assert_eq!(eval(&f, a, "kill", [1, 9, 0, 0, 0, 0]), errno(3));
    assert_eq!(eval(&f, a, "kill", [1, 15, 0, 0, 0, 0]), errno(3));
    assert_eq!(eval(&f, a, "kill", [1, 2, 0, 0, 0, 0]), ALLOW);
    assert_eq!(eval(&f, a, "tgkill", [1, 0, 9, 0, 0, 0]), errno(1));
    assert_eq!(eval(&f, a, "tgkill", [2, 0, 9, 0, 0, 0]), ALLOW);
    // An allow-by-default profile has no ENOSYS range.
    assert_eq!(f.evaluate(a, 1000, [0; 6]), ALLOW);
}

// ---- the JSON format ----

#[test]
fn json_round_trip_of_the_default_profile() {
    let p = default_profile();
    let text = serde_json::to_string_pretty(&json::to_json(&p)).unwrap();
    let back = json::parse(&text).unwrap();
    assert_eq!(back.default_action, p.default_action);
    assert_eq!(back.architectures, p.architectures);
    assert_eq!(back.rules.len(), p.rules.len());
    for (a, b) in back.rules.iter().zip(&p.rules) {
        assert_eq!(a.names, b.names);
        assert_eq!(a.action, b.action);
        assert_eq!(a.args, b.args);
        assert_eq!(a.includes, b.includes, "{:?}", a.names);
        assert_eq!(a.excludes, b.excludes);
    }
    let t = target(docker_caps());
    let x = compile(&p, &t, &[]).unwrap();
    let y = compile(&back, &t, &[]).unwrap();
    assert_eq!(bytes(&x), bytes(&y));
}

fn bytes(f: &Filter) -> Vec<(u16, u8, u8, u32)> {
    f.instructions()
        .iter()
        .map(|i| (i.code, i.jt, i.jf, i.k))
        .collect()
}

#[test]
fn json_every_field() {
    let p = json::parse(
        r#"{
        "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 13,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_S390X"],
        "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
        "unknownField": {"ignored": true},
        "syscalls": [
          {"names": ["read", "write", "no_such_syscall"], "action": "SCMP_ACT_ALLOW", "comment": "basics"},
          {"name": "getpid", "action": "SCMP_ACT_ERRNO"},
          {"names": ["kill"], "action": "SCMP_ACT_KILL"},
          {"names": ["tkill"], "action": "SCMP_ACT_KILL_THREAD"},
          {"names": ["tgkill"], "action": "SCMP_ACT_KILL_PROCESS"},
          {"names": ["uname"], "action": "SCMP_ACT_TRAP"},
          {"names": ["getppid"], "action": "SCMP_ACT_TRACE", "errnoRet": 7},
          {"names": ["getuid"], "action": "SCMP_ACT_LOG"},
          {"names": ["mmap"], "action": "SCMP_ACT_ALLOW",
           "args": [{"index": 2, "value": 4, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"},
                    {"index": 3, "value": 18446744073709551615, "op": "SCMP_CMP_NE"}]},
          {"names": ["mount"], "action": "SCMP_ACT_ALLOW",
           "includes": {"caps": ["CAP_SYS_ADMIN", "net_admin"], "arches": ["amd64"], "minKernel": "5.4"},
           "excludes": {"caps": ["CAP_NOT_A_CAP"], "arches": ["s390x"], "minKernel": "99.1"}}
        ]}"#,
    )
    .unwrap();
    assert_eq!(p.default_action, Action::Errno(13));
    assert_eq!(
        p.architectures,
        Architectures::List(vec![
            Arch::X86_64,
            Arch::X86,
            Arch::Foreign("SCMP_ARCH_S390X")
        ])
    );
    assert_eq!(p.flags, vec![FilterFlag::Log, FilterFlag::SpecAllow]);
    let actions: Vec<Action> = p.rules.iter().map(|r| r.action).collect();
    assert_eq!(
        actions,
        [
            Action::Allow,
            Action::Errno(1),
            Action::KillThread,
            Action::KillThread,
            Action::KillProcess,
            Action::Trap,
            Action::Trace(7),
            Action::Log,
            Action::Allow,
            Action::Allow
        ]
    );
    assert_eq!(p.rules[1].names, ["getpid"]);
    assert_eq!(p.rules[8].args[0], ArgCmp::masked_eq(2, 4, 0));
    assert_eq!(p.rules[8].args[1], ArgCmp::new(3, CmpOp::Ne, u64::MAX));
    let inc = &p.rules[9].includes;
    assert_eq!(
        inc.caps,
        CapMask::of(&[Capability::CAP_SYS_ADMIN, Capability::CAP_NET_ADMIN])
    );
    assert_eq!(inc.arches, ["amd64"]);
    assert_eq!(inc.min_kernel, Some(KernelVersion::new(5, 4)));
    let exc = &p.rules[9].excludes;
    assert_eq!(exc.unknown_caps, ["CAP_NOT_A_CAP"]);
    // Compiles: the unknown name is skipped, the foreign arch ignored.
    let f = compile(&p, &target(CapMask::default()), &[]).unwrap();
    assert_eq!(f.arches(), &[Arch::X86_64, Arch::X86]);
    assert_eq!(
        f.flags,
        libc::SECCOMP_FILTER_FLAG_LOG | libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW
    );
    assert_eq!(eval(&f, Arch::X86_64, "getpid", [0; 6]), errno(1));
    assert_eq!(eval(&f, Arch::X86_64, "getppid", [0; 6]), 0x7ff0_0007);
    assert_eq!(eval(&f, Arch::X86_64, "uname", [0; 6]), 0x0003_0000);
    assert_eq!(eval(&f, Arch::X86_64, "kill", [0; 6]), 0);
    assert_eq!(eval(&f, Arch::X86_64, "getuid", [0; 6]), 0x7ffc_0000);
    assert_eq!(eval(&f, Arch::X86_64, "mmap", [0, 0, 3, 0, 0, 0]), ALLOW);
    assert_eq!(
        eval(&f, Arch::X86_64, "mmap", [0, 0, 7, 0, 0, 0]),
        errno(13)
    );
    // mount: includes need CAP_SYS_ADMIN and CAP_NET_ADMIN both.
    assert_eq!(eval(&f, Arch::X86_64, "mount", [0; 6]), errno(13));
    let both = CapMask::of(&[Capability::CAP_SYS_ADMIN, Capability::CAP_NET_ADMIN]);
    let f = compile(&p, &target(both), &[]).unwrap();
    assert_eq!(eval(&f, Arch::X86_64, "mount", [0; 6]), ALLOW);
}

#[test]
fn json_arch_map_picks_the_hosts_entry() {
    let p = json::parse(
        r#"{"defaultAction": "SCMP_ACT_ERRNO",
            "archMap": [{"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]},
                        {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X32"]}],
            "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}"#,
    )
    .unwrap();
    let f = compile(&p, &target(CapMask::default()), &[]).unwrap();
    assert_eq!(f.arches(), &[Arch::X86_64, Arch::X32]);
}

#[test]
fn json_errors_name_the_entry() {
    let cases: &[(&str, &str)] = &[
        ("not json", "invalid JSON"),
        ("[]", "must be a JSON object"),
        ("{}", "seccomp=unconfined"),
        (
            r#"{"syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}"#,
            "defaultAction: missing",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_NOPE"}"#,
            "defaultAction: unknown action \"SCMP_ACT_NOPE\"",
        ),
        (r#"{"defaultAction": 1}"#, "defaultAction: must be a string"),
        (
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": -1}"#,
            "defaultErrnoRet: must be a whole number",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 5000}"#,
            "not an errno value",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 1}"#,
            "errnoRet is only valid",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
             "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]}"#,
            "both 'architectures' and 'archMap'",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_VAX"]}"#,
            "architectures[0]: unknown architecture \"SCMP_ARCH_VAX\"",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "archMap": [{"subArchitectures": []}]}"#,
            "archMap[0].architecture: missing",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "flags": ["SECCOMP_FILTER_FLAG_TSYNC"]}"#,
            "flags[0]: SECCOMP_FILTER_FLAG_TSYNC",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "flags": ["BOGUS"]}"#,
            "flags[0]: unknown flag",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "listenerPath": "/run/agent.sock"}"#,
            "listenerPath",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": {}}"#,
            "syscalls: must be a list",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"action": "SCMP_ACT_ALLOW"}]}"#,
            "syscalls[0]: no syscall names",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"name": "a", "names": ["b"], "action": "SCMP_ACT_ALLOW"}]}"#,
            "both 'name' and 'names'",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"]}]}"#,
            "syscalls[0] (read).action: missing",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_NOTIFY"}]}"#,
            "SCMP_ACT_NOTIFY",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_KILL", "errnoRet": 1}]}"#,
            "syscalls[0] (read).action: errnoRet is only valid",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read", 3], "action": "SCMP_ACT_ALLOW"}]}"#,
            "syscalls[0].names[1]: must be a string",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}"#,
            "syscalls[0] (read).args[0].index: 6 is not an argument index",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_SORTA"}]}]}"#,
            "args[0].op: unknown operator \"SCMP_CMP_SORTA\"",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1}]}]}"#,
            "args[0].op: missing",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"value": 1, "op": "SCMP_CMP_EQ"}]}]}"#,
            "args[0].index: missing",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": "1", "op": "SCMP_CMP_EQ"}]}]}"#,
            "args[0].value: must be a whole number",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4"}}]}"#,
            "includes.minKernel: invalid kernel version \"4\"",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "excludes": {"minKernel": "0.0"}}]}"#,
            "excludes.minKernel: invalid kernel version",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "includes": []}]}"#,
            "includes: must be an object",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": "CAP_SYS_ADMIN"}}]}"#,
            "includes.caps: must be a list of strings",
        ),
    ];
    for (text, want) in cases {
        let err = format!("{:#}", json::parse(text).unwrap_err());
        assert!(err.contains(want), "{text}\n  gave: {err}\n  want: {want}");
    }
}

#[test]
fn load_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.json");
    std::fs::write(
        &path,
        r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["x"], "action": "nope"}]}"#,
    )
    .unwrap();
    let err = format!("{:#}", json::load(&path).unwrap_err());
    assert!(
        err.contains("bad.json") && err.contains("syscalls[0] (x).action"),
        "{err}"
    );
    let err = format!(
        "{:#}",
        json::load(&dir.path().join("missing.json")).unwrap_err()
    );
    assert!(
        err.contains("reading the seccomp profile") && err.contains("missing.json"),
        "{err}"
    );
    assert_eq!(Setting::parse("unconfined").unwrap(), Setting::Unconfined);
    assert_eq!(Setting::parse("builtin").unwrap(), Setting::Default);
    assert!(Setting::parse("").is_err());
}

// ---- real syscalls under an installed filter ----

/// Forks; the child installs `filter` (after no_new_privs) and reports what
/// `probe` returned: the value, or -errno. Only system calls happen in the
/// child: the test process has other threads.
fn in_child(filter: &Filter, probe: impl FnOnce() -> i64) -> i64 {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills the array we pass.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: the child only makes system calls before _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let result = match set_no_new_privs().and_then(|()| install(filter)) {
            Ok(()) => probe(),
            Err(_) => i64::MIN,
        };
        // SAFETY: writes 8 bytes from a local, then leaves without unwinding.
        unsafe {
            libc::write(fds[1], &result as *const i64 as *const libc::c_void, 8);
            libc::_exit(0);
        }
    }
    // SAFETY: closing our copy of the write end; reading into a local.
    unsafe { libc::close(fds[1]) };
    let mut out = 0i64;
    // SAFETY: reading at most 8 bytes into a local i64.
    let n = unsafe { libc::read(fds[0], &mut out as *mut i64 as *mut libc::c_void, 8) };
    let mut status = 0;
    // SAFETY: reaping our child; closing our descriptor.
    unsafe {
        libc::waitpid(pid, &mut status, 0);
        libc::close(fds[0]);
    }
    assert_eq!(n, 8, "the child reported nothing (status {status:#x})");
    assert_ne!(out, i64::MIN, "installing the filter failed in the child");
    out
}

/// `syscall(2)` returning the value or -errno.
fn sys(nr: libc::c_long, args: [libc::c_long; 4]) -> i64 {
    // SAFETY: only called with syscalls and arguments that touch no memory
    // of ours, or memory the caller owns.
    let r = unsafe { libc::syscall(nr, args[0], args[1], args[2], args[3]) };
    if r < 0 {
        -(std::io::Error::last_os_error().raw_os_error().unwrap_or(0) as i64)
    } else {
        r
    }
}

#[test]
fn installed_default_profile_denies_what_docker_denies() {
    let f = build(&default_profile(), docker_caps(), &Options::default()).unwrap();
    let eperm = -(libc::EPERM as i64);
    let enosys = -(libc::ENOSYS as i64);
    // KEYCTL_GET_KEYRING_ID of the session keyring.
    assert_eq!(in_child(&f, || sys(libc::SYS_keyctl, [0, -3, 0, 0])), eperm);
    assert_eq!(in_child(&f, || sys(libc::SYS_add_key, [0, 0, 0, 0])), eperm);
    assert_eq!(
        in_child(&f, || sys(libc::SYS_request_key, [0, 0, 0, 0])),
        eperm
    );
    assert_eq!(in_child(&f, || sys(libc::SYS_clone3, [0, 0, 0, 0])), enosys);
    assert!(in_child(&f, || sys(libc::SYS_personality, [0xffff_ffff, 0, 0, 0])) >= 0);
    assert!(in_child(&f, || sys(libc::SYS_personality, [0, 0, 0, 0])) >= 0);
    assert_eq!(
        in_child(&f, || sys(libc::SYS_personality, [0x0040_0000, 0, 0, 0])),
        eperm
    );
    assert_eq!(
        in_child(&f, || sys(
            libc::SYS_socket,
            [libc::AF_VSOCK as i64, 1, 0, 0]
        )),
        eperm
    );
    assert_eq!(
        in_child(&f, || sys(libc::SYS_socket, [(1 << 32) | 40, 1, 0, 0])),
        eperm
    );
    assert!(
        in_child(&f, || sys(
            libc::SYS_socket,
            [libc::AF_UNIX as i64, 1, 0, 0]
        )) >= 0
    );
    // A number no kernel has, and one newer than the profile.
    assert_eq!(in_child(&f, || sys(1000, [0, 0, 0, 0])), enosys);
    assert_eq!(in_child(&f, || sys(467, [-1, 0, 0, 0])), enosys);
    // Plain syscalls still work.
    assert!(in_child(&f, || sys(libc::SYS_getpid, [0, 0, 0, 0])) > 0);
}

#[test]
fn installed_profile_denies_new_user_namespaces_without_cap_sys_admin() {
    let newuser = libc::CLONE_NEWUSER as i64;
    let open = build(
        &Profile {
            default_action: Action::Allow,
            architectures: Architectures::List(vec![]),
            rules: vec![],
            flags: vec![],
        },
        CapMask::default(),
        &Options::default(),
    )
    .unwrap();
    let control = in_child(&open, || sys(libc::SYS_unshare, [newuser, 0, 0, 0]));
    if control != 0 {
        eprintln!("SKIPPED part: unshare(CLONE_NEWUSER) fails here even unfiltered ({control}), so a denial proves nothing");
        return;
    }
    let f = build(&default_profile(), docker_caps(), &Options::default()).unwrap();
    assert_eq!(
        in_child(&f, || sys(libc::SYS_unshare, [newuser, 0, 0, 0])),
        -(libc::EPERM as i64)
    );
    let admin = CapMask(docker_caps().0 | Capability::CAP_SYS_ADMIN.bitmask());
    let f = build(&default_profile(), admin, &Options::default()).unwrap();
    assert_eq!(
        in_child(&f, || sys(libc::SYS_unshare, [newuser, 0, 0, 0])),
        0
    );
}

#[test]
fn installed_fakeroot_pretends_chown_and_setuid() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f");
    std::fs::write(&file, "x").unwrap();
    let before = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&file).unwrap());
    let path = std::ffi::CString::new(file.as_os_str().as_encoded_bytes()).unwrap();
    let dev =
        std::ffi::CString::new(dir.path().join("null").as_os_str().as_encoded_bytes()).unwrap();
    let fifo =
        std::ffi::CString::new(dir.path().join("fifo").as_os_str().as_encoded_bytes()).unwrap();
    let f = build(
        &default_profile(),
        docker_caps(),
        &Options {
            fakeroot: true,
            ..Options::default()
        },
    )
    .unwrap();
    let target_uid = 54321;
    let p = path.as_ptr() as i64;
    assert_eq!(
        in_child(&f, || sys(libc::SYS_chown, [p, target_uid, target_uid, 0])),
        0
    );
    assert_eq!(
        in_child(&f, || sys(
            libc::SYS_fchownat,
            [libc::AT_FDCWD as i64, p, target_uid, target_uid]
        )),
        0
    );
    let after = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&file).unwrap());
    assert_eq!(after, before, "chown was emulated, not done");
    // setuid "works" and changes nothing: getuid still answers the old id.
    let uid = nix::unistd::getuid().as_raw() as i64;
    let got = in_child(&f, || {
        let r = sys(libc::SYS_setuid, [target_uid, 0, 0, 0]);
        if r != 0 {
            r
        } else {
            sys(libc::SYS_getuid, [0, 0, 0, 0])
        }
    });
    assert_eq!(got, uid);
    assert_eq!(in_child(&f, || sys(libc::SYS_setgroups, [0, 0, 0, 0])), 0);
    // A device node "succeeds" without appearing; a FIFO is real.
    let d = dev.as_ptr() as i64;
    assert_eq!(
        in_child(&f, || sys(libc::SYS_mknod, [d, 0o020666, 0x0103, 0])),
        0
    );
    assert!(!dir.path().join("null").exists());
    let q = fifo.as_ptr() as i64;
    assert_eq!(
        in_child(&f, || sys(
            libc::SYS_mknodat,
            [libc::AT_FDCWD as i64, q, 0o010600, 0]
        )),
        0
    );
    assert!(dir.path().join("fifo").exists());
}

#[test]
fn installed_custom_json_profile() {
    let p = json::parse(
        r#"{"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
              {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 77},
              {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 55,
               "args": [{"index": 0, "value": 4294967295, "op": "SCMP_CMP_EQ"}]},
              {"names": ["umask"], "action": "SCMP_ACT_ERRNO", "errnoRet": 66,
               "args": [{"index": 0, "value": 63, "valueTwo": 18, "op": "SCMP_CMP_MASKED_EQ"}]}
            ]}"#,
    )
    .unwrap();
    let f = build(&p, CapMask::default(), &Options::default()).unwrap();
    assert_eq!(in_child(&f, || sys(libc::SYS_getppid, [0, 0, 0, 0])), -77);
    assert_eq!(
        in_child(&f, || sys(libc::SYS_personality, [0xffff_ffff, 0, 0, 0])),
        -55
    );
    assert!(in_child(&f, || sys(libc::SYS_personality, [0, 0, 0, 0])) >= 0);
    assert_eq!(in_child(&f, || sys(libc::SYS_umask, [0o022, 0, 0, 0])), -66);
    assert!(in_child(&f, || sys(libc::SYS_umask, [0o077, 0, 0, 0])) >= 0);
    // A deny-by-default profile that allows just what the child needs.
    let p = json::parse(
        r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 13,
            "syscalls": [{"names": ["write", "exit", "exit_group", "getpid"], "action": "SCMP_ACT_ALLOW"}]}"#,
    )
    .unwrap();
    let f = build(&p, CapMask::default(), &Options::default()).unwrap();
    assert!(in_child(&f, || sys(libc::SYS_getpid, [0, 0, 0, 0])) > 0);
    assert_eq!(in_child(&f, || sys(libc::SYS_getppid, [0, 0, 0, 0])), -13);
    // exit_group (231) is the newest syscall it names: above it, ENOSYS.
    assert_eq!(
        in_child(&f, || sys(libc::SYS_getrandom, [0, 0, 0, 0])),
        -(libc::ENOSYS as i64)
    );
}

#[test]
fn a_filter_survives_its_bytes_and_garbage_is_refused() {
    let f = default_filter(docker_caps(), Options::default());
    let back = Filter::from_bytes(&f.to_bytes()).unwrap();
    assert_eq!(back.flags, f.flags);
    assert_eq!(back.instructions().len(), f.instructions().len());
    for name in ["read", "mount", "keyctl", "clone3"] {
        assert_eq!(
            eval(&back, Arch::X86_64, name, [0; 6]),
            eval(&f, Arch::X86_64, name, [0; 6]),
            "{name}"
        );
    }
    let bytes = f.to_bytes();
    assert!(Filter::from_bytes(&bytes[..bytes.len() - 3]).is_none());
    assert!(Filter::from_bytes(&bytes[..8]).is_none());
    assert!(Filter::from_bytes(&[]).is_none());
}

#[test]
fn runs_of_syscalls_decide_as_single_tests_do() {
    let options = [
        Options::default(),
        Options {
            fakeroot: true,
            no_tty_injection: true,
            no_inet_sockets: false,
        },
    ];
    for caps in [docker_caps(), CapMask::default()] {
        for o in &options {
            let runs = default_filter(caps, *o);
            let single =
                compile::compile_without_runs(&default_profile(), &target(caps), &o.rules())
                    .unwrap();
            assert!(runs.instructions().len() * 2 < single.instructions().len());
            let args = [
                [0; 6],
                [1, 2, 3, 4, 5, 6],
                [u64::MAX; 6],
                [0x7e020000, 0, 0, 0, 0, 0],
            ];
            for arch in [Arch::X86_64, Arch::X86, Arch::X32] {
                let base = if arch == Arch::X32 { 0x4000_0000 } else { 0 };
                for nr in (0..1100).map(|n| n + base) {
                    for a in args {
                        assert_eq!(
                            runs.evaluate(arch, nr, a),
                            single.evaluate(arch, nr, a),
                            "{arch:?} {nr}"
                        );
                    }
                }
            }
        }
    }
}
