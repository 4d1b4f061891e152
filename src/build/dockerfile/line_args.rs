//! Per-instruction argument splitting (BuildKit's `line_parsers.go`): how
//! the text after the keyword and flags becomes arguments. This decides
//! exec form against shell form: arguments that parse as a JSON array of
//! strings are exec form, anything else (a malformed array included) is
//! shell form, and a JSON array holding a non-string is an error.

use super::ast::RawNode;
use super::split::{parse_words, split_command, split_first, split_separators};

/// The pieces a line parser produces.
struct Parsed {
    args: Vec<String>,
    sub: Option<Box<RawNode>>,
    json: bool,
}

impl Parsed {
    fn words(args: Vec<String>) -> Parsed {
        Parsed {
            args,
            sub: None,
            json: false,
        }
    }
}

/// Builds the node of one logical line (lines and heredocs set later).
pub(super) fn node_from_line(line: &str, escape: char) -> Result<RawNode, String> {
    let (keyword, flags, rest) = split_command(line, escape);
    let parsed = match keyword.to_ascii_lowercase().as_str() {
        "add" | "copy" | "volume" => maybe_json_to_list(&rest)?,
        "arg" => Parsed::words(parse_words(&rest, escape)),
        "cmd" | "entrypoint" | "run" | "shell" => maybe_json(&rest)?,
        "env" => name_val(&rest, "ENV", escape)?,
        "label" => name_val(&rest, "LABEL", escape)?,
        "expose" | "from" => Parsed::words(whitespace_delimited(&rest)),
        "healthcheck" => health_config(&rest)?,
        "maintainer" | "stopsignal" | "user" | "workdir" => Parsed::words(if rest.is_empty() {
            vec![]
        } else {
            vec![rest.clone()]
        }),
        "onbuild" => {
            if rest.is_empty() {
                Parsed::words(vec![])
            } else {
                Parsed {
                    args: vec![],
                    sub: Some(Box::new(node_from_line(&rest, escape)?)),
                    json: false,
                }
            }
        }
        // Unknown instructions keep no arguments; the typed layer names
        // them in its error.
        _ => Parsed::words(vec![]),
    };
    Ok(RawNode {
        keyword,
        flags,
        args: parsed.args,
        sub: parsed.sub,
        json: parsed.json,
        original: line.to_string(),
        heredocs: Vec::new(),
        start_line: 0,
        end_line: 0,
    })
}

/// Whitespace-separated words, nothing else interpreted.
fn whitespace_delimited(rest: &str) -> Vec<String> {
    if rest.is_empty() {
        return vec![];
    }
    split_separators(rest)
}

pub(super) const NOT_STRING_ARRAY: &str =
    "when using JSON array syntax, arrays must be comprised of strings only";

