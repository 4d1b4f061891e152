//! Entry points for re-executions of our own binary (helpers that must
//! start in a fresh process), recognised before the CLI parses argv.

/// Runs the helper named in argv, if this process is one, and returns its
/// exit status; `None` for a normal user command.
pub(crate) fn dispatch() -> Option<i32> {
    let mut args = std::env::args();
    let _ = args.next();
    match args.next().as_deref() {
        Some(super::monitor::REEXEC_ARG) => {
            let rest: Vec<String> = args.collect();
            Some(super::monitor::main(&rest))
        }
        Some(super::oneshot::REEXEC_ARG) => {
            let rest: Vec<String> = args.collect();
            Some(super::oneshot::helper_main(&rest))
        }
        Some(crate::userns::keeper::REEXEC_ARG) => {
            let rest: Vec<String> = args.collect();
            Some(crate::userns::keeper::main(&rest))
        }
        Some(crate::slirp::netd::REEXEC_ARG) => {
            let rest: Vec<String> = args.collect();
            Some(crate::slirp::netd::main(&rest))
        }
        _ => None,
    }
}
