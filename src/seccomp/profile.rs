//! A seccomp profile as plain data, in Docker's model: a default action,
//! the architectures it covers, and rules that name syscalls, an action,
//! argument comparisons, and conditions (`includes`/`excludes`) on the
//! container's capabilities, the host's architecture and kernel version.
//!
//! Both Docker's default profile (`default_profile.rs`, a static table)
//! and profiles read from JSON (`json.rs`) end up here; `compile.rs` turns
//! one into BPF for a given capability set, kernel and architecture.

use std::borrow::Cow;
use std::fmt;

/// What the kernel does when a rule (or the default) applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// The syscall runs.
    Allow,
    /// The syscall does not run and returns `-errno`; `Errno(0)` makes it
    /// return 0, i.e. succeed without effect (the fakeroot emulation).
    Errno(u16),
    /// `SCMP_ACT_KILL` / `SCMP_ACT_KILL_THREAD`: the thread dies by SIGSYS.
    KillThread,
    /// `SCMP_ACT_KILL_PROCESS`: the whole process dies by SIGSYS.
    KillProcess,
    /// `SCMP_ACT_TRAP`: SIGSYS is delivered to the thread.
    Trap,
    /// `SCMP_ACT_TRACE`: a ptrace tracer is notified (with this message);
    /// without a tracer the syscall fails with ENOSYS.
    Trace(u16),
    /// `SCMP_ACT_LOG`: the syscall runs and the kernel logs it.
    Log,
}

impl Action {
    /// Actions that deny the syscall; for these, syscalls newer than the
    /// profile get ENOSYS rather than the default (so that libc falls back).
    pub fn denies(self) -> bool {
        !matches!(self, Action::Allow | Action::Log)
    }

    /// The `SECCOMP_RET_*` value the BPF program returns.
    pub fn ret_value(self) -> u32 {
        const RET_KILL_PROCESS: u32 = 0x8000_0000;
        const RET_KILL_THREAD: u32 = 0x0000_0000;
        const RET_TRAP: u32 = 0x0003_0000;
        const RET_ERRNO: u32 = 0x0005_0000;
        const RET_TRACE: u32 = 0x7ff0_0000;
        const RET_LOG: u32 = 0x7ffc_0000;
        const RET_ALLOW: u32 = 0x7fff_0000;
        match self {
            Action::Allow => RET_ALLOW,
            Action::Errno(e) => RET_ERRNO | u32::from(e),
            Action::KillThread => RET_KILL_THREAD,
            Action::KillProcess => RET_KILL_PROCESS,
            Action::Trap => RET_TRAP,
            Action::Trace(m) => RET_TRACE | u32::from(m),
            Action::Log => RET_LOG,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Allow => write!(f, "SCMP_ACT_ALLOW"),
            Action::Errno(e) => write!(f, "SCMP_ACT_ERRNO({e})"),
            Action::KillThread => write!(f, "SCMP_ACT_KILL_THREAD"),
            Action::KillProcess => write!(f, "SCMP_ACT_KILL_PROCESS"),
            Action::Trap => write!(f, "SCMP_ACT_TRAP"),
            Action::Trace(m) => write!(f, "SCMP_ACT_TRACE({m})"),
            Action::Log => write!(f, "SCMP_ACT_LOG"),
        }
    }
}

/// How an argument is compared (`SCMP_CMP_*`). All comparisons are
/// unsigned, as libseccomp's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// `(arg & value) == value_two`: Docker's JSON puts the mask in
    /// `value` and the expected bits in `valueTwo`.
    MaskedEq,
}

/// One condition on a syscall argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArgCmp {
    /// Argument index, 0 to 5.
    pub index: u8,
    pub value: u64,
    pub value_two: u64,
    pub op: CmpOp,
}

impl ArgCmp {
    pub const fn new(index: u8, op: CmpOp, value: u64) -> ArgCmp {
        ArgCmp {
            index,
            value,
            value_two: 0,
            op,
        }
    }

    /// `(arg & mask) == expected`.
    pub const fn masked_eq(index: u8, mask: u64, expected: u64) -> ArgCmp {
        ArgCmp {
            index,
            value: mask,
            value_two: expected,
            op: CmpOp::MaskedEq,
        }
    }

    /// What the comparison says about a value, as the BPF program decides
    /// it (used by tests and by the compiler's static evaluation).
    pub fn matches(&self, arg: u64) -> bool {
        match self.op {
            CmpOp::Eq => arg == self.value,
            CmpOp::Ne => arg != self.value,
            CmpOp::Lt => arg < self.value,
            CmpOp::Le => arg <= self.value,
            CmpOp::Gt => arg > self.value,
            CmpOp::Ge => arg >= self.value,
            CmpOp::MaskedEq => arg & self.value == self.value_two,
        }
    }
}

