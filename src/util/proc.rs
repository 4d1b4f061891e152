//! Is this pid still the process we started? A pid read from a record may
//! belong to another process by now (the container exited and the number
//! was reused); as crun does, berth records the process's start time
//! (field 22 of /proc/PID/stat, in clock ticks since boot) beside the pid
//! and compares it before trusting or signalling the pid. Signals go
//! through a pidfd opened before the comparison, so the process compared
//! is the one signalled.

use nix::sys::signal::Signal;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// A process as recorded: its pid and start time (0: not recorded, then
/// only the pid is checked, for records of older versions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProcessId {
    pub(crate) pid: i32,
    pub(crate) start: u64,
}

/// The parts of /proc/PID/stat berth reads: the state letter and the start time.
fn read_stat(pid: i32) -> Option<(char, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&stat)
}

/// Fields after the command name (which may hold spaces and parentheses,
/// hence the last `)`): state is field 3, starttime field 22.
fn parse_stat(stat: &str) -> Option<(char, u64)> {
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let start = fields.nth(18)?.parse().ok()?;
    Some((state, start))
}

/// The start time of a live (not zombie) process.
pub(crate) fn start_time(pid: i32) -> Option<u64> {
    if pid <= 0 {
        return None;
    }
    match read_stat(pid)? {
        ('Z', _) | ('X', _) => None,
        (_, start) => Some(start),
    }
}

impl ProcessId {
    /// Records `pid` as it is now.
    pub(crate) fn of(pid: i32) -> ProcessId {
        ProcessId {
            pid,
            start: start_time(pid).unwrap_or(0),
        }
    }

    /// This process, as recorded by itself.
    pub(crate) fn current() -> ProcessId {
        ProcessId::of(std::process::id() as i32)
    }

    /// The recorded process still runs (a zombie counts as gone: its exit
    /// is final even if nobody reaped it).
    pub(crate) fn is_alive(self) -> bool {
        match start_time(self.pid) {
            Some(now) => self.start == 0 || now == self.start,
            None => false,
        }
    }

    /// A pidfd for the recorded process, or ESRCH when it is gone.
    pub(crate) fn open(self) -> std::io::Result<OwnedFd> {
        let gone = || std::io::Error::from_raw_os_error(libc::ESRCH);
        if self.pid <= 0 {
            return Err(gone());
        }
        let fd = pidfd_open(self.pid)?;
        // The pidfd pins whatever process has the pid now: if that one has
        // the recorded start time, it is ours.
        if !self.is_alive() {
            return Err(gone());
        }
        Ok(fd)
    }

    /// `/proc/PID` of the recorded process, opened as a directory, once
    /// its start time (read through that descriptor) matches. Files read
    /// through it belong to this very process: the descriptor refers to the
    /// process, not to its number, and reads through it fail (ESRCH) once
    /// the process is gone, even if the pid is reused. A record without a
    /// start time is refused here: the caller trusts what it reads.
    pub(crate) fn open_proc_dir(self) -> std::io::Result<std::fs::File> {
        use std::os::unix::fs::OpenOptionsExt;
        let gone = || std::io::Error::from_raw_os_error(libc::ESRCH);
        if self.pid <= 0 || self.start == 0 {
            return Err(gone());
        }
        let dir = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
            .open(format!("/proc/{}", self.pid))
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ENOENT) => gone(),
                _ => e,
            })?;
        let stat = read_at(&dir, c"stat")?;
        match parse_stat(&stat) {
            Some((state, start)) if start == self.start && state != 'Z' && state != 'X' => Ok(dir),
            _ => Err(gone()),
        }
    }

    /// Sends `signal` to the recorded process; ESRCH when it is gone.
    pub(crate) fn signal(self, signal: Signal) -> std::io::Result<()> {
        let fd = self.open()?;
        // SAFETY: pidfd_send_signal with a pidfd we own, a valid signal
        // number and no siginfo.
        let r = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                fd.as_raw_fd(),
                signal as libc::c_int,
                std::ptr::null::<libc::siginfo_t>(),
                0u32,
            )
        };
        if r < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }
}

/// The text of the file `name` in the directory `dir` (a `/proc/PID`
/// opened by [`ProcessId::open_proc_dir`]), read without following a
/// symbolic link.
pub(crate) fn read_at(dir: &std::fs::File, name: &std::ffi::CStr) -> std::io::Result<String> {
    use std::io::Read;
    // SAFETY: openat on a directory descriptor we hold and a
    // NUL-terminated name; it returns a new descriptor or -1.
    let fd = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            name.as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOFOLLOW,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor that we own from here on.
    let mut file = unsafe { std::fs::File::from_raw_fd(fd) };
    let mut text = String::new();
    file.read_to_string(&mut text)?;
    Ok(text)
}

/// Opens a pidfd for `pid`.
pub(crate) fn pidfd_open(pid: i32) -> std::io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor that we own from here on.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// True when the process behind `pidfd` has exited (the fd is readable).
pub(crate) fn pidfd_exited(pidfd: &OwnedFd) -> bool {
    let mut p = libc::pollfd {
        fd: pidfd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: poll on one pollfd we own, without waiting.
    unsafe { libc::poll(&mut p, 1, 0) == 1 }
}

/// Makes the rest of this process's work background work: the lowest
/// priority (nice 19), which any process may take. A monitor does this
/// once its client has the container's exit, before deleting the files of
/// a `--rm` container: on a busy machine those deletes then take the time
/// the next command leaves idle instead of delaying it. Best effort.
pub(crate) fn become_background() {
    // SAFETY: setpriority with integer arguments only, on ourselves.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 19);
    }
}

/// True while a process with this pid exists (whoever it is) and may be
/// signalled by us: for pids whose owner embeds them in a name (`tmp/`).
pub(crate) fn pid_exists(pid: i32) -> bool {
    // SAFETY: kill with signal 0 only checks for existence and permission.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_odd_names_parse() {
        let line = "42 (a (b) c) S 1 42 42 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 123456 1000 10";
        assert_eq!(parse_stat(line), Some(('S', 123456)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn our_own_process_is_recognised_and_a_wrong_start_is_not() {
        let me = ProcessId::current();
        assert!(me.start > 0 && me.is_alive());
        assert!(!ProcessId {
            start: me.start + 1,
            ..me
        }
        .is_alive());
        assert!(ProcessId { start: 0, ..me }.is_alive());
        assert!(!ProcessId { pid: 0, start: 0 }.is_alive());
        assert_eq!(
            ProcessId {
                start: me.start + 1,
                ..me
            }
            .signal(Signal::SIGCONT)
            .unwrap_err()
            .raw_os_error(),
            Some(libc::ESRCH)
        );
        me.signal(Signal::SIGCONT).unwrap();
    }

    #[test]
    fn the_proc_dir_opens_only_for_the_recorded_start() {
        let me = ProcessId::current();
        let dir = me.open_proc_dir().unwrap();
        assert!(read_at(&dir, c"status").unwrap().contains("Pid:"));
        let wrong = ProcessId {
            start: me.start + 1,
            ..me
        };
        assert_eq!(
            wrong.open_proc_dir().unwrap_err().raw_os_error(),
            Some(libc::ESRCH)
        );
        assert!(ProcessId { start: 0, ..me }.open_proc_dir().is_err());
    }
}
