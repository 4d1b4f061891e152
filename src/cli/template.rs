//! `--format` templates as Docker's CLI reads them: Go templates (gotmpl)
//! with Docker's functions (`json`, `split`, `join`, `title`, `lower`,
//! `upper`, `pad`, `truncate`) besides Go's builtins (`println`, `printf`,
//! `len`, `index`, ...), the `table` prefix, `\t` and `\n` typed as two
//! characters, and the header row Docker derives from the same template.

use anyhow::Result;
use gotmpl::{MissingKey, Template, Value};
use serde_json::Value as Json;
use std::cell::RefCell;

/// A `--format` value taken apart as Docker's `Format.templateString`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Format {
    /// `table ...`: aligned columns under a header row.
    pub(crate) table: bool,
    /// The Go template, with `\t`/`\n` replaced.
    pub(crate) template: String,
}

impl Format {
    /// `None`, empty or `table`: `default` (a `table ...` format); `json`:
    /// one JSON object a line; `table TEMPLATE` (any text after `table`);
    /// anything else a template run per row.
    pub(crate) fn parse(format: Option<&str>, default: &str) -> Format {
        let raw = match format {
            None | Some("") | Some("table") => default,
            Some("json") => "{{json .}}",
            Some(f) => f,
        };
        let (table, rest) = match raw.strip_prefix("table") {
            Some(rest) => (true, rest),
            None => (false, raw),
        };
        Format {
            table,
            template: unescape(rest.trim_matches(' ')),
        }
    }
}

/// Docker replaces the two-character sequences `\t` and `\n` typed on the
/// command line by the characters.
pub(crate) fn unescape(s: &str) -> String {
    s.replace("\\t", "\t").replace("\\n", "\n")
}

/// What a template is executed for: rows of a listing (missing fields are
/// errors, `{{json .}}` escapes HTML as Docker's row marshaller), the
/// header of a table (Docker's header functions), or inspected objects.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Mode {
    Row,
    Header,
    Object,
}

thread_local! {
    /// The labels of the row being rendered, for `{{.Label "name"}}`.
    static ROW_LABELS: RefCell<Vec<(String, String)>> = const { RefCell::new(Vec::new()) };
}

thread_local! {
    /// Values being rendered and the JSON `{{json X}}` prints for each,
    /// when that is not its fields' as they are (`events`: Docker runs the
    /// template on a Go struct whose JSON names differ from its field
    /// names, and whose fields keep their declared order).
    static JSON_SHOWN: RefCell<Vec<(Json, Json)>> = const { RefCell::new(Vec::new()) };
}

/// For the next executions: `{{json X}}` where X is the first of a pair
/// prints its second.
pub(crate) fn set_json_shown(pairs: Vec<(Json, Json)>) {
    JSON_SHOWN.with(|w| *w.borrow_mut() = pairs);
}

/// Sets the labels `{{.Label "name"}}` sees for the next executions.
pub(crate) fn set_row_labels(labels: Vec<(String, String)>) {
    ROW_LABELS.with(|l| *l.borrow_mut() = labels);
}

