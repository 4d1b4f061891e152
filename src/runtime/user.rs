//! `-u USER[:GROUP]` against the image's /etc/passwd and /etc/group, as
//! Docker (runc's `GetExecUser`) resolves it. It runs in the container's
//! init after pivot_root, so the files read are the container's own and
//! none of their symlinks can lead out of it.

use anyhow::{bail, Result};

/// Who the container's process runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExecUser {
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    /// Supplementary groups: the primary one, then those of /etc/group
    /// membership.
    pub(crate) groups: Vec<u32>,
    pub(crate) home: String,
}

struct PasswdEntry<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

fn passwd_entries(content: &str) -> impl Iterator<Item = PasswdEntry<'_>> {
    content.lines().filter_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 7 || l.starts_with('#') {
            return None;
        }
        Some(PasswdEntry {
            name: f[0],
            uid: f[2].parse().ok()?,
            gid: f[3].parse().ok()?,
            home: f[5],
        })
    })
}

struct GroupEntry<'a> {
    name: &'a str,
    gid: u32,
    members: Vec<&'a str>,
}

fn group_entries(content: &str) -> impl Iterator<Item = GroupEntry<'_>> {
    content.lines().filter_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 4 || l.starts_with('#') {
            return None;
        }
        Some(GroupEntry {
            name: f[0],
            gid: f[2].parse().ok()?,
            members: f[3].split(',').filter(|m| !m.is_empty()).collect(),
        })
    })
}

/// Whether a failure's message is this module's "no such user or group"
/// (Docker's daemon looks the user up before the runtime runs, so its
/// `exec` prints that error bare).
pub(crate) fn is_lookup_failure(message: &str) -> bool {
    message.starts_with("unable to find user ") || message.starts_with("unable to find group ")
}

/// Resolves `spec` (empty = root) with the contents of the image's passwd
/// and group files (`None` when the file is missing).
pub(crate) fn resolve(spec: &str, passwd: Option<&str>, group: Option<&str>) -> Result<ExecUser> {
    let (user_part, group_part) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let user_part = if user_part.is_empty() { "0" } else { user_part };
    let numeric_user = user_part.parse::<u32>().ok();
    let found = passwd.and_then(|p| {
        passwd_entries(p).find(|e| match numeric_user {
            Some(n) => e.uid == n,
            None => e.name == user_part,
        })
    });
    let mut user = match (&found, numeric_user) {
        (Some(e), _) => ExecUser {
            uid: e.uid,
            gid: e.gid,
            groups: Vec::new(),
            home: e.home.to_string(),
        },
        (None, Some(n)) => ExecUser {
            uid: n,
            gid: 0,
            groups: Vec::new(),
            home: "/".into(),
        },
        (None, None) => {
            bail!("unable to find user {user_part}: no matching entries in passwd file")
        }
    };
    if let Some(g) = group_part.filter(|g| !g.is_empty()) {
        user.gid = match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => match group.and_then(|c| group_entries(c).find(|e| e.name == g)) {
                Some(e) => e.gid,
                None => bail!("unable to find group {g}: no matching entries in group file"),
            },
        };
    }
    // Docker (since the fix of CVE-2022-36109) always lists the primary
    // group among the supplementary ones, first.
    user.groups.push(user.gid);
    if let (Some(e), Some(content)) = (&found, group) {
        for g in group_entries(content) {
            if g.members.contains(&e.name) && !user.groups.contains(&g.gid) {
                user.groups.push(g.gid);
            }
        }
    }
    Ok(user)
}

/// Docker's largest uid or gid.
const MAX_ID: u64 = 2147483647;

/// A `--group-add` item as given, checked at create: a gid in Docker's
/// range, or a group name (looked up when the container starts).
pub(crate) fn check_group_spec(spec: &str) -> Result<()> {
    if let Ok(n) = spec.parse::<u64>() {
        if n > MAX_ID {
            bail!("--group-add {spec}: uids and gids must be in range 0-{MAX_ID}");
        }
        return Ok(());
    }
    if spec.is_empty() || spec.contains(':') || spec.contains(char::is_whitespace) {
        bail!("invalid --group-add {spec:?}: use a group name or a numeric gid");
    }
    Ok(())
}

/// The gid of a `--group-add` item: a number as it is, a name from the
/// container's /etc/group (`group`, None when it has none).
pub(crate) fn group_id(spec: &str, group: Option<&str>) -> Result<u32> {
    if let Ok(n) = spec.parse::<u64>() {
        return u32::try_from(n)
            .ok()
            .filter(|n| u64::from(*n) <= MAX_ID)
            .ok_or_else(|| anyhow::anyhow!("uids and gids must be in range 0-{MAX_ID}"));
    }
    match group.and_then(|c| group_entries(c).find(|e| e.name == spec)) {
        Some(e) => Ok(e.gid),
        None => bail!("Unable to find group {spec}: no matching entries in group file"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_add_items() {
        assert_eq!(group_id("50", None).unwrap(), 50);
        assert_eq!(group_id("staff", Some(GROUP)).unwrap(), 50);
        assert_eq!(
            group_id("audio", Some(GROUP)).unwrap_err().to_string(),
            "Unable to find group audio: no matching entries in group file"
        );
        assert!(check_group_spec("99999999999").is_err());
        assert!(check_group_spec("a:b").is_err());
        assert!(check_group_spec("staff").is_ok());
    }

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
        # comment\n\
        daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
        alice:x:1000:1000:Alice:/home/alice:/bin/sh\n\
        broken:x:notanumber:1:::\n";
    const GROUP: &str = "root:x:0:\nwheel:x:10:alice,bob\nalice:x:1000:\nstaff:x:50:bob,alice\n";

    #[test]
    fn default_is_root_with_its_home() {
        let u = resolve("", Some(PASSWD), Some(GROUP)).unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (0, 0, "/root"));
        let u = resolve("", None, None).unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (0, 0, "/"));
    }

    #[test]
    fn names_resolve_with_supplementary_groups() {
        let u = resolve("alice", Some(PASSWD), Some(GROUP)).unwrap();
        assert_eq!(
            u,
            ExecUser {
                uid: 1000,
                gid: 1000,
                groups: vec![1000, 10, 50],
                home: "/home/alice".into()
            }
        );
        let u = resolve("alice:staff", Some(PASSWD), Some(GROUP)).unwrap();
        assert_eq!(u.gid, 50);
        let u = resolve("1000", Some(PASSWD), Some(GROUP)).unwrap();
        assert_eq!(u.home, "/home/alice");
    }

    #[test]
    fn numeric_ids_need_no_passwd() {
        let u = resolve("1234:5678", None, None).unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (1234, 5678, "/"));
        let u = resolve("1234", Some(PASSWD), Some(GROUP)).unwrap();
        assert_eq!((u.uid, u.gid), (1234, 0));
    }

    #[test]
    fn unknown_names_are_errors_with_docker_wording() {
        let e = resolve("nobody", Some(PASSWD), None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "unable to find user nobody: no matching entries in passwd file"
        );
        let e = resolve("alice:nogroup", Some(PASSWD), Some(GROUP)).unwrap_err();
        assert!(e.to_string().contains("unable to find group nogroup"));
        assert!(resolve("alice", None, None).is_err());
    }
}
