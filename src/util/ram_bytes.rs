//! Sizes as Docker reads them for `--shm-size` and `--log-opt max-size`
//! (go-units' `RAMInBytes`): a number, optionally with a fraction, then
//! an optional `k`, `m`, `g`, `t` or `p` (powers of 1024, any case),
//! optionally followed by `i` and/or `b`: `64m`, `1.5g`, `100`, `2GiB`.

/// The size in bytes, or why the text is not one.
pub(crate) fn parse(s: &str) -> Result<u64, String> {
    let invalid = || format!("invalid size: '{s}'");
    let t = s.trim();
    let number_end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(number_end);
    if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
        return Err(invalid());
    }
    let value: f64 = number.parse().map_err(|_| invalid())?;
    let unit = unit.strip_prefix(' ').unwrap_or(unit).to_ascii_lowercase();
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let shift = match unit {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        "p" => 50,
        _ => return Err(invalid()),
    };
    let bytes = value * (1u64 << shift) as f64;
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(invalid());
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_docker_sizes() {
        assert_eq!(parse("100"), Ok(100));
        assert_eq!(parse("64m"), Ok(64 << 20));
        assert_eq!(parse("64M"), Ok(64 << 20));
        assert_eq!(parse("1k"), Ok(1024));
        assert_eq!(parse("2GiB"), Ok(2 << 30));
        assert_eq!(parse("1.5g"), Ok(3 << 29));
        assert_eq!(parse("10 mb"), Ok(10 << 20));
        for bad in ["", "-1", "1x", "m", "1.", ".5m", "1..2m", "1kk"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
