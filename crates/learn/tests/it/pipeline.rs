//! Training, serving and evaluation on a small synthetic dataset: parity, leakage, order
//! independence, bundles and reports.

use crate::common;

use learn::bundle::ModelBundle;
use learn::dataset::{self, Dataset};
use learn::eval::{self, Split};
use learn::labels::Label;
use learn::model::{self, series_rows};
use learn::prediction::PredictOptions;
use learn::scoring::Grid;
use learn::window::Window;

fn trained() -> (Dataset, model::ModelPair, i64) {
    trained_with(common::small_params())
}

fn trained_with(params: model::TrainParams) -> (Dataset, model::ModelPair, i64) {
    let d = common::synthetic(6, 16, 7);
    let split = Split::Fraction(0.6).time(&d).unwrap();
    let (first, _) = d.time_range().unwrap();
    let pair = model::train(&d, &params, first, split).unwrap();
    (d, pair, split)
}

#[test]
fn training_and_serving_give_bit_identical_features_and_predictions() {
    assert_parity(trained());
}

#[test]
fn step_change_features_are_bit_identical_on_every_path_too() {
    let (d, pair, split) = trained_with(model::TrainParams {
        jumps: true,
        ..common::small_params()
    });
    assert!(
        pair.meta
            .feature_names
            .iter()
            .any(|n| n.ends_with(".z_jump"))
    );
    assert_parity((d, pair, split));
}

#[test]
fn baseline_features_are_bit_identical_on_every_path_too() {
    let (d, pair, split) = trained_with(model::TrainParams {
        baseline: Some(learn::trailing::BaselineSpec {
            secs: 600,
            min_history_secs: 120,
            band: 3.0,
        }),
        ..common::small_params()
    });
    let names = &pair.meta.feature_names;
    assert!(names.iter().any(|n| n.ends_with(".z_last")));
    assert!(names.iter().any(|n| n.starts_with("family.")));
    // Warm after the minimum history: the test period's baseline features are given, not missing.
    let z = names
        .iter()
        .position(|n| n == "cpu_utilization.z_last")
        .unwrap();
    let last = d.series[0].timestamps.len() - 1;
    let t = d.series[0].timestamps[last];
    let row = series_rows(&d, &pair.meta.features, 0, std::iter::once((last, t)));
    assert!(row[z].is_finite(), "{}", row[z]);
    let first = series_rows(
        &d,
        &pair.meta.features,
        0,
        std::iter::once((8, d.series[0].timestamps[8])),
    );
    assert!(first[z].is_nan(), "cold baseline: {}", first[z]);
    assert_parity((d, pair, split));
}

fn assert_parity((d, pair, split): (Dataset, model::ModelPair, i64)) {
    let bundle = ModelBundle::from_bytes(&common::bundle_of(&pair).to_bytes()).unwrap();
    let grid = Grid::build(
        &d,
        pair.meta.window,
        pair.meta.policy,
        split,
        i64::MAX,
        false,
    );
    let spec = &pair.meta.features;
    for s in 0..d.series.len() {
        for p in grid.points[s].iter().step_by(97) {
            let train_path = series_rows(&d, spec, s, std::iter::once((p.index, p.t)));
            // With baseline features the served window carries the whole history before it.
            let look_back = if spec.baseline.is_some() {
                i64::MAX / 2
            } else {
                spec.window_secs
            };
            let w = Window::from_series(&d.series[s], &d.metrics, p.index, look_back);
            let served = bundle
                .window_model()
                .meta
                .features
                .extract_window(&w)
                .unwrap();
            assert_eq!(served.baseline_secs.is_some(), spec.baseline.is_some());
            let serve_path = served.row;
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits(&train_path),
                bits(&serve_path),
                "target {} t {}",
                d.series[s].target,
                p.t
            );
            let batch = pair.score_rows(train_path).unwrap();
            let single = bundle
                .predict_window(&w, PredictOptions::explain(false))
                .unwrap();
            assert_eq!(
                batch[0].p_issue.to_bits(),
                single.issue_probability.to_bits()
            );
            assert_eq!(batch[0].alarm, single.will_have_issue);
        }
    }
}

