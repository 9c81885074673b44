//! Model format versions: files of earlier versions still load, unknown versions are clear errors.

use crate::common;

use common::*;
use forest::{ClassWeight, ForestError, ForestParams, RandomForest, Task};

/// A 3-tree classifier written by the last build of format version 1 (before regressors), fitted as in
/// [`fit_like_the_fixture`].
const CLASSIFIER_V1: &[u8] = include_bytes!("../fixtures/classifier-v1.kpf");

fn fit_like_the_fixture() -> RandomForest {
    let (x, y) = dataset(11, 240, 4, 0.3, 0.1);
    ForestParams {
        n_trees: 3,
        class_weight: ClassWeight::Balanced,
        ..small_params()
    }
    .check()
    .unwrap()
    .fit(&x, &y, None)
    .unwrap()
}

fn format_error(bytes: &[u8]) -> String {
    match RandomForest::from_bytes(bytes) {
        Err(ForestError::Format(msg)) => msg,
        other => panic!("expected a format error, got {other:?}"),
    }
}

fn with_crc(mut body: Vec<u8>) -> Vec<u8> {
    let crc = crc32fast::hash(&body);
    body.extend_from_slice(&crc.to_le_bytes());
    body
}

#[test]
fn version_1_files_load_as_the_classifier_this_build_fits() {
    assert_eq!(&CLASSIFIER_V1[8..12], &1u32.to_le_bytes());
    let old = RandomForest::from_bytes(CLASSIFIER_V1).unwrap();
    assert_eq!(old.task(), Task::Classification);
    assert_eq!(old.classes(), &[0.0, 1.0]);
    // Classification is unchanged: today's fit gives the very trees, covers, leaves and importances.
    let new = fit_like_the_fixture();
    assert_eq!(old, new);
    let (x, _) = dataset(12, 100, 4, 0.3, 0.1);
    assert_eq!(
        old.predict_proba(&x).unwrap(),
        new.predict_proba(&x).unwrap()
    );
    // Version 2 is version 1 with a task byte after the version.
    let v2 = new.to_bytes();
    let mut expected = CLASSIFIER_V1[..CLASSIFIER_V1.len() - 4].to_vec();
    expected[8..12].copy_from_slice(&forest::FORMAT_VERSION.to_le_bytes());
    expected.insert(12, 0);
    assert_eq!(v2, with_crc(expected));
}

#[test]
fn unknown_versions_and_tasks_are_clear_errors() {
    let bytes = fit_like_the_fixture().to_bytes();
    let body = &bytes[..bytes.len() - 4];
    for version in [0u32, forest::FORMAT_VERSION + 1, 0x0100_0000] {
        let mut b = body.to_vec();
        b[8..12].copy_from_slice(&version.to_le_bytes());
        let msg = format_error(&with_crc(b));
        assert!(
            msg.contains(&format!("unsupported format version {version}"))
                && msg.contains("reads versions 1 to 2"),
            "{msg}"
        );
    }
    let mut b = body.to_vec();
    b[12] = 7;
    assert!(format_error(&with_crc(b)).contains("unknown task 7"));
    // A regressor's header read as a classifier's (task byte flipped) is refused, not misread.
    let (x, y) = dataset(3, 100, 4, 0.3, 0.0);
    let regressor = ForestParams::regression()
        .check()
        .unwrap()
        .fit_regressor(&x, &y, None)
        .unwrap()
        .to_bytes();
    let mut b = regressor[..regressor.len() - 4].to_vec();
    assert_eq!(b[12], 1);
    b[12] = 0;
    assert!(RandomForest::from_bytes(&with_crc(b)).is_err());
}
