//! The detecting model next to the predicting one (`train --detector`): an abrupt fault without a
//! precursor is caught only with it, its threshold stays within the false alarm budget, the bundle
//! carries it, and every path (eval's batch scores, the served window that `serve` and `watch` predict
//! on) gives the same alarms.

use crate::common::{self, Rng};

use learn::bundle::ModelBundle;
use learn::dataset::{Dataset, Incident, IncidentSource, Series};
use learn::eval::{self, Split};
use learn::model::{self, series_rows};
use learn::prediction::PredictOptions;
use learn::scoring::Grid;
use learn::window::Window;

/// `targets` targets over `hours` hours at a 15 s step, incidents every 40–80 min alternating between
/// `resource_exhaustion` with a 6-minute CPU ramp before its start (predictable) and `pod_failure`, a
/// crash without any precursor: CPU falls to almost nothing at the start and stays down 5 minutes.
fn abrupt(targets: usize, hours: i64, seed: u64) -> Dataset {
    let mut rng = Rng::new(seed);
    let step = 15;
    let n = (hours * 3600 / step) as usize;
    let metrics = vec![
        "cpu_utilization".to_string(),
        "memory_working_set_bytes".to_string(),
        "memory_limit_bytes".to_string(),
    ];
    let mut series = Vec::new();
    let mut events = Vec::new();
    for k in 0..targets {
        let target = format!("shop/svc{k}");
        let t0 = 1_700_000_000i64;
        let timestamps: Vec<i64> = (0..n as i64).map(|i| t0 + i * step).collect();
        let mut cpu: Vec<f64> = (0..n).map(|_| 30.0 + 10.0 * rng.next_f64()).collect();
        let mem: Vec<f64> = (0..n).map(|_| 4e8 + 5e7 * rng.next_f64()).collect();
        let mut i = 240 + (rng.next_f64() * 120.0) as usize;
        let mut crash = k % 2 == 0;
        while i + 40 < n {
            if crash {
                for c in cpu.iter_mut().skip(i).take(20) {
                    *c = 1.0 + rng.next_f64();
                }
            } else {
                for r in 0..24usize {
                    cpu[i - 24 + r] = 35.0 + r as f64 / 24.0 * 60.0;
                }
            }
            events.push(Incident {
                target: target.clone(),
                start: timestamps[i],
                end: timestamps[i] + 300,
                issue_type: if crash {
                    "pod_failure"
                } else {
                    "resource_exhaustion"
                }
                .into(),
                detail: String::new(),
                source: IncidentSource::Dataset,
            });
            crash = !crash;
            i += 160 + (rng.next_f64() * 160.0) as usize;
        }
        series.push(Series {
            target,
            timestamps,
            columns: vec![cpu, mem, vec![1e9; n]],
        });
    }
    events.sort_by(|a, b| (&a.target, a.start).cmp(&(&b.target, b.start)));
    Dataset {
        mitigated: Vec::new(),
        metrics,
        series,
        events,
    }
}

fn params(detector: bool) -> model::TrainParams {
    model::TrainParams {
        detector,
        eta_trees: 0,
        ..common::small_params()
    }
}

/// `[count, alarmed before start, detected ≤ 120 s, type correct]` of one type on the test period.
fn by_type(d: &Dataset, pair: &model::ModelPair, split: i64, t: &str) -> ([usize; 4], f64) {
    let (_, last) = d.time_range().unwrap();
    let ev = eval::evaluate_figures(d, pair, split, last).unwrap();
    (
        ev.model.incidents.by_type[t],
        ev.model.false_alarms_per_target_day,
    )
}

#[test]
fn an_abrupt_fault_without_precursor_is_caught_only_with_the_detector() {
    let d = abrupt(6, 16, 11);
    let split = Split::Fraction(0.6).time(&d).unwrap();
    let (first, _) = d.time_range().unwrap();
    let alone = model::train(&d, &params(false), first, split).unwrap();
    let both = model::train(&d, &params(true), first, split).unwrap();
    assert!(alone.detector.is_none());
    let det = both.detector.as_ref().expect("a detector");
    assert_eq!(det.meta.policy, learn::labels::OngoingPolicy::DetectOnset);
    assert_eq!(det.meta.issue_types, both.meta.issue_types);
    // The predicting model is the same with or without its detector.
    assert_eq!(
        both.meta.threshold.to_bits(),
        alone.meta.threshold.to_bits()
    );

    let (crash_alone, _) = by_type(&d, &alone, split, "pod_failure");
    let (crash_both, fa_both) = by_type(&d, &both, split, "pod_failure");
    let (ramp_alone, _) = by_type(&d, &alone, split, "resource_exhaustion");
    let (ramp_both, _) = by_type(&d, &both, split, "resource_exhaustion");
    assert!(crash_both[0] >= 10, "{crash_both:?}");
    // Without a precursor the predictor never learnt what a crash under way looks like.
    assert!(
        crash_alone[2] * 5 <= crash_alone[0],
        "predictor alone detected {crash_alone:?} crashes"
    );
    assert!(
        crash_both[2] * 5 >= crash_both[0] * 4,
        "with the detector: {crash_both:?}"
    );
    // What the predictor raised ahead stays raised ahead: it wins where it passes.
    assert!(
        ramp_both[1] >= ramp_alone[1],
        "{ramp_alone:?} {ramp_both:?}"
    );
    assert!(ramp_alone[1] * 5 >= ramp_alone[0] * 4, "{ramp_alone:?}");
    // Crashes caught by the detector are typed by it.
    assert!(crash_both[3] * 5 >= crash_both[2] * 4, "{crash_both:?}");
    assert!(
        fa_both <= 2.0 * params(true).false_alarm_budget,
        "{fa_both}"
    );
}

