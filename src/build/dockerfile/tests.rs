//! Tests of the typed layer: instruction by instruction, and the errors.

use super::*;

fn parse_ok(text: &str) -> Dockerfile {
    parse("Dockerfile", text).unwrap_or_else(|e| panic!("{e}"))
}

fn only(text: &str) -> InstructionKind {
    let df = parse_ok(&format!("FROM scratch\n{text}\n"));
    df.stages[0].instructions[0].kind.clone()
}

fn error(text: &str) -> String {
    parse("Dockerfile", text).unwrap_err().to_string()
}

#[test]
fn stages_and_meta_args() {
    let df = parse_ok("ARG V=1\nARG B\nFROM --platform=$P img:$V AS Build\nRUN x\nfrom build\nCOPY --from=Build /a /b\n");
    assert_eq!(df.meta_args.len(), 2);
    assert_eq!(df.stages.len(), 2);
    let s = &df.stages[0];
    assert_eq!(s.name.as_deref(), Some("build"));
    assert_eq!(s.base, "img:$V");
    assert_eq!(s.platform.as_deref(), Some("$P"));
    assert_eq!(
        s.location,
        Location {
            start_line: 3,
            end_line: 3
        }
    );
    assert_eq!(df.stages[1].index, 1);
    assert_eq!(df.stages[1].display_name(), "stage-1");
    assert!(df.stage_by_name("BUILD").is_some());
}

#[test]
fn run_forms_and_flags() {
    let InstructionKind::Run(r) = only("RUN --mount=type=cache,target=/c --network=none echo  hi")
    else {
        panic!()
    };
    assert_eq!(r.command.args, ["echo  hi"]);
    assert!(r.command.shell_form);
    assert_eq!(r.mounts, ["type=cache,target=/c"]);
    assert_eq!(r.network, Network::None);
    let InstructionKind::Run(r) = only(r#"RUN ["echo", "hi"]"#) else {
        panic!()
    };
    assert_eq!((r.command.args.len(), r.command.shell_form), (2, false));
    let InstructionKind::Run(r) = only("RUN <<EOF\necho $HOME\nEOF") else {
        panic!()
    };
    assert_eq!(r.command.args, ["<<EOF"]);
    assert_eq!(r.command.heredocs[0].content, "echo $HOME\n");
}

#[test]
fn env_label_arg() {
    assert_eq!(
        only("ENV A=1 B=\"x y\""),
        InstructionKind::Env(vec![
            KeyValue {
                key: "A".into(),
                value: "1".into(),
                legacy: false
            },
            KeyValue {
                key: "B".into(),
                value: "\"x y\"".into(),
                legacy: false
            },
        ])
    );
    assert_eq!(
        only("ENV A x y"),
        InstructionKind::Env(vec![KeyValue {
            key: "A".into(),
            value: "x y".into(),
            legacy: true
        }])
    );
    assert_eq!(
        only("ARG A B=2 C="),
        InstructionKind::Arg(vec![
            ArgDecl {
                name: "A".into(),
                default: None
            },
            ArgDecl {
                name: "B".into(),
                default: Some("2".into())
            },
            ArgDecl {
                name: "C".into(),
                default: Some(String::new())
            },
        ])
    );
}

#[test]
fn copy_add_specs() {
    let InstructionKind::Copy(c) =
        only("COPY --from=0 --chown=1:2 --chmod=644 --link --exclude=*.md --parents a b /d/")
    else {
        panic!()
    };
    assert_eq!(c.from.as_deref(), Some("0"));
    assert_eq!(c.spec.sources, ["a", "b"]);
    assert_eq!(c.spec.dest, "/d/");
    assert_eq!(
        (c.spec.chown.as_deref(), c.spec.chmod.as_deref()),
        (Some("1:2"), Some("644"))
    );
    assert!(c.spec.link && c.parents);
    assert_eq!(c.spec.excludes, ["*.md"]);
    let InstructionKind::Copy(c) = only("COPY <<A <<-'B' /d/\nhello $X\nA\n\tworld\n\tB") else {
        panic!()
    };
    assert!(c.spec.sources.is_empty());
    assert_eq!(
        c.spec.inline_sources[0],
        InlineSource {
            name: "A".into(),
            data: "hello $X\n".into(),
            expand: true
        }
    );
    assert_eq!(
        c.spec.inline_sources[1],
        InlineSource {
            name: "B".into(),
            data: "world\n".into(),
            expand: false
        }
    );
    let InstructionKind::Add(a) =
        only("ADD --checksum=sha256:abc --keep-git-dir=false --unpack https://x/y.tgz /z")
    else {
        panic!()
    };
    assert_eq!(a.checksum.as_deref(), Some("sha256:abc"));
    assert_eq!((a.keep_git_dir, a.unpack), (Some(false), Some(true)));
    let InstructionKind::Copy(c) = only(r#"COPY ["a b", "/c d/"]"#) else {
        panic!()
    };
    assert_eq!(
        (c.spec.sources[0].as_str(), c.spec.dest.as_str()),
        ("a b", "/c d/")
    );
}

