//! `berth compose config` on a corpus of compose files written from the
//! Compose Specification's rules (tests/compose/CASE/): each case's output
//! is compared with its `expected.yaml` (or `expected.json`), and error
//! cases' messages with the lines of `expected.err`, which must each
//! appear in the error output (they name file, line and key path).
//!
//! A case directory may hold `args` (extra arguments before `config`, one
//! per line), `config-args` (after it) and `env` (the process environment,
//! KEY=VALUE lines; HOME is /home/user and PATH the usual). `@DIR@` in
//! expected files stands for the case directory. BERTH_BLESS=1 rewrites
//! the expected files from the current output, for review in the diff.

use std::path::{Path, PathBuf};
use std::process::Command;

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compose");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    v
}

fn lines(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .map(|t| {
            t.lines()
                .map(str::to_string)
                .filter(|l| !l.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

fn run_case(dir: &Path) -> Result<(), String> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_berth"));
    cmd.arg("compose")
        .args(lines(&dir.join("args")))
        .arg("config")
        .args(lines(&dir.join("config-args")))
        .current_dir(dir)
        .env_clear()
        .env("HOME", "/home/user")
        .env("PATH", "/usr/bin:/bin");
    for l in lines(&dir.join("env")) {
        let (k, v) = l.split_once('=').unwrap();
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let dir_text = dir.to_string_lossy();
    let bless = std::env::var_os("BERTH_BLESS").is_some();
    let err_file = dir.join("expected.err");
    if err_file.exists() {
        if out.status.success() {
            return Err(format!("succeeded but should fail; stdout:\n{stdout}"));
        }
        for want in lines(&err_file) {
            let want = want.replace("@DIR@", &dir_text);
            if !stderr.contains(&want) {
                return Err(format!("stderr lacks {want:?}:\n{stderr}"));
            }
        }
        return Ok(());
    }
    if !out.status.success() {
        return Err(format!("failed: {stderr}"));
    }
    let json = lines(&dir.join("config-args")).iter().any(|a| a == "json");
    let expected_file = dir.join(if json {
        "expected.json"
    } else {
        "expected.yaml"
    });
    if bless {
        std::fs::write(&expected_file, stdout.replace(&*dir_text, "@DIR@")).unwrap();
        let warn_file = dir.join("expected.warnings");
        if stderr.is_empty() {
            let _ = std::fs::remove_file(&warn_file);
        } else {
            std::fs::write(&warn_file, stderr.replace(&*dir_text, "@DIR@")).unwrap();
        }
        return Ok(());
    }
    let expected = std::fs::read_to_string(&expected_file)
        .map_err(|e| format!("{}: {e}", expected_file.display()))?
        .replace("@DIR@", &dir_text);
    if stdout != expected {
        return Err(format!(
            "output differs from {}\n--- got\n{stdout}\n--- want\n{expected}",
            expected_file.display()
        ));
    }
    let expected_warnings = std::fs::read_to_string(dir.join("expected.warnings"))
        .unwrap_or_default()
        .replace("@DIR@", &dir_text);
    if stderr != expected_warnings {
        return Err(format!(
            "warnings differ\n--- got\n{stderr}\n--- want\n{expected_warnings}"
        ));
    }
    Ok(())
}

#[test]
fn config_corpus() {
    let mut failures = Vec::new();
    let all = cases();
    assert!(all.len() >= 10, "the corpus is missing: {all:?}");
    for dir in &all {
        if let Err(e) = run_case(dir) {
            failures.push(format!(
                "{}: {e}",
                dir.file_name().unwrap().to_string_lossy()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
