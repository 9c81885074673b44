//! Quality regression against scikit-learn on a small imbalanced multiclass dataset with missing values.
//!
//! The fixture and scikit-learn's figures on it (mean over 5 seeds of `RandomForestClassifier(
//! n_estimators=100, max_features="sqrt")`, `class_weight="balanced"` and `None`) are written by
//! `bench/sklearn_compare/make_fixture.py`; the scikit-learn version is recorded in the JSON.

use forest::{ClassWeight, ForestParams, Matrix};
use serde_json::Value;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
const SEEDS: std::ops::Range<u64> = 0..5;
const CLASSES: usize = 4;

/// Reads a fixture CSV: header, label first, an empty cell is NaN.
fn read_csv(name: &str) -> (Matrix, Vec<f64>) {
    let text = std::fs::read_to_string(format!("{FIXTURES}/{name}")).expect("fixture");
    let mut lines = text.lines();
    let nf = lines.next().expect("header").split(',').count() - 1;
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for line in lines {
        let mut cells = line.split(',');
        y.push(cells.next().expect("label").parse::<f64>().expect("label"));
        x.extend(cells.map(|c| {
            if c.is_empty() {
                f32::NAN
            } else {
                c.parse::<f32>().expect("number")
            }
        }));
    }
    let n = y.len();
    (Matrix::new(x, n, nf).expect("shape"), y)
}

/// Mean macro F1 and mean recall per class over [`SEEDS`].
fn figures(class_weight: ClassWeight) -> (f64, Vec<f64>) {
    let (x, y) = read_csv("imbalanced-train.csv");
    let (xt, yt) = read_csv("imbalanced-test.csv");
    let (mut f1, mut recall) = (0.0, vec![0.0; CLASSES]);
    for seed in SEEDS {
        let params = ForestParams {
            n_trees: 100,
            class_weight: class_weight.clone(),
            seed,
            ..ForestParams::default()
        };
        let pred = params.check().unwrap().fit(&x, &y, None).unwrap();
        let pred = pred.predict(&xt).unwrap();
        let (seed_f1, seed_recall) = macro_f1(&pred, &yt);
        f1 += seed_f1 / SEEDS.count() as f64;
        for (r, s) in recall.iter_mut().zip(seed_recall) {
            *r += s / SEEDS.count() as f64;
        }
    }
    (f1, recall)
}

/// Macro F1 and recall per class of predictions `pred` against labels `y` (classes 0..CLASSES).
fn macro_f1(pred: &[f64], y: &[f64]) -> (f64, Vec<f64>) {
    let mut f1 = 0.0;
    let mut recalls = Vec::new();
    for c in 0..CLASSES {
        let c = c as f64;
        let tp = pred
            .iter()
            .zip(y)
            .filter(|(p, t)| **p == c && **t == c)
            .count() as f64;
        let predicted = pred.iter().filter(|p| **p == c).count() as f64;
        let actual = y.iter().filter(|t| **t == c).count() as f64;
        let (precision, recall) = (tp / predicted.max(1.0), tp / actual.max(1.0));
        if precision + recall > 0.0 {
            f1 += 2.0 * precision * recall / (precision + recall) / CLASSES as f64;
        }
        recalls.push(recall);
    }
    (f1, recalls)
}

fn sklearn(class_weight: &str) -> (f64, Vec<f64>) {
    let text = std::fs::read_to_string(format!("{FIXTURES}/imbalanced-sklearn.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let fig = &v[class_weight];
    let recall = fig["recall_per_class_mean"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_f64().unwrap())
        .collect();
    (fig["macro_f1_mean"].as_f64().unwrap(), recall)
}

#[test]
fn balanced_macro_f1_within_a_point_of_scikit_learn_and_above_uniform() {
    let (f1, recall) = figures(ClassWeight::Balanced);
    let (sk_f1, sk_recall) = sklearn("balanced");
    assert!(
        f1 >= sk_f1 - 0.01,
        "macro F1 {f1:.4} vs scikit-learn {sk_f1:.4}; recall {recall:?} vs {sk_recall:?}"
    );
    let (uniform_f1, uniform_recall) = figures(ClassWeight::Uniform);
    let (sk_uniform_f1, _) = sklearn("uniform");
    eprintln!("balanced: ours {f1:.4} {recall:.3?}, scikit-learn {sk_f1:.4} {sk_recall:.3?}");
    eprintln!(
        "uniform: ours {uniform_f1:.4} {uniform_recall:.3?}, scikit-learn {sk_uniform_f1:.4}"
    );
    assert!(
        uniform_f1 >= sk_uniform_f1 - 0.01,
        "uniform macro F1 {uniform_f1:.4} vs scikit-learn {sk_uniform_f1:.4}"
    );
    for c in 1..CLASSES {
        assert!(
            recall[c] > uniform_recall[c],
            "class {c}: balanced recall {:.4} not above uniform {:.4}",
            recall[c],
            uniform_recall[c]
        );
    }
}
