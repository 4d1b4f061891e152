//! From untyped nodes to typed instructions (BuildKit's
//! `instructions/parse.go`): argument counts, accepted flags, exec or shell
//! form, heredoc sources, HEALTHCHECK options, ONBUILD's forbidden
//! triggers, stage names. Messages are BuildKit's.

use super::ast::{go_quote, RawNode};
use super::duration::parse_go_duration;
use super::flags::{Flags, Kind};
use super::heredoc::parse_marker;
use super::instruction::*;
use super::mounts::mount_from;

/// What a node turned into.
pub(super) enum Converted {
    /// A `FROM`: the start of a stage (without its instructions).
    From(Stage),
    Instruction(Instruction),
}

/// Every instruction name, for "did you mean" hints.
pub(super) const INSTRUCTIONS: &[&str] = &[
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

type R<T> = Result<T, String>;

fn at_least_one(cmd: &str) -> String {
    format!("{cmd} requires at least one argument")
}
fn exactly_one(cmd: &str) -> String {
    format!("{cmd} requires exactly one argument")
}
fn no_flags(node: &RawNode) -> R<()> {
    Flags::parse(&node.flags, &[]).map(|_| ())
}

pub(super) fn convert(node: &RawNode) -> R<Converted> {
    let location = Location {
        start_line: node.start_line,
        end_line: node.end_line,
    };
    let original = node.original.trim().to_string();
    let kind = match node.command().as_str() {
        "from" => return parse_from(node, location, original).map(Converted::From),
        "env" => InstructionKind::Env(parse_kvps(node, "ENV")?),
        "label" => InstructionKind::Label(parse_kvps(node, "LABEL")?),
        "maintainer" => {
            if node.args.len() != 1 {
                return Err(exactly_one("MAINTAINER"));
            }
            no_flags(node)?;
            InstructionKind::Maintainer(node.args[0].clone())
        }
        "add" => InstructionKind::Add(parse_add(node)?),
        "copy" => InstructionKind::Copy(parse_copy(node)?),
        "onbuild" => InstructionKind::Onbuild(parse_onbuild(node)?),
        "workdir" => InstructionKind::Workdir(one_arg(node, "WORKDIR")?),
        "user" => InstructionKind::User(one_arg(node, "USER")?),
        "stopsignal" => InstructionKind::StopSignal(one_arg(node, "STOPSIGNAL")?),
        "run" => InstructionKind::Run(parse_run(node)?),
        "cmd" => {
            no_flags(node)?;
            InstructionKind::Cmd(command_line(node))
        }
        "entrypoint" => {
            no_flags(node)?;
            let cmd = command_line(node);
            InstructionKind::Entrypoint((!cmd.args.is_empty()).then_some(cmd))
        }
        "healthcheck" => InstructionKind::Healthcheck(parse_healthcheck(node)?),
        "expose" => {
            if node.args.is_empty() {
                return Err(at_least_one("EXPOSE"));
            }
            no_flags(node)?;
            // BuildKit sorts the ports as written.
            let mut ports = node.args.clone();
            ports.sort();
            InstructionKind::Expose(ports)
        }
        "volume" => {
            if node.args.is_empty() {
                return Err(at_least_one("VOLUME"));
            }
            no_flags(node)?;
            let mut vols = Vec::new();
            for v in &node.args {
                let v = v.trim();
                if v.is_empty() {
                    return Err("VOLUME specified can not be an empty string".to_string());
                }
                vols.push(v.to_string());
            }
            InstructionKind::Volume(vols)
        }
        "arg" => InstructionKind::Arg(parse_arg(node)?),
        "shell" => {
            no_flags(node)?;
            if node.args.is_empty() {
                return Err(at_least_one("SHELL"));
            }
            if !node.json {
                return Err("SHELL requires the arguments to be in JSON form".to_string());
            }
            InstructionKind::Shell(node.args.clone())
        }
        _ => {
            return Err(super::suggest::with_hint(
                format!("unknown instruction: {}", node.keyword),
                &node.keyword,
                INSTRUCTIONS,
                false,
            ))
        }
    };
    Ok(Converted::Instruction(Instruction {
        location,
        original,
        kind,
    }))
}

fn one_arg(node: &RawNode, cmd: &str) -> R<String> {
    if node.args.len() != 1 {
        return Err(exactly_one(cmd));
    }
    no_flags(node)?;
    Ok(node.args[0].clone())
}

fn parse_kvps(node: &RawNode, cmd: &str) -> R<Vec<KeyValue>> {
    no_flags(node)?;
    if node.args.is_empty() {
        return Err(at_least_one(cmd));
    }
    node.args
        .chunks(3)
        .map(|c| {
            if c[0].is_empty() {
                return Err(format!("{cmd} names can not be blank"));
            }
            Ok(KeyValue {
                key: c[0].clone(),
                value: c[1].clone(),
                legacy: c[2].is_empty(),
            })
        })
        .collect()
}

fn parse_arg(node: &RawNode) -> R<Vec<ArgDecl>> {
    if node.args.is_empty() {
        return Err(at_least_one("ARG"));
    }
    no_flags(node)?;
    node.args
        .iter()
        .map(|a| match a.split_once('=') {
            Some(("", _)) => Err("ARG names can not be blank".to_string()),
            Some((k, v)) => Ok(ArgDecl {
                name: k.to_string(),
                default: Some(v.to_string()),
            }),
            None => Ok(ArgDecl {
                name: a.clone(),
                default: None,
            }),
        })
        .collect()
}

fn parse_from(node: &RawNode, location: Location, original: String) -> R<Stage> {
    let name = match node.args.as_slice() {
        [_, as_kw, name] if as_kw.eq_ignore_ascii_case("as") => {
            let lower = name.to_lowercase();
            let mut chars = lower.chars();
            let valid = chars.next().is_some_and(|c| c.is_ascii_lowercase())
                && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c));
            if !valid {
                return Err(format!(
                    "invalid name for build stage: {}, name can't start with a number or contain symbols",
                    go_quote(name)
                ));
            }
            Some(lower)
        }
        [_] => None,
        _ => return Err("FROM requires either one or three arguments".to_string()),
    };
    let flags = Flags::parse(&node.flags, &[("platform", Kind::String)])?;
    Ok(Stage {
        index: 0,
        name,
        base: node.args[0].clone(),
        platform: flags.string("platform"),
        location,
        original,
        instructions: Vec::new(),
    })
}

