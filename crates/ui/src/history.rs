//! [`FleetHistory`]: a bounded history per target (probability, alert state, metrics, the latest
//! explanation), fed once per cycle by `serve`'s demo cluster or `watch`, read by the UI's routes.
//!
//! Memory is bounded per target: `points` probabilities (4 bytes + state each) and `metric_points`
//! rows of the model's metrics (`f32`). With the defaults (480 and 120 points, 21 metrics) a target
//! takes about 20 KB, 5,000 targets about 100 MB.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::RwLock;

use learn::prediction::{Explanation, Prediction, Recommendation};

use crate::fleet::{
    Advice, AlertState, Band, DEFAULT_PAGE, Episode, FeatureHistory, FleetPage, FleetQuery,
    FleetSource, MAX_PAGE, ProbabilityPoint, TargetDetail, TargetSummary, namespace_of,
};

/// Points of a fleet row's sparkline.
pub const SPARKLINE_POINTS: usize = 60;

/// Episodes kept per target.
const EPISODES_KEPT: usize = 20;

/// Features shown in the target view.
const TOP_FEATURES: usize = 5;

/// How a [`FleetHistory`] is set up.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryConfig {
    /// Probability points kept per target (one per cycle; 480 at a 15 s step = 2 hours).
    pub points: usize,
    /// Metric rows kept per target (one per cycle).
    pub metric_points: usize,
    /// The model's metric columns, in the order observations give them.
    pub metrics: Vec<String>,
    /// The alarm threshold on the probability (0–1), drawn on the charts.
    pub threshold: f64,
    /// The horizon the probabilities refer to, seconds.
    pub horizon_secs: f64,
    /// Every issue type the model knows (without `normal`).
    pub issue_types: Vec<String>,
    /// Where the data comes from, in words (shown on the page).
    pub source: String,
}

impl Default for HistoryConfig {
    fn default() -> Self {
        HistoryConfig {
            points: 480,
            metric_points: 120,
            metrics: Vec::new(),
            threshold: 0.5,
            horizon_secs: 300.0,
            issue_types: Vec::new(),
            source: String::new(),
        }
    }
}

/// What one cycle observed of one target.
#[derive(Debug, Clone, Copy)]
pub struct Observation<'a> {
    /// The target.
    pub target: &'a str,
    /// The prediction, or `None` when the target is stale.
    pub prediction: Option<&'a Prediction>,
    /// The alert state decided by the caller (hysteresis in `watch`, threshold and labels in the demo).
    pub state: AlertState,
    /// The issue type of the incident in progress, when the caller knows it (a label); else an
    /// incident takes the type of the alert that preceded it.
    pub incident_type: Option<&'a str>,
    /// The latest value of each model metric (in [`HistoryConfig::metrics`] order), if known.
    pub metrics: Option<&'a [f64]>,
    /// Each model metric's normal band `(low, high)` from its trailing baseline (mean ± the band's
    /// standard deviations), `None` where the baseline is cold or the metric is a counter.
    pub band: Option<&'a [Option<(f64, f64)>]>,
}

#[derive(Debug, Default)]
struct TargetHistory {
    /// `(t, probability or NaN when stale, state)`, oldest first.
    probabilities: VecDeque<(i64, f32, AlertState)>,
    /// `(t, row)`, oldest first.
    metrics: VecDeque<(i64, Box<[f32]>)>,
    band: Vec<Option<Band>>,
    probability: f64,
    issue_type: String,
    eta_seconds: Option<f64>,
    updated: i64,
    state: Option<AlertState>,
    since: i64,
    explanation: Option<Explanation>,
    recommendation: Option<Recommendation>,
    episodes: VecDeque<Episode>,
}

struct Inner {
    now: i64,
    /// The horizon the latest predictions refer to, seconds.
    horizon_secs: Option<f64>,
    /// Issue types seen in predictions (besides the configured ones).
    issue_types: BTreeSet<String>,
    targets: HashMap<String, TargetHistory>,
}

/// The bounded history of every target; implements [`FleetSource`]. Writers take a write lock once
/// per cycle; readers (HTTP requests) a read lock per request.
pub struct FleetHistory {
    config: HistoryConfig,
    inner: RwLock<Inner>,
}

