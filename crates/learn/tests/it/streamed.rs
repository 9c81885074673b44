//! Training target by target (`model::streamed`): byte for byte the in-memory model when every target
//! fits in memory (whatever the chunk size), close to it when validation sees a subset of the targets;
//! targets out of name order are an explicit error.

use std::path::Path;

use crate::common;

use learn::dataset::{self, Dataset};
use learn::eval::Split;
use learn::model::{self, TrainParams, streamed};
use learn::pipeline;

fn bytes(pair: &model::ModelPair) -> Vec<u8> {
    common::bundle_of(pair).to_bytes()
}

fn in_memory(dir: &Path, params: &TrainParams, until: Split) -> model::ModelPair {
    pipeline::train_pair(dir, params, Default::default(), Some(until))
        .unwrap()
        .0
}

#[test]
fn every_target_in_memory_gives_the_in_memory_model_byte_for_byte() {
    let d = common::synthetic(7, 16, 11);
    let dir = common::parquet_dir(&d);
    let until = Split::Fraction(0.75);
    let variants = [
        // Step 0: the data's median sample interval, as `kubepulse train` leaves it.
        TrainParams {
            window: learn::window::WindowSpec {
                step_secs: 0,
                ..common::small_params().window
            },
            ..common::small_params()
        },
        TrainParams {
            baseline: Some(learn::trailing::BaselineSpec {
                secs: 600,
                min_history_secs: 120,
                band: 3.0,
            }),
            relative_alarm: true,
            max_normal_rows: 2000,
            ..common::small_params()
        },
        // Positive windows thinned too (every third).
        TrainParams {
            max_positive_rows: 300,
            ..common::small_params()
        },
    ];
    for params in variants {
        let full = in_memory(dir.path(), &params, until);
        // Thinning is on: the strides of the fit part and the whole period are exercised.
        assert!(
            full.meta.training_rows < 7 * 12 * 240,
            "{}",
            full.meta.training_rows
        );
        // One target per chunk (offsets in the thinning), and every target in one chunk.
        for chunk_rows in [1, usize::MAX] {
            let s =
                streamed::train_in_chunks(dir.path(), &params, Some(until), u64::MAX, chunk_rows)
                    .unwrap();
            assert_eq!(s.targets, 7);
            assert_eq!(s.validation_targets, 7);
            assert_eq!(s.pair.meta, full.meta);
            assert_eq!(bytes(&s.pair), bytes(&full), "chunk_rows {chunk_rows}");
        }
    }
}

/// The simulator's `online-boutique` preset over `clusters` clusters, as Parquet.
fn simulated(clusters: u32, duration: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let config = sim::SimConfig {
        seed: 7,
        preset: "online-boutique".into(),
        duration: duration.into(),
        clusters,
        ..sim::SimConfig::default()
    };
    let outputs = sim::Outputs {
        dataset: Some(dir.path().to_path_buf()),
        openmetrics: None,
        format: dataset::Format::Parquet,
    };
    sim::run(&config.check().unwrap(), &outputs, &mut |_, _| {}).unwrap();
    dir
}

#[test]
fn validation_on_half_the_targets_stays_close_to_the_whole() {
    let dir = simulated(4, "1d");
    let d = Dataset::read(dir.path()).unwrap();
    let rows: u64 = d.series.iter().map(|s| s.timestamps.len() as u64).sum();
    let until = Split::Fraction(0.8);
    let params = common::small_params();
    let full = in_memory(dir.path(), &params, until);
    let s = streamed::train(dir.path(), &params, Some(until), rows / 2).unwrap();
    let n = d.series.len();
    assert!(
        (n / 3..n * 2 / 3).contains(&s.validation_targets),
        "{} validation targets of {n}",
        s.validation_targets
    );
    assert!(s.validation_rows <= rows / 2);
    // Same training rows, same forests: only calibration and threshold come from fewer targets.
    assert_eq!(s.pair.meta.training_rows, full.meta.training_rows);
    assert_eq!(s.pair.meta.data_fingerprint, d.fingerprint());
    assert_eq!(s.pair.meta.training_targets, full.meta.training_targets);
    close_alarm_choices(
        &format!("{n} targets, {} for validation", s.validation_targets),
        &s.pair.meta,
        &full.meta,
        0.05,
        0.25,
    );
    let (va, vb) = (
        s.pair.meta.validation.as_ref().unwrap(),
        full.meta.validation.as_ref().unwrap(),
    );
    // Both within the budget they were chosen for.
    assert!(va.false_alarms_per_target_day <= params.false_alarm_budget);
    assert!(vb.false_alarms_per_target_day <= params.false_alarm_budget);
}

