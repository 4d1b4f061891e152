//! Compiles a [`Profile`] into a classic BPF seccomp program for one
//! container: its capability set, the running kernel and architecture
//! decide which rules apply (Docker's `includes`/`excludes`), then every
//! architecture the profile covers gets a section of the program.
//!
//! Layout of the program:
//!
//! ```text
//! load arch; jump to the section of that arch; else kill the process
//! section:  load nr
//!           (x86_64) nr >= 0x40000000 -> x32 section (or kill)
//!           nr > newest syscall of the profile -> ENOSYS
//!           binary search over the syscall numbers that have rules,
//!           down to leaves of a few `jeq`s (or range tests) that jump
//!           to the action's `ret`, shared by the leaves of a subtree,
//!           or to the syscall's block of argument checks
//!           -> the default action
//! blocks:   one per syscall with argument checks: rule after rule,
//!           each returning its action when all its checks hold
//! ```
//!
//! Semantics, as Docker (libseccomp and runc) gives them:
//! - the rules of one syscall are tried in order, rules with argument
//!   checks before an unconditional one; the first that matches decides;
//! - argument checks of one rule must all hold, except when two test the
//!   same argument: runc then makes each a rule of its own (they OR);
//! - names this architecture does not have are skipped;
//! - syscalls numbered above the newest one the profile names get ENOSYS
//!   when the default action denies (runc does the same), so that new
//!   libc wrappers fall back to older syscalls rather than fail;
//! - an architecture the program does not cover kills the process.
//!
//! One deliberate difference: arguments the kernel reads as 32-bit
//! integers (`socket`'s family, `personality`, `ioctl`'s request, ...,
//! see [`syscalls::narrow_arg`]) are compared on their low 32 bits, so
//! high garbage bits cannot slip past a check the kernel then ignores.

use super::bpf::{self, Asm, Label};
use super::profile::{
    Action, Arch, Architectures, ArgCmp, CapMask, CmpOp, Conditions, FilterFlag, KernelVersion,
    Profile, Rule,
};
use super::syscalls;

/// What a profile is compiled for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The container's capabilities: Docker checks a rule's `caps`
    /// against the bounding set the container gets.
    pub caps: CapMask,
    /// The running kernel, for `minKernel`.
    pub kernel: KernelVersion,
    /// The host's architecture (for `archMap` and `arches` conditions).
    pub native: Arch,
}

impl Target {
    /// The running kernel and architecture, with these capabilities.
    pub fn current(caps: CapMask) -> Target {
        Target {
            caps,
            // A kernel whose release does not parse is taken as new: the
            // only `minKernel` rule of Docker's profile (ptrace, 4.8) is
            // about kernels that berth cannot run on anyway.
            kernel: KernelVersion::running().unwrap_or(KernelVersion::new(u32::MAX, 0)),
            native: Arch::native(),
        }
    }
}

/// A compiled filter, ready for [`super::install`].
#[derive(Clone)]
pub struct Filter {
    pub(super) program: Vec<libc::sock_filter>,
    /// `SECCOMP_FILTER_FLAG_*` for seccomp(2).
    pub(super) flags: libc::c_ulong,
    arches: Vec<Arch>,
}

impl std::fmt::Debug for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Filter")
            .field("instructions", &self.program.len())
            .field("flags", &self.flags)
            .field("arches", &self.arches)
            .finish()
    }
}

impl Filter {
    pub fn instructions(&self) -> &[libc::sock_filter] {
        &self.program
    }

    /// The architectures the program has a section for.
    pub fn arches(&self) -> &[Arch] {
        &self.arches
    }

