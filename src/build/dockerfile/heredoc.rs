//! Heredoc markers (`<<EOF`, `<<-EOF`, `<<"EOF"`, `3<<EOF`) found on an
//! instruction line, with BuildKit's rules: a marker is a whole word, a
//! `-` strips leading tabs from the body and the terminator, and any
//! quoting of the delimiter turns expansion of the body off.

use crate::build::shell::Lexer;

/// One heredoc of an instruction.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Heredoc {
    /// The delimiter, quotes removed; also the file name of a `COPY <<EOF`
    /// source.
    pub name: String,
    /// The file descriptor a shell would read it on (`3<<EOF`), 0 if none.
    pub file_descriptor: u32,
    /// Whether `$VAR` in the body is expanded (the delimiter was unquoted).
    pub expand: bool,
    /// `<<-`: leading tabs are stripped.
    pub chomp: bool,
    /// The body, every line with its newline; tabs not yet stripped.
    pub content: String,
}

impl Heredoc {
    /// The body as it is used: with leading tabs removed for `<<-`.
    pub fn body(&self) -> String {
        if !self.chomp {
            return self.content.clone();
        }
        self.content
            .split_inclusive('\n')
            .map(|l| l.trim_start_matches('\t'))
            .collect()
    }
}

/// Reads a marker from one word: `^(\d*)<<(-?)\s*([^<]*)$`. `Ok(None)`
/// when the word is not a heredoc marker.
pub(super) fn parse_marker(word: &str) -> Result<Option<Heredoc>, String> {
    let digits = word.bytes().take_while(u8::is_ascii_digit).count();
    let Some(rest) = word[digits..].strip_prefix("<<") else {
        return Ok(None);
    };
    let (chomp, rest) = match rest.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let rest = rest.trim_start_matches([' ', '\t', '\n', '\x0c', '\r']);
    if rest.is_empty() || rest.contains('<') {
        return Ok(None);
    }
    let file_descriptor = word[..digits].parse().unwrap_or(0);
    // Lexing with and without quote removal tells whether part of the
    // delimiter was quoted.
    let mut lex = Lexer::new('\\');
    lex.skip_unset_env = true;
    let words = lex.process_words(rest, &()).map_err(|e| e.to_string())?;
    if words.len() != 1 {
        return Ok(None);
    }
    lex.raw_quotes = true;
    let raw = lex.process_words(rest, &()).map_err(|e| e.to_string())?;
    if raw.len() != 1 {
        return Err(format!(
            "internal lexing of heredoc produced inconsistent results: {rest}"
        ));
    }
    let quotes = |s: &str| s.matches(['\'', '"']).count();
    Ok(Some(Heredoc {
        expand: quotes(&words[0]) == quotes(&raw[0]),
        name: words[0].clone(),
        file_descriptor,
        chomp,
        content: String::new(),
    }))
}

/// The heredoc markers of a line, in order.
pub(super) fn markers_in_line(line: &str) -> Result<Vec<Heredoc>, String> {
    let mut lex = Lexer::new('\\');
    lex.raw_quotes = true;
    lex.raw_escapes = true;
    lex.skip_unset_env = true;
    // A line the lexer cannot split (an unbalanced quote) has no markers,
    // as in BuildKit, which ignores this error.
    let words = lex.process_words(line, &()).unwrap_or_default();
    let mut docs = Vec::new();
    for w in words {
        if let Some(doc) = parse_marker(&w)? {
            docs.push(doc);
        }
    }
    Ok(docs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(line: &str) -> Vec<(String, bool, bool, u32)> {
        markers_in_line(line)
            .unwrap()
            .into_iter()
            .map(|d| (d.name, d.expand, d.chomp, d.file_descriptor))
            .collect()
    }

    #[test]
    fn finds_markers_and_their_quoting() {
        assert_eq!(names("RUN <<EOF"), [("EOF".into(), true, false, 0)]);
        assert_eq!(names("RUN <<-EOT"), [("EOT".into(), true, true, 0)]);
        assert_eq!(names("RUN <<'EOF'"), [("EOF".into(), false, false, 0)]);
        assert_eq!(names("RUN <<\"E\"OF"), [("EOF".into(), false, false, 0)]);
        assert_eq!(names("RUN << EOF"), [("EOF".into(), true, false, 0)]);
        assert_eq!(names("RUN 3<<IN cat"), [("IN".into(), true, false, 3)]);
        assert_eq!(
            names("COPY <<A <<-B /dst/"),
            [("A".into(), true, false, 0), ("B".into(), true, true, 0)]
        );
        assert!(names("RUN cat<<EOF").is_empty());
        assert!(names("RUN echo '<<EOF'").is_empty());
        assert!(names("RUN echo \"<<EOF").is_empty());
        assert!(names("RUN <<").is_empty());
    }

    #[test]
    fn chomp_strips_leading_tabs_of_every_line() {
        let d = Heredoc {
            name: "X".into(),
            file_descriptor: 0,
            expand: true,
            chomp: true,
            content: "\t\tone\n\t two\nthree\t\n".into(),
        };
        assert_eq!(d.body(), "one\n two\nthree\t\n");
    }
}