#[test]
fn the_model_beats_always_normal_and_no_training_label_reaches_the_test_period() {
    let (d, pair, split) = trained();
    assert_eq!(pair.meta.train_until, split);
    let (_, last) = d.time_range().unwrap();
    let ev = eval::evaluate(&d, &pair, split, last, 1).unwrap();
    // Test windows look back only into the test period.
    let first_test = ev.grid.points.iter().flatten().map(|p| p.t).min().unwrap();
    assert!(first_test - pair.meta.window.window_secs >= split - pair.meta.window.step_secs);
    // Training windows: every label horizon ends by the split.
    let train_grid = Grid::build(
        &d,
        pair.meta.window,
        pair.meta.policy,
        d.time_range().unwrap().0,
        split,
        true,
    );
    let last_train = train_grid
        .points
        .iter()
        .flatten()
        .map(|p| p.t)
        .max()
        .unwrap();
    assert!(last_train + pair.meta.window.horizon_secs <= split);
    assert!(ev.model.incidents.count > 5, "{:?}", ev.model.incidents);
    assert!(
        ev.model.incidents.detected_ratio > 0.5,
        "{:?}",
        ev.model.incidents
    );
    for (t, f) in &ev.model.per_type {
        let base = &ev.baselines["always_normal"].per_type[t];
        assert!(
            f.pr_auc > base.pr_auc,
            "{t}: {} vs {}",
            f.pr_auc,
            base.pr_auc
        );
    }
    assert_eq!(ev.baselines["always_normal"].alarm_episodes, 0);
}

#[test]
fn predictions_explain_and_recommend() {
    let (d, pair, split) = trained();
    let bundle = common::bundle_of(&pair);
    let grid = Grid::build(
        &d,
        pair.meta.window,
        pair.meta.policy,
        split,
        i64::MAX,
        false,
    );
    let mut seen_issue = false;
    for (s, points) in grid.points.iter().enumerate() {
        for p in points
            .iter()
            .filter(|p| matches!(p.label, Label::Issue(_)))
            .take(3)
        {
            let w = Window::from_series(
                &d.series[s],
                &d.metrics,
                p.index,
                pair.meta.window.window_secs,
            );
            let pred = bundle
                .predict_window(&w, PredictOptions::explain(true))
                .unwrap();
            let total: f64 = pred.probabilities.values().sum();
            assert!((total - 1.0).abs() < 1e-9);
            let ex = pred.explanation.as_ref().unwrap();
            assert!(!ex.summary.is_empty() && ex.top_features.len() == 5);
            if pred.will_have_issue {
                seen_issue = true;
                let rec = pred.recommendation.as_ref().unwrap();
                assert!(rec.actions.iter().any(|a| a.contains(&d.series[s].target)));
                assert!(pred.time_to_issue_seconds.is_some());
            } else {
                assert_eq!(pred.issue_type, "normal");
                assert!(pred.recommendation.is_none());
            }
        }
    }
    assert!(seen_issue, "no precursor window was alarmed");
}

#[test]
fn bundles_round_trip_and_reject_corruption() {
    let (_, pair, _) = trained();
    let bytes = common::bundle_of(&pair).to_bytes();
    let back = ModelBundle::from_bytes(&bytes).unwrap();
    assert!(
        back.to_bytes() == bytes,
        "a loaded bundle must serialise to the same bytes"
    );
    assert_eq!(back.info().threshold, pair.meta.threshold);
    let mut bad = bytes.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0xff;
    assert!(
        ModelBundle::from_bytes(&bad)
            .unwrap_err()
            .to_string()
            .contains("checksum")
    );
    assert!(ModelBundle::from_bytes(&bytes[..bytes.len() - 3]).is_err());
    assert!(
        ModelBundle::from_bytes(b"hello")
            .unwrap_err()
            .to_string()
            .contains("not a KubePulse model")
    );
    // A model whose feature list differs from this build's extractor is refused at load.
    let mut other = pair.clone();
    other.meta.feature_names[0] = "renamed.last".into();
    let e = ModelBundle::from_bytes(&common::bundle_of(&other).to_bytes())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("feature list") && e.contains("renamed.last"),
        "{e}"
    );
}

#[test]
fn target_and_row_order_change_nothing() {
    let d = common::synthetic(4, 10, 3);
    let dir_a = tempfile::tempdir().unwrap();
    dataset::write(&d, dir_a.path()).unwrap();
    let mut shuffled = d.clone();
    shuffled.series.reverse();
    for s in &mut shuffled.series {
        s.timestamps.reverse();
        for c in &mut s.columns {
            c.reverse();
        }
    }
    let dir_b = tempfile::tempdir().unwrap();
    dataset::write(&shuffled, dir_b.path()).unwrap();
    let a = Dataset::read(dir_a.path()).unwrap();
    let b = Dataset::read(dir_b.path()).unwrap();
    assert_eq!(a.fingerprint(), b.fingerprint());
    let (first, last) = a.time_range().unwrap();
    let params = common::small_params();
    let ma = model::train(&a, &params, first, last).unwrap();
    let mb = model::train(&b, &params, first, last).unwrap();
    assert!(
        ma.binary.as_ref().map(|f| f.to_bytes()) == mb.binary.as_ref().map(|f| f.to_bytes()),
        "target order changed the model"
    );
    assert_eq!(ma.meta.threshold, mb.meta.threshold);
}

