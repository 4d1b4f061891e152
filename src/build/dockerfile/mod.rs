//! The Dockerfile parser, written by hand after BuildKit's frontend
//! (Dockerfile 1.x): [`scan`] turns text into untyped instruction nodes,
//! [`parse`] turns those into typed stages and instructions with their line
//! ranges and original text.

mod ast;
mod directives;
mod heredoc;
mod line_args;
mod scan;
mod split;

pub use ast::{go_quote, RawNode};
pub use directives::Directives;
pub use heredoc::Heredoc;
pub use scan::{scan, ScanError, Scanned, Warning};
