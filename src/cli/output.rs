//! Output as Docker prints it: aligned tables, and `--format` with Go
//! templates (`{{.ID}}`, `{{json .}}`, `table {{.Repository}}\t{{.Tag}}`);
//! the template language itself is in `template.rs`.

use super::template::{self, Format, Mode};
use anyhow::{Context, Result};
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
    /// Per row, the labels `{{.Label "name"}}` looks up (empty when the
    /// objects have none).
    pub(crate) labels: Vec<Vec<(String, String)>>,
}

impl Listing<'_> {
    /// The default `table` format of the listing's columns.
    fn default_format(&self) -> String {
        let cols: Vec<String> = self
            .columns
            .iter()
            .map(|(field, _)| format!("{{{{.{field}}}}}"))
            .collect();
        format!("table {}", cols.join("\t"))
    }
}

/// Prints a listing per `--format`: `None` or `table` is the default table,
/// `table TEMPLATE` a table of those columns, `json` one JSON object a line,
/// anything else a Go template executed per row.
pub(crate) fn print_listing(format: Option<&str>, listing: &Listing) -> Result<()> {
    let format = Format::parse(format, &listing.default_format());
    print_rows(&format, listing)
}

/// Prints a listing with an already parsed format.
pub(crate) fn print_rows(format: &Format, listing: &Listing) -> Result<()> {
    let tmpl = template::parse(&format.template, Mode::Row)?;
    let mut out = String::new();
    if format.table {
        let mut headers = serde_json::Map::new();
        for (field, header) in listing.columns.iter().chain(listing.extra_headers) {
            headers.insert((*field).to_string(), Json::String((*header).to_string()));
        }
        let header_tmpl = template::parse(&format.template, Mode::Header)?;
        // Docker ignores a header that fails (`{{json .}}` in a table).
        out.push_str(&template::execute(&header_tmpl, &Json::Object(headers)).unwrap_or_default());
        out.push('\n');
    }
    for (i, row) in listing.rows.iter().enumerate() {
        template::set_row_labels(listing.labels.get(i).cloned().unwrap_or_default());
        out.push_str(&template::execute(&tmpl, row)?);
        out.push('\n');
    }
    write_out(&out, format.table)
}

/// Prints one JSON array of objects (`inspect` without `--format`), or the
/// template executed once per object.
pub(crate) fn print_objects(format: Option<&str>, objects: &[Json]) -> Result<()> {
    match format {
        None | Some("") => {
            let text = serde_json::to_string_pretty(objects)?;
            write_out(&format!("{text}\n"), false)
        }
        Some(f) if ["json", "{{json .}}"].contains(&f.trim()) => {
            // Docker marshals its typed objects: fields in their order,
            // which a template's (sorted) map would lose.
            let mut out = String::new();
            for o in objects {
                out.push_str(&serde_json::to_string(o)?);
                out.push('\n');
            }
            write_out(&out, false)
        }
        Some(f) => {
            let f = template::unescape(f);
            let tmpl = template::parse(&f, Mode::Object)?;
            let mut out = String::new();
            for o in objects {
                out.push_str(&template::execute(&tmpl, o)?);
                out.push('\n');
            }
            write_out(&out, false)
        }
    }
}

/// Writes text to stdout; `aligned` runs it through Docker's tabwriter
/// settings first.
pub(crate) fn write_out(text: &str, aligned: bool) -> Result<()> {
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    if aligned {
        lock.write_all(&align(text)?)?;
    } else {
        lock.write_all(text.as_bytes())?;
    }
    lock.flush()?;
    Ok(())
}

/// Docker: tabwriter.NewWriter(out, 10, 1, 3, ' ', 0).
pub(crate) fn align(text: &str) -> Result<Vec<u8>> {
    align_as_go(text, 10, 3)
}

/// Tab-separated `text` aligned as Go's `tabwriter.NewWriter(out,
/// minwidth, 1, padding, ' ', 0)` aligns it. Go's minimum cell width
/// includes the padding, the tabwriter crate's does not: Go's 20 with a
/// padding of 3 is the crate's 17.
pub(crate) fn align_as_go(text: &str, minwidth: usize, padding: usize) -> Result<Vec<u8>> {
    let mut tw = tabwriter::TabWriter::new(Vec::new())
        .minwidth(minwidth.saturating_sub(padding))
        .padding(padding);
    tw.write_all(text.as_bytes())?;
    tw.into_inner().context("aligning the table")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_as_gos_tabwriter() {
        let text = "UID\tPID\tCMD\nroot\t1234567890123456789\tsleep 1\n";
        // Go's (20, 1, 3): cells at least 20 wide, padding included; the
        // last cell of a line is not padded.
        assert_eq!(
            String::from_utf8(align_as_go(text, 20, 3).unwrap()).unwrap(),
            "UID                 PID                   CMD\n\
             root                1234567890123456789   sleep 1\n"
        );
        // Compose's top: (4, 1, 2).
        assert_eq!(
            String::from_utf8(align_as_go("#\tUID\n1\troot\n", 4, 2).unwrap()).unwrap(),
            "#   UID\n1   root\n"
        );
        // Docker's tables: (10, 1, 3).
        assert_eq!(
            String::from_utf8(align("NAME\tX\nabcdefghi\ty\n").unwrap()).unwrap(),
            "NAME        X\nabcdefghi   y\n"
        );
    }
}
