//! Training on a dataset larger than memory: the metrics file is read target by target
//! ([`TargetStream`]), the training sample's features extracted as the targets go by, and only a bounded
//! subset of targets kept whole.
//!
//! Three passes over the metrics file, each holding a few targets' history at a time
//! ([`CHUNK_ROWS`] rows); the last two read the targets in name order, as a dataset in memory holds
//! them (a file in another order is read by row groups: one target per row group, as `simulate` and
//! `collect` write it):
//! 1. the targets, their row counts, row groups and time range, the sample step;
//! 2. the normal and positive windows of the fit part and of the whole training period, counted (how
//!    much to thin), and the dataset's fingerprint;
//! 3. the training rows — every `stride`-th normal and positive window weighing its stride (every
//!    positive one below `max_positive_rows`): exactly the rows the in-memory training extracts — of
//!    the fit part and of the whole period; and
//!    the series of the *validation targets*, kept whole up to the end of the training period.
//!
//! Calibration, the alarm threshold (and per-target rule), the validation figures and the anomaly
//! scorer's threshold then come from the validation targets: a seeded subset of the targets holding at
//! most `max_rows` rows. False alarms per target-day and the share of incidents detected are rates over
//! targets, which a random subset of targets estimates without bias; every window of a validation target
//! is scored, so alarm episodes stay whole. When every target fits in `max_rows`, the subset is all of
//! them and the model is byte for byte the in-memory one (tested).
//!
//! Memory: `max_rows` rows of raw data (8 bytes per metric and timestamp each) + one chunk + the
//! training sample (for the fit part and the whole period: at most about `max_positive_rows` positive
//! and `max_normal_rows` normal windows, 4 bytes per feature each) + 8 bytes per positive window (the
//! lead times, per type) — flat in the size of the data.

use std::collections::HashSet;

use super::folds::{self, cut_at, incident_starts};
use super::*;
use crate::data_dirs::DataDirs;
use crate::dataset::{Fingerprint, Fnv, Format, Incident, Series};
use crate::eval::Split;
use crate::stream::{MergedStream, TargetStream};

/// What the first pass over the metrics files finds: its targets (sorted), their row counts, the time
/// range, sample gaps (for the step), and in which order to read each directory's row groups so that
/// the targets come in name order.
pub(crate) struct Scan {
    /// The metric names and every event of the known targets (no series).
    pub base: Dataset,
    /// The targets, sorted.
    pub names: Vec<String>,
    targets: Vec<Target>,
    /// Rows of the files.
    pub total_rows: u64,
    /// First and last timestamp, unix seconds.
    pub first: i64,
    pub last: i64,
    /// Up to 2,000 sample intervals per target, seconds.
    pub gaps: Vec<i64>,
    /// Per directory, its Parquet row groups in target name order (`None`: the file's order is that).
    pub order: Vec<Option<Vec<usize>>>,
}