    /// The flags and the program as bytes, for a process forked before
    /// the filter was compiled (a container's launch compiles it while
    /// the init makes its namespaces). The architectures are not carried:
    /// installing needs only the program and the flags.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + 8 * self.program.len());
        // c_ulong is u32 on 32-bit targets: the bytes are a u64 anyway.
        #[allow(clippy::unnecessary_cast)]
        let flags = self.flags as u64;
        out.extend_from_slice(&flags.to_le_bytes());
        for insn in &self.program {
            out.extend_from_slice(&insn.code.to_le_bytes());
            out.push(insn.jt);
            out.push(insn.jf);
            out.extend_from_slice(&insn.k.to_le_bytes());
        }
        out
    }

    /// The filter [`Filter::to_bytes`] made, or `None` for bytes it cannot
    /// have made (a truncated message, an empty or oversized program).
    pub fn from_bytes(bytes: &[u8]) -> Option<Filter> {
        let (flags, program) = bytes.split_first_chunk::<8>()?;
        // BPF_MAXINSNS: the kernel refuses longer programs.
        if program.is_empty() || program.len() % 8 != 0 || program.len() / 8 > 4096 {
            return None;
        }
        let program = program
            .chunks_exact(8)
            .map(|c| libc::sock_filter {
                code: u16::from_le_bytes([c[0], c[1]]),
                jt: c[2],
                jf: c[3],
                k: u32::from_le_bytes([c[4], c[5], c[6], c[7]]),
            })
            .collect();
        Some(Filter {
            program,
            flags: u64::from_le_bytes(*flags) as libc::c_ulong,
            arches: Vec::new(),
        })
    }

    /// What the program returns (`SECCOMP_RET_*` with its data) for a
    /// syscall of `arch` with these arguments, computed without the kernel.
    pub fn evaluate(&self, arch: Arch, nr: u32, args: [u64; 6]) -> u32 {
        let audit = syscalls::audit_arch(arch).unwrap_or(0);
        bpf::evaluate(&self.program, audit, nr, args).expect("a program made by compile")
    }

    /// [`Filter::evaluate`] of a syscall by name (`None`: not on `arch`).
    pub fn evaluate_name(&self, arch: Arch, name: &str, args: [u64; 6]) -> Option<u32> {
        Some(self.evaluate(arch, syscalls::number(arch, name)?, args))
    }
}

/// One way a syscall can be decided: checks that must all hold, then the
/// action. An empty `checks` always applies.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Clause {
    checks: Vec<(ArgCmp, bool)>,
    action: Action,
}

/// The architectures the program covers: the host's, and those the
/// profile lists for it that can run on this host.
fn selected_arches(profile: &Profile, native: Arch) -> Vec<Arch> {
    let runnable: &[Arch] = match native {
        Arch::X86_64 => &[Arch::X86_64, Arch::X86, Arch::X32],
        Arch::Aarch64 => &[Arch::Aarch64, Arch::Arm],
        _ => &[],
    };
    let mut out = vec![native];
    let wanted: Vec<Arch> = match &profile.architectures {
        Architectures::Map(map) => map
            .iter()
            .find(|(a, _)| *a == native)
            .map(|(_, subs)| subs.clone())
            .unwrap_or_default(),
        Architectures::List(list) => list.clone(),
    };
    for a in wanted {
        if runnable.contains(&a) && !out.contains(&a) {
            out.push(a);
        }
    }
    out
}

fn excluded_by(c: &Conditions, target: &Target) -> bool {
    (!c.arches.is_empty() && c.arches.iter().any(|a| a == target.native.docker_name()))
        || (c.caps.0 != 0 && target.caps.0 & c.caps.0 != 0)
        || c.min_kernel.is_some_and(|k| target.kernel >= k)
}

fn included_by(c: &Conditions, target: &Target) -> bool {
    (c.arches.is_empty() || c.arches.iter().any(|a| a == target.native.docker_name()))
        && target.caps.0 & c.caps.0 == c.caps.0
        && c.unknown_caps.is_empty()
        && c.min_kernel.is_none_or(|k| target.kernel >= k)
}

/// Whether a rule of the profile applies to this target (Docker's
/// `setupSeccomp`: excludes first, then includes).
pub fn applies(rule: &Rule, target: &Target) -> bool {
    !excluded_by(&rule.excludes, target) && included_by(&rule.includes, target)
}

/// A rule's clauses: one, or one per check when two checks test the same
/// argument (runc's behaviour).
fn clauses_of(rule: &Rule, name: &str, out: &mut Vec<Clause>) {
    let narrow = |c: &ArgCmp| (*c, syscalls::narrow_arg(name, c.index));
    let mut seen = 0u8;
    let repeated = rule.args.iter().any(|c| {
        let bit = 1u8 << c.index.min(7);
        let again = seen & bit != 0;
        seen |= bit;
        again
    });
    if repeated {
        out.extend(rule.args.iter().map(|c| Clause {
            checks: vec![narrow(c)],
            action: rule.action,
        }));
    } else {
        out.push(Clause {
            checks: rule.args.iter().map(narrow).collect(),
            action: rule.action,
        });
    }
}

