//! `exec`, `pause` and `unpause`.

use super::args::{ExecArgs, PauseArgs};
use super::ExitStatus;
use crate::model::Status;
use crate::runtime::exec::{ExecOptions, ExecOutcome};
use crate::runtime::lifecycle;
use crate::store::Store;
use anyhow::{bail, Result};

pub(crate) fn exec(args: ExecArgs) -> Result<()> {
    let store = Store::open_default()?;
    let record = super::named_container(&store, &args.container)?;
    let state = store.observed_state(&record.id)?;
    match state.status {
        s if s.can_exec() => {}
        Status::Paused => {
            return Err(super::daemon_error(format!(
                "Container {} is paused, unpause the container before exec",
                record.id
            )))
        }
        _ => {
            return Err(super::daemon_error(format!(
                "Container {} is not running",
                record.id
            )))
        }
    }
    // Before anything enters the container: our executable must not be
    // writable from it (CVE-2019-5736); this may start the command over
    // from the monitor's read-only view of it.
    crate::runtime::selfexe::reexec_protected(state.monitor(), state.process())?;
    super::check_tty(args.interactive, args.tty)?;
    let env = crate::runtime::env::merge(
        &[],
        &args.env_file,
        &args.env,
        &crate::runtime::env::host_lookup,
    )?;
    let opts = ExecOptions {
        argv: args.command,
        interactive: args.interactive,
        tty: args.tty,
        detach: args.detach,
        env,
        workdir: args.workdir,
        user: args.user,
        privileged: args.privileged,
        detach_keys: crate::runtime::attach_client::parse_detach_keys(&args.detach_keys)?,
        console_size: super::terminal::console_size(args.tty),
    };
    if let Some(w) = &opts.workdir {
        if !w.starts_with('/') {
            bail!("the working directory '{w}' is invalid, it needs to be an absolute path");
        }
    }
    match lifecycle::exec(&store, &record, state.process(), &opts)? {
        ExecOutcome::Exited(0) | ExecOutcome::Detached => Ok(()),
        ExecOutcome::Exited(code) => Err(ExitStatus(code).into()),
        ExecOutcome::Failed(f) => Err(exec_failed(&f)),
    }
}

/// An exec that never ran, as Docker's CLI reports it (status 126): the
/// daemon's own user lookup bare, else containerd's error as it is, its
/// gRPC status (Unknown) ending the line. berth's own failures stay 125.
pub(crate) fn exec_failed(f: &crate::model::StartFailure) -> anyhow::Error {
    if f.code == crate::model::exit::EXIT_BERTH_ERROR {
        return anyhow::anyhow!("{}", f.message);
    }
    if crate::runtime::user::is_lookup_failure(&f.message) {
        eprintln!("{}", f.message);
    } else {
        eprintln!(
            "OCI runtime exec failed: exec failed: unable to start container process: {}: \
             unknown",
            f.message
        );
    }
    ExitStatus(126).into()
}

/// `pause` (freeze = true) and `unpause`.
pub(crate) fn pause(args: PauseArgs, freeze: bool) -> Result<()> {
    let store = Store::open_default()?;
    super::for_each_name(&args.containers, |name| {
        let record = store.resolve_container(name)?;
        if freeze {
            lifecycle::pause(&store, &record)
        } else {
            lifecycle::unpause(&store, &record)
        }
    })
}
