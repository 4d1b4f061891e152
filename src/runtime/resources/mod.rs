//! Resource limits at launch: a cgroup of its own for each container, made
//! by its monitor below the monitor's own cgroup (so a container started
//! in a Slurm job stays inside the job's cgroup), with the limits of
//! `--memory`, `--cpus`, `--pids-limit`... written before the container's
//! init joins it; `--ulimit` through setrlimit ([`ulimit`]); what `stats`
//! reads ([`stats`]).
//!
//! Where each controller lives decides where its limits go:
//! - a cgroup v1 hierarchy (`/sys/fs/cgroup/memory`, on hybrid machines),
//!   writable when berth runs as root or an administrator gave the user a
//!   directory there: `<hierarchy>/<our path>/berth-<id>`;
//! - cgroup v2, when the monitor's cgroup is delegated to the user (or as
//!   root): `<our cgroup>/berth-<id>`, after the controller is enabled in
//!   our cgroup's `cgroup.subtree_control`. A cgroup v2 directory may not
//!   hold processes and enable controllers for its children at once, so
//!   the processes in it are first moved into a child `berth-leaf` (as
//!   Docker-in-Docker's entrypoint does); they stay inside our cgroup.
//!
//! Without limits only the cgroup v2 directory is made, when ours is
//! writable, so that `pause` can freeze the container alone (what berth did
//! before limits existed; nothing more is read or written on that path).
//!
//! What cannot be applied is said once, at `create` ([`plan`] and
//! [`unapplied_warning`]); the container runs without it, never silently.

pub(crate) mod cgroupfs;
pub(crate) mod limits;
pub(crate) mod stats;
pub(crate) mod ulimit;

use crate::model::resources::{Controller, ResourcesConfig};
use anyhow::{bail, Context, Result};
use cgroupfs::{Hierarchies, Membership};
use limits::Version;
use std::path::{Path, PathBuf};

/// The child of a cgroup v2 directory that its processes move into when
/// berth enables controllers there.
pub(crate) const LEAF: &str = "berth-leaf";

/// The name of a container's cgroup directories.
pub(crate) fn cgroup_name(id: &str) -> String {
    format!("berth-{}", &id[..12.min(id.len())])
}

/// Where one controller's limits go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Place {
    /// A cgroup v1 hierarchy: the container's directory goes under `parent`.
    V1 { parent: PathBuf },
    /// The cgroup v2 hierarchy, under [`Plan::v2_parent`].
    V2,
}

/// Why a controller cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Missing {
    /// Its cgroup v1 hierarchy (mounted here) is not writable by this user.
    V1NotWritable(PathBuf),
    /// Our cgroup v2 directory is not writable by this user.
    V2NotWritable(PathBuf),
    /// Our cgroup v2 directory does not offer it (these are offered).
    V2NotOffered(PathBuf, Vec<String>),
    /// No hierarchy carries it.
    Nowhere,
}

/// What can be applied for a container's limits, decided from the
/// hierarchies and our place in them, without changing anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Our cgroup v2 directory (or its parent when we sit in a
    /// [`LEAF`]), when this user may create children there.
    pub(crate) v2_parent: Option<PathBuf>,
    pub(crate) placed: Vec<(Controller, Place)>,
    pub(crate) missing: Vec<(Controller, Missing)>,
    /// `--memory-swap` asked for on a kernel without swap accounting.
    pub(crate) no_swap_accounting: bool,
    /// Flags the cgroup version where their controller lives cannot apply
    /// (`--memory-swappiness` and `--oom-kill-disable` on cgroup v2).
    pub(crate) unsupported: Vec<&'static str>,
}

/// Our cgroup v2 directory for containers' cgroups, if writable.
fn v2_parent(h: &Hierarchies, m: &Membership) -> Option<PathBuf> {
    let (Some(v2), Some(own)) = (&h.v2, &m.v2) else {
        return None;
    };
    let mut dir = v2.dir(own);
    if dir.file_name().is_some_and(|n| n == LEAF) {
        dir.pop();
    }
    cgroupfs::writable(&dir).then_some(dir)
}

