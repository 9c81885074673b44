//! Feature extraction: the single source of feature names and order, used by `train`, `eval`, `serve`
//! and `watch` alike. Every path goes through [`FeatureSpec::extract`].
//!
//! Per metric (counters `*_total` first become per-second rates, a drop is a reset):
//! `last`, `mean`, `min`, `max`, `std`, `slope` (least squares, per second), `change` (last − first),
//! `missing` (fraction of the expected samples that are absent or empty).
//! Derived, where the inputs exist (see [`limit_pairs`]): `use_of_limit` (fraction 0–1), `headroom`
//! (1 − use), `secs_to_limit` (linear extrapolation of the slope to the limit, as PromQL's
//! `predict_linear`; [`SECS_TO_LIMIT_CAP`] when not rising). Calendar: `time.hour_of_day`, `time.day_of_week` (UTC).
//! In `Latest` mode (the cluster snapshot model) the features are the last values of the columns, named as the columns.

use serde::{Deserialize, Serialize};

use crate::dataset::ColumnKind;
use crate::error::LearnError;
use crate::timestamp;
use crate::trailing::{self, BaselineSpec, TargetBaseline};
use crate::window::Window;

/// `secs_to_limit` when the metric is flat or falling, seconds (one day).
pub const SECS_TO_LIMIT_CAP: f64 = 86_400.0;

/// The per-metric statistics, in feature order.
pub const STATS: [&str; 8] = [
    "last", "mean", "min", "max", "std", "slope", "change", "missing",
];

/// The step-change statistics per metric (with [`FeatureSpec::with_jumps`]), in feature order: how far the
/// last value sits from the window's earlier values — `rel_jump` = last / mean(earlier) − 1 (unitless),
/// `z_jump` = (last − mean(earlier)) / std(earlier), clamped to ±[`Z_JUMP_CAP`]. An abrupt fault (an injected
/// delay, a crash) moves the last sample before any window mean or slope notices.
pub const JUMP_STATS: [&str; 2] = ["rel_jump", "z_jump"];

/// Bound of `z_jump` (a jump off a perfectly flat series would otherwise be infinite).
pub const Z_JUMP_CAP: f64 = 1e4;

/// The statistics of the window against the target's trailing baseline `(mean, sd)` per metric (with
/// [`FeatureSpec::with_baseline`]), in feature order: the z-scores `(value − mean) / sd` of the last, mean,
/// largest and smallest value (unitless, bounded by ±[`trailing::Z_CAP`]); `rel_to_baseline` = window mean /
/// baseline mean − 1 (unitless; NaN when the baseline mean is 0); `out_of_band` = share (0–1) of the
/// window's values beyond `band` sd; `secs_out_of_band` = seconds since the run of out-of-band values that
/// ends at the last value began (0 when the last value is inside the band). NaN while the baseline is cold.
pub const BASELINE_STATS: [&str; 7] = [
    "z_last",
    "z_mean",
    "z_max",
    "z_min",
    "rel_to_baseline",
    "out_of_band",
    "secs_out_of_band",
];

/// Per metric family present (with a baseline), in feature order: `family.<f>.abs_z` = the largest
/// `|z_last|` of the family's metrics, `family.<f>.out_of_band` = their largest `out_of_band`. Which
/// families deviate is what tells a fault's type on a target the model has never seen.
pub const FAMILY_STATS: [&str; 2] = ["abs_z", "out_of_band"];

/// The metric families, in feature order.
pub const FAMILIES: [&str; 8] = [
    "node", "restarts", "cpu", "memory", "network", "latency", "errors", "load",
];

/// The family of a metric by its name (the first rule that matches, in [`FAMILIES`] order): `node_*` →
/// node; `restart`/`oom`/`crash` → restarts; `cpu` → cpu; `mem` → memory; `network`/`receive`/`transmit`/
/// `tcp`/`packet` → network; `latency`/`duration` → latency; `error`/`fail`/`5xx` → errors;
/// `request`/`ops`/`rps`/`throughput` → load. Peer columns and anything else have none.
pub fn family_of(metric: &str) -> Option<&'static str> {
    if crate::context::is_peer_column(metric) {
        return None;
    }
    let m = metric.to_ascii_lowercase();
    let has = |keys: &[&str]| keys.iter().any(|k| m.contains(k));
    if m.starts_with("node_") {
        Some("node")
    } else if has(&["restart", "oom", "crash"]) {
        Some("restarts")
    } else if has(&["cpu"]) {
        Some("cpu")
    } else if has(&["mem"]) {
        Some("memory")
    } else if has(&["network", "receive", "transmit", "tcp", "packet"]) {
        Some("network")
    } else if has(&["latency", "duration"]) {
        Some("latency")
    } else if has(&["error", "fail", "5xx"]) {
        Some("errors")
    } else if has(&["request", "ops", "rps", "throughput"]) {
        Some("load")
    } else {
        None
    }
}

/// How features are built from a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureMode {
    /// Window statistics per metric, derived limit features and calendar features.
    Window,
    /// The last value of every column as is (the cluster snapshot model's fields).
    Latest,
}

/// Where a usage's limit comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    /// Another column holds the limit (its index).
    Column(usize),
    /// The usage is already a percentage (0–100) of its limit.
    Percent,
    /// The usage is already a fraction (0–1) of its limit.
    Fraction,
    /// The column is the *available* fraction (0–1); use = 1 − value.
    Available,
}

/// A usage column and its limit (derived features `use_of_limit`, `headroom`, `secs_to_limit`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LimitPair {
    /// Index of the usage metric.
    pub usage: usize,
    /// Where its limit comes from.
    pub limit: Limit,
}

/// Which feature vector a model uses: the metric columns, their kinds and the derived features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureSpec {
    /// How features are built.
    pub mode: FeatureMode,
    /// Metric column names, in order.
    pub metrics: Vec<String>,
    /// Kind of each metric.
    pub kinds: Vec<ColumnKind>,
    /// Derived use-of-limit features.
    pub limits: Vec<LimitPair>,
    /// Look-back, seconds.
    pub window_secs: i64,
    /// Sample step, seconds (sets the expected sample count for `missing`).
    pub step_secs: i64,
    /// Whether the calendar features `time.hour_of_day` and `time.day_of_week` are included.
    #[serde(default = "yes")]
    pub calendar: bool,
    /// Whether the step-change features [`JUMP_STATS`] are included (bundles older than them have none).
    #[serde(default)]
    pub jumps: bool,
    /// The trailing per-target baseline of the [`BASELINE_STATS`] and [`FAMILY_STATS`] (`None`: no baseline
    /// features; bundles older than them have none).
    #[serde(default)]
    pub baseline: Option<BaselineSpec>,
    #[serde(skip)]
    names: Vec<String>,
    /// Metric indices of each family present (with a baseline), in [`FAMILIES`] order.
    #[serde(skip)]
    families: Vec<(&'static str, Vec<usize>)>,
    /// Slot of each metric's [`BASELINE_STATS`] block (`None`: not compared with a baseline, see [`baselined`]).
    #[serde(skip)]
    base_slots: Vec<Option<usize>>,
}

