//! Output as Docker prints it: aligned tables, and `--format` with Go
//! templates (`{{.ID}}`, `{{json .}}`, `table {{.Repository}}\t{{.Tag}}`).

use anyhow::{Context, Result};
use gotmpl::{Template, Value};
use serde_json::Value as Json;
use std::io::Write;

/// One listing: the default table's columns and, for each row, the fields a
/// template can use (`{{.ID}}`), serialized as a JSON object.
pub(crate) struct Listing<'a> {
    /// `(field, header)` pairs of the default table, in order.
    pub(crate) columns: &'a [(&'a str, &'a str)],
    /// Headers of fields that are not in the default table but can be
    /// asked for in a `table` template.
    pub(crate) extra_headers: &'a [(&'a str, &'a str)],
    pub(crate) rows: Vec<Json>,
}

/// Prints a listing per `--format`: `None` or `table` is the default table,
/// `table TEMPLATE` a table of those columns, `json` one JSON object a line,
/// anything else a Go template executed per row.
pub(crate) fn print_listing(format: Option<&str>, listing: &Listing) -> Result<()> {
    let default_table: String = listing
        .columns
        .iter()
        .map(|(field, _)| format!("{{{{.{field}}}}}"))
        .collect::<Vec<_>>()
        .join("\t");
    let (is_table, template) = match format.map(str::trim) {
        None | Some("") | Some("table") => (true, default_table),
        Some("json") => (false, "{{json .}}".to_string()),
        Some(f) => match f.strip_prefix("table") {
            Some(rest) if rest.starts_with(char::is_whitespace) => {
                (true, rest.trim_start().to_string())
            }
            _ => (false, f.to_string()),
        },
    };
    let template = unescape(&template);
    let tmpl = parse_template(&template)?;
    let mut out = String::new();
    if is_table {
        let mut headers = serde_json::Map::new();
        for (field, header) in listing.columns.iter().chain(listing.extra_headers) {
            headers.insert((*field).to_string(), Json::String((*header).to_string()));
        }
        out.push_str(&execute(&tmpl, &Json::Object(headers))?);
        out.push('\n');
    }
    for row in &listing.rows {
        out.push_str(&execute(&tmpl, row)?);
        out.push('\n');
    }
    write_out(&out, is_table)
}

/// Prints one JSON array of objects (`inspect` without `--format`), or the
/// template executed once per object.
pub(crate) fn print_objects(format: Option<&str>, objects: &[Json]) -> Result<()> {
    match format {
        None | Some("") => {
            let text = serde_json::to_string_pretty(objects)?;
            write_out(&format!("{text}\n"), false)
        }
        Some(f) => {
            let f = if f.trim() == "json" {
                "{{json .}}".to_string()
            } else {
                unescape(f)
            };
            let tmpl = parse_template(&f)?;
            let mut out = String::new();
            for o in objects {
                out.push_str(&execute(&tmpl, o)?);
                out.push('\n');
            }
            write_out(&out, false)
        }
    }
}

fn write_out(text: &str, aligned: bool) -> Result<()> {
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    if aligned {
        // Docker: tabwriter.NewWriter(out, 10, 1, 3, ' ', 0).
        let mut tw = tabwriter::TabWriter::new(Vec::new()).minwidth(7).padding(3);
        tw.write_all(text.as_bytes())?;
        let bytes = tw.into_inner().context("aligning the table")?;
        lock.write_all(&bytes)?;
    } else {
        lock.write_all(text.as_bytes())?;
    }
    lock.flush()?;
    Ok(())
}

/// Docker replaces the two-character sequences `\t` and `\n` typed on the
/// command line by the characters.
pub(crate) fn unescape(s: &str) -> String {
    s.replace("\\t", "\t").replace("\\n", "\n")
}

fn parse_template(src: &str) -> Result<Template> {
    template_builder()
        .parse(src)
        .map_err(|e| anyhow::anyhow!("template parsing error: {e}"))
}

