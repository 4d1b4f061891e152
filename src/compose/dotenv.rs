//! Compose's `.env` syntax (compose-go's `dotenv` parser), used for the
//! project's `.env`, `--env-file` and services' `env_file`:
//!
//! - `KEY=value`, `KEY: value`, an optional `export ` prefix;
//! - `# comments` on their own line, and after an unquoted value when
//!   preceded by a space (`A=b #c` is `b`; `A=b#c` is `b#c`);
//! - `'single quotes'` are literal (only `\'` is unescaped);
//! - `"double quotes"` take the escapes `\n \t \r \a \b \f \v \" \\ \$`
//!   and `\0NNN` (octal), and may span lines;
//! - unquoted and double-quoted values are interpolated with Compose's
//!   template rules, from the lookup first (the environment) and then the
//!   values defined earlier in the file;
//! - a bare `KEY` line takes KEY from the lookup, or is skipped.
//!
//! This is not `docker run --env-file`, whose values are literal.

use super::template::{Substitution, TemplateError};
use indexmap::IndexMap;
use std::fmt;

/// A `.env` syntax error, with the line it is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DotenvError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for DotenvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for DotenvError {}

/// Parses `.env` text into `out` (later keys replace earlier ones).
/// `lookup` answers variables from outside the file; unset-variable
/// warnings go to `warnings`.
pub fn parse(
    src: &str,
    out: &mut IndexMap<String, String>,
    lookup: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
) -> Result<(), DotenvError> {
    let src = src.strip_prefix('\u{feff}').unwrap_or(src);
    let mut p = Parser { line: 1 };
    let mut rest = src;
    loop {
        rest = p.statement_start(rest);
        if rest.is_empty() {
            return Ok(());
        }
        let (key, after, inherited) = p.key_name(rest)?;
        if key.contains(' ') {
            return Err(p.error("key cannot contain a space"));
        }
        if inherited {
            if let Some(v) = lookup(&key) {
                out.insert(key, v);
            }
            rest = after;
            continue;
        }
        let (value, after) = p.value(after, out, lookup, warnings)?;
        out.insert(key, value);
        rest = after;
    }
}

/// compose-go's notion of a blank that is not a line break.
fn is_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{85}' | '\u{a0}'
    )
}

struct Parser {
    line: usize,
}

impl Parser {
    fn error(&self, message: impl Into<String>) -> DotenvError {
        DotenvError {
            line: self.line,
            message: message.into(),
        }
    }