/// The plan for `r` on this machine, for this process.
pub(crate) fn plan(r: &ResourcesConfig) -> Plan {
    plan_with(r, &Hierarchies::read(), &Membership::read(None))
}

pub(crate) fn plan_with(r: &ResourcesConfig, h: &Hierarchies, m: &Membership) -> Plan {
    let mut plan = Plan {
        v2_parent: v2_parent(h, m),
        ..Default::default()
    };
    for c in r.controllers() {
        if let Some(mount) = h.v1_for(c.v1_name()) {
            let parent = mount.dir(m.v1_path(c.v1_name()).unwrap_or("/"));
            if cgroupfs::writable(&parent) {
                if c == Controller::Memory
                    && r.memory_swap > 0
                    && !parent.join("memory.memsw.limit_in_bytes").exists()
                {
                    plan.no_swap_accounting = true;
                }
                plan.placed.push((c, Place::V1 { parent }));
            } else {
                plan.missing
                    .push((c, Missing::V1NotWritable(mount.point.clone())));
            }
            continue;
        }
        let Some(v2) = &h.v2 else {
            plan.missing.push((c, Missing::Nowhere));
            continue;
        };
        match &plan.v2_parent {
            None => {
                let own = v2.dir(m.v2.as_deref().unwrap_or("/"));
                plan.missing.push((c, Missing::V2NotWritable(own)));
            }
            Some(p) => {
                let offered = cgroupfs::words(&p.join("cgroup.controllers"));
                if offered.iter().any(|o| o == c.v2_name()) {
                    if c == Controller::Memory {
                        if r.memory_swappiness.is_some() {
                            plan.unsupported.push("--memory-swappiness");
                        }
                        if r.oom_kill_disable {
                            plan.unsupported.push("--oom-kill-disable");
                        }
                    }
                    plan.placed.push((c, Place::V2));
                } else {
                    plan.missing
                        .push((c, Missing::V2NotOffered(p.clone(), offered)));
                }
            }
        }
    }
    plan
}

/// How an administrator gives users cgroup controllers (Docker's and
/// Podman's rootless documentation say the same).
const DELEGATION_HELP: &str = "An administrator can delegate cgroup controllers to users as for \
     rootless Docker and Podman: run cgroup v2 only (boot with \
     systemd.unified_cgroup_hierarchy=1 where cgroup v1 is still mounted), delegate the \
     controllers (/etc/systemd/system/user@.service.d/delegate.conf: `[Service]` \
     `Delegate=cpu cpuset io memory pids`, then `systemctl daemon-reload`), and start berth in a \
     delegated cgroup (`systemd-run --user --scope -p Delegate=yes berth run ...`). Inside a \
     Slurm job, ask Slurm for the limits instead (--mem, --cpus-per-task)";

/// The one warning `create` prints when limits cannot all be applied:
/// which flags, why, and how an administrator delegates them.
pub(crate) fn unapplied_warning(r: &ResourcesConfig, plan: &Plan) -> Option<String> {
    let (flags, reasons) = unapplied(r, plan)?;
    let (verb, pronoun) = if flags.len() == 1 {
        ("is", "it")
    } else {
        ("are", "them")
    };
    Some(format!(
        "{} {verb} not applied: {reasons}. The container runs without {pronoun}. {DELEGATION_HELP}.",
        flags.join(", ")
    ))
}