/// Pass 1 over the metrics files of `dirs` (see [`Scan`]); `what` names the job in errors.
pub(crate) fn scan(
    dirs: &DataDirs,
    progress: bool,
    label: &'static str,
    what: &str,
) -> Result<Scan, LearnError> {
    let bar = crate::progress::Rows::new(progress, label, None);
    let mut metrics: Option<Vec<String>> = None;
    let mut targets: Vec<Target> = Vec::new();
    let mut gaps: Vec<i64> = Vec::new();
    let (mut first, mut last) = (i64::MAX, i64::MIN);
    let mut order = Vec::with_capacity(dirs.dirs().len());
    for (k, dir) in dirs.dirs().iter().enumerate() {
        let format = Format::detect(dir)?;
        let path = dir.join(format.metrics_file());
        let mut stream = TargetStream::open(dir)?;
        // Pass 1 needs targets, row counts and times: a Parquet file's metric columns are not read.
        stream.keys_only();
        match &metrics {
            None => metrics = Some(stream.metrics().to_vec()),
            Some(m) => {
                crate::data_dirs::check_same_metrics(&dirs.dirs()[0], m, dir, stream.metrics())?
            }
        }
        let mut seen_groups = HashSet::new();
        let mut shared_group = None;
        let begin = targets.len();
        while let Some((s, groups)) = stream.next_series_with_groups()? {
            bar.inc(s.timestamps.len() as u64);
            gaps.extend(s.timestamps.windows(2).map(|w| w[1] - w[0]).take(2000));
            if let (Some(&a), Some(&b)) = (s.timestamps.first(), s.timestamps.last()) {
                first = first.min(a);
                last = last.max(b);
            }
            for &g in &groups {
                if !seen_groups.insert(g) {
                    shared_group.get_or_insert(g);
                }
            }
            targets.push(Target {
                name: s.target,
                rows: s.timestamps.len(),
                groups,
                dir: k,
            });
        }
        drop(stream);
        if targets.len() == begin {
            return Err(LearnError::EmptyFile {
                path,
                message: "no data rows".into(),
            });
        }
        // Later passes read the targets in name order, as a dataset in memory holds them: the file's
        // order when it is that, else its row groups reordered (one target per row group, as our
        // writers do).
        let mine = &mut targets[begin..];
        let in_order = mine.windows(2).all(|w| w[0].name < w[1].name);
        mine.sort_by(|a, b| a.name.cmp(&b.name));
        order.push(if in_order {
            None
        } else if format == Format::Parquet && shared_group.is_none() {
            Some(mine.iter().flat_map(|t| t.groups.iter().copied()).collect())
        } else {
            return Err(LearnError::Dataset(format!(
                "{}: the targets are not in name order and {}: {what} target by target reads them \
                 in name order; write the file sorted by target (as `simulate` and `collect` do), or \
                 read it whole with a larger --max-rows-in-memory",
                path.display(),
                match shared_group {
                    Some(g) => format!("row group {g} holds several of them"),
                    None => "a CSV file cannot be read in another order".to_string(),
                }
            )));
        });
    }
    bar.finish();
    targets.sort_by(|a, b| a.name.cmp(&b.name));
    if let Some(w) = targets.windows(2).find(|w| w[0].name == w[1].name) {
        return Err(crate::data_dirs::in_two(
            &w[0].name,
            &dirs.dirs()[w[0].dir.min(w[1].dir)],
            &dirs.dirs()[w[0].dir.max(w[1].dir)],
        ));
    }
    let total_rows: u64 = targets.iter().map(|t| t.rows as u64).sum();
    let names: Vec<String> = targets.iter().map(|t| t.name.clone()).collect();
    let known: HashSet<&str> = names.iter().map(String::as_str).collect();
    let events = dirs.read_events(&|t| known.contains(t))?;
    drop(known);
    let base = Dataset {
        mitigated: Vec::new(),
        metrics: metrics.unwrap_or_default(),
        series: Vec::new(),
        events,
    };

    Ok(Scan {
        base,
        names,
        targets,
        total_rows,
        first,
        last,
        gaps,
        order,
    })
}

/// Rows read before a chunk of targets is processed (a chunk holds whole targets: at least one).
pub const CHUNK_ROWS: usize = 400_000;

/// The training sample extracted target by target, with what the model records of the whole data.
pub struct Sample {
    /// Where the validation part starts, unix seconds.
    pub(super) cut: i64,
    /// Rows and positive windows' leads per type, of the fit part and of the whole period.
    fit: Option<(Rows, Vec<Vec<f64>>)>,
    full: Option<(Rows, Vec<Vec<f64>>)>,
    /// The whole dataset's fingerprint ([`Dataset::fingerprint`]).
    pub(super) fingerprint: String,
    /// Every target, sorted.
    pub(super) targets: Vec<String>,
}

impl Sample {
    pub(super) fn take_fit(&mut self) -> Result<(Rows, Vec<Vec<f64>>), LearnError> {
        self.fit
            .take()
            .ok_or_else(|| LearnError::Dataset("the fit part's sample was used already".into()))
    }

    pub(super) fn take_full(&mut self) -> Result<(Rows, Vec<Vec<f64>>), LearnError> {
        self.full
            .take()
            .ok_or_else(|| LearnError::Dataset("the training sample was used already".into()))
    }
}

/// A pair trained target by target, and what it read.
#[derive(Debug)]
pub struct Streamed {
    /// The trained pair.
    pub pair: ModelPair,
    /// Rows of the metrics file.
    pub rows: u64,
    /// Targets of the dataset.
    pub targets: usize,
    /// Targets kept whole for validation.
    pub validation_targets: usize,
    /// Their rows (up to the end of the training period).
    pub validation_rows: u64,
    /// What the feedback did ([`Feedback`]; `None` where none was given).
    pub applied: Applied,
}

