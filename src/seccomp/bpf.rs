//! A small assembler for classic BPF seccomp programs: instructions with
//! symbolic, forward-only jump targets, resolved into `sock_filter`s.
//!
//! Classic BPF conditional jumps reach at most 255 instructions ahead; the
//! compiler lays its code out so that they always stay local (a rule's
//! conditions, a leaf of the syscall search tree) and reaches anything far
//! with `ja`, whose offset is 32 bits. Resolution checks every offset and
//! reports a layout bug as an error instead of emitting a wrong program.

use libc::sock_filter;

/// Instruction classes and fields (linux/bpf_common.h).
pub const LD_W_ABS: u16 = 0x20; // BPF_LD (0) | BPF_W (0) | BPF_ABS
pub const ALU_AND_K: u16 = 0x04 | 0x50; // BPF_ALU | BPF_AND | BPF_K
pub const JMP_JA: u16 = 0x05; // BPF_JMP | BPF_JA
pub const JMP_JEQ_K: u16 = 0x05 | 0x10; // BPF_JMP | BPF_JEQ | BPF_K
pub const JMP_JGT_K: u16 = 0x05 | 0x20; // BPF_JMP | BPF_JGT | BPF_K
pub const JMP_JGE_K: u16 = 0x05 | 0x30; // BPF_JMP | BPF_JGE | BPF_K
pub const RET_K: u16 = 0x06; // BPF_RET | BPF_K

/// Offsets in `struct seccomp_data`.
pub const OFF_NR: u32 = 0;
pub const OFF_ARCH: u32 = 4;
pub const fn off_arg_low(index: u8) -> u32 {
    16 + 8 * index as u32
}
pub const fn off_arg_high(index: u8) -> u32 {
    off_arg_low(index) + 4
}

/// The kernel's limit on a classic BPF program (BPF_MAXINSNS).
pub const MAX_INSNS: usize = 4096;

/// A jump target, made by [`Asm::label`] and placed by [`Asm::bind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Label(u32);

/// 16 bytes each: the items of a whole program fit in a few pages, which
/// matters on the launch path (a fresh process pays a fault per page).
enum Item {
    Insn(sock_filter),
    Cond {
        code: u16,
        k: u32,
        jt: Label,
        jf: Label,
    },
    Ja(Label),
    Bind(Label),
}

/// A program being assembled.
pub struct Asm {
    items: Vec<Item>,
    labels: u32,
}

impl Default for Asm {
    fn default() -> Asm {
        Asm {
            items: Vec::with_capacity(4096),
            labels: 0,
        }
    }
}

fn insn(code: u16, jt: u8, jf: u8, k: u32) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

impl Asm {
    pub fn new() -> Asm {
        Asm::default()
    }

    pub fn label(&mut self) -> Label {
        self.labels += 1;
        Label(self.labels - 1)
    }

    /// Places `label` at the next instruction.
    pub fn bind(&mut self, label: Label) {
        self.items.push(Item::Bind(label));
    }

    /// Loads a 32-bit word of `seccomp_data`.
    pub fn load(&mut self, offset: u32) {
        self.items.push(Item::Insn(insn(LD_W_ABS, 0, 0, offset)));
    }

    pub fn and(&mut self, k: u32) {
        self.items.push(Item::Insn(insn(ALU_AND_K, 0, 0, k)));
    }

    pub fn ret(&mut self, value: u32) {
        self.items.push(Item::Insn(insn(RET_K, 0, 0, value)));
    }

    /// `if A <op> k goto jt else goto jf` (both targets local).
    pub fn cond(&mut self, code: u16, k: u32, jt: Label, jf: Label) {
        self.items.push(Item::Cond { code, k, jt, jf });
    }

    /// `goto target`, anywhere ahead.
    pub fn ja(&mut self, target: Label) {
        self.items.push(Item::Ja(target));
    }

    /// `if A <op> k goto target` for a target that may be far: the
    /// condition skips over a `ja` when false.
    pub fn cond_far(&mut self, code: u16, k: u32, target: Label) {
        let far = self.label();
        let next = self.label();
        self.cond(code, k, far, next);
        self.bind(far);
        self.ja(target);
        self.bind(next);
    }

