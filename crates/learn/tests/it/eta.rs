//! Time to issue: the ETA regression forest against the heuristic it replaced, on the same alarmed
//! windows; its parity across the batch (eval) and single-row (serve, watch) paths; and bundles written
//! before ETA forests, which still load and fall back to the heuristic.

use crate::common;

use learn::bundle::ModelBundle;
use learn::eval::{self, Split};
use learn::labels::Label;
use learn::model::{self, series_rows};
use learn::prediction::PredictOptions;
use learn::scoring::Grid;
use learn::window::Window;

#[test]
fn the_eta_forest_is_closer_than_the_heuristic_and_the_report_says_by_how_much() {
    let d = common::synthetic(6, 16, 7);
    let split = Split::Fraction(0.6).time(&d).unwrap();
    let (first, last) = d.time_range().unwrap();
    let pair = model::train(&d, &common::small_params(), first, split).unwrap();
    let meta = pair
        .meta
        .eta
        .as_ref()
        .expect("an ETA forest is trained by default");
    assert!(pair.eta.is_some());
    assert!(meta.validation.windows > 0, "{meta:?}");
    let ev = eval::evaluate(&d, &pair, split, last, 1).unwrap();
    let (forest, heuristic) = (
        ev.eta.forest_median_abs_error_secs.unwrap(),
        ev.eta.heuristic_median_abs_error_secs.unwrap(),
    );
    eprintln!("ETA on test: {:?}; validation: {meta:?}", ev.eta);
    assert!(ev.eta.windows > 20, "{:?}", ev.eta);
    assert!(
        forest < heuristic,
        "forest {forest} s vs heuristic {heuristic} s"
    );
    let json = learn::report::to_json(&ev.summary(), &pair, "test");
    assert_eq!(
        json.pointer("/eta/forest_median_abs_error_secs")
            .and_then(|v| v.as_f64()),
        Some(forest)
    );
    assert_eq!(
        json.pointer("/eta/heuristic_median_abs_error_secs")
            .and_then(|v| v.as_f64()),
        Some(heuristic)
    );
    assert!(json.pointer("/eta/forest_target").unwrap().is_string());
    let md = learn::report::to_markdown(&ev.summary(), &pair, "test");
    assert!(md.contains(&format!("{forest:.0} s")) && md.contains(&format!("{heuristic:.0} s")));

    // Serving a reloaded bundle gives the ETA the evaluation scored, bit for bit.
    let bundle = ModelBundle::from_bytes(&common::bundle_of(&pair).to_bytes()).unwrap();
    assert!(bundle.window_model().eta.is_some());
    let grid = Grid::build(&d, pair.meta.window, pair.meta.policy, split, last, false);
    let mut alarmed = 0;
    for (s, points) in grid.points.iter().enumerate() {
        for p in points.iter().filter(|p| matches!(p.label, Label::Issue(_))) {
            let row = series_rows(&d, &pair.meta.features, s, std::iter::once((p.index, p.t)));
            let score = &pair.score_rows(row.clone()).unwrap()[0];
            let w = Window::from_series(
                &d.series[s],
                &d.metrics,
                p.index,
                pair.meta.window.window_secs,
            );
            let served = bundle
                .predict_window(&w, PredictOptions::explain(false))
                .unwrap();
            assert_eq!(served.will_have_issue, score.alarm);
            if score.alarm {
                alarmed += 1;
                let forest = pair.eta_forest_secs(&row).unwrap().unwrap();
                assert_eq!(
                    served.time_to_issue_seconds.map(f64::to_bits),
                    Some(forest.to_bits())
                );
                assert!((0.0..=pair.meta.window.horizon_secs as f64).contains(&forest));
            } else {
                assert_eq!(served.time_to_issue_seconds, None);
            }
        }
    }
    assert!(alarmed > 20);
}

#[test]
fn no_eta_trees_means_the_heuristic_and_a_bundle_that_says_so() {
    let d = common::synthetic(4, 10, 3);
    let (first, last) = d.time_range().unwrap();
    let params = model::TrainParams {
        eta_trees: 0,
        ..common::small_params()
    };
    let pair = model::train(&d, &params, first, last).unwrap();
    assert!(pair.eta.is_none() && pair.meta.eta.is_none());
    let back = ModelBundle::from_bytes(&common::bundle_of(&pair).to_bytes()).unwrap();
    assert!(back.window_model().eta.is_none());
    let row = series_rows(
        &d,
        &pair.meta.features,
        0,
        std::iter::once((300, d.series[0].timestamps[300])),
    );
    assert_eq!(
        pair.time_to_issue_secs(&row, 0).unwrap(),
        pair.eta_heuristic_secs(&row, 0)
    );
}

/// `tests/fixtures/bundle-v1.kpm`: a bundle of format version 1 (before ETA forests), see the README there.
#[test]
fn a_version_1_bundle_still_loads_and_predicts_with_the_heuristic() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bundle-v1.kpm");
    let bundle = ModelBundle::load(&path).unwrap();
    let pair = bundle.window_model();
    assert!(pair.eta.is_none() && pair.meta.eta.is_none());
    assert_eq!(
        pair.meta.params.eta_trees, 0,
        "old parameters read as no ETA forest"
    );
    // The fixture was trained on `common::synthetic(3, 8, 11)`.
    let d = common::synthetic(3, 8, 11);
    let grid = Grid::build(
        &d,
        pair.meta.window,
        pair.meta.policy,
        d.time_range().unwrap().0,
        i64::MAX,
        false,
    );
    let mut alarmed = 0;
    for (s, points) in grid.points.iter().enumerate() {
        for p in points.iter().filter(|p| matches!(p.label, Label::Issue(_))) {
            let w = Window::from_series(
                &d.series[s],
                &d.metrics,
                p.index,
                pair.meta.window.window_secs,
            );
            let pred = bundle
                .predict_window(&w, PredictOptions::explain(false))
                .unwrap();
            if let Some(eta) = pred.time_to_issue_seconds {
                alarmed += 1;
                let row = pair.meta.features.extract_window(&w).unwrap().row;
                let best = pair
                    .meta
                    .issue_types
                    .iter()
                    .position(|t| *t == pred.issue_type)
                    .unwrap();
                assert_eq!(eta, pair.eta_heuristic_secs(&row, best));
            }
        }
    }
    assert!(alarmed > 0, "the old model alarmed on no precursor window");
    // Re-saved, it is a current-version bundle that reads back the same.
    let again = ModelBundle::from_bytes(&bundle.to_bytes()).unwrap();
    assert_eq!(again.to_bytes(), bundle.to_bytes());
}
