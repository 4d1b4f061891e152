//! berth: Docker's command line for people without root.
//!
//! The map of the modules is in `ARCHITECTURE.md`. One way down: cli >
//! compose, build > runtime > image, mounts, userns, slirp > store > model,
//! util; a module never imports from one above it.

pub mod build;
pub mod cli;
pub mod compose;
pub(crate) mod devices;
pub(crate) mod doctor;
pub(crate) mod image;
pub(crate) mod landlock;
pub(crate) mod model;
pub(crate) mod mounts;
pub(crate) mod runtime;
pub(crate) mod sandbox;
pub mod seccomp;
pub mod slirp;
pub mod store;
pub(crate) mod userns;
pub(crate) mod util;
