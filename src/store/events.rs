//! The event log: `events/log`, one JSON [`Event`] a line, appended to by
//! every berth process that does something Docker reports as an event
//! (the command, or the monitor of a container), and read by
//! `berth events`.
//!
//! Appending costs one `open`, `fstat`, `write` and `close`: each event is
//! one `write` of a whole line with `O_APPEND`, which the kernel never
//! interleaves with another process's on a local filesystem (lines longer
//! than a page, which only many labels make, are written under a `flock`
//! of the log). The log is bounded: the append that would take it past
//! [`LIMIT`] first renames it to `events/log.1` (replacing the one before,
//! under the `flock`, so one process rotates), and readers read `log.1`
//! then `log`. Recording is best effort: a command never fails because
//! its event could not be written.
//!
//! Following is inotify on `events/`: a write or a rotation wakes the
//! reader, which reads what was added (the rest of a rotated file through
//! the descriptor it holds, then the new file).

use super::Store;
use crate::model::event::Event;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Size at which the log is rotated: about 4000 events in each of the two
/// files (Docker keeps 256 in memory).
pub(crate) const LIMIT: u64 = 1 << 20;

/// Lines up to this size are appended without a lock (PIPE_BUF).
const ATOMIC_LINE: usize = 4096;

impl Store {
    pub(crate) fn events_dir(&self) -> PathBuf {
        self.root().join("events")
    }

    /// Appends `event` to the log; failures are ignored (see the module).
    pub(crate) fn record_event(&self, event: &Event) {
        let Ok(mut line) = serde_json::to_vec(event) else {
            return;
        };
        line.push(b'\n');
        let _ = append(&self.events_dir(), &line, LIMIT);
    }

    /// The log opened now, to record events later from where the store
    /// cannot be reached (`exec`, inside the container's namespaces).
    /// Such appends never rotate the log.
    pub(crate) fn event_sink(&self) -> Option<EventSink> {
        let dir = self.events_dir();
        let _ = create_dir(&dir);
        open_log(&dir.join("log"))
            .ok()
            .map(|file| EventSink { file })
    }

    /// The events of an image's removal as Docker's daemon records them:
    /// one `untag` per reference removed (named by the image id), then
    /// `delete` when the image itself went.
    pub(crate) fn record_image_removal(&self, id: &str, untags: usize, deleted: bool) {
        for _ in 0..untags {
            self.record_event(&Event::image(id, id, "untag"));
        }
        if deleted {
            self.record_event(&Event::image(id, id, "delete"));
        }
    }

    /// Every event recorded still (`log.1`, then `log`), and a reader
    /// positioned after them for [`EventReader::wait`].
    pub(crate) fn event_history(&self) -> std::io::Result<(Vec<Event>, EventReader)> {
        let dir = self.events_dir();
        create_dir(&dir)?;
        // The current file first: a rotation in between would otherwise
        // move events past us.
        let mut reader = EventReader::open(&dir)?;
        let mut events = Vec::new();
        if let Ok(mut old) = File::open(dir.join("log.1")) {
            let mut data = Vec::new();
            old.read_to_end(&mut data)?;
            events.extend(parse_lines(&data).0);
        }
        events.extend(reader.read_new()?);
        Ok((events, reader))
    }

    /// A reader of the events recorded from now on.
    pub(crate) fn event_follower(&self) -> std::io::Result<EventReader> {
        let dir = self.events_dir();
        create_dir(&dir)?;
        let mut reader = EventReader::open(&dir)?;
        reader.offset = reader.file.seek(SeekFrom::End(0))?;
        Ok(reader)
    }
}

fn create_dir(dir: &Path) -> std::io::Result<()> {
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(e),
        _ => Ok(()),
    }
}

fn open_log(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
}

/// Appends one line (ending in `\n`) to `dir/log`, rotating it when it
/// would grow past `limit`.
fn append(dir: &Path, line: &[u8], limit: u64) -> std::io::Result<()> {
    let path = dir.join("log");
    let mut file = match open_log(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            create_dir(dir)?;
            open_log(&path)?
        }
        other => other?,
    };
    if file.metadata()?.len() + line.len() as u64 > limit {
        file = rotate(dir, file)?;
    }
    if line.len() <= ATOMIC_LINE {
        return file.write_all(line);
    }
    file.lock()?;
    file.write_all(line)
}

