//! Several dataset directories read as one (`--data DIR...`, [`learn::data_dirs`]): the per-shard
//! datasets `collect --shard i/n` writes train, evaluate and feed sharded training exactly as the one
//! directory holding their union — the same bundle, byte for byte; mismatched columns and a target in two
//! directories are refused.

use std::path::{Path, PathBuf};

use crate::common;

use learn::data_dirs::DataDirs;
use learn::dataset::{self, Dataset};
use learn::eval::Split;
use learn::model::{TrainParams, shards, streamed};
use learn::pipeline;
use learn::shard::Shard;

/// The targets of `d` that shard `i` of `n` owns, with their events (what `collect --shard i/n`
/// writes).
fn shard_of(d: &Dataset, i: u32, n: u32) -> Dataset {
    let shard = Shard { index: i, count: n };
    Dataset {
        metrics: d.metrics.clone(),
        series: d
            .series
            .iter()
            .filter(|s| shard.owns(&s.target))
            .cloned()
            .collect(),
        events: d
            .events
            .iter()
            .filter(|e| shard.owns(&e.target))
            .cloned()
            .collect(),
        mitigated: Vec::new(),
    }
}

/// Writes `d`'s `n` shards under `root` (`collect-<i>`), shard `i` as CSV when `csv(i)`, else Parquet.
fn write_shards(d: &Dataset, n: u32, root: &Path, csv: impl Fn(u32) -> bool) -> Vec<PathBuf> {
    (0..n)
        .map(|i| {
            let dir = root.join(format!("collect-{i}"));
            let part = shard_of(d, i, n);
            assert!(!part.series.is_empty(), "shard {i} owns no target");
            if csv(i) {
                dataset::write(&part, &dir).unwrap();
            } else {
                dataset::write_parquet(&part, &dir).unwrap();
            }
            dir
        })
        .collect()
}

fn train_bytes(job: &pipeline::TrainJob) -> Vec<u8> {
    pipeline::train_bundle(job).unwrap().0.to_bytes()
}

fn params() -> TrainParams {
    // Positives and normals thinned: the strides cross directory boundaries.
    TrainParams {
        max_positive_rows: 300,
        max_normal_rows: 2000,
        ..common::small_params()
    }
}

#[test]
fn per_shard_datasets_read_as_one_train_the_union_bundle_byte_for_byte() {
    let d = common::synthetic(9, 16, 11);
    let root = tempfile::tempdir().unwrap();
    let union_pq = root.path().join("union-parquet");
    dataset::write_parquet(&d, &union_pq).unwrap();
    let union_csv = root.path().join("union-csv");
    dataset::write(&d, &union_csv).unwrap();
    let parts = write_shards(&d, 3, root.path(), |_| false);
    let many = DataDirs::new(parts.clone()).unwrap();
    // Another order of the directories: the same dataset.
    let reordered =
        DataDirs::new(vec![parts[2].clone(), parts[0].clone(), parts[1].clone()]).unwrap();
    // The same content (the fingerprint hashes every value's bits: NaN = NaN there).
    let whole = Dataset::read(&union_pq).unwrap().fingerprint();
    assert_eq!(many.read(false).unwrap().fingerprint(), whole);
    assert_eq!(reordered.read(false).unwrap().fingerprint(), whole);
    assert_eq!(many.metric_names().unwrap(), d.metrics);

    let until = Some(Split::Fraction(0.75));
    let rows: u64 = d.series.iter().map(|s| s.timestamps.len() as u64).sum();
    let job = |data: DataDirs, max_rows_in_memory: u64| pipeline::TrainJob {
        until,
        max_rows_in_memory,
        ..pipeline::TrainJob::new(data, params())
    };
    // In memory (Parquet and CSV directories, mixed).
    let single = train_bytes(&job(DataDirs::one(&union_pq), u64::MAX));
    assert!(
        train_bytes(&job(many.clone(), u64::MAX)) == single,
        "in memory"
    );
    assert!(
        train_bytes(&job(reordered.clone(), u64::MAX)) == single,
        "in memory, directories in another order"
    );
    let mixed = write_shards(&d, 3, &root.path().join("mixed"), |i| i == 1);
    assert!(
        train_bytes(&job(DataDirs::new(mixed).unwrap(), u64::MAX)) == single,
        "in memory, CSV and Parquet directories"
    );
    assert!(train_bytes(&job(DataDirs::one(&union_csv), u64::MAX)) == single);

    // Target by target (above --max-rows-in-memory), validation on a seeded subset of the targets.
    let streamed_single = train_bytes(&job(DataDirs::one(&union_pq), rows / 2));
    assert!(
        streamed_single != single,
        "the subset must change the model"
    );
    assert!(
        train_bytes(&job(reordered.clone(), rows / 2)) == streamed_single,
        "target by target"
    );
    let one = streamed::train(&union_pq, &params(), until, rows / 2).unwrap();
    for chunk_rows in [1, 5000] {
        let multi =
            streamed::train_in_chunks(&many, &params(), until, rows / 2, chunk_rows).unwrap();
        assert_eq!(
            multi.pair.meta, one.pair.meta,
            "chunks of {chunk_rows} rows"
        );
        assert_eq!((multi.rows, multi.targets), (one.rows, one.targets));
    }

    // Sharded extraction, each shard given every collect directory: the union, byte for byte.
    let out = tempfile::tempdir().unwrap();
    let samples: Vec<PathBuf> = (0..3)
        .map(|i| {
            let p = out.path().join(format!("sample-{i}"));
            shards::extract_shard(
                &many,
                &params(),
                until,
                rows / 2,
                Shard { index: i, count: 3 },
                &p,
                &Default::default(),
            )
            .unwrap();
            p
        })
        .collect();
    let merged = shards::train_from_shards(&samples, false).unwrap();
    assert!(
        common::bundle_of(&merged.pair).to_bytes() == common::bundle_of(&one.pair).to_bytes(),
        "sharded extraction over the per-shard datasets"
    );
}

