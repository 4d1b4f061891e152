//! Images: references, configurations, layers and archives.

pub mod archive;
pub mod changes;
pub mod commit;
pub mod compression;
pub mod config;
pub mod import;
pub mod layer;
pub mod reference;
pub mod registry;
pub mod tarsplit;
