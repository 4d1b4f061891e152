//! Container logs in Docker's json-file format: one JSON object a line,
//! `{"log":"text\n","stream":"stdout","time":"2024-01-01T00:00:00.123456789Z"}`,
//! so stdout and stderr stay apart and every line has its time. The monitor
//! writes them; `berth logs` reads them, also while they grow.
//!
//! With `--log-opt max-size` (or the `local` driver) the monitor rotates
//! the log as Docker's json-file driver does: when the file has reached
//! the size, `json.log` becomes `json.log.1` (gzipped to `json.log.1.gz`
//! with `compress`), the older ones move up by one, and the oldest beyond
//! `max-file` goes. `logs` reads the rotated files oldest first, then the
//! current one, and follows the current one across rotations.

use crate::model::logging::{LogConfig, Rotation};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

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
    /// None with `--log-driver none`: nothing is kept.
    file: Option<File>,
    path: PathBuf,
    /// Bytes in the current file.
    size: u64,
    rotation: Option<Rotation>,
    pending: [Vec<u8>; 2],
}

fn open_append(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening the log {}", path.display()))
}

/// `json.log.N`, and its gzipped form `json.log.N.gz`.
fn rotated(path: &Path, n: u32, gz: bool) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}{}", if gz { ".gz" } else { "" }));
    PathBuf::from(name)
}

impl LogWriter {
    /// The log of a container with logging `config` (nothing for `none`).
    pub(crate) fn open(path: &Path, config: &LogConfig) -> Result<LogWriter> {
        let rotation = config.rotation()?;
        let (file, size) = if config.readable() {
            let f = open_append(path)?;
            // The size matters only to rotation (an fstat saved otherwise).
            let size = match rotation {
                Some(_) => f.metadata().map(|m| m.len()).unwrap_or(0),
                None => 0,
            };
            (Some(f), size)
        } else {
            (None, 0)
        };
        Ok(LogWriter {
            file,
            path: path.to_path_buf(),
            size,
            rotation,
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
        if self.file.is_none() {
            return Ok(());
        }
        if let Some(r) = self.rotation {
            // Docker's json-file: a file that reached the size is rotated
            // before the next record, so it ends with a whole record.
            if self.size >= r.max_size {
                self.rotate(r).context("rotating the container log")?;
            }
        }
        let record = Record {
            log: String::from_utf8_lossy(bytes).into_owned(),
            stream: stream.name().into(),
            time: crate::util::humanize::now_rfc3339(),
        };
        let mut line = serde_json::to_vec(&record)?;
        line.push(b'\n');
        // One write per record: with O_APPEND a reader never sees half a line
        // from us interleaved with another writer's.
        if let Some(f) = &mut self.file {
            f.write_all(&line).context("writing the container log")?;
            self.size += line.len() as u64;
        }
        Ok(())
    }

    /// Starts a new file: with one file kept, the current one is emptied;
    /// otherwise the files move up by one (`json.log` to `json.log.1`) and
    /// the one past `max_files` goes.
    fn rotate(&mut self, r: Rotation) -> Result<()> {
        if r.max_files <= 1 {
            if let Some(f) = &self.file {
                f.set_len(0)?;
            }
            self.size = 0;
            return Ok(());
        }
        let last = r.max_files - 1;
        for gz in [false, true] {
            match std::fs::remove_file(rotated(&self.path, last, gz)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                _ => {}
            }
        }
        for n in (1..last).rev() {
            for gz in [false, true] {
                let from = rotated(&self.path, n, gz);
                if from.exists() {
                    std::fs::rename(&from, rotated(&self.path, n + 1, gz))?;
                }
            }
        }
        let first = rotated(&self.path, 1, false);
        std::fs::rename(&self.path, &first)?;
        self.file = Some(open_append(&self.path)?);
        self.size = 0;
        if r.compress {
            compress(&first)?;
        }
        Ok(())
    }
}

/// Gzips a rotated file next to it (`.gz`), then removes it. A reader
/// that finds both forms reads the plain one.
fn compress(path: &Path) -> Result<()> {
    let mut gz_path = path.as_os_str().to_owned();
    gz_path.push(".gz");
    let gz_path = PathBuf::from(gz_path);
    let mut tmp = gz_path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut input = File::open(path)?;
    let mut encoder =
        flate2::write::GzEncoder::new(File::create(&tmp)?, flate2::Compression::fast());
    std::io::copy(&mut input, &mut encoder)?;
    encoder.finish()?;
    std::fs::rename(&tmp, &gz_path)?;
    std::fs::remove_file(path)?;
    Ok(())
}

/// The rotated files of the log at `path`, oldest first.
fn rotated_files(path: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for n in 1.. {
        let plain = rotated(path, n, false);
        let gz = rotated(path, n, true);
        if plain.exists() {
            out.push(plain);
        } else if gz.exists() {
            out.push(gz);
        } else {
            break;
        }
    }
    out.reverse();
    out
}

/// A rotated file's records, decompressed when gzipped.
fn open_rotated(path: &Path) -> Result<Box<dyn BufRead>> {
    let f = File::open(path).with_context(|| format!("reading the log {}", path.display()))?;
    if path.extension().is_some_and(|e| e == "gz") {
        Ok(Box::new(BufReader::new(flate2::read::GzDecoder::new(f))))
    } else {
        Ok(Box::new(BufReader::new(f)))
    }
}

/// Complete lines of `reader`, each passed to `f`.
fn for_each_line(mut reader: impl BufRead, mut f: impl FnMut(&[u8]) -> Result<()>) -> Result<()> {
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 || line.last() != Some(&b'\n') {
            return Ok(());
        }
        f(&line)?;
    }
}

fn count_lines(path: &Path, from: u64) -> Result<usize> {
    let mut f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e.into()),
    };
    f.seek(SeekFrom::Start(from))?;
    let mut n = 0;
    for_each_line(BufReader::new(f), |_| {
        n += 1;
        Ok(())
    })?;
    Ok(n)
}

