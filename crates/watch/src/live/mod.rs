//! `kubepulse watch`: every step, a fixed number of batched Prometheus queries (one per model column,
//! all targets at once), windows kept incrementally per target, a prediction for every fresh target, its
//! probabilities on `/metrics`, and alerts through Alertmanager with hysteresis.
//!
//! Staleness: a cycle in which any query failed (Prometheus down, slow, 5xx, garbage, or an answer flagged
//! partial with warnings) is *degraded* — every
//! target is observed as stale, which never fires an alert and never resolves one. A target whose newest
//! data is older than `stale_after_secs`, or whose window is less than `min_window_fill` full, is stale too.
//! Stale targets' probabilities are removed from `/metrics` rather than left at their last value.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use crate::alertmanager::AlertOutbox;
use crate::error::WatchError;
use crate::hysteresis::{AlertTracker, Observation, Transition, ValidHysteresis};
use crate::metrics::{TargetLabel, TargetType, WatchMetrics};
use collect::prom::PromClient;
use collect::queries::{QuerySet, Shard};
use learn::LearnError;
use learn::columns::MissingColumns;
use learn::dataset::ColumnKind;
use learn::prediction::{PredictOptions, Prediction};
use learn::window::Window;
use rayon::prelude::*;

mod alerts;
mod buffer;
mod run;

use alerts::Active;
pub use alerts::{ALERT_NAME, likely_issue_type, severity};
use buffer::{BaselineFeed, Buffer};
pub use run::{
    MAX_BACKOFF_SECS, WatchConfig, run, run_configured, run_remediating, serve_metrics, unix_now,
};

/// Each metric's normal band `(low, high)`, `None` where it has none.
type Bands = Vec<Option<(f64, f64)>>;

/// The model's shape as `watch` needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelShape {
    /// Model name (for logs).
    pub name: String,
    /// Model version (for logs).
    pub version: String,
    /// Look-back window, model seconds.
    pub window_secs: i64,
    /// Sample step, model seconds.
    pub step_secs: i64,
    /// Columns a window must carry.
    pub metrics: Vec<String>,
    /// The trailing baseline its features compare windows with (`None`: no baseline features).
    pub baseline: Option<learn::trailing::BaselineSpec>,
    /// The per-target alarm condition chosen with the threshold (`None`: the threshold alone): a
    /// step counts towards firing only when its score also stands out from the target's own scores.
    pub relative: Option<learn::relative::RelativeRule>,
}

/// A model `watch` can predict with (implemented for `learn::ModelBundle`).
pub trait Predictor: Send + Sync {
    /// Window, step and columns.
    fn shape(&self) -> ModelShape;
    /// Predicts for one window, with `options` (evidence, threshold, and what becomes of a model metric
    /// the window lacks).
    fn predict(&self, window: &Window, options: PredictOptions) -> Result<Prediction, LearnError>;
    /// The model's own alarm threshold now, when it can change while watching (a reloaded model
    /// brings its own; see [`WatchOptions::follow_model_threshold`]); `None`: fixed.
    fn threshold(&self) -> Option<f64> {
        None
    }
}

/// How `watch` behaves.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// Columns and target naming.
    pub queries: QuerySet,
    /// Which targets this replica owns.
    pub shard: Shard,
    /// When probabilities become alerts.
    pub hysteresis: ValidHysteresis,
    /// Simulated seconds per wall-clock second (1 on a real cluster; the simulator's `--speed` when
    /// watching an accelerated simulator): queries run at `step / time_scale`, windows are rescaled.
    pub time_scale: f64,
    /// A target whose newest data is older than this (wall seconds) is stale.
    pub stale_after_secs: f64,
    /// Fraction (0–1) of the window's steps that must hold data for a prediction.
    pub min_window_fill: f64,
    /// Re-send a firing alert at least this often (wall seconds).
    pub resend_interval_secs: f64,
    /// Probability at or above which an alert is `critical` (else `warning`).
    pub critical_probability: f64,
    /// An alert whose issue is expected within this many (model) seconds is `critical`.
    pub imminent_secs: f64,
    /// Base URL of this watcher's UI (e.g. its external URL); alerts link to `<base>/ui/#/target/<name>`
    /// as `dashboard_url`. Empty = no link.
    pub dashboard_url: String,
    /// Runbook link in the alerts' annotations.
    pub runbook_url: String,
    /// `generatorURL` of the alerts (e.g. this replica's `/metrics` URL); empty = none.
    pub generator_url: String,
    /// What becomes of a model metric the query set does not define: an error naming it (default), or
    /// [`MissingColumns::Nan`]: never queried, predicted on as missing values throughout (for a model
    /// trained with missing values; `kubepulse watch --missing-columns nan`).
    pub missing_columns: MissingColumns,
    /// Alert thresholds follow the model's own threshold when it changes (a hot-reloaded model,
    /// [`Predictor::threshold`]), keeping the off/on ratio: on when the thresholds were not set by hand.
    pub follow_model_threshold: bool,
}

