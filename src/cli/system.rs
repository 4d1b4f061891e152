//! `version`, `info`, `inspect` (of either kind) and man page generation.

use super::args::{CompletionArgs, InfoArgs, InspectArgs, ManArgs, VersionArgs};
use super::output::print_objects;
use crate::store::Store;
use anyhow::{bail, Context, Result};
use serde_json::{json, Value as Json};

pub(crate) fn version(args: VersionArgs) -> Result<()> {
    let uname = nix::sys::utsname::uname()?;
    let v = json!({
        "Client": {
            "Version": env!("CARGO_PKG_VERSION"),
            "ApiVersion": "1.43",
            "Os": "linux",
            "Arch": crate::image::config::host_architecture(),
            "KernelVersion": uname.release().to_string_lossy(),
        }
    });
    if args.format.is_some() {
        return print_objects(args.format.as_deref(), &[v]);
    }
    let c = &v["Client"];
    println!("Client:");
    println!(
        " Version:           {}",
        c["Version"].as_str().unwrap_or_default()
    );
    println!(
        " API version:       {}",
        c["ApiVersion"].as_str().unwrap_or_default()
    );
    println!(
        " OS/Arch:           linux/{}",
        c["Arch"].as_str().unwrap_or_default()
    );
    println!(
        " Kernel version:    {}",
        c["KernelVersion"].as_str().unwrap_or_default()
    );
    println!(" Daemon:            none (every command is its own process)");
    Ok(())
}

pub(crate) fn info(args: InfoArgs) -> Result<()> {
    let store = Store::open_default()?;
    let containers = store.containers()?;
    let mut running = 0;
    for c in &containers {
        if store.observed_state(&c.id)?.status.is_running() {
            running += 1;
        }
    }
    let uname = nix::sys::utsname::uname()?;
    let euid = nix::unistd::geteuid();
    let info = json!({
        "Containers": containers.len(),
        "ContainersRunning": running,
        "ContainersStopped": containers.len() - running,
        "Images": store.images()?.images.len(),
        "Driver": "overlay",
        "DockerRootDir": store.root(),
        "RuntimeDir": store.run_dir()?.to_path_buf(),
        "Rootless": !euid.is_root(),
        "IdMapping": crate::userns::describe_mapping(),
        "KernelVersion": uname.release().to_string_lossy(),
        "OperatingSystem": os_name(),
        "OSType": "linux",
        "Architecture": std::env::consts::ARCH,
        "NCPU": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "ServerVersion": env!("CARGO_PKG_VERSION"),
        "LandlockABI": crate::landlock::abi(),
    });
    if args.format.is_some() {
        return print_objects(args.format.as_deref(), &[info]);
    }
    let s = |k: &str| match &info[k] {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    };
    println!("Client: berth {}", s("ServerVersion"));
    println!(" Containers: {}", s("Containers"));
    println!("  Running: {}", s("ContainersRunning"));
    println!("  Stopped: {}", s("ContainersStopped"));
    println!(" Images: {}", s("Images"));
    println!(" Storage Driver: overlay");
    println!(" Root Dir: {}", s("DockerRootDir"));
    println!(" Runtime Dir: {}", s("RuntimeDir"));
    println!(" Rootless: {}", s("Rootless"));
    println!(" ID Mapping: {}", s("IdMapping"));
    println!(" Kernel Version: {}", s("KernelVersion"));
    println!(" Operating System: {}", s("OperatingSystem"));
    println!(" Architecture: {}", s("Architecture"));
    println!(" CPUs: {}", s("NCPU"));
    println!(
        " Landlock ABI: {}",
        crate::landlock::describe_abi(crate::landlock::abi())
    );
    Ok(())
}

fn os_name() -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                l.strip_prefix("PRETTY_NAME=")
                    .map(|v| v.trim_matches('"').to_string())
            })
        })
        .unwrap_or_else(|| "Linux".into())
}

/// `inspect NAME...`: without `--type`, the first of a container, an
/// image, a network and a volume of that name, in Docker's order.
pub(crate) fn inspect(args: InspectArgs) -> Result<()> {
    const KINDS: [&str; 4] = ["container", "image", "network", "volume"];
    let store = Store::open_default()?;
    let kinds: Vec<&str> = match args.kind.as_deref() {
        None => KINDS.to_vec(),
        Some(k) if KINDS.contains(&k) => vec![k],
        Some(k) => bail!(
            "\"{k}\" is not a valid value for --type: use container, image, network or volume"
        ),
    };
    let index = store.images()?;
    let mut objects = Vec::new();
    let mut missing = Vec::new();
    for name in &args.names {
        let mut found = None;
        for kind in &kinds {
            found = match *kind {
                "container" => match store.resolve_container(name) {
                    Ok(c) => Some(super::inspect::container(&store, &c)?),
                    Err(_) => None,
                },
                "image" => match index.resolve(name) {
                    Ok(img) => Some(super::inspect::image(&store, img)?),
                    Err(_) => None,
                },
                "network" => super::network::inspect_object(&store, name)?,
                _ => super::volume::inspect_object(&store, name),
            };
            if found.is_some() {
                break;
            }
        }
        match found {
            Some(o) => objects.push(o),
            None => missing.push(anyhow::anyhow!("No such object: {name}")),
        }
    }
    print_objects(args.format.as_deref(), &objects)?;
    super::image::report_missing(missing, false)
}

/// `completion SHELL`: the completion script generated from the clap
/// definitions, named as the program was invoked (`berth` or `docker`).
pub(crate) fn completion(args: CompletionArgs) -> Result<()> {
    let mut cmd = super::command();
    let name = cmd.get_name().to_string();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, name, &mut out);
    super::output::write_out(&String::from_utf8_lossy(&out), false)
}

/// Writes `berth.1` and one page per subcommand (`berth-image-ls.1`, ...).
pub(crate) fn generate_man_pages(args: ManArgs) -> Result<()> {
    write_man_pages(&args.dir)
}

/// Generates every man page from the clap definitions into `dir`.
pub fn write_man_pages(dir: &std::path::Path) -> Result<()> {
    use clap::CommandFactory;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut cmd = super::Cli::command();
    cmd.build();
    write_page(dir, &cmd, "berth")
}

fn write_page(dir: &std::path::Path, cmd: &clap::Command, name: &str) -> Result<()> {
    if cmd.is_hide_set() {
        return Ok(());
    }
    let page = cmd.clone().name(name.to_string());
    let mut out = Vec::new();
    clap_mangen::Man::new(page).render(&mut out)?;
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, out).with_context(|| format!("writing {}", path.display()))?;
    for sub in cmd.get_subcommands() {
        write_page(dir, sub, &format!("{name}-{}", sub.get_name()))?;
    }
    Ok(())
}
