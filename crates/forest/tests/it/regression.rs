//! Regression forests: fit quality on a noisy nonlinear function with NaNs, a step recovered, weighted means,
//! limits, determinism, round trip, batch = single row, TreeSHAP, errors.

use crate::common;

use common::*;
use forest::{ClassWeight, ForestError, ForestParams, Matrix, MaxFeatures, RandomForest, Task};

/// Friedman's #1 function (`10 sin(pi x0 x1) + 20 (x2 - 0.5)^2 + 10 x3 + 5 x4`, the rest noise features)
/// plus unit normal noise, `x` uniform in [0, 1], `nan_rate` of cells NaN. Its noise variance is 1 of a
/// total variance of about 25, so the best possible R^2 is about 0.96.
fn friedman(seed: u64, n: usize, nf: usize, nan_rate: f64) -> (Matrix, Vec<f64>) {
    assert!(nf >= 5);
    let mut r = rng(seed);
    let mut x = Vec::with_capacity(n * nf);
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let row: Vec<f64> = (0..nf).map(|_| uniform(&mut r)).collect();
        let f = 10.0 * (std::f64::consts::PI * row[0] * row[1]).sin()
            + 20.0 * (row[2] - 0.5).powi(2)
            + 10.0 * row[3]
            + 5.0 * row[4];
        y.push(f + normal(&mut r));
        for v in row {
            x.push(if uniform(&mut r) < nan_rate {
                f32::NAN
            } else {
                v as f32
            });
        }
    }
    (Matrix::new(x, n, nf).expect("shape"), y)
}

fn r2(pred: &[f64], y: &[f64]) -> f64 {
    let mean = y.iter().sum::<f64>() / y.len() as f64;
    let total: f64 = y.iter().map(|v| (v - mean).powi(2)).sum();
    let residual: f64 = pred.iter().zip(y).map(|(p, v)| (p - v).powi(2)).sum();
    1.0 - residual / total
}

fn regression_params(n_trees: usize) -> ForestParams {
    ForestParams {
        n_trees,
        seed: 7,
        ..ForestParams::regression()
    }
}

fn fit(p: &ForestParams, x: &Matrix, y: &[f64]) -> RandomForest {
    p.check().unwrap().fit_regressor(x, y, None).unwrap()
}

#[test]
fn fits_a_noisy_nonlinear_function_with_nans_on_a_hold_out() {
    let (x, y) = friedman(1, 3000, 8, 0.05);
    let (xt, yt) = friedman(2, 1000, 8, 0.05);
    let model = fit(&regression_params(50), &x, &y);
    assert_eq!(model.task(), Task::Regression);
    assert_eq!(model.n_outputs(), 1);
    assert!(model.classes().is_empty());
    let pred = model.predict(&xt).unwrap();
    assert_eq!(pred.len(), 1000);
    let score = r2(&pred, &yt);
    // Predicting the training mean scores about 0 (slightly below) on the hold-out.
    let mean = y.iter().sum::<f64>() / y.len() as f64;
    let baseline = r2(&vec![mean; yt.len()], &yt);
    assert!(
        score > 0.8 && baseline < 0.01,
        "hold-out R^2 {score}, mean {baseline}"
    );
    // The informative features rank above the noise ones.
    let imp = model.feature_importances();
    let weakest_signal = imp[..5].iter().copied().fold(f64::INFINITY, f64::min);
    let strongest_noise = imp[5..].iter().copied().fold(0.0, f64::max);
    assert!(
        weakest_signal > 2.0 * strongest_noise,
        "importances {imp:?}"
    );
}

#[test]
fn max_features_sqrt_also_fits_and_default_regression_params_use_every_feature() {
    assert_eq!(ForestParams::regression().max_features, MaxFeatures::All);
    let (x, y) = friedman(3, 2000, 8, 0.0);
    let (xt, yt) = friedman(4, 500, 8, 0.0);
    let p = ForestParams {
        max_features: MaxFeatures::Sqrt,
        ..regression_params(40)
    };
    let score = r2(&fit(&p, &x, &y).predict(&xt).unwrap(), &yt);
    assert!(score > 0.6, "hold-out R^2 {score} with sqrt features");
}

