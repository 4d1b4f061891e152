//! `events`: the store's event log (`store::events`) as Docker prints it —
//! past events with `--since`/`--until`, then new ones as they happen
//! until `--until` (or forever), each as Docker's text line, a Go
//! template of Docker's `events.Message`, or its JSON.

use super::args::EventsArgs;
use super::template::{self, Mode};
use crate::model::event::{Event, EventFilter, CONTAINER, IMAGE};
use crate::runtime::logfile::parse_time_arg;
use crate::store::Store;
use anyhow::{bail, Context, Result};
use serde_json::{json, Value as Json};
use std::io::Write;
use std::time::{Duration, Instant};

pub(crate) fn events(args: EventsArgs) -> Result<()> {
    let filter = EventFilter::parse(&args.filter).map_err(|e| anyhow::anyhow!(e))?;
    let since = args.since.as_deref().map(parse_time_arg).transpose()?;
    let until = args.until.as_deref().map(parse_time_arg).transpose()?;
    if let (Some(s), Some(u)) = (since, until) {
        if u < s {
            bail!("`since` time ({s}) cannot be after `until` time ({u})");
        }
    }
    let printer = Printer::new(args.format.as_deref())?;
    let store = Store::open_default()?;
    let nanos = |t: jiff::Timestamp| t.as_nanosecond() as i64;
    let until_nanos = until.map(nanos);
    let mut out = std::io::stdout().lock();
    let mut reader = if since.is_some() || until.is_some() {
        let since_nanos = since.map_or(i64::MIN, nanos);
        let (past, reader) = store.event_history().context("reading the event log")?;
        for e in past.iter().filter(|e| {
            e.time_nano >= since_nanos
                && until_nanos.is_none_or(|u| e.time_nano <= u)
                && filter.matches(e)
        }) {
            printer.print(&mut out, e)?;
        }
        reader
    } else {
        store.event_follower().context("reading the event log")?
    };
    out.flush()?;
    // Until a time that has passed: the past only.
    let deadline = match until {
        Some(u) => {
            let left = u.duration_since(jiff::Timestamp::now());
            if left.is_negative() || left.is_zero() {
                return Ok(());
            }
            Some(Instant::now() + Duration::try_from(left).unwrap_or_default())
        }
        None => None,
    };
    loop {
        let new = reader.wait(deadline).context("following the event log")?;
        for e in new.iter().filter(|e| filter.matches(e)) {
            printer.print(&mut out, e)?;
        }
        out.flush()?;
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(());
        }
    }
}

/// Docker's JSON of an event: `events.Message`, whose deprecated `status`,
/// `id` and `from` are set for container and image events only.
pub(crate) fn message_json(e: &Event) -> Json {
    let mut m = serde_json::Map::new();
    if e.kind == CONTAINER || e.kind == IMAGE {
        m.insert("status".into(), json!(e.action));
        m.insert("id".into(), json!(e.actor.id));
        if let Some(from) = e
            .actor
            .attributes
            .get("image")
            .filter(|_| e.kind == CONTAINER)
        {
            m.insert("from".into(), json!(from));
        }
    }
    m.insert("Type".into(), json!(e.kind));
    m.insert("Action".into(), json!(e.action));
    m.insert(
        "Actor".into(),
        json!({"ID": e.actor.id, "Attributes": e.actor.attributes}),
    );
    m.insert("scope".into(), json!(e.scope));
    m.insert("time".into(), json!(e.time));
    m.insert("timeNano".into(), json!(e.time_nano));
    Json::Object(m)
}

/// The data a `--format` template sees: the fields of Docker's Go struct
/// (`{{.Status}}`, `{{.Actor.Attributes.name}}`, `{{.TimeNano}}`).
fn template_data(e: &Event) -> Json {
    let legacy = e.kind == CONTAINER || e.kind == IMAGE;
    let from = match e.kind.as_str() {
        CONTAINER => e.actor.attributes.get("image").cloned().unwrap_or_default(),
        _ => String::new(),
    };
    json!({
        "Status": if legacy { e.action.as_str() } else { "" },
        "ID": if legacy { e.actor.id.as_str() } else { "" },
        "From": from,
        "Type": e.kind,
        "Action": e.action,
        "Actor": {"ID": e.actor.id, "Attributes": e.actor.attributes},
        "Scope": e.scope,
        "Time": e.time,
        "TimeNano": e.time_nano,
    })
}

