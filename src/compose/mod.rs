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
//!
//! The orchestration, above the runtime (it calls `runtime::lifecycle`,
//! never the CLI, and prints nothing: events go to a [`progress::Progress`]
//! and container output to a [`logs::LogConsumer`], both the CLI's):
//! - `labels.rs`: the labels Compose puts on containers and volumes;
//! - `observed.rs`: a project's containers found by those labels,
//!   `from_store.rs` a project known only by its name;
//! - `convert.rs`: a service to a `CreateRequest`, field by field;
//! - `images.rs`, `resources.rs`: images (pull, build, push), named
//!   volumes, the files of secrets and configs;
//! - `converge.rs` (`create`, the first half of `up`), `start.rs` (in
//!   dependency order, waiting for conditions), `ops.rs` (`stop`, `kill`,
//!   `restart`, `pause`, `rm`, `down`), `oneoff.rs` (`run`), `logs.rs`.
//!
//! The API for commands: build [`LoadOptions`] (from the process with
//! [`LoadOptions::from_process`], then the flags), call
//! [`Project::load`] (or [`Project::from_store`] for a project known only
//! by name), then `converge::create`, `start::start`, `ops::*`.

pub mod canonical;
pub mod converge;
pub mod convert;
pub mod de;
pub mod dotenv;
pub mod from_store;
pub mod images;
pub mod labels;
pub mod loader;
pub mod logs;
pub mod merge;
pub mod networks;
pub mod node;
pub mod observed;
pub mod oneoff;
pub mod ops;
pub mod output;
pub mod progress;
pub mod project;
pub mod resources;
pub mod start;
pub mod template;
pub mod types;
pub mod yaml;

pub use loader::{normalize_project_name, LoadOptions};
pub use node::ComposeError;
pub use project::{Project, Selection};
pub use types::{Model, Service};
