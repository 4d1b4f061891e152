//! `compose config` output: the model as YAML written the way go-yaml
//! writes it for Docker Compose (two-space indent, lists indented under
//! their key, plain scalars unless they would read back as another type
//! or clash with YAML syntax, `"double quotes"` for the former and
//! `'single quotes'` for the latter, `|` blocks for multi-line text), or
//! as JSON the way Go's `json.MarshalIndent` writes it.
//!
//! Both writers take a `serde_json::Value` made from the typed model;
//! `inline_extensions` first moves each `x-` bag into its parent, where
//! Compose prints extension fields.

use serde_json::Value;
use std::fmt::Write;

/// Replaces every `"x-": {...}` member by the members it holds (sorted,
/// after the others), as compose-go's inline `Extensions` fields print.
pub fn inline_extensions(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if let Some(Value::Object(ext)) = m.shift_remove("x-") {
                let mut ext: Vec<(String, Value)> = ext.into_iter().collect();
                ext.sort_by(|a, b| a.0.cmp(&b.0));
                for (k, e) in ext {
                    m.insert(k, e);
                }
            }
            for (_, c) in m.iter_mut() {
                inline_extensions(c);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(inline_extensions),
        _ => {}
    }
}

/// YAML, as `docker compose config` prints it.
pub fn to_yaml(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Object(m) if !m.is_empty() => write_map(&mut out, m, 0),
        Value::Array(a) if !a.is_empty() => write_seq(&mut out, a, 0),
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
    out
}