/// A kernel version as Docker's `minKernel` has it: major and minor only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KernelVersion {
    pub major: u32,
    pub minor: u32,
}

impl KernelVersion {
    pub const fn new(major: u32, minor: u32) -> KernelVersion {
        KernelVersion { major, minor }
    }

    /// Parses the leading `MAJOR.MINOR` of a release string such as
    /// `6.18.44-fc-v857` or `3.12-1-amd64`.
    pub fn parse_release(release: &str) -> Option<KernelVersion> {
        let mut parts = release.split(|c: char| !c.is_ascii_digit());
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        Some(KernelVersion { major, minor })
    }

    /// The running kernel's version (from uname).
    pub fn running() -> Option<KernelVersion> {
        let uts = nix::sys::utsname::uname().ok()?;
        KernelVersion::parse_release(&uts.release().to_string_lossy())
    }
}

impl fmt::Display for KernelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// A set of capabilities as a bit mask (bit n = capability number n), the
/// form the conditions are checked against.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct CapMask(pub u64);

impl CapMask {
    pub fn from_set(set: &caps::CapsHashSet) -> CapMask {
        CapMask(set.iter().fold(0, |m, c| m | c.bitmask()))
    }

    pub fn of(caps: &[caps::Capability]) -> CapMask {
        CapMask(caps.iter().fold(0, |m, c| m | c.bitmask()))
    }

    pub fn contains(self, cap: caps::Capability) -> bool {
        self.0 & cap.bitmask() != 0
    }
}

/// `includes` or `excludes` of a rule. Empty fields say nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conditions {
    /// Capabilities (all must be held for `includes`, any for `excludes`).
    pub caps: CapMask,
    /// Capability names this build does not know: an `includes` naming one
    /// never applies (the container cannot hold it), an `excludes` ignores it.
    pub unknown_caps: Vec<String>,
    /// Host architectures in Docker's naming (`amd64`, `arm64`, `x86`, ...).
    pub arches: Vec<Cow<'static, str>>,
    pub min_kernel: Option<KernelVersion>,
}

impl Conditions {
    pub fn is_empty(&self) -> bool {
        self.caps.0 == 0
            && self.unknown_caps.is_empty()
            && self.arches.is_empty()
            && self.min_kernel.is_none()
    }
}

/// One entry of the profile's `syscalls` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub names: Vec<Cow<'static, str>>,
    pub action: Action,
    /// All must hold (AND), except that Docker (runc) makes each condition
    /// a rule of its own (OR) when two of them test the same argument.
    pub args: Vec<ArgCmp>,
    pub includes: Conditions,
    pub excludes: Conditions,
}

impl Rule {
    pub fn new(names: &[&'static str], action: Action) -> Rule {
        Rule {
            names: names.iter().map(|n| Cow::Borrowed(*n)).collect(),
            action,
            args: Vec::new(),
            includes: Conditions::default(),
            excludes: Conditions::default(),
        }
    }

    pub fn arg(mut self, cmp: ArgCmp) -> Rule {
        self.args.push(cmp);
        self
    }
}

/// The seccomp architectures (`SCMP_ARCH_*`) berth can filter. Others named
/// by a profile are kept as [`Arch::Foreign`]: they can never run here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Arch {
    X86_64,
    /// i386 binaries on an x86_64 kernel.
    X86,
    /// The x32 ABI of x86_64 kernels (64-bit registers, syscall numbers
    /// with bit 30 set).
    X32,
    Aarch64,
    /// 32-bit ARM (EABI) binaries on an arm64 kernel.
    Arm,
    Foreign(&'static str),
}

/// Every `SCMP_ARCH_*` name libseccomp knows, so that a profile naming one
/// we cannot filter is still accepted (it cannot run on this host anyway).
const FOREIGN_ARCHES: [&str; 18] = [
    "SCMP_ARCH_MIPS",
    "SCMP_ARCH_MIPS64",
    "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",
    "SCMP_ARCH_MIPSEL64",
    "SCMP_ARCH_MIPSEL64N32",
    "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",
    "SCMP_ARCH_PPC64LE",
    "SCMP_ARCH_S390",
    "SCMP_ARCH_S390X",
    "SCMP_ARCH_PARISC",
    "SCMP_ARCH_PARISC64",
    "SCMP_ARCH_RISCV64",
    "SCMP_ARCH_LOONGARCH64",
    "SCMP_ARCH_M68K",
    "SCMP_ARCH_SH",
    "SCMP_ARCH_SHEB",
];

impl Arch {
    /// From a `SCMP_ARCH_*` name.
    pub fn from_scmp(name: &str) -> Option<Arch> {
        Some(match name {
            "SCMP_ARCH_X86_64" => Arch::X86_64,
            "SCMP_ARCH_X86" => Arch::X86,
            "SCMP_ARCH_X32" => Arch::X32,
            "SCMP_ARCH_AARCH64" => Arch::Aarch64,
            "SCMP_ARCH_ARM" => Arch::Arm,
            other => Arch::Foreign(FOREIGN_ARCHES.iter().find(|a| **a == other)?),
        })
    }

