//! Property tests: tar-split records (which a read-only image store
//! shared by others may hold) decode without panicking whatever their
//! bytes, and encode/decode round-trips; layer tars of arbitrary headers
//! never make the unpacker panic.

use super::*;
use proptest::prelude::*;

fn piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 1..64).prop_map(Piece::Raw),
        ("[a-z/._]{0,20}", any::<u64>()).prop_map(|(path, size)| Piece::File { path, size }),
    ]
}

/// A tar stream made of header-sized blocks with random fields, some of
/// them valid headers (as the tar crate writes them) with odd values.
fn tar_stream() -> impl Strategy<Value = Vec<u8>> {
    let block = prop_oneof![
        prop::collection::vec(any::<u8>(), 512),
        (
            any::<u8>(),
            "[a-z./]{0,40}",
            "[a-z./]{0,40}",
            any::<u32>(),
            0u64..4096,
        )
            .prop_map(|(kind, name, link, mode, size)| {
                let mut h = tar::Header::new_gnu();
                h.set_entry_type(tar::EntryType::new(kind));
                let old = h.as_old_mut();
                old.name[..name.len()].copy_from_slice(name.as_bytes());
                old.linkname[..link.len()].copy_from_slice(link.as_bytes());
                h.set_mode(mode);
                h.set_size(size);
                h.set_cksum();
                let mut b = h.as_bytes().to_vec();
                b.extend(std::iter::repeat_n(
                    0x41u8,
                    size.div_ceil(512) as usize * 512,
                ));
                b
            }),
        Just(vec![0u8; 1024]),
    ];
    prop::collection::vec(block, 0..6).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn records_round_trip(pieces in prop::collection::vec(piece(), 0..20)) {
        let mut split = TarSplit::default();
        for p in pieces {
            match p {
                Piece::Raw(b) => split.push_raw(&b),
                Piece::File { path, size } => split.push_file(path, size),
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ts.gz");
        split.write_to(&path).unwrap();
        prop_assert_eq!(TarSplit::read_from(&path).unwrap(), split);
    }

    #[test]
    fn damaged_records_never_panic(mut bytes in prop::collection::vec(any::<u8>(), 0..512), magic in any::<bool>()) {
        if magic {
            let mut b = MAGIC.to_vec();
            b.append(&mut bytes);
            bytes = b;
        }
        let _ = TarSplit::decode(&mut &bytes[..]);
    }

    #[test]
    fn tar_headers_never_panic_the_unpacker(tar in tar_stream()) {
        let dir = tempfile::tempdir().unwrap();
        let layer = dir.path().join("layer");
        std::fs::create_dir(&layer).unwrap();
        let mut notices = crate::image::layer::Notices::default();
        let _ = crate::image::layer::unpack_into(&layer, &tar[..], &mut notices);
        // Whatever happened, nothing was made beside the layer directory.
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.file_name()).collect();
        prop_assert_eq!(names, vec![std::ffi::OsString::from("layer")]);
    }
}