/// A template with Docker's functions, before its source is parsed (a
/// command may replace a function, as `events` does `json`).
pub(crate) fn template_builder() -> Template {
    Template::new("format")
        .func("json", |args| {
            let v = args.first().map(to_json).unwrap_or(Json::Null);
            Ok(Value::from(serde_json::to_string(&v).unwrap_or_default()))
        })
        .func("upper", |args| {
            Ok(Value::from(arg_str(args, 0).to_uppercase()))
        })
        .func("lower", |args| {
            Ok(Value::from(arg_str(args, 0).to_lowercase()))
        })
        .func("title", |args| {
            let s = arg_str(args, 0);
            let mut c = s.chars();
            Ok(Value::from(match c.next() {
                Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
                None => String::new(),
            }))
        })
        .func("split", |args| {
            let (s, sep) = (arg_str(args, 0), arg_str(args, 1));
            let parts: Vec<Value> = s.split(sep.as_str()).map(Value::from).collect();
            Ok(Value::from(parts))
        })
        .func("join", |args| {
            let sep = arg_str(args, 1);
            let items: Vec<String> = match args.first() {
                Some(Value::List(l)) => l.iter().map(|v| v.to_string()).collect(),
                Some(v) => vec![v.to_string()],
                None => vec![],
            };
            Ok(Value::from(items.join(&sep)))
        })
        .func("truncate", |args| {
            let s = arg_str(args, 0);
            let n = args.get(1).and_then(Value::as_int).unwrap_or(0).max(0) as usize;
            Ok(Value::from(s.chars().take(n).collect::<String>()))
        })
        .func("pad", |args| {
            let s = arg_str(args, 0);
            let l = args.get(1).and_then(Value::as_int).unwrap_or(0).max(0) as usize;
            let r = args.get(2).and_then(Value::as_int).unwrap_or(0).max(0) as usize;
            Ok(Value::from(format!(
                "{}{s}{}",
                " ".repeat(l),
                " ".repeat(r)
            )))
        })
}

fn arg_str(args: &[Value], i: usize) -> String {
    match args.get(i) {
        Some(Value::String(s)) => s.to_string(),
        Some(v) => v.to_string(),
        None => String::new(),
    }
}

pub(crate) fn execute(tmpl: &Template, data: &Json) -> Result<String> {
    let value =
        gotmpl::to_value(data).map_err(|e| anyhow::anyhow!("preparing template data: {e}"))?;
    tmpl.execute_to_string(&value)
        .map_err(|e| anyhow::anyhow!("template: {e}"))
}

/// Template data back to JSON, for the `json` function.
pub(crate) fn to_json(v: &Value) -> Json {
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

/// Docker's prune prompt: prints the warning, reads one answer from stdin;
/// anything but yes (including no stdin at all) declines.
pub(crate) fn confirm(warning: &str) -> Result<bool> {
    use std::io::BufRead;
    eprint!("{warning}\nAre you sure you want to continue? [y/N] ");
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(src: &str, data: Json) -> String {
        execute(&parse_template(&unescape(src)).unwrap(), &data).unwrap()
    }

    #[test]
    fn templates_render_like_docker() {
        let row = serde_json::json!({"ID": "abc", "Names": ["a", "b"], "Labels": {"x": "1"}});
        assert_eq!(render("{{.ID}}", row.clone()), "abc");
        assert_eq!(render("{{json .Labels}}", row.clone()), r#"{"x":"1"}"#);
        assert_eq!(render("{{join .Names \",\"}}", row.clone()), "a,b");
        assert_eq!(render("{{upper .ID}}\\t{{.ID}}", row.clone()), "ABC\tabc");
        assert_eq!(render("{{.Missing}}", row), "<no value>");
    }

    #[test]
    fn bad_templates_are_errors() {
        assert!(parse_template("{{.ID").is_err());
    }
}
