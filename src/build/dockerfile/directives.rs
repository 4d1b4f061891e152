//! Parser directives: `# syntax=`, `# escape=` and `# check=` comments at
//! the very top of a Dockerfile. The first line that is not one of them (an
//! instruction, an empty line, any other comment) ends the directives.

/// The directives a Dockerfile set.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Directives {
    /// `# syntax=` as written: the frontend image a BuildKit build would
    /// run. berth parses every file itself; the builder may say so when it
    /// names something other than `docker/dockerfile`.
    pub syntax: Option<String>,
    /// `# check=`: lint configuration, accepted and not acted on.
    pub check: Option<String>,
    /// The escape character: `\` unless `# escape=` set a backtick.
    pub escape: char,
}

impl Directives {
    /// The frontend `# syntax=` names when it is not Docker's own
    /// Dockerfile frontend (`docker/dockerfile[:tag]`, with or without
    /// `docker.io/`): berth parses the file itself, so the builder says it
    /// ignored that frontend.
    pub fn foreign_frontend(&self) -> Option<&str> {
        let s = self.syntax.as_deref()?;
        let image = s.split_whitespace().next().unwrap_or(s);
        let name = image.split(['@', ':']).next().unwrap_or(image);
        let name = name.strip_prefix("docker.io/").unwrap_or(name);
        (name != "docker/dockerfile" && name != "docker/dockerfile-upstream").then_some(image)
    }
}

impl Default for Directives {
    fn default() -> Self {
        Directives {
            syntax: None,
            check: None,
            escape: '\\',
        }
    }
}

/// Reads directives line by line until the first line that is not one.
#[derive(Debug, Default)]
pub(super) struct DirectiveParser {
    done: bool,
    escape_seen: bool,
    pub(super) found: Directives,
}

impl DirectiveParser {
    /// Looks at one line (leading blanks already removed). `Ok(true)` when
    /// it was a directive.
    pub(super) fn parse_line(&mut self, line: &str) -> Result<bool, String> {
        if self.done {
            return Ok(false);
        }
        let Some(rest) = line.strip_prefix('#') else {
            self.done = true;
            return Ok(false);
        };
        let Some((key, value)) = split_directive(rest.trim_start()) else {
            self.done = true;
            return Ok(false);
        };
        let key = key.to_ascii_lowercase();
        let slot = match key.as_str() {
            "syntax" => &mut self.found.syntax,
            "check" => &mut self.found.check,
            "escape" => {
                if self.escape_seen {
                    return Err("only one escape parser directive can be used".to_string());
                }
                self.escape_seen = true;
                self.found.escape = match value {
                    "\\" => '\\',
                    "`" => '`',
                    other => {
                        return Err(format!(
                            "invalid escape token '{other}' does not match ` or \\"
                        ))
                    }
                };
                return Ok(true);
            }
            _ => {
                self.done = true;
                return Ok(false);
            }
        };
        if slot.is_some() {
            return Err(format!("only one {key} parser directive can be used"));
        }
        *slot = Some(value.to_string());
        Ok(true)
    }
}

/// `name = value` where name is `[a-zA-Z][a-zA-Z0-9]*` and value is not
/// empty; blanks around `=` and after the value are dropped (BuildKit's
/// `^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`).
fn split_directive(s: &str) -> Option<(&str, &str)> {
    let name_len = s
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit())))
        .map_or(s.len(), |(i, _)| i);
    if name_len == 0 {
        return None;
    }
    let (name, rest) = s.split_at(name_len);
    let rest = rest.trim_start_matches(is_ascii_space).strip_prefix('=')?;
    let value = rest
        .trim_start_matches(is_ascii_space)
        .trim_end_matches(is_ascii_space);
    (!value.is_empty()).then_some((name, value))
}

/// RE2's `\s`.
fn is_ascii_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0c' | '\r')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(lines: &[&str]) -> Result<(Directives, usize), String> {
        let mut p = DirectiveParser::default();
        let mut n = 0;
        for l in lines {
            if p.parse_line(l)? {
                n += 1;
            }
        }
        Ok((p.found, n))
    }

    #[test]
    fn reads_directives_until_the_first_other_line() {
        let (d, n) = parse(&[
            "# syntax=docker/dockerfile:1",
            "#escape=`",
            "# check = skip=all",
        ])
        .unwrap();
        assert_eq!(n, 3);
        assert_eq!(d.syntax.as_deref(), Some("docker/dockerfile:1"));
        assert_eq!(d.escape, '`');
        assert_eq!(d.check.as_deref(), Some("skip=all"));

        let (d, n) = parse(&["# a comment", "# escape=`"]).unwrap();
        assert_eq!((d.escape, n), ('\\', 0));
        let (d, _) = parse(&["", "# escape=`"]).unwrap();
        assert_eq!(d.escape, '\\');
        let (d, _) = parse(&["# unknown=x", "# escape=`"]).unwrap();
        assert_eq!(d.escape, '\\');
        let (d, _) = parse(&["# ESCAPE = `  "]).unwrap();
        assert_eq!(d.escape, '`');
    }

    #[test]
    fn foreign_frontends_are_noticed() {
        let with = |s: &str| Directives {
            syntax: Some(s.to_string()),
            ..Directives::default()
        };
        assert_eq!(with("docker/dockerfile:1").foreign_frontend(), None);
        assert_eq!(
            with("docker.io/docker/dockerfile:1.7-labs").foreign_frontend(),
            None
        );
        assert_eq!(
            with("docker/dockerfile@sha256:abc").foreign_frontend(),
            None
        );
        assert_eq!(
            with("example.com/my/frontend:2").foreign_frontend(),
            Some("example.com/my/frontend:2")
        );
        assert_eq!(Directives::default().foreign_frontend(), None);
    }

    #[test]
    fn rejects_repeats_and_bad_escapes() {
        assert_eq!(
            parse(&["# escape=`", "# escape=\\"]).unwrap_err(),
            "only one escape parser directive can be used"
        );
        assert_eq!(
            parse(&["# syntax=a", "# syntax=b"]).unwrap_err(),
            "only one syntax parser directive can be used"
        );
        assert_eq!(
            parse(&["# escape=x"]).unwrap_err(),
            "invalid escape token 'x' does not match ` or \\"
        );
        // A directive with an empty value is an ordinary comment.
        assert_eq!(parse(&["# escape=", "# escape=`"]).unwrap().0.escape, '\\');
    }
}
