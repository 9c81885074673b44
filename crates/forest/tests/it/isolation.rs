//! The Isolation Forest through the public API: it ranks planted anomalies first, explains them, is
//! deterministic whatever the thread count, survives NaN and constant columns, and its model file round-trips
//! and never panics on damage.

use crate::common;

use common::*;
use forest::{
    ForestError, IsolationForest, IsolationParams, Matrix, RandomForest, average_path_length,
};
use proptest::prelude::*;

/// `n_normal` rows of correlated normal data on `nf` features, then `n_anomalies` rows that are normal
/// except in `k` features (row `i`'s features `i % nf ..`, cyclically), pushed 4 to 6 standard deviations
/// out; `nan_rate` of the other cells are missing. Returns the matrix and the labels (true = anomaly).
///
/// An anomaly in one of many features is a hard case for an isolation forest (a split picks its feature
/// with probability `1 / nf`): on this data with `k = 1` the AUC is about 0.997 on 1 feature, 0.95 on 4,
/// 0.88 on 8; with `k = 2` on 8 features 0.98.
fn planted(
    seed: u64,
    n_normal: usize,
    n_anomalies: usize,
    (nf, k): (usize, usize),
    nan_rate: f64,
) -> (Matrix, Vec<bool>) {
    let mut r = rng(seed);
    let mut x = Vec::new();
    let mut y = Vec::new();
    for i in 0..n_normal + n_anomalies {
        let anomaly = i >= n_normal;
        let common = normal(&mut r);
        for f in 0..nf {
            let mut v = 0.6 * common + 0.8 * normal(&mut r);
            let planted_here = anomaly && (f + nf - i % nf) % nf < k;
            if planted_here {
                let sign = if uniform(&mut r) < 0.5 { -1.0 } else { 1.0 };
                v = sign * (4.0 + 2.0 * uniform(&mut r));
            }
            let missing = uniform(&mut r) < nan_rate && !planted_here;
            x.push(if missing { f32::NAN } else { v as f32 });
        }
        y.push(anomaly);
    }
    (
        Matrix::new(x, n_normal + n_anomalies, nf).expect("shape"),
        y,
    )
}

fn fit(x: &Matrix, p: IsolationParams) -> IsolationForest {
    p.check().expect("valid").fit(x).expect("fit")
}

fn params(seed: u64) -> IsolationParams {
    IsolationParams {
        seed,
        ..IsolationParams::default()
    }
}

/// Area under the ROC curve of `score` for `positive` (ties count half).
fn auc(score: &[f64], positive: &[bool]) -> f64 {
    let (mut pairs, mut wins) = (0.0, 0.0);
    for (s, p) in score.iter().zip(positive) {
        if !p {
            continue;
        }
        for (t, q) in score.iter().zip(positive) {
            if *q {
                continue;
            }
            pairs += 1.0;
            wins += if s > t {
                1.0
            } else if s == t {
                0.5
            } else {
                0.0
            };
        }
    }
    wins / pairs
}

