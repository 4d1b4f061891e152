//! Compose's variable interpolation (`$V`, `${V}`, `${V:-d}`, `${V-d}`,
//! `${V:?err}`, `${V?err}`, `${V:+a}`, `${V+a}`, `$$`), hand-written to
//! behave as compose-go's `template` package does, quirks included:
//!
//! - names are `[_a-zA-Z][_a-zA-Z0-9]*`; a `$` followed by anything else
//!   (`$1`, `$-`, a trailing `$`) stays as it is;
//! - `${` that does not open a valid expression on the same line is an
//!   error ("invalid interpolation format"), so a literal `${` needs `$${`;
//! - with an operator, the expression runs to the `}` that balances the
//!   opening brace, so defaults nest (`${A:-${B:-x}}`), and what follows
//!   on the line is substituted in turn;
//! - an unset variable without an operator becomes empty, with the
//!   warning Compose prints.
//!
//! compose-go does this with a regular expression whose `(.*)` is greedy
//! up to the last `}` of the line and then re-cuts the match at the
//! balancing brace; the scanner below reproduces that without a regex
//! engine on the launch path.

use std::fmt;

/// Why a template could not be substituted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateError {
    /// `${` that opens no valid expression; `template` is the text it is in.
    Invalid { template: String },
    /// `${V:?reason}` or `${V?reason}` with V unset (or empty for `:?`).
    Missing { variable: String, reason: String },
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TemplateError::Invalid { template } => {
                write!(f, "invalid interpolation format in {template:?}: you may need to escape any $ with another $")
            }
            TemplateError::Missing { variable, reason } if reason.is_empty() => {
                write!(f, "required variable {variable} is missing a value")
            }
            TemplateError::Missing { variable, reason } => {
                write!(
                    f,
                    "required variable {variable} is missing a value: {reason}"
                )
            }
        }
    }
}

/// Variable lookup: `None` when unset (distinct from set to "").
pub type Lookup<'a> = dyn Fn(&str) -> Option<String> + 'a;

/// A substitution pass; collects Compose's warnings about unset variables.
pub struct Substitution<'a> {
    lookup: &'a Lookup<'a>,
    pub warnings: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Default { colon: bool },
    Alternate { colon: bool },
    Required { colon: bool },
}

fn is_name_start(b: u8) -> bool {
    b == b'_' || b.is_ascii_alphabetic()
}

fn is_name_char(b: u8) -> bool {
    b == b'_' || b.is_ascii_alphanumeric()
}

/// The end (exclusive) of the name starting at `i`, if one starts there.
fn name_end(s: &[u8], i: usize) -> Option<usize> {
    if i < s.len() && is_name_start(s[i]) {
        let mut j = i + 1;
        while j < s.len() && is_name_char(s[j]) {
            j += 1;
        }
        Some(j)
    } else {
        None
    }
}

/// compose-go's `getFirstBraceClosingIndex`: the index of the `}` that
/// balances the first `{`, where the character after each `{` is skipped.
fn first_brace_closing_index(s: &[u8]) -> Option<usize> {
    let mut open = 0i32;
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'}' {
            open -= 1;
            if open == 0 {
                return Some(i);
            }
        }
        if s[i] == b'{' {
            open += 1;
            i += 1;
        }
        i += 1;
    }
    None
}

