//! Links the `berth` executable position-dependent (not PIE).
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

fn main() {
    println!("cargo:rustc-link-arg-bins=-no-pie");
    println!("cargo:rerun-if-changed=build.rs");
}
