//! A service's container as a `CreateRequest`: every field of the
//! Compose service mapped to what `berth run` would be given, or to an
//! error (or, for resource limits, a warning) that names the field and
//! says why berth does not apply it. Nothing is dropped silently; the
//! only fields left alone are those Docker Compose itself ignores outside
//! Swarm (`deploy.placement`, `update_config`, ...) or outside `watch`
//! (`develop`).
//!
//! One function per group of fields, in the order of the CreateRequest.

use super::labels::{self, Role};
use super::project::Project;
use super::types::{self, Service, VolumeMount};
use crate::model::lifecycle::{LifecycleConfig, RestartPolicy};
use crate::model::network::NetworkConfig;
use crate::model::{ContainerRecord, ProcessRequest};
use crate::model::{
    CreateRequest, HealthOverrides, MountKind, MountOrigin, MountRequest, NetworkMode,
};
use crate::runtime::mount_spec;
use anyhow::{anyhow, bail, Context, Result};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Everything besides the service that decides its container.
pub(crate) struct Target<'a> {
    pub(crate) project: &'a Project,
    pub(crate) service: &'a Service,
    /// The container's name.
    pub(crate) name: String,
    pub(crate) role: Role,
    /// The id of the image the container runs.
    pub(crate) image_id: String,
    /// `--env-file`s of the command line, for the label.
    pub(crate) env_files: &'a [String],
    /// Secrets and configs from the environment or inline content,
    /// written to files: (`secret`|`config`, name) → file.
    pub(crate) generated: &'a BTreeMap<(String, String), PathBuf>,
    /// The container this one replaces: its anonymous volumes are kept.
    pub(crate) replaces: Option<&'a ContainerRecord>,
    /// `volumes_from` with services resolved to container names.
    pub(crate) volumes_from: Vec<String>,
    /// `compose run`'s overrides.
    pub(crate) oneoff: Option<&'a OneOffOverrides>,
}

/// What `compose run` changes in the service's container.
#[derive(Debug, Clone, Default)]
pub(crate) struct OneOffOverrides {
    pub(crate) command: Option<Vec<String>>,
    pub(crate) entrypoint: Option<Vec<String>>,
    pub(crate) env: Vec<String>,
    pub(crate) labels: Vec<(String, String)>,
    pub(crate) user: Option<String>,
    pub(crate) workdir: Option<String>,
    /// `-v`, parsed.
    pub(crate) volumes: Vec<MountRequest>,
    /// `--rm`.
    pub(crate) auto_remove: bool,
    pub(crate) tty: bool,
    /// With `tty`: the caller's terminal size (rows, columns).
    pub(crate) console_size: Option<[u16; 2]>,
    pub(crate) interactive: bool,
    /// `-p` (kept for the network mapping).
    pub(crate) publish: Vec<String>,
    /// `--service-ports`: the service's `ports:` apply.
    pub(crate) service_ports: bool,
}

/// The request and what the user should be told about it.
pub(crate) struct Converted {
    pub(crate) request: CreateRequest,
    pub(crate) warnings: Vec<String>,
}

/// Maps the service to a create request.
pub(crate) fn request(t: &Target) -> Result<Converted> {
    let s = t.service;
    let mut warnings = Vec::new();
    refuse_unsupported(s)?;
    let mut req = CreateRequest {
        name: Some(t.name.clone()),
        image: t.project.image_name(s),
        image_id: Some(t.image_id.clone()),
        process: process(t)?,
        mounts: mounts(t, &mut warnings)?,
        volumes_from: t.volumes_from.clone(),
        read_only: s.read_only,
        network: network(t, &mut warnings)?,
        lifecycle: lifecycle(t)?,
        namespaces: Default::default(),
        log: Default::default(),
        kernel: Default::default(),
        annotations: Default::default(),
        console_size: t.oneoff.and_then(|o| o.console_size),
        devices: Default::default(),
        resources: Default::default(),
        security: crate::runtime::security::config(&crate::runtime::security::Settings {
            privileged: s.privileged,
            cap_add: &s.cap_add,
            cap_drop: &s.cap_drop,
            security_opt: &security_opts(&s.security_opt, &t.project.working_dir),
            landlock: false,
        })
        .with_context(|| format!("service {:?}", s.name))?,
    };
    if let Some(o) = t.oneoff {
        apply_oneoff(&mut req, o)?;
    }
    run_settings(s, &mut req)?;
    resources(s, &mut req, &mut warnings)?;
    Ok(Converted {
        request: req,
        warnings,
    })
}

