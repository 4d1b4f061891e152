//! `berth sandbox --image IMAGE`: the command runs in an image's root
//! filesystem instead of the host's, with the sandbox's rules: the root
//! read-only, the working directory (and `--rw` paths) bound writable at
//! their own paths, `--ro` paths bound read-only, a private `/tmp`, no
//! network but loopback unless asked, no capabilities, no_new_privs,
//! Docker's default seccomp profile and Landlock. It is a container made
//! for the one run (`--rm`), so everything a container gets applies too
//! (user namespace, masked paths, a fresh session keyring).

use super::{Access, Network, Plan};
use crate::model::{CreateRequest, MountKind, MountRequest, NetworkMode};
use anyhow::{bail, Result};

/// The container request that runs `plan` in `image`. `terminal`: our
/// stdin and stdout are a terminal, which the command then gets a pty for.
pub fn request(plan: &Plan, image: &str, terminal: bool) -> Result<CreateRequest> {
    if plan.allow_ports.is_some() {
        bail!(
            "--allow-port is not available with --image: use --network none, or --network host \
             without a port limit"
        );
    }
    let mut req = CreateRequest {
        image: image.to_string(),
        read_only: true,
        ..Default::default()
    };
    // The command as given, whatever the image's ENTRYPOINT.
    req.process.entrypoint = Some(String::new());
    req.process.command = plan.command.clone();
    req.process.workdir = Some(plan.cwd.to_string_lossy().into_owned());
    req.process.interactive = true;
    req.process.tty = terminal;
    req.network.mode = match plan.network {
        Network::None => NetworkMode::None,
        Network::Host => NetworkMode::Host,
    };
    req.lifecycle.auto_remove = true;
    req.security.cap_drop = vec!["ALL".into()];
    req.security.no_new_privileges = true;
    req.security.landlock = true;
    let mut rules: Vec<&super::PathRule> = plan.paths.iter().collect();
    rules.sort_by_key(|r| r.path.components().count());
    for r in rules {
        let destination = r.path.to_string_lossy().into_owned();
        let mount = match r.access {
            Access::ReadWrite | Access::ReadOnly if r.path != std::path::Path::new("/") => {
                MountRequest {
                    kind: MountKind::Bind,
                    source: Some(destination.clone()),
                    destination,
                    read_only: r.access == Access::ReadOnly,
                    ..Default::default()
                }
            }
            // Only /tmp stands for something in an image; the user's home
            // and runtime directory do not exist there.
            Access::Scratch if r.path == std::path::Path::new("/tmp") => MountRequest {
                kind: MountKind::Tmpfs,
                destination,
                tmpfs_options: "mode=1777".into(),
                ..Default::default()
            },
            // Hidden beneath a bound path: an empty read-only tmpfs (a
            // file is refused: say so rather than show it).
            Access::Hidden if covered(plan, &r.path) => {
                if !r.path.is_dir() {
                    bail!(
                        "--hide {}: with --image only directories can be hidden inside a bound \
                         path",
                        r.path.display()
                    );
                }
                MountRequest {
                    kind: MountKind::Tmpfs,
                    destination,
                    read_only: true,
                    tmpfs_options: "size=0".into(),
                    ..Default::default()
                }
            }
            _ => continue,
        };
        req.mounts.push(mount);
    }
    Ok(req)
}

/// Whether `path` lies beneath a path bound into the image.
fn covered(plan: &Plan, path: &std::path::Path) -> bool {
    plan.paths.iter().any(|r| {
        matches!(r.access, Access::ReadWrite | Access::ReadOnly)
            && r.path != std::path::Path::new("/")
            && path != r.path
            && path.starts_with(&r.path)
    })
}

#[cfg(test)]
mod tests {
    use super::super::PathRule;
    use super::*;
    use std::path::PathBuf;

    fn plan(paths: Vec<PathRule>) -> Plan {
        Plan {
            command: vec!["make".into()],
            cwd: PathBuf::from("/work"),
            paths,
            network: Network::None,
            allow_ports: None,
        }
    }

    #[test]
    fn the_request_follows_the_plan() {
        let p = plan(vec![
            PathRule {
                path: "/work".into(),
                access: Access::ReadWrite,
            },
            PathRule {
                path: "/data".into(),
                access: Access::ReadOnly,
            },
            PathRule {
                path: "/tmp".into(),
                access: Access::Scratch,
            },
            PathRule {
                path: "/home/u".into(),
                access: Access::Scratch,
            },
            PathRule {
                path: "/secret".into(),
                access: Access::Hidden,
            },
        ]);
        let r = request(&p, "debian", false).unwrap();
        assert!(r.read_only && r.lifecycle.auto_remove);
        assert_eq!(r.network.mode, NetworkMode::None);
        assert_eq!(r.process.command, ["make"]);
        assert_eq!(r.process.entrypoint.as_deref(), Some(""));
        assert_eq!(r.process.workdir.as_deref(), Some("/work"));
        assert!(r.security.landlock && r.security.no_new_privileges);
        assert_eq!(r.security.cap_drop, ["ALL"]);
        let dests: Vec<(&str, MountKind, bool)> = r
            .mounts
            .iter()
            .map(|m| (m.destination.as_str(), m.kind, m.read_only))
            .collect();
        assert_eq!(
            dests,
            [
                ("/work", MountKind::Bind, false),
                ("/data", MountKind::Bind, true),
                ("/tmp", MountKind::Tmpfs, false)
            ]
        );
        let mut with_ports = p.clone();
        with_ports.allow_ports = Some(vec![443]);
        assert!(request(&with_ports, "debian", false).is_err());
    }
}