#[test]
fn a_dataset_too_small_to_split_is_a_clear_error() {
    let d = common::synthetic(2, 1, 1);
    let (first, _) = d.time_range().unwrap();
    let e = model::train(&d, &common::small_params(), first, first + 1200)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("needs at least") && e.contains("window + horizon"),
        "{e}"
    );
    let e = Split::TrainUntil(first - 10)
        .time(&d)
        .unwrap_err()
        .to_string();
    assert!(e.contains("outside the data"), "{e}");
    let e = Split::Fraction(1.5).time(&d).unwrap_err().to_string();
    assert!(e.contains("strictly between 0 and 1"), "{e}");
}

#[test]
fn reports_are_written_with_stable_keys() {
    let (d, pair, split) = trained();
    let (_, last) = d.time_range().unwrap();
    let ev = eval::evaluate(&d, &pair, split, last, 1).unwrap();
    let dir = tempfile::tempdir().unwrap();
    learn::report::write(&ev, &pair, "test", dir.path()).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
            .unwrap();
    for key in [
        "/incidents/alarmed_before_start_ratio",
        "/incidents/detected_within_120s_ratio",
        "/incidents/median_lead_time_seconds",
        "/false_alarms_per_target_day",
        "/type_accuracy",
        "/per_type/pod_failure/precision",
        "/per_type/pod_failure/recall",
        "/per_type/pod_failure/f1",
        "/per_type/pod_failure/pr_auc",
        "/baselines/static_threshold/per_type/pod_failure/pr_auc",
        "/baselines/predict_linear/incidents/alarmed_before_start_ratio",
        "/baselines/always_normal/false_alarms_per_target_day",
    ] {
        assert!(json.pointer(key).is_some(), "missing {key}");
    }
    for f in [
        "report.md",
        "predictions.csv",
        "pr_curves.svg",
        "lead_times.svg",
        "reliability.svg",
        "importances.svg",
        "incidents.svg",
    ] {
        let len = std::fs::metadata(dir.path().join(f)).unwrap().len();
        assert!(len > 100, "{f} is {len} bytes");
    }
    let svg = |f: &str| std::fs::read_to_string(dir.path().join(f)).unwrap();
    assert!(
        svg("pr_curves.svg").contains("model (PR-AUC "),
        "PR-AUC in the legend"
    );
    assert!(svg("lead_times.svg").contains("horizon (5 min)"));
    let incidents = svg("incidents.svg");
    let first = &ev.incident_traces(1)[0];
    assert!(
        incidents.contains(&first.target),
        "{} not named",
        first.target
    );
    assert!(
        incidents.contains(&format!(
            "alarm threshold {:.0}%",
            100.0 * pair.meta.threshold
        )),
        "no threshold in the title"
    );
    let top = learn::prediction::human_feature(&ev.importances[0].feature);
    assert!(svg("importances.svg").contains(&top), "{top} not in words");
    // A type without incidents says so instead of drawing an empty panel.
    learn::plots::write_all(
        &ev.summary(),
        &["pod_failure".to_string(), "made_up_type".to_string()],
        pair.meta.threshold,
        dir.path(),
    )
    .unwrap();
    assert!(svg("pr_curves.svg").contains("no incidents of this type"));
    let csv = std::fs::read_to_string(dir.path().join("predictions.csv")).unwrap();
    assert_eq!(csv.lines().count(), ev.grid.len() + 1);
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    let headings: Vec<&str> = md.lines().filter(|l| l.starts_with('#')).collect();
    insta::assert_debug_snapshot!(headings);
}

/// The incident plot's traces agree with the report's incident figures: the same incidents, the same
/// detections and lead times; each trace holds the model's probabilities around its incident.
#[test]
fn incident_traces_match_the_incident_figures() {
    let (d, pair, split) = trained();
    let (_, last) = d.time_range().unwrap();
    let ev = eval::evaluate_figures(&d, &pair, split, last).unwrap();
    let traces = ev.incident_traces(usize::MAX);
    let figures = &ev.model.incidents;
    assert!(
        figures.count > 2,
        "too few incidents to test: {}",
        figures.count
    );
    assert_eq!(traces.len(), figures.count);
    let detected = traces.iter().filter(|t| t.detection.is_some()).count();
    assert_eq!(
        detected as f64 / traces.len() as f64,
        figures.detected_ratio
    );
    let mut leads: Vec<f64> = traces
        .iter()
        .filter_map(|t| t.detection.map(|(at, _)| -at))
        .collect();
    let mut expected = figures.lead_times_seconds.clone();
    leads.sort_by(f64::total_cmp);
    expected.sort_by(f64::total_cmp);
    assert_eq!(leads, expected);
    let h = ev.grid.spec.horizon_secs as f64;
    for pair in traces.windows(2) {
        assert!(pair[0].start <= pair[1].start, "not in start order");
    }
    for t in &traces {
        assert!(!t.points.is_empty(), "{}: no points", t.target);
        for &(at, p) in &t.points {
            assert!(at >= -3.0 * h && at <= (t.end - t.start).max(h as i64) as f64 + h);
            assert!((0.0..=1.0).contains(&p));
        }
        if let Some((at, p)) = t.detection {
            // The marker sits on the curve, at or above the threshold (no relative condition here).
            assert!(
                t.points.contains(&(at, p)),
                "{}: marker off the curve",
                t.target
            );
            assert!(p >= pair.meta.threshold, "{p} below the threshold");
        }
    }
    // The first N of them, in the same order.
    assert_eq!(ev.incident_traces(2), traces[..2].to_vec());
}