/// `security_opt` with a relative `seccomp=PROFILE` path taken from the
/// project directory, as every other path of a compose file is, not from
/// wherever the command was run.
fn security_opts(opts: &[String], project_dir: &std::path::Path) -> Vec<String> {
    opts.iter()
        .map(|o| match o.split_once(['=', ':']) {
            Some(("seccomp", p))
                if !["unconfined", "builtin", "default"].contains(&p) && !p.starts_with('/') =>
            {
                format!("seccomp={}", project_dir.join(p).display())
            }
            _ => o.clone(),
        })
        .collect()
}

/// The error for a field berth does not apply.
fn unsupported(s: &Service, field: &str, why: &str) -> anyhow::Error {
    anyhow!(
        "service {:?}: {field} is not supported by berth: {why}; remove it from the service",
        s.name
    )
}

/// Fields whose effect berth cannot give (yet): errors, so that a project
/// never runs differently from what its file says.
fn refuse_unsupported(s: &Service) -> Result<()> {
    const DEVICES: &str = "use devices: (device files) or `berth run --gpus`";
    let checks: &[(&str, bool, &str)] = &[
        ("gpus", s.gpus.is_some(), DEVICES),
        (
            "device_cgroup_rules",
            !s.device_cgroup_rules.is_empty(),
            DEVICES,
        ),
        (
            "cgroup_parent",
            !s.cgroup_parent.is_empty(),
            "berth places each container's cgroup under its monitor's",
        ),
        (
            "storage_opt",
            !s.storage_opt.is_empty(),
            "berth's storage takes no options",
        ),
        ("runtime", !s.runtime.is_empty(), "berth is the runtime"),
        (
            "isolation",
            !matches!(s.isolation.as_str(), "" | "default"),
            "isolation modes are Windows'",
        ),
        (
            "volume_driver",
            !matches!(s.volume_driver.as_str(), "" | "local"),
            "only local volumes exist",
        ),
        (
            "use_api_socket",
            s.use_api_socket,
            "berth has no daemon socket to share",
        ),
        (
            "provider",
            s.provider.is_some(),
            "provider services are not supported",
        ),
        (
            "models",
            s.models.is_some(),
            "model runners are not supported",
        ),
        (
            "post_start",
            s.post_start.is_some(),
            "lifecycle hooks are not supported yet",
        ),
        (
            "pre_stop",
            s.pre_stop.is_some(),
            "lifecycle hooks are not supported yet",
        ),
        (
            "pre_start",
            s.pre_start.is_some(),
            "lifecycle hooks are not supported yet",
        ),
        (
            "label_file",
            !s.label_file.is_empty(),
            "label files are not read yet; use labels",
        ),
        (
            "credential_spec",
            s.credential_spec.is_some(),
            "credential specs are Windows'",
        ),
        ("net", !s.net.is_empty(), "use network_mode"),
    ];
    for (field, set, why) in checks {
        if *set {
            return Err(unsupported(s, field, why));
        }
    }
    if !s.platform.is_empty() {
        let native = format!("linux/{}", crate::image::config::host_architecture());
        if s.platform != native && s.platform != "linux" {
            return Err(unsupported(
                s,
                "platform",
                &format!("berth runs images for this machine ({native}) only"),
            ));
        }
    }
    Ok(())
}

