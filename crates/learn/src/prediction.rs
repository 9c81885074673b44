//! What a prediction says: probability, type, time to issue, explanation and recommendation.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One prediction for one target (or cluster).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// Whether the issue probability reaches the model's alarm threshold.
    pub will_have_issue: bool,
    /// Calibrated probability that an issue starts within the horizon, 0–1.
    pub issue_probability: f64,
    /// The most likely issue type, or `normal` when no issue is predicted.
    pub issue_type: String,
    /// Probability of `normal` and of each issue type (sums to 1).
    pub probabilities: BTreeMap<String, f64>,
    /// Expected seconds until the issue starts (only when an issue is predicted).
    pub time_to_issue_seconds: Option<f64>,
    /// The horizon the probability refers to, seconds.
    pub horizon_seconds: f64,
    /// Why (TreeSHAP); always present when an issue is predicted or when asked.
    pub explanation: Option<Explanation>,
    /// What to do; `None` when normal.
    pub recommendation: Option<Recommendation>,
    /// Seconds of the target's own history its trailing baseline covered (models with baseline features).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_seconds: Option<f64>,
}

/// How to predict: the same for every path (`serve`, `watch`, `eval`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PredictOptions {
    /// Compute the TreeSHAP explanation even when no issue is predicted.
    pub explain: bool,
    /// Overrides the model's alarm threshold on the issue probability (0–1). An issue that only this
    /// threshold declares (the model's own would not) gets the likeliest type, a recommendation and an
    /// explanation, but no time to issue: the model did not expect one within its horizon.
    pub threshold: Option<f64>,
    /// What becomes of a model metric a window lacks ([`crate::columns::MissingColumns`]; default: an
    /// error naming it).
    pub missing: crate::columns::MissingColumns,
}

impl PredictOptions {
    /// The model's own threshold, with or without the explanation of a normal prediction.
    pub fn explain(explain: bool) -> Self {
        PredictOptions {
            explain,
            ..PredictOptions::default()
        }
    }
}

/// The features that moved the probability most.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    /// One human line, e.g. "memory working set rose 12%/min and reaches its limit in ~4 min".
    pub summary: String,
    /// Top features by absolute contribution, largest first.
    pub top_features: Vec<Contribution>,
}

/// One feature's value and signed contribution to the issue probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contribution {
    /// Feature name (see `learn::features`).
    pub feature: String,
    /// Its value in this window (NaN serialises as null).
    #[serde(with = "crate::nan_null")]
    pub value: f64,
    /// Its TreeSHAP contribution to the issue probability (positive = towards an issue).
    pub contribution: f64,
}

/// A description of the issue and the actions to take.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// What is going on.
    pub description: String,
    /// What to do, most useful first.
    pub actions: Vec<String>,
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// The recommendation for an issue type; `target` (`namespace/deployment`), when known, adds
/// evidence-specific actions that name it and the `kubectl` command to inspect it.
pub fn recommendation(issue_type: &str, target: Option<&str>) -> Recommendation {
    let (description, mut actions) = match issue_type {
        "pod_failure" => (
            "Pods are failing or being terminated unexpectedly",
            strs(&[
                "Investigate pod logs for error messages",
                "Check for memory leaks or OOM kills",
                "Restart affected deployments",
                "Implement liveness and readiness probes",
            ]),
        ),
        "resource_exhaustion" => (
            "Resources are running out: CPU, memory or storage is approaching its limit",
            strs(&[
                "Scale out the deployment or add nodes to the cluster",
                "Review resource requests and limits against actual usage",
                "Look for runaway processes, memory growth or filling volumes",
                "Implement horizontal pod autoscaling",
            ]),
        ),
        "network_issue" => (
            "Network connectivity or latency between services is degrading",
            strs(&[
                "Check service endpoints and network policies",
                "Inspect DNS resolution and CoreDNS health",
                "Review latency and packet loss between dependent services",
                "Verify node network interfaces and the CNI plugin",
            ]),
        ),
        "application_error" => (
            "The application is returning errors or failing requests",
            strs(&[
                "Investigate application logs for exceptions",
                "Review recent deployments and roll back if needed",
                "Check the error rates of dependent services",
                "Add retries, timeouts and circuit breakers to failing calls",
            ]),
        ),
        "anomaly" => (
            "This workload's metrics are unusual for it (unsupervised model: no incident history taught it what follows)",
            strs(&[
                "Look at the metrics the explanation names against the workload's recent history",
                "Review recent deployments, configuration changes and traffic shifts",
                "Label what this turns out to be and retrain with incidents to get types and lead times",
            ]),
        ),
        _ => (
            "An issue is expected on this workload",
            strs(&[
                "Investigate pod logs and recent events",
                "Review recent changes to the workload",
            ]),
        ),
    };
    if let Some(target) = target {
        let (ns, name) = target.rsplit_once('/').unwrap_or(("default", target));
        actions.push(format!(
            "Inspect {target}: kubectl -n {ns} describe deployment {name}"
        ));
        let specific = match issue_type {
            "resource_exhaustion" => {
                format!("Check its usage: kubectl -n {ns} top pod -l app={name}")
            }
            "pod_failure" => format!(
                "Check restarts and OOM kills: kubectl -n {ns} get pods -l app={name} -o wide && kubectl -n {ns} get events --sort-by=.lastTimestamp"
            ),
            "network_issue" => format!("Check its endpoints: kubectl -n {ns} get endpoints {name}"),
            _ => format!("Read its logs: kubectl -n {ns} logs deployment/{name} --since=15m"),
        };
        actions.push(specific);
    }
    Recommendation {
        description: description.to_string(),
        actions,
    }
}

