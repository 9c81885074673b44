//! Mitigated periods for training: the remediation agent's applied actions (`mitigated.csv`, appended
//! by `watch --remediate ... --mitigated FILE` in the `events.csv` format: `target,start,end,issue_type`,
//! unix seconds or RFC 3339; `issue_type` holds the action kind, e.g. `raise_memory`).
//!
//! After an action, the incident the model predicted may not happen *because of the action*: the
//! windows around it would train as negatives although, left alone, they were positives — retraining
//! would learn to stop predicting the very incidents the agent prevents. So a window of the target is
//! **neither positive nor negative** (left out of every grid: training, validation, evaluation) when
//! its horizon reaches into the period or it ends inside it: it ends at `t` with
//! `start − horizon <= t <= end`. The agent writes `start` = the action's time and `end` = the action's
//! time + the longer of the policy's `verify_after` and the model's horizon (the span in which the
//! predicted incident would have started, or the action is being verified). Records of targets the
//! dataset does not have are counted and ignored.

use std::path::Path;

use crate::dataset::{Dataset, Incident};
use crate::error::LearnError;
use crate::window::{WindowSpec, eval_points};

/// What applying mitigated periods to a dataset did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Applied {
    /// Mitigated periods given.
    pub records: usize,
    /// Of those, on a target of the dataset.
    pub on_known_targets: usize,
    /// Windows of the dataset left out (training, validation), counted at the model's window spec over
    /// the whole dataset.
    pub windows_dropped: usize,
}

/// Reads `mitigated.csv`: the columns `target`, `start`, `end`, `issue_type` (the action kind; others
/// ignored), one applied action a row; `end` must not be before `start`.
pub fn read(path: &Path) -> Result<Vec<Incident>, LearnError> {
    crate::false_alarms::read_periods(path, "mitigated")
}

/// Whether a window ending at `t` is left out because of `periods` (one target's, see the module
/// documentation), with the model's horizon in seconds.
pub fn covers(periods: &[Incident], t: i64, horizon_secs: i64) -> bool {
    periods
        .iter()
        .any(|m| m.start.saturating_sub(horizon_secs) <= t && t <= m.end)
}

/// Sets `periods` (those of targets the dataset has, sorted by target and start) as `dataset`'s
/// mitigated periods; every grid built on it from now on leaves their windows out. Counts what that drops at `spec` (a resolved spec: its
/// step is not 0).
pub fn apply(dataset: &mut Dataset, mut periods: Vec<Incident>, spec: &WindowSpec) -> Applied {
    let known = |t: &str| {
        dataset
            .series
            .binary_search_by(|s| s.target.as_str().cmp(t))
            .is_ok()
    };
    let records = periods.len();
    known_sorted(&mut periods, &known);
    let on_known_targets = periods.len();
    dataset.mitigated = periods;
    Applied {
        records,
        on_known_targets,
        windows_dropped: dropped(dataset, spec),
    }
}

/// Keeps the periods of the targets `known` says yes to, sorted by (target, start, end): what
/// [`apply`] sets as a dataset's mitigated periods.
pub(crate) fn known_sorted(periods: &mut Vec<Incident>, known: &dyn Fn(&str) -> bool) {
    periods.retain(|m| known(&m.target));
    periods.sort_by(|a, b| (&a.target, a.start, a.end).cmp(&(&b.target, b.start, b.end)));
}

/// Windows of `dataset` (over its whole span) its mitigated periods leave out at `spec`.
pub fn dropped(dataset: &Dataset, spec: &WindowSpec) -> usize {
    if spec.step_secs <= 0 {
        return 0;
    }
    dataset
        .series
        .iter()
        .map(|s| {
            let periods = dataset.mitigated_of(&s.target);
            if periods.is_empty() {
                return 0;
            }
            eval_points(s, spec, i64::MIN / 4, i64::MAX / 4)
                .into_iter()
                .filter(|&i| covers(periods, s.timestamps[i], spec.horizon_secs))
                .count()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::{IncidentSource, Series};
    use crate::labels::OngoingPolicy;
    use crate::scoring::Grid;

    fn period(target: &str, start: i64, end: i64) -> Incident {
        Incident {
            target: target.into(),
            start,
            end,
            issue_type: "raise_memory".into(),
            detail: "mitigated".into(),
            source: IncidentSource::Dataset,
        }
    }

    fn dataset() -> Dataset {
        // Two targets, one sample a minute for 4 h.
        let series = |t: &str| Series {
            target: t.into(),
            timestamps: (0..240).map(|i| i * 60).collect(),
            columns: vec![vec![1.0; 240]],
        };
        Dataset {
            metrics: vec!["cpu".into()],
            series: vec![series("shop/a"), series("shop/b")],
            events: Vec::new(),
            mitigated: Vec::new(),
        }
    }

    fn spec() -> WindowSpec {
        WindowSpec {
            window_secs: 600,
            step_secs: 60,
            horizon_secs: 1_800,
        }
    }

    #[test]
    fn windows_reaching_into_a_period_are_left_out_of_the_grid_and_nothing_else() {
        let before = Grid::build(&dataset(), spec(), OngoingPolicy::Exclude, 0, 14_400, true);
        let mut d = dataset();
        let applied = apply(
            &mut d,
            vec![
                period("shop/a", 7_200, 9_000),
                // A target this dataset does not have.
                period("other/x", 0, 100),
            ],
            &spec(),
        );
        let after = Grid::build(&d, spec(), OngoingPolicy::Exclude, 0, 14_400, true);
        // shop/b untouched.
        assert_eq!(after.points[1], before.points[1]);
        // shop/a: exactly the windows ending in [7200 - 1800, 9000] are gone.
        let gone: Vec<i64> = before.points[0]
            .iter()
            .map(|p| p.t)
            .filter(|t| !after.points[0].iter().any(|p| p.t == *t))
            .collect();
        assert_eq!(gone, (5_400..=9_000).step_by(60).collect::<Vec<i64>>());
        assert!(after.points[0].iter().all(|p| p.t < 5_400 || p.t > 9_000));
        assert_eq!(
            applied,
            Applied {
                records: 2,
                on_known_targets: 1,
                windows_dropped: gone.len()
            }
        );
        // No period: the same grid as before.
        let mut d = dataset();
        assert_eq!(apply(&mut d, Vec::new(), &spec()).windows_dropped, 0);
        assert_eq!(
            Grid::build(&d, spec(), OngoingPolicy::Exclude, 0, 14_400, true),
            before
        );
    }

    #[test]
    fn the_file_is_read_in_the_events_format() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("mitigated.csv");
        std::fs::write(
            &path,
            "target,start,end,issue_type\nshop/a,1000,2800,raise_memory\nshop/b,2026-12-07T10:00:00Z,2026-12-07T10:30:00Z,scale_out\n",
        )
        .expect("write");
        let periods = read(&path).expect("read");
        assert_eq!(periods.len(), 2);
        assert_eq!((periods[0].start, periods[0].end), (1000, 2800));
        assert_eq!(periods[0].detail, "mitigated");
        assert_eq!(periods[1].issue_type, "scale_out");
        std::fs::write(&path, "target,start,end,issue_type\nshop/a,2800,1000,x\n").expect("write");
        let e = read(&path).expect_err("end before start").to_string();
        assert!(
            e.contains("mitigated.csv:2:") && e.contains("before start"),
            "{e}"
        );
    }
}