/// Operator feedback applied to the data before training, as `train --false-alarms` and `--mitigated`
/// apply it in memory ([`crate::false_alarms::apply`], then [`crate::mitigated::apply`]).
#[derive(Debug, Clone, Default)]
pub struct Feedback {
    /// False alarms: the incident labels they overlap are dropped.
    pub false_alarms: Option<Vec<Incident>>,
    /// Mitigated periods: the windows around them are left out.
    pub mitigated: Option<Vec<Incident>>,
}

/// What [`Feedback`] did to the whole dataset (the card's figures).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Applied {
    /// The false alarms' effect.
    pub false_alarms: Option<crate::false_alarms::Applied>,
    /// The mitigated periods' effect.
    pub mitigated: Option<crate::mitigated::Applied>,
}

/// One target as the first pass saw it.
struct Target {
    name: String,
    rows: usize,
    /// Its Parquet row groups.
    groups: Vec<usize>,
    /// Its directory (index into the [`DataDirs`]).
    dir: usize,
}

/// Trains a supervised pair on the dataset in `dir` up to `until` (the end of the data without one),
/// target by target, holding at most `max_rows` rows of raw data whole (see the module docs).
///
/// `params.window.step_secs` 0 is the data's median sample interval, as in memory. One validation
/// fold only (`validation_folds` 1), window features only, no peer columns: the callers check.
pub fn train(
    data: impl Into<DataDirs>,
    params: &TrainParams,
    until: Option<Split>,
    max_rows: u64,
) -> Result<Streamed, LearnError> {
    train_in_chunks(data, params, until, max_rows, CHUNK_ROWS)
}

/// [`train`], processing targets in chunks of about `chunk_rows` rows (whole targets, at least one; the
/// model does not depend on it).
pub fn train_in_chunks(
    data: impl Into<DataDirs>,
    params: &TrainParams,
    until: Option<Split>,
    max_rows: u64,
    chunk_rows: usize,
) -> Result<Streamed, LearnError> {
    train_with_feedback(
        data,
        params,
        until,
        max_rows,
        chunk_rows,
        &Feedback::default(),
    )
}

/// [`train_in_chunks`] on the data with `feedback` applied (as in memory).
pub fn train_with_feedback(
    data: impl Into<DataDirs>,
    params: &TrainParams,
    until: Option<Split>,
    max_rows: u64,
    chunk_rows: usize,
    feedback: &Feedback,
) -> Result<Streamed, LearnError> {
    let dirs = data.into();
    let plan = plan(&dirs, params, until, max_rows, chunk_rows, feedback)?;
    let mut part = Part::new(plan.types.len());
    extract(&dirs, &plan, chunk_rows, &|_| true, |chunk| {
        part.add(chunk);
        Ok(())
    })?;
    finish(plan, part)
}

/// What passes 1 and 2 find: everything the training rows depend on beyond a target's own history
/// (the same in every shard of a sharded extraction).
pub(crate) struct Plan {
    /// The parameters, the step resolved.
    pub params: TrainParams,
    /// The metric names and every event of the known targets (no series).
    pub base: Dataset,
    /// The targets, sorted.
    pub names: Vec<String>,
    order: Vec<Option<Vec<usize>>>,
    /// Rows of the metrics files.
    pub total_rows: u64,
    /// The training period and where its validation part starts, unix seconds.
    pub from: i64,
    pub until: i64,
    pub cut: i64,
    /// The whole dataset's fingerprint.
    pub fingerprint: String,
    /// Thinning of the fit part and of the whole period.
    pub fit_strides: Strides,
    pub full_strides: Strides,
    /// The targets kept whole for validation (indices into `names`).
    pub keep: HashSet<usize>,
    spec: FeatureSpec,
    /// The issue types.
    pub types: Vec<String>,
    /// What the feedback did.
    pub applied: Applied,
}

impl Plan {
    /// The plan the shards of a sharded extraction recorded (what [`finish`] needs of it).
    pub(crate) fn from_shards(
        params: TrainParams,
        base: Dataset,
        common: &super::shards::Common,
    ) -> Self {
        Self {
            spec: feature_spec(&base, &params),
            params,
            base,
            names: common.targets.clone(),
            order: Vec::new(),
            total_rows: common.total_rows,
            from: common.from,
            until: common.until,
            cut: common.cut,
            fingerprint: common.fingerprint.clone(),
            fit_strides: common.fit_strides,
            full_strides: common.full_strides,
            keep: HashSet::new(),
            types: common.types.clone(),
            applied: common.applied,
        }
    }
}

