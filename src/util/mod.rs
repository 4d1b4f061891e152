//! Small helpers shared by every module: digests, ids, time and sizes,
//! paths, processes and signals, and the reporter library code speaks
//! through.

pub(crate) mod copy;
pub(crate) mod cpus;
pub(crate) mod digest;
pub(crate) mod du;
pub(crate) mod fsutil;
pub(crate) mod getent;
pub(crate) mod humanize;
pub(crate) mod ids;
#[cfg(test)]
pub(crate) mod json_gen;
pub(crate) mod kernel;
pub(crate) mod openat2;
pub(crate) mod passwd;
pub(crate) mod path;
pub(crate) mod proc;
pub(crate) mod ram_bytes;
pub(crate) mod report;
pub(crate) mod resident;
pub(crate) mod signals;
pub(crate) mod spawn;
pub(crate) mod stdio;
pub(crate) mod timestamp;
pub(crate) mod trace;
