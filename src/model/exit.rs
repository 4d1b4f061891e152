//! Exit statuses berth ends with, as Docker's, and the report of a
//! container that could not start.

use serde::{Deserialize, Serialize};
use std::fmt;

/// berth's own failure (a bad flag, a missing image, a setup step that failed).
pub(crate) const EXIT_BERTH_ERROR: i32 = 125;
/// The container's program exists but cannot be run.
pub(crate) const EXIT_CANNOT_INVOKE: i32 = 126;
/// The container's program was not found.
pub(crate) const EXIT_NOT_FOUND: i32 = 127;

/// Why a container (or an exec'd process) never ran: the status berth
/// ends with (125, 126, 127) and the message. Sent from the container's
/// init to the monitor and from the monitor to the CLI; as an error, the
/// CLI recognises it by downcasting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StartFailure {
    pub(crate) code: i32,
    pub(crate) message: String,
}

impl StartFailure {
    /// A failure of berth's own setup (125), with the error's whole chain.
    pub(crate) fn setup(e: anyhow::Error) -> StartFailure {
        StartFailure {
            code: EXIT_BERTH_ERROR,
            message: format!("{e:#}"),
        }
    }
}

impl fmt::Display for StartFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StartFailure {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_failures_carry_the_whole_chain() {
        let e = anyhow::anyhow!("inner").context("outer");
        let f = StartFailure::setup(e);
        assert_eq!((f.code, f.message.as_str()), (125, "outer: inner"));
    }
}
