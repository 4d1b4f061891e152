//! `berth build`'s front half: everything that can be decided before a
//! single step runs. The Dockerfile parser and BuildKit's substitution
//! rules, the stage graph, `.dockerignore`, the build context and the
//! content hashes that key the cache. The builder that runs steps through
//! the runtime sits on top of these.

pub mod context;
pub mod dockerfile;
pub mod eval;
pub mod graph;
pub mod ignore;
pub mod shell;

#[cfg(test)]
mod proptests;
