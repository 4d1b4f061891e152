//! Where the store goes when the user did not say, and the warnings about
//! where it is.
//!
//! `$BERTH_ROOT` (or `--root`) always wins. Otherwise the store is
//! `$XDG_DATA_HOME/berth` (`~/.local/share/berth`), unless that does not
//! exist yet and is on a network filesystem (NFS, Lustre, GPFS, ... home
//! directories on clusters): then it goes to node-local space,
//! `/var/tmp/berth-$USER`, else `$TMPDIR/berth-$USER`. An existing store
//! is never moved. Each warning is given once per store: a marker file
//! under `<root>/notices/` remembers it was said.

use super::fstype::{self, FsInfo, FsKind};
use anyhow::Result;
use std::ffi::OsString;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

/// What the choice depends on; [`RootInputs::from_env`] reads the real ones.
pub struct RootInputs<'a> {
    pub berth_root: Option<OsString>,
    pub xdg_data_home: Option<OsString>,
    pub home: Option<OsString>,
    pub user: String,
    pub tmpdir: Option<OsString>,
    /// `/var/tmp`, a parameter for tests.
    pub var_tmp: PathBuf,
    /// The filesystem a path is on (statfs of it or its nearest ancestor).
    pub probe: &'a dyn Fn(&Path) -> Option<FsInfo>,
}

fn probe_info(path: &Path) -> Option<FsInfo> {
    fstype::probe(path).map(|st| fstype::classify(st.magic))
}

impl RootInputs<'static> {
    pub fn from_env() -> RootInputs<'static> {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        let berth_root = var("BERTH_ROOT");
        // The name only names a store placed under /var/tmp, which
        // BERTH_ROOT rules out: without $USER, finding it reads the user
        // database (NSS), for nothing on every command.
        let user = match &berth_root {
            Some(_) => String::new(),
            None => {
                let host_uid = super::host_uid();
                std::env::var("USER")
                    .ok()
                    .filter(|u| !u.is_empty() && !u.contains('/'))
                    .or_else(|| crate::util::passwd::user_name(host_uid))
                    .unwrap_or_else(|| host_uid.to_string())
            }
        };
        RootInputs {
            berth_root,
            xdg_data_home: var("XDG_DATA_HOME"),
            home: var("HOME"),
            user,
            tmpdir: var("TMPDIR"),
            var_tmp: PathBuf::from("/var/tmp"),
            probe: &probe_info,
        }
    }
}

/// The store's root and, when it was put on local space because the
/// usual place is on a network filesystem, that place and its filesystem.
#[derive(Debug, Clone, PartialEq)]
pub struct RootChoice {
    pub root: PathBuf,
    pub moved_from: Option<(PathBuf, FsInfo)>,
}

pub fn choose_root(inputs: &RootInputs) -> Result<RootChoice> {
    let stay = |root: PathBuf| RootChoice {
        root,
        moved_from: None,
    };
    if let Some(root) = &inputs.berth_root {
        return Ok(stay(PathBuf::from(root)));
    }
    let usual = match (&inputs.xdg_data_home, &inputs.home) {
        (Some(data), _) => PathBuf::from(data).join("berth"),
        (None, Some(home)) => PathBuf::from(home).join(".local/share/berth"),
        (None, None) => anyhow::bail!(
            "finding the store: neither BERTH_ROOT, XDG_DATA_HOME nor HOME is set; set BERTH_ROOT \
             to a directory berth may use"
        ),
    };
    // An existing store stays where it is (it may hold containers).
    if std::fs::symlink_metadata(&usual).is_ok() {
        return Ok(stay(usual));
    }
    let Some(info) = (inputs.probe)(&usual).filter(|i| i.kind == FsKind::Network) else {
        return Ok(stay(usual));
    };
    let mut local = vec![inputs.var_tmp.join(format!("berth-{}", inputs.user))];
    if let Some(t) = &inputs.tmpdir {
        local.push(PathBuf::from(t).join(format!("berth-{}", inputs.user)));
    }
    for candidate in local {
        if (inputs.probe)(&candidate).is_some_and(|i| i.kind == FsKind::Network) {
            continue;
        }
        if own_private_dir(&candidate) {
            return Ok(RootChoice {
                root: candidate,
                moved_from: Some((usual, info)),
            });
        }
    }
    // No local place of ours: the usual one, with the warning that says
    // what that costs.
    Ok(stay(usual))
}

