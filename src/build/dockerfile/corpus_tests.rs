//! The Dockerfile corpus: `testdata/dockerfiles/<case>.Dockerfile`, each
//! with `<case>.ast` (BuildKit's AST dump, one instruction per line with
//! its line range and heredocs) and `<case>.json` (the typed parse), or
//! `<case>.error` (the error message). `BERTH_BLESS=1` rewrites the
//! expectations from the current output, to be reviewed in the diff.

use super::*;
use std::path::{Path, PathBuf};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/build/testdata/dockerfiles")
}

/// The AST dump with line ranges and heredoc bodies.
fn ast_dump(text: &str) -> String {
    let scanned = scan(text).expect("scan");
    let mut out = String::new();
    for n in &scanned.nodes {
        out.push_str(&format!(
            "{}-{}: ({})\n",
            n.start_line,
            n.end_line,
            n.dump()
        ));
        for h in &n.heredocs {
            out.push_str(&format!(
                "    heredoc {} expand={} chomp={} fd={}: {}\n",
                h.name,
                h.expand,
                h.chomp,
                h.file_descriptor,
                go_quote(&h.content)
            ));
        }
    }
    for w in &scanned.warnings {
        out.push_str(&format!("warning line {}: {}\n", w.line, w.message));
    }
    out
}

fn check(path: &Path, actual: &str, bless: bool, failures: &mut Vec<String>) {
    if bless {
        std::fs::write(path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(path)
        .unwrap_or_else(|_| panic!("{} missing (run with BERTH_BLESS=1)", path.display()));
    if expected != actual {
        failures.push(format!(
            "{}:\n--- expected\n{expected}\n--- actual\n{actual}",
            path.display()
        ));
    }
}

#[test]
fn corpus() {
    let bless = std::env::var_os("BERTH_BLESS").is_some();
    let mut cases: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "Dockerfile"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 20, "corpus too small: {}", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let bytes = std::fs::read(case).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        let error_path = case.with_extension("error");
        match parse("Dockerfile", &text) {
            Err(e) => {
                if !error_path.exists() && !bless {
                    failures.push(format!("{}: unexpected error {e}", case.display()));
                    continue;
                }
                check(&error_path, &format!("{e}\n"), bless, &mut failures);
            }
            Ok(df) => {
                if error_path.exists() {
                    failures.push(format!(
                        "{}: parsed but an error was expected",
                        case.display()
                    ));
                    continue;
                }
                check(
                    &case.with_extension("ast"),
                    &ast_dump(&text),
                    bless,
                    &mut failures,
                );
                let json = serde_json::to_string_pretty(&df).unwrap() + "\n";
                check(&case.with_extension("json"), &json, bless, &mut failures);
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
