//! Time folds: where the validation part starts, fold bounds, and joining the folds' scores.

use super::*;

/// Joins two grids of the same dataset series by series (`a`'s points first).
pub(super) fn concat_grids(mut a: Grid, b: Grid) -> Grid {
    for (pa, pb) in a.points.iter_mut().zip(b.points) {
        pa.extend(pb);
    }
    a
}

/// Joins the validation grids of the folds (in time order) and their raw scores, series by series.
pub(super) fn concat_scored(grids: Vec<Grid>, raws: Vec<RawScores>) -> (Grid, RawScores) {
    let mut grids = grids.into_iter();
    let mut raws = raws.into_iter();
    let (Some(mut grid), Some(mut raw)) = (grids.next(), raws.next()) else {
        return (
            Grid {
                points: Vec::new(),
                spec: WindowSpec::default(),
                policy: OngoingPolicy::Exclude,
            },
            Vec::new(),
        );
    };
    for (g, r) in grids.zip(raws) {
        grid = concat_grids(grid, g);
        for (ra, rb) in raw.iter_mut().zip(r) {
            ra.extend(rb);
        }
    }
    (grid, raw)
}

/// The fold (in `0..folds`) that holds out series `s` when folds are groups of targets: every
/// `folds`-th target in name order, so the folds do not depend on the order of the dataset's series.
pub(super) fn target_fold(dataset: &Dataset, folds: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..dataset.series.len()).collect();
    order.sort_by(|&a, &b| dataset.series[a].target.cmp(&dataset.series[b].target));
    let mut fold = vec![0; order.len()];
    for (rank, &s) in order.iter().enumerate() {
        fold[s] = rank % folds;
    }
    fold
}

/// A grid keeping only the points of the series `keep` says yes to (the others' point lists emptied).
pub(super) fn keep_series(mut grid: Grid, keep: impl Fn(usize) -> bool) -> Grid {
    for (s, points) in grid.points.iter_mut().enumerate() {
        if !keep(s) {
            points.clear();
        }
    }
    grid
}

/// Boundaries of `folds` contiguous validation blocks of `[from, until]` (`folds + 1` increasing times,
/// the first `from`, the last `until`): each block holds about the same number of incident starts, and
/// starts a window + horizon before its first incident so that the incident's precursor windows are in
/// it. With fewer than two incidents per fold, the blocks hold equal shares of the evaluation points.
pub(super) fn fold_bounds(
    dataset: &Dataset,
    w: &WindowSpec,
    policy: OngoingPolicy,
    from: i64,
    until: i64,
    folds: usize,
) -> Vec<i64> {
    let gap = w.window_secs + w.horizon_secs;
    let starts = incident_starts(dataset, w, from, until);
    let mut bounds = vec![from];
    if starts.len() >= 2 * folds {
        for k in 1..folds {
            bounds.push(starts[k * starts.len() / folds] - gap);
        }
    } else {
        let times = point_times(dataset, w, policy, from, until);
        for k in 1..folds {
            let t = times
                .get(k * times.len() / folds)
                .copied()
                .unwrap_or(from + (until - from) * k as i64 / folds as i64);
            bounds.push(t);
        }
    }
    bounds.push(until);
    // Strictly increasing, each block at least one gap long.
    for k in 1..bounds.len() {
        bounds[k] = bounds[k].max(bounds[k - 1] + gap).min(until);
    }
    bounds.dedup();
    bounds
}

/// Sorted times of the evaluation points in `[from, until)`.
pub(super) fn point_times(
    dataset: &Dataset,
    w: &WindowSpec,
    policy: OngoingPolicy,
    from: i64,
    until: i64,
) -> Vec<i64> {
    let mut times: Vec<i64> = Grid::build(dataset, *w, policy, from, until, true)
        .points
        .iter()
        .flatten()
        .map(|p| p.t)
        .collect();
    times.sort_unstable();
    times
}

/// Sorted start times of the incidents whose precursor windows and horizon lie inside `(from, until]`.
pub(super) fn incident_starts(
    dataset: &Dataset,
    w: &WindowSpec,
    from: i64,
    until: i64,
) -> Vec<i64> {
    let gap = w.window_secs + w.horizon_secs;
    let mut starts: Vec<i64> = dataset
        .events
        .iter()
        .map(|e| e.start)
        .filter(|&s| s > from + gap && s <= until - w.horizon_secs)
        .collect();
    starts.sort_unstable();
    starts
}

/// Where the validation part starts: so that it holds the last `fraction` of the training incidents
/// (at least one), or, with fewer than 5 incidents, the last `fraction` of the evaluation points. Sample
/// times, not wall-clock span, decide: data with long gaps still gets a validation part with data in it.
pub(super) fn validation_cut(
    dataset: &Dataset,
    w: &WindowSpec,
    policy: OngoingPolicy,
    from: i64,
    until: i64,
    fraction: f64,
) -> i64 {
    cut_at(
        &incident_starts(dataset, w, from, until),
        || point_times(dataset, w, policy, from, until),
        w,
        from,
        until,
        fraction,
    )
}

/// [`validation_cut`] given the incident starts ([`incident_starts`]) and, asked for only with fewer
/// than 5 of them, the sorted evaluation point times ([`point_times`]).
pub(super) fn cut_at(
    starts: &[i64],
    times: impl FnOnce() -> Vec<i64>,
    w: &WindowSpec,
    from: i64,
    until: i64,
    fraction: f64,
) -> i64 {
    let gap = w.window_secs + w.horizon_secs;
    if starts.len() < 5 {
        let times = times();
        return times
            .get(((times.len() as f64) * (1.0 - fraction)) as usize)
            .copied()
            .unwrap_or(until - ((until - from) as f64 * fraction) as i64);
    }
    let k = ((starts.len() as f64 * (1.0 - fraction)).floor() as usize).min(starts.len() - 1);
    // Start the validation part a horizon before that incident so its precursor windows are in it.
    (starts[k] - w.horizon_secs - w.window_secs).max(from + gap)
}