/// A rule, the clause range of each of its names, and its rank.
type RankedRule<'r> = (&'r Rule, Vec<(usize, usize)>, u64);

/// The clauses of every rule that applies, and for each rule and name the
/// range of its clauses: built once, shared by all architectures.
struct Clauses<'r> {
    all: Vec<Clause>,
    /// (rule, first clause of each of its names, or one for all names,
    /// rank of the rule: overrides first, then conditional rules, then
    /// unconditional ones, each in profile order).
    rules: Vec<RankedRule<'r>>,
}

impl<'r> Clauses<'r> {
    fn new(overrides: &'r [Rule], rules: &[&'r Rule]) -> Clauses<'r> {
        let mut all = Vec::new();
        let mut out = Vec::with_capacity(overrides.len() + rules.len());
        let ranked = overrides.iter().map(|r| (r, 0u64)).chain(
            rules
                .iter()
                .map(|r| (*r, if r.args.is_empty() { 2u64 } else { 1u64 })),
        );
        for (i, (rule, phase)) in ranked.enumerate() {
            let mut ranges = Vec::new();
            if rule.args.is_empty() {
                // One clause serves every name.
                let start = all.len();
                clauses_of(rule, "", &mut all);
                ranges.push((start, all.len()));
            } else {
                for name in &rule.names {
                    let start = all.len();
                    clauses_of(rule, name, &mut all);
                    ranges.push((start, all.len()));
                }
            }
            out.push((rule, ranges, (phase << 40) | ((i as u64) << 20)));
        }
        Clauses { all, rules: out }
    }
}

/// One clause of one syscall of an architecture's table.
#[derive(Clone, Copy)]
struct Entry<'c> {
    nr: u32,
    rank: u64,
    clause: &'c Clause,
}

/// An architecture's syscalls, sorted by number; each group is one
/// syscall's clauses in the order they are tried, or a run of consecutive
/// syscalls that all take one unconditional action.
struct Table<'c> {
    entries: Vec<Entry<'c>>,
    groups: Vec<Group>,
}

/// Syscalls `first..=last` and their clauses (for a run of several, the
/// one unconditional clause they share).
#[derive(Clone)]
struct Group {
    first: u32,
    last: u32,
    entries: std::ops::Range<usize>,
}

impl<'c> Table<'c> {
    fn new(clauses: &'c Clauses<'_>, arch: Arch, merge_runs: bool) -> Table<'c> {
        let mut entries = Vec::with_capacity(1024);
        for (rule, ranges, rank) in &clauses.rules {
            for (k, name) in rule.names.iter().enumerate() {
                let Some(nr) = syscalls::number(arch, name) else {
                    continue;
                };
                let (start, end) = ranges[if ranges.len() == 1 { 0 } else { k }];
                for (j, clause) in clauses.all[start..end].iter().enumerate() {
                    entries.push(Entry {
                        nr,
                        rank: rank + j as u64,
                        clause,
                    });
                }
            }
        }
        entries.sort_unstable_by_key(|e| (e.nr, e.rank));
        let mut groups: Vec<Group> = Vec::with_capacity(entries.len());
        let mut i = 0;
        while i < entries.len() {
            let nr = entries[i].nr;
            let mut end = i;
            while end < entries.len() && entries[end].nr == nr {
                end += 1;
            }
            // Nothing after an unconditional clause can ever apply.
            let last = (i..end)
                .find(|&j| entries[j].clause.checks.is_empty())
                .map_or(end, |j| j + 1);
            let group = Group {
                first: nr,
                last: nr,
                entries: i..last,
            };
            // Runs of consecutive numbers with one unconditional action
            // become one range test: the program is a third of the size,
            // and the kernel's check and JIT of it at every container's
            // start (~0.4 ms for ~2000 instructions) shrink with it.
            let action = |g: &Group| match &entries[g.entries.clone()] {
                [only] if only.clause.checks.is_empty() => Some(only.clause.action),
                _ => None,
            };
            match groups.last_mut() {
                Some(prev)
                    if merge_runs
                        && prev.last + 1 == nr
                        && action(prev).is_some()
                        && action(prev) == action(&group) =>
                {
                    prev.last = nr
                }
                _ => groups.push(group),
            }
            i = end;
        }
        Table { entries, groups }
    }
}

