use super::*;
use crate::store::test_store;
use std::io::Write;

pub(crate) fn layer_tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        b.append_data(&mut h, name, *data).unwrap();
    }
    b.into_inner().unwrap()
}

pub(crate) fn config_for(layers: &[&[u8]]) -> Vec<u8> {
    let diff_ids: Vec<String> = layers.iter().map(|l| sha256_digest(l)).collect();
    serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
        "config": {"Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .unwrap()
}

pub(crate) fn archive_tar(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in entries {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        b.append_data(&mut h, name, &data[..]).unwrap();
    }
    b.into_inner().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

fn open(store: &Store, data: &[u8]) -> Archive {
    let p = store.root().join("tmp/in.tar");
    std::fs::write(&p, data).unwrap();
    let a = Archive::open(store, Some(&p)).unwrap();
    std::fs::remove_file(&p).unwrap();
    a
}

/// A docker-save style archive of one two-layer image, manifest.json first
/// (the layers come after it in the stream), the second layer gzip'd.
pub(crate) fn docker_archive(tags: serde_json::Value) -> (Vec<u8>, String, Vec<Vec<u8>>) {
    let l1 = layer_tar(&[("etc/os-release", b"ID=test\n")]);
    let l2 = layer_tar(&[("bin/sh", b"#!shell")]);
    let config = config_for(&[&l1, &l2]);
    let id = sha256_digest(&config);
    let manifest = serde_json::json!([{
        "Config": format!("{}.json", &id[7..]),
        "RepoTags": tags,
        "Layers": ["aaa/layer.tar", "bbb/layer.tar"],
    }]);
    let tar = archive_tar(&[
        (
            "manifest.json".into(),
            serde_json::to_vec(&manifest).unwrap(),
        ),
        (format!("{}.json", &id[7..]), config),
        ("aaa/layer.tar".into(), l1.clone()),
        ("bbb/layer.tar".into(), gzip(&l2)),
    ]);
    (tar, id, vec![l1, l2])
}

#[test]
fn loads_a_docker_archive() {
    let (_d, store) = test_store();
    let (tar, id, layers) = docker_archive(serde_json::json!(["busybox:latest", "x/y:1"]));
    let loaded = load(&store, &open(&store, &tar), &mut Notices::default()).unwrap();
    assert_eq!(
        loaded,
        [LoadedImage {
            id: id.clone(),
            names: vec![
                "docker.io/library/busybox:latest".into(),
                "docker.io/x/y:1".into()
            ]
        }]
    );
    let index = store.images().unwrap();
    let img = index.resolve("busybox").unwrap();
    assert_eq!(img.id, id);
    // Docker's size: what the files hold ("ID=test\n" and "#!shell"),
    // not the tars' headers and padding.
    assert_eq!(img.size, 15);
    let tars: u64 = layers.iter().map(|l| l.len() as u64).sum();
    let recorded: Vec<_> = img.layers.iter().map(|l| store.layer(l).unwrap()).collect();
    assert_eq!(recorded.iter().map(|r| r.size).sum::<u64>(), tars);
    assert_eq!(recorded.iter().map(|r| r.shown_size()).sum::<u64>(), 15);
    assert_eq!(img.created.as_deref(), Some("2024-01-01T00:00:00Z"));
    assert_eq!(
        store.get_blob(&id).unwrap(),
        store.get_blob(&img.id).unwrap()
    );
    let sh = store.layer_diff(&img.layers[1]).unwrap().join("bin/sh");
    assert_eq!(std::fs::read(sh).unwrap(), b"#!shell");
    // Loading again reuses the layers and changes nothing.
    load(&store, &open(&store, &tar), &mut Notices::default()).unwrap();
    assert_eq!(store.images().unwrap().images.len(), 1);
    assert_eq!(
        std::fs::read_dir(store.root().join("tmp")).unwrap().count(),
        0
    );
}

#[test]
fn untagged_images_take_names_from_repositories() {
    let (_d, store) = test_store();
    let (tar, _id, _) = docker_archive(serde_json::Value::Null);
    let loaded = load(&store, &open(&store, &tar), &mut Notices::default()).unwrap();
    assert!(loaded[0].names.is_empty());
    let mut entries = Vec::new();
    let mut a = tar::Archive::new(&tar[..]);
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut data).unwrap();
        entries.push((e.path().unwrap().to_string_lossy().into_owned(), data));
    }
    entries.push(("repositories".into(), br#"{"old":{"v1":"bbb"}}"#.to_vec()));
    let loaded = load(
        &store,
        &open(&store, &archive_tar(&entries)),
        &mut Notices::default(),
    )
    .unwrap();
    assert_eq!(loaded[0].names, ["docker.io/library/old:v1"]);
}

#[test]
fn a_layer_not_matching_its_diff_id_commits_nothing() {
    let (_d, store) = test_store();
    let l1 = layer_tar(&[("a", b"a")]);
    let config = config_for(&[&layer_tar(&[("a", b"b")])]);
    let manifest =
        serde_json::json!([{"Config": "c.json", "RepoTags": ["t:1"], "Layers": ["l.tar"]}]);
    let tar = archive_tar(&[
        ("c.json".into(), config),
        ("l.tar".into(), l1),
        (
            "manifest.json".into(),
            serde_json::to_vec(&manifest).unwrap(),
        ),
    ]);
    let err = load(&store, &open(&store, &tar), &mut Notices::default()).unwrap_err();
    assert!(format!("{err:#}").contains("does not match"), "{err:#}");
    assert_eq!(
        std::fs::read_dir(store.root().join("layers"))
            .unwrap()
            .count(),
        0
    );
    assert_eq!(
        std::fs::read_dir(store.root().join("tmp")).unwrap().count(),
        0
    );
    assert!(store.images().unwrap().images.is_empty());
}

#[test]
fn loads_an_oci_layout_with_a_zstd_layer_and_an_index() {
    let (_d, store) = test_store();
    let l1 = layer_tar(&[("hello", b"world")]);
    let blob = zstd::encode_all(&l1[..], 3).unwrap();
    let config = config_for(&[&l1]);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256_digest(&config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+zstd", "digest": sha256_digest(&blob), "size": blob.len()}],
    }))
    .unwrap();
    let nested = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha256_digest(&manifest), "size": manifest.len(),
                       "platform": {"os": "linux", "architecture": host_architecture()}}],
    }))
    .unwrap();
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha256_digest(&manifest), "size": manifest.len(),
             "annotations": {"org.opencontainers.image.ref.name": "localhost/app:2"}},
            {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": sha256_digest(&nested), "size": nested.len(),
             "annotations": {"io.containerd.image.name": "docker.io/library/app:3"}},
        ],
    }))
    .unwrap();
    let blob_entry = |d: &[u8]| {
        (
            format!("blobs/sha256/{}", &sha256_digest(d)[7..]),
            d.to_vec(),
        )
    };
    let tar = archive_tar(&[
        (
            "oci-layout".into(),
            br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
        ),
        ("index.json".into(), index),
        blob_entry(&manifest),
        blob_entry(&nested),
        blob_entry(&config),
        blob_entry(&blob),
    ]);
    let loaded = load(&store, &open(&store, &tar), &mut Notices::default()).unwrap();
    assert_eq!(loaded.len(), 1);
    assert_eq!(
        loaded[0].names,
        ["localhost/app:2", "docker.io/library/app:3"]
    );
    assert!(store.blob_path(&sha256_digest(&manifest)).unwrap().exists());
    let img = store.images().unwrap().resolve("app:3").unwrap().clone();
    assert_eq!(img.layers, [sha256_digest(&l1)]);
}

#[test]
fn not_an_image_archive_is_a_clear_error() {
    let (_d, store) = test_store();
    let tar = archive_tar(&[("hello".into(), b"x".to_vec())]);
    let err = load(&store, &open(&store, &tar), &mut Notices::default()).unwrap_err();
    assert!(err.to_string().contains("not an image archive"));
}
