//! `logs`, `stop`, `kill`, `wait`, `rename` and `top`: commands that act
//! on a container through its record, its state and its processes.

use super::args::{KillArgs, LogsArgs, RenameArgs, StopArgs, TopArgs, WaitArgs};
use crate::runtime::logfile::{self, LogQuery};
use crate::store::Store;
use anyhow::{bail, Context, Result};
use nix::sys::signal::{kill as send_signal, Signal};
use nix::unistd::Pid;
use std::time::{Duration, Instant};

pub fn logs(args: LogsArgs) -> Result<()> {
    let store = Store::open_default()?;
    let record = store.resolve_container(&args.container)?;
    let query = LogQuery {
        tail: match args.tail.as_str() {
            "all" | "-1" => None,
            n => Some(n.parse().with_context(|| {
                format!("invalid --tail value {n:?}: a number of lines or \"all\"")
            })?),
        },
        since: args
            .since
            .as_deref()
            .map(logfile::parse_time_arg)
            .transpose()?,
        until: args
            .until
            .as_deref()
            .map(logfile::parse_time_arg)
            .transpose()?,
        timestamps: args.timestamps,
    };
    let path = store.container_log(&record.id);
    let mut offset = match query.tail {
        Some(n) => logfile::tail_offset(&path, n)?,
        None => 0,
    };
    let (stdout, stderr) = (std::io::stdout(), std::io::stderr());
    let (mut out, mut err) = (stdout.lock(), stderr.lock());
    offset = logfile::print_from(&path, offset, &query, &mut out, &mut err)?;
    if !args.follow {
        return Ok(());
    }
    // Follow until the container is no longer running, then print what it
    // wrote last.
    loop {
        let running = store
            .observed_state(&record.id)
            .map(|s| s.status == "running")
            .unwrap_or(false);
        offset = logfile::print_from(&path, offset, &query, &mut out, &mut err)?;
        if !running {
            logfile::print_from(&path, offset, &query, &mut out, &mut err)?;
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `KILL`, `SIGKILL`, `kill`, `9`.
pub fn parse_signal(s: &str) -> Result<Signal> {
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| anyhow::anyhow!("invalid signal: {s}"));
    }
    let upper = s.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    name.parse::<Signal>()
        .map_err(|_| anyhow::anyhow!("invalid signal: {s}"))
}

/// Runs `op` for each container named, as Docker prints it.
fn for_each(specs: &[String], mut op: impl FnMut(&Store, &str) -> Result<()>) -> Result<()> {
    let store = Store::open_default()?;
    super::for_each_name(specs, |spec| op(&store, spec))
}

pub fn kill(args: KillArgs) -> Result<()> {
    let signal = parse_signal(&args.signal)?;
    for_each(&args.containers, |store, spec| {
        let record = store.resolve_container(spec)?;
        let state = store.observed_state(&record.id)?;
        if state.status != "running" {
            bail!(
                "cannot kill container: {spec}: container {} is not running",
                record.id
            );
        }
        if signal == Signal::SIGKILL {
            // A killed container stays down: the restart policy does not apply.
            store.mark_stopped_by_user(&record.id)?;
        }
        send_signal(Pid::from_raw(state.pid), signal)
            .with_context(|| format!("sending {signal} to the container"))
    })
}

pub fn stop(args: StopArgs) -> Result<()> {
    let explicit = args.signal.as_deref().map(parse_signal).transpose()?;
    for_each(&args.containers, |store, spec| {
        let record = store.resolve_container(spec)?;
        stop_one(store, &record, explicit, args.time)
    })
}

/// Docker's stop: the stop signal, then SIGKILL after `time` seconds
/// (never when negative). The container is marked stopped by the user
/// first, so that no restart policy brings it back.
pub fn stop_one(
    store: &Store,
    record: &crate::store::containers::ContainerRecord,
    signal: Option<Signal>,
    time: i64,
) -> Result<()> {
    store.mark_stopped_by_user(&record.id)?;
    let state = store.observed_state(&record.id)?;
    if state.status != "running" {
        return Ok(());
    }
    let signal = match signal {
        Some(s) => s,
        None => record
            .config
            .stop_signal
            .as_deref()
            .map(parse_signal)
            .transpose()?
            .unwrap_or(Signal::SIGTERM),
    };
    let pid = Pid::from_raw(state.pid);
    let _ = send_signal(pid, signal);
    let deadline = (time >= 0).then(|| Instant::now() + Duration::from_secs(time as u64));
    while store.observed_state(&record.id)?.status == "running" {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = send_signal(pid, Signal::SIGKILL);
            wait_until_stopped(store, &record.id, Duration::from_secs(10))?;
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

fn wait_until_stopped(store: &Store, id: &str, limit: Duration) -> Result<()> {
    let deadline = Instant::now() + limit;
    while store.observed_state(id)?.status == "running" {
        if Instant::now() >= deadline {
            bail!(
                "container {id} did not stop within {} seconds of SIGKILL",
                limit.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

pub fn wait(args: WaitArgs) -> Result<()> {
    let store = Store::open_default()?;
    let mut failed = false;
    for spec in &args.containers {
        let record = match store.resolve_container(spec) {
            Ok(r) => r,
            Err(e) => {
                failed = true;
                eprintln!("Error response from daemon: {e}");
                continue;
            }
        };
        loop {
            let state = store.observed_state(&record.id)?;
            if state.status != "running" {
                println!("{}", state.exit_code);
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    if failed {
        return Err(super::ExitStatus(1).into());
    }
    Ok(())
}

pub fn rename(args: RenameArgs) -> Result<()> {
    let store = Store::open_default()?;
    let new_name = crate::runtime::spec::validate_name(&args.new_name)?;
    let lock = store.lock()?;
    let record = store.resolve_container(&args.container)?;
    if record.name == new_name {
        bail!("Error when allocating new name: Renaming a container with the same name as its current name");
    }
    store.rename_container(&record, &new_name, &lock)
}

pub fn top(args: TopArgs) -> Result<()> {
    let store = Store::open_default()?;
    let record = store.resolve_container(&args.container)?;
    let state = store.observed_state(&record.id)?;
    if state.status != "running" {
        bail!("container {} is not running", record.id);
    }
    let pids = pids_in_namespace_of(state.pid)?;
    let options = if args.ps_options.is_empty() {
        vec!["-ef".to_string()]
    } else {
        args.ps_options
    };
    let output = std::process::Command::new("ps")
        .args(&options)
        .output()
        .context("running ps on the host (install procps)")?;
    if !output.status.success() {
        bail!(
            "ps {}: {}",
            options.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let pid_col = header
        .split_whitespace()
        .position(|c| c == "PID")
        .context("ps output has no PID column: use options that print it")?;
    println!("{header}");
    for line in lines {
        let pid = line
            .split_whitespace()
            .nth(pid_col)
            .and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            println!("{line}");
        }
    }
    Ok(())
}

/// Host pids of every process in the pid namespace of `init`.
fn pids_in_namespace_of(init: i32) -> Result<Vec<i32>> {
    let target = std::fs::read_link(format!("/proc/{init}/ns/pid"))
        .context("reading the container's pid namespace")?;
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc")?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if std::fs::read_link(format!("/proc/{pid}/ns/pid")).is_ok_and(|ns| ns == target) {
            pids.push(pid);
        }
    }
    Ok(pids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_in_every_spelling() {
        for s in ["KILL", "SIGKILL", "kill", "9"] {
            assert_eq!(parse_signal(s).unwrap(), Signal::SIGKILL, "{s}");
        }
        assert_eq!(parse_signal("hup").unwrap(), Signal::SIGHUP);
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("999").is_err());
    }
}