/// The flags of `r` that `plan` cannot apply, and why.
fn unapplied(r: &ResourcesConfig, plan: &Plan) -> Option<(Vec<&'static str>, String)> {
    let mut flags: Vec<&str> = r
        .cgroup_flags()
        .into_iter()
        .filter(|(_, c)| plan.missing.iter().any(|(m, _)| m == c))
        .map(|(f, _)| f)
        .collect();
    let mut reasons: Vec<String> = Vec::new();
    let mut group = |why: String, c: Controller| {
        let name = c.v1_name();
        match reasons.iter_mut().find(|r| r.ends_with(&why)) {
            Some(r) => *r = format!("{name}, {r}"),
            None => reasons.push(format!("{name}: {why}")),
        }
    };
    for (c, m) in &plan.missing {
        let why = match m {
            Missing::V1NotWritable(point) => format!(
                "its cgroup v1 hierarchy {} is not writable by this user",
                point.display()
            ),
            Missing::V2NotWritable(dir) => {
                format!("cgroup v2 {} is not delegated to this user", dir.display())
            }
            Missing::V2NotOffered(dir, offered) => format!(
                "cgroup v2 {} does not offer it (cgroup.controllers: {})",
                dir.display(),
                if offered.is_empty() {
                    "none".to_string()
                } else {
                    offered.join(" ")
                }
            ),
            Missing::Nowhere => "no cgroup hierarchy carries it".to_string(),
        };
        group(why, *c);
    }
    if plan.no_swap_accounting {
        flags.push("--memory-swap");
        reasons.push(
            "swap: this kernel does not account swap in cgroups (boot with swapaccount=1)".into(),
        );
    }
    if !plan.unsupported.is_empty() {
        flags.extend(&plan.unsupported);
        reasons.push(format!(
            "{}: cgroup v2 has no per-cgroup swappiness or OOM killer switch",
            plan.unsupported.join(", ")
        ));
    }
    if flags.is_empty() {
        return None;
    }
    flags.dedup();
    Some((flags, reasons.join("; ")))
}

/// One directory of a container's cgroups.
#[derive(Debug, Clone)]
struct Dir {
    version: Version,
    /// The controllers whose limits are written here.
    controllers: Vec<Controller>,
    path: PathBuf,
}

/// A running container's cgroups, held by its monitor.
#[derive(Debug, Default)]
pub(crate) struct ContainerCgroup {
    dirs: Vec<Dir>,
}

impl ContainerCgroup {
    /// Makes the container's cgroup directories and writes its limits,
    /// before its init starts (which joins them: [`join`]).
    pub(crate) fn create(id: &str, r: &ResourcesConfig) -> Result<ContainerCgroup> {
        let name = cgroup_name(id);
        let mut cg = ContainerCgroup::default();
        if !r.has_cgroup_limits() {
            // The launch path of most containers: a v2 directory for pause.
            // Only cgroup v2 matters here, at its usual place when it is.
            let h = match cgroupfs::usual_v2_mount() {
                Some(v2) => Hierarchies {
                    v2: Some(v2),
                    v1: vec![],
                },
                None => Hierarchies::read(),
            };
            if let Some(parent) = v2_parent(&h, &Membership::read(None)) {
                cg.add_dir(Version::V2, parent.join(&name), vec![]);
            }
            return Ok(cg);
        }
        let plan = plan(r);
        if let Err(e) = cg.apply_plan(&plan, &name, r) {
            cg.remove();
            return Err(e);
        }
        Ok(cg)
    }

    fn add_dir(&mut self, version: Version, path: PathBuf, controllers: Vec<Controller>) -> bool {
        match std::fs::create_dir(&path) {
            Ok(()) => {}
            // Left by a monitor that was killed: used again.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(_) => return false,
        }
        self.dirs.push(Dir {
            version,
            controllers,
            path,
        });
        true
    }

