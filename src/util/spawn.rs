//! Starting a program the cheap way: `clone(CLONE_VM | CLONE_VFORK)`, as
//! glibc's `posix_spawn` does, with the few things berth's helpers need
//! between the clone and the exec (a session of their own, descriptors
//! to keep).
//!
//! `fork` copies the page tables of the whole process and leaves every
//! page the parent writes afterwards to a copy-on-write fault; measured
//! on the launch path, that made starting the monitor cost about 1 ms
//! more than the exec itself. `std::process::Command` uses `posix_spawn`
//! only without `pre_exec`, and `setsid` needs one.
//!
//! The child shares our memory and runs on a stack of its own until it
//! execs; we are suspended meanwhile (CLONE_VFORK). So the child calls
//! only system calls: every allocation (argv, envp, the stack) is made
//! before the clone, and all signals are blocked around it so that no
//! handler of ours runs in the child.
//!
//! A detached program ([`Spawn::detach`]) is started the same way one
//! level further down: the clone clones the program's process and exits,
//! so that the program is adopted by init (or the nearest subreaper) and
//! never becomes a zombie of ours, still without copying our memory.

use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// A program to start.
pub(crate) struct Spawn<'a> {
    program: CString,
    argv: Vec<CString>,
    /// Descriptors the program inherits, at the same numbers.
    keep: Vec<RawFd>,
    setsid: bool,
    /// Started through an intermediate process that exits at once.
    detach: bool,
    /// Run in the child before the exec (see [`Spawn::before_exec`]).
    before_exec: Option<&'a (dyn Fn() -> std::io::Result<()> + Sync)>,
}

/// What the child shares with us: everything it reads, and where it
/// leaves the errno of a failure.
struct ChildArgs<'a> {
    spec: &'a Spawn<'a>,
    argv: *const *const libc::c_char,
    null: RawFd,
    old_mask: libc::sigset_t,
    /// errno of the step that failed; 0 when the exec happened.
    errno: i32,
    /// Detaching: the top of the program's stack, read (and zeroed) by the
    /// intermediate process; 0 in the process that execs.
    inner_stack_top: usize,
    /// Detaching: the program's pid, left here by the intermediate process.
    detached_pid: libc::pid_t,
}

