//! `stats` and `update`: containers' resource use, as Docker's table (or
//! `--format`), and new limits for containers.

use super::args::{StatsArgs, UpdateArgs};
use super::output::{print_listing, Listing};
use super::ExitStatus;
use crate::model::{ContainerRecord, RestartPolicy, Status};
use crate::runtime::lifecycle;
use crate::runtime::resources::stats::Sample;
use crate::store::Store;
use anyhow::Result;
use serde_json::{json, Value as Json};
use std::time::Duration;

pub(crate) fn update(args: UpdateArgs) -> Result<()> {
    crate::cli::args::refuse_cpu_rt(args.cpu_rt_period, args.cpu_rt_runtime)?;
    if !args.limits.any() && args.restart.is_none() {
        eprintln!("you must provide one or more flags when using this command");
        return Err(ExitStatus(1).into());
    }
    let given = args.limits.config()?;
    let restart = args
        .restart
        .as_deref()
        .map(RestartPolicy::parse)
        .transpose()?;
    let store = Store::open_default()?;
    super::for_each_name(&args.containers, |name| {
        let record = store.resolve_container(name)?;
        lifecycle::update(&store, &record, &given, restart)
    })
}

/// One container in the listing, as the user named it.
struct Target {
    record: ContainerRecord,
    /// `.Container`: the name or id given, else the short id.
    shown: String,
}

