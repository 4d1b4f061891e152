//! The running kernel's version, for the few paths that pick a faster
//! way only where the kernel has it (and `doctor`'s verdicts).

/// (major, minor) of a kernel release like `6.1.0-18-amd64`.
pub(crate) fn version_of(release: &str) -> Option<(u32, u32)> {
    let mut it = release.split(|c: char| !c.is_ascii_digit());
    let major = it.next()?.parse().ok()?;
    let minor = it.next()?.parse().ok()?;
    Some((major, minor))
}

/// The running kernel's (major, minor), from uname(2).
pub(crate) fn running() -> Option<(u32, u32)> {
    let uts = nix::sys::utsname::uname().ok()?;
    version_of(&uts.release().to_string_lossy())
}

/// Whether the running kernel is at least `major.minor`; false when its
/// release cannot be read.
pub(crate) fn at_least(major: u32, minor: u32) -> bool {
    running().is_some_and(|v| v >= (major, minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(version_of("6.1.0-18-amd64"), Some((6, 1)));
        assert_eq!(version_of("5.10.0"), Some((5, 10)));
        assert_eq!(version_of("6.18.44-fc-v1098"), Some((6, 18)));
        assert_eq!(version_of("garbage"), None);
    }

    #[test]
    fn the_running_kernel_has_a_version() {
        assert!(running().is_some());
        assert!(at_least(3, 0));
        assert!(!at_least(999, 0));
    }
}
