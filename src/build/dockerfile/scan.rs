//! The line scanner (BuildKit's `parser.Parse`): physical lines become
//! logical instructions. It strips a byte-order mark, reads parser
//! directives, drops comments (also between continuation lines), joins
//! lines ending in the escape character, skips empty continuation lines
//! with a warning, and reads heredoc bodies after the line that opens them.

use super::ast::RawNode;
use super::directives::{DirectiveParser, Directives};
use super::heredoc::markers_in_line;
use super::line_args::node_from_line;
use crate::build::shell::is_space;

/// The scanner's output.
#[derive(Debug, Clone)]
pub struct Scanned {
    pub directives: Directives,
    pub nodes: Vec<RawNode>,
    /// BuildKit's parser warnings (empty continuation lines).
    pub warnings: Vec<Warning>,
}

/// A warning with the line it concerns.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Warning {
    pub line: usize,
    pub message: String,
}

/// A scanning error: the message and the lines it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanError {
    pub message: String,
    pub start_line: usize,
    pub end_line: usize,
    /// The keyword of the instruction being read, when there was one.
    pub keyword: Option<String>,
}

/// Physical lines, each with its line ending.
struct Lines<'a> {
    rest: &'a str,
}

impl<'a> Iterator for Lines<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        if self.rest.is_empty() {
            return None;
        }
        let end = self.rest.find('\n').map_or(self.rest.len(), |i| i + 1);
        let (line, rest) = self.rest.split_at(end);
        self.rest = rest;
        Some(line)
    }
}

fn trim_newline(s: &str) -> &str {
    s.trim_end_matches(['\r', '\n'])
}

fn is_comment(line: &str) -> bool {
    line.trim_start_matches(is_space).starts_with('#')
}

/// Removes a trailing escape (and blanks after it) that continues the line
/// on the next one. An escape preceded by another escape is a literal
/// character, as in BuildKit's regular expression, which also means that
/// three escapes at the end do not continue the line.
fn trim_continuation(line: &str, escape: char) -> (&str, bool) {
    let t = line.trim_end_matches([' ', '\t']);
    let Some(before) = t.strip_suffix(escape) else {
        return (line, true);
    };
    if before.is_empty() || !before.ends_with(escape) {
        (before, false)
    } else {
        (line, true)
    }
}

struct Scanner<'a> {
    lines: Lines<'a>,
    line_no: usize,
    directives: DirectiveParser,
}

impl Scanner<'_> {
    /// Reads a line: newline removed, leading blanks removed when `strip`,
    /// checked for a directive, and emptied if it is a comment.
    fn process<'l>(&mut self, line: &'l str, strip: bool) -> Result<&'l str, ScanError> {
        let mut t = trim_newline(line);
        if strip {
            t = t.trim_start_matches(is_space);
        }
        self.directives.parse_line(t).map_err(|message| ScanError {
            message,
            start_line: self.line_no + 1,
            end_line: self.line_no + 1,
            keyword: None,
        })?;
        Ok(if is_comment(t) { "" } else { t })
    }

    fn escape(&self) -> char {
        self.directives.found.escape
    }
}

