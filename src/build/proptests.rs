//! Property tests: the parser, the lexer, the evaluator and the ignore
//! patterns never panic on arbitrary input, and cleaning is idempotent.
//! Inputs are drawn from an alphabet heavy in the characters the grammar
//! cares about so that deep paths are reached; case counts keep the run
//! to a few seconds.

use crate::build::dockerfile::{parse, scan};
use crate::build::eval::{BuildOptions, Evaluator, Scope};
use crate::build::ignore::{read_patterns, Glob, Matcher};
use crate::build::shell::Lexer;
use crate::util::path::go_clean;
use proptest::prelude::*;

/// Fragments that exercise the Dockerfile grammar.
fn dockerfile_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("FROM ".to_string()),
        Just("RUN ".to_string()),
        Just("COPY ".to_string()),
        Just("ENV ".to_string()),
        Just("ARG ".to_string()),
        Just("ONBUILD ".to_string()),
        Just("HEALTHCHECK ".to_string()),
        Just("SHELL ".to_string()),
        Just("LABEL ".to_string()),
        Just("EXPOSE ".to_string()),
        Just("--mount=type=cache,target=/x ".to_string()),
        Just("--from=".to_string()),
        Just("<<EOF".to_string()),
        Just("<<-'EOF'".to_string()),
        Just("EOF".to_string()),
        Just("\n".to_string()),
        Just("\\\n".to_string()),
        Just("`\n".to_string()),
        Just("# escape=`\n".to_string()),
        Just("# comment\n".to_string()),
        Just("[\"a\", \"b\"]".to_string()),
        Just("${A:-b}".to_string()),
        Just("$B".to_string()),
        Just("=".to_string()),
        Just("\"".to_string()),
        Just("'".to_string()),
        Just(" AS x".to_string()),
        Just("\t".to_string()),
        "[ -~]{0,6}".prop_map(|s| s),
        any::<char>().prop_map(|c| c.to_string()),
    ];
    prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

fn word() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("$".to_string()),
        Just("{".to_string()),
        Just("}".to_string()),
        Just(":".to_string()),
        Just("-".to_string()),
        Just("+".to_string()),
        Just("?".to_string()),
        Just("#".to_string()),
        Just("%".to_string()),
        Just("/".to_string()),
        Just("\\".to_string()),
        Just("*".to_string()),
        Just("'".to_string()),
        Just("\"".to_string()),
        Just("A".to_string()),
        Just("<<".to_string()),
        Just(" ".to_string()),
        any::<char>().prop_map(|c| c.to_string()),
    ];
    prop::collection::vec(piece, 0..24).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn parser_and_evaluator_never_panic(text in dockerfile_text()) {
        let _ = scan(&text);
        if let Ok(df) = parse("Dockerfile", &text) {
            let opts = BuildOptions::native();
            if let Ok(ev) = Evaluator::new(&df, &opts) {
                for stage in &df.stages {
                    let _ = ev.resolve_from(stage);
                    let mut scope = Scope::from_image_env(&[]);
                    let _ = ev.eval_stage(stage, &mut scope);
                }
            }
        }
    }

    #[test]
    fn parser_never_panics_on_any_string(text in any::<String>()) {
        let _ = parse("Dockerfile", &text);
    }

    #[test]
    fn lexer_never_panics(w in word()) {
        let env = vec![("A".to_string(), "a b".to_string())];
        for esc in ['\\', '`'] {
            let mut lex = Lexer::new(esc);
            let _ = lex.process_word(&w, &env);
            lex.raw_quotes = true;
            lex.raw_escapes = true;
            lex.skip_unset_env = true;
            let _ = lex.process_words(&w, &env);
        }
    }

    #[test]
    fn ignore_patterns_never_panic(p in "[a-c*?\\[\\]!/.\\\\^-]{0,10}", path in "[a-c/.]{0,10}") {
        if let Ok(m) = Matcher::new(&read_patterns(&p)) {
            let _ = m.is_excluded(&path);
            let _ = m.may_include_below(&path);
        }
        if let Ok(g) = Glob::new(&p) {
            let _ = g.matches(&path);
        }
    }

    #[test]
    fn clean_is_idempotent(p in "[a/.]{0,12}") {
        let once = go_clean(&p);
        prop_assert_eq!(go_clean(&once), once.clone());
    }
}
