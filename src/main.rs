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
#![cfg_attr(not(test), no_main)]

/// C's entry point.
#[cfg(not(test))]
#[no_mangle]
pub extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    std::process::exit(berth::cli::main())
}