#[test]
fn planted_anomalies_rank_above_normal_rows() {
    let (train, _) = planted(1, 5_000, 0, (8, 2), 0.0);
    let model = fit(&train, params(3));
    let (test, y) = planted(2, 2_000, 100, (8, 2), 0.0);
    let score = model.score(&test).expect("score");
    let a = auc(&score, &y);
    assert!(a > 0.95, "AUC {a}");
    assert!(score.iter().all(|s| *s > 0.0 && *s <= 1.0));
    // Normal rows score below 0.5 on average, planted ones above.
    let mean = |anomaly: bool| {
        let v: Vec<f64> = score
            .iter()
            .zip(&y)
            .filter(|(_, a)| **a == anomaly)
            .map(|(s, _)| *s)
            .collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    assert!(
        mean(false) < 0.5 && mean(true) > 0.5,
        "{} {}",
        mean(false),
        mean(true)
    );
}

#[test]
fn missing_values_neither_panic_nor_hide_anomalies() {
    // 10% missing cells in training and test, one all-missing column, one constant column.
    let (mut train, _) = planted(5, 4_000, 0, (8, 2), 0.1);
    let (mut test, y) = planted(6, 2_000, 100, (8, 2), 0.1);
    for x in [&mut train, &mut test] {
        let nf = x.n_features();
        let mut v = x.values().to_vec();
        for row in v.chunks_exact_mut(nf) {
            row[6] = f32::NAN;
            row[7] = 3.0;
        }
        *x = Matrix::new(v, x.n_rows(), nf).expect("shape");
    }
    let model = fit(&train, params(4));
    let score = model.score(&test).expect("score");
    assert!(score.iter().all(|s| s.is_finite() && *s > 0.0 && *s <= 1.0));
    // Features 6 and 7 were overwritten (missing, constant): rank the anomalies planted in 0..=5 only.
    let keep: Vec<usize> = (0..y.len()).filter(|&i| !y[i] || i % 8 < 5).collect();
    let s: Vec<f64> = keep.iter().map(|&i| score[i]).collect();
    let p: Vec<bool> = keep.iter().map(|&i| y[i]).collect();
    let a = auc(&s, &p);
    assert!(a > 0.95, "AUC with missing values {a}");
    // A row with every value missing is scored like the most common values: not anomalous.
    let all_missing = model.score_row(&[f32::NAN; 8]).expect("score");
    assert!(all_missing < 0.55, "all-missing row scores {all_missing}");
    // The missing and the constant column are never split on, so they explain nothing.
    let e = model.explain_row(test.row(2_000)).expect("explain");
    assert_eq!(e.values[6], 0.0);
    assert_eq!(e.values[7], 0.0);
}

#[test]
fn constant_data_scores_one_half_everywhere() {
    let x = Matrix::new(vec![1.0; 300 * 3], 300, 3).expect("shape");
    let model = fit(&x, params(0));
    // Every tree is a single leaf of path length c(ψ): the score is 2^-1.
    assert_eq!(model.n_nodes(), model.n_trees());
    for row in [[1.0, 1.0, 1.0], [1e9, -5.0, f32::NAN]] {
        let s = model.score_row(&row).expect("score");
        assert!((s - 0.5).abs() < 1e-6, "{s}");
    }
    // Infinite values split like any other.
    let mut v = vec![0.0f32; 100];
    v[0] = f32::INFINITY;
    v[1] = f32::NEG_INFINITY;
    let x = Matrix::new(v, 100, 1).expect("shape");
    let model = fit(&x, params(0));
    let s = model.score(&x).expect("score");
    assert!(s[0] > s[50] && s[1] > s[50], "{} {} {}", s[0], s[1], s[50]);
}

#[test]
fn the_same_seed_gives_the_same_model_whatever_the_thread_count() {
    let (x, _) = planted(7, 3_000, 30, (6, 1), 0.05);
    let bytes: Vec<Vec<u8>> = [1, 2, 4]
        .iter()
        .map(|&threads| {
            let p = IsolationParams {
                n_threads: Some(threads),
                ..params(11)
            };
            fit(&x, p).to_bytes()
        })
        .collect();
    assert_eq!(bytes[0], bytes[1]);
    assert_eq!(bytes[0], bytes[2]);
    // Inside a caller's pool too, and the scores do not depend on it either.
    let model = IsolationForest::from_bytes(&bytes[0]).expect("read");
    let reference = model.score(&x).expect("score");
    for threads in [1, 3] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool");
        let (b, s) = pool.install(|| {
            let m = fit(&x, params(11));
            let s = m.score(&x).expect("score");
            (m.to_bytes(), s)
        });
        assert_eq!(b, bytes[0]);
        assert_eq!(s, reference);
    }
    // Another seed, another model.
    assert_ne!(fit(&x, params(12)).to_bytes(), bytes[0]);
}

/// Batch and single-row scores and path lengths are bit-identical.
fn assert_batch_matches_rows(model: &IsolationForest, x: &Matrix) {
    let batch = model.score(x).expect("score");
    let lengths = model.path_lengths(x).expect("path lengths");
    for i in 0..x.n_rows() {
        let row = x.row(i);
        assert_eq!(
            batch[i].to_bits(),
            model.score_row(row).expect("row").to_bits()
        );
        assert_eq!(
            lengths[i].to_bits(),
            model.path_length_row(row).expect("row").to_bits()
        );
    }
}