/// Capping the positive windows at a third (each kept one weighing 3, as the normal ones weigh their
/// stride) leaves the alarm threshold and the validation false alarm rate near where the full sample
/// puts them — stated tolerance, on 8 clusters x 2 days (about 5,000 positive windows, 51 validation
/// incidents): threshold within 0.06, false alarms per target-day within 0.3 and both within the
/// budget, alarmed before start within 10 points (measured: 0.176 vs 0.227, 1.18 vs 0.90, 84 % vs
/// 78 %); the training sample shrinks by the positives left out, and the streamed training thins them
/// alike.
#[test]
fn a_weighted_cap_on_positive_windows_keeps_threshold_and_false_alarms() {
    let dir = simulated(8, "2d");
    let until = Split::Fraction(0.8);
    let uncapped = TrainParams {
        max_positive_rows: usize::MAX,
        ..common::small_params()
    };
    let full = in_memory(dir.path(), &uncapped, until);
    // The positive windows of the whole training period (those of the fit part are fewer).
    let d = Dataset::read(dir.path()).unwrap();
    let (first, _) = d.time_range().unwrap();
    let grid = learn::scoring::Grid::build(
        &d,
        full.meta.window,
        full.meta.policy,
        first,
        until.time(&d).unwrap(),
        true,
    );
    let positives = grid
        .points
        .iter()
        .flatten()
        .filter(|p| matches!(p.label, learn::labels::Label::Issue(_)))
        .count();
    let normals = full.meta.training_rows - positives;
    assert!(positives > 300, "{positives} positive windows");
    let cap = positives / 3;
    let capped_params = TrainParams {
        max_positive_rows: cap,
        ..uncapped.clone()
    };
    let capped = in_memory(dir.path(), &capped_params, until);
    let (a, b) = (&capped.meta, &full.meta);
    assert!(
        a.training_rows <= normals + cap + cap / 10
            && a.training_rows + positives / 3 < b.training_rows,
        "training rows capped {} vs {} ({positives} positive, cap {cap})",
        a.training_rows,
        b.training_rows
    );
    let (va, vb) = close_alarm_choices(
        &format!("positives capped at {cap} of ~{positives}"),
        a,
        b,
        0.06,
        0.3,
    );
    let budget = uncapped.false_alarm_budget;
    assert!(va.false_alarms_per_target_day <= budget && vb.false_alarms_per_target_day <= budget);
    assert!(
        (va.incidents.alarmed_before_start_ratio - vb.incidents.alarmed_before_start_ratio).abs()
            <= 0.10,
        "alarmed before start {} vs {}",
        va.incidents.alarmed_before_start_ratio,
        vb.incidents.alarmed_before_start_ratio
    );
    // Streamed with the same cap: the same model.
    let s =
        streamed::train_in_chunks(dir.path(), &capped_params, Some(until), u64::MAX, 1).unwrap();
    assert!(
        bytes(&s.pair) == bytes(&capped),
        "streamed differs from in memory"
    );
}

/// Below the positive cap nothing is thinned: the model is the one without a cap (but for the
/// parameter it records).
#[test]
fn below_the_positive_cap_the_model_is_the_uncapped_one() {
    let d = common::synthetic(5, 16, 3);
    let dir = common::parquet_dir(&d);
    let until = Split::Fraction(0.75);
    let capped = in_memory(dir.path(), &common::small_params(), until);
    let mut uncapped = in_memory(
        dir.path(),
        &TrainParams {
            max_positive_rows: usize::MAX,
            ..common::small_params()
        },
        until,
    );
    uncapped.meta.params.max_positive_rows = common::small_params().max_positive_rows;
    assert!(
        bytes(&capped) == bytes(&uncapped),
        "the default cap changed the model"
    );
    // A cap below the positives does change it.
    let thinned = in_memory(
        dir.path(),
        &TrainParams {
            max_positive_rows: 10,
            ..common::small_params()
        },
        until,
    );
    assert!(thinned.meta.training_rows < capped.meta.training_rows);
}

