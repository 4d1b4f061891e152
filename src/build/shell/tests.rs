//! Table tests of the lexer: `testdata/substitution.txt` and
//! `testdata/words.txt`, written from BuildKit's documented rules.

use super::*;
use std::collections::BTreeMap;

fn env() -> BTreeMap<String, String> {
    [
        ("PWD", "/home"),
        ("SHELL", "bash"),
        ("KOREAN", "한국어"),
        ("NULL", ""),
        ("FILE", "archive.tar.gz"),
        ("PATHV", "/usr/local/bin"),
        ("SPACED", "x y"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Runs `check(lexer, input, expected, line)` over a tab-separated table.
fn each_case(table: &str, mut check: impl FnMut(&Lexer, &str, &str, usize)) {
    let mut lexer = Lexer::new('\\');
    let mut count = 0;
    for (n, line) in table.lines().enumerate() {
        if let Some(esc) = line.strip_prefix("#escape=") {
            lexer = Lexer::new(esc.chars().next().unwrap());
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (input, expected) = line
            .split_once('\t')
            .unwrap_or_else(|| panic!("line {}: no tab", n + 1));
        check(&lexer, input, expected, n + 1);
        count += 1;
    }
    assert!(count > 10, "table too small");
}

#[test]
fn substitution_table() {
    let env = env();
    each_case(
        include_str!("../testdata/substitution.txt"),
        |lexer, input, expected, line| {
            let got = lexer.process_word(input, &env);
            match expected.strip_prefix("error") {
                Some(msg) => {
                    let err = got.expect_err(&format!("line {line}: {input:?} should fail"));
                    let msg = msg.trim_start_matches(':').trim();
                    assert!(
                        err.to_string().contains(msg),
                        "line {line}: {input:?}: error {err} lacks {msg:?}"
                    );
                }
                None => {
                    let got = got.unwrap_or_else(|e| panic!("line {line}: {input:?}: {e}"));
                    assert_eq!(got.result, expected, "line {line}: {input:?}");
                }
            }
        },
    );
}

#[test]
fn word_splitting_table() {
    let env = env();
    each_case(
        include_str!("../testdata/words.txt"),
        |lexer, input, expected, line| {
            let words = lexer
                .process_words(input, &env)
                .unwrap_or_else(|e| panic!("line {line}: {input:?}: {e}"));
            let expected: Vec<&str> = if expected.is_empty() {
                vec![]
            } else {
                expected.split('|').collect()
            };
            assert_eq!(words, expected, "line {line}: {input:?}");
        },
    );
}

#[test]
fn matched_and_unmatched_names_are_reported() {
    let r = Lexer::new('\\')
        .process_word("$PWD ${UNSET:-$SHELL} '$NOT'", &env())
        .unwrap();
    assert_eq!(r.matched.into_iter().collect::<Vec<_>>(), ["PWD", "SHELL"]);
    assert_eq!(r.unmatched.into_iter().collect::<Vec<_>>(), ["UNSET"]);
}

#[test]
fn skip_unset_keeps_references_and_raw_modes_keep_quotes() {
    let mut lex = Lexer::new('\\');
    lex.skip_unset_env = true;
    let r = lex
        .process_word("$A ${B} ${C:-x} ${D/a/b} $PWD", &env())
        .unwrap();
    assert_eq!(r.result, "$A ${B} ${C:-x} ${D/a/b} /home");
    lex.raw_quotes = true;
    lex.raw_escapes = true;
    let r = lex.process_word(r#"'a' "b" \c"#, &()).unwrap();
    assert_eq!(r.result, r#"'a' "b" \c"#);
}

#[test]
fn heredoc_bodies_keep_quotes() {
    let mut lex = Lexer::new('\\');
    lex.skip_process_quotes = true;
    let r = lex
        .process_word("echo \"$PWD\" '$SHELL' \\$x", &env())
        .unwrap();
    assert_eq!(r.result, "echo \"/home\" 'bash' $x");
}
