//! /etc/hosts, /etc/hostname and /etc/resolv.conf: generated into the
//! container's directory at each start and bind-mounted over the image's.

use super::fd_path;
use super::inroot::InRoot;
use anyhow::{Context, Result};
use nix::mount::{mount, MsFlags};
use std::path::Path;

/// Nameservers Docker puts in when the host's are loopback addresses that
/// a private network namespace cannot reach.
const FALLBACK_NAMESERVERS: [&str; 2] = ["8.8.8.8", "8.8.4.4"];

pub(crate) fn hosts(hostname: &str) -> String {
    // The container's own name resolves to a loopback address, as on a
    // Debian host, so that tools which look up their own name work.
    format!(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
         fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n\
         ff02::2\tip6-allrouters\n127.0.1.1\t{hostname}\n"
    )
}

/// The host's resolv.conf, with loopback nameservers replaced when the
/// container cannot reach the host's loopback (private network namespace).
pub(crate) fn resolv_conf(host: &str, private_net: bool) -> String {
    if !private_net {
        return host.to_string();
    }
    let mut out = String::new();
    let mut servers = 0;
    for line in host.lines() {
        let mut f = line.split_whitespace();
        if f.next() == Some("nameserver") {
            let addr = f.next().unwrap_or("");
            if addr.starts_with("127.") || addr == "::1" {
                continue;
            }
            servers += 1;
        }
        out.push_str(line);
        out.push('\n');
    }
    if servers == 0 {
        for s in FALLBACK_NAMESERVERS {
            out.push_str(&format!("nameserver {s}\n"));
        }
    }
    out
}

/// Writes the three files into `dir` (the container's directory). They
/// are rewritten at each start, so no fsync: a torn file is replaced next
/// time and never outlives the container.
pub(crate) fn write_all(dir: &Path, hostname: &str, private_net: bool) -> Result<()> {
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    for (name, content) in [
        ("hosts", hosts(hostname)),
        ("hostname", format!("{hostname}\n")),
        ("resolv.conf", resolv_conf(&host_resolv, private_net)),
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
    fn hosts_names_the_container() {
        let h = hosts("abc123");
        assert!(h.starts_with("127.0.0.1\tlocalhost\n"));
        assert!(h.ends_with("127.0.1.1\tabc123\n"));
    }

    #[test]
    fn loopback_nameservers_are_replaced_only_in_a_private_net() {
        let host = "search lan\nnameserver 127.0.0.53\noptions edns0\n";
        assert_eq!(resolv_conf(host, false), host);
        assert_eq!(
            resolv_conf(host, true),
            "search lan\noptions edns0\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n"
        );
        let mixed = "nameserver 127.0.0.1\nnameserver 10.0.0.1\n";
        assert_eq!(resolv_conf(mixed, true), "nameserver 10.0.0.1\n");
    }

    #[test]
    fn files_are_written() {
        let d = tempfile::tempdir().unwrap();
        write_all(d.path(), "box", false).unwrap();
        assert_eq!(
            std::fs::read_to_string(d.path().join("hostname")).unwrap(),
            "box\n"
        );
        assert!(d.path().join("hosts").exists() && d.path().join("resolv.conf").exists());
    }
}
