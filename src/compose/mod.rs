//! `berth compose`: compose files read exactly as Docker Compose v2 reads
//! them, with no runtime involved (the orchestration commands build on
//! this).
//!
//! The way through, file by file:
//! - `yaml.rs` reads YAML (serde-saphyr: anchors, aliases, `<<` merge
//!   keys, `!reset`/`!override` tags) into `node.rs` trees that remember
//!   file and line;
//! - `template.rs` interpolates `${...}`, `dotenv.rs` reads `.env` files;
//! - `canonical.rs` rewrites short syntax into long, `merge.rs` merges
//!   override files, `extends` and `include`;
//! - `loader.rs` runs it all in Compose's order, from the command line's
//!   options and the environment to a normalized tree;
//! - `de.rs` types that tree into `types.rs` (errors name file, line and
//!   key path), `project.rs` checks it and answers what orchestration
//!   needs (dependency order, config hashes, container names);
//! - `output.rs` prints it as `docker compose config` does.
//!
//! The API for commands: build [`LoadOptions`] (from the process with
//! [`LoadOptions::from_process`], then the flags), call
//! [`Project::load`], then walk [`Project::dependency_order`].

pub mod canonical;
pub mod de;
pub mod dotenv;
pub mod loader;
pub mod merge;
pub mod node;
pub mod output;
pub mod project;
pub mod template;
pub mod types;
pub mod yaml;

pub use loader::{normalize_project_name, LoadOptions};
pub use node::ComposeError;
pub use project::{Project, Selection};
pub use types::{Model, Service};
