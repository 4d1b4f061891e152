//! The relay of `exec` without `-t`: the process in the container gets
//! pipes, never the caller's own descriptors (a terminal handed over would
//! let it push input into the caller's shell with TIOCSTI, even after exec
//! returned); berth copies between them and its stdio until the process
//! exits, then takes what it wrote last.

use crate::util::proc::pidfd_open;
use anyhow::{Context, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::unistd::Pid;
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// Berth's ends of the process's stdio pipes.
pub(crate) struct PipeEnds {
    /// Where our stdin goes (`-i`); None when the process got /dev/null.
    pub(crate) stdin: Option<OwnedFd>,
    pub(crate) stdout: OwnedFd,
    pub(crate) stderr: OwnedFd,
}

/// Relays until `child` exits and its output is drained.
pub(crate) fn relay(ends: PipeEnds, child: Pid) -> Result<()> {
    let pidfd = pidfd_open(child.as_raw()).context("watching the process")?;
    let mut fds_to_unblock = vec![ends.stdout.as_fd(), ends.stderr.as_fd()];
    if let Some(i) = &ends.stdin {
        fds_to_unblock.push(i.as_fd());
    }
    for fd in fds_to_unblock {
        set_nonblocking(fd)?;
    }
    let our_stdin = std::io::stdin();
    let mut stdin_pipe = ends.stdin;
    // Input read but not yet taken by the process: our stdin is read
    // again only once it is gone, so a process that reads slowly (or
    // writes a lot before reading) never deadlocks the relay.
    let mut pending: Vec<u8> = Vec::new();
    let mut outputs = [Some(ends.stdout), Some(ends.stderr)];
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let mut fds = vec![PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
        let mut which = vec![Slot::Exited];
        for (i, o) in outputs.iter().enumerate() {
            if let Some(fd) = o {
                fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
                which.push(Slot::Output(i));
            }
        }
        if let Some(pipe) = &stdin_pipe {
            if pending.is_empty() {
                fds.push(PollFd::new(our_stdin.as_fd(), PollFlags::POLLIN));
                which.push(Slot::Input);
            } else {
                fds.push(PollFd::new(pipe.as_fd(), PollFlags::POLLOUT));
                which.push(Slot::InputPipe);
            }
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            r => r.context("waiting for the process's output")?,
        };
        let ready: Vec<Slot> = fds
            .iter()
            .zip(&which)
            .filter(|(f, _)| f.revents().is_some_and(|r| !r.is_empty()))
            .map(|(_, w)| *w)
            .collect();
        drop(fds);
        for slot in ready {
            match slot {
                Slot::Exited => {
                    // What it wrote last is in the pipes; whatever it left
                    // running in the background is not waited for.
                    for (i, o) in outputs.iter_mut().enumerate() {
                        if let Some(fd) = o {
                            drain(fd.as_fd(), i, &mut buf)?;
                        }
                    }
                    return Ok(());
                }
                Slot::Output(i) => {
                    let open = match &outputs[i] {
                        Some(fd) => drain(fd.as_fd(), i, &mut buf)?,
                        None => false,
                    };
                    if !open {
                        outputs[i] = None;
                    }
                }
                Slot::Input => match nix::unistd::read(our_stdin.as_fd(), &mut buf) {
                    Ok(0) | Err(_) => stdin_pipe = None,
                    Ok(n) => pending.extend_from_slice(&buf[..n]),
                },
                Slot::InputPipe => {
                    let Some(pipe) = &stdin_pipe else { continue };
                    match nix::unistd::write(pipe, &pending) {
                        Ok(n) => {
                            pending.drain(..n);
                        }
                        Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => {}
                        // The process closed its stdin.
                        Err(_) => {
                            pending.clear();
                            stdin_pipe = None;
                        }
                    }
                }
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Slot {
    Exited,
    Output(usize),
    /// Our stdin has data.
    Input,
    /// The process's stdin pipe has room.
    InputPipe,
}

/// Copies what the pipe holds to our stdout (0) or stderr (1); false at
/// its end.
fn drain(fd: BorrowedFd<'_>, which: usize, buf: &mut [u8]) -> Result<bool> {
    loop {
        match nix::unistd::read(fd, buf) {
            Ok(0) => return Ok(false),
            Ok(n) => {
                let r = if which == 0 {
                    let mut out = std::io::stdout().lock();
                    out.write_all(&buf[..n]).and_then(|_| out.flush())
                } else {
                    std::io::stderr().lock().write_all(&buf[..n])
                };
                r.context("writing the process's output")?;
            }
            Err(nix::errno::Errno::EAGAIN) => return Ok(true),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e).context("reading the process's output"),
        }
    }
}

fn set_nonblocking(fd: BorrowedFd<'_>) -> Result<()> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let flags = OFlag::from_bits_truncate(fcntl(fd, FcntlArg::F_GETFL)?);
    fcntl(fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    Ok(())
}
