//! Fitting and predicting: accuracy, probabilities, NaN routing, weights, OOB, importances, determinism.

use crate::common;

use common::*;
use forest::{ClassWeight, Criterion, ForestParams, Matrix, MaxFeatures};

#[test]
fn learns_three_classes_with_arbitrary_labels() {
    let (x, y) = three_classes(1, 600);
    let (xt, yt) = three_classes(2, 300);
    let model = small_params().check().unwrap().fit(&x, &y, None).unwrap();
    assert_eq!(model.classes(), &[2.0, 5.0, 7.0]);
    assert_eq!(model.n_features(), 3);
    let pred = model.predict(&xt).unwrap();
    assert!(
        accuracy(&pred, &yt) > 0.95,
        "accuracy {}",
        accuracy(&pred, &yt)
    );
    let proba = model.predict_proba(&xt).unwrap();
    assert_eq!(proba.len(), 300 * 3);
    for p in proba.chunks(3) {
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-6);
    }
}

#[test]
fn single_row_path_gives_the_same_probabilities_as_the_batch() {
    let (x, y) = dataset(3, 500, 6, 0.3, 0.1);
    let model = small_params().check().unwrap().fit(&x, &y, None).unwrap();
    let batch = model.predict_proba(&x).unwrap();
    let mut out = vec![0.0; 2];
    for i in 0..x.n_rows() {
        model.predict_proba_row(x.row(i), &mut out).unwrap();
        assert_eq!(&out[..], &batch[i * 2..i * 2 + 2]);
    }
}

#[test]
fn batches_of_any_size_give_the_single_row_probabilities() {
    // Sizes around the number of walks batch prediction keeps in flight, and below its block size.
    let (x, y) = dataset(5, 300, 5, 0.3, 0.1);
    let model = small_params().check().unwrap().fit(&x, &y, None).unwrap();
    let mut out = vec![0.0; 2];
    for n in [1, 2, 7, 15, 16, 17, 31, 33, 255, 257] {
        let xs = Matrix::new(x.values()[..n * 5].to_vec(), n, 5).unwrap();
        let batch = model.predict_proba(&xs).unwrap();
        assert_eq!(batch.len(), n * 2);
        for i in 0..n {
            model.predict_proba_row(xs.row(i), &mut out).unwrap();
            assert_eq!(&out[..], &batch[i * 2..i * 2 + 2], "batch of {n}, row {i}");
        }
    }
}

#[test]
fn entropy_and_every_max_features_option_fit() {
    let (x, y) = dataset(4, 300, 8, 0.4, 0.05);
    for mf in [
        MaxFeatures::Sqrt,
        MaxFeatures::Log2,
        MaxFeatures::Fraction(0.5),
        MaxFeatures::Count(3),
        MaxFeatures::All,
    ] {
        let p = ForestParams {
            criterion: Criterion::Entropy,
            max_features: mf,
            ..small_params()
        };
        let model = p.check().unwrap().fit(&x, &y, None).unwrap();
        let acc = accuracy(&model.predict(&x).unwrap(), &y);
        assert!(acc > 0.8, "{mf:?}: training accuracy {acc}");
    }
}

#[test]
fn max_depth_and_min_samples_leaf_limit_the_trees() {
    let (x, y) = dataset(5, 1000, 4, 0.4, 0.0);
    let full = small_params().check().unwrap().fit(&x, &y, None).unwrap();
    let stump = ForestParams {
        max_depth: Some(1),
        ..small_params()
    }
    .check()
    .unwrap()
    .fit(&x, &y, None)
    .unwrap();
    assert_eq!(stump.n_nodes(), 3 * 20, "a depth-1 tree has 3 nodes");
    let leafy = ForestParams {
        min_samples_leaf: 50,
        ..small_params()
    }
    .check()
    .unwrap()
    .fit(&x, &y, None)
    .unwrap();
    assert!(
        leafy.n_nodes() < full.n_nodes() / 5,
        "{} vs {}",
        leafy.n_nodes(),
        full.n_nodes()
    );
    // Each leaf of a single non-bootstrap tree holds at least 50 of the 1000 rows: at most 20 leaves.
    let one = ForestParams {
        n_trees: 1,
        bootstrap: false,
        min_samples_leaf: 50,
        ..small_params()
    };
    let model = one.check().unwrap().fit(&x, &y, None).unwrap();
    assert!(model.n_nodes() < 2 * 20, "{} nodes", model.n_nodes());
}

