//! Times as Docker's filters and `--since`/`--until` take them
//! (`timestamp.Parse`): a Go duration before now (`10m`, `1h30m`), an
//! RFC 3339 time with or without a zone or seconds (`2024-01-02T15:04`,
//! local time without a zone), a date (`2024-01-02`), or Unix seconds
//! with optional fraction (`1704207845.5`).

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

/// The instant `value` names, relative to `now` for durations.
pub(crate) fn parse(value: &str, now: Timestamp) -> Result<Timestamp, String> {
    let value = value.trim();
    if value.is_empty() {
        return Err("failed to parse value as time or duration: value is empty".into());
    }
    if value != "0" {
        if let Ok(d) = super::humanize::parse_go_duration(value) {
            let d = SignedDuration::try_from(d).map_err(|e| e.to_string())?;
            return now.checked_sub(d).map_err(|e| e.to_string());
        }
    }
    let has_zone = value.contains(['z', 'Z', '+']) || value.matches('-').count() == 3;
    if has_zone {
        if let Ok(t) = value.parse::<Timestamp>() {
            return Ok(t);
        }
        // A date with a zone: `2024-01-02Z`, `2024-01-02+01:00`.
        let (date, zone) = value.split_at(10.min(value.len()));
        if let Ok(t) = format!("{date}T00:00:00{zone}").parse::<Timestamp>() {
            return Ok(t);
        }
    } else if value.contains('-') {
        let local = if value.contains('T') {
            let padded = match value.matches(':').count() {
                0 => format!("{value}:00:00"),
                1 => format!("{value}:00"),
                _ => value.to_string(),
            };
            padded.parse::<DateTime>().ok()
        } else {
            value
                .parse::<Date>()
                .ok()
                .map(|d| d.to_datetime(jiff::civil::Time::midnight()))
        };
        if let Some(dt) = local {
            if let Ok(z) = dt.to_zoned(TimeZone::system()) {
                return Ok(z.timestamp());
            }
        }
    }
    if value.contains('-') {
        return Err(format!("parsing time {value:?}: cannot parse as a time"));
    }
    unix(value).map_err(|e| format!("failed to parse value as time or duration: {e}"))
}

fn unix(value: &str) -> Result<Timestamp, String> {
    let (secs, frac) = value.split_once('.').unwrap_or((value, ""));
    let s: i64 = secs
        .parse()
        .map_err(|_| format!("invalid seconds {secs:?}: invalid syntax"))?;
    let nanos: i32 = if frac.is_empty() {
        0
    } else {
        let digits: String = frac.chars().chain(std::iter::repeat('0')).take(9).collect();
        digits
            .parse()
            .map_err(|_| format!("invalid nanoseconds {frac:?}: invalid syntax"))?
    };
    Timestamp::new(s, nanos).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockers_forms() {
        let now: Timestamp = "2024-06-01T12:00:00Z".parse().unwrap();
        let at = |v: &str| parse(v, now).unwrap().to_string();
        assert_eq!(at("1h30m"), "2024-06-01T10:30:00Z");
        assert_eq!(at("2024-01-02T03:04:05Z"), "2024-01-02T03:04:05Z");
        assert_eq!(at("2024-01-02T03:04:05+01:00"), "2024-01-02T02:04:05Z");
        assert_eq!(at("1704164645"), "2024-01-02T03:04:05Z");
        assert_eq!(at("1704164645.5"), "2024-01-02T03:04:05.5Z");
        assert_eq!(at("0"), "1970-01-01T00:00:00Z");
        // Local forms parse (in the machine's zone).
        assert!(parse("2024-01-02", now).is_ok());
        assert!(parse("2024-01-02T03:04", now).is_ok());
        assert!(parse("", now).is_err());
        assert!(parse("yesterday", now).is_err());
        assert!(parse("2024-13-45", now).is_err());
    }
}
