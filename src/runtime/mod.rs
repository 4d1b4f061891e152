//! Running containers: the launch path and the processes around it.

pub mod reexec;
