//! What the namespace and kernel flags do at create and at launch:
//! `--ipc`, `--pid`, `--uts`, `--cgroupns`, `--userns keep-id`,
//! `--sysctl`, `--shm-size`, `--oom-score-adj`, `--domainname` and
//! `--group-add`. Each effect is a function called at one place: create
//! (`resolve_at_create`), the monitor before it clones the init
//! ([`Launch::prepare`], `clone_flags`, `after_clone`), and the init
//! (`unshare_flags`, `after_unshare`, `after_rootfs`, `mount_proc`,
//! `after_dev`, `set_names`, `extra_groups`). Without these flags each is
//! a check of a field and nothing more.

use crate::model::namespaces::{
    CgroupnsMode, IpcMode, KeepId, NamespaceConfig, PidMode, UsernsMode, UtsMode,
};
use crate::model::{ContainerRecord, CreateRequest, ProcessConfig};
use crate::mounts::inroot::InRoot;
use crate::store::Store;
use anyhow::{bail, Context, Result};
use nix::sched::CloneFlags;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

/// At create: `container:X` becomes X's id (X must exist), `--uts host`
/// takes the host's name as the container's host name, and keep-id makes
/// the user's ids the default user.
pub(crate) fn resolve_at_create(
    store: &Store,
    req: &CreateRequest,
    process: &mut ProcessConfig,
) -> Result<NamespaceConfig> {
    let mut ns = req.namespaces.clone();
    if let IpcMode::Container(x) = &ns.ipc {
        ns.ipc = IpcMode::Container(store.resolve_container(x)?.id);
    }
    if let PidMode::Container(x) = &ns.pid {
        ns.pid = PidMode::Container(store.resolve_container(x)?.id);
    }
    if ns.uts == UtsMode::Host {
        process.hostname = nix::unistd::gethostname()
            .context("reading the host name (--uts host)")?
            .to_string_lossy()
            .into_owned();
    }
    if let UsernsMode::KeepId(k) = &ns.userns {
        if req.process.user.is_none() {
            process.user = format!("{}:{}", k.uid, k.gid);
        }
    }
    if let Some(adj) = req.kernel.oom_score_adj {
        check_oom_score_adj(adj)?;
    }
    Ok(ns)
}

/// Enters berth's user namespace for a command that will start a
/// container with `ns`: the one of the containers it shares namespaces
/// with (`--ipc`/`--pid container:X`, joined through X's monitor), else a
/// new one (`userns::enter`). Before any thread exists.
pub(crate) fn enter_user_namespace(store: &Store, ns: &NamespaceConfig) -> Result<()> {
    let mut targets = Vec::new();
    if let IpcMode::Container(x) = &ns.ipc {
        targets.push(("IPC", x));
    }
    if let PidMode::Container(x) = &ns.pid {
        targets.push(("PID", x));
    }
    let Some((what, first)) = targets.first() else {
        return crate::userns::enter();
    };
    let mut monitors = Vec::new();
    for (what, x) in &targets {
        let record = store.resolve_container(x)?;
        let state = store.observed_state(&record.id)?;
        let monitor = state.monitor();
        if !state.status.is_running() || !monitor.is_alive() {
            bail!("cannot join {what} of a non running container: {x}");
        }
        monitors.push(monitor);
    }
    let user_ns = |pid: i32| std::fs::read_link(format!("/proc/{pid}/ns/user")).ok();
    if monitors
        .iter()
        .any(|m| user_ns(m.pid) != user_ns(monitors[0].pid))
    {
        bail!(
            "the containers named by --ipc and --pid were started by separate berth commands, \
             in separate user namespaces, and one container cannot share both: start them \
             with one of them sharing the other's namespaces first"
        );
    }
    let pidfd = monitors[0]
        .open()
        .map_err(|_| anyhow::anyhow!("cannot join {what} of a non running container: {first}"))?;
    crate::userns::join(&pidfd, &format!("container {first}"))
}

/// Lowering the OOM score adjustment below the current value needs
/// CAP_SYS_RESOURCE on the host, which an unprivileged user lacks.
fn check_oom_score_adj(adj: i32) -> Result<()> {
    if crate::userns::is_real_root() {
        return Ok(());
    }
    let current: i32 = std::fs::read_to_string("/proc/self/oom_score_adj")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    if adj < current {
        bail!(
            "--oom-score-adj {adj}: lowering the OOM score adjustment below the current {current} \
             needs CAP_SYS_RESOURCE on the host, which an unprivileged user does not have; use a \
             value of {current} or more"
        );
    }
    Ok(())
}

