//! The one rule berth cleans untrusted paths with (tar entry names, `cp`
//! arguments, mount destinations, names in an archive): lexically, as if
//! the path were inside a root. `.`, empty parts and a leading `/` go;
//! `..` removes the part before it, and at the top stays at the top (as
//! `..` of a chroot's `/` is `/`), which the caller may refuse instead.
//! No symlink is looked at: resolving inside a tree is `openat2`'s job.

use std::ffi::OsStr;
use std::path::{Component, Path, PathBuf};

/// A path's parts after cleaning.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Cleaned<'a> {
    pub(crate) parts: Vec<&'a OsStr>,
    /// A `..` tried to climb above the top.
    pub(crate) escaped: bool,
}

impl Cleaned<'_> {
    /// The relative path (empty for the top).
    pub(crate) fn relative(&self) -> PathBuf {
        self.parts.iter().collect()
    }

    /// `/a/b`, or `/` for the top.
    pub(crate) fn absolute(&self) -> String {
        let mut out = String::new();
        for p in &self.parts {
            out.push('/');
            out.push_str(&p.to_string_lossy());
        }
        if out.is_empty() {
            out.push('/');
        }
        out
    }
}

/// Cleans `path` by the rule above.
pub(crate) fn clean(path: &Path) -> Cleaned<'_> {
    let mut parts = Vec::new();
    let mut escaped = false;
    for c in path.components() {
        match c {
            Component::Normal(n) => parts.push(n),
            Component::ParentDir => {
                if parts.pop().is_none() {
                    escaped = true;
                }
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    Cleaned { parts, escaped }
}

/// Go's `path.Clean`, for paths Docker's tools clean that way (compose
/// files' paths, `.dockerignore` patterns): lexical, `..` kept at the
/// start of a relative path, `.` for an empty result. Not for untrusted
/// paths inside a root: [`clean`] is.
pub(crate) fn go_clean(path: &str) -> String {
    if path.is_empty() {
        return ".".to_string();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_clean_is_gos_path_clean() {
        assert_eq!(go_clean("./a/../b//c/."), "b/c");
        assert_eq!(go_clean("/../a"), "/a");
        assert_eq!(go_clean("../a"), "../a");
        assert_eq!(go_clean("a/../../b"), "../b");
        assert_eq!(go_clean(""), ".");
        assert_eq!(go_clean("a/.."), ".");
        assert_eq!(go_clean("/.."), "/");
        assert_eq!(go_clean("/a/./b/../c/"), "/a/c");
        assert_eq!(go_clean("**/"), "**");
    }

    #[test]
    fn dots_slashes_and_parents() {
        let c = clean(Path::new("./a//b/./c/../d/"));
        assert_eq!(c.relative(), Path::new("a/b/d"));
        assert_eq!(c.absolute(), "/a/b/d");
        assert!(!c.escaped);
        let c = clean(Path::new("/../../etc/passwd"));
        assert_eq!((c.absolute().as_str(), c.escaped), ("/etc/passwd", true));
        let top = clean(Path::new("/."));
        assert_eq!(
            (top.absolute().as_str(), top.relative()),
            ("/", PathBuf::new())
        );
    }
}