/// Docker's text line: `TIME TYPE ACTION ID (k=v, ...)`, the time in the
/// local zone with nine fractional digits.
pub(crate) fn text_line(e: &Event) -> String {
    let mut line = format!(
        "{} {} {} {}",
        format_time(e.time_nano),
        e.kind,
        e.action,
        e.actor.id
    );
    if !e.actor.attributes.is_empty() {
        let attrs: Vec<String> = e
            .actor
            .attributes
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        line.push_str(&format!(" ({})", attrs.join(", ")));
    }
    line
}

/// Go's `2006-01-02T15:04:05.000000000Z07:00` in the local time zone.
fn format_time(nanos: i64) -> String {
    let Ok(ts) = jiff::Timestamp::from_nanosecond(i128::from(nanos)) else {
        return nanos.to_string();
    };
    let zoned = ts.to_zoned(jiff::tz::TimeZone::system());
    let offset = zoned.offset().seconds();
    let zone = if offset == 0 {
        "Z".to_string()
    } else {
        let sign = if offset < 0 { '-' } else { '+' };
        let a = offset.abs();
        format!("{sign}{:02}:{:02}", a / 3600, (a % 3600) / 60)
    };
    format!(
        "{}.{:09}{zone}",
        zoned.strftime("%Y-%m-%dT%H:%M:%S"),
        zoned.subsec_nanosecond()
    )
}

/// How each event is printed.
enum Printer {
    Text,
    Json,
    Template(gotmpl::Template),
}

impl Printer {
    fn new(format: Option<&str>) -> Result<Printer> {
        let Some(format) = format.map(str::trim).filter(|f| !f.is_empty()) else {
            return Ok(Printer::Text);
        };
        if format == "json" || format == "{{json .}}" {
            return Ok(Printer::Json);
        }
        Ok(Printer::Template(template::parse(
            &template::unescape(format),
            Mode::Row,
        )?))
    }

    fn print(&self, out: &mut impl Write, e: &Event) -> Result<()> {
        match self {
            Printer::Text => writeln!(out, "{}", text_line(e))?,
            Printer::Json => writeln!(out, "{}", message_json(e))?,
            Printer::Template(tmpl) => {
                // Docker runs the template on its Go struct: `{{.Status}}`
                // is a field, and `{{json .}}` prints the struct's JSON.
                let data = template_data(e);
                // `{{json .Actor}}` keeps the struct's order (ID first).
                let actor = data["Actor"].clone();
                template::set_json_shown(vec![
                    (data.clone(), message_json(e)),
                    (actor.clone(), actor),
                ]);
                writeln!(out, "{}", template::execute(tmpl, &data)?)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::event::attributes;

    fn sample() -> Event {
        let mut e = Event::now(
            CONTAINER,
            "die",
            "abc",
            attributes([("name", "x"), ("image", "busybox"), ("exitCode", "0")]),
        );
        e.time = 1704067200;
        e.time_nano = 1_704_067_200_000_000_001;
        e
    }

    #[test]
    fn text_lines_are_dockers() {
        // The tests run with TZ unset or UTC on CI; the zone is the local one.
        if jiff::tz::TimeZone::system()
            .to_offset(jiff::Timestamp::UNIX_EPOCH)
            .seconds()
            != 0
        {
            return;
        }
        assert_eq!(
            text_line(&sample()),
            "2024-01-01T00:00:00.000000001Z container die abc (exitCode=0, image=busybox, name=x)"
        );
    }

    #[test]
    fn json_has_dockers_shape_and_order() {
        assert_eq!(
            message_json(&sample()).to_string(),
            r#"{"status":"die","id":"abc","from":"busybox","Type":"container","Action":"die","Actor":{"ID":"abc","Attributes":{"exitCode":"0","image":"busybox","name":"x"}},"scope":"local","time":1704067200,"timeNano":1704067200000000001}"#
        );
        let v = Event::volume("v", "create", []);
        let j = message_json(&v);
        assert!(j.get("status").is_none() && j.get("from").is_none(), "{j}");
    }

    #[test]
    fn templates_see_go_fields_and_json_of_the_whole_is_dockers() {
        let p = Printer::new(Some("{{.Status}} {{.Actor.Attributes.name}} {{json .}}")).unwrap();
        let mut out = Vec::new();
        p.print(&mut out, &sample()).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("die x {\"status\":\"die\""), "{text}");
        let p = Printer::new(Some("{{json .Actor}}")).unwrap();
        let mut out = Vec::new();
        p.print(&mut out, &sample()).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"ID\":\"abc\",\"Attributes\":{\"exitCode\":\"0\",\"image\":\"busybox\",\"name\":\"x\"}}\n"
        );
    }
}
