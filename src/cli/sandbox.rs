//! `berth sandbox [OPTIONS] -- COMMAND [ARGS...]`: a host command run
//! isolated (the flags here, the work in `crate::sandbox`).

use super::ExitStatus;
use crate::sandbox::{self, Plan, Request};
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
#[command(
    about = "Run a host command isolated: read-only system, writable working directory, no network",
    long_about = "Run a host command isolated, for one-off runs of code you do not trust (a build \
        script, a downloaded tool).\n\n\
        The command sees the host's root filesystem read-only and the working directory \
        writable. /tmp, /dev/shm, $HOME and $XDG_RUNTIME_DIR are private, empty and writable \
        (what is written there is gone when the command ends), unless the working directory is \
        one of them. --rw, --ro and --hide change what a path is; the deepest rule decides, as \
        with mounts.\n\n\
        It runs in new user, mount, pid, ipc and uts namespaces (and a network namespace with \
        only loopback, by default), without capabilities, with no_new_privs, Docker's default \
        seccomp profile (and TIOCSTI denied: the command shares your terminal), and a Landlock \
        ruleset that enforces the same filesystem rules in the kernel. With Landlock ABI 4 \
        (Linux 6.7) --allow-port limits TCP bind and connect to the ports given; with ABI 6 \
        (Linux 6.12) the command cannot connect to abstract unix sockets or signal processes \
        outside the sandbox. `berth info` shows the kernel's ABI.\n\n\
        Where user namespaces are not allowed, the command still runs with Landlock, seccomp \
        and no_new_privs, and berth says which isolation it could not add (hidden paths are \
        then denied rather than empty, and /tmp is a private directory given as $TMPDIR).\n\n\
        The environment is passed on as it is; descriptors other than 0, 1 and 2 are not. The \
        exit status is the command's; 125 means berth failed, 126 the command could not be \
        run, 127 it was not found.",
    after_help = "Examples:\n  \
        berth sandbox -- ./configure && berth sandbox -- make\n  \
        berth sandbox --ro . --rw ./build -- sh build.sh\n  \
        berth sandbox --network host --allow-port 443 -- ./downloaded-tool --update\n  \
        berth sandbox --hide ~/.ssh --ro ~/.config/tool -- tool\n  \
        berth sandbox --image debian -- ./build.sh"
)]
pub struct SandboxArgs {
    /// Make PATH writable (repeatable)
    #[arg(long = "rw", value_name = "PATH")]
    pub rw: Vec<PathBuf>,
    /// Make PATH read-only, e.g. inside the writable working directory
    /// or to show a file of $HOME (repeatable)
    #[arg(long = "ro", value_name = "PATH")]
    pub ro: Vec<PathBuf>,
    /// Hide PATH: an empty directory, or an empty file (repeatable)
    #[arg(long = "hide", value_name = "PATH")]
    pub hide: Vec<PathBuf>,
    /// Network: none (loopback only) or host; `default`, berth's
    /// userspace network, does not exist yet
    #[arg(long, value_name = "NETWORK", default_value = "none")]
    pub network: String,
    /// Allow TCP bind and connect to PORT only (repeatable; needs
    /// Landlock ABI 4, Linux 6.7)
    #[arg(long = "allow-port", value_name = "PORT")]
    pub allow_port: Vec<u16>,
    /// Run the command in IMAGE's root filesystem (read-only) instead of
    /// the host's: the working directory and --rw/--ro paths are bound at
    /// their own paths, /tmp is private; the command runs as root of the
    /// container (you, outside it), with no capabilities
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<String>,
    /// The command and its arguments
    #[arg(value_name = "COMMAND", required = true, trailing_var_arg = true)]
    pub command: Vec<String>,
}

pub fn sandbox(args: SandboxArgs) -> Result<()> {
    let plan = Plan::new(&Request {
        command: args.command,
        read_write: args.rw,
        read_only: args.ro,
        hide: args.hide,
        network: args.network,
        allow_ports: args.allow_port,
    })?;
    if let Some(image) = &args.image {
        return in_image(&plan, image);
    }
    let code = match sandbox::run(&plan) {
        Ok(code) => code,
        // What a child of the sandbox sent back (it prints nothing itself).
        Err(e) => match e.downcast::<crate::model::StartFailure>() {
            Ok(f) => {
                eprintln!("Error: berth sandbox: {}", f.message);
                f.code
            }
            Err(e) => return Err(e),
        },
    };
    match code {
        0 => Ok(()),
        code => Err(ExitStatus(code).into()),
    }
}

/// `--image`: a container for the one run, attached as `run --rm -i`.
fn in_image(plan: &Plan, image: &str) -> Result<()> {
    use crate::image::registry::pull::{ensure_image, PullPolicy};
    let terminal = nix::unistd::isatty(std::io::stdin()).unwrap_or(false)
        && nix::unistd::isatty(std::io::stdout()).unwrap_or(false);
    let mut request = sandbox::image::request(plan, image, terminal)?;
    let store = crate::store::Store::open_default()?;
    crate::userns::enter()?;
    request.image_id = Some(ensure_image(&store, image, PullPolicy::Missing, false)?.id);
    let record = crate::runtime::lifecycle::create(&store, &request)?;
    let opts = crate::runtime::attach_client::AttachOptions {
        stdin: true,
        tty: terminal,
        detach_keys: crate::runtime::attach_client::parse_detach_keys("ctrl-p,ctrl-q")?,
        sig_proxy: !terminal,
        signal_target: None,
        output: Default::default(),
    };
    super::run::run_attached(&store, &record, &opts)
}