impl<'a> Substitution<'a> {
    pub fn new(lookup: &'a Lookup<'a>) -> Substitution<'a> {
        Substitution {
            lookup,
            warnings: Vec::new(),
        }
    }

    /// Substitutes every expression in `template`. Like compose-go, it
    /// goes on after an error and reports the first one.
    pub fn substitute(&mut self, template: &str) -> Result<String, TemplateError> {
        let s = template.as_bytes();
        let mut out = String::with_capacity(template.len());
        let mut first_error: Option<TemplateError> = None;
        let mut copied = 0; // bytes of `template` already in `out`
        let mut i = 0;
        while i < s.len() {
            if s[i] != b'$' || i + 1 >= s.len() {
                i += 1;
                continue;
            }
            let next = s[i + 1];
            let (end, replacement) = if next == b'$' {
                (i + 2, Ok("$".to_string()))
            } else if let Some(end) = name_end(s, i + 1) {
                let name = &template[i + 1..end];
                (end, Ok(self.plain(name)))
            } else if next == b'{' {
                match braced_match_end(s, i) {
                    Some(end) => (end, self.braced(&template[i..end])),
                    // `${` with no valid expression: the match is `${` alone.
                    None => (
                        i + 2,
                        Err(TemplateError::Invalid {
                            template: String::new(),
                        }),
                    ),
                }
            } else {
                i += 1;
                continue;
            };
            out.push_str(&template[copied..i]);
            match replacement {
                Ok(r) => out.push_str(&r),
                Err(e) => {
                    if first_error.is_none() {
                        first_error = Some(e);
                    }
                }
            }
            copied = end;
            i = end;
        }
        out.push_str(&template[copied..]);
        match first_error {
            None => Ok(out),
            Some(TemplateError::Invalid { template: t }) if t.is_empty() => {
                Err(TemplateError::Invalid {
                    template: template.to_string(),
                })
            }
            Some(e) => Err(e),
        }
    }

    /// `$NAME` or `${NAME}`: the value, or "" with Compose's warning.
    fn plain(&mut self, name: &str) -> String {
        match (self.lookup)(name) {
            Some(v) => v,
            None => {
                let w = format!("The {name:?} variable is not set. Defaulting to a blank string.");
                if !self.warnings.contains(&w) {
                    self.warnings.push(w);
                }
                String::new()
            }
        }
    }

    /// A `${...}` match (as the regex matched it): cut at the balancing
    /// brace, apply the operator, then substitute what followed.
    fn braced(&mut self, matched: &str) -> Result<String, TemplateError> {
        let (sub, rest) = match first_brace_closing_index(matched.as_bytes()) {
            Some(c) => (&matched[..=c], &matched[c + 1..]),
            None => (matched, ""),
        };
        // `sub` is `${...}`: the expression is between the braces.
        let expr = &sub[2..sub.len() - 1];
        let name_len = name_end(expr.as_bytes(), 0).unwrap_or(0);
        let name = &expr[..name_len];
        let (op, arg) = match parse_op(&expr[name_len..]) {
            Some(x) => x,
            None => return Ok(self.plain(name)),
        };
        let value = (self.lookup)(name);
        let result = match op {
            Op::Default { colon } => match value {
                Some(v) if !(colon && v.is_empty()) => v,
                _ => self.substitute(arg)?,
            },
            Op::Alternate { colon } => match value {
                Some(v) if !(colon && v.is_empty()) => self.substitute(arg)?,
                Some(v) => v,
                None => String::new(),
            },
            Op::Required { colon } => match value {
                Some(v) if !(colon && v.is_empty()) => v,
                _ => {
                    let reason = self.substitute(arg)?;
                    return Err(TemplateError::Missing {
                        variable: name.to_string(),
                        reason,
                    });
                }
            },
        };
        let rest = self.substitute(rest)?;
        Ok(result + &rest)
    }
}

/// The operator at the start of `s` and its argument.
fn parse_op(s: &str) -> Option<(Op, &str)> {
    let (colon, s) = match s.strip_prefix(':') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let op = match s.as_bytes().first()? {
        b'-' => Op::Default { colon },
        b'+' => Op::Alternate { colon },
        b'?' => Op::Required { colon },
        _ => return None,
    };
    Some((op, &s[1..]))
}

