//! The relay of `exec -t`: our terminal (raw while stdin is relayed,
//! restored on every way out by the guard's drop) to and from the pty
//! master the process in the container got its terminal from; SIGWINCH
//! becomes TIOCSWINSZ on the master.

use super::attach_client::{caller_window_size, RawMode};
use crate::util::proc::pidfd_open;
use anyhow::{Context, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::unistd::Pid;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

/// How a relay ended.
pub(crate) enum Relayed {
    /// The process exited (what it wrote last was drained).
    Exited,
    /// The user typed the detach keys: the process runs on, and its
    /// terminal's master is handed back.
    Detached(OwnedFd),
}

/// Watches typed bytes for the detach keys, holding back a partial match
/// (it reaches the process only if the sequence breaks off), as Docker.
struct DetachKeys<'a> {
    keys: &'a [u8],
    matched: usize,
}

impl DetachKeys<'_> {
    /// The bytes to pass on, or None when the keys are complete.
    fn feed(&mut self, data: &[u8]) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(data.len());
        for &b in data {
            if self.keys.is_empty() {
                out.push(b);
                continue;
            }
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    return None;
                }
                continue;
            }
            out.extend_from_slice(&self.keys[..self.matched]);
            self.matched = 0;
            if b == self.keys[0] {
                self.matched = 1;
                if self.keys.len() == 1 {
                    return None;
                }
            } else {
                out.push(b);
            }
        }
        Some(out)
    }
}

/// Relays until `child` exits (then drains what it wrote last), or the
/// user types `detach_keys`.
pub(crate) fn relay(
    master: OwnedFd,
    child: Pid,
    relay_stdin: bool,
    detach_keys: &[u8],
) -> Result<Relayed> {
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let _raw = if relay_stdin {
        RawMode::enable(stdin.as_fd())
    } else {
        None
    };
    if let Some((rows, cols)) = caller_window_size() {
        super::console::resize(master.as_raw_fd(), rows, cols);
    }
    let mut winch = SigSet::empty();
    winch.add(Signal::SIGWINCH);
    nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&winch), None)
        .context("blocking SIGWINCH")?;
    let sigfd = SignalFd::with_flags(&winch, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .context("watching window size changes")?;
    let pidfd = pidfd_open(child.as_raw()).context("watching the process")?;
    set_nonblocking(master.as_fd())?;
    let mut out = stdout.lock();
    let mut stdin_open = relay_stdin;
    let mut detach = DetachKeys {
        keys: detach_keys,
        matched: 0,
    };
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let mut fds = vec![
            PollFd::new(master.as_fd(), PollFlags::POLLIN),
            PollFd::new(pidfd.as_fd(), PollFlags::POLLIN),
            PollFd::new(sigfd.as_fd(), PollFlags::POLLIN),
        ];
        if stdin_open {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            r => r.context("waiting for terminal input or output")?,
        };
        let ready = |i: usize| {
            fds.get(i)
                .and_then(|f| f.revents())
                .unwrap_or(PollFlags::empty())
        };
        let (m, p, s, i) = (ready(0), ready(1), ready(2), ready(3));
        if !m.is_empty() && !drain(master.as_fd(), &mut out, &mut buf)? {
            return Ok(Relayed::Exited);
        }
        if !p.is_empty() {
            // The process ended: what it wrote last is still in the master.
            drain(master.as_fd(), &mut out, &mut buf)?;
            return Ok(Relayed::Exited);
        }
        if !s.is_empty() {
            while let Ok(Some(_)) = sigfd.read_signal() {}
            if let Some((rows, cols)) = caller_window_size() {
                super::console::resize(master.as_raw_fd(), rows, cols);
            }
        }
        if !i.is_empty() {
            match nix::unistd::read(stdin.as_fd(), &mut buf) {
                Ok(0) | Err(_) => stdin_open = false,
                Ok(n) => match detach.feed(&buf[..n]) {
                    Some(data) => write_all(master.as_fd(), &data)?,
                    None => return Ok(Relayed::Detached(master)),
                },
            }
        }
    }
}

