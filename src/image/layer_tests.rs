use super::*;
use crate::image::tarsplit::regenerate_from;
use crate::util::digest::sha256_digest;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

/// Builds tars entry by entry, with raw names when a test needs a name the
/// `tar` crate would refuse (`..`, absolute paths).
struct TarBuf(tar::Builder<Vec<u8>>);

impl TarBuf {
    fn new() -> Self {
        TarBuf(tar::Builder::new(Vec::new()))
    }
    fn header(kind: EntryType, mode: u32, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h.set_mtime(1_600_000_000);
        h.set_uid(0);
        h.set_gid(0);
        h
    }
    fn raw(&mut self, mut h: tar::Header, name: &str, link: &str, data: &[u8]) -> &mut Self {
        let old = h.as_old_mut();
        old.name = [0; 100];
        old.name[..name.len()].copy_from_slice(name.as_bytes());
        old.linkname = [0; 100];
        old.linkname[..link.len()].copy_from_slice(link.as_bytes());
        h.set_cksum();
        self.0.append(&h, data).unwrap();
        self
    }
    fn file(&mut self, name: &str, data: &[u8]) -> &mut Self {
        let mut h = Self::header(EntryType::Regular, 0o644, data.len() as u64);
        self.0.append_data(&mut h, name, data).unwrap();
        self
    }
    fn dir(&mut self, name: &str, mode: u32) -> &mut Self {
        let h = Self::header(EntryType::Directory, mode, 0);
        self.raw(h, name, "", b"")
    }
    fn symlink(&mut self, name: &str, target: &str) -> &mut Self {
        let h = Self::header(EntryType::Symlink, 0o777, 0);
        self.raw(h, name, target, b"")
    }
    fn hardlink(&mut self, name: &str, target: &str) -> &mut Self {
        let h = Self::header(EntryType::Link, 0o644, 0);
        self.raw(h, name, target, b"")
    }
    fn pax(&mut self, records: &[(&str, &[u8])]) -> &mut Self {
        let mut data = Vec::new();
        for (k, v) in records {
            let body_len = k.len() + v.len() + 3;
            let mut len = body_len + body_len.to_string().len();
            if len.to_string().len() != body_len.to_string().len() {
                len += 1;
            }
            data.extend(format!("{len} {k}=").as_bytes());
            data.extend(*v);
            data.push(b'\n');
        }
        let h = Self::header(EntryType::XHeader, 0o644, data.len() as u64);
        self.raw(h, "PaxHeaders/x", "", &data)
    }
    fn finish(mut self) -> Vec<u8> {
        self.0.finish().unwrap();
        self.0.into_inner().unwrap()
    }
}

fn unpack(tar: &[u8]) -> (tempfile::TempDir, PathBuf, Result<(String, u64)>) {
    let tmp = tempfile::tempdir().unwrap();
    let layer = tmp.path().join("layer");
    std::fs::create_dir(&layer).unwrap();
    let r = unpack_into(&layer, tar, &mut Notices::default()).map(|u| (u.diff_id, u.size));
    (tmp, layer, r)
}

fn assert_round_trip(tar: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let (tmp, layer, r) = unpack(tar);
    let (diff_id, size) = r.unwrap();
    assert_eq!(diff_id, sha256_digest(tar));
    assert_eq!(size, tar.len() as u64);
    let mut out = Vec::new();
    let (digest, n) = regenerate_from(&layer, &mut out).unwrap();
    assert_eq!(out, tar, "regenerated tar differs");
    assert_eq!((digest, n), (diff_id, size));
    (tmp, layer)
}