#[test]
fn targets_out_of_name_order_are_read_by_row_group_in_name_order() {
    let d = common::synthetic(5, 16, 3);
    let params = common::small_params();
    let until = Split::Fraction(0.75);
    let sorted = common::parquet_dir(&d);
    let reversed = common::reversed_parquet(&d);
    let full = in_memory(sorted.path(), &params, until);
    let s = streamed::train_in_chunks(reversed.path(), &params, Some(until), u64::MAX, 1).unwrap();
    assert_eq!(s.pair.meta.data_fingerprint, d.fingerprint());
    assert_eq!(bytes(&s.pair), bytes(&full));
}

#[test]
fn a_csv_out_of_name_order_is_an_error_naming_the_remedy() {
    let d = common::synthetic(3, 4, 1);
    let dir = tempfile::tempdir().unwrap();
    dataset::write(&d, dir.path()).unwrap();
    // Grouped by target, in reverse name order.
    let mut text = format!("timestamp,target,{}\n", d.metrics.join(","));
    for s in d.series.iter().rev() {
        for (i, t) in s.timestamps.iter().enumerate() {
            let values: Vec<String> = s.columns.iter().map(|c| c[i].to_string()).collect();
            text.push_str(&format!("{t},{},{}\n", s.target, values.join(",")));
        }
    }
    std::fs::write(dir.path().join("metrics.csv"), text).unwrap();
    let e = streamed::train(dir.path(), &common::small_params(), None, 1).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("not in name order"), "{msg}");
    assert!(msg.contains("--max-rows-in-memory"), "{msg}");
}

#[test]
fn train_bundle_reads_target_by_target_above_max_rows_in_memory_only() {
    let d = common::synthetic(7, 16, 11);
    let rows: u64 = d.series.iter().map(|s| s.timestamps.len() as u64).sum();
    let dir = common::parquet_dir(&d);
    let params = common::small_params();
    let until = Split::Fraction(0.75);
    let job = |max_rows_in_memory: u64, peers: bool| pipeline::TrainJob {
        context: learn::context::Context {
            peers,
            callers: false,
        },
        until: Some(until),
        max_rows_in_memory,
        ..pipeline::TrainJob::new(dir.path().to_path_buf(), params.clone())
    };
    let meta = |max: u64, peers: bool| {
        pipeline::train_bundle(&job(max, peers))
            .unwrap()
            .0
            .window_model()
            .meta
            .clone()
    };
    let streamed = streamed::train(dir.path(), &params, Some(until), rows / 2)
        .unwrap()
        .pair
        .meta;
    let whole = in_memory(dir.path(), &params, until).meta;
    assert_ne!(
        streamed.validation, whole.validation,
        "the subset must differ"
    );
    assert_eq!(meta(rows / 2, false), streamed);
    assert_eq!(meta(rows, false), whole);
    // Peer columns need every target at once: read whole, whatever the size.
    let peers = pipeline::train_pair(
        dir.path(),
        &params,
        learn::context::Context {
            peers: true,
            callers: false,
        },
        Some(until),
    )
    .unwrap()
    .0
    .meta;
    assert_eq!(meta(rows / 2, true), peers);
}