/// Resource limits (`deploy.resources`, `mem_limit`, `cpus`, `pids_limit`,
/// `ulimits`, ...) and `devices`, as `run`'s flags give them; the runtime
/// applies the limits where this user's cgroups allow and warns once per
/// container otherwise. Reservations of CPUs (a swarm placement hint) are
/// not applied, with a warning.
fn resources(s: &Service, req: &mut CreateRequest, warnings: &mut Vec<String>) -> Result<()> {
    use super::types::Ulimit;
    use crate::model::resources::Ulimit as RUlimit;
    let at = |field: &str, why: String| anyhow!("service {:?}: {field}: {why}", s.name);
    for (field, set, why) in [
        (
            "cpu_rt_period",
            s.cpu_rt_period != 0,
            "real-time CPU scheduling of containers is not supported",
        ),
        (
            "cpu_rt_runtime",
            s.cpu_rt_runtime != 0,
            "real-time CPU scheduling of containers is not supported",
        ),
        ("cpu_count", s.cpu_count != 0, "it is Windows'; use cpus"),
        (
            "cpu_percent",
            s.cpu_percent != 0.0,
            "it is Windows'; use cpus",
        ),
    ] {
        if set {
            return Err(unsupported(s, field, why));
        }
    }
    let r = &mut req.resources;
    let limits = s.deploy.as_ref().and_then(|d| d.resources.limits.as_ref());
    let reservations = s
        .deploy
        .as_ref()
        .and_then(|d| d.resources.reservations.as_ref());
    let bytes = |b: Option<super::types::UnitBytes>| b.map(|b| b.0).unwrap_or(0);
    r.memory = bytes(limits.and_then(|l| l.memory).or(s.mem_limit));
    r.memory_reservation = bytes(reservations.and_then(|l| l.memory).or(s.mem_reservation));
    r.memory_swap = bytes(s.memswap_limit);
    let cpus = limits
        .map(|l| l.cpus)
        .filter(|c| *c != 0.0)
        .unwrap_or(s.cpus);
    if !cpus.is_finite() || cpus < 0.0 {
        return Err(at(
            "cpus",
            format!("{cpus} is not a positive number of CPUs"),
        ));
    }
    r.nano_cpus = (f64::from(cpus) * 1e9).round() as i64;
    let pids = limits
        .map(|l| l.pids)
        .filter(|p| *p != 0)
        .unwrap_or(s.pids_limit);
    r.pids_limit = (pids != 0).then_some(pids);
    r.cpu_shares = s.cpu_shares;
    r.cpu_quota = s.cpu_quota;
    r.cpu_period = s.cpu_period;
    r.cpuset_cpus = s.cpuset.clone();
    r.memory_swappiness = s.mem_swappiness.map(|b| b.0).filter(|v| *v != -1);
    r.oom_kill_disable = s.oom_kill_disable;
    if let Some(b) = &s.blkio_config {
        let only_weight = b
            .as_object()
            .is_some_and(|o| o.keys().all(|k| k == "weight"));
        if !only_weight {
            return Err(unsupported(
                s,
                "blkio_config",
                "only its weight applies (per-device weights and rates are not supported)",
            ));
        }
        let w = b["weight"].as_u64().unwrap_or(0);
        r.blkio_weight = u16::try_from(w).map_err(|_| {
            at(
                "blkio_config.weight",
                format!("{w} is not between 10 and 1000"),
            )
        })?;
    }
    for (name, u) in &s.ulimits {
        let (soft, hard) = match u {
            Ulimit::Single(n) => (*n, *n),
            Ulimit::Pair { soft, hard } => (*soft, *hard),
        };
        r.ulimits.push(RUlimit {
            name: name.clone(),
            soft,
            hard,
        });
    }
    if reservations.is_some_and(|r| r.cpus != 0.0 || r.pids != 0) {
        warnings.push(format!(
            "service {:?}: deploy.resources.reservations of cpus and pids are not applied: they place swarm tasks, a single machine has nothing to reserve",
            s.name
        ));
    }
    if !r.is_unset() {
        crate::runtime::resources::check(r).map_err(|e| at("resources", format!("{e:#}")))?;
    }
    if !s.devices.is_empty() {
        let flags: Vec<String> = s
            .devices
            .iter()
            .map(|d| {
                let mut v = d.source.clone();
                if !d.target.is_empty() {
                    v = format!("{v}:{}", d.target);
                }
                if !d.permissions.is_empty() {
                    v = format!("{v}:{}", d.permissions);
                }
                v
            })
            .collect();
        req.devices = crate::runtime::devices::from_flags(&flags, &[])
            .map_err(|e| at("devices", format!("{e:#}")))?;
    }
    Ok(())
}

