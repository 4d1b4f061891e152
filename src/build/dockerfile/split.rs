//! Splitting one logical line: the instruction keyword, its `--flags`, and
//! the words of its arguments, with BuildKit's quoting rules (quotes and
//! escapes are kept in words here and removed later by substitution).

use crate::build::shell::is_space;

/// BuildKit's `[\t\v\f\r ]+` separator.
pub(super) fn is_separator(c: char) -> bool {
    matches!(c, '\t' | '\x0b' | '\x0c' | '\r' | ' ')
}

/// Splits on runs of separators (Go's `regexp.Split(s, -1)` with the
/// separator class above, which yields empty strings at the ends when `s`
/// starts or ends with one).
pub(super) fn split_separators(s: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut in_sep = false;
    for c in s.chars() {
        if is_separator(c) {
            if !in_sep {
                out.push(String::new());
                in_sep = true;
            }
        } else {
            in_sep = false;
            out.last_mut().unwrap().push(c);
        }
    }
    out
}

/// Splits at the first run of separators into at most two parts.
pub(super) fn split_first(s: &str) -> (&str, Option<&str>) {
    match s.find(is_separator) {
        Some(i) => {
            let rest = s[i..].trim_start_matches(is_separator);
            (&s[..i], Some(rest))
        }
        None => (s, None),
    }
}

/// The keyword, the leading `--flags` and the rest of the line.
pub(super) fn split_command(line: &str, escape: char) -> (String, Vec<String>, String) {
    let (cmd, rest) = split_first(line.trim_matches(is_space));
    let (args, flags) = match rest {
        Some(rest) => extract_builder_flags(rest, escape),
        None => (String::new(), Vec::new()),
    };
    (
        cmd.to_string(),
        flags,
        args.trim_matches(is_space).to_string(),
    )
}

/// Takes the words that start with `--` off the front of `line`, with
/// quotes and escapes resolved in them; a bare `--` ends the flags.
fn extract_builder_flags(line: &str, escape: char) -> (String, Vec<String>) {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote(char),
    }
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    let mut words = Vec::new();
    let mut phase = Phase::Spaces;
    let mut word = String::new();
    let mut blank_ok = false;
    let mut i = 0;
    while i < chars.len() {
        let (at, ch) = chars[i];
        match phase {
            Phase::Spaces => {
                if is_space(ch) {
                    i += 1;
                    continue;
                }
                if !line[at..].starts_with("--") {
                    return (line[at..].to_string(), words);
                }
                phase = Phase::Word;
                continue;
            }
            Phase::Word => {
                if is_space(ch) {
                    phase = Phase::Spaces;
                    if word == "--" {
                        return (line[at..].to_string(), words);
                    }
                    if blank_ok || !word.is_empty() {
                        words.push(std::mem::take(&mut word));
                    }
                    word.clear();
                    blank_ok = false;
                } else if ch == '\'' || ch == '"' {
                    phase = Phase::Quote(ch);
                    blank_ok = true;
                } else if ch == escape {
                    if i + 1 < chars.len() {
                        i += 1;
                        word.push(chars[i].1);
                    }
                } else {
                    word.push(ch);
                }
            }
            Phase::Quote(q) => {
                if ch == q {
                    phase = Phase::Word;
                } else if ch == escape {
                    if i + 1 < chars.len() {
                        i += 1;
                        word.push(chars[i].1);
                    } else {
                        phase = Phase::Word;
                    }
                } else {
                    word.push(ch);
                }
            }
        }
        i += 1;
    }
    if phase != Phase::Spaces && word != "--" && (blank_ok || !word.is_empty()) {
        words.push(word);
    }
    (String::new(), words)
}

/// Space-separated words with quotes and escapes kept (BuildKit's
/// `parseWords`, used by ENV, LABEL and ARG).
pub(super) fn parse_words(rest: &str, escape: char) -> Vec<String> {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote(char),
    }
    let chars: Vec<char> = rest.chars().collect();
    let mut words = Vec::new();
    let mut phase = Phase::Spaces;
    let mut word = String::new();
    let mut blank_ok = false;
    let mut i = 0;
    while i < chars.len() {
        let ch = chars[i];
        match phase {
            Phase::Spaces => {
                if is_space(ch) {
                    i += 1;
                    continue;
                }
                phase = Phase::Word;
                continue;
            }
            Phase::Word => {
                if is_space(ch) {
                    phase = Phase::Spaces;
                    if blank_ok || !word.is_empty() {
                        words.push(std::mem::take(&mut word));
                    }
                    blank_ok = false;
                    i += 1;
                    continue;
                }
                if ch == '\'' || ch == '"' {
                    phase = Phase::Quote(ch);
                    blank_ok = true;
                }
                if ch == escape {
                    if i + 1 == chars.len() {
                        // An escape at the very end is dropped.
                        i += 1;
                        continue;
                    }
                    // Unquoted, the escape and the character it protects
                    // both stay (the lexer removes the escape later).
                    word.push(ch);
                    i += 1;
                    word.push(chars[i]);
                } else {
                    word.push(ch);
                }
            }
            Phase::Quote(q) => {
                if ch == q {
                    phase = Phase::Word;
                }
                // Inside single quotes nothing is escaped.
                if ch == escape && q != '\'' {
                    if i + 1 == chars.len() {
                        phase = Phase::Word;
                        i += 1;
                        continue;
                    }
                    word.push(ch);
                    i += 1;
                    word.push(chars[i]);
                } else {
                    word.push(ch);
                }
            }
        }
        i += 1;
    }
    if phase != Phase::Spaces && (blank_ok || !word.is_empty()) {
        words.push(word);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_come_off_the_front() {
        let (cmd, flags, args) = split_command("  COPY --from=a --chown=\"x y\" src dst ", '\\');
        assert_eq!(cmd, "COPY");
        assert_eq!(flags, ["--from=a", "--chown=x y"]);
        assert_eq!(args, "src dst");
        let (_, flags, args) = split_command("RUN --network=none -- --not-a-flag", '\\');
        assert_eq!(flags, ["--network=none"]);
        assert_eq!(args, "--not-a-flag");
        let (_, flags, args) = split_command("RUN -x --y", '\\');
        assert!(flags.is_empty());
        assert_eq!(args, "-x --y");
        let (_, flags, args) = split_command("COPY --link", '\\');
        assert_eq!((flags, args), (vec!["--link".to_string()], String::new()));
        let (_, flags, _) = split_command("COPY --a=\\\"q --b='' x", '\\');
        assert_eq!(flags, ["--a=\"q", "--b="]);
        let (cmd, flags, args) = split_command("HEALTHCHECK", '\\');
        assert_eq!(
            (cmd.as_str(), flags.len(), args.as_str()),
            ("HEALTHCHECK", 0, "")
        );
    }

    #[test]
    fn words_keep_quotes_and_escapes() {
        assert_eq!(
            parse_words(r#"a="b c" d='e f' g\ h"#, '\\'),
            [r#"a="b c""#, "d='e f'", r"g\ h"]
        );
        assert_eq!(parse_words(r"a\", '\\'), ["a"]);
        assert_eq!(parse_words(r#"'it\' x"#, '\\'), [r"'it\'", "x"]);
        assert_eq!(parse_words("a= b=\"\"", '\\'), ["a=", "b=\"\""]);
        assert_eq!(parse_words("x `\" y", '`'), ["x", "`\"", "y"]);
    }

    #[test]
    fn separators_split_like_go_regexp() {
        assert_eq!(split_separators("a  b\tc"), ["a", "b", "c"]);
        assert_eq!(split_separators("a "), ["a", ""]);
    }
}
