//! `.dockerignore`: which context files a build never sees, with Docker's
//! rules (moby/patternmatcher and its `ignorefile` reader, learned from,
//! written anew). Patterns are read in order and the last one that matches
//! a path (or one of its parent directories) decides; `!` re-includes. A
//! directory can be excluded while an exception re-includes something
//! inside it: the walker then still descends into it.
//!
//! `<Dockerfile>.dockerignore` beside the Dockerfile wins over the
//! context's `.dockerignore`. The builder reads the Dockerfile and the
//! ignore file whatever they say; they only stop `COPY` from seeing them.

mod pattern;

pub use pattern::{contains_wildcards, Glob, Pattern};

use std::path::{Path, PathBuf};

/// Per-pattern results for a directory, handed to its children so that a
/// walk matches each path once (patternmatcher's `MatchInfo`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatchInfo(Vec<bool>);

/// A list of patterns.
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    patterns: Vec<Pattern>,
}

/// Where the patterns came from and the patterns.
#[derive(Debug, Clone, Default)]
pub struct DockerIgnore {
    /// The file they were read from (relative to the context or the
    /// Dockerfile's directory), `None` when there was none.
    pub source: Option<PathBuf>,
    pub matcher: Matcher,
}

impl Matcher {
    /// Compiles patterns in order; blank ones are skipped.
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Matcher, String> {
        let mut out = Vec::new();
        for p in patterns {
            if let Some(p) =
                Pattern::new(p.as_ref()).map_err(|e| format!("{e}: {:?}", p.as_ref()))?
            {
                out.push(p);
            }
        }
        Ok(Matcher { patterns: out })
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    pub fn patterns(&self) -> &[Pattern] {
        &self.patterns
    }

    /// Whether any pattern is an exception (`!`).
    pub fn has_exclusions(&self) -> bool {
        self.patterns.iter().any(|p| p.exclusion)
    }

    /// Whether `path` (relative, slash-separated) is excluded, given its
    /// parent directory's match info (empty for a top-level path, or when
    /// unknown: then parents are matched here). Returns the info for its
    /// children.
    pub fn matches(&self, path: &str, parent: &MatchInfo) -> (bool, MatchInfo) {
        let mut info = vec![false; self.patterns.len()];
        let mut matched = false;
        let known = parent.0.len() == self.patterns.len();
        for (i, p) in self.patterns.iter().enumerate() {
            let mut m = known && parent.0[i];
            if !m {
                // An inclusion cannot change a match already made, nor an
                // exception a non-match; patternmatcher skips those.
                if p.exclusion != matched {
                    continue;
                }
                m = if known {
                    p.matches(path)
                } else {
                    p.matches_or_parent(path)
                };
            }
            info[i] = m;
            if m {
                matched = !p.exclusion;
            }
        }
        (matched, MatchInfo(info))
    }

    /// Whether `path` is excluded, matching its parents too.
    pub fn is_excluded(&self, path: &str) -> bool {
        self.matches(path, &MatchInfo::default()).0
    }

    /// The pattern that decided `path` is excluded, for messages.
    pub fn deciding_pattern(&self, path: &str) -> Option<&Pattern> {
        let mut decided = None;
        for p in &self.patterns {
            if p.matches_or_parent(path) {
                decided = (!p.exclusion).then_some(p);
            }
        }
        decided
    }

    /// Whether a walk must look inside excluded directory `dir`: some
    /// exception might re-include a path below it.
    pub fn may_include_below(&self, dir: &str) -> bool {
        let dir_slash = format!("{dir}/");
        self.patterns.iter().filter(|p| p.exclusion).any(|p| {
            let literal: String = p
                .text
                .chars()
                .take_while(|c| !matches!(c, '*' | '?' | '[' | '\\'))
                .collect();
            literal.starts_with(&dir_slash) || dir_slash.starts_with(&literal)
        })
    }
}

/// Reads ignore-file text as Docker's `ignorefile.ReadAll` does: a BOM
/// dropped, lines starting with `#` skipped, blanks trimmed, each pattern
/// cleaned, a leading `/` removed (`!` kept in front).
pub fn read_patterns(text: &str) -> Vec<String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let mut p = line.trim();
        if p.is_empty() {
            continue;
        }
        let invert = p.starts_with('!');
        if invert {
            p = p[1..].trim();
        }
        let mut cleaned = String::new();
        if !p.is_empty() {
            cleaned = crate::util::path::go_clean(p);
            if cleaned.len() > 1 && cleaned.starts_with('/') {
                cleaned.remove(0);
            }
        }
        out.push(if invert {
            format!("!{cleaned}")
        } else {
            cleaned
        });
    }
    out
}

/// Finds and reads the ignore file for a build: `<dockerfile>.dockerignore`
/// beside the Dockerfile when it exists (only for a Dockerfile inside the
/// context), else `.dockerignore` at the context root.
pub fn load(context: &Path, dockerfile: Option<&Path>) -> Result<DockerIgnore, String> {
    let mut candidates = Vec::new();
    if let Some(df) = dockerfile {
        if let Some(name) = df.file_name() {
            let mut n = name.to_os_string();
            n.push(".dockerignore");
            candidates.push(df.with_file_name(n));
        }
    }
    candidates.push(context.join(".dockerignore"));
    for path in candidates {
        match std::fs::read(&path) {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                let patterns = read_patterns(&text);
                let matcher = Matcher::new(&patterns)
                    .map_err(|e| format!("failed to parse {}: {e}", path.display()))?;
                return Ok(DockerIgnore {
                    source: Some(path),
                    matcher,
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(format!("failed to read {}: {e}", path.display())),
        }
    }
    Ok(DockerIgnore::default())
}

#[cfg(test)]
mod tests;
