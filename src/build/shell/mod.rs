//! Shell-word processing with BuildKit's rules (`frontend/dockerfile/shell`):
//! variable substitution, quote removal, escapes and word splitting, as the
//! Dockerfile frontend applies them to the instructions it expands itself.
//!
//! This is not a shell: `RUN`, `CMD` and `ENTRYPOINT` in shell form are left
//! to the image's shell. What is here is the small language BuildKit
//! evaluates in `ENV`, `COPY`, `WORKDIR` and the like.

mod lex;
pub(crate) use lex::is_space;
mod pattern;

pub use lex::{Env, LexError, Lexer, WordResult};

#[cfg(test)]
mod tests;
