//! The CLI's reporter: where warnings, notices and transfer progress of
//! library code go (`util::report`). Warnings and notices go to stderr.
//! Transfers (`pull`, `push`) show, on a terminal, one progress bar per
//! layer with sizes and speed (indicatif); otherwise one plain line per
//! layer event on stdout, as Docker prints when not on a terminal, so that
//! logs stay readable.

use crate::util::report::{LayerProgress, Progress, Reporter};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Arc;

pub(crate) struct Terminal;

impl Reporter for Terminal {
    fn warning(&self, text: &str) {
        eprintln!("WARNING: {text}");
    }

    fn notice(&self, text: &str) {
        eprintln!("{text}");
    }

    fn progress(&self, quiet: bool) -> Arc<dyn Progress> {
        Arc::new(Transfer::new(quiet))
    }
}

/// A `BERTH_TRACE` line (util::trace), to stderr.
pub(crate) fn trace_line(line: &str) {
    eprintln!("{line}");
}

/// Output for one command's transfer.
struct Transfer {
    quiet: bool,
    bars: Option<MultiProgress>,
}

impl Transfer {
    /// Bars when stdout is a terminal (where Docker prints progress).
    fn new(quiet: bool) -> Transfer {
        let bars = (!quiet && std::io::stdout().is_terminal())
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stdout()));
        Transfer { quiet, bars }
    }
}

impl Progress for Transfer {
    fn line(&self, text: &str) {
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

    fn layer(&self, short: &str) -> Arc<dyn LayerProgress> {
        let bar = self.bars.as_ref().map(|m| {
            let bar = m.add(ProgressBar::no_length());
            bar.set_style(waiting_style());
            bar.set_prefix(short.to_string());
            bar
        });
        Arc::new(Layer {
            short: short.to_string(),
            quiet: self.quiet,
            bar,
        })
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

/// One layer's line or bar.
struct Layer {
    short: String,
    quiet: bool,
    bar: Option<ProgressBar>,
}

impl LayerProgress for Layer {
    fn status(&self, status: &str) {
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

    fn transfer(&self, status: &str, total: Option<u64>) {
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

    fn advance(&self, bytes: u64) {
        if let Some(b) = &self.bar {
            b.inc(bytes);
        }
    }

    /// The bar stays as a line.
    fn done(&self, status: &str) {
        match &self.bar {
            Some(b) => {
                b.set_style(waiting_style());
                b.finish_with_message(status.to_string());
            }
            None if !self.quiet => println!("{}: {status}", self.short),
            None => {}
        }
    }
}