/// A metric name in words: units and counter suffixes dropped, underscores as spaces.
pub fn human_metric(name: &str) -> String {
    let (prefix, base) = if let Some(rest) = name.strip_prefix("peers_mean:") {
        ("other services' mean ", rest)
    } else if let Some(rest) = name.strip_prefix("peers_max:") {
        ("other services' max ", rest)
    } else if let Some(rest) = name.strip_prefix(crate::context::CALLERS_MAX) {
        ("its callers' rise in ", rest)
    } else {
        ("", name)
    };
    let (base, rate) = match base.strip_prefix("rate(").and_then(|b| b.strip_suffix(')')) {
        Some(inner) => (inner, true),
        None => (base, false),
    };
    let mut b = base;
    for suffix in [
        "_total",
        "_bytes",
        "_seconds",
        "_mib",
        "_millicores",
        "_cores",
        "_percent",
        "_ratio",
    ] {
        if let Some(stripped) = b.strip_suffix(suffix) {
            b = stripped;
        }
    }
    let words = b.replace('_', " ");
    if rate {
        format!("{prefix}{words} rate")
    } else {
        format!("{prefix}{words}")
    }
}

/// The dataset column a feature is computed from: `memory_limit_utilization_max.slope` →
/// `memory_limit_utilization_max`, `rate(restarts_total).mean` → `restarts_total`; `None` for features of
/// no single column (calendar, metric families).
pub fn feature_metric(feature: &str) -> Option<&str> {
    let (stem, _) = feature.rsplit_once('.')?;
    if stem == "time" || stem.starts_with("family.") {
        return None;
    }
    Some(
        stem.strip_prefix("rate(")
            .and_then(|s| s.strip_suffix(')'))
            .unwrap_or(stem),
    )
}

/// A feature name in words, for people (plots, explanations in the API and the UI): the one naming
/// function. `memory_limit_utilization_max.secs_to_limit` → "memory limit utilization max: time to
/// limit"; `family.memory.abs_z` → "memory metrics: largest deviation from baseline (z)".
pub fn human_feature(feature: &str) -> String {
    let Some((stem, stat)) = feature.rsplit_once('.') else {
        return human_metric(feature);
    };
    let stat_words = match stat {
        "last" => "latest value",
        "mean" => "mean",
        "min" => "minimum",
        "max" => "maximum",
        "std" => "variability (std)",
        "slope" => "trend (per second)",
        "change" => "change over the window",
        "missing" => "share of missing samples",
        "use_of_limit" => "use of its limit",
        "headroom" => "headroom to its limit",
        "secs_to_limit" => "time to its limit",
        "rel_jump" => "jump against the window",
        "z_jump" => "jump (z-score)",
        "z_last" => "latest vs baseline (z)",
        "z_mean" => "mean vs baseline (z)",
        "z_max" => "maximum vs baseline (z)",
        "z_min" => "minimum vs baseline (z)",
        "rel_to_baseline" => "mean relative to baseline",
        "out_of_band" => "share outside its baseline band",
        "secs_out_of_band" => "time outside its baseline band",
        "abs_z" => "largest deviation from baseline (z)",
        "hour_of_day" => "hour of day (UTC)",
        "day_of_week" => "day of week (UTC)",
        other => return format!("{}: {}", human_metric(stem), other.replace('_', " ")),
    };
    if stem == "time" {
        return stat_words.to_string();
    }
    if let Some(family) = stem.strip_prefix("family.") {
        return format!("{family} metrics: {stat_words}");
    }
    format!("{}: {stat_words}", human_metric(stem))
}

