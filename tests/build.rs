//! `berth build` end to end, as the unprivileged test users: every
//! instruction and flag, the cache (hits, misses, identical rebuilds),
//! multi-stage builds, `.dockerignore`, RUN mounts, outputs, the errors,
//! and a Debian build that installs a package from the mirror.

mod common;

use common::*;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// A build context owned by the user: `files` are (path, contents).
fn context(b: &Berth, files: &[(&str, &str)]) -> PathBuf {
    let dir = b.scratch_dir();
    for (path, contents) in files {
        let p = dir.join(path);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, contents).unwrap();
    }
    chown_tree(b, &dir);
    dir
}

fn chown_tree(b: &Berth, dir: &Path) {
    if running_as_root() && !b.user.is_root() {
        let status = std::process::Command::new("chown")
            .args(["-R", &format!("{}:{}", b.user.uid, b.user.gid)])
            .arg(dir)
            .status()
            .unwrap();
        assert!(status.success());
    }
}

fn build(b: &Berth, ctx: &Path, extra: &[&str]) -> std::process::Output {
    let mut args: Vec<String> = vec!["build".into(), "--progress=plain".into()];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.push(ctx.display().to_string());
    b.cmd(&args)
}

#[track_caller]
fn build_ok(b: &Berth, ctx: &Path, extra: &[&str]) -> String {
    let out = build(b, ctx, extra);
    assert_success(&out, &format!("build {extra:?}"));
    stderr(&out)
}

/// The `#N CACHED` / `#N DONE` outcome of each step vertex, by name.
fn outcomes(log: &str) -> Vec<(String, String)> {
    let mut names = std::collections::HashMap::new();
    let mut out = Vec::new();
    for line in log.lines() {
        let Some(rest) = line.strip_prefix('#') else {
            continue;
        };
        let Some((n, text)) = rest.split_once(' ') else {
            continue;
        };
        if text.starts_with('[') && !names.contains_key(n) {
            names.insert(n.to_string(), text.to_string());
        } else if text == "CACHED" || text.starts_with("DONE") || text.starts_with("ERROR") {
            if let Some(name) = names.get(n) {
                if !name.starts_with("[internal]") {
                    let what = text.split(' ').next().unwrap().trim_end_matches(':');
                    out.push((name.clone(), what.to_string()));
                }
            }
        }
    }
    out
}

fn image_id_from(log: &str) -> String {
    log.lines()
        .find_map(|l| l.split("writing image ").nth(1))
        .map(|r| r.trim_end_matches(" done").to_string())
        .unwrap_or_else(|| panic!("no image id in\n{log}"))
}

fn inspect(b: &Berth, image: &str) -> serde_json::Value {
    let out = b.ok(&["image", "inspect", image]);
    inspect_json(&out).remove(0)
}

fn tmp_is_empty(b: &Berth) -> bool {
    b.tmp_left_after(std::time::Duration::from_secs(5))
        .is_empty()
}