impl WatchOptions {
    /// Defaults for a model with `step_secs`: stale after 3 steps, half-full windows, re-send every minute.
    pub fn new(queries: QuerySet, hysteresis: ValidHysteresis, step_secs: i64) -> Self {
        WatchOptions {
            queries,
            shard: Shard::ALL,
            hysteresis,
            time_scale: 1.0,
            stale_after_secs: 3.0 * step_secs as f64,
            min_window_fill: 0.5,
            resend_interval_secs: 60.0,
            critical_probability: 0.9,
            imminent_secs: 120.0,
            dashboard_url: String::new(),
            runbook_url: "https://github.com/kubepulse/kubepulse/blob/main/docs/watch.md#runbook"
                .into(),
            generator_url: String::new(),
            missing_columns: MissingColumns::Error,
            follow_model_threshold: false,
        }
    }
}

/// What one cycle did (for logs and tests).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CycleReport {
    /// Evaluation time (wall unix seconds, aligned to the query step).
    pub at: f64,
    /// Queries sent.
    pub queries: usize,
    /// Queries that failed.
    pub query_errors: usize,
    /// Targets owned by this replica.
    pub targets: usize,
    /// Targets predicted from fresh data.
    pub predicted: usize,
    /// Targets stale or missing.
    pub stale: usize,
    /// Alerts that started firing.
    pub fired: Vec<String>,
    /// Alerts resolved.
    pub resolved: Vec<String>,
    /// Every alert message this cycle sent (fired, refreshed, resolved), in target order.
    pub alerts: Vec<crate::alertmanager::Alert>,
    /// Wall seconds spent querying Prometheus and filling the windows.
    pub fetch_secs: f64,
    /// Wall seconds spent predicting (all targets, in parallel).
    pub predict_secs: f64,
}

/// The watch loop's state between cycles.
pub struct Watcher {
    client: PromClient,
    predictor: Arc<dyn Predictor>,
    opts: WatchOptions,
    shape: ModelShape,
    /// One query per model metric the query set defines: `(model column index, name, PromQL)`, model order.
    columns: Vec<(usize, String, String)>,
    /// Model metrics the query set lacks, fed as missing values (`MissingColumns::Nan`), model order.
    nan_columns: Vec<String>,
    query_step: f64,
    window_points: usize,
    buffers: HashMap<String, Buffer>,
    feed: Option<BaselineFeed>,
    last_end: Option<f64>,
    tracker: AlertTracker,
    active: HashMap<String, Active>,
    metrics: Arc<WatchMetrics>,
    outbox: Option<AlertOutbox>,
    exported: HashMap<String, Vec<String>>,
    last_data: HashMap<String, f64>,
    prom_warning: crate::throttle::Throttle,
    /// The UI's history of every target, fed each cycle (when the UI is served).
    fleet: Option<Arc<ui::FleetHistory>>,
    /// Each target's own score history, for the model's per-target condition (O(1) per target).
    scores: HashMap<String, learn::relative::ScoreHistory>,
    /// The remediation agent (`--remediate`), fed each cycle's fresh windows and predictions.
    remediation: Option<remediate::live::LiveAgent>,
    /// Wall time of the first cycle: the cluster clock is `origin + (end - origin) × time_scale`.
    clock_origin: Option<f64>,
}

