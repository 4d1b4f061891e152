//! Images: references, configurations, layers and archives.

pub mod compression;
pub mod config;
pub mod layer;
pub mod reference;
pub mod tarsplit;