#[test]
fn regenerates_a_varied_tar_byte_for_byte() {
    let long = format!("deep/{}/file.txt", "x".repeat(150));
    let mut t = TarBuf::new();
    t.dir("etc/", 0o755)
        .file("etc/passwd", b"root:x:0:0::/root:/bin/sh\n")
        .dir("empty/", 0o700)
        .file(&long, &b"long name content".repeat(40))
        .pax(&[
            ("SCHILY.xattr.user.note", b"hello"),
            ("mtime", b"1600000000.5"),
        ])
        .file("with-pax", b"pax")
        .symlink("link", "/etc/passwd")
        .hardlink("hard", "etc/passwd")
        .file("etc/.wh.shadow", b"")
        .dir("opaque/", 0o755)
        .file("opaque/.wh..wh..opq", b"")
        .file("empty-file", b"");
    let mut tar = t.finish();
    // Docker's tars sometimes carry more than two zero blocks, and the
    // diff id covers them.
    tar.extend([0u8; 1024]);
    let (_tmp, layer) = assert_round_trip(&tar);
    let diff = layer.join("diff");
    assert_eq!(
        std::fs::read(diff.join("etc/passwd")).unwrap(),
        b"root:x:0:0::/root:/bin/sh\n"
    );
    assert!(diff.join(&long).is_file());
    assert_eq!(
        std::fs::read_link(diff.join("link")).unwrap(),
        Path::new("/etc/passwd")
    );
    assert_eq!(
        std::fs::metadata(diff.join("hard")).unwrap().ino(),
        std::fs::metadata(diff.join("etc/passwd")).unwrap().ino()
    );
    let wh = std::fs::symlink_metadata(diff.join("etc/shadow")).unwrap();
    assert!(std::os::unix::fs::FileTypeExt::is_char_device(
        &wh.file_type()
    ));
    assert_eq!(wh.rdev(), 0);
    assert!(!diff.join("etc/.wh.shadow").exists());
    let opq = if is_real_root() {
        "trusted.overlay.opaque"
    } else {
        "user.overlay.opaque"
    };
    assert_eq!(
        xattr::get(diff.join("opaque"), opq).unwrap().as_deref(),
        Some(&b"y"[..])
    );
    assert!(!diff.join("opaque/.wh..wh..opq").exists());
    assert_eq!(
        xattr::get(diff.join("with-pax"), "user.note")
            .unwrap()
            .as_deref(),
        Some(&b"hello"[..])
    );
    let m = std::fs::metadata(diff.join("empty")).unwrap();
    assert_eq!(m.permissions().mode() & 0o7777, 0o700);
    assert_eq!(m.mtime(), 1_600_000_000);
    assert_eq!(
        std::fs::metadata(diff.join("with-pax"))
            .unwrap()
            .mtime_nsec(),
        500_000_000
    );
}

#[test]
fn a_file_replaced_later_in_the_same_layer_still_regenerates() {
    let mut t = TarBuf::new();
    t.file("a/f", b"first version")
        .file("a/f", b"second")
        .file("d/inner", b"in a dir replaced by a file")
        .file("d", b"now a file")
        .file("gone", b"whited out in its own layer")
        .file(".wh.gone", b"");
    let tar = t.finish();
    let (_tmp, layer) = assert_round_trip(&tar);
    assert_eq!(std::fs::read(layer.join("diff/a/f")).unwrap(), b"second");
    assert_eq!(std::fs::read(layer.join("diff/d")).unwrap(), b"now a file");
}

#[test]
fn modes_are_applied_after_chown_and_setuid_is_kept() {
    let mut t = TarBuf::new();
    let mut h = TarBuf::header(EntryType::Regular, 0o4755, 2);
    h.set_uid(nix::unistd::geteuid().as_raw().into());
    h.set_gid(nix::unistd::getegid().as_raw().into());
    t.raw(h, "bin/su", "", b"su");
    t.dir("ro/", 0o555).file("ro/child", b"x");
    let tar = t.finish();
    let (_tmp, layer) = assert_round_trip(&tar);
    let m = std::fs::metadata(layer.join("diff/bin/su")).unwrap();
    assert_eq!(m.permissions().mode() & 0o7777, 0o4755);
    let ro = std::fs::metadata(layer.join("diff/ro")).unwrap();
    assert_eq!(ro.permissions().mode() & 0o7777, 0o555);
    crate::util::fsutil::remove_tree(&layer).unwrap();
}

fn assert_nothing_outside(tmp: &tempfile::TempDir) {
    let names: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["layer"], "something was written beside the layer");
}

#[test]
fn dot_dot_paths_are_refused() {
    let mut t = TarBuf::new();
    t.raw(
        TarBuf::header(EntryType::Regular, 0o644, 1),
        "../escape",
        "",
        b"x",
    );
    let (tmp, _layer, r) = unpack(&t.finish());
    assert!(r
        .unwrap_err()
        .chain()
        .any(|c| c.to_string().contains("leads out of the layer")));
    assert_nothing_outside(&tmp);
}

