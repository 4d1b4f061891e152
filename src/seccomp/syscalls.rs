//! Syscall names to numbers, per architecture, and what the BPF program
//! needs to know about each architecture (its `AUDIT_ARCH_*` value, the
//! width of its arguments).
//!
//! The tables are the `syscalls` crate's (generated from the kernel's
//! syscall tables). x32 has none of its own there: its numbers are
//! x86_64's with bit 30 set, except for the 36 syscalls whose x32 entry
//! point differs (512-547 in the kernel's `syscall_64.tbl`), listed here.

use super::profile::Arch;
use std::str::FromStr;

/// The bit that marks x32 syscall numbers on an x86_64 kernel.
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// `AUDIT_ARCH_*` of `seccomp_data.arch`.
pub fn audit_arch(arch: Arch) -> Option<u32> {
    const EM_386: u32 = 3;
    const EM_ARM: u32 = 40;
    const EM_X86_64: u32 = 62;
    const EM_AARCH64: u32 = 183;
    const ARCH_64BIT: u32 = 0x8000_0000;
    const ARCH_LE: u32 = 0x4000_0000;
    Some(match arch {
        Arch::X86_64 | Arch::X32 => EM_X86_64 | ARCH_64BIT | ARCH_LE,
        Arch::X86 => EM_386 | ARCH_LE,
        Arch::Aarch64 => EM_AARCH64 | ARCH_64BIT | ARCH_LE,
        Arch::Arm => EM_ARM | ARCH_LE,
        Arch::Foreign(_) => return None,
    })
}

/// Whether syscall arguments are 64 bits wide. On 32-bit ABIs the kernel
/// sees 32-bit values, so only the low half of `seccomp_data.args[i]` is
/// compared (as libseccomp does). x32 passes arguments in 64-bit
/// registers: compared whole, as x86_64.
pub fn wide_args(arch: Arch) -> bool {
    matches!(arch, Arch::X86_64 | Arch::X32 | Arch::Aarch64)
}

/// The arguments that the kernel reads as 32-bit (or narrower) integers:
/// the bits above 32 are ignored by the syscall, so a filter must ignore
/// them too or a caller could slip past `socket(AF_VSOCK)`'s check with
/// `AF_VSOCK | 1 << 32` (libseccomp compares all 64 bits).
pub fn narrow_arg(name: &str, index: u8) -> bool {
    match name {
        // int family, int type, int protocol
        "socket" | "socketpair" => index <= 2,
        // unsigned int persona
        "personality" => index == 0,
        // unsigned int cmd
        "ioctl" => index == 1,
        // umode_t mode, unsigned dev
        "mknod" => index == 1 || index == 2,
        "mknodat" => index == 2 || index == 3,
        // int ops (keyctl's option), uid_t/gid_t of the set*id family
        "keyctl" | "prctl" => index == 0,
        "setuid" | "setgid" | "setfsuid" | "setfsgid" => index == 0,
        "setreuid" | "setregid" => index <= 1,
        "setresuid" | "setresgid" => index <= 2,
        _ => false,
    }
}

/// x32 syscalls whose entry point is not x86_64's: their x86_64 numbers, in
/// the order of their x32 numbers (512 to 547 in `syscall_64.tbl`).
const X32_SPECIFIC_X86_64: [u32; 36] = [
    13, 15, 16, 19, 20, 45, 46, 47, 59, 101, 127, 128, 129, 131, 222, 244, 246, 247, 273, 274, 278,
    279, 295, 296, 297, 299, 307, 310, 311, 54, 55, 206, 209, 322, 327, 328,
];

/// The number of `name` on `arch` (as `seccomp_data.nr` has it), or None
/// when the architecture has no such syscall (Docker skips those).
pub fn number(arch: Arch, name: &str) -> Option<u32> {
    // Tables key names without libseccomp's leading underscore variants
    // (`_llseek`, `_newselect`) exactly as the kernel names them.
    let n = match arch {
        Arch::X86_64 => syscalls::x86_64::Sysno::from_str(name).ok()?.id(),
        Arch::X86 => syscalls::x86::Sysno::from_str(name).ok()?.id(),
        Arch::Aarch64 => syscalls::aarch64::Sysno::from_str(name).ok()?.id(),
        Arch::Arm => syscalls::arm::Sysno::from_str(name).ok()?.id(),
        Arch::X32 => {
            let n = syscalls::x86_64::Sysno::from_str(name).ok()?.id() as u32;
            let x32 = match X32_SPECIFIC_X86_64.iter().position(|m| *m == n) {
                Some(i) => 512 + i as u32,
                None => n,
            };
            return Some(x32 | X32_SYSCALL_BIT);
        }
        Arch::Foreign(_) => return None,
    };
    u32::try_from(n).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_match_the_kernel_abi() {
        assert_eq!(number(Arch::X86_64, "read"), Some(0));
        assert_eq!(number(Arch::X86_64, "keyctl"), Some(250));
        assert_eq!(number(Arch::X86_64, "clone3"), Some(435));
        assert_eq!(number(Arch::X86, "socketcall"), Some(102));
        assert_eq!(number(Arch::X86, "chown32"), Some(212));
        assert_eq!(number(Arch::X86_64, "chown32"), None);
        assert_eq!(number(Arch::X32, "read"), Some(X32_SYSCALL_BIT));
        assert_eq!(number(Arch::X32, "ioctl"), Some(514 | X32_SYSCALL_BIT));
        assert_eq!(number(Arch::X32, "pwritev2"), Some(547 | X32_SYSCALL_BIT));
        assert_eq!(number(Arch::Aarch64, "openat"), Some(56));
        assert_eq!(number(Arch::Aarch64, "open"), None);
        assert_eq!(number(Arch::X86_64, "_llseek"), None);
        assert_eq!(number(Arch::X86, "_llseek"), Some(140));
        assert_eq!(number(Arch::X86_64, "no_such_call"), None);
    }

    #[test]
    fn the_x32_table_names_the_x86_64_numbers() {
        let x32 = |name| number(Arch::X32, name).map(|n| n & !X32_SYSCALL_BIT);
        for (name, nr) in [
            ("rt_sigaction", 512),
            ("execve", 520),
            ("getsockopt", 542),
            ("pwritev2", 547),
        ] {
            assert_eq!(x32(name), Some(nr), "{name}");
        }
        // Each is a distinct x86_64 syscall.
        let mut seen = std::collections::HashSet::new();
        for nr in X32_SPECIFIC_X86_64 {
            assert!(syscalls::x86_64::Sysno::new(nr as usize).is_some() && seen.insert(nr));
        }
    }

    #[test]
    fn libc_agrees_on_the_native_numbers() {
        #[cfg(target_arch = "x86_64")]
        {
            assert_eq!(
                number(Arch::X86_64, "unshare"),
                Some(libc::SYS_unshare as u32)
            );
            assert_eq!(
                number(Arch::X86_64, "personality"),
                Some(libc::SYS_personality as u32)
            );
            assert_eq!(audit_arch(Arch::X86_64), Some(0xC000_003E));
            assert_eq!(audit_arch(Arch::X86), Some(0x4000_0003));
        }
    }
}
