//! The container's terminal for `-t`: a pty from the container's own
//! devpts instance, made by the init after pivot_root (so no path lookup
//! happens on the host side), with the master end sent to the monitor
//! over a unix socket (SCM_RIGHTS), as runc's console socket.

use anyhow::{Context, Result};
use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// In the init, after pivot_root: opens a pty pair from /dev/ptmx, sizes
/// it (`size`: rows, columns, the client's terminal), gives the terminal
/// to `uid`/`gid`, makes it our controlling terminal and our stdio, and
/// sends the master to the monitor. Sized here, before the program
/// starts: a resize from the client would come after the program may
/// have asked (`stty size` then saw 0 0).
pub(crate) fn setup_in_container(
    socket: RawFd,
    uid: u32,
    gid: u32,
    size: Option<[u16; 2]>,
) -> Result<()> {
    // SAFETY: plain libc calls on descriptors we own; every result is checked.
    unsafe {
        let master = libc::open(
            c"/dev/ptmx".as_ptr(),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        );
        if master < 0 {
            return Err(std::io::Error::last_os_error())
                .context("opening the container's /dev/ptmx");
        }
        let master = OwnedFd::from_raw_fd(master);
        if let Some([rows, cols]) = size {
            resize(master.as_raw_fd(), rows, cols);
        }
        if libc::unlockpt(master.as_raw_fd()) != 0 {
            return Err(std::io::Error::last_os_error()).context("unlocking the terminal");
        }
        // TIOCGPTPEER opens the peer through the master, not by path.
        let peer = libc::ioctl(
            master.as_raw_fd(),
            libc::TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY,
        );
        if peer < 0 {
            return Err(std::io::Error::last_os_error()).context("opening the terminal's peer");
        }
        let peer = OwnedFd::from_raw_fd(peer);
        // Best effort: with a single id mapping the tty group may not exist.
        let _ = libc::fchown(peer.as_raw_fd(), uid, gid);
        // The process may lead a session already (berth starts every
        // process in a container in a new one).
        if libc::setsid() < 0 && libc::getsid(0) != libc::getpid() {
            return Err(std::io::Error::last_os_error()).context("starting a session");
        }
        if libc::ioctl(peer.as_raw_fd(), libc::TIOCSCTTY, 0) < 0 {
            return Err(std::io::Error::last_os_error())
                .context("taking the terminal as controlling terminal");
        }
        for target in 0..3 {
            if libc::dup2(peer.as_raw_fd(), target) < 0 {
                return Err(std::io::Error::last_os_error()).context("connecting the terminal");
            }
        }
        send_fd(socket, master.as_raw_fd())?;
    }
    Ok(())
}

fn send_fd(socket: RawFd, fd: RawFd) -> Result<()> {
    let fds = [fd];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let iov = [IoSlice::new(b"t")];
    sendmsg::<()>(socket, &iov, &cmsg, MsgFlags::empty(), None)
        .context("sending the terminal to the monitor")?;
    Ok(())
}

/// In the monitor: receives the master end the init sent.
pub(crate) fn receive_master(socket: RawFd) -> Result<OwnedFd> {
    let mut buf = [0u8; 1];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(
        socket,
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .context("receiving the container's terminal")?;
    for c in msg.cmsgs().context("reading the terminal message")? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            if let Some(&fd) = fds.first() {
                // SAFETY: the kernel just installed this descriptor for us.
                return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
            }
        }
    }
    anyhow::bail!("the container's init sent no terminal")
}

/// Sets the terminal size of the container's pty.
pub(crate) fn resize(master: RawFd, rows: u16, cols: u16) {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize from the pointer.
    unsafe {
        libc::ioctl(master, libc::TIOCSWINSZ, &ws);
    }
}