#[test]
fn healthcheck_shell_entrypoint_onbuild() {
    assert_eq!(
        only("HEALTHCHECK --interval=5s --timeout=1m30s --start-period=1s --start-interval=100ms --retries=3 CMD curl -f x"),
        InstructionKind::Healthcheck(Healthcheck::Check {
            test: vec!["CMD-SHELL".into(), "curl -f x".into()],
            interval: 5_000_000_000,
            timeout: 90_000_000_000,
            start_period: 1_000_000_000,
            start_interval: 100_000_000,
            retries: 3,
        })
    );
    assert_eq!(
        only("healthcheck none"),
        InstructionKind::Healthcheck(Healthcheck::None)
    );
    assert_eq!(
        only(r#"SHELL ["/bin/bash", "-c"]"#),
        InstructionKind::Shell(vec!["/bin/bash".into(), "-c".into()])
    );
    assert_eq!(only("ENTRYPOINT []"), InstructionKind::Entrypoint(None));
    assert_eq!(
        only("ONBUILD RUN echo hi"),
        InstructionKind::Onbuild(Onbuild {
            expression: "RUN echo hi".into(),
            trigger: "RUN".into()
        })
    );
    assert_eq!(
        only("onbuild copy <<EOF /x\nbody\nEOF"),
        InstructionKind::Onbuild(Onbuild {
            expression: "copy <<EOF /x\nbody\nEOF".into(),
            trigger: "COPY".into()
        })
    );
    let trig = parse_onbuild_trigger("copy <<EOF /x\nbody\nEOF").unwrap();
    let InstructionKind::Copy(c) = trig.kind else {
        panic!()
    };
    assert_eq!(c.spec.inline_sources[0].data, "body\n");
    assert_eq!(
        only("EXPOSE 8080 443/tcp 80"),
        InstructionKind::Expose(vec!["443/tcp".into(), "80".into(), "8080".into()])
    );
    assert_eq!(
        only("VOLUME [\"/a\", \"/b\"]"),
        InstructionKind::Volume(vec!["/a".into(), "/b".into()])
    );
    assert_eq!(
        only("USER  app:app "),
        InstructionKind::User("app:app".into())
    );
    assert_eq!(
        only("WORKDIR /a b"),
        InstructionKind::Workdir("/a b".into())
    );
    assert_eq!(
        only("STOPSIGNAL SIGKILL"),
        InstructionKind::StopSignal("SIGKILL".into())
    );
    assert_eq!(
        only("MAINTAINER me <me@x>"),
        InstructionKind::Maintainer("me <me@x>".into())
    );
}

#[test]
fn errors_name_file_line_and_instruction() {
    assert_eq!(
        error("FROM a\nFOOBAR x"),
        "Dockerfile:2: unknown instruction: FOOBAR"
    );
    assert_eq!(
        error("FROM a\nRUNN x"),
        "Dockerfile:2: unknown instruction: RUNN (did you mean RUN?)"
    );
    assert_eq!(
        error("FROM a\ncopi x y"),
        "Dockerfile:2: unknown instruction: copi (did you mean copy?)"
    );
    assert_eq!(
        error("RUN x"),
        "Dockerfile:1: RUN: no build stage in current context"
    );
    assert_eq!(
        error("ARG x"),
        "Dockerfile:1: dockerfile contains no stages to build"
    );
    assert_eq!(error("FROM a\nCOPY x"), "Dockerfile:2: COPY requires at least two arguments, but only one was provided. Destination could not be determined");
    assert_eq!(
        error("FROM a\nCOPY --frm=x a b"),
        "Dockerfile:2: COPY: unknown flag: --frm (did you mean from?)"
    );
    assert_eq!(
        error("FROM a\nCOPY a <<EOF\nx\nEOF"),
        "Dockerfile:2: COPY cannot accept a heredoc as a destination"
    );
    assert_eq!(
        error("FROM a\nSHELL /bin/sh -c"),
        "Dockerfile:2: SHELL requires the arguments to be in JSON form"
    );
    assert_eq!(
        error("FROM a\nSHELL []"),
        "Dockerfile:2: SHELL requires at least one argument"
    );
    assert_eq!(
        error("FROM a\nONBUILD FROM b"),
        "Dockerfile:2: ONBUILD: FROM isn't allowed as an ONBUILD trigger"
    );
    assert_eq!(
        error("FROM a\nONBUILD MAINTAINER b"),
        "Dockerfile:2: ONBUILD: MAINTAINER isn't allowed as an ONBUILD trigger"
    );
    assert_eq!(
        error("FROM a\nONBUILD ONBUILD RUN x"),
        "Dockerfile:2: ONBUILD: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"
    );
    assert_eq!(
        error("FROM a\nONBUILD"),
        "Dockerfile:2: ONBUILD requires at least one argument"
    );
    assert_eq!(
        error("FROM a\nENV"),
        "Dockerfile:2: ENV requires at least one argument"
    );
    assert_eq!(
        error("FROM a\nENV PATH"),
        "Dockerfile:2: ENV must have two arguments"
    );
    assert_eq!(
        error("FROM a\nENV =x"),
        "Dockerfile:2: ENV names can not be blank"
    );
    assert_eq!(
        error("FROM a\nARG =x"),
        "Dockerfile:2: ARG names can not be blank"
    );
    assert_eq!(
        error("FROM a\nWORKDIR"),
        "Dockerfile:2: WORKDIR requires exactly one argument"
    );
    assert_eq!(
        error("FROM a\nVOLUME [\"\"]"),
        "Dockerfile:2: VOLUME specified can not be an empty string"
    );
    assert_eq!(
        error("FROM a b"),
        "Dockerfile:1: FROM requires either one or three arguments"
    );
    assert_eq!(error("FROM a AS 1x"), "Dockerfile:1: FROM: invalid name for build stage: \"1x\", name can't start with a number or contain symbols");
    assert_eq!(
        error("FROM a\nHEALTHCHECK CMD"),
        "Dockerfile:2: HEALTHCHECK: Missing command after HEALTHCHECK CMD"
    );
    assert_eq!(
        error("FROM a\nHEALTHCHECK NONE x"),
        "Dockerfile:2: HEALTHCHECK NONE takes no arguments"
    );
    assert_eq!(
        error("FROM a\nHEALTHCHECK FOO x"),
        "Dockerfile:2: HEALTHCHECK: Unknown type \"FOO\" in HEALTHCHECK (try CMD)"
    );
    assert_eq!(
        error("FROM a\nHEALTHCHECK --interval=1us CMD x"),
        "Dockerfile:2: HEALTHCHECK: Interval \"interval\" cannot be less than 1ms"
    );
    assert_eq!(
        error("FROM a\nHEALTHCHECK --retries=-1 CMD x"),
        "Dockerfile:2: HEALTHCHECK: --retries cannot be negative (-1)"
    );
    assert_eq!(
        error("FROM a\nRUN --network=bridge x"),
        "Dockerfile:2: RUN: invalid network mode \"bridge\""
    );
    assert_eq!(
        error("FROM a\nRUN --mount=from=$X,target=/x x"),
        "Dockerfile:2: RUN: 'from' doesn't support variable expansion, define alias stage instead"
    );
    assert_eq!(
        error("FROM a\nCMD [\"a\", 1]"),
        "Dockerfile:2: CMD: when using JSON array syntax, arrays must be comprised of strings only"
    );
    assert_eq!(
        error("FROM a\nRUN <<EOF\nx"),
        "Dockerfile:2: RUN: unterminated heredoc"
    );
    assert_eq!(
        error("# escape=x\nFROM a"),
        "Dockerfile:1: invalid escape token 'x' does not match ` or \\"
    );
    assert_eq!(
        error("\n# just a comment\n"),
        "Dockerfile:2: file with no instructions"
    );
    assert_eq!(
        error("FROM a\nSTOPSIGNAL --x 9"),
        "Dockerfile:2: STOPSIGNAL: unknown flag: --x"
    );
}
