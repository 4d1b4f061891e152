//! The man pages in man/ are generated from the clap definitions; this
//! fails when a flag or help text changed without regenerating them.

use std::collections::BTreeMap;
use std::path::Path;

fn read_pages(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".1"))
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

#[test]
fn man_pages_are_current() {
    let fresh = tempfile::tempdir().unwrap();
    berth::cli::write_man_pages(fresh.path()).unwrap();
    let committed = read_pages(&Path::new(env!("CARGO_MANIFEST_DIR")).join("man"));
    let generated = read_pages(fresh.path());
    assert!(generated.contains_key("berth.1") && generated.contains_key("berth-run.1"));
    let stale: Vec<&String> = generated
        .keys()
        .chain(committed.keys())
        .filter(|name| generated.get(*name) != committed.get(*name))
        .collect();
    assert!(
        stale.is_empty(),
        "man pages are stale: {stale:?}; regenerate them with `cargo run -- generate-man-pages man`"
    );
}
