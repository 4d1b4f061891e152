//! Parsing `run` (and `create`, `exec`, `start`, also under `container`)
//! without building the clap tree of every command.
//!
//! Why: `berth run --rm --network none busybox true` takes about 6 ms, and
//! parsing its arguments took 0.45-0.6 ms of that (issue 8, item 3):
//! `Cli::command()` makes the whole derived tree (about 40 commands, 25
//! more under `container`, their abouts; only their flags are deferred)
//! and `try_get_matches` then builds the top level and propagates `--root`
//! into every command before it reaches `run`'s flags. Here the tree holds
//! only the global options (`GlobalArgs`, exactly as `Cli` defines them)
//! and the one command named, built from the same `Args` derives, and the
//! same `Cli::from_arg_matches` makes the same `Cli` value.
//!
//! Anything else goes the old way: this is tried only when argv names one
//! of these commands (after `--root PATH` if given), and every clap error
//! — including `--help`, which clap reports as an error, and a bad flag —
//! returns `None`, so the caller parses again with the full tree, whose
//! messages, help texts, exit codes and `docker` name are unchanged. A
//! command line this tree accepts is parsed identically by the full one:
//! its top level accepts only `--root` and the one command, which the full
//! tree defines the same way (`tests` below compare both on many lines).
//!
//! Measured (issue 8, a machine shared with other builds, so ranges):
//! warm, in a loop (`parse_cost` below, release), parsing `run --rm
//! --network none busybox true` took 118-166 µs the full way, of which
//! `Cli::command()` 22-52 µs (the rest, reading clap's code: mostly the
//! top level's build, which clones `--root` into every command), and
//! 64-96 µs here; parsing `run`'s tree alone, without a `berth` level
//! above it, was no cheaper (87-90 µs). In a fresh process
//! (`BERTH_TRACE`, medians of 21 `run`s, "arguments parsed") it went from
//! 0.50-0.59 ms to 0.28-0.34 ms; of 0.28 ms, making `run`'s ~100 flags
//! took 0.17 (code run for the first time), matching 0.09 and
//! `from_arg_matches` 0.04.

use super::args::{Cli, ExecArgs, GlobalArgs, RunArgs, StartArgs};
use clap::{Args, Command, FromArgMatches};
use std::ffi::OsString;

/// The command named `name` with its flags, if it is one parsed here.
fn command(name: &str) -> Option<Command> {
    let (name, flags): (&'static str, fn(Command) -> Command) = match name {
        "run" => ("run", RunArgs::augment_args),
        "create" => ("create", RunArgs::augment_args),
        "exec" => ("exec", ExecArgs::augment_args),
        "start" => ("start", StartArgs::augment_args),
        _ => return None,
    };
    Some(flags(Command::new(name)))
}

/// `args` (argv, the program's name first) parsed with a tree of only the
/// command it names, or `None`: not one of these commands, or anything clap
/// refuses or answers with help (then the full tree must parse it).
pub(super) fn parse(args: &[OsString]) -> Option<Cli> {
    let matches = tree(args)?.try_get_matches_from(args).ok()?;
    Cli::from_arg_matches(&matches).ok()
}

