//! Reading target by target: the same series as reading the whole dataset, from Parquet and from a
//! CSV grouped by target; a file whose targets are interleaved is an explicit error.

use learn::dataset::{self, Dataset, Format};
use learn::stream::TargetStream;

fn simulate(dir: &std::path::Path, format: Format) {
    let config = sim::SimConfig {
        seed: 5,
        duration: "2h".into(),
        clusters: 2,
        ..sim::SimConfig::default()
    };
    let outputs = sim::Outputs {
        dataset: Some(dir.to_path_buf()),
        openmetrics: None,
        format,
    };
    sim::run(&config.check().unwrap(), &outputs, &mut |_, _| {}).unwrap();
}

fn streamed(dir: &std::path::Path) -> Dataset {
    let mut stream = TargetStream::open(dir).unwrap();
    let metrics = stream.metrics().to_vec();
    let mut series = Vec::new();
    while let Some(s) = stream.next_series().unwrap() {
        series.push(s);
    }
    series.sort_by(|a, b| a.target.cmp(&b.target));
    let events = Dataset::read(dir).unwrap().events;
    Dataset {
        mitigated: Vec::new(),
        metrics,
        series,
        events,
    }
}

#[test]
fn streaming_parquet_and_grouped_csv_gives_the_whole_datasets_series() {
    let dir = tempfile::tempdir().unwrap();
    let pq = dir.path().join("pq");
    simulate(&pq, Format::Parquet);
    let whole = Dataset::read(&pq).unwrap();
    assert_eq!(streamed(&pq).fingerprint(), whole.fingerprint());

    // `dataset::write` writes target by target: a grouped CSV streams too.
    let csv = dir.path().join("csv");
    dataset::write(&whole, &csv).unwrap();
    assert_eq!(streamed(&csv).fingerprint(), whole.fingerprint());
}

#[test]
fn interleaved_targets_are_an_explicit_error_naming_the_place() {
    let dir = tempfile::tempdir().unwrap();
    simulate(dir.path(), Format::Csv);
    let mut stream = TargetStream::open(dir.path()).unwrap();
    let e = loop {
        match stream.next_series() {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("the simulator's CSV is sorted by time: targets interleave"),
            Err(e) => break e.to_string(),
        }
    };
    assert!(
        e.contains("metrics.csv: line ") && e.contains("appears again after"),
        "{e}"
    );
}
