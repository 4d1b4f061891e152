//! Property tests: reference parsing never panics on any text, and a
//! parsed reference prints as a string that parses back to itself.

use super::*;
use proptest::prelude::*;

fn reference_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("/".to_string()),
        Just(":".to_string()),
        Just("@".to_string()),
        Just(".".to_string()),
        Just("-".to_string()),
        Just("_".to_string()),
        Just("__".to_string()),
        Just("sha256:".to_string()),
        Just("a".repeat(64)),
        Just("localhost".to_string()),
        Just("docker.io".to_string()),
        Just("library".to_string()),
        Just(":5000".to_string()),
        Just("[::1]".to_string()),
        "[a-z0-9]{1,8}",
        "[A-Z]{1,3}",
        any::<char>().prop_map(|c| c.to_string()),
    ];
    prop::collection::vec(piece, 0..12).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn parsing_never_panics_and_round_trips(s in reference_text()) {
        if let Ok(r) = Reference::parse(&s) {
            let printed = r.to_string();
            prop_assert_eq!(Reference::parse(&printed), Ok(r.clone()), "{} printed as {}", s, printed);
        }
        let _ = Reference::parse_tagged(&s);
    }

    #[test]
    fn arbitrary_text_never_panics(s in ".{0,300}") {
        let _ = Reference::parse(&s);
        let _ = Reference::parse_tagged(&s);
    }
}
