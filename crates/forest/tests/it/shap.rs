//! TreeSHAP: additivity on every row (property test) and agreement with brute-force Shapley values.

use crate::common;

use common::*;
use forest::{ForestParams, Matrix, MaxFeatures};
use proptest::prelude::*;

fn assert_additive(model: &forest::RandomForest, x: &Matrix) {
    let k = model.classes().len();
    let proba = model.predict_proba(x).unwrap();
    for i in 0..x.n_rows() {
        let s = model.shap_values(x.row(i)).unwrap();
        assert_eq!(s.values.len(), x.n_features() * k);
        for c in 0..k {
            let total = s.expected_value[c]
                + (0..x.n_features())
                    .map(|f| s.values[f * k + c])
                    .sum::<f64>();
            assert!(
                (total - proba[i * k + c]).abs() < 1e-6,
                "row {i} class {c}: {total} vs {}",
                proba[i * k + c]
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn shap_values_add_up_to_the_probability_on_every_row(
        seed in 0u64..1000,
        n in 30usize..200,
        nf in 1usize..6,
        nan_rate in 0.0f64..0.3,
        depth in prop::option::of(1usize..8),
    ) {
        let (x, y) = dataset(seed, n, nf, 0.4, nan_rate);
        prop_assume!(y.contains(&1.0) && y.contains(&0.0));
        let p = ForestParams { n_trees: 5, max_depth: depth, seed, ..ForestParams::default() };
        let model = p.check().unwrap().fit(&x, &y, None).unwrap();
        assert_additive(&model, &x);
    }
}

#[test]
fn multiclass_shap_is_additive() {
    let (x, y) = three_classes(3, 150);
    let model = small_params().check().unwrap().fit(&x, &y, None).unwrap();
    assert_additive(&model, &x);
}

/// Path-dependent expectation of one tree's output given the features in `set` (bitmask) from `row`.
fn conditional(tree: &serde_json::Value, node: usize, row: &[f32], set: u32, class: usize) -> f64 {
    let left = tree["children_left"][node].as_i64().unwrap();
    if left < 0 {
        return tree["values"][node][class].as_f64().unwrap();
    }
    let right = tree["children_right"][node].as_u64().unwrap() as usize;
    let left = left as usize;
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
        conditional(tree, next, row, set, class)
    } else {
        let w = |i: usize| tree["node_sample_weight"][i].as_f64().unwrap();
        (w(left) * conditional(tree, left, row, set, class)
            + w(right) * conditional(tree, right, row, set, class))
            / w(node)
    }
}

#[test]
fn shap_matches_brute_force_shapley_values() {
    let (x, y) = dataset(21, 300, 4, 0.4, 0.15);
    let p = ForestParams {
        n_trees: 3,
        max_features: MaxFeatures::All,
        max_depth: Some(6),
        ..small_params()
    };
    let model = p.check().unwrap().fit(&x, &y, None).unwrap();
    let json = model.to_json();
    let trees = json["trees"].as_array().unwrap();
    let nf = 4usize;
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
                    .map(|t| {
                        conditional(t, 0, row, set | (1 << f), 1) - conditional(t, 0, row, set, 1)
                    })
                    .sum();
                phi += weight * gain / trees.len() as f64;
            }
            assert!(
                (phi - s.values[f * 2 + 1]).abs() < 1e-9,
                "row {i} feature {f}: {phi} vs {}",
                s.values[f * 2 + 1]
            );
        }
    }
}