/// Exec form as given; shell form joined into one string.
fn command_line(node: &RawNode) -> CommandLine {
    let args = if node.json || node.args.is_empty() {
        node.args.clone()
    } else {
        vec![node.args.join(" ")]
    };
    CommandLine {
        args,
        shell_form: !node.json,
        heredocs: node.heredocs.clone(),
    }
}

fn parse_run(node: &RawNode) -> R<Run> {
    let flags = Flags::parse(
        &node.flags,
        &[
            ("mount", Kind::Strings),
            ("network", Kind::String),
            ("security", Kind::String),
        ],
    )?;
    let network = match flags.string("network").as_deref().unwrap_or("default") {
        "default" => Network::Default,
        "none" => Network::None,
        "host" => Network::Host,
        other => return Err(format!("invalid network mode {}", go_quote(other))),
    };
    let security = match flags.string("security").as_deref().unwrap_or("sandbox") {
        "sandbox" => Security::Sandbox,
        "insecure" => Security::Insecure,
        other => return Err(format!("security {} is not valid", go_quote(other))),
    };
    let mounts = flags.strings("mount");
    // `from=` cannot hold variables; BuildKit checks it at parse time.
    for m in &mounts {
        mount_from(m)?;
    }
    let command = command_line(node);
    if command.args.is_empty() && command.heredocs.is_empty() {
        return Err(at_least_one("RUN"));
    }
    Ok(Run {
        command,
        mounts,
        network,
        security,
    })
}

fn parse_copy_spec(node: &RawNode, cmd: &str, flags: &Flags) -> R<CopySpec> {
    if node.args.len() < 2 {
        return Err(format!(
            "{cmd} requires at least two arguments, but only one was provided. Destination could not be determined"
        ));
    }
    let (srcs, dest) = node.args.split_at(node.args.len() - 1);
    let dest = dest[0].clone();
    if parse_marker(&dest).ok().flatten().is_some() {
        return Err(format!("{cmd} cannot accept a heredoc as a destination"));
    }
    let mut sources = Vec::new();
    let mut inline_sources = Vec::new();
    for src in srcs {
        match parse_marker(src).ok().flatten() {
            Some(marker) => {
                let doc = node.heredocs.iter().find(|h| h.name == marker.name);
                let mut data = doc.map(|d| d.content.clone()).unwrap_or_default();
                if marker.chomp {
                    data = data
                        .split_inclusive('\n')
                        .map(|l| l.trim_start_matches('\t'))
                        .collect();
                }
                inline_sources.push(InlineSource {
                    name: marker.name,
                    data,
                    expand: marker.expand,
                });
            }
            None => sources.push(src.clone()),
        }
    }
    Ok(CopySpec {
        sources,
        inline_sources,
        dest,
        chown: flags.string("chown"),
        chmod: flags.string("chmod"),
        link: flags.bool("link").unwrap_or(false),
        excludes: flags.strings("exclude"),
    })
}

