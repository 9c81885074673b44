//! `kubepulse doctor`: what a Prometheus holds of the data a model needs, and what the model will miss.
//!
//! For every exporter series the query set reads (the metric names in its PromQL): present or not, how
//! many series, the scrape interval it observes (`600 s / count_over_time(series[10m])`, the median over
//! its series) and how much history it keeps (the oldest moment, at the resolution of a subquery over
//! [`DoctorOptions::history_secs`]). For every column: how many targets it answers for. For every
//! kube-state-metrics label rule: readable (its series present, its query accepted); Kubernetes label
//! sources are checked by the caller (crate `cluster` builds on this one) and passed in. Then, against a
//! model's columns and features: which columns and features will be empty, which exporters to install,
//! and whether the model is **blind** (see [`BLIND_RULE`]).
//!
//! Every query is an instant query at [`DoctorOptions::at`]; a failed query is reported on its line,
//! never aborts the check (only an unreachable Prometheus does).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;

use crate::error::CollectError;
use crate::prom::{PromClient, PromError};
use crate::queries::QuerySet;

/// The rule that makes a model blind, stated once for the report, the docs and the exit code.
pub const BLIND_RULE: &str = "the model is blind when fewer than half of its metric columns answer for \
     at least one target, or when no target answers any of them";

/// Series an exporter writes only once something happened (kube-state-metrics keeps a container's last
/// termination reason only after its first termination): absent from a healthy cluster, so their absence
/// does not make a label rule unreadable.
pub const EVENT_ONLY_SERIES: &[&str] = &["kube_pod_container_status_last_terminated_reason"];

/// Window over which samples are counted to measure the scrape interval, seconds.
const INTERVAL_WINDOW_SECS: i64 = 600;
/// Subquery steps over the history window (its resolution is `history_secs / this`).
const HISTORY_STEPS: i64 = 720;

/// What a model needs: its metric columns, its features and its sampling.
#[derive(Debug, Clone, Serialize)]
pub struct ModelNeeds {
    /// Model name and version, for the report.
    pub name: String,
    /// Metric columns, in model order.
    pub metrics: Vec<String>,
    /// Feature names, in vector order.
    pub features: Vec<String>,
    /// Sample step the model was trained at, seconds.
    pub step_secs: i64,
    /// Look-back window, seconds (a target needs this much history to be predicted at all).
    pub window_secs: i64,
}

impl ModelNeeds {
    /// The needs of a model bundle's window model.
    pub fn of(bundle: &learn::bundle::ModelBundle) -> Self {
        let info = bundle.info();
        ModelNeeds {
            name: format!("{} {}", info.name, info.version),
            metrics: info.metrics.clone(),
            features: bundle.window_model().meta.feature_names.clone(),
            step_secs: info.step_secs,
            window_secs: info.window_secs,
        }
    }
}

/// A label source checked by the caller (Kubernetes events, Chaos Mesh).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelSourceCheck {
    /// Source name (`kube-events`, `chaos-mesh`, `rule:<issue_type>/<detail>`).
    pub source: String,
    /// `Some(true)` readable, `Some(false)` not readable, `None` not checked.
    pub readable: Option<bool>,
    /// What was found, or why not.
    pub detail: String,
}

/// What to check.
#[derive(Debug, Clone)]
pub struct DoctorOptions {
    /// Columns, label rules and target naming.
    pub queries: QuerySet,
    /// The model judged.
    pub model: ModelNeeds,
    /// Evaluation time, unix seconds (`None`: the server's now).
    pub at: Option<f64>,
    /// How far back to look for the oldest sample, seconds.
    pub history_secs: i64,
    /// Label sources the caller checked (Kubernetes events, Chaos Mesh).
    pub label_sources: Vec<LabelSourceCheck>,
}

/// One exporter series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesCheck {
    /// Metric name.
    pub name: String,
    /// The exporter that usually provides it.
    pub exporter: &'static str,
    /// Series at the evaluation time (0 = absent).
    pub series: usize,
    /// Median scrape interval observed over the last 10 minutes, seconds.
    pub scrape_interval_secs: Option<f64>,
    /// Oldest moment with data within the history window, unix seconds.
    pub oldest: Option<f64>,
    /// History held (evaluation time − oldest), seconds.
    pub history_secs: Option<f64>,
    /// A query that failed, if any.
    pub error: Option<String>,
    /// Written only after an event ([`EVENT_ONLY_SERIES`]): its absence is normal.
    pub event_only: bool,
}