#[test]
fn batch_and_single_row_scores_are_bit_identical() {
    let (train, _) = planted(8, 3_000, 0, (5, 1), 0.1);
    let (test, _) = planted(9, 1_003, 40, (5, 1), 0.1);
    // Default depth (complete-tree walks), and trees deeper than those walks take (flat walks).
    let shallow = fit(&train, params(1));
    let deep = fit(
        &train,
        IsolationParams {
            max_samples: 2_000,
            max_depth: Some(30),
            n_trees: 20,
            ..params(1)
        },
    );
    for model in [&shallow, &deep] {
        assert_batch_matches_rows(model, &test);
    }
    // The complete-tree batch walk is compiled per tree size: depths from 1 to its limit (12).
    for (depth, samples) in [(1, 256), (3, 256), (5, 256), (12, 2_500)] {
        let model = fit(
            &train,
            IsolationParams {
                max_samples: samples,
                max_depth: Some(depth),
                n_trees: 12,
                ..params(3)
            },
        );
        assert_eq!(model.max_depth(), depth);
        assert_batch_matches_rows(&model, &test);
    }
}

#[test]
fn explanations_add_up_and_blame_the_anomalous_feature() {
    let (train, _) = planted(10, 4_000, 0, (6, 1), 0.05);
    let model = fit(&train, params(2));
    let (test, y) = planted(11, 200, 60, (6, 1), 0.05);
    let mut blamed = 0;
    for (i, anomaly) in y.iter().enumerate() {
        let row = test.row(i);
        let e = model.explain_row(row).expect("explain");
        assert_eq!(e.values.len(), 6);
        let sum: f64 = e.values.iter().sum();
        assert!(
            (e.expected_path_length + sum - e.path_length).abs() < 1e-6,
            "row {i}: {} + {sum} vs {}",
            e.expected_path_length,
            e.path_length
        );
        assert_eq!(
            e.path_length.to_bits(),
            model.path_length_row(row).expect("row").to_bits()
        );
        let log2: f64 = e.log2_score_contributions().iter().sum();
        let score = model.score_row(row).expect("score");
        let base = (-e.expected_path_length / e.normaliser).exp2();
        assert!((log2 - (score.log2() - base.log2())).abs() < 1e-6);
        if *anomaly {
            let most = e
                .values
                .iter()
                .enumerate()
                .min_by(|a, b| a.1.total_cmp(b.1))
                .map(|(f, _)| f);
            blamed += usize::from(most == Some(i % 6));
        }
    }
    // Nearly every planted anomaly is blamed on its feature (a planted value at 4 sd can be less unusual
    // than a normal row's value elsewhere).
    assert!(
        blamed >= 57,
        "{blamed} of 60 anomalies blamed on their feature"
    );

    // A typical row with one value far out: that feature has by far the largest share.
    let mut row = vec![0.0f32; 6];
    let typical = model.explain_row(&row).expect("explain");
    row[2] = 8.0;
    let e = model.explain_row(&row).expect("explain");
    assert!(e.path_length < typical.path_length);
    let (worst, value) = e
        .values
        .iter()
        .enumerate()
        .min_by(|a, b| a.1.total_cmp(b.1))
        .expect("features");
    assert_eq!(worst, 2, "{:?}", e.values);
    assert!(
        e.values
            .iter()
            .enumerate()
            .all(|(f, v)| f == 2 || v.abs() < value.abs() / 4.0),
        "{:?}",
        e.values
    );
    let log2 = e.log2_score_contributions();
    assert!(log2[2] > 0.0 && log2.iter().all(|c| *c <= log2[2]));
}

#[test]
fn the_model_file_round_trips_and_is_not_a_random_forest_file() {
    let (x, _) = planted(12, 1_000, 10, (4, 1), 0.1);
    let model = fit(
        &x,
        IsolationParams {
            n_trees: 25,
            ..params(5)
        },
    );
    let bytes = model.to_bytes();
    let back = IsolationForest::from_bytes(&bytes).expect("read");
    assert_eq!(back, model);
    assert_eq!(back.to_bytes(), bytes);
    assert_eq!(back.score(&x).expect("a"), model.score(&x).expect("b"));
    assert_eq!(
        back.explain_row(x.row(3)).expect("a"),
        model.explain_row(x.row(3)).expect("b")
    );
    assert_eq!(
        (
            back.n_features(),
            back.n_trees(),
            back.sample_size(),
            back.max_depth()
        ),
        (4, 25, 256, 8)
    );
    // Neither model kind reads the other's file.
    let e = RandomForest::from_bytes(&bytes).unwrap_err();
    assert!(e.to_string().contains("bad magic"), "{e}");
    let (xr, yr) = dataset(1, 100, 4, 0.5, 0.0);
    let rf = small_params()
        .check()
        .expect("valid")
        .fit(&xr, &yr, None)
        .expect("fit");
    let e = IsolationForest::from_bytes(&rf.to_bytes()).unwrap_err();
    assert!(e.to_string().contains("isolation forest"), "{e}");
}

