//! Context tests: the walk with `.dockerignore`, COPY source resolution
//! (wildcards, trailing slashes, several sources, symlinks, escapes,
//! missing and ignored sources), archives and stdin, content keys.

use super::*;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};

struct Fixture {
    dir: tempfile::TempDir,
    staging: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let w = |rel: &str, data: &str| {
        let f = p.join(rel);
        fs::create_dir_all(f.parent().unwrap()).unwrap();
        fs::write(f, data).unwrap();
    };
    w("Dockerfile", "FROM scratch\nCOPY . /\n");
    w(
        ".dockerignore",
        "*.log\nsecret/\n!secret/public.txt\nbuild\n",
    );
    w("app/main.rs", "fn main() {}\n");
    w("app/lib.rs", "// lib\n");
    w("app/data/x.bin", "bin");
    w("a.log", "log");
    w("keep.txt", "keep");
    w("secret/key", "k");
    w("secret/public.txt", "p");
    w("build/out", "o");
    symlink("app/main.rs", p.join("link-in")).unwrap();
    symlink("app", p.join("link-dir")).unwrap();
    symlink("../../etc/passwd", p.join("link-out")).unwrap();
    symlink("/etc/passwd", p.join("link-abs")).unwrap();
    Fixture {
        dir,
        staging: tempfile::tempdir().unwrap(),
    }
}

fn open_dir(f: &Fixture) -> BuildContext {
    BuildContext::open(
        ContextSource::Directory(f.dir.path().to_path_buf()),
        DockerfileSource::Default,
        f.staging.path(),
    )
    .unwrap()
}