/// What the monitor prepared for one launch of the container.
#[derive(Default)]
pub(crate) struct Launch {
    /// The init of `--ipc container:X`, pinned.
    ipc_donor: Option<OwnedFd>,
    /// `--userns keep-id`: the child gets a user namespace of its own.
    keep_id: Option<KeepId>,
    /// The child waits on this until its id maps are written.
    maps_written: Option<(OwnedFd, OwnedFd)>,
    /// No new pid namespace (`--pid host` or `container:X`).
    shared_pid: bool,
    /// Real root's container: a user namespace of its own, mapped by
    /// `start::write_root_id_maps`.
    root_userns: bool,
}

impl Launch {
    /// In the monitor, before the clone: the other containers named by
    /// `container:X` must run; their pid namespace is joined here (it
    /// applies to the children we clone from now on).
    pub(crate) fn prepare(store: &Store, record: &ContainerRecord) -> Result<Launch> {
        let ns = &record.host.namespaces;
        let mut launch = Launch::default();
        match &ns.pid {
            PidMode::Private => {}
            PidMode::Host => launch.shared_pid = true,
            PidMode::Container(id) => {
                let donor = running_init(store, id, "PID")?;
                nix::sched::setns(&donor, CloneFlags::CLONE_NEWPID)
                    .with_context(|| joining_failed("pid", id))?;
                launch.shared_pid = true;
            }
        }
        if let IpcMode::Container(id) = &ns.ipc {
            let donor = store.container(id)?;
            if donor.host.namespaces.ipc != IpcMode::Shareable {
                bail!(
                    "can't join IPC of container {id}: non-shareable IPC (hint: use --ipc \
                     shareable for the donor container)"
                );
            }
            launch.ipc_donor = Some(running_init(store, id, "IPC")?);
        }
        if let UsernsMode::KeepId(k) = &ns.userns {
            launch.keep_id = Some(k.clone());
            launch.maps_written =
                Some(nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("creating a pipe")?);
        } else if super::start::root_userns(record) {
            launch.root_userns = true;
            launch.maps_written =
                Some(nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("creating a pipe")?);
        }
        Ok(launch)
    }

    /// The namespace flags of the clone that makes the init.
    pub(crate) fn clone_flags(&self) -> libc::c_ulong {
        let mut flags = 0;
        if !self.shared_pid {
            flags |= libc::CLONE_NEWPID;
        }
        if self.keep_id.is_some() || self.root_userns {
            flags |= libc::CLONE_NEWUSER;
        }
        flags as libc::c_ulong
    }

    /// In the cloned child, first: waits until the parent wrote the maps.
    pub(crate) fn child_wait(&self) {
        if let Some((r, w)) = &self.maps_written {
            // SAFETY: closing our copy of the write end, a descriptor this
            // child inherited and does not use otherwise.
            unsafe {
                libc::close(w.as_raw_fd());
            }
            let mut byte = [0u8; 1];
            let _ = nix::unistd::read(r, &mut byte);
        }
    }

    /// In the monitor, after the clone: writes the child's id maps and
    /// lets it go on.
    pub(crate) fn after_clone(&mut self, child: i32) -> Result<()> {
        let Some((_r, w)) = self.maps_written.take() else {
            return Ok(());
        };
        if let Some(k) = &self.keep_id {
            crate::userns::keep_id::write_maps(child, k)?;
        }
        if self.root_userns {
            super::start::write_root_id_maps(child)?;
        }
        nix::unistd::write(&w, &[1]).context("releasing the container's init")?;
        Ok(())
    }
}

fn joining_failed(what: &str, id: &str) -> String {
    format!(
        "joining the {what} namespace of container {id}; if that container was started again \
         by another berth command since this one was started, start this one again"
    )
}

/// A pidfd of the init of running container `id`, for `--ipc`/`--pid
/// container:ID`; `what` names the namespace in Docker's error.
fn running_init(store: &Store, id: &str, what: &str) -> Result<OwnedFd> {
    let state = store.observed_state(id)?;
    if !state.status.is_running() {
        bail!("cannot join {what} of a non running container: {id}");
    }
    state
        .process()
        .open()
        .map_err(|_| anyhow::anyhow!("cannot join {what} of a non running container: {id}"))
}