impl Watcher {
    /// Checks that the query set defines every column the model needs and sets up the state.
    pub fn new(
        client: PromClient,
        predictor: Arc<dyn Predictor>,
        opts: WatchOptions,
        metrics: Arc<WatchMetrics>,
        outbox: Option<AlertOutbox>,
    ) -> Result<Self, WatchError> {
        let shape = predictor.shape();
        if shape.step_secs <= 0 || shape.window_secs < shape.step_secs {
            return Err(WatchError::Model(format!(
                "model {} has an unusable window ({} s) or step ({} s)",
                shape.name, shape.window_secs, shape.step_secs
            )));
        }
        if !(opts.time_scale > 0.0 && opts.time_scale.is_finite()) {
            return Err(WatchError::Invalid(format!(
                "time scale must be positive, not {}",
                opts.time_scale
            )));
        }
        let query_step = shape.step_secs as f64 / opts.time_scale;
        if query_step < 0.001 {
            return Err(WatchError::Invalid(format!(
                "the query step {query_step} s is below Prometheus' 1 ms resolution"
            )));
        }
        let feed = shape.baseline.map(|spec| BaselineFeed {
            spec,
            kinds: shape.metrics.iter().map(|m| ColumnKind::of(m)).collect(),
            step_secs: shape.step_secs,
        });
        // The model's columns found in the query set by name, as everywhere a model meets data.
        let defined: Vec<&str> = opts
            .queries
            .columns
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        let map = learn::columns::ColumnMap::default().with_missing(opts.missing_columns);
        let resolution = learn::columns::resolve(&shape.metrics, &defined, &map).map_err(|e| {
            WatchError::Model(format!(
                "model {}: the query set does not fit: {e}",
                shape.name
            ))
        })?;
        if !resolution.nan.is_empty() {
            tracing::warn!(
                model = %shape.name,
                "the query set lacks {} of the model's {} columns, predicted on as missing values \
                 throughout (--missing-columns nan): {}",
                resolution.nan.len(),
                shape.metrics.len(),
                learn::quote::names(&resolution.nan)
            );
        }
        let range = format!(
            "{}ms",
            (f64::from(opts.queries.rate_window_steps) * query_step * 1000.0).round() as i64
        );
        // Every model metric has its query here, but those fed as missing values.
        let columns: Vec<(usize, String, String)> = resolution
            .index
            .iter()
            .enumerate()
            .filter_map(|(m, i)| i.map(|i| (m, i)))
            .map(|(m, i)| {
                let c = &opts.queries.columns[i];
                (m, c.name.clone(), c.query.replace("$RANGE", &range))
            })
            .collect();
        let window_points = (shape.window_secs / shape.step_secs) as usize;
        Ok(Watcher {
            client,
            predictor,
            tracker: AlertTracker::new(opts.hysteresis.clone()),
            opts,
            shape,
            columns,
            nan_columns: resolution.nan,
            query_step,
            window_points: window_points.max(1),
            buffers: HashMap::new(),
            feed,
            last_end: None,
            active: HashMap::new(),
            metrics,
            outbox,
            exported: HashMap::new(),
            last_data: HashMap::new(),
            prom_warning: crate::throttle::Throttle::new(std::time::Duration::from_secs(60)),
            fleet: None,
            scores: HashMap::new(),
            remediation: None,
            clock_origin: None,
        })
    }

    /// Hands every cycle's fresh windows and predictions to a remediation agent from now on.
    pub fn set_remediation(&mut self, agent: remediate::live::LiveAgent) {
        self.remediation = Some(agent);
    }

    /// Feeds `fleet` (the UI's history) every cycle from now on.
    pub fn set_fleet(&mut self, fleet: Arc<ui::FleetHistory>) {
        self.fleet = Some(fleet);
    }

