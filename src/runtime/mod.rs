//! Running containers: the lifecycle operations (`lifecycle.rs`), the
//! launch path, and the processes around a container (its monitor, its
//! init, exec, health probes), which talk through `message.rs`.

pub(crate) mod attach_client;
pub(crate) mod caps;
pub(crate) mod cfs;
pub(crate) mod cgroup;
pub(crate) mod console;
pub(crate) mod cp;
pub(crate) mod devices;
pub(crate) mod env;
pub(crate) mod events;
pub(crate) mod exec;
pub(crate) mod health_probe;
pub(crate) mod init;
pub(crate) mod init_reaper;
pub(crate) mod lifecycle;
pub(crate) mod logfile;
pub(crate) mod message;
pub(crate) mod monitor;
pub(crate) mod mount_points;
pub(crate) mod mount_spec;
pub(crate) mod namespaces;
pub(crate) mod network;
pub(crate) mod nsenter;
pub(crate) mod oneshot;
pub(crate) mod pipe_relay;
pub(crate) mod policy;
pub(crate) mod pty;
pub(crate) mod reexec;
pub(crate) mod resources;
pub(crate) mod security;
pub(crate) mod selfexe;
pub(crate) mod spec;
pub(crate) mod start;
pub(crate) mod user;
pub(crate) mod volumes;
