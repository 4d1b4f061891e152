//! Property tests: the indexes of an archive given to `berth load`
//! (`manifest.json` as `docker save` writes it, an OCI layout's
//! `index.json`, and what they point to) never make the loader panic,
//! whatever JSON they hold.

use super::*;
use crate::store::test_store;
use crate::util::json_gen::json_bytes;
use proptest::prelude::*;

const KEYS: &[&str] = &[
    "Config",
    "RepoTags",
    "Layers",
    "schemaVersion",
    "mediaType",
    "manifests",
    "digest",
    "size",
    "annotations",
    "org.opencontainers.image.ref.name",
    "io.containerd.image.name",
    "config",
    "layers",
    "platform",
    "rootfs",
    "diff_ids",
];

fn archive_with(name: &str, index: Vec<u8>, extra: Vec<u8>) -> Vec<u8> {
    tests::archive_tar(&[
        (name.to_string(), index),
        ("c.json".to_string(), extra.clone()),
        (
            format!(
                "blobs/sha256/{}",
                &crate::util::digest::sha256_digest(&extra)[7..]
            ),
            extra,
        ),
        (
            "oci-layout".to_string(),
            br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
        ),
    ])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn indexes_never_panic(
        index in json_bytes(KEYS, 4),
        extra in json_bytes(KEYS, 3),
        oci in any::<bool>(),
    ) {
        let (_dir, store) = test_store();
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("a.tar");
        let name = if oci { "index.json" } else { "manifest.json" };
        std::fs::write(&path, archive_with(name, index, extra)).unwrap();
        let archive = Archive::open(&store, Some(&path)).unwrap();
        let _ = if oci { oci_candidates(&archive) } else { docker_candidates(&archive) };
    }

    #[test]
    fn archives_of_random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let (_dir, store) = test_store();
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("a.tar");
        std::fs::write(&path, &bytes).unwrap();
        if let Ok(archive) = Archive::open(&store, Some(&path)) {
            let _ = load(&store, &archive, &mut crate::image::layer::Notices::default());
        }
    }
}