/// How many syscall numbers a leaf of the search tree tests one by one.
const LEAF: usize = 8;

/// How many syscall numbers a subtree may hold and still share one set of
/// returns: every jump inside it then reaches them (BPF's conditional
/// jumps go at most 255 instructions ahead; a subtree of 32 numbers is at
/// most ~110 instructions with its returns and trampolines).
const POOL: usize = 32;

/// The returns and trampolines of one subtree, emitted after it: one
/// `ret` per action for all its leaves, instead of one set per leaf
/// (fakeroot's program: 158 of its 705 instructions were per-leaf `ret`s).
#[derive(Default)]
struct Pool<'a> {
    returns: Vec<(u32, Label)>,
    trampolines: Vec<(Label, &'a [Entry<'a>])>,
}

struct Emitter<'a> {
    asm: Asm,
    default: Action,
    /// Blocks of argument checks, emitted after every section.
    blocks: Vec<(Label, &'a [Entry<'a>], bool)>,
    /// The returns of the subtree being emitted, once it is small enough.
    pool: Option<Pool<'a>>,
}

impl<'a> Emitter<'a> {
    fn section(&mut self, table: &'a Table<'a>, wide: bool, deny_newer: bool) {
        if deny_newer {
            if let Some(max) = table.groups.last().map(|g| g.last) {
                let (newer, known) = (self.asm.label(), self.asm.label());
                self.asm.cond(bpf::JMP_JGT_K, max, newer, known);
                self.asm.bind(newer);
                self.asm.ret(Action::Errno(libc::ENOSYS as u16).ret_value());
                self.asm.bind(known);
            }
        }
        if table.groups.is_empty() {
            self.asm.ret(self.default.ret_value());
            return;
        }
        self.tree(table, &table.groups, wide);
    }

    fn tree(&mut self, table: &'a Table<'a>, groups: &[Group], wide: bool) {
        let opens_pool = self.pool.is_none() && groups.len() <= POOL;
        if opens_pool {
            self.pool = Some(Pool::default());
        }
        if groups.len() <= LEAF {
            self.leaf(table, groups);
        } else {
            let mid = groups.len() / 2;
            let (lower, right) = (self.asm.label(), self.asm.label());
            if self.pool.is_some() {
                // Only the lower half lies between the test and `right`.
                self.asm
                    .cond(bpf::JMP_JGE_K, groups[mid].first, right, lower);
            } else {
                let upper = self.asm.label();
                self.asm
                    .cond(bpf::JMP_JGE_K, groups[mid].first, upper, lower);
                self.asm.bind(upper);
                self.asm.ja(right);
            }
            self.asm.bind(lower);
            self.tree(table, &groups[..mid], wide);
            self.asm.bind(right);
            self.tree(table, &groups[mid..], wide);
        }
        if opens_pool {
            let pool = self.pool.take().expect("opened above");
            for (value, label) in pool.returns {
                self.asm.bind(label);
                self.asm.ret(value);
            }
            for (label, entries) in pool.trampolines {
                let block = self.asm.label();
                self.asm.bind(label);
                self.asm.ja(block);
                self.blocks.push((block, entries, wide));
            }
        }
    }

    /// The label of the pool's `ret value`.
    fn pooled_return(&mut self, value: u32) -> Label {
        let pool = self.pool.as_mut().expect("leaves are emitted in a pool");
        match pool.returns.iter().find(|(v, _)| *v == value) {
            Some((_, l)) => *l,
            None => {
                let l = self.asm.label();
                pool.returns.push((value, l));
                l
            }
        }
    }