/// `Ok(Some(strings))` for a JSON array of strings, `Ok(None)` when the
/// text is not a JSON array at all.
fn parse_json(rest: &str) -> Result<Option<Vec<String>>, String> {
    let rest = rest.trim_start_matches(crate::build::shell::is_space);
    if !rest.starts_with('[') {
        return Ok(None);
    }
    let Ok(values) = serde_json::from_str::<Vec<serde_json::Value>>(rest) else {
        return Ok(None);
    };
    values
        .into_iter()
        .map(|v| match v {
            serde_json::Value::String(s) => Ok(s),
            _ => Err(NOT_STRING_ARRAY.to_string()),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// RUN, CMD, ENTRYPOINT, SHELL: exec form or one shell string.
fn maybe_json(rest: &str) -> Result<Parsed, String> {
    if rest.is_empty() {
        return Ok(Parsed::words(vec![]));
    }
    Ok(match parse_json(rest)? {
        Some(args) => Parsed {
            args,
            sub: None,
            json: true,
        },
        None => Parsed::words(vec![rest.to_string()]),
    })
}

/// ADD, COPY, VOLUME: exec form or whitespace-separated words.
fn maybe_json_to_list(rest: &str) -> Result<Parsed, String> {
    Ok(match parse_json(rest)? {
        Some(args) => Parsed {
            args,
            sub: None,
            json: true,
        },
        None => Parsed::words(whitespace_delimited(rest)),
    })
}

/// ENV and LABEL: `KEY value...` (legacy, one pair) or `k=v k2=v2`. Each
/// pair becomes `key value sep`, sep being `=` or empty for the legacy
/// form, as in BuildKit's tree.
fn name_val(rest: &str, key: &str, escape: char) -> Result<Parsed, String> {
    let words = parse_words(rest, escape);
    let Some(first) = words.first() else {
        return Ok(Parsed::words(vec![]));
    };
    if !first.contains('=') {
        let (name, value) = split_first(rest);
        return match value {
            Some(value) => Ok(Parsed::words(vec![
                name.to_string(),
                value.to_string(),
                String::new(),
            ])),
            None => Err(format!("{key} must have two arguments")),
        };
    }
    let mut args = Vec::with_capacity(words.len() * 3);
    for w in &words {
        let Some((k, v)) = w.split_once('=') else {
            return Err(format!(
                "Syntax error - can't find = in {}. Must be of the form: name=value",
                super::ast::go_quote(w)
            ));
        };
        args.extend([k.to_string(), v.to_string(), "=".to_string()]);
    }
    Ok(Parsed::words(args))
}

/// HEALTHCHECK: the type word, then a command in either form.
fn health_config(rest: &str) -> Result<Parsed, String> {
    let sep = rest
        .find(crate::build::shell::is_space)
        .unwrap_or(rest.len());
    if sep == 0 {
        return Ok(Parsed::words(vec![]));
    }
    let cmd = maybe_json(rest[sep..].trim_start_matches(crate::build::shell::is_space))?;
    let mut args = vec![rest[..sep].to_string()];
    args.extend(cmd.args);
    Ok(Parsed {
        args,
        sub: None,
        json: cmd.json,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dump(line: &str) -> String {
        node_from_line(line, '\\').unwrap().dump()
    }

    #[test]
    fn exec_and_shell_forms() {
        assert_eq!(dump(r#"CMD ["a", "b c"]"#), r#"cmd "a" "b c""#);
        assert_eq!(dump("CMD []"), "cmd");
        assert_eq!(dump(r#"CMD ["a" "b"]"#), r#"cmd "[\"a\" \"b\"]""#);
        assert_eq!(dump("CMD ['a']"), r#"cmd "['a']""#);
        assert_eq!(dump(r#"CMD ["a"] x"#), r#"cmd "[\"a\"] x""#);
        assert_eq!(
            node_from_line(r#"CMD ["a", 1]"#, '\\').unwrap_err(),
            NOT_STRING_ARRAY
        );
        assert_eq!(dump("COPY  a   b  c"), r#"copy "a" "b" "c""#);
        assert_eq!(dump(r#"VOLUME ["/a", "/b"]"#), r#"volume "/a" "/b""#);
    }

    #[test]
    fn env_label_pairs() {
        assert_eq!(dump("ENV A b c"), r#"env "A" "b c" """#);
        assert_eq!(
            dump(r#"ENV A="b c" D=e"#),
            r#"env "A" "\"b c\"" "=" "D" "e" "=""#
        );
        assert_eq!(
            node_from_line("ENV A=b c", '\\').unwrap_err(),
            r#"Syntax error - can't find = in "c". Must be of the form: name=value"#
        );
        assert_eq!(
            node_from_line("LABEL onlyname", '\\').unwrap_err(),
            "LABEL must have two arguments"
        );
    }

    #[test]
    fn onbuild_nests_and_healthcheck_keeps_its_type() {
        assert_eq!(dump("ONBUILD RUN echo hi"), r#"onbuild (run "echo hi")"#);
        assert_eq!(
            dump(r#"HEALTHCHECK --interval=5s CMD ["true"]"#),
            r#"healthcheck ["--interval=5s"] "CMD" "true""#
        );
        assert_eq!(dump("HEALTHCHECK NONE"), r#"healthcheck "NONE""#);
        assert_eq!(dump("BOGUS a b"), "bogus");
    }
}
