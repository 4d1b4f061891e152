//! The container events that the launch path and the monitor record, in
//! the order Docker gives them: a container's volumes are mounted, then
//! it starts; at its end an `oom` (when the kernel killed for memory)
//! comes before `die`, and the volumes are unmounted after. Each is one
//! append to the store's event log (`store::events`).

use crate::model::event::Event;
use crate::model::{ContainerRecord, MountKind};
use crate::store::Store;

/// The container runs: `mount` for each volume, then `start`.
pub(crate) fn started(store: &Store, record: &ContainerRecord) {
    for m in volumes(record) {
        let name = m.volume.as_deref().unwrap_or_default();
        store.record_event(&Event::volume(
            name,
            "mount",
            [
                ("container", record.id.clone()),
                ("destination", m.destination.clone()),
                ("propagation", String::new()),
                ("read/write", (!m.read_only).to_string()),
            ],
        ));
    }
    store.record_event(&Event::container(record, "start", []));
}

/// The container's init exited with `code`: `oom` first when the kernel
/// killed it for memory, `die`, then `unmount` for each volume.
pub(crate) fn died(store: &Store, record: &ContainerRecord, code: i32, oom: bool) {
    if oom {
        store.record_event(&Event::container(record, "oom", []));
    }
    store.record_event(&Event::container(
        record,
        "die",
        [("exitCode", code.to_string())],
    ));
    for m in volumes(record) {
        let name = m.volume.as_deref().unwrap_or_default();
        store.record_event(&Event::volume(
            name,
            "unmount",
            [("container", record.id.clone())],
        ));
    }
}

/// `kill` with the signal's number, as Docker records it.
pub(crate) fn killed(store: &Store, record: &ContainerRecord, signal: nix::sys::signal::Signal) {
    store.record_event(&Event::container(
        record,
        "kill",
        [("signal", (signal as i32).to_string())],
    ));
}

/// An event without attributes of its own (attach, stop, restart, pause,
/// unpause, export, `health_status: healthy`).
pub(crate) fn container(store: &Store, record: &ContainerRecord, action: &str) {
    store.record_event(&Event::container(record, action, []));
}

fn volumes(record: &ContainerRecord) -> impl Iterator<Item = &crate::model::MountPoint> {
    record
        .host
        .storage
        .mounts
        .iter()
        .filter(|m| m.kind == MountKind::Volume && m.volume.is_some())
}
