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

#[derive(Debug, Clone)]
pub(super) struct Active {
    pub(super) labels: BTreeMap<String, String>,
    pub(super) starts_at: chrono::DateTime<chrono::Utc>,
    pub(super) last_sent: f64,
}

impl Watcher {
    pub(super) fn alert_for(
        &mut self,
        target: &str,
        transition: Transition,
        forecast: Option<&Prediction>,
        now: f64,
    ) -> Option<Alert> {
        let now_utc = utc(now);
        match transition {
            Transition::Quiet | Transition::Held => None,
            Transition::Fire => {
                let f = forecast?;
                let issue_type = likely_issue_type(f);
                let severity = if f.issue_probability >= self.opts.critical_probability {
                    "critical"
                } else {
                    "warning"
                };
                let namespace = target.split_once('/').map_or("", |(ns, _)| ns);
                let labels: BTreeMap<String, String> = [
                    ("alertname", "KubePulseIssuePredicted"),
                    ("severity", severity),
                    ("issue_type", issue_type.as_str()),
                    ("namespace", namespace),
                    ("target", target),
                ]
                .into_iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
                self.active.insert(
                    target.to_string(),
                    Active {
                        labels: labels.clone(),
                        starts_at: now_utc,
                        last_sent: now,
                    },
                );
                Some(self.build(target, labels, now_utc, f, now, false))
            }
            Transition::StillFiring => {
                let f = forecast?;
                let active = self.active.get(target)?.clone();
                if now - active.last_sent < self.opts.resend_interval_secs {
                    return None;
                }
                if let Some(a) = self.active.get_mut(target) {
                    a.last_sent = now;
                }
                Some(self.build(target, active.labels, active.starts_at, f, now, false))
            }
            Transition::Resolve => {
                let active = self.active.remove(target)?;
                let mut alert = Alert {
                    labels: active.labels,
                    annotations: BTreeMap::from([(
                        "summary".to_string(),
                        format!("{target}: the predicted issue is no longer expected"),
                    )]),
                    starts_at: active.starts_at.to_rfc3339(),
                    ends_at: now_utc.to_rfc3339(),
                    generator_url: self.opts.generator_url.clone(),
                    resolved: true,
                };
                if let Some(f) = forecast {
                    alert.annotations.insert(
                        "probability".to_string(),
                        format!("{:.3}", f.issue_probability),
                    );
                }
                Some(alert)
            }
        }
    }

    fn build(
        &self,
        target: &str,
        labels: BTreeMap<String, String>,
        starts_at: chrono::DateTime<chrono::Utc>,
        f: &Prediction,
        now: f64,
        resolved: bool,
    ) -> Alert {
        let issue_type = labels.get("issue_type").cloned().unwrap_or_default();
        let eta = f
            .time_to_issue_seconds
            .map(|s| format!(" in ~{:.0} min", (s / 60.0).max(1.0)))
            .unwrap_or_default();
        let mut annotations = BTreeMap::new();
        annotations.insert(
            "summary".to_string(),
            format!(
                "{target}: {issue_type} predicted with {:.0}% probability{eta}",
                f.issue_probability * 100.0
            ),
        );
        annotations.insert(
            "probability".to_string(),
            format!("{:.3}", f.issue_probability),
        );
        if let Some(s) = f.time_to_issue_seconds {
            annotations.insert("eta_seconds".to_string(), format!("{s:.0}"));
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
                    .map(|c| format!("{}={:.4} ({:+.3})", c.feature, c.value, c.contribution))
                    .collect();
                annotations.insert("evidence".to_string(), evidence.join("; "));
            }
        }
        if let Some(r) = f.recommendation.as_ref().filter(|r| !r.actions.is_empty()) {
            annotations.insert("actions".to_string(), r.actions.join("; "));
        }
        if !self.opts.runbook_url.is_empty() {
            annotations.insert("runbook_url".to_string(), self.opts.runbook_url.clone());
        }
        // Like Prometheus: an active alert expires by itself unless re-sent, so a dead watcher leaves no
        // alert firing forever.
        let ttl = 4.0 * self.opts.resend_interval_secs.max(self.query_step);
        Alert {
            labels,
            annotations,
            starts_at: starts_at.to_rfc3339(),
            ends_at: utc(now + ttl).to_rfc3339(),
            generator_url: self.opts.generator_url.clone(),
            resolved,
        }
    }
}

fn utc(unix_secs: f64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis((unix_secs * 1000.0) as i64).unwrap_or_default()
}
