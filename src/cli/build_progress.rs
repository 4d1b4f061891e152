//! How `build` shows its progress: BuildKit's plain lines (`#5 [2/4] RUN
//! ...`, `#5 0.282 output`, `#5 DONE 0.3s`), or on a terminal a compact
//! live view that redraws in place, and the error block of a failed build.

use crate::build::progress::{BuildError, BuildProgress, VertexId};
use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One vertex as a printer keeps it.
struct Vertex {
    name: String,
    /// `#N`, given when first printed (0: not yet).
    index: usize,
    started: Instant,
    finished: Option<Instant>,
    state: State,
    /// Output not yet ended by a newline.
    partial: String,
    /// The last lines, for the live view.
    recent: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Running,
    Cached,
    Done,
    Failed,
}

impl Vertex {
    fn new(name: &str) -> Vertex {
        Vertex {
            name: name.to_string(),
            index: 0,
            started: Instant::now(),
            finished: None,
            state: State::Running,
            partial: String::new(),
            recent: Vec::new(),
        }
    }

    fn secs(&self) -> f64 {
        self.finished
            .unwrap_or_else(Instant::now)
            .duration_since(self.started)
            .as_secs_f64()
    }
}

/// BuildKit's `--progress=plain`, on stderr.
pub(crate) struct Plain {
    inner: Mutex<PlainState>,
}

struct PlainState {
    vertices: Vec<Vertex>,
    current: Option<VertexId>,
    next_index: usize,
    printed: bool,
    out: Box<dyn Write + Send>,
}

impl Plain {
    pub(crate) fn new() -> Plain {
        Plain {
            inner: Mutex::new(PlainState {
                vertices: Vec::new(),
                current: None,
                next_index: 0,
                printed: false,
                out: Box::new(std::io::stderr()),
            }),
        }
    }

    #[cfg(test)]
    fn to(out: Box<dyn Write + Send>) -> Plain {
        Plain {
            inner: Mutex::new(PlainState {
                vertices: Vec::new(),
                current: None,
                next_index: 0,
                printed: false,
                out,
            }),
        }
    }
}

impl PlainState {
    /// Makes `v` the vertex being printed: the one before gets `...` when
    /// it is not finished, and `v` its header.
    fn select(&mut self, v: VertexId) {
        if self.current == Some(v) {
            return;
        }
        if let Some(old) = self.current.take() {
            let o = &self.vertices[old];
            if o.state == State::Running {
                let _ = writeln!(self.out, "#{} ...", o.index);
            }
        }
        if self.printed {
            let _ = writeln!(self.out);
        }
        self.printed = true;
        if self.vertices[v].index == 0 {
            self.next_index += 1;
            self.vertices[v].index = self.next_index;
        }
        let x = &self.vertices[v];
        let _ = writeln!(self.out, "#{} {}", x.index, x.name);
        self.current = Some(v);
    }

    fn flush_partial(&mut self, v: VertexId) {
        let x = &mut self.vertices[v];
        if !x.partial.is_empty() {
            let line = std::mem::take(&mut x.partial);
            let at = x.started.elapsed().as_secs_f64();
            let _ = writeln!(self.out, "#{} {at:.3} {line}", x.index);
        }
    }

    fn finish(&mut self, v: VertexId, state: State, message: Option<&str>) {
        self.select(v);
        self.flush_partial(v);
        let x = &mut self.vertices[v];
        x.state = state;
        x.finished = Some(Instant::now());
        let idx = x.index;
        let line = match state {
            State::Cached => "CACHED".to_string(),
            State::Failed => format!("ERROR: {}", message.unwrap_or_default()),
            _ => format!("DONE {:.1}s", x.secs()),
        };
        let _ = writeln!(self.out, "#{idx} {line}");
        self.current = None;
    }
}

impl BuildProgress for Plain {
    fn start(&self, name: &str) -> VertexId {
        let mut s = self.inner.lock().unwrap();
        s.vertices.push(Vertex::new(name));
        let v = s.vertices.len() - 1;
        // A running vertex shows its header right away, as BuildKit's
        // first status update does.
        s.select(v);
        v
    }

    fn status(&self, v: VertexId, text: &str) {
        let mut s = self.inner.lock().unwrap();
        s.select(v);
        let idx = s.vertices[v].index;
        let _ = writeln!(s.out, "#{idx} {text}");
    }

    fn log(&self, v: VertexId, _stderr: bool, data: &[u8]) {
        let mut s = self.inner.lock().unwrap();
        s.select(v);
        let text = String::from_utf8_lossy(data).into_owned();
        let at = s.vertices[v].started.elapsed().as_secs_f64();
        let idx = s.vertices[v].index;
        let mut lines = Vec::new();
        {
            let x = &mut s.vertices[v];
            for c in text.chars() {
                if c == '\n' {
                    lines.push(std::mem::take(&mut x.partial));
                } else if c != '\r' {
                    x.partial.push(c);
                }
            }
        }
        for l in lines {
            let _ = writeln!(s.out, "#{idx} {at:.3} {l}");
        }
    }