    fn apply_plan(&mut self, plan: &Plan, name: &str, r: &ResourcesConfig) -> Result<()> {
        for (c, place) in &plan.placed {
            let Place::V1 { parent } = place else {
                continue;
            };
            let path = parent.join(name);
            let existing = self.dirs.iter().position(|d| d.path == path);
            let i = match existing {
                Some(i) => i,
                None => {
                    if !self.add_dir(Version::V1, path.clone(), vec![]) {
                        bail!("creating the cgroup {}", path.display());
                    }
                    self.dirs.len() - 1
                }
            };
            if *c == Controller::Cpuset {
                limits::init_v1_cpuset(&path, parent)?;
            }
            self.dirs[i].controllers.push(*c);
            limits::apply(Version::V1, *c, &path, r)?;
        }
        let v2: Vec<Controller> = plan
            .placed
            .iter()
            .filter(|(_, p)| *p == Place::V2)
            .map(|(c, _)| *c)
            .collect();
        if let Some(parent) = &plan.v2_parent {
            if !v2.is_empty() {
                enable_v2_controllers(parent, &v2)?;
            }
            let path = parent.join(name);
            match self.dirs.iter_mut().find(|d| d.path == path) {
                // `update` adding a controller to the directory made for pause.
                Some(d) => d.controllers.extend(&v2),
                None => {
                    if !self.add_dir(Version::V2, path.clone(), v2.clone()) && !v2.is_empty() {
                        bail!("creating the cgroup {}", path.display());
                    }
                }
            }
            for c in &v2 {
                limits::apply(Version::V2, *c, &path, r)?;
            }
        }
        Ok(())
    }

    /// The `cgroup.procs` files the container's init writes itself into.
    pub(crate) fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs
            .iter()
            .map(|d| d.path.join("cgroup.procs"))
            .collect()
    }

    /// New limits `r` for the running container whose init is `init`
    /// (`update`), for the controllers of the flags given (`changed`):
    /// written where the container has a cgroup for the controller; a
    /// controller it has none for gets one, and the container's processes
    /// move into it.
    pub(crate) fn update(
        &mut self,
        id: &str,
        init: i32,
        r: &ResourcesConfig,
        changed: &ResourcesConfig,
    ) -> Result<()> {
        let mut wanted = changed.controllers();
        if changed.pids_limit.is_some() && !wanted.contains(&Controller::Pids) {
            wanted.push(Controller::Pids);
        }
        let mut new_dirs = Vec::new();
        for c in wanted {
            if let Some(d) = self.dirs.iter().find(|d| d.controllers.contains(&c)) {
                limits::apply(d.version, c, &d.path, r)?;
                continue;
            }
            if c == Controller::Pids && r.pids_limit.is_some_and(|p| p <= 0) {
                // Unlimited, and no pids cgroup limits it now.
                continue;
            }
            // The plan of one controller: a config with just its flags.
            let only = only_controller(r, c);
            let plan = plan(&only);
            if let Some((flags, reasons)) = unapplied(&only, &plan) {
                bail!(
                    "{} cannot be applied to the running container: {reasons}. {DELEGATION_HELP}",
                    flags.join(", ")
                );
            }
            let before = self.dirs.len();
            self.apply_plan(&plan, &cgroup_name(id), &only)?;
            // The container's processes are already in a directory that
            // existed; new ones need them moved in.
            new_dirs.extend(self.dirs[before..].iter().map(|d| d.path.clone()));
        }
        for dir in new_dirs {
            move_container_processes(init, &dir)?;
        }
        Ok(())
    }

    /// Whether the kernel's OOM killer killed a process of the
    /// container's memory cgroup.
    pub(crate) fn oom_killed(&self) -> bool {
        self.dirs.iter().any(|d| {
            let (file, key) = match d.version {
                Version::V1 => ("memory.oom_control", "oom_kill"),
                Version::V2 => ("memory.events", "oom_kill"),
            };
            std::fs::read_to_string(d.path.join(file))
                .ok()
                .and_then(|t| cgroupfs::keyed(&t, key))
                .is_some_and(|n| n > 0)
        })
    }

    /// Removes the container's directories once its processes are gone,
    /// and those that monitors killed before they could left beside them.
    pub(crate) fn remove(&mut self) {
        for d in self.dirs.drain(..) {
            for _ in 0..20 {
                match std::fs::remove_dir(&d.path) {
                    Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                        std::thread::sleep(std::time::Duration::from_millis(2))
                    }
                    _ => break,
                }
            }
            if let Some(parent) = d.path.parent() {
                sweep_stale(parent);
            }
        }
    }
}

