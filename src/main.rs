//! The `berth` executable: everything lives in the library; this only
//! hands the process over and turns the outcome into an exit status.
//!
//! berth is started twice per container launch (the command, then its
//! monitor), so the entry point is C's `main`, not Rust's: Rust's runtime
//! start-up reads `/proc/self/maps` to place a guard for the main thread's
//! stack and sets up an alternate signal stack, about 0.1 ms per start
//! on the development machines (a hello-world exec'd 0.84 ms with Rust's
//! `main`, 0.75 ms with C's). What of that start-up berth relies on is
//! done by `cli::main` itself: the standard descriptors are made valid
//! and SIGPIPE's disposition is set. `std::env::args` still works (glibc
//! hands argv to the standard library before `main`), and
//! `std::process::exit` flushes stdout as a return from Rust's `main`
//! would. A stack overflow of the main thread ends in SIGSEGV without
//! Rust's message.
//! (Compiled as a test, the crate keeps the test harness's `main`.)
//!
//! For the same reason the executable loads no shared library at all.
//! glibc itself is linked statically (`scripts/rustc-wrapper`, which
//! says why and how; berth then never calls glibc's name service). For a
//! build linked dynamically (a wrapper of the environment replaces that
//! one), the executable still loads no shared library but libc:
//! Rust's standard library links libgcc_s (the unwinder, for panics and
//! backtraces) and libm (`pow` and `log10`, called by berth's size
//! formatting and by jiff, indicatif and gotmpl); each is a library the
//! dynamic loader maps and relocates at every start. The unwinder is
//! linked in from GCC's static `libgcc_eh.a` (as a statically linked
//! Rust program has it), and the two functions come from the `libm`
//! crate (musl's implementations): with nothing left for them to
//! provide, `--as-needed` drops both libraries. `perf stat -r 300 berth
//! __berth-monitor` (a bare start): 0.63 ms of CPU and 98 page faults
//! with them, 0.48 ms and 79 without.
#![cfg_attr(not(test), no_main)]

// The unwinder, whole: its symbols are then defined before the standard
// library's `-lgcc_s` is reached, which `--as-needed` leaves out.
#[cfg(not(test))]
#[link(name = "gcc_eh", kind = "static", modifiers = "+whole-archive")]
extern "C" {}

/// libm's `pow`, for the code that calls it (`f64::powf`).
#[cfg(not(test))]
#[no_mangle]
pub extern "C" fn pow(x: f64, y: f64) -> f64 {
    libm::pow(x, y)
}

/// libm's `log10`, for the code that calls it (`f64::log10`).
#[cfg(not(test))]
#[no_mangle]
pub extern "C" fn log10(x: f64) -> f64 {
    libm::log10(x)
}

/// C's entry point.
#[cfg(not(test))]
#[no_mangle]
pub extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    std::process::exit(berth::cli::main())
}