#[test]
fn every_instruction() {
    let server = HttpServer::start(b"downloaded\n");
    each_user(|b| {
        b.load_busybox();
        let mut tarball = Vec::new();
        {
            let gz = flate2_writer(&mut tarball);
            let mut t = tar_builder(gz);
            add_file(&mut t, "pkg/inside.txt", b"from the tar\n");
            finish_tar(t).finish().unwrap();
        }
        let ctx = context(
            b,
            &[
                ("src/a.txt", "a\n"),
                ("src/b.txt", "b\n"),
                ("src/sub/c.txt", "c\n"),
                ("README", "readme\n"),
            ],
        );
        std::fs::write(ctx.join("pkg.tar.gz"), &tarball).unwrap();
        let sum = sha256_hex(b"downloaded\n");
        let dockerfile = format!(
            r#"ARG BASE=busybox
FROM ${{BASE}} AS base
ARG VER=1.0
ENV APP_VER=$VER HOME=/home/app
LABEL org.example.ver=$VER other="two words"
WORKDIR app
WORKDIR sub
RUN ["sh", "-c", "pwd > /where"]
RUN echo 'app:x:1000:1000::/home/app:/bin/sh' >> /etc/passwd && echo 'app:x:1000:' >> /etc/group
COPY --chown=app:app --chmod=640 src/*.txt /data/
COPY src/ README /copied/
COPY README renamed
COPY --link src/a.txt /linked/
COPY --exclude=*.txt src/ /excl/
ADD pkg.tar.gz /extracted/
ADD --checksum=sha256:{sum} {url} /downloads/
RUN <<EOF
echo heredoc-run > /heredoc
EOF
COPY <<EOT /inline.txt
inline $VER
EOT
{user_steps}
EXPOSE 80 53/udp
VOLUME /vol
STOPSIGNAL SIGINT
HEALTHCHECK --interval=30s --retries=2 CMD true
SHELL ["/bin/sh", "-e", "-c"]
MAINTAINER someone
ONBUILD RUN echo triggered > /tmp/onbuild
ENTRYPOINT ["echo"]
CMD ["hello"]
"#,
            url = server.url("file.txt"),
            // With a single id mapped only root exists: a step as another
            // user cannot run there (as with any rootless runtime).
            user_steps = if b.user.subids {
                "USER app\nRUN id -u > /tmp/me"
            } else {
                "RUN echo 1000 > /tmp/me\nUSER app"
            }
        );
        std::fs::write(ctx.join("Dockerfile"), dockerfile).unwrap();
        chown_tree(b, &ctx);
        let log = build_ok(b, &ctx, &["-t", "every"]);
        assert!(
            log.contains("#1 [internal] load build definition from Dockerfile"),
            "{log}"
        );
        assert!(
            log.contains("[ 1/15] FROM docker.io/library/busybox:latest"),
            "{log}"
        );
        assert!(log.contains("[ 2/15] WORKDIR app\n"), "{log}");
        let cfg = inspect(b, "every");
        let c = &cfg["Config"];
        assert_eq!(c["Entrypoint"], serde_json::json!(["echo"]));
        assert_eq!(c["Cmd"], serde_json::json!(["hello"]));
        assert_eq!(c["User"], "app");
        assert_eq!(c["WorkingDir"], "/app/sub");
        assert_eq!(c["StopSignal"], "SIGINT");
        assert_eq!(c["Labels"]["org.example.ver"], "1.0");
        assert_eq!(c["Labels"]["other"], "two words");
        assert!(c["ExposedPorts"]["80/tcp"].is_object(), "{c}");
        assert!(c["ExposedPorts"]["53/udp"].is_object(), "{c}");
        assert!(c["Volumes"]["/vol"].is_object(), "{c}");
        assert_eq!(
            c["Healthcheck"]["Test"],
            serde_json::json!(["CMD-SHELL", "true"])
        );
        assert_eq!(c["Shell"], serde_json::json!(["/bin/sh", "-e", "-c"]));
        assert_eq!(
            c["OnBuild"],
            serde_json::json!(["RUN echo triggered > /tmp/onbuild"])
        );
        let env: Vec<String> = serde_json::from_value(c["Env"].clone()).unwrap();
        assert!(env.contains(&"APP_VER=1.0".to_string()), "{env:?}");
        assert!(env.contains(&"HOME=/home/app".to_string()), "{env:?}");
        assert_eq!(cfg["Author"], "someone");
        // The result runs, with its entrypoint and command.
        assert_eq!(b.ok(&["run", "--rm", "-u", "0", "every"]), "hello\n");
        let out = b.ok(&[
            "run", "--rm", "-u", "0", "--entrypoint", "sh", "every", "-c",
            "cat /where /heredoc /inline.txt /extracted/pkg/inside.txt /downloads/file.txt /tmp/me /app/sub/renamed; \
             stat -c '%n %u:%g %a' /data /data/a.txt /data/b.txt /downloads/file.txt; ls /copied /copied/sub; \
             find /excl /linked | sort",
        ]);
        // Owners other than root exist only with a subordinate range.
        let app = if b.user.subids { "1000:1000" } else { "0:0" };
        assert_eq!(
            out,
            format!(
                "/app/sub\nheredoc-run\ninline 1.0\nfrom the tar\ndownloaded\n1000\nreadme\n\
                 /data {app} 755\n/data/a.txt {app} 640\n/data/b.txt {app} 640\n/downloads/file.txt 0:0 600\n\
                 /copied:\nREADME\na.txt\nb.txt\nsub\n\n/copied/sub:\nc.txt\n\
                 /excl\n/excl/sub\n/excl/sub/c.txt\n/linked\n/linked/a.txt\n"
            )
        );
        // History: one entry per instruction, as BuildKit writes them.
        let hist = b.ok(&[
            "history",
            "--no-trunc",
            "--format",
            "{{.CreatedBy}}",
            "every",
        ]);
        for want in [
            "ENV APP_VER=1.0 HOME=/home/app",
            "WORKDIR /app/sub",
            "RUN |1 VER=1.0 sh -c pwd > /where # buildkit",
            "COPY --chown=app:app --chmod=640 src/*.txt /data/ # buildkit",
            "ADD pkg.tar.gz /extracted/ # buildkit",
            "USER app",
            "EXPOSE [53/udp 80/tcp]",
            "VOLUME [/vol]",
            "CMD [\"hello\"]",
            "ENTRYPOINT [\"echo\"]",
            "MAINTAINER someone",
        ] {
            assert!(hist.lines().any(|l| l == want), "{want:?} not in\n{hist}");
        }
        // ONBUILD triggers run in a later build from the image (as its
        // USER, which needs a subordinate range).
        if b.user.subids {
            let ctx2 = context(
                b,
                &[(
                    "Dockerfile",
                    "FROM every\nUSER root\nRUN cat /tmp/onbuild\n",
                )],
            );
            let log = build_ok(b, &ctx2, &["-t", "child"]);
            assert!(
                log.contains("ONBUILD RUN echo triggered > /tmp/onbuild"),
                "{log}"
            );
            assert!(log.contains(" triggered\n"), "{log}");
            assert_eq!(
                inspect(b, "child")["Config"]["OnBuild"],
                serde_json::Value::Null
            );
        }
        assert!(tmp_is_empty(b));
    });
    drop(server);
}

#[test]
fn cache_hits_misses_and_identical_rebuilds() {
    each_user(|b| {
        b.load_busybox();
        let ctx = context(
            b,
            &[
                (
                    "Dockerfile",
                    "FROM busybox\nRUN echo one > /one\nCOPY early.txt /early\nRUN cat /early > /copy1\nLABEL x=1\nCOPY late.txt /late\nRUN cat /late > /copy2\n",
                ),
                ("early.txt", "early\n"),
                ("late.txt", "late\n"),
            ],
        );
        let first = build_ok(b, &ctx, &["-t", "cached"]);
        assert!(
            outcomes(&first)
                .iter()
                .all(|(n, o)| o == "DONE" || n.contains("FROM")),
            "{first}"
        );
        let id1 = image_id_from(&first);
        // An identical rebuild: every step from the cache, the same image.
        let again = build_ok(b, &ctx, &["-t", "cached"]);
        let steps: Vec<(String, String)> = outcomes(&again)
            .into_iter()
            .filter(|(n, _)| !n.contains("FROM"))
            .collect();
        assert_eq!(steps.len(), 5, "{again}");
        assert!(steps.iter().all(|(_, o)| o == "CACHED"), "{again}");
        assert_eq!(image_id_from(&again), id1);
        assert_eq!(b.image_id("cached"), id1);
        // A file copied late: only the steps from its COPY on run again.
        std::fs::write(ctx.join("late.txt"), "changed\n").unwrap();
        let changed = build_ok(b, &ctx, &["-t", "cached"]);
        let o = outcomes(&changed);
        let state = |prefix: &str| {
            o.iter()
                .find(|(n, _)| n.contains(prefix))
                .map(|(_, s)| s.clone())
                .unwrap_or_default()
        };
        assert_eq!(state("RUN echo one"), "CACHED", "{changed}");
        assert_eq!(state("COPY early.txt"), "CACHED", "{changed}");
        assert_eq!(state("RUN cat /early"), "CACHED", "{changed}");
        assert_eq!(state("COPY late.txt"), "DONE", "{changed}");
        assert_eq!(state("RUN cat /late"), "DONE", "{changed}");
        assert_ne!(image_id_from(&changed), id1);
        assert_eq!(b.run_rm("cached", &["cat", "/copy2"]), "changed\n");
        // A label changes no filesystem state: the steps after it stay cached.
        let df = std::fs::read_to_string(ctx.join("Dockerfile")).unwrap();
        std::fs::write(ctx.join("Dockerfile"), df.replace("LABEL x=1", "LABEL x=2")).unwrap();
        let relabeled = build_ok(b, &ctx, &[]);
        assert!(
            outcomes(&relabeled)
                .iter()
                .filter(|(n, _)| !n.contains("FROM"))
                .all(|(_, s)| s == "CACHED"),
            "{relabeled}"
        );
        // Modification times alone are not a change.
        let t = std::fs::File::options()
            .write(true)
            .open(ctx.join("early.txt"))
            .unwrap();
        t.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(60))
            .unwrap();
        let touched = build_ok(b, &ctx, &[]);
        assert!(
            outcomes(&touched)
                .iter()
                .filter(|(n, _)| !n.contains("FROM"))
                .all(|(_, s)| s == "CACHED"),
            "{touched}"
        );
        // --no-cache runs everything.
        let nocache = build_ok(b, &ctx, &["--no-cache"]);
        assert!(
            outcomes(&nocache)
                .iter()
                .filter(|(n, _)| !n.contains("FROM"))
                .all(|(_, s)| s == "DONE"),
            "{nocache}"
        );
        // The cache survives image prune of the dangling images it needs,
        // and builder prune clears it.
        b.ok(&["rmi", "cached"]);
        b.ok(&["image", "prune", "-f"]);
        let after_prune = build_ok(b, &ctx, &["-t", "cached"]);
        assert!(
            outcomes(&after_prune)
                .iter()
                .filter(|(n, _)| !n.contains("FROM"))
                .all(|(_, s)| s == "CACHED"),
            "{after_prune}"
        );
        let pruned = b.ok(&["builder", "prune", "-a", "-f"]);
        assert!(pruned.contains("Total reclaimed space:"), "{pruned}");
        let cold = build_ok(b, &ctx, &["-t", "cached"]);
        assert!(
            outcomes(&cold)
                .iter()
                .filter(|(n, _)| !n.contains("FROM"))
                .all(|(_, s)| s == "DONE"),
            "{cold}"
        );
        // system df counts the cache; system prune -a clears it too.
        let cache_line = |b: &Berth| {
            b.ok(&["system", "df", "--format", "{{.Type}} {{.TotalCount}}"])
                .lines()
                .find(|l| l.starts_with("Build Cache "))
                .map(str::to_string)
                .unwrap_or_default()
        };
        assert_ne!(cache_line(b), "Build Cache 0");
        let pruned = b.ok(&["system", "prune", "-a", "-f"]);
        assert!(pruned.contains("Deleted build cache objects:"), "{pruned}");
        assert_eq!(cache_line(b), "Build Cache 0");
        assert!(tmp_is_empty(b));
    });
}

#[test]
fn multi_stage_builds_only_what_the_target_needs() {
    each_user(|b| {
        b.load_busybox();
        let ctx = context(
            b,
            &[(
                "Dockerfile",
                "FROM busybox AS build\nRUN mkdir -p /out /other && echo built > /out/app && echo no > /other/x\n\
                 FROM busybox AS unused\nRUN exit 1\n\
                 FROM busybox AS tools\nRUN echo tool > /tool\n\
                 FROM busybox\nCOPY --from=build /out /app\nCOPY --from=tools /tool /tool\nRUN --mount=type=bind,from=build,source=/other,target=/mnt cat /mnt/x > /seen\n",
            )],
        );
        let log = build_ok(b, &ctx, &["-t", "multi"]);
        assert!(
            !log.contains("[unused"),
            "the unused stage was built:\n{log}"
        );
        assert!(log.contains("[build 2/2] RUN"), "{log}");
        assert!(log.contains("[tools 2/2] RUN"), "{log}");
        assert!(
            log.contains("[stage-3 2/4] COPY --from=build /out /app"),
            "{log}"
        );
        let out = b.run_rm(
            "multi",
            &[
                "sh",
                "-c",
                "ls /app; cat /app/app /tool /seen; test -e /other && echo leaked || true",
            ],
        );
        assert_eq!(out, "app\nbuilt\ntool\nno\n");
        // FROM scratch with a file from another stage.
        std::fs::write(
            ctx.join("Dockerfile.scratch"),
            "FROM busybox AS bb\nFROM scratch\nCOPY --from=bb /bin/busybox /busybox\nENTRYPOINT [\"/busybox\"]\nCMD [\"echo\", \"from scratch\"]\n",
        )
        .unwrap();
        chown_tree(b, &ctx);
        let f = ctx.join("Dockerfile.scratch");
        build_ok(b, &ctx, &["-f", f.to_str().unwrap(), "-t", "scratchy"]);
        assert_eq!(b.run_rm("scratchy", &[]), "from scratch\n");
        assert_eq!(
            inspect(b, "scratchy")["RootFS"]["Layers"]
                .as_array()
                .map(Vec::len),
            Some(1)
        );
        // --target stops at a stage; a missing one fails before anything runs.
        let log = build_ok(b, &ctx, &["--target", "tools", "-t", "tools"]);
        assert!(!log.contains("[build"), "{log}");
        assert_eq!(b.run_rm("tools", &["cat", "/tool"]), "tool\n");
        let out = build(b, &ctx, &["--target", "nope"]);
        assert_status(&out, 1, "build --target nope");
        let err = stderr(&out);
        assert!(
            err.contains("target stage \"nope\" could not be found"),
            "{err}"
        );
        assert!(!err.contains("RUN"), "{err}");
    });
}

#[test]
fn dockerignore_rules_end_to_end() {
    each_user(|b| {
        b.load_busybox();
        let ctx = context(
            b,
            &[
                (
                    "Dockerfile",
                    "FROM busybox\nCOPY . /ctx\nRUN cd /ctx && find . | sort\n",
                ),
                (
                    ".dockerignore",
                    "secret*\n**/*.log\nbuild/\n!build/keep.txt\nDockerfile\n",
                ),
                ("secret.txt", "s"),
                ("app.py", "x"),
                ("logs/a.log", "l"),
                ("deep/x/y.log", "l"),
                ("deep/x/y.txt", "t"),
                ("build/out.bin", "o"),
                ("build/keep.txt", "k"),
            ],
        );
        let log = build_ok(b, &ctx, &["-t", "ign"]);
        let listing = b.run_rm("ign", &["sh", "-c", "cd /ctx && find . -type f | sort"]);
        assert_eq!(
            listing, "./.dockerignore\n./app.py\n./build/keep.txt\n./deep/x/y.txt\n",
            "{log}"
        );
        // An excluded file named by COPY: the error says so.
        std::fs::write(ctx.join("Dockerfile"), "FROM busybox\nCOPY secret.txt /s\n").unwrap();
        let out = build(b, &ctx, &[]);
        assert_status(&out, 1, "COPY of an ignored file");
        let err = stderr(&out);
        assert!(
            err.contains("secret.txt") && err.contains(".dockerignore"),
            "{err}"
        );
        // Dockerfile.dockerignore beside a Dockerfile takes precedence.
        std::fs::write(
            ctx.join("Other.Dockerfile"),
            "FROM busybox\nCOPY secret.txt /s\n",
        )
        .unwrap();
        std::fs::write(ctx.join("Other.Dockerfile.dockerignore"), "app.py\n").unwrap();
        chown_tree(b, &ctx);
        let f = ctx.join("Other.Dockerfile");
        build_ok(b, &ctx, &["-f", f.to_str().unwrap(), "-t", "ign2"]);
        assert_eq!(b.run_rm("ign2", &["cat", "/s"]), "s");
    });
}

