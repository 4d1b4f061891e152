//! Parse errors that name the file, the line and the instruction, and can
//! show the offending lines as BuildKit does.

use std::fmt;

/// Why a Dockerfile was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The Dockerfile's name as the user gave it (`Dockerfile`, `-`...).
    pub file: String,
    pub start_line: usize,
    pub end_line: usize,
    /// The instruction keyword, upper case, when the error is about one.
    pub instruction: Option<String>,
    /// BuildKit's message.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.file, self.start_line)?;
        match &self.instruction {
            // Messages like "COPY requires ..." already name it.
            Some(i)
                if !self.message.to_uppercase().starts_with(i.as_str())
                    && !self.message.starts_with("unknown instruction") =>
            {
                write!(f, "{i}: {}", self.message)
            }
            _ => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ParseError {}

impl ParseError {
    /// BuildKit's excerpt of the source around the error:
    ///
    /// ```text
    /// Dockerfile:2
    /// --------------------
    ///    1 |     FROM busybox
    ///    2 | >>> FOOBAR x
    /// --------------------
    /// ```
    pub fn snippet(&self, source: &str) -> String {
        snippet(&self.file, source, self.start_line, self.end_line)
    }
}

/// The lines `start..=end` of `source` with up to 4 lines of context before.
pub fn snippet(file: &str, source: &str, start: usize, end: usize) -> String {
    let lines: Vec<&str> = source.lines().collect();
    let first = start.saturating_sub(4).max(1);
    let last = end.min(lines.len()).max(start.min(lines.len()));
    let mut out = format!("{file}:{start}");
    if end > start {
        out.push_str(&format!("-{end}"));
    }
    out.push_str("\n--------------------\n");
    for n in first..=last {
        let Some(text) = lines.get(n - 1) else { break };
        let mark = if (start..=end).contains(&n) {
            ">>>"
        } else {
            "   "
        };
        out.push_str(&format!("{n:>4} | {mark} {text}\n"));
    }
    out.push_str("--------------------\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_file_line_and_instruction() {
        let e = ParseError {
            file: "Dockerfile".into(),
            start_line: 3,
            end_line: 3,
            instruction: Some("COPY".into()),
            message: "unknown flag: --frm".into(),
        };
        assert_eq!(e.to_string(), "Dockerfile:3: COPY: unknown flag: --frm");
        let e = ParseError {
            message: "COPY requires at least two arguments".into(),
            ..e
        };
        assert_eq!(
            e.to_string(),
            "Dockerfile:3: COPY requires at least two arguments"
        );
        let s = snippet("Dockerfile", "FROM a\nRUN b\nCOPY x\n", 3, 3);
        assert_eq!(
            s,
            "Dockerfile:3\n--------------------\n   1 |     FROM a\n   2 |     RUN b\n   3 | >>> COPY x\n--------------------\n"
        );
    }
}
