//! How compose commands show what they do, as Docker Compose v2 shows it:
//! on a terminal a live block (`[+] Running 3/3` and one line per resource
//! with a spinner or `✔`, its status and its time), otherwise one plain
//! line per event (` Container proj-web-1  Started`); `--progress quiet`
//! and `json` as Compose's. Warnings are logrus's `WARN[0000] ...` lines.
//! And the output of containers, prefixed and colored per container
//! (`web-1  | ...`), as Compose's log formatter.

use crate::compose::logs::LogConsumer;
use crate::compose::progress::{Event, Progress, Status};
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::io::{IsTerminal, Write};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

/// `--progress`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Tty,
    Plain,
    Quiet,
    Json,
}

/// When the process started, for logrus's `WARN[0000]` seconds.
static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

pub fn mark_start() {
    START.get_or_init(Instant::now);
}

/// A warning as Compose's logrus prints it.
pub fn warn(msg: &str) {
    let secs = START.get().map(|s| s.elapsed().as_secs()).unwrap_or(0);
    let mut err = std::io::stderr().lock();
    if std::io::stderr().is_terminal() && colors_enabled() {
        let _ = writeln!(err, "\x1b[33mWARN\x1b[0m[{secs:04}] {msg}");
    } else {
        let _ = writeln!(err, "WARN[{secs:04}] {msg}");
    }
}

/// `NO_COLOR` and `--ansi never` turn colors off.
static NO_COLOR: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub fn disable_colors() {
    NO_COLOR.store(true, std::sync::atomic::Ordering::Relaxed);
}

fn colors_enabled() -> bool {
    !NO_COLOR.load(std::sync::atomic::Ordering::Relaxed)
}

/// Picks the mode from `--progress` and `--ansi` as Compose does (the
/// terminal test is on stderr, where progress goes).
pub fn choose(progress: Option<&str>, ansi: &str) -> anyhow::Result<Mode> {
    let tty = std::io::stderr().is_terminal();
    let auto = match ansi {
        "never" => Mode::Plain,
        "always" => Mode::Tty,
        _ if tty => Mode::Tty,
        _ => Mode::Plain,
    };
    Ok(match progress.unwrap_or("auto") {
        "" | "auto" => auto,
        "tty" if ansi == "never" => {
            anyhow::bail!("can't use --progress tty while ANSI support is disabled")
        }
        "tty" => Mode::Tty,
        "plain" if ansi == "always" => {
            anyhow::bail!("can't use --progress plain while ANSI support is forced")
        }
        "plain" => Mode::Plain,
        "quiet" | "none" => Mode::Quiet,
        "json" => Mode::Json,
        other => anyhow::bail!("unsupported --progress value {other:?}"),
    })
}

/// One resource's line in the live block.
struct Line {
    event: Event,
    start: Instant,
    end: Option<Instant>,
}

struct Live {
    title: String,
    ids: Vec<String>,
    lines: std::collections::HashMap<String, Line>,
    /// Lines drawn last time (to move back over them).
    drawn: usize,
    last_draw: Option<Instant>,
    frame: usize,
    /// Messages for after the block.
    tail: Vec<String>,
    /// Warnings given while the block is shown, printed after it.
    warnings: Vec<String>,
}

/// The display of one compose command's events. Threads that stop or
/// remove containers side by side send their events to the same display:
/// the block is behind a mutex, and each event is printed whole.
pub struct Display {
    mode: Mode,
    live: Mutex<Live>,
    warned: Mutex<BTreeSet<String>>,
}

impl Display {
    pub fn new(mode: Mode, title: &str) -> Display {
        Display {
            mode,
            live: Mutex::new(Live {
                title: title.to_string(),
                ids: Vec::new(),
                lines: Default::default(),
                drawn: 0,
                last_draw: None,
                frame: 0,
                tail: Vec::new(),
                warnings: Vec::new(),
            }),
            warned: Mutex::new(BTreeSet::new()),
        }
    }

    /// The block (a thread that panicked while holding it left it whole
    /// enough to draw).
    fn live(&self) -> MutexGuard<'_, Live> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Ends the display: the block drawn a last time, then what waited.
    pub fn done(&self) {
        let mut live = self.live();
        if self.mode == Mode::Tty && !live.ids.is_empty() {
            draw(&mut live);
        }
        let mut err = std::io::stderr().lock();
        for w in std::mem::take(&mut live.warnings) {
            drop(err);
            warn(&w);
            err = std::io::stderr().lock();
        }
        for t in std::mem::take(&mut live.tail) {
            let _ = writeln!(err, "{t}");
        }
        // The next display starts a block of its own.
        live.ids.clear();
        live.lines.clear();
        live.drawn = 0;
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        self.done();
    }
}

