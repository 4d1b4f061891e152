//! Running containers: the launch path and the processes around it.

pub mod attach;
pub mod attach_client;
pub mod caps;
pub mod console;
pub mod create;
pub mod env;
pub mod health;
pub mod health_probe;
pub mod init;
pub mod logfile;
pub mod monitor;
pub mod policy;
pub mod reexec;
pub mod signals;
pub mod spec;
pub mod start;
pub mod user;
