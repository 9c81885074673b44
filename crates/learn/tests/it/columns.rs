//! A model meets a dataset by column *name*: permuting, renaming (with a column map) or adding columns
//! never changes a result, and a missing column is an error that names it — never a silent shift.

use crate::common;

use std::path::{Path, PathBuf};

use learn::LearnError;
use learn::columns::{ColumnMap, ColumnsError, MissingColumns};
use learn::context;
use learn::dataset::{self, Dataset};
use learn::eval::{self, Split};
use learn::model::{self, ModelPair};
use learn::pipeline::{self, EvalJob};
use proptest::prelude::*;

/// The dataset with its metric columns in `order` (indices into the original) and renamed by `rename`.
fn reshaped(d: &Dataset, order: &[usize], rename: &dyn Fn(&str) -> String) -> Dataset {
    let mut out = d.clone();
    out.metrics = order.iter().map(|&m| rename(&d.metrics[m])).collect();
    for (s, orig) in out.series.iter_mut().zip(&d.series) {
        s.columns = order.iter().map(|&m| orig.columns[m].clone()).collect();
    }
    out
}

/// The dataset with one more column of noise, at position `at`.
fn with_extra(d: &Dataset, at: usize) -> Dataset {
    let mut out = d.clone();
    let at = at.min(out.metrics.len());
    out.metrics.insert(at, "unrelated_gauge".into());
    for s in &mut out.series {
        let noise = (0..s.timestamps.len()).map(|i| (i % 7) as f64).collect();
        s.columns.insert(at, noise);
    }
    out
}

fn train(d: &Dataset, peers: bool) -> ModelPair {
    let data = if peers {
        context::add_peer_columns(d, 7)
    } else {
        d.clone()
    };
    let split = Split::Fraction(0.6).time(&data).unwrap();
    let (first, _) = data.time_range().unwrap();
    model::train(&data, &common::small_params(), first, split).unwrap()
}

fn saved(pair: &ModelPair, dir: &Path) -> PathBuf {
    let path = dir.join("model.kpm");
    common::bundle_of(pair).save(&path).unwrap();
    path
}

/// `kubepulse eval --model` on a dataset written to disk: the report.json bytes, or the error.
fn report(model: &Path, d: &Dataset, columns: Option<&str>) -> Result<Vec<u8>, LearnError> {
    report_with(model, d, columns, MissingColumns::Error)
}

/// [`report`] with `--missing-columns`.
fn report_with(
    model: &Path,
    d: &Dataset,
    columns: Option<&str>,
    missing: MissingColumns,
) -> Result<Vec<u8>, LearnError> {
    let dir = tempfile::tempdir().unwrap();
    dataset::write(d, &dir.path().join("data")).unwrap();
    let columns = columns.map(|text| {
        let p = dir.path().join("columns.toml");
        std::fs::write(&p, text).unwrap();
        p
    });
    let job = EvalJob {
        data: dir.path().join("data").into(),
        model: Some(model.to_path_buf()),
        snapshot: false,
        split: Some(Split::Fraction(0.6)),
        params: common::small_params(),
        context: Default::default(),
        columns,
        missing,
        out: dir.path().join("report"),
        max_rows_in_memory: pipeline::MAX_ROWS_IN_MEMORY,
        max_memory: None,
    };
    pipeline::run_eval(&job)?;
    Ok(std::fs::read(dir.path().join("report/report.json")).unwrap())
}

#[test]
fn permuted_renamed_or_widened_columns_give_a_byte_identical_report() {
    let d = common::synthetic(4, 12, 5);
    for peers in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let model = saved(&train(&d, peers), dir.path());
        let reference = report(&model, &d, None).unwrap();
        let n = d.metrics.len();
        let reversed: Vec<usize> = (0..n).rev().collect();
        let same = |m: &str| m.to_string();
        assert!(
            report(&model, &reshaped(&d, &reversed, &same), None).unwrap() == reference,
            "reversing the columns changed report.json (peers: {peers})"
        );
        let rotated: Vec<usize> = (1..=n).map(|i| i % n).collect();
        let renamed = reshaped(&d, &rotated, &|m: &str| format!("prom_{m}"));
        let map: String = d
            .metrics
            .iter()
            .map(|m| format!("{m} = \"prom_{m}\"\n"))
            .collect();
        assert!(
            report(&model, &renamed, Some(&map)).unwrap() == reference,
            "renaming the columns with a map changed report.json (peers: {peers})"
        );
        let widened = report(&model, &with_extra(&d, 1), None).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&widened).unwrap();
        assert_eq!(
            json["test"]["ignored_columns"],
            serde_json::json!(["unrelated_gauge"])
        );
        let mut json = json;
        json["test"]["ignored_columns"] = serde_json::json!([]);
        let reference: serde_json::Value = serde_json::from_slice(&reference).unwrap();
        assert_eq!(json, reference, "an extra column changed the figures");
    }
}