impl Progress for Display {
    fn event(&self, e: Event) {
        match self.mode {
            Mode::Quiet => {}
            Mode::Plain => {
                // Go's Fprintln of ("", ID, Text, StatusText), in one write
                // so that lines of threads do not mix.
                let line = format!(" {} {} {}\n", e.id, e.text, e.status_text);
                let _ = std::io::stderr().lock().write_all(line.as_bytes());
            }
            Mode::Json => {
                let mut m = serde_json::Map::new();
                let mut put = |k: &str, v: &str| {
                    if !v.is_empty() {
                        m.insert(k.into(), v.into());
                    }
                };
                put("id", &e.id);
                put("parent_id", e.parent.as_deref().unwrap_or_default());
                put("text", &e.text);
                put("status", &e.status_text);
                eprintln!("{}", serde_json::Value::Object(m));
            }
            Mode::Tty => {
                let mut live = self.live();
                let now = Instant::now();
                match live.lines.get_mut(&e.id) {
                    Some(line) => {
                        if e.status == Status::Working {
                            line.end = None;
                        } else if line.end.is_none() || line.event.status != e.status {
                            line.end = Some(now);
                        }
                        line.event = e;
                    }
                    None => {
                        live.ids.push(e.id.clone());
                        let end = (e.status != Status::Working).then_some(now);
                        live.lines.insert(
                            e.id.clone(),
                            Line {
                                event: e,
                                start: now,
                                end,
                            },
                        );
                    }
                }
                draw(&mut live);
            }
        }
    }

    fn tail(&self, msg: &str) {
        match self.mode {
            Mode::Quiet => {}
            Mode::Json => eprintln!("{}", serde_json::json!({"tail": true, "text": msg})),
            Mode::Plain => eprintln!("{msg}"),
            Mode::Tty => self.live().tail.push(msg.to_string()),
        }
    }

    fn warning(&self, msg: &str) {
        let fresh = self
            .warned
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(msg.to_string());
        if !fresh {
            return;
        }
        let mut live = self.live();
        if self.mode == Mode::Tty && live.drawn > 0 {
            live.warnings.push(msg.to_string());
        } else {
            warn(msg);
        }
    }

    fn tick(&self) {
        if self.mode != Mode::Tty {
            return;
        }
        let mut live = self.live();
        if live.ids.is_empty() {
            return;
        }
        if live
            .last_draw
            .is_some_and(|t| t.elapsed().as_millis() < 100)
        {
            return;
        }
        draw(&mut live);
    }
}

const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

fn color(code: &str, s: &str) -> String {
    if colors_enabled() {
        format!("\x1b[{code}m{s}\x1b[0m")
    } else {
        s.to_string()
    }
}

/// Redraws the block over the previous one (Compose's ttyWriter.print).
fn draw(live: &mut Live) {
    let width = terminal_width();
    live.frame = (live.frame + 1) % SPINNER.len();
    let mut out = String::new();
    if live.drawn > 0 {
        out.push_str(&format!("\x1b[{}A", live.drawn + 1));
    }
    out.push('\r');
    out.push_str("\x1b[?25l");
    let done = live
        .ids
        .iter()
        .filter(|id| live.lines[*id].event.status != Status::Working)
        .count();
    let mut first = format!("[+] {} {done}/{}", live.title, live.ids.len());
    if done == live.ids.len() {
        first = color("34", &first);
    }
    out.push_str(&pad_to(&first, width));
    out.push('\n');
    let padding = live
        .ids
        .iter()
        .map(|id| {
            let e = &live.lines[id].event;
            e.id.chars().count() + 1 + e.text.chars().count()
        })
        .max()
        .unwrap_or(0);
    let now = Instant::now();
    for id in &live.ids {
        let line = &live.lines[id];
        let e = &line.event;
        let spinner = match e.status {
            Status::Done => color("32", "✔"),
            Status::Warning => color("33;1", "!"),
            Status::Error => color("31;1", "✘"),
            Status::Working => color("33", SPINNER[live.frame]),
        };
        let txt = format!("{} {}", e.id, e.text);
        let pad = " ".repeat(padding.saturating_sub(txt.chars().count()));
        let status = match e.status {
            Status::Done => color("32", &e.status_text),
            Status::Warning => color("33;1", &e.status_text),
            Status::Error => color("31;1", &e.status_text),
            Status::Working => e.status_text.clone(),
        };
        let elapsed = line
            .end
            .unwrap_or(now)
            .duration_since(line.start)
            .as_secs_f64();
        let left = format!(" {spinner} {txt}{pad} {status}");
        let right = color("34", &format!("{elapsed:.1}s "));
        let used = visible_len(&left) + visible_len(&right);
        let gap = " ".repeat(width.saturating_sub(used));
        out.push_str(&format!("{left}{gap}{right}\n"));
    }
    out.push_str("\x1b[?25h");
    live.drawn = live.ids.len();
    live.last_draw = Some(now);
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(out.as_bytes());
    let _ = err.flush();
}

fn pad_to(s: &str, width: usize) -> String {
    let n = visible_len(s);
    format!("{s}{}", " ".repeat(width.saturating_sub(n)))
}

