//! One `.dockerignore` pattern, with moby/patternmatcher's semantics: Go's
//! `filepath.Match` syntax (`*` and `?` within a path component, `[...]`
//! classes, `\` escapes) plus `**` for any number of components, matched
//! against the whole slash-separated path relative to the context.
//!
//! patternmatcher compiles most patterns to a regular expression and some
//! to plain comparisons (exact, prefix for `dir/**`, suffix for `**/x`);
//! the same decisions are made here, with a small backtracking matcher in
//! place of the regex (including the quirk that `a**b` means
//! `a(.*/)?b`).

/// A character class `[...]`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Class {
    negated: bool,
    ranges: Vec<(char, char)>,
}

impl Class {
    fn matches(&self, c: char) -> bool {
        self.ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != self.negated
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Lit(char),
    /// `?`: one character other than `/`.
    One,
    /// `*`: any run without `/`.
    Star,
    /// `**` followed by more pattern: nothing, or anything ending in `/`.
    DirStar,
    /// `**` at the end: anything.
    Rest,
    Class(Class),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Exact(String),
    /// `dir/**`: the path starts with this (the part before `**`).
    Prefix(String),
    /// `**/x`: the path ends with this (the part after `**`).
    Suffix(String),
    Tokens(Vec<Tok>),
}

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    /// The cleaned pattern without its `!`.
    pub text: String,
    /// `!pattern`: re-includes what it matches.
    pub exclusion: bool,
    kind: Kind,
}

const BAD: &str = "syntax error in pattern";

/// Reads one class item character (Go's `getEsc`).
fn class_char(chars: &[char], i: &mut usize) -> Result<char, String> {
    match chars.get(*i) {
        None | Some('-') | Some(']') => Err(BAD.to_string()),
        Some('\\') => {
            *i += 1;
            let c = *chars.get(*i).ok_or(BAD)?;
            *i += 1;
            Ok(c)
        }
        Some(&c) => {
            *i += 1;
            Ok(c)
        }
    }
}

/// Parses a class starting after `[`; leaves `i` after `]`.
fn parse_class(chars: &[char], i: &mut usize) -> Result<Class, String> {
    let negated = chars.get(*i) == Some(&'^');
    if negated {
        *i += 1;
    }
    let mut ranges = Vec::new();
    loop {
        if chars.get(*i) == Some(&']') && !ranges.is_empty() {
            *i += 1;
            return Ok(Class { negated, ranges });
        }
        let lo = class_char(chars, i)?;
        let mut hi = lo;
        if chars.get(*i) == Some(&'-') {
            *i += 1;
            hi = class_char(chars, i)?;
            if hi < lo {
                return Err(format!("{BAD}: invalid character class range {lo}-{hi}"));
            }
        }
        ranges.push((lo, hi));
    }
}

impl Pattern {
    /// Compiles a pattern as patternmatcher's `New` does: trimmed,
    /// cleaned, `!` for exceptions.
    pub fn new(raw: &str) -> Result<Option<Pattern>, String> {
        let p = raw.trim();
        if p.is_empty() {
            return Ok(None);
        }
        let p = crate::util::path::go_clean(p);
        let (exclusion, text) = match p.strip_prefix('!') {
            Some("") => return Err("illegal exclusion pattern: \"!\"".to_string()),
            Some(rest) => (true, rest.to_string()),
            None => (false, p),
        };
        let kind = compile(&text)?;
        Ok(Some(Pattern {
            text,
            exclusion,
            kind,
        }))
    }

    /// Whether the pattern matches `path` itself.
    pub fn matches(&self, path: &str) -> bool {
        match &self.kind {
            Kind::Exact(s) => path == s,
            Kind::Prefix(s) => path.starts_with(s.as_str()),
            Kind::Suffix(s) => {
                path.ends_with(s.as_str()) || (s.starts_with('/') && path == &s[1..])
            }
            Kind::Tokens(toks) => {
                let chars: Vec<char> = path.chars().collect();
                match_tokens(toks, &chars, 0)
            }
        }
    }

    /// Whether the pattern matches `path` or one of its parent directories.
    pub fn matches_or_parent(&self, path: &str) -> bool {
        if self.matches(path) {
            return true;
        }
        path.match_indices('/')
            .any(|(i, _)| self.matches(&path[..i]))
    }
}

/// A Go `filepath.Match` pattern for one path component (COPY wildcards):
/// `*`, `?`, `[...]` and `\` escapes, none of them matching `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob(Vec<Tok>);

