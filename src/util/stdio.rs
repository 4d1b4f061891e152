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
    #[test]
    fn open_descriptors_are_left_alone() {
        use std::os::fd::AsRawFd;
        let probe = std::fs::File::open("/dev/null").unwrap();
        let next = probe.as_raw_fd();
        drop(probe);
        super::ensure_standard_descriptors();
        // Nothing was opened: the next free descriptor is unchanged.
        let again = std::fs::File::open("/dev/null").unwrap();
        assert_eq!(again.as_raw_fd(), next);
    }
}