    /// With [`WatchOptions::follow_model_threshold`], moves the alert thresholds to the model's own
    /// when it changed (a reloaded model), keeping the off/on ratio.
    fn follow_threshold(&mut self) {
        if !self.opts.follow_model_threshold {
            return;
        }
        let Some(on) = self.predictor.threshold() else {
            return;
        };
        let params = self.opts.hysteresis.params();
        if on == params.on_threshold || !(on > 0.0 && on <= 1.0) {
            return;
        }
        let ratio = params.off_threshold / params.on_threshold;
        let moved = crate::hysteresis::Hysteresis {
            on_threshold: on,
            off_threshold: on * ratio,
            ..params.clone()
        };
        match moved.check() {
            Ok(valid) => {
                tracing::info!(
                    on_threshold = on,
                    off_threshold = on * ratio,
                    "the model's threshold changed: alert thresholds follow it"
                );
                self.tracker.set_params(valid.clone());
                self.opts.hysteresis = valid;
            }
            Err(e) => {
                tracing::warn!(error = %e, "the reloaded model's threshold is unusable; keeping the old one")
            }
        }
    }

    /// The model's window, step and columns.
    pub fn shape(&self) -> &ModelShape {
        &self.shape
    }

    /// Wall seconds between cycles (the model step divided by the time scale).
    pub fn query_step_secs(&self) -> f64 {
        self.query_step
    }

    /// Queries one cycle sends: one per model column the query set defines, whatever the number of
    /// targets.
    pub fn queries_per_cycle(&self) -> usize {
        self.columns.len()
    }

    /// Model metrics the query set lacks, predicted on as missing values (`MissingColumns::Nan`), model
    /// order; empty with the default.
    pub fn nan_columns(&self) -> &[String] {
        &self.nan_columns
    }