    pub fn scmp_name(self) -> &'static str {
        match self {
            Arch::X86_64 => "SCMP_ARCH_X86_64",
            Arch::X86 => "SCMP_ARCH_X86",
            Arch::X32 => "SCMP_ARCH_X32",
            Arch::Aarch64 => "SCMP_ARCH_AARCH64",
            Arch::Arm => "SCMP_ARCH_ARM",
            Arch::Foreign(n) => n,
        }
    }

    /// The architecture of this build, which the kernel runs natively.
    pub fn native() -> Arch {
        if cfg!(target_arch = "aarch64") {
            Arch::Aarch64
        } else {
            Arch::X86_64
        }
    }

    /// Docker's (libseccomp's) name of a host architecture, which rules'
    /// `includes.arches`/`excludes.arches` are compared with.
    pub fn docker_name(self) -> &'static str {
        match self {
            Arch::X86_64 => "amd64",
            Arch::X86 => "x86",
            Arch::X32 => "x32",
            Arch::Aarch64 => "arm64",
            Arch::Arm => "arm",
            Arch::Foreign(n) => n,
        }
    }
}

/// Which architectures the filter covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Architectures {
    /// `archMap`: for each native architecture, its sub-architectures;
    /// the entry of the host's architecture applies.
    Map(Vec<(Arch, Vec<Arch>)>),
    /// `architectures`: the list itself (the native one is always added).
    List(Vec<Arch>),
}

/// `flags` of the profile, passed to seccomp(2) when installing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterFlag {
    /// `SECCOMP_FILTER_FLAG_LOG`: log every action but ALLOW.
    Log,
    /// `SECCOMP_FILTER_FLAG_SPEC_ALLOW`: keep speculative store bypass
    /// mitigation off.
    SpecAllow,
}

/// A whole profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub default_action: Action,
    pub architectures: Architectures,
    pub rules: Vec<Rule>,
    pub flags: Vec<FilterFlag>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_release_parsing_keeps_major_and_minor() {
        assert_eq!(
            KernelVersion::parse_release("6.18.44-fc-v857"),
            Some(KernelVersion::new(6, 18))
        );
        assert_eq!(
            KernelVersion::parse_release("3.12-1-amd64"),
            Some(KernelVersion::new(3, 12))
        );
        assert_eq!(KernelVersion::parse_release("garbage"), None);
        assert!(KernelVersion::new(4, 8) < KernelVersion::new(4, 10));
        assert!(KernelVersion::new(5, 0) > KernelVersion::new(4, 20));
    }

    #[test]
    fn comparisons_are_unsigned_and_masked_eq_uses_value_two() {
        assert!(ArgCmp::new(0, CmpOp::Gt, 40).matches(u64::MAX));
        assert!(!ArgCmp::new(0, CmpOp::Lt, 38).matches(38));
        assert!(ArgCmp::new(0, CmpOp::Le, 38).matches(38));
        let clone_ns = ArgCmp::masked_eq(0, 0x7E02_0000, 0);
        assert!(clone_ns.matches(0x0001_1200)); // CLONE_VM|CLONE_SIGHAND|...
        assert!(!clone_ns.matches(0x1000_0000)); // CLONE_NEWUSER
    }

    #[test]
    fn action_return_values_are_the_kernels() {
        assert_eq!(Action::Allow.ret_value(), 0x7fff_0000);
        assert_eq!(Action::Errno(1).ret_value(), 0x0005_0001);
        assert_eq!(Action::KillProcess.ret_value(), 0x8000_0000);
        assert!(Action::Errno(38).denies());
        assert!(!Action::Log.denies());
    }

    #[test]
    fn arch_names_round_trip() {
        for a in [Arch::X86_64, Arch::X86, Arch::X32, Arch::Aarch64, Arch::Arm] {
            assert_eq!(Arch::from_scmp(a.scmp_name()), Some(a));
        }
        assert_eq!(
            Arch::from_scmp("SCMP_ARCH_S390X"),
            Some(Arch::Foreign("SCMP_ARCH_S390X"))
        );
        assert_eq!(Arch::from_scmp("SCMP_ARCH_VAX"), None);
    }
}
