//! Evaluation tests: scoping of ARG and ENV, where substitution applies,
//! the arguments each step uses, unconsumed build arguments.

use super::*;
use crate::build::dockerfile::parse;

fn opts(args: &[(&str, &str)]) -> BuildOptions {
    let mut o = BuildOptions::native();
    o.build_platform = Platform::parse("linux/amd64").unwrap();
    o.target_platform = Platform::parse("linux/arm64").unwrap();
    o.build_args = args
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    o
}

/// Evaluates every stage in order, each from an empty image (or from the
/// scope of the stage it names), and returns the values per stage.
/// Per stage: each instruction's value and the arguments it used.
type StageValues = Vec<Vec<(Value, Vec<(String, String)>)>>;

fn run(text: &str, o: &BuildOptions) -> (StageValues, Vec<ResolvedFrom>, Option<String>) {
    let df = parse("Dockerfile", text).unwrap();
    let ev = Evaluator::new(&df, o).unwrap();
    let mut scopes: Vec<Scope> = Vec::new();
    let mut out = Vec::new();
    let mut froms = Vec::new();
    for stage in &df.stages {
        let from = ev.resolve_from(stage).unwrap();
        let mut scope = match df
            .stages
            .iter()
            .position(|s| s.name.as_deref() == Some(from.base.as_str()))
        {
            Some(i) => scopes[i].clone(),
            None => Scope::from_image_env(&["PATH=/bin".to_string()]),
        };
        froms.push(from);
        let vals = ev
            .eval_stage(stage, &mut scope)
            .unwrap()
            .into_iter()
            .map(|e| (e.value, e.used_args))
            .collect();
        out.push(vals);
        scopes.push(scope);
    }
    (out, froms, ev.unconsumed_warning())
}

