//! Property tests: `--format` templates never make berth panic, whatever
//! the text (a template is run against records that hold strings from
//! images: labels, names, commands).

use super::*;
use proptest::prelude::*;

fn template_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("{{".to_string()),
        Just("}}".to_string()),
        Just("{{-".to_string()),
        Just("-}}".to_string()),
        Just(".".to_string()),
        Just(".Names".to_string()),
        Just(".Config.Labels".to_string()),
        Just(".List".to_string()),
        Just("$x := ".to_string()),
        Just("$x".to_string()),
        Just("range ".to_string()),
        Just("end".to_string()),
        Just("if ".to_string()),
        Just("else".to_string()),
        Just("with ".to_string()),
        Just("index ".to_string()),
        Just("json ".to_string()),
        Just("upper ".to_string()),
        Just("split ".to_string()),
        Just("join ".to_string()),
        Just("truncate ".to_string()),
        Just("pad ".to_string()),
        Just("printf ".to_string()),
        Just("len ".to_string()),
        Just("slice ".to_string()),
        Just("|".to_string()),
        Just("(".to_string()),
        Just(")".to_string()),
        Just("\"a\"".to_string()),
        Just(" 3 ".to_string()),
        Just(" -1 ".to_string()),
        Just(" 99999999999 ".to_string()),
        Just("\\t".to_string()),
        "[a-zA-Z ]{0,4}",
        any::<char>().prop_map(|c| c.to_string()),
    ];
    prop::collection::vec(piece, 0..16).prop_map(|v| v.concat())
}

fn data() -> Json {
    serde_json::json!({
        "Names": "web",
        "Id": "0123456789ab",
        "List": ["a", "b", 3],
        "Config": {"Labels": {"k": "v", "{{": "}}"}, "Cmd": ["sh", "-c", "x"]},
        "Size": 1234,
        "Nothing": null,
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn templates_never_panic(src in template_text()) {
        for mode in [Mode::Row, Mode::Header, Mode::Object] {
            if let Ok(t) = parse(&unescape(&src), mode) {
                let _ = execute(&t, &data());
            }
        }
    }
}
