//! Starting a container: the container's init is cloned into a new pid
//! namespace (pid 1 there) as a child of the caller (the container's
//! monitor), which learns whether the exec worked through a close-on-exec
//! pipe.

use super::init::{self, InitContext};
use super::message::read_start_report;
use crate::model::{ContainerRecord, ContainerState, StartFailure, Status};
use crate::mounts::rootfs::OverlaySpec;
use crate::store::Store;
use crate::util::fsutil::create_dir_mode;
use crate::util::humanize::now_rfc3339;
use anyhow::{Context, Result};
use nix::unistd::{pipe2, Pid};
use std::os::fd::{AsRawFd, OwnedFd};

/// Where the container's stdio goes.
pub(crate) enum Io {
    /// Pipes (or /dev/null) for stdin, stdout and stderr.
    Pipes {
        stdin: OwnedFd,
        stdout: OwnedFd,
        stderr: OwnedFd,
    },
    /// `-t`: the init makes a terminal and sends its master over this socket.
    Tty { console: OwnedFd },
}

/// A container whose program was exec'd.
#[derive(Debug)]
pub(crate) struct Launched {
    pub(crate) pid: Pid,
}

/// Starts the container's init as pid 1 of a new pid namespace, as our
/// child, and waits until it exec'd the container's program. On failure
/// the child has been reaped and the error carries Docker's status. The
/// caller is inside berth's user namespace (or real root) and no thread
/// exists. `make_cgroup` makes the container's cgroups
/// (`resources::ContainerCgroup`) and returns their `cgroup.procs` files,
/// which the init joins before its cgroup namespace and its exec.
pub(crate) fn launch(
    store: &Store,
    record: &ContainerRecord,
    io: Io,
    net: &super::network::Launch,
    make_cgroup: &mut dyn FnMut() -> Result<Vec<std::path::PathBuf>>,
    compiled: &mut dyn FnMut() -> Option<Option<crate::seccomp::Filter>>,
) -> Result<Launched, StartFailure> {
    let dir = store.container_dir(&record.id);
    let overlay = overlay_spec(store, record).map_err(StartFailure::setup)?;
    let mut prepare = || -> Result<Vec<std::path::PathBuf>> {
        for sub in ["upper", "work", "merged"] {
            // upper's mode becomes the mode of the container's `/`.
            create_dir_mode(&dir.join(sub), 0o755)
                .with_context(|| format!("preparing container {}", record.id))?;
        }
        // Layers of a read-only image store belong to someone else: their
        // directories are made ours before the first start.
        store.prepare_upper_for_shared_layers(&record.layers, &dir.join("upper"))?;
        crate::util::trace::step("upper, work, merged made");
        let procs = make_cgroup()?;
        crate::util::trace::step("cgroup made");
        Ok(procs)
    };
    launch_in(
        store,
        record,
        &Dirs {
            dir: dir.clone(),
            overlay,
            attach_stdin: true,
        },
        io,
        net,
        &mut prepare,
        compiled,
    )
}

/// Where a container's files are: its directory (upper, work, merged and
/// the generated /etc files) and its overlay. A container's are under
/// `containers/<id>/`; a build step's under the store's `tmp/`.
pub(crate) struct Dirs {
    pub(crate) dir: std::path::PathBuf,
    pub(crate) overlay: OverlaySpec,
    /// Whether the program gets the stdin of `io` (else /dev/null).
    pub(crate) attach_stdin: bool,
}