/// Removes the containers' cgroups in `parent` that hold no process and
/// are older than a minute: a container's init joins its cgroup within
/// moments of its creation, so these belong to containers whose monitor
/// was killed (a Slurm job's end, say).
fn sweep_stale(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    let minute_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if !name.starts_with("berth-") || name == LEAF {
            continue;
        }
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t < minute_ago);
        let empty = std::fs::read_to_string(e.path().join("cgroup.procs"))
            .is_ok_and(|p| p.trim().is_empty());
        if old && empty {
            let _ = std::fs::remove_dir(e.path());
        }
    }
}

/// `r` with only the flags of controller `c` set.
fn only_controller(r: &ResourcesConfig, c: Controller) -> ResourcesConfig {
    let mut out = ResourcesConfig::default();
    match c {
        Controller::Memory => {
            out.memory = r.memory;
            out.memory_swap = r.memory_swap;
            out.memory_reservation = r.memory_reservation;
        }
        Controller::Cpu => {
            out.nano_cpus = r.nano_cpus;
            out.cpu_shares = r.cpu_shares;
            out.cpu_period = r.cpu_period;
            out.cpu_quota = r.cpu_quota;
        }
        Controller::Cpuset => {
            out.cpuset_cpus = r.cpuset_cpus.clone();
            out.cpuset_mems = r.cpuset_mems.clone();
        }
        Controller::Pids => out.pids_limit = r.pids_limit,
        Controller::Io => out.blkio_weight = r.blkio_weight,
    }
    out
}

/// Enables `controllers` for the children of the cgroup v2 directory
/// `parent`. A directory with processes cannot (EBUSY): they move into
/// its child [`LEAF`] first, and stay below `parent`.
fn enable_v2_controllers(parent: &Path, controllers: &[Controller]) -> Result<()> {
    let names: Vec<&str> = controllers.iter().map(|c| c.v2_name()).collect();
    enable_v2(parent, &names)
}

fn enable_v2(parent: &Path, names: &[&str]) -> Result<()> {
    let enabled = cgroupfs::words(&parent.join("cgroup.subtree_control"));
    let add: Vec<String> = names
        .iter()
        .filter(|n| !enabled.iter().any(|e| e == *n))
        .map(|n| format!("+{n}"))
        .collect();
    if add.is_empty() {
        return Ok(());
    }
    let control = parent.join("cgroup.subtree_control");
    let line = add.join(" ");
    for attempt in 0..5 {
        match std::fs::write(&control, &line) {
            Ok(()) => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && attempt < 4 => {
                evacuate(parent)?;
            }
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("enabling {} in {}", line, control.display()))
            }
        }
    }
    Ok(())
}

/// Moves every process of the cgroup v2 directory `dir` into its child
/// [`LEAF`].
fn evacuate(dir: &Path) -> Result<()> {
    let leaf = dir.join(LEAF);
    match std::fs::create_dir(&leaf) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).with_context(|| format!("creating {}", leaf.display())),
    }
    let procs = std::fs::read_to_string(dir.join("cgroup.procs"))
        .with_context(|| format!("listing the processes of {}", dir.display()))?;
    for pid in procs.split_whitespace() {
        // A process that exited meanwhile is no error.
        let _ = std::fs::write(leaf.join("cgroup.procs"), pid);
    }
    Ok(())
}

/// Moves every process of the container whose init is `init` (those of
/// its pid namespace) into the cgroup `dir`.
fn move_container_processes(init: i32, dir: &Path) -> Result<()> {
    let procs = dir.join("cgroup.procs");
    // Two passes: a process forked during the first is caught by the second.
    for _ in 0..2 {
        for pid in container_pids(init) {
            let _ = std::fs::write(&procs, pid.to_string());
        }
    }
    std::fs::write(&procs, init.to_string())
        .with_context(|| format!("moving the container into {}", dir.display()))
}

