//! Warnings from library code, handed to whoever shows them.
//!
//! Library modules do not print: they call [`warn`], and the command line
//! installs the sink that writes to the terminal ([`set_sink`]). Processes
//! that have no terminal of their own (the monitor, helpers re-executed in
//! namespaces) install none, so their warnings go nowhere rather than into
//! a container's log or a closed descriptor.

use std::sync::OnceLock;

static SINK: OnceLock<fn(&str)> = OnceLock::new();

/// Installs the function that shows warnings; the first call wins.
pub fn set_sink(sink: fn(&str)) {
    let _ = SINK.set(sink);
}

/// Reports a warning (one line, without a `WARNING:` prefix).
pub fn warn(message: &str) {
    if let Some(sink) = SINK.get() {
        sink(message);
    }
}
