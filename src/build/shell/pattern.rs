//! The shell patterns of `${V#p}`, `${V%p}` and `${V/p/r}`: `*` and `?`
//! with backslash escapes, and no bracket expressions (BuildKit has none).
//!
//! BuildKit turns these patterns into regular expressions and relies on
//! leftmost-first matching; a small backtracking matcher that tries the
//! preferred alternative first gives the same answers without a regex crate.

/// One element of a compiled pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Lit(char),
    /// `?`: exactly one character.
    One,
    /// `*`: any run of characters, shortest or longest first.
    Star,
}

/// A compiled pattern.
#[derive(Debug, Clone)]
pub(super) struct Pattern {
    toks: Vec<Tok>,
}

impl Pattern {
    /// Compiles `pattern`. `\}` and `\/` stand for the bare character (they
    /// had to be escaped inside `${...}`); other escapes must quote `*`, `?`
    /// or `\`, as in BuildKit.
    pub(super) fn compile(pattern: &str) -> Result<Pattern, String> {
        let mut toks = Vec::new();
        let mut chars = pattern.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '*' => toks.push(Tok::Star),
                '?' => toks.push(Tok::One),
                '\\' => match chars.peek().copied() {
                    Some('}') | Some('/') => {}
                    Some(n @ ('*' | '?' | '\\')) => {
                        chars.next();
                        toks.push(Tok::Lit(n));
                    }
                    Some(n) => return Err(format!("invalid escape '\\{n}'")),
                    None => return Err("invalid escape '\\' at end of pattern".to_string()),
                },
                c => toks.push(Tok::Lit(c)),
            }
        }
        Ok(Pattern { toks })
    }

    /// The same pattern read from right to left, for suffix matching.
    pub(super) fn reversed(&self) -> Pattern {
        let mut toks = self.toks.clone();
        toks.reverse();
        Pattern { toks }
    }

    /// End (in chars) of the preferred match of the whole pattern starting
    /// at `start`, with `*` preferring the longest run when `greedy`.
    pub(super) fn match_at(&self, s: &[char], start: usize, greedy: bool) -> Option<usize> {
        match_from(&self.toks, s, start, greedy)
    }

    /// The leftmost preferred match: (start, end) in chars.
    pub(super) fn find(&self, s: &[char], from: usize, greedy: bool) -> Option<(usize, usize)> {
        (from..=s.len()).find_map(|i| self.match_at(s, i, greedy).map(|e| (i, e)))
    }
}

fn match_from(toks: &[Tok], s: &[char], pos: usize, greedy: bool) -> Option<usize> {
    let Some((first, rest)) = toks.split_first() else {
        return Some(pos);
    };
    match *first {
        Tok::Lit(c) => (s.get(pos) == Some(&c))
            .then(|| match_from(rest, s, pos + 1, greedy))
            .flatten(),
        Tok::One => (pos < s.len())
            .then(|| match_from(rest, s, pos + 1, greedy))
            .flatten(),
        Tok::Star => {
            if greedy {
                (pos..=s.len())
                    .rev()
                    .find_map(|e| match_from(rest, s, e, greedy))
            } else {
                (pos..=s.len()).find_map(|e| match_from(rest, s, e, greedy))
            }
        }
    }
}

/// `${V#p}` (shortest) and `${V##p}` (longest): `value` without the prefix
/// that `pattern` matches.
pub(super) fn trim_prefix(pattern: &str, value: &str, greedy: bool) -> Result<String, String> {
    let p = Pattern::compile(pattern)?;
    let chars: Vec<char> = value.chars().collect();
    Ok(match p.match_at(&chars, 0, greedy) {
        Some(end) => chars[end..].iter().collect(),
        None => value.to_string(),
    })
}

/// `${V%p}` and `${V%%p}`: the suffix case, matched on reversed strings as
/// BuildKit does (regular expressions cannot find the shortest rightmost
/// match directly).
pub(super) fn trim_suffix(pattern: &str, value: &str, greedy: bool) -> Result<String, String> {
    let p = Pattern::compile(pattern)?.reversed();
    let rev: Vec<char> = value.chars().rev().collect();
    Ok(match p.match_at(&rev, 0, greedy) {
        Some(end) => rev[end..].iter().rev().collect(),
        None => value.to_string(),
    })
}

/// `${V/p/r}` and `${V//p/r}`: the replacement is inserted literally.
pub(super) fn replace(
    pattern: &str,
    value: &str,
    replacement: &str,
    all: bool,
) -> Result<String, String> {
    let p = Pattern::compile(pattern)?;
    let s: Vec<char> = value.chars().collect();
    let mut out = String::new();
    let mut pos = 0;
    let mut last_end: Option<usize> = None;
    while pos <= s.len() {
        let Some((start, end)) = p.find(&s, pos, true) else {
            break;
        };
        // Go's ReplaceAll ignores an empty match right after a match.
        if start == end && last_end == Some(start) {
            if start < s.len() {
                out.push(s[start]);
            }
            pos = start + 1;
            continue;
        }
        out.extend(&s[pos..start]);
        out.push_str(replacement);
        last_end = Some(end);
        pos = if end == start {
            if start < s.len() {
                out.push(s[start]);
            }
            end + 1
        } else {
            end
        };
        if !all {
            break;
        }
    }
    if pos < s.len() {
        out.extend(&s[pos..]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_and_suffix_trimming_prefer_shortest_or_longest() {
        assert_eq!(trim_prefix("*/", "a/b/c", false).unwrap(), "b/c");
        assert_eq!(trim_prefix("*/", "a/b/c", true).unwrap(), "c");
        assert_eq!(trim_suffix("/*", "a/b/c", false).unwrap(), "a/b");
        assert_eq!(trim_suffix("/*", "a/b/c", true).unwrap(), "a");
        assert_eq!(trim_prefix("x", "abc", false).unwrap(), "abc");
        assert_eq!(trim_suffix(".tar.?z", "f.tar.gz", false).unwrap(), "f");
        assert_eq!(trim_prefix("\\*", "*ab", false).unwrap(), "ab");
    }

    #[test]
    fn replacement_first_and_all() {
        assert_eq!(replace("o", "foo", "0", false).unwrap(), "f0o");
        assert_eq!(replace("o", "foo", "0", true).unwrap(), "f00");
        assert_eq!(replace("o*", "foo bar", "X", false).unwrap(), "fX");
        assert_eq!(replace("z", "foo", "X", true).unwrap(), "foo");
        assert_eq!(replace("\\/", "a/b/c", "_", true).unwrap(), "a_b_c");
    }

    #[test]
    fn bad_escapes_are_errors() {
        assert!(Pattern::compile("a\\b").is_err());
        assert!(Pattern::compile("a\\").is_err());
    }
}