fn indent(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn is_collection(v: &Value) -> bool {
    matches!(v, Value::Object(m) if !m.is_empty()) || matches!(v, Value::Array(a) if !a.is_empty())
}

fn write_map(out: &mut String, m: &serde_json::Map<String, Value>, ind: usize) {
    for (i, (k, v)) in m.iter().enumerate() {
        if i > 0 {
            indent(out, ind);
        }
        out.push_str(&quote_str(k));
        out.push(':');
        write_value_after_key(out, v, ind);
    }
}

fn write_value_after_key(out: &mut String, v: &Value, ind: usize) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            indent(out, ind + 2);
            write_map(out, m, ind + 2);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            indent(out, ind + 2);
            write_seq(out, a, ind + 2);
        }
        Value::String(s) if s.contains('\n') => {
            out.push(' ');
            write_block(out, s, ind);
        }
        other => {
            out.push(' ');
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

fn write_seq(out: &mut String, a: &[Value], ind: usize) {
    for (i, v) in a.iter().enumerate() {
        if i > 0 {
            indent(out, ind);
        }
        out.push_str("- ");
        match v {
            Value::Object(m) if !m.is_empty() => write_map(out, m, ind + 2),
            Value::Array(inner) if !inner.is_empty() => write_seq(out, inner, ind + 2),
            Value::String(s) if s.contains('\n') => write_block(out, s, ind),
            other => {
                out.push_str(&scalar(other));
                out.push('\n');
            }
        }
        let _ = is_collection(v);
    }
}

/// A literal block (`|`, `|-`, `|+`) for text with line breaks, its lines
/// two spaces deeper than `ind`.
fn write_block(out: &mut String, s: &str, ind: usize) {
    // Text that cannot be a block (trailing spaces on a line are fine;
    // carriage returns and other controls are not) is double-quoted.
    if s.chars()
        .any(|c| c != '\n' && c != '\t' && (c.is_control() || c == '\u{feff}'))
        || s.starts_with(['\n'])
        || s.lines()
            .any(|l| l.ends_with(' ') && l.trim().is_empty() && !l.is_empty())
    {
        out.push_str(&double_quoted(s));
        out.push('\n');
        return;
    }
    out.push('|');
    if s.starts_with(' ') {
        out.push('2');
    }
    let trailing = s.len() - s.trim_end_matches('\n').len();
    match trailing {
        0 => out.push('-'),
        1 => {}
        _ => out.push('+'),
    }
    out.push('\n');
    let body = if trailing == 1 { &s[..s.len() - 1] } else { s };
    let body = if trailing > 1 {
        body.strip_suffix('\n').unwrap_or(body)
    } else {
        body
    };
    for line in body.split('\n') {
        if !line.is_empty() {
            indent(out, ind + 2);
            out.push_str(line);
        }
        out.push('\n');
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => number(n),
        Value::String(s) => quote_str(s),
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
    }
}

fn number(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    // Floats in the model are float32 in compose-go: print the shortest
    // text that reads back as the same float32.
    let f32v = f as f32;
    if f32v as f64 == f || (f32v as f64 - f).abs() < f64::EPSILON * 8.0 {
        let s = format!("{f32v}");
        return go_style_float(&s);
    }
    go_style_float(&format!("{f}"))
}

fn go_style_float(s: &str) -> String {
    // Rust writes "1" for 1.0_f32 with {}; Go's %g does the same.
    s.to_string()
}

/// What go-yaml's resolver would read a plain scalar as, when not a string.
fn resolves_to_non_string(s: &str) -> bool {
    if s.is_empty() {
        return true;
    }
    match s {
        "~" | "null" | "Null" | "NULL" | "true" | "True" | "TRUE" | "false" | "False" | "FALSE"
        | ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF"
        | ".nan" | ".NaN" | ".NAN" | "<<" => return true,
        _ => {}
    }
    // YAML 1.1 booleans are quoted too, for older readers.
    if matches!(
        s,
        "y" | "Y"
            | "yes"
            | "Yes"
            | "YES"
            | "on"
            | "On"
            | "ON"
            | "n"
            | "N"
            | "no"
            | "No"
            | "NO"
            | "off"
            | "Off"
            | "OFF"
    ) {
        return true;
    }
    let first = s.as_bytes()[0];
    if !(first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.')) {
        return false;
    }
    let plain = s.replace('_', "");
    if parse_go_int(&plain) || is_yaml_float(&plain) {
        return true;
    }
    // Sexagesimal numbers (`1:20`, like a port mapping) and timestamps.
    is_base60(s) || is_timestamp(s)
}

fn parse_go_int(s: &str) -> bool {
    let t = s.strip_prefix(['-', '+']).unwrap_or(s);
    if t.is_empty() {
        return false;
    }
    let (digits, radix) = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        (h, 16)
    } else if let Some(b) = t.strip_prefix("0b").or_else(|| t.strip_prefix("0B")) {
        (b, 2)
    } else if let Some(o) = t.strip_prefix("0o").or_else(|| t.strip_prefix("0O")) {
        (o, 8)
    } else if t.len() > 1 && t.starts_with('0') {
        (&t[1..], 8)
    } else {
        (t, 10)
    };
    !digits.is_empty() && digits.chars().all(|c| c.is_digit(radix))
}

fn is_yaml_float(s: &str) -> bool {
    // ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$
    let t = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (mant, exp) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let mant_ok = match mant.split_once('.') {
        Some(("", frac)) => !frac.is_empty() && frac.chars().all(|c| c.is_ascii_digit()),
        Some((int, frac)) => {
            !int.is_empty()
                && int.chars().all(|c| c.is_ascii_digit())
                && frac.chars().all(|c| c.is_ascii_digit())
        }
        None => !mant.is_empty() && mant.chars().all(|c| c.is_ascii_digit()),
    };
    let exp_ok = match exp {
        None => true,
        Some(e) => {
            let e = e.strip_prefix(['-', '+']).unwrap_or(e);
            !e.is_empty() && e.chars().all(|c| c.is_ascii_digit())
        }
    };
    mant_ok && exp_ok
}

