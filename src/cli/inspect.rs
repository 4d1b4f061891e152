//! The objects `inspect` prints, in the shapes of Docker's API 1.43
//! (`ContainerJSON`, `ImageInspect`): every field Docker prints, filled
//! from the model where berth has the fact, else with the value Docker
//! prints for a container that did not ask for it (zero, empty, null).
//! A field the model gains shows up by changing one line here.

use crate::image::config::ImageConfig;
use crate::model::reference::familiar;
use crate::model::{
    ContainerRecord, ContainerState, MountKind, MountOrigin, MountPoint, RestartPolicy, Status,
};
use crate::store::images::ImageRecord;
use crate::store::Store;
use anyhow::Result;
use serde_json::{json, Map, Value as Json};

/// Go's zero time, which Docker prints for times that never happened.
pub(crate) const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// `docker container inspect`'s object.
pub(crate) fn container(store: &Store, c: &ContainerRecord) -> Result<Json> {
    let state = store.observed_state(&c.id)?;
    let dir = store.container_dir(&c.id);
    let (path, args) = match c.config.args.split_first() {
        Some((p, rest)) => (p.clone(), rest.to_vec()),
        None => (String::new(), vec![]),
    };
    let image_config = store
        .get_blob(&c.image_id)
        .ok()
        .and_then(|b| ImageConfig::parse(&b).ok());
    let lower: Vec<String> = c
        .layers
        .iter()
        .rev()
        .filter_map(|l| store.layer_diff(l).ok())
        .map(|p| p.display().to_string())
        .collect();
    let mut object = json!({
        "Id": c.id,
        "Created": c.created,
        "Path": path,
        "Args": args,
        "State": state_json(c, &state),
        "Image": c.image_id,
        "ResolvConfPath": dir.join("resolv.conf"),
        "HostnamePath": dir.join("hostname"),
        "HostsPath": dir.join("hosts"),
        "LogPath": store.container_log(&c.id),
        "Name": format!("/{}", c.name),
        "RestartCount": state.restart_count,
        "Driver": "overlay",
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": Json::Null,
        "HostConfig": host_config_json(c),
        "GraphDriver": {
            "Data": {
                "LowerDir": lower.join(":"),
                "UpperDir": dir.join("upper"),
                "WorkDir": dir.join("work"),
            },
            "Name": "overlay",
        },
        // `--tmpfs` mounts are HostConfig.Tmpfs only, as Docker's.
        "Mounts": c
            .host
            .storage
            .mounts
            .iter()
            .filter(|m| m.origin != MountOrigin::TmpfsFlag)
            .map(mount_json)
            .collect::<Vec<_>>(),
        "Config": config_json(c, image_config.as_ref()),
        "NetworkSettings": super::network::settings_json(c, &state),
    });
    super::inspect_run_flags::add(&mut object, store, c);
    super::inspect_security::add(&mut object, c);
    super::host_config::extend(&mut object["HostConfig"], c);
    Ok(object)
}

/// `State`: `Health` only once a health check has run its course, as Docker.
fn state_json(c: &ContainerRecord, state: &ContainerState) -> Json {
    let mut s = json!({
        "Status": state.status.as_str(),
        "Running": state.status.is_active(),
        "Paused": state.status == Status::Paused,
        "Restarting": state.status == Status::Restarting,
        "OOMKilled": state.oom_killed,
        "Dead": state.status == Status::Dead,
        "Pid": state.pid,
        "ExitCode": state.exit_code,
        "Error": state.error,
        "StartedAt": state.started_at.clone().unwrap_or_else(|| ZERO_TIME.into()),
        "FinishedAt": state.finished_at.clone().unwrap_or_else(|| ZERO_TIME.into()),
    });
    if let (Some(h), Some(_)) = (&state.health, &c.config.healthcheck) {
        s["Health"] = serde_json::to_value(h).unwrap_or(Json::Null);
    }
    s
}

