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

#[test]
fn duplicate_headers_negative_times_and_bad_issue_types_are_errors() {
    let e = error_of("timestamp,target,cpu,cpu\n0,ns/a,1,2\n", GOOD_EVENTS);
    assert!(
        e.contains("metrics.csv:1") && e.contains("column `cpu` appears twice"),
        "{e}"
    );
    let e = error_of(
        GOOD_METRICS,
        "target,start,end,issue_type,end\nns/a,1,2,pod_failure,3\n",
    );
    assert!(
        e.contains("events.csv:1") && e.contains("`end` appears twice"),
        "{e}"
    );
    let e = error_of("timestamp,target,cpu\n-15,ns/a,1\n", GOOD_EVENTS);
    assert!(
        e.contains("metrics.csv:2") && e.contains("`-15` is before 1970"),
        "{e}"
    );
    let e = error_of(
        GOOD_METRICS,
        "target,start,end,issue_type\nns/a,1969-12-31T23:59:00Z,20,pod_failure\n",
    );
    assert!(
        e.contains("events.csv:2") && e.contains("before 1970"),
        "{e}"
    );
    for bad in ["Pod Failure", "normal", "pod-failure"] {
        let e = error_of(
            GOOD_METRICS,
            &format!("target,start,end,issue_type\nns/a,10,20,{bad}\n"),
        );
        assert!(
            e.contains("events.csv:2") && e.contains("is not an issue type"),
            "{bad}: {e}"
        );
    }
    // A label the product does not know, but well formed, is a type of its own.
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        GOOD_METRICS,
        "target,start,end,issue_type\nns/a,10,20,disk_full\n",
    );
    assert_eq!(
        Dataset::read(dir.path()).unwrap().issue_types(),
        vec!["disk_full".to_string()]
    );
}

#[test]
fn errors_quote_at_most_a_bounded_part_of_a_huge_value() {
    let huge = "9".repeat(1 << 20) + "x";
    let e = error_of(
        &format!("timestamp,target,cpu\n0,ns/a,{huge}\n"),
        GOOD_EVENTS,
    );
    assert!(
        e.contains("is not a number") && e.len() < 1000,
        "{} bytes",
        e.len()
    );
    let e = error_of(
        GOOD_METRICS,
        &format!(
            "target,start,end,issue_type\nns/a,10,20,{}\n",
            "a-".repeat(1 << 19)
        ),
    );
    assert!(
        e.contains("is not an issue type") && e.len() < 1000,
        "{} bytes",
        e.len()
    );
    let e = error_of(
        GOOD_METRICS,
        &format!(
            "target,start,end,issue_type\n{},10,20,pod_failure\n",
            "t".repeat(1 << 20)
        ),
    );
    assert!(
        e.contains("has no rows") && e.len() < 1000,
        "{} bytes",
        e.len()
    );
}

mod random_bytes {
    use super::*;
    use proptest::prelude::*;

    fn read(metrics: &[u8], events: &[u8]) -> Result<Dataset, learn::LearnError> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("metrics.csv"), metrics).unwrap();
        std::fs::write(dir.path().join("events.csv"), events).unwrap();
        Dataset::read(dir.path())
    }

    /// Bytes biased towards what CSV parsing branches on.
    fn csvish() -> impl Strategy<Value = Vec<u8>> {
        let byte = prop_oneof![
            Just(b','),
            Just(b'\n'),
            Just(b'\r'),
            Just(b'"'),
            Just(b'-'),
            Just(b'.'),
            Just(b'e'),
            Just(b'T'),
            Just(b':'),
            b'0'..=b'9',
            any::<u8>(),
        ];
        proptest::collection::vec(byte, 0..300)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]
        /// Any bytes at all: a dataset or an error, never a panic; an error is one line naming the file.
        #[test]
        fn any_bytes_give_a_dataset_or_a_one_line_error(metrics in csvish(), events in csvish()) {
            if let Err(e) = read(&metrics, &events) {
                let text = e.to_string();
                prop_assert!(text.contains(".csv") && !text.contains('\n'), "{}", text);
            }
        }

        /// A valid dataset with random bytes spliced in.
        #[test]
        fn corrupted_valid_files_never_panic(at in 0usize..200, junk in csvish(), in_events in any::<bool>()) {
            let (mut m, mut e) = (GOOD_METRICS.as_bytes().to_vec(), GOOD_EVENTS.as_bytes().to_vec());
            let target = if in_events { &mut e } else { &mut m };
            let at = at.min(target.len());
            target.splice(at..at, junk);
            let _ = read(&m, &e);
        }

        /// Valid headers, random rows.
        #[test]
        fn random_rows_under_a_valid_header_never_panic(rows in csvish(), events in csvish()) {
            let mut m = b"timestamp,target,cpu,restarts_total\n".to_vec();
            m.extend(rows);
            let mut e = b"target,start,end,issue_type\n".to_vec();
            e.extend(events);
            let _ = read(&m, &e);
        }
    }
}
