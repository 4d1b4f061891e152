//! Many containers at once from one store, as the ranks of a Slurm job
//! start them: 64 concurrent `run --rm` of the same image by one user all
//! succeed (generated names that collide are drawn again), and leave
//! nothing behind.

mod common;

use common::*;

#[test]
fn sixty_four_concurrent_runs_all_succeed() {
    each_user(sixty_four_runs);
}

fn sixty_four_runs(b: &Berth) {
    b.load_busybox();
    let outs: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..64)
            .map(|i| {
                s.spawn(move || {
                    let n = i.to_string();
                    b.cmd(&["run", "--rm", "busybox", "echo", "rank", &n])
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut failed = Vec::new();
    for (i, out) in outs.iter().enumerate() {
        if !out.status.success() || stdout(out) != format!("rank {i}\n") {
            failed.push(format!("run {i}: {}", show(out)));
        }
    }
    assert!(
        failed.is_empty(),
        "{} of 64 runs failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
    assert!(b.container_ids().is_empty(), "every --rm container is gone");
    let names = std::fs::read_dir(b.root.join("names")).unwrap().count();
    assert_eq!(names, 0, "no name reservation is left");
}
