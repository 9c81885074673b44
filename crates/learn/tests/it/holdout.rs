//! Held-out targets: each group is tested by a model that never saw it, and the pooled figures are the
//! groups' figures together.

use crate::common;

use learn::eval::Split;
use learn::holdout::{self, Groups};

#[test]
fn every_target_is_tested_by_a_model_trained_without_it() {
    let d = common::synthetic(4, 16, 7);
    let split = Split::Fraction(0.6).time(&d).unwrap();
    let r = holdout::run(&d, &common::small_params(), &Groups::EachTarget, split).unwrap();
    assert_eq!(r.groups.len(), 4);
    let targets: Vec<&str> = r.groups.iter().map(|g| g.targets[0].as_str()).collect();
    assert_eq!(
        targets,
        ["shop/svc0", "shop/svc1", "shop/svc2", "shop/svc3"]
    );
    // Pooled = the groups together: incidents add up, and so do false alarm episodes.
    let incidents: usize = r.groups.iter().map(|g| g.model.incidents.count).sum();
    assert_eq!(r.pooled.incidents.count, incidents);
    assert!(incidents > 0);
    let false_alarms: usize = r.groups.iter().map(|g| g.model.false_alarms).sum();
    assert_eq!(r.pooled.false_alarms, false_alarms);
    let worst = r
        .groups
        .iter()
        .map(|g| g.model.false_alarms_per_target_day)
        .fold(0.0, f64::max);
    assert_eq!(r.worst_false_alarms_per_target_day, worst);
    // The synthetic targets are alike, so a model trained on three detects on the fourth.
    assert!(
        r.pooled.incidents.detected_ratio > 0.5,
        "{:?}",
        r.pooled.incidents
    );
    // Every tested incident has its onset line, detected as the pooled figures count it.
    assert_eq!(r.onset_signal.incidents.len(), r.pooled.incidents.count);
    let detected = r
        .onset_signal
        .incidents
        .iter()
        .filter(|i| i.detected_within_120s)
        .count();
    assert_eq!(
        detected as f64 / incidents as f64,
        r.pooled.incidents.detected_within_120s_ratio
    );
    let md = holdout::markdown(&r);
    assert!(md.contains("shop/svc3") && md.contains("Pooled"), "{md}");
    assert!(
        md.contains("## Onset signal") && md.contains("Strength > 3:"),
        "{md}"
    );
}

#[test]
fn named_groups_are_held_out_together_and_unknown_targets_are_errors() {
    let d = common::synthetic(4, 16, 7);
    let split = Split::Fraction(0.6).time(&d).unwrap();
    let groups = Groups::parse("shop/svc0,shop/svc1; shop/svc2").unwrap();
    let r = holdout::run(&d, &common::small_params(), &groups, split).unwrap();
    assert_eq!(r.groups.len(), 2);
    assert_eq!(r.groups[0].targets, ["shop/svc0", "shop/svc1"]);
    // svc3 is in no group: always trained on, never tested.
    let tested: usize = r.groups.iter().map(|g| g.model.incidents.count).sum();
    assert_eq!(r.pooled.incidents.count, tested);
    let err = holdout::run(
        &d,
        &common::small_params(),
        &Groups::parse("shop/nope").unwrap(),
        split,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("shop/nope"), "{err}");
    assert_eq!(Groups::parse("").unwrap(), Groups::EachTarget);
    assert!(Groups::parse(" ; ,").is_err());
}