impl Glob {
    pub fn new(pattern: &str) -> Result<Glob, String> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut toks = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let ch = chars[i];
            i += 1;
            toks.push(match ch {
                '*' => Tok::Star,
                '?' => Tok::One,
                '\\' => Tok::Lit(*chars.get(i).ok_or(BAD)?),
                '[' => Tok::Class(parse_class(&chars, &mut i)?),
                c => Tok::Lit(c),
            });
            if ch == '\\' {
                i += 1;
            }
        }
        Ok(Glob(toks))
    }

    pub fn matches(&self, name: &str) -> bool {
        let chars: Vec<char> = name.chars().collect();
        match_tokens(&self.0, &chars, 0)
    }
}

/// Whether a path has wildcard characters (`*`, `?`, `[`) that are not
/// escaped: BuildKit's `containsWildcards`.
pub fn contains_wildcards(s: &str) -> bool {
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '*' | '?' | '[' => return true,
            '\\' => {
                chars.next();
            }
            _ => {}
        }
    }
    false
}

fn compile(pattern: &str) -> Result<Kind, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut toks = Vec::new();
    #[derive(PartialEq)]
    enum Detected {
        Exact,
        Prefix,
        Suffix,
        Regex,
    }
    let mut detected = Detected::Exact;
    let mut i = 0;
    let mut first = true;
    while i < chars.len() {
        let ch = chars[i];
        i += 1;
        match ch {
            '*' if chars.get(i) == Some(&'*') => {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                if i == chars.len() {
                    if detected == Detected::Exact {
                        detected = Detected::Prefix;
                    } else {
                        toks.push(Tok::Rest);
                        detected = Detected::Regex;
                    }
                } else {
                    toks.push(Tok::DirStar);
                    detected = Detected::Regex;
                }
                if first {
                    detected = Detected::Suffix;
                }
            }
            '*' => {
                toks.push(Tok::Star);
                detected = Detected::Regex;
            }
            '?' => {
                toks.push(Tok::One);
                detected = Detected::Regex;
            }
            '\\' => match chars.get(i) {
                Some(&c) => {
                    i += 1;
                    toks.push(Tok::Lit(c));
                    detected = Detected::Regex;
                }
                // Go's filepath.Match refuses a trailing backslash.
                None => return Err(BAD.to_string()),
            },
            '[' => {
                toks.push(Tok::Class(parse_class(&chars, &mut i)?));
                detected = Detected::Regex;
            }
            c => toks.push(Tok::Lit(c)),
        }
        first = false;
    }
    Ok(match detected {
        Detected::Exact => Kind::Exact(pattern.to_string()),
        Detected::Prefix => Kind::Prefix(pattern[..pattern.len() - 2].to_string()),
        Detected::Suffix => Kind::Suffix(pattern[2..].to_string()),
        Detected::Regex => Kind::Tokens(toks),
    })
}