#[test]
fn a_monotone_step_is_recovered() {
    // y is a noisy increasing step of feature 0 (levels 0, 5, 12 at 0.3 and 0.7); feature 1 is noise.
    let mut r = rng(5);
    let n = 2000;
    let (mut v, mut y) = (Vec::new(), Vec::new());
    let step = |x: f64| {
        if x < 0.3 {
            0.0
        } else if x < 0.7 {
            5.0
        } else {
            12.0
        }
    };
    for _ in 0..n {
        let a = uniform(&mut r);
        v.push(a as f32);
        v.push(uniform(&mut r) as f32);
        y.push(step(a) + 0.5 * normal(&mut r));
    }
    let x = Matrix::new(v, n, 2).unwrap();
    let p = ForestParams {
        min_samples_leaf: 20,
        ..regression_params(30)
    };
    let model = fit(&p, &x, &y);
    // Along feature 0, averaged over feature 1: non-decreasing, at the step's levels away from the edges.
    let grid: Vec<f64> = (1..100).map(|i| i as f64 / 100.0).collect();
    let curve: Vec<f64> = grid
        .iter()
        .map(|a| {
            let rows: Vec<f32> = (0..20).flat_map(|j| [*a as f32, j as f32 / 20.0]).collect();
            let p = model.predict(&Matrix::new(rows, 20, 2).unwrap()).unwrap();
            p.iter().sum::<f64>() / 20.0
        })
        .collect();
    for (w, a) in curve.windows(2).zip(&grid) {
        assert!(w[1] >= w[0] - 0.3, "not monotone at {a}: {w:?}");
    }
    for (a, c) in grid.iter().zip(&curve) {
        if (a - 0.3).abs() > 0.05 && (a - 0.7).abs() > 0.05 {
            assert!((c - step(*a)).abs() < 0.5, "at {a}: {c} vs {}", step(*a));
        }
    }
}

#[test]
fn leaves_hold_the_weighted_mean_of_their_targets() {
    // One constant feature: no split, every tree is one leaf; without bootstrap it sees every row with
    // its weight: (1 + 2 + 3 + 3 x 10) / 6 = 6.
    let x = Matrix::new(vec![1.0; 4], 4, 1).unwrap();
    let y = [1.0, 2.0, 3.0, 10.0];
    let w = [1.0, 1.0, 1.0, 3.0];
    let p = ForestParams {
        bootstrap: false,
        ..regression_params(3)
    };
    let model = p.check().unwrap().fit_regressor(&x, &y, Some(&w)).unwrap();
    assert_eq!(model.n_nodes(), 3);
    assert_eq!(model.predict_row(&[1.0]).unwrap(), 6.0);
    // Zero weights remove rows: only the last two count.
    let model = p
        .check()
        .unwrap()
        .fit_regressor(&x, &y, Some(&[0.0, 0.0, 1.0, 1.0]))
        .unwrap();
    assert_eq!(model.predict_row(&[f32::NAN]).unwrap(), 6.5);
}

#[test]
fn targets_far_from_zero_split_as_well_as_centred_ones() {
    // The same step lifted by 1e6 (times in seconds since an epoch, say): the trees must not lose the
    // split to rounding in the sums of squares.
    let n = 200;
    let x = Matrix::new((0..n).map(|i| i as f32).collect(), n, 1).unwrap();
    let y: Vec<f64> = (0..n)
        .map(|i| 1e6 + f64::from(u8::from(i >= 100)))
        .collect();
    let p = ForestParams {
        bootstrap: false,
        ..regression_params(1)
    };
    let model = fit(&p, &x, &y);
    assert_eq!(model.n_nodes(), 3, "one split, two pure leaves");
    assert_eq!(model.predict_row(&[10.0]).unwrap(), 1e6);
    assert_eq!(model.predict_row(&[150.0]).unwrap(), 1e6 + 1.0);
}