/// `train --shard i/n --sample-out DIR` x 4, then `--from-shards`: the union, in any order, is the
/// model one process trains (target by target, and in memory), byte for byte; a missing, doubled or
/// foreign shard is an error.
#[test]
fn four_shards_merged_in_any_order_give_the_single_process_model_byte_for_byte() {
    use learn::model::shards;
    use learn::shard::Shard;
    let d = common::synthetic(9, 16, 11);
    let dir = common::parquet_dir(&d);
    let until = Split::Fraction(0.75);
    // Positives and normals thinned, so the strides' offsets cross shard boundaries.
    let params = TrainParams {
        max_positive_rows: 300,
        max_normal_rows: 2000,
        ..common::small_params()
    };
    // Validation on a seeded half of the targets, as above --max-rows-in-memory.
    let rows: u64 = d.series.iter().map(|s| s.timestamps.len() as u64).sum();
    let max_rows = rows / 2;
    let single = streamed::train(dir.path(), &params, Some(until), max_rows).unwrap();
    assert!(single.validation_targets < 9);
    let out = tempfile::tempdir().unwrap();
    let dirs: Vec<std::path::PathBuf> = (0..4)
        .map(|i| {
            let p = out.path().join(format!("shard-{i}"));
            let meta = shards::extract_shard(
                dir.path(),
                &params,
                Some(until),
                max_rows,
                Shard { index: i, count: 4 },
                &p,
                &Default::default(),
            )
            .unwrap();
            assert_eq!((meta.index, meta.count), (i, 4));
            p
        })
        .collect();
    // The shards hold the validation targets between them.
    let owned: Vec<usize> = dirs
        .iter()
        .map(|p| shards::read_meta(p).unwrap().validation_targets)
        .collect();
    assert_eq!(
        owned.iter().sum::<usize>(),
        single.validation_targets,
        "{owned:?}"
    );
    for order in [[0, 1, 2, 3], [3, 1, 0, 2], [2, 3, 1, 0]] {
        let given: Vec<_> = order.iter().map(|&i| dirs[i].clone()).collect();
        let merged = shards::train_from_shards(&given, false).unwrap();
        assert_eq!(merged.pair.meta, single.pair.meta, "order {order:?}");
        assert!(
            bytes(&merged.pair) == bytes(&single.pair),
            "order {order:?}: not byte for byte"
        );
    }
    let e = shards::train_from_shards(&dirs[..3], false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("3/4") && e.contains("missing"), "{e}");
    let twice = [
        dirs[0].clone(),
        dirs[1].clone(),
        dirs[2].clone(),
        dirs[2].clone(),
    ];
    let e = shards::train_from_shards(&twice, false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("twice"), "{e}");
    // A shard of another extraction (other parameters).
    let other = out.path().join("other");
    shards::extract_shard(
        dir.path(),
        &TrainParams {
            seed: 7,
            ..params.clone()
        },
        Some(until),
        max_rows,
        Shard { index: 3, count: 4 },
        &other,
        &Default::default(),
    )
    .unwrap();
    let mixed = [dirs[0].clone(), dirs[1].clone(), dirs[2].clone(), other];
    let e = shards::train_from_shards(&mixed, false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("different data, periods or parameters"), "{e}");
}

/// Asserts that models `a` and `b` chose their alarm threshold within `threshold_tol` of each other and
/// that their validation false alarms per target-day lie within `fa_tol`; prints both (with `what`)
/// and returns their validation figures.
fn close_alarm_choices<'m>(
    what: &str,
    a: &'m learn::model::PairMeta,
    b: &'m learn::model::PairMeta,
    threshold_tol: f64,
    fa_tol: f64,
) -> (&'m learn::figures::Figures, &'m learn::figures::Figures) {
    let (va, vb) = (
        a.validation.as_ref().unwrap(),
        b.validation.as_ref().unwrap(),
    );
    eprintln!(
        "{what}: threshold {:.4} vs {:.4}; validation FA/td {:.3} vs {:.3}; alarmed before start \
         {:.3} vs {:.3} ({} vs {} incidents)",
        a.threshold,
        b.threshold,
        va.false_alarms_per_target_day,
        vb.false_alarms_per_target_day,
        va.incidents.alarmed_before_start_ratio,
        vb.incidents.alarmed_before_start_ratio,
        va.incidents.count,
        vb.incidents.count
    );
    assert!(
        (a.threshold - b.threshold).abs() <= threshold_tol,
        "{what}: threshold {} vs {}",
        a.threshold,
        b.threshold
    );
    assert!(
        (va.false_alarms_per_target_day - vb.false_alarms_per_target_day).abs() <= fa_tol,
        "{what}: validation FA/td {} vs {}",
        va.false_alarms_per_target_day,
        vb.false_alarms_per_target_day
    );
    (va, vb)
}

