//! From a target's transition to the Alertmanager alert: labels, annotations (probability, ETA,
//! explanation, evidence, actions) and the expiry that keeps a dead watcher from leaving alerts firing.

use std::collections::BTreeMap;

use learn::prediction::Prediction;

use super::Watcher;
use crate::alertmanager::Alert;
use crate::hysteresis::Transition;

/// The most likely issue type other than `normal` (`unknown` when the model gives none): what an
/// alert names even while the prediction itself is still below the model's threshold.
pub fn likely_issue_type(p: &Prediction) -> String {
    p.probabilities
        .iter()
        .filter(|(t, _)| t.as_str() != "normal")
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or_else(|| "unknown".to_string(), |(t, _)| t.clone())
}

/// How many of the explanation's top features an alert carries as evidence.
const EVIDENCE_FEATURES: usize = 5;

/// A change of the probability at least this large (absolute, 0–1) re-sends a firing alert at once.
const MATERIAL_PROBABILITY: f64 = 0.05;

/// A change of the ETA at least this large (seconds, and a quarter of the previous ETA) re-sends at once.
const MATERIAL_ETA_SECS: f64 = 30.0;

#[derive(Debug, Clone)]
pub(super) struct Active {
    pub(super) labels: BTreeMap<String, String>,
    pub(super) starts_at: chrono::DateTime<chrono::Utc>,
    pub(super) last_sent: f64,
    /// What the last sent alert said: probability, ETA (model seconds), phase, top evidence.
    sent_probability: f64,
    sent_eta: Option<f64>,
    sent_in_progress: bool,
    sent_evidence: Option<String>,
    /// When the issue is expected to start (wall unix seconds): the earliest `now + ETA` while firing.
    expected_at: Option<f64>,
}

impl Active {
    /// Whether the predicted start has passed: the incident should be under way.
    pub(super) fn in_progress(&self, now: f64) -> bool {
        self.expected_at.is_some_and(|e| now >= e)
    }
}

/// The alert's severity: `critical` when the probability reaches the critical level, when the issue is
/// expected within `imminent_secs`, or once it should be under way; else `warning`.
pub fn severity(
    probability: f64,
    eta_secs: Option<f64>,
    in_progress: bool,
    critical_probability: f64,
    imminent_secs: f64,
) -> &'static str {
    if in_progress
        || probability >= critical_probability
        || eta_secs.is_some_and(|e| e <= imminent_secs)
    {
        "critical"
    } else {
        "warning"
    }
}

/// The top evidence feature of a prediction (what a changed explanation is judged by).
fn top_evidence(f: &Prediction) -> Option<String> {
    f.explanation
        .as_ref()
        .and_then(|e| e.top_features.first())
        .map(|c| c.feature.clone())
}