fn is_base60(s: &str) -> bool {
    // ^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$
    let t = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (main, frac) = match t.split_once('.') {
        Some((m, f)) => (m, Some(f)),
        None => (t, None),
    };
    if let Some(f) = frac {
        if !f.chars().all(|c| c.is_ascii_digit() || c == '_') {
            return false;
        }
    }
    let mut parts = main.split(':');
    let head = parts.next().unwrap_or("");
    if head.is_empty()
        || !head.as_bytes()[0].is_ascii_digit()
        || !head.chars().all(|c| c.is_ascii_digit() || c == '_')
    {
        return false;
    }
    let mut n = 0;
    for p in parts {
        n += 1;
        let ok = match p.len() {
            1 => p.as_bytes()[0].is_ascii_digit(),
            2 => (b'0'..=b'5').contains(&p.as_bytes()[0]) && p.as_bytes()[1].is_ascii_digit(),
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    n > 0
}

fn is_timestamp(s: &str) -> bool {
    // go-yaml tries 2006-1-2 style dates (with optional time).
    let b = s.as_bytes();
    b.len() >= 8
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && s[5..]
            .split(['-', 'T', 't', ' ', ':', '.'])
            .next()
            .is_some_and(|m| !m.is_empty() && m.len() <= 2 && m.chars().all(|c| c.is_ascii_digit()))
        && s[5..].contains('-')
}

/// A string key or value, quoted as go-yaml would.
pub fn quote_str(s: &str) -> String {
    if resolves_to_non_string(s) {
        return double_quoted(s);
    }
    if plain_allowed(s) {
        return s.to_string();
    }
    if single_allowed(s) {
        return format!("'{}'", s.replace('\'', "''"));
    }
    double_quoted(s)
}

/// libyaml's analysis of whether a scalar may be plain in block context.
fn plain_allowed(s: &str) -> bool {
    if s.starts_with("---") || s.starts_with("...") {
        return false;
    }
    let chars: Vec<char> = s.chars().collect();
    if chars.first().is_some_and(|c| *c == ' ') || chars.last().is_some_and(|c| *c == ' ') {
        return false;
    }
    for (i, &c) in chars.iter().enumerate() {
        let next_blank = chars.get(i + 1).is_none_or(|n| *n == ' ' || *n == '\t');
        let prev_blank = i > 0 && (chars[i - 1] == ' ' || chars[i - 1] == '\t');
        if !printable(c) {
            return false;
        }
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => return false,
                '?' | ':' | '-' if next_blank => return false,
                _ => {}
            }
        } else {
            match c {
                ':' if next_blank => return false,
                '#' if prev_blank => return false,
                _ => {}
            }
        }
    }
    true
}

fn printable(c: char) -> bool {
    matches!(c, '\u{20}'..='\u{7e}' | '\u{85}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
        && c != '\u{feff}'
}

fn single_allowed(s: &str) -> bool {
    s.chars().all(printable)
}

/// A double-quoted scalar with YAML's escapes.
pub fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{b}' => out.push_str("\\v"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            '\u{1b}' => out.push_str("\\e"),
            '\u{85}' => out.push_str("\\N"),
            '\u{a0}' => out.push_str("\\_"),
            '\u{2028}' => out.push_str("\\L"),
            '\u{2029}' => out.push_str("\\P"),
            c if printable(c) => out.push(c),
            c if (c as u32) <= 0xff => {
                let _ = write!(out, "\\x{:02X}", c as u32);
            }
            c if (c as u32) <= 0xffff => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08X}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

/// JSON as Go's `json.MarshalIndent(v, "", "  ")` writes it, including
/// its escaping of `<`, `>` and `&`.
pub fn to_json(v: &Value) -> String {
    let mut out = String::new();
    write_json(&mut out, v, 0);
    out
}