#[test]
fn cross_fitting_validates_on_every_training_incident_and_still_detects() {
    let d = common::synthetic(6, 16, 7);
    let split = Split::Fraction(0.6).time(&d).unwrap();
    let (first, last) = d.time_range().unwrap();
    let single = model::train(&d, &common::small_params(), first, split).unwrap();
    let params = model::TrainParams {
        validation_folds: 4,
        ..common::small_params()
    };
    let folded = model::train(&d, &params, first, split).unwrap();
    let n_single = single.meta.validation.as_ref().unwrap().incidents.count;
    let n_folded = folded.meta.validation.as_ref().unwrap().incidents.count;
    // Every training incident whose precursor lies in the period is scored out of fold: about
    // four times the incidents of the single validation part (the last 20 %).
    assert!(n_folded >= 3 * n_single, "{n_folded} vs {n_single}");
    assert!(folded.meta.threshold > 0.0 && folded.meta.threshold <= 1.0);
    let ev = eval::evaluate(&d, &folded, split, last, 1).unwrap();
    assert!(
        ev.model.incidents.detected_ratio > 0.5,
        "{:?}",
        ev.model.incidents
    );
    let bad = model::TrainParams {
        validation_folds: 0,
        ..common::small_params()
    };
    assert!(model::train(&d, &bad, first, split).is_err());
    // More folds than the period can hold (each needs window + horizon): a clear error, not a
    // silent single fold that trains on nothing.
    let too_many = model::TrainParams {
        validation_folds: 20,
        ..common::small_params()
    };
    let err = model::train(&d, &too_many, first, first + 3600)
        .unwrap_err()
        .to_string();
    assert!(err.contains("too short for 20 validation folds"), "{err}");
}

#[test]
fn an_unsupervised_model_needs_no_labels_and_keeps_its_training_alarms_within_budget() {
    let mut d = common::synthetic(6, 16, 7);
    let labels = std::mem::take(&mut d.events);
    let split = Split::Fraction(0.6).time(&d).unwrap();
    let (first, last) = d.time_range().unwrap();
    let params = model::TrainParams {
        unsupervised: true,
        baseline: Some(learn::trailing::BaselineSpec {
            secs: 600,
            min_history_secs: 120,
            band: 3.0,
        }),
        ..common::small_params()
    };
    let pair = model::train(&d, &params, first, split).unwrap();
    assert!(pair.binary.is_none() && pair.anomaly.is_some());
    assert_eq!(pair.meta.issue_types, ["anomaly"]);
    // Every training alarm counts as false (there are no labels): within the budget.
    let train = eval::evaluate_figures(&d, &pair, first, split).unwrap();
    assert!(
        train.model.false_alarms_per_target_day <= params.false_alarm_budget,
        "{}",
        train.model.false_alarms_per_target_day
    );
    // The labels come back for the test: the unsupervised model is scored like any other.
    d.events = labels;
    let ev = eval::evaluate(&d, &pair, split, last, 1).unwrap();
    assert!(ev.model.incidents.count > 0);
    // Through a bundle: an alarm is of type `anomaly`, explained by the scorer's inputs.
    let bundle = ModelBundle::from_bytes(&common::bundle_of(&pair).to_bytes()).unwrap();
    let s = &d.series[0];
    let end = s.timestamps.len() - 1;
    let w = Window::from_series(s, &d.metrics, end, i64::MAX / 2);
    let p = bundle
        .predict_window(&w, PredictOptions::explain(true))
        .unwrap();
    assert!(p.baseline_seconds.unwrap() > 0.0);
    let ex = p.explanation.expect("explained when asked");
    assert!(!ex.top_features.is_empty());
    assert!(
        ex.top_features
            .iter()
            .all(|c| learn::anomaly::is_scale_free(&c.feature))
    );
    assert!(p.issue_type == "anomaly" || p.issue_type == "normal");
    assert_eq!(
        p.will_have_issue,
        p.issue_probability >= pair.meta.threshold
    );
    assert!(p.time_to_issue_seconds.is_none());
}

