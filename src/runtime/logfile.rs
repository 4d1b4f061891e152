//! Container logs in Docker's json-file format: one JSON object a line,
//! `{"log":"text\n","stream":"stdout","time":"2024-01-01T00:00:00.123456789Z"}`,
//! so stdout and stderr stay apart and every line has its time. The monitor
//! writes them; `berth logs` reads them, also while they grow.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::Path;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct Record {
    pub(crate) log: String,
    pub(crate) stream: String,
    pub(crate) time: String,
}

/// Which of the container's outputs a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// Longest line kept in one record; longer output is split, as Docker's
/// 16 KiB partial messages.
const MAX_RECORD: usize = 16 * 1024;

/// Appends records for one stream, cutting its bytes into lines.
pub(crate) struct LogWriter {
    file: File,
    pending: [Vec<u8>; 2],
}

impl LogWriter {
    pub(crate) fn open(path: &Path) -> Result<LogWriter> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("opening the log {}", path.display()))?;
        Ok(LogWriter {
            file,
            pending: [Vec::new(), Vec::new()],
        })
    }

    /// Adds output; complete lines (and over-long pieces) become records.
    pub(crate) fn write(&mut self, stream: Stream, data: &[u8]) -> Result<()> {
        let idx = stream as usize;
        self.pending[idx].extend_from_slice(data);
        loop {
            let buf = &self.pending[idx];
            let cut = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => i + 1,
                None if buf.len() >= MAX_RECORD => MAX_RECORD,
                None => break,
            };
            let line: Vec<u8> = self.pending[idx].drain(..cut).collect();
            self.append(stream, &line)?;
        }
        Ok(())
    }

    /// Writes what is left of a stream that ended without a newline.
    pub(crate) fn flush_stream(&mut self, stream: Stream) -> Result<()> {
        let rest = std::mem::take(&mut self.pending[stream as usize]);
        if !rest.is_empty() {
            self.append(stream, &rest)?;
        }
        Ok(())
    }

    fn append(&mut self, stream: Stream, bytes: &[u8]) -> Result<()> {
        let record = Record {
            log: String::from_utf8_lossy(bytes).into_owned(),
            stream: stream.name().into(),
            time: crate::util::humanize::now_rfc3339(),
        };
        let mut line = serde_json::to_vec(&record)?;
        line.push(b'\n');
        // One write per record: with O_APPEND a reader never sees half a line
        // from us interleaved with another writer's.
        self.file
            .write_all(&line)
            .context("writing the container log")?;
        Ok(())
    }
}

/// What `berth logs` was asked for.
#[derive(Debug, Clone, Default)]
pub(crate) struct LogQuery {
    /// Only the last N records.
    pub(crate) tail: Option<usize>,
    pub(crate) since: Option<jiff::Timestamp>,
    pub(crate) until: Option<jiff::Timestamp>,
    pub(crate) timestamps: bool,
}

/// Parses `--since`/`--until`: an RFC 3339 time, a date, unix seconds, or
/// a duration before now (`10m`, `1h30m`, `45s`), as Docker accepts.
pub(crate) fn parse_time_arg(arg: &str) -> Result<jiff::Timestamp> {
    if let Ok(t) = arg.parse::<jiff::Timestamp>() {
        return Ok(t);
    }
    if let Ok(secs) = arg.parse::<f64>() {
        return jiff::Timestamp::from_nanosecond((secs * 1e9) as i128).context("time out of range");
    }
    if let Ok(d) = arg.parse::<jiff::civil::DateTime>() {
        return d
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map(|z| z.timestamp())
            .context("time out of range");
    }
    if let Ok(d) = arg.parse::<jiff::civil::Date>() {
        return d
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map(|z| z.timestamp())
            .context("time out of range");
    }
    let ago = crate::util::humanize::parse_go_duration(arg)
        .with_context(|| format!("invalid time {arg:?}: use RFC 3339 (2024-01-02T15:04:05Z), unix seconds, or a duration such as 10m"))?;
    Ok(jiff::Timestamp::now() - jiff::SignedDuration::try_from(ago)?)
}

/// Reads records from `path` from `offset` on, printing those the query
/// selects; returns the offset after the last complete line.
pub(crate) fn print_from(
    path: &Path,
    offset: u64,
    query: &LogQuery,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u64> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(offset),
        Err(e) => return Err(e).with_context(|| format!("reading the log {}", path.display())),
    };
    file.seek(SeekFrom::Start(offset))?;
    let mut reader = BufReader::new(file);
    let mut pos = offset;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line)?;
        if n == 0 || line.last() != Some(&b'\n') {
            break; // a line still being written: read it next time
        }
        pos += n as u64;
        let Ok(rec) = serde_json::from_slice::<Record>(&line) else {
            continue;
        };
        print_record(&rec, query, out, err)?;
    }
    out.flush()?;
    err.flush()?;
    Ok(pos)
}

