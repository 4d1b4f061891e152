//! Docker's default seccomp profile as a static table, so that the launch
//! path compiles it without parsing JSON.
//!
//! It follows moby's `profiles/seccomp/default.json` (the profile Docker 28
//! ships, moby/profiles seccomp v0.1.0), plus the one change upstream made
//! since that matters on a shared machine: `socket` for `AF_ALG` (38) is
//! denied as well as `AF_VSOCK` (40), the kernel crypto interface having been
//! a route to kernel bugs (moby/profiles, April 2026). Everything else —
//! the allow list, the argument filters, the rules unlocked by
//! capabilities, architectures and kernel version — is Docker's:
//!
//! - default: `EPERM` (`SCMP_ACT_ERRNO`, errno 1);
//! - `personality` only for 0, `PER_LINUX32` (8), `UNAME26` (0x20000),
//!   both (0x20008), and the query 0xffffffff;
//! - `clone` only without namespace flags (`flags & 0x7E020000 == 0`)
//!   unless CAP_SYS_ADMIN; `clone3` returns ENOSYS (so that glibc falls
//!   back to `clone`, whose flags can be checked) unless CAP_SYS_ADMIN;
//! - `unshare`, `setns`, `mount`, `bpf`, `perf_event_open`, ... need
//!   CAP_SYS_ADMIN (or CAP_BPF, CAP_PERFMON); `ptrace` and
//!   `process_vm_*` from kernel 4.8 on (where seccomp can no longer be
//!   bypassed with ptrace);
//! - `keyctl`, `add_key`, `request_key`, `io_uring_*`, `userfaultfd` and
//!   everything else not listed: denied.
//!
//! When upstream adds syscalls (each kernel release), add them to
//! [`ALLOWED`] as upstream does; syscalls newer than the newest one named
//! here get ENOSYS, not EPERM (see `compile.rs`).

use super::profile::{Action, Arch, Architectures, ArgCmp, CmpOp, Conditions, Profile, Rule};
use caps::Capability;
use std::borrow::Cow;

/// EPERM, the profile's `defaultErrnoRet`.
const EPERM: u16 = 1;
/// ENOSYS, what `clone3` returns without CAP_SYS_ADMIN.
const ENOSYS: u16 = 38;
/// The namespace flags of clone(2): CLONE_NEWNS, NEWCGROUP, NEWUTS,
/// NEWIPC, NEWUSER, NEWPID, NEWNET.
pub const CLONE_NAMESPACE_FLAGS: u64 = 0x7E02_0000;
const AF_ALG: u64 = 38;
const AF_VSOCK: u64 = 40;

