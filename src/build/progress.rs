//! What a build tells whoever shows it: BuildKit's vertices (`[internal]
//! load build definition`, `[2/5] RUN ...`, `exporting to image`), their
//! status lines, output, and how each ended. The builder never prints;
//! the CLI implements [`BuildProgress`] (plain lines, a live view on a
//! terminal, or nothing with `-q`), and compose will have its own.

use std::sync::Mutex;

/// A vertex of this build, numbered in the order the builder started it.
pub type VertexId = usize;

/// The receiver of a build's events. Called from the builder's threads
/// (stages run side by side), so implementations lock what they share.
pub trait BuildProgress: Send + Sync {
    /// A vertex starts; `name` as BuildKit shows it.
    fn start(&self, name: &str) -> VertexId;
    /// A status line of a vertex (`transferring context: 38B done`).
    fn status(&self, v: VertexId, text: &str);
    /// Output of a RUN step, as it comes (not split into lines).
    fn log(&self, v: VertexId, stderr: bool, data: &[u8]);
    /// The vertex's result came from the cache.
    fn cached(&self, v: VertexId);
    /// The vertex ran to success.
    fn done(&self, v: VertexId);
    /// The vertex failed with this message.
    fn error(&self, v: VertexId, message: &str);
    /// A warning about the build (unconsumed build arguments...).
    fn warning(&self, text: &str);
    /// Called about four times a second while a step runs silently, so
    /// a live view can advance its clocks without a thread of its own.
    fn tick(&self) {}
}

/// Shows nothing.
pub struct Silent;

impl BuildProgress for Silent {
    fn start(&self, _: &str) -> VertexId {
        0
    }
    fn status(&self, _: VertexId, _: &str) {}
    fn log(&self, _: VertexId, _: bool, _: &[u8]) {}
    fn cached(&self, _: VertexId) {}
    fn done(&self, _: VertexId) {}
    fn error(&self, _: VertexId, _: &str) {}
    fn warning(&self, _: &str) {}
}

/// One recorded event.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Event {
    Start(String),
    Status(VertexId, String),
    Log(VertexId, bool, Vec<u8>),
    Cached(VertexId),
    Done(VertexId),
    Error(VertexId, String),
    Warning(String),
}

/// Keeps events to show them later, or never: the builder first tries a
/// build from the cache alone, and only when that succeeds are its
/// events shown.
#[derive(Default)]
pub(crate) struct Recorder {
    events: Mutex<Vec<Event>>,
}

impl Recorder {
    /// Plays the recorded events into `to`, in order.
    pub(crate) fn replay(&self, to: &dyn BuildProgress) {
        let events = std::mem::take(&mut *self.events.lock().unwrap());
        let mut ids: Vec<VertexId> = Vec::new();
        for e in events {
            match e {
                Event::Start(name) => ids.push(to.start(&name)),
                Event::Status(v, t) => to.status(ids[v], &t),
                Event::Log(v, err, d) => to.log(ids[v], err, &d),
                Event::Cached(v) => to.cached(ids[v]),
                Event::Done(v) => to.done(ids[v]),
                Event::Error(v, m) => to.error(ids[v], &m),
                Event::Warning(w) => to.warning(&w),
            }
        }
    }
}

impl BuildProgress for Recorder {
    fn start(&self, name: &str) -> VertexId {
        let mut e = self.events.lock().unwrap();
        let id = e.iter().filter(|x| matches!(x, Event::Start(_))).count();
        e.push(Event::Start(name.to_string()));
        id
    }
    fn status(&self, v: VertexId, text: &str) {
        self.events
            .lock()
            .unwrap()
            .push(Event::Status(v, text.to_string()));
    }
    fn log(&self, v: VertexId, stderr: bool, data: &[u8]) {
        self.events
            .lock()
            .unwrap()
            .push(Event::Log(v, stderr, data.to_vec()));
    }
    fn cached(&self, v: VertexId) {
        self.events.lock().unwrap().push(Event::Cached(v));
    }
    fn done(&self, v: VertexId) {
        self.events.lock().unwrap().push(Event::Done(v));
    }
    fn error(&self, v: VertexId, message: &str) {
        self.events
            .lock()
            .unwrap()
            .push(Event::Error(v, message.to_string()));
    }
    fn warning(&self, text: &str) {
        self.events
            .lock()
            .unwrap()
            .push(Event::Warning(text.to_string()));
    }
}

/// A failed build, with what BuildKit shows about it: the failing
/// vertex, its last output lines and the Dockerfile lines. The CLI exits
/// with status 1 for these (berth's own errors are 125).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildError {
    /// `process "/bin/sh -c exit 3" did not complete successfully: exit code: 3`.
    pub message: String,
    /// The vertex's name (`[2/3] RUN exit 3`).
    pub vertex: Option<String>,
    /// Its last output lines.
    pub logs: Vec<String>,
    /// The Dockerfile excerpt around the instruction.
    pub snippet: Option<String>,
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for BuildError {}

impl BuildError {
    pub fn new(message: impl Into<String>) -> BuildError {
        BuildError {
            message: message.into(),
            vertex: None,
            logs: Vec::new(),
            snippet: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recording_replays_in_order() {
        let r = Recorder::default();
        let a = r.start("a");
        let b = r.start("b");
        r.cached(b);
        r.status(a, "x");
        r.done(a);
        let into = Recorder::default();
        r.replay(&into);
        let e = into.events.lock().unwrap().clone();
        assert_eq!(
            e,
            vec![
                Event::Start("a".into()),
                Event::Start("b".into()),
                Event::Cached(1),
                Event::Status(0, "x".into()),
                Event::Done(0),
            ]
        );
    }
}