    /// Resolves the labels into the final program.
    pub fn finish(self) -> Result<Vec<sock_filter>, String> {
        let mut position = vec![usize::MAX; self.labels as usize];
        let mut pc = 0;
        for item in &self.items {
            match item {
                Item::Bind(l) => position[l.0 as usize] = pc,
                _ => pc += 1,
            }
        }
        if pc > MAX_INSNS {
            return Err(format!(
                "the seccomp program has {pc} instructions, more than the kernel's limit of \
                 {MAX_INSNS}"
            ));
        }
        let offset = |from: usize, to: Label| -> Result<usize, String> {
            let target = position[to.0 as usize];
            if target == usize::MAX {
                return Err("a jump to a label never placed".into());
            }
            target
                .checked_sub(from + 1)
                .ok_or_else(|| "a backward jump".to_string())
        };
        let mut out = Vec::with_capacity(pc);
        for item in &self.items {
            let pc = out.len();
            match *item {
                Item::Bind(_) => {}
                Item::Insn(i) => out.push(i),
                Item::Ja(to) => {
                    let k = offset(pc, to)?;
                    out.push(insn(JMP_JA, 0, 0, k as u32));
                }
                Item::Cond { code, k, jt, jf } => {
                    let (t, f) = (offset(pc, jt)?, offset(pc, jf)?);
                    let short = |o: usize| {
                        u8::try_from(o)
                            .map_err(|_| format!("a conditional jump of {o} instructions"))
                    };
                    out.push(insn(code, short(t)?, short(f)?, k));
                }
            }
        }
        Ok(out)
    }
}

/// Runs a program on one `seccomp_data` the way the kernel does, for the
/// tests (of this crate and of anyone compiling profiles) to check what a
/// filter decides without installing it. `args` are the six arguments.
pub fn evaluate(prog: &[sock_filter], arch: u32, nr: u32, args: [u64; 6]) -> Result<u32, String> {
    let mut data = [0u32; 16];
    data[0] = nr;
    data[1] = arch;
    for (i, a) in args.iter().enumerate() {
        data[4 + 2 * i] = *a as u32;
        data[5 + 2 * i] = (*a >> 32) as u32;
    }
    let mut acc: u32 = 0;
    let mut pc = 0usize;
    loop {
        let i = prog.get(pc).ok_or("ran past the end of the program")?;
        pc += 1;
        match i.code {
            LD_W_ABS => {
                acc = *data
                    .get(i.k as usize / 4)
                    .ok_or("load beyond seccomp_data")?
            }
            ALU_AND_K => acc &= i.k,
            RET_K => return Ok(i.k),
            JMP_JA => pc += i.k as usize,
            JMP_JEQ_K | JMP_JGT_K | JMP_JGE_K => {
                let taken = match i.code {
                    JMP_JEQ_K => acc == i.k,
                    JMP_JGT_K => acc > i.k,
                    _ => acc >= i.k,
                };
                pc += usize::from(if taken { i.jt } else { i.jf });
            }
            other => return Err(format!("unknown instruction code {other:#x}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_resolve_forward_and_far_jumps_use_ja() {
        let mut a = Asm::new();
        let allow = a.label();
        a.load(OFF_NR);
        a.cond_far(JMP_JEQ_K, 39, allow);
        for _ in 0..300 {
            a.ret(1);
        }
        a.bind(allow);
        a.ret(0x7fff_0000);
        let prog = a.finish().unwrap();
        assert_eq!(prog.len(), 1 + 2 + 300 + 1);
        assert_eq!(evaluate(&prog, 0, 39, [0; 6]), Ok(0x7fff_0000));
        assert_eq!(evaluate(&prog, 0, 40, [0; 6]), Ok(1));
    }

    #[test]
    fn a_short_jump_that_is_too_far_is_an_error() {
        let mut a = Asm::new();
        let (t, f) = (a.label(), a.label());
        a.cond(JMP_JEQ_K, 0, t, f);
        a.bind(f);
        for _ in 0..300 {
            a.ret(0);
        }
        a.bind(t);
        a.ret(0);
        assert!(a.finish().unwrap_err().contains("conditional jump"));
    }
}
