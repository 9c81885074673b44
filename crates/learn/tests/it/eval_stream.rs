//! Evaluating target by target (`eval_stream`): `report.json`, `report.md` and `predictions.csv` byte
//! for byte those of the evaluation in memory — with the baselines, the per-target alarm condition (its
//! score history warm-up), a split or none, one target per chunk, and row groups out of name order.

use std::path::Path;

use crate::common;

use learn::columns::{ColumnMap, MissingColumns};
use learn::eval::Split;
use learn::model::TrainParams;
use learn::pipeline::{self, EvalJob};

/// Runs `kubepulse eval --model` on `data` with this `--max-rows-in-memory`; the report's files.
fn eval(
    data: &Path,
    model: &Path,
    split: Option<Split>,
    max_rows: u64,
    out: &Path,
) -> [Vec<u8>; 3] {
    pipeline::run_eval(&eval_job(data, model, split, max_rows, out)).unwrap();
    ["report.json", "report.md", "predictions.csv"].map(|f| std::fs::read(out.join(f)).unwrap())
}

fn eval_job(data: &Path, model: &Path, split: Option<Split>, max_rows: u64, out: &Path) -> EvalJob {
    EvalJob {
        data: data.into(),
        model: Some(model.to_path_buf()),
        snapshot: false,
        split,
        params: common::small_params(),
        context: Default::default(),
        columns: None,
        missing: MissingColumns::Error,
        out: out.to_path_buf(),
        max_rows_in_memory: max_rows,
        max_memory: None,
    }
}

fn text(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap()
}

/// Asserts two files' texts are equal, showing the first line that differs (reports are long).
fn same(a: &[u8], b: &[u8], what: &str) {
    let (a, b) = (text(a), text(b));
    if let Some((n, (x, y))) = a
        .lines()
        .zip(b.lines())
        .enumerate()
        .find(|(_, (x, y))| x != y)
    {
        panic!(
            "{what}: line {} differs:\n  in memory: {x}\n  streamed:  {y}",
            n + 1
        );
    }
    assert_eq!(a.len(), b.len(), "{what}: one is a prefix of the other");
    assert_eq!(a, b, "{what}");
}

#[test]
fn streamed_report_is_the_in_memory_report_byte_for_byte() {
    let d = common::synthetic(7, 16, 11);
    let data = common::parquet_dir(&d);
    let tmp = tempfile::tempdir().unwrap();
    let variants = [
        common::small_params(),
        // Baseline features (the `robust_z` baseline) and the per-target alarm condition, whose score
        // history is warmed up on the windows before the test period.
        TrainParams {
            baseline: Some(learn::trailing::BaselineSpec {
                secs: 600,
                min_history_secs: 120,
                band: 3.0,
            }),
            relative_alarm: true,
            ..common::small_params()
        },
    ];
    // Alarm episodes without and with the per-target rule (it must remove some).
    let mut episodes = Vec::new();
    for (v, params) in variants.into_iter().enumerate() {
        let (mut pair, _) = pipeline::train_pair(
            data.path(),
            &params,
            Default::default(),
            Some(Split::Fraction(0.6)),
        )
        .unwrap();
        if v == 1 {
            // Validation keeps the rule only when it detects more; on this data it would not.
            pair.meta.relative = Some(learn::relative::RelativeRule::with_k(3.0));
        }
        let model = tmp.path().join(format!("m{v}.kpm"));
        common::bundle_of(&pair).save(&model).unwrap();
        for split in [Some(Split::Fraction(0.6)), None] {
            let dir = tmp.path().join(format!("{v}-{}", split.is_some()));
            let whole = eval(data.path(), &model, split, u64::MAX, &dir.join("whole"));
            let streamed = eval(data.path(), &model, split, 0, &dir.join("streamed"));
            let json: serde_json::Value = serde_json::from_slice(&whole[0]).unwrap();
            // Something to compare: incidents, alarms, baselines, explanations, importances.
            assert!(json["incidents"]["count"].as_u64().unwrap() > 5, "{json}");
            assert!(json["alarm_episodes"].as_u64().unwrap() > 0);
            if split.is_some() {
                episodes.push(json["alarm_episodes"].as_u64().unwrap());
            }
            assert!(
                json["baselines"]["static_threshold"]["windows"]
                    .as_u64()
                    .unwrap()
                    > 0
            );
            assert!(!json["explanations"].as_array().unwrap().is_empty());
            assert!(json["importances"][0]["permutation"].as_f64().is_some());
            for (a, b) in whole.iter().zip(&streamed) {
                same(a, b, &format!("variant {v}, split {split:?}"));
            }
            // One target per chunk, row groups in reverse name order: the same report.
            let reversed = common::reversed_parquet(&d);
            let out = dir.join("chunked");
            let map = ColumnMap::default();
            let opts = learn::eval_stream::Options {
                split,
                chunk_rows: 1,
                ..learn::eval_stream::Options::new(&map, "test 0", common::small_params().seed)
            };
            let summary =
                learn::eval_stream::evaluate(reversed.path(), &pair, &opts, &out).unwrap();
            assert_eq!(summary.targets.len(), 7);
            same(
                &whole[0],
                &std::fs::read(out.join("report.json")).unwrap(),
                &format!("variant {v}, split {split:?}, one target per chunk, reversed"),
            );
        }
    }
    assert!(
        episodes[1] < episodes[0],
        "the per-target rule removed no alarm: {episodes:?}"
    );
}

