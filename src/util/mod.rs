//! Small helpers shared by every module: digests, ids, time and sizes.

pub mod copy;
pub mod digest;
pub mod fsutil;
pub mod humanize;
pub mod ids;
pub mod notice;