impl<'a> Spawn<'a> {
    pub(crate) fn new(program: &str) -> std::io::Result<Spawn<'a>> {
        Ok(Spawn {
            program: cstring(program)?,
            argv: vec![cstring(program)?],
            keep: Vec::new(),
            setsid: false,
            detach: false,
            before_exec: None,
        })
    }

    /// Sets argv[0] (the program's own name for itself).
    pub(crate) fn arg0(mut self, name: &str) -> std::io::Result<Self> {
        self.argv[0] = cstring(name)?;
        Ok(self)
    }

    pub(crate) fn arg(mut self, arg: &str) -> std::io::Result<Self> {
        self.argv.push(cstring(arg)?);
        Ok(self)
    }

    /// The program inherits `fd` (its close-on-exec flag is cleared in
    /// the child only).
    pub(crate) fn keep_fd(mut self, fd: &impl AsRawFd) -> Self {
        self.keep.push(fd.as_raw_fd());
        self
    }

    /// The program leads a new session (no controlling terminal).
    pub(crate) fn setsid(mut self) -> Self {
        self.setsid = true;
        self
    }

    /// The program is not our child: an intermediate process starts it
    /// and exits before `spawn` returns, so it is adopted by init (or the
    /// nearest subreaper). Every descriptor but stdio and the kept ones
    /// is closed at its exec, whether close-on-exec or not: a program that
    /// outlives us must not hold our caller's pipes open.
    pub(crate) fn detach(mut self) -> Self {
        self.detach = true;
        self
    }

    /// Runs `f` in the child after `setsid` and before the exec; an error
    /// (its errno) is the spawn's. The child shares our memory and runs
    /// on a small stack of its own: `f` must make system calls only — no
    /// allocation, no lock, no write to memory it did not get from its
    /// caller — with everything it needs made before `spawn`.
    pub(crate) fn before_exec(mut self, f: &'a (dyn Fn() -> std::io::Result<()> + Sync)) -> Self {
        self.before_exec = Some(f);
        self
    }

    /// Starts the program with stdin, stdout and stderr on /dev/null and
    /// our environment; returns its pid once it has exec'd.
    pub(crate) fn spawn(&self) -> std::io::Result<libc::pid_t> {
        let null = OwnedFd::from(
            std::fs::File::options()
                .read(true)
                .write(true)
                .open("/dev/null")?,
        );
        let mut argv: Vec<*const libc::c_char> = self.argv.iter().map(|a| a.as_ptr()).collect();
        argv.push(std::ptr::null());
        const STACK: usize = 64 * 1024;
        let mut stack = vec![0u8; STACK];
        let mut inner_stack = vec![0u8; if self.detach { STACK } else { 0 }];
        let inner_stack_top = if self.detach {
            (inner_stack.as_mut_ptr() as usize + STACK) & !15
        } else {
            0
        };
        // SAFETY: sigset_t is plain data; sigfillset initialises it.
        let mut all: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let mut old_mask: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: sigfillset and pthread_sigmask write the sets we pass.
        unsafe {
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old_mask);
        }
        let mut args = ChildArgs {
            spec: self,
            argv: argv.as_ptr(),
            null: null.as_raw_fd(),
            old_mask,
            errno: 0,
            inner_stack_top,
            detached_pid: 0,
        };
        // The stack grows down from its end, 16-byte aligned.
        let top = (stack.as_mut_ptr() as usize + STACK) & !15;
        // SAFETY: the child runs `child` on its own stack, shares our
        // memory and we are suspended until it execs or exits
        // (CLONE_VFORK), so `args`, `argv` and `stack` outlive its use of
        // them; `child` makes system calls only.
        let pid = unsafe {
            libc::clone(
                child,
                top as *mut libc::c_void,
                libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
                &mut args as *mut ChildArgs as *mut libc::c_void,
            )
        };
        let clone_error = std::io::Error::last_os_error();
        // SAFETY: restores the mask saved above.
        unsafe {
            libc::pthread_sigmask(libc::SIG_SETMASK, &old_mask, std::ptr::null_mut());
        }
        drop(stack);
        if pid < 0 {
            return Err(clone_error);
        }
        if self.detach {
            // The intermediate process has exited (we were suspended until
            // then); the program, if it failed before its exec, is a
            // zombie that init reaps.
            let mut status = 0;
            // SAFETY: waitpid on our own child.
            unsafe { libc::waitpid(pid, &mut status, 0) };
            drop(inner_stack);
            if args.errno != 0 {
                return Err(std::io::Error::from_raw_os_error(args.errno));
            }
            return Ok(args.detached_pid);
        }
        if args.errno != 0 {
            // The child exited without exec'ing: reap it.
            let mut status = 0;
            // SAFETY: waitpid on our own child.
            unsafe { libc::waitpid(pid, &mut status, 0) };
            return Err(std::io::Error::from_raw_os_error(args.errno));
        }
        Ok(pid)
    }
}

fn cstring(s: &str) -> std::io::Result<CString> {
    CString::new(s).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{s:?} contains a NUL byte"),
        )
    })
}

/// The child's side: system calls only, then exec or `_exit(127)`.
extern "C" fn child(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the ChildArgs the parent passed; it lives on the
    // parent's stack, which stays put while we run (CLONE_VFORK).
    let args = unsafe { &mut *(arg as *mut ChildArgs) };
    let fail = |args: &mut ChildArgs| -> libc::c_int {
        args.errno = std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EINVAL)
            .max(1);
        // SAFETY: _exit leaves without touching the shared memory.
        unsafe { libc::_exit(127) }
    };
    let spec = args.spec;
    if args.inner_stack_top != 0 {
        // The intermediate process of a detached spawn: the program's
        // process is cloned the same way (sharing the memory, this one
        // suspended until it execs), then this one leaves.
        let top = args.inner_stack_top;
        args.inner_stack_top = 0;
        // SAFETY: as in `Spawn::spawn`: the inner child runs `child` on
        // the second stack, which the parent keeps until we have exited,
        // and we are suspended until it execs or exits.
        let pid = unsafe {
            libc::clone(
                child,
                top as *mut libc::c_void,
                libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
                arg,
            )
        };
        if pid < 0 {
            return fail(args);
        }
        args.detached_pid = pid;
        // SAFETY: _exit leaves without touching the shared memory.
        unsafe { libc::_exit(0) }
    }
    // SAFETY: system calls on descriptors and signal dispositions of this
    // child; none allocates or takes a lock.
    unsafe {
        for fd in 0..3 {
            if libc::dup2(args.null, fd) < 0 {
                return fail(args);
            }
        }
        if spec.setsid && libc::setsid() < 0 {
            return fail(args);
        }
        if let Some(f) = spec.before_exec {
            if let Err(e) = f() {
                args.errno = e.raw_os_error().unwrap_or(libc::EINVAL).max(1);
                libc::_exit(127);
            }
        }
        if spec.detach {
            // Errors ignored: without close_range (Linux < 5.11) the
            // program closes strays itself.
            libc::syscall(
                libc::SYS_close_range,
                3u32,
                u32::MAX,
                libc::CLOSE_RANGE_CLOEXEC,
            );
        }
        for &fd in &spec.keep {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            if flags < 0 || libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0 {
                return fail(args);
            }
        }
        // Handlers of ours must not run here, nor be inherited as
        // anything but the default.
        for sig in 1..libc::SIGRTMIN() {
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig, std::ptr::null(), &mut old) == 0
                && old.sa_sigaction != libc::SIG_DFL
                && old.sa_sigaction != libc::SIG_IGN
            {
                let mut dfl: libc::sigaction = std::mem::zeroed();
                dfl.sa_sigaction = libc::SIG_DFL;
                libc::sigaction(sig, &dfl, std::ptr::null_mut());
            }
        }
    }
    // SAFETY: restores the caller's mask, then execs with our environment.
    unsafe {
        libc::pthread_sigmask(libc::SIG_SETMASK, &args.old_mask, std::ptr::null_mut());
        libc::execve(spec.program.as_ptr(), args.argv, environ());
    }
    fail(args)
}

