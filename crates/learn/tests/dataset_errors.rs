//! Bad input gives a clear error naming the file, line and value.

use std::path::Path;

use learn::dataset::Dataset;

fn write(dir: &Path, metrics: &str, events: &str) {
    std::fs::write(dir.join("metrics.csv"), metrics).unwrap();
    std::fs::write(dir.join("events.csv"), events).unwrap();
}

fn error_of(metrics: &str, events: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), metrics, events);
    Dataset::read(dir.path()).unwrap_err().to_string()
}

const GOOD_METRICS: &str =
    "timestamp,target,cpu,restarts_total\n0,ns/a,1.0,0\n15,ns/a,,1\n0,ns/b,2.0,0\n";
const GOOD_EVENTS: &str = "target,start,end,issue_type\nns/a,10,20,pod_failure\n";

#[test]
fn reads_a_valid_dataset_with_rfc3339_missing_values_and_extra_event_columns() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "timestamp,target,cpu\n1970-01-01T00:00:15Z,ns/a,\n0,ns/a,1.5\n",
        "target,start,end,issue_type,detail,note\nns/a,1970-01-01T00:00:10Z,20,pod_failure,oom_kill,whatever\n",
    );
    let d = Dataset::read(dir.path()).unwrap();
    assert_eq!(d.series[0].timestamps, vec![0, 15]);
    assert_eq!(d.series[0].columns[0][0], 1.5);
    assert!(d.series[0].columns[0][1].is_nan());
    assert_eq!(d.events[0].start, 10);
    assert_eq!(d.events[0].detail(), Some("oom_kill"));
}

#[test]
fn missing_columns_are_named() {
    let e = error_of("time,target,cpu\n0,ns/a,1\n", GOOD_EVENTS);
    assert!(
        e.contains("metrics.csv") && e.contains("missing column `timestamp`"),
        "{e}"
    );
    let e = error_of(
        GOOD_METRICS,
        "target,start,issue_type\nns/a,10,pod_failure\n",
    );
    assert!(
        e.contains("events.csv") && e.contains("missing column `end`"),
        "{e}"
    );
}

#[test]
fn unparsable_numbers_and_timestamps_name_file_line_and_value() {
    let e = error_of("timestamp,target,cpu\n0,ns/a,1\n15,ns/a,abc\n", GOOD_EVENTS);
    assert!(
        e.contains("metrics.csv:3") && e.contains("`abc` is not a number") && e.contains("`cpu`"),
        "{e}"
    );
    let e = error_of(
        "timestamp,target,cpu\nnoon,ns/a,1\n",
        "target,start,end,issue_type\n",
    );
    assert!(
        e.contains("metrics.csv:2") && e.contains("`noon` is not a timestamp"),
        "{e}"
    );
    let e = error_of(
        GOOD_METRICS,
        "target,start,end,issue_type\nns/a,soon,20,pod_failure\n",
    );
    assert!(e.contains("events.csv:2") && e.contains("`soon`"), "{e}");
}

#[test]
fn events_for_unknown_targets_and_end_before_start_are_errors() {
    let e = error_of(
        GOOD_METRICS,
        "target,start,end,issue_type\nns/zzz,10,20,pod_failure\n",
    );
    assert!(
        e.contains("events.csv:2") && e.contains("`ns/zzz` has no rows"),
        "{e}"
    );
    let e = error_of(
        GOOD_METRICS,
        "target,start,end,issue_type\nns/a,30,20,pod_failure\n",
    );
    assert!(
        e.contains("events.csv:2") && e.contains("end 20 is before start 30"),
        "{e}"
    );
}

#[test]
fn empty_files_are_errors() {
    let e = error_of("", GOOD_EVENTS);
    assert!(e.contains("metrics.csv") && e.contains("empty"), "{e}");
    let e = error_of("timestamp,target,cpu\n", GOOD_EVENTS);
    assert!(
        e.contains("metrics.csv") && e.contains("no data rows"),
        "{e}"
    );
    let e = error_of(GOOD_METRICS, "");
    assert!(e.contains("events.csv") && e.contains("empty"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let e = Dataset::read(dir.path()).unwrap_err().to_string();
    assert!(e.contains("metrics.csv"), "{e}");
}

#[test]
fn duplicate_timestamps_and_ragged_rows_are_errors() {
    let e = error_of("timestamp,target,cpu\n0,ns/a,1\n0,ns/a,2\n", GOOD_EVENTS);
    assert!(e.contains("two rows at timestamp 0"), "{e}");
    let e = error_of("timestamp,target,cpu\n0,ns/a,1,7\n", GOOD_EVENTS);
    assert!(e.contains("metrics.csv:2"), "{e}");
}