#[test]
fn nan_routing_is_learned_and_unseen_nan_takes_the_heavier_side() {
    // Feature 0 is NaN exactly when the target is high.
    let mut r = rng(9);
    let n = 400;
    let (mut v, mut y) = (Vec::new(), Vec::new());
    for i in 0..n {
        let high = i % 2 == 1;
        v.push(if high {
            f32::NAN
        } else {
            normal(&mut r) as f32
        });
        y.push(if high { 100.0 } else { 1.0 });
    }
    let x = Matrix::new(v, n, 1).unwrap();
    let p = ForestParams {
        bootstrap: false,
        max_depth: Some(1),
        ..regression_params(1)
    };
    let model = fit(&p, &x, &y);
    assert_eq!(model.predict_row(&[f32::NAN]).unwrap(), 100.0);
    assert_eq!(model.predict_row(&[0.3]).unwrap(), 1.0);
    // No NaN in training: a NaN at prediction follows the child with more training weight (x > 0.5: 3 of 4).
    let x = Matrix::new((0..n).map(|i| i as f32 / n as f32).collect(), n, 1).unwrap();
    let y: Vec<f64> = (0..n).map(|i| f64::from(u8::from(i >= n / 4))).collect();
    let model = fit(&p, &x, &y);
    assert_eq!(model.predict_row(&[f32::NAN]).unwrap(), 1.0);
}

#[test]
fn max_depth_and_min_samples_leaf_limit_the_trees() {
    let (x, y) = friedman(6, 1000, 5, 0.0);
    let stump = fit(
        &ForestParams {
            max_depth: Some(1),
            ..regression_params(10)
        },
        &x,
        &y,
    );
    assert_eq!(stump.n_nodes(), 3 * 10);
    // One tree on every row, leaves of at least 50 rows: at most 20 leaves, so under 40 nodes.
    let leafy = fit(
        &ForestParams {
            n_trees: 1,
            bootstrap: false,
            min_samples_leaf: 50,
            ..regression_params(1)
        },
        &x,
        &y,
    );
    assert!(leafy.n_nodes() < 40, "{} nodes", leafy.n_nodes());
}

#[test]
fn same_seed_same_bytes_whatever_the_thread_count() {
    let (x, y) = friedman(7, 800, 6, 0.1);
    // Uneven sample weights: the weighted bootstrap draws in proportion to them.
    let w: Vec<f64> = (0..800).map(|i| 0.5 + (i % 7) as f64).collect();
    let bytes = |threads: usize| {
        ForestParams {
            n_threads: Some(threads),
            oob_score: true,
            ..regression_params(12)
        }
        .check()
        .unwrap()
        .fit_regressor(&x, &y, Some(&w))
        .unwrap()
        .to_bytes()
    };
    let one = bytes(1);
    assert_eq!(one, bytes(4));
    assert_eq!(one, bytes(2));
}

#[test]
fn model_round_trip_keeps_the_task_and_the_predictions() {
    let (x, y) = friedman(8, 500, 5, 0.1);
    let model = fit(
        &ForestParams {
            oob_score: true,
            ..regression_params(10)
        },
        &x,
        &y,
    );
    let bytes = model.to_bytes();
    assert_eq!(&bytes[8..12], &forest::FORMAT_VERSION.to_le_bytes());
    let back = RandomForest::from_bytes(&bytes).unwrap();
    assert_eq!(back.task(), Task::Regression);
    assert_eq!(back.oob_score(), model.oob_score());
    assert_eq!(back.feature_importances(), model.feature_importances());
    assert_eq!(back.predict(&x).unwrap(), model.predict(&x).unwrap());
    assert_eq!(back.to_bytes(), bytes);
    // Out of bag, the forest explains a good part of the variance.
    let oob = model.oob_score().unwrap();
    assert!(oob > 0.5 && oob < 1.0, "OOB R^2 {oob}");
    assert_eq!(model.oob_proba().unwrap().len(), 500);
}

#[test]
fn batch_predictions_equal_single_row_predictions_bit_for_bit() {
    let (x, y) = friedman(9, 1500, 6, 0.1);
    let model = fit(&regression_params(15), &x, &y);
    // Sizes around the walks in flight and the block size, and a batch big enough for several blocks.
    for n in [1, 2, 15, 16, 17, 255, 257, 1500] {
        let xs = rows(&x, 0..n);
        let batch = model.predict(&xs).unwrap();
        assert_eq!(batch.len(), n);
        for (i, b) in batch.iter().enumerate() {
            let one = model.predict_row(xs.row(i)).unwrap();
            assert_eq!(
                one.to_bits(),
                b.to_bits(),
                "batch of {n}, row {i}: {one} vs {b}"
            );
        }
    }
    // Values never seen in training: far outside the range, infinities, all NaN.
    let odd = Matrix::new(
        [
            1e30f32,
            -1e30,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            0.5,
        ]
        .iter()
        .flat_map(|v| [*v; 6])
        .collect(),
        6,
        6,
    )
    .unwrap();
    let batch = model.predict(&odd).unwrap();
    for (i, b) in batch.iter().enumerate() {
        assert_eq!(
            model.predict_row(odd.row(i)).unwrap().to_bits(),
            b.to_bits()
        );
    }
}

