//! Shared machines: the runtime directory cannot be squatted by another
//! user, and read-only additional image stores (prepared by root or by
//! another user) are used in place by everyone's `run`.

mod common;

use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

fn chown_to(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).unwrap();
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The other test user: the "attacker" or the store's preparer.
fn other_user(of: &TestUser) -> TestUser {
    users().into_iter().find(|u| u.name != of.name).unwrap()
}

/// `XDG_RUNTIME_DIR/berth` made by another user (0777) or a symlink to a
/// directory of theirs: berth refuses it, says so once, and still runs.
#[test]
fn a_squatted_runtime_dir_under_xdg_is_refused() {
    if !running_as_root() {
        skip_or_fail("making a directory that belongs to another user needs root");
        return;
    }
    for symlink in [false, true] {
        each_user(|b| {
            b.load_busybox();
            let attacker = other_user(&b.user);
            let xdg = b.scratch_dir();
            chmod(&xdg, 0o700);
            let squat = xdg.join("berth");
            let evil = b.dir.join(format!("evil-{symlink}"));
            std::fs::create_dir(&evil).unwrap();
            chmod(&evil, 0o777);
            chown_to(&evil, attacker.uid, attacker.gid);
            if symlink {
                std::os::unix::fs::symlink(&evil, &squat).unwrap();
                // lchown: the link itself belongs to the attacker.
                std::os::unix::fs::lchown(&squat, Some(attacker.uid), Some(attacker.gid)).unwrap();
            } else {
                std::fs::create_dir(&squat).unwrap();
                chmod(&squat, 0o777);
                chown_to(&squat, attacker.uid, attacker.gid);
            }
            let run = |args: &[&str]| {
                let mut c = b.command(args);
                c.env("XDG_RUNTIME_DIR", &xdg);
                run(c)
            };
            let out = run(&["run", "--rm", "busybox", "echo", "still works"]);
            assert_success(&out, "run with a squatted runtime dir");
            assert_eq!(stdout(&out), "still works\n");
            let err = stderr(&out);
            assert!(
                err.contains(&format!(
                    "WARNING: not using the runtime directory {}",
                    squat.display()
                )),
                "{err}"
            );
            let owner = format!("uid {} ({})", attacker.uid, attacker.name);
            assert!(err.contains(&owner), "the owner is named: {err}");
            if symlink {
                assert!(err.contains("symbolic link"), "{err}");
            }
            assert!(
                entries(&evil).is_empty(),
                "nothing of ours in the attacker's directory: {:?}",
                entries(&evil)
            );
            // Detached containers and attach use the fallback too.
            let id = stdout(&run(&["run", "-d", "busybox", "sleep", "30"]));
            let id = id.trim();
            assert_eq!(id.len(), 64, "run -d printed {id:?}");
            assert!(entries(&evil).is_empty());
            // The warning names the directory used instead.
            let used = err
                .split("; using ")
                .nth(1)
                .and_then(|r| r.split(" instead").next())
                .map(PathBuf::from)
                .unwrap_or_else(|| panic!("no 'using ... instead' in {err}"));
            assert!(
                entries(&used).iter().any(|e| e.ends_with(".sock")),
                "the monitor's socket is in {}: {:?}",
                used.display(),
                entries(&used)
            );
            let again = run(&["rm", "-f", id]);
            assert_success(&again, "rm -f");
            assert!(
                !stderr(&again).contains("runtime directory"),
                "warned once per store: {}",
                stderr(&again)
            );
        });
    }
}

/// `/tmp/berth-$UID` pre-created by root (0777) or as a symlink, in a
/// private mount namespace with its own /tmp so that no other test or
/// user of the machine is disturbed.
#[test]
fn a_squatted_tmp_runtime_dir_is_refused() {
    if !running_as_root() {
        skip_or_fail("squatting /tmp/berth-$UID for another user needs root");
        return;
    }
    for how in ["dir", "symlink"] {
        each_user(|b| {
            b.load_busybox();
            let uid = b.user.uid;
            let sandbox = b.dir.parent().unwrap();
            let squat = match how {
                "dir" => format!("mkdir -m 0777 /tmp/berth-{uid}"),
                _ => format!("mkdir -m 0777 /tmp/evil && ln -s /tmp/evil /tmp/berth-{uid}"),
            };
            let script = format!(
                r#"set -e
exec 3<"{sb}"
mount -t tmpfs -o mode=1777 tmpfs /tmp
mkdir -p "{sb}"
mount --no-canonicalize --bind /proc/self/fd/3 "{sb}"
exec 3<&-
{squat}
setpriv --reuid={uid} --regid={gid} --init-groups -- env -i HOME="{home}" PATH=/usr/bin:/bin \
    USER={name} BERTH_ROOT="{root}" "{berth}" run --rm busybox echo fine
echo "left: $(ls -A /tmp/berth-{uid}/)"
"#,
                sb = sandbox.display(),
                gid = b.user.gid,
                home = b.user.home.display(),
                name = b.user.name,
                root = b.root.display(),
                berth = b.program().display(),
            );
            let mut c = Command::new("unshare");
            c.args(["--mount", "--propagation", "private", "sh", "-c", &script]);
            let out = run(c);
            assert_success(&out, &format!("run with /tmp/berth-{uid} squatted ({how})"));
            assert_eq!(stdout(&out), "fine\nleft: \n", "{}", show(&out));
            let err = stderr(&out);
            assert!(
                err.contains(&format!("not using the runtime directory /tmp/berth-{uid}")),
                "{err}"
            );
            assert!(
                err.contains("uid 0 (root)")
                    || err.contains("a user outside berth's user namespace"),
                "the owner is named: {err}"
            );
        });
    }
}

