//! Property tests: interpolation and `.env` parsing never panic, whatever
//! text they get (bounded to a few hundred cases so they take seconds).

use berth::compose::dotenv;
use berth::compose::template::Substitution;
use indexmap::IndexMap;
use proptest::prelude::*;

fn lookup(k: &str) -> Option<String> {
    match k {
        "A" => Some("a".into()),
        "EMPTY" => Some(String::new()),
        "NESTED" => Some("${A}".into()),
        _ => None,
    }
}

/// Text built from the characters that matter to both parsers.
fn tricky() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("$".to_string()),
            Just("{".to_string()),
            Just("}".to_string()),
            Just(":-".to_string()),
            Just(":?".to_string()),
            Just("+".to_string()),
            Just("A".to_string()),
            Just("EMPTY".to_string()),
            Just("=".to_string()),
            Just("\n".to_string()),
            Just("\"".to_string()),
            Just("'".to_string()),
            Just("\\".to_string()),
            Just("#".to_string()),
            Just(" ".to_string()),
            Just("export ".to_string()),
            Just("\\0".to_string()),
            "[a-z0-9_]{1,3}",
            any::<char>().prop_map(|c| c.to_string()),
        ],
        0..40,
    )
    .prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn interpolation_never_panics(t in tricky()) {
        let l = |k: &str| lookup(k);
        let mut s = Substitution::new(&l);
        let _ = s.substitute(&t);
    }

    #[test]
    fn interpolation_of_arbitrary_text_never_panics(t in ".{0,80}") {
        let l = |k: &str| lookup(k);
        let mut s = Substitution::new(&l);
        let _ = s.substitute(&t);
    }

    #[test]
    fn text_without_dollars_is_unchanged(t in "[^$]{0,80}") {
        let l = |k: &str| lookup(k);
        let mut s = Substitution::new(&l);
        prop_assert_eq!(s.substitute(&t).unwrap(), t);
    }

    #[test]
    fn dotenv_never_panics(t in tricky()) {
        let mut out = IndexMap::new();
        let mut w = Vec::new();
        let _ = dotenv::parse(&t, &mut out, &lookup, &mut w);
    }

    #[test]
    fn dotenv_of_arbitrary_text_never_panics(t in "(?s).{0,120}") {
        let mut out = IndexMap::new();
        let mut w = Vec::new();
        let _ = dotenv::parse(&t, &mut out, &lookup, &mut w);
    }
}