#[test]
fn shap_values_add_up_to_the_prediction() {
    let (x, y) = friedman(10, 600, 6, 0.1);
    for depth in [Some(3), None] {
        let model = fit(
            &ForestParams {
                max_depth: depth,
                ..regression_params(10)
            },
            &x,
            &y,
        );
        let mut one = Vec::new();
        for i in 0..100 {
            let s = model.shap_values(x.row(i)).unwrap();
            assert_eq!(s.expected_value.len(), 1);
            assert_eq!(s.values.len(), 6);
            let total = s.expected_value[0] + s.values.iter().sum::<f64>();
            let pred = model.predict_row(x.row(i)).unwrap();
            assert!(
                (total - pred).abs() < 1e-9,
                "{depth:?} row {i}: {total} vs {pred}"
            );
            // The one-output walk is the same walk.
            let e = model.shap_values_of_class(x.row(i), 0, &mut one).unwrap();
            assert_eq!(e, s.expected_value[0]);
            assert_eq!(one, s.values);
        }
        // The expected value is the mean training prediction (cover-weighted): near the mean target.
        let mean = y.iter().sum::<f64>() / y.len() as f64;
        let e = model.shap_values(x.row(0)).unwrap().expected_value[0];
        assert!(
            (e - mean).abs() < 0.5,
            "expected value {e}, mean target {mean}"
        );
    }
}

/// Path-dependent expectation of a JSON-exported tree's output given the features in `set` from `row`.
fn conditional(tree: &serde_json::Value, node: usize, row: &[f32], set: u32) -> f64 {
    let left = tree["children_left"][node].as_i64().unwrap();
    if left < 0 {
        return tree["values"][node][0].as_f64().unwrap();
    }
    let left = left as usize;
    let right = tree["children_right"][node].as_u64().unwrap() as usize;
    let f = tree["feature"][node].as_u64().unwrap() as usize;
    if set & (1 << f) != 0 {
        let v = row[f];
        let next = if v.is_nan() {
            tree["children_default"][node].as_u64().unwrap() as usize
        } else if f64::from(v) <= tree["threshold"][node].as_f64().unwrap() {
            left
        } else {
            right
        };
        conditional(tree, next, row, set)
    } else {
        let w = |i: usize| tree["node_sample_weight"][i].as_f64().unwrap();
        (w(left) * conditional(tree, left, row, set)
            + w(right) * conditional(tree, right, row, set))
            / w(node)
    }
}

#[test]
fn shap_matches_brute_force_shapley_values_of_the_json_export() {
    let (x, y) = friedman(11, 300, 5, 0.15);
    let model = fit(
        &ForestParams {
            max_depth: Some(6),
            ..regression_params(3)
        },
        &x,
        &y,
    );
    let json = model.to_json();
    assert_eq!(json["task"], "regression");
    assert_eq!(json["n_outputs"], 1);
    let trees = json["trees"].as_array().unwrap();
    // The export's root values average to the expected value.
    let root: f64 = trees
        .iter()
        .map(|t| t["values"][0][0].as_f64().unwrap())
        .sum::<f64>()
        / trees.len() as f64;
    let e = json["expected_value"][0].as_f64().unwrap();
    assert!((root - e).abs() < 1e-9, "{root} vs {e}");
    let nf = 5usize;
    let fact = |n: usize| (1..=n).product::<usize>() as f64;
    for i in 0..10 {
        let row = x.row(i);
        let s = model.shap_values(row).unwrap();
        for f in 0..nf {
            let mut phi = 0.0;
            for set in 0u32..(1 << nf) {
                if set & (1 << f) != 0 {
                    continue;
                }
                let size = set.count_ones() as usize;
                let weight = fact(size) * fact(nf - size - 1) / fact(nf);
                let gain: f64 = trees
                    .iter()
                    .map(|t| conditional(t, 0, row, set | (1 << f)) - conditional(t, 0, row, set))
                    .sum();
                phi += weight * gain / trees.len() as f64;
            }
            assert!(
                (phi - s.values[f]).abs() < 1e-9,
                "row {i} feature {f}: {phi} vs {}",
                s.values[f]
            );
        }
    }
}

