//! Cost of compiling Docker's default seccomp profile, as the launch path
//! pays it (`bench/seccomp.sh` runs this and prints the medians).
//!
//! Prints, in microseconds:
//! - `cold`: the first compile in this process (page faults, cold caches:
//!   what one `berth run` pays);
//! - `warm`: the median of further compiles in the same process;
//! - `json`: the median of parsing the same profile from Docker's JSON and
//!   compiling it, the cost the static table avoids.
//!
//! `cargo bench --bench seccomp -- [ITERATIONS]`

use berth::seccomp::{self, CapMask, Options};
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let iterations: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(2000);
    let caps = CapMask::of(&seccomp::DOCKER_DEFAULT_CAPS);
    let options = Options::default();
    let compile = || {
        let f = seccomp::build(&seccomp::default_profile(), caps, &options).expect("compiles");
        std::hint::black_box(f.instructions().len())
    };
    let t = Instant::now();
    let instructions = compile();
    let cold = t.elapsed().as_secs_f64() * 1e6;
    let warm: Vec<f64> = (0..iterations)
        .map(|_| {
            let t = Instant::now();
            compile();
            t.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    let text = seccomp::json::to_json(&seccomp::default_profile()).to_string();
    let json: Vec<f64> = (0..iterations.min(500))
        .map(|_| {
            let t = Instant::now();
            let p = seccomp::json::parse(&text).expect("parses");
            std::hint::black_box(seccomp::build(&p, caps, &options).expect("compiles"));
            t.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    println!(
        "instructions {instructions} cold_us {cold:.1} warm_us {:.1} json_us {:.1}",
        median(warm),
        median(json)
    );
}