/// Parses a template with Docker's functions for `mode`.
pub(crate) fn parse(src: &str, mode: Mode) -> Result<Template> {
    let src = rewrite_label_calls(src);
    let header = mode == Mode::Header;
    let mut t = Template::new("").missing_key(if mode == Mode::Row {
        MissingKey::Error
    } else {
        MissingKey::Invalid
    });
    // Header functions return their first argument unchanged, so that a
    // column's title survives `upper`, `json` or `truncate` (not `pad`).
    if header {
        // Docker's header functions take a string: given the header map
        // itself (`table {{json .}}`) they fail, and the header is empty.
        for name in [
            "json", "title", "lower", "upper", "split", "join", "truncate",
        ] {
            t = t.func(name, |args| match args.first() {
                Some(v @ Value::String(_)) => Ok(v.clone()),
                other => Err(gotmpl::TemplateError::Exec(format!(
                    "wrong type for value; expected string; got {}",
                    other.map_or("nil", |v| v.type_name())
                ))),
            });
        }
        t = t.func("__label", |args| {
            // SubHeaderContext.Label: the last dotted part, - and _ as spaces.
            let name = arg_str(args, 1);
            let last = name.rsplit('.').next().unwrap_or_default();
            Ok(Value::from(last.replace(['-', '_'], " ")))
        });
    } else {
        let escape = mode == Mode::Row;
        t = t
            .func("json", move |args| {
                let v = args.first().map(to_json).unwrap_or(Json::Null);
                let v = JSON_SHOWN.with(|w| {
                    w.borrow()
                        .iter()
                        .find(|(data, _)| *data == v)
                        .map_or(v.clone(), |(_, shown)| shown.clone())
                });
                // A whole row goes through Go's json.Marshal, which escapes
                // <, > and &; values alone do not.
                let text = serde_json::to_string(&v).unwrap_or_default();
                Ok(Value::from(if escape && v.is_object() {
                    escape_html(&text)
                } else {
                    text
                }))
            })
            .func("title", |args| Ok(Value::from(title(&arg_str(args, 0)))))
            .func("lower", |args| {
                Ok(Value::from(arg_str(args, 0).to_lowercase()))
            })
            .func("upper", |args| {
                Ok(Value::from(arg_str(args, 0).to_uppercase()))
            })
            .func("split", |args| {
                let (s, sep) = (arg_str(args, 0), arg_str(args, 1));
                let parts: Vec<Value> = if sep.is_empty() {
                    s.chars().map(|c| Value::from(c.to_string())).collect()
                } else {
                    s.split(sep.as_str()).map(Value::from).collect()
                };
                Ok(Value::from(parts))
            })
            .func("join", |args| {
                let sep = arg_str(args, 1);
                let items: Vec<String> = match args.first() {
                    Some(Value::List(l)) => l.iter().map(|v| v.to_string()).collect(),
                    Some(Value::Map(m)) => {
                        let mut v: Vec<String> = m.values().map(|v| v.to_string()).collect();
                        v.sort();
                        v
                    }
                    Some(Value::Nil) | None => vec![],
                    Some(other) => {
                        return Err(gotmpl::TemplateError::Exec(format!(
                            "error calling join: expected slice, got {}",
                            other.type_name()
                        )))
                    }
                };
                Ok(Value::from(items.join(&sep)))
            })
            .func("truncate", |args| {
                let s = arg_str(args, 0);
                let n = args.get(1).and_then(Value::as_int).unwrap_or(0).max(0) as usize;
                Ok(Value::from(s.chars().take(n).collect::<String>()))
            })
            .func("__label", |args| {
                let name = arg_str(args, 1);
                Ok(Value::from(ROW_LABELS.with(|l| {
                    l.borrow()
                        .iter()
                        .find(|(k, _)| *k == name)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default()
                })))
            });
    }
    t = t.func("index", |args| {
        if args.len() < 2 {
            return Err(gotmpl::TemplateError::Exec(
                "wrong number of args for index: want at least 2".into(),
            ));
        }
        let mut val = args[0].clone();
        for key in &args[1..] {
            val = match (&val, key) {
                // Docker's maps that scripts index (labels, options) are
                // Go map[string]string: a missing key gives "", not
                // text/template's "<no value>".
                (Value::Map(m), Value::String(k))
                    if !m.contains_key(&**k)
                        && m.values().all(|v| matches!(v, Value::String(_))) =>
                {
                    Value::from("")
                }
                _ => val.index(key)?,
            };
        }
        Ok(val)
    });
    t = t.func("pad", |args| {
        let s = arg_str(args, 0);
        if s.is_empty() {
            return Ok(Value::from(s));
        }
        // Bounded: a template must not make berth allocate gigabytes.
        let width = |i: usize| {
            args.get(i)
                .and_then(Value::as_int)
                .unwrap_or(0)
                .clamp(0, 4096)
        };
        let (l, r) = (width(1) as usize, width(2) as usize);
        Ok(Value::from(format!(
            "{}{s}{}",
            " ".repeat(l),
            " ".repeat(r)
        )))
    });
    t.parse(&src)
        .map_err(|e| super::PlainError(format!("failed to parse template: {e}")).into())
}