/// Scans a whole Dockerfile.
pub fn scan(text: &str) -> Result<Scanned, ScanError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut sc = Scanner {
        lines: Lines { rest: text },
        line_no: 0,
        directives: DirectiveParser::default(),
    };
    let mut nodes = Vec::new();
    let mut warnings = Vec::new();
    while let Some(raw) = sc.lines.next() {
        let line = sc.process(raw, true)?;
        sc.line_no += 1;
        let start_line = sc.line_no;
        let (first, mut done) = trim_continuation(line, sc.escape());
        if done && first.is_empty() {
            continue;
        }
        let mut joined = first.to_string();
        let mut empty_continuation = false;
        while !done {
            let Some(raw) = sc.lines.next() else { break };
            let line = sc.process(raw, false)?;
            sc.line_no += 1;
            if is_comment(raw) {
                continue;
            }
            if line.trim_start_matches(is_space).is_empty() {
                empty_continuation = true;
                continue;
            }
            let (part, end) = trim_continuation(line, sc.escape());
            joined.push_str(part);
            done = end;
        }
        if empty_continuation {
            warnings.push(Warning {
                line: sc.line_no,
                message: format!("Empty continuation line found in: {joined}"),
            });
        }
        let fail = |message: String, end_line: usize, keyword: Option<String>| ScanError {
            message,
            start_line,
            end_line,
            keyword,
        };
        let mut node = node_from_line(&joined, sc.escape()).map_err(|m| {
            let keyword = joined.split_whitespace().next().map(str::to_string);
            fail(m, sc.line_no, keyword)
        })?;
        if can_contain_heredoc(&node) && joined.contains("<<") {
            let markers = markers_in_line(&joined)
                .map_err(|m| fail(m, sc.line_no, Some(node.keyword.clone())))?;
            for mut doc in markers {
                let mut terminated = false;
                for raw in sc.lines.by_ref() {
                    sc.line_no += 1;
                    let mut candidate = trim_newline(raw);
                    if doc.chomp {
                        candidate = candidate.trim_start_matches('\t');
                    }
                    if candidate == doc.name {
                        terminated = true;
                        break;
                    }
                    doc.content.push_str(raw);
                }
                if !terminated {
                    return Err(fail(
                        "unterminated heredoc".to_string(),
                        sc.line_no,
                        Some(node.keyword.clone()),
                    ));
                }
                node.heredocs.push(doc);
            }
        }
        node.start_line = start_line;
        node.end_line = sc.line_no;
        nodes.push(node);
    }
    if nodes.is_empty() {
        return Err(ScanError {
            message: "file with no instructions".to_string(),
            start_line: sc.line_no.max(1),
            end_line: sc.line_no.max(1),
            keyword: None,
        });
    }
    Ok(Scanned {
        directives: sc.directives.found,
        nodes,
        warnings,
    })
}

/// RUN, COPY and ADD in shell form (also as an ONBUILD trigger) may carry
/// heredocs.
fn can_contain_heredoc(node: &RawNode) -> bool {
    let n = match (&node.sub, node.command().as_str()) {
        (Some(sub), "onbuild") => sub,
        _ => node,
    };
    matches!(n.command().as_str(), "add" | "copy" | "run") && !n.json
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dumps(text: &str) -> Vec<String> {
        scan(text).unwrap().nodes.iter().map(|n| n.dump()).collect()
    }

    #[test]
    fn continuation_comments_and_empty_lines() {
        let s = scan("FROM a\nRUN echo \\\n # comment\n\n  two \\\n three\n").unwrap();
        assert_eq!(s.nodes[1].dump(), r#"run "echo   two  three""#);
        assert_eq!((s.nodes[1].start_line, s.nodes[1].end_line), (2, 6));
        assert_eq!(s.warnings.len(), 1);
        assert_eq!(
            dumps("RUN a \\\\\nRUN b"),
            [r#"run "a \\\\""#, r#"run "b""#]
        );
        assert_eq!(dumps("RUN a \\\\\\\nb"), [r#"run "a \\\\\\""#, "b"]);
        assert_eq!(dumps("RUN a \\"), [r#"run "a""#]);
        assert_eq!(dumps("RUN a \\  \t\nb"), [r#"run "a b""#]);
    }

    #[test]
    fn heredoc_bodies_follow_their_line() {
        let s = scan("FROM a\nRUN <<A cat - <<-B\nline $x\nA\n\tone\n\tB\nRUN b\n").unwrap();
        let run = &s.nodes[1];
        assert_eq!(run.heredocs.len(), 2);
        assert_eq!(run.heredocs[0].content, "line $x\n");
        assert_eq!(run.heredocs[1].content, "\tone\n");
        assert_eq!((run.start_line, run.end_line), (2, 6));
        assert_eq!(s.nodes[2].start_line, 7);
        let err = scan("RUN <<EOF\nnever ends\n").unwrap_err();
        assert_eq!(err.message, "unterminated heredoc");
        assert_eq!((err.start_line, err.end_line), (1, 2));
    }

    #[test]
    fn directives_bom_and_empty_files() {
        let s = scan("\u{feff}# escape=`\nRUN a `\n b\n").unwrap();
        assert_eq!(s.directives.escape, '`');
        assert_eq!(s.nodes[0].dump(), r#"run "a  b""#);
        assert_eq!(
            scan("# only\n\n").unwrap_err().message,
            "file with no instructions"
        );
        assert_eq!(scan("").unwrap_err().message, "file with no instructions");
    }
}
