use super::*;
use crate::image::archive::load::load;
use crate::image::archive::Archive;
use crate::image::layer::Notices;
use crate::store::test_store;

fn loaded_store() -> (tempfile::TempDir, Store, String) {
    let (d, store) = test_store();
    let (tar, id, _) =
        crate::image::archive::load::tests::docker_archive(serde_json::json!(["busybox:latest"]));
    let p = store.root().join("in.tar");
    std::fs::write(&p, tar).unwrap();
    load(
        &store,
        &Archive::open(&store, Some(&p)).unwrap(),
        &mut Notices::default(),
    )
    .unwrap();
    (d, store, id)
}

#[test]
fn save_then_load_keeps_the_image_id_and_layers() {
    let (_d, store, id) = loaded_store();
    let out = store.root().join("out.tar");
    save_to_file(&store, &["busybox".to_string()], &out).unwrap();

    let mut names = Vec::new();
    let mut a = tar::Archive::new(std::fs::File::open(&out).unwrap());
    let mut manifest = Vec::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        // As `tar tv` shows Docker's: root/root, the image's entries at
        // its creation (2024-01-01), manifest and repositories at 0.
        let h = e.header();
        assert_eq!((h.uid().unwrap(), h.gid().unwrap()), (0, 0), "{name}");
        assert_eq!(h.username().unwrap(), Some("root"), "{name}");
        assert_eq!(h.groupname().unwrap(), Some("root"), "{name}");
        let image_entry = name != "manifest.json" && name != "repositories";
        let mtime = if image_entry { 1_704_067_200 } else { 0 };
        assert_eq!(h.mtime().unwrap(), mtime, "{name}");
        if name == "manifest.json" {
            std::io::Read::read_to_end(&mut e, &mut manifest).unwrap();
        }
        names.push(name);
    }
    assert!(names.contains(&format!("{}.json", &id[7..])));
    assert!(names.contains(&"repositories".to_string()));
    let m: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    assert_eq!(m[0]["RepoTags"], serde_json::json!(["busybox:latest"]));

    let (_d2, other) = test_store();
    let loaded = load(
        &other,
        &Archive::open(&other, Some(&out)).unwrap(),
        &mut Notices::default(),
    )
    .unwrap();
    assert_eq!(loaded[0].id, id);
    assert_eq!(loaded[0].names, ["docker.io/library/busybox:latest"]);
}

#[test]
fn saving_by_id_writes_no_tags() {
    let (_d, store, id) = loaded_store();
    let mut out = Vec::new();
    save(&store, &[id[7..19].to_string()], &mut out).unwrap();
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains(r#""RepoTags":null"#));
}

#[test]
fn a_modified_layer_fails_the_save_and_leaves_no_file() {
    let (_d, store, _id) = loaded_store();
    let img = store.images().unwrap().resolve("busybox").unwrap().clone();
    let sh = store.layer_diff(&img.layers[1]).unwrap().join("bin/sh");
    std::fs::write(&sh, b"#!SHELL").unwrap();
    let out = store.root().join("out.tar");
    let err = save_to_file(&store, &["busybox".to_string()], &out).unwrap_err();
    assert!(format!("{err:#}").contains("were modified"), "{err:#}");
    assert!(!out.exists());
    let leftovers: Vec<_> = std::fs::read_dir(store.root())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("out.tar"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn unknown_images_are_errors() {
    let (_d, store) = test_store();
    let mut out = Vec::new();
    assert!(save(&store, &["nothere".to_string()], &mut out)
        .unwrap_err()
        .to_string()
        .contains("No such image"));
}
