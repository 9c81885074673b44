//! Monotonic constraints (scikit-learn's `monotonic_cst`): predictions are monotone along a constrained
//! feature for classifiers and regressors on random data with NaNs; the constraint bites where the data
//! disagree with it; unconstrained models are the bytes they were before constraints existed; misuse is
//! a clear error; the result does not depend on the thread count.

use crate::common;

use common::*;
use forest::{ClassWeight, ForestError, ForestParams, Matrix, RandomForest};
use proptest::prelude::*;

/// `n` rows of `nf` features in [-2, 2], `nan_rate` of the cells NaN, and a target that rises with
/// feature 0 when `slope0 > 0` (falls when < 0), wiggles with it (a sine), and depends on feature 1; a
/// classifier's label is the target thresholded with noise.
fn data(
    seed: u64,
    n: usize,
    nf: usize,
    nan_rate: f64,
    slope0: f64,
) -> (Matrix, Vec<f64>, Vec<f64>) {
    let mut r = rng(seed);
    let mut x = Vec::with_capacity(n * nf);
    let (mut y_reg, mut y_cls) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..n {
        let row: Vec<f64> = (0..nf).map(|_| 4.0 * uniform(&mut r) - 2.0).collect();
        let t = slope0 * row[0] + 1.5 * (3.0 * row[0]).sin() + row[1] + 0.5 * normal(&mut r);
        y_reg.push(t);
        y_cls.push(if t + 0.5 * normal(&mut r) > 0.0 {
            1.0
        } else {
            0.0
        });
        for v in row {
            x.push(if uniform(&mut r) < nan_rate {
                f32::NAN
            } else {
                v as f32
            });
        }
    }
    (Matrix::new(x, n, nf).expect("shape"), y_reg, y_cls)
}

/// Predictions (a classifier's probability of class 1, a regressor's value) of `base` with feature `f`
/// set to each of `grid`, in order.
fn along(model: &RandomForest, base: &[f32], f: usize, grid: &[f32]) -> Vec<f64> {
    let nf = base.len();
    let mut rows = Vec::with_capacity(grid.len() * nf);
    for &v in grid {
        let mut row = base.to_vec();
        row[f] = v;
        rows.extend(row);
    }
    let x = Matrix::new(rows, grid.len(), nf).expect("shape");
    if model.classes().is_empty() {
        model.predict(&x).expect("predict")
    } else {
        let p = model.predict_proba(&x).expect("proba");
        p.chunks(2).map(|c| c[1]).collect()
    }
}

/// Whether `v` never moves against `direction` (1: never falls; -1: never rises).
fn monotone(v: &[f64], direction: i8) -> bool {
    v.windows(2)
        .all(|w| (w[1] - w[0]) * f64::from(direction) >= 0.0)
}

/// 81 values from -3 to 3: beyond the training range on both sides, through every bin.
fn grid() -> Vec<f32> {
    (0..=80).map(|i| -3.0 + 6.0 * i as f32 / 80.0).collect()
}