    fn cached(&self, v: VertexId) {
        self.inner.lock().unwrap().finish(v, State::Cached, None);
    }

    fn done(&self, v: VertexId) {
        self.inner.lock().unwrap().finish(v, State::Done, None);
    }

    fn error(&self, v: VertexId, message: &str) {
        self.inner
            .lock()
            .unwrap()
            .finish(v, State::Failed, Some(message));
    }

    fn warning(&self, text: &str) {
        let mut s = self.inner.lock().unwrap();
        if let Some(old) = s.current.take() {
            let idx = s.vertices[old].index;
            let _ = writeln!(s.out, "#{idx} ...");
        }
        if s.printed {
            let _ = writeln!(s.out);
        }
        s.printed = true;
        let _ = writeln!(s.out, "{text}");
    }
}

/// The live view on a terminal: a header with the elapsed time and one
/// line per vertex, the running ones with their last output lines,
/// redrawn in place.
pub(crate) struct Tty {
    inner: Mutex<TtyState>,
}

struct TtyState {
    started: Instant,
    vertices: Vec<Vertex>,
    warnings: Vec<String>,
    /// Lines drawn last time (to move back over them).
    drawn: usize,
    last_draw: Option<Instant>,
    finished: bool,
}

/// How many output lines a running vertex shows.
const RECENT: usize = 6;

impl Tty {
    pub(crate) fn new() -> Tty {
        Tty {
            inner: Mutex::new(TtyState {
                started: Instant::now(),
                vertices: Vec::new(),
                warnings: Vec::new(),
                drawn: 0,
                last_draw: None,
                finished: false,
            }),
        }
    }

    /// The final frame (`FINISHED`).
    pub(crate) fn finish(&self) {
        let mut s = self.inner.lock().unwrap();
        s.finished = true;
        s.draw(true);
        let warnings = std::mem::take(&mut s.warnings);
        let mut err = std::io::stderr().lock();
        for w in warnings {
            let _ = writeln!(err, "{w}");
        }
    }
}

fn terminal_width() -> usize {
    // SAFETY: TIOCGWINSZ fills the winsize we pass.
    unsafe {
        let mut ws: libc::winsize = std::mem::zeroed();
        if libc::ioctl(2, libc::TIOCGWINSZ, &mut ws) == 0 && ws.ws_col > 0 {
            return ws.ws_col as usize;
        }
    }
    80
}

fn fit(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_string()
    } else {
        s.chars().take(width.saturating_sub(1)).collect::<String>() + "…"
    }
}

impl TtyState {
    fn draw(&mut self, force: bool) {
        let now = Instant::now();
        if !force
            && self
                .last_draw
                .is_some_and(|t| now.duration_since(t) < Duration::from_millis(100))
        {
            return;
        }
        self.last_draw = Some(now);
        let width = terminal_width().max(20);
        let done = self
            .vertices
            .iter()
            .filter(|v| v.state != State::Running)
            .count();
        let mut lines = vec![format!(
            "[+] Building {:.1}s ({done}/{}){}",
            self.started.elapsed().as_secs_f64(),
            self.vertices.len(),
            if self.finished { " FINISHED" } else { "" }
        )];
        for v in &self.vertices {
            let time = format!("{:.1}s", v.secs());
            let label = match v.state {
                State::Cached => format!(" => CACHED {}", v.name),
                State::Failed => format!(" => ERROR {}", v.name),
                _ => format!(" => {}", v.name),
            };
            let room = width.saturating_sub(time.len() + 1);
            let label = fit(&label, room);
            let pad = room.saturating_sub(label.chars().count());
            lines.push(format!("{label}{} {time}", " ".repeat(pad)));
            if v.state == State::Running || v.state == State::Failed {
                for l in &v.recent {
                    lines.push(fit(&format!(" => => # {l}"), width));
                }
            }
        }
        let mut out = std::io::stderr().lock();
        let mut buf = String::new();
        if self.drawn > 0 {
            buf.push_str(&format!("\x1b[{}A", self.drawn));
        }
        for l in &lines {
            buf.push_str("\x1b[2K");
            buf.push_str(l);
            buf.push('\n');
        }
        // Lines left from a taller frame.
        for _ in lines.len()..self.drawn {
            buf.push_str("\x1b[2K\n");
        }
        let extra = self.drawn.saturating_sub(lines.len());
        if extra > 0 {
            buf.push_str(&format!("\x1b[{extra}A"));
        }
        let _ = out.write_all(buf.as_bytes());
        let _ = out.flush();
        self.drawn = lines.len();
    }