/// `logs`: prints what the log holds (rotated files included) and then,
/// with [`LogReader::follow`], what the monitor writes next, across
/// rotations: the file being read stays open, so once the monitor has
/// moved it aside the rest of it is still read before the new file.
pub(crate) struct LogReader {
    path: PathBuf,
    file: Option<File>,
    offset: u64,
}

impl LogReader {
    /// Prints the records the query selects (the last `tail` ones across
    /// every file) and returns the reader, positioned after them.
    pub(crate) fn print_existing(
        path: &Path,
        query: &LogQuery,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> Result<LogReader> {
        let mut reader = LogReader {
            path: path.to_path_buf(),
            file: File::open(path).ok(),
            offset: 0,
        };
        let rotated = rotated_files(path);
        match query.tail {
            None => {
                for f in &rotated {
                    for_each_line(open_rotated(f)?, |l| print_line(l, query, out, err))?;
                }
            }
            Some(n) => {
                let current = count_lines(path, 0)?;
                if current >= n || rotated.is_empty() {
                    reader.offset = tail_offset(path, n)?;
                } else {
                    // The rest from the rotated files, newest first, each
                    // read once through a ring of the lines still wanted.
                    let mut wanted = n - current;
                    let mut chunks = Vec::new();
                    for f in rotated.iter().rev() {
                        let mut ring = VecDeque::with_capacity(wanted.min(4096));
                        for_each_line(open_rotated(f)?, |l| {
                            if ring.len() == wanted {
                                ring.pop_front();
                            }
                            ring.push_back(l.to_vec());
                            Ok(())
                        })?;
                        wanted -= ring.len();
                        chunks.push(ring);
                        if wanted == 0 {
                            break;
                        }
                    }
                    for ring in chunks.iter().rev() {
                        for l in ring {
                            print_line(l, query, out, err)?;
                        }
                    }
                }
            }
        }
        reader.read_new(query, out, err)?;
        Ok(reader)
    }

    /// Prints what was added since; call again to follow the log.
    pub(crate) fn follow(
        &mut self,
        query: &LogQuery,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> Result<()> {
        self.read_new(query, out, err)?;
        use std::os::unix::fs::MetadataExt;
        let now = std::fs::metadata(&self.path).ok();
        let ours = self.file.as_ref().and_then(|f| f.metadata().ok());
        match (ours, now) {
            // Moved aside (rotated): what is left of it was read above;
            // go on with the new file from its start.
            (Some(a), Some(b)) if a.ino() != b.ino() => {
                self.read_new(query, out, err)?;
                self.file = File::open(&self.path).ok();
                self.offset = 0;
                self.read_new(query, out, err)?;
            }
            // Emptied (max-file=1): start again at its beginning.
            (Some(a), _) if a.len() < self.offset => {
                self.offset = 0;
                self.read_new(query, out, err)?;
            }
            (None, Some(_)) => {
                self.file = File::open(&self.path).ok();
                self.offset = 0;
                self.read_new(query, out, err)?;
            }
            _ => {}
        }
        Ok(())
    }

    fn read_new(
        &mut self,
        query: &LogQuery,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> Result<()> {
        if let Some(f) = &mut self.file {
            f.seek(SeekFrom::Start(self.offset))?;
            let mut consumed = 0u64;
            for_each_line(BufReader::new(&*f), |l| {
                consumed += l.len() as u64;
                print_line(l, query, out, err)
            })?;
            self.offset += consumed;
        }
        out.flush()?;
        err.flush()?;
        Ok(())
    }
}

fn print_line(
    line: &[u8],
    query: &LogQuery,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<()> {
    match serde_json::from_slice::<Record>(line) {
        Ok(rec) => print_record(&rec, query, out, err),
        Err(_) => Ok(()),
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
    /// `--details`: each line after its details (Docker's json-file
    /// `attrs`, from `--log-opt labels=/env=`, which berth does not
    /// record, so always empty) and a space.
    pub(crate) details: bool,
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
        match time {
            Some(t) => write!(w, "{} ", rfc3339_nano_fixed(t))?,
            None => write!(w, "{} ", rec.time)?,
        }
    }
    if query.details {
        w.write_all(b" ")?;
    }
    w.write_all(rec.log.as_bytes())?;
    Ok(())
}

/// Docker's `RFC3339NanoFixed` in UTC: always nine digits of the second
/// (the records, as Go's JSON, drop trailing zeros).
fn rfc3339_nano_fixed(t: jiff::Timestamp) -> String {
    format!(
        "{}.{:09}Z",
        t.strftime("%Y-%m-%dT%H:%M:%S"),
        t.subsec_nanosecond()
    )
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

    fn read_all(path: &Path, q: &LogQuery) -> (String, String) {
        let (mut o, mut e) = (Vec::new(), Vec::new());
        LogReader::print_existing(path, q, &mut o, &mut e).unwrap();
        (String::from_utf8(o).unwrap(), String::from_utf8(e).unwrap())
    }

    fn plain(p: &Path) -> LogWriter {
        LogWriter::open(p, &LogConfig::default()).unwrap()
    }

    fn rotating(p: &Path, opts: &[&str]) -> LogWriter {
        let opts: Vec<String> = opts.iter().map(|s| s.to_string()).collect();
        LogWriter::open(p, &LogConfig::parse(None, &opts).unwrap()).unwrap()
    }

    fn tail(n: usize) -> LogQuery {
        LogQuery {
            tail: Some(n),
            ..Default::default()
        }
    }

    #[test]
    fn rotation_keeps_max_file_files_and_reads_them_in_order() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("json.log");
        // Each record is about 80 bytes: 3 per 200-byte file.
        let mut w = rotating(&p, &["max-size=200", "max-file=3"]);
        let mut expected = String::new();
        for i in 0..20 {
            let line = format!("line {i:02}\n");
            w.write(Stream::Stdout, line.as_bytes()).unwrap();
            expected.push_str(&line);
        }
        assert!(rotated(&p, 1, false).exists() && rotated(&p, 2, false).exists());
        assert!(!rotated(&p, 3, false).exists());
        let (out, _) = read_all(&p, &LogQuery::default());
        // What is kept is the end of the output, in order.
        assert!(expected.ends_with(&out), "{out}");
        assert!(out.starts_with("line ") && out.ends_with("line 19\n"));
        let kept = out.lines().count();
        assert!((7..=9).contains(&kept), "{kept}");
        // --tail reaches back into the rotated files.
        assert_eq!(
            read_all(&p, &tail(5)).0,
            "line 15\nline 16\nline 17\nline 18\nline 19\n"
        );
        assert_eq!(read_all(&p, &tail(1000)).0, out);
    }

    #[test]
    fn compressed_rotation_and_one_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("json.log");
        let mut w = rotating(&p, &["max-size=200", "max-file=2", "compress=true"]);
        for i in 0..10 {
            w.write(Stream::Stderr, format!("e{i}\n").as_bytes())
                .unwrap();
        }
        assert!(rotated(&p, 1, true).exists() && !rotated(&p, 1, false).exists());
        let (_, err) = read_all(&p, &LogQuery::default());
        assert!(err.ends_with("e8\ne9\n") && err.starts_with('e'), "{err}");
        let p1 = d.path().join("one.log");
        let mut w = rotating(&p1, &["max-size=100", "max-file=1"]);
        for i in 0..10 {
            w.write(Stream::Stdout, format!("o{i}\n").as_bytes())
                .unwrap();
        }
        assert!(std::fs::metadata(&p1).unwrap().len() < 200);
        assert!(read_all(&p1, &LogQuery::default()).0.ends_with("o9\n"));
        // none keeps nothing.
        let pn = d.path().join("none.log");
        let mut w = LogWriter::open(&pn, &LogConfig::parse(Some("none"), &[]).unwrap()).unwrap();
        w.write(Stream::Stdout, b"x\n").unwrap();
        assert!(!pn.exists());
    }

    #[test]
    fn following_crosses_a_rotation() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("json.log");
        let mut w = rotating(&p, &["max-size=150", "max-file=3", "compress=true"]);
        w.write(Stream::Stdout, b"a\n").unwrap();
        let (mut o, mut e) = (Vec::new(), Vec::new());
        let q = LogQuery::default();
        let mut r = LogReader::print_existing(&p, &q, &mut o, &mut e).unwrap();
        for l in [&b"b\n"[..], b"c\n", b"d\n", b"e\n"] {
            w.write(Stream::Stdout, l).unwrap();
            r.follow(&q, &mut o, &mut e).unwrap();
        }
        assert!(rotated(&p, 1, true).exists());
        assert_eq!(String::from_utf8(o).unwrap(), "a\nb\nc\nd\ne\n");
    }

    #[test]
    fn streams_stay_apart_and_lines_are_records() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("log");
        let mut w = plain(&p);
        w.write(Stream::Stdout, b"one\ntw").unwrap();
        w.write(Stream::Stderr, b"oops\n").unwrap();
        w.write(Stream::Stdout, b"o\nthree").unwrap();
        w.flush_stream(Stream::Stdout).unwrap();
        let (out, err) = read_all(&p, &LogQuery::default());
        assert_eq!(out, "one\ntwo\nthree");
        assert_eq!(err, "oops\n");
        assert_eq!(std::fs::read_to_string(&p).unwrap().lines().count(), 4);
    }