    /// Skips blank space and comment lines, counting line breaks.
    fn statement_start<'s>(&mut self, mut src: &'s str) -> &'s str {
        loop {
            let Some(pos) = src.find(|c: char| {
                if c == '\n' {
                    self.line += 1;
                }
                !c.is_whitespace()
            }) else {
                return "";
            };
            src = &src[pos..];
            if !src.starts_with('#') {
                return src;
            }
            match src.find('\n') {
                Some(nl) => src = &src[nl..],
                None => return "",
            }
        }
    }

    /// The key at the start of `src`, what follows its separator, and
    /// whether it stands alone on its line (inherited from the lookup).
    fn key_name<'s>(&mut self, src: &'s str) -> Result<(String, &'s str, bool), DotenvError> {
        let mut src = src;
        if let Some(after) = src.strip_prefix("export") {
            if after.starts_with(char::is_whitespace) {
                src = after.trim_start_matches(is_space);
            }
        }
        let mut end = None;
        for (i, c) in src.char_indices() {
            if is_space(c) {
                continue;
            }
            match c {
                '=' | ':' | '\n' => {
                    end = Some((i, c));
                    break;
                }
                '_' | '.' | '-' | '[' | ']' => {}
                c if c.is_alphanumeric() => {}
                c => {
                    let first_line = src.lines().next().unwrap_or("");
                    return Err(self.error(format!(
                        "unexpected character {:?} in variable name {first_line:?}",
                        c.to_string()
                    )));
                }
            }
        }
        // A last line without a separator or line break names a variable
        // to inherit, as a bare line does.
        let (i, sep) = end.unwrap_or((src.len(), '\n'));
        let key = src[..i].trim_end_matches(char::is_whitespace).to_string();
        let inherited = sep == '\n';
        if inherited && !key.contains(' ') {
            self.line += 1;
        }
        let rest = src.get(i + 1..).unwrap_or("");
        Ok((key, rest.trim_start_matches(is_space), inherited))
    }

    fn value<'s>(
        &mut self,
        src: &'s str,
        env: &IndexMap<String, String>,
        lookup: &dyn Fn(&str) -> Option<String>,
        warnings: &mut Vec<String>,
    ) -> Result<(String, &'s str), DotenvError> {
        let quote = match src.as_bytes().first() {
            Some(&q @ (b'"' | b'\'')) => q,
            _ => {
                let (line, rest) = src.split_once('\n').unwrap_or((src, ""));
                let value = line.split(" #").next().unwrap_or("");
                let value = value.trim_end_matches(char::is_whitespace);
                let value = self.expand(value, env, lookup, warnings)?;
                self.line += 1;
                return Ok((value, rest));
            }
        };
        let bytes = src.as_bytes();
        let mut chars: Vec<u8> = Vec::new();
        let mut escaped = false;
        for i in 1..bytes.len() {
            let c = bytes[i];
            if c == b'\n' {
                self.line += 1;
            }
            if c != quote {
                if !escaped && c == b'\\' {
                    escaped = true;
                    continue;
                }
                if escaped {
                    escaped = false;
                    chars.push(b'\\');
                }
                chars.push(c);
                continue;
            }
            if escaped {
                escaped = false;
                chars.push(c);
                continue;
            }
            // Splitting only at ASCII bytes keeps the UTF-8 intact.
            let mut value = String::from_utf8_lossy(&chars).into_owned();
            if quote == b'"' {
                value = self.expand(&expand_escapes(&value), env, lookup, warnings)?;
            }
            return Ok((value, &src[i + 1..]));
        }
        let first_line = src.lines().next().unwrap_or("");
        Err(self.error(format!("unterminated quoted value {first_line}")))
    }

    fn expand(
        &self,
        value: &str,
        env: &IndexMap<String, String>,
        lookup: &dyn Fn(&str) -> Option<String>,
        warnings: &mut Vec<String>,
    ) -> Result<String, DotenvError> {
        let both = |k: &str| lookup(k).or_else(|| env.get(k).cloned());
        let mut s = Substitution::new(&both);
        let out = s.substitute(value).map_err(|e| match e {
            TemplateError::Invalid { .. } => self.error(format!(
                "invalid interpolation format in {value:?}: you may need to escape any $ with another $"
            )),
            e => self.error(e.to_string()),
        })?;
        for w in s.warnings {
            if !warnings.contains(&w) {
                warnings.push(w);
            }
        }
        Ok(out)
    }
}

