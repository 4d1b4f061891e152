//! berth: Docker's command line for people without root.
//!
//! The map of the modules is in `ARCHITECTURE.md`; each module owns its
//! directory and others call its public functions only.

pub mod cli;
pub mod compose;
pub mod image;
pub mod mounts;
pub mod runtime;
pub mod slirp;
pub mod store;
pub mod userns;
pub mod util;