fn fmt_value(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{:.1}G", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else if a >= 10.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}

/// One clause about a feature, or `None` for features that do not read well alone.
fn clause(
    feature: &str,
    value: f64,
    value_of: &dyn Fn(&str) -> Option<f64>,
) -> Option<(String, String)> {
    let (metric, stat) = feature.rsplit_once('.')?;
    let human = human_metric(metric);
    let text = match stat {
        "slope" => {
            let mean = value_of(&format!("{metric}.mean")).filter(|m| m.abs() > 1e-12);
            let dir = if value >= 0.0 { "rose" } else { "fell" };
            match mean {
                Some(m) => format!(
                    "{human} {dir} {:.0}%/min",
                    (value * 60.0 / m.abs() * 100.0).abs()
                ),
                None => format!("{human} {dir} {}/min", fmt_value((value * 60.0).abs())),
            }
        }
        "secs_to_limit" if value < 86_000.0 => format!(
            "{human} reaches its limit in ~{:.0} min",
            (value / 60.0).max(0.0).ceil()
        ),
        "secs_to_limit" => format!("{human} is not heading for its limit"),
        "use_of_limit" => format!("{human} at {:.0}% of its limit", value * 100.0),
        "headroom" => format!("{human} has {:.0}% headroom left", value * 100.0),
        "missing" => format!("{:.0}% of {human} samples missing", value * 100.0),
        "change" => format!("{human} changed by {} over the window", fmt_value(value)),
        "std" => format!("{human} fluctuates (std {})", fmt_value(value)),
        "last" | "mean" | "max" | "min" => format!("{human} {stat} is {}", fmt_value(value)),
        "hour_of_day" => format!("hour of day {value:.0}"),
        "day_of_week" => format!("day of week {value:.0}"),
        _ => format!("{feature} = {}", fmt_value(value)),
    };
    Some((metric.to_string(), text))
}

/// The one-line summary of the top contributions (those pushing towards an issue first).
pub fn summary(top: &[Contribution], value_of: &dyn Fn(&str) -> Option<f64>) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut metrics_seen: Vec<String> = Vec::new();
    let mut ordered: Vec<&Contribution> = top.iter().filter(|c| c.contribution > 0.0).collect();
    if ordered.is_empty() {
        ordered = top.iter().collect();
    }
    for c in ordered {
        let Some((metric, text)) = clause(&c.feature, c.value, value_of) else {
            continue;
        };
        if metrics_seen.contains(&metric) {
            continue;
        }
        let mut text = text;
        if !c.feature.ends_with(".secs_to_limit") {
            if let Some(secs) = value_of(&format!("{metric}.secs_to_limit")).filter(|s| *s < 3600.0)
            {
                text.push_str(&format!(
                    " and reaches its limit in ~{:.0} min",
                    (secs / 60.0).ceil()
                ));
            }
        }
        metrics_seen.push(metric);
        parts.push(text);
        if parts.len() == 2 {
            break;
        }
    }
    if parts.is_empty() {
        "no single metric stands out".to_string()
    } else {
        parts.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_failure_keeps_the_original_texts() {
        let r = recommendation("pod_failure", None);
        assert_eq!(
            r.description,
            "Pods are failing or being terminated unexpectedly"
        );
        assert_eq!(
            r.actions,
            [
                "Investigate pod logs for error messages",
                "Check for memory leaks or OOM kills",
                "Restart affected deployments",
                "Implement liveness and readiness probes"
            ]
        );
        let r = recommendation("resource_exhaustion", Some("shop/cart"));
        assert!(
            r.actions
                .iter()
                .any(|a| a.contains("kubectl -n shop describe deployment cart"))
        );
    }

    #[test]
    fn summary_reads_like_an_sre_would_say_it() {
        let top = [Contribution {
            feature: "memory_working_set_bytes.slope".into(),
            value: 2e6 / 60.0 * 1.0,
            contribution: 0.3,
        }];
        let values = |name: &str| match name {
            "memory_working_set_bytes.mean" => Some(1e7),
            "memory_working_set_bytes.secs_to_limit" => Some(230.0),
            _ => None,
        };
        assert_eq!(
            summary(&top, &values),
            "memory working set rose 20%/min and reaches its limit in ~4 min"
        );
    }
}

#[cfg(test)]
mod human_feature_tests {
    use super::*;

    #[test]
    fn feature_names_read_as_words_and_map_to_their_column() {
        assert_eq!(
            human_feature("memory_limit_utilization_max.secs_to_limit"),
            "memory limit utilization max: time to its limit"
        );
        assert_eq!(
            human_feature("rate(restarts_total).mean"),
            "restarts rate: mean"
        );
        assert_eq!(human_feature("time.hour_of_day"), "hour of day (UTC)");
        assert_eq!(
            human_feature("family.memory.abs_z"),
            "memory metrics: largest deviation from baseline (z)"
        );
        assert_eq!(
            feature_metric("rate(restarts_total).mean"),
            Some("restarts_total")
        );
        assert_eq!(
            feature_metric("memory_limit_utilization_max.slope"),
            Some("memory_limit_utilization_max")
        );
        assert_eq!(feature_metric("family.memory.abs_z"), None);
        assert_eq!(feature_metric("time.day_of_week"), None);
    }
}
