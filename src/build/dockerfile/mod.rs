//! The Dockerfile parser, written by hand after BuildKit's frontend
//! (Dockerfile 1.x). [`scan`] turns text into untyped instruction nodes
//! (BuildKit's AST); [`parse`] turns those into typed stages and
//! instructions, each with its line range and original text.

mod ast;
mod convert;
mod directives;
mod duration;
mod error;
mod flags;
mod heredoc;
mod instruction;
mod line_args;
mod mounts;
mod scan;
mod split;
mod suggest;

pub use ast::{go_quote, RawNode};
pub use directives::Directives;
pub use error::{snippet, ParseError};
pub use heredoc::Heredoc;
pub use instruction::*;
pub use mounts::{mount_from, parse_mount, CacheSharing, Mount, MountType};
pub use scan::{scan, ScanError, Scanned, Warning};
pub use suggest::closest as suggest;

use convert::{convert, Converted};

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Dockerfile {
    /// The name errors use.
    pub file: String,
    pub directives: Directives,
    /// ARG instructions before the first FROM: the global build arguments,
    /// usable in FROM lines (and in stages that declare them again).
    pub meta_args: Vec<Instruction>,
    pub stages: Vec<Stage>,
    /// BuildKit's warnings (empty continuation lines).
    pub warnings: Vec<Warning>,
}

impl Dockerfile {
    /// The stage named `name` (case-insensitive, as stage names are).
    pub fn stage_by_name(&self, name: &str) -> Option<&Stage> {
        let lower = name.to_lowercase();
        self.stages
            .iter()
            .find(|s| s.name.as_deref() == Some(lower.as_str()))
    }
}

/// Parses Dockerfile text. `file` names the file in error messages.
pub fn parse(file: &str, text: &str) -> Result<Dockerfile, ParseError> {
    let err = |start_line, end_line, instruction: Option<String>, message: String| ParseError {
        file: file.to_string(),
        start_line,
        end_line,
        instruction,
        message,
    };
    let scanned = scan(text).map_err(|e| {
        err(
            e.start_line,
            e.end_line,
            e.keyword.map(|k| k.to_uppercase()),
            e.message,
        )
    })?;
    let mut meta_args = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    for node in &scanned.nodes {
        let converted = convert(node).map_err(|m| {
            err(
                node.start_line,
                node.end_line,
                Some(node.keyword.to_uppercase()),
                m,
            )
        })?;
        match converted {
            Converted::From(mut stage) => {
                stage.index = stages.len();
                stages.push(stage);
            }
            Converted::Instruction(i) => match stages.last_mut() {
                Some(stage) => stage.instructions.push(i),
                None if matches!(i.kind, InstructionKind::Arg(_)) => meta_args.push(i),
                None => {
                    return Err(err(
                        node.start_line,
                        node.end_line,
                        Some(node.keyword.to_uppercase()),
                        "no build stage in current context".to_string(),
                    ))
                }
            },
        }
    }
    if stages.is_empty() {
        let last = scanned.nodes.last().map_or(1, |n| n.end_line);
        return Err(err(
            1,
            last,
            None,
            "dockerfile contains no stages to build".to_string(),
        ));
    }
    Ok(Dockerfile {
        file: file.to_string(),
        directives: scanned.directives,
        meta_args,
        stages,
        warnings: scanned.warnings,
    })
}

/// Parses one ONBUILD trigger taken from a base image's config, as the
/// build that uses the image runs it.
pub fn parse_onbuild_trigger(expression: &str) -> Result<Instruction, String> {
    let scanned = scan(expression).map_err(|e| e.message)?;
    if scanned.nodes.len() != 1 {
        return Err("onbuild trigger should be a single expression".to_string());
    }
    match convert(&scanned.nodes[0])? {
        Converted::Instruction(i) => Ok(i),
        Converted::From(_) => Err("FROM isn't allowed as an ONBUILD trigger".to_string()),
    }
}

#[cfg(test)]
mod corpus_tests;
#[cfg(test)]
mod tests;