#[test]
fn run_mounts_network_and_secrets() {
    each_user(|b| {
        b.load_busybox();
        let secret = b.write_file("token", "s3cr3t");
        let ctx = context(
            b,
            &[
                (
                    "Dockerfile",
                    "FROM busybox\n\
                     ARG N\n\
                     RUN --mount=type=cache,target=/cache,id=counter echo $N >> /cache/runs && wc -l < /cache/runs > /count\n\
                     RUN --mount=type=secret,id=tok cat /run/secrets/tok > /got\n\
                     RUN --mount=type=secret,id=tok,env=TOKEN test \"$TOKEN\" = s3cr3t\n\
                     RUN --mount=type=tmpfs,target=/scratch touch /scratch/t && test -e /scratch/t\n\
                     RUN --mount=type=bind,source=data,target=/data cat /data/f > /bound\n\
                     RUN --network=none ip link 2>/dev/null | grep -c LOOPBACK > /links || cat /proc/net/dev | tail -n +3 | wc -l > /links\n",
                ),
                ("data/f", "bound file\n"),
            ],
        );
        let sec = format!("id=tok,src={}", secret.display());
        build_ok(
            b,
            &ctx,
            &["--secret", &sec, "--build-arg", "N=1", "-t", "mounts"],
        );
        build_ok(
            b,
            &ctx,
            &["--secret", &sec, "--build-arg", "N=2", "-t", "mounts"],
        );
        let out = b.run_rm("mounts", &["sh", "-c", "cat /count /got /bound; test -e /scratch/t && echo tmpfs-leaked; test -e /run/secrets/tok && echo secret-leaked; test -e /cache/runs && echo cache-leaked; true"]);
        // The cache directory persisted across the two builds.
        assert_eq!(out, "2\ns3cr3tbound file\n");
        // A required secret that is missing is an error that names it.
        std::fs::write(
            ctx.join("Dockerfile"),
            "FROM busybox\nRUN --mount=type=secret,id=gone,required cat /run/secrets/gone\n",
        )
        .unwrap();
        let out = build(b, &ctx, &[]);
        assert_status(&out, 1, "missing secret");
        assert!(
            stderr(&out).contains("secret gone: not found"),
            "{}",
            stderr(&out)
        );
        // --network none for the whole build.
        std::fs::write(ctx.join("Dockerfile"), "FROM busybox\nRUN cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' ' | sort > /ifs\n").unwrap();
        build_ok(b, &ctx, &["--network", "none", "-t", "nonet"]);
        assert_eq!(b.run_rm("nonet", &["cat", "/ifs"]), "lo\n");
        // --add-host reaches /etc/hosts of RUN steps.
        std::fs::write(
            ctx.join("Dockerfile"),
            "FROM busybox\nRUN grep myhost /etc/hosts > /h\n",
        )
        .unwrap();
        build_ok(b, &ctx, &["--add-host", "myhost:10.1.2.3", "-t", "hosts"]);
        assert_eq!(b.run_rm("hosts", &["cat", "/h"]), "10.1.2.3\tmyhost\n");
    });
}