/// An open event log (see [`Store::event_sink`]).
pub(crate) struct EventSink {
    file: File,
}

impl EventSink {
    pub(crate) fn record(&mut self, event: &Event) {
        if let Ok(mut line) = serde_json::to_vec(event) {
            line.push(b'\n');
            if line.len() > ATOMIC_LINE && self.file.lock().is_err() {
                return;
            }
            let _ = self.file.write_all(&line);
            let _ = self.file.unlock();
        }
    }
}

/// Renames a full log to `log.1` and returns the new log, once: the
/// first process to take the lock rotates, the others find the file they
/// hold is no longer `log` and reopen.
fn rotate(dir: &Path, file: File) -> std::io::Result<File> {
    let path = dir.join("log");
    file.lock()?;
    let ours = file.metadata()?;
    if std::fs::metadata(&path).is_ok_and(|m| m.ino() == ours.ino()) {
        std::fs::rename(&path, dir.join("log.1"))?;
    }
    drop(file);
    open_log(&path)
}

/// Parses complete lines; returns the events and how many bytes they took
/// (a last line without its newline is still being written). Lines that
/// do not parse (a write cut short by a full disk) are skipped.
fn parse_lines(data: &[u8]) -> (Vec<Event>, usize) {
    let mut events = Vec::new();
    let mut used = 0;
    while let Some(end) = data[used..].iter().position(|&b| b == b'\n') {
        if let Ok(e) = serde_json::from_slice::<Event>(&data[used..used + end]) {
            events.push(e);
        }
        used += end + 1;
    }
    (events, used)
}

/// Reads the log as it grows, across rotations.
pub(crate) struct EventReader {
    dir: PathBuf,
    file: File,
    offset: u64,
    inotify: Option<nix::sys::inotify::Inotify>,
}

