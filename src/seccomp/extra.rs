//! Rules of berth's own that take precedence over the profile's for the
//! syscalls they name (passed as `overrides` to [`super::compile()`]).
//!
//! - [`fakeroot`]: for users without subordinate ids (issue 13): with a
//!   single id mapping, `chown` to another id, `setgroups` and the
//!   `set*id` calls fail with EINVAL/EPERM and break package managers;
//!   these rules make them succeed without effect, as Charliecloud's and
//!   enroot's seccomp modes do. `mknod` of a character or block device
//!   also "succeeds" (no node is created); FIFOs, sockets and regular
//!   files are still made for real. Programs that check the result of a
//!   privilege drop (`setuid` then `getuid`) see that nothing changed:
//!   apt needs `APT::Sandbox::User "root"` under such emulation.
//! - [`no_tty_injection`]: `ioctl(TIOCSTI)` and `ioctl(TIOCLINUX)` are
//!   denied, so a process sharing the user's terminal cannot push input
//!   into the user's shell (the `legacy_tiocsti` sysctl allows it on many
//!   machines). The request is compared on its low 32 bits, as the kernel
//!   reads it.
//! - [`no_inet_sockets`]: `socket(AF_INET)`/`socket(AF_INET6)` fail with
//!   EACCES (and i386's `socketcall`, whose arguments a filter cannot
//!   see), the network isolation left where no network namespace can be
//!   made.

use super::profile::{Action, ArgCmp, CmpOp, Rule};

const S_IFMT: u64 = 0o170000;
const S_IFCHR: u64 = 0o020000;
const S_IFBLK: u64 = 0o060000;

/// The chown, set*id and setgroups families, 16- and 32-bit id variants.
pub const FAKEROOT_SYSCALLS: &[&str] = &[
    "chown",
    "fchown",
    "lchown",
    "fchownat",
    "chown32",
    "fchown32",
    "lchown32",
    "setuid",
    "setgid",
    "setreuid",
    "setregid",
    "setresuid",
    "setresgid",
    "setfsuid",
    "setfsgid",
    "setuid32",
    "setgid32",
    "setreuid32",
    "setregid32",
    "setresuid32",
    "setresgid32",
    "setfsuid32",
    "setfsgid32",
    "setgroups",
    "setgroups32",
];

/// Makes ownership and identity changes succeed without effect (see the
/// module documentation).
pub fn fakeroot() -> Vec<Rule> {
    let mut rules = vec![Rule::new(FAKEROOT_SYSCALLS, Action::Errno(0))];
    // mknod(path, mode, dev) and mknodat(dirfd, path, mode, dev).
    for (name, mode_arg) in [("mknod", 1), ("mknodat", 2)] {
        for kind in [S_IFCHR, S_IFBLK] {
            rules.push(
                Rule::new(&[name], Action::Errno(0)).arg(ArgCmp::masked_eq(mode_arg, S_IFMT, kind)),
            );
        }
    }
    rules
}

/// Denies the terminal ioctls that inject input (see the module docs).
pub fn no_tty_injection() -> Vec<Rule> {
    let eperm = Action::Errno(libc::EPERM as u16);
    // The request constants are c_ulong with glibc, c_int with musl.
    #[allow(clippy::unnecessary_cast)]
    [libc::TIOCSTI as u64, libc::TIOCLINUX as u64]
        .into_iter()
        .map(|req| Rule::new(&["ioctl"], eperm).arg(ArgCmp::new(1, CmpOp::Eq, req)))
        .collect()
}

/// Denies IPv4 and IPv6 sockets (see the module docs).
pub fn no_inet_sockets() -> Vec<Rule> {
    let eacces = Action::Errno(libc::EACCES as u16);
    let mut rules: Vec<Rule> = [libc::AF_INET, libc::AF_INET6]
        .into_iter()
        .map(|af| Rule::new(&["socket"], eacces).arg(ArgCmp::new(0, CmpOp::Eq, af as u64)))
        .collect();
    rules.push(Rule::new(&["socketcall"], eacces));
    rules
}
