//! Cost of compiling Docker's default seccomp profile, as the launch path
//! pays it (`bench/seccomp.sh` runs this and prints the medians).
//!
//! Prints, in microseconds:
//! - `cold`: the first compile in this process (page faults, cold caches:
//!   what one `berth run` pays);
//! - `warm`: the median of further compiles in the same process;
//! - `json`: the median of parsing the same profile from Docker's JSON and
//!   compiling it, the cost the static table avoids;
//! - `install`: the median time the kernel takes to check and load the
//!   filter a container without subordinate ids gets (the default profile
//!   with fakeroot's rules, the largest), in 21 forked children.
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
    let fakeroot = Options {
        fakeroot: true,
        no_tty_injection: true,
        ..Options::default()
    };
    let filter = seccomp::build(&seccomp::default_profile(), caps, &fakeroot).expect("compiles");
    let install: Vec<f64> = (0..21).map(|_| install_in_child(&filter)).collect();
    println!(
        "instructions {instructions} cold_us {cold:.1} warm_us {:.1} json_us {:.1} \
         fakeroot_instructions {} install_us {:.1}",
        median(warm),
        median(json),
        filter.instructions().len(),
        median(install)
    );
}

/// Microseconds a forked child took to install `filter`.
fn install_in_child(filter: &seccomp::Filter) -> f64 {
    let mut fds = [0; 2];
    // SAFETY: pipe fills the two descriptors we pass.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: the child only makes system calls and writes to the pipe
    // before _exit (this benchmark has no other thread).
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        seccomp::set_no_new_privs().expect("no_new_privs");
        let t = Instant::now();
        let ok = seccomp::install(filter).is_ok();
        let us: f64 = if ok {
            t.elapsed().as_secs_f64() * 1e6
        } else {
            -1.0
        };
        // SAFETY: writing 8 bytes we own to the pipe, then leaving.
        unsafe {
            libc::write(fds[1], us.to_le_bytes().as_ptr().cast(), 8);
            libc::_exit(0);
        }
    }
    let mut buf = [0u8; 8];
    // SAFETY: reading 8 bytes into our buffer, closing our descriptors,
    // reaping the child.
    unsafe {
        libc::close(fds[1]);
        libc::read(fds[0], buf.as_mut_ptr().cast(), 8);
        libc::close(fds[0]);
        libc::waitpid(pid, std::ptr::null_mut(), 0);
    }
    f64::from_le_bytes(buf)
}
