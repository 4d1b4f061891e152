//! The `berth` executable: everything lives in the library; this only
//! hands the process over and turns the outcome into an exit status.

fn main() {
    std::process::exit(berth::cli::main());
}
