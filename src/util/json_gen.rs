//! A proptest strategy for JSON documents whose keys come from a given
//! vocabulary, for the property tests of the parsers that read JSON from
//! untrusted places (image configs, manifests, archive indexes, seccomp
//! profiles): random values under the names the parser looks for reach
//! far deeper than random bytes.

use proptest::prelude::*;
use serde_json::Value;

/// Scalars of every JSON kind but floats (which serde_json does not
/// round-trip exactly, and which no document here carries), with the odd
/// values parsers trip on.
fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        Just(Value::from(-1)),
        Just(Value::from(0)),
        Just(Value::from(u32::MAX)),
        ".{0,20}".prop_map(Value::from),
        Just(Value::from("sha256:".to_string() + &"a".repeat(64))),
        Just(Value::from("sha256:nothex")),
        Just(Value::from("../../../etc/passwd")),
        Just(Value::from("/etc/passwd")),
        Just(Value::from("application/vnd.oci.image.manifest.v1+json")),
        Just(Value::from("application/vnd.oci.image.index.v1+json")),
        Just(Value::from(
            "application/vnd.docker.distribution.manifest.v2+json"
        )),
        Just(Value::from(
            "application/vnd.docker.distribution.manifest.list.v2+json"
        )),
        Just(Value::from("SCMP_ACT_ALLOW")),
        Just(Value::from("SCMP_ACT_ERRNO")),
        Just(Value::from("SCMP_ARCH_X86_64")),
        Just(Value::from("SCMP_CMP_MASKED_EQ")),
        Just(Value::from("CAP_SYS_ADMIN")),
    ]
}

/// JSON values at most `depth` deep, objects keyed by `keys` (and a few
/// random names).
pub(crate) fn json_value(keys: &'static [&'static str], depth: u32) -> BoxedStrategy<Value> {
    let key = prop_oneof![
        4 => prop::sample::select(keys).prop_map(str::to_string),
        1 => "[a-zA-Z]{1,6}",
    ];
    scalar()
        .boxed()
        .prop_recursive(depth, 64, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::vec((key.clone(), inner), 0..6)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
        .boxed()
}

/// The bytes of a JSON document from [`json_value`], sometimes cut short
/// or with a byte changed.
pub(crate) fn json_bytes(keys: &'static [&'static str], depth: u32) -> BoxedStrategy<Vec<u8>> {
    (json_value(keys, depth), any::<u8>(), any::<u16>())
        .prop_map(|(v, mode, at)| {
            let mut bytes = serde_json::to_vec(&v).unwrap_or_default();
            match mode % 8 {
                0 if !bytes.is_empty() => bytes.truncate(at as usize % bytes.len()),
                1 if !bytes.is_empty() => {
                    let i = at as usize % bytes.len();
                    bytes[i] = bytes[i].wrapping_add(mode);
                }
                _ => {}
            }
            bytes
        })
        .boxed()
}