#[test]
fn a_monotonic_model_never_lowers_the_risk_as_a_constrained_feature_rises() {
    let (d, pair, split) = trained_with(model::TrainParams {
        monotonic: true,
        ..common::small_params()
    });
    let directions = pair.meta.features.risk_directions();
    let constrained: Vec<usize> = (0..directions.len())
        .filter(|&f| directions[f] != 0)
        .collect();
    let names = &pair.meta.feature_names;
    assert!(
        constrained
            .iter()
            .any(|&f| names[f] == "cpu_utilization.last")
            && constrained
                .iter()
                .any(|&f| names[f] == "memory_working_set_bytes.use_of_limit"),
        "{:?}",
        constrained.iter().map(|&f| &names[f]).collect::<Vec<_>>()
    );
    let grid = Grid::build(
        &d,
        pair.meta.window,
        pair.meta.policy,
        split,
        i64::MAX,
        false,
    );
    let mut swept = 0;
    for (s, points) in grid.points.iter().enumerate() {
        for p in points.iter().step_by(211) {
            let row = series_rows(&d, &pair.meta.features, s, std::iter::once((p.index, p.t)));
            for &f in &constrained {
                // The feature swept over 0..2 x its largest training-like value, the rest as observed.
                let top = f64::from(row[f].abs().max(1.0)) * 2.0;
                let mut rows = Vec::new();
                for k in 0..=40 {
                    let mut r = row.clone();
                    r[f] = (top * f64::from(k) / 40.0) as f32;
                    rows.extend(r);
                }
                let p: Vec<f64> = pair
                    .score_rows(rows)
                    .unwrap()
                    .iter()
                    .map(|s| s.p_issue)
                    .collect();
                let dir = f64::from(directions[f]);
                assert!(
                    p.windows(2).all(|w| (w[1] - w[0]) * dir >= 0.0),
                    "{}: {p:?}",
                    names[f]
                );
                swept += 1;
            }
        }
    }
    assert!(swept > 50);
    // The option is recorded with the model; without it (the default) nothing is constrained.
    assert!(pair.meta.params.monotonic && !model::TrainParams::default().monotonic);
}

#[test]
fn target_folds_score_every_training_target_out_of_fold() {
    let d = common::synthetic(6, 16, 7);
    let split = Split::Fraction(0.6).time(&d).unwrap();
    let (first, last) = d.time_range().unwrap();
    let params = model::TrainParams {
        validation_folds: 3,
        fold_by: model::FoldBy::Target,
        ..common::small_params()
    };
    let pair = model::train(&d, &params, first, split).unwrap();
    let validation = pair.meta.validation.as_ref().unwrap();
    // Every target is in exactly one held-out group, over the whole training period: every
    // training incident is scored by a forest that never saw its target.
    let grid = Grid::build(&d, pair.meta.window, pair.meta.policy, first, split, true);
    let expected: usize = d
        .series
        .iter()
        .zip(&grid.points)
        .map(|(s, pts)| {
            let (Some(a), Some(b)) = (pts.first(), pts.last()) else {
                return 0;
            };
            d.events_of(&s.target)
                .iter()
                .filter(|e| e.start > a.t && e.start <= b.t)
                .count()
        })
        .sum();
    assert_eq!(validation.incidents.count, expected);
    assert!(pair.meta.threshold > 0.0 && pair.meta.threshold <= 1.0);
    let ev = eval::evaluate(&d, &pair, split, last, 1).unwrap();
    assert!(
        ev.model.incidents.detected_ratio > 0.5,
        "{:?}",
        ev.model.incidents
    );
    // One target cannot be split into groups of targets.
    let one = learn::holdout::select(&d, &[d.series[0].target.clone()], true);
    let err = model::train(&one, &params, first, split)
        .unwrap_err()
        .to_string();
    assert!(err.contains("at least 2 targets"), "{err}");
}