fn params(monotonic: Vec<i8>, seed: u64) -> ForestParams {
    ForestParams {
        n_trees: 8,
        seed,
        min_samples_leaf: 2,
        monotonic,
        ..ForestParams::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn predictions_are_monotone_along_constrained_features(
        seed in 0u64..1_000_000,
        nf in 2usize..5,
        nan_rate in prop_oneof![Just(0.0), 0.0f64..0.3],
        slope0 in -2.0f64..2.0,
        d0 in prop_oneof![Just(1i8), Just(-1i8)],
        d1 in -1i8..=1,
        rows in 40usize..400,
        base_row in 0usize..40,
    ) {
        let (x, y_reg, y_cls) = data(seed, rows, nf, nan_rate, slope0);
        let mut cst = vec![0i8; nf];
        cst[0] = d0;
        cst[1] = d1;
        let grid = grid();
        let regressor = ForestParams { max_features: forest::MaxFeatures::All, ..params(cst.clone(), seed) }
            .check().unwrap().fit_regressor(&x, &y_reg, None).unwrap();
        let both = y_cls.contains(&1.0) && y_cls.contains(&0.0);
        let classifier = both.then(|| {
            ForestParams { class_weight: ClassWeight::Balanced, ..params(cst.clone(), seed) }
                .check().unwrap().fit(&x, &y_cls, None).unwrap()
        });
        // The other features fixed at a training row's values (NaNs included).
        let base = x.row(base_row % rows).to_vec();
        for model in std::iter::once(&regressor).chain(classifier.as_ref()) {
            for (f, &d) in cst.iter().enumerate().filter(|(_, d)| **d != 0) {
                let v = along(model, &base, f, &grid);
                prop_assert!(monotone(&v, d), "feature {f} direction {d}: {v:?}");
            }
        }
    }
}

#[test]
fn the_constraint_bites_where_the_data_disagree_with_it() {
    // The target falls with feature 0 (and wiggles): unconstrained forests follow it down; constrained to
    // rise, they cannot fall, and what is left of feature 0's effect is flat.
    let (x, y_reg, y_cls) = data(3, 2000, 3, 0.1, -1.5);
    let grid = grid();
    let base = [0.0f32, 0.0, 0.0];
    let free_reg = params(vec![], 1)
        .check()
        .unwrap()
        .fit_regressor(&x, &y_reg, None)
        .unwrap();
    let up_reg = params(vec![1, 0, 0], 1)
        .check()
        .unwrap()
        .fit_regressor(&x, &y_reg, None)
        .unwrap();
    let free_cls = params(vec![], 1)
        .check()
        .unwrap()
        .fit(&x, &y_cls, None)
        .unwrap();
    let up_cls = params(vec![1, 0, 0], 1)
        .check()
        .unwrap()
        .fit(&x, &y_cls, None)
        .unwrap();
    for (free, up) in [(&free_reg, &up_reg), (&free_cls, &up_cls)] {
        let (f, u) = (along(free, &base, 0, &grid), along(up, &base, 0, &grid));
        assert!(!monotone(&f, 1), "unconstrained already rises: {f:?}");
        assert!(f[0] > f[80], "unconstrained should fall: {f:?}");
        assert!(monotone(&u, 1), "{u:?}");
        // Falling is what the data say; rising is not allowed: the constrained curve is (near) flat.
        let range = |v: &[f64]| {
            v.iter().cloned().fold(f64::MIN, f64::max) - v.iter().cloned().fold(f64::MAX, f64::min)
        };
        assert!(
            range(&u) < 0.5 * range(&f),
            "constrained {u:?} vs free {f:?}"
        );
    }
    // A constraint the data agree with costs little: on the rising data, the held-out fit stays close.
    let (x, y_reg, _) = data(4, 3000, 3, 0.1, 1.5);
    let (train, test) = (rows(&x, 0..2000), rows(&x, 2000..3000));
    let mse = |m: &RandomForest| {
        let p = m.predict(&test).unwrap();
        p.iter()
            .zip(&y_reg[2000..])
            .map(|(p, y)| (p - y).powi(2))
            .sum::<f64>()
            / 1000.0
    };
    let free = params(vec![], 1)
        .check()
        .unwrap()
        .fit_regressor(&train, &y_reg[..2000], None)
        .unwrap();
    let up = params(vec![1, 0, 0], 1)
        .check()
        .unwrap()
        .fit_regressor(&train, &y_reg[..2000], None)
        .unwrap();
    assert!(
        mse(&up) < 1.25 * mse(&free),
        "constrained {} vs free {}",
        mse(&up),
        mse(&free)
    );
}

/// CRC-32 of a model file's contents (its stored checksum).
fn stored_crc(model: &RandomForest) -> (usize, u32) {
    let b = model.to_bytes();
    let n = b.len();
    (
        n,
        u32::from_le_bytes([b[n - 4], b[n - 3], b[n - 2], b[n - 1]]),
    )
}

#[test]
fn unconstrained_models_are_the_bytes_they_were_before_constraints() {
    // Sizes and checksums of these three models as fitted by the build before monotonic constraints
    // existed (commit 4cdfe5e); an empty or all-zero constraint list must change nothing.
    let (x, y) = dataset(11, 3000, 8, 0.2, 0.1);
    let (x3, y3) = three_classes(5, 900);
    let yr: Vec<f64> = (0..x.n_rows())
        .map(|i| {
            let r = x.row(i);
            let v = f64::from(r[0]).mul_add(3.0, f64::from(u8::from(r[1].is_nan()))) + y[i];
            if v.is_nan() { 0.0 } else { v }
        })
        .collect();
    for monotonic in [vec![], vec![0; 8]] {
        let binary = ForestParams {
            n_trees: 12,
            seed: 3,
            class_weight: ClassWeight::Balanced,
            min_samples_leaf: 3,
            monotonic: monotonic.clone(),
            ..ForestParams::default()
        };
        assert_eq!(
            stored_crc(&binary.check().unwrap().fit(&x, &y, None).unwrap()),
            (94462, 0x3b32bfc0)
        );
        let multi = ForestParams {
            n_trees: 8,
            seed: 4,
            ..ForestParams::default()
        };
        let m = multi.check().unwrap().fit(&x3, &y3, None).unwrap();
        assert_eq!(stored_crc(&m), (15070, 0xb79da009));
        let regressor = ForestParams {
            n_trees: 10,
            seed: 5,
            max_depth: Some(9),
            monotonic,
            ..ForestParams::regression()
        };
        let r = regressor
            .check()
            .unwrap()
            .fit_regressor(&x, &yr, None)
            .unwrap();
        assert_eq!(stored_crc(&r), (137178, 0x07bda4b4));
    }
    // An all-zero list on a multiclass problem is no constraint either.
    let zeros = ForestParams {
        n_trees: 8,
        seed: 4,
        monotonic: vec![0; 3],
        ..ForestParams::default()
    };
    assert_eq!(
        stored_crc(&zeros.check().unwrap().fit(&x3, &y3, None).unwrap()),
        (15070, 0xb79da009)
    );
}

#[test]
fn constrained_models_do_not_depend_on_the_thread_count() {
    let (x, y_reg, y_cls) = data(9, 1500, 4, 0.1, 0.7);
    let fit = |threads, cls: bool| {
        let p = ForestParams {
            n_threads: Some(threads),
            ..params(vec![1, -1, 0, 1], 2)
        };
        let v = p.check().unwrap();
        if cls {
            v.fit(&x, &y_cls, None)
        } else {
            v.fit_regressor(&x, &y_reg, None)
        }
        .unwrap()
        .to_bytes()
    };
    for cls in [false, true] {
        let one = fit(1, cls);
        assert!(fit(3, cls) == one && fit(4, cls) == one);
    }
}

#[test]
fn bad_constraints_are_clear_errors() {
    let msg = |e: ForestError| e.to_string();
    let e = params(vec![2, 0], 0).check().unwrap_err();
    assert!(msg(e).contains("-1, 0 or 1 per feature, got 2"));
    let (x, y_reg, y_cls) = data(1, 200, 3, 0.0, 1.0);
    let e = params(vec![1, 0], 0)
        .check()
        .unwrap()
        .fit(&x, &y_cls, None)
        .unwrap_err();
    assert!(msg(e).contains("2 constraints given for 3 features"));
    let e = params(vec![1], 0)
        .check()
        .unwrap()
        .fit_regressor(&x, &y_reg, None)
        .unwrap_err();
    assert!(msg(e).contains("1 constraints given for 3 features"));
    let (x3, y3) = three_classes(5, 300);
    let e = msg(params(vec![1, 0, 0], 0)
        .check()
        .unwrap()
        .fit(&x3, &y3, None)
        .unwrap_err());
    assert!(
        e.contains("binary classifier") && e.contains("3 classes"),
        "{e}"
    );
}