/// Creates `dir` (0700, its parent must exist) or finds it, and tells
/// whether it is a real directory of ours: another user could have made
/// `/var/tmp/berth-$USER` first.
fn own_private_dir(dir: &Path) -> bool {
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(_) => return false,
    }
    std::fs::symlink_metadata(dir).is_ok_and(|m| {
        m.is_dir() && m.uid() == nix::unistd::geteuid().as_raw() && m.mode() & 0o022 == 0
    })
}

/// The warnings about where the store and runtime directory are, each
/// with the key under which it is said only once per store.
pub fn placement_warnings(
    choice: &RootChoice,
    store_fs: Option<FsInfo>,
    run_dir: &Path,
    run_fs: Option<FsInfo>,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some((usual, info)) = &choice.moved_from {
        out.push((
            format!("moved-from-{}", info.name),
            format!(
                "{} is on {} (a network filesystem), so berth keeps its store on this machine's \
                 disk at {} instead: {}. Images pulled here are not seen on other machines; set \
                 BERTH_ROOT to choose the place, and BERTH_IMAGE_STORES to share a read-only \
                 image store (see docs/slurm.md)",
                usual.display(),
                fstype::display_name(info),
                choice.root.display(),
                fstype::network_consequences(info)
            ),
        ));
    } else if let Some(info) = store_fs.filter(|i| i.kind == FsKind::Network) {
        out.push((
            format!("store-on-{}", info.name),
            format!(
                "the store {} is on {} (a network filesystem): {}. Put it on a local disk, e.g. \
                 BERTH_ROOT=/var/tmp/berth-$USER",
                choice.root.display(),
                fstype::display_name(&info),
                fstype::network_consequences(&info)
            ),
        ));
    } else if let Some(why) = store_fs.and_then(|i| i.no_overlay_upper) {
        out.push((
            "no-overlay-upper".into(),
            format!(
                "containers cannot keep their writable layer in the store {}: {why}",
                choice.root.display()
            ),
        ));
    }
    if let Some(info) = run_fs.filter(|i| i.kind == FsKind::Network) {
        out.push((
            format!("rundir-on-{}", info.name),
            format!(
                "the runtime directory {} is on {} (a network filesystem): attach sockets there \
                 are unreliable; set XDG_RUNTIME_DIR to a local directory of yours",
                run_dir.display(),
                fstype::display_name(&info)
            ),
        ));
    }
    out
}

/// The filesystem of a path, for [`placement_warnings`].
pub fn filesystem_of(path: &Path) -> Option<FsInfo> {
    probe_info(path)
}

/// True the first time `key` is asked about for this store: it leaves a
/// marker under `<root>/notices/`. When the marker cannot be written (a
/// read-only store) the answer is always true: saying it again is better
/// than never.
pub fn first_time(root: &Path, key: &str) -> bool {
    let safe: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let dir = root.join("notices");
    let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(dir.join(safe))
    {
        Ok(_) => true,
        Err(e) => e.kind() != std::io::ErrorKind::AlreadyExists,
    }
}