impl EventReader {
    fn open(dir: &Path) -> std::io::Result<EventReader> {
        use nix::sys::inotify::{AddWatchFlags as W, InitFlags, Inotify};
        // Watched before the file is opened, so no append is missed.
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)
            .ok()
            .filter(|i| {
                i.add_watch(
                    dir,
                    W::IN_MODIFY | W::IN_CREATE | W::IN_MOVED_TO | W::IN_MOVED_FROM,
                )
                .is_ok()
            });
        let file = match File::open(dir.join("log")) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                drop(open_log(&dir.join("log"))?);
                File::open(dir.join("log"))?
            }
            Err(e) => return Err(e),
        };
        Ok(EventReader {
            dir: dir.to_path_buf(),
            file,
            offset: 0,
            inotify,
        })
    }

    /// Events appended since the last read, following a rotation.
    pub(crate) fn read_new(&mut self) -> std::io::Result<Vec<Event>> {
        let mut events = self.read_file()?;
        let path = self.dir.join("log");
        let ours = self.file.metadata()?.ino();
        if let Ok(current) = std::fs::metadata(&path) {
            if current.ino() != ours {
                // Rotated: what was left of the old file is read; now the new.
                self.file = File::open(&path)?;
                self.offset = 0;
                events.extend(self.read_file()?);
            }
        }
        Ok(events)
    }

    fn read_file(&mut self) -> std::io::Result<Vec<Event>> {
        self.file.seek(SeekFrom::Start(self.offset))?;
        let mut data = Vec::new();
        self.file.read_to_end(&mut data)?;
        let (events, used) = parse_lines(&data);
        self.offset += used as u64;
        Ok(events)
    }

    /// Waits until the log changes or `until` passes (forever when None);
    /// then the events added. Without inotify, it looks every 100 ms.
    pub(crate) fn wait(&mut self, until: Option<Instant>) -> std::io::Result<Vec<Event>> {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        loop {
            let remaining = until.map(|u| u.saturating_duration_since(Instant::now()));
            if remaining == Some(Duration::ZERO) {
                return self.read_new();
            }
            let ms = match (&self.inotify, remaining) {
                (None, r) => r.unwrap_or(Duration::MAX).min(Duration::from_millis(100)),
                (Some(_), Some(r)) => r,
                (Some(_), None) => Duration::from_secs(60),
            };
            let timeout = PollTimeout::try_from(ms.as_millis().min(60_000) as i32 + 1)
                .unwrap_or(PollTimeout::MAX);
            match &self.inotify {
                Some(i) => {
                    let mut fds = [PollFd::new(i.as_fd(), PollFlags::POLLIN)];
                    match poll(&mut fds, timeout) {
                        Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                        Err(e) => return Err(e.into()),
                    }
                    // Drained: what changed is read below anyway.
                    while i.read_events().is_ok_and(|e| !e.is_empty()) {}
                }
                None => std::thread::sleep(ms),
            }
            let events = self.read_new()?;
            if !events.is_empty() {
                return Ok(events);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::event::{attributes, CONTAINER};

    fn event(i: usize) -> Event {
        Event::now(
            CONTAINER,
            "start",
            format!("{i:064}"),
            attributes([("name", "x")]),
        )
    }

    fn line(e: &Event) -> Vec<u8> {
        let mut l = serde_json::to_vec(e).unwrap();
        l.push(b'\n');
        l
    }

    #[test]
    fn appended_events_are_read_back_in_order() {
        let (_d, store) = crate::store::test_store();
        for i in 0..3 {
            store.record_event(&event(i));
        }
        let (history, _) = store.event_history().unwrap();
        let ids: Vec<_> = history.iter().map(|e| e.actor.id.clone()).collect();
        assert_eq!(ids, (0..3).map(|i| format!("{i:064}")).collect::<Vec<_>>());
    }

    #[test]
    fn the_log_rotates_and_readers_follow_across_the_rotation() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("events");
        let one = line(&event(0)).len() as u64;
        let limit = one * 10;
        create_dir(&dir).unwrap();
        let mut reader = EventReader::open(&dir).unwrap();
        for i in 0..25 {
            append(&dir, &line(&event(i)), limit).unwrap();
            if i == 5 {
                assert_eq!(reader.read_new().unwrap().len(), 6);
            }
        }
        assert!(std::fs::metadata(dir.join("log")).unwrap().len() <= limit);
        assert!(std::fs::metadata(dir.join("log.1")).unwrap().len() <= limit);
        // The reader held the first file: it gets its rest, then the new
        // file's (the middle file was rotated away entirely meanwhile).
        let got = reader.read_new().unwrap();
        assert!(got.len() >= 4, "{}", got.len());
        assert_eq!(got.last().unwrap().actor.id, format!("{:064}", 24));
    }

    #[test]
    fn concurrent_appends_never_interleave() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("events");
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let dir = dir.clone();
                std::thread::spawn(move || {
                    for i in 0..200 {
                        let mut e = event(t * 1000 + i);
                        // Long lines too: above ATOMIC_LINE they take the lock.
                        if i % 50 == 0 {
                            e.actor
                                .attributes
                                .insert("long".into(), "x".repeat(ATOMIC_LINE));
                        }
                        append(&dir, &line(&e), LIMIT).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let data = std::fs::read(dir.join("log")).unwrap();
        let (events, used) = parse_lines(&data);
        assert_eq!(used, data.len());
        assert_eq!(events.len(), 8 * 200);
    }

    #[test]
    fn a_torn_line_is_skipped() {
        let mut data = line(&event(1));
        data.extend_from_slice(b"{\"Type\":\"cont\n");
        data.extend(line(&event(2)));
        data.extend_from_slice(b"{\"partial");
        let (events, used) = parse_lines(&data);
        assert_eq!(events.len(), 2);
        assert_eq!(used, data.len() - b"{\"partial".len());
    }

    #[test]
    fn waiting_returns_new_events_or_times_out() {
        let (_d, store) = crate::store::test_store();
        let mut follower = store.event_follower().unwrap();
        let start = Instant::now();
        let none = follower
            .wait(Some(Instant::now() + Duration::from_millis(50)))
            .unwrap();
        assert!(none.is_empty());
        assert!(start.elapsed() >= Duration::from_millis(50));
        let s = store.clone();
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            s.record_event(&event(7));
        });
        let got = follower
            .wait(Some(Instant::now() + Duration::from_secs(10)))
            .unwrap();
        writer.join().unwrap();
        assert_eq!(got.len(), 1);
    }
}