#[test]
fn outputs_quiet_iidfile_and_contexts() {
    each_user(|b| {
        b.load_busybox();
        let ctx = context(
            b,
            &[
                (
                    "Dockerfile",
                    "FROM busybox\nCOPY f /f\nRUN echo made > /made\n",
                ),
                ("f", "file\n"),
            ],
        );
        // -q prints only the id; --iidfile writes it.
        let iid = b.dir.join("iid");
        let out = b.ok(&[
            "build",
            "-q",
            "--iidfile",
            iid.to_str().unwrap(),
            "-t",
            "quiet",
            ctx.to_str().unwrap(),
        ]);
        let id = out.trim().to_string();
        assert!(id.starts_with("sha256:") && id.len() == 71, "{out:?}");
        assert_eq!(std::fs::read_to_string(&iid).unwrap(), id);
        assert_eq!(b.image_id("quiet"), id);
        // -o type=local and type=tar write the filesystem, no image.
        let local = b.dir.join("local-out");
        b.ok(&[
            "build",
            "-q",
            "-o",
            &format!("type=local,dest={}", local.display()),
            ctx.to_str().unwrap(),
        ]);
        assert_eq!(
            std::fs::read_to_string(local.join("made")).unwrap(),
            "made\n"
        );
        assert!(local.join("bin/busybox").exists());
        let tarball = b.dir.join("out.tar");
        b.ok(&[
            "build",
            "-q",
            "-o",
            &format!("type=tar,dest={}", tarball.display()),
            ctx.to_str().unwrap(),
        ]);
        let mut names = Vec::new();
        let mut ar = tar::Archive::new(std::fs::File::open(&tarball).unwrap());
        for e in ar.entries().unwrap() {
            names.push(e.unwrap().path().unwrap().display().to_string());
        }
        assert!(names.iter().any(|n| n == "made"), "{names:?}");
        // The context as a tar file, on stdin, and a lone Dockerfile on stdin.
        let mut ctx_tar = Vec::new();
        {
            let mut t = tar_builder(&mut ctx_tar);
            add_file(&mut t, "Dockerfile", b"FROM busybox\nCOPY f /f\n");
            add_file(&mut t, "f", b"from tar\n");
            finish_tar(t);
        }
        let tar_path = b.dir.join("ctx.tar");
        std::fs::write(&tar_path, &ctx_tar).unwrap();
        chown_tree(b, &tar_path);
        b.ok(&["build", "-q", "-t", "fromtar", tar_path.to_str().unwrap()]);
        assert_eq!(b.run_rm("fromtar", &["cat", "/f"]), "from tar\n");
        let out = b.cmd_stdin(&["build", "-q", "-t", "stdintar", "-"], &ctx_tar);
        assert_success(&out, "build - < ctx.tar");
        assert_eq!(b.run_rm("stdintar", &["cat", "/f"]), "from tar\n");
        let out = b.cmd_stdin(
            &["image", "build", "-q", "-t", "lone", "-"],
            b"FROM busybox\nRUN echo lone > /l\n",
        );
        assert_success(&out, "image build - < Dockerfile");
        assert_eq!(b.run_rm("lone", &["cat", "/l"]), "lone\n");
        let out = b.cmd_stdin(
            &[
                "buildx",
                "build",
                "-q",
                "-t",
                "viaf",
                "-f",
                "-",
                ctx.to_str().unwrap(),
            ],
            b"FROM busybox\nCOPY f /g\n",
        );
        assert_success(&out, "buildx build -f -");
        assert_eq!(b.run_rm("viaf", &["cat", "/g"]), "file\n");
        // Only the native platform.
        let out = b.cmd(&["build", "--platform", "linux/s390x", ctx.to_str().unwrap()]);
        assert_status(&out, 125, "build --platform linux/s390x");
        assert!(
            stderr(&out).contains("native") || stderr(&out).contains("this machine"),
            "{}",
            stderr(&out)
        );
    });
}