/// Docker's `HostConfig.RestartPolicy`.
fn restart_policy_json(p: RestartPolicy) -> Json {
    let (name, max) = match p {
        RestartPolicy::No => ("no", 0),
        RestartPolicy::OnFailure(n) => ("on-failure", n),
        RestartPolicy::Always => ("always", 0),
        RestartPolicy::UnlessStopped => ("unless-stopped", 0),
    };
    json!({ "Name": name, "MaximumRetryCount": max })
}

fn host_config_json(c: &ContainerRecord) -> Json {
    let mounts = &c.host.storage.mounts;
    // `-v` mounts with a source; anonymous ones are in Config.Volumes.
    let binds: Vec<String> = mounts
        .iter()
        .filter(|m| m.origin == MountOrigin::VolumeFlag && m.kind != MountKind::Tmpfs)
        .filter(|m| !m.anonymous)
        .map(|m| {
            let src = m
                .volume
                .clone()
                .unwrap_or_else(|| m.source.display().to_string());
            let mut opts: Vec<&str> = Vec::new();
            if m.read_only {
                opts.push("ro");
            }
            if m.nocopy {
                opts.push("nocopy");
            }
            if opts.is_empty() {
                format!("{src}:{}", m.destination)
            } else {
                format!("{src}:{}:{}", m.destination, opts.join(","))
            }
        })
        .collect();
    let tmpfs: Map<String, Json> = mounts
        .iter()
        .filter(|m| m.origin == MountOrigin::TmpfsFlag)
        .map(|m| (m.destination.clone(), Json::String(m.tmpfs_options.clone())))
        .collect();
    let mount_flags: Vec<Json> = mounts
        .iter()
        .filter(|m| m.origin == MountOrigin::MountFlag)
        .map(mount_flag_json)
        .collect();
    let mut h = json!({
        "Binds": if binds.is_empty() { Json::Null } else { json!(binds) },
        "ContainerIDFile": "",
        "LogConfig": { "Type": "json-file", "Config": {} },
        "NetworkMode": c.host.network.mode.to_string(),
        "PortBindings": {},
        "RestartPolicy": restart_policy_json(c.host.lifecycle.restart),
        "AutoRemove": c.host.lifecycle.auto_remove,
        "VolumeDriver": "",
        "VolumesFrom": Json::Null,
        "ConsoleSize": c.host.console_size.unwrap_or([0, 0]),
        "CapAdd": Json::Null,
        "CapDrop": Json::Null,
        "CgroupnsMode": "private",
        "Dns": [],
        "DnsOptions": [],
        "DnsSearch": [],
        "ExtraHosts": Json::Null,
        "GroupAdd": Json::Null,
        "IpcMode": "private",
        "Cgroup": "",
        "Links": Json::Null,
        "OomScoreAdj": 0,
        "PidMode": "",
        "Privileged": false,
        "PublishAllPorts": false,
        "ReadonlyRootfs": c.host.storage.read_only,
        "SecurityOpt": Json::Null,
        "UTSMode": "",
        "UsernsMode": "",
        "ShmSize": 67108864,
        "Runtime": "berth",
        "MaskedPaths": crate::mounts::proc_sys::MASKED,
        "ReadonlyPaths": crate::mounts::proc_sys::READ_ONLY,
    });
    if let Json::Object(m) = &mut h {
        m.extend(super::network::host_config_json(c));
    }
    // Resources: Docker's zero values; those of the container's limits
    // and devices are set by `host_config::extend`.
    if let (Json::Object(h), Json::Object(r)) = (&mut h, resources_json()) {
        h.extend(r);
    }
    // Fields Docker leaves out unless asked for.
    if !tmpfs.is_empty() {
        h["Tmpfs"] = Json::Object(tmpfs);
    }
    if !mount_flags.is_empty() {
        h["Mounts"] = json!(mount_flags);
    }
    if c.config.init {
        h["Init"] = json!(true);
    }
    h
}

