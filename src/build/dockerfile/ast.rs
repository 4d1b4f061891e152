//! The untyped parse tree: one node per instruction, its arguments split
//! the way the instruction's line parser splits them (BuildKit's `Node`),
//! and BuildKit's s-expression dump of it, used by the test corpus.

use super::heredoc::Heredoc;

/// One instruction as the line scanner read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawNode {
    /// The keyword as written (`run`, `Run`, `RUN` are all RUN).
    pub keyword: String,
    /// `--flag[=value]` words before the arguments, quotes resolved.
    pub flags: Vec<String>,
    /// The arguments: words, JSON strings, or `key value sep` triples for
    /// ENV and LABEL.
    pub args: Vec<String>,
    /// ONBUILD's trigger instruction.
    pub sub: Option<Box<RawNode>>,
    /// The arguments were a JSON array (exec form).
    pub json: bool,
    /// The logical line: continuations joined, comments removed.
    pub original: String,
    pub heredocs: Vec<Heredoc>,
    /// First and last physical line (1-based), heredoc bodies included.
    pub start_line: usize,
    pub end_line: usize,
}

impl RawNode {
    /// Lower-case keyword, the form instructions are matched on.
    pub fn command(&self) -> String {
        self.keyword.to_ascii_lowercase()
    }

    /// BuildKit's `Node.Dump()`: `(run ["--flag"] "arg" ...)`.
    pub fn dump(&self) -> String {
        let mut s = self.command();
        if !self.flags.is_empty() {
            let quoted: Vec<String> = self.flags.iter().map(|f| go_quote(f)).collect();
            s.push_str(&format!(" [{}]", quoted.join(" ")));
        }
        for a in &self.args {
            s.push(' ');
            s.push_str(&go_quote(a));
        }
        if let Some(sub) = &self.sub {
            s.push_str(&format!(" ({})", sub.dump()));
        }
        s.trim().to_string()
    }
}

/// Go's `strconv.Quote` for the characters Dockerfiles hold: printable
/// characters as they are, the rest escaped.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0b' => out.push_str("\\v"),
            '\x0c' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control() || c == '\u{feff}' => {
                let n = c as u32;
                if n <= 0xffff {
                    out.push_str(&format!("\\u{n:04x}"))
                } else {
                    out.push_str(&format!("\\U{n:08x}"))
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_like_go() {
        assert_eq!(go_quote(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(go_quote("t\tn\n\x01"), r#""t\tn\n\x01""#);
        assert_eq!(go_quote("한국어"), "\"한국어\"");
    }
}