#[test]
fn errors_name_what_went_wrong_and_leave_nothing_behind() {
    each_user(|b| {
        b.load_busybox();
        let ctx = context(
            b,
            &[(
                "Dockerfile",
                "FROM busybox\nRUN echo out1; echo out2 >&2; exit 3\n",
            )],
        );
        let images_before = b.ok(&["images", "-q"]);
        let out = build(b, &ctx, &["-t", "failing"]);
        assert_status(&out, 1, "failing RUN");
        let err = stderr(&out);
        assert!(
            err.contains("ERROR: process \"/bin/sh -c echo out1; echo out2 >&2; exit 3\" did not complete successfully: exit code: 3"),
            "{err}"
        );
        assert!(
            err.contains(" > [2/2] RUN echo out1; echo out2 >&2; exit 3:"),
            "{err}"
        );
        assert!(err.contains(" out2\n"), "{err}");
        assert!(err.contains("Dockerfile:2\n"), "{err}");
        assert_eq!(b.ok(&["images", "-q"]), images_before);
        assert!(b.container_ids().is_empty());
        assert!(tmp_is_empty(b), "tmp/ is not empty after a failed build");
        let cases: &[(&str, &str)] = &[
            (
                "FROM busybox\nFOOBAR x\n",
                "Dockerfile:2: unknown instruction: FOOBAR",
            ),
            (
                "FROM busybox\nCOPY missing.txt /x\n",
                "\"missing.txt\" not found in the build context",
            ),
            (
                "FROM busybox\nCOPY ../x /x\n",
                "forbidden path outside the build context: ../x",
            ),
            ("FROM busybox\nCOPY --from=nostage /x /x\n", "nostage"),
            (
                "FROM busybox\nRUN --mount=type=bind,from=nostage2,target=/m true\n",
                "nostage2",
            ),
        ];
        for (df, want) in cases {
            std::fs::write(ctx.join("Dockerfile"), df).unwrap();
            let out = build(b, &ctx, &[]);
            assert_status(&out, 1, df);
            assert!(
                stderr(&out).contains(want),
                "{df:?}: {want:?} not in\n{}",
                stderr(&out)
            );
        }
        // An unconsumed build argument is a warning, not an error.
        std::fs::write(ctx.join("Dockerfile"), "FROM busybox\nARG USED\n").unwrap();
        let log = build_ok(
            b,
            &ctx,
            &["--build-arg", "USED=1", "--build-arg", "UNUSED=2"],
        );
        assert!(
            log.contains("[Warning] One or more build-args [UNUSED] were not consumed"),
            "{log}"
        );
        // A bad flag is berth's own error.
        let out = b.cmd(&["build", "--network", "bridge0", ctx.to_str().unwrap()]);
        assert_status(&out, 125, "build --network bridge0");
        assert!(b.container_ids().is_empty());
        assert!(tmp_is_empty(b));
    });
}