/// In the init: the namespaces it unshares (the mount namespace always;
/// the network one when private).
pub(crate) fn unshare_flags(record: &ContainerRecord, private_net: bool) -> CloneFlags {
    let ns = &record.host.namespaces;
    let mut flags = CloneFlags::CLONE_NEWNS;
    if ns.uts == UtsMode::Private {
        flags |= CloneFlags::CLONE_NEWUTS;
    }
    if ns.ipc.is_private() {
        flags |= CloneFlags::CLONE_NEWIPC;
    }
    if ns.cgroupns == CgroupnsMode::Private {
        flags |= CloneFlags::CLONE_NEWCGROUP;
    }
    if private_net {
        flags |= CloneFlags::CLONE_NEWNET;
    }
    flags
}

/// In the init, right after unshare: the IPC namespace of `--ipc
/// container:X`, `--sysctl`, `--oom-score-adj`.
pub(crate) fn after_unshare(record: &ContainerRecord, launch: &Launch) -> Result<()> {
    if let Some(donor) = &launch.ipc_donor {
        nix::sched::setns(donor, CloneFlags::CLONE_NEWIPC).context(
            "joining the other container's IPC namespace (--ipc container:); if it \
                      was restarted by another berth command since this container was started, \
                      start this one again",
        )?;
    }
    for (key, value) in &record.host.kernel.sysctls {
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        std::fs::write(&path, value.as_bytes())
            .with_context(|| format!("setting sysctl {key}={value} (--sysctl): writing {path}"))?;
    }
    if let Some(adj) = record.host.kernel.oom_score_adj {
        std::fs::write("/proc/self/oom_score_adj", adj.to_string()).with_context(|| {
            format!(
                "setting --oom-score-adj {adj} (lowering it needs CAP_SYS_RESOURCE on the host)"
            )
        })?;
    }
    Ok(())
}

/// In the init, once the rootfs is mounted and before anything else is
/// mounted on it: keep-id's entries in /etc/passwd and /etc/group.
pub(crate) fn after_rootfs(root: &InRoot, record: &ContainerRecord) -> Result<()> {
    let UsernsMode::KeepId(k) = &record.host.namespaces.userns else {
        return Ok(());
    };
    let home = match record.config.working_dir.as_str() {
        "" => "/",
        w => w,
    };
    add_entry(
        root,
        "/etc/passwd",
        k.uid,
        2,
        &format!("{}:*:{}:{}::{home}:/bin/sh\n", k.user, k.uid, k.gid),
    )?;
    add_entry(
        root,
        "/etc/group",
        k.gid,
        2,
        &format!("{}:x:{}:{}\n", k.user, k.gid, k.user),
    )
}

/// Appends `line` to the container's `path` unless an entry already has
/// `id` in field `field`. Nothing is mounted in the rootfs yet, so the
/// file resolved inside it (symlinks included) is the container's own; a
/// missing file, one that is not regular, or a read-only rootfs is left
/// alone (the process still runs with the ids).
fn add_entry(root: &InRoot, path: &str, id: u32, field: usize, line: &str) -> Result<()> {
    use std::io::{Read, Seek, Write};
    use std::os::unix::fs::OpenOptionsExt;
    let Ok(found) = root.resolve(path) else {
        return Ok(());
    };
    let regular =
        nix::sys::stat::fstat(&found).is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFREG);
    if !regular {
        return Ok(());
    }
    // Reopened through its descriptor: the inode resolved above, whatever
    // the name points at by now.
    let Ok(mut f) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(crate::mounts::fd_path(&found))
    else {
        return Ok(());
    };
    let mut content = String::new();
    if (&mut f)
        .take(16 << 20)
        .read_to_string(&mut content)
        .is_err()
    {
        return Ok(());
    }
    let id = id.to_string();
    if content
        .lines()
        .any(|l| l.split(':').nth(field) == Some(id.as_str()))
    {
        return Ok(());
    }
    let mut add = String::new();
    if !content.is_empty() && !content.ends_with('\n') {
        add.push('\n');
    }
    add.push_str(line);
    f.seek(std::io::SeekFrom::End(0))?;
    f.write_all(add.as_bytes())
        .with_context(|| format!("adding the user of --userns keep-id to {path}"))
}