#[test]
fn the_relative_alarm_rule_only_removes_alarms_and_eval_warms_it_on_the_targets_history() {
    let (d, pair, split) = trained();
    let (_, last) = d.time_range().unwrap();
    let plain = eval::evaluate_figures(&d, &pair, split, last).unwrap();
    let judged = |k: f64| {
        let mut p = pair.clone();
        p.meta.relative = Some(learn::relative::RelativeRule::with_k(k));
        eval::evaluate_figures(&d, &p, split, last).unwrap()
    };
    let strict = judged(8.0);
    let mut removed = 0;
    for (a, b) in plain
        .scores
        .iter()
        .flatten()
        .zip(strict.scores.iter().flatten())
    {
        assert_eq!(a.p_issue.to_bits(), b.p_issue.to_bits());
        assert!(!b.alarm || a.alarm, "the rule added an alarm");
        removed += usize::from(a.alarm && !b.alarm);
    }
    assert!(
        removed > 0,
        "k = 8 removed no alarm: the rule is not applied"
    );
    // The history is warmed on the windows before the test period, so the rule judges from the first
    // test window on: a rule no score can pass leaves no alarm at all.
    let never = judged(1e9);
    assert!(never.scores.iter().flatten().all(|s| !s.alarm));
    assert_eq!(never.model.incidents.detected_ratio, 0.0);
    // The quantile kind too: warmed on the day before the test period, so an impossible k judges from
    // the first test window on, and a passable one only removes alarms.
    let quantile = |k: f64| {
        let mut p = pair.clone();
        p.meta.relative = Some(learn::relative::RelativeRule {
            min_history_secs: 600,
            ..learn::relative::RelativeRule::quantile_with_k(k)
        });
        eval::evaluate_figures(&d, &p, split, last).unwrap()
    };
    assert!(quantile(1e9).scores.iter().flatten().all(|s| !s.alarm));
    let some = quantile(0.0);
    for (a, b) in plain
        .scores
        .iter()
        .flatten()
        .zip(some.scores.iter().flatten())
    {
        assert!(!b.alarm || a.alarm, "the quantile rule added an alarm");
    }
}

/// A rule is kept only when validation detects more with it, and it holds a target it cannot judge yet
/// to the threshold validation chose for the global threshold alone.
#[test]
fn a_relative_alarm_rule_is_kept_only_when_validation_detects_more_with_it() {
    let d = common::synthetic(6, 16, 7);
    let split = Split::Fraction(0.6).time(&d).unwrap();
    let (first, _) = d.time_range().unwrap();
    let base = model::TrainParams {
        validation_folds: 3,
        ..common::small_params()
    };
    let plain = model::train(&d, &base, first, split).unwrap();
    assert!(plain.meta.relative.is_none());
    let detected =
        |p: &model::ModelPair| p.meta.validation.as_ref().unwrap().incidents.detected_ratio;
    for baseline in [
        learn::relative::Baseline::Ewma,
        learn::relative::Baseline::Quantile,
    ] {
        let with = model::train(
            &d,
            &model::TrainParams {
                relative_alarm: true,
                relative_baseline: baseline,
                ..base.clone()
            },
            first,
            split,
        )
        .unwrap();
        match with.meta.relative {
            Some(rule) => {
                assert_eq!(rule.baseline, baseline);
                assert_eq!(rule.cold_threshold, Some(plain.meta.threshold));
                assert!(detected(&with) > detected(&plain));
            }
            None => {
                assert_eq!(with.meta.threshold, plain.meta.threshold);
                assert_eq!(detected(&with), detected(&plain));
            }
        }
    }
}

/// `train --false-alarms`: the UI's false alarms drop the incident labels they overlap before training
/// (those windows train as negatives); the card says how many, and the training data — its fingerprint
/// in the model version — changes exactly when a label was dropped.
#[test]
fn false_alarms_from_the_ui_drop_the_labels_they_overlap_before_training() {
    let d = common::synthetic(3, 10, 2);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    dataset::write(&d, &data).unwrap();
    let flagged: Vec<_> = d.events_of("shop/svc0").to_vec();
    assert!(flagged.len() >= 2, "the synthetic target has incidents");
    let write = |name: &str, rows: &[(String, i64, i64)]| {
        let path = dir.path().join(name).join("false_alarms.csv");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut text = String::from("target,start,end,issue_type\n");
        for (t, s, e) in rows {
            text.push_str(&format!("{t},{s},{e},pod_failure\n"));
        }
        std::fs::write(&path, text).unwrap();
        path
    };
    let job = |false_alarms: Option<std::path::PathBuf>| learn::pipeline::TrainJob {
        false_alarms,
        ..learn::pipeline::TrainJob::new(data.clone(), common::small_params())
    };
    let unknown = ("elsewhere/x".to_string(), flagged[0].start, flagged[0].end);
    let mut rows: Vec<(String, i64, i64)> = flagged
        .iter()
        .map(|e| (e.target.clone(), e.start - 60, e.start + 30))
        .collect();
    rows.push(unknown.clone());

    let (plain, _) = learn::pipeline::train_bundle(&job(None)).unwrap();
    assert!(plain.card_json()["false_alarms"].is_null());
    let (nothing, _) =
        learn::pipeline::train_bundle(&job(Some(write("none", &[unknown])))).unwrap();
    let (fed, _) = learn::pipeline::train_bundle(&job(Some(write("fed", &rows)))).unwrap();

    assert_eq!(
        fed.card_json()["false_alarms"],
        serde_json::json!({
            "file": "false_alarms.csv",
            "false_alarms": flagged.len() + 1,
            "on_known_targets": flagged.len(),
            "dropped_labels": flagged.len(),
        })
    );
    assert!(
        fed.card_markdown().contains(&format!(
            "the {} incident labels they overlapped were dropped",
            flagged.len()
        )),
        "{}",
        fed.card_markdown()
    );
    assert_eq!(nothing.card_json()["false_alarms"]["dropped_labels"], 0);
    // The data trained on: the same without a dropped label, different with.
    assert_eq!(nothing.info().version, plain.info().version);
    assert_ne!(fed.info().version, plain.info().version);
}

