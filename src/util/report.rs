//! The one way library code tells the user something besides a command's
//! result: warnings, notices and the progress of long work. Library code
//! never prints; it calls these functions, and the CLI installs the
//! [`Reporter`] that decides where and how each goes (stderr, stdout,
//! progress bars on a terminal). Until one is installed (unit tests, the
//! monitor, which has no terminal) everything is dropped.

use std::sync::{Arc, OnceLock};

/// What the CLI (or another front end) provides.
pub(crate) trait Reporter: Send + Sync {
    /// Something works differently from what was asked, or may.
    fn warning(&self, text: &str);
    /// A line about what is happening (`Unable to find image 'x' locally`).
    fn notice(&self, text: &str);
    /// The display of a transfer (pull, push), nothing when `quiet`.
    fn progress(&self, quiet: bool) -> Arc<dyn Progress>;
}

/// One command's transfer display.
pub(crate) trait Progress: Send + Sync {
    /// A line of its own (`Digest: sha256:...`).
    fn line(&self, text: &str);
    /// One layer's line or bar, shown as `<short id>: <status>`.
    fn layer(&self, short: &str) -> Arc<dyn LayerProgress>;
}

/// One layer's line or bar; shared with the thread that downloads it.
pub(crate) trait LayerProgress: Send + Sync {
    /// A status without a transfer (`Waiting`, `Already exists`).
    fn status(&self, status: &str);
    /// A transfer of `total` bytes (when known) starts.
    fn transfer(&self, status: &str, total: Option<u64>);
    /// `bytes` more were moved.
    fn advance(&self, bytes: u64);
    /// The final status.
    fn done(&self, status: &str);
}

static REPORTER: OnceLock<Box<dyn Reporter>> = OnceLock::new();

/// Installs the process's reporter; the first one stays.
pub(crate) fn install(reporter: Box<dyn Reporter>) {
    let _ = REPORTER.set(reporter);
}

pub(crate) fn warning(text: &str) {
    if let Some(r) = REPORTER.get() {
        r.warning(text);
    }
}

pub(crate) fn notice(text: &str) {
    if let Some(r) = REPORTER.get() {
        r.notice(text);
    }
}

pub(crate) fn progress(quiet: bool) -> Arc<dyn Progress> {
    match REPORTER.get() {
        Some(r) if !quiet => r.progress(false),
        _ => Arc::new(Silent),
    }
}

/// Shows nothing: quiet transfers, and transfers whose progress would mix
/// with a container's output (`run` pulling its image).
pub(crate) struct Silent;

impl Progress for Silent {
    fn line(&self, _: &str) {}
    fn layer(&self, _: &str) -> Arc<dyn LayerProgress> {
        Arc::new(Silent)
    }
}

impl LayerProgress for Silent {
    fn status(&self, _: &str) {}
    fn transfer(&self, _: &str, _: Option<u64>) {}
    fn advance(&self, _: u64) {}
    fn done(&self, _: &str) {}
}

/// A reader whose bytes advance a layer's progress.
pub(crate) struct CountingReader<R> {
    inner: R,
    progress: Arc<dyn LayerProgress>,
}

impl<R> CountingReader<R> {
    pub(crate) fn new(inner: R, progress: Arc<dyn LayerProgress>) -> Self {
        CountingReader { inner, progress }
    }
}

impl<R: std::io::Read> std::io::Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.advance(n as u64);
        Ok(n)
    }
}