/// `--false-alarms` and `--mitigated` train target by target and in shards as in memory: the pair
/// of one process reading target by target is the in-memory pair, byte for byte, and 3 shards given the
/// same feedback merge into the bundle (card included) one process writes.
#[test]
fn false_alarms_and_mitigated_periods_train_alike_in_memory_target_by_target_and_in_shards() {
    use learn::model::shards;
    use learn::shard::Shard;
    let d = common::synthetic(9, 16, 11);
    let dir = common::parquet_dir(&d);
    let files = tempfile::tempdir().unwrap();
    // False alarms over every third incident, and one on a target the data does not have.
    let mut fa = String::from("target,start,end,issue_type\n");
    for e in d.events.iter().step_by(3) {
        fa += &format!(
            "{},{},{},false_alarm\n",
            e.target,
            e.start - 60,
            e.start + 30
        );
    }
    fa += "shop/elsewhere,1700000000,1700000600,false_alarm\n";
    let fa_path = files.path().join("false_alarms.csv");
    std::fs::write(&fa_path, fa).unwrap();
    // A mitigated half hour after every fourth incident.
    let mut mi = String::from("target,start,end,issue_type\n");
    for e in d.events.iter().skip(1).step_by(4) {
        mi += &format!(
            "{},{},{},raise_memory\n",
            e.target,
            e.end + 300,
            e.end + 2100
        );
    }
    let mi_path = files.path().join("mitigated.csv");
    std::fs::write(&mi_path, mi).unwrap();
    let params = TrainParams {
        max_positive_rows: 300,
        max_normal_rows: 2000,
        ..common::small_params()
    };
    let until = Split::Fraction(0.75);
    let rows: u64 = d.series.iter().map(|s| s.timestamps.len() as u64).sum();
    let job = |max_rows_in_memory: u64| pipeline::TrainJob {
        until: Some(until),
        max_rows_in_memory,
        false_alarms: Some(fa_path.clone()),
        mitigated: Some(mi_path.clone()),
        ..pipeline::TrainJob::new(dir.path(), params.clone())
    };
    let (whole, _) = pipeline::train_bundle(&job(u64::MAX)).unwrap();
    let card = whole.card_json();
    assert!(
        card["false_alarms"]["dropped_labels"].as_u64() > Some(0),
        "{card}"
    );
    assert_eq!(
        card["false_alarms"]["on_known_targets"],
        card["false_alarms"]["false_alarms"].as_u64().unwrap() - 1
    );
    assert!(
        card["mitigated"]["windows_dropped"].as_u64() > Some(0),
        "{card}"
    );
    let plain = in_memory(dir.path(), &params, until);
    assert!(
        bytes(&plain) != bytes(whole.window_model()),
        "the feedback must change the model"
    );

    let feedback = streamed::Feedback {
        false_alarms: Some(learn::false_alarms::read(&fa_path).unwrap()),
        mitigated: Some(learn::mitigated::read(&mi_path).unwrap()),
    };
    for chunk_rows in [1, streamed::CHUNK_ROWS] {
        let s = streamed::train_with_feedback(
            dir.path(),
            &params,
            Some(until),
            u64::MAX,
            chunk_rows,
            &feedback,
        )
        .unwrap();
        assert!(
            bytes(&s.pair) == bytes(whole.window_model()),
            "target by target (chunks of {chunk_rows} rows): not the in-memory pair"
        );
    }

    // Target by target above --max-rows-in-memory, and its shards: the same bundle, card included.
    let (single, _) = pipeline::train_bundle(&job(rows / 2)).unwrap();
    assert_eq!(single.card_json()["false_alarms"], card["false_alarms"]);
    assert_eq!(single.card_json()["mitigated"], card["mitigated"]);
    let out = tempfile::tempdir().unwrap();
    let shard_feedback = shards::ShardFeedback {
        false_alarms: Some((
            "false_alarms.csv".into(),
            feedback.false_alarms.clone().unwrap(),
        )),
        mitigated: Some(("mitigated.csv".into(), feedback.mitigated.clone().unwrap())),
    };
    let samples: Vec<std::path::PathBuf> = (0..3)
        .map(|i| {
            let p = out.path().join(format!("s{i}"));
            shards::extract_shard(
                dir.path(),
                &params,
                Some(until),
                rows / 2,
                Shard { index: i, count: 3 },
                &p,
                &shard_feedback,
            )
            .unwrap();
            p
        })
        .collect();
    let merged = pipeline::TrainJob {
        from_shards: samples.clone(),
        ..pipeline::TrainJob::new(std::path::PathBuf::new(), params.clone())
    };
    let (merged, _) = pipeline::train_bundle(&merged).unwrap();
    assert!(
        merged.to_bytes() == single.to_bytes(),
        "the shards' bundle differs from the single process's"
    );
    // The feedback goes to the shards, not to --from-shards.
    let e = pipeline::train_bundle(&pipeline::TrainJob {
        from_shards: samples,
        false_alarms: Some(fa_path.clone()),
        ..pipeline::TrainJob::new(std::path::PathBuf::new(), params.clone())
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("give them to every shard"), "{e}");
}
