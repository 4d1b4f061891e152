//! Capabilities: Docker's default set, changed by `--cap-add`,
//! `--cap-drop` and `--privileged` as Docker changes it. The bounding set
//! is cut to it before the ids change; a root process keeps it as permitted and
//! effective, a non-root one keeps none (the kernel clears them on the
//! uid change, as with Docker). Inheritable and ambient stay empty
//! (Docker since 20.10, CVE-2022-24769).

use anyhow::{Context, Result};
use caps::{CapSet, Capability, CapsHashSet};

/// Docker's default capabilities.
pub(crate) const DEFAULT: [Capability; 14] = crate::model::caps::DOCKER_DEFAULT;

pub(crate) fn default_set() -> CapsHashSet {
    DEFAULT.into_iter().collect()
}

/// Every capability berth knows.
pub(crate) fn all_set() -> CapsHashSet {
    caps::all()
}

/// Every capability this process holds (its permitted set, which capset
/// cannot exceed; the program's exec then keeps what the bounding set
/// allows): what "all" means in the process that applies them. Real
/// root's privileged container runs in no user namespace of its own, so
/// it keeps root's sets, which on some machines lack one (a CI runner or
/// a container without CAP_SYS_RESOURCE): asking for every one berth
/// knows failed every privileged start there, as it does with Docker.
/// Podman gives what root holds (its bounding set), and so does berth
/// (root's permitted set is its bounding set). Read in the child
/// (`apply_after_setuid`), never in the command: a rootless command holds
/// no capability until it enters its user namespace. One capget, not the
/// 41 prctl calls a read of the bounding set takes.
fn held() -> CapsHashSet {
    caps::read(None, CapSet::Permitted).unwrap_or_else(|_| all_set())
}

/// A capability as the user wrote it (`net_admin`, `CAP_NET_ADMIN`,
/// `all`), in Docker's canonical form (`CAP_NET_ADMIN`, `ALL`).
pub(crate) fn canonical_name(name: &str) -> Result<String> {
    let upper = name.to_ascii_uppercase();
    if upper == "ALL" {
        return Ok(upper);
    }
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    match full.parse::<Capability>() {
        Ok(c) => Ok(c.to_string()),
        Err(_) => anyhow::bail!("unknown capability: {name:?}"),
    }
}

/// The container's capabilities, as Docker computes them (its
/// `TweakCapabilities`): `--privileged` gives all; `--cap-add ALL` all but
/// the dropped ones; `--cap-drop ALL` only the added ones; otherwise the
/// defaults without the dropped ones, plus the added ones. Names are
/// canonical (checked at create); an unknown one is skipped.
pub(crate) fn container_set(sec: &crate::model::SecurityConfig) -> CapsHashSet {
    if sec.privileged {
        return all_set();
    }
    let parse = |list: &[String]| -> CapsHashSet {
        list.iter()
            .filter_map(|n| n.parse::<Capability>().ok())
            .collect()
    };
    let has_all = |list: &[String]| list.iter().any(|n| n == "ALL");
    let (add, drop) = (parse(&sec.cap_add), parse(&sec.cap_drop));
    if has_all(&sec.cap_add) {
        return all_set().difference(&drop).copied().collect();
    }
    if has_all(&sec.cap_drop) {
        return add;
    }
    let mut set: CapsHashSet = default_set().difference(&drop).copied().collect();
    set.extend(add);
    set
}

/// Drops every capability outside `keep` from the bounding set. Needs
/// CAP_SETPCAP, so it runs before the ids change. Capabilities the
/// running kernel does not know are skipped.
pub(crate) fn limit_bounding(keep: &CapsHashSet) -> Result<()> {
    let last = caps::runtime::thread_all_supported();
    for cap in caps::all() {
        if keep.contains(&cap) || !last.contains(&cap) {
            continue;
        }
        caps::drop(None, CapSet::Bounding, cap)
            .with_context(|| format!("dropping {cap} from the bounding set"))?;
    }
    Ok(())
}

/// After the ids changed: the final permitted/effective/inheritable sets.
/// `every`: the container asked for every capability (`--privileged`,
/// `exec --privileged`), which then means every one this process holds;
/// otherwise one it lacks is an error naming it.
pub(crate) fn apply_after_setuid(keep: &CapsHashSet, is_root: bool, every: bool) -> Result<()> {
    let empty = CapsHashSet::new();
    let _ = caps::clear(None, CapSet::Ambient);
    caps::set(None, CapSet::Inheritable, &empty).context("clearing inheritable capabilities")?;
    let target: CapsHashSet = if !is_root {
        empty
    } else {
        let held = held();
        if every {
            keep.intersection(&held).copied().collect()
        } else {
            let mut missing: Vec<String> = keep.difference(&held).map(|c| c.to_string()).collect();
            if !missing.is_empty() {
                missing.sort();
                anyhow::bail!(
                    "the container is to have {}, which berth's own process does not hold \
                     (`grep CapPrm /proc/self/status`): drop it with --cap-drop, or run berth \
                     where it has it",
                    missing.join(", ")
                );
            }
            keep.clone()
        }
    };
    // Effective must shrink before permitted: it may never exceed it.
    caps::set(None, CapSet::Effective, &target).context("setting effective capabilities")?;
    caps::set(None, CapSet::Permitted, &target).context("setting permitted capabilities")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_sets_follow_docker() {
        assert_eq!(canonical_name("net_admin").unwrap(), "CAP_NET_ADMIN");
        assert_eq!(canonical_name("CAP_CHOWN").unwrap(), "CAP_CHOWN");
        assert_eq!(canonical_name("all").unwrap(), "ALL");
        assert!(canonical_name("CAP_FLY").is_err());
        let sec = |add: &[&str], drop: &[&str]| crate::model::SecurityConfig {
            cap_add: add.iter().map(|s| s.to_string()).collect(),
            cap_drop: drop.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        let s = container_set(&sec(&["CAP_NET_ADMIN"], &["CAP_CHOWN"]));
        assert!(s.contains(&Capability::CAP_NET_ADMIN) && !s.contains(&Capability::CAP_CHOWN));
        assert_eq!(s.len(), 14);
        let s = container_set(&sec(&["CAP_CHOWN"], &["ALL"]));
        assert_eq!(s.into_iter().collect::<Vec<_>>(), [Capability::CAP_CHOWN]);
        let s = container_set(&sec(&["ALL"], &["CAP_SYS_ADMIN"]));
        assert!(!s.contains(&Capability::CAP_SYS_ADMIN) && s.contains(&Capability::CAP_BPF));
        let p = crate::model::SecurityConfig {
            privileged: true,
            ..Default::default()
        };
        assert_eq!(container_set(&p), all_set());
        assert!(held().is_subset(&all_set()));
    }

    #[test]
    fn default_set_is_dockers_fourteen() {
        let s = default_set();
        assert_eq!(s.len(), 14);
        assert!(s.contains(&Capability::CAP_NET_BIND_SERVICE));
        assert!(!s.contains(&Capability::CAP_SYS_ADMIN));
        assert!(!s.contains(&Capability::CAP_NET_ADMIN));
    }
}
