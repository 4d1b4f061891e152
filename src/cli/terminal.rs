//! The caller's terminal, as `-t` needs it before the container's
//! program starts.

/// With `tty`, the size (rows, columns) of the caller's terminal (on
/// stdout, else on stdin), as Docker's CLI sends it in `ConsoleSize`;
/// None without `tty` or a terminal.
pub(crate) fn console_size(tty: bool) -> Option<[u16; 2]> {
    if !tty {
        return None;
    }
    crate::runtime::attach_client::caller_window_size().map(|(rows, cols)| [rows, cols])
}
