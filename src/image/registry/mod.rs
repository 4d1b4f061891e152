//! The OCI distribution protocol as Docker Hub, GHCR, Quay, Harbor and the
//! CNCF distribution registry serve it: a synchronous client (ureq), its
//! authentication, and manifest handling.

pub mod auth;
pub mod client;
pub mod credentials;
pub mod manifest;
pub mod progress;
pub mod pull;
pub mod push;
pub mod settings;
