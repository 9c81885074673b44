//! Fit and predict benchmarks on a synthetic noisy 4-class dataset (deep trees, 5% NaN), and a regression
//! forest on the same rows with the noisy score as target.
//! `cargo bench -p forest`; the side-by-side comparison with scikit-learn is `bench/sklearn_compare/run.sh`.

use criterion::{Criterion, criterion_group, criterion_main};
use forest::{ClassWeight, ForestParams, Matrix};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};
use std::hint::black_box;

fn uniform(r: &mut ChaCha8Rng) -> f32 {
    (r.next_u64() >> 40) as f32 / (1u64 << 24) as f32
}

/// `n` rows of `nf` features; the class is a noisy function of the first four features.
fn data(n: usize, nf: usize, seed: u64) -> (Matrix, Vec<f64>) {
    let (x, _, y) = data_with_score(n, nf, seed);
    (x, y)
}

/// [`data`] with the noisy score the classes are cut from (a regression target).
fn data_with_score(n: usize, nf: usize, seed: u64) -> (Matrix, Vec<f64>, Vec<f64>) {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    let mut x = Vec::with_capacity(n * nf);
    let mut y = Vec::with_capacity(n);
    let mut scores = Vec::with_capacity(n);
    for _ in 0..n {
        let row: Vec<f32> = (0..nf).map(|_| uniform(&mut r) * 2.0 - 1.0).collect();
        let score = row[0] + 0.5 * row[1] - row[2] * row[3] + 0.6 * (uniform(&mut r) - 0.5);
        let class = if score > 0.9 {
            3.0
        } else if score > 0.6 {
            2.0
        } else if score > 0.3 {
            1.0
        } else {
            0.0
        };
        x.extend(
            row.into_iter()
                .map(|v| if uniform(&mut r) < 0.05 { f32::NAN } else { v }),
        );
        y.push(class);
        scores.push(f64::from(score));
    }
    (Matrix::new(x, n, nf).expect("shape"), scores, y)
}

fn params(n_trees: usize) -> ForestParams {
    ForestParams {
        n_trees,
        class_weight: ClassWeight::Balanced,
        seed: 0,
        ..ForestParams::default()
    }
}

fn bench_fit(c: &mut Criterion) {
    let (x, y) = data(20_000, 20, 1);
    let p = params(10).check().expect("valid");
    let mut g = c.benchmark_group("fit");
    g.sample_size(10);
    g.bench_function("20k_rows_20_features_10_trees", |b| {
        b.iter(|| p.fit(black_box(&x), &y, None).expect("fit"))
    });
    g.finish();
}

fn bench_predict(c: &mut Criterion) {
    let (x, y) = data(30_000, 20, 2);
    let (xt, _) = data(10_000, 20, 3);
    let model = params(30)
        .check()
        .expect("valid")
        .fit(&x, &y, None)
        .expect("fit");
    let mut g = c.benchmark_group("predict");
    g.sample_size(20);
    g.bench_function("batch_10k_rows_30_trees", |b| {
        b.iter(|| model.predict_proba(black_box(&xt)).expect("predict"))
    });
    let mut out = vec![0.0; model.classes().len()];
    let mut i = 0;
    g.bench_function("one_row_30_trees", |b| {
        b.iter(|| {
            i = (i + 1) % xt.n_rows();
            model
                .predict_proba_row(black_box(xt.row(i)), &mut out)
                .expect("predict");
        })
    });
    g.bench_function("shap_one_row_30_trees", |b| {
        b.iter(|| {
            i = (i + 1) % xt.n_rows();
            model.shap_values(black_box(xt.row(i))).expect("shap")
        })
    });
    g.finish();
}

/// Batch `predict_proba` with 100 fully grown trees on 40 features (the `bench/sklearn_compare` shape, on
/// fewer rows so that the setup fit stays short).
fn bench_predict_full_trees(c: &mut Criterion) {
    let (x, y) = data(40_000, 40, 4);
    let (xt, _) = data(40_000, 40, 5);
    let model = params(100)
        .check()
        .expect("valid")
        .fit(&x, &y, None)
        .expect("fit");
    let mut g = c.benchmark_group("predict");
    g.sample_size(10);
    g.bench_function("batch_40k_rows_100_full_trees_40_features", |b| {
        b.iter(|| model.predict_proba(black_box(&xt)).expect("predict"))
    });
    g.finish();
}

/// A regression forest (`max_features` all, as scikit-learn's regressor) on the 4-class data's score.
fn bench_regression(c: &mut Criterion) {
    let (x, y, _) = data_with_score(20_000, 20, 1);
    let (xt, _, _) = data_with_score(10_000, 20, 3);
    let p = ForestParams {
        n_trees: 10,
        ..ForestParams::regression()
    }
    .check()
    .expect("valid");
    let mut g = c.benchmark_group("regression");
    g.sample_size(10);
    g.bench_function("fit_20k_rows_20_features_10_trees", |b| {
        b.iter(|| p.fit_regressor(black_box(&x), &y, None).expect("fit"))
    });
    let model = p.fit_regressor(&x, &y, None).expect("fit");
    g.bench_function("batch_10k_rows_10_trees", |b| {
        b.iter(|| model.predict(black_box(&xt)).expect("predict"))
    });
    let mut i = 0;
    g.bench_function("one_row_10_trees", |b| {
        b.iter(|| {
            i = (i + 1) % xt.n_rows();
            model.predict_row(black_box(xt.row(i))).expect("predict")
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    bench_fit,
    bench_predict,
    bench_predict_full_trees,
    bench_regression
);
criterion_main!(benches);