    /// Runs one cycle at wall time `now` (unix seconds).
    pub async fn cycle(&mut self, now: f64) -> CycleReport {
        let started = Instant::now();
        self.follow_threshold();
        let step = self.query_step;
        let end = (now / step).floor() * step;
        let span = (self.window_points - 1) as f64 * step;
        let start = match self.last_end {
            Some(last) => last.max(end - span),
            None => end - span,
        };
        let mut report = CycleReport {
            at: end,
            queries: self.columns.len(),
            ..CycleReport::default()
        };

        // Rows leave the window (into the targets' baselines, oldest first) before new ones arrive.
        let oldest_kept = ((end - span) / step).round() as i64;
        let feed = self.feed.as_ref();
        self.buffers
            .values_mut()
            .for_each(|b| _ = b.trim_before(oldest_kept, feed));
        let first_error = self.fetch(start, end, &mut report).await;
        self.metrics.query_errors.inc_by(report.query_errors as u64);
        self.metrics.cycle_done(report.queries, report.query_errors);
        let degraded = report.query_errors > 0;
        // While Prometheus is down every cycle fails alike: one warning a minute, and one line when it
        // answers again.
        match first_error {
            Some(error) => {
                if let Some(suppressed) = self.prom_warning.occurrence(Instant::now()) {
                    tracing::warn!(failed = report.query_errors, queries = report.queries,
                        suppressed_cycles = suppressed, %error,
                        "Prometheus queries failed; no alert fires or resolves from this cycle");
                }
            }
            None => {
                if let Some(suppressed) = self.prom_warning.recovered() {
                    tracing::info!(suppressed_cycles = suppressed, "Prometheus answers again");
                }
            }
        }
        if !degraded {
            self.last_end = Some(end);
        }

        let feed = self.feed.as_ref();
        self.buffers.retain(|_, b| b.trim_before(oldest_kept, feed));
        report.fetch_secs = started.elapsed().as_secs_f64();
        let buffers = &self.buffers;
        self.tracker
            .retain_targets(&|t: &str| buffers.contains_key(t));
        self.scores.retain(|t, _| buffers.contains_key(t));

        let (targets, fresh, worst_age) = self.freshness(end, span, degraded);
        report.targets = targets.len();
        // Predictions are independent per target: in parallel, results in `targets` order.
        let predict_started = Instant::now();
        let forecasts = self.predict_all(&targets, &fresh, end);
        report.predict_secs = predict_started.elapsed().as_secs_f64();
        let mut alerts = Vec::new();
        let mut seen: Vec<(Option<Prediction>, ui::AlertState)> = Vec::new();
        let mut predicted: Vec<(Window, Prediction)> = Vec::new();
        for (target, forecast) in targets.iter().zip(forecasts) {
            let observation = forecast.map(|(window, p)| {
                if self.remediation.is_some() {
                    predicted.push((window, p.clone()));
                }
                p
            });
            match &observation {
                Some(f) => {
                    report.predicted += 1;
                    self.export(target, f);
                }
                None => {
                    report.stale += 1;
                    self.unexport(target);
                }
            }
            let obs = match &observation {
                Some(f) => self.judge(target, end, f.issue_probability),
                None => Observation::Stale,
            };
            let transition = self
                .tracker
                .observe(target, end * self.opts.time_scale, obs);
            let sent = self.alert_for(target, transition, observation.as_ref(), now);
            if !sent.is_empty() {
                match transition {
                    Transition::Fire => report.fired.push(target.clone()),
                    Transition::Resolve => report.resolved.push(target.clone()),
                    _ => {}
                }
                alerts.extend(sent);
            }
            if self.fleet.is_some() {
                let state = match &observation {
                    None => ui::AlertState::Stale,
                    Some(_) if self.alert_in_progress(target, now) => ui::AlertState::InProgress,
                    Some(_) if self.tracker.is_firing(target) => ui::AlertState::Firing,
                    Some(_) => ui::AlertState::Ok,
                };
                seen.push((observation, state));
            }
        }
        if let Some(fleet) = &self.fleet {
            self.record_fleet(fleet, end, &targets, &seen);
        }
        if self.remediation.is_some() {
            self.remediate(end, predicted).await;
        }
        self.metrics.targets.set(report.targets as i64);
        self.metrics.stale_targets.set(report.stale as i64);
        let staleness = if degraded && report.targets == 0 {
            self.last_end.map_or(0.0, |l| end - l)
        } else {
            worst_age
        };
        self.metrics.data_staleness.set(staleness);
        report.alerts = alerts.clone();
        if !alerts.is_empty() {
            match &self.outbox {
                Some(outbox) => outbox.send(alerts),
                None => {
                    for a in &alerts {
                        tracing::info!(target = %a.labels.get("target").map_or("", |s| s), resolved = a.resolved,
                            summary = %a.annotations.get("summary").map_or("", |s| s), "alert (no --alertmanager given)");
                    }
                }
            }
        }
        self.metrics
            .cycle_duration
            .observe(started.elapsed().as_secs_f64());
        self.metrics.heartbeat.set(now);
        self.metrics
            .sends_alerts
            .set(i64::from(self.outbox.is_some()));
        report
    }