/// Characters a terminal shows (ANSI sequences left out).
fn visible_len(s: &str) -> usize {
    let mut n = 0;
    let mut in_escape = false;
    for c in s.chars() {
        if c == '\x1b' {
            in_escape = true;
        } else if in_escape {
            if c.is_ascii_alphabetic() {
                in_escape = false;
            }
        } else {
            n += 1;
        }
    }
    n
}

fn terminal_width() -> usize {
    use std::os::fd::AsFd;
    crate::runtime::attach_client::window_size(std::io::stderr().as_fd())
        .map(|(_, cols)| cols as usize)
        .unwrap_or(80)
}

/// Compose's log formatter: `NAME  | line`, one color per container.
pub struct Logs {
    color: bool,
    prefix: bool,
    timestamps: bool,
    names: RefCell<Vec<(String, String)>>,
    width: RefCell<usize>,
}

/// Compose's rainbow: cyan, yellow, green, magenta, blue, then bright.
const RAINBOW: [&str; 10] = [
    "36", "33", "32", "35", "34", "36;1", "33;1", "32;1", "35;1", "34;1",
];

impl Logs {
    /// Colors when stdout is a terminal and colors are on.
    pub fn new(no_color: bool, no_prefix: bool, timestamps: bool) -> Logs {
        Logs {
            color: !no_color && colors_enabled() && std::io::stdout().is_terminal(),
            prefix: !no_prefix,
            timestamps,
            names: RefCell::new(Vec::new()),
            width: RefCell::new(0),
        }
    }

    fn code(&self, name: &str) -> Option<String> {
        if !self.color {
            return None;
        }
        if !self.names.borrow().iter().any(|(n, _)| n == name) {
            self.register(name);
        }
        self.names
            .borrow()
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, c)| c.clone())
    }

    fn prefix_of(&self, name: &str) -> String {
        if !self.prefix {
            return String::new();
        }
        if !self.names.borrow().iter().any(|(n, _)| n == name) {
            self.register(name);
        }
        let width = *self.width.borrow();
        let p = format!("{name:<width$} | ");
        match self.code(name) {
            Some(c) => format!("\x1b[{c}m{p}\x1b[0m"),
            None => p,
        }
    }

    fn write(&self, err: bool, name: &str, line: &str) {
        let prefix = self.prefix_of(name);
        let text = if self.timestamps {
            let now = jiff::Zoned::now();
            format!(
                "{prefix}{} {line}\n",
                now.strftime("%Y-%m-%dT%H:%M:%S.%f%:z")
            )
        } else {
            format!("{prefix}{line}\n")
        };
        if err {
            let _ = std::io::stderr().lock().write_all(text.as_bytes());
        } else {
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
        }
    }
}

impl LogConsumer for Logs {
    fn register(&self, name: &str) {
        let mut names = self.names.borrow_mut();
        if names.iter().any(|(n, _)| n == name) {
            return;
        }
        let code = RAINBOW[names.len() % RAINBOW.len()].to_string();
        names.push((name.to_string(), code));
        let longest = names
            .iter()
            .map(|(n, _)| n.chars().count())
            .max()
            .unwrap_or(0);
        *self.width.borrow_mut() = longest + 1;
    }

    fn log(&self, container: &str, line: &str) {
        self.write(false, container, line);
    }

    fn err(&self, container: &str, line: &str) {
        self.write(true, container, line);
    }

    fn status(&self, container: &str, msg: &str) {
        let text = format!("{container} {msg}");
        let out = match self.code(container) {
            Some(c) => format!("\r\x1b[K\x1b[{c}m{text}\x1b[0m\n"),
            None => format!("{text}\n"),
        };
        let _ = std::io::stdout().lock().write_all(out.as_bytes());
    }
}

/// Progress events mixed into container output (`up`'s shutdown while
/// attached): on a terminal they become status lines of the log display,
/// otherwise plain lines on stderr, as Compose's mixed writer.
pub struct Mixed {
    pub tty: bool,
}

impl Progress for Mixed {
    fn event(&self, e: Event) {
        if self.tty {
            let status = if colors_enabled() && !e.status_text.is_empty() {
                format!("\x1b[32m{}\x1b[0m", e.status_text)
            } else {
                e.status_text.clone()
            };
            let _ = std::io::stdout()
                .lock()
                .write_all(format!("\r\x1b[K {} {} {status}\n", e.id, e.text).as_bytes());
        } else {
            eprintln!(" {} {} {}", e.id, e.text, e.status_text);
        }
    }

    fn tail(&self, msg: &str) {
        eprintln!("{msg}");
    }

    fn warning(&self, msg: &str) {
        warn(msg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visible_length_skips_escapes() {
        assert_eq!(visible_len("\x1b[32m✔\x1b[0m ab"), 4);
        assert_eq!(pad_to("ab", 4), "ab  ");
    }
}