/// `key` is a short name; `what` the whole warning. Says it once per store.
pub fn warn_once(root: &Path, key: &str, what: &str) {
    if first_time(root, key) {
        crate::util::report::warning(what);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nfs() -> FsInfo {
        fstype::classify(0x6969)
    }

    fn inputs<'a>(
        home: &Path,
        var_tmp: &Path,
        probe: &'a dyn Fn(&Path) -> Option<FsInfo>,
    ) -> RootInputs<'a> {
        RootInputs {
            berth_root: None,
            xdg_data_home: None,
            home: Some(home.as_os_str().to_owned()),
            user: "alice".into(),
            tmpdir: None,
            var_tmp: var_tmp.to_path_buf(),
            probe,
        }
    }

    #[test]
    fn berth_root_always_wins() {
        let d = tempfile::tempdir().unwrap();
        let probe = |_: &Path| Some(nfs());
        let mut i = inputs(d.path(), d.path(), &probe);
        i.berth_root = Some("/somewhere".into());
        assert_eq!(choose_root(&i).unwrap().root, PathBuf::from("/somewhere"));
    }

    #[test]
    fn a_local_home_keeps_the_usual_place() {
        let d = tempfile::tempdir().unwrap();
        let probe = |_: &Path| Some(fstype::classify(0xEF53));
        let c = choose_root(&inputs(d.path(), d.path(), &probe)).unwrap();
        assert_eq!(c.root, d.path().join(".local/share/berth"));
        assert!(c.moved_from.is_none());
    }

    #[test]
    fn a_new_store_on_a_network_home_goes_to_var_tmp() {
        let home = tempfile::tempdir().unwrap();
        let var_tmp = tempfile::tempdir().unwrap();
        let vt = var_tmp.path().to_path_buf();
        let probe = move |p: &Path| {
            Some(if p.starts_with(&vt) {
                fstype::classify(0xEF53)
            } else {
                nfs()
            })
        };
        let c = choose_root(&inputs(home.path(), var_tmp.path(), &probe)).unwrap();
        assert_eq!(c.root, var_tmp.path().join("berth-alice"));
        let (usual, info) = c.moved_from.clone().unwrap();
        assert_eq!(usual, home.path().join(".local/share/berth"));
        assert_eq!(info.name, "nfs");
        let w = placement_warnings(&c, Some(fstype::classify(0xEF53)), Path::new("/r"), None);
        assert_eq!(w.len(), 1);
        assert!(w[0].1.contains("is on nfs"), "{}", w[0].1);
        assert!(w[0].1.contains("flock"), "{}", w[0].1);
        // The next command makes the same choice.
        assert_eq!(
            choose_root(&inputs(home.path(), var_tmp.path(), &probe))
                .unwrap()
                .root,
            c.root
        );
    }

    #[test]
    fn an_existing_store_on_a_network_home_stays_with_a_warning() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join(".local/share/berth")).unwrap();
        let probe = |_: &Path| Some(nfs());
        let c = choose_root(&inputs(home.path(), home.path(), &probe)).unwrap();
        assert_eq!(c.root, home.path().join(".local/share/berth"));
        let w = placement_warnings(&c, Some(nfs()), Path::new("/r"), Some(nfs()));
        assert_eq!(w.len(), 2);
        assert!(w[0].1.contains("network filesystem"), "{}", w[0].1);
        assert!(w[0].1.contains("BERTH_ROOT=/var/tmp/berth-$USER"));
        assert!(w[1].1.contains("runtime directory"));
    }

    #[test]
    fn a_squatted_var_tmp_dir_is_passed_over_for_tmpdir() {
        let home = tempfile::tempdir().unwrap();
        let var_tmp = tempfile::tempdir().unwrap();
        let tmpdir = tempfile::tempdir().unwrap();
        // Someone made it a symlink.
        std::os::unix::fs::symlink(tmpdir.path(), var_tmp.path().join("berth-alice")).unwrap();
        let (vt, td) = (var_tmp.path().to_path_buf(), tmpdir.path().to_path_buf());
        let probe = move |p: &Path| {
            Some(if p.starts_with(&vt) || p.starts_with(&td) {
                fstype::classify(0xEF53)
            } else {
                nfs()
            })
        };
        let mut i = inputs(home.path(), var_tmp.path(), &probe);
        i.tmpdir = Some(tmpdir.path().as_os_str().to_owned());
        assert_eq!(
            choose_root(&i).unwrap().root,
            tmpdir.path().join("berth-alice")
        );
    }

    #[test]
    fn overlay_limits_are_said_for_local_filesystems_too() {
        let c = RootChoice {
            root: "/x".into(),
            moved_from: None,
        };
        let w = placement_warnings(
            &c,
            Some(fstype::classify(0x794C_7630)),
            Path::new("/r"),
            None,
        );
        assert_eq!(w.len(), 1);
        assert!(w[0].1.contains("writable layer"), "{}", w[0].1);
    }

    #[test]
    fn markers_say_things_once() {
        let d = tempfile::tempdir().unwrap();
        assert!(first_time(d.path(), "store-on-nfs"));
        assert!(!first_time(d.path(), "store-on-nfs"));
        assert!(first_time(d.path(), "rundir/x:1"));
    }
}
