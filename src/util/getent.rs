//! The host's name service, asked through its own `getent` program.
//!
//! berth's executable is linked statically, glibc included (see
//! `scripts/rustc-wrapper`). A static glibc's name service functions
//! (`getpwuid_r`, `getgrgid_r`, `getaddrinfo`) load the modules that
//! /etc/nsswitch.conf names (`systemd`, `sss`, `ldap`, `mdns4_minimal`,
//! `myhostname`), which are built against the shared libc and crash a
//! static process (seen: `libnss_systemd` for a uid missing from
//! /etc/passwd). So berth never calls them: what its files do not answer
//! (`util::passwd`, the registry client's resolver) is asked of `getent`,
//! the dynamically linked tool every glibc system has, which answers from
//! the same configuration as any other program there (directory users of
//! a cluster, host names from DNS or mDNS). `tests/static_link.rs` checks
//! that none of those functions is linked in.

use std::io;
use std::process::{Command, Stdio};

/// Where `getent` is (glibc's `libc-bin` puts it in /usr/bin; older
/// systems in /bin); else it is looked for in `PATH`.
const PLACES: [&str; 2] = ["/usr/bin/getent", "/bin/getent"];

/// The lines `getent DATABASE KEY` prints: `Ok(None)` when the key is
/// not found (its exit status 2), an error when `getent` cannot be run
/// or fails otherwise.
pub(crate) fn getent(database: &str, key: &str) -> io::Result<Option<String>> {
    let program = PLACES
        .iter()
        .find(|p| std::path::Path::new(p).is_file())
        .copied()
        .unwrap_or("getent");
    // `--` so that a key starting with '-' is never taken for an option.
    let out = Command::new(program)
        .args([database, "--", key])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("running {program} to look up {key:?} in {database}: {e}"),
            )
        })?;
    match out.status.code() {
        Some(0) => Ok(Some(String::from_utf8_lossy(&out.stdout).into_owned())),
        Some(2) => Ok(None),
        _ => Err(io::Error::other(format!(
            "{program} {database} {key} failed ({})",
            out.status
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_from_the_hosts_files_and_says_not_found() {
        let root = getent("passwd", "0")
            .unwrap()
            .expect("uid 0 is in every passwd");
        assert!(root.starts_with("root:"), "{root}");
        let localhost = getent("ahosts", "localhost").unwrap().unwrap();
        assert!(
            localhost.contains("127.0.0.1") || localhost.contains("::1"),
            "{localhost}"
        );
        assert_eq!(getent("passwd", "berth-no-such-user-x").unwrap(), None);
        assert_eq!(getent("passwd", "-x").unwrap(), None);
    }
}
