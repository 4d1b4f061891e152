//! /etc/hosts, /etc/hostname and /etc/resolv.conf: generated into the
//! container's directory at each start and bind-mounted over the image's.

use super::fd_path;
use super::inroot::InRoot;
use anyhow::{Context, Result};
use nix::mount::{mount, MsFlags};
use std::path::Path;

/// Writes hosts, hostname and resolv.conf into `dir` (the container's
/// directory), with the contents the container's network decided
/// (`runtime::network::etc`). They are rewritten at each start, so no
/// fsync: a torn file is replaced next time and never outlives the
/// container.
pub(crate) fn write_files(dir: &Path, hostname: &str, hosts: &str, resolv: &str) -> Result<()> {
    for (name, content) in [
        ("hosts", hosts.to_string()),
        ("hostname", format!("{hostname}\n")),
        ("resolv.conf", resolv.to_string()),
    ] {
        std::fs::write(dir.join(name), content)
            .with_context(|| format!("writing the container's {name}"))?;
    }
    Ok(())
}

/// Binds the files from `dir` over /etc/hosts, /etc/hostname and
/// /etc/resolv.conf of the rootfs, creating them if the image has none.
/// A file the user mounted there (`user_targets`) wins, as in Docker.
pub(crate) fn bind_all(root: &InRoot, dir: &Path, user_targets: &[&str]) -> Result<()> {
    root.mkdir_all("/etc", 0o755)
        .context("creating /etc in the container")?;
    for name in ["hosts", "hostname", "resolv.conf"] {
        let dest = format!("/etc/{name}");
        if user_targets.contains(&dest.as_str()) {
            continue;
        }
        let target = match root.resolve(&dest) {
            Ok(fd) => fd,
            Err(_) => root.create_file(&dest, 0o644)?,
        };
        mount(
            Some(&dir.join(name)),
            &fd_path(&target),
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .with_context(|| format!("binding {dest} into the container"))?;
    }
    Ok(())
}

/// apt's configuration for a container whose ownership changes are
/// emulated (fakeroot: a single id mapping): apt drops privileges to
/// `_apt` and checks that it worked, which the emulation cannot make
/// true, so it must stay root (as enroot's and Charliecloud's setups do).
pub(crate) const APT_FAKEROOT: &str =
    "// Written by berth: this container runs without subordinate ids, where \
     ownership changes\n// succeed without effect; apt must not try to drop privileges.\n\
     APT::Sandbox::User \"root\";\n";

/// Where [`APT_FAKEROOT`] goes in the container.
pub(crate) const APT_FAKEROOT_PATH: &str = "/etc/apt/apt.conf.d/00berth-fakeroot";

/// With fakeroot, binds [`APT_FAKEROOT`] (written into `dir`, the
/// container's directory) into an image that has apt, read-only.
pub(crate) fn bind_apt_fakeroot(root: &InRoot, dir: &Path) -> Result<()> {
    let Ok(conf_dir) = root.resolve("/etc/apt/apt.conf.d") else {
        return Ok(());
    };
    if !super::inroot::is_dir(&conf_dir) {
        return Ok(());
    }
    let source = dir.join("apt-fakeroot.conf");
    std::fs::write(&source, APT_FAKEROOT).context("writing the container's apt configuration")?;
    let target = root.create_file(APT_FAKEROOT_PATH, 0o644)?;
    mount(
        Some(&source),
        &fd_path(&target),
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .with_context(|| format!("binding {APT_FAKEROOT_PATH} into the container"))?;
    let mounted = root.resolve(APT_FAKEROOT_PATH)?;
    super::remount_read_only(&fd_path(&mounted), MsFlags::empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_written() {
        let d = tempfile::tempdir().unwrap();
        write_files(
            d.path(),
            "box",
            "127.0.0.1\tlocalhost\n",
            "nameserver 10.0.0.1\n",
        )
        .unwrap();
        assert_eq!(
            std::fs::read_to_string(d.path().join("hostname")).unwrap(),
            "box\n"
        );
        assert!(d.path().join("hosts").exists() && d.path().join("resolv.conf").exists());
    }
}