    /// One range query per model column, all targets at once, folded into the targets' rings;
    /// failed and partial answers are counted in `report.query_errors`, the first one returned.
    async fn fetch(&mut self, start: f64, end: f64, report: &mut CycleReport) -> Option<String> {
        let mut first_error: Option<String> = None;
        let step = self.query_step;
        let mut set = tokio::task::JoinSet::new();
        for (col, (_, _, promql)) in self.columns.iter().enumerate() {
            let client = self.client.clone();
            let promql = promql.clone();
            set.spawn(async move {
                (
                    col,
                    client.query_range_answer(&promql, start, end, step).await,
                )
            });
        }
        // Rings hold every model metric in model order (the baseline's order); unqueried ones stay NaN.
        let n_cols = self.shape.metrics.len();
        let window_points = self.window_points;
        let feed = self.feed.as_ref();
        while let Some(joined) = set.join_next().await {
            let (col, result) = match joined {
                Ok(x) => x,
                Err(e) => {
                    tracing::debug!(error = %e, "query task failed");
                    report.query_errors += 1;
                    first_error.get_or_insert_with(|| format!("query task: {e}"));
                    continue;
                }
            };
            match result {
                Ok(answer) if !answer.warnings.is_empty() => {
                    // A partial answer (a Thanos/Mimir store missing): as good as a failure for alerting.
                    report.query_errors += 1;
                    tracing::debug!(column = %self.columns[col].1, warnings = ?answer.warnings,
                        "partial answer; this cycle's data is incomplete");
                    first_error.get_or_insert_with(|| {
                        format!(
                            "{}: partial answer {:?}",
                            self.columns[col].1, answer.warnings
                        )
                    });
                }
                Ok(answer) => {
                    for s in answer.series {
                        let Some(target) = self.opts.queries.target.target_of(&s.labels) else {
                            continue;
                        };
                        if !self.opts.shard.owns(&target) {
                            continue;
                        }
                        let buffer = self
                            .buffers
                            .entry(target)
                            .or_insert_with(|| Buffer::new(window_points, n_cols, feed));
                        let slot = self.columns[col].0;
                        for (t, v) in s.samples {
                            buffer.upsert((t / step).round() as i64, slot, v);
                        }
                    }
                }
                Err(e) => {
                    report.query_errors += 1;
                    tracing::debug!(column = %self.columns[col].1, error = %e, "query failed; this cycle's data is incomplete");
                    first_error.get_or_insert_with(|| format!("{}: {e}", self.columns[col].1));
                }
            }
        }
        first_error
    }

    /// Every known target (sorted), whether each is fresh enough to predict, and the worst data age.
    fn freshness(&mut self, end: f64, span: f64, degraded: bool) -> (Vec<String>, Vec<bool>, f64) {
        let step = self.query_step;
        for (target, buffer) in &self.buffers {
            if let Some(k) = buffer.newest_with_data() {
                self.last_data.insert(target.clone(), k as f64 * step);
            }
        }
        // Targets whose data vanished stay known (stale) for a while, and as long as their alert fires.
        let forget_before = end - span - 10.0 * self.opts.stale_after_secs;
        let active = &self.active;
        self.last_data
            .retain(|t, seen| *seen >= forget_before || active.contains_key(t));
        let mut targets: Vec<String> = self.last_data.keys().cloned().collect();
        for t in self.buffers.keys().chain(self.active.keys()) {
            if !self.last_data.contains_key(t) {
                targets.push(t.clone());
            }
        }
        targets.sort();
        targets.dedup();
        let mut worst_age: f64 = 0.0;
        let mut fresh = Vec::with_capacity(targets.len());
        for target in &targets {
            let age = self
                .last_data
                .get(target)
                .map_or(f64::INFINITY, |t| (end - t).max(0.0));
            let filled = self.buffers.get(target).map_or(0, Buffer::filled);
            fresh.push(
                !degraded
                    && age <= self.opts.stale_after_secs
                    && filled as f64 >= self.opts.min_window_fill * self.window_points as f64,
            );
            if age.is_finite() {
                worst_age = worst_age.max(age);
            }
        }
        (targets, fresh, worst_age)
    }

    /// Runs the remediation agent on this cycle's fresh windows, at the cluster's time; audits and counts
    /// its decisions.
    async fn remediate(&mut self, end: f64, mut predicted: Vec<(Window, Prediction)>) {
        let origin = *self.clock_origin.get_or_insert(end);
        let now = (origin + (end - origin) * self.opts.time_scale).round() as i64;
        // Window timestamps end at `end` and are spaced in cluster seconds: shift them to end at `now`.
        let offset = now - end.round() as i64;
        for (w, _) in &mut predicted {
            w.timestamps.iter_mut().for_each(|t| *t += offset);
        }
        let Some(agent) = self.remediation.as_mut() else {
            return;
        };
        match agent.cycle(now, &predicted).await {
            Ok(audited) => {
                for a in audited {
                    let (outcome, action, reason) = a.labels;
                    self.metrics
                        .remediation_decisions
                        .get_or_create(&crate::metrics::DecisionLabel {
                            outcome,
                            action,
                            reason,
                        })
                        .inc();
                    tracing::info!(target: "kubepulse::remediation", decision = %a.line, "remediation decision");
                    if let Some(w) = &a.warning {
                        tracing::warn!(error = %w, "remediation: the decision could not be recorded in the cluster or in the mitigated file");
                    }
                }
            }
            Err(e) => {
                self.metrics.remediation_state_errors.inc();
                tracing::warn!(error = %e, "remediation: cannot read the cluster; nothing decided this cycle");
            }
        }
    }