/// Runs a parsed template on one object.
pub(crate) fn execute(tmpl: &Template, data: &Json) -> Result<String> {
    let value =
        gotmpl::to_value(data).map_err(|e| anyhow::anyhow!("preparing template data: {e}"))?;
    tmpl.execute_to_string(&value)
        .map_err(|e| super::PlainError(format!("failed to execute template: {e}")).into())
}

/// Docker's `.Label "name"` is a method with an argument, which gotmpl's
/// maps cannot have: `.Label` at the head of a command becomes a call of
/// `__label` with the dot.
fn rewrite_label_calls(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let mut rest = src;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find("}}") else {
            out.push_str(&rest[open..]);
            return out;
        };
        let action = &rest[open..open + close + 2];
        let mut rewritten = String::new();
        let mut prev = ' ';
        let bytes: Vec<char> = action.chars().collect();
        let mut i = 0;
        while i < bytes.len() {
            let tail: String = bytes[i..].iter().take(7).collect();
            let boundary = prev == ' ' || prev == '(' || prev == '|' || prev == '{' || prev == '-';
            if boundary
                && tail.starts_with(".Label")
                && bytes.get(i + 6).is_some_and(|c| c.is_whitespace())
            {
                rewritten.push_str("__label .");
                i += 6;
                prev = '.';
                continue;
            }
            rewritten.push(bytes[i]);
            prev = bytes[i];
            i += 1;
        }
        out.push_str(&rewritten);
        rest = &rest[open + close + 2..];
    }
    out.push_str(rest);
    out
}

/// Go's `strings.Title`: the first letter of each word upper-cased, words
/// separated by anything but letters, digits, `_` and `'`.
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_sep = true;
    for c in s.chars() {
        if prev_sep {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev_sep = !(c.is_alphanumeric() || c == '_' || c == '\'');
    }
    out
}

