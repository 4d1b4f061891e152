//! Capabilities: Docker's default set. The bounding set is cut to it
//! before the ids change; a root process keeps it as permitted and
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
pub(crate) fn apply_after_setuid(keep: &CapsHashSet, is_root: bool) -> Result<()> {
    let empty = CapsHashSet::new();
    let _ = caps::clear(None, CapSet::Ambient);
    caps::set(None, CapSet::Inheritable, &empty).context("clearing inheritable capabilities")?;
    let target = if is_root { keep } else { &empty };
    // Effective must shrink before permitted: it may never exceed it.
    caps::set(None, CapSet::Effective, target).context("setting effective capabilities")?;
    caps::set(None, CapSet::Permitted, target).context("setting permitted capabilities")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_set_is_dockers_fourteen() {
        let s = default_set();
        assert_eq!(s.len(), 14);
        assert!(s.contains(&Capability::CAP_NET_BIND_SERVICE));
        assert!(!s.contains(&Capability::CAP_SYS_ADMIN));
        assert!(!s.contains(&Capability::CAP_NET_ADMIN));
    }
}