    /// Predicts for every fresh target, in parallel; results in `targets` order (`None`: stale or failed).
    fn predict_all(
        &self,
        targets: &[String],
        fresh: &[bool],
        end: f64,
    ) -> Vec<Option<(Window, Prediction)>> {
        targets
            .par_iter()
            .zip(fresh)
            .map(|(target, &fresh)| {
                if !fresh {
                    return None;
                }
                match self.predict(target, end) {
                    Ok(f) => Some(f),
                    Err(e) => {
                        tracing::warn!(target = %target, error = %e, "prediction failed; treating the target as stale");
                        None
                    }
                }
            })
            .collect()
    }

    /// A fresh probability as the alert tracker sees it: under the model's per-target condition, a
    /// score usual for this target (judged against its own history, which the score then joins)
    /// never counts towards firing.
    fn judge(&mut self, target: &str, end: f64, p: f64) -> Observation {
        let Some(rule) = self.shape.relative else {
            return Observation::Fresh(p);
        };
        let history = self.scores.entry(target.to_string()).or_default();
        let passes = rule.passes(history, p);
        // The model's clock: cycles `step` apart are `step × time_scale` model seconds apart.
        history.push(&rule, (end * self.opts.time_scale).round() as i64, p);
        if passes {
            Observation::Fresh(p)
        } else {
            Observation::Usual(p)
        }
    }

    fn predict(&self, target: &str, end: f64) -> Result<(Window, Prediction), LearnError> {
        let buffer = self
            .buffers
            .get(target)
            .ok_or_else(|| LearnError::Window("no data".to_string()))?;
        let scale = self.opts.time_scale;
        let step = self.query_step;
        let held = buffer.ordered();
        let timestamps: Vec<i64> = held
            .iter()
            .map(|&(k, _)| (end - (end - k as f64 * step) * scale).round() as i64)
            .collect();
        let columns = self
            .columns
            .iter()
            .map(|(m, name, _)| {
                let values = held.iter().map(|&(_, slot)| buffer.row(slot)[*m]).collect();
                (name.clone(), values)
            })
            .collect();
        let window = Window {
            target: target.to_string(),
            timestamps,
            columns,
            baseline: buffer.baseline().cloned(),
        };
        let options = PredictOptions {
            missing: self.opts.missing_columns,
            ..PredictOptions::default()
        };
        let mut forecast = self.predictor.predict(&window, options)?;
        if let Some(eta) = forecast.time_to_issue_seconds.as_mut() {
            // Model seconds → the same seconds (the ETA is reported in the cluster's own time).
            *eta = eta.max(0.0);
        }
        Ok((window, forecast))
    }

    fn export(&mut self, target: &str, f: &Prediction) {
        let exported = self.exported.entry(target.to_string()).or_default();
        for (issue_type, p) in &f.probabilities {
            self.metrics
                .issue_probability
                .get_or_create(&TargetType {
                    target: target.to_string(),
                    issue_type: issue_type.clone(),
                })
                .set(*p);
            if !exported.contains(issue_type) {
                exported.push(issue_type.clone());
            }
        }
        let label = TargetLabel {
            target: target.to_string(),
        };
        match f.time_to_issue_seconds {
            Some(eta) => {
                self.metrics.time_to_issue.get_or_create(&label).set(eta);
            }
            None => {
                self.metrics.time_to_issue.remove(&label);
            }
        }
    }