/// Whether a metric gets [`BASELINE_STATS`]: the target's own metrics do; node metrics (shared by every
/// pod of the node, so they move with whatever else runs there — on a fault campaign, with the campaign's
/// clock) and peer columns (already relative to the peers) do not.
pub fn baselined(metric: &str) -> bool {
    !crate::context::is_peer_column(metric) && family_of(metric) != Some("node")
}

/// How a column name relates to a limit, if it is already relative to one: `*_utilization`,
/// `*_percent`, `*_pct` are percentages; a name containing `utilization` otherwise (e.g.
/// `cpu_limit_utilization_max`) is a fraction; a name containing `available_ratio` is an available fraction.
fn relative_limit(name: &str) -> Option<Limit> {
    if name.ends_with("_utilization") || name.ends_with("_percent") || name.ends_with("_pct") {
        Some(Limit::Percent)
    } else if name.contains("utilization") {
        Some(Limit::Fraction)
    } else if name.contains("available_ratio") {
        Some(Limit::Available)
    } else {
        None
    }
}

/// Finds derived-feature inputs among the metric names: columns already relative to their limit (see
/// `relative_limit`: `*_utilization` %, `*utilization*` fraction, `*available_ratio*` available fraction)
/// and usage/limit pairs where the limit column contains `_limit` (and is not itself relative) and the
/// usage column is the same name without it (or with `_usage`, `_working_set` or `_used` in its place).
/// Peer columns (`peers_*`) never take part.
pub fn limit_pairs(metrics: &[String]) -> Vec<LimitPair> {
    let mut pairs = Vec::new();
    for (i, m) in metrics.iter().enumerate() {
        if crate::context::is_peer_column(m) || ColumnKind::of(m) == ColumnKind::Counter {
            continue;
        }
        if let Some(limit) = relative_limit(m) {
            pairs.push(LimitPair { usage: i, limit });
        }
    }
    for (li, l) in metrics.iter().enumerate() {
        if !l.contains("_limit") || crate::context::is_peer_column(l) || relative_limit(l).is_some()
        {
            continue;
        }
        let candidates = [
            l.replacen("_limit", "", 1),
            l.replacen("_limit", "_usage", 1),
            l.replacen("_limit", "_working_set", 1),
            l.replacen("_limit", "_used", 1),
        ];
        for c in &candidates {
            if let Some(ui) = metrics.iter().position(|m| m == c) {
                if ui != li && ColumnKind::of(c) == ColumnKind::Gauge {
                    pairs.push(LimitPair {
                        usage: ui,
                        limit: Limit::Column(li),
                    });
                    break;
                }
            }
        }
    }
    pairs
}

fn yes() -> bool {
    true
}

/// Metric-name fragments of quantities whose rise can only make an issue more likely: utilisation (`util`;
/// the cluster snapshot's CPU percentages `cpu_avg`, `cpu_max`), error ratios and error rates, restarts and
/// OOM kills, latency, CPU throttling.
const RISK_RISES_WITH: [&str; 8] = [
    "util",
    "cpu_avg",
    "cpu_max",
    "error",
    "restart",
    "oom",
    "latency",
    "throttled",
];

/// Metric-name fragments of quantities whose fall can only make an issue more likely: available capacity.
const RISK_FALLS_WITH: [&str; 1] = ["available"];

/// Fragments that leave a metric's direction unknown even with one of the above: spreads and changes.
const NO_DIRECTION: [&str; 2] = ["std", "change"];

/// The direction in which a metric's level moves the risk of an issue, when it is known: `1` when more of
/// it can only mean more risk, `-1` when less of it can, `0` when unknown (see [`RISK_RISES_WITH`],
/// [`RISK_FALLS_WITH`]). Peer columns have none (they are deviations of other targets).
pub fn risk_direction(metric: &str) -> i8 {
    let has = |fragments: &[&str]| fragments.iter().any(|f| metric.contains(f));
    if crate::context::is_peer_column(metric) || has(&NO_DIRECTION) {
        0
    } else if has(&RISK_RISES_WITH) {
        1
    } else if has(&RISK_FALLS_WITH) {
        -1
    } else {
        0
    }
}

impl FeatureSpec {
    /// The window feature set of a dataset's metric columns.
    pub fn window(metrics: &[String], window_secs: i64, step_secs: i64) -> Self {
        let kinds = metrics.iter().map(|m| ColumnKind::of(m)).collect();
        let limits = limit_pairs(metrics);
        let mut spec = Self {
            mode: FeatureMode::Window,
            metrics: metrics.to_vec(),
            kinds,
            limits,
            window_secs,
            step_secs,
            calendar: true,
            jumps: false,
            baseline: None,
            names: Vec::new(),
            families: Vec::new(),
            base_slots: Vec::new(),
        };
        spec.names = spec.build_names();
        spec
    }

    /// The latest-value feature set (cluster snapshot model): one feature per column.
    pub fn latest(metrics: &[String], step_secs: i64) -> Self {
        let mut spec = Self {
            mode: FeatureMode::Latest,
            metrics: metrics.to_vec(),
            kinds: vec![ColumnKind::Gauge; metrics.len()],
            limits: Vec::new(),
            window_secs: step_secs,
            step_secs,
            calendar: false,
            jumps: false,
            baseline: None,
            names: Vec::new(),
            families: Vec::new(),
            base_slots: Vec::new(),
        };
        spec.names = spec.build_names();
        spec
    }

    /// Without the calendar features (for data too short to learn daily or weekly patterns from).
    pub fn without_calendar(mut self) -> Self {
        self.calendar = false;
        self.names = self.build_names();
        self
    }

    /// With the step-change features [`JUMP_STATS`] of every metric (window mode only).
    pub fn with_jumps(mut self) -> Self {
        self.jumps = self.mode == FeatureMode::Window;
        self.names = self.build_names();
        self
    }