/// Passes 1 and 2 (see the module docs).
pub(crate) fn plan(
    dir: &DataDirs,
    params: &TrainParams,
    until: Option<Split>,
    max_rows: u64,
    chunk_rows: usize,
    feedback: &Feedback,
) -> Result<Plan, LearnError> {
    if params.unsupervised || params.validation_folds != 1 || params.mode != FeatureMode::Window {
        return Err(LearnError::InvalidOption {
            name: "max-rows-in-memory",
            reason: "training target by target supports the supervised window model with one \
                     validation fold"
                .into(),
        });
    }
    // The window is checked once the step is known (0 = the data's).
    check_supervised(&TrainParams {
        window: crate::window::WindowSpec {
            step_secs: params.window.step_secs.max(1),
            ..params.window
        },
        ..params.clone()
    })?;

    // Pass 1: targets, time range, sample step; in which order to read the targets by name.
    let Scan {
        mut base,
        names,
        targets,
        total_rows,
        first,
        last,
        mut gaps,
        order,
    } = scan(dir, params.progress, "targets (pass 1/3)", "training")?;
    let mut params = params.clone();
    if params.window.step_secs <= 0 {
        params.window.step_secs = if gaps.is_empty() {
            15
        } else {
            let mid = gaps.len() / 2;
            *gaps.select_nth_unstable(mid).1
        }
        .max(1);
    }
    drop(gaps);
    params.window.check()?;
    // Feedback, as in memory: false alarms drop labels, then mitigated periods leave windows out.
    let mut applied = Applied::default();
    {
        let known = |t: &str| names.binary_search_by(|n| n.as_str().cmp(t)).is_ok();
        if let Some(alarms) = &feedback.false_alarms {
            applied.false_alarms = Some(crate::false_alarms::apply_to_events(
                &mut base.events,
                &known,
                alarms,
            ));
        }
        if let Some(periods) = &feedback.mitigated {
            let mut periods = periods.clone();
            let records = periods.len();
            crate::mitigated::known_sorted(&mut periods, &known);
            applied.mitigated = Some(crate::mitigated::Applied {
                records,
                on_known_targets: periods.len(),
                // Counted in pass 2.
                windows_dropped: 0,
            });
            base.mitigated = periods;
        }
    }
    let from = first;
    let until = match until {
        Some(s) => s.time_between(first, last)?,
        None => last,
    };
    let (w, policy) = (params.window, params.policy);
    let spec = feature_spec(&base, &params);
    let types = base.issue_types();
    let starts = incident_starts(&base, &w, from, until);
    let cut = cut_at(
        &starts,
        || {
            let mut times = Vec::new();
            let read = for_chunks(dir, &order, &base, &names, chunk_rows, |chunk, _| {
                let grid = Grid::build(&chunk, w, policy, from, until, true);
                times.extend(grid.points.iter().flatten().map(|p| p.t));
                Ok(())
            });
            // A read error here shows again, named, in the passes below.
            if read.is_err() {
                times.clear();
            }
            times.sort_unstable();
            times
        },
        &w,
        from,
        until,
        params.validation_fraction,
    );

    // Pass 2: how many normal and positive windows, to thin them as in memory; the fingerprint.
    let bar = crate::progress::Rows::new(params.progress, "windows (pass 2/3)", Some(total_rows));
    let (mut fit_counts, mut full_counts) = (LabelCounts::default(), LabelCounts::default());
    let mut fingerprint = Fingerprint::new(&base.metrics);
    for_chunks(dir, &order, &base, &names, chunk_rows, |chunk, _| {
        bar.inc(chunk.series.iter().map(|s| s.timestamps.len() as u64).sum());
        for s in &chunk.series {
            fingerprint.series(s);
        }
        if let Some(m) = &mut applied.mitigated {
            m.windows_dropped += crate::mitigated::dropped(&chunk, &w);
        }
        fit_counts.add(LabelCounts::of(&Grid::build(
            &chunk, w, policy, from, cut, true,
        )));
        full_counts.add(LabelCounts::of(&Grid::build(
            &chunk, w, policy, from, until, true,
        )));
        Ok(())
    })?;
    bar.finish();
    fingerprint.mitigated(&base.mitigated);
    let fingerprint = fingerprint.finish(&base.events);
    let keep = validation_targets(&targets, params.seed, max_rows);
    Ok(Plan {
        fit_strides: fit_counts.strides(&params),
        full_strides: full_counts.strides(&params),
        params,
        base,
        names,
        order,
        total_rows,
        from,
        until,
        cut,
        fingerprint,
        keep,
        spec,
        types,
        applied,
    })
}

