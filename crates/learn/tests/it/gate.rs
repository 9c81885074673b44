//! The retraining loop's quality gate on a simulated cluster: a candidate that misses incidents the
//! model in service catches is refused; one at least as good is published.

use learn::bundle::ModelBundle;
use learn::dataset::Dataset;
use learn::gate::{GateRule, carry_snapshot, gate};

/// The embedded model under another version and alarm threshold.
fn variant(version: &str, threshold: f64) -> ModelBundle {
    let base = ModelBundle::embedded().unwrap();
    let mut info = base.info().clone();
    info.version = version.into();
    info.threshold = threshold;
    let mut window = base.window_model().clone();
    window.meta.threshold = threshold;
    if threshold >= 1.0 {
        // Deaf: its detector (which passes on its own threshold) goes too.
        window.detector = None;
    }
    ModelBundle::new(
        info,
        window,
        base.snapshot_model().cloned(),
        base.card_markdown().to_string(),
        base.card_json(),
    )
}

/// Four calm hours of Online Boutique with four precursor faults.
fn data() -> (tempfile::TempDir, Dataset) {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = sim::SimConfig {
        duration: "4h".into(),
        start: "1767571200".into(),
        seed: 4242,
        schedule: vec![
            "memory_leak:cartservice@+40m/20m".into(),
            "memory_leak:frontend@+1h30m/20m".into(),
            "memory_leak:recommendationservice@+2h20m/20m".into(),
            "memory_leak:adservice@+3h10m/20m".into(),
        ],
        ..sim::SimConfig::default()
    };
    cfg.calm();
    let outputs = sim::Outputs {
        dataset: Some(dir.path().join("d")),
        ..Default::default()
    };
    sim::run(&cfg.check().unwrap(), &outputs, &mut |_, _| {}).unwrap();
    let data = Dataset::read(&dir.path().join("d")).unwrap();
    (dir, data)
}

#[test]
fn a_worse_candidate_is_refused_and_a_better_one_published() {
    let (_dir, data) = data();
    let from = Some(1_767_571_200 + 1800);
    let good = variant("good", ModelBundle::embedded().unwrap().info().threshold);
    // Alarms only at a probability of 1: it misses what the good model catches.
    let deaf = variant("deaf", 1.0);
    let rule = GateRule::default();

    let v = gate(&deaf, &good, &data, from, &rule).unwrap();
    assert!(
        v.current.incidents >= 3 && v.current.alarmed_before_start_ratio > 0.5,
        "the test needs incidents the model in service catches: {v:#?}"
    );
    assert!(!v.publish, "{v:#?}");
    assert!(v.reasons[0].contains("WORSE"), "{:?}", v.reasons);
    assert_eq!(v.candidate.model, "kubepulse-default deaf");

    let v = gate(&good, &deaf, &data, from, &rule).unwrap();
    assert!(v.publish, "{v:#?}");
    assert_eq!(v.test_from, 1_767_571_200 + 1800);
    assert_eq!(v.data_fingerprint, data.fingerprint());

    // The same model passes against itself; its figures are the same on both sides.
    let v = gate(&good, &good, &data, from, &rule).unwrap();
    assert!(v.publish && v.candidate.incidents == v.current.incidents);
    let json = serde_json::to_value(&v).unwrap();
    assert_eq!(json["publish"], true);
    assert!(json["rule_text"].as_str().unwrap().contains("not lower"));

    // Without a start, the period begins after the candidate's training data: the embedded model was
    // trained on 2026-01-05..11, which covers these four hours — nothing is left to test on.
    let e = gate(&good, &deaf, &data, None, &rule).unwrap_err();
    assert!(e.to_string().contains("no data after"), "{e}");
}

#[test]
fn a_candidate_without_a_snapshot_model_gets_the_current_one() {
    let current = ModelBundle::embedded().unwrap();
    let with = variant("with", 0.3);
    assert!(carry_snapshot(&with, &current).is_none());
    let mut info = with.info().clone();
    info.snapshot_fields = None;
    let without = ModelBundle::new(
        info,
        with.window_model().clone(),
        None,
        "# card".into(),
        serde_json::json!({}),
    );
    let carried = carry_snapshot(&without, &current).expect("carried over");
    assert_eq!(carried.info().version, "with");
    assert_eq!(
        carried.info().snapshot_fields,
        current.info().snapshot_fields
    );
    let snapshot = learn::snapshot::Snapshot::default();
    let options = learn::prediction::PredictOptions::default();
    assert_eq!(
        carried
            .predict_snapshot(&snapshot, options)
            .unwrap()
            .issue_probability,
        current
            .predict_snapshot(&snapshot, options)
            .unwrap()
            .issue_probability
    );
    assert!(
        carried
            .card_markdown()
            .contains("carried over from kubepulse-default")
    );
    // It survives a round trip through the file format.
    let back = ModelBundle::from_bytes(&carried.to_bytes()).unwrap();
    assert!(back.snapshot_model().is_some());
}