/// The resource fields of `HostConfig`, as Docker prints them unset.
fn resources_json() -> Json {
    json!({
        "Isolation": "",
        "CpuShares": 0,
        "Memory": 0,
        "NanoCpus": 0,
        "CgroupParent": "",
        "BlkioWeight": 0,
        "BlkioWeightDevice": [],
        "BlkioDeviceReadBps": [],
        "BlkioDeviceWriteBps": [],
        "BlkioDeviceReadIOps": [],
        "BlkioDeviceWriteIOps": [],
        "CpuPeriod": 0,
        "CpuQuota": 0,
        "CpuRealtimePeriod": 0,
        "CpuRealtimeRuntime": 0,
        "CpusetCpus": "",
        "CpusetMems": "",
        "Devices": [],
        "DeviceCgroupRules": Json::Null,
        "DeviceRequests": Json::Null,
        "KernelMemory": 0,
        "KernelMemoryTCP": 0,
        "MemoryReservation": 0,
        "MemorySwap": 0,
        "MemorySwappiness": Json::Null,
        "OomKillDisable": false,
        "PidsLimit": Json::Null,
        "Ulimits": [],
        "CpuCount": 0,
        "CpuPercent": 0,
        "IOMaximumIOps": 0,
        "IOMaximumBandwidth": 0,
    })
}

/// One `HostConfig.Mounts` entry: a `--mount` as Docker keeps it.
fn mount_flag_json(m: &MountPoint) -> Json {
    let (kind, source) = match m.kind {
        MountKind::Bind => ("bind", m.source.display().to_string()),
        MountKind::Volume => (
            "volume",
            if m.anonymous {
                String::new()
            } else {
                m.volume.clone().unwrap_or_default()
            },
        ),
        MountKind::Tmpfs => ("tmpfs", String::new()),
    };
    let mut o = json!({ "Type": kind });
    if !source.is_empty() {
        o["Source"] = json!(source);
    }
    o["Target"] = json!(m.destination);
    if m.read_only {
        o["ReadOnly"] = json!(true);
    }
    if m.kind == MountKind::Volume && m.nocopy {
        o["VolumeOptions"] = json!({ "NoCopy": true });
    }
    o
}

/// One entry of `Mounts` in `docker container inspect`.
pub(crate) fn mount_json(m: &MountPoint) -> Json {
    match m.kind {
        MountKind::Bind => json!({
            "Type": "bind",
            "Source": m.source,
            "Destination": m.destination,
            "Mode": if m.read_only { "ro" } else { "" },
            "RW": !m.read_only,
            "Propagation": "rprivate",
        }),
        MountKind::Volume => json!({
            "Type": "volume",
            "Name": m.volume,
            "Source": m.source,
            "Destination": m.destination,
            "Driver": "local",
            "Mode": if m.nocopy { "nocopy" } else { "" },
            "RW": !m.read_only,
            "Propagation": "",
        }),
        MountKind::Tmpfs => json!({
            "Type": "tmpfs",
            "Source": "",
            "Destination": m.destination,
            "Mode": m.tmpfs_options,
            "RW": !m.read_only,
            "Propagation": "",
        }),
    }
}

/// `Config`: the process as created, the image's exposed ports, and the
/// anonymous volumes (`-v /path`, image VOLUMEs).
fn config_json(c: &ContainerRecord, image: Option<&ImageConfig>) -> Json {
    let p = &c.config;
    let volumes: Map<String, Json> = c
        .declared_volumes()
        .map(|d| (d.to_string(), json!({})))
        .collect();
    let mut o = json!({
        "Hostname": p.hostname,
        "Domainname": "",
        "User": p.user,
        "AttachStdin": p.open_stdin,
        "AttachStdout": true,
        "AttachStderr": true,
        "Tty": p.tty,
        "OpenStdin": p.open_stdin,
        "StdinOnce": p.open_stdin,
        "Env": p.env,
        "Cmd": p.cmd,
        "Image": c.image,
        "Volumes": if volumes.is_empty() { Json::Null } else { Json::Object(volumes) },
        "WorkingDir": p.working_dir,
        "Entrypoint": p.entrypoint,
        "OnBuild": Json::Null,
        "Labels": p.labels,
    });
    if !c.host.network.exposed.is_empty() {
        o["ExposedPorts"] = json!(c.host.network.exposed_ports_json());
    } else if let Some(ports) = image.and_then(|i| i.config.exposed_ports.as_ref()) {
        if !ports.is_empty() {
            o["ExposedPorts"] = json!(ports);
        }
    }
    if let Some(h) = &p.healthcheck {
        o["Healthcheck"] = h.docker_json();
    }
    if let Some(s) = &p.stop_signal {
        o["StopSignal"] = json!(s);
    }
    o
}

