//! `.dockerignore` cases from Docker's documentation and patternmatcher's
//! behaviour: exceptions, the later rule winning, directories excluded with
//! exceptions inside.

use super::*;

fn excluded(file: &str, path: &str) -> bool {
    let m = Matcher::new(&read_patterns(file)).unwrap();
    // Matching through parent results (as a walk does) and directly must
    // agree.
    let mut info = MatchInfo::default();
    let mut walked = false;
    let parts: Vec<&str> = path.split('/').collect();
    for i in 0..parts.len() {
        let p = parts[..=i].join("/");
        let (m_, next) = m.matches(&p, &info);
        walked = m_;
        info = next;
    }
    assert_eq!(
        walked,
        m.is_excluded(path),
        "walk and direct match disagree on {path}"
    );
    walked
}

#[test]
fn docker_documentation_examples() {
    let file = "# comment\n*/temp*\n*/*/temp*\ntemp?\n";
    assert!(excluded(file, "somedir/temporary.txt"));
    assert!(excluded(file, "somedir/temp"));
    assert!(excluded(file, "somedir/subdir/temporary.txt"));
    assert!(excluded(file, "tempa"));
    assert!(!excluded(file, "tempab"));
    assert!(!excluded(file, "temporary.txt"));
    assert!(!excluded(file, "# comment"));

    let file = "*.md\n!README.md\n";
    assert!(excluded(file, "CHANGES.md"));
    assert!(!excluded(file, "README.md"));

    let file = "*.md\n!README*.md\nREADME-secret.md\n";
    assert!(excluded(file, "README-secret.md"));
    assert!(!excluded(file, "README-public.md"));

    let file = "*.md\nREADME-secret.md\n!README*.md\n";
    assert!(!excluded(file, "README-secret.md"));

    let file = "**/*.go\n";
    assert!(excluded(file, "a/b/c.go"));
    assert!(excluded(file, "c.go"));
}

#[test]
fn leading_slash_and_dot_are_cleaned() {
    assert!(excluded("/docs\n", "docs/x"));
    assert!(excluded("./docs\n", "docs"));
    assert!(excluded("docs/\n", "docs/README.md"));
    assert!(excluded("  spaced  \n", "spaced"));
    assert!(excluded("! keep \n*\n", "keep"));
    assert!(!excluded("*\n! keep \n", "keep"));
    assert!(excluded("a/../b\n", "b"));
    assert!(!excluded(" #not-a-comment\n", "x"));
    assert!(excluded(" #not-a-comment\n", "#not-a-comment"));
    assert_eq!(read_patterns("\u{feff}/a\n!/b/\n\n#c\n"), ["a", "!b"]);
}

#[test]
fn directories_with_exceptions_inside() {
    let file = "docs\n!docs/README.md\n";
    assert!(excluded(file, "docs"));
    assert!(excluded(file, "docs/other.md"));
    assert!(!excluded(file, "docs/README.md"));
    let m = Matcher::new(&read_patterns(file)).unwrap();
    assert!(m.may_include_below("docs"));
    assert!(!m.may_include_below("src"));

    let file = "**\n!util/docker/web\n";
    assert!(!excluded(file, "util/docker/web/foo"));
    assert!(excluded(file, "util/docker/other"));
    let file = "**\n!util/docker/web\nutil/docker/web/foo\n";
    assert!(excluded(file, "util/docker/web/foo"));
    let file = "node_modules\n";
    let m = Matcher::new(&read_patterns(file)).unwrap();
    assert!(!m.may_include_below("node_modules"));
    let file = "*\n!*/keep\n";
    let m = Matcher::new(&read_patterns(file)).unwrap();
    assert!(m.may_include_below("anything"));
}

#[test]
fn errors_and_deciding_pattern() {
    assert!(Matcher::new(&read_patterns("[\n")).is_err());
    assert_eq!(
        Matcher::new(&read_patterns("!\n")).unwrap_err(),
        "illegal exclusion pattern: \"!\": \"!\""
    );
    let m = Matcher::new(&read_patterns("*.log\n!keep.log\nbuild/\n")).unwrap();
    assert_eq!(m.deciding_pattern("x.log").unwrap().text, "*.log");
    assert!(m.deciding_pattern("keep.log").is_none());
    assert_eq!(m.deciding_pattern("build/out/a").unwrap().text, "build");
}

#[test]
fn dockerfile_specific_ignore_file_wins() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".dockerignore"), "a\n").unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("sub/app.Dockerfile"), "FROM x\n").unwrap();
    std::fs::write(dir.path().join("sub/app.Dockerfile.dockerignore"), "b\n").unwrap();
    let ig = load(dir.path(), Some(&dir.path().join("sub/app.Dockerfile"))).unwrap();
    assert!(ig.matcher.is_excluded("b") && !ig.matcher.is_excluded("a"));
    let ig = load(dir.path(), Some(&dir.path().join("Dockerfile"))).unwrap();
    assert!(ig.matcher.is_excluded("a"));
    assert_eq!(ig.source.unwrap(), dir.path().join(".dockerignore"));
    let empty = tempfile::tempdir().unwrap();
    assert!(load(empty.path(), None).unwrap().matcher.is_empty());
}