#[test]
fn the_detectors_threshold_spends_only_what_the_predictor_left_of_the_budget() {
    let d = abrupt(6, 16, 12);
    let split = Split::Fraction(0.6).time(&d).unwrap();
    let (first, _) = d.time_range().unwrap();
    for budget in [0.5, 2.0] {
        let p = model::TrainParams {
            false_alarm_budget: budget,
            ..params(true)
        };
        let pair = model::train(&d, &p, first, split).unwrap();
        let det = pair.detector.as_ref().unwrap();
        // The detector's validation figures are the combined model's: within the budget.
        let combined = det.meta.validation.as_ref().unwrap();
        assert!(
            combined.false_alarms_per_target_day <= budget,
            "budget {budget}: {}",
            combined.false_alarms_per_target_day
        );
        let alone = pair.meta.validation.as_ref().unwrap();
        assert!(
            combined.incidents.detected_ratio >= alone.incidents.detected_ratio,
            "{} < {}",
            combined.incidents.detected_ratio,
            alone.incidents.detected_ratio
        );
        assert!(
            combined.incidents.detected_within_120s_ratio
                > alone.incidents.detected_within_120s_ratio,
            "budget {budget}: the detector adds the crashes"
        );
    }
}

#[test]
fn a_detector_is_refused_with_options_it_cannot_combine_with() {
    let d = abrupt(2, 6, 13);
    let (first, last) = d.time_range().unwrap();
    for p in [
        model::TrainParams {
            policy: learn::labels::OngoingPolicy::Detect,
            ..params(true)
        },
        model::TrainParams {
            relative_alarm: true,
            ..params(true)
        },
        model::TrainParams {
            unsupervised: true,
            ..params(true)
        },
    ] {
        let e = model::train(&d, &p, first, last).unwrap_err().to_string();
        assert!(e.contains("detector"), "{e}");
    }
}

#[test]
fn a_bundle_with_a_detector_round_trips_and_every_path_gives_the_same_alarms() {
    let d = abrupt(4, 12, 14);
    let split = Split::Fraction(0.6).time(&d).unwrap();
    let (first, last) = d.time_range().unwrap();
    let pair = model::train(&d, &params(true), first, split).unwrap();
    let bytes = common::bundle_of(&pair).to_bytes();
    let bundle = ModelBundle::from_bytes(&bytes).unwrap();
    // Round trip: the same bytes again, the detector's forests and settings included.
    assert_eq!(bundle.to_bytes(), bytes);
    let loaded = bundle.window_model();
    let det = loaded.detector.as_ref().expect("the detector survives");
    let orig = pair.detector.as_ref().unwrap();
    // (As stored: the validation's PR curves are not part of the file.)
    assert_eq!(
        serde_json::to_value(&det.meta).unwrap(),
        serde_json::to_value(&orig.meta).unwrap()
    );
    assert_eq!(
        det.binary.as_ref().map(|f| f.to_bytes()),
        orig.binary.as_ref().map(|f| f.to_bytes())
    );
    assert_eq!(
        det.types.as_ref().map(|f| f.to_bytes()),
        orig.types.as_ref().map(|f| f.to_bytes())
    );
    // A truncated detector section is an error, not a bundle without it.
    assert!(ModelBundle::from_bytes(&bytes[..bytes.len() - 9]).is_err());

    // Parity: eval's batch scores (grid), one row at a time, and the served window (`serve`'s window
    // form and `watch` both predict through `ModelBundle::predict_window`).
    let grid = Grid::build(&d, pair.meta.window, pair.meta.policy, split, last, false);
    let batch = loaded.score_grid(&d, &grid).unwrap();
    let ev = eval::evaluate_figures(&d, loaded, split, last).unwrap();
    let (mut alarms, mut from_detector) = (0, 0);
    for (s, scores) in batch.iter().enumerate() {
        assert_eq!(&ev.scores[s], scores);
        for (k, p) in grid.points[s].iter().enumerate() {
            let row = series_rows(
                &d,
                &loaded.meta.features,
                s,
                std::iter::once((p.index, p.t)),
            );
            let single = &loaded.score_rows(row.clone()).unwrap()[0];
            assert_eq!(single, &scores[k]);
            let w = Window::from_series(
                &d.series[s],
                &d.metrics,
                p.index,
                loaded.meta.features.window_secs,
            );
            let served = bundle
                .predict_window(&w, PredictOptions::explain(false))
                .unwrap();
            let b = &scores[k];
            assert_eq!(
                served.issue_probability.to_bits(),
                b.p_issue.to_bits(),
                "{} {}",
                d.series[s].target,
                p.t
            );
            assert_eq!(served.will_have_issue, b.alarm);
            if b.alarm {
                alarms += 1;
                assert_eq!(served.issue_type, loaded.meta.issue_types[b.type_index]);
                assert!(served.explanation.is_some());
                let pp = pair_probability(loaded, &row);
                if pp < loaded.meta.threshold {
                    from_detector += 1;
                }
            }
        }
    }
    assert!(alarms > 0 && from_detector > 0, "{alarms} {from_detector}");
}

/// The predicting model's own probability of a row (its detector set aside).
fn pair_probability(pair: &model::ModelPair, row: &[f32]) -> f64 {
    let alone = model::ModelPair {
        detector: None,
        ..pair.clone()
    };
    alone.score_rows(row.to_vec()).unwrap()[0].p_issue
}