    /// Tests `groups` in ascending order; every path ends in a jump to
    /// the pool's returns or trampolines.
    fn leaf(&mut self, table: &'a Table<'a>, groups: &[Group]) {
        let default = self.pooled_return(self.default.ret_value());
        for (i, group) in groups.iter().enumerate() {
            let entries = &table.entries[group.entries.clone()];
            let target = match entries {
                [only] if only.clause.checks.is_empty() => {
                    self.pooled_return(only.clause.action.ret_value())
                }
                _ => {
                    let l = self.asm.label();
                    let pool = self.pool.as_mut().expect("leaves are emitted in a pool");
                    pool.trampolines.push((l, entries));
                    l
                }
            };
            let is_last = i + 1 == groups.len();
            let next = if is_last { default } else { self.asm.label() };
            if group.first == group.last {
                self.asm.cond(bpf::JMP_JEQ_K, group.first, target, next);
            } else {
                // Tested in ascending order: a number below `first` that
                // no group before matched is in no group at all.
                let at_most_last = self.asm.label();
                self.asm
                    .cond(bpf::JMP_JGT_K, group.last, next, at_most_last);
                self.asm.bind(at_most_last);
                self.asm.cond(bpf::JMP_JGE_K, group.first, target, default);
            }
            if !is_last {
                self.asm.bind(next);
            }
        }
    }

    fn block(&mut self, entries: &[Entry], wide: bool) {
        for clause in entries.iter().map(|e| e.clause) {
            let fail = self.asm.label();
            for (cmp, narrow) in &clause.checks {
                self.check(cmp, wide && !narrow, fail);
            }
            self.asm.ret(clause.action.ret_value());
            self.asm.bind(fail);
            if clause.checks.is_empty() {
                return;
            }
        }
        self.asm.ret(self.default.ret_value());
    }

    /// Falls through when `cmp` holds, jumps to `fail` otherwise.
    fn check(&mut self, cmp: &ArgCmp, wide: bool, fail: Label) {
        let a = &mut self.asm;
        let pass = a.label();
        let (v_hi, v_lo) = ((cmp.value >> 32) as u32, cmp.value as u32);
        let (x_hi, x_lo) = ((cmp.value_two >> 32) as u32, cmp.value_two as u32);
        let (lo, hi) = (bpf::off_arg_low(cmp.index), bpf::off_arg_high(cmp.index));
        if !wide {
            // Only the low word counts: the high word is 0 as far as the
            // syscall is concerned, so its part of the test is decided now.
            match cmp.op {
                CmpOp::Eq if v_hi != 0 => a.ja(fail),
                CmpOp::Ne if v_hi != 0 => {}
                CmpOp::MaskedEq if x_hi != 0 => a.ja(fail),
                CmpOp::Gt | CmpOp::Ge if v_hi != 0 => a.ja(fail),
                CmpOp::Lt | CmpOp::Le if v_hi != 0 => {}
                op => {
                    a.load(lo);
                    low_word_test(a, op, cmp.value as u32, x_lo, pass, fail);
                }
            }
            a.bind(pass);
            return;
        }
        let low = a.label();
        a.load(hi);
        match cmp.op {
            CmpOp::Eq => a.cond(bpf::JMP_JEQ_K, v_hi, low, fail),
            CmpOp::Ne => a.cond(bpf::JMP_JEQ_K, v_hi, low, pass),
            CmpOp::MaskedEq => {
                a.and(v_hi);
                a.cond(bpf::JMP_JEQ_K, x_hi, low, fail);
            }
            CmpOp::Gt | CmpOp::Ge => {
                let equal = a.label();
                a.cond(bpf::JMP_JGT_K, v_hi, pass, equal);
                a.bind(equal);
                a.cond(bpf::JMP_JEQ_K, v_hi, low, fail);
            }
            CmpOp::Lt | CmpOp::Le => {
                let not_less = a.label();
                a.cond(bpf::JMP_JGE_K, v_hi, not_less, pass);
                a.bind(not_less);
                a.cond(bpf::JMP_JEQ_K, v_hi, low, fail);
            }
        }
        a.bind(low);
        a.load(lo);
        low_word_test(a, cmp.op, v_lo, x_lo, pass, fail);
        a.bind(pass);
    }
}

