//! Warnings a user must see: too little training history, too few validation incidents, a
//! threshold at about 0, an evaluation overlapping the training data; none for a clean hold-out.

use crate::common;

use learn::eval::{self, Split};
use learn::model;
use learn::warnings;

#[test]
fn short_training_and_an_evaluation_on_the_training_data_are_warned_about() {
    let d = common::synthetic(6, 16, 7);
    let split = Split::Fraction(0.6).time(&d).unwrap();
    let (first, last) = d.time_range().unwrap();
    let pair = model::train(&d, &common::small_params(), first, split).unwrap();
    assert_eq!(pair.meta.training_targets.len(), d.series.len());

    let w = warnings::training(&pair);
    assert!(
        w.iter()
            .any(|w| w.starts_with("too little data: trained on 9h")),
        "{w:?}"
    );
    let card = learn::card::card_json("t", "0", "2026-01-01T00:00:00Z", &pair, None, None);
    assert_eq!(card["window_model"]["warnings"], serde_json::json!(w));
    assert!(learn::card::card_markdown(&card).contains("**Warning: too little data"));

    // The model's own training period: the overlap is named, with its length and targets.
    let own = eval::evaluate(&d, &pair, first, split, 1).unwrap();
    let w = warnings::evaluation(&own, &pair);
    assert!(
        w.iter()
            .any(|w| w.contains("overlaps the model's training period")
                && w.contains("by 9h")
                && w.contains("is the model's training data (same fingerprint")),
        "{w:?}"
    );
    // The same targets and period in other data (one value changed): the shared targets are named.
    let mut changed = d.clone();
    changed.series[0].columns[0][0] += 1.0;
    let ev = eval::evaluate(&changed, &pair, first, split, 1).unwrap();
    let w = warnings::evaluation(&ev, &pair);
    assert!(
        w.iter()
            .any(|w| w.contains("on 6 of the 6 evaluated targets")),
        "{w:?}"
    );
    // The future of the split: no overlap.
    let future = eval::evaluate(&d, &pair, split, last, 1).unwrap();
    let w = warnings::evaluation(&future, &pair);
    assert!(!w.iter().any(|w| w.contains("overlap")), "{w:?}");
    // The same period on other targets (a hold-out cluster): no overlap either.
    let mut other = d.clone();
    for s in &mut other.series {
        s.target = format!("other/{}", s.target);
    }
    for e in &mut other.events {
        e.target = format!("other/{}", e.target);
    }
    let ev = eval::evaluate(&other, &pair, first, split, 1).unwrap();
    assert!(
        !warnings::evaluation(&ev, &pair)
            .iter()
            .any(|w| w.contains("overlap")),
    );
    // A bundle from before training targets were recorded: the time overlap alone is reported.
    let mut old = pair.clone();
    old.meta.training_targets.clear();
    assert!(
        warnings::evaluation(&ev, &old)
            .iter()
            .any(|w| w.contains("does not record its training targets"))
    );
}

#[test]
fn a_threshold_at_zero_and_few_validation_incidents_are_warned_about() {
    let d = common::synthetic(6, 16, 7);
    let split = Split::Fraction(0.6).time(&d).unwrap();
    let (first, _) = d.time_range().unwrap();
    let mut pair = model::train(&d, &common::small_params(), first, split).unwrap();
    pair.meta.threshold = 1e-6;
    let w = warnings::training(&pair);
    assert!(
        w.iter()
            .any(|w| w.starts_with("threshold 0.000001 is about 0")),
        "{w:?}"
    );
    let v = pair.meta.validation.as_mut().unwrap();
    v.incidents.count = 3;
    v.incidents.detected_ratio = 0.0;
    let w = warnings::training(&pair);
    assert!(
        w.iter()
            .any(|w| w.starts_with("too few validation incidents: 3")),
        "{w:?}"
    );
    assert!(
        w.iter()
            .any(|w| w.contains("caught none of its 3 incidents")),
        "{w:?}"
    );
}
