//! The OCI distribution protocol as Docker Hub, GHCR, Quay, Harbor and the
//! CNCF distribution registry serve it: a synchronous client (ureq), its
//! authentication, and manifest handling.

pub(crate) mod auth;
pub(crate) mod client;
pub(crate) mod credentials;
pub(crate) mod manifest;
pub(crate) mod pull;
pub(crate) mod push;
pub(crate) mod resolve;
pub(crate) mod settings;
