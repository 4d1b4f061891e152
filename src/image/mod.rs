//! Images: configurations, layers, archives, commits and registries.

pub(crate) mod archive;
pub(crate) mod changes;
pub(crate) mod commit;
pub(crate) mod compression;
pub(crate) mod config;
#[cfg(test)]
mod config_props;
pub(crate) mod import;
pub(crate) mod layer;
pub(crate) mod registry;
pub(crate) mod tarsplit;
pub(crate) mod treetar;
pub(crate) mod view;
pub(crate) mod whiteout;