/// Missing values carry the signal: the tree must learn to send NaN to the class-1 side.
#[test]
fn nan_routing_is_learned_when_missingness_is_informative() {
    let mut r = rng(6);
    let n = 400;
    let mut v = Vec::new();
    let mut y = Vec::new();
    for i in 0..n {
        let class = (i % 2) as f64;
        let noise = normal(&mut r) as f32;
        // Feature 0: NaN for class 1, uniform noise for class 0. Feature 1: pure noise.
        v.push(if class == 1.0 { f32::NAN } else { noise });
        v.push(normal(&mut r) as f32);
        y.push(class);
    }
    let x = Matrix::new(v, n, 2).unwrap();
    let p = ForestParams {
        n_trees: 1,
        bootstrap: false,
        max_features: MaxFeatures::All,
        max_depth: Some(1),
        ..small_params()
    };
    let model = p.check().unwrap().fit(&x, &y, None).unwrap();
    assert_eq!(accuracy(&model.predict(&x).unwrap(), &y), 1.0);
    let mut out = [0.0; 2];
    model.predict_proba_row(&[f32::NAN, 0.0], &mut out).unwrap();
    assert_eq!(out, [0.0, 1.0]);
    model.predict_proba_row(&[0.3, f32::NAN], &mut out).unwrap();
    assert_eq!(out, [1.0, 0.0]);
}

/// No NaN at training time: a NaN at prediction follows the child with more training weight.
#[test]
fn nan_seen_only_at_prediction_goes_to_the_heavier_child() {
    for (share_low, expected) in [(0.8, 0.0), (0.2, 1.0)] {
        let n = 500;
        let mut v = Vec::new();
        let mut y = Vec::new();
        for i in 0..n {
            let low = (i as f64) < share_low * n as f64;
            v.push(if low {
                -1.0 - i as f32 / n as f32
            } else {
                1.0 + i as f32 / n as f32
            });
            y.push(if low { 0.0 } else { 1.0 });
        }
        let x = Matrix::new(v, n, 1).unwrap();
        let p = ForestParams {
            n_trees: 1,
            bootstrap: false,
            max_depth: Some(1),
            ..small_params()
        };
        let model = p.check().unwrap().fit(&x, &y, None).unwrap();
        assert_eq!(
            model
                .predict(&Matrix::new(vec![f32::NAN], 1, 1).unwrap())
                .unwrap(),
            vec![expected]
        );
    }
}

#[test]
fn balanced_class_weight_raises_minority_recall() {
    let (x, y) = dataset(8, 3000, 5, 0.08, 0.05);
    let (xt, yt) = dataset(9, 3000, 5, 0.08, 0.05);
    let base = ForestParams {
        max_depth: Some(4),
        n_trees: 30,
        ..small_params()
    };
    let uniform = base.clone().check().unwrap().fit(&x, &y, None).unwrap();
    let balanced = ForestParams {
        class_weight: ClassWeight::Balanced,
        ..base.clone()
    }
    .check()
    .unwrap()
    .fit(&x, &y, None)
    .unwrap();
    let explicit = ForestParams {
        class_weight: ClassWeight::Explicit(vec![1.0, 10.0]),
        ..base
    }
    .check()
    .unwrap()
    .fit(&x, &y, None)
    .unwrap();
    let r_uniform = recall(&uniform.predict(&xt).unwrap(), &yt, 1.0);
    let r_balanced = recall(&balanced.predict(&xt).unwrap(), &yt, 1.0);
    let r_explicit = recall(&explicit.predict(&xt).unwrap(), &yt, 1.0);
    assert!(
        r_balanced > r_uniform + 0.2,
        "balanced {r_balanced} vs uniform {r_uniform}"
    );
    assert!(
        r_explicit > r_uniform + 0.2,
        "explicit {r_explicit} vs uniform {r_uniform}"
    );
}

#[test]
fn sample_weights_act_like_class_weights() {
    let (x, y) = dataset(10, 400, 4, 0.3, 0.05);
    let sw: Vec<f64> = y
        .iter()
        .map(|c| if *c == 1.0 { 3.0 } else { 1.0 })
        .collect();
    let by_sample = small_params()
        .check()
        .unwrap()
        .fit(&x, &y, Some(&sw))
        .unwrap();
    let by_class = ForestParams {
        class_weight: ClassWeight::Explicit(vec![1.0, 3.0]),
        ..small_params()
    }
    .check()
    .unwrap()
    .fit(&x, &y, None)
    .unwrap();
    assert_eq!(by_sample.to_bytes(), by_class.to_bytes());
    let unweighted = small_params().check().unwrap().fit(&x, &y, None).unwrap();
    assert_ne!(unweighted.to_bytes(), by_class.to_bytes());
}

