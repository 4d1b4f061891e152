//! Links the `berth` executable position-dependent (not PIE), with the
//! functions of a launch laid out together.
//!
//! Every container launch execs berth twice (the command, then the
//! container's monitor). As a position-independent executable, each exec
//! applies ~14,000 relative relocations, which copy-on-write about 60
//! pages of vtables and constant tables: on the development machines
//! `perf stat` measured 0.86 ms of CPU and 157 page faults per bare
//! start as PIE, 0.67 ms and 91 faults position-dependent. The shared
//! libraries, the heap and the stacks keep their randomised addresses;
//! only berth's own code and constants sit at fixed ones, as in Debian's
//! builds of runc, containerd and podman.
//!
//! `launch-order.txt` lists, in the order a launch first runs them, the
//! ~1,250 functions (1.6 MB of 12 MB of code) that `run`, `exec`, `kill`,
//! `rm` and the monitor and init run; the linker puts them first. Each
//! process then faults in ~25 windows of code instead of ~100 spread over
//! the whole text (the kernel maps 64 KiB around each fault, 1-3 µs each
//! here): a `run --rm` took 358 page faults instead of 496. Made by
//! `bench/launch-order.sh`; a name the build no longer has is skipped (a
//! new Rust or a changed dependency renames them all: run the script
//! again, bench.sh says when). The option is LLD's, which Rust uses to
//! link on x86_64 Linux since 1.90; another linker gets no order.
//!
//! glibc is linked in statically as well, by `scripts/rustc-wrapper`
//! (a build script can only add link arguments, which cannot do it).

use std::path::Path;

fn main() {
    println!("cargo:rustc-link-arg-bins=-no-pie");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=launch-order.txt");
    let order = Path::new(env!("CARGO_MANIFEST_DIR")).join("launch-order.txt");
    if order.is_file() && links_with_lld() {
        println!(
            "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
            order.display()
        );
        println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    }
}

/// Rust's default linker for this target is its own LLD, unless the
/// build names another (a `linker` or `-fuse-ld` in its flags).
fn links_with_lld() -> bool {
    let target = std::env::var("TARGET").unwrap_or_default();
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let linker_set =
        std::env::vars().any(|(k, _)| k.starts_with("CARGO_TARGET_") && k.ends_with("_LINKER"));
    target == "x86_64-unknown-linux-gnu"
        && !linker_set
        && !flags.contains("linker")
        && !flags.contains("-fuse-ld")
}
