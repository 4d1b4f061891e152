//! The resource and device fields of `inspect`'s `HostConfig`, named and
//! shaped as Docker's (limits that were not given are 0, "" or null).

use crate::model::ContainerRecord;
use serde_json::{json, Value as Json};

/// Adds the fields to the `HostConfig` object `host`.
pub(crate) fn extend(host: &mut Json, c: &ContainerRecord) {
    let Json::Object(map) = host else {
        return;
    };
    let r = &c.host.resources;
    let d = &c.host.devices;
    let requests: Vec<Json> = d
        .requests
        .iter()
        .map(|q| {
            json!({
                "Driver": q.driver,
                "Count": q.count,
                "DeviceIDs": if q.device_ids.is_empty() { Json::Null } else { json!(q.device_ids) },
                "Capabilities": q.capabilities,
                "Options": q.options,
            })
        })
        .collect();
    let fields = json!({
        "Memory": r.memory,
        "MemorySwap": r.effective_memory_swap().unwrap_or(r.memory_swap),
        "MemoryReservation": r.memory_reservation,
        "MemorySwappiness": r.memory_swappiness,
        "OomKillDisable": r.oom_kill_disable,
        "NanoCpus": r.nano_cpus,
        "CpuShares": r.cpu_shares,
        "CpuPeriod": r.cpu_period,
        "CpuQuota": r.cpu_quota,
        "CpuRealtimePeriod": 0,
        "CpuRealtimeRuntime": 0,
        "CpusetCpus": r.cpuset_cpus,
        "CpusetMems": r.cpuset_mems,
        "PidsLimit": r.pids_limit,
        "BlkioWeight": r.blkio_weight,
        "CgroupParent": "",
        "Ulimits": r.ulimits,
        "Devices": d.devices,
        "DeviceCgroupRules": Json::Null,
        "DeviceRequests": if requests.is_empty() { Json::Null } else { Json::Array(requests) },
    });
    if let Json::Object(f) = fields {
        map.extend(f);
    }
}
