//! The caller's terminal, as `-t` needs it before the container's
//! program starts.

use std::os::fd::AsFd;

/// The size (rows, columns) of the terminal on stdout, else on stdin, as
/// Docker's CLI sends it in `ConsoleSize`; None when neither is one.
pub(crate) fn size() -> Option<[u16; 2]> {
    use crate::runtime::attach_client::window_size;
    window_size(std::io::stdout().as_fd())
        .or_else(|| window_size(std::io::stdin().as_fd()))
        .map(|(rows, cols)| [rows, cols])
}