/// `<`, `>` and `&` as Go's json.Marshal writes them.
fn escape_html(s: &str) -> String {
    s.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

fn arg_str(args: &[Value], i: usize) -> String {
    match args.get(i) {
        Some(Value::String(s)) => s.to_string(),
        Some(Value::Nil) | None => String::new(),
        Some(v) => v.to_string(),
    }
}

/// Template data back to JSON, for the `json` function.
fn to_json(v: &Value) -> Json {
    match v {
        Value::Nil => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::from(*i),
        Value::Uint(u) => Json::from(*u),
        Value::Float(f) => Json::from(*f),
        Value::String(s) => Json::String(s.to_string()),
        Value::List(l) => Json::Array(l.iter().map(to_json).collect()),
        Value::Map(m) => Json::Object(m.iter().map(|(k, v)| (k.to_string(), to_json(v))).collect()),
        Value::Function(_) => Json::Null,
    }
}

#[cfg(test)]
#[path = "template_props.rs"]
mod props;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(src: &str, mode: Mode, data: Json) -> String {
        execute(&parse(&unescape(src), mode).unwrap(), &data).unwrap()
    }

    fn row() -> Json {
        json!({"ID": "abc", "Names": "adoring_khayyam", "State": "exited",
               "Status": "Exited (2) 49 minutes ago", "Labels": "a=<b>", "List": ["a", "b"]})
    }

    #[test]
    fn formats_parse_as_dockers() {
        let d = "table {{.ID}}\\t{{.Names}}";
        assert_eq!(
            Format::parse(None, d),
            Format {
                table: true,
                template: "{{.ID}}\t{{.Names}}".into()
            }
        );
        assert_eq!(
            Format::parse(Some("table"), d).template,
            "{{.ID}}\t{{.Names}}"
        );
        assert_eq!(
            Format::parse(Some("json"), d),
            Format {
                table: false,
                template: "{{json .}}".into()
            }
        );
        // Any text after `table` is the template (Docker's prefix test).
        assert_eq!(
            Format::parse(Some("tablex {{.ID}}"), d).template,
            "x {{.ID}}"
        );
        assert!(!Format::parse(Some("{{.ID}}"), d).table);
    }

    #[test]
    fn docker_functions_on_rows() {
        let r = |s| render(s, Mode::Row, row());
        assert_eq!(
            r("{{pad .ID 2 3}}|{{truncate .Names 3}}|{{title .State}}"),
            "  abc   |ado|Exited"
        );
        assert_eq!(r("{{split .Names \"_\"}}"), "[adoring khayyam]");
        assert_eq!(r("{{join (split .Names \"_\") \"+\"}}"), "adoring+khayyam");
        assert_eq!(r("{{lower .Status}}"), "exited (2) 49 minutes ago");
        assert_eq!(r("{{upper .ID}}\\t{{.ID}}"), "ABC\tabc");
        assert_eq!(r("{{title .Status}}"), "Exited (2) 49 Minutes Ago");
        assert_eq!(r("{{title .Names}}"), "Adoring_khayyam");
        assert_eq!(r("{{println .ID}}"), "abc\n");
        assert_eq!(r("{{json .Labels}}"), r#""a=<b>""#);
        assert!(r("{{json .}}").contains(r#""Labels":"a=\u003cb\u003e""#));
        assert_eq!(r("{{join .List \",\"}}"), "a,b");
        assert_eq!(
            r("{{len .List}} {{index .List 1}} {{printf \"%5s\" .ID}}"),
            "2 b   abc"
        );
    }

    #[test]
    fn missing_fields_fail_rows_but_not_objects() {
        let t = parse("{{.Foo}}", Mode::Row).unwrap();
        assert!(execute(&t, &row()).is_err());
        assert_eq!(render("{{.Foo}}", Mode::Object, row()), "<no value>");
    }

    #[test]
    fn index_of_a_missing_label_is_empty_as_in_go_string_maps() {
        let data = serde_json::json!({"Labels": {"a": "1"}, "Empty": {}, "L": ["x", "y"]});
        let r = |f: &str| render(f, Mode::Object, data.clone());
        assert_eq!(r(r#"{{index .Labels "a"}}"#), "1");
        assert_eq!(r(r#"[{{index .Labels "b"}}]"#), "[]");
        assert_eq!(r(r#"[{{index .Empty "b"}}]"#), "[]");
        assert_eq!(r("{{index .L 1}}"), "y");
    }

    #[test]
    fn labels_by_name_and_headers() {
        set_row_labels(vec![("com.x-y_z".into(), "v1".into())]);
        assert_eq!(
            render(
                "{{.Label \"com.x-y_z\"}}|{{upper (.Label \"com.x-y_z\")}}",
                Mode::Row,
                row()
            ),
            "v1|V1"
        );
        let header = json!({"ID": "CONTAINER ID", "Names": "NAMES", "State": "STATE"});
        let h = |s| render(s, Mode::Header, header.clone());
        assert_eq!(
            h("{{pad .ID 2 3}}|{{truncate .Names 3}}|{{title .State}}|{{.Label \"com.x-y_z\"}}"),
            "  CONTAINER ID   |NAMES|STATE|x y z"
        );
        assert_eq!(
            h("{{json .ID}}|{{join (split .Names \"_\") \"+\"}}"),
            "CONTAINER ID|NAMES"
        );
    }

    #[test]
    fn bad_templates_are_errors() {
        assert!(parse("{{.ID", Mode::Row).is_err());
    }
}