/// Syscalls allowed unconditionally.
pub const ALLOWED: &[&str] = &[
    "accept",
    "accept4",
    "access",
    "adjtimex",
    "alarm",
    "bind",
    "brk",
    "cachestat",
    "capget",
    "capset",
    "chdir",
    "chmod",
    "chown",
    "chown32",
    "clock_adjtime",
    "clock_adjtime64",
    "clock_getres",
    "clock_getres_time64",
    "clock_gettime",
    "clock_gettime64",
    "clock_nanosleep",
    "clock_nanosleep_time64",
    "close",
    "close_range",
    "connect",
    "copy_file_range",
    "creat",
    "dup",
    "dup2",
    "dup3",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_ctl_old",
    "epoll_pwait",
    "epoll_pwait2",
    "epoll_wait",
    "epoll_wait_old",
    "eventfd",
    "eventfd2",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "faccessat",
    "faccessat2",
    "fadvise64",
    "fadvise64_64",
    "fallocate",
    "fanotify_mark",
    "fchdir",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "fchown",
    "fchown32",
    "fchownat",
    "fcntl",
    "fcntl64",
    "fdatasync",
    "fgetxattr",
    "flistxattr",
    "flock",
    "fork",
    "fremovexattr",
    "fsetxattr",
    "fstat",
    "fstat64",
    "fstatat64",
    "fstatfs",
    "fstatfs64",
    "fsync",
    "ftruncate",
    "ftruncate64",
    "futex",
    "futex_requeue",
    "futex_time64",
    "futex_wait",
    "futex_waitv",
    "futex_wake",
    "futimesat",
    "getcpu",
    "getcwd",
    "getdents",
    "getdents64",
    "getegid",
    "getegid32",
    "geteuid",
    "geteuid32",
    "getgid",
    "getgid32",
    "getgroups",
    "getgroups32",
    "getitimer",
    "getpeername",
    "getpgid",
    "getpgrp",
    "getpid",
    "getppid",
    "getpriority",
    "getrandom",
    "getresgid",
    "getresgid32",
    "getresuid",
    "getresuid32",
    "getrlimit",
    "get_robust_list",
    "getrusage",
    "getsid",
    "getsockname",
    "getsockopt",
    "get_thread_area",
    "gettid",
    "gettimeofday",
    "getuid",
    "getuid32",
    "getxattr",
    "getxattrat",
    "inotify_add_watch",
    "inotify_init",
    "inotify_init1",
    "inotify_rm_watch",
    "io_cancel",
    "ioctl",
    "io_destroy",
    "io_getevents",
    "io_pgetevents",
    "io_pgetevents_time64",
    "ioprio_get",
    "ioprio_set",
    "io_setup",
    "io_submit",
    "ipc",
    "kill",
    "landlock_add_rule",
    "landlock_create_ruleset",
    "landlock_restrict_self",
    "lchown",
    "lchown32",
    "lgetxattr",
    "link",
    "linkat",
    "listen",
    "listmount",
    "listxattr",
    "listxattrat",
    "llistxattr",
    "_llseek",
    "lremovexattr",
    "lseek",
    "lsetxattr",
    "lstat",
    "lstat64",
    "madvise",
    "map_shadow_stack",
    "membarrier",
    "memfd_create",
    "memfd_secret",
    "mincore",
    "mkdir",
    "mkdirat",
    "mknod",
    "mknodat",
    "mlock",
    "mlock2",
    "mlockall",
    "mmap",
    "mmap2",
    "mprotect",
    "mq_getsetattr",
    "mq_notify",
    "mq_open",
    "mq_timedreceive",
    "mq_timedreceive_time64",
    "mq_timedsend",
    "mq_timedsend_time64",
    "mq_unlink",
    "mremap",
    "mseal",
    "msgctl",
    "msgget",
    "msgrcv",
    "msgsnd",
    "msync",
    "munlock",
    "munlockall",
    "munmap",
    "name_to_handle_at",
    "nanosleep",
    "newfstatat",
    "_newselect",
    "open",
    "openat",
    "openat2",
    "pause",
    "pidfd_open",
    "pidfd_send_signal",
    "pipe",
    "pipe2",
    "pkey_alloc",
    "pkey_free",
    "pkey_mprotect",
    "poll",
    "ppoll",
    "ppoll_time64",
    "prctl",
    "pread64",
    "preadv",
    "preadv2",
    "prlimit64",
    "process_mrelease",
    "pselect6",
    "pselect6_time64",
    "pwrite64",
    "pwritev",
    "pwritev2",
    "read",
    "readahead",
    "readlink",
    "readlinkat",
    "readv",
    "recv",
    "recvfrom",
    "recvmmsg",
    "recvmmsg_time64",
    "recvmsg",
    "remap_file_pages",
    "removexattr",
    "removexattrat",
    "rename",
    "renameat",
    "renameat2",
    "restart_syscall",
    "riscv_hwprobe",
    "rmdir",
    "rseq",
    "rt_sigaction",
    "rt_sigpending",
    "rt_sigprocmask",
    "rt_sigqueueinfo",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "rt_sigtimedwait_time64",
    "rt_tgsigqueueinfo",
    "sched_getaffinity",
    "sched_getattr",
    "sched_getparam",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_getscheduler",
    "sched_rr_get_interval",
    "sched_rr_get_interval_time64",
    "sched_setaffinity",
    "sched_setattr",
    "sched_setparam",
    "sched_setscheduler",
    "sched_yield",
    "seccomp",
    "select",
    "semctl",
    "semget",
    "semop",
    "semtimedop",
    "semtimedop_time64",
    "send",
    "sendfile",
    "sendfile64",
    "sendmmsg",
    "sendmsg",
    "sendto",
    "setfsgid",
    "setfsgid32",
    "setfsuid",
    "setfsuid32",
    "setgid",
    "setgid32",
    "setgroups",
    "setgroups32",
    "setitimer",
    "setpgid",
    "setpriority",
    "setregid",
    "setregid32",
    "setresgid",
    "setresgid32",
    "setresuid",
    "setresuid32",
    "setreuid",
    "setreuid32",
    "setrlimit",
    "set_robust_list",
    "setsid",
    "setsockopt",
    "set_thread_area",
    "set_tid_address",
    "setuid",
    "setuid32",
    "setxattr",
    "setxattrat",
    "shmat",
    "shmctl",
    "shmdt",
    "shmget",
    "shutdown",
    "sigaltstack",
    "signalfd",
    "signalfd4",
    "sigprocmask",
    "sigreturn",
    "socketcall",
    "socketpair",
    "splice",
    "stat",
    "stat64",
    "statfs",
    "statfs64",
    "statmount",
    "statx",
    "symlink",
    "symlinkat",
    "sync",
    "sync_file_range",
    "syncfs",
    "sysinfo",
    "tee",
    "tgkill",
    "time",
    "timer_create",
    "timer_delete",
    "timer_getoverrun",
    "timer_gettime",
    "timer_gettime64",
    "timer_settime",
    "timer_settime64",
    "timerfd_create",
    "timerfd_gettime",
    "timerfd_gettime64",
    "timerfd_settime",
    "timerfd_settime64",
    "times",
    "tkill",
    "truncate",
    "truncate64",
    "ugetrlimit",
    "umask",
    "uname",
    "unlink",
    "unlinkat",
    "uretprobe",
    "utime",
    "utimensat",
    "utimensat_time64",
    "utimes",
    "vfork",
    "vmsplice",
    "wait4",
    "waitid",
    "waitpid",
    "write",
    "writev",
];