#[test]
fn permutation_importance_uses_r2_and_ranks_the_signal_first() {
    let (x, y) = friedman(12, 1000, 6, 0.0);
    let model = fit(&regression_params(20), &x, &y);
    let imp = model.permutation_importance(&x, &y, 2, 1).unwrap();
    // Shuffling x3 (slope 10) costs far more R^2 than shuffling the noise feature x5.
    assert!(imp[3] > 0.1 && imp[5].abs() < 0.05, "{imp:?}");
}

#[test]
fn bad_targets_and_classification_only_calls_are_clear_errors() {
    let (x, mut y) = friedman(13, 50, 5, 0.0);
    let p = regression_params(2).check().unwrap();
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e39] {
        y[7] = bad;
        match p.fit_regressor(&x, &y, None) {
            Err(e @ ForestError::NonFiniteTarget { row: 7, .. }) => {
                assert!(e.to_string().contains("row 7"), "{e}");
            }
            other => panic!("{bad}: expected NonFiniteTarget, got {other:?}"),
        }
    }
    y[7] = 1.0;
    assert!(matches!(
        p.fit_regressor(&x, &y[..49], None),
        Err(ForestError::LengthMismatch { what: "y", .. })
    ));
    assert!(matches!(
        p.fit_regressor(&x, &y, Some(&[1.0; 3])),
        Err(ForestError::LengthMismatch {
            what: "sample_weight",
            ..
        })
    ));
    let mut w = vec![1.0; 50];
    w[3] = -1.0;
    assert!(matches!(
        p.fit_regressor(&x, &y, Some(&w)),
        Err(ForestError::InvalidSampleWeight { row: 3, .. })
    ));
    assert!(matches!(
        p.fit_regressor(&x, &y, Some(&[0.0; 50])),
        Err(ForestError::InvalidParam {
            name: "sample_weight",
            ..
        })
    ));
    let empty = Matrix::new(vec![], 0, 5).unwrap();
    assert!(matches!(
        p.fit_regressor(&empty, &[], None),
        Err(ForestError::EmptyData)
    ));
    let balanced = ForestParams {
        class_weight: ClassWeight::Balanced,
        ..regression_params(2)
    };
    assert!(matches!(
        balanced.check().unwrap().fit_regressor(&x, &y, None),
        Err(ForestError::InvalidParam {
            name: "class_weight",
            ..
        })
    ));
    // A constant target is fine for a regressor (one leaf per tree).
    let model = p.fit_regressor(&x, &[4.25; 50], None).unwrap();
    assert_eq!(model.n_nodes(), 2);
    assert_eq!(model.predict_row(x.row(0)).unwrap(), 4.25);
    // Probabilities are a classifier's.
    let mut out = [0.0];
    for e in [
        model.predict_proba(&x).unwrap_err(),
        model.predict_proba_row(x.row(0), &mut out).unwrap_err(),
    ] {
        assert!(
            matches!(
                e,
                ForestError::WrongTask {
                    model: Task::Regression,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.to_string().contains("regressor"), "{e}");
    }
    assert!(matches!(
        model.predict_row(&[0.0; 4]),
        Err(ForestError::FeatureCountMismatch {
            expected: 5,
            got: 4
        })
    ));
}

#[test]
fn classifiers_predict_rows_as_their_batch_labels() {
    let (x, y) = three_classes(1, 300);
    let model = small_params().check().unwrap().fit(&x, &y, None).unwrap();
    assert_eq!(model.task(), Task::Classification);
    assert_eq!(model.n_outputs(), 3);
    let batch = model.predict(&x).unwrap();
    for (i, label) in batch.iter().enumerate() {
        assert_eq!(model.predict_row(x.row(i)).unwrap(), *label);
    }
}