    /// With the trailing-baseline features [`BASELINE_STATS`] and [`FAMILY_STATS`] (window mode only).
    pub fn with_baseline(mut self, baseline: BaselineSpec) -> Self {
        self.baseline = (self.mode == FeatureMode::Window).then_some(baseline);
        self.names = self.build_names();
        self
    }

    /// Rebuilds the derived name list after deserialisation.
    pub(crate) fn with_names(mut self) -> Self {
        self.names = self.build_names();
        self
    }

    /// A metric's feature-name stem: the name of a gauge, `rate(name)` of a counter.
    fn stem(m: &str, kind: ColumnKind) -> String {
        match kind {
            ColumnKind::Gauge => m.to_string(),
            ColumnKind::Counter => format!("rate({m})"),
        }
    }

    fn build_names(&mut self) -> Vec<String> {
        let with_baseline = self.baseline.is_some() && self.mode == FeatureMode::Window;
        let mut slot = 0;
        self.base_slots = self
            .metrics
            .iter()
            .map(|m| {
                (with_baseline && baselined(m)).then(|| {
                    slot += 1;
                    slot - 1
                })
            })
            .collect();
        self.families = match self.baseline {
            Some(_) if self.mode == FeatureMode::Window => FAMILIES
                .iter()
                .filter_map(|&f| {
                    let ms: Vec<usize> = (0..self.metrics.len())
                        .filter(|&m| {
                            self.base_slots[m].is_some() && family_of(&self.metrics[m]) == Some(f)
                        })
                        .collect();
                    (!ms.is_empty()).then_some((f, ms))
                })
                .collect(),
            _ => Vec::new(),
        };
        if self.mode == FeatureMode::Latest {
            return self.metrics.clone();
        }
        let mut names = Vec::new();
        for (m, &kind) in self.metrics.iter().zip(&self.kinds) {
            let base = Self::stem(m, kind);
            for s in STATS {
                names.push(format!("{base}.{s}"));
            }
        }
        for p in &self.limits {
            let u = &self.metrics[p.usage];
            for s in ["use_of_limit", "headroom", "secs_to_limit"] {
                names.push(format!("{u}.{s}"));
            }
        }
        if self.jumps {
            for (m, &kind) in self.metrics.iter().zip(&self.kinds) {
                for s in JUMP_STATS {
                    names.push(format!("{}.{s}", Self::stem(m, kind)));
                }
            }
        }
        if self.baseline.is_some() {
            for ((m, &kind), slot) in self.metrics.iter().zip(&self.kinds).zip(&self.base_slots) {
                if slot.is_none() {
                    continue;
                }
                for s in BASELINE_STATS {
                    names.push(format!("{}.{s}", Self::stem(m, kind)));
                }
            }
            for (f, _) in &self.families {
                for s in FAMILY_STATS {
                    names.push(format!("family.{f}.{s}"));
                }
            }
        }
        if self.calendar {
            names.push("time.hour_of_day".into());
            names.push("time.day_of_week".into());
        }
        names
    }

    /// Per feature, the direction in which it is known to move the risk of an issue (`1`, `-1`, or `0` when
    /// unknown): the one rule behind monotonic constraints (`TrainParams::monotonic`). A level of a metric
    /// (the snapshot's values; `last`, `mean`, `min`, `max` of a window) has the metric's
    /// [`risk_direction`]; `use_of_limit` is `1` and `headroom` `-1` for every metric; spreads, slopes,
    /// changes, `secs_to_limit`, missing shares, step changes and calendar features have none.
    pub fn risk_directions(&self) -> Vec<i8> {
        self.names
            .iter()
            .map(|name| match self.mode {
                FeatureMode::Latest => risk_direction(name),
                FeatureMode::Window => match name.rsplit_once('.') {
                    Some((_, "use_of_limit")) => 1,
                    Some((_, "headroom")) => -1,
                    Some((metric, "last" | "mean" | "min" | "max")) => risk_direction(metric),
                    _ => 0,
                },
            })
            .collect()
    }

