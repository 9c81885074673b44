//! Operator feedback for training: the UI's "false alarm" verdicts (`false_alarms.csv`, written by
//! the `ui` crate's feedback store in the `events.csv` format: `target,start,end,issue_type`, unix
//! seconds or RFC 3339).
//!
//! A false alarm says: the model alarmed on this target over this period, and no incident followed.
//! Training takes the operator's word over the dataset's labels: every incident label of that target
//! that overlaps the period (`start <= alarm end` and `end >= alarm start`, any issue type) is dropped
//! before the windows are labelled, so the windows of that period train as **negatives** (normal) —
//! they are excluded from the positives, not removed from training. A window after the period stays
//! positive when a later, unflagged incident follows it within the horizon. False alarms of targets the
//! dataset does not have are counted and ignored (feedback covers every target `watch` saw).

use std::path::Path;

use crate::dataset::{Dataset, Incident, IncidentSource, line_of, open_csv, parse_time, require};
use crate::error::LearnError;

/// What applying false alarms to a dataset did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Applied {
    /// False alarms given.
    pub false_alarms: usize,
    /// Of those, on a target of the dataset.
    pub on_known_targets: usize,
    /// Incident labels dropped (their windows now train as negatives).
    pub dropped_labels: usize,
}

/// Reads `false_alarms.csv`: the columns `target`, `start`, `end`, `issue_type` (others ignored), one
/// false alarm a row; `end` must not be before `start`.
pub fn read(path: &Path) -> Result<Vec<Incident>, LearnError> {
    read_periods(path, "false_alarm")
}

/// Reads a file of periods in the `events.csv` format (`target`, `start`, `end`, `issue_type`; others
/// ignored), each with `detail` (false alarms here, mitigated periods in [`crate::mitigated`]).
pub(crate) fn read_periods(path: &Path, detail: &str) -> Result<Vec<Incident>, LearnError> {
    let (mut reader, header) = open_csv(path)?;
    let cols = [
        require(path, &header, "target")?,
        require(path, &header, "start")?,
        require(path, &header, "end")?,
        require(path, &header, "issue_type")?,
    ];
    let mut alarms = Vec::new();
    let mut record = csv::ByteRecord::new();
    let mut row = 1u64;
    loop {
        row += 1;
        let more = reader
            .read_byte_record(&mut record)
            .map_err(|e| crate::dataset::csv_err(path, row, e.to_string()))?;
        if !more {
            break;
        }
        let line = line_of(&record, row);
        let text = |c: usize, name: &str| {
            std::str::from_utf8(record[c].trim_ascii())
                .map(str::to_owned)
                .map_err(|_| {
                    crate::dataset::csv_err(
                        path,
                        line,
                        format!("column `{name}`: value is not UTF-8"),
                    )
                })
        };
        let target = text(cols[0], "target")?;
        if target.is_empty() {
            return Err(crate::dataset::csv_err(
                path,
                line,
                "column `target`: empty target",
            ));
        }
        let start = parse_time(path, line, "start", &record[cols[1]])?;
        let end = parse_time(path, line, "end", &record[cols[2]])?;
        if end < start {
            return Err(crate::dataset::csv_err(
                path,
                line,
                format!("end {end} is before start {start}"),
            ));
        }
        let issue_type = text(cols[3], "issue_type")?;
        alarms.push(Incident {
            target,
            start,
            end,
            issue_type,
            detail: detail.into(),
            source: IncidentSource::Dataset,
        });
    }
    Ok(alarms)
}

/// Drops every incident label of `dataset` that a false alarm on the same target overlaps (see the
/// module documentation); the dataset's events stay sorted.
pub fn apply(dataset: &mut Dataset, alarms: &[Incident]) -> Applied {
    let series = &dataset.series;
    let known = |t: &str| {
        series
            .binary_search_by(|s| s.target.as_str().cmp(t))
            .is_ok()
    };
    apply_to_events(&mut dataset.events, &known, alarms)
}