/// The settings `berth run` has flags for: namespaces, sysctls, shared
/// memory, OOM score, domain name, groups, annotations, logging, stop
/// timeout; checked as `run` checks its flags.
fn run_settings(s: &Service, req: &mut CreateRequest) -> Result<()> {
    use crate::model::kernel::{self, SysctlNamespace};
    use crate::model::namespaces::{CgroupnsMode, IpcMode, PidMode, UtsMode};
    let at = |field: &str, e: anyhow::Error| anyhow!("service {:?}: {field}: {e:#}", s.name);
    let ns = &mut req.namespaces;
    if !s.ipc.is_empty() {
        ns.ipc = IpcMode::parse(&s.ipc).map_err(|e| at("ipc", e))?;
    }
    if !s.pid.is_empty() {
        ns.pid = PidMode::parse(&s.pid).map_err(|e| at("pid", e))?;
    }
    if !s.uts.is_empty() {
        ns.uts = UtsMode::parse(&s.uts).map_err(|e| at("uts", e))?;
    }
    if !s.cgroup.is_empty() {
        ns.cgroupns = CgroupnsMode::parse(&s.cgroup).map_err(|e| at("cgroup", e))?;
    }
    if !s.userns_mode.is_empty() {
        ns.userns =
            crate::userns::keep_id::parse_mode(&s.userns_mode).map_err(|e| at("userns_mode", e))?;
    }
    for (k, v) in &s.sysctls.0 {
        let (key, value, which) =
            kernel::parse_sysctl(&format!("{k}={v}")).map_err(|e| at("sysctls", e))?;
        match which {
            SysctlNamespace::Network if !req.network.mode.is_private() => bail!(
                "service {:?}: sysctls: {key:?} needs a network namespace of the container's own (network_mode: none)",
                s.name
            ),
            SysctlNamespace::Ipc if !req.namespaces.ipc.is_private() => bail!(
                "service {:?}: sysctls: {key:?} needs an IPC namespace of the container's own (ipc: private or shareable)",
                s.name
            ),
            _ => {}
        }
        req.kernel.sysctls.insert(key, value);
    }
    if let Some(b) = s.shm_size {
        if !matches!(req.namespaces.ipc, IpcMode::Private | IpcMode::Shareable) {
            bail!(
                "service {:?}: shm_size sizes the container's own /dev/shm, which ipc: {} does not make",
                s.name,
                s.ipc
            );
        }
        req.kernel.shm_size = (b.0 > 0).then_some(b.0 as u64);
    }
    if s.oom_score_adj != 0 {
        req.kernel.oom_score_adj =
            Some(kernel::check_oom_score_adj(s.oom_score_adj).map_err(|e| at("oom_score_adj", e))?);
    }
    if !s.domainname.is_empty() {
        crate::runtime::spec::check_domainname(&s.domainname).map_err(|e| at("domainname", e))?;
        req.process.domainname = Some(s.domainname.clone());
    }
    for g in &s.group_add {
        crate::runtime::user::check_group_spec(&g.0).map_err(|e| at("group_add", e))?;
        req.process.group_add.push(g.0.clone());
    }
    for (k, v) in &s.annotations.0 {
        req.annotations.insert(k.clone(), v.clone());
    }
    req.process.stop_timeout = s.stop_grace_period.map(|d| d.0.as_secs() as i64);
    // `logging:` over the older `log_driver`/`log_opt`.
    let (driver, opts): (String, Vec<String>) = match &s.logging {
        Some(l) => (
            l.driver.clone(),
            l.options
                .iter()
                .map(|(k, v)| format!("{k}={}", v.0))
                .collect(),
        ),
        None => (
            s.log_driver.clone(),
            s.log_opt
                .iter()
                .map(|(k, v)| format!("{k}={}", v.0))
                .collect(),
        ),
    };
    req.log = crate::model::logging::LogConfig::parse(non_empty(&driver).as_deref(), &opts)
        .map_err(|e| at("logging", e))?;
    Ok(())
}

/// Command, entrypoint, environment, user, terminal, health check, labels.
fn process(t: &Target) -> Result<ProcessRequest> {
    let s = t.service;
    let mut p = ProcessRequest {
        workdir: non_empty(&s.working_dir),
        user: s.user.clone().filter(|u| !u.is_empty()),
        hostname: non_empty(&s.hostname),
        interactive: s.stdin_open,
        tty: s.tty,
        stop_signal: non_empty(&s.stop_signal),
        health: health(s)?,
        init: s.init.unwrap_or(false),
        ..Default::default()
    };
    let mut entrypoint = s.entrypoint.as_ref().map(|e| e.0.clone());
    let mut command = s.command.as_ref().map(|c| c.0.clone());
    // `compose run`: a command replaces the service's; an entrypoint
    // replaces its entrypoint and, without a command, clears the command.
    if let Some(o) = t.oneoff {
        if let Some(e) = &o.entrypoint {
            entrypoint = Some(e.clone());
            if o.command.is_none() {
                command = Some(Vec::new());
            }
        }
        if let Some(c) = &o.command {
            command = Some(c.clone());
        }
    }
    let (entrypoint, command) = entrypoint_and_command(entrypoint, command);
    p.entrypoint = entrypoint;
    p.command = command;
    // A variable without a value that the project's environment does not
    // set either is left out, as Compose leaves it out.
    p.env = s
        .environment
        .0
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
        .collect();
    p.labels = labels::for_container(t.project, s, &t.role, &t.image_id, t.env_files);
    Ok(p)
}

