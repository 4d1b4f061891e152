//! The standard descriptors at start-up. berth's entry point is C's
//! `main` (see src/main.rs), so Rust's runtime does not check them: a
//! program started with descriptor 1 closed would otherwise have the
//! first file it opens become its stdout, and a `println!` would write
//! into, say, a container's record.

/// Opens /dev/null on each of descriptors 0, 1 and 2 that is closed, as
/// Rust's runtime does before its `main`. Aborts when that cannot be done
/// (no /dev/null), as Rust's runtime does too: running on would be unsafe.
pub(crate) fn ensure_standard_descriptors() {
    let mut fds = [0, 1, 2].map(|fd| libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    });
    // SAFETY: poll reads and writes the three pollfd structs we pass.
    let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 0) };
    if r < 0 {
        // poll failing (it cannot for three entries) tells nothing: ask
        // each descriptor.
        for pfd in &mut fds {
            // SAFETY: F_GETFD only reads the descriptor's flags.
            let closed = unsafe { libc::fcntl(pfd.fd, libc::F_GETFD) } < 0;
            pfd.revents = if closed { libc::POLLNVAL } else { 0 };
        }
    }
    for pfd in fds {
        if pfd.revents & libc::POLLNVAL == 0 {
            continue;
        }
        // SAFETY: open of a constant C path; the descriptor it returns is
        // the lowest free one, which is `pfd.fd` since the lower ones are
        // open (checked in order).
        let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) };
        if fd != pfd.fd {
            // SAFETY: abort takes no arguments and does not return.
            unsafe { libc::abort() };
        }
    }
}

#[cfg(test)]
mod tests {
    /// The next free descriptor in this process, found by opening one.
    fn next_free() -> i32 {
        // SAFETY: open of a constant C path; closed at once.
        let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY) };
        // SAFETY: closes the descriptor just opened.
        unsafe { libc::close(fd) };
        fd
    }

    /// Whether `fd` is open on /dev/null (character device 1:3).
    fn is_dev_null(fd: i32) -> bool {
        // SAFETY: fstat writes into the zeroed stat struct we pass.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: as above; `st` outlives the call.
        let ok = unsafe { libc::fstat(fd, &mut st) } == 0;
        ok && st.st_mode & libc::S_IFMT == libc::S_IFCHR && st.st_rdev == libc::makedev(1, 3)
    }

    /// Runs `check` in a forked child and returns its exit status. The test
    /// harness runs other tests on other threads, which open and close
    /// descriptors: only a single-threaded child sees a stable table.
    fn in_child(check: fn() -> i32) -> i32 {
        // SAFETY: the child only makes system calls and exits with _exit.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                let code = check();
                // SAFETY: _exit ends this forked child without unwinding.
                unsafe { libc::_exit(code) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                match nix::sys::wait::waitpid(child, None).unwrap() {
                    nix::sys::wait::WaitStatus::Exited(_, code) => code,
                    other => panic!("the child ended as {other:?}"),
                }
            }
        }
    }

    #[test]
    fn open_descriptors_are_left_alone() {
        let code = in_child(|| {
            let next = next_free();
            super::ensure_standard_descriptors();
            // Nothing was opened: the next free descriptor is unchanged.
            if next_free() == next {
                0
            } else {
                1
            }
        });
        assert_eq!(code, 0, "ensure_standard_descriptors opened a descriptor");
    }

    #[test]
    fn a_closed_stdout_becomes_dev_null() {
        let code = in_child(|| {
            // SAFETY: closes this child's own stdout, which it never uses.
            unsafe { libc::close(1) };
            super::ensure_standard_descriptors();
            if is_dev_null(1) {
                0
            } else {
                1
            }
        });
        assert_eq!(code, 0, "descriptor 1 was not reopened on /dev/null");
    }
}
