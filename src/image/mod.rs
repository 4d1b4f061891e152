//! Images: references, configurations, layers and archives.

pub mod config;
pub mod reference;
pub mod registry;