#[test]
fn an_interrupted_build_leaves_the_store_consistent() {
    each_user(|b| {
        b.load_busybox();
        let ctx = context(
            b,
            &[("Dockerfile", "FROM busybox\nRUN echo started && sleep 60\n")],
        );
        let mut cmd = b.command(&[
            "build",
            "--progress=plain",
            "-t",
            "slow",
            ctx.to_str().unwrap(),
        ]);
        cmd.stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        // Wait until the step runs, then Ctrl-C the whole process group.
        let mut err = child.stderr.take().unwrap();
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&seen).contains(" started\n") {
            let n = err.read(&mut buf).unwrap();
            assert!(
                n > 0,
                "the build ended early:\n{}",
                String::from_utf8_lossy(&seen)
            );
            seen.extend_from_slice(&buf[..n]);
        }
        let status = std::process::Command::new("kill")
            .args(["-INT", "--", &format!("-{}", child.id())])
            .status()
            .unwrap();
        assert!(status.success());
        let ended = child.wait().unwrap();
        assert!(!ended.success());
        // No step is left running, no container, no image; the next build works.
        let ps = std::process::Command::new("pgrep")
            .args(["-f", &format!("__berth-step {}", b.root.display())])
            .output()
            .unwrap();
        assert!(ps.stdout.is_empty(), "a step helper outlived the build");
        assert!(b.container_ids().is_empty());
        assert!(b.cmd(&["image", "inspect", "slow"]).status.code() != Some(0));
        std::fs::write(ctx.join("Dockerfile"), "FROM busybox\nRUN echo done > /d\n").unwrap();
        build_ok(b, &ctx, &["-t", "after"]);
        assert_eq!(b.run_rm("after", &["cat", "/d"]), "done\n");
        assert!(
            tmp_is_empty(b),
            "the interrupted build's tmp/ was not cleaned"
        );
    });
}

/// The interface names of /proc/net/dev (the step's network namespace),
/// sorted, one a line: what a RUN step writes to `/ifs`.
const LIST_IFS: &str = "cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' ' | sort";

/// The host's interfaces, as a step on the host's network lists them.
fn host_interfaces() -> String {
    let dev = std::fs::read_to_string("/proc/net/dev").unwrap();
    let mut names: Vec<&str> = dev
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(str::trim)
        .collect();
    names.sort();
    names.iter().map(|n| format!("{n}\n")).collect()
}

/// An interface list without Docker's veth devices, which containers of
/// others on this machine make and remove at any time.
fn stable(list: &str) -> String {
    list.lines()
        .filter(|n| !n.starts_with("veth"))
        .map(|n| format!("{n}\n"))
        .collect()
}

