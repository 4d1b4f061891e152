//! What the orchestration tells whoever shows it, as Docker Compose's
//! progress events: a resource (`Container proj-web-1`, `Network
//! proj_default`, `Volume proj_data`, a service being pulled) and what is
//! happening to it (`Creating`, `Started`, `Healthy`, ...). Compose's own
//! names and texts, so that the CLI can print them as Compose does (a live
//! `[+] Running 3/3` block on a terminal, ` Container proj-web-1  Started`
//! lines otherwise). Library code never prints; the CLI implements
//! [`Progress`].

/// Whether the resource's task goes on or how it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Working,
    Done,
    Warning,
    Error,
}

/// One event about one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Event {
    /// `Container proj-web-1`, `Network proj_default`, `web` (pulls).
    pub(crate) id: String,
    /// The resource this one belongs to (a layer of a pull), if any.
    pub(crate) parent: Option<String>,
    /// Compose's `Text` (pulls use it: `Pulling`, `Pulled`).
    pub(crate) text: String,
    pub(crate) status: Status,
    /// Compose's `StatusText` (`Created`, `Started`, an error message).
    pub(crate) status_text: String,
}

impl Event {
    pub(crate) fn new(
        id: impl Into<String>,
        status: Status,
        status_text: impl Into<String>,
    ) -> Event {
        Event {
            id: id.into(),
            parent: None,
            text: String::new(),
            status,
            status_text: status_text.into(),
        }
    }

    /// An event whose words are in `text` (pulls, builds, skips).
    pub(crate) fn text(id: impl Into<String>, status: Status, text: impl Into<String>) -> Event {
        Event {
            id: id.into(),
            parent: None,
            text: text.into(),
            status,
            status_text: String::new(),
        }
    }
}

/// The receiver of a command's events (the CLI's display). Commands that
/// stop and remove containers side by side take one that is `Sync` too.
pub(crate) trait Progress {
    fn event(&self, e: Event);
    /// A message printed after the events (`WARNING: Some service image(s)
    /// must be built...`).
    fn tail(&self, msg: &str);
    /// A warning for the user (Compose's `WARN[0000] ...`), given once
    /// per command for the same text.
    fn warning(&self, msg: &str);
    /// Called while waiting, so that a live display can move its clocks
    /// without a thread.
    fn tick(&self) {}
}

/// Shows nothing (`--quiet` commands, tests).
pub(crate) struct Silent;

impl Progress for Silent {
    fn event(&self, _: Event) {}
    fn tail(&self, _: &str) {}
    fn warning(&self, _: &str) {}
}

/// `Container NAME`, the id of a container's events.
pub(crate) fn container_id(name: &str) -> String {
    format!("Container {name}")
}

macro_rules! events {
    ($($fn:ident => ($status:ident, $text:expr)),* $(,)?) => {
        $(
            pub(crate) fn $fn(id: &str) -> Event {
                Event::new(id, Status::$status, $text)
            }
        )*
    };
}

// Compose's event constructors (pkg/progress/event.go), same words.
events! {
    creating => (Working, "Creating"),
    created => (Done, "Created"),
    starting => (Working, "Starting"),
    started => (Done, "Started"),
    waiting => (Working, "Waiting"),
    healthy => (Done, "Healthy"),
    exited => (Done, "Exited"),
    running => (Done, "Running"),
    stopping => (Working, "Stopping"),
    stopped => (Done, "Stopped"),
    killing => (Working, "Killing"),
    killed => (Done, "Killed"),
    removing => (Working, "Removing"),
    removed => (Done, "Removed"),
    restarting => (Working, "Restarting"),
    recreate => (Working, "Recreate"),
    recreated => (Done, "Recreated"),
    building => (Working, "Building"),
    built => (Done, "Built"),
    error => (Error, "Error"),
}

/// An error event with its message.
pub(crate) fn error_message(id: &str, msg: &str) -> Event {
    Event::new(id, Status::Error, msg)
}

/// A skipped dependency, with the reason.
pub(crate) fn skipped(id: &str, reason: &str) -> Event {
    Event::new(id, Status::Warning, format!("Skipped: {reason}"))
}