/// The tree for the command named in `args`: `berth` with the global
/// options, then `container` if named, then the command with its flags.
fn tree(args: &[OsString]) -> Option<Command> {
    let mut words = args.iter().skip(1).map(|a| a.to_str());
    let mut word = words.next()??;
    while word == "--root" || word.starts_with("--root=") {
        if word == "--root" {
            words.next()?;
        }
        word = words.next()??;
    }
    let in_container = word == "container";
    if in_container {
        word = words.next()??;
    }
    let mut cmd = command(word)?;
    if in_container {
        cmd = Command::new("container")
            .subcommand_required(true)
            .arg_required_else_help(true)
            .subcommand(cmd);
    }
    let top = Command::new("berth")
        .subcommand_required(true)
        .arg_required_else_help(true)
        .disable_help_subcommand(true);
    Some(GlobalArgs::augment_args(top).subcommand(cmd))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn argv(line: &str) -> Vec<OsString> {
        std::iter::once("berth")
            .chain(line.split_whitespace())
            .map(OsString::from)
            .collect()
    }

    /// The full tree's result, as `cli::main` gets it.
    fn full(args: &[OsString]) -> Result<Cli, clap::Error> {
        let matches = super::super::command().try_get_matches_from(args)?;
        Cli::from_arg_matches(&matches)
    }

    #[test]
    fn the_same_cli_as_the_full_tree() {
        let lines = [
            "run --rm --network none busybox true",
            "run busybox",
            "run -it busybox sh",
            "run -i -t --rm busybox sh -c echo",
            "run -d --name web -p 8080:80 -p 127.0.0.1:8443:443/tcp nginx",
            "run -e A=1 -e B=2 --env C -v /tmp:/data -v vol:/v:ro busybox env",
            "run --rm --name=x -h h2 -u 1000:1000 -w /tmp busybox pwd",
            "run --network=none --dns 1.1.1.1 --add-host a:1.2.3.4 busybox",
            "run --rm busybox -- ls -l",
            "run --rm -- busybox ls",
            "run busybox ls -la --color --rm -e X",
            "run busybox --name not-a-flag",
            "run --entrypoint /bin/sh busybox -c 'echo hi'",
            "run --label a=b -l c=d --label-file /dev/null busybox",
            "run --mount type=tmpfs,dst=/t --tmpfs /run --read-only busybox",
            "run --cap-add NET_ADMIN --cap-drop ALL --security-opt no-new-privileges busybox",
            "run --memory 64m --cpus 1.5 --pids-limit 10 --ulimit nofile=10:20 busybox",
            "run --restart on-failure:3 --stop-timeout 5 --stop-signal TERM busybox",
            "run --health-cmd true --health-interval 1s busybox",
            "run --sig-proxy=false --detach-keys ctrl-a busybox",
            "run --sig-proxy false busybox",
            "run --pull never -q --platform linux/amd64 busybox",
            "run --cidfile /tmp/cid --init --privileged busybox",
            "run --log-driver none --log-opt max-size=1m busybox",
            "run --ipc host --pid host --uts host --userns keep-id busybox",
            "run --sysctl net.ipv4.ip_forward=1 --shm-size 1m busybox",
            "run -P --expose 80 busybox",
            "run --root /tmp/store busybox",
            "run busybox --root /tmp/store",
            "--root /tmp/store run --rm busybox true",
            "--root=/tmp/store run busybox",
            "--root /a run --root /b busybox",
            "create --name c busybox sleep 1",
            "create -it busybox",
            "container run --rm busybox true",
            "container run -d -p 80 busybox",
            "container create busybox",
            "--root /s container run busybox",
            "exec c ls",
            "exec -it -e A=1 -u root -w / c sh -c 'ls -l'",
            "exec -d c -- ls",
            "exec c ls -la --help",
            "container exec c true",
            "start c",
            "start -ai c1 c2",
            "start --detach-keys ctrl-x c",
            "container start -a c",
        ];
        for line in lines {
            let args = argv(line);
            let full = full(&args).unwrap_or_else(|e| panic!("{line}: {e}"));
            let fast = parse(&args).unwrap_or_else(|| panic!("not parsed fast: {line}"));
            assert_eq!(format!("{fast:?}"), format!("{full:?}"), "{line}");
        }
    }

    #[test]
    fn errors_and_help_go_to_the_full_tree() {
        let lines = [
            "run",
            "run --help",
            "run --rm --help busybox",
            "run -h",
            "run --no-such-flag busybox",
            "run --rm=yes busybox",
            "run --sig-proxy=maybe busybox",
            "run --name",
            "run -V busybox",
            "run --version busybox",
            "--root",
            "--root /x",
            "--root /x --version run busybox",
            "--root /x -h run busybox",
            "--root /x --root /y run busybox",
            "exec c",
            "exec --help",
            "exec -h c ls",
            "start",
            "start --help",
            "container run",
            "container run --help",
            "container --help run busybox",
            "container help run",
            "container",
        ];
        for line in lines {
            let args = argv(line);
            assert!(parse(&args).is_none(), "parsed fast: {line}");
            assert!(full(&args).is_err(), "the full tree accepts: {line}");
        }
    }

    #[test]
    fn other_commands_are_not_tried() {
        for line in [
            "ps",
            "--version",
            "-h",
            "images",
            "container ls",
            "compose run web",
            "image ls",
            "",
        ] {
            assert!(tree(&argv(line)).is_none(), "{line}");
        }
    }

    #[test]
    fn global_options_are_those_of_cli() {
        let show = |cmd: &Command| {
            cmd.get_arguments()
                .filter(|a| a.is_global_set())
                .map(|a| format!("{a:?}"))
                .collect::<Vec<_>>()
        };
        let fast = tree(&argv("run busybox")).unwrap();
        assert_eq!(show(&fast), show(&Cli::command()));
        assert!(!show(&fast).is_empty());
    }

    /// `cargo test --release --lib fast_parse::tests::parse_cost -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn parse_cost() {
        let args = argv("run --rm --network none busybox true");
        let n = 2000;
        let time = |what: &str, f: &dyn Fn()| {
            f();
            let t = std::time::Instant::now();
            for _ in 0..n {
                f();
            }
            println!(
                "{what}: {:.1} µs",
                t.elapsed().as_secs_f64() * 1e6 / n as f64
            );
        };
        time("Cli::command()", &|| {
            drop(std::hint::black_box(Cli::command()))
        });
        time("full parse", &|| drop(std::hint::black_box(full(&args))));
        time("fast tree", &|| drop(std::hint::black_box(tree(&args))));
        time("fast parse", &|| drop(std::hint::black_box(parse(&args))));
        time("fast match", &|| {
            drop(std::hint::black_box(
                tree(&args).unwrap().try_get_matches_from(&args),
            ))
        });
        time("run alone", &|| {
            let m = GlobalArgs::augment_args(RunArgs::augment_args(Command::new("run")))
                .no_binary_name(true)
                .try_get_matches_from(&args[2..])
                .unwrap();
            drop(std::hint::black_box(RunArgs::from_arg_matches(&m)))
        });
        time("full match", &|| {
            drop(std::hint::black_box(
                super::super::command().try_get_matches_from(&args),
            ))
        });
    }
}