/// The test on the low words (accumulator loaded): jumps to `pass` or
/// `fail`. `v` is the value (the mask for MaskedEq), `x` MaskedEq's datum.
fn low_word_test(a: &mut Asm, op: CmpOp, v: u32, x: u32, pass: Label, fail: Label) {
    match op {
        CmpOp::Eq => a.cond(bpf::JMP_JEQ_K, v, pass, fail),
        CmpOp::Ne => a.cond(bpf::JMP_JEQ_K, v, fail, pass),
        CmpOp::MaskedEq => {
            a.and(v);
            a.cond(bpf::JMP_JEQ_K, x, pass, fail);
        }
        CmpOp::Gt => a.cond(bpf::JMP_JGT_K, v, pass, fail),
        CmpOp::Ge => a.cond(bpf::JMP_JGE_K, v, pass, fail),
        CmpOp::Lt => a.cond(bpf::JMP_JGE_K, v, fail, pass),
        CmpOp::Le => a.cond(bpf::JMP_JGT_K, v, fail, pass),
    }
}

/// Compiles `profile` for `target`; `overrides` are rules tried before
/// the profile's own for the syscalls they name (see `extra.rs`).
pub fn compile(profile: &Profile, target: &Target, overrides: &[Rule]) -> Result<Filter, String> {
    compile_with(profile, target, overrides, true)
}

/// [`compile`] with each syscall tested on its own, as a reference for
/// the runs' test.
#[cfg(test)]
pub(super) fn compile_without_runs(
    profile: &Profile,
    target: &Target,
    overrides: &[Rule],
) -> Result<Filter, String> {
    compile_with(profile, target, overrides, false)
}

fn compile_with(
    profile: &Profile,
    target: &Target,
    overrides: &[Rule],
    merge_runs: bool,
) -> Result<Filter, String> {
    let arches = selected_arches(profile, target.native);
    let rules: Vec<&Rule> = profile
        .rules
        .iter()
        .filter(|r| applies(r, target))
        .collect();
    let clauses = Clauses::new(overrides, &rules);
    let tables: Vec<(Arch, Table)> = arches
        .iter()
        .map(|a| (*a, Table::new(&clauses, *a, merge_runs)))
        .collect();
    let deny_newer = profile.default_action.denies();
    let mut e = Emitter {
        asm: Asm::new(),
        default: profile.default_action,
        blocks: Vec::new(),
        pool: None,
    };
    // Which section each audit arch goes to; x32 shares x86_64's.
    let bad_arch = e.asm.label();
    let mut sections = Vec::new();
    e.asm.load(bpf::OFF_ARCH);
    for (arch, _) in &tables {
        if *arch == Arch::X32 {
            continue;
        }
        let audit = syscalls::audit_arch(*arch).ok_or("an architecture without an audit number")?;
        let l = e.asm.label();
        e.asm.cond_far(bpf::JMP_JEQ_K, audit, l);
        sections.push((*arch, l));
    }
    e.asm.ret(Action::KillProcess.ret_value());
    let x32 = tables.iter().find(|(a, _)| *a == Arch::X32);
    let x32_label = e.asm.label();
    for (arch, label) in sections {
        let table = &tables.iter().find(|(a, _)| *a == arch).expect("listed").1;
        e.asm.bind(label);
        e.asm.load(bpf::OFF_NR);
        if arch == Arch::X86_64 {
            let to = if x32.is_some() { x32_label } else { bad_arch };
            e.asm
                .cond_far(bpf::JMP_JGE_K, syscalls::X32_SYSCALL_BIT, to);
        }
        e.section(table, syscalls::wide_args(arch), deny_newer);
    }
    if let Some((_, table)) = x32 {
        e.asm.bind(x32_label);
        e.section(table, syscalls::wide_args(Arch::X32), deny_newer);
    }
    e.asm.bind(bad_arch);
    e.asm.ret(Action::KillProcess.ret_value());
    let blocks = std::mem::take(&mut e.blocks);
    for (label, clauses, wide) in blocks {
        e.asm.bind(label);
        e.block(clauses, wide);
    }
    let program = e.asm.finish()?;
    let mut flags = 0;
    for f in &profile.flags {
        flags |= match f {
            FilterFlag::Log => libc::SECCOMP_FILTER_FLAG_LOG,
            FilterFlag::SpecAllow => libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW,
        };
    }
    Ok(Filter {
        program,
        flags,
        arches,
    })
}
