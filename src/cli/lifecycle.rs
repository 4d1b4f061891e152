//! `logs`, `stop`, `kill`, `wait`, `rename` and `top`: commands that act
//! on a container through its record, its state and its processes (the
//! operations themselves are `runtime::lifecycle`'s).

use super::args::{KillArgs, LogsArgs, RenameArgs, StopArgs, TopArgs, WaitArgs};
use crate::runtime::lifecycle;
use crate::runtime::logfile::{self, LogQuery};
use crate::store::Store;
use crate::util::signals::parse_signal;
use anyhow::{bail, Context, Result};
use std::time::Duration;

pub(crate) fn logs(args: LogsArgs) -> Result<()> {
    let store = Store::open_default()?;
    let record = super::named_container(&store, &args.container)?;
    let query = LogQuery {
        tail: tail_lines(&args.tail),
        since: args
            .since
            .as_deref()
            .map(|v| time_arg("since", v))
            .transpose()?,
        until: args
            .until
            .as_deref()
            .map(|v| time_arg("until", v))
            .transpose()?,
        timestamps: args.timestamps,
        details: args.details,
    };
    if !record.host.log.readable() {
        bail!("configured logging driver does not support reading");
    }
    let path = store.container_log(&record.id);
    let (stdout, stderr) = (std::io::stdout(), std::io::stderr());
    let (mut out, mut err) = (stdout.lock(), stderr.lock());
    let mut reader = logfile::LogReader::print_existing(&path, &query, &mut out, &mut err)?;
    if !args.follow {
        return Ok(());
    }
    // Follow until the container is no longer running, then print what it
    // wrote last.
    loop {
        let running = store
            .observed_state(&record.id)
            .map(|s| s.status.is_running())
            .unwrap_or(false);
        reader.follow(&query, &mut out, &mut err)?;
        if !running {
            reader.follow(&query, &mut out, &mut err)?;
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `--tail`: a number of lines; anything else (`all`, a negative number,
/// a word) means every line, as Docker's daemon reads it.
fn tail_lines(value: &str) -> Option<usize> {
    value.parse::<usize>().ok()
}

/// `--since`/`--until`, with the error of Docker's client for a value
/// that is neither a time nor a duration.
fn time_arg(flag: &str, value: &str) -> Result<jiff::Timestamp> {
    logfile::parse_time_arg(value).map_err(|_| {
        super::PlainError(format!(
            "invalid value for {flag:?}: failed to parse value as time or duration: {value:?}"
        ))
        .into()
    })
}

/// Runs `op` for each container named, as Docker prints it.
fn for_each(specs: &[String], mut op: impl FnMut(&Store, &str) -> Result<()>) -> Result<()> {
    let store = Store::open_default()?;
    super::for_each_name(specs, |spec| op(&store, spec))
}

/// The signal of `kill -s` and `stop -s`; Docker's daemon refuses one it
/// does not know for each container named, in these words.
fn daemon_signal(raw: &str) -> Result<nix::sys::signal::Signal, String> {
    parse_signal(raw).map_err(|_| format!("Invalid signal: {raw}"))
}

pub(crate) fn kill(args: KillArgs) -> Result<()> {
    let signal = daemon_signal(&args.signal);
    for_each(&args.containers, |store, spec| {
        let signal = signal.clone().map_err(anyhow::Error::msg)?;
        // Docker's daemon names the container as given before any reason.
        store
            .resolve_container(spec)
            .and_then(|record| lifecycle::kill(store, &record, signal))
            .map_err(|e| anyhow::anyhow!("Cannot kill container: {spec}: {e:#}"))
    })
}

/// `-t SECONDS` of `stop` and `restart`, else the container's
/// `--stop-timeout`, else 10; negative waits forever.
pub(crate) fn timeout(
    seconds: Option<i64>,
    record: &crate::model::ContainerRecord,
) -> Option<Duration> {
    lifecycle::stop_timeout(seconds, record)
}

pub(crate) fn stop(args: StopArgs) -> Result<()> {
    let explicit = args.signal.as_deref().map(daemon_signal).transpose();
    for_each(&args.containers, |store, spec| {
        let explicit = explicit.clone().map_err(anyhow::Error::msg)?;
        let record = store.resolve_container(spec)?;
        lifecycle::stop(store, &record, explicit, timeout(args.time, &record))
    })
}

pub(crate) fn wait(args: WaitArgs) -> Result<()> {
    let store = Store::open_default()?;
    // Docker prints the failures after every exit code.
    let mut errors = Vec::new();
    for spec in &args.containers {
        match store.resolve_container(spec) {
            Ok(record) => println!("{}", lifecycle::wait(&store, &record)?),
            Err(e) => errors.push(e),
        }
    }
    super::daemon_errors(errors)
}

/// Docker's `rename`: the daemon's error (the container first, then the
/// new name), then the CLI's own line, status 1.
pub(crate) fn rename(args: RenameArgs) -> Result<()> {
    let store = Store::open_default()?;
    let renamed = (|| -> Result<()> {
        let lock = store.lock()?;
        let record = store.resolve_container(&args.container)?;
        let new_name = crate::runtime::spec::validate_name(&args.new_name)?;
        if record.name == new_name {
            bail!("Renaming a container with the same name as its current name");
        }
        store.rename_container(&record, &new_name, &lock)
    })();
    renamed.map_err(|e| {
        eprintln!("Error response from daemon: {e:#}");
        super::PlainError(format!(
            "Error: failed to rename container named {}",
            args.container
        ))
        .into()
    })
}

pub(crate) fn top(args: TopArgs) -> Result<()> {
    let store = Store::open_default()?;
    let record = super::named_container(&store, &args.container)?;
    let state = store.observed_state(&record.id)?;
    let (titles, procs) =
        top_table(&state, &args.ps_options).map_err(|e| e.into_error(&record.id))?;
    // Docker's CLI: the API's titles and rows through tabwriter(20, 1, 3).
    let mut text = titles.join("\t");
    text.push('\n');
    for row in procs {
        text.push_str(&row.join("\t"));
        text.push('\n');
    }
    let bytes = super::output::align_as_go(&text, 20, 3)?;
    super::output::write_out(&String::from_utf8_lossy(&bytes), false)
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

/// Why [`top_table`] has no table: Docker's daemon's two refusals, or
/// what went wrong.
#[derive(Debug)]
pub(crate) enum TopRefused {
    NotRunning,
    Restarting,
    Failed(anyhow::Error),
}

impl TopRefused {
    /// The error of container `id`, in Docker's daemon's words.
    pub(crate) fn into_error(self, id: &str) -> anyhow::Error {
        match self {
            TopRefused::NotRunning => super::daemon_error(format!("Container {id} is not running")),
            TopRefused::Restarting => super::daemon_error(format!(
                "Container {id} is restarting, wait until the container is running"
            )),
            TopRefused::Failed(e) => e,
        }
    }
}

impl From<anyhow::Error> for TopRefused {
    fn from(e: anyhow::Error) -> TopRefused {
        TopRefused::Failed(e)
    }
}

/// `top` as Docker's API returns it: the `ps` columns and, per process of
/// the container, its fields (the last column takes the rest of the line).
/// A paused container has them too (`ps` reads them from the host, and
/// Docker's daemon lists them).
pub(crate) fn top_table(
    state: &crate::model::ContainerState,
    ps_options: &[String],
) -> Result<(Vec<String>, Vec<Vec<String>>), TopRefused> {
    use crate::model::Status;
    match state.status {
        Status::Restarting => return Err(TopRefused::Restarting),
        Status::Running | Status::Paused if state.process().is_alive() => {}
        _ => return Err(TopRefused::NotRunning),
    }
    let pids = pids_in_namespace_of(state.pid)?;
    let options = if ps_options.is_empty() {
        vec!["-ef".to_string()]
    } else {
        ps_options.to_vec()
    };
    let output = std::process::Command::new("ps")
        .args(&options)
        .output()
        .context("running ps on the host (install procps)")?;
    if !output.status.success() {
        return Err(TopRefused::Failed(anyhow::anyhow!(
            "ps {}: {}",
            options.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let mut lines = text.lines();
    let titles: Vec<String> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let pid_col = titles
        .iter()
        .position(|c| c == "PID")
        .context("ps output has no PID column: use options that print it")?;
    let mut procs = Vec::new();
    for line in lines {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let pid = fields.get(pid_col).and_then(|p| p.parse::<i32>().ok());
        if !pid.is_some_and(|p| pids.contains(&p)) || titles.is_empty() {
            continue;
        }
        let last = titles.len() - 1;
        let mut row: Vec<String> = fields.iter().take(last).map(|s| s.to_string()).collect();
        row.push(fields.get(last..).map(|r| r.join(" ")).unwrap_or_default());
        procs.push(row);
    }
    Ok((titles, procs))
}
