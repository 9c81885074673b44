//! TreeSHAP benchmarks: single rows explained with the shipped default model's forests
//! (`models/default.kpm`) and with a 100-tree depth-8 forest of the `bench/sklearn_compare` data shape.
//! `cargo bench -p forest --bench shap`.

use criterion::{Criterion, criterion_group, criterion_main};
use forest::{ForestParams, Matrix, RandomForest, ShapValues};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};
use std::hint::black_box;

/// The default model bundle, relative to this crate.
const BUNDLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/default.kpm");

/// The forests stored in a model bundle (`crates/learn/src/bundle.rs` documents the layout: magic, version,
/// header length and JSON header, then four length-prefixed forests, 0 = absent). Read here directly
/// because `learn` depends on this crate.
fn bundle_forests(bytes: &[u8]) -> Vec<RandomForest> {
    let u64_at =
        |p: usize| u64::from_le_bytes(bytes[p..p + 8].try_into().expect("8 bytes")) as usize;
    let mut pos = 12;
    pos += 8 + u64_at(pos);
    let mut out = Vec::new();
    for _ in 0..4 {
        let len = u64_at(pos);
        pos += 8;
        if len > 0 {
            out.push(RandomForest::from_bytes(&bytes[pos..pos + len]).expect("forest"));
        }
        pos += len;
    }
    out
}

fn uniform(r: &mut ChaCha8Rng) -> f32 {
    (r.next_u64() >> 40) as f32 / (1u64 << 24) as f32
}

/// Rows whose features take values the forest splits on: per feature, a threshold the model uses (from its
/// JSON export), nudged up or down, or NaN 2% of the time; so walks spread over the trees like real rows.
fn rows_like(model: &RandomForest, n: usize, seed: u64) -> Vec<Vec<f32>> {
    let json = model.to_json();
    let mut thresholds = vec![Vec::new(); model.n_features()];
    for t in json["trees"].as_array().expect("trees") {
        let feature = t["feature"].as_array().expect("feature");
        let threshold = t["threshold"].as_array().expect("threshold");
        for (f, th) in feature.iter().zip(threshold) {
            if let (Some(f), Some(th)) = (f.as_i64(), th.as_f64()) {
                if f >= 0 {
                    thresholds[f as usize].push(th as f32);
                }
            }
        }
    }
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            thresholds
                .iter()
                .map(|ts| {
                    if ts.is_empty() || uniform(&mut r) < 0.02 {
                        return f32::NAN;
                    }
                    let t = ts[(r.next_u64() % ts.len() as u64) as usize];
                    let nudge = (uniform(&mut r) - 0.5) * (t.abs() * 0.05 + 1e-3);
                    t + nudge
                })
                .collect()
        })
        .collect()
}

fn describe(name: &str, m: &RandomForest) {
    eprintln!(
        "{name}: {} trees, {} nodes, {} features, {} classes",
        m.n_trees(),
        m.n_nodes(),
        m.n_features(),
        m.classes().len()
    );
}

fn bench_default_model(c: &mut Criterion) {
    let bytes = std::fs::read(BUNDLE).expect("models/default.kpm");
    let forests = bundle_forests(&bytes);
    let rows: Vec<Vec<Vec<f32>>> = forests
        .iter()
        .enumerate()
        .map(|(i, m)| {
            describe(&format!("default model forest {i}"), m);
            rows_like(m, 256, i as u64)
        })
        .collect();
    let mut g = c.benchmark_group("shap_default_model");
    g.sample_size(20);
    let mut out = ShapValues {
        expected_value: Vec::new(),
        values: Vec::new(),
    };
    let mut one = Vec::new();
    for (i, m) in forests.iter().enumerate() {
        let mut at = 0;
        g.bench_function(format!("forest_{i}_one_row"), |b| {
            b.iter(|| {
                at = (at + 1) % rows[i].len();
                m.shap_values_into(black_box(&rows[i][at]), &mut out)
                    .expect("shap")
            })
        });
        // What the service explains: the last class (the issue class of a binary model) only.
        let class = m.classes().len() - 1;
        g.bench_function(format!("forest_{i}_one_row_one_class"), |b| {
            b.iter(|| {
                at = (at + 1) % rows[i].len();
                m.shap_values_of_class(black_box(&rows[i][at]), class, &mut one)
                    .expect("shap")
            })
        });
    }
    let mut at = 0;
    g.bench_function("all_forests_one_row", |b| {
        b.iter(|| {
            at = (at + 1) % 256;
            for (m, rows) in forests.iter().zip(&rows) {
                m.shap_values_into(black_box(&rows[at]), &mut out)
                    .expect("shap");
            }
        })
    });
    g.finish();
}

/// A 100-tree depth-8 forest on data of the `bench/sklearn_compare` shape (40 features, 4 classes).
fn bench_depth8(c: &mut Criterion) {
    let (n, nf) = (40_000, 40);
    let mut r = ChaCha8Rng::seed_from_u64(7);
    let mut x = Vec::with_capacity(n * nf);
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let row: Vec<f32> = (0..nf).map(|_| uniform(&mut r) * 2.0 - 1.0).collect();
        let score =
            row[0] + 0.5 * row[1] - row[2] * row[3] + 0.3 * row[4] + 0.6 * (uniform(&mut r) - 0.5);
        y.push(f64::from(
            u8::from(score > 0.3) + u8::from(score > 0.6) + u8::from(score > 0.9),
        ));
        x.extend(
            row.into_iter()
                .map(|v| if uniform(&mut r) < 0.05 { f32::NAN } else { v }),
        );
    }
    let x = Matrix::new(x, n, nf).expect("shape");
    let model = ForestParams {
        n_trees: 100,
        max_depth: Some(8),
        seed: 0,
        ..ForestParams::default()
    }
    .check()
    .expect("valid")
    .fit(&x, &y, None)
    .expect("fit");
    describe("depth-8 forest", &model);
    let mut g = c.benchmark_group("shap_depth8");
    g.sample_size(20);
    let mut at = 0;
    g.bench_function("100_trees_40_features_4_classes_one_row", |b| {
        b.iter(|| {
            at = (at + 1) % n;
            model.shap_values(black_box(x.row(at))).expect("shap")
        })
    });
    g.finish();
}

criterion_group!(benches, bench_default_model, bench_depth8);
criterion_main!(benches);