/// What pass 3 extracts from one chunk of targets: per target it owns (index into the plan's
/// `names`), its training rows of the fit part and of the whole period; the lead times of the
/// positive windows of those targets, per type; the validation targets among them, up to the end of
/// the training period.
pub(crate) struct Chunk {
    pub rows: Vec<(usize, Rows, Rows)>,
    pub fit_leads: Vec<Vec<f64>>,
    pub full_leads: Vec<Vec<f64>>,
    pub validation: Vec<Series>,
}

/// Pass 3 over the targets `owns` says yes to (the others are read, and skipped): `sink` gets each
/// chunk's rows, in target name order.
pub(crate) fn extract(
    dir: &DataDirs,
    plan: &Plan,
    chunk_rows: usize,
    owns: &dyn Fn(&str) -> bool,
    mut sink: impl FnMut(Chunk) -> Result<(), LearnError>,
) -> Result<(), LearnError> {
    let (w, policy) = (plan.params.window, plan.params.policy);
    let (from, cut, until) = (plan.from, plan.cut, plan.until);
    let bar = crate::progress::Rows::new(
        plan.params.progress,
        "features (pass 3/3)",
        Some(plan.total_rows),
    );
    for_chunks(
        dir,
        &plan.order,
        &plan.base,
        &plan.names,
        chunk_rows,
        |chunk, offset| {
            bar.inc(chunk.series.iter().map(|s| s.timestamps.len() as u64).sum());
            let mine: Vec<bool> = chunk.series.iter().map(|s| owns(&s.target)).collect();
            let grid = |end| {
                folds::keep_series(Grid::build(&chunk, w, policy, from, end, true), |s| mine[s])
            };
            let extract = |g: &Grid, strides| {
                (
                    strided_rows_by_series(&chunk, &plan.spec, g, &plan.types, strides, offset),
                    leads_by_type(&chunk, g, &plan.types),
                )
            };
            let (fit, fit_leads) = extract(&grid(cut), plan.fit_strides);
            let (full, full_leads) = extract(&grid(until), plan.full_strides);
            let rows = fit
                .into_iter()
                .zip(full)
                .enumerate()
                .filter(|(s, _)| mine[*s])
                .map(|(s, (a, b))| (offset + s, a, b))
                .collect();
            let mut validation = Vec::new();
            for (i, mut s) in chunk.series.into_iter().enumerate() {
                if mine[i] && plan.keep.contains(&(offset + i)) {
                    // Nothing after the training period is read again.
                    let n = s.timestamps.partition_point(|&t| t <= until);
                    s.timestamps.truncate(n);
                    s.timestamps.shrink_to_fit();
                    for c in &mut s.columns {
                        c.truncate(n);
                        c.shrink_to_fit();
                    }
                    validation.push(s);
                }
            }
            sink(Chunk {
                rows,
                fit_leads,
                full_leads,
                validation,
            })
        },
    )?;
    bar.finish();
    Ok(())
}

/// The training sample gathered from pass 3 (in target name order).
pub(crate) struct Part {
    pub fit: Rows,
    pub full: Rows,
    pub fit_leads: Vec<Vec<f64>>,
    pub full_leads: Vec<Vec<f64>>,
    pub validation: Vec<Series>,
}

impl Part {
    pub(crate) fn new(types: usize) -> Self {
        Self {
            fit: Rows::empty(),
            full: Rows::empty(),
            fit_leads: vec![Vec::new(); types],
            full_leads: vec![Vec::new(); types],
            validation: Vec::new(),
        }
    }

    pub(crate) fn add(&mut self, chunk: Chunk) {
        for (_, fit, full) in chunk.rows {
            self.fit.extend(fit);
            self.full.extend(full);
        }
        for (all, some) in self.fit_leads.iter_mut().zip(chunk.fit_leads) {
            all.extend(some);
        }
        for (all, some) in self.full_leads.iter_mut().zip(chunk.full_leads) {
            all.extend(some);
        }
        self.validation.extend(chunk.validation);
    }
}