/// The first IPv4 address of the host that is not loopback.
fn host_ipv4() -> Option<std::net::Ipv4Addr> {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect("192.0.2.1:9").ok()?;
    match s.local_addr().ok()?.ip() {
        std::net::IpAddr::V4(ip) if !ip.is_loopback() => Some(ip),
        _ => None,
    }
}

#[test]
fn run_steps_use_the_build_network() {
    // A server on the host's own address: a step on the default network
    // reaches it through the network's NAT (not the host's loopback,
    // which the default network keeps out of reach).
    let host_ip = host_ipv4().expect("the host has an IPv4 address");
    let listener = std::net::TcpListener::bind((host_ip, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let body = b"via-nat\n";
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(body);
        }
    });
    each_user(|b| {
        b.load_busybox();
        let ctx = context(
            b,
            &[(
                "Dockerfile",
                &format!(
                    "FROM busybox\n\
                     RUN {LIST_IFS} > /ifs\n\
                     RUN ip -o -4 addr show eth0 > /addr; ip route > /route; cat /etc/resolv.conf > /resolv; grep buildkitsandbox /etc/hosts > /own\n\
                     RUN wget -q -O /fetched http://{host_ip}:{port}/\n\
                     RUN --network=none {LIST_IFS} > /ifs-none\n\
                     RUN --network=host {LIST_IFS} > /ifs-host\n\
                     RUN --network=default {LIST_IFS} > /ifs-default\n"
                ),
            )],
        );
        // Default: berth's default network, as `run` and BuildKit.
        build_ok(b, &ctx, &["-t", "net-default"]);
        let net = common::inspect_json(&b.ok(&["network", "inspect", "bridge"])).remove(0);
        let subnet = net["IPAM"]["Config"][0]["Subnet"]
            .as_str()
            .unwrap()
            .to_string();
        // Docker shows no gateway for its default bridge: the first address.
        let (base, bits) = subnet.split_once('/').unwrap();
        let base: std::net::Ipv4Addr = base.parse().unwrap();
        let mask = u32::MAX << (32 - bits.parse::<u32>().unwrap());
        let gateway = std::net::Ipv4Addr::from(u32::from(base) + 1).to_string();
        let in_subnet = |ip: &str| {
            ip.parse::<std::net::Ipv4Addr>()
                .is_ok_and(|ip| u32::from(ip) & mask == u32::from(base) & mask)
        };
        let show = |f: &str| b.run_rm("net-default", &["cat", f]);
        assert_eq!(show("/ifs"), "eth0\nlo\n", "the step's interfaces");
        let addr = show("/addr");
        let ip = addr
            .split("inet ")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .unwrap_or_default()
            .to_string();
        assert!(in_subnet(&ip), "eth0 has an address of {subnet}: {addr}");
        assert!(
            show("/route").contains(&format!("default via {gateway}")),
            "{}",
            show("/route")
        );
        assert!(
            show("/resolv").contains(&format!("nameserver {gateway}")),
            "{}",
            show("/resolv")
        );
        assert!(
            show("/own").starts_with(&format!("{ip}\t")),
            "{}",
            show("/own")
        );
        assert_eq!(show("/fetched"), "via-nat\n");
        assert_eq!(show("/ifs-none"), "lo\n");
        assert_eq!(stable(&show("/ifs-host")), stable(&host_interfaces()));
        assert_eq!(show("/ifs-default"), "eth0\nlo\n");
        // The step gave its address back: no lease stays.
        let leases = b
            .root
            .join("networks")
            .join(net["Id"].as_str().unwrap())
            .join("leases");
        let held: Vec<_> = std::fs::read_dir(&leases)
            .map(|d| d.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(held.is_empty(), "leases left: {held:?}");

        // --network host: the host's interfaces; RUN --network=default
        // follows the build's network.
        build_ok(b, &ctx, &["--network", "host", "-t", "net-host"]);
        let show = |f: &str| b.run_rm("net-host", &["cat", f]);
        assert_eq!(stable(&show("/ifs")), stable(&host_interfaces()));
        assert_eq!(stable(&show("/ifs-default")), stable(&host_interfaces()));
        assert_eq!(show("/ifs-none"), "lo\n");
        // --network none: only lo, and a step that needs the network fails.
        std::fs::write(
            ctx.join("Dockerfile"),
            format!("FROM busybox\nRUN {LIST_IFS} > /ifs\nRUN --network=default {LIST_IFS} > /ifs-default\nRUN --network=host {LIST_IFS} > /ifs-host\n"),
        )
        .unwrap();
        build_ok(b, &ctx, &["--network", "none", "-t", "net-none"]);
        let show = |f: &str| b.run_rm("net-none", &["cat", f]);
        assert_eq!(show("/ifs"), "lo\n");
        assert_eq!(show("/ifs-default"), "lo\n");
        assert_eq!(stable(&show("/ifs-host")), stable(&host_interfaces()));
    });
}