impl std::fmt::Debug for FleetHistory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FleetHistory")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl FleetHistory {
    /// An empty history.
    pub fn new(config: HistoryConfig) -> Self {
        FleetHistory {
            config,
            inner: RwLock::new(Inner {
                now: 0,
                horizon_secs: None,
                issue_types: BTreeSet::new(),
                targets: HashMap::new(),
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &HistoryConfig {
        &self.config
    }

    /// Whether `target` is known.
    pub fn contains(&self, target: &str) -> bool {
        self.read().targets.contains_key(target)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Records one cycle at `at` (unix seconds, the cluster's clock).
    pub fn record_cycle<'a>(
        &self,
        at: i64,
        observations: impl IntoIterator<Item = Observation<'a>>,
    ) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        inner.now = inner.now.max(at);
        for obs in observations {
            if let Some(p) = obs.prediction {
                inner.horizon_secs = Some(p.horizon_seconds);
                for t in p.probabilities.keys() {
                    if t != "normal" && !inner.issue_types.contains(t) {
                        inner.issue_types.insert(t.clone());
                    }
                }
            }
            if !inner.targets.contains_key(obs.target) {
                inner
                    .targets
                    .insert(obs.target.to_string(), TargetHistory::default());
            }
            if let Some(h) = inner.targets.get_mut(obs.target) {
                self.record(h, at, &obs);
            }
        }
    }

    /// Forgets targets for which `keep` is false (e.g. targets `watch` no longer sees).
    pub fn retain(&self, keep: impl Fn(&str) -> bool) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        inner.targets.retain(|t, _| keep(t));
    }

    fn record(&self, h: &mut TargetHistory, at: i64, obs: &Observation<'_>) {
        let p = obs
            .prediction
            .map_or(f32::NAN, |p| p.issue_probability as f32);
        push_bounded(&mut h.probabilities, (at, p, obs.state), self.config.points);
        if let Some(row) = obs.metrics {
            let row: Box<[f32]> = row.iter().map(|&v| v as f32).collect();
            push_bounded(&mut h.metrics, (at, row), self.config.metric_points);
        }
        if let Some(band) = obs.band {
            h.band = band
                .iter()
                .map(|b| {
                    b.filter(|(lo, hi)| lo.is_finite() && hi.is_finite())
                        .map(|(low, high)| Band { low, high })
                })
                .collect();
        }
        if let Some(pred) = obs.prediction {
            h.probability = pred.issue_probability;
            h.issue_type = pred.issue_type.clone();
            h.eta_seconds = pred.time_to_issue_seconds;
            h.updated = at;
            if let Some(e) = &pred.explanation {
                h.explanation = Some(e.clone());
            }
            h.recommendation = pred.recommendation.clone();
        }
        if h.state != Some(obs.state) {
            self.transition(h, at, obs.state, obs.incident_type);
        }
    }

    /// Opens and closes episodes as the state changes.
    fn transition(
        &self,
        h: &mut TargetHistory,
        at: i64,
        state: AlertState,
        incident_type: Option<&str>,
    ) {
        h.state = Some(state);
        h.since = at;
        // Stale interrupts nothing: an alert or incident is not over because data is missing.
        if state == AlertState::Stale {
            return;
        }
        let open_kind = match state {
            AlertState::Firing => Some("alert"),
            AlertState::InProgress => Some("incident"),
            _ => None,
        };
        if let Some(open) = h.episodes.front_mut().filter(|e| e.end.is_none())
            && Some(open.kind.as_str()) != open_kind
        {
            open.end = Some(at);
        }
        let Some(kind) = open_kind else { return };
        if h.episodes.front().is_some_and(|e| e.end.is_none()) {
            return;
        }
        // An incident: its label's type, else the type of the alert that announced it (the model's own
        // type turns `normal` once an incident is under way: it predicts starts, not ongoing issues).
        let preceding_alert = h
            .episodes
            .front()
            .filter(|e| e.kind == "alert" && e.end == Some(at))
            .map(|e| e.issue_type.clone());
        let issue_type = match (kind, incident_type) {
            ("incident", Some(t)) => t.to_string(),
            ("incident", None) if preceding_alert.is_some() => preceding_alert.unwrap_or_default(),
            _ if h.issue_type.is_empty() => "normal".to_string(),
            _ => h.issue_type.clone(),
        };
        h.episodes.push_front(Episode {
            kind: kind.to_string(),
            issue_type,
            start: at,
            end: None,
        });
        h.episodes.truncate(EPISODES_KEPT);
    }

    fn summary(&self, name: &str, h: &TargetHistory) -> TargetSummary {
        let incident = h.episodes.front().filter(|e| {
            e.kind == "incident" && e.end.is_none() && h.state == Some(AlertState::InProgress)
        });
        TargetSummary {
            target: name.to_string(),
            namespace: namespace_of(name).to_string(),
            issue_type: match incident {
                Some(e) => e.issue_type.clone(),
                None if h.issue_type.is_empty() => "normal".to_string(),
                None => h.issue_type.clone(),
            },
            probability: h.probability,
            eta_seconds: h.eta_seconds,
            state: h.state.unwrap_or(AlertState::Stale),
            since: h.since,
            updated: h.updated,
            sparkline: sparkline(&h.probabilities),
        }
    }

    fn matches(&self, q: &Filters<'_>, name: &str, h: &TargetHistory) -> bool {
        q.namespace.is_none_or(|ns| namespace_of(name) == ns)
            && q.issue_type.is_none_or(|t| {
                let own = if h.issue_type.is_empty() {
                    "normal"
                } else {
                    &h.issue_type
                };
                own == t
            })
            && q.state
                .is_none_or(|s| h.state.unwrap_or(AlertState::Stale) == s)
            && q.search.is_none_or(|s| name.contains(s))
    }
}

/// A query's filters, checked.
struct Filters<'a> {
    namespace: Option<&'a str>,
    issue_type: Option<&'a str>,
    state: Option<AlertState>,
    search: Option<&'a str>,
}

fn push_bounded<T>(ring: &mut VecDeque<T>, item: T, capacity: usize) {
    if ring.len() >= capacity.max(1) {
        ring.pop_front();
    }
    ring.push_back(item);
}

/// The probabilities as at most [`SPARKLINE_POINTS`] points, each the largest of its bucket (a stale
/// point counts as 0).
fn sparkline(points: &VecDeque<(i64, f32, AlertState)>) -> Vec<f32> {
    let n = points.len();
    if n == 0 {
        return Vec::new();
    }
    let buckets = n.min(SPARKLINE_POINTS);
    (0..buckets)
        .map(|b| {
            let lo = b * n / buckets;
            let hi = ((b + 1) * n / buckets).max(lo + 1);
            points
                .range(lo..hi)
                .map(|&(_, p, _)| if p.is_nan() { 0.0 } else { p })
                .fold(0.0f32, f32::max)
        })
        .collect()
}

impl FleetSource for FleetHistory {
    fn fleet(&self, query: &FleetQuery) -> FleetPage {
        let inner = self.read();
        let filters = Filters {
            namespace: query.namespace.as_deref().filter(|s| !s.is_empty()),
            issue_type: query.issue_type.as_deref().filter(|s| !s.is_empty()),
            state: query.state.as_deref().and_then(AlertState::from_name),
            search: query.search.as_deref().filter(|s| !s.is_empty()),
        };
        let mut namespaces = BTreeSet::new();
        let mut counts: BTreeMap<String, usize> = AlertState::ALL
            .iter()
            .map(|s| (s.name().to_string(), 0))
            .collect();
        let mut ranked: Vec<(u8, f64, &str, &TargetHistory)> = Vec::new();
        for (name, h) in &inner.targets {
            namespaces.insert(namespace_of(name));
            if !self.matches(&filters, name, h) {
                continue;
            }
            let state = h.state.unwrap_or(AlertState::Stale);
            *counts.entry(state.name().to_string()).or_default() += 1;
            ranked.push((state.rank(), h.probability, name, h));
        }
        ranked.sort_by(|a, b| {
            a.0.cmp(&b.0)
                .then(b.1.total_cmp(&a.1))
                .then_with(|| a.2.cmp(b.2))
        });
        let limit = query.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
        let offset = query.offset.unwrap_or(0);
        let targets = ranked
            .iter()
            .skip(offset)
            .take(limit)
            .map(|(_, _, name, h)| self.summary(name, h))
            .collect();
        let mut issue_types: BTreeSet<String> = self.config.issue_types.iter().cloned().collect();
        issue_types.extend(inner.issue_types.iter().cloned());
        let mut issue_types: Vec<String> = issue_types.into_iter().collect();
        issue_types.push("normal".to_string());
        FleetPage {
            now: inner.now,
            threshold: self.config.threshold,
            horizon_seconds: inner.horizon_secs.unwrap_or(self.config.horizon_secs),
            total: inner.targets.len(),
            matched: ranked.len(),
            offset,
            limit,
            counts,
            namespaces: namespaces.into_iter().map(str::to_string).collect(),
            issue_types,
            targets,
            source: self.config.source.clone(),
        }
    }

    fn target(&self, target: &str) -> Option<TargetDetail> {
        let inner = self.read();
        let h = inner.targets.get(target)?;
        let history = h
            .probabilities
            .iter()
            .map(|&(t, p, state)| ProbabilityPoint {
                t,
                p: (!p.is_nan()).then_some(p),
                state,
            })
            .collect();
        let features = h
            .explanation
            .iter()
            .flat_map(|e| e.top_features.iter().take(TOP_FEATURES))
            .map(|c| {
                let metric = learn::prediction::feature_metric(&c.feature);
                let column = metric.and_then(|m| self.config.metrics.iter().position(|x| x == m));
                FeatureHistory {
                    feature: c.feature.clone(),
                    label: learn::prediction::human_feature(&c.feature),
                    metric: column.map(|i| self.config.metrics[i].clone()),
                    value: c.value.is_finite().then_some(c.value),
                    contribution: c.contribution,
                    points: column.map_or_else(Vec::new, |i| {
                        h.metrics
                            .iter()
                            .map(|(t, row)| {
                                let v = row.get(i).copied().unwrap_or(f32::NAN);
                                (*t, v.is_finite().then_some(f64::from(v)))
                            })
                            .collect()
                    }),
                    band: column.and_then(|i| h.band.get(i).copied().flatten()),
                }
            })
            .collect();
        Some(TargetDetail {
            summary: self.summary(target, h),
            threshold: self.config.threshold,
            horizon_seconds: inner.horizon_secs.unwrap_or(self.config.horizon_secs),
            history,
            features,
            advice: Advice {
                explanation: h.explanation.as_ref().map(|e| e.summary.clone()),
                description: h.recommendation.as_ref().map(|r| r.description.clone()),
                actions: h
                    .recommendation
                    .as_ref()
                    .map_or_else(Vec::new, |r| r.actions.clone()),
            },
            episodes: h.episodes.iter().cloned().collect(),
            remediation_available: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prediction(p: f64, issue_type: &str) -> Prediction {
        Prediction {
            will_have_issue: issue_type != "normal",
            issue_probability: p,
            issue_type: issue_type.to_string(),
            probabilities: BTreeMap::new(),
            time_to_issue_seconds: (issue_type != "normal").then_some(120.0),
            horizon_seconds: 300.0,
            explanation: Some(Explanation {
                summary: "memory rose".into(),
                top_features: vec![learn::prediction::Contribution {
                    feature: "memory_limit_utilization_max.slope".into(),
                    value: 0.01,
                    contribution: 0.3,
                }],
            }),
            recommendation: None,
            baseline_seconds: None,
        }
    }

    fn history() -> FleetHistory {
        FleetHistory::new(HistoryConfig {
            points: 10,
            metric_points: 5,
            metrics: vec!["cpu".into(), "memory_limit_utilization_max".into()],
            threshold: 0.5,
            issue_types: vec!["resource_exhaustion".into()],
            ..HistoryConfig::default()
        })
    }

    #[test]
    fn ranks_by_state_then_probability_and_filters_and_pages() {
        let h = history();
        let low = prediction(0.1, "normal");
        let mid = prediction(0.4, "normal");
        let high = prediction(0.8, "resource_exhaustion");
        let obs = |target, p, state| Observation {
            target,
            prediction: Some(p),
            state,
            incident_type: None,
            metrics: None,
            band: None,
        };
        h.record_cycle(
            100,
            [
                obs("a/low", &low, AlertState::Ok),
                obs("a/mid", &mid, AlertState::Ok),
                obs("b/high", &high, AlertState::Firing),
                obs("b/incident", &low, AlertState::InProgress),
            ],
        );
        let page = h.fleet(&FleetQuery::default());
        let names: Vec<&str> = page.targets.iter().map(|t| t.target.as_str()).collect();
        assert_eq!(names, ["b/incident", "b/high", "a/mid", "a/low"]);
        assert_eq!(page.total, 4);
        assert_eq!(page.namespaces, ["a", "b"]);
        let only_a = h.fleet(&FleetQuery {
            namespace: Some("a".into()),
            ..FleetQuery::default()
        });
        assert_eq!(only_a.matched, 2);
        let firing = h.fleet(&FleetQuery {
            state: Some("firing".into()),
            ..FleetQuery::default()
        });
        assert_eq!(firing.targets[0].target, "b/high");
        assert_eq!(firing.matched, 1);
        let typed = h.fleet(&FleetQuery {
            issue_type: Some("normal".into()),
            ..FleetQuery::default()
        });
        assert_eq!(typed.matched, 3);
        let paged = h.fleet(&FleetQuery {
            offset: Some(1),
            limit: Some(2),
            ..FleetQuery::default()
        });
        let names: Vec<&str> = paged.targets.iter().map(|t| t.target.as_str()).collect();
        assert_eq!(names, ["b/high", "a/mid"]);
        assert_eq!(paged.matched, 4);
    }

    #[test]
    fn history_is_bounded_and_episodes_follow_the_state() {
        let h = history();
        let normal = prediction(0.1, "normal");
        let issue = prediction(0.9, "resource_exhaustion");
        let row = [1.0, 0.5];
        let band = [Some((0.8, 1.2)), None];
        for i in 0..30 {
            let (p, state) = match i {
                0..10 => (&normal, AlertState::Ok),
                10..20 => (&issue, AlertState::Firing),
                _ => (&issue, AlertState::InProgress),
            };
            h.record_cycle(
                i * 15,
                [Observation {
                    target: "ns/x",
                    prediction: Some(p),
                    state,
                    incident_type: None,
                    metrics: Some(&row),
                    band: Some(&band),
                }],
            );
        }
        let d = h.target("ns/x").expect("known");
        assert_eq!(d.history.len(), 10);
        assert_eq!(d.history[0].t, 20 * 15);
        assert_eq!(d.summary.state, AlertState::InProgress);
        assert_eq!(d.summary.since, 20 * 15);
        let kinds: Vec<(&str, Option<i64>)> = d
            .episodes
            .iter()
            .map(|e| (e.kind.as_str(), e.end))
            .collect();
        assert_eq!(kinds, [("incident", None), ("alert", Some(300))]);
        assert_eq!(d.features.len(), 1);
        assert_eq!(d.features[0].points.len(), 5);
        assert_eq!(
            d.features[0].metric.as_deref(),
            Some("memory_limit_utilization_max")
        );
        assert_eq!(d.features[0].band, None);
        assert!(d.features[0].label.contains("trend"));
        assert!(d.summary.sparkline.len() <= SPARKLINE_POINTS);
        assert!(h.target("ns/unknown").is_none());
    }

    #[test]
    fn sparkline_keeps_the_peaks() {
        let mut ring = VecDeque::new();
        for i in 0..600 {
            let p = if i == 301 { 0.9 } else { 0.1 };
            ring.push_back((i, p, AlertState::Ok));
        }
        let s = sparkline(&ring);
        assert_eq!(s.len(), SPARKLINE_POINTS);
        assert_eq!(s.iter().filter(|&&p| p == 0.9).count(), 1);
    }
}