/// Trains the pair on the plan's period from the training sample and validation targets of `part`.
pub(crate) fn finish(plan: Plan, part: Part) -> Result<Streamed, LearnError> {
    let validation_rows = part
        .validation
        .iter()
        .map(|s| s.timestamps.len() as u64)
        .sum();
    let validation = Dataset {
        mitigated: plan.base.mitigated,
        metrics: plan.base.metrics,
        series: part.validation,
        events: plan.base.events,
    };
    tracing::info!(
        targets = plan.names.len(),
        rows = plan.total_rows,
        validation_targets = validation.series.len(),
        validation_rows,
        training_rows = part.full.issue.len(),
        "read target by target"
    );
    let sample = Sample {
        cut: plan.cut,
        fit: Some((part.fit, part.fit_leads)),
        full: Some((part.full, part.full_leads)),
        fingerprint: plan.fingerprint,
        targets: plan.names,
    };
    let targets = sample.targets.len();
    let pair = train_on(
        &validation,
        &plan.params,
        plan.from,
        plan.until,
        Some(sample),
    )?;
    Ok(Streamed {
        pair,
        rows: plan.total_rows,
        targets,
        validation_targets: validation.series.len(),
        validation_rows,
        applied: plan.applied,
    })
}

/// The targets kept whole for validation (indices into `targets`): all when their rows fit in
/// `max_rows`; else targets in a seeded pseudo-random order (FNV-1a of the seed and the name), each
/// taken while the rows taken stay within `max_rows` (at least one).
fn validation_targets(targets: &[Target], seed: u64, max_rows: u64) -> HashSet<usize> {
    let total: u64 = targets.iter().map(|t| t.rows as u64).sum();
    if total <= max_rows {
        return (0..targets.len()).collect();
    }
    let mut order: Vec<(u64, usize)> = targets
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mut h = Fnv::new();
            h.write(&seed.to_le_bytes());
            h.write(t.name.as_bytes());
            (h.0, i)
        })
        .collect();
    order.sort_unstable();
    let mut kept = HashSet::new();
    let mut rows = 0u64;
    for (_, i) in order {
        let r = targets[i].rows as u64;
        if kept.is_empty() || rows + r <= max_rows {
            rows += r;
            kept.insert(i);
        }
    }
    kept
}

/// Reads the metrics of `dirs` a few whole targets at a time (about `chunk_rows` rows), each chunk a
/// dataset with its targets' events from `base`; `f(chunk, index of its first target)`. Directory `k`'s
/// Parquet row groups are read in `order[k]` when given. The targets must be `names`, in that order (the
/// first pass's, sorted): a file changed in between is an error.
pub(crate) fn for_chunks(
    dirs: &DataDirs,
    order: &[Option<Vec<usize>>],
    base: &Dataset,
    names: &[String],
    chunk_rows: usize,
    mut f: impl FnMut(Dataset, usize) -> Result<(), LearnError>,
) -> Result<(), LearnError> {
    let mut stream = MergedStream::open(dirs, order)?;
    let (mut chunk, mut rows, mut offset) = (Vec::<Series>::new(), 0usize, 0usize);
    loop {
        let next = stream.next_series()?;
        let done = next.is_none();
        if let Some(s) = next {
            if names.get(offset + chunk.len()) != Some(&s.target) {
                return Err(LearnError::Dataset(format!(
                    "{}: the metrics file changed while being read (target `{}` where the first pass \
                     read {})",
                    dirs.display(),
                    crate::quote::clip(&s.target),
                    names
                        .get(offset + chunk.len())
                        .map_or("the end".to_string(), |n| format!(
                            "`{}`",
                            crate::quote::clip(n)
                        ))
                )));
            }
            rows += s.timestamps.len();
            chunk.push(s);
        }
        if (done && !chunk.is_empty()) || rows >= chunk_rows {
            let series = std::mem::take(&mut chunk);
            let n = series.len();
            let events = series
                .iter()
                .flat_map(|s| base.events_of(&s.target).iter().cloned())
                .collect();
            let mitigated = series
                .iter()
                .flat_map(|s| base.mitigated_of(&s.target).iter().cloned())
                .collect();
            f(
                Dataset {
                    mitigated,
                    metrics: base.metrics.clone(),
                    series,
                    events,
                },
                offset,
            )?;
            offset += n;
            rows = 0;
        }
        if done {
            break;
        }
    }
    if offset != names.len() {
        return Err(LearnError::Dataset(format!(
            "{}: the metrics file changed while being read ({offset} targets, the first pass read {})",
            dirs.display(),
            names.len()
        )));
    }
    Ok(())
}