fn parse_copy(node: &RawNode) -> R<Copy> {
    if node.args.len() < 2 {
        return Err(parse_copy_spec(node, "COPY", &Flags::default()).unwrap_err());
    }
    let flags = Flags::parse(
        &node.flags,
        &[
            ("chown", Kind::String),
            ("from", Kind::String),
            ("chmod", Kind::String),
            ("link", Kind::Bool),
            ("exclude", Kind::Strings),
            ("parents", Kind::Bool),
        ],
    )?;
    Ok(Copy {
        spec: parse_copy_spec(node, "COPY", &flags)?,
        from: flags.string("from"),
        parents: flags.bool("parents").unwrap_or(false),
    })
}

fn parse_add(node: &RawNode) -> R<Add> {
    if node.args.len() < 2 {
        return Err(parse_copy_spec(node, "ADD", &Flags::default()).unwrap_err());
    }
    let flags = Flags::parse(
        &node.flags,
        &[
            ("chown", Kind::String),
            ("chmod", Kind::String),
            ("link", Kind::Bool),
            ("keep-git-dir", Kind::Bool),
            ("checksum", Kind::String),
            ("unpack", Kind::Bool),
            ("exclude", Kind::Strings),
        ],
    )?;
    Ok(Add {
        spec: parse_copy_spec(node, "ADD", &flags)?,
        checksum: flags.string("checksum"),
        keep_git_dir: flags.bool("keep-git-dir"),
        unpack: flags.bool("unpack"),
    })
}

fn parse_onbuild(node: &RawNode) -> R<Onbuild> {
    let Some(sub) = &node.sub else {
        return Err(at_least_one("ONBUILD"));
    };
    no_flags(node)?;
    let trigger = sub.keyword.trim().to_uppercase();
    match trigger.as_str() {
        "ONBUILD" => return Err("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".to_string()),
        "MAINTAINER" | "FROM" => {
            return Err(format!("{trigger} isn't allowed as an ONBUILD trigger"))
        }
        _ => {}
    }
    // The trigger text without the ONBUILD keyword, heredoc bodies appended
    // so that the later build can parse it back.
    let orig = node
        .original
        .trim_start_matches([' ', '\t', '\n', '\x0c', '\r']);
    let mut expression = orig[node.keyword.len().min(orig.len())..]
        .trim_start_matches([' ', '\t', '\n', '\x0c', '\r'])
        .to_string();
    for h in &node.heredocs {
        expression.push('\n');
        expression.push_str(&h.content);
        expression.push_str(&h.name);
    }
    Ok(Onbuild {
        expression,
        trigger,
    })
}

fn parse_healthcheck(node: &RawNode) -> R<Healthcheck> {
    let Some(typ) = node.args.first() else {
        return Err(at_least_one("HEALTHCHECK"));
    };
    let typ = typ.to_uppercase();
    let args = &node.args[1..];
    if typ == "NONE" {
        if !args.is_empty() {
            return Err("HEALTHCHECK NONE takes no arguments".to_string());
        }
        no_flags(node)?;
        return Ok(Healthcheck::None);
    }
    let flags = Flags::parse(
        &node.flags,
        &[
            ("interval", Kind::String),
            ("timeout", Kind::String),
            ("start-period", Kind::String),
            ("start-interval", Kind::String),
            ("retries", Kind::String),
        ],
    )?;
    if typ != "CMD" {
        return Err(format!(
            "Unknown type {} in HEALTHCHECK (try CMD)",
            go_quote(&typ)
        ));
    }
    let cmd: Vec<String> = if node.json || args.is_empty() {
        args.to_vec()
    } else {
        vec![args.join(" ")]
    };
    if cmd.is_empty() {
        return Err("Missing command after HEALTHCHECK CMD".to_string());
    }
    let mut test = vec![if node.json { "CMD" } else { "CMD-SHELL" }.to_string()];
    test.extend(cmd);
    let interval = |name: &str| -> R<u64> {
        let Some(v) = flags.string(name).filter(|v| !v.is_empty()) else {
            return Ok(0);
        };
        let d = parse_go_duration(&v)?;
        if d == 0 {
            return Ok(0);
        }
        if d < 1_000_000 {
            return Err(format!(
                "Interval {} cannot be less than 1ms",
                go_quote(name)
            ));
        }
        Ok(d as u64)
    };
    let retries = match flags.string("retries").filter(|v| !v.is_empty()) {
        None => 0,
        Some(v) => {
            let n: i64 = v
                .parse()
                .ok()
                .filter(|n: &i64| i32::try_from(*n).is_ok())
                .ok_or_else(|| {
                    format!("strconv.ParseInt: parsing {}: invalid syntax", go_quote(&v))
                })?;
            if n < 0 {
                return Err(format!("--retries cannot be negative ({n})"));
            }
            n as u32
        }
    };
    Ok(Healthcheck::Check {
        test,
        interval: interval("interval")?,
        timeout: interval("timeout")?,
        start_period: interval("start-period")?,
        start_interval: interval("start-interval")?,
        retries,
    })
}