    /// Feature names, in vector order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Number of features.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether there are no features.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Extracts the features of the window ending at `t` into `out` (`self.len()` long), without a
    /// baseline (the baseline features, if any, are missing). See [`Self::extract`].
    pub fn extract_into<'a>(
        &self,
        t: i64,
        timestamps: &[i64],
        column: impl Fn(usize) -> &'a [f64],
        out: &mut [f32],
    ) {
        self.extract(t, timestamps, column, None, out);
    }

    /// Extracts the features of the window ending at `t` into `out` (`self.len()` long).
    /// `timestamps` are the window's samples (increasing, all `<= t`); `column(m)` gives metric `m`'s
    /// values aligned with them (NaN = missing); `baseline` is the target's trailing baseline of the
    /// samples before the window (its metrics in this spec's order). This is the one implementation every
    /// path uses.
    pub fn extract<'a>(
        &self,
        t: i64,
        timestamps: &[i64],
        column: impl Fn(usize) -> &'a [f64],
        baseline: Option<&TargetBaseline>,
        out: &mut [f32],
    ) {
        debug_assert_eq!(out.len(), self.len());
        if self.mode == FeatureMode::Latest {
            for (m, o) in out.iter_mut().enumerate() {
                let c = column(m);
                *o = c
                    .iter()
                    .rev()
                    .find(|v| !v.is_nan())
                    .map_or(f32::NAN, |&v| v as f32);
            }
            return;
        }
        let expected = ((self.window_secs + self.step_secs / 2) / self.step_secs).max(1) as f64;
        let n_stats = STATS.len();
        let mut last_slope = vec_small(self.metrics.len());
        let jumps_at = self.metrics.len() * n_stats + 3 * self.limits.len();
        let base_at = jumps_at
            + if self.jumps {
                JUMP_STATS.len() * self.metrics.len()
            } else {
                0
            };
        // A metric's valid points `(x = seconds before t, value or rate)`, gathered once for every statistic.
        let mut points: smallvec::SmallVec<[(f64, f64); 64]> = smallvec::SmallVec::new();
        // The window's x values and their statistics, shared by every gauge with no missing sample (most
        // of them): computed once, with the very operations `Stats::of` does, so the same bits.
        let mut full_x: Option<XStats> = None;
        for (m, kind) in self.kinds.iter().enumerate() {
            let c = column(m);
            let complete_gauge = *kind == ColumnKind::Gauge
                && !c.is_empty()
                && c.len() == timestamps.len()
                && !c.iter().any(|v| v.is_nan());
            if complete_gauge {
                let xs = full_x.get_or_insert_with(|| XStats::of(timestamps, t));
                let st = Stats::of_complete(xs, c);
                let pts = xs.x.iter().copied().zip(c.iter().copied());
                self.metric_features(
                    m,
                    c,
                    pts,
                    c.len(),
                    &st,
                    baseline,
                    (base_at, jumps_at, expected),
                    out,
                );
                last_slope.set(m, st.last, st.slope);
                continue;
            }
            points.clear();
            match kind {
                ColumnKind::Gauge => points.extend(
                    timestamps
                        .iter()
                        .zip(c)
                        .filter(|(_, v)| !v.is_nan())
                        .map(|(&ts, &v)| ((ts - t) as f64, v)),
                ),
                ColumnKind::Counter => points.extend(Rates::new(timestamps, c, t)),
            }
            let st = Stats::of(points.iter().copied());
            self.metric_features(
                m,
                c,
                points.iter().copied(),
                points.len(),
                &st,
                baseline,
                (base_at, jumps_at, expected),
                out,
            );
            last_slope.set(m, st.last, st.slope);
        }
        self.derived(&last_slope, t, base_at, out);
    }

    /// Metric `m`'s own statistics, its jump and its baseline statistics into `out`, from its valid
    /// `points` (`n_points` of them) and their summary `st`; `at` = (baseline block, jump block, samples
    /// expected in the window).
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn metric_features<I: Iterator<Item = (f64, f64)> + Clone>(
        &self,
        m: usize,
        c: &[f64],
        points: I,
        n_points: usize,
        st: &Stats,
        baseline: Option<&TargetBaseline>,
        (base_at, jumps_at, expected): (usize, usize, f64),
        out: &mut [f32],
    ) {
        let n_stats = STATS.len();
        let n_base = BASELINE_STATS.len();
        let kind = &self.kinds[m];
        {
            if let (Some(bspec), Some(slot)) = (&self.baseline, self.base_slots[m]) {
                let reference = baseline
                    .filter(|b| m < b.len())
                    .and_then(|b| b.metric(m).reference(bspec));
                let o = &mut out[base_at + slot * n_base..base_at + (slot + 1) * n_base];
                match reference {
                    Some(r) => against_baseline(points.clone(), st, r, bspec.band, o),
                    None => o.fill(f32::NAN),
                }
            }
            if self.jumps {
                let (rel, z) = jump(points, st.last);
                out[jumps_at + 2 * m] = rel as f32;
                out[jumps_at + 2 * m + 1] = z as f32;
            }
            // A gauge's valid samples are its points; a counter has one point fewer than valid samples.
            let valid = match kind {
                ColumnKind::Gauge => n_points,
                ColumnKind::Counter => c.iter().filter(|v| !v.is_nan()).count(),
            } as f64;
            let missing = (1.0 - valid / expected).clamp(0.0, 1.0);
            let o = &mut out[m * n_stats..(m + 1) * n_stats];
            o[0] = st.last as f32;
            o[1] = st.mean as f32;
            o[2] = st.min as f32;
            o[3] = st.max as f32;
            o[4] = st.std as f32;
            o[5] = st.slope as f32;
            o[6] = (st.last - st.first) as f32;
            o[7] = missing as f32;
        }
    }

    /// The derived features after the per-metric blocks: use of limits, families, calendar.
    fn derived(&self, last_slope: &LastSlope, t: i64, base_at: usize, out: &mut [f32]) {
        let n_stats = STATS.len();
        let n_base = BASELINE_STATS.len();
        let mut k = self.metrics.len() * n_stats;
        for p in &self.limits {
            let (usage, slope) = last_slope.get(p.usage);
            let (use_frac, slope_frac) = match p.limit {
                Limit::Percent => (usage / 100.0, slope / 100.0),
                Limit::Fraction => (usage, slope),
                Limit::Available => (1.0 - usage, -slope),
                Limit::Column(l) => {
                    let limit = last_slope.get(l).0;
                    if limit > 0.0 {
                        (usage / limit, slope / limit)
                    } else {
                        (f64::NAN, f64::NAN)
                    }
                }
            };
            let secs = if use_frac.is_nan() || slope_frac.is_nan() {
                f64::NAN
            } else if use_frac >= 1.0 {
                0.0
            } else if slope_frac > 0.0 {
                ((1.0 - use_frac) / slope_frac).min(SECS_TO_LIMIT_CAP)
            } else {
                SECS_TO_LIMIT_CAP
            };
            out[k] = use_frac as f32;
            out[k + 1] = (1.0 - use_frac) as f32;
            out[k + 2] = secs as f32;
            k += 3;
        }
        if self.jumps {
            k += JUMP_STATS.len() * self.metrics.len();
        }
        if self.baseline.is_some() {
            k += n_base * self.base_slots.iter().flatten().count();
            for (_, ms) in &self.families {
                let (mut abs_z, mut out_of_band) = (f32::NAN, f32::NAN);
                for &m in ms {
                    let slot = self.base_slots[m].unwrap_or(0);
                    let o = &out[base_at + slot * n_base..];
                    // f32::max ignores a NaN operand, so a cold metric does not hide a warm one.
                    abs_z = abs_z.max(o[0].abs());
                    out_of_band = out_of_band.max(o[5]);
                }
                out[k] = abs_z;
                out[k + 1] = out_of_band;
                k += FAMILY_STATS.len();
            }
        }
        if self.calendar {
            out[k] = timestamp::hour_of_day(t) as f32;
            out[k + 1] = timestamp::day_of_week(t) as f32;
        }
    }

    /// Extracts the features of a [`Window`] (the serving path), matching columns by name; a metric the
    /// window lacks is missing (NaN). The samples older than the look-back are the trailing baseline's
    /// history, unless the window carries its target's baseline (`watch`'s online state). Errors when the
    /// window is malformed or shares no column with the model.
    pub fn extract_window(&self, w: &Window) -> Result<WindowFeatures, LearnError> {
        w.check()?;
        let map: Vec<Option<usize>> = self
            .metrics
            .iter()
            .map(|m| w.columns.iter().position(|(name, _)| name == m))
            .collect();
        if map.iter().all(Option::is_none) {
            return Err(LearnError::Window(format!(
                "target `{}`: none of the window's columns ({}) is a model metric (expected: {})",
                w.target,
                w.columns
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                self.metrics.join(", ")
            )));
        }
        let t = *w.timestamps.last().unwrap_or(&0);
        let start = crate::window::window_range(&w.timestamps, t, self.window_secs).start;
        let nan = vec![f64::NAN; w.timestamps.len()];
        let column = |m: usize| -> &[f64] {
            match map[m] {
                Some(c) => &w.columns[c].1,
                None => &nan,
            }
        };
        let own;
        let baseline = match (&self.baseline, &w.baseline) {
            (None, _) => None,
            (Some(_), Some(b)) => Some(b),
            (Some(spec), None) => {
                let mut b = TargetBaseline::new(self.metrics.len());
                b.advance(spec, &self.kinds, &w.timestamps[..start], 0, t, column);
                own = b;
                Some(&own)
            }
        };
        let mut row = vec![0.0f32; self.len()];
        self.extract(
            t,
            &w.timestamps[start..],
            |m| &column(m)[start..],
            baseline,
            &mut row,
        );
        Ok(WindowFeatures {
            row,
            baseline_secs: baseline.map(TargetBaseline::covered_secs),
        })
    }
}