/// In the init: /proc for the container's pid namespace, or the host's.
pub(crate) fn mount_proc(root: &InRoot, record: &ContainerRecord) -> Result<()> {
    match record.host.namespaces.pid {
        PidMode::Host => crate::mounts::shared_ns::bind_host_proc(root),
        _ => crate::mounts::proc_sys::mount_proc(root),
    }
}

/// In the init, once /dev is set up: /dev/shm as `--ipc` and
/// `--shm-size` want it.
pub(crate) fn after_dev(root: &InRoot, record: &ContainerRecord, launch: &Launch) -> Result<()> {
    use crate::mounts::shared_ns;
    match &record.host.namespaces.ipc {
        IpcMode::Private | IpcMode::Shareable => match record.host.kernel.shm_size {
            Some(bytes) => shared_ns::resize_shm(root, bytes),
            None => Ok(()),
        },
        IpcMode::None => shared_ns::remove_shm(root),
        IpcMode::Host => shared_ns::bind_host_shm(root),
        IpcMode::Container(_) => match &launch.ipc_donor {
            Some(donor) => shared_ns::take_shm_of(donor.as_fd(), root),
            None => Ok(()),
        },
    }
}

/// In the init: the host name (and `--domainname`) of a UTS namespace of
/// the container's own.
pub(crate) fn set_names(record: &ContainerRecord) -> Result<()> {
    if record.host.namespaces.uts == UtsMode::Host {
        return Ok(());
    }
    nix::unistd::sethostname(&record.config.hostname).context("setting the hostname")?;
    let domain = &record.config.domainname;
    if !domain.is_empty() {
        // SAFETY: a pointer and length of a live byte string.
        let r = unsafe { libc::setdomainname(domain.as_ptr().cast(), domain.len()) };
        if r != 0 {
            return Err(std::io::Error::last_os_error()).context("setting the domain name");
        }
    }
    Ok(())
}

/// `--group-add`: the gids to add to the process's groups, names looked
/// up in the container's /etc/group (`group`). Every gid must be mapped,
/// and supplementary groups must be allowed at all (`setgroups_allowed`:
/// not with a single id mapping).
pub(crate) fn extra_groups(
    group_add: &[String],
    group: Option<&str>,
    setgroups_allowed: bool,
) -> Result<Vec<u32>> {
    if group_add.is_empty() {
        return Ok(Vec::new());
    }
    if !setgroups_allowed {
        bail!(
            "--group-add needs supplementary groups, which the kernel forbids in a user \
             namespace with a single id mapping; an administrator can give your user a \
             subordinate id range in /etc/subuid and /etc/subgid"
        );
    }
    let map = std::fs::read_to_string("/proc/self/gid_map").unwrap_or_default();
    let map = crate::userns::idmap::parse_proc_map(&map);
    let mut out = Vec::new();
    for g in group_add {
        let gid = super::user::group_id(g, group)?;
        if !map.is_empty() && !crate::userns::idmap::is_mapped(&map, gid) {
            bail!(
                "--group-add {g}: gid {gid} is not mapped in the container's user namespace \
                 (mapped: {}); use a group inside the subordinate range",
                crate::userns::idmap::describe(&map)
            );
        }
        out.push(gid);
    }
    Ok(out)
}

/// In the monitor, when the program of a `--pid host` container ended:
/// without a pid namespace of its own, the processes it started are not
/// killed with it. The monitor is their subreaper (they were reparented to
/// it), so it ends them, as the end of a pid namespace would, and reaps
/// them; `spare` (a health probe) is left alone. (Orphans of a `--pid
/// container:X` program belong to X's init and end with X.)
pub(crate) fn end_leftovers(record: &ContainerRecord, spare: Option<nix::unistd::Pid>) {
    if record.host.namespaces.pid != PidMode::Host {
        return;
    }
    let me = std::process::id() as i32;
    for _ in 0..100 {
        let children: Vec<i32> = children_of(me)
            .into_iter()
            .filter(|p| Some(*p) != spare.map(|s| s.as_raw()))
            .collect();
        if children.is_empty() {
            return;
        }
        for &pid in &children {
            let pid = nix::unistd::Pid::from_raw(pid);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(pid, None);
        }
    }
}

/// The processes whose parent is `parent`, from /proc.
fn children_of(parent: i32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| {
                    // Fields after the command (which may hold spaces).
                    let rest = &stat[stat.rfind(')')? + 2..];
                    rest.split(' ').nth(1)?.parse::<i32>().ok()
                })
                == Some(parent)
        })
        .collect()
}