/// `train --mitigated`: windows around the remediation agent's applied actions are left out of training
/// and validation (neither positive nor negative): the training sample shrinks by exactly those, the card
/// says how many, and without a record of a known target the bundle is byte-identical to one trained
/// without the option.
#[test]
fn mitigated_periods_leave_their_windows_out_of_training() {
    let d = common::synthetic(3, 10, 2);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    dataset::write(&d, &data).unwrap();
    let incidents: Vec<_> = d.events_of("shop/svc1").to_vec();
    assert!(!incidents.is_empty(), "the synthetic target has incidents");
    let write = |name: &str, rows: &[(String, i64, i64)]| {
        let path = dir.path().join(name).join("mitigated.csv");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut text = String::from("target,start,end,issue_type\n");
        for (t, s, e) in rows {
            text.push_str(&format!("{t},{s},{e},raise_memory\n"));
        }
        std::fs::write(&path, text).unwrap();
        path
    };
    let job = |mitigated: Option<std::path::PathBuf>| learn::pipeline::TrainJob {
        mitigated,
        ..learn::pipeline::TrainJob::new(data.clone(), common::small_params())
    };
    // An action 5 min before each incident of shop/svc1, its period 30 min long.
    let rows: Vec<(String, i64, i64)> = incidents
        .iter()
        .map(|e| (e.target.clone(), e.start - 300, e.start + 1_500))
        .collect();
    let unknown = (
        "elsewhere/x".to_string(),
        incidents[0].start,
        incidents[0].end,
    );

    let (plain, _) = learn::pipeline::train_bundle(&job(None)).unwrap();
    assert!(plain.card_json()["mitigated"].is_null());
    let (nothing, _) =
        learn::pipeline::train_bundle(&job(Some(write("none", &[unknown])))).unwrap();
    let (mitigated, _) = learn::pipeline::train_bundle(&job(Some(write("some", &rows)))).unwrap();

    // The windows expected to go: shop/svc1's, ending in [start - horizon, end] of a period.
    let mut params = common::small_params();
    learn::pipeline::resolve_step(&mut params, &d);
    let w = params.window;
    let svc1 = d.series.iter().find(|s| s.target == "shop/svc1").unwrap();
    let expected = learn::window::eval_points(svc1, &w, i64::MIN / 4, i64::MAX / 4)
        .into_iter()
        .filter(|&i| {
            let t = svc1.timestamps[i];
            rows.iter()
                .any(|(_, s, e)| s - w.horizon_secs <= t && t <= *e)
        })
        .count();
    assert!(expected > 0);
    assert_eq!(
        mitigated.card_json()["mitigated"],
        serde_json::json!({
            "file": "mitigated.csv",
            "records": rows.len(),
            "on_known_targets": rows.len(),
            "windows_dropped": expected,
        })
    );
    assert!(
        mitigated.card_markdown().contains(&format!(
            "the {expected} windows whose horizon reached into one"
        )),
        "{}",
        mitigated.card_markdown()
    );

    // The training sample: the grid training builds has none of those windows, and every other one.
    let (first, last) = d.time_range().unwrap();
    let policy = params.policy;
    let full = Grid::build(&d, w, policy, first, last, true);
    let mut dm = d.clone();
    let periods = learn::mitigated::read(&dir.path().join("some/mitigated.csv")).unwrap();
    learn::mitigated::apply(&mut dm, periods, &w);
    let left = Grid::build(&dm, w, policy, first, last, true);
    let k = d
        .series
        .iter()
        .position(|s| s.target == "shop/svc1")
        .unwrap();
    let in_period = |t: i64| {
        rows.iter()
            .any(|(_, s, e)| s - w.horizon_secs <= t && t <= *e)
    };
    assert!(left.points[k].iter().all(|p| !in_period(p.t)));
    let kept: Vec<_> = full.points[k].iter().filter(|p| !in_period(p.t)).collect();
    assert_eq!(left.points[k].iter().collect::<Vec<_>>(), kept);
    assert!(full.points[k].len() > left.points[k].len());
    for (j, pts) in full.points.iter().enumerate() {
        if j != k {
            assert_eq!(&left.points[j], pts);
        }
    }
    // Positives before the mitigated incidents are gone: the windows that, left alone, would predict them.
    assert!(
        full.points[k]
            .iter()
            .any(|p| matches!(p.label, learn::labels::Label::Issue(_)) && in_period(p.t))
    );

    // Without a record on a known target: the same model byte for byte (only the card's note differs:
    // with the plain card, the same bundle); with them, another training set (the version's
    // fingerprint changes) and another model.
    assert_eq!(nothing.card_json()["mitigated"]["windows_dropped"], 0);
    assert_eq!(nothing.info().version, plain.info().version);
    assert_ne!(mitigated.info().version, plain.info().version);
    let with_plain_card = |b: &ModelBundle| {
        ModelBundle::new(
            b.info().clone(),
            b.window_model().clone(),
            None,
            plain.card_markdown().to_string(),
            plain.card_json(),
        )
        .to_bytes()
    };
    assert_eq!(with_plain_card(&nothing), plain.to_bytes());
    assert_ne!(with_plain_card(&mitigated), plain.to_bytes());
}