#[test]
fn oob_score_is_close_to_the_held_out_score() {
    let (x, y) = dataset(11, 4000, 6, 0.4, 0.05);
    let (train, test) = (rows(&x, 0..3000), rows(&x, 3000..4000));
    let p = ForestParams {
        n_trees: 40,
        oob_score: true,
        ..small_params()
    };
    let model = p.check().unwrap().fit(&train, &y[..3000], None).unwrap();
    let oob = model.oob_score().expect("oob requested");
    let held_out = accuracy(&model.predict(&test).unwrap(), &y[3000..]);
    assert!(
        (oob - held_out).abs() < 0.03,
        "oob {oob} vs held-out {held_out}"
    );
    let proba = model.oob_proba().expect("oob proba");
    assert_eq!(proba.len(), 3000 * 2);
    assert!(
        proba
            .chunks(2)
            .all(|p| p[0].is_nan() || (p[0] + p[1] - 1.0).abs() < 1e-6)
    );
    assert!(
        small_params()
            .check()
            .unwrap()
            .fit(&train, &y[..3000], None)
            .unwrap()
            .oob_score()
            .is_none()
    );
}

#[test]
fn importances_rank_the_informative_features_first() {
    let (x, y) = dataset(12, 2000, 6, 0.5, 0.0);
    let model = small_params().check().unwrap().fit(&x, &y, None).unwrap();
    let mdi = model.feature_importances();
    assert!((mdi.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    let noise_max = mdi[2..].iter().cloned().fold(0.0, f64::max);
    assert!(mdi[0] > noise_max && mdi[1] > noise_max, "{mdi:?}");
    let perm = model.permutation_importance(&x, &y, 3, 1).unwrap();
    assert_eq!(perm.len(), 6);
    let noise_max = perm[2..].iter().cloned().fold(f64::MIN, f64::max);
    assert!(perm[0] > noise_max && perm[1] > noise_max, "{perm:?}");
    assert_eq!(
        perm,
        model.permutation_importance(&x, &y, 3, 1).unwrap(),
        "seeded"
    );
}

#[test]
fn same_seed_same_bytes_whatever_the_thread_count() {
    let (x, y) = dataset(13, 1500, 7, 0.3, 0.05);
    let fit = |threads| {
        ForestParams {
            n_threads: Some(threads),
            oob_score: true,
            ..small_params()
        }
        .check()
        .unwrap()
        .fit(&x, &y, None)
        .unwrap()
        .to_bytes()
    };
    let one = fit(1);
    assert_eq!(one, fit(2));
    assert_eq!(one, fit(3));
    let other_seed = ForestParams {
        seed: 8,
        ..small_params()
    }
    .check()
    .unwrap()
    .fit(&x, &y, None)
    .unwrap();
    assert_ne!(one, other_seed.to_bytes());
}

#[test]
fn model_round_trip_gives_identical_predictions() {
    let (x, y) = dataset(14, 800, 5, 0.3, 0.1);
    let model = ForestParams {
        oob_score: true,
        ..small_params()
    }
    .check()
    .unwrap()
    .fit(&x, &y, None)
    .unwrap();
    let bytes = model.to_bytes();
    let back = forest::RandomForest::from_bytes(&bytes).unwrap();
    assert_eq!(back.to_bytes(), bytes);
    assert_eq!(
        back.predict_proba(&x).unwrap(),
        model.predict_proba(&x).unwrap()
    );
    assert_eq!(back.oob_score(), model.oob_score());
    assert_eq!(back.feature_importances(), model.feature_importances());
    assert_eq!(
        back.shap_values(x.row(0)).unwrap(),
        model.shap_values(x.row(0)).unwrap()
    );
}

/// Walks the JSON export by hand: it must describe exactly the trees that predict.
#[test]
fn json_export_describes_the_same_trees() {
    let (x, y) = dataset(15, 300, 4, 0.3, 0.2);
    let model = ForestParams {
        n_trees: 5,
        ..small_params()
    }
    .check()
    .unwrap()
    .fit(&x, &y, None)
    .unwrap();
    let json = model.to_json();
    let trees = json["trees"].as_array().unwrap();
    assert_eq!(trees.len(), 5);
    let proba = model.predict_proba(&x).unwrap();
    for i in 0..x.n_rows() {
        let row = x.row(i);
        let mut sum = [0.0; 2];
        for t in trees {
            let mut node = 0usize;
            while t["children_left"][node].as_i64().unwrap() >= 0 {
                let f = t["feature"][node].as_u64().unwrap() as usize;
                let v = f64::from(row[f]);
                node = if v.is_nan() {
                    t["children_default"][node].as_u64().unwrap() as usize
                } else if v <= t["threshold"][node].as_f64().unwrap() {
                    t["children_left"][node].as_u64().unwrap() as usize
                } else {
                    t["children_right"][node].as_u64().unwrap() as usize
                };
            }
            for (c, s) in sum.iter_mut().enumerate() {
                *s += t["values"][node][c].as_f64().unwrap();
            }
        }
        for c in 0..2 {
            assert!((sum[c] / 5.0 - proba[i * 2 + c]).abs() < 1e-9);
        }
    }
}