/// Copies what the master has to `out`; false once the terminal is gone
/// (EIO: every process closed its end).
fn drain(master: BorrowedFd<'_>, out: &mut impl Write, buf: &mut [u8]) -> Result<bool> {
    loop {
        match nix::unistd::read(master, buf) {
            Ok(0) | Err(nix::errno::Errno::EIO) => return Ok(false),
            Ok(n) => {
                out.write_all(&buf[..n])
                    .context("writing the terminal's output")?;
                out.flush().context("writing the terminal's output")?;
            }
            Err(nix::errno::Errno::EAGAIN) => return Ok(true),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e).context("reading the terminal"),
        }
    }
}

fn write_all(fd: BorrowedFd<'_>, mut data: &[u8]) -> Result<()> {
    while !data.is_empty() {
        match nix::unistd::write(fd, data) {
            Ok(n) => data = &data[n..],
            Err(nix::errno::Errno::EINTR) => {}
            Err(nix::errno::Errno::EAGAIN) => {
                let mut fds = [PollFd::new(fd, PollFlags::POLLOUT)];
                let _ = poll(&mut fds, PollTimeout::from(100u16));
            }
            Err(e) => return Err(e).context("writing to the terminal"),
        }
    }
    Ok(())
}

/// After a detach: a process of its own keeps the terminal's master open
/// (reading and dropping what the process writes, so it never blocks on
/// a full terminal) until the process exits, as Docker keeps a detached
/// exec's terminal. We (the caller) can then return.
pub(crate) fn hold_detached(master: OwnedFd, process: Pid) -> Result<()> {
    let pidfd = pidfd_open(process.as_raw()).context("watching the process")?;
    // SAFETY: we are single-threaded (exec); the child only polls, reads
    // and exits.
    match unsafe { nix::unistd::fork() }.context("keeping the detached terminal")? {
        nix::unistd::ForkResult::Parent { .. } => Ok(()),
        nix::unistd::ForkResult::Child => {
            let _ = nix::unistd::setsid();
            if let Ok(null) = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/null")
            {
                for fd in 0..3 {
                    // SAFETY: dup2 onto this child's standard descriptors.
                    unsafe {
                        libc::dup2(null.as_raw_fd(), fd);
                    }
                }
            }
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                let mut fds = [
                    PollFd::new(master.as_fd(), PollFlags::POLLIN),
                    PollFd::new(pidfd.as_fd(), PollFlags::POLLIN),
                ];
                match poll(&mut fds, PollTimeout::NONE) {
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(_) => break,
                    Ok(_) => {}
                }
                if fds[1].revents().is_some_and(|r| !r.is_empty()) {
                    break;
                }
                match nix::unistd::read(master.as_fd(), &mut buf) {
                    Ok(0) | Err(nix::errno::Errno::EIO) => break,
                    _ => {}
                }
            }
            // SAFETY: leave without running the parent's destructors.
            unsafe { libc::_exit(0) }
        }
    }
}

fn set_nonblocking(fd: BorrowedFd<'_>) -> Result<()> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let flags = OFlag::from_bits_truncate(fcntl(fd, FcntlArg::F_GETFL)?);
    fcntl(fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys_hold_back_a_partial_match() {
        let mut d = DetachKeys {
            keys: &[16, 17],
            matched: 0,
        };
        assert_eq!(d.feed(b"ab"), Some(b"ab".to_vec()));
        // ctrl-p alone is held back, then released by a byte that breaks
        // the sequence.
        assert_eq!(d.feed(&[16]), Some(vec![]));
        assert_eq!(d.feed(b"x"), Some(vec![16, b'x']));
        assert_eq!(d.feed(&[16, 16]), Some(vec![16]));
        assert_eq!(d.feed(&[17]), None);
        let mut none = DetachKeys {
            keys: &[],
            matched: 0,
        };
        assert_eq!(none.feed(&[16, 17]), Some(vec![16, 17]));
    }
}
