//! Every bad input is a typed error, and a damaged model file is an error, never a panic.

use crate::common;

use common::*;
use forest::{ClassWeight, ForestError, ForestParams, Matrix, MaxFeatures, RandomForest};
use proptest::prelude::*;

fn fit(x: &Matrix, y: &[f64], w: Option<&[f64]>) -> Result<RandomForest, ForestError> {
    small_params().check().unwrap().fit(x, y, w)
}

#[test]
fn matrix_shape_must_match_its_values() {
    let e = Matrix::new(vec![1.0; 5], 2, 3).unwrap_err();
    assert!(
        matches!(
            e,
            ForestError::ShapeMismatch {
                len: 5,
                n_rows: 2,
                n_features: 3
            }
        ),
        "{e}"
    );
}

#[test]
fn training_data_errors() {
    let (x, y) = dataset(1, 50, 3, 0.5, 0.0);
    let empty = Matrix::new(vec![], 0, 3).unwrap();
    assert!(matches!(
        fit(&empty, &[], None),
        Err(ForestError::EmptyData)
    ));
    let no_features = Matrix::new(vec![], 4, 0).unwrap();
    assert!(matches!(
        fit(&no_features, &[0.0, 1.0, 0.0, 1.0], None),
        Err(ForestError::EmptyData)
    ));

    let mut bad = y.clone();
    bad[7] = f64::NAN;
    assert!(matches!(
        fit(&x, &bad, None),
        Err(ForestError::NonFiniteLabel { row: 7 })
    ));
    bad[7] = f64::INFINITY;
    assert!(matches!(
        fit(&x, &bad, None),
        Err(ForestError::NonFiniteLabel { row: 7 })
    ));

    let one_class = vec![3.0; 50];
    let e = fit(&x, &one_class, None).unwrap_err();
    assert!(
        matches!(e, ForestError::SingleClass { class } if class == 3.0),
        "{e}"
    );

    let e = fit(&x, &y[..49], None).unwrap_err();
    assert!(
        matches!(
            e,
            ForestError::LengthMismatch {
                what: "y",
                got: 49,
                expected: 50
            }
        ),
        "{e}"
    );
    let e = fit(&x, &y, Some(&[1.0; 10])).unwrap_err();
    assert!(matches!(
        e,
        ForestError::LengthMismatch {
            what: "sample_weight",
            got: 10,
            expected: 50
        }
    ));

    let mut w = vec![1.0; 50];
    w[3] = -1.0;
    let e = fit(&x, &y, Some(&w)).unwrap_err();
    assert!(
        matches!(e, ForestError::InvalidSampleWeight { row: 3, value } if value == -1.0),
        "{e}"
    );
    w[3] = f64::NAN;
    assert!(matches!(
        fit(&x, &y, Some(&w)),
        Err(ForestError::InvalidSampleWeight { row: 3, .. })
    ));
    let e = fit(&x, &y, Some(&[0.0; 50])).unwrap_err();
    assert!(
        matches!(
            e,
            ForestError::InvalidParam {
                name: "sample_weight",
                ..
            }
        ),
        "{e}"
    );

    let p = ForestParams {
        class_weight: ClassWeight::Explicit(vec![1.0, 2.0, 3.0]),
        ..small_params()
    };
    let e = p.check().unwrap().fit(&x, &y, None).unwrap_err();
    assert!(
        matches!(
            e,
            ForestError::InvalidParam {
                name: "class_weight",
                ..
            }
        ),
        "{e}"
    );
    let p = ForestParams {
        max_features: MaxFeatures::Count(4),
        ..small_params()
    };
    let e = p.check().unwrap().fit(&x, &y, None).unwrap_err();
    assert!(
        matches!(
            e,
            ForestError::InvalidParam {
                name: "max_features",
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn invalid_parameters_are_rejected_by_check() {
    let cases: Vec<(ForestParams, &str)> = vec![
        (
            ForestParams {
                n_trees: 0,
                ..small_params()
            },
            "n_trees",
        ),
        (
            ForestParams {
                max_depth: Some(0),
                ..small_params()
            },
            "max_depth",
        ),
        (
            ForestParams {
                min_samples_split: 1,
                ..small_params()
            },
            "min_samples_split",
        ),
        (
            ForestParams {
                min_samples_leaf: 0,
                ..small_params()
            },
            "min_samples_leaf",
        ),
        (
            ForestParams {
                max_features: MaxFeatures::Fraction(0.0),
                ..small_params()
            },
            "max_features",
        ),
        (
            ForestParams {
                max_features: MaxFeatures::Fraction(1.5),
                ..small_params()
            },
            "max_features",
        ),
        (
            ForestParams {
                max_features: MaxFeatures::Count(0),
                ..small_params()
            },
            "max_features",
        ),
        (
            ForestParams {
                class_weight: ClassWeight::Explicit(vec![1.0, -1.0]),
                ..small_params()
            },
            "class_weight",
        ),
        (
            ForestParams {
                class_weight: ClassWeight::Explicit(vec![0.0, 0.0]),
                ..small_params()
            },
            "class_weight",
        ),
        (
            ForestParams {
                oob_score: true,
                bootstrap: false,
                ..small_params()
            },
            "oob_score",
        ),
        (
            ForestParams {
                max_bins: 1,
                ..small_params()
            },
            "max_bins",
        ),
        (
            ForestParams {
                max_bins: 256,
                ..small_params()
            },
            "max_bins",
        ),
        (
            ForestParams {
                n_threads: Some(0),
                ..small_params()
            },
            "n_threads",
        ),
    ];
    for (p, expected) in cases {
        match p.check() {
            Err(ForestError::InvalidParam { name, reason }) => {
                assert_eq!(name, expected, "{reason}");
                assert!(!reason.is_empty());
            }
            other => panic!("{expected}: expected InvalidParam, got {other:?}"),
        }
    }
    assert!(ForestParams::default().check().is_ok());
}

#[test]
fn prediction_needs_the_trained_feature_count() {
    let (x, y) = dataset(2, 60, 3, 0.5, 0.0);
    let model = fit(&x, &y, None).unwrap();
    let wrong = Matrix::new(vec![0.0; 8], 2, 4).unwrap();
    let mismatch = |e| {
        matches!(
            e,
            ForestError::FeatureCountMismatch {
                expected: 3,
                got: 4
            }
        )
    };
    assert!(mismatch(model.predict_proba(&wrong).unwrap_err()));
    assert!(mismatch(model.predict(&wrong).unwrap_err()));
    assert!(mismatch(model.shap_values(&[0.0; 4]).unwrap_err()));
    assert!(mismatch(
        model
            .permutation_importance(&wrong, &[0.0, 1.0], 1, 0)
            .unwrap_err()
    ));
    let mut out = [0.0; 2];
    assert!(mismatch(
        model.predict_proba_row(&[0.0; 4], &mut out).unwrap_err()
    ));
    let mut short = [0.0; 1];
    let e = model.predict_proba_row(&[0.0; 3], &mut short).unwrap_err();
    assert!(matches!(e, ForestError::InvalidParam { name: "out", .. }));
    let e = model.permutation_importance(&x, &y[..5], 1, 0).unwrap_err();
    assert!(matches!(e, ForestError::LengthMismatch { what: "y", .. }));
    let e = model.permutation_importance(&x, &y, 0, 0).unwrap_err();
    assert!(matches!(
        e,
        ForestError::InvalidParam {
            name: "n_repeats",
            ..
        }
    ));
}

fn model_bytes() -> Vec<u8> {
    let (x, y) = dataset(3, 120, 3, 0.4, 0.1);
    ForestParams {
        n_trees: 3,
        ..small_params()
    }
    .check()
    .unwrap()
    .fit(&x, &y, None)
    .unwrap()
    .to_bytes()
}

fn format_error(bytes: &[u8]) -> String {
    match RandomForest::from_bytes(bytes) {
        Err(ForestError::Format(msg)) => msg,
        other => panic!("expected a format error, got {other:?}"),
    }
}

#[test]
fn damaged_model_files_are_clear_errors() {
    let bytes = model_bytes();
    assert!(format_error(&bytes[..bytes.len() - 1]).contains("checksum"));
    assert!(format_error(&bytes[..5]).contains("truncated"));
    assert!(format_error(b"").contains("truncated"));
    let mut bad_magic = bytes.clone();
    bad_magic[0] = b'X';
    assert!(format_error(&bad_magic).contains("magic"));
    let mut future = bytes.clone();
    future[8] = 3;
    assert!(format_error(&future).contains("unsupported format version 3"));
    future[8] = 0;
    assert!(format_error(&future).contains("unsupported format version 0"));
    let mut flipped = bytes.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x10;
    assert!(format_error(&flipped).contains("checksum"));
}

/// A structurally invalid body with a valid checksum (as a buggy writer would produce) is still an error.
#[test]
fn invalid_structure_with_valid_checksum_is_an_error() {
    let mut bytes = model_bytes();
    bytes.truncate(bytes.len() - 4);
    // The first tree's first node starts after the header; point its child at itself.
    let header = 8 + 4 + 1 + 4 + 4 + 2 * 8 + 4 + 3 * 8 + 1 + 8;
    let first_child = header + 4 + 4 + 4 + 4;
    let mut self_loop = bytes.clone();
    self_loop[first_child..first_child + 4].copy_from_slice(&0u32.to_le_bytes());
    let with_crc = |mut b: Vec<u8>| {
        let crc = crc32fast::hash(&b);
        b.extend_from_slice(&crc.to_le_bytes());
        b
    };
    assert!(format_error(&with_crc(self_loop)).contains("tree 0"));
    // The root's children moved one node on: a node with two parents or none (a graph, not a tree,
    // whose explanations would take exponential time) is refused.
    let mut shared = bytes;
    shared[first_child..first_child + 4].copy_from_slice(&2u32.to_le_bytes());
    let msg = format_error(&with_crc(shared));
    assert!(msg.contains("tree 0") && msg.contains("parent"), "{msg}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn corrupted_or_truncated_models_never_panic(
        cut in 0usize..10_000,
        flips in prop::collection::vec((0usize..10_000, 1u8..=255), 0..4),
    ) {
        let original = model_bytes_cached();
        let bytes = damaged(original, &flips, cut);
        let result = RandomForest::from_bytes(&bytes);
        if bytes[..] != original[..] {
            prop_assert!(result.is_err());
        } else {
            prop_assert!(result.is_ok());
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let mut with_magic = b"KPFOREST\x01\x00\x00\x00".to_vec();
        with_magic.extend_from_slice(&bytes);
        prop_assert!(RandomForest::from_bytes(&with_magic).is_err());
        prop_assert!(RandomForest::from_bytes(&bytes).is_err());
    }
}

fn model_bytes_cached() -> &'static [u8] {
    static BYTES: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BYTES.get_or_init(model_bytes)
}