    /// Records the cycle in the UI's history: each target's prediction and state, its newest row and
    /// its baseline band (models with baseline features).
    fn record_fleet(
        &self,
        fleet: &ui::FleetHistory,
        end: f64,
        targets: &[String],
        seen: &[(Option<Prediction>, ui::AlertState)],
    ) {
        let rows: Vec<(Option<Vec<f64>>, Option<Bands>)> = targets
            .iter()
            .map(|t| {
                let Some(buffer) = self.buffers.get(t) else {
                    return (None, None);
                };
                let row = buffer
                    .ordered()
                    .last()
                    .map(|&(_, slot)| buffer.row(slot).to_vec());
                let band = match (&self.feed, buffer.baseline()) {
                    (Some(feed), Some(baseline)) => Some(
                        (0..self.shape.metrics.len())
                            .map(|m| {
                                (feed.kinds[m] == ColumnKind::Gauge)
                                    .then(|| baseline.metric(m).reference(&feed.spec))
                                    .flatten()
                                    .map(|(mean, sd)| {
                                        (mean - feed.spec.band * sd, mean + feed.spec.band * sd)
                                    })
                            })
                            .collect(),
                    ),
                    _ => None,
                };
                (row, band)
            })
            .collect();
        fleet.record_cycle(
            end.round() as i64,
            targets
                .iter()
                .zip(seen)
                .zip(&rows)
                .map(|((target, (p, state)), (row, band))| ui::Observation {
                    target,
                    prediction: p.as_ref(),
                    state: *state,
                    incident_type: None,
                    metrics: row.as_deref(),
                    band: band.as_deref(),
                }),
        );
        let known: std::collections::HashSet<&str> = targets.iter().map(String::as_str).collect();
        fleet.retain(|t| known.contains(t));
    }

    /// Removes a stale target's series: a stale probability must not look current.
    fn unexport(&mut self, target: &str) {
        for issue_type in self.exported.remove(target).unwrap_or_default() {
            self.metrics.issue_probability.remove(&TargetType {
                target: target.to_string(),
                issue_type,
            });
        }
        self.metrics.time_to_issue.remove(&TargetLabel {
            target: target.to_string(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hysteresis::Hysteresis;
    use std::sync::Mutex;

    /// The embedded model with a threshold the test moves (as a reload would).
    struct Moving(learn::bundle::ModelBundle, Mutex<f64>);

    impl Predictor for Moving {
        fn shape(&self) -> ModelShape {
            self.0.shape()
        }
        fn predict(&self, w: &Window, o: PredictOptions) -> Result<Prediction, LearnError> {
            self.0.predict(w, o)
        }
        fn threshold(&self) -> Option<f64> {
            Some(*self.1.lock().unwrap())
        }
    }

    fn watcher(follow: bool, predictor: Arc<Moving>) -> Watcher {
        let hysteresis = Hysteresis {
            on_threshold: 0.5,
            off_threshold: 0.3,
            consecutive_on: 2,
            consecutive_off: 2,
            cooldown_secs: 0.0,
        }
        .check()
        .unwrap();
        let mut opts = WatchOptions::new(QuerySet::builtin().unwrap(), hysteresis, 15);
        opts.follow_model_threshold = follow;
        let client = PromClient::new(collect::prom::PromConfig::new("http://127.0.0.1:9")).unwrap();
        Watcher::new(client, predictor, opts, Arc::new(WatchMetrics::new()), None).unwrap()
    }

    #[test]
    fn alert_thresholds_follow_a_reloaded_model_unless_set_by_hand() {
        let model = Arc::new(Moving(
            learn::bundle::ModelBundle::embedded().unwrap(),
            Mutex::new(0.5),
        ));
        let mut follows = watcher(true, model.clone());
        let mut fixed = watcher(false, model.clone());
        *model.1.lock().unwrap() = 0.25;
        follows.follow_threshold();
        fixed.follow_threshold();
        let p = follows.opts.hysteresis.params();
        assert_eq!((p.on_threshold, p.off_threshold), (0.25, 0.25 * 0.6));
        assert_eq!(follows.tracker.params(), p);
        assert_eq!(fixed.opts.hysteresis.params().on_threshold, 0.5);
        // An unusable threshold is ignored.
        *model.1.lock().unwrap() = f64::NAN;
        follows.follow_threshold();
        assert_eq!(follows.opts.hysteresis.params().on_threshold, 0.25);
    }
}