fn req<'a>(sources: &'a [String], dest: &'a str) -> CopyRequest<'a> {
    CopyRequest {
        instruction: "COPY",
        sources,
        dest,
        workdir: "/w",
        excludes: &[],
        parents: false,
        dest_kind: DestKind::Missing,
    }
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn targets(ctx: &BuildContext, r: &CopyRequest) -> Vec<(String, String)> {
    ctx.plan(r)
        .unwrap_or_else(|e| panic!("{e}"))
        .items
        .into_iter()
        .map(|i| (i.source, i.target))
        .collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn walk_applies_dockerignore() {
    let f = fixture();
    let ctx = open_dir(&f);
    let idx = ctx.index();
    assert!(idx.get("a.log").is_none());
    assert!(idx.get("build").is_none());
    assert!(idx.get("secret/key").is_none());
    assert!(idx.get("secret").unwrap().parent_only);
    assert!(!idx.get("secret/public.txt").unwrap().parent_only);
    assert_eq!(
        idx.get("link-in").unwrap().kind,
        EntryKind::Symlink("app/main.rs".into())
    );
    assert_eq!(ctx.dockerfile(), b"FROM scratch\nCOPY . /\n");
}

#[test]
fn directory_sources_copy_their_contents() {
    let f = fixture();
    let ctx = open_dir(&f);
    assert_eq!(
        targets(&ctx, &req(&s(&["app"]), "/dst/")),
        pairs(&[
            ("app", "/dst"),
            ("app/data", "/dst/data"),
            ("app/data/x.bin", "/dst/data/x.bin"),
            ("app/lib.rs", "/dst/lib.rs"),
            ("app/main.rs", "/dst/main.rs"),
        ])
    );
    // The whole context, ignored files left out, symlinks kept as such.
    let all = ctx.plan(&req(&s(&["."]), "/")).unwrap();
    let names: Vec<&str> = all.items.iter().map(|i| i.target.as_str()).collect();
    assert!(names.contains(&"/secret/public.txt") && !names.contains(&"/secret/key"));
    assert!(!names.contains(&"/a.log"));
    let link = all.items.iter().find(|i| i.target == "/link-in").unwrap();
    assert_eq!(link.entry.kind, EntryKind::Symlink("app/main.rs".into()));
}

#[test]
fn file_destinations_and_trailing_slashes() {
    let f = fixture();
    let ctx = open_dir(&f);
    let one = s(&["app/main.rs"]);
    assert_eq!(
        targets(&ctx, &req(&one, "/dst")),
        pairs(&[("app/main.rs", "/dst")])
    );
    assert_eq!(
        targets(&ctx, &req(&one, "/dst/")),
        pairs(&[("app/main.rs", "/dst/main.rs")])
    );
    assert_eq!(
        targets(&ctx, &req(&one, ".")),
        pairs(&[("app/main.rs", "/w/main.rs")])
    );
    assert_eq!(
        targets(&ctx, &req(&one, "sub")),
        pairs(&[("app/main.rs", "/w/sub")])
    );
    let mut r = req(&one, "/existing");
    r.dest_kind = DestKind::Dir;
    assert_eq!(
        targets(&ctx, &r),
        pairs(&[("app/main.rs", "/existing/main.rs")])
    );
    // Several sources into a directory.
    let two = s(&["app/main.rs", "/keep.txt"]);
    assert_eq!(
        targets(&ctx, &req(&two, "/d/")),
        pairs(&[("app/main.rs", "/d/main.rs"), ("keep.txt", "/d/keep.txt")])
    );
    // Without the slash BuildKit copies each onto the same path in turn.
    assert_eq!(
        targets(&ctx, &req(&two, "/d")),
        pairs(&[("app/main.rs", "/d"), ("keep.txt", "/d")])
    );
}

#[test]
fn wildcards_match_per_component() {
    let f = fixture();
    let ctx = open_dir(&f);
    assert_eq!(
        targets(&ctx, &req(&s(&["app/*.rs"]), "/d/")),
        pairs(&[("app/lib.rs", "/d/lib.rs"), ("app/main.rs", "/d/main.rs")])
    );
    assert_eq!(
        targets(&ctx, &req(&s(&["*/data"]), "/d/")),
        pairs(&[("app/data", "/d"), ("app/data/x.bin", "/d/x.bin")])
    );
    assert_eq!(
        targets(&ctx, &req(&s(&["link-dir/ma?n.rs"]), "/d/")),
        pairs(&[("app/main.rs", "/d/main.rs")])
    );
    let p = ctx
        .plan(&req(&s(&["nomatch*", "keep.txt"]), "/d/"))
        .unwrap();
    assert_eq!(p.empty_wildcards, ["nomatch*"]);
    assert_eq!(p.items.len(), 1);
    // Ignored files do not match.
    assert!(ctx
        .plan(&req(&s(&["*.log"]), "/d/"))
        .unwrap()
        .items
        .is_empty());
}

#[test]
fn symlinks_are_followed_inside_the_context_only() {
    let f = fixture();
    let ctx = open_dir(&f);
    assert_eq!(
        targets(&ctx, &req(&s(&["link-in"]), "/x")),
        pairs(&[("app/main.rs", "/x")])
    );
    assert_eq!(
        targets(&ctx, &req(&s(&["link-in"]), "/d/")),
        pairs(&[("app/main.rs", "/d/link-in")])
    );
    assert_eq!(
        targets(&ctx, &req(&s(&["link-dir/lib.rs"]), "/x")),
        pairs(&[("app/lib.rs", "/x")])
    );
    for bad in ["link-out", "link-abs", "../x", "app/../../x", "/../x"] {
        let err = ctx.plan(&req(&s(&[bad]), "/x")).unwrap_err().to_string();
        assert!(
            err.contains("forbidden path outside the build context"),
            "{bad}: {err}"
        );
    }
}

#[test]
fn missing_and_ignored_sources_are_named() {
    let f = fixture();
    let ctx = open_dir(&f);
    let err = ctx
        .plan(&req(&s(&["nothere.txt"]), "/x"))
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "COPY failed: \"nothere.txt\" not found in the build context"
    );
    let err = ctx
        .plan(&req(&s(&["a.log"]), "/x"))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("COPY failed: \"a.log\" is excluded by .dockerignore (pattern \"*.log\")"),
        "{err}"
    );
    let err = ctx
        .plan(&req(&s(&["secret/key"]), "/x"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("pattern \"secret\""), "{err}");
    let err = ctx
        .plan(&req(&s(&["https://example.com/x"]), "/x"))
        .unwrap_err()
        .to_string();
    assert_eq!(err, "source can't be a URL for COPY");
    let url = s(&["https://example.com/x"]);
    let mut add = req(&url, "/x");
    add.instruction = "ADD";
    assert_eq!(ctx.plan(&add).unwrap().remote, ["https://example.com/x"]);
}

#[test]
fn excludes_and_parents() {
    let f = fixture();
    let ctx = open_dir(&f);
    let ex = s(&["**/*.bin", "lib.rs"]);
    let app = s(&["app"]);
    let mut r = req(&app, "/d/");
    r.excludes = &ex;
    let t: Vec<String> = targets(&ctx, &r).into_iter().map(|x| x.1).collect();
    assert_eq!(t, ["/d", "/d/data", "/d/main.rs"]);
    let srcs = s(&["app/data/x.bin", "app/./lib.rs"]);
    let mut r = req(&srcs, "/p/");
    r.parents = true;
    assert_eq!(
        targets(&ctx, &r),
        pairs(&[
            ("app/data/x.bin", "/p/app/data/x.bin"),
            ("app/lib.rs", "/p/lib.rs")
        ])
    );
}

#[test]
fn content_keys_cover_bytes_modes_owners_not_mtimes() {
    let f = fixture();
    let srcs = s(&["app"]);
    let key = |own: Ownership| {
        let ctx = open_dir(&f);
        let p = ctx.plan(&req(&srcs, "/d/")).unwrap();
        ctx.prefetch_hashes([&p]).unwrap();
        assert_eq!(ctx.hashes().len(), 3);
        ctx.plan_key(&p, own).unwrap()
    };
    let k1 = key(Ownership::default());
    let main = f.dir.path().join("app/main.rs");
    // Same bytes written again: a new mtime, the same key.
    std::thread::sleep(std::time::Duration::from_millis(20));
    fs::write(&main, "fn main() {}\n").unwrap();
    assert_eq!(key(Ownership::default()), k1);
    assert_ne!(
        key(Ownership {
            uid: 1000,
            gid: 1000,
            chmod: None
        }),
        k1
    );
    assert_ne!(
        key(Ownership {
            uid: 0,
            gid: 0,
            chmod: Some(0o600)
        }),
        k1
    );
    fs::set_permissions(&main, fs::Permissions::from_mode(0o755)).unwrap();
    let k2 = key(Ownership::default());
    assert_ne!(k2, k1);
    fs::write(&main, "fn main() { }\n").unwrap();
    assert_ne!(key(Ownership::default()), k2);
    // Files the COPY does not take do not matter.
    fs::write(f.dir.path().join("keep.txt"), "changed").unwrap();
    fs::write(f.dir.path().join("a.log"), "changed").unwrap();
    assert_ne!(key(Ownership::default()), k1);
}

fn tar_of(dir: &Path) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    b.follow_symlinks(false);
    b.append_dir_all(".", dir).unwrap();
    b.into_inner().unwrap()
}

