//! Times and sizes the way Docker prints them ("2 hours ago", "4.26MB").

use jiff::Timestamp;

/// Now, as RFC 3339 with nanoseconds, as Docker writes `Created`.
pub(crate) fn now_rfc3339() -> String {
    Timestamp::now().to_string()
}

/// "About a minute ago", "3 hours ago": Go's go-units HumanDuration + " ago".
pub(crate) fn time_ago(rfc3339: &str) -> String {
    match rfc3339.parse::<Timestamp>() {
        Ok(t) => {
            let secs = Timestamp::now().as_second() - t.as_second();
            format!("{} ago", human_duration(secs.max(0)))
        }
        Err(_) => "N/A".to_string(),
    }
}

/// go-units `HumanDuration`.
pub(crate) fn human_duration(secs: i64) -> String {
    let (minutes, hours, days) = (secs / 60, secs / 3600, secs / 86400);
    if secs < 1 {
        "Less than a second".into()
    } else if secs == 1 {
        "1 second".into()
    } else if secs < 60 {
        format!("{secs} seconds")
    } else if minutes == 1 {
        "About a minute".into()
    } else if minutes < 60 {
        format!("{minutes} minutes")
    } else if (hours as f64 + 0.5) as i64 == 1 {
        "About an hour".into()
    } else if hours < 48 {
        format!("{hours} hours")
    } else if hours < 24 * 7 * 2 {
        format!("{days} days")
    } else if hours < 24 * 30 * 2 {
        format!("{} weeks", days / 7)
    } else if hours < 24 * 365 * 2 {
        format!("{} months", days / 30)
    } else {
        format!("{} years", days / 365)
    }
}

/// go-units `HumanSize`: SI units with 4 significant digits, as `docker images`.
pub(crate) fn human_size(bytes: u64) -> String {
    human_size_precision(bytes, 4)
}

/// go-units `HumanSizeWithPrecision`: `%.{precision}g` of the size in SI
/// units (`docker ps -s` uses 3).
pub(crate) fn human_size_precision(bytes: u64, precision: usize) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut size = bytes as f64;
    let mut unit = 0;
    while size >= 1000.0 && unit < UNITS.len() - 1 {
        size /= 1000.0;
        unit += 1;
    }
    // Go's %.Ng: up to N significant digits without trailing zeros.
    let digits = size.log10().floor().max(0.0) as usize + 1;
    let text = format!("{:.*}", precision.saturating_sub(digits), size);
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    };
    format!("{text}{}", UNITS[unit])
}

/// Go's `time.Time.String()` of a whole second in local time, as Docker's
/// `CreatedAt` columns print it: `2024-01-02 15:04:05 +0000 UTC`.
pub(crate) fn go_time(rfc3339: &str) -> String {
    let Ok(t) = rfc3339.parse::<Timestamp>() else {
        return String::new();
    };
    let Ok(t) = Timestamp::from_second(t.as_second()) else {
        return String::new();
    };
    t.to_zoned(jiff::tz::TimeZone::system())
        .strftime("%Y-%m-%d %H:%M:%S %z %Z")
        .to_string()
}

/// Go's `time.ParseDuration`: `30s`, `1m30s`, `1.5h`, `500ms`, `10us`, `7ns`.
pub(crate) fn parse_go_duration(s: &str) -> anyhow::Result<std::time::Duration> {
    let bad = || {
        anyhow::anyhow!("invalid duration {s:?}: expected a number with a unit (h, m, s, ms, us, ns), e.g. 1m30s")
    };
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total = 0.0f64;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num: f64 = rest[..n].parse().map_err(|_| bad())?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let factor = match &rest[..u] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return Err(bad()),
        };
        total += num * factor;
        rest = &rest[u..];
    }
    Ok(std::time::Duration::from_secs_f64(total))
}

/// A duration as `--health-interval` takes it (`30s`, `1m30s`, `500ms`), in nanoseconds.
pub(crate) fn parse_duration_ns(s: &str) -> anyhow::Result<u64> {
    Ok(parse_go_duration(s)?.as_nanos() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_nanoseconds() {
        assert_eq!(parse_duration_ns("30s").unwrap(), 30_000_000_000);
        assert_eq!(parse_duration_ns("1m30s").unwrap(), 90_000_000_000);
        assert_eq!(parse_duration_ns("500ms").unwrap(), 500_000_000);
        assert!(parse_duration_ns("5 parsecs").is_err());
    }

    #[test]
    fn sizes_match_docker() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(4_261_000), "4.261MB");
        assert_eq!(human_size(1_500_000_000), "1.5GB");
        assert_eq!(human_size(74_800_000), "74.8MB");
        assert_eq!(human_size_precision(1_984_000, 3), "1.98MB");
        assert_eq!(human_size_precision(0, 3), "0B");
    }

    #[test]
    fn go_durations_parse() {
        assert_eq!(parse_go_duration("30s").unwrap().as_secs(), 30);
        assert_eq!(parse_go_duration("1m30s").unwrap().as_secs(), 90);
        assert_eq!(parse_go_duration("500ms").unwrap().as_millis(), 500);
        assert!(parse_go_duration("5 parsecs").is_err());
        assert!(parse_go_duration("").is_err());
    }

    #[test]
    fn durations_match_go_units() {
        assert_eq!(human_duration(0), "Less than a second");
        assert_eq!(human_duration(45), "45 seconds");
        assert_eq!(human_duration(90), "About a minute");
        assert_eq!(human_duration(3 * 3600), "3 hours");
        assert_eq!(human_duration(3 * 86400), "3 days");
    }
}