/// The escapes of double-quoted values. `\$` becomes `$$`, which the
/// interpolation then turns into a literal `$`.
fn expand_escapes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(&(_, n)) = it.peek() else {
            out.push(c);
            continue;
        };
        let simple = match n {
            'a' => Some("\u{7}"),
            'b' => Some("\u{8}"),
            'c' => None, // in the set compose-go matches, but not an escape Go knows
            'f' => Some("\u{c}"),
            'n' => Some("\n"),
            'r' => Some("\r"),
            't' => Some("\t"),
            'v' => Some("\u{b}"),
            '$' => Some("$$"),
            '"' => Some("\""),
            '\\' => Some("\\"),
            _ => None,
        };
        if let Some(r) = simple {
            out.push_str(r);
            it.next();
            continue;
        }
        if n == '0' {
            // `\0` and up to three digits: Go takes exactly three octal
            // digits (`\0101` is "A"); anything else stays as written.
            let digits: String = s[i + 2..]
                .chars()
                .take_while(|d| d.is_ascii_digit())
                .take(3)
                .collect();
            if digits.len() == 3 && digits.chars().all(|d| ('0'..='7').contains(&d)) {
                if let Ok(v) = u32::from_str_radix(&digits, 8) {
                    if v < 256 {
                        out.push(char::from(v as u8));
                        it.next();
                        for _ in 0..3 {
                            it.next();
                        }
                        continue;
                    }
                }
            }
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(src: &str) -> Result<IndexMap<String, String>, DotenvError> {
        let mut out = IndexMap::new();
        let mut w = Vec::new();
        let lookup = |k: &str| (k == "OUTSIDE").then(|| "from-env".to_string());
        parse(src, &mut out, &lookup, &mut w)?;
        Ok(out)
    }

    fn get(src: &str, key: &str) -> String {
        parse_str(src)
            .unwrap()
            .get(key)
            .cloned()
            .unwrap_or_else(|| panic!("{key} not in {src:?}"))
    }

    #[test]
    fn plain_values() {
        let m = parse_str("A=1\nB = two \n\nC:3\nexport D=4\n# comment\n  E=five six\n").unwrap();
        let pairs: Vec<(&str, &str)> = m.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            pairs,
            [
                ("A", "1"),
                ("B", "two"),
                ("C", "3"),
                ("D", "4"),
                ("E", "five six")
            ]
        );
    }

    #[test]
    fn comments() {
        assert_eq!(get("A=b #c", "A"), "b");
        assert_eq!(get("A=b#c", "A"), "b#c");
        assert_eq!(get("A=\"b #c\" # real comment", "A"), "b #c");
        assert_eq!(get("A='b' # c\nB=2", "B"), "2");
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(get(r#"A='lit\n $X'"#, "A"), r"lit\n $X");
        assert_eq!(get(r#"A='it\'s'"#, "A"), "it's");
        assert_eq!(
            get(r#"A="a\nb\t\"q\" \\ \$HOME""#, "A"),
            "a\nb\t\"q\" \\ $HOME"
        );
        assert_eq!(get(r#"A="\0101\0""#, "A"), "A\\0");
        assert_eq!(get("A=\"line1\nline2\"\nB=x", "A"), "line1\nline2");
        assert_eq!(get("A=\"line1\nline2\"\nB=x", "B"), "x");
        assert_eq!(get("A=\"\"", "A"), "");
        assert_eq!(get("A=", "A"), "");
    }

    #[test]
    fn interpolation_of_earlier_values_and_the_environment() {
        let m = parse_str("A=one\nB=${A}-two\nC=\"$B and ${OUTSIDE}\"\nD='$A'\nE=${NOPE:-dflt}\n")
            .unwrap();
        assert_eq!(m["B"], "one-two");
        assert_eq!(m["C"], "one-two and from-env");
        assert_eq!(m["D"], "$A");
        assert_eq!(m["E"], "dflt");
    }

    #[test]
    fn the_environment_wins_over_earlier_values_in_interpolation() {
        let m = parse_str("OUTSIDE=file\nB=$OUTSIDE\n").unwrap();
        assert_eq!(m["B"], "from-env");
    }

    #[test]
    fn inherited_keys() {
        let m = parse_str("OUTSIDE\nMISSING\nA=1").unwrap();
        assert_eq!(m.get("OUTSIDE").map(String::as_str), Some("from-env"));
        assert!(!m.contains_key("MISSING"));
        assert_eq!(m["A"], "1");
        let m = parse_str("A=1\nOUTSIDE").unwrap();
        assert_eq!(m["OUTSIDE"], "from-env");
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse_str("A=1\n\nB C=2\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert_eq!(e.message, "key cannot contain a space");
        let e = parse_str("A=1\nB=\"open\nC=3\n").unwrap_err();
        assert!(e.message.starts_with("unterminated quoted value"), "{e}");
        let e = parse_str("A=1\nB$=2\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("unexpected character \"$\""), "{e}");
        let e = parse_str("A=${B:?needed}\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 1: required variable B is missing a value: needed"
        );
    }

    #[test]
    fn byte_order_mark_and_crlf() {
        let m = parse_str("\u{feff}A=1\r\nB=2\r\n").unwrap();
        assert_eq!(m["A"], "1");
        assert_eq!(m["B"], "2");
    }
}