/// A step that started the default network's helper ends while a
/// container keeps that helper running: the build does not wait for the
/// helper (which once held the step's report pipe) and finishes.
#[test]
fn a_step_does_not_wait_for_the_network_helper_it_started() {
    let b = Berth::new(&main_user());
    b.load_busybox();
    let ctx = context(&b, &[("Dockerfile", "FROM busybox\nRUN sleep 3\n")]);
    let mut cmd = b.command(&[
        "build".to_string(),
        "-q".to_string(),
        ctx.display().to_string(),
    ]);
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let started = std::time::Instant::now();
    let mut build = cmd.spawn().unwrap();
    // The step runs and its helper started the network's helper; a
    // container joins that helper and keeps it alive.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    b.ok(&["run", "-d", "--name", "keeper", "busybox", "sleep", "60"]);
    let deadline = started + std::time::Duration::from_secs(30);
    let status = loop {
        if let Some(s) = build.try_wait().unwrap() {
            break Some(s);
        }
        if std::time::Instant::now() > deadline {
            let _ = build.kill();
            let _ = build.wait();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    b.ok(&["rm", "-f", "keeper"]);
    let status = status.expect("the build finished while the network helper ran on");
    assert!(status.success(), "the build failed: {status}");
}

/// /dev/net/tun closed (0600, as on this machine before the test setup)
/// for this build only: a node of our own, bind-mounted over it in a
/// private mount namespace, so that nothing else on the machine sees it.
#[test]
fn tun_device_closed_fails_the_build_clearly() {
    let user = main_user();
    if !running_as_root() || user.is_root() {
        skip_or_fail("hiding /dev/net/tun from one build needs root");
        return;
    }
    let b = Berth::new(&user);
    b.load_busybox();
    let ctx = context(&b, &[("Dockerfile", "FROM busybox\nRUN true\n")]);
    let node = std::env::temp_dir().join(format!("berth-build-tun-{}", std::process::id()));
    let closed = |extra: &[&str]| {
        let mut args: Vec<String> = vec!["build".into(), "--progress=plain".into()];
        args.extend(extra.iter().map(|s| s.to_string()));
        args.push(ctx.display().to_string());
        let inner = b.command(&args);
        let mut cmd = std::process::Command::new("unshare");
        cmd.args(["-m", "--propagation", "private", "sh", "-c"])
            .arg(format!(
                "rm -f {n} && mknod -m 0600 {n} c 10 200 && mount --bind {n} /dev/net/tun && exec \"$@\"",
                n = node.display()
            ))
            .arg("sh")
            .arg(inner.get_program())
            .args(inner.get_args())
            .env_clear()
            .envs(inner.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))))
            .current_dir(inner.get_current_dir().unwrap())
            .stdin(std::process::Stdio::null());
        run(cmd)
    };
    let out = closed(&[]);
    let host = closed(&["--network", "host", "-t", "tun-host"]);
    let _ = std::fs::remove_file(&node);
    assert_status(
        &out,
        1,
        "a build on the default network without /dev/net/tun",
    );
    let e = stderr(&out);
    assert!(
        e.contains("/dev/net/tun")
            && e.contains("its mode is 0600")
            && e.contains("chmod 0666")
            && e.contains("--network host"),
        "{e}"
    );
    assert!(tmp_is_empty(&b), "the failed build left work behind");
    assert_success(&host, "--network host while /dev/net/tun is closed");
}

#[test]
fn debian_build_installs_a_package() {
    let Some(archive) = debian_fixture() else {
        return;
    };
    // With a subordinate range, real ownership; without one (a single id
    // mapping), the runtime's fakeroot seccomp filter makes apt's chowns
    // and its drop to _apt succeed without effect (issue 13 item 1).
    each_user(|b| {
        b.ok(&[
            std::ffi::OsStr::new("load"),
            "-i".as_ref(),
            archive.as_os_str(),
        ]);
        let ctx = context(
            b,
            &[(
                "Dockerfile",
                "FROM debian:bookworm\n\
                 RUN apt-get update && apt-get install -y --no-install-recommends hello && rm -rf /var/lib/apt/lists/*\n\
                 CMD [\"hello\"]\n",
            )],
        );
        build_ok(b, &ctx, &["-t", "hello-deb"]);
        assert_eq!(b.run_rm("hello-deb", &[]), "Hello, world!\n");
    });
}

// ---- helpers: tar archives and a tiny HTTP server ----

fn tar_builder<W: Write>(w: W) -> tar::Builder<W> {
    tar::Builder::new(w)
}

fn add_file<W: Write>(t: &mut tar::Builder<W>, path: &str, data: &[u8]) {
    let mut h = tar::Header::new_ustar();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(1_700_000_000);
    t.append_data(&mut h, path, data).unwrap();
}

fn finish_tar<W: Write>(t: tar::Builder<W>) -> W {
    let mut w = t.into_inner().unwrap();
    w.flush().unwrap();
    w
}

fn flate2_writer(out: &mut Vec<u8>) -> flate2::write::GzEncoder<&mut Vec<u8>> {
    flate2::write::GzEncoder::new(out, flate2::Compression::fast())
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

/// Serves one body for every GET on 127.0.0.1, until dropped.
struct HttpServer {
    port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl HttpServer {
    fn start(body: &'static [u8]) -> HttpServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::spawn(move || {
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut s, _)) => {
                        s.set_nonblocking(false).unwrap();
                        let mut buf = [0u8; 4096];
                        let _ = s.read(&mut buf);
                        let head = format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nLast-Modified: Tue, 14 Nov 2023 22:13:20 GMT\r\nConnection: close\r\n\r\n",
                            body.len()
                        );
                        let _ = s.write_all(head.as_bytes());
                        let _ = s.write_all(body);
                    }
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(5)),
                }
            }
        });
        HttpServer { port, stop }
    }

    fn url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}