#[test]
fn absolute_paths_land_inside_the_layer() {
    let mut t = TarBuf::new();
    t.raw(
        TarBuf::header(EntryType::Regular, 0o644, 1),
        "/abs",
        "",
        b"x",
    );
    let (tmp, layer, r) = unpack(&t.finish());
    r.unwrap();
    assert!(layer.join("diff/abs").is_file());
    assert_nothing_outside(&tmp);
}

#[test]
fn symlinks_out_of_the_layer_resolve_inside_it() {
    let tmp_target = tempfile::tempdir().unwrap();
    let target = tmp_target.path().to_str().unwrap().to_string();
    let mut t = TarBuf::new();
    t.dir("etc/", 0o755)
        .symlink("etc-link", "/etc")
        .file("etc-link/planted", b"x")
        .symlink("rel", "../../../../..")
        .file("rel/planted2", b"y");
    let (tmp, layer, r) = unpack(&t.finish());
    r.unwrap();
    assert!(layer.join("diff/etc/planted").is_file());
    assert!(!Path::new("/etc/planted").exists());
    assert!(layer.join("diff/planted2").is_file());
    assert_nothing_outside(&tmp);

    // A link to a directory the layer lacks is dangling inside the layer:
    // an error, and the host directory it names stays untouched.
    let mut t = TarBuf::new();
    t.symlink("abs", &target).file("abs/planted", b"x");
    let (tmp, _layer, r) = unpack(&t.finish());
    assert!(r.is_err());
    assert_eq!(std::fs::read_dir(tmp_target.path()).unwrap().count(), 0);
    assert_nothing_outside(&tmp);
}

#[test]
fn hardlinks_out_of_the_layer_are_not_made() {
    let outside = tempfile::NamedTempFile::new().unwrap();
    let mut t = TarBuf::new();
    t.hardlink("h", "../../outside");
    let (tmp, _layer, r) = unpack(&t.finish());
    assert!(r.is_err());
    let mut t = TarBuf::new();
    let abs = outside.path().to_str().unwrap();
    t.hardlink("h", abs);
    let (_tmp2, layer2, r) = unpack(&t.finish());
    // An absolute target is looked up inside the layer, where it is absent.
    assert!(r.is_err());
    assert!(!layer2.join("diff/h").exists());
    assert_eq!(std::fs::metadata(outside.path()).unwrap().nlink(), 1);
    assert_nothing_outside(&tmp);
}

#[test]
fn hardlink_through_a_symlink_stays_inside() {
    let mut t = TarBuf::new();
    t.symlink("up", "/")
        .file("real", b"r")
        .hardlink("h", "up/real");
    let (_tmp, layer, r) = unpack(&t.finish());
    r.unwrap();
    assert_eq!(std::fs::read(layer.join("diff/h")).unwrap(), b"r");
}

#[test]
fn device_nodes_are_made_or_skipped_never_outside() {
    let mut t = TarBuf::new();
    let mut h = TarBuf::header(EntryType::Char, 0o666, 0);
    h.set_device_major(1).unwrap();
    h.set_device_minor(3).unwrap();
    t.raw(h, "dev/null", "", b"");
    let mut h = TarBuf::header(EntryType::Block, 0o600, 0);
    h.set_device_major(8).unwrap();
    h.set_device_minor(0).unwrap();
    t.symlink("sneaky", "/dev");
    t.raw(h, "sneaky/sda", "", b"");
    let tar = t.finish();
    let (tmp, layer, r) = unpack(&tar);
    r.unwrap();
    let real_root = is_real_root();
    assert_eq!(layer.join("diff/dev/null").exists(), real_root);
    // `sneaky -> /dev` resolves to the layer's own dev/.
    assert_eq!(layer.join("diff/dev/sda").exists(), real_root);
    assert_nothing_outside(&tmp);
    let mut out = Vec::new();
    regenerate_from(&layer, &mut out).unwrap();
    assert_eq!(out, tar);
}