/// The process environment, as `std::env::set_var` keeps it.
fn environ() -> *const *const libc::c_char {
    extern "C" {
        static environ: *const *const libc::c_char;
    }
    // SAFETY: reading the C environment pointer; nobody changes it while
    // we are suspended in the clone.
    unsafe { environ }
}

/// The name a spawned program shows in `ps` (comm, 15 bytes at most).
pub(crate) fn set_process_name(name: &CStr) {
    // SAFETY: PR_SET_NAME reads a NUL-terminated string.
    unsafe {
        libc::prctl(libc::PR_SET_NAME, name.as_ptr(), 0, 0, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spawned_program_runs_in_its_own_session_with_the_kept_descriptor() {
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
        let script = format!(
            "ps -o sid= -p $$ > /proc/self/fd/{fd}; echo $$ >> /proc/self/fd/{fd}",
            fd = w.as_raw_fd()
        );
        let pid = Spawn::new("/bin/sh")
            .unwrap()
            .arg("-c")
            .unwrap()
            .arg(&script)
            .unwrap()
            .keep_fd(&w)
            .setsid()
            .spawn()
            .unwrap();
        drop(w);
        let mut out = String::new();
        use std::io::Read;
        std::fs::File::from(r).read_to_string(&mut out).unwrap();
        let mut status = 0;
        // SAFETY: waitpid on our own child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        let lines: Vec<&str> = out.split_whitespace().collect();
        assert_eq!(lines.len(), 2, "{out:?}");
        assert_eq!(lines[0], lines[1], "session leader: {out:?}");
        assert_eq!(lines[1], pid.to_string());
    }

    #[test]
    fn a_detached_program_is_not_our_child_and_gets_no_stray_descriptor() {
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
        // A descriptor without close-on-exec, as a caller may leave one.
        let (stray_r, stray_w) = nix::unistd::pipe().unwrap();
        let script = format!(
            "ps -o ppid= -p $$ > /proc/self/fd/{fd}; ls /proc/$$/fd >> /proc/self/fd/{fd}",
            fd = w.as_raw_fd()
        );
        let pid = Spawn::new("/bin/sh")
            .unwrap()
            .arg("-c")
            .unwrap()
            .arg(&script)
            .unwrap()
            .keep_fd(&w)
            .setsid()
            .detach()
            .spawn()
            .unwrap();
        drop(w);
        drop(stray_r);
        let mut out = String::new();
        use std::io::Read;
        std::fs::File::from(r).read_to_string(&mut out).unwrap();
        let mut words = out.split_whitespace();
        let ppid = words.next().unwrap();
        assert_ne!(ppid, std::process::id().to_string(), "{out:?}");
        let fds: Vec<&str> = words.collect();
        assert!(
            !fds.contains(&stray_w.as_raw_fd().to_string().as_str()),
            "{out:?}"
        );
        // SAFETY: waitpid without waiting; the program is not our child.
        let r = unsafe { libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG) };
        assert_eq!(r, -1);
    }

    #[test]
    fn a_missing_program_is_an_error_and_no_zombie() {
        let e = Spawn::new("/nonexistent/program")
            .unwrap()
            .spawn()
            .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
    }
}