/// The synthetic fleet with client/server latency: each `svc{k+1}` calls `svc{k}`, so its client
/// latency follows `svc{k}`'s server latency (which follows that target's CPU).
fn with_latency(d: &Dataset) -> Dataset {
    let mut out = d.clone();
    out.metrics.push("client_latency_p90_seconds".into());
    out.metrics.push("server_latency_p90_seconds".into());
    let server: Vec<Vec<f64>> = d
        .series
        .iter()
        .map(|s| s.columns[0].iter().map(|c| 0.02 + c / 1000.0).collect())
        .collect();
    for (k, s) in out.series.iter_mut().enumerate() {
        let client = match k.checked_sub(1) {
            Some(callee) => server[callee].iter().map(|v| v * 1.2 + 0.003).collect(),
            None => vec![f64::NAN; s.timestamps.len()],
        };
        s.columns.push(client);
        s.columns.push(server[k].clone());
    }
    out
}

/// `--callers`: the coupling is learnt on the training period and kept in the model; a saved model
/// derives exactly the training path's caller columns from the raw data (evaluation, like serving,
/// never relearns it), and asking for callers on data without latency columns is an error.
#[test]
fn caller_columns_from_a_saved_model_equal_the_training_ones() {
    let raw = with_latency(&common::synthetic(3, 8, 11));
    let dir = tempfile::tempdir().unwrap();
    dataset::write(&raw, &dir.path().join("data")).unwrap();
    let callers = learn::context::Context {
        peers: false,
        callers: true,
    };
    let (pair, trained) = learn::pipeline::train_pair(
        dir.path().join("data"),
        &common::small_params(),
        callers,
        Some(Split::Fraction(0.6)),
    )
    .unwrap();
    let coupling = pair.meta.callers.clone().expect("a coupling in the model");
    assert_eq!(coupling.until, Split::Fraction(0.6).time(&raw).unwrap());
    let learnt: Vec<(&str, Vec<&str>)> = coupling
        .callers
        .iter()
        .map(|(t, c)| (t.as_str(), c.iter().map(|x| x.0.as_str()).collect()))
        .collect();
    assert_eq!(
        learnt,
        vec![
            ("shop/svc0", vec!["shop/svc1"]),
            ("shop/svc1", vec!["shop/svc2"])
        ]
    );
    let path = dir.path().join("model.kpm");
    common::bundle_of(&pair).save(&path).unwrap();
    let loaded = ModelBundle::load(&path).unwrap().window_model().clone();
    assert_eq!(loaded.meta.callers, Some(coupling));
    let (derived, _) = eval::prepare(
        std::borrow::Cow::Owned(raw.clone()),
        &loaded,
        &Default::default(),
    )
    .unwrap();
    assert_eq!(derived.metrics, trained.metrics);
    let bits = |d: &Dataset| -> Vec<Vec<Vec<u64>>> {
        d.series
            .iter()
            .map(|s| {
                s.columns
                    .iter()
                    .map(|c| c.iter().map(|v| v.to_bits()).collect())
                    .collect()
            })
            .collect()
    };
    assert!(bits(&derived) == bits(&trained), "caller columns differ");
    // svc1's callers column holds svc2's rises; svc2 has no caller: missing throughout.
    let col = trained.metrics.len() - 1;
    assert!(trained.series[1].columns[col].iter().any(|v| v.is_finite()));
    assert!(trained.series[2].columns[col].iter().all(|v| v.is_nan()));

    let plain = tempfile::tempdir().unwrap();
    dataset::write(&common::synthetic(2, 4, 3), plain.path()).unwrap();
    let err = learn::pipeline::train_pair(plain.path(), &common::small_params(), callers, None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("client_latency"), "{err}");
}