fn print_record(
    rec: &Record,
    query: &LogQuery,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<()> {
    let time = rec.time.parse::<jiff::Timestamp>().ok();
    if let (Some(since), Some(t)) = (query.since, time) {
        if t < since {
            return Ok(());
        }
    }
    if let (Some(until), Some(t)) = (query.until, time) {
        if t > until {
            return Ok(());
        }
    }
    let w: &mut dyn Write = if rec.stream == "stderr" { err } else { out };
    if query.timestamps {
        write!(w, "{} ", rec.time)?;
    }
    w.write_all(rec.log.as_bytes())?;
    Ok(())
}

/// Offset of the start of the last `n` records, read backwards in chunks
/// so that the tail of a large log costs little.
pub(crate) fn tail_offset(path: &Path, n: usize) -> Result<u64> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e.into()),
    };
    let len = file.metadata()?.len();
    if n == 0 {
        return Ok(len);
    }
    let mut end = len;
    // The newline that ends the last record does not start a record.
    let mut newlines_needed = n + 1;
    let mut buf = vec![0u8; 64 * 1024];
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let chunk = &mut buf[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(chunk)?;
        for i in (0..chunk.len()).rev() {
            if chunk[i] == b'\n' {
                newlines_needed -= 1;
                if newlines_needed == 0 {
                    return Ok(start + i as u64 + 1);
                }
            }
        }
        end = start;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(path: &Path, q: &LogQuery, offset: u64) -> (String, String) {
        let (mut o, mut e) = (Vec::new(), Vec::new());
        print_from(path, offset, q, &mut o, &mut e).unwrap();
        (String::from_utf8(o).unwrap(), String::from_utf8(e).unwrap())
    }

    #[test]
    fn streams_stay_apart_and_lines_are_records() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("log");
        let mut w = LogWriter::open(&p).unwrap();
        w.write(Stream::Stdout, b"one\ntw").unwrap();
        w.write(Stream::Stderr, b"oops\n").unwrap();
        w.write(Stream::Stdout, b"o\nthree").unwrap();
        w.flush_stream(Stream::Stdout).unwrap();
        let (out, err) = read_all(&p, &LogQuery::default(), 0);
        assert_eq!(out, "one\ntwo\nthree");
        assert_eq!(err, "oops\n");
        assert_eq!(std::fs::read_to_string(&p).unwrap().lines().count(), 4);
    }

    #[test]
    fn tail_takes_the_last_records() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("log");
        let mut w = LogWriter::open(&p).unwrap();
        for i in 0..100 {
            w.write(Stream::Stdout, format!("line {i}\n").as_bytes())
                .unwrap();
        }
        let off = tail_offset(&p, 2).unwrap();
        assert_eq!(
            read_all(&p, &LogQuery::default(), off).0,
            "line 98\nline 99\n"
        );
        assert_eq!(tail_offset(&p, 1000).unwrap(), 0);
        assert_eq!(
            tail_offset(&p, 0).unwrap(),
            std::fs::metadata(&p).unwrap().len()
        );
    }

    #[test]
    fn long_output_is_split_and_times_filter() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("log");
        let mut w = LogWriter::open(&p).unwrap();
        w.write(Stream::Stdout, &vec![b'x'; MAX_RECORD * 2 + 5])
            .unwrap();
        w.flush_stream(Stream::Stdout).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap().lines().count(), 3);
        let q = LogQuery {
            since: Some(jiff::Timestamp::now() + jiff::SignedDuration::from_secs(60)),
            ..Default::default()
        };
        assert_eq!(read_all(&p, &q, 0).0, "");
        let q = LogQuery {
            timestamps: true,
            tail: None,
            ..Default::default()
        };
        assert!(read_all(&p, &q, 0).0.contains("Z xxx"));
    }

    #[test]
    fn time_arguments() {
        assert!(parse_time_arg("2024-01-02T03:04:05Z").is_ok());
        assert!(parse_time_arg("1700000000").is_ok());
        assert!(parse_time_arg("2024-01-02").is_ok());
        let ten_min = parse_time_arg("10m").unwrap();
        let diff = jiff::Timestamp::now().as_second() - ten_min.as_second();
        assert!((599..=601).contains(&diff));
        assert!(parse_time_arg("1h30m").is_ok());
        assert!(parse_time_arg("soon").is_err());
    }
}
