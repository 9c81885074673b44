//! A target's window on the query-step grid: a fixed ring of rows, allocated once, and the target's
//! trailing baseline of the rows that have left it (O(1) per metric, `learn::trailing`).

use learn::dataset::ColumnKind;
use learn::trailing::{BaselineSpec, TargetBaseline};

/// What a model with baseline features needs to keep each target's baseline online.
#[derive(Debug, Clone)]
pub(super) struct BaselineFeed {
    pub(super) spec: BaselineSpec,
    /// Kind of each column (counters enter the baseline as rates).
    pub(super) kinds: Vec<ColumnKind>,
    /// Model seconds per step index (rows enter the baseline at `step index × step_secs`).
    pub(super) step_secs: i64,
}

/// One target's samples on the query-step grid: a ring of `window_points` slots, each holding one step's
/// row of `n_cols` values. Allocated once per target; later cycles only overwrite slots.
#[derive(Debug)]
pub(super) struct Buffer {
    /// Step index (`round(t / query step)`) each slot holds; [`EMPTY`] = none.
    steps: Vec<i64>,
    /// `slots × n_cols` values, row-major; NaN = missing.
    values: Vec<f64>,
    n_cols: usize,
    /// The trailing baseline of the rows that left the ring (models with baseline features).
    baseline: Option<TargetBaseline>,
}

/// Marks an unused [`Buffer`] slot.
const EMPTY: i64 = i64::MIN;

impl Buffer {
    pub(super) fn new(slots: usize, n_cols: usize, feed: Option<&BaselineFeed>) -> Self {
        Buffer {
            steps: vec![EMPTY; slots],
            values: vec![f64::NAN; slots * n_cols],
            n_cols,
            baseline: feed.map(|_| TargetBaseline::new(n_cols)),
        }
    }

    /// The trailing baseline of the rows that have left the ring.
    pub(super) fn baseline(&self) -> Option<&TargetBaseline> {
        self.baseline.as_ref()
    }

    /// Sets column `col` of step `k`. A step more than one window older than the one in its slot is dropped
    /// (it would be trimmed at the end of the cycle anyway).
    pub(super) fn upsert(&mut self, k: i64, col: usize, v: f64) {
        let slot = k.rem_euclid(self.steps.len() as i64) as usize;
        let row = &mut self.values[slot * self.n_cols..(slot + 1) * self.n_cols];
        if self.steps[slot] != k {
            if self.steps[slot] != EMPTY && self.steps[slot] > k {
                return;
            }
            self.steps[slot] = k;
            row.fill(f64::NAN);
        }
        row[col] = v;
    }

    /// Empties the slots of steps before `k_min`, oldest first, each row taken into the baseline (when
    /// there is one) as it leaves; true when a step is left.
    pub(super) fn trim_before(&mut self, k_min: i64, feed: Option<&BaselineFeed>) -> bool {
        if let (Some(feed), Some(baseline)) = (feed, self.baseline.as_mut()) {
            let mut leaving: Vec<(i64, usize)> = self
                .steps
                .iter()
                .enumerate()
                .filter(|(_, k)| **k != EMPTY && **k < k_min)
                .map(|(slot, k)| (*k, slot))
                .collect();
            leaving.sort_unstable();
            for (k, slot) in leaving {
                let row = &self.values[slot * self.n_cols..(slot + 1) * self.n_cols];
                baseline.push_row(&feed.spec, &feed.kinds, k * feed.step_secs, |c| row[c]);
            }
        }
        let mut any = false;
        for k in &mut self.steps {
            if *k != EMPTY && *k < k_min {
                *k = EMPTY;
            }
            any |= *k != EMPTY;
        }
        any
    }

    pub(super) fn row(&self, slot: usize) -> &[f64] {
        &self.values[slot * self.n_cols..(slot + 1) * self.n_cols]
    }