fn eval_err(text: &str) -> String {
    let df = parse("Dockerfile", text).unwrap();
    let o = opts(&[]);
    let ev = Evaluator::new(&df, &o).unwrap();
    let mut scope = Scope::from_image_env(&[]);
    let stage = &df.stages[0];
    ev.eval_stage(stage, &mut scope).unwrap_err().to_string()
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn run_env(v: &Value) -> Vec<(String, String)> {
    let Value::Run { env, .. } = v else {
        panic!("not RUN: {v:?}")
    };
    env.clone()
}

#[test]
fn global_args_reach_from_only_until_redeclared() {
    let text = "ARG VERSION=1.0\nARG BASE=busybox\nFROM ${BASE}:$VERSION AS a\nRUN echo $VERSION\nWORKDIR /w/$VERSION\nARG VERSION\nRUN echo $VERSION\nWORKDIR /w/$VERSION\n";
    let (vals, froms, warn) = run(text, &opts(&[]));
    assert_eq!(froms[0].base, "busybox:1.0");
    assert_eq!(
        froms[0].used_args,
        pairs(&[("BASE", "busybox"), ("VERSION", "1.0")])
    );
    let s = &vals[0];
    assert!(!run_env(&s[0].0).iter().any(|(k, _)| k == "VERSION"));
    assert_eq!(s[0].1, vec![]);
    assert_eq!(s[1].0, Value::Workdir("/w/".into()));
    assert_eq!(
        s[2].0,
        Value::Arg(vec![("VERSION".into(), Some("1.0".into()))])
    );
    assert!(run_env(&s[3].0).contains(&("VERSION".into(), "1.0".into())));
    assert_eq!(s[3].1, pairs(&[("VERSION", "1.0")]));
    assert_eq!(s[4].0, Value::Workdir("/w/1.0".into()));
    assert_eq!(s[4].1, pairs(&[("VERSION", "1.0")]));
    assert_eq!(warn, None);
}

#[test]
fn build_args_override_defaults_and_unconsumed_ones_are_reported() {
    let text = "ARG G=g\nFROM scratch\nARG A=a\nARG B\nENV E=$A-$B-$G\n";
    let (vals, _, warn) = run(
        text,
        &opts(&[
            ("A", "1"),
            ("B", "2"),
            ("G", "3"),
            ("UNUSED", "x"),
            ("ALSO", "y"),
            ("http_proxy", "p"),
        ]),
    );
    assert_eq!(vals[0][2].0, Value::Env(pairs(&[("E", "1-2-")])));
    assert_eq!(vals[0][2].1, pairs(&[("A", "1"), ("B", "2")]));
    assert_eq!(
        warn.as_deref(),
        Some("[Warning] One or more build-args [ALSO UNUSED] were not consumed")
    );
}

#[test]
fn env_pairs_see_the_values_from_before_the_instruction() {
    let text = "FROM scratch\nENV abc=hello\nENV abc=bye def=$abc\nENV ghi=$abc\n";
    let (vals, _, _) = run(text, &opts(&[]));
    assert_eq!(
        vals[0][1].0,
        Value::Env(pairs(&[("abc", "bye"), ("def", "hello")]))
    );
    assert_eq!(vals[0][2].0, Value::Env(pairs(&[("ghi", "bye")])));
}

#[test]
fn env_overrides_arg_and_the_step_uses_no_arg_then() {
    let text = "FROM scratch\nARG V=arg\nENV V=env\nWORKDIR /$V\nARG V\nWORKDIR /$V\n";
    let (vals, _, _) = run(text, &opts(&[("V", "cli")]));
    assert_eq!(vals[0][2].0, Value::Workdir("/env".into()));
    assert_eq!(vals[0][2].1, vec![]);
    // BuildKit applies ARG and ENV in order: a later ARG with a value wins.
    assert_eq!(vals[0][4].0, Value::Workdir("/cli".into()));
}

#[test]
fn predefined_platform_args_need_a_stage_arg() {
    let text = "FROM --platform=$BUILDPLATFORM busybox AS b\nRUN echo $TARGETARCH\nARG TARGETARCH\nARG BUILDPLATFORM\nLABEL arch=$TARGETARCH build=$BUILDPLATFORM\n";
    let (vals, froms, _) = run(text, &opts(&[]));
    assert_eq!(froms[0].platform.as_deref(), Some("linux/amd64"));
    assert!(!run_env(&vals[0][0].0)
        .iter()
        .any(|(k, _)| k == "TARGETARCH"));
    assert_eq!(
        vals[0][3].0,
        Value::Label(pairs(&[("arch", "arm64"), ("build", "linux/amd64")]))
    );
}

#[test]
fn run_gets_args_and_proxies_but_only_declared_args_in_its_key() {
    let text = "FROM scratch\nARG A=1\nRUN --mount=type=cache,target=/c/$A echo $A\n";
    let (vals, _, warn) = run(text, &opts(&[("HTTP_PROXY", "http://p:3128")]));
    let Value::Run {
        mounts,
        env,
        proxy_env,
        ..
    } = &vals[0][1].0
    else {
        panic!()
    };
    assert_eq!(mounts[0].target.as_deref(), Some("/c/1"));
    assert!(env.contains(&("A".into(), "1".into())));
    assert_eq!(
        proxy_env,
        &pairs(&[
            ("HTTP_PROXY", "http://p:3128"),
            ("http_proxy", "http://p:3128")
        ])
    );
    assert_eq!(vals[0][1].1, pairs(&[("A", "1")]));
    assert_eq!(warn, None);
    // Declared, a proxy becomes an ordinary argument of the step.
    let (vals, _, _) = run(
        "FROM scratch\nARG HTTP_PROXY\nRUN x\n",
        &opts(&[("HTTP_PROXY", "h")]),
    );
    assert_eq!(vals[0][1].1, pairs(&[("HTTP_PROXY", "h")]));
}

#[test]
fn copy_substitution_and_heredoc_bodies() {
    let text = "FROM scratch\nARG UID=1000\nARG DIR=/app\nCOPY --chown=$UID:$UID --chmod=0644 --exclude=$NOT src/${DIR#/} $DIR/\nCOPY <<A <<'B' /etc/\n\"$DIR\" \\$DIR\nA\n$DIR\nB\n";
    let (vals, _, _) = run(text, &opts(&[]));
    let Value::Copy { values, .. } = &vals[0][2].0 else {
        panic!()
    };
    assert_eq!(values.chown.as_deref(), Some("1000:1000"));
    assert_eq!(values.sources, ["src/app"]);
    assert_eq!(values.dest, "/app/");
    assert_eq!(values.excludes, ["$NOT"]);
    assert_eq!(vals[0][2].1, pairs(&[("DIR", "/app"), ("UID", "1000")]));
    let Value::Copy { values, .. } = &vals[0][3].0 else {
        panic!()
    };
    assert_eq!(values.inline_sources[0].data, "\"/app\" $DIR\n");
    assert_eq!(values.inline_sources[1].data, "$DIR\n");
}

#[test]
fn commands_are_left_to_the_shell() {
    let text = "FROM scratch\nARG A=x\nCMD echo $A\nHEALTHCHECK CMD echo $A\nEXPOSE $P 80/tcp\nONBUILD RUN echo $A\n";
    let (vals, _, _) = run(text, &opts(&[]));
    let Value::Cmd(c) = &vals[0][1].0 else {
        panic!()
    };
    assert_eq!(c.args, ["echo $A"]);
    assert_eq!(vals[0][3].0, Value::Expose(vec!["80/tcp".into()]));
    let Value::Onbuild(o) = &vals[0][4].0 else {
        panic!()
    };
    assert_eq!(o.expression, "RUN echo $A");
}

#[test]
fn stages_from_stages_inherit_args_and_env() {
    let text = "FROM scratch AS base\nARG V=1\nENV E=e\nFROM base\nRUN x\nWORKDIR /$V$E\n";
    let (vals, _, _) = run(text, &opts(&[]));
    assert_eq!(vals[1][0].1, pairs(&[("V", "1")]));
    assert_eq!(vals[1][1].0, Value::Workdir("/1e".into()));
}

#[test]
fn errors_name_the_instruction() {
    assert_eq!(
        eval_err("FROM scratch\nCOPY --from=$X a b\n"),
        "Dockerfile:2: COPY: variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround"
    );
    assert_eq!(
        eval_err("FROM scratch\nWORKDIR ${X\n"),
        "Dockerfile:2: WORKDIR: failed to process \"${X\": syntax error: missing '}'"
    );
    assert_eq!(
        eval_err("FROM scratch\nUSER ${U:?must be set}\n"),
        "Dockerfile:2: USER: failed to process \"${U:?must be set}\": U: must be set"
    );
    assert_eq!(
        eval_err("FROM scratch\nRUN --mount=type=$T,target=/x true\n"),
        "Dockerfile:2: RUN: unsupported mount type \"\""
    );
    let df = parse("Dockerfile", "ARG B=\nFROM $B\n").unwrap();
    let o = opts(&[]);
    let ev = Evaluator::new(&df, &o).unwrap();
    assert_eq!(
        ev.resolve_from(&df.stages[0]).unwrap_err().to_string(),
        "Dockerfile:2: FROM: base name ($B) should not be blank"
    );
}