fn match_tokens(toks: &[Tok], s: &[char], pos: usize) -> bool {
    let Some((first, rest)) = toks.split_first() else {
        return pos == s.len();
    };
    match first {
        Tok::Lit(c) => s.get(pos) == Some(c) && match_tokens(rest, s, pos + 1),
        Tok::One => s.get(pos).is_some_and(|c| *c != '/') && match_tokens(rest, s, pos + 1),
        Tok::Class(cl) => {
            s.get(pos).is_some_and(|c| cl.matches(*c)) && match_tokens(rest, s, pos + 1)
        }
        Tok::Star => {
            let mut end = pos;
            loop {
                if match_tokens(rest, s, end) {
                    return true;
                }
                if end == s.len() || s[end] == '/' {
                    return false;
                }
                end += 1;
            }
        }
        Tok::DirStar => {
            match_tokens(rest, s, pos)
                || (pos..s.len()).any(|j| s[j] == '/' && match_tokens(rest, s, j + 1))
        }
        Tok::Rest => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, path: &str) -> bool {
        Pattern::new(pattern)
            .unwrap()
            .unwrap()
            .matches_or_parent(path)
    }

    /// Cases written after moby/patternmatcher's and Go's filepath.Match
    /// tables: (pattern, path, matches).
    #[test]
    fn match_table() {
        let cases: &[(&str, &str, bool)] = &[
            ("**", "file", true),
            ("**", "dir/file", true),
            ("**/", "file", true),
            ("**/**", "dir/file", true),
            ("dir/**", "dir/file", true),
            ("dir/**", "dir/dir2/file", true),
            ("dir/**", "dir", false),
            ("**/dir", "dir", true),
            ("**/dir", "dir/file", true),
            ("**/dir2/*", "dir/dir2/file", true),
            ("**/dir2/**", "dir/dir2/dir3/file", true),
            ("**file", "file", true),
            ("**file", "dir/file", true),
            ("**file", "dirfile", true),
            ("**/file", "dir/dir/file", true),
            ("**/file*", "dir/dir/file.txt", true),
            ("**/file*txt", "dir/dir/file.txt", true),
            ("**/**/*.txt2", "dir/dir/file.txt", false),
            ("**/*.txt", "file.txt", true),
            ("a**/*.txt", "a/dir/dir/file.txt", true),
            ("a**b", "ab", true),
            ("a**b", "ax/b", true),
            ("a**b", "axb", false),
            ("a/*.txt", "a/dir/file.txt", false),
            ("a/*.txt", "a/file.txt", true),
            ("a/*.txt**", "a/file.txt", true),
            ("a[b-d]e", "ae", false),
            ("a[b-d]e", "ace", true),
            ("a[^b-d]e", "aze", true),
            (".*", ".foo", true),
            (".*", "foo", false),
            ("abc.def", "abcdef", false),
            ("abc?def", "abcZdef", true),
            ("abc?def", "abcdef", false),
            ("a\\\\", "a\\", true),
            ("a\\*b", "a*b", true),
            ("a\\*b", "axb", false),
            ("**/foo/bar", "dir/dir2/foo/bar", true),
            ("abc/**", "abc/def/ghi", true),
            ("**/.foo", "bar.foo", false),
            ("a(b)c/def", "a(b)c/def", true),
            ("a.|)$(}+{bc", "a.|)$(}+{bc", true),
            (
                "dist/*.whl",
                "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
                true,
            ),
            ("*", "abc", true),
            ("a*", "ab/c", true), // the parent "ab" matches
            ("a*/b", "abc/b", true),
            ("a*/b", "a/c/b", false),
            ("a*b*c*d*e*/f", "axbxcxdxe/f", true),
            ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false),
            ("a*b?c*x", "abxbbxdbxebxczzx", true),
            ("a*b?c*x", "abxbbxdbxebxczzy", false),
            ("ab[^c]", "abc", false),
            ("a?b", "a☺b", true),
            ("a[^a]b", "a☺b", true),
            ("a???b", "a☺b", false),
            ("[a-ζ]*", "α", true),
            ("*[a-ζ]", "A", false),
            ("a?b", "a/b", false),
            ("[\\]a]", "]", true),
            ("[x\\-]", "-", true),
            ("[\\-x]", "a", false),
            ("docs", "docs/README.md", true),
            ("docs/", "docs/README.md", true),
            ("./docs/../src", "src/main.rs", true),
            ("*/temp*", "somedir/temporary.txt", true),
            ("*/*/temp*", "somedir/subdir/temporary.txt", true),
            ("temp?", "tempa", true),
            ("**/*.go", "a/b/c.go", true),
        ];
        for (p, path, want) in cases {
            assert_eq!(m(p, path), *want, "pattern {p:?} path {path:?}");
        }
    }

    #[test]
    fn bad_patterns() {
        for p in [
            "[]a]", "[-]", "[x-]", "[-x]", "\\", "[a-b-c]", "[", "[^", "[^bc", "a[", "[z-a]",
        ] {
            assert!(Pattern::new(p).is_err(), "{p:?} should be refused");
        }
        assert_eq!(
            Pattern::new("!").unwrap_err(),
            "illegal exclusion pattern: \"!\""
        );
        assert!(Pattern::new("  ").unwrap().is_none());
    }

    #[test]
    fn component_globs() {
        let g = |p: &str, n: &str| Glob::new(p).unwrap().matches(n);
        assert!(g("*.txt", "a.txt") && g("*.txt", ".hidden.txt"));
        assert!(!g("*.txt", "a/b.txt"));
        assert!(g("f?le[0-9]", "file7") && !g("f?le[0-9]", "filex"));
        assert!(g("a\\*", "a*") && !g("a\\*", "ab"));
        assert!(g("**", "x"));
        assert!(Glob::new("[").is_err());
        assert!(
            contains_wildcards("a/*.go")
                && !contains_wildcards("a\\*b")
                && contains_wildcards("x[ab]")
        );
    }
}
