//! What linting adds to checking, on the generated benchmark workspace (1,000 pipelines × 6
//! stages × 4 jobs × 3 tasks): `analyze` alone (what `pw check` does), the lint alone on that
//! analysis, and both (what `pw lint` does). Run with:
//!
//! ```text
//! cargo bench -p pw-compiler --bench lint
//! ```
//!
//! `PW_BENCH_FILES=100` makes a smaller workspace for a quick look.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use pw_compiler::analyze;
use pw_compiler::lint::{self, LintConfig};
use std::hint::black_box;
use std::time::Duration;

mod common;

/// The allocator the `pw` binary uses, so that the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn bench(c: &mut Criterion) {
    let mut shape = common::Shape::BENCH;
    if let Some(files) = std::env::var("PW_BENCH_FILES").ok().and_then(|v| v.parse().ok()) {
        shape.files = files;
    }
    let files = common::generate(&shape);
    let (lines, _) = common::size(&files);
    let ws = common::workspace(&files);
    let analysis = analyze(&ws);
    assert!(!analysis.has_errors(), "the generated workspace does not check");
    let config = LintConfig::default();
    let findings = lint::lint(&ws, &analysis, &config);
    eprintln!("workspace: {} files, {lines} lines, {} findings", files.len(), findings.len());
    let mut group = c.benchmark_group("lint");
    group.throughput(Throughput::Elements(lines as u64));
    group.bench_function("check", |b| b.iter(|| black_box(analyze(&ws))));
    group.bench_function("lint-only", |b| b.iter(|| black_box(lint::lint(&ws, &analysis, &config))));
    group.bench_function("check+lint", |b| {
        b.iter(|| {
            let a = analyze(&ws);
            black_box(lint::lint(&ws, &a, &config))
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(10));
    targets = bench
}
criterion_main!(benches);