/// The features of one served window.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowFeatures {
    /// The feature row, in [`FeatureSpec::names`] order.
    pub row: Vec<f32>,
    /// Seconds of history the trailing baseline covered (`None` when the model has no baseline features).
    pub baseline_secs: Option<i64>,
}

/// Last value and slope per metric, on the stack for typical widths.
struct LastSlope {
    inline: [(f64, f64); 64],
    heap: Vec<(f64, f64)>,
}

fn vec_small(n: usize) -> LastSlope {
    LastSlope {
        inline: [(f64::NAN, f64::NAN); 64],
        heap: if n > 64 {
            vec![(f64::NAN, f64::NAN); n]
        } else {
            Vec::new()
        },
    }
}

impl LastSlope {
    fn set(&mut self, m: usize, last: f64, slope: f64) {
        if self.heap.is_empty() {
            self.inline[m] = (last, slope);
        } else {
            self.heap[m] = (last, slope);
        }
    }
    fn get(&self, m: usize) -> (f64, f64) {
        if self.heap.is_empty() {
            self.inline[m]
        } else {
            self.heap[m]
        }
    }
}

/// A counter's increase from `prev` to `next`; a decrease is a reset (the counter restarted from 0, so the
/// increase is the new value).
pub(crate) fn counter_increase(prev: f64, next: f64) -> f64 {
    if next >= prev { next - prev } else { next }
}

/// Per-second rates of a counter between consecutive valid samples; a decrease is a reset (the
/// counter restarted from 0, so the increase is the new value). Each rate sits at the later sample's time.
#[derive(Clone)]
pub(crate) struct Rates<'a> {
    timestamps: &'a [i64],
    values: &'a [f64],
    t: i64,
    i: usize,
    prev: Option<(i64, f64)>,
}

impl<'a> Rates<'a> {
    pub(crate) fn new(timestamps: &'a [i64], values: &'a [f64], t: i64) -> Self {
        Self {
            timestamps,
            values,
            t,
            i: 0,
            prev: None,
        }
    }
}

impl Iterator for Rates<'_> {
    type Item = (f64, f64);
    fn next(&mut self) -> Option<(f64, f64)> {
        while self.i < self.values.len() {
            let (ts, v) = (self.timestamps[self.i], self.values[self.i]);
            self.i += 1;
            if v.is_nan() {
                continue;
            }
            let prev = self.prev.replace((ts, v));
            if let Some((pts, pv)) = prev {
                let dt = (ts - pts) as f64;
                if dt > 0.0 {
                    return Some(((ts - self.t) as f64, counter_increase(pv, v) / dt));
                }
            }
        }
        None
    }
}

/// `(rel_jump, z_jump)` of the last of `points` (whose value is `last`) against the points before it; NaN
/// when there is no earlier point (and `rel_jump` when their mean is 0, `z_jump` when there is only one).
fn jump<I: Iterator<Item = (f64, f64)> + Clone>(points: I, last: f64) -> (f64, f64) {
    let n = points.clone().count();
    if n < 2 {
        return (f64::NAN, f64::NAN);
    }
    let earlier = points.take(n - 1).map(|(_, y)| y);
    let mean = earlier.clone().sum::<f64>() / (n - 1) as f64;
    let var = earlier.map(|y| (y - mean) * (y - mean)).sum::<f64>() / (n - 1) as f64;
    let rel = if mean != 0.0 {
        last / mean - 1.0
    } else {
        f64::NAN
    };
    let diff = last - mean;
    let z = if n < 3 {
        f64::NAN
    } else if var > 0.0 {
        (diff / var.sqrt()).clamp(-Z_JUMP_CAP, Z_JUMP_CAP)
    } else if diff == 0.0 {
        0.0
    } else {
        Z_JUMP_CAP.copysign(diff)
    };
    (rel, z)
}

/// Writes the [`BASELINE_STATS`] of a window's `(x, y)` points (x = seconds relative to the window end)
/// against the baseline `(mean, sd)` into `o`.
fn against_baseline<I: Iterator<Item = (f64, f64)>>(
    points: I,
    st: &Stats,
    (mean, sd): (f64, f64),
    band: f64,
    o: &mut [f32],
) {
    let z = |y: f64| ((y - mean) / sd).clamp(-trailing::Z_CAP, trailing::Z_CAP);
    // Out of band: |y − mean| > band × sd (no division per point).
    let half_band = band * sd;
    let (mut n, mut outside) = (0usize, 0usize);
    // Start (x) of the run of out-of-band points that is still going on.
    let mut run_start: Option<f64> = None;
    for (x, y) in points {
        n += 1;
        if (y - mean).abs() > half_band {
            outside += 1;
            run_start.get_or_insert(x);
        } else {
            run_start = None;
        }
    }
    if n == 0 {
        o.fill(f32::NAN);
        return;
    }
    o[0] = z(st.last) as f32;
    o[1] = z(st.mean) as f32;
    o[2] = z(st.max) as f32;
    o[3] = z(st.min) as f32;
    o[4] = if mean.abs() > 1e-12 {
        (st.mean / mean - 1.0) as f32
    } else {
        f32::NAN
    };
    o[5] = (outside as f64 / n as f64) as f32;
    o[6] = run_start.map_or(0.0, |x| -x) as f32;
}

/// The x values of a window's samples (seconds relative to the window end) and what [`Stats::of`] computes
/// from them alone when every sample is valid: their deviations from their mean and the sum of squares.
struct XStats {
    x: smallvec::SmallVec<[f64; 64]>,
    dx: smallvec::SmallVec<[f64; 64]>,
    sxx: f64,
}

