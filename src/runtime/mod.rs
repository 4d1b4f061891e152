//! Running containers: the launch path and the processes around it.

pub mod attach;
pub mod attach_client;
pub mod caps;
pub mod cfs;
pub mod cgroup;
pub mod console;
pub mod cp;
pub mod create;
pub mod env;
pub mod exec;
pub mod health;
pub mod health_probe;
pub mod init;
pub mod init_reaper;
pub mod logfile;
pub mod monitor;
pub mod nsenter;
pub mod policy;
pub mod pty;
pub mod reexec;
pub mod signals;
pub mod spec;
pub mod start;
pub mod treetar;
pub mod user;