/// Docker's container config object (image `Config`, `ContainerConfig`)
/// with every field Docker prints, filled from an image's config.
fn image_config_json(cfg: Option<&crate::image::config::ContainerConfig>) -> Json {
    let get =
        |f: fn(&crate::image::config::ContainerConfig) -> Json| cfg.map(f).unwrap_or(Json::Null);
    let mut o = json!({
        "Hostname": "",
        "Domainname": "",
        "User": cfg.and_then(|c| c.user.clone()).unwrap_or_default(),
        "AttachStdin": false,
        "AttachStdout": false,
        "AttachStderr": false,
        "Tty": false,
        "OpenStdin": false,
        "StdinOnce": false,
        "Env": get(|c| json!(c.env)),
        "Cmd": get(|c| json!(c.cmd)),
        "Image": "",
        "Volumes": get(|c| json!(c.volumes)),
        "WorkingDir": cfg.and_then(|c| c.working_dir.clone()).unwrap_or_default(),
        "Entrypoint": get(|c| json!(c.entrypoint)),
        "OnBuild": Json::Null,
        "Labels": get(|c| json!(c.labels)),
    });
    if let Some(c) = cfg {
        if let Some(p) = c.exposed_ports.as_ref().filter(|p| !p.is_empty()) {
            o["ExposedPorts"] = json!(p);
        }
        if let Some(h) = &c.healthcheck {
            o["Healthcheck"] = h.clone();
        }
        if let Some(s) = &c.stop_signal {
            o["StopSignal"] = json!(s);
        }
        if let Some(s) = &c.shell {
            o["Shell"] = json!(s);
        }
        for (k, v) in &c.extra {
            o[k.as_str()] = v.clone();
        }
    }
    o
}

/// `docker image inspect`'s object.
pub(crate) fn image(store: &Store, img: &ImageRecord) -> Result<Json> {
    let config = ImageConfig::parse(&store.get_blob(&img.id)?)?;
    let lower: Vec<String> = img
        .layers
        .iter()
        .rev()
        .filter_map(|l| store.layer_diff(l).ok())
        .map(|p| p.display().to_string())
        .collect();
    let comment = config
        .history
        .last()
        .and_then(|h| h.comment.clone())
        .unwrap_or_default();
    let mut o = json!({
        "Id": img.id,
        "RepoTags": img.repo_tags.iter().map(|t| familiar(t)).collect::<Vec<_>>(),
        "RepoDigests": img.repo_digests.iter().map(|t| familiar(t)).collect::<Vec<_>>(),
        "Parent": "",
        "Comment": comment,
        "Created": config.created.clone().unwrap_or_else(|| ZERO_TIME.into()),
        "Container": "",
        "ContainerConfig": image_config_json(None),
        "DockerVersion": "",
        "Author": config.author.clone().unwrap_or_default(),
        "Config": image_config_json(Some(&config.config)),
        "Architecture": config.architecture,
        "Os": config.os,
        "Size": img.size,
        "VirtualSize": img.size,
        "GraphDriver": {
            "Data": { "LowerDir": lower.join(":") },
            "Name": "overlay",
        },
        "RootFS": { "Type": "layers", "Layers": img.layers },
        "Metadata": { "LastTagTime": img.added },
    });
    if let Some(v) = config.variant.as_ref().filter(|v| !v.is_empty()) {
        o["Variant"] = json!(v);
    }
    Ok(o)
}