/// One dataset column.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColumnCheck {
    /// Column name.
    pub name: String,
    /// Targets it answers for at the evaluation time.
    pub targets: usize,
    /// The exporter series its PromQL reads.
    pub series: Vec<String>,
    /// Those of them that are absent.
    pub missing_series: Vec<String>,
    /// Largest scrape interval of its series, seconds.
    pub scrape_interval_secs: Option<f64>,
    /// Shortest history of its series, seconds.
    pub history_secs: Option<f64>,
    /// Whether the model reads it.
    pub in_model: bool,
    /// The query's error, if it failed.
    pub error: Option<String>,
}

/// An exporter to install, and what it would give the model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExporterAdvice {
    /// Exporter name.
    pub exporter: &'static str,
    /// Its absent series.
    pub missing_series: Vec<String>,
    /// The model columns they would fill.
    pub columns: Vec<String>,
}

/// The verdict against the model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelCheck {
    /// Model name and version.
    pub name: String,
    /// Model metric columns.
    pub metrics: usize,
    /// Model columns with data for at least one target.
    pub metrics_with_data: usize,
    /// Model columns with no data for any target (their features will be empty: missing values).
    pub empty_metrics: Vec<String>,
    /// Model columns the query set does not define at all.
    pub undefined_metrics: Vec<String>,
    /// Features of the model.
    pub features: usize,
    /// Features computed only from the empty columns.
    pub empty_features: Vec<String>,
    /// Whether the model is blind ([`BLIND_RULE`]).
    pub blind: bool,
}

/// Everything `doctor` found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DoctorReport {
    /// Prometheus base URL.
    pub prometheus: String,
    /// Evaluation time, unix seconds (as Prometheus answered it).
    pub at: Option<f64>,
    /// Distinct targets over all columns.
    pub targets: usize,
    /// Per exporter series, sorted by name.
    pub series: Vec<SeriesCheck>,
    /// Per column, in query-set order.
    pub columns: Vec<ColumnCheck>,
    /// Label sources: the query set's rules, then the caller's.
    pub label_sources: Vec<LabelSourceCheck>,
    /// Exporters whose series are missing, with the model columns they would fill.
    pub install: Vec<ExporterAdvice>,
    /// The model verdict.
    pub model: ModelCheck,
    /// Things to fix or know, one sentence each.
    pub findings: Vec<String>,
    /// [`BLIND_RULE`].
    pub blind_rule: &'static str,
}

/// The exporter that usually provides a metric, by its name's prefix.
pub fn exporter_of(metric: &str) -> &'static str {
    const PREFIXES: &[(&str, &str)] = &[
        ("container_", "cAdvisor (the kubelet's /metrics/cadvisor)"),
        ("kube_", "kube-state-metrics"),
        ("node_", "node-exporter"),
        ("istio_", "Istio (sidecar or ambient telemetry)"),
    ];
    PREFIXES
        .iter()
        .find(|(p, _)| metric.starts_with(p))
        .map_or("an exporter of your own", |(_, e)| e)
}

