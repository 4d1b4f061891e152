//! Running containers: the launch path and the processes around it.

pub mod attach;
pub mod attach_client;
pub mod health;
pub mod logfile;
pub mod names;
pub mod policy;
pub mod reexec;