impl XStats {
    fn of(timestamps: &[i64], t: i64) -> Self {
        let x: smallvec::SmallVec<[f64; 64]> =
            timestamps.iter().map(|&ts| (ts - t) as f64).collect();
        // The operations of `Stats::of`, in its order.
        let mut sx = 0.0;
        for &v in &x {
            sx += v;
        }
        let mx = sx / x.len() as f64;
        let dx: smallvec::SmallVec<[f64; 64]> = x.iter().map(|&v| v - mx).collect();
        let mut sxx = 0.0;
        for &d in &dx {
            sxx += d * d;
        }
        Self { x, dx, sxx }
    }
}

/// Summary statistics of `(x, y)` points (x = seconds relative to the window end).
struct Stats {
    first: f64,
    last: f64,
    mean: f64,
    min: f64,
    max: f64,
    std: f64,
    slope: f64,
}

impl Stats {
    /// [`Stats::of`] the points `(xs.x[i], ys[i])` (every sample valid, `ys` as long as `xs.x`, not
    /// empty), bit for bit: the x sums come precomputed, the y sums are the same operations in the
    /// same order.
    fn of_complete(xs: &XStats, ys: &[f64]) -> Self {
        let n = ys.len();
        let mut sy = 0.0;
        let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
        for &y in ys {
            sy += y;
            if y < min {
                min = y;
            }
            if y > max {
                max = y;
            }
        }
        let nf = n as f64;
        let my = sy / nf;
        let (mut sxy, mut syy) = (0.0, 0.0);
        for (&dx, &y) in xs.dx.iter().zip(ys) {
            let dy = y - my;
            sxy += dx * dy;
            syy += dy * dy;
        }
        Self {
            first: ys[0],
            last: ys[n - 1],
            mean: my,
            min,
            max,
            std: (syy / nf).sqrt(),
            slope: if n >= 2 && xs.sxx > 0.0 {
                sxy / xs.sxx
            } else {
                f64::NAN
            },
        }
    }

