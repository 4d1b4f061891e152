//! Container names, as Docker allows them.

use anyhow::{bail, Result};

/// `[a-zA-Z0-9][a-zA-Z0-9_.-]+`, with an optional leading `/`.
pub fn validate(name: &str) -> Result<String> {
    let name = name.strip_prefix('/').unwrap_or(name);
    let b = name.as_bytes();
    let ok = b.len() >= 2
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || c == b'-');
    if !ok {
        bail!("Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_name_rules() {
        assert_eq!(validate("/web-1").unwrap(), "web-1");
        for bad in ["", "a", "-x", "a b", "x/y", "é1"] {
            assert!(validate(bad).is_err(), "{bad}");
        }
    }
}
