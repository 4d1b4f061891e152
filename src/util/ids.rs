//! Random container ids and Docker-style generated names.

/// 64 lowercase hex characters from the kernel's random source, like a
/// Docker container id.
pub(crate) fn random_id() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the kernel random source is unavailable");
    hex::encode(bytes)
}

/// The 12-character short form Docker prints in tables.
pub(crate) fn short_id(id: &str) -> &str {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    &id[..id.len().min(12)]
}

const ADJECTIVES: &[&str] = &[
    "admiring", "brave", "busy", "calm", "clever", "cool", "eager", "elegant", "epic", "focused",
    "gallant", "happy", "jolly", "keen", "kind", "lucid", "modest", "nice", "quirky", "relaxed",
    "serene", "sharp", "stoic", "sweet", "tender", "trusting", "vibrant", "wizardly", "zealous",
];
const SURNAMES: &[&str] = &[
    "agnesi", "babbage", "bohr", "curie", "darwin", "dijkstra", "einstein", "euler", "fermi",
    "galileo", "hopper", "hypatia", "kepler", "knuth", "lamport", "lovelace", "meitner", "noether",
    "pascal", "ritchie", "shannon", "tesla", "thompson", "turing", "wozniak", "yalow",
];

/// A name like `brave_turing`, as Docker gives containers without `--name`.
pub(crate) fn random_name() -> String {
    let mut b = [0u8; 4];
    getrandom::fill(&mut b).expect("the kernel random source is unavailable");
    let a = ADJECTIVES[usize::from(b[0]) % ADJECTIVES.len()];
    let s = SURNAMES[usize::from(b[1]) % SURNAMES.len()];
    format!("{a}_{s}")
}

/// Every name [`random_name`] can draw (for tests that exhaust them).
#[cfg(test)]
pub(crate) fn every_name() -> Vec<String> {
    ADJECTIVES
        .iter()
        .flat_map(|a| SURNAMES.iter().map(move |s| format!("{a}_{s}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_64_hex_and_distinct() {
        let a = random_id();
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, random_id());
    }

    #[test]
    fn short_id_drops_the_algorithm() {
        assert_eq!(short_id("sha256:0123456789abcdef"), "0123456789ab");
    }
}