#[test]
fn bad_input_is_a_typed_error() {
    let p = params(0).check().expect("valid");
    let empty = Matrix::new(vec![], 0, 3).expect("shape");
    assert!(matches!(p.fit(&empty), Err(ForestError::EmptyData)));
    let one = Matrix::new(vec![1.0, 2.0], 1, 2).expect("shape");
    assert!(matches!(
        p.fit(&one),
        Err(ForestError::InvalidParam { name: "x", .. })
    ));
    let (x, _) = planted(13, 100, 0, (3, 1), 0.0);
    let model = p.fit(&x).expect("fit");
    // Fewer rows than ψ: every row, and the normaliser follows.
    assert_eq!(model.sample_size(), 100);
    assert_eq!(model.normaliser(), average_path_length(100));
    assert_eq!(model.max_depth(), 7);
    let wide = Matrix::new(vec![0.0; 8], 2, 4).expect("shape");
    for e in [
        model.score(&wide).unwrap_err(),
        model.score_row(&[0.0; 2]).unwrap_err(),
        model.explain_row(&[0.0; 4]).unwrap_err(),
    ] {
        assert!(
            matches!(e, ForestError::FeatureCountMismatch { expected: 3, .. }),
            "{e}"
        );
    }
}

fn model_bytes() -> &'static [u8] {
    static BYTES: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BYTES.get_or_init(|| {
        let (x, _) = planted(14, 300, 5, (3, 1), 0.1);
        fit(
            &x,
            IsolationParams {
                n_trees: 3,
                max_samples: 32,
                ..params(9)
            },
        )
        .to_bytes()
    })
}

/// Replaces the trailing CRC-32 with the right one for the rest.
fn with_valid_crc(mut bytes: Vec<u8>) -> Vec<u8> {
    if bytes.len() >= 4 {
        let body = bytes.len() - 4;
        let crc = crc32fast::hash(&bytes[..body]);
        bytes[body..].copy_from_slice(&crc.to_le_bytes());
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn corrupted_or_truncated_models_never_panic(
        cut in 0usize..10_000,
        flips in prop::collection::vec((0usize..10_000, 1u8..=255), 0..4),
    ) {
        let original = model_bytes();
        let bytes = damaged(original, &flips, cut);
        let result = IsolationForest::from_bytes(&bytes);
        if bytes[..] != original[..] {
            prop_assert!(result.is_err());
        } else {
            prop_assert!(result.is_ok());
        }
    }

    /// Damage behind a valid checksum reaches the structural checks: an error, or a model that scores and
    /// explains without panicking.
    #[test]
    fn damaged_models_with_a_valid_checksum_never_panic(
        flips in prop::collection::vec((12usize..10_000, 1u8..=255), 1..4),
        row in prop::collection::vec(prop_oneof![Just(f32::NAN), -10.0f32..10.0], 3),
    ) {
        let mut bytes = model_bytes().to_vec();
        let body = bytes.len() - 4;
        for (pos, mask) in &flips {
            let i = 12 + (pos - 12) % (body - 12);
            bytes[i] ^= mask;
        }
        if let Ok(model) = IsolationForest::from_bytes(&with_valid_crc(bytes)) {
            let s = model.score_row(&row);
            if let Ok(s) = s {
                prop_assert!(s.is_finite());
                let batch = model.score(&Matrix::new(row.clone(), 1, 3).expect("shape"));
                prop_assert_eq!(batch.expect("score")[0].to_bits(), s.to_bits());
            }
            let _ = model.explain_row(&row);
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let mut with_magic = b"KPISOFOR\x01\x00\x00\x00".to_vec();
        with_magic.extend_from_slice(&bytes);
        let _ = IsolationForest::from_bytes(&with_valid_crc(with_magic.clone()));
        prop_assert!(IsolationForest::from_bytes(&with_magic).is_err());
        prop_assert!(IsolationForest::from_bytes(&bytes).is_err());
    }
}