pub(crate) fn stats(args: StatsArgs) -> Result<()> {
    let store = Store::open_default()?;
    let mut named = Vec::new();
    for spec in &args.containers {
        match store.resolve_container(spec) {
            Ok(record) => named.push(Target {
                record,
                shown: spec.clone(),
            }),
            Err(e) => {
                eprintln!("Error response from daemon: {e:#}");
                return Err(ExitStatus(1).into());
            }
        }
    }
    let interactive = !args.no_stream && std::io::IsTerminal::is_terminal(&std::io::stdout());
    let mut previous: Vec<(String, Sample)> = Vec::new();
    let mut notes_given = false;
    loop {
        let targets = if args.containers.is_empty() {
            listed(&store, args.all)?
        } else {
            named
                .iter()
                .map(|t| Target {
                    record: t.record.clone(),
                    shown: t.shown.clone(),
                })
                .collect()
        };
        let running: Vec<bool> = targets
            .iter()
            .map(|t| {
                store
                    .observed_state(&t.record.id)
                    .is_ok_and(|s| matches!(s.status, Status::Running | Status::Paused))
            })
            .collect();
        // CPU % needs two samples: the first round waits a second.
        if previous.is_empty() && running.iter().any(|r| *r) {
            previous = sample_all(&store, &targets, &running);
            std::thread::sleep(Duration::from_secs(1));
        }
        let now = sample_all(&store, &targets, &running);
        let mut rows = Vec::new();
        let mut unavailable: Vec<String> = Vec::new();
        for (i, t) in targets.iter().enumerate() {
            let id = if args.no_trunc {
                t.record.id.clone()
            } else {
                crate::util::ids::short_id(&t.record.id).to_string()
            };
            let current = now.iter().find(|(x, _)| *x == t.record.id).map(|(_, s)| s);
            let before = previous
                .iter()
                .find(|(x, _)| *x == t.record.id)
                .map(|(_, s)| s);
            let figures = match (running[i], current) {
                (false, _) => Figures::stopped(),
                (true, None) => Figures::invalid(),
                (true, Some(s)) => {
                    for f in missing_fields(s) {
                        if !unavailable.contains(&f) {
                            unavailable.push(f);
                        }
                    }
                    Figures::of(s, before)
                }
            };
            rows.push(figures.row(&id, &t.record.name, &t.shown));
        }
        if !unavailable.is_empty() && !notes_given {
            eprintln!(
                "berth: {} cannot be read for some containers (shown as --)",
                unavailable.join(", ")
            );
            notes_given = true;
        }
        if interactive {
            // Docker's live view: clear the screen and draw again.
            print!("\x1b[2J\x1b[H");
        }
        let listing = Listing {
            columns: &[
                ("ID", "CONTAINER ID"),
                ("Name", "NAME"),
                ("CPUPerc", "CPU %"),
                ("MemUsage", "MEM USAGE / LIMIT"),
                ("MemPerc", "MEM %"),
                ("NetIO", "NET I/O"),
                ("BlockIO", "BLOCK I/O"),
                ("PIDs", "PIDS"),
            ],
            extra_headers: &[("Container", "CONTAINER")],
            rows,
            labels: vec![],
        };
        print_listing(args.format.as_deref(), &listing)?;
        if args.no_stream {
            return Ok(());
        }
        previous = now;
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// The containers `stats` shows without names: the running ones (all
/// with `-a`), newest first as `ps` lists them.
fn listed(store: &Store, all: bool) -> Result<Vec<Target>> {
    let mut out = Vec::new();
    let mut containers = store.containers()?;
    containers.reverse();
    for c in containers {
        let active = store
            .observed_state(&c.id)
            .is_ok_and(|s| s.status.is_active());
        if all || active {
            out.push(Target {
                shown: crate::util::ids::short_id(&c.id).to_string(),
                record: c,
            });
        }
    }
    Ok(out)
}

fn sample_all(store: &Store, targets: &[Target], running: &[bool]) -> Vec<(String, Sample)> {
    targets
        .iter()
        .zip(running)
        .filter(|(_, r)| **r)
        .filter_map(|(t, _)| {
            lifecycle::stats(store, &t.record)
                .ok()
                .map(|s| (t.record.id.clone(), s))
        })
        .collect()
}

/// The columns that a sample could not read.
fn missing_fields(s: &Sample) -> Vec<String> {
    let mut out = Vec::new();
    if s.cpu_ns.is_none() || s.system_ns.is_none() {
        out.push("CPU %".to_string());
    }
    if s.memory.is_none() || s.memory_limit.is_none() {
        out.push("MEM USAGE / LIMIT".to_string());
    }
    if s.net.is_none() {
        out.push("NET I/O".to_string());
    }
    if s.block.is_none() {
        out.push("BLOCK I/O".to_string());
    }
    if s.pids.is_none() {
        out.push("PIDS".to_string());
    }
    out
}

/// One row's texts, as Docker's formatter writes them.
struct Figures {
    cpu: String,
    mem_usage: String,
    mem_perc: String,
    net: String,
    block: String,
    pids: String,
}

impl Figures {
    /// A container that does not run: zeros, as Docker shows them.
    fn stopped() -> Figures {
        Figures {
            cpu: "0.00%".into(),
            mem_usage: "0B / 0B".into(),
            mem_perc: "0.00%".into(),
            net: "0B / 0B".into(),
            block: "0B / 0B".into(),
            pids: "0".into(),
        }
    }

    /// A running container whose monitor did not answer.
    fn invalid() -> Figures {
        let dash = || "--".to_string();
        Figures {
            cpu: dash(),
            mem_usage: "-- / --".into(),
            mem_perc: dash(),
            net: dash(),
            block: dash(),
            pids: dash(),
        }
    }

    fn of(s: &Sample, before: Option<&Sample>) -> Figures {
        let cpu = match (s.cpu_ns, s.system_ns) {
            (Some(c), Some(sys)) => {
                let (c0, s0) = before
                    .and_then(|b| Some((b.cpu_ns?, b.system_ns?)))
                    .unwrap_or((c, sys));
                format!("{:.2}%", cpu_percent(c0, c, s0, sys, s.online_cpus))
            }
            _ => "--".into(),
        };
        let (mem_usage, mem_perc) = match (s.memory, s.memory_limit) {
            (Some(m), Some(l)) => (
                format!("{} / {}", bytes_size(m as f64), bytes_size(l as f64)),
                format!(
                    "{:.2}%",
                    if l > 0 {
                        m as f64 / l as f64 * 100.0
                    } else {
                        0.0
                    }
                ),
            ),
            (Some(m), None) => (format!("{} / --", bytes_size(m as f64)), "--".into()),
            _ => ("-- / --".into(), "--".into()),
        };
        let pair = |p: Option<(u64, u64)>| match p {
            Some((a, b)) => format!("{} / {}", human_size(a as f64), human_size(b as f64)),
            None => "--".into(),
        };
        Figures {
            cpu,
            mem_usage,
            mem_perc,
            net: pair(s.net),
            block: pair(s.block),
            pids: s.pids.map_or("--".into(), |p| p.to_string()),
        }
    }

    fn row(self, id: &str, name: &str, shown: &str) -> Json {
        json!({
            "BlockIO": self.block,
            "CPUPerc": self.cpu,
            "Container": shown,
            "ID": id,
            "MemPerc": self.mem_perc,
            "MemUsage": self.mem_usage,
            "Name": name,
            "NetIO": self.net,
            "PIDs": self.pids,
        })
    }
}

/// Docker's CPU %: the container's share of the host's CPU time between
/// two samples, times the number of CPUs.
fn cpu_percent(cpu0: u64, cpu1: u64, sys0: u64, sys1: u64, cpus: u32) -> f64 {
    let cpu = cpu1.saturating_sub(cpu0) as f64;
    let sys = sys1.saturating_sub(sys0) as f64;
    if cpu > 0.0 && sys > 0.0 {
        cpu / sys * f64::from(cpus) * 100.0
    } else {
        0.0
    }
}

/// go-units `BytesSize`: binary units, `%.4g`.
fn bytes_size(size: f64) -> String {
    sized(
        size,
        1024.0,
        &["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"],
        4,
    )
}

/// go-units `HumanSizeWithPrecision(size, 3)`: decimal units, `%.3g`.
fn human_size(size: f64) -> String {
    sized(size, 1000.0, &["B", "kB", "MB", "GB", "TB", "PB", "EB"], 3)
}

fn sized(mut size: f64, base: f64, units: &[&str], precision: usize) -> String {
    let mut i = 0;
    while size >= base && i < units.len() - 1 {
        size /= base;
        i += 1;
    }
    format!("{}{}", go_g(size, precision), units[i])
}

/// Go's `%.Ng`: N significant digits, trailing zeros dropped, exponent
/// form when the exponent is below -4 or at least N.
fn go_g(v: f64, precision: usize) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let sci = format!("{:.*e}", precision.saturating_sub(1), v);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let trim = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if exp < -4 || exp >= precision as i32 {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mantissa), exp.abs())
    } else {
        let decimals = (precision as i32 - 1 - exp).max(0) as usize;
        trim(&format!("{v:.decimals$}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_as_docker_prints_them() {
        assert_eq!(bytes_size(592.0 * 1024.0), "592KiB");
        assert_eq!(bytes_size(64.0 * 1024.0 * 1024.0), "64MiB");
        assert_eq!(bytes_size(25_275_957_248.0), "23.54GiB");
        assert_eq!(bytes_size(0.0), "0B");
        assert_eq!(human_size(646.0), "646B");
        assert_eq!(human_size(1234.0), "1.23kB");
        assert_eq!(human_size(999.5), "1e+03B");
        assert_eq!(go_g(0.000012345, 3), "1.23e-05");
    }

    #[test]
    fn cpu_percent_is_dockers() {
        // A container that used half of one CPU of two over the interval.
        assert_eq!(cpu_percent(0, 500, 0, 2000, 2), 50.0);
        assert_eq!(cpu_percent(10, 10, 0, 2000, 2), 0.0);
    }

    #[test]
    fn rows_of_stopped_and_running_containers() {
        let row = Figures::stopped().row("abc", "n", "abc");
        assert_eq!(row["MemUsage"], "0B / 0B");
        assert_eq!(row["PIDs"], "0");
        let s = Sample {
            cpu_ns: Some(2_000),
            system_ns: Some(4_000),
            online_cpus: 2,
            memory: Some(592 * 1024),
            memory_limit: Some(64 << 20),
            net: Some((646, 0)),
            block: None,
            pids: Some(1),
            from_proc: vec![],
        };
        let before = Sample {
            cpu_ns: Some(1_000),
            system_ns: Some(2_000),
            ..s.clone()
        };
        let row = Figures::of(&s, Some(&before)).row("abc", "n", "n");
        assert_eq!(row["CPUPerc"], "100.00%");
        assert_eq!(row["MemUsage"], "592KiB / 64MiB");
        assert_eq!(row["MemPerc"], "0.90%");
        assert_eq!(row["NetIO"], "646B / 0B");
        assert_eq!(row["BlockIO"], "--");
        assert_eq!(missing_fields(&s), ["BLOCK I/O"]);
    }
}