    #[test]
    fn tail_takes_the_last_records() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("log");
        let mut w = plain(&p);
        for i in 0..100 {
            w.write(Stream::Stdout, format!("line {i}\n").as_bytes())
                .unwrap();
        }
        assert_eq!(read_all(&p, &tail(2)).0, "line 98\nline 99\n");
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
        let mut w = plain(&p);
        w.write(Stream::Stdout, &vec![b'x'; MAX_RECORD * 2 + 5])
            .unwrap();
        w.flush_stream(Stream::Stdout).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap().lines().count(), 3);
        let q = LogQuery {
            since: Some(jiff::Timestamp::now() + jiff::SignedDuration::from_secs(60)),
            ..Default::default()
        };
        assert_eq!(read_all(&p, &q).0, "");
        let q = LogQuery {
            timestamps: true,
            tail: None,
            ..Default::default()
        };
        assert!(read_all(&p, &q).0.contains("Z xxx"));
        // --details: the (empty) details and a space, after the time.
        let q = LogQuery {
            timestamps: true,
            details: true,
            ..Default::default()
        };
        assert!(read_all(&p, &q).0.contains("Z  xxx"));
    }

    #[test]
    fn timestamps_have_nine_digits_as_dockers() {
        let t: jiff::Timestamp = "2026-12-02T05:31:44.69632046Z".parse().unwrap();
        assert_eq!(rfc3339_nano_fixed(t), "2026-12-02T05:31:44.696320460Z");
        let t: jiff::Timestamp = "2026-12-02T05:31:44Z".parse().unwrap();
        assert_eq!(rfc3339_nano_fixed(t), "2026-12-02T05:31:44.000000000Z");
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
