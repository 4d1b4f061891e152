//! Benchmark driver for bench/build-context.sh: opens a directory as a
//! build context (one walk with .dockerignore), plans `COPY . /`, hashes
//! every file it takes on all cores, and prints the times in milliseconds
//! as `walk=<ms> hash=<ms> total=<ms> files=<n> key=<digest>`.

use berth::build::context::{
    BuildContext, ContextSource, CopyRequest, DestKind, DockerfileSource, Ownership,
};
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .expect("usage: build_context_hash DIR");
    let staging = tempfile::tempdir()?;
    let t0 = Instant::now();
    let ctx = BuildContext::open(
        ContextSource::Directory(dir.into()),
        DockerfileSource::Contents(b"FROM scratch\nCOPY . /\n".to_vec()),
        staging.path(),
    )?;
    let sources = vec![".".to_string()];
    let plan = ctx.plan(&CopyRequest {
        instruction: "COPY",
        sources: &sources,
        dest: "/",
        workdir: "/",
        excludes: &[],
        parents: false,
        dest_kind: DestKind::Dir,
    })?;
    let t1 = Instant::now();
    ctx.prefetch_hashes([&plan])?;
    let key = ctx.plan_key(&plan, Ownership::default())?;
    let t2 = Instant::now();
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    println!(
        "walk={:.1} hash={:.1} total={:.1} files={} key={key}",
        ms(t1 - t0),
        ms(t2 - t1),
        ms(t2 - t0),
        ctx.hashes().len()
    );
    Ok(())
}