    /// Occupied slots, oldest step first.
    pub(super) fn ordered(&self) -> Vec<(i64, usize)> {
        let mut held: Vec<(i64, usize)> = self
            .steps
            .iter()
            .enumerate()
            .filter(|(_, k)| **k != EMPTY)
            .map(|(slot, k)| (*k, slot))
            .collect();
        held.sort_unstable();
        held
    }

    /// Newest step with at least one value.
    pub(super) fn newest_with_data(&self) -> Option<i64> {
        self.steps
            .iter()
            .enumerate()
            .filter(|(slot, k)| **k != EMPTY && self.row(*slot).iter().any(|v| !v.is_nan()))
            .map(|(_, k)| *k)
            .max()
    }

    /// Steps with at least one value.
    pub(super) fn filled(&self) -> usize {
        self.steps
            .iter()
            .enumerate()
            .filter(|(slot, k)| **k != EMPTY && self.row(*slot).iter().any(|v| !v.is_nan()))
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_keeps_the_newest_window_in_time_order() {
        let mut b = Buffer::new(3, 2, None);
        for k in 10..15 {
            b.upsert(k, 0, k as f64);
        }
        b.upsert(13, 1, 0.5);
        // A step more than a window older than its slot's is dropped.
        b.upsert(11, 1, 9.0);
        assert_eq!(
            b.ordered().iter().map(|&(k, _)| k).collect::<Vec<_>>(),
            vec![12, 13, 14]
        );
        let (_, slot) = b.ordered()[1];
        assert_eq!(b.row(slot), &[13.0, 0.5]);
        assert_eq!(b.newest_with_data(), Some(14));
        assert_eq!(b.filled(), 3);
        assert!(b.trim_before(14, None));
        assert_eq!(b.ordered().len(), 1);
        assert!(!b.trim_before(15, None));
    }

    #[test]
    fn the_baseline_of_rows_leaving_the_ring_is_the_batch_baseline() {
        // The same rows through watch's ring (a cycle trims what left the window, then upserts the new
        // step) and through `learn`'s batch path (every sample up to the window's start).
        let feed = BaselineFeed {
            spec: BaselineSpec {
                secs: 600,
                min_history_secs: 60,
                band: 3.0,
            },
            kinds: vec![ColumnKind::Gauge, ColumnKind::Counter],
            step_secs: 15,
        };
        let n = 400usize;
        let gauge: Vec<f64> = (0..n)
            .map(|k| {
                if k % 37 == 5 {
                    f64::NAN
                } else {
                    (k % 7) as f64 + if k % 90 == 0 { 50.0 } else { 0.0 }
                }
            })
            .collect();
        let counter: Vec<f64> = (0..n).map(|k| ((k * 3) % 500) as f64).collect();
        let slots = 12;
        let mut ring = Buffer::new(slots, 2, Some(&feed));
        for k in 0..n {
            ring.trim_before(k as i64 - (slots as i64 - 1), Some(&feed));
            ring.upsert(k as i64, 0, gauge[k]);
            ring.upsert(k as i64, 1, counter[k]);
        }
        let timestamps: Vec<i64> = (0..n as i64).map(|k| k * 15).collect();
        let columns = [&gauge[..], &counter[..]];
        let mut batch = TargetBaseline::new(2);
        let last = n as i64 - 1;
        batch.advance(
            &feed.spec,
            &feed.kinds,
            &timestamps,
            0,
            (last - slots as i64) * 15,
            |m| columns[m],
        );
        assert!(batch.metric(0).warm(&feed.spec));
        assert_eq!(ring.baseline(), Some(&batch));
    }

    #[test]
    fn a_step_of_nan_only_holds_a_row_but_no_data() {
        let mut b = Buffer::new(4, 1, None);
        b.upsert(1, 0, 1.0);
        b.upsert(2, 0, f64::NAN);
        assert_eq!(b.ordered().len(), 2);
        assert_eq!(b.newest_with_data(), Some(1));
        assert_eq!(b.filled(), 1);
    }
}