/// Compose's entrypoint is a list; berth's request takes one executable
/// and the command: `[a, b...]` becomes entrypoint `a` and `b...` before
/// the command (the process runs the same argv). An empty list clears the
/// image's entrypoint.
fn entrypoint_and_command(
    entrypoint: Option<Vec<String>>,
    command: Option<Vec<String>>,
) -> (Option<String>, Vec<String>) {
    let command = command.unwrap_or_default();
    match entrypoint {
        None => (None, command),
        Some(e) if e.is_empty() => (Some(String::new()), command),
        Some(mut e) => {
            let first = e.remove(0);
            e.extend(command);
            (Some(first), e)
        }
    }
}

/// `healthcheck`: the image's HEALTHCHECK with the service's fields over it.
fn health(s: &Service) -> Result<HealthOverrides> {
    let mut h = HealthOverrides::default();
    let Some(hc) = &s.healthcheck else {
        return Ok(h);
    };
    if hc.disable || hc.test.0.first().map(String::as_str) == Some("NONE") {
        h.disabled = true;
        return Ok(h);
    }
    match hc.test.0.split_first() {
        None => {}
        Some((kind, rest)) if kind == "CMD-SHELL" => h.cmd = Some(rest.join(" ")),
        // berth's health override is a shell command: the words of a
        // CMD test, quoted so that the shell passes them unchanged.
        Some((kind, rest)) if kind == "CMD" => {
            if rest.is_empty() {
                bail!("service {:?}: healthcheck.test [\"CMD\"] names no command", s.name);
            }
            h.cmd = Some(
                rest.iter()
                    .map(|w| shell_quote(w))
                    .collect::<Vec<_>>()
                    .join(" "),
            )
        }
        Some((kind, _)) => bail!(
            "service {:?}: healthcheck.test must start either by \"CMD\", \"CMD-SHELL\" or \"NONE\", not {kind:?}",
            s.name
        ),
    }
    let ns = |d: &Option<types::Duration>| d.map(|d| d.0.as_nanos() as u64);
    h.interval = ns(&hc.interval);
    h.timeout = ns(&hc.timeout);
    h.start_period = ns(&hc.start_period);
    if hc.start_interval.is_some() {
        bail!(
            "service {:?}: healthcheck.start_interval is not supported by berth yet; remove it",
            s.name
        );
    }
    h.retries = hc.retries.map(|r| r.min(u32::MAX as u64) as u32);
    Ok(h)
}

