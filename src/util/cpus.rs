//! Where a freshly cloned child runs. A container's init is cloned by its
//! monitor so that the two work at once, on two cores (the init makes its
//! namespaces while the monitor makes what the init needs next). The
//! scheduler often queues the new child behind its parent on the parent's
//! core instead: in 35–45% of launches measured on the development
//! machines the init started 0.4–1.5 ms after the clone, once the monitor
//! blocked, and the two halves ran one after the other. So the child is
//! kept off its parent's core until it is released, then given back
//! every core its parent may use.

use nix::sched::CpuSet;
use nix::unistd::Pid;

/// The cores a process may use, taken before a clone.
#[derive(Debug, Clone)]
pub(crate) struct Spread {
    allowed: CpuSet,
}

impl Spread {
    /// Our allowed cores, when there is more than one to spread over.
    pub(crate) fn before_clone() -> Option<Spread> {
        let allowed = nix::sched::sched_getaffinity(Pid::from_raw(0)).ok()?;
        let count = (0..CpuSet::count())
            .filter(|&c| allowed.is_set(c).unwrap_or(false))
            .count();
        (count > 1).then_some(Spread { allowed })
    }

    /// In the parent, right after the clone: `child` may not run on the
    /// core we run on (the kernel moves it to another at once). Best
    /// effort: failing leaves it where the scheduler put it.
    pub(crate) fn keep_off_our_core(&self, child: Pid) {
        if let Some(others) = self.off_our_core() {
            let _ = nix::sched::sched_setaffinity(child, &others);
        }
    }

    /// Our allowed cores but the one we run on now; None when that
    /// leaves none. For a child that sets it itself before its exec
    /// ([`keep_off`]), as the monitor does: its exec and start-up
    /// then leave our core to us, instead of the scheduler queueing us,
    /// woken at its exec, behind it.
    pub(crate) fn off_our_core(&self) -> Option<CpuSet> {
        // SAFETY: sched_getcpu takes no arguments.
        let ours = usize::try_from(unsafe { libc::sched_getcpu() }).ok()?;
        let mut others = self.allowed;
        others.unset(ours).ok()?;
        (0..CpuSet::count())
            .any(|c| others.is_set(c).unwrap_or(false))
            .then_some(others)
    }

    /// In the child, once released (after the parent's
    /// [`Spread::keep_off_our_core`], whatever the order they ran in):
    /// every core the parent had, before the child joins its cgroup.
    pub(crate) fn restore(&self) {
        let _ = nix::sched::sched_setaffinity(Pid::from_raw(0), &self.allowed);
    }
}

/// In a child before its exec (no allocation: one system call): runs
/// only on `cores` ([`Spread::off_our_core`]) until it calls
/// [`as_parent`]. Best effort.
pub(crate) fn keep_off(cores: &CpuSet) {
    let _ = nix::sched::sched_setaffinity(Pid::from_raw(0), cores);
}

/// Back to the cores our parent may use, after [`keep_off`]; every core
/// the kernel allows when the parent's cannot be read (it is gone).
pub(crate) fn as_parent() {
    let parents = nix::sched::sched_getaffinity(nix::unistd::getppid()).unwrap_or_else(|_| {
        let mut all = CpuSet::new();
        for c in 0..CpuSet::count() {
            let _ = all.set(c);
        }
        all
    });
    let _ = nix::sched::sched_setaffinity(Pid::from_raw(0), &parents);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A child kept off our core runs elsewhere, and gets every core back.
    #[test]
    fn a_child_is_kept_off_our_core_then_given_all_back() {
        let Some(spread) = Spread::before_clone() else {
            return; // one core: nothing to spread over
        };
        let (release_r, release_w) = nix::unistd::pipe().unwrap();
        let (report_r, report_w) = nix::unistd::pipe().unwrap();
        // SAFETY: the child only makes system calls and exits with _exit.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                let mut b = [0u8; 1];
                let _ = nix::unistd::read(&release_r, &mut b);
                // SAFETY: sched_getcpu takes no arguments.
                let kept_on = unsafe { libc::sched_getcpu() } as u8;
                spread.restore();
                let back = nix::sched::sched_getaffinity(Pid::from_raw(0))
                    .map(|s| s == spread.allowed)
                    .unwrap_or(false);
                let _ = nix::unistd::write(&report_w, &[kept_on, back as u8]);
                // SAFETY: _exit ends this forked child without unwinding.
                unsafe { libc::_exit(0) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                // SAFETY: sched_getcpu takes no arguments.
                let ours = unsafe { libc::sched_getcpu() } as usize;
                spread.keep_off_our_core(child);
                let kept = nix::sched::sched_getaffinity(child).unwrap();
                assert!(
                    !kept.is_set(ours).unwrap(),
                    "still allowed on our core {ours}"
                );
                nix::unistd::write(&release_w, &[1]).unwrap();
                let mut report = [0u8; 2];
                nix::unistd::read(&report_r, &mut report).unwrap();
                let _ = nix::sys::wait::waitpid(child, None);
                assert_ne!(report[0] as usize, ours, "the child ran on our core");
                assert_eq!(report[1], 1, "the child did not get every core back");
            }
        }
    }

    /// A child that keeps itself off our core before it works runs
    /// elsewhere, and takes our cores back with `as_parent`.
    #[test]
    fn a_child_keeps_itself_off_our_core_then_takes_ours() {
        let Some(spread) = Spread::before_clone() else {
            return; // one core: nothing to spread over
        };
        // SAFETY: sched_getcpu takes no arguments.
        let ours = unsafe { libc::sched_getcpu() } as usize;
        let Some(off) = spread.off_our_core() else {
            return; // moved meanwhile to a core outside the set: nothing to check
        };
        assert!(!off.is_set(ours).unwrap(), "our core {ours} left in");
        let (report_r, report_w) = nix::unistd::pipe().unwrap();
        // SAFETY: the child only makes system calls and exits with _exit.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                keep_off(&off);
                // SAFETY: sched_getcpu takes no arguments.
                let ran_on = unsafe { libc::sched_getcpu() } as u8;
                as_parent();
                let back = nix::sched::sched_getaffinity(Pid::from_raw(0))
                    .map(|s| s == spread.allowed)
                    .unwrap_or(false);
                let _ = nix::unistd::write(&report_w, &[ran_on, back as u8]);
                // SAFETY: _exit ends this forked child without unwinding.
                unsafe { libc::_exit(0) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                let mut report = [0u8; 2];
                nix::unistd::read(&report_r, &mut report).unwrap();
                let _ = nix::sys::wait::waitpid(child, None);
                assert_ne!(report[0] as usize, ours, "the child ran on our core");
                assert_eq!(report[1], 1, "the child did not take our cores back");
            }
        }
    }
}