/// The container's processes (as the host sees them): those of the pid
/// namespace whose pid 1 `init` is, or, when it shares a pid namespace
/// (`--pid host`, `--pid container:X`), `init` and its descendants.
pub(crate) fn container_pids(init: i32) -> Vec<i32> {
    let status = std::fs::read_to_string(format!("/proc/{init}/status")).unwrap_or_default();
    let own_namespace = status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .and_then(|v| v.split_whitespace().last())
        == Some("1");
    let ns = std::fs::read_link(format!("/proc/{init}/ns/pid")).ok();
    let mut parents: Vec<(i32, i32)> = Vec::new();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if own_namespace {
            if ns.is_some() && std::fs::read_link(e.path().join("ns/pid")).ok() == ns {
                out.push(pid);
            }
        } else if let Some(ppid) = std::fs::read_to_string(e.path().join("stat"))
            .ok()
            .and_then(|s| {
                s.rsplit_once(')')?
                    .1
                    .split_whitespace()
                    .nth(1)?
                    .parse()
                    .ok()
            })
        {
            parents.push((pid, ppid));
        }
    }
    if !own_namespace {
        out.push(init);
        let mut i = 0;
        while i < out.len() {
            let p = out[i];
            out.extend(parents.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
            i += 1;
        }
    }
    out
}

/// In the container's init, before anything else: joins the cgroups its
/// monitor made (writing 0 moves the writer, whatever its pid is in its
/// new pid namespace).
pub(crate) fn join(procs_files: &[PathBuf]) -> Result<()> {
    for f in procs_files {
        std::fs::write(f, "0").with_context(|| {
            format!(
                "joining the container's cgroup {}",
                f.parent().unwrap_or(f).display()
            )
        })?;
    }
    Ok(())
}

/// For `exec`, before it forks the new process: joins the container's
/// cgroups, so that its limits (and `pause`) apply to that process too;
/// what cannot be joined is said.
pub(crate) fn join_for_exec(init: i32, id: &str) {
    for failure in join_container_of(init, id) {
        crate::util::report::warning(&format!(
            "the new process runs outside the container's cgroup, so the container's limits do \
             not apply to it: {failure}"
        ));
    }
}

/// This process joins the cgroups of the container whose init is `init`
/// (those berth made for it). Returns what could not be joined.
fn join_container_of(init: i32, id: &str) -> Vec<String> {
    let name = cgroup_name(id);
    let h = Hierarchies::read();
    let m = Membership::read(Some(init));
    let mut dirs = Vec::new();
    if let (Some(v2), Some(p)) = (&h.v2, &m.v2) {
        dirs.push(v2.dir(p));
    }
    for (ctrls, p) in &m.v1 {
        if let Some(mount) = ctrls.first().and_then(|c| h.v1_for(c)) {
            dirs.push(mount.dir(p));
        }
    }
    let mut failed = Vec::new();
    for d in dirs {
        if d.file_name().is_some_and(|n| n.to_string_lossy() == name) {
            if let Err(e) = std::fs::write(d.join("cgroup.procs"), "0") {
                failed.push(format!("{}: {e}", d.display()));
            }
        }
    }
    failed
}

/// `create`'s part: the limits checked, the one warning about those
/// that cannot be applied here, `--ulimit`s this user could never set
/// refused, and the devices checked and resolved (before anything of the
/// container is made).
pub(crate) fn prepare(
    req: &crate::model::CreateRequest,
) -> Result<(ResourcesConfig, crate::model::devices::DevicesConfig)> {
    let r = &req.resources;
    if !r.is_unset() {
        check(r)?;
        ulimit::check(&r.ulimits, crate::userns::is_real_root())?;
        if r.has_cgroup_limits() {
            if let Some(w) = unapplied_warning(r, &plan(r)) {
                crate::util::report::warning(&w);
            }
        }
    }
    let devices = if req.devices.is_empty() {
        req.devices.clone()
    } else {
        super::devices::provision(&req.devices)?
    };
    Ok((r.clone(), devices))
}