/// A word for `sh -c`, quoted only when it needs to be.
fn shell_quote(w: &str) -> String {
    let plain = !w.is_empty()
        && w.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,@%+".contains(&b));
    if plain {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', r"'\''"))
    }
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// `volumes`, `tmpfs`, secrets and configs, and the anonymous volumes of
/// the container being replaced.
fn mounts(t: &Target, warnings: &mut Vec<String>) -> Result<Vec<MountRequest>> {
    let s = t.service;
    let mut out: Vec<MountRequest> = Vec::new();
    for v in &s.volumes {
        out.push(volume(t, v, warnings)?);
    }
    for spec in &s.tmpfs.0 {
        out.push(
            mount_spec::parse_tmpfs_flag(spec)
                .map_err(|e| anyhow!("service {:?}: tmpfs {spec:?}: {e:#}", s.name))?,
        );
    }
    for (kind, refs) in [("secret", &s.secrets), ("config", &s.configs)] {
        for r in refs {
            if let Some(m) = file_reference(t, kind, r, warnings)? {
                if !out.iter().any(|o| o.destination == m.destination) {
                    out.push(m);
                }
            }
        }
    }
    if let Some(old) = t.replaces {
        inherit_anonymous_volumes(s, old, &mut out);
    }
    let mut seen = std::collections::HashSet::new();
    for m in &out {
        if !seen.insert(m.destination.clone()) {
            bail!(
                "service {:?}: duplicate mount point: {}",
                s.name,
                m.destination
            );
        }
    }
    Ok(out)
}

/// One entry of `volumes` (long syntax, as the loader gives it).
fn volume(t: &Target, v: &VolumeMount, warnings: &mut Vec<String>) -> Result<MountRequest> {
    let s = t.service;
    let at = || format!("service {:?}: volume {}", s.name, v.target);
    let destination =
        mount_spec::check_destination(&v.target).map_err(|e| anyhow!("{}: {e}", at()))?;
    let mut m = MountRequest {
        destination,
        read_only: v.read_only,
        origin: MountOrigin::VolumeFlag,
        ..Default::default()
    };
    match v.kind.as_str() {
        "bind" => {
            m.kind = MountKind::Bind;
            if !v.source.starts_with('/') {
                bail!(
                    "{}: bind source {:?} is not an absolute path",
                    at(),
                    v.source
                );
            }
            m.source = Some(v.source.clone());
            m.create_missing_source = v.bind.as_ref().is_none_or(|b| b.create_host_path);
            if let Some(b) = &v.bind {
                if !matches!(b.propagation.as_str(), "" | "rprivate" | "private") {
                    bail!(
                        "{}: bind propagation {:?} is not supported by berth (mounts are private)",
                        at(),
                        b.propagation
                    );
                }
                if b.recursive.as_deref().is_some_and(|r| r != "enabled") {
                    bail!(
                        "{}: bind recursive {:?} is not supported by berth",
                        at(),
                        b.recursive
                    );
                }
                if !b.selinux.is_empty() {
                    warnings.push(format!(
                        "{}: SELinux relabelling ({}) not applied: berth does not relabel files",
                        at(),
                        b.selinux
                    ));
                }
            }
        }
        "volume" => {
            m.kind = MountKind::Volume;
            if !v.source.is_empty() {
                let cfg =
                    t.project.model.volumes.get(&v.source).ok_or_else(|| {
                        anyhow!("{}: refers to undefined volume {}", at(), v.source)
                    })?;
                m.source = Some(if cfg.name.is_empty() {
                    format!("{}_{}", t.project.name, v.source)
                } else {
                    cfg.name.clone()
                });
            }
            if let Some(vv) = &v.volume {
                m.nocopy = vv.nocopy;
                if !vv.subpath.is_empty() {
                    bail!("{}: volume subpath is not supported by berth", at());
                }
            }
        }
        "tmpfs" => {
            m.kind = MountKind::Tmpfs;
            m.origin = MountOrigin::TmpfsFlag;
            if let Some(tf) = &v.tmpfs {
                let mut opts = Vec::new();
                if let Some(size) = tf.size {
                    opts.push(format!("size={}", size.0));
                }
                if tf.mode != 0 {
                    opts.push(format!("mode={:o}", tf.mode));
                }
                m.tmpfs_options = opts.join(",");
            }
        }
        other => bail!(
            "{}: volumes of type {other:?} are not supported by berth (bind, volume and tmpfs are)",
            at()
        ),
    }
    Ok(m)
}

/// A secret or config: the file bound read-only at its target
/// (`/run/secrets/NAME` for secrets, `/NAME` for configs, as Compose).
fn file_reference(
    t: &Target,
    kind: &str,
    r: &types::FileReference,
    warnings: &mut Vec<String>,
) -> Result<Option<MountRequest>> {
    let s = t.service;
    let defined = match kind {
        "secret" => t.project.model.secrets.get(&r.source),
        _ => t.project.model.configs.get(&r.source),
    }
    .ok_or_else(|| {
        anyhow!(
            "service {:?} refers to undefined {kind} {}",
            s.name,
            r.source
        )
    })?;
    if defined.external {
        bail!("unsupported external {kind} {}", defined.name);
    }
    if !defined.driver.is_empty() {
        bail!("Docker Compose does not support {kind}s.*.driver");
    }
    if !defined.template_driver.is_empty() {
        bail!("Docker Compose does not support {kind}s.*.template_driver");
    }
    let base = if kind == "secret" {
        "/run/secrets/"
    } else {
        "/"
    };
    let target = if r.target.is_empty() {
        format!("{base}{}", r.source)
    } else if r.target.starts_with('/') {
        r.target.clone()
    } else {
        format!("{base}{}", r.target)
    };
    let source = if !defined.file.is_empty() {
        if r.uid.is_some() || r.gid.is_some() || r.mode.is_some() {
            warnings.push(format!(
                "{kind}s `uid`, `gid` and `mode` are not supported, they will be ignored"
            ));
        }
        if !std::path::Path::new(&defined.file).exists() {
            bail!(
                "service {:?}: {kind} {}: the file {} does not exist",
                s.name,
                r.source,
                defined.file
            );
        }
        PathBuf::from(&defined.file)
    } else {
        match t.generated.get(&(kind.to_string(), r.source.clone())) {
            Some(p) => p.clone(),
            None => return Ok(None),
        }
    };
    let destination = mount_spec::check_destination(&target)
        .map_err(|e| anyhow!("service {:?}: {kind} {}: {e}", s.name, r.source))?;
    Ok(Some(MountRequest {
        kind: MountKind::Bind,
        source: Some(source.display().to_string()),
        destination,
        read_only: true,
        create_missing_source: false,
        origin: MountOrigin::MountFlag,
        ..Default::default()
    }))
}

/// Compose keeps a replaced container's anonymous volumes: those mounted
/// where the service declares a volume without a source (or the image a
/// VOLUME) and nothing else is mounted now.
fn inherit_anonymous_volumes(s: &Service, old: &ContainerRecord, out: &mut Vec<MountRequest>) {
    for m in &old.host.storage.mounts {
        if !(m.kind == MountKind::Volume && m.anonymous) {
            continue;
        }
        let Some(name) = &m.volume else { continue };
        let declared_anonymous = s
            .volumes
            .iter()
            .any(|v| v.kind == "volume" && v.source.is_empty() && v.target == m.destination);
        let from_image = m.origin == MountOrigin::Image;
        if !(declared_anonymous || from_image) {
            continue;
        }
        let request = MountRequest {
            kind: MountKind::Volume,
            source: Some(name.clone()),
            destination: m.destination.clone(),
            read_only: m.read_only,
            nocopy: true,
            anonymous: true,
            origin: m.origin,
            ..Default::default()
        };
        match out.iter_mut().find(|o| o.destination == m.destination) {
            Some(o) if o.kind == MountKind::Volume && o.source.is_none() => *o = request,
            Some(_) => {}
            None => out.push(request),
        }
    }
}

/// The service's network, as Docker Compose wires it: `network_mode`
/// (`host`, `none`, `bridge`, `service:NAME` — that service's first
/// container —, `container:NAME`), else the project networks it is on,
/// where its service name and aliases resolve; `ports` (for `compose
/// run` only with `--service-ports`), `expose`, `extra_hosts`, `dns*`.
fn network(t: &Target, _warnings: &mut Vec<String>) -> Result<NetworkConfig> {
    let s = t.service;
    let mut cfg = NetworkConfig::default();
    match s.network_mode.as_str() {
        "" => {
            cfg.endpoints = super::networks::endpoints(t.project, s)?;
            cfg.mode = match cfg.endpoints.first() {
                Some(first) => NetworkMode::Named(first.network.clone()),
                // No network at all (`networks: {}` is the default one):
                // loopback only, as a container on no network.
                None => NetworkMode::None,
            };
        }
        mode => {
            if !s.networks.is_empty() {
                bail!(
                    "service {:?}: network_mode and networks cannot be combined",
                    s.name
                );
            }
            cfg.mode = match mode.strip_prefix("service:") {
                Some(other) => {
                    let Some(o) = t.project.service(other) else {
                        bail!(
                            "service {:?}: network_mode: service {other:?} is not a service of the project",
                            s.name
                        );
                    };
                    NetworkMode::Container(t.project.container_name(o, 1))
                }
                None => NetworkMode::parse(mode),
            };
            if let NetworkMode::Named(n) = &cfg.mode {
                // A network of berth's by its own name, as `run --network`.
                cfg.endpoints = vec![crate::model::network::EndpointConfig {
                    network: n.clone(),
                    ..Default::default()
                }];
            }
        }
    }
    let service_ports = t.oneoff.is_none_or(|o| o.service_ports);
    if service_ports {
        for p in &s.ports {
            cfg.publish.push(super::networks::port_mapping(s, p)?);
        }
    }
    for e in &s.expose.0 {
        cfg.exposed.extend(
            crate::model::ports::expand_expose(e)
                .map_err(|e| anyhow!("service {:?}: expose: {e:#}", s.name))?,
        );
    }
    for h in s.extra_hosts.as_list(":") {
        crate::runtime::network::etc::check_extra_host(&h)
            .map_err(|e| anyhow!("service {:?}: extra_hosts: {e:#}", s.name))?;
        cfg.extra_hosts.push(h);
    }
    for d in &s.dns.0 {
        d.parse::<std::net::IpAddr>()
            .map_err(|_| anyhow!("service {:?}: dns: {d:?} is not an IP address", s.name))?;
        cfg.dns.push(d.clone());
    }
    cfg.dns_search = s.dns_search.0.clone();
    cfg.dns_options = s.dns_opt.clone();
    for (field, set) in [
        ("links", !s.links.is_empty()),
        ("external_links", !s.external_links.is_empty()),
    ] {
        if set {
            return Err(unsupported(
                s,
                field,
                "services reach each other by service name on the project's networks (use aliases for other names)",
            ));
        }
    }
    Ok(cfg)
}

/// `restart`, and `deploy.restart_policy` over it, as Compose.
fn lifecycle(t: &Target) -> Result<LifecycleConfig> {
    let s = t.service;
    let mut restart = if s.restart.is_empty() {
        RestartPolicy::No
    } else {
        RestartPolicy::parse(&s.restart)
            .map_err(|e| anyhow!("service {:?}: restart: {e:#}", s.name))?
    };
    if let Some(p) = s.deploy.as_ref().and_then(|d| d.restart_policy.as_ref()) {
        let attempts = p.max_attempts.unwrap_or(0).min(u32::MAX as u64) as u32;
        restart = match p.condition.as_str() {
            "none" | "no" => RestartPolicy::No,
            "on-failure" => RestartPolicy::OnFailure(attempts),
            "unless-stopped" => RestartPolicy::UnlessStopped,
            "any" | "always" | "" => RestartPolicy::Always,
            other => bail!(
                "service {:?}: deploy.restart_policy.condition {other:?}: use none, on-failure or any",
                s.name
            ),
        };
    }
    Ok(LifecycleConfig {
        auto_remove: false,
        restart,
    })
}

/// `compose run`'s flags over the service's container.
fn apply_oneoff(req: &mut CreateRequest, o: &OneOffOverrides) -> Result<()> {
    let p = &mut req.process;
    p.env.extend(o.env.iter().cloned());
    for (k, v) in &o.labels {
        p.labels.insert(k.clone(), v.clone());
    }
    if let Some(u) = &o.user {
        p.user = Some(u.clone());
    }
    if let Some(w) = &o.workdir {
        p.workdir = Some(w.clone());
    }
    p.tty = o.tty;
    p.interactive = o.interactive;
    for v in &o.volumes {
        req.mounts.retain(|m| m.destination != v.destination);
        req.mounts.push(v.clone());
    }
    req.lifecycle.auto_remove = o.auto_remove;
    if o.auto_remove {
        // Docker refuses --rm with a restart policy; compose run drops it.
        req.lifecycle.restart = RestartPolicy::No;
    }
    for p in &o.publish {
        req.network
            .publish
            .extend(crate::slirp::portfwd::parse_publish(p).map_err(|e| anyhow!("-p {p}: {e:#}"))?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seccomp_profiles_are_found_from_the_project_directory() {
        let opts: Vec<String> = [
            "seccomp=p.json",
            "seccomp:/abs.json",
            "seccomp=unconfined",
            "no-new-privileges",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            security_opts(&opts, std::path::Path::new("/proj")),
            [
                "seccomp=/proj/p.json",
                "seccomp:/abs.json",
                "seccomp=unconfined",
                "no-new-privileges"
            ]
        );
    }

    #[test]
    fn entrypoint_lists_split_into_executable_and_arguments() {
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            entrypoint_and_command(Some(v(&["sh", "-c"])), Some(v(&["echo hi"]))),
            (Some("sh".into()), v(&["-c", "echo hi"]))
        );
        assert_eq!(
            entrypoint_and_command(Some(vec![]), None),
            (Some(String::new()), vec![])
        );
        assert_eq!(
            entrypoint_and_command(None, Some(v(&["a"]))),
            (None, v(&["a"]))
        );
    }

    #[test]
    fn cmd_tests_become_quoted_shell_words() {
        assert_eq!(shell_quote("wget"), "wget");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