#[test]
fn a_missing_or_misnamed_column_is_one_line_naming_it() {
    let d = common::synthetic(3, 10, 2);
    let dir = tempfile::tempdir().unwrap();
    let model = saved(&train(&d, false), dir.path());
    let all_but_memory: Vec<usize> = (0..d.metrics.len())
        .filter(|&m| d.metrics[m] != "memory_working_set_bytes")
        .collect();
    let e = report(
        &model,
        &reshaped(&d, &all_but_memory, &|m| m.to_string()),
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("lacks 1 of the model's 4 columns: `memory_working_set_bytes`")
            && !e.contains('\n'),
        "{e}"
    );
    // Renamed without a map: every renamed column is named.
    let everything: Vec<usize> = (0..d.metrics.len()).collect();
    let renamed = reshaped(&d, &everything, &|m| format!("x_{m}"));
    let e = report(&model, &renamed, None).unwrap_err().to_string();
    assert!(e.contains("lacks 4 of the model's 4 columns"), "{e}");
    // A map naming a model metric that does not exist, or a data column that does not exist.
    let e = report(&model, &d, Some("cpu = \"cpu_utilization\"\n"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("names `cpu`, not a column of the model"), "{e}");
    let e = report(&model, &d, Some("cpu_utilization = \"cpu_pct\"\n"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("points to `cpu_pct`, not a column of the data"),
        "{e}"
    );
    let e = report(&model, &d, Some("cpu_utilization = [1]\n"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("columns.toml") && e.contains("must be a string"),
        "{e}"
    );
}

#[test]
fn a_missing_column_on_request_is_scored_as_missing_values_and_reported() {
    let d = common::synthetic(3, 10, 2);
    let dir = tempfile::tempdir().unwrap();
    let model = saved(&train(&d, false), dir.path());
    let lacking = "memory_working_set_bytes";
    let others: Vec<usize> = (0..d.metrics.len())
        .filter(|&m| d.metrics[m] != lacking)
        .collect();
    let without = reshaped(&d, &others, &|m| m.to_string());
    // By default: an error.
    assert!(report(&model, &without, None).is_err());
    // On request: exactly the report of the dataset with that column empty (all missing values),
    // the column listed.
    let nan = report_with(&model, &without, None, MissingColumns::Nan).unwrap();
    let mut emptied = d.clone();
    let m = d.metrics.iter().position(|x| x == lacking).unwrap();
    for s in &mut emptied.series {
        s.columns[m].iter_mut().for_each(|v| *v = f64::NAN);
    }
    let reference = report(&model, &emptied, None).unwrap();
    let mut json: serde_json::Value = serde_json::from_slice(&nan).unwrap();
    assert_eq!(json["test"]["nan_columns"], serde_json::json!([lacking]));
    json["test"]["nan_columns"] = serde_json::json!([]);
    let reference: serde_json::Value = serde_json::from_slice(&reference).unwrap();
    assert_eq!(json, reference);
    // Not one of its columns: still an error, whatever was asked.
    let renamed = reshaped(&d, &others, &|m| format!("x_{m}"));
    assert!(report_with(&model, &renamed, None, MissingColumns::Nan).is_err());
}

/// `kubepulse train --holdout-data` with a hold-out whose columns have other names: `--columns` maps them,
/// and the card's hold-out figures are those of the same data under the model's names.
#[test]
fn train_maps_the_holdout_columns_with_a_column_map() {
    let train_data = common::synthetic(3, 10, 2);
    let holdout = common::synthetic(3, 10, 9);
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, d: &Dataset| {
        let p = dir.path().join(name);
        dataset::write(d, &p).unwrap();
        p
    };
    let everything: Vec<usize> = (0..holdout.metrics.len()).rev().collect();
    let job = |holdout_dir: PathBuf, columns: Option<PathBuf>| pipeline::TrainJob {
        holdout: Some((holdout_dir, "other cluster".into())),
        columns,
        ..pipeline::TrainJob::new(write("train", &train_data), common::small_params())
    };
    let (same_names, _) = pipeline::train_bundle(&job(write("holdout", &holdout), None)).unwrap();
    let renamed_dir = write(
        "renamed",
        &reshaped(&holdout, &everything, &|m| format!("prom_{m}")),
    );
    let e = pipeline::train_bundle(&job(renamed_dir.clone(), None)).unwrap_err();
    assert!(
        e.to_string().contains("lacks 4 of the model's 4 columns"),
        "{e}"
    );
    let map_path = dir.path().join("columns.toml");
    let map: String = holdout
        .metrics
        .iter()
        .map(|m| format!("{m} = \"prom_{m}\"\n"))
        .collect();
    std::fs::write(&map_path, map).unwrap();
    let (mapped, _) = pipeline::train_bundle(&job(renamed_dir, Some(map_path))).unwrap();
    assert_eq!(mapped.card_json(), same_names.card_json());
    assert!(
        same_names.card_json().to_string().contains("other cluster"),
        "the card has the hold-out"
    );
}

/// `kubepulse train --holdout-data` with a hold-out lacking a training column: an error naming it by
/// default; with `--missing-columns nan`, the card's hold-out figures are those of the hold-out with that
/// column all missing, and the card lists it.
#[test]
fn train_scores_a_holdout_lacking_a_column_as_missing_values_on_request() {
    let train_data = common::synthetic(3, 10, 2);
    let holdout = common::synthetic(3, 10, 9);
    let lacking = "memory_working_set_bytes";
    let m = holdout.metrics.iter().position(|x| x == lacking).unwrap();
    let others: Vec<usize> = (0..holdout.metrics.len()).filter(|&i| i != m).collect();
    let mut emptied = holdout.clone();
    for s in &mut emptied.series {
        s.columns[m].iter_mut().for_each(|v| *v = f64::NAN);
    }
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, d: &Dataset| {
        let p = dir.path().join(name);
        dataset::write(d, &p).unwrap();
        p
    };
    let train_dir = write("train", &train_data);
    let job = |holdout_dir: PathBuf, missing: MissingColumns| pipeline::TrainJob {
        holdout: Some((holdout_dir, "other cluster".into())),
        missing,
        ..pipeline::TrainJob::new(train_dir.clone(), common::small_params())
    };
    let without = write("without", &reshaped(&holdout, &others, &|m| m.to_string()));
    let e = pipeline::train_bundle(&job(without.clone(), MissingColumns::Error)).unwrap_err();
    assert!(
        e.to_string()
            .contains(&format!("lacks 1 of the model's 4 columns: `{lacking}`")),
        "{e}"
    );
    let (nan, _) = pipeline::train_bundle(&job(without, MissingColumns::Nan)).unwrap();
    let (reference, _) =
        pipeline::train_bundle(&job(write("emptied", &emptied), MissingColumns::Error)).unwrap();
    let (nan, reference) = (nan.card_json(), reference.card_json());
    let (h, r) = (
        &nan["window_model"]["holdout"],
        &reference["window_model"]["holdout"],
    );
    assert_eq!(h["nan_columns"], serde_json::json!([lacking]));
    assert_eq!(r["nan_columns"], serde_json::json!([]));
    assert_eq!(h["figures"], r["figures"]);
    assert_eq!(h["baselines"], r["baselines"]);
    assert_eq!(h["eta"], r["eta"]);
    assert!(
        h["figures"].is_object(),
        "the card has hold-out figures: {h}"
    );
    // Without a hold-out the flag is an error, not silently ignored.
    let mut no_holdout = job(dir.path().join("unused"), MissingColumns::Nan);
    no_holdout.holdout = None;
    let e = pipeline::train_bundle(&no_holdout).unwrap_err().to_string();
    assert!(
        e.contains("--missing-columns") && e.contains("--holdout-data"),
        "{e}"
    );
}

#[test]
fn a_model_of_the_other_level_is_an_error_not_a_report() {
    let d = common::synthetic(3, 10, 2);
    // A dataset whose columns are cluster snapshot fields is cluster level.
    let as_cluster = [
        "cluster_cpu_util_avg",
        "node_count",
        "sample_count",
        "cpu_avg_1h",
    ];
    let everything: Vec<usize> = (0..d.metrics.len()).collect();
    let cluster = reshaped(&d, &everything, &|m| {
        let i = d.metrics.iter().position(|x| x == m).unwrap();
        as_cluster[i].to_string()
    });
    let dir = tempfile::tempdir().unwrap();
    let cluster_model = saved(&train(&cluster, false), dir.path());
    let e = report(&cluster_model, &d, None).unwrap_err();
    assert!(
        matches!(e, LearnError::Columns(ColumnsError::LevelMismatch { .. })),
        "{e}"
    );
    let other = tempfile::tempdir().unwrap();
    let window_model = saved(&train(&d, false), other.path());
    let e = report(&window_model, &cluster, None)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("level mismatch"), "{e}");
}

fn figures_of(pair: &ModelPair, d: &Dataset, map: &ColumnMap) -> Result<String, LearnError> {
    let (first, last) = d.time_range().unwrap();
    let from = first + (last - first) * 6 / 10;
    let (data, _) = eval::prepare(d.into(), pair, map)?;
    let ev = eval::evaluate_figures(data, pair, from, last)?;
    Ok(format!("{:?}{:?}", ev.model, ev.scores))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    /// Any permutation, any subset renamed through a map, an extra column anywhere: the same figures
    /// and scores. Dropping any column: an error naming exactly that column.
    #[test]
    fn reshaping_columns_never_changes_a_result_silently(
        keys in proptest::collection::vec(any::<u32>(), 4),
        renamed in proptest::collection::vec(any::<bool>(), 4),
        extra_at in 0usize..6,
        dropped in 0usize..4,
    ) {
        let (d, pair, reference) = fixture();
        let mut order: Vec<usize> = (0..4).collect();
        order.sort_by_key(|&m| keys[m]);
        let rename = |m: &str| {
            let i = d.metrics.iter().position(|x| x == m).unwrap();
            if renamed[i] { format!("other_{i}") } else { m.to_string() }
        };
        let map = ColumnMap::new(
            (0..4).filter(|&i| renamed[i]).map(|i| (d.metrics[i].clone(), format!("other_{i}"))),
        ).unwrap();
        let wide = with_extra(&reshaped(d, &order, &rename), extra_at);
        prop_assert_eq!(&figures_of(pair, &wide, &map).unwrap(), reference);
        let kept: Vec<usize> = order.iter().copied().filter(|&m| m != dropped).collect();
        let short = reshaped(d, &kept, &rename);
        match figures_of(pair, &short, &map) {
            Err(LearnError::Columns(ColumnsError::Missing { missing, .. })) => {
                prop_assert_eq!(missing, vec![d.metrics[dropped].clone()]);
            }
            // A map entry pointing to the dropped column is named as such.
            Err(LearnError::Columns(ColumnsError::MappedAbsent { absent, .. })) => {
                prop_assert!(renamed[dropped]);
                prop_assert_eq!(absent, vec![format!("other_{dropped}")]);
            }
            other => prop_assert!(false, "dropping `{}` gave {:?}", d.metrics[dropped], other.map(|_| ())),
        }
    }
}

/// One trained model and its reference figures, shared by every case.
fn fixture() -> &'static (Dataset, ModelPair, String) {
    static FIXTURE: std::sync::OnceLock<(Dataset, ModelPair, String)> = std::sync::OnceLock::new();
    FIXTURE.get_or_init(|| {
        let d = common::synthetic(3, 10, 9);
        let pair = train(&d, false);
        let reference = figures_of(&pair, &d, &ColumnMap::default()).unwrap();
        (d, pair, reference)
    })
}