/// [`apply`] on a dataset's events alone, its targets given by `known` (training target by target).
pub(crate) fn apply_to_events(
    events: &mut Vec<Incident>,
    known: &dyn Fn(&str) -> bool,
    alarms: &[Incident],
) -> Applied {
    let on_known_targets = alarms.iter().filter(|a| known(&a.target)).count();
    let before = events.len();
    events.retain(|e| {
        !alarms
            .iter()
            .any(|a| a.target == e.target && e.start <= a.end && e.end >= a.start)
    });
    Applied {
        false_alarms: alarms.len(),
        on_known_targets,
        dropped_labels: before - events.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::Series;

    fn incident(target: &str, start: i64, end: i64) -> Incident {
        Incident {
            target: target.into(),
            start,
            end,
            issue_type: "pod_failure".into(),
            detail: String::new(),
            source: IncidentSource::Dataset,
        }
    }

    fn dataset() -> Dataset {
        let series = |t: &str| Series {
            target: t.into(),
            timestamps: vec![0, 15],
            columns: vec![vec![1.0, 1.0]],
        };
        Dataset {
            mitigated: Vec::new(),
            metrics: vec!["cpu".into()],
            series: vec![series("shop/a"), series("shop/b")],
            events: vec![
                incident("shop/a", 1_000, 1_100),
                incident("shop/a", 5_000, 5_100),
                incident("shop/b", 1_000, 1_100),
            ],
        }
    }

    #[test]
    fn overlapping_labels_of_the_same_target_are_dropped_and_nothing_else() {
        let mut d = dataset();
        let applied = apply(
            &mut d,
            &[
                // Overlaps shop/a's first incident by its last second only.
                incident("shop/a", 1_100, 1_400),
                // A period with no label: nothing to drop, still counted.
                incident("shop/b", 3_000, 3_300),
                // A target this dataset does not have.
                incident("other/x", 1_000, 1_100),
            ],
        );
        assert_eq!(
            applied,
            Applied {
                false_alarms: 3,
                on_known_targets: 2,
                dropped_labels: 1
            }
        );
        assert_eq!(
            d.events,
            vec![
                incident("shop/a", 5_000, 5_100),
                incident("shop/b", 1_000, 1_100)
            ]
        );
        // Just outside: nothing dropped.
        let mut d = dataset();
        let applied = apply(&mut d, &[incident("shop/a", 1_101, 4_999)]);
        assert_eq!(applied.dropped_labels, 0);
        assert_eq!(d.events.len(), 3);
    }

    #[test]
    fn the_feedback_file_is_read_and_bad_rows_name_their_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("false_alarms.csv");
        std::fs::write(
            &path,
            "target,start,end,issue_type\n<script>x</script>/a,1000,1200,pod_failure\nshop/b,2026-12-07T10:00:00Z,2026-12-07T10:05:00Z,network_issue\n",
        )
        .expect("write");
        let alarms = read(&path).expect("read");
        assert_eq!(alarms.len(), 2);
        assert_eq!(alarms[0].target, "<script>x</script>/a");
        assert_eq!((alarms[0].start, alarms[0].end), (1000, 1200));
        assert_eq!(alarms[1].end - alarms[1].start, 300);
        assert_eq!(alarms[1].issue_type, "network_issue");

        std::fs::write(&path, "target,start,end,issue_type\nshop/a,1200,1000,x\n").expect("write");
        let e = read(&path).expect_err("end before start").to_string();
        assert!(
            e.contains("false_alarms.csv:2:") && e.contains("before start"),
            "{e}"
        );
        std::fs::write(&path, "target,start,issue_type\nshop/a,1200,x\n").expect("write");
        let e = read(&path).expect_err("no end column").to_string();
        assert!(e.contains("end"), "{e}");
        let e = read(&dir.path().join("missing.csv"))
            .expect_err("missing file")
            .to_string();
        assert!(e.contains("missing.csv"), "{e}");
    }
}
