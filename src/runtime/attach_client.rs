//! The client side of attaching: `run` in the foreground, `start -a`,
//! `attach`. It relays our stdin to the monitor and the container's output
//! to our stdout and stderr, puts a terminal in raw mode for `-t` (restored
//! on every way out), sends window sizes, forwards signals to the container
//! and recognises the detach keys.

use super::message::{Decoder, Message};
use crate::model::StartFailure;
use crate::util::proc::ProcessId;
use anyhow::{Context, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::termios::{self, SetArg, Termios};
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

pub(crate) struct AttachOptions {
    /// Relay our stdin to the container.
    pub(crate) stdin: bool,
    /// The container has a terminal: raw mode, window size, detach keys.
    pub(crate) tty: bool,
    pub(crate) detach_keys: Vec<u8>,
    /// Forward SIGINT/SIGTERM/... to the container (`--sig-proxy`).
    pub(crate) sig_proxy: bool,
    /// Where forwarded signals go: the container's init.
    pub(crate) signal_target: Option<ProcessId>,
    /// Which output streams are relayed (`run -a`); both by default.
    pub(crate) output: OutputStreams,
}

/// The container's output streams a client relays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OutputStreams {
    pub(crate) stdout: bool,
    pub(crate) stderr: bool,
}

impl Default for OutputStreams {
    fn default() -> Self {
        OutputStreams {
            stdout: true,
            stderr: true,
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Exited(i32),
    /// The container could not start.
    Failed(StartFailure),
    Detached,
    /// The monitor went away without an exit status.
    Lost,
}

/// Puts the terminal in raw mode and restores it when dropped.
pub(crate) struct RawMode {
    fd: std::os::fd::RawFd,
    saved: Termios,
}

impl RawMode {
    pub(crate) fn enable(fd: BorrowedFd<'_>) -> Option<RawMode> {
        let saved = termios::tcgetattr(fd).ok()?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(fd, SetArg::TCSANOW, &raw).ok()?;
        Some(RawMode {
            fd: fd.as_raw_fd(),
            saved,
        })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // SAFETY: the fd is our stdin, open for the life of the process.
        let fd = unsafe { BorrowedFd::borrow_raw(self.fd) };
        let _ = termios::tcsetattr(fd, SetArg::TCSANOW, &self.saved);
    }
}

/// The terminal size of `fd` as (rows, cols).
pub(crate) fn window_size(fd: BorrowedFd<'_>) -> Option<(u16, u16)> {
    // SAFETY: winsize is plain data; all-zero is a valid value.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes one winsize into the struct we pass.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) };
    (r == 0 && ws.ws_row > 0).then_some((ws.ws_row, ws.ws_col))
}

/// The size of the caller's terminal: the one on stdout, else on stdin.
pub(crate) fn caller_window_size() -> Option<(u16, u16)> {
    window_size(std::io::stdout().as_fd()).or_else(|| window_size(std::io::stdin().as_fd()))
}

fn resize_frame(sock: &mut UnixStream, size: (u16, u16)) -> std::io::Result<()> {
    Message::Resize {
        rows: size.0,
        cols: size.1,
    }
    .write_to(sock)
}

/// Parses `--detach-keys` (`ctrl-p,ctrl-q`, `a`, `ctrl-@`) into bytes.
pub(crate) fn parse_detach_keys(spec: &str) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    for key in spec.split(',') {
        let k = key.trim();
        if let Some(c) = k.strip_prefix("ctrl-") {
            let b = match c.as_bytes() {
                [b] if b.is_ascii_lowercase() => b - b'a' + 1,
                [b'@'] => 0,
                [b'['] => 27,
                [b'\\'] => 28,
                [b']'] => 29,
                [b'^'] => 30,
                [b'_'] => 31,
                _ => anyhow::bail!(
                    "invalid detach key {k:?}: use ctrl-<a-z|@|[|\\|]|^|_> or a single character"
                ),
            };
            out.push(b);
        } else if k.len() == 1 {
            out.push(k.as_bytes()[0]);
        } else {
            anyhow::bail!(
                "invalid detach key {k:?}: use ctrl-<a-z|@|[|\\|]|^|_> or a single character"
            );
        }
    }
    Ok(out)
}

/// Connects to a monitor's socket and relays until the container exits,
/// the user detaches, or the monitor goes away.
pub(crate) fn attach(socket: &Path, opts: &AttachOptions) -> Result<Outcome> {
    let sock = UnixStream::connect(socket).with_context(|| {
        format!(
            "attaching to the container's monitor at {}",
            socket.display()
        )
    })?;
    attach_stream(sock, opts)
}

/// Relays over a connection to the monitor that is already made (the
/// socket pair of a `run` in the foreground).
pub(crate) fn attach_stream(mut sock: UnixStream, opts: &AttachOptions) -> Result<Outcome> {
    let stdin = std::io::stdin();
    let stdin_fd = stdin.as_fd();
    let is_tty = opts.tty && nix::unistd::isatty(stdin_fd).unwrap_or(false);

    let mut signals = SigSet::empty();
    for s in [
        Signal::SIGWINCH,
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
    ] {
        signals.add(s);
    }
    let old_mask = signals.thread_swap_mask(nix::sys::signal::SigmaskHow::SIG_BLOCK)?;
    let restore_mask = scopeguard(move || {
        let _ = old_mask.thread_set_mask();
    });
    let sfd = SignalFd::with_flags(&signals, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)?;

    let _raw = if is_tty && opts.stdin {
        RawMode::enable(stdin_fd)
    } else {
        None
    };
    if opts.tty {
        if let Some(size) = window_size(stdin_fd) {
            resize_frame(&mut sock, size)?;
        }
    }
    crate::util::trace::step("attached");

    let mut decoder = Decoder::default();
    let mut target = opts.signal_target;
    let mut stdin_open = opts.stdin;
    let mut matched = 0usize;
    let mut buf = vec![0u8; 32 * 1024];
    let (stdout, stderr) = (std::io::stdout(), std::io::stderr());
    let outcome = loop {
        let mut fds = vec![
            PollFd::new(sock.as_fd(), PollFlags::POLLIN),
            PollFd::new(sfd.as_fd(), PollFlags::POLLIN),
        ];
        if stdin_open {
            fds.push(PollFd::new(stdin_fd, PollFlags::POLLIN));
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e).context("waiting for the container's output"),
            Ok(_) => {}
        }
        let ready = |i: usize| {
            fds.get(i)
                .and_then(|f| f.revents())
                .is_some_and(|r| !r.is_empty())
        };
        let (sock_ready, sig_ready, stdin_ready) = (ready(0), ready(1), ready(2));
        drop(fds);

        if sig_ready {
            while let Ok(Some(info)) = sfd.read_signal() {
                let sig = Signal::try_from(info.ssi_signo as i32).ok();
                match sig {
                    Some(Signal::SIGWINCH) => {
                        if let Some(size) = window_size(stdin_fd) {
                            let _ = resize_frame(&mut sock, size);
                        }
                    }
                    Some(s) if opts.sig_proxy => {
                        if let Some(init) = target {
                            let _ = init.signal(s);
                        }
                    }
                    _ => {}
                }
            }
        }
        if stdin_ready {
            let n = stdin.lock().read(&mut buf).unwrap_or(0);
            if n == 0 {
                stdin_open = false;
                let _ = Message::StdinEof.write_to(&mut sock);
            } else {
                let data = &buf[..n];
                if is_tty && !opts.detach_keys.is_empty() {
                    // Watch for the detach sequence across reads.
                    let keys = &opts.detach_keys;
                    let mut detached = false;
                    for &b in data {
                        if b == keys[matched] {
                            matched += 1;
                            if matched == keys.len() {
                                detached = true;
                                break;
                            }
                        } else {
                            matched = usize::from(b == keys[0]);
                        }
                    }
                    if detached {
                        break Outcome::Detached;
                    }
                }
                if Message::Stdin(data.to_vec()).write_to(&mut sock).is_err() {
                    stdin_open = false;
                }
            }
        }
        if sock_ready {
            let n = match sock.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => 0,
            };
            if n == 0 {
                break Outcome::Lost;
            }
            decoder.feed(&buf[..n]);
            let mut finished = None;
            while let Some(message) = decoder.next_message()? {
                match message {
                    Message::Stdout(_) if !opts.output.stdout => {}
                    Message::Stderr(_) if !opts.output.stderr => {}
                    Message::Stdout(data) => {
                        let mut o = stdout.lock();
                        let _ = o.write_all(&data);
                        let _ = o.flush();
                    }
                    Message::Stderr(data) => {
                        let mut e = stderr.lock();
                        let _ = e.write_all(&data);
                        let _ = e.flush();
                    }
                    Message::Exited(code) => finished = Some(Outcome::Exited(code)),
                    Message::Failed(f) => finished = Some(Outcome::Failed(f)),
                    Message::Started(pid) => target = Some(ProcessId::of(pid)),
                    Message::Trace(lines) => crate::util::trace::relay(&lines),
                    _ => {}
                }
            }
            if let Some(o) = finished {
                crate::util::trace::step("exit status received");
                break o;
            }
        }
    };
    drop(restore_mask);
    Ok(outcome)
}

/// Runs `f` when dropped.
fn scopeguard<F: FnOnce()>(f: F) -> impl Drop {
    struct Guard<F: FnOnce()>(Option<F>);
    impl<F: FnOnce()> Drop for Guard<F> {
        fn drop(&mut self) {
            if let Some(f) = self.0.take() {
                f();
            }
        }
    }
    Guard(Some(f))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys() {
        assert_eq!(parse_detach_keys("ctrl-p,ctrl-q").unwrap(), vec![16, 17]);
        assert_eq!(parse_detach_keys("a,ctrl-@").unwrap(), vec![b'a', 0]);
        assert!(parse_detach_keys("ctrl-1").is_err());
        assert!(parse_detach_keys("esc").is_err());
    }
}