#[test]
fn evaluating_per_shard_datasets_reports_as_their_union() {
    let d = common::synthetic(6, 12, 5);
    let root = tempfile::tempdir().unwrap();
    let union = root.path().join("union");
    dataset::write_parquet(&d, &union).unwrap();
    let parts = write_shards(&d, 2, root.path(), |i| i == 0);
    let (pair, _) =
        pipeline::train_pair(&union, &common::small_params(), Default::default(), None).unwrap();
    let model = root.path().join("m.kpm");
    common::bundle_of(&pair).save(&model).unwrap();
    let eval = |data: DataDirs, max_rows_in_memory: u64, out: &str| {
        let job = pipeline::EvalJob {
            data,
            model: Some(model.clone()),
            snapshot: false,
            split: Some(Split::Fraction(0.5)),
            params: common::small_params(),
            context: Default::default(),
            columns: None,
            missing: learn::columns::MissingColumns::Error,
            out: root.path().join(out),
            max_rows_in_memory,
            max_memory: None,
        };
        let report = pipeline::run_eval(&job).unwrap();
        let predictions = std::fs::read(root.path().join(out).join("predictions.csv")).unwrap();
        (report, predictions)
    };
    let whole = eval(DataDirs::one(&union), u64::MAX, "whole");
    assert_eq!(
        eval(DataDirs::new(parts).unwrap(), u64::MAX, "parts"),
        whole
    );
    // Target by target (every directory Parquet, more rows than --max-rows-in-memory).
    let pq = write_shards(&d, 2, &root.path().join("pq"), |_| false);
    let streamed_whole = eval(DataDirs::one(&union), 1, "streamed-whole");
    assert_eq!(
        eval(DataDirs::new(pq).unwrap(), 1, "streamed-parts"),
        streamed_whole
    );
}

#[test]
fn directories_with_other_columns_or_a_shared_target_are_refused() {
    let d = common::synthetic(4, 4, 3);
    let root = tempfile::tempdir().unwrap();
    let parts = write_shards(&d, 2, root.path(), |_| false);
    // Shard 1 without the memory column.
    let mut fewer = shard_of(&d, 1, 2);
    fewer.metrics.truncate(1);
    for s in &mut fewer.series {
        s.columns.truncate(1);
    }
    let fewer_dir = root.path().join("fewer");
    dataset::write(&fewer, &fewer_dir).unwrap();
    let bad = DataDirs::new(vec![parts[0].clone(), fewer_dir]).unwrap();
    let until = Some(Split::Fraction(0.75));
    for e in [
        bad.metric_names().unwrap_err().to_string(),
        bad.read(false).unwrap_err().to_string(),
        streamed::train(&bad, &common::small_params(), until, 1)
            .unwrap_err()
            .to_string(),
        pipeline::train_bundle(&pipeline::TrainJob::new(
            bad.clone(),
            common::small_params(),
        ))
        .unwrap_err()
        .to_string(),
    ] {
        assert!(
            e.contains("metric columns differ") && e.contains("memory_working_set_bytes"),
            "{e}"
        );
    }
    // The same columns in another order.
    let mut swapped = shard_of(&d, 1, 2);
    swapped.metrics.reverse();
    for s in &mut swapped.series {
        s.columns.reverse();
    }
    let swapped_dir = root.path().join("swapped");
    dataset::write_parquet(&swapped, &swapped_dir).unwrap();
    let e = DataDirs::new(vec![parts[0].clone(), swapped_dir])
        .unwrap()
        .read(false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("another order"), "{e}");
    // A target in two directories.
    let again = root.path().join("again");
    dataset::write_parquet(&d, &again).unwrap();
    let both = DataDirs::new(vec![parts[0].clone(), again]).unwrap();
    for e in [
        both.read(false).unwrap_err().to_string(),
        streamed::train(&both, &common::small_params(), until, 1)
            .unwrap_err()
            .to_string(),
    ] {
        assert!(e.contains("has rows in") && e.contains("again"), "{e}");
    }
    // No directory, or one twice.
    assert!(DataDirs::new(Vec::new()).is_err());
    let e = DataDirs::new(vec![parts[0].clone(), parts[0].clone()])
        .unwrap_err()
        .to_string();
    assert!(e.contains("twice"), "{e}");
}
