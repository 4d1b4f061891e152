//! Running containers: the launch path and the processes around it.

pub mod caps;
pub mod create;
pub mod env;
pub mod init;
pub mod signals;
pub mod spec;
pub mod start;
pub mod user;

pub mod reexec;