fn write_json(out: &mut String, v: &Value, ind: usize) {
    match v {
        Value::Object(m) if m.is_empty() => out.push_str("{}"),
        Value::Object(m) => {
            out.push_str("{\n");
            for (i, (k, v)) in m.iter().enumerate() {
                indent(out, ind + 2);
                json_string(out, k);
                out.push_str(": ");
                write_json(out, v, ind + 2);
                if i + 1 < m.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            indent(out, ind);
            out.push('}');
        }
        Value::Array(a) if a.is_empty() => out.push_str("[]"),
        Value::Array(a) => {
            out.push_str("[\n");
            for (i, v) in a.iter().enumerate() {
                indent(out, ind + 2);
                write_json(out, v, ind + 2);
                if i + 1 < a.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            indent(out, ind);
            out.push(']');
        }
        Value::String(s) => json_string(out, s),
        Value::Number(n) => out.push_str(&number(n)),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Null => out.push_str("null"),
    }
}

fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quoting_follows_go_yaml() {
        assert_eq!(quote_str("busybox"), "busybox");
        assert_eq!(quote_str(""), "\"\"");
        assert_eq!(quote_str("8080"), "\"8080\"");
        assert_eq!(quote_str("8080:80"), "8080:80");
        assert_eq!(quote_str("1:20"), "\"1:20\"");
        assert_eq!(quote_str("1.5"), "\"1.5\"");
        assert_eq!(quote_str("true"), "\"true\"");
        assert_eq!(quote_str("yes"), "\"yes\"");
        assert_eq!(quote_str("null"), "\"null\"");
        assert_eq!(quote_str("0755"), "\"0755\"");
        assert_eq!(quote_str("*.txt"), "'*.txt'");
        assert_eq!(quote_str("a: b"), "'a: b'");
        assert_eq!(quote_str("a #b"), "'a #b'");
        assert_eq!(quote_str("a#b"), "a#b");
        assert_eq!(quote_str(" lead"), "' lead'");
        assert_eq!(quote_str("it's"), "it's");
        assert_eq!(quote_str("-c"), "-c");
        assert_eq!(quote_str("- c"), "'- c'");
        assert_eq!(quote_str("echo $$HOME"), "echo $$HOME");
        assert_eq!(quote_str("/bin/sh"), "/bin/sh");
        assert_eq!(quote_str("tab\there"), "\"tab\\there\"");
        assert_eq!(quote_str("2024-01-02"), "\"2024-01-02\"");
        assert_eq!(quote_str("{a}"), "'{a}'");
    }

    #[test]
    fn yaml_layout() {
        let v = json!({"name": "p", "services": {"web": {"command": ["a", "b"], "ports": [{"target": 80, "published": "8080"}], "networks": {"default": null}, "volumes": [], "x": {}}}});
        assert_eq!(
            to_yaml(&v),
            "name: p\nservices:\n  web:\n    command:\n      - a\n      - b\n    ports:\n      - target: 80\n        published: \"8080\"\n    networks:\n      default: null\n    volumes: []\n    x: {}\n"
        );
    }

    #[test]
    fn multi_line_strings_are_blocks() {
        let v = json!({"a": "x\ny\n", "b": "x\ny", "c": ["p\nq"]});
        assert_eq!(
            to_yaml(&v),
            "a: |\n  x\n  y\nb: |-\n  x\n  y\nc:\n  - |-\n    p\n    q\n"
        );
    }

    #[test]
    fn json_as_go_writes_it() {
        let v = json!({"a": {"b": [1, "x<y"]}, "e": {}, "f": []});
        assert_eq!(
            to_json(&v),
            "{\n  \"a\": {\n    \"b\": [\n      1,\n      \"x\\u003cy\"\n    ]\n  },\n  \"e\": {},\n  \"f\": []\n}"
        );
    }

    #[test]
    fn extensions_print_inline_after_fields() {
        let mut v = json!({"image": "a", "x-": {"x-b": 1, "x-a": 2}, "z": 1});
        inline_extensions(&mut v);
        assert_eq!(
            v.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["image", "z", "x-a", "x-b"]
        );
    }
}