#[test]
fn a_model_with_peer_columns_is_evaluated_in_memory() {
    let d = common::synthetic(5, 12, 4);
    let data = common::parquet_dir(&d);
    let (pair, _) = pipeline::train_pair(
        data.path(),
        &common::small_params(),
        learn::context::Context {
            peers: true,
            callers: false,
        },
        Some(Split::Fraction(0.6)),
    )
    .unwrap();
    assert!(learn::context::has_peer_columns(
        &pair.meta.features.metrics
    ));
    let tmp = tempfile::tempdir().unwrap();
    let map = ColumnMap::default();
    let e = learn::eval_stream::evaluate(
        data.path(),
        &pair,
        &learn::eval_stream::Options::new(&map, "t", 1),
        tmp.path(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("peer columns"), "{e}");
    // `run_eval` falls back to reading the whole dataset (and says so).
    let model = tmp.path().join("m.kpm");
    common::bundle_of(&pair).save(&model).unwrap();
    let [json, ..] = eval(
        data.path(),
        &model,
        Some(Split::Fraction(0.6)),
        0,
        &tmp.path().join("r"),
    );
    assert!(text(&json).contains("\"incidents\""));
}

#[test]
fn the_memory_guard_fails_early_naming_the_flag_to_change() {
    let d = common::synthetic(5, 12, 4);
    let rows: u64 = d.series.iter().map(|s| s.timestamps.len() as u64).sum();
    let data = common::parquet_dir(&d);
    let tmp = tempfile::tempdir().unwrap();
    let small = learn::memory::Limit {
        bytes: 1 << 20,
        source: "--max-memory".into(),
    };
    let need = learn::memory::rows_bytes(rows, d.metrics.len());
    assert!(need > small.bytes, "{need}");
    // Training: read whole (the dataset is within --max-rows-in-memory), then target by target.
    let train = |max_rows_in_memory: u64| pipeline::TrainJob {
        until: Some(Split::Fraction(0.6)),
        max_rows_in_memory,
        max_memory: Some(small.clone()),
        ..pipeline::TrainJob::new(data.path().to_path_buf(), common::small_params())
    };
    let refused = |job: &pipeline::TrainJob| match pipeline::train_bundle(job) {
        Ok(_) => panic!("trained despite the memory limit"),
        Err(e) => e.to_string(),
    };
    let e = refused(&train(u64::MAX));
    assert!(e.starts_with("not enough memory: reading "), "{e}");
    assert!(
        e.contains(&format!("below its {rows} rows")) && e.contains("--max-memory"),
        "{e}"
    );
    // Target by target, the targets kept whole for validation are what is guarded.
    let e = refused(&train(rows - 1));
    assert!(e.contains("lower --max-rows-in-memory"), "{e}");
    // Within the limit: trains.
    let mut job = train(u64::MAX);
    job.max_memory = Some(learn::memory::Limit {
        bytes: need,
        ..small.clone()
    });
    let (bundle, _) = pipeline::train_bundle(&job).unwrap();
    let model = tmp.path().join("m.kpm");
    bundle.save(&model).unwrap();
    // Evaluation in memory is guarded; target by target it holds one chunk and is not.
    let mut job = eval_job(data.path(), &model, None, u64::MAX, &tmp.path().join("a"));
    job.max_memory = Some(small.clone());
    let e = pipeline::run_eval(&job).unwrap_err().to_string();
    assert!(
        e.contains("--max-rows-in-memory") && e.contains("1 MB of --max-memory"),
        "{e}"
    );
    job.max_rows_in_memory = 0;
    pipeline::run_eval(&job).unwrap();
}
