//! Our Parquet datasets read by pyarrow (what pandas, polars and DuckDB users have), and a dataset
//! written by pyarrow the way pandas does read by us. pyarrow is installed, pinned, by
//! `scripts/install-test-deps` into `.venv/pyarrow/`; the test fails when it is missing.

use std::path::{Path, PathBuf};
use std::process::Command;

use learn::dataset::{self, Dataset};

/// The version `pyarrow/requirements.txt` pins.
const VERSION: &str = "21.0.0";

fn python() -> PathBuf {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/pyarrow/bin/python");
    let out = Command::new(&python)
        .args(["-c", "import pyarrow; print(pyarrow.__version__)"])
        .output();
    match out {
        Ok(o) if String::from_utf8_lossy(&o.stdout).trim() == VERSION => python,
        Ok(o) => panic!(
            "{} has no pyarrow {VERSION} ({}{}): run scripts/install-test-deps",
            python.display(),
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => panic!(
            "pyarrow {VERSION} is not installed at {} ({e}): run scripts/install-test-deps",
            python.display()
        ),
    }
}

fn run_python(script: &str, dir: &Path) -> serde_json::Value {
    let out = Command::new(python())
        .arg("-c")
        .arg(script)
        .arg(dir)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("python prints JSON")
}

const READ: &str = r#"
import json, sys
import pyarrow.parquet as pq
import pyarrow.compute as pc
d = sys.argv[1]
f = pq.ParquetFile(d + "/metrics.parquet")
t = f.read()
groups = []
for i in range(f.num_row_groups):
    g = f.read_row_group(i, columns=["target"])
    groups.append(sorted(set(g.column("target").to_pylist())))
e = pq.read_table(d + "/events.parquet")
print(json.dumps({
    "rows": t.num_rows,
    "schema": {n: str(t.schema.field(n).type) for n in t.schema.names},
    "nullable": {n: t.schema.field(n).nullable for n in t.schema.names},
    "groups": groups,
    "sums": {n: pc.sum(t.column(n)).as_py() for n in t.schema.names[2:]},
    "nulls": {n: t.column(n).null_count for n in t.schema.names[2:]},
    "first": [t.column("timestamp")[0].as_py(), t.column("target")[0].as_py()],
    "events": e.to_pylist(),
}))
"#;

#[test]
fn pyarrow_reads_our_parquet_dataset_as_we_do() {
    let dir = tempfile::tempdir().unwrap();
    let config = sim::SimConfig {
        seed: 11,
        duration: "2h".into(),
        clusters: 2,
        ..sim::SimConfig::default()
    };
    let outputs = sim::Outputs {
        dataset: Some(dir.path().to_path_buf()),
        openmetrics: None,
        format: dataset::Format::Parquet,
    };
    sim::run(&config.check().unwrap(), &outputs, &mut |_, _| {}).unwrap();
    let ours = Dataset::read(dir.path()).unwrap();
    let py = run_python(READ, dir.path());

    let rows: usize = ours.series.iter().map(|s| s.timestamps.len()).sum();
    assert_eq!(py["rows"], rows);
    assert_eq!(py["schema"]["timestamp"], "int64");
    assert_eq!(py["schema"]["target"], "string");
    assert_eq!(py["nullable"]["timestamp"], false);
    for m in &ours.metrics {
        assert_eq!(py["schema"][m], "double", "{m}");
        assert_eq!(py["nullable"][m], true, "{m}");
    }
    // One target per row group.
    let groups = py["groups"].as_array().unwrap();
    assert_eq!(groups.len(), ours.series.len());
    assert!(groups.iter().all(|g| g.as_array().unwrap().len() == 1));
    // Every metric's sum and missing count (NaN here, null there).
    for (k, m) in ours.metrics.iter().enumerate() {
        let values = ours.series.iter().flat_map(|s| s.columns[k].iter());
        let nulls = values.clone().filter(|v| v.is_nan()).count();
        let sum: f64 = values.filter(|v| !v.is_nan()).sum();
        assert_eq!(py["nulls"][m], nulls, "{m}");
        let theirs = py["sums"][m].as_f64().unwrap_or(0.0);
        assert!(
            (theirs - sum).abs() <= 1e-9 * sum.abs().max(1.0),
            "{m}: {theirs} vs {sum}"
        );
    }
    // The file's first row is the first sample of one of our targets (row groups go cluster by
    // cluster, so the file is grouped by target, not sorted across clusters).
    let first = ours
        .series
        .iter()
        .find(|s| py["first"][1] == s.target.as_str())
        .expect("pyarrow's first target is one of ours");
    assert_eq!(py["first"][0], first.timestamps[0]);
    let events = py["events"].as_array().unwrap();
    assert_eq!(events.len(), ours.events.len());
    assert!(!events.is_empty(), "the test needs incidents");
    let mut theirs: Vec<(String, i64, i64, String)> = events
        .iter()
        .map(|e| {
            (
                e["target"].as_str().unwrap().to_string(),
                e["start"].as_i64().unwrap(),
                e["end"].as_i64().unwrap(),
                e["issue_type"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    theirs.sort();
    let mine: Vec<(String, i64, i64, String)> = ours
        .events
        .iter()
        .map(|e| (e.target.clone(), e.start, e.end, e.issue_type.clone()))
        .collect();
    assert_eq!(theirs, mine);
}

const WRITE_LIKE_PANDAS: &str = r#"
import json, sys
import pyarrow as pa
import pyarrow.parquet as pq
d = sys.argv[1]
ts = pa.array([0, 15_000_000_000, 0, 15_000_000_000], type=pa.timestamp("ns", tz="UTC"))
target = pa.array(["ns/b", "ns/b", "ns/a", "ns/a"]).dictionary_encode()
cpu = pa.array([0.25, None, 1.5, float("nan")], type=pa.float32())
restarts = pa.array([0, 1, 0, 0], type=pa.int64())
pq.write_table(pa.table({"timestamp": ts, "target": target, "cpu": cpu, "restarts_total": restarts}),
               d + "/metrics.parquet", row_group_size=3)
pq.write_table(pa.table({"target": ["ns/a"], "start": pa.array([5], type=pa.int64()),
                         "end": pa.array([14], type=pa.int64()), "issue_type": ["pod_failure"]}),
               d + "/events.parquet")
print("{}")
"#;

#[test]
fn we_read_a_dataset_pyarrow_wrote_with_pandas_types() {
    let dir = tempfile::tempdir().unwrap();
    run_python(WRITE_LIKE_PANDAS, dir.path());
    let d = Dataset::read(dir.path()).unwrap();
    assert_eq!(d.metrics, vec!["cpu", "restarts_total"]);
    let targets: Vec<&str> = d.series.iter().map(|s| s.target.as_str()).collect();
    assert_eq!(targets, vec!["ns/a", "ns/b"]);
    assert_eq!(d.series[1].timestamps, vec![0, 15]);
    assert_eq!(d.series[1].columns[0][0], 0.25);
    assert!(d.series[1].columns[0][1].is_nan() && d.series[0].columns[0][1].is_nan());
    assert_eq!(d.series[1].columns[1], vec![0.0, 1.0]);
    assert_eq!(d.events.len(), 1);
    assert_eq!(d.events[0].detail, "");
}