/// The metric names a PromQL expression selects, in order of first appearance: identifiers that are not
/// functions, aggregations, keywords, label names (inside `{}` or after `by`/`on`/…) or durations.
pub fn promql_metrics(promql: &str) -> Vec<String> {
    const KEYWORDS: &[&str] = &[
        "and",
        "or",
        "unless",
        "bool",
        "offset",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "inf",
        "nan",
        "sum",
        "min",
        "max",
        "avg",
        "count",
        "stddev",
        "stdvar",
        "topk",
        "bottomk",
        "quantile",
        "count_values",
        "group",
    ];
    const LABEL_LISTS: &[&str] = &[
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    ];
    let bytes = promql.as_bytes();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    let mut braces = 0usize;
    let mut brackets = 0usize;
    let mut skip_label_list = false;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'"' | b'\'' | b'`' => {
                i += 1;
                while i < bytes.len() && bytes[i] != c {
                    if bytes[i] == b'\\' && c != b'`' {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
            }
            b'{' => {
                braces += 1;
                i += 1;
            }
            b'}' => {
                braces = braces.saturating_sub(1);
                i += 1;
            }
            b'[' => {
                brackets += 1;
                i += 1;
            }
            b']' => {
                brackets = brackets.saturating_sub(1);
                i += 1;
            }
            b'(' if skip_label_list => {
                skip_label_list = false;
                while i < bytes.len() && bytes[i] != b')' {
                    i += 1;
                }
                i += 1;
            }
            _ if c.is_ascii_digit() => {
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'.') {
                    i += 1;
                }
            }
            _ if c.is_ascii_alphabetic() || c == b'_' || c == b':' => {
                let start = i;
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b':')
                {
                    i += 1;
                }
                let word = &promql[start..i];
                let next = promql[i..].trim_start().as_bytes().first().copied();
                let lower = word.to_ascii_lowercase();
                if LABEL_LISTS.contains(&lower.as_str()) {
                    skip_label_list = true;
                    continue;
                }
                // A word not followed by `(` cancels a pending label list (`group_left` may have none).
                skip_label_list = false;
                if braces > 0
                    || brackets > 0
                    || next == Some(b'(')
                    || KEYWORDS.contains(&lower.as_str())
                    || word.starts_with('$')
                {
                    continue;
                }
                if !out.iter().any(|m| m == word) {
                    out.push(word.to_string());
                }
            }
            b'$' => {
                // `$RANGE` and friends: template variables, not metrics.
                i += 1;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    out
}

/// Runs every check against `client` and judges the model.
pub async fn doctor(
    client: &PromClient,
    opts: &DoctorOptions,
) -> Result<DoctorReport, CollectError> {
    if opts.history_secs <= 0 {
        return Err(CollectError::Invalid(format!(
            "the history window must be positive, not {} s",
            opts.history_secs
        )));
    }
    let q = &opts.queries;
    let step = opts.model.step_secs.max(1);
    let mut series_names: BTreeSet<String> = BTreeSet::new();
    let column_series: Vec<Vec<String>> =
        q.columns.iter().map(|c| promql_metrics(&c.query)).collect();
    let rule_series: Vec<Vec<String>> = q.labels.iter().map(|r| promql_metrics(&r.query)).collect();
    for names in column_series.iter().chain(&rule_series) {
        series_names.extend(names.iter().cloned());
    }

    // The exporter series, concurrently (the client bounds the requests in flight).
    let mut set = tokio::task::JoinSet::new();
    for name in series_names {
        let client = client.clone();
        let (at, history) = (opts.at, opts.history_secs);
        set.spawn(async move { check_series(&client, name, at, history).await });
    }
    let mut series: Vec<SeriesCheck> = Vec::new();
    let mut at = opts.at;
    while let Some(joined) = set.join_next().await {
        let (check, answered_at) = joined
            .map_err(|e| CollectError::Invalid(format!("a doctor query task failed: {e}")))??;
        at = at.or(answered_at);
        series.push(check);
    }
    series.sort_by(|a, b| a.name.cmp(&b.name));
    let by_name: BTreeMap<&str, &SeriesCheck> =
        series.iter().map(|s| (s.name.as_str(), s)).collect();

    // The columns, each query once for all targets.
    let model_metrics: BTreeSet<&str> = opts.model.metrics.iter().map(String::as_str).collect();
    let mut all_targets: BTreeSet<String> = BTreeSet::new();
    let mut columns = Vec::new();
    for (c, names) in q.columns.iter().zip(&column_series) {
        let promql = q.render(&c.query, step);
        let (targets, error) = match client.query(&promql, at).await {
            Ok(samples) => {
                let targets: BTreeSet<String> = samples
                    .iter()
                    .filter_map(|s| q.target.target_of(&s.labels))
                    .collect();
                let n = targets.len();
                all_targets.extend(targets);
                (n, None)
            }
            Err(e) if !e.is_transient() => (0, Some(one_line(&e.to_string()))),
            Err(e) => return Err(e.into()),
        };
        let checks: Vec<&SeriesCheck> = names
            .iter()
            .filter_map(|n| by_name.get(n.as_str()).copied())
            .collect();
        columns.push(ColumnCheck {
            name: c.name.clone(),
            targets,
            series: names.clone(),
            missing_series: checks
                .iter()
                .filter(|s| s.series == 0 && !s.event_only)
                .map(|s| s.name.clone())
                .collect(),
            // An event-only series starts with its first event: it says nothing of the history kept.
            scrape_interval_secs: checks
                .iter()
                .filter(|s| !s.event_only)
                .filter_map(|s| s.scrape_interval_secs)
                .reduce(f64::max),
            history_secs: checks
                .iter()
                .filter(|s| !s.event_only)
                .filter_map(|s| s.history_secs)
                .reduce(f64::min),
            in_model: model_metrics.contains(c.name.as_str()),
            error,
        });
    }

    // The query set's kube-state-metrics label rules.
    let mut label_sources = Vec::new();
    for (r, names) in q.labels.iter().zip(&rule_series) {
        let missing: Vec<&str> = names
            .iter()
            .filter(|n| {
                by_name
                    .get(n.as_str())
                    .is_none_or(|s| s.series == 0 && !s.event_only)
            })
            .map(String::as_str)
            .collect();
        let source = format!("rule:{}/{}", r.issue_type, r.detail);
        let check = match client.query(&q.render(&r.query, step), at).await {
            Err(e) if !e.is_transient() => LabelSourceCheck {
                source,
                readable: Some(false),
                detail: format!("query refused: {}", one_line(&e.to_string())),
            },
            Err(e) => return Err(e.into()),
            Ok(_) if !missing.is_empty() => LabelSourceCheck {
                source,
                readable: Some(false),
                detail: format!("missing series: {}", missing.join(", ")),
            },
            Ok(firing) => LabelSourceCheck {
                source,
                readable: Some(true),
                detail: format!("series present; {} target(s) in incident now", firing.len()),
            },
        };
        label_sources.push(check);
    }
    label_sources.extend(opts.label_sources.iter().cloned());

    let model = judge(&opts.model, &columns);
    let install = advise(&columns, &by_name);
    let findings = findings(opts, &columns, &series, &label_sources, &model, &install);
    Ok(DoctorReport {
        prometheus: client.config().url.clone(),
        at,
        targets: all_targets.len(),
        series,
        columns,
        label_sources,
        install,
        model,
        findings,
        blind_rule: BLIND_RULE,
    })
}

/// Presence, count, scrape interval and history of one metric; also the evaluation time Prometheus
/// answered at.
async fn check_series(
    client: &PromClient,
    name: String,
    at: Option<f64>,
    history_secs: i64,
) -> Result<(SeriesCheck, Option<f64>), CollectError> {
    let mut check = SeriesCheck {
        exporter: exporter_of(&name),
        name,
        series: 0,
        scrape_interval_secs: None,
        oldest: None,
        history_secs: None,
        error: None,
        event_only: false,
    };
    check.event_only = EVENT_ONLY_SERIES.contains(&check.name.as_str());
    let name = check.name.clone();
    let mut answered_at = None;
    let note = |e: PromError, check: &mut SeriesCheck| -> Result<(), CollectError> {
        if e.is_transient() {
            return Err(e.into());
        }
        check.error.get_or_insert_with(|| one_line(&e.to_string()));
        Ok(())
    };
    match client.query(&format!("count({name})"), at).await {
        Ok(v) => {
            if let Some(s) = v.first() {
                check.series = s.value.max(0.0) as usize;
                answered_at = Some(s.timestamp);
            }
        }
        Err(e) => note(e, &mut check)?,
    }
    let interval = format!("quantile(0.5, count_over_time({name}[{INTERVAL_WINDOW_SECS}s]))");
    match client.query(&interval, at).await {
        Ok(v) => {
            check.scrape_interval_secs = v
                .first()
                .filter(|s| s.value.is_finite() && s.value >= 2.0)
                .map(|s| INTERVAL_WINDOW_SECS as f64 / s.value);
        }
        Err(e) => note(e, &mut check)?,
    }
    let resolution = (history_secs / HISTORY_STEPS).max(1);
    let oldest = format!("min_over_time(timestamp(group({name}))[{history_secs}s:{resolution}s])");
    match client.query(&oldest, at).await {
        Ok(v) => {
            if let Some(s) = v.first().filter(|s| s.value.is_finite()) {
                check.oldest = Some(s.value);
                check.history_secs = Some((s.timestamp - s.value).max(0.0));
                answered_at = answered_at.or(Some(s.timestamp));
            }
        }
        Err(e) => note(e, &mut check)?,
    }
    Ok((check, answered_at))
}

fn judge(model: &ModelNeeds, columns: &[ColumnCheck]) -> ModelCheck {
    let by_name: BTreeMap<&str, &ColumnCheck> =
        columns.iter().map(|c| (c.name.as_str(), c)).collect();
    let mut empty = Vec::new();
    let mut undefined = Vec::new();
    for m in &model.metrics {
        match by_name.get(m.as_str()) {
            None => undefined.push(m.clone()),
            Some(c) if c.targets == 0 => empty.push(m.clone()),
            Some(_) => {}
        }
    }
    let lacking: BTreeSet<&str> = empty.iter().chain(&undefined).map(String::as_str).collect();
    let empty_features: Vec<String> = model
        .features
        .iter()
        .filter(|f| {
            feature_metric(f).is_some_and(|m| lacking.contains(m))
            // A limit pair's features (`use.use_of_limit`…) are empty when the usage metric is.
        })
        .cloned()
        .collect();
    let with_data = model.metrics.len() - lacking.len();
    ModelCheck {
        name: model.name.clone(),
        metrics: model.metrics.len(),
        metrics_with_data: with_data,
        empty_metrics: empty,
        undefined_metrics: undefined,
        features: model.features.len(),
        empty_features,
        blind: with_data == 0 || 2 * with_data < model.metrics.len(),
    }
}

/// The metric a feature is computed from: `metric.stat` or `rate(metric).stat`; `None` for features
/// of several metrics (families, calendar).
fn feature_metric(feature: &str) -> Option<&str> {
    let (stem, _) = feature.rsplit_once('.')?;
    let stem = stem
        .strip_prefix("rate(")
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or(stem);
    (!stem.starts_with("family.") && stem != "time").then_some(stem)
}

fn advise(columns: &[ColumnCheck], series: &BTreeMap<&str, &SeriesCheck>) -> Vec<ExporterAdvice> {
    let mut out: BTreeMap<&'static str, (BTreeSet<String>, BTreeSet<String>)> = BTreeMap::new();
    for c in columns.iter().filter(|c| c.in_model && c.targets == 0) {
        for name in &c.missing_series {
            let exporter = series.get(name.as_str()).map_or("?", |s| s.exporter);
            let entry = out.entry(exporter).or_default();
            entry.0.insert(name.clone());
            entry.1.insert(c.name.clone());
        }
    }
    out.into_iter()
        .map(|(exporter, (missing, cols))| ExporterAdvice {
            exporter,
            missing_series: missing.into_iter().collect(),
            columns: cols.into_iter().collect(),
        })
        .collect()
}

fn findings(
    opts: &DoctorOptions,
    columns: &[ColumnCheck],
    series: &[SeriesCheck],
    labels: &[LabelSourceCheck],
    model: &ModelCheck,
    install: &[ExporterAdvice],
) -> Vec<String> {
    let mut out = Vec::new();
    let m = &opts.model;
    if model.blind {
        out.push(format!(
            "BLIND: {} of the model's {} columns have data ({BLIND_RULE})",
            model.metrics_with_data, model.metrics
        ));
    }
    if !model.empty_metrics.is_empty() {
        out.push(format!(
            "{} model column(s) have no data: {} — {} of {} features will be missing values \
             (run watch/eval with --missing-columns nan, or install the exporters below)",
            model.empty_metrics.len(),
            model.empty_metrics.join(", "),
            model.empty_features.len(),
            model.features
        ));
    }
    if !model.undefined_metrics.is_empty() {
        out.push(format!(
            "the query set does not define model column(s) {}",
            model.undefined_metrics.join(", ")
        ));
    }
    for a in install {
        out.push(format!(
            "install {}: {} absent, needed by {}",
            a.exporter,
            a.missing_series.join(", "),
            a.columns.join(", ")
        ));
    }
    let slow: Vec<String> = series
        .iter()
        .filter(|s| {
            s.scrape_interval_secs
                .is_some_and(|i| i > m.step_secs as f64 * 1.5)
        })
        .map(|s| {
            format!(
                "{} ({:.0} s)",
                s.name,
                s.scrape_interval_secs.unwrap_or(0.0)
            )
        })
        .collect();
    if !slow.is_empty() {
        out.push(format!(
            "scraped less often than the model's {} s step: {}; windows will hold repeated samples \
             (scrape every {} s, or retrain at --step of the scrape interval)",
            m.step_secs,
            slow.join(", "),
            m.step_secs
        ));
    }
    let history = columns
        .iter()
        .filter(|c| c.in_model && c.targets > 0)
        .filter_map(|c| c.history_secs)
        .reduce(f64::min);
    if let Some(h) = history {
        if h < m.window_secs as f64 {
            out.push(format!(
                "only {} of history: a target needs the model's {} s window before its first prediction",
                learn::timestamp::format_duration_secs(h as i64),
                m.window_secs
            ));
        }
        if h < learn::warnings::MIN_TRAINING_SECS as f64 {
            out.push(format!(
                "{} of history (within the {} searched): too little to train on (at least {}); \
                 raise Prometheus' retention or collect over time",
                learn::timestamp::format_duration_secs(h as i64),
                learn::timestamp::format_duration_secs(opts.history_secs),
                learn::timestamp::format_duration_secs(learn::warnings::MIN_TRAINING_SECS)
            ));
        }
    }
    if labels.iter().all(|l| l.readable != Some(true)) {
        out.push(
            "no label source is readable: training needs incident labels (kube-state-metrics \
             rules, --labels-from kube, or an --events file)"
                .into(),
        );
    }
    for c in columns.iter().filter(|c| c.error.is_some()) {
        out.push(format!(
            "column {}: query failed: {}",
            c.name,
            c.error.as_deref().unwrap_or("")
        ));
    }
    out
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl DoctorReport {
    /// The report as text for a terminal.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let at = self.at.map_or("now".to_string(), |t| {
            learn::timestamp::format_rfc3339(t as i64)
        });
        let _ = writeln!(
            out,
            "Prometheus {} at {at}: {} target(s)\n",
            self.prometheus, self.targets
        );
        let _ = writeln!(out, "Exporter series:");
        for s in &self.series {
            let interval = s
                .scrape_interval_secs
                .map_or("-".to_string(), |i| format!("{i:.0} s"));
            let history = s.history_secs.map_or("-".to_string(), |h| {
                learn::timestamp::format_duration_secs(h as i64)
            });
            let state = match (s.series > 0, s.event_only) {
                (true, _) => "ok     ",
                (false, true) => "absent ",
                (false, false) => "MISSING",
            };
            let note = match (&s.error, s.event_only && s.series == 0) {
                (Some(e), _) => format!("  error: {e}"),
                (None, true) => "  (written only after a container's first termination)".into(),
                (None, false) => String::new(),
            };
            let _ = writeln!(
                out,
                "  {state} {:<50} {:>6} series  every {interval:>5}  history {history:>8}  [{}]{note}",
                s.name, s.series, s.exporter,
            );
        }
        let _ = writeln!(out, "\nColumns (targets answering):");
        for c in &self.columns {
            let mark = match (c.targets > 0, c.in_model) {
                (true, _) => "ok   ",
                (false, true) => "EMPTY",
                (false, false) => "empty",
            };
            let _ = writeln!(
                out,
                "  {mark} {:<36} {:>5} target(s){}{}",
                c.name,
                c.targets,
                if c.in_model {
                    ""
                } else {
                    "  (not a model column)"
                },
                if c.missing_series.is_empty() {
                    String::new()
                } else {
                    format!("  missing: {}", c.missing_series.join(", "))
                }
            );
        }
        let _ = writeln!(out, "\nLabel sources:");
        for l in &self.label_sources {
            let mark = match l.readable {
                Some(true) => "readable    ",
                Some(false) => "NOT READABLE",
                None => "not checked ",
            };
            let _ = writeln!(out, "  {mark} {:<36} {}", l.source, l.detail);
        }
        let m = &self.model;
        let _ = writeln!(
            out,
            "\nModel {}: {} of {} columns with data, {} of {} features empty{}",
            m.name,
            m.metrics_with_data,
            m.metrics,
            m.empty_features.len(),
            m.features,
            if m.blind { " — BLIND" } else { "" }
        );
        if !self.findings.is_empty() {
            let _ = writeln!(out, "\nFindings:");
            for f in &self.findings {
                let _ = writeln!(out, "  - {f}");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names_come_out_of_every_catalog_query() {
        for c in catalog::COLUMNS {
            let found = promql_metrics(&c.template());
            // The catalog's `series` lists the exporter series a column reads.
            for listed in c.series.split(", ") {
                let name = listed.split('{').next().unwrap_or(listed).trim();
                assert!(
                    found.iter().any(|f| f == name),
                    "{}: {name} not in {found:?}",
                    c.name
                );
            }
            // Nothing else: no function, keyword or label name taken for a metric.
            for f in &found {
                assert!(
                    ["container_", "kube_", "node_", "istio_"]
                        .iter()
                        .any(|p| f.starts_with(p)),
                    "{}: {f} is not an exporter series",
                    c.name
                );
            }
        }
        assert_eq!(
            promql_metrics(
                r#"sum by (namespace) (rate(a_total{x="b c", y=~"d"}[$RANGE])) / on (pod) group_left () max(b) > 0 and c offset 5m"#
            ),
            vec!["a_total", "b", "c"]
        );
        assert_eq!(
            promql_metrics(r#"histogram_quantile(0.99, sum by (le) (rate(h_bucket[1m]))) / 1000"#),
            vec!["h_bucket"]
        );
    }

    #[test]
    fn features_map_to_their_metric() {
        assert_eq!(
            feature_metric("cpu_usage_cores.mean"),
            Some("cpu_usage_cores")
        );
        assert_eq!(
            feature_metric("rate(restarts_total).max"),
            Some("restarts_total")
        );
        assert_eq!(feature_metric("family.cpu.z_max"), None);
        assert_eq!(feature_metric("time.hour_of_day"), None);
        assert_eq!(feature_metric("plain"), None);
    }

    fn column(name: &str, targets: usize) -> ColumnCheck {
        ColumnCheck {
            name: name.into(),
            targets,
            series: vec![],
            missing_series: vec![],
            scrape_interval_secs: None,
            history_secs: None,
            in_model: true,
            error: None,
        }
    }

    #[test]
    fn blind_means_fewer_than_half_of_the_columns() {
        let needs = ModelNeeds {
            name: "m".into(),
            metrics: vec!["a".into(), "b".into(), "c".into(), "d".into()],
            features: vec![
                "a.mean".into(),
                "rate(b).max".into(),
                "time.hour_of_day".into(),
            ],
            step_secs: 15,
            window_secs: 180,
        };
        let v = judge(
            &needs,
            &[
                column("a", 3),
                column("b", 0),
                column("c", 1),
                column("d", 2),
            ],
        );
        assert!(!v.blind);
        assert_eq!(v.empty_metrics, vec!["b"]);
        assert_eq!(v.empty_features, vec!["rate(b).max"]);
        // Two of four: half is not blind; one of four is.
        let v = judge(&needs, &[column("a", 3), column("b", 1)]);
        assert_eq!(v.undefined_metrics, vec!["c", "d"]);
        assert!(!v.blind);
        let v = judge(&needs, &[column("a", 3), column("b", 0), column("c", 0)]);
        assert!(v.blind);
        let v = judge(&needs, &[]);
        assert!(v.blind && v.metrics_with_data == 0);
    }
}