    fn end(&mut self, v: VertexId, state: State) {
        let x = &mut self.vertices[v];
        x.state = state;
        x.finished = Some(Instant::now());
        if !x.partial.is_empty() {
            let l = std::mem::take(&mut x.partial);
            x.recent.push(l);
        }
        if state != State::Failed {
            x.recent.clear();
        }
        self.draw(true);
    }
}

impl BuildProgress for Tty {
    fn start(&self, name: &str) -> VertexId {
        let mut s = self.inner.lock().unwrap();
        s.vertices.push(Vertex::new(name));
        s.draw(false);
        s.vertices.len() - 1
    }

    fn status(&self, _v: VertexId, _text: &str) {
        self.inner.lock().unwrap().draw(false);
    }

    fn log(&self, v: VertexId, _stderr: bool, data: &[u8]) {
        let mut s = self.inner.lock().unwrap();
        {
            let x = &mut s.vertices[v];
            for c in String::from_utf8_lossy(data).chars() {
                if c == '\n' {
                    let l = std::mem::take(&mut x.partial);
                    x.recent.push(l);
                } else if c != '\r' {
                    x.partial.push(c);
                }
            }
            let len = x.recent.len();
            if len > RECENT {
                x.recent.drain(..len - RECENT);
            }
        }
        s.draw(false);
    }

    fn cached(&self, v: VertexId) {
        self.inner.lock().unwrap().end(v, State::Cached);
    }

    fn done(&self, v: VertexId) {
        self.inner.lock().unwrap().end(v, State::Done);
    }

    fn error(&self, v: VertexId, message: &str) {
        let mut s = self.inner.lock().unwrap();
        s.vertices[v].recent.push(format!("ERROR: {message}"));
        s.end(v, State::Failed);
    }

    fn warning(&self, text: &str) {
        self.inner.lock().unwrap().warnings.push(text.to_string());
    }

    fn tick(&self) {
        self.inner.lock().unwrap().draw(false);
    }
}

/// BuildKit's report of a failed build.
pub(crate) fn error_block(e: &BuildError) -> String {
    let mut out = String::new();
    if let Some(v) = &e.vertex {
        out.push_str("------\n");
        out.push_str(&format!(" > {v}:\n"));
        for l in &e.logs {
            out.push_str(l);
            out.push('\n');
        }
        out.push_str("------\n");
    }
    if let Some(s) = &e.snippet {
        out.push_str(s);
    }
    out.push_str(&format!("ERROR: failed to solve: {}\n", e.message));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn plain_lines_as_buildkit() {
        let buf = Buf::default();
        let p = Plain::to(Box::new(buf.clone()));
        let a = p.start("[internal] load build definition from Dockerfile");
        p.status(a, "transferring dockerfile: 52B done");
        p.done(a);
        let b = p.start("[1/2] FROM docker.io/library/busybox:latest");
        p.cached(b);
        let c = p.start("[2/2] RUN echo hi");
        p.log(c, false, b"hi\npart");
        p.error(
            c,
            "process \"/bin/sh -c echo hi\" did not complete successfully: exit code: 1",
        );
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<String> = text
            .lines()
            .map(|l| {
                // Timings vary: keep their shape.
                let mut w: Vec<&str> = l.split(' ').collect();
                if w.len() > 2 && w[1].contains('.') && w[1].parse::<f64>().is_ok() {
                    w[1] = "T";
                }
                if w.len() == 3 && w[1] == "DONE" {
                    w[2] = "Ts";
                }
                w.join(" ")
            })
            .collect();
        assert_eq!(
            lines,
            [
                "#1 [internal] load build definition from Dockerfile",
                "#1 transferring dockerfile: 52B done",
                "#1 DONE Ts",
                "",
                "#2 [1/2] FROM docker.io/library/busybox:latest",
                "#2 CACHED",
                "",
                "#3 [2/2] RUN echo hi",
                "#3 T hi",
                "#3 T part",
                "#3 ERROR: process \"/bin/sh -c echo hi\" did not complete successfully: exit code: 1",
            ]
        );
    }

    #[test]
    fn the_error_block_names_the_step() {
        let e = BuildError {
            message: "boom".into(),
            vertex: Some("[2/2] RUN x".into()),
            logs: vec!["0.1 out".into()],
            snippet: Some("Dockerfile:2\n---\n".into()),
        };
        assert_eq!(
            error_block(&e),
            "------\n > [2/2] RUN x:\n0.1 out\n------\nDockerfile:2\n---\nERROR: failed to solve: boom\n"
        );
    }
}