/// The launch itself, shared by containers and build steps
/// (`oneshot`): everything the init applies (namespaces, mounts, user,
/// capabilities, security settings) comes from `record`, so both get it;
/// `net` is the network's part (`network::ContainerNetwork::prepare`);
/// `compiled` gives the seccomp filter when it was compiled already
/// (asked once the init is cloned: the command that started the monitor
/// may still be sending it).
///
/// The init is cloned first and makes its namespaces while we make what
/// it needs only afterwards — what `prepare` makes (the overlay's
/// directories, the cgroups, whose `cgroup.procs` files it returns; a
/// build step stays in its builder's cgroup), the mount points the image
/// lacks (`mount_points`), the overlay itself as a detached mount
/// ([`overlay_beside`]), the seccomp filter — and then release it
/// ([`init::Go`]): the two run on two cores, and the namespaces are the
/// largest part of a launch. The init then attaches the overlay (or
/// mounts it, when we could not make it), mounts /proc, /dev, /sys and
/// the binds, and pivots into it; we write the /etc files meanwhile
/// ([`init::files_ready`]).
pub(crate) fn launch_in(
    store: &Store,
    record: &ContainerRecord,
    dirs: &Dirs,
    io: Io,
    net: &super::network::Launch,
    prepare: &mut dyn FnMut() -> Result<Vec<std::path::PathBuf>>,
    compiled: &mut dyn FnMut() -> Option<Option<crate::seccomp::Filter>>,
) -> Result<Launched, StartFailure> {
    let setup = StartFailure::setup;
    let private_net = net.init.is_private();
    let console_socket = match &io {
        Io::Tty { console } => Some(console.as_raw_fd()),
        Io::Pipes { .. } => None,
    };
    let mut namespaces = super::namespaces::Launch::prepare(store, record).map_err(setup)?;
    let confinement =
        super::security::Confinement::unfiltered(record, super::security::single_mapping_in(None));
    crate::util::trace::step("namespace modes prepared");
    let ctx = InitContext {
        record,
        store_root: store.root(),
        container_dir: dirs.dir.clone(),
        overlay: dirs.overlay.clone(),
        private_net,
        network: &net.init,
        attach_stdin: dirs.attach_stdin,
        console_socket,
        tty_gid: tty_gid(),
        setgroups_allowed: crate::userns::setgroups_allowed(),
        namespaces: &namespaces,
        confinement: &confinement,
        cpus: crate::util::cpus::Spread::before_clone(),
    };
    crate::util::trace::step("init's context made");
    let (err_r, err_w) = pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .context("creating a pipe")
        .map_err(setup)?;
    let (go_r, go_w) = std::os::unix::net::UnixStream::pair()
        .context("creating a socket pair")
        .map_err(setup)?;
    // One byte on it once the /etc files exist (see below).
    let (files_r, files_w) = std::os::unix::net::UnixStream::pair()
        .context("creating a socket pair")
        .map_err(setup)?;
    // A raw clone with CLONE_NEWPID makes the child pid 1 of a new pid
    // namespace without changing ours, so a restart can do it again.
    let clone_flags = ctx.namespaces.clone_flags() | libc::SIGCHLD as libc::c_ulong;
    let init_shares_userns = clone_flags & libc::CLONE_NEWUSER as libc::c_ulong == 0;
    // SAFETY: no thread exists, so the child is a complete copy of this
    // single-threaded process; with no new stack it continues like fork.
    let r = unsafe { libc::syscall(libc::SYS_clone, clone_flags, 0usize, 0usize, 0usize, 0usize) };
    if r < 0 {
        return Err(setup(
            anyhow::Error::from(std::io::Error::last_os_error())
                .context("creating the container's pid namespace"),
        ));
    }
    if r == 0 {
        crate::util::trace::forked("init");
        crate::util::trace::step("cloned (new pid namespace)");
        drop(err_r);
        drop(go_w);
        drop(files_w);
        ctx.namespaces.child_wait();
        // The monitor blocks the signals it reads through a signalfd; the
        // container's program must start with none blocked, or `kill -TERM`
        // would never reach it.
        let _ = nix::sys::signal::SigSet::empty().thread_set_mask();
        if let Io::Pipes {
            stdin,
            stdout,
            stderr,
        } = &io
        {
            for (fd, target) in [(stdin, 0), (stdout, 1), (stderr, 2)] {
                // SAFETY: dup2 onto the standard descriptors of this child.
                unsafe {
                    libc::dup2(fd.as_raw_fd(), target);
                }
            }
        }
        init::run(&ctx, err_w, go_r.into(), files_r.into())
    }
    let child = Pid::from_raw(r as i32);
    crate::util::trace::step("init cloned");
    // The init works while we do, on another core (util/cpus.rs).
    if let Some(cpus) = &ctx.cpus {
        cpus.keep_off_our_core(child);
    }
    drop(err_w);
    drop(go_r);
    drop(files_r);
    drop(ctx);
    let abandon = |e: anyhow::Error| {
        let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL);
        let _ = crate::util::signals::wait_exit(child);
        setup(e)
    };
    namespaces.after_clone(child.as_raw()).map_err(abandon)?;
    let go = (|| -> Result<_> {
        let cgroup_procs = prepare()?;
        let overlay = if init_shares_userns {
            super::mount_points::premake(
                store.root(),
                &dirs.overlay,
                &user_targets(record),
                confinement.fakeroot,
            );
            crate::util::trace::step("mount points made in upper");
            overlay_beside(store, &dirs.overlay)
        } else {
            None
        };
        // Compiled per launch (issue 9: well under a millisecond; the
        // default profile's first compile is ~0.2 ms), on this core while
        // the init makes its namespaces on the other.
        // Compiled by the command that started us, when it had time.
        let filter = match compiled() {
            Some(filter) => filter,
            None => {
                let filter = confinement.compile_filter(record)?;
                crate::util::trace::step("seccomp filter compiled");
                filter
            }
        };
        Ok(init::Go {
            filter,
            cgroup_procs,
            overlay,
        })
    })()
    .map_err(abandon)?;
    go.send(go_w.into()).map_err(abandon)?;
    // The /etc files are made while the init attaches the overlay and
    // mounts /proc, /dev and /sys: it binds them only after those, and
    // waits for our byte there. Three creates on the store's disk, which
    // in its slow stretches took 0.6 ms of the window before the release.
    crate::mounts::files::write_files(&dirs.dir, &record.config.hostname, &net.hosts, &net.resolv)
        .map_err(abandon)?;
    crate::util::trace::step("hosts, hostname, resolv.conf written");
    init::files_ready(files_w.into()).map_err(abandon)?;
    // Our descriptor of the overlay: the init has its own now.
    drop(go);
    drop(io);
    match read_start_report(err_r) {
        None => Ok(Launched { pid: child }),
        Some(failure) => {
            let _ = crate::util::signals::wait_exit(child);
            Err(failure)
        }
    }
}