/// Checks the limits as Docker's daemon does, with what this machine has.
pub(crate) fn check(r: &ResourcesConfig) -> Result<()> {
    const MIN_MEMORY: i64 = 6 * 1024 * 1024;
    if r.memory != 0 && r.memory < MIN_MEMORY {
        bail!("Minimum memory limit allowed is 6MB");
    }
    if r.memory_swap != 0 && r.memory == 0 {
        bail!("You should always set the Memory limit when using Memoryswap limit, see usage");
    }
    if r.memory_swap > 0 && r.memory_swap < r.memory {
        bail!("Minimum memoryswap limit should be larger than memory limit, see usage");
    }
    if r.memory_reservation != 0 && r.memory_reservation < MIN_MEMORY {
        bail!("Minimum memory reservation allowed is 6MB");
    }
    if r.memory != 0 && r.memory_reservation > r.memory {
        bail!("Minimum memory limit can not be less than memory reservation limit, see usage");
    }
    if r.nano_cpus != 0 && r.cpu_quota != 0 {
        bail!("Conflicting options: Nano CPUs and CPU Quota cannot both be set");
    }
    if r.nano_cpus != 0 && r.cpu_period != 0 {
        bail!("Conflicting options: Nano CPUs and CPU Period cannot both be set");
    }
    // Counting CPUs reads cgroup files: only when --cpus asks (run's start).
    if r.nano_cpus != 0 {
        let cpus = online_cpus();
        if r.nano_cpus < 10_000_000 || r.nano_cpus > cpus as i64 * 1_000_000_000 {
            bail!(
                "Range of CPUs is from 0.01 to {cpus}.00, as there are only {cpus} CPUs available"
            );
        }
    }
    if r.cpu_period != 0 && !(1000..=1_000_000).contains(&r.cpu_period) {
        bail!(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"
        );
    }
    if r.cpu_quota > 0 && r.cpu_quota < 1000 {
        bail!("CPU cfs quota can not be less than 1ms (i.e. 1000)");
    }
    if r.cpu_shares < 0 {
        bail!("invalid --cpu-shares {}: shares are a positive relative weight (Docker's default is 1024)", r.cpu_shares);
    }
    if let Some(s) = r.memory_swappiness.filter(|s| !(0..=100).contains(s)) {
        bail!("Invalid value: {s}, valid memory swappiness range is 0-100");
    }
    if r.blkio_weight != 0 && !(10..=1000).contains(&r.blkio_weight) {
        bail!("Range of blkio weight is from 10 to 1000");
    }
    check_set(&r.cpuset_cpus, "/sys/devices/system/cpu/online", "CPUs")?;
    check_set(
        &r.cpuset_mems,
        "/sys/devices/system/node/online",
        "Memory nodes",
    )?;
    Ok(())
}

fn online_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// `--cpuset-cpus`/`--cpuset-mems`: a list (`0-3,5`) of what is online.
fn check_set(value: &str, online_file: &str, what: &str) -> Result<()> {
    if value.is_empty() {
        return Ok(());
    }
    let wanted = parse_list(value).ok_or_else(|| {
        anyhow::anyhow!("invalid value {value:?} for cpuset: expected a list such as 0-3 or 0,1")
    })?;
    let online_text = std::fs::read_to_string(online_file).unwrap_or_default();
    let Some(online) = parse_list(online_text.trim()) else {
        return Ok(());
    };
    if wanted.iter().any(|n| !online.contains(n)) {
        bail!(
            "Requested {what} are not available - requested {value}, available: {}",
            online_text.trim()
        );
    }
    Ok(())
}

/// `0-3,5` as numbers.
pub(crate) fn parse_list(s: &str) -> Option<Vec<u32>> {
    let mut out = Vec::new();
    for part in s.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
                if a > b || b - a > 4096 {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.trim().parse().ok()?),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests;