/// Percent-encodes everything but RFC 3986's unreserved characters (a target name in a URL fragment).
fn url_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Watcher {
    /// The alerts a target's transition sends: none, one, or — when the severity changes — the resolve of
    /// the old label set and the new one (severity is a label, so it is a new alert for Alertmanager,
    /// with the same `startsAt`).
    pub(super) fn alert_for(
        &mut self,
        target: &str,
        transition: Transition,
        forecast: Option<&Prediction>,
        now: f64,
    ) -> Vec<Alert> {
        let now_utc = utc(now);
        let scale = self.opts.time_scale;
        match transition {
            Transition::Quiet | Transition::Held => Vec::new(),
            Transition::Fire => {
                let Some(f) = forecast else {
                    return Vec::new();
                };
                let issue_type = likely_issue_type(f);
                let mut active = Active {
                    labels: BTreeMap::new(),
                    starts_at: now_utc,
                    last_sent: now,
                    sent_probability: f.issue_probability,
                    sent_eta: f.time_to_issue_seconds,
                    sent_in_progress: false,
                    sent_evidence: top_evidence(f),
                    expected_at: f.time_to_issue_seconds.map(|e| now + e / scale),
                };
                active.labels = self.labels(target, &issue_type, f, false);
                let alert = self.build(target, &active, f, now, false);
                self.active.insert(target.to_string(), active);
                vec![alert]
            }
            Transition::StillFiring => {
                let Some(f) = forecast else {
                    return Vec::new();
                };
                let Some(mut active) = self.active.get(target).cloned() else {
                    return Vec::new();
                };
                if let Some(e) = f.time_to_issue_seconds {
                    let candidate = now + e / scale;
                    active.expected_at =
                        Some(active.expected_at.map_or(candidate, |x| x.min(candidate)));
                }
                let in_progress = active.in_progress(now);
                let issue_type = active.labels.get("issue_type").cloned().unwrap_or_default();
                let labels = self.labels(target, &issue_type, f, in_progress);
                let eta_moved = match (active.sent_eta, f.time_to_issue_seconds) {
                    (Some(a), Some(b)) => (a - b).abs() >= MATERIAL_ETA_SECS.max(0.25 * a),
                    (None, None) => false,
                    _ => true,
                };
                let material = (f.issue_probability - active.sent_probability).abs()
                    >= MATERIAL_PROBABILITY
                    || eta_moved
                    || in_progress != active.sent_in_progress
                    || top_evidence(f) != active.sent_evidence
                    || labels != active.labels;
                let mut out = Vec::new();
                if !material && now - active.last_sent < self.opts.resend_interval_secs {
                    self.active.insert(target.to_string(), active);
                    return out;
                }
                if labels != active.labels {
                    out.push(self.resolved(target, &active, None, now));
                    active.labels = labels;
                }
                active.last_sent = now;
                active.sent_probability = f.issue_probability;
                active.sent_eta = f.time_to_issue_seconds;
                active.sent_in_progress = in_progress;
                active.sent_evidence = top_evidence(f);
                out.push(self.build(target, &active, f, now, false));
                self.active.insert(target.to_string(), active);
                out
            }
            Transition::Resolve => match self.active.remove(target) {
                Some(active) => vec![self.resolved(target, &active, forecast, now)],
                None => Vec::new(),
            },
        }
    }

    /// Whether `target`'s alert should be under way by now (its predicted start has passed).
    pub(super) fn alert_in_progress(&self, target: &str, now: f64) -> bool {
        self.active.get(target).is_some_and(|a| a.in_progress(now))
    }

    fn labels(
        &self,
        target: &str,
        issue_type: &str,
        f: &Prediction,
        in_progress: bool,
    ) -> BTreeMap<String, String> {
        let severity = severity(
            f.issue_probability,
            f.time_to_issue_seconds,
            in_progress,
            self.opts.critical_probability,
            self.opts.imminent_secs,
        );
        let namespace = target.split_once('/').map_or("", |(ns, _)| ns);
        [
            ("alertname", ALERT_NAME),
            ("severity", severity),
            ("issue_type", issue_type),
            ("namespace", namespace),
            ("target", target),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    fn resolved(
        &self,
        target: &str,
        active: &Active,
        forecast: Option<&Prediction>,
        now: f64,
    ) -> Alert {
        let issue_type = active.labels.get("issue_type").cloned().unwrap_or_default();
        let summary = if active.in_progress(now) {
            format!(
                "{target}: past the predicted start of {issue_type} ({}); no new start is predicted — \
                 check whether the incident is under way",
                clock(active.expected_at.unwrap_or(now))
            )
        } else {
            format!("{target}: the predicted issue is no longer expected")
        };
        let mut annotations = BTreeMap::from([("summary".to_string(), summary)]);
        if let Some(f) = forecast {
            annotations.insert(
                "probability".to_string(),
                format!("{:.3}", f.issue_probability),
            );
        }
        self.links(target, &mut annotations);
        Alert {
            labels: active.labels.clone(),
            annotations,
            starts_at: active.starts_at.to_rfc3339(),
            ends_at: utc(now).to_rfc3339(),
            generator_url: self.opts.generator_url.clone(),
            resolved: true,
        }
    }

    /// The runbook and the target view in the UI.
    fn links(&self, target: &str, annotations: &mut BTreeMap<String, String>) {
        if !self.opts.runbook_url.is_empty() {
            annotations.insert("runbook_url".to_string(), self.opts.runbook_url.clone());
        }
        if !self.opts.dashboard_url.is_empty() {
            annotations.insert(
                "dashboard_url".to_string(),
                format!(
                    "{}/ui/#/target/{}",
                    self.opts.dashboard_url.trim_end_matches('/'),
                    url_component(target)
                ),
            );
        }
    }

    fn build(
        &self,
        target: &str,
        active: &Active,
        f: &Prediction,
        now: f64,
        resolved: bool,
    ) -> Alert {
        let labels = active.labels.clone();
        let issue_type = labels.get("issue_type").cloned().unwrap_or_default();
        let in_progress = active.in_progress(now);
        let eta = f
            .time_to_issue_seconds
            .map(|s| format!(" in ~{:.0} min", (s / 60.0).max(1.0)))
            .unwrap_or_default();
        let mut annotations = BTreeMap::new();
        let summary = match active.expected_at {
            Some(at) if in_progress => format!(
                "{target}: {issue_type} expected to have started at {} — in progress ({:.0}% probability)",
                clock(at),
                f.issue_probability * 100.0
            ),
            _ => format!(
                "{target}: {issue_type} predicted with {:.0}% probability{eta}",
                f.issue_probability * 100.0
            ),
        };
        annotations.insert("summary".to_string(), summary);
        annotations.insert(
            "phase".to_string(),
            if in_progress {
                "in_progress"
            } else {
                "predicted"
            }
            .to_string(),
        );
        annotations.insert(
            "probability".to_string(),
            format!("{:.3}", f.issue_probability),
        );
        if let Some(s) = f.time_to_issue_seconds {
            annotations.insert("eta_seconds".to_string(), format!("{s:.0}"));
        }
        if let Some(at) = active.expected_at {
            annotations.insert("expected_at".to_string(), utc(at).to_rfc3339());
        }
        if let Some(r) = &f.recommendation {
            annotations.insert("description".to_string(), r.description.clone());
        }
        if let Some(e) = &f.explanation {
            if !e.summary.is_empty() {
                annotations.insert("explanation".to_string(), e.summary.clone());
            }
            if !e.top_features.is_empty() {
                let evidence: Vec<String> = e
                    .top_features
                    .iter()
                    .take(EVIDENCE_FEATURES)
                    .map(|c| {
                        format!(
                            "{}={:.4} ({:+.3})",
                            learn::prediction::human_feature(&c.feature),
                            c.value,
                            c.contribution
                        )
                    })
                    .collect();
                annotations.insert("evidence".to_string(), evidence.join("; "));
            }
        }
        if let Some(r) = f.recommendation.as_ref().filter(|r| !r.actions.is_empty()) {
            annotations.insert("actions".to_string(), r.actions.join("; "));
        }
        self.links(target, &mut annotations);
        // Like Prometheus: an active alert expires by itself unless re-sent, so a dead watcher leaves no
        // alert firing forever.
        let ttl = 4.0 * self.opts.resend_interval_secs.max(self.query_step);
        Alert {
            labels,
            annotations,
            starts_at: active.starts_at.to_rfc3339(),
            ends_at: utc(now + ttl).to_rfc3339(),
            generator_url: self.opts.generator_url.clone(),
            resolved,
        }
    }
}

/// `HH:MM:SS UTC` of a unix time.
fn clock(unix_secs: f64) -> String {
    utc(unix_secs).format("%H:%M:%S UTC").to_string()
}

/// The one name of KubePulse's predictive alert, sent by `watch` and by the PrometheusRule
/// (`deploy/monitoring/prometheusrule.yaml`, silent while a watcher sends its own alerts).
pub const ALERT_NAME: &str = "KubePulseIssuePredicted";

fn utc(unix_secs: f64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis((unix_secs * 1000.0) as i64).unwrap_or_default()
}
