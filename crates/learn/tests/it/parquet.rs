//! Parquet datasets: the same data as CSV, both ways; the simulator's Parquet output equals its CSV
//! output; the format is detected by which files exist; bad values are named by file, row group, row
//! and column.

use std::path::Path;

use learn::dataset::{self, Dataset, Format};

fn simulate(dir: &Path, format: Format, level: sim::Level, clusters: u32) -> sim::Summary {
    let config = sim::SimConfig {
        seed: 7,
        preset: "online-boutique".into(),
        duration: "3h".into(),
        clusters,
        level,
        ..sim::SimConfig::default()
    };
    let valid = config.check().unwrap();
    let outputs = sim::Outputs {
        dataset: Some(dir.to_path_buf()),
        openmetrics: None,
        format,
    };
    sim::run(&valid, &outputs, &mut |_, _| {}).unwrap()
}

fn csv_text(d: &Dataset) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    dataset::write(d, dir.path()).unwrap();
    (
        std::fs::read_to_string(dir.path().join("metrics.csv")).unwrap(),
        std::fs::read_to_string(dir.path().join("events.csv")).unwrap(),
    )
}

#[test]
fn csv_to_parquet_to_csv_round_trip_is_identical() {
    let dir = tempfile::tempdir().unwrap();
    let csv_dir = dir.path().join("csv");
    simulate(&csv_dir, Format::Csv, sim::Level::Deployment, 2);
    let from_csv = Dataset::read(&csv_dir).unwrap();
    assert!(!from_csv.events.is_empty(), "the test needs incidents");
    assert!(
        from_csv
            .series
            .iter()
            .any(|s| s.columns.iter().any(|c| c.iter().any(|v| v.is_nan()))),
        "the test needs missing values"
    );

    let pq_dir = dir.path().join("parquet");
    dataset::write_parquet(&from_csv, &pq_dir).unwrap();
    assert!(!pq_dir.join("metrics.csv").exists());
    let from_parquet = Dataset::read(&pq_dir).unwrap();

    assert_eq!(from_parquet.fingerprint(), from_csv.fingerprint());
    assert_eq!(from_parquet.events, from_csv.events);
    assert_eq!(csv_text(&from_parquet), csv_text(&from_csv));
    assert_eq!(
        Dataset::read_metric_names(&pq_dir).unwrap(),
        from_csv.metrics
    );
}

#[test]
fn a_csv_in_time_chunks_converts_target_by_target_to_the_same_parquet_files() {
    let dir = tempfile::tempdir().unwrap();
    let csv_dir = dir.path().join("csv");
    simulate(&csv_dir, Format::Csv, sim::Level::Deployment, 2);
    let whole = Dataset::read(&csv_dir).unwrap();
    // The rows as `collect` appends them: 30-minute chunks, each holding every target's rows of the chunk
    // (so a target's rows come in many runs, interleaved with the others').
    let text = std::fs::read_to_string(csv_dir.join("metrics.csv")).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let mut rows: Vec<(i64, &str, &str)> = lines
        .map(|l| {
            let mut f = l.splitn(3, ',');
            let ts: i64 = f.next().unwrap().parse().unwrap();
            (ts, f.next().unwrap(), l)
        })
        .collect();
    rows.sort_by_key(|&(ts, target, _)| (ts / 1800, target, ts));
    assert!(rows.windows(2).filter(|w| w[0].1 != w[1].1).count() > 2 * whole.series.len());
    let chunked = dir.path().join("collected.csv");
    let mut out = format!("{header}\n");
    for (_, _, l) in &rows {
        out.push_str(l);
        out.push('\n');
    }
    std::fs::write(&chunked, out).unwrap();

    let streamed = dir.path().join("streamed");
    let n = dataset::csv_to_parquet(&chunked, &whole.events, &streamed).unwrap();
    assert_eq!(n, rows.len() as u64);
    let in_memory = dir.path().join("in-memory");
    dataset::write_parquet(&whole, &in_memory).unwrap();
    for name in ["metrics.parquet", "events.parquet"] {
        assert!(
            std::fs::read(streamed.join(name)).unwrap()
                == std::fs::read(in_memory.join(name)).unwrap(),
            "{name} differs"
        );
    }
    assert!(!streamed.join(".metrics.parquet.partial").exists());
}