/// Where the regex's braced alternative would end for a `${` at `i`:
/// `${NAME}`, or `${NAME<op>...}` up to the last `}` on the line.
fn braced_match_end(s: &[u8], i: usize) -> Option<usize> {
    let start = i + 2;
    let end_name = name_end(s, start)?;
    match s.get(end_name)? {
        b'}' => Some(end_name + 1),
        _ => {
            let mut j = end_name;
            if s[j] == b':' {
                j += 1;
            }
            if !matches!(s.get(j)?, b'-' | b'+' | b'?') {
                return None;
            }
            let line_end = s[j..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(s.len(), |p| j + p);
            let close = s[j + 1..line_end].iter().rposition(|&b| b == b'}')?;
            Some(j + 1 + close + 1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env() -> HashMap<&'static str, &'static str> {
        HashMap::from([
            ("FOO", "first"),
            ("BAR", ""),
            ("lower", "small"),
            ("JSON", "{\"a\": 1}"),
        ])
    }

    fn sub(t: &str) -> Result<String, TemplateError> {
        let e = env();
        let lookup = move |k: &str| e.get(k).map(|v| v.to_string());
        Substitution::new(&lookup).substitute(t)
    }

    #[test]
    fn plain_and_braced_names() {
        assert_eq!(sub("$FOO").unwrap(), "first");
        assert_eq!(sub("${FOO}").unwrap(), "first");
        assert_eq!(sub("a-$FOO-b").unwrap(), "a-first-b");
        assert_eq!(sub("${lower}").unwrap(), "small");
        assert_eq!(sub("$UNSET").unwrap(), "");
        assert_eq!(sub("${FOO}${FOO}").unwrap(), "firstfirst");
    }

    #[test]
    fn escapes_and_lone_dollars() {
        assert_eq!(sub("$$FOO").unwrap(), "$FOO");
        assert_eq!(sub("$${FOO}").unwrap(), "${FOO}");
        assert_eq!(sub("cost: 5$").unwrap(), "cost: 5$");
        assert_eq!(sub("$1 and $-").unwrap(), "$1 and $-");
    }

    #[test]
    fn defaults() {
        assert_eq!(sub("${UNSET:-dflt}").unwrap(), "dflt");
        assert_eq!(sub("${BAR:-dflt}").unwrap(), "dflt");
        assert_eq!(sub("${BAR-dflt}").unwrap(), "");
        assert_eq!(sub("${UNSET-dflt}").unwrap(), "dflt");
        assert_eq!(sub("${FOO:-dflt}").unwrap(), "first");
        assert_eq!(sub("${UNSET:-}").unwrap(), "");
        assert_eq!(sub("${UNSET:-a b:c}").unwrap(), "a b:c");
    }

    #[test]
    fn nested_defaults() {
        assert_eq!(sub("${UNSET:-${FOO}}").unwrap(), "first");
        assert_eq!(sub("${UNSET:-${UNSET2:-deep}}").unwrap(), "deep");
        assert_eq!(sub("${UNSET:-${UNSET2:-${FOO}}}").unwrap(), "first");
        assert_eq!(sub("${UNSET:-x} and ${FOO}").unwrap(), "x and first");
        assert_eq!(sub("${UNSET:-x}/${UNSET:-y}").unwrap(), "x/y");
        assert_eq!(sub("pre-${UNSET:-$FOO}-post").unwrap(), "pre-first-post");
    }

    #[test]
    fn alternates() {
        assert_eq!(sub("${FOO:+alt}").unwrap(), "alt");
        assert_eq!(sub("${BAR:+alt}").unwrap(), "");
        assert_eq!(sub("${BAR+alt}").unwrap(), "alt");
        assert_eq!(sub("${UNSET+alt}").unwrap(), "");
        assert_eq!(sub("${FOO:+${lower}}").unwrap(), "small");
    }

    #[test]
    fn required() {
        assert_eq!(sub("${FOO:?must}").unwrap(), "first");
        assert_eq!(
            sub("${BAR:?must be set}").unwrap_err(),
            TemplateError::Missing {
                variable: "BAR".into(),
                reason: "must be set".into()
            }
        );
        assert_eq!(sub("${BAR?must}").unwrap(), "");
        assert_eq!(
            sub("${UNSET?}").unwrap_err().to_string(),
            "required variable UNSET is missing a value"
        );
        assert_eq!(
            sub("${UNSET:?need $FOO}").unwrap_err(),
            TemplateError::Missing {
                variable: "UNSET".into(),
                reason: "need first".into()
            }
        );
    }

    #[test]
    fn invalid_templates() {
        for t in [
            "${}",
            "${ FOO}",
            "${FOO BAR}",
            "x ${1}",
            "${FOO",
            "${FOO:-x",
        ] {
            assert!(
                matches!(sub(t), Err(TemplateError::Invalid { .. })),
                "{t} should be invalid: {:?}",
                sub(t)
            );
        }
        assert_eq!(
            sub("a ${x y}").unwrap_err(),
            TemplateError::Invalid {
                template: "a ${x y}".into()
            }
        );
    }

    #[test]
    fn values_are_not_substituted_again() {
        assert_eq!(sub("$JSON").unwrap(), "{\"a\": 1}");
    }

    #[test]
    fn multi_line_values_cut_at_the_line() {
        assert_eq!(sub("${UNSET:-a}\n}").unwrap(), "a\n}");
    }

    #[test]
    fn unset_variables_warn_once() {
        let e = env();
        let lookup = move |k: &str| e.get(k).map(|v| v.to_string());
        let mut s = Substitution::new(&lookup);
        s.substitute("$NOPE $NOPE ${NOPE:-x}").unwrap();
        assert_eq!(
            s.warnings,
            vec!["The \"NOPE\" variable is not set. Defaulting to a blank string.".to_string()]
        );
    }
}
