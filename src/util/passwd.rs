//! The names of the host's users and groups, by id, without glibc's name
//! service (which a static glibc cannot load modules for: see
//! `util::getent`).
//!
//! /etc/passwd and /etc/group answer for local accounts, the common case,
//! without starting a process; an id they do not name (a cluster's
//! directory user from sss or LDAP, a systemd dynamic user) is asked of
//! `getent`, which answers as the system's own tools would.

use super::getent::getent;

/// The name of the host's user `uid`, if it has one.
pub(crate) fn user_name(uid: u32) -> Option<String> {
    name_of("/etc/passwd", "passwd", uid)
}

/// The name of the host's group `gid`, if it has one.
pub(crate) fn group_name(gid: u32) -> Option<String> {
    name_of("/etc/group", "group", gid)
}

fn name_of(file: &str, database: &str, id: u32) -> Option<String> {
    if let Some(name) = std::fs::read_to_string(file)
        .ok()
        .and_then(|text| name_in(&text, id))
    {
        return Some(name);
    }
    name_in(&getent(database, &id.to_string()).ok()??, id)
}

/// The name of the first entry of `id` in a passwd- or group-format
/// text (`name:password:id:...`). NIS compat lines (`+`, `-`) and
/// comments name nobody.
fn name_in(text: &str, id: u32) -> Option<String> {
    text.lines()
        .filter(|line| !line.starts_with(['#', '+', '-']))
        .find_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?;
            let entry_id = fields.nth(1)?.trim().parse::<u32>().ok()?;
            (entry_id == id && !name.is_empty()).then(|| name.to_string())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_entry_of_an_id() {
        let text = "# local\nroot:x:0:0:root:/root:/bin/sh\n+nis:x:1000:1000::/:/bin/sh\n\
                    :x:7:7::/:\nbad line\nalice:x:1000:1000:Alice:/home/alice:/bin/bash\n\
                    alias:x:1000:1000::/:/bin/sh\nstaff:x:50:alice,bob\n";
        assert_eq!(name_in(text, 0).as_deref(), Some("root"));
        assert_eq!(name_in(text, 1000).as_deref(), Some("alice"));
        assert_eq!(name_in(text, 50).as_deref(), Some("staff"));
        assert_eq!(name_in(text, 7), None);
        assert_eq!(name_in(text, 4242), None);
    }

    #[test]
    fn names_the_hosts_users_and_groups_as_getent_does() {
        assert_eq!(user_name(0).as_deref(), Some("root"));
        assert_eq!(group_name(0).as_deref(), Some("root"));
        // An id nobody has: neither the files nor the name service know it.
        assert_eq!(user_name(3_999_999_999), None);
    }
}
