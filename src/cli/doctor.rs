//! `doctor`: formats the checks of `crate::doctor` as one line each (and
//! the fix below it), or as JSON; exit status 1 when containers cannot run.

use super::args::DoctorArgs;
use crate::doctor::{Environment, Report, Verdict};
use crate::store::Store;
use anyhow::{bail, Result};

pub fn doctor(args: DoctorArgs) -> Result<()> {
    let store = Store::open_default()?;
    let report = crate::doctor::run(&Environment::host(), &store);
    match args.format.as_deref() {
        Some("json") => println!("{}", serde_json::to_string_pretty(&report)?),
        None | Some("table") => print!("{}", text(&report)),
        Some(other) => bail!("unknown --format {other:?} for doctor: use json"),
    }
    if !report.can_run_containers {
        return Err(super::ExitStatus(1).into());
    }
    Ok(())
}

/// `[ ok ] name: summary`, with `       fix: ...` lines under it.
fn text(report: &Report) -> String {
    let mut out = String::new();
    for c in &report.checks {
        let tag = match c.verdict {
            Verdict::Ok => " ok ",
            Verdict::Note => "note",
            Verdict::Warn => "warn",
            Verdict::Fail => "FAIL",
        };
        out.push_str(&format!("[{tag}] {}: {}\n", c.name, c.summary));
        if let Some(fix) = &c.fix {
            for (i, line) in fix.lines().enumerate() {
                let lead = if i == 0 { "fix:" } else { "    " };
                out.push_str(&format!("       {lead} {line}\n"));
            }
        }
    }
    out.push_str(if report.can_run_containers {
        "berth can run containers here.\n"
    } else {
        "berth cannot run containers here until the FAIL lines are fixed.\n"
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Check;

    #[test]
    fn one_line_per_check_and_fixes_below() {
        let r = Report::new(vec![
            Check::new("kernel", Verdict::Ok, "Linux 6.1"),
            Check::new("tun", Verdict::Warn, "/dev/net/tun is mode 0600")
                .fix("chmod 0666 /dev/net/tun"),
        ]);
        assert_eq!(
            text(&r),
            "[ ok ] kernel: Linux 6.1\n[warn] tun: /dev/net/tun is mode 0600\n       fix: chmod 0666 /dev/net/tun\nberth can run containers here.\n"
        );
    }
}