#[test]
fn archives_and_stdin() {
    let f = fixture();
    let t = tar_of(f.dir.path());
    {
        let ctx = BuildContext::open(
            ContextSource::Archive(Box::new(Cursor::new(t.clone()))),
            DockerfileSource::Default,
            f.staging.path(),
        )
        .unwrap();
        assert!(ctx.index().get("a.log").is_none());
        assert_eq!(targets(&ctx, &req(&s(&["app/*.rs"]), "/d/")).len(), 2);
        // Gzip on stdin is recognized as an archive.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &t).unwrap();
        let ctx = BuildContext::open(
            ContextSource::Stdin(Box::new(Cursor::new(gz.finish().unwrap()))),
            DockerfileSource::Default,
            f.staging.path(),
        )
        .unwrap();
        assert!(ctx.index().get("keep.txt").is_some());
        // A Dockerfile on stdin: no context files at all.
        let ctx = BuildContext::open(
            ContextSource::Stdin(Box::new(Cursor::new(b"FROM busybox\n".to_vec()))),
            DockerfileSource::Default,
            f.staging.path(),
        )
        .unwrap();
        assert_eq!(ctx.dockerfile(), b"FROM busybox\n");
        assert!(ctx.index().is_empty());
        assert_eq!(
            ctx.plan(&req(&s(&["x"]), "/x")).unwrap_err().to_string(),
            "COPY failed: \"x\" not found in the build context"
        );
        // -f inside an archive.
        let ctx = BuildContext::open(
            ContextSource::Archive(Box::new(Cursor::new(t))),
            DockerfileSource::Path("app/main.rs".into()),
            f.staging.path(),
        )
        .unwrap();
        assert_eq!(ctx.dockerfile(), b"fn main() {}\n");
    }
    // Staging directories go away with their contexts.
    assert_eq!(fs::read_dir(f.staging.path()).unwrap().count(), 0);
}

#[test]
fn ignored_dockerfile_is_still_read_but_not_copied() {
    let f = fixture();
    fs::write(
        f.dir.path().join(".dockerignore"),
        "Dockerfile\n.dockerignore\n",
    )
    .unwrap();
    let ctx = open_dir(&f);
    assert_eq!(ctx.dockerfile(), b"FROM scratch\nCOPY . /\n");
    let all = ctx.plan(&req(&s(&["."]), "/")).unwrap();
    assert!(all
        .items
        .iter()
        .all(|i| i.target != "/Dockerfile" && i.target != "/.dockerignore"));
    let missing = tempfile::tempdir().unwrap();
    let err = BuildContext::open(
        ContextSource::Directory(missing.path().into()),
        DockerfileSource::Default,
        f.staging.path(),
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("no Dockerfile"));
}