/// The destinations of the user's mounts.
fn user_targets(record: &ContainerRecord) -> Vec<&str> {
    record
        .host
        .storage
        .mounts
        .iter()
        .map(|m| m.destination.as_str())
        .collect()
}

/// The container's overlay made here, as a detached mount that the init
/// attaches (`mounts::rootfs::detached_overlay`): overlay's checks at
/// mount time (it creates and removes files in the work directory) then
/// run on this core while the init makes its namespaces on the other.
/// Only for an init in our user namespace: an overlay belongs to the
/// user namespace that makes it and works with its maker's credentials,
/// so a container with a namespace of its own (real root's, `--userns
/// keep-id`) gets its overlay from its init as before: one of its
/// namespace, whose device nodes the kernel never opens (SB_I_NODEV),
/// worked with the container root's credentials rather than ours.
/// `None` when the kernel does not make it here (see
/// `detached_overlay`): the init mounts it, and explains its errors.
fn overlay_beside(store: &Store, spec: &OverlaySpec) -> Option<OwnedFd> {
    use crate::mounts::rootfs::{detached_overlay, own_mount_namespace};
    match own_mount_namespace().and_then(|()| detached_overlay(spec, store.root())) {
        Ok(fd) => {
            crate::util::trace::step("overlay made (detached)");
            Some(fd)
        }
        Err(e) => {
            crate::util::trace::step(&format!("overlay left to the init: {e:#}"));
            None
        }
    }
}

/// Whether the container gets a user namespace of its own: with berth
/// run by real root, so that the container's root is not the host's
/// (its capabilities stop at its namespaces: no devices, no mounts of the
/// host's, no modules), as rootless containers always are. `--privileged`
/// keeps real root's power, as Docker's.
pub(crate) fn root_userns(record: &ContainerRecord) -> bool {
    crate::userns::is_real_root() && !record.host.security.privileged
}

/// The id map of a container's own user namespace under real root: the
/// host's ids as they are (so the store's files keep their owners), all
/// but the last, so that the namespace is not mistaken for the initial one.
const ROOT_ID_MAP: &str = "0 0 4294967294";

/// In the monitor: maps the new user namespace of `child` (see
/// [`root_userns`]).
pub(crate) fn write_root_id_maps(child: i32) -> Result<()> {
    for file in ["uid_map", "gid_map"] {
        std::fs::write(format!("/proc/{child}/{file}"), ROOT_ID_MAP)
            .with_context(|| format!("writing the container's {file}"))?;
    }
    Ok(())
}

/// The state of a container that could not start.
pub(crate) fn failed_state(failure: &StartFailure) -> ContainerState {
    ContainerState {
        status: Status::Exited,
        exit_code: failure.code,
        finished_at: Some(now_rfc3339()),
        error: failure.message.clone(),
        ..Default::default()
    }
}

/// The overlay for the container, relative to the store root.
pub(crate) fn overlay_spec(store: &Store, record: &ContainerRecord) -> Result<OverlaySpec> {
    let mut lowers = Vec::with_capacity(record.layers.len());
    for diff_id in record.layers.iter().rev() {
        let link = store.layer_link(diff_id)?;
        // Overlay refuses a directory twice (ELOOP); an image may repeat a
        // layer (two empty RUN steps). The topmost occurrence re-applies
        // everything the lower one did, so the lower one can go.
        if !lowers.contains(&link) {
            lowers.push(link);
        }
    }
    let base = format!("containers/{}", record.id);
    if lowers.is_empty() {
        // An image without layers: overlay needs a lower directory.
        create_dir_mode(&store.root().join(&base).join("empty"), 0o755)?;
        lowers.push(format!("{base}/empty"));
    }
    Ok(OverlaySpec {
        lowers,
        upper: format!("{base}/upper"),
        work: format!("{base}/work"),
        userxattr: !crate::userns::is_real_root() || root_userns(record),
        volatile: record.host.lifecycle.auto_remove,
    })
}

/// gid 5 ("tty") for terminals when the namespace maps it.
pub(crate) fn tty_gid() -> Option<u32> {
    let map = std::fs::read_to_string("/proc/self/gid_map").ok()?;
    crate::userns::idmap::is_mapped(&crate::userns::idmap::parse_proc_map(&map), 5).then_some(5)
}