#[test]
fn a_file_through_a_symlinked_dir_is_referenced_by_its_real_path() {
    let mut t = TarBuf::new();
    t.dir("real/", 0o755)
        .symlink("alias", "real")
        .file("alias/f", b"content")
        .symlink("alias", "elsewhere");
    assert_round_trip(&t.finish());
}

#[test]
fn truncated_tars_are_errors() {
    let mut t = TarBuf::new();
    t.file("f", &[7u8; 5000]);
    let tar = t.finish();
    let (_tmp, _layer, r) = unpack(&tar[..2048]);
    assert!(r.is_err());
}

#[test]
fn clean_path_handles_dots_and_roots() {
    assert_eq!(clean_path(Path::new("./")).unwrap(), None);
    assert_eq!(clean_path(Path::new("/")).unwrap(), None);
    assert_eq!(
        clean_path(Path::new("/a/./b/../c")).unwrap(),
        Some((PathBuf::from("a"), OsString::from("c")))
    );
    assert!(clean_path(Path::new("a/../../b")).is_err());
}

#[test]
fn sizes_parse_with_binary_suffixes() {
    assert_eq!(parse_size("123"), Some(123));
    assert_eq!(parse_size("10K"), Some(10 << 10));
    assert_eq!(parse_size("512m"), Some(512 << 20));
    assert_eq!(parse_size("64GiB"), Some(64 << 30));
    assert_eq!(parse_size("1T"), Some(1 << 40));
    assert_eq!(parse_size("x"), None);
    assert_eq!(parse_size(""), None);
    assert_eq!(parse_size("99999999999T"), None);
}

#[test]
fn zero_blocks_stay_holes_and_data_round_trips() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("f");
    let mut content = vec![0u8; 8 << 20];
    content[5000] = 1;
    content[(6 << 20) + 17] = 2;
    let mut f = File::create(&p).unwrap();
    let n = copy_sparse(&mut &content[..], &mut f).unwrap();
    assert_eq!(n, content.len() as u64);
    drop(f);
    assert_eq!(std::fs::read(&p).unwrap(), content);
    let blocks = std::fs::metadata(&p).unwrap().blocks();
    assert!(
        blocks * 512 < 1 << 20,
        "{blocks} blocks for 2 bytes of data"
    );
}

#[test]
fn a_layer_over_the_limit_is_refused_with_the_variable_named() {
    let mut t = TarBuf::new();
    t.raw(
        TarBuf::header(EntryType::Regular, 0o644, 64 << 10),
        "big",
        "",
        &vec![7u8; 64 << 10],
    );
    let tar = t.finish();
    let tap = Tap::new(&tar[..], 16 << 10);
    let mut r = TapReader(Rc::new(RefCell::new(tap)));
    let e = io::copy(&mut r, &mut io::sink()).unwrap_err();
    assert!(e.to_string().contains(MAX_LAYER_SIZE_VAR), "{e}");
}

#[test]
fn counts_what_the_files_hold_as_docker_does() {
    let mut t = TarBuf::new();
    t.dir("etc/", 0o755)
        .file("etc/passwd", b"root:x:0:0::/root:/bin/sh\n")
        .symlink("link", "/etc/passwd")
        .hardlink("hard", "etc/passwd")
        .file("etc/.wh.shadow", b"")
        .dir("opaque/", 0o755)
        .file("opaque/.wh..wh..opq", b"")
        .file("empty-file", b"")
        .file("big", &[7u8; 5000]);
    let tar = t.finish();
    let tmp = tempfile::tempdir().unwrap();
    let layer = tmp.path().join("layer");
    std::fs::create_dir(&layer).unwrap();
    let u = unpack_into(&layer, &tar[..], &mut Notices::default()).unwrap();
    // The file's 26 bytes once (the hard link adds nothing), the symlink's
    // 11-byte target and the 5000 bytes; headers, whiteouts and
    // directories nothing.
    assert_eq!(u.content_size, 26 + 11 + 5000);
    assert_eq!(u.size, tar.len() as u64);
    // The same as walking the unpacked tree as Docker's directory.Size does.
    assert_eq!(
        u.content_size,
        crate::util::du::tree_size(&layer.join("diff"))
    );
}