/// Prepares a store as `who` (None: root itself) in a directory others
/// may read (beside the test stores), then makes it read-only.
fn prepare_image_store(b: &Berth, who: Option<&TestUser>) -> PathBuf {
    let dir = b.dir.parent().unwrap().join(format!(
        "images-{}-{}",
        who.map_or("root".to_string(), |u| u.name.clone()),
        b.dir.file_name().unwrap().to_string_lossy()
    ));
    std::fs::create_dir(&dir).unwrap();
    chmod(&dir, 0o755);
    let archive = fixture("busybox-layers.tar");
    let mut c = match who {
        Some(u) => {
            chown_to(&dir, u.uid, u.gid);
            let mut c = Command::new("setpriv");
            c.arg(format!("--reuid={}", u.uid))
                .arg(format!("--regid={}", u.gid))
                .args(["--init-groups", "--"])
                .arg(b.program());
            c.env("HOME", &u.home);
            c
        }
        None => Command::new(b.program()),
    };
    c.arg("--root")
        .arg(&dir)
        .args(["load", "-i"])
        .arg(&archive)
        .env("PATH", "/usr/bin:/bin")
        .current_dir("/");
    let out = run(c);
    assert_success(&out, "preparing the image store");
    // Read-only for everyone but root.
    let mut dirs = vec![dir.clone()];
    for sub in ["blobs", "blobs/sha256", "layers", "l"] {
        dirs.push(dir.join(sub));
    }
    for d in std::fs::read_dir(dir.join("layers")).unwrap().flatten() {
        dirs.push(d.path());
    }
    for d in dirs {
        let mode = std::fs::metadata(&d).unwrap().permissions().mode() & 0o7777;
        chmod(&d, mode & !0o222);
    }
    dir
}

fn snapshot(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            out.push(format!(
                "{} {:o} {}",
                p.strip_prefix(dir).unwrap().display(),
                m.permissions().mode(),
                m.len()
            ));
            if m.is_dir() && !p.ends_with("diff") {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

fn uses_image_store(b: &Berth, store: &Path) {
    let before = snapshot(store);
    let cmd = |args: &[&str]| {
        let mut c = b.command(args);
        c.env("BERTH_IMAGE_STORES", store);
        c
    };
    let ok = |args: &[&str]| {
        let out = run(cmd(args));
        assert_success(&out, &format!("berth {}", args.join(" ")));
        stdout(&out)
    };
    let listed = ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert_eq!(listed, "busybox:layers\n");
    // Runs, with the image's files in place, and writes where it may.
    let out = ok(&[
        "run",
        "--rm",
        "busybox:layers",
        "sh",
        "-c",
        "cat /etc/layer2.txt && echo made > /etc/new && cat /etc/new && mkdir -p /var/x/y && echo ok",
    ]);
    assert_eq!(out, "layer 2\nmade\nok\n");
    assert!(
        entries(&b.root.join("layers")).is_empty(),
        "no layer copied into the user's store: {:?}",
        entries(&b.root.join("layers"))
    );
    // Removing it is refused; tagging gives the user a name of their own.
    let out = run(cmd(&["rmi", "busybox:layers"]));
    assert!(!out.status.success(), "{}", show(&out));
    assert!(
        stderr(&out).contains("read-only image store"),
        "{}",
        show(&out)
    );
    ok(&["tag", "busybox:layers", "mine:1"]);
    assert_eq!(
        ok(&["run", "--rm", "mine:1", "cat", "/etc/layer2.txt"]),
        "layer 2\n"
    );
    ok(&["rmi", "mine:1"]);
    assert_eq!(
        ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]),
        "busybox:layers\n"
    );
    assert_eq!(before, snapshot(store), "the image store was not changed");
}

#[test]
fn a_root_prepared_read_only_image_store_serves_every_user() {
    if !running_as_root() {
        skip_or_fail("a root-owned image store needs root to prepare it");
        return;
    }
    let owner = Berth::new(&main_user());
    let store = prepare_image_store(&owner, None);
    each_user(|b| uses_image_store(b, &store));
    remove_image_store(&store);
}

fn remove_image_store(store: &Path) {
    let _ = Command::new("chmod")
        .arg("-R")
        .arg("u+w")
        .arg(store)
        .status();
    let _ = std::fs::remove_dir_all(store);
}

#[test]
fn an_image_store_prepared_by_another_user_serves_this_one() {
    if !running_as_root() {
        skip_or_fail("two users are needed");
        return;
    }
    let all = users();
    let (preparer, user) = (&all[0], &all[1]);
    let owner = Berth::new(preparer);
    let store = prepare_image_store(&owner, Some(preparer));
    let b = Berth::new(user);
    uses_image_store(&b, &store);
    // The preparer's files belong to its subordinate ids: removed as root.
    remove_image_store(&store);
}
