//! What `pull` and `push` show while they work: on a terminal, one
//! progress bar per layer with sizes and speed (indicatif); otherwise one
//! plain line per layer event, as Docker prints when not on a terminal, so
//! that logs stay readable.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal, Read};

/// Output for one command.
#[derive(Clone)]
pub struct Progress {
    quiet: bool,
    bars: Option<MultiProgress>,
}

impl Progress {
    /// Bars when stdout is a terminal (where Docker prints progress).
    pub fn new(quiet: bool) -> Progress {
        let bars = (!quiet && std::io::stdout().is_terminal())
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stdout()));
        Progress { quiet, bars }
    }

    /// Plain lines only (tests, and output that is not a terminal).
    pub fn plain(quiet: bool) -> Progress {
        Progress { quiet, bars: None }
    }

    /// A line of its own (above the bars on a terminal).
    pub fn line(&self, text: &str) {
        if self.quiet {
            return;
        }
        match &self.bars {
            Some(m) => {
                let _ = m.println(text);
            }
            None => println!("{text}"),
        }
    }

    /// A layer's progress, shown as `<short id>: <status>`.
    pub fn layer(&self, short: &str) -> LayerProgress {
        let bar = self.bars.as_ref().map(|m| {
            let bar = m.add(ProgressBar::no_length());
            bar.set_style(waiting_style());
            bar.set_prefix(short.to_string());
            bar
        });
        LayerProgress {
            short: short.to_string(),
            quiet: self.quiet,
            bar,
        }
    }
}

fn waiting_style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix}: {msg}").expect("a valid template")
}

fn transfer_style() -> ProgressStyle {
    ProgressStyle::with_template(
        "{prefix}: {msg:<12} [{bar:30}] {binary_bytes:>10}/{binary_total_bytes:<10} {binary_bytes_per_sec}",
    )
    .expect("a valid template")
    .progress_chars("=> ")
}

/// One layer's line or bar; cheap to clone into a download thread.
#[derive(Clone)]
pub struct LayerProgress {
    short: String,
    quiet: bool,
    bar: Option<ProgressBar>,
}

impl LayerProgress {
    /// A status without a transfer (`Waiting`, `Already exists`, ...).
    pub fn status(&self, status: &str) {
        match &self.bar {
            Some(b) => {
                b.set_style(waiting_style());
                b.set_message(status.to_string());
                b.tick();
            }
            None if !self.quiet => println!("{}: {status}", self.short),
            None => {}
        }
    }

    /// Starts a transfer of `total` bytes (when known).
    pub fn transfer(&self, status: &str, total: Option<u64>) {
        match &self.bar {
            Some(b) => {
                b.set_style(transfer_style());
                b.set_position(0);
                b.reset_eta();
                match total {
                    Some(t) => b.set_length(t),
                    None => b.unset_length(),
                }
                b.set_message(status.to_string());
            }
            None if !self.quiet => println!("{}: {status}", self.short),
            None => {}
        }
    }

    pub fn advance(&self, bytes: u64) {
        if let Some(b) = &self.bar {
            b.inc(bytes);
        }
    }

    /// The final status; the bar stays as a line.
    pub fn done(&self, status: &str) {
        match &self.bar {
            Some(b) => {
                b.set_style(waiting_style());
                b.finish_with_message(status.to_string());
            }
            None if !self.quiet => println!("{}: {status}", self.short),
            None => {}
        }
    }

    /// Wraps a reader so that what is read advances the bar.
    pub fn reader<R: Read>(&self, inner: R) -> CountingReader<R> {
        CountingReader {
            inner,
            progress: self.clone(),
        }
    }
}

pub struct CountingReader<R> {
    inner: R,
    progress: LayerProgress,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.advance(n as u64);
        Ok(n)
    }
}