#[test]
fn the_simulators_parquet_dataset_is_its_csv_dataset_one_row_group_per_target() {
    for (level, clusters) in [(sim::Level::Deployment, 2), (sim::Level::Cluster, 3)] {
        let dir = tempfile::tempdir().unwrap();
        let (csv_dir, pq_dir) = (dir.path().join("csv"), dir.path().join("pq"));
        let a = simulate(&csv_dir, Format::Csv, level, clusters);
        let b = simulate(&pq_dir, Format::Parquet, level, clusters);
        assert_eq!(
            (a.rows, a.steps, a.pod_samples),
            (b.rows, b.steps, b.pod_samples)
        );
        assert_eq!(a.labels, b.labels);
        assert!(!pq_dir.join("metrics.csv").exists() && pq_dir.join("events.parquet").exists());
        let (from_csv, from_pq) = (
            Dataset::read(&csv_dir).unwrap(),
            Dataset::read(&pq_dir).unwrap(),
        );
        assert_eq!(from_pq.metrics, from_csv.metrics, "{level:?}");
        assert_eq!(from_pq.events, from_csv.events, "{level:?}");
        assert_eq!(from_pq.fingerprint(), from_csv.fingerprint(), "{level:?}");

        // One target per row group, each target in one row group.
        let mut reader = columnar::MetricsReader::open(&pq_dir.join("metrics.parquet")).unwrap();
        assert_eq!(reader.num_rows(), a.rows);
        let mut groups = Vec::new();
        while let Some(run) = reader.next_rows().unwrap() {
            assert_eq!(run.first_row, 0);
            groups.push((run.row_group, run.target));
        }
        assert_eq!(groups.len(), reader.num_row_groups());
        assert_eq!(groups.len(), from_csv.series.len(), "{level:?}");
        // The simulator writing the Parquet output again over it gives the same bytes.
        let first = std::fs::read(pq_dir.join("metrics.parquet")).unwrap();
        simulate(&pq_dir, Format::Parquet, level, clusters);
        assert_eq!(
            std::fs::read(pq_dir.join("metrics.parquet")).unwrap(),
            first
        );
    }
}

#[test]
fn the_format_is_detected_and_two_or_no_formats_are_errors_naming_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let e = Dataset::read(dir.path()).unwrap_err().to_string();
    assert!(e.contains("no metrics.csv or metrics.parquet"), "{e}");
    simulate(dir.path(), Format::Parquet, sim::Level::Deployment, 1);
    assert_eq!(Format::detect(dir.path()).unwrap(), Format::Parquet);
    std::fs::write(
        dir.path().join("metrics.csv"),
        "timestamp,target,x\n0,a,1\n",
    )
    .unwrap();
    let e = Dataset::read(dir.path()).unwrap_err().to_string();
    assert!(e.contains("both metrics.csv and metrics.parquet"), "{e}");
    // The simulator sweeps the other format's files: a directory holds one dataset.
    simulate(dir.path(), Format::Csv, sim::Level::Deployment, 1);
    assert!(!dir.path().join("metrics.parquet").exists());
    assert_eq!(Format::detect(dir.path()).unwrap(), Format::Csv);
    // Events may come in the other format (e.g. labels written by hand as CSV).
    let d = Dataset::read(dir.path()).unwrap();
    std::fs::remove_file(dir.path().join("events.csv")).unwrap();
    columnar::write_events(
        &dir.path().join("events.parquet"),
        d.events
            .iter()
            .map(|e| (e.target.as_str(), e.start, e.end, e.issue_type.as_str(), "")),
    )
    .unwrap();
    assert_eq!(
        Dataset::read(dir.path()).unwrap().events.len(),
        d.events.len()
    );
}

fn tiny() -> Dataset {
    Dataset {
        mitigated: Vec::new(),
        metrics: vec!["cpu".into()],
        series: vec![learn::dataset::Series {
            target: "ns/a".into(),
            timestamps: vec![0, 15, 30],
            columns: vec![vec![1.0, f64::NAN, 3.0]],
        }],
        events: vec![learn::Incident {
            target: "ns/a".into(),
            start: 10,
            end: 20,
            issue_type: "pod_failure".into(),
            detail: String::new(),
            source: learn::IncidentSource::Dataset,
        }],
    }
}

#[test]
fn bad_parquet_events_and_rows_are_named_by_file_row_group_row_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = tiny();
    d.events[0].target = "ns/ghost".into();
    dataset::write_parquet(&d, dir.path()).unwrap();
    let e = Dataset::read(dir.path()).unwrap_err().to_string();
    assert!(
        e.contains("events.parquet: row group 0, row 0: column `target`: `ns/ghost` has no rows in metrics.parquet"),
        "{e}"
    );

    let mut d = tiny();
    d.events[0].issue_type = "Bad Type!".into();
    dataset::write_parquet(&d, dir.path()).unwrap();
    let e = Dataset::read(dir.path()).unwrap_err().to_string();
    assert!(
        e.contains("events.parquet: row group 0, row 0: column `issue_type`"),
        "{e}"
    );

    // Two rows of a target at one time, in two row groups.
    let mut d = tiny();
    d.series.push(d.series[0].clone());
    dataset::write_parquet(&d, dir.path()).unwrap();
    let e = Dataset::read(dir.path()).unwrap_err().to_string();
    assert!(
        e.contains("metrics.parquet") && e.contains("`ns/a` has two rows at timestamp 0"),
        "{e}"
    );

    // Not a Parquet file at all.
    std::fs::write(dir.path().join("metrics.parquet"), "timestamp,target\n").unwrap();
    let e = Dataset::read(dir.path()).unwrap_err().to_string();
    assert!(
        e.contains("metrics.parquet: not a readable Parquet file"),
        "{e}"
    );
}
