//! Isolation Forest benchmarks: batch scoring of 100k rows x 40 features with 100 trees (the target of
//! issue 18: at least 1M rows/s on 2 cores), one-row scoring and explanation, and fitting.
//! `cargo bench -p forest --bench isolation`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use forest::{IsolationParams, Matrix};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};
use std::hint::black_box;

fn uniform(r: &mut ChaCha8Rng) -> f32 {
    (r.next_u64() >> 40) as f32 / (1u64 << 24) as f32
}

/// `n` rows of `nf` features, roughly normal, 2% missing cells, 1% of rows with one value far out.
fn data(n: usize, nf: usize, seed: u64) -> Matrix {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    let mut x = Vec::with_capacity(n * nf);
    for _ in 0..n {
        let anomalous = uniform(&mut r) < 0.01;
        let at = (uniform(&mut r) * nf as f32) as usize;
        for f in 0..nf {
            let mut v: f32 = (0..4).map(|_| uniform(&mut r)).sum::<f32>() - 2.0;
            if anomalous && f == at {
                v += 6.0;
            }
            x.push(if uniform(&mut r) < 0.02 { f32::NAN } else { v });
        }
    }
    Matrix::new(x, n, nf).expect("shape")
}

fn bench_score(c: &mut Criterion) {
    let train = data(20_000, 40, 1);
    let test = data(100_000, 40, 2);
    let model = IsolationParams::default()
        .check()
        .expect("valid")
        .fit(&train)
        .expect("fit");
    let mut g = c.benchmark_group("isolation");
    g.sample_size(20);
    g.throughput(Throughput::Elements(test.n_rows() as u64));
    g.bench_function("score_100k_rows_40_features_100_trees", |b| {
        b.iter(|| model.score(black_box(&test)).expect("score"))
    });
    g.throughput(Throughput::Elements(1));
    let mut i = 0;
    g.bench_function("score_row_100_trees", |b| {
        b.iter(|| {
            i = (i + 1) % test.n_rows();
            model.score_row(black_box(test.row(i))).expect("score")
        })
    });
    g.bench_function("explain_row_100_trees", |b| {
        b.iter(|| {
            i = (i + 1) % test.n_rows();
            model.explain_row(black_box(test.row(i))).expect("explain")
        })
    });
    g.sample_size(10);
    g.bench_function("fit_20k_rows_40_features_100_trees", |b| {
        b.iter(|| {
            IsolationParams::default()
                .check()
                .expect("valid")
                .fit(black_box(&train))
                .expect("fit")
        })
    });
    g.finish();
}

criterion_group!(benches, bench_score);
criterion_main!(benches);
