//! Property tests: image configs and registry manifests (untrusted JSON
//! from registries and archives) never make the parsers panic.

use crate::util::json_gen::json_bytes;
use proptest::prelude::*;

const KEYS: &[&str] = &[
    "architecture",
    "os",
    "variant",
    "config",
    "Env",
    "Cmd",
    "Entrypoint",
    "WorkingDir",
    "User",
    "Volumes",
    "ExposedPorts",
    "Healthcheck",
    "Test",
    "Labels",
    "StopSignal",
    "rootfs",
    "type",
    "diff_ids",
    "history",
    "empty_layer",
    "created",
    "schemaVersion",
    "mediaType",
    "layers",
    "manifests",
    "digest",
    "size",
    "platform",
    "annotations",
    "urls",
];

const TYPES: [&str; 6] = [
    "",
    "application/json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn configs_never_panic(bytes in json_bytes(KEYS, 4)) {
        if let Ok(c) = super::config::ImageConfig::parse(&bytes) {
            // What parsed serializes and parses again the same.
            let again = serde_json::to_vec(&c).unwrap();
            let back = super::config::ImageConfig::parse(&again).unwrap();
            prop_assert_eq!(serde_json::to_value(&back).unwrap(), serde_json::to_value(&c).unwrap());
        }
    }

    #[test]
    fn manifests_never_panic(bytes in json_bytes(KEYS, 4), t in 0usize..6) {
        let _ = super::registry::manifest::parse(&bytes, TYPES[t]);
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256), t in 0usize..6) {
        let _ = super::config::ImageConfig::parse(&bytes);
        let _ = super::registry::manifest::parse(&bytes, TYPES[t]);
    }
}