    fn of<I: Iterator<Item = (f64, f64)> + Clone>(points: I) -> Self {
        let mut n = 0usize;
        let (mut sx, mut sy) = (0.0, 0.0);
        let (mut first, mut last) = (f64::NAN, f64::NAN);
        let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
        for (x, y) in points.clone() {
            if n == 0 {
                first = y;
            }
            last = y;
            n += 1;
            sx += x;
            sy += y;
            // The points carry no NaN: plain comparisons, without `f64::min`'s NaN handling.
            if y < min {
                min = y;
            }
            if y > max {
                max = y;
            }
        }
        if n == 0 {
            return Self {
                first: f64::NAN,
                last: f64::NAN,
                mean: f64::NAN,
                min: f64::NAN,
                max: f64::NAN,
                std: f64::NAN,
                slope: f64::NAN,
            };
        }
        let nf = n as f64;
        let (mx, my) = (sx / nf, sy / nf);
        let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
        for (x, y) in points {
            let (dx, dy) = (x - mx, y - my);
            sxx += dx * dx;
            sxy += dx * dy;
            syy += dy * dy;
        }
        Self {
            first,
            last,
            mean: my,
            min,
            max,
            std: (syy / nf).sqrt(),
            slope: if n >= 2 && sxx > 0.0 {
                sxy / sxx
            } else {
                f64::NAN
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// FNV-1a over the bits of every feature of a fixed set of windows (gauges and counters, missing
    /// samples, a counter reset, a gap, a constant column, the trailing baseline cold then warm), with and
    /// without the optional feature groups.
    fn feature_bits_digest() -> [u64; 2] {
        let metrics = names(&[
            "cpu_usage_cores",
            "cpu_limit_cores",
            "cpu_limit_utilization_max",
            "memory_working_set_bytes",
            "memory_limit_bytes",
            "node_memory_available_ratio_min",
            "restarts_total",
            "requests_total",
            "error_ratio",
            "latency_p99_seconds",
            "replicas_desired",
        ]);
        let n = 600usize;
        let mut ts: Vec<i64> = (0..n as i64).map(|i| 1_700_000_000 + 15 * i).collect();
        // A gap of two steps at sample 300.
        for t in &mut ts[300..] {
            *t += 30;
        }
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut columns: Vec<Vec<f64>> = vec![Vec::with_capacity(n); metrics.len()];
        let (mut restarts, mut requests) = (0.0, 1e6);
        for i in 0..n {
            let leak = if i > 450 {
                (i - 450) as f64 * 0.004
            } else {
                0.0
            };
            restarts += if next() < 0.02 { 1.0 } else { 0.0 };
            requests += 50.0 + 10.0 * next();
            if i == 200 {
                requests = 3.0; // a reset
            }
            let row = [
                0.4 + 0.1 * next(),
                1.0,
                0.4 + 0.1 * next() + leak,
                2e8 + 1e7 * next() + 1e8 * leak,
                5e8,
                0.6 - 0.05 * next(),
                restarts,
                requests,
                if i > 500 {
                    0.2 * next()
                } else {
                    0.001 * next()
                },
                0.05 + 0.01 * next(),
                3.0,
            ];
            for (m, v) in row.into_iter().enumerate() {
                columns[m].push(if next() < 0.03 { f64::NAN } else { v });
            }
        }
        let plain = FeatureSpec::window(&metrics, 180, 15);
        let full = plain
            .clone()
            .with_jumps()
            .with_baseline(BaselineSpec::default());
        let mut digests = [0xcbf2_9ce4_8422_2325u64; 2];
        for (d, spec) in [&plain, &full].into_iter().enumerate() {
            let bspec = spec.baseline.unwrap_or_default();
            let mut base = TargetBaseline::new(metrics.len());
            let mut from = 0;
            let mut out = vec![0.0f32; spec.len()];
            for end in 11..n {
                let start = end - 11;
                if start > 0 {
                    from = base.advance(&bspec, &spec.kinds, &ts, from, ts[start - 1], |m| {
                        &columns[m][..]
                    });
                }
                spec.extract(
                    ts[end],
                    &ts[start..=end],
                    |m| &columns[m][start..=end],
                    Some(&base),
                    &mut out,
                );
                for v in &out {
                    for b in v.to_bits().to_le_bytes() {
                        digests[d] = (digests[d] ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
                    }
                }
            }
        }
        digests
    }

    /// Optimisations of the extraction must not change a single output bit: the features of a fixed set
    /// of windows, digested. Change the digests only with an intended change of the features.
    #[test]
    fn feature_bits_are_stable() {
        assert_eq!(
            feature_bits_digest(),
            [5_833_385_151_335_503_878, 14_542_447_779_701_370_301]
        );
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn feature(spec: &FeatureSpec, out: &[f32], name: &str) -> f32 {
        out[spec.names().iter().position(|n| n == name).expect(name)]
    }

    #[test]
    fn risk_directions_follow_the_one_rule() {
        // The cluster snapshot's fields: its CPU utilisation levels, not their spread or change.
        let snapshot = FeatureSpec::latest(
            &names(&[
                "cluster_cpu_util_avg",
                "cluster_cpu_util_max",
                "cluster_cpu_util_min",
                "cluster_cpu_util_std",
                "node_count",
                "prev_cpu_avg",
                "cpu_change_rate",
                "cpu_avg_1h",
                "cpu_max_1h",
                "cpu_std_1h",
                "node_count_change_1h",
            ]),
            15,
        );
        assert_eq!(
            snapshot.risk_directions(),
            [1, 1, 1, 0, 0, 1, 0, 1, 1, 0, 0]
        );
        // A window: levels of utilisation, errors, restarts, latency rise with risk; available capacity
        // falls; use of a limit rises and headroom falls whatever the metric; the rest has no direction.
        let spec = FeatureSpec::window(
            &names(&[
                "memory_working_set_bytes",
                "memory_limit_bytes",
                "error_ratio",
                "restarts_total",
                "latency_p99_seconds",
                "node_memory_available_ratio_min",
                "requests_per_second",
                "peers_mean:error_ratio",
            ]),
            180,
            15,
        );
        let d = |name: &str| {
            spec.risk_directions()[spec.names().iter().position(|n| n == name).expect(name)]
        };
        assert_eq!(d("error_ratio.last"), 1);
        assert_eq!(d("error_ratio.max"), 1);
        assert_eq!(d("error_ratio.slope"), 0);
        assert_eq!(d("error_ratio.std"), 0);
        assert_eq!(d("rate(restarts_total).mean"), 1);
        assert_eq!(d("latency_p99_seconds.min"), 1);
        assert_eq!(d("latency_p99_seconds.missing"), 0);
        assert_eq!(d("node_memory_available_ratio_min.last"), -1);
        assert_eq!(d("node_memory_available_ratio_min.use_of_limit"), 1);
        assert_eq!(d("node_memory_available_ratio_min.headroom"), -1);
        assert_eq!(d("memory_working_set_bytes.use_of_limit"), 1);
        assert_eq!(d("memory_working_set_bytes.headroom"), -1);
        assert_eq!(d("memory_working_set_bytes.secs_to_limit"), 0);
        assert_eq!(
            d("memory_working_set_bytes.last"),
            0,
            "absolute usage has no direction"
        );
        assert_eq!(d("requests_per_second.last"), 0);
        assert_eq!(d("peers_mean:error_ratio.last"), 0);
        assert_eq!(d("time.hour_of_day"), 0);
    }

    #[test]
    fn gauge_statistics_and_slope() {
        let spec = FeatureSpec::window(&names(&["mem"]), 60, 15);
        let ts = [0, 15, 30, 45];
        let v = [1.0, 2.0, 3.0, 4.0];
        let mut out = vec![0.0; spec.len()];
        spec.extract_into(45, &ts, |_| &v, &mut out);
        assert_eq!(feature(&spec, &out, "mem.last"), 4.0);
        assert_eq!(feature(&spec, &out, "mem.mean"), 2.5);
        assert_eq!(feature(&spec, &out, "mem.min"), 1.0);
        assert_eq!(feature(&spec, &out, "mem.max"), 4.0);
        assert_eq!(feature(&spec, &out, "mem.change"), 3.0);
        assert!((feature(&spec, &out, "mem.slope") - 1.0 / 15.0).abs() < 1e-7);
        assert!((feature(&spec, &out, "mem.std") - 1.118_034).abs() < 1e-5);
        assert_eq!(feature(&spec, &out, "mem.missing"), 0.0);
    }

    #[test]
    fn jumps_measure_the_last_value_against_the_earlier_ones() {
        let plain = FeatureSpec::window(&names(&["lat", "req_total"]), 60, 15);
        let spec = plain.clone().with_jumps();
        assert_eq!(spec.len(), plain.len() + 4);
        let ts = [0, 15, 30, 45];
        let lat = [1.0, 3.0, 2.0, 6.0];
        let req = [0.0, 15.0, 30.0, 90.0]; // rates 1, 1, 4 per second
        let mut out = vec![0.0; spec.len()];
        spec.extract_into(45, &ts, |m| if m == 0 { &lat } else { &req }, &mut out);
        // Earlier values 1, 3, 2: mean 2, population std sqrt(2/3).
        assert_eq!(feature(&spec, &out, "lat.rel_jump"), 2.0);
        let z = 4.0 / (2.0f64 / 3.0).sqrt();
        assert!((f64::from(feature(&spec, &out, "lat.z_jump")) - z).abs() < 1e-5);
        // Counter rates 1, 1 then 4: a jump off a flat series is capped, not infinite.
        assert_eq!(feature(&spec, &out, "rate(req_total).rel_jump"), 3.0);
        assert_eq!(
            feature(&spec, &out, "rate(req_total).z_jump"),
            Z_JUMP_CAP as f32
        );
        // The other features are those of the spec without jumps, in the same order.
        let mut base = vec![0.0; plain.len()];
        plain.extract_into(45, &ts, |m| if m == 0 { &lat } else { &req }, &mut base);
        for (name, v) in plain.names().iter().zip(&base) {
            assert_eq!(feature(&spec, &out, name).to_bits(), v.to_bits(), "{name}");
        }
        // One valid sample: nothing to compare with.
        let one = [f64::NAN, f64::NAN, f64::NAN, 5.0];
        spec.extract_into(45, &ts, |_| &one, &mut out);
        assert!(feature(&spec, &out, "lat.rel_jump").is_nan());
        assert!(feature(&spec, &out, "lat.z_jump").is_nan());
    }

    #[test]
    fn counters_become_rates_and_resets_are_not_negative() {
        let spec = FeatureSpec::window(&names(&["restarts_total"]), 60, 15);
        let ts = [0, 15, 30, 45, 60];
        // +30 in 15 s, then a reset to 6 (an increase of 6), then +30, then +30.
        let v = [100.0, 130.0, 6.0, 36.0, 66.0];
        let mut out = vec![0.0; spec.len()];
        spec.extract_into(60, &ts, |_| &v, &mut out);
        assert_eq!(feature(&spec, &out, "rate(restarts_total).min"), 0.4);
        assert_eq!(feature(&spec, &out, "rate(restarts_total).max"), 2.0);
        assert_eq!(feature(&spec, &out, "rate(restarts_total).last"), 2.0);
    }

    #[test]
    fn missing_values_and_gaps_count_as_missing() {
        let spec = FeatureSpec::window(&names(&["cpu"]), 60, 15);
        // 4 samples expected; one row missing (gap 15→45) and one empty value.
        let ts = [15, 45, 60];
        let v = [1.0, f64::NAN, 3.0];
        let mut out = vec![0.0; spec.len()];
        spec.extract_into(60, &ts, |_| &v, &mut out);
        assert_eq!(feature(&spec, &out, "cpu.missing"), 0.5);
        assert_eq!(feature(&spec, &out, "cpu.last"), 3.0);
        let all_nan = [f64::NAN; 3];
        spec.extract_into(60, &ts, |_| &all_nan, &mut out);
        assert!(feature(&spec, &out, "cpu.last").is_nan());
        assert_eq!(feature(&spec, &out, "cpu.missing"), 1.0);
    }

    #[test]
    fn time_to_limit_extrapolates_like_predict_linear() {
        let spec = FeatureSpec::window(
            &names(&[
                "memory_working_set_bytes",
                "memory_limit_bytes",
                "cpu_utilization",
                "node_filesystem_available_ratio_min",
            ]),
            60,
            15,
        );
        let ts = [0, 15, 30, 45];
        let mem = [500.0, 550.0, 600.0, 650.0]; // +50 per 15 s towards 1000
        let lim = [1000.0; 4];
        let cpu = [50.0, 50.0, 50.0, 50.0];
        let fs = [0.4, 0.3, 0.2, 0.1]; // use 0.6 → 0.9, +0.1 per 15 s
        let cols = [&mem[..], &lim[..], &cpu[..], &fs[..]];
        let mut out = vec![0.0; spec.len()];
        spec.extract_into(45, &ts, |m| cols[m], &mut out);
        assert_eq!(
            feature(&spec, &out, "memory_working_set_bytes.use_of_limit"),
            0.65
        );
        assert!(
            (feature(&spec, &out, "memory_working_set_bytes.secs_to_limit") - 105.0).abs() < 1e-3
        );
        assert_eq!(feature(&spec, &out, "cpu_utilization.use_of_limit"), 0.5);
        assert_eq!(
            feature(&spec, &out, "cpu_utilization.secs_to_limit"),
            SECS_TO_LIMIT_CAP as f32
        );
        assert!(
            (feature(
                &spec,
                &out,
                "node_filesystem_available_ratio_min.use_of_limit"
            ) - 0.9)
                .abs()
                < 1e-6
        );
        assert!(
            (feature(
                &spec,
                &out,
                "node_filesystem_available_ratio_min.secs_to_limit"
            ) - 15.0)
                .abs()
                < 1e-3
        );
    }

    #[test]
    fn window_path_matches_slice_path_and_reorders_columns() {
        let spec = FeatureSpec::window(&names(&["a", "b_total"]), 60, 15);
        let w = Window {
            target: "ns/x".into(),
            timestamps: vec![0, 15, 30, 45, 60],
            columns: vec![
                ("b_total".into(), vec![1.0, 2.0, 3.0, 5.0, 8.0]),
                ("a".into(), vec![0.1, 0.2, f64::NAN, 0.4, 0.5]),
                ("ignored".into(), vec![9.0; 5]),
            ],
            baseline: None,
        };
        let via_window = spec.extract_window(&w).unwrap().row;
        let a = [0.2, f64::NAN, 0.4, 0.5];
        let b = [2.0, 3.0, 5.0, 8.0];
        let mut via_slices = vec![0.0; spec.len()];
        spec.extract_into(
            60,
            &[15, 30, 45, 60],
            |m| if m == 0 { &a } else { &b },
            &mut via_slices,
        );
        assert_eq!(
            via_window.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            via_slices.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn baseline_features_are_missing_without_history_and_given_with_it() {
        let spec = FeatureSpec::window(&names(&["cpu_usage", "node_cpu"]), 60, 15).with_baseline(
            BaselineSpec {
                secs: 600,
                min_history_secs: 300,
                band: 3.0,
            },
        );
        // Node metrics get no baseline statistics; the target's own do, and their family.
        assert!(spec.names().iter().any(|n| n == "cpu_usage.z_last"));
        assert!(!spec.names().iter().any(|n| n.starts_with("node_cpu.z_")));
        assert!(spec.names().iter().any(|n| n == "family.cpu.abs_z"));
        let window = |n: usize| Window {
            target: "ns/x".into(),
            timestamps: (0..n as i64).map(|i| i * 15).collect(),
            columns: vec![(
                "cpu_usage".into(),
                (0..n)
                    .map(|i| if i + 1 == n { 9.0 } else { (i % 2) as f64 })
                    .collect(),
            )],
            baseline: None,
        };
        // Only the window itself: no history, every baseline feature missing (never 0).
        let short = spec.extract_window(&window(4)).unwrap();
        assert_eq!(short.baseline_secs, Some(0));
        for name in spec
            .names()
            .iter()
            .filter(|n| n.contains(".z_") || n.starts_with("family."))
        {
            assert!(feature(&spec, &short.row, name).is_nan(), "{name}");
        }
        // 40 samples: 36 before the window, 525 s of history, warm; the last value is far out of band.
        let long = spec.extract_window(&window(40)).unwrap();
        assert_eq!(long.baseline_secs, Some(525));
        assert!(feature(&spec, &long.row, "cpu_usage.z_last") > 10.0);
        // One of the window's four values is out of band, and the run began at the last value.
        assert_eq!(feature(&spec, &long.row, "cpu_usage.out_of_band"), 0.25);
        assert_eq!(feature(&spec, &long.row, "cpu_usage.secs_out_of_band"), 0.0);
        assert!(feature(&spec, &long.row, "family.cpu.abs_z") > 10.0);
    }

    #[test]
    fn a_window_without_model_columns_is_an_error() {
        let spec = FeatureSpec::window(&names(&["a"]), 60, 15);
        let w = Window {
            target: "ns/x".into(),
            timestamps: vec![0],
            columns: vec![("zzz".into(), vec![1.0])],
            baseline: None,
        };
        let err = spec.extract_window(&w).unwrap_err().to_string();
        assert!(err.contains("zzz") && err.contains("expected: a"), "{err}");
    }
}