/// `personality(2)` values allowed: PER_LINUX, PER_LINUX32, UNAME26,
/// UNAME26|PER_LINUX32, and 0xffffffff (which only queries).
pub const PERSONALITIES: [u64; 5] = [0, 8, 0x2_0000, 0x2_0008, 0xffff_ffff];

fn allow(names: &[&'static str]) -> Rule {
    Rule::new(names, Action::Allow)
}

fn with_cap(mut rule: Rule, cap: Capability) -> Rule {
    rule.includes.caps.0 |= cap.bitmask();
    rule
}

fn on_arches(mut rule: Rule, arches: &[&'static str]) -> Rule {
    rule.includes.arches = arches.iter().map(|a| Cow::Borrowed(*a)).collect();
    rule
}

/// Docker's default profile.
pub fn profile() -> Profile {
    use Capability::*;
    let mut rules = Vec::with_capacity(40);
    rules.push(allow(ALLOWED));
    let mut ptrace = allow(&["process_vm_readv", "process_vm_writev", "ptrace"]);
    ptrace.includes.min_kernel = Some(super::profile::KernelVersion::new(4, 8));
    rules.push(ptrace);
    // socket: every family but AF_ALG (38) and AF_VSOCK (40).
    rules.push(allow(&["socket"]).arg(ArgCmp::new(0, CmpOp::Lt, AF_ALG)));
    rules.push(allow(&["socket"]).arg(ArgCmp::new(0, CmpOp::Eq, AF_ALG + 1)));
    rules.push(allow(&["socket"]).arg(ArgCmp::new(0, CmpOp::Gt, AF_VSOCK)));
    for p in PERSONALITIES {
        rules.push(allow(&["personality"]).arg(ArgCmp::new(0, CmpOp::Eq, p)));
    }
    rules.push(on_arches(
        allow(&["sync_file_range2", "swapcontext"]),
        &["ppc64le"],
    ));
    rules.push(on_arches(
        allow(&[
            "arm_fadvise64_64",
            "arm_sync_file_range",
            "sync_file_range2",
            "breakpoint",
            "cacheflush",
            "set_tls",
        ]),
        &["arm", "arm64"],
    ));
    rules.push(on_arches(allow(&["arch_prctl"]), &["amd64", "x32"]));
    rules.push(on_arches(allow(&["modify_ldt"]), &["amd64", "x32", "x86"]));
    rules.push(on_arches(
        allow(&[
            "s390_pci_mmio_read",
            "s390_pci_mmio_write",
            "s390_runtime_instr",
        ]),
        &["s390", "s390x"],
    ));
    rules.push(on_arches(allow(&["riscv_flush_icache"]), &["riscv64"]));
    rules.push(with_cap(allow(&["open_by_handle_at"]), CAP_DAC_READ_SEARCH));
    rules.push(with_cap(
        allow(&[
            "bpf",
            "clone",
            "clone3",
            "fanotify_init",
            "fsconfig",
            "fsmount",
            "fsopen",
            "fspick",
            "lookup_dcookie",
            "lsm_get_self_attr",
            "lsm_list_modules",
            "lsm_set_self_attr",
            "mount",
            "mount_setattr",
            "move_mount",
            "open_tree",
            "perf_event_open",
            "quotactl",
            "quotactl_fd",
            "setdomainname",
            "sethostname",
            "setns",
            "syslog",
            "umount",
            "umount2",
            "unshare",
        ]),
        CAP_SYS_ADMIN,
    ));
    // clone without namespace flags; s390 passes the flags second.
    let mut clone = allow(&["clone"]).arg(ArgCmp::masked_eq(0, CLONE_NAMESPACE_FLAGS, 0));
    clone.excludes.caps.0 |= CAP_SYS_ADMIN.bitmask();
    clone.excludes.arches = vec![Cow::Borrowed("s390"), Cow::Borrowed("s390x")];
    rules.push(clone);
    let mut clone_s390 = on_arches(
        allow(&["clone"]).arg(ArgCmp::masked_eq(1, CLONE_NAMESPACE_FLAGS, 0)),
        &["s390", "s390x"],
    );
    clone_s390.excludes.caps.0 |= CAP_SYS_ADMIN.bitmask();
    rules.push(clone_s390);
    let mut clone3 = Rule::new(&["clone3"], Action::Errno(ENOSYS));
    clone3.excludes = Conditions {
        caps: super::profile::CapMask::of(&[CAP_SYS_ADMIN]),
        ..Conditions::default()
    };
    rules.push(clone3);
    rules.push(with_cap(allow(&["reboot"]), CAP_SYS_BOOT));
    rules.push(with_cap(allow(&["chroot"]), CAP_SYS_CHROOT));
    rules.push(with_cap(
        allow(&["delete_module", "init_module", "finit_module"]),
        CAP_SYS_MODULE,
    ));
    rules.push(with_cap(allow(&["acct"]), CAP_SYS_PACCT));
    rules.push(with_cap(
        allow(&[
            "kcmp",
            "pidfd_getfd",
            "process_madvise",
            "process_vm_readv",
            "process_vm_writev",
            "ptrace",
        ]),
        CAP_SYS_PTRACE,
    ));
    rules.push(with_cap(allow(&["iopl", "ioperm"]), CAP_SYS_RAWIO));
    rules.push(with_cap(
        allow(&["settimeofday", "stime", "clock_settime", "clock_settime64"]),
        CAP_SYS_TIME,
    ));
    rules.push(with_cap(allow(&["vhangup"]), CAP_SYS_TTY_CONFIG));
    rules.push(with_cap(
        allow(&[
            "get_mempolicy",
            "mbind",
            "set_mempolicy",
            "set_mempolicy_home_node",
        ]),
        CAP_SYS_NICE,
    ));
    rules.push(with_cap(allow(&["syslog"]), CAP_SYSLOG));
    rules.push(with_cap(allow(&["bpf"]), CAP_BPF));
    rules.push(with_cap(allow(&["perf_event_open"]), CAP_PERFMON));
    Profile {
        default_action: Action::Errno(EPERM),
        architectures: Architectures::Map(vec![
            (Arch::X86_64, vec![Arch::X86, Arch::X32]),
            (Arch::Aarch64, vec![Arch::Arm]),
        ]),
        rules,
        flags: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allow_list_has_no_duplicates_and_none_of_the_dangerous_ones() {
        let mut seen = std::collections::HashSet::new();
        for n in ALLOWED {
            assert!(seen.insert(*n), "{n} twice");
        }
        for n in [
            "keyctl",
            "add_key",
            "request_key",
            "io_uring_setup",
            "userfaultfd",
            "unshare",
            "mount",
            "clone3",
            "ptrace",
            "kexec_load",
        ] {
            assert!(!seen.contains(n), "{n} must not be allowed unconditionally");
        }
        assert_eq!(ALLOWED.len(), 361);
    }
}
