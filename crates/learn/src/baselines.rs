//! The simple rules users already have, scored the same way as the model:
//!
//! * `static_threshold`: use of a limit above 90 % (`*.use_of_limit > 0.9`), or a latency / error /
//!   restart metric's last value above its 99.5th percentile on the training data's normal windows;
//! * `predict_linear`: the linear extrapolation of a usage reaches its limit within the horizon
//!   (`*.secs_to_limit <= horizon`), as a `predict_linear` alert rule does;
//! * `robust_z`: a metric family's largest deviation from the target's own trailing baseline
//!   (`family.<f>.abs_z`, models with baseline features) above its 99.5th percentile on the training
//!   data's normal windows — the label-free rule an SRE would write on z-scores;
//! * `always_normal`: never alarms;
//! * `onset_shift` ([`crate::onset`], listed after these and the anomaly scorer): label-free, two
//!   metrics moving at once by more than the target's own history ever shows.
//!
//! A rule's issue type follows its metric's name (CPU/memory/disk → `resource_exhaustion`, latency →
//! `network_issue`, errors → `application_error`, restarts/OOM → `pod_failure`) when that type exists
//! in the data, else the most common type.

use serde::{Deserialize, Serialize};

use crate::figures::quantile;
use crate::scoring::Score;

/// One threshold rule on one feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// Feature name.
    pub feature: String,
    /// The rule fires when the feature's value reaches this (for `secs_to_limit`: falls to it).
    pub threshold: f64,
    /// Issue type index it predicts.
    pub type_index: usize,
}

/// The baselines' parameters, learned from the training data only.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct BaselineParams {
    /// Static threshold rules (value >= threshold).
    pub static_rules: Vec<Rule>,
    /// Extrapolation rules (seconds to limit <= threshold).
    pub linear_rules: Vec<Rule>,
    /// Deviation-from-baseline rules (`family.<f>.abs_z >= threshold`).
    #[serde(default)]
    pub robust_z_rules: Vec<Rule>,
    /// The label-free `onset_shift` row's settings (`None` in bundles trained before it existed: no row).
    #[serde(default)]
    pub onset: Option<crate::onset::OnsetParams>,
}

/// Names of the baselines, in report order.
pub const NAMES: [&str; 4] = [
    "static_threshold",
    "predict_linear",
    "robust_z",
    "always_normal",
];

pub(crate) fn guess_type(name: &str, types: &[String], fallback: usize) -> usize {
    let n = name.to_ascii_lowercase();
    let wanted = if n.contains("restart") || n.contains("oom") || n.contains("crash") {
        "pod_failure"
    } else if n.contains("error") || n.contains("5xx") || n.contains("exception") {
        "application_error"
    } else if n.contains("latency") || n.contains("network") || n.contains("drop") {
        "network_issue"
    } else {
        "resource_exhaustion"
    };
    types.iter().position(|t| t == wanted).unwrap_or(fallback)
}

/// The 99.5th percentile of feature `f`'s finite values over the normal rows (row-major, `nf` wide).
fn normal_quantile(rows: &[f32], nf: usize, f: usize, normal: &[bool]) -> Option<f64> {
    let values: Vec<f64> = (0..normal.len())
        .filter(|&i| normal[i])
        .map(|i| f64::from(rows[i * nf + f]))
        .filter(|v| v.is_finite())
        .collect();
    quantile(&values, 0.995)
}

impl BaselineParams {
    /// Learns the rules: `rows` are training feature rows (row-major over `names`), `normal[i]` tells
    /// whether row `i` is a normal window; `most_common` is the index of the most common issue type.
    pub fn learn(
        names: &[String],
        rows: &[f32],
        normal: &[bool],
        horizon_secs: i64,
        types: &[String],
        most_common: usize,
    ) -> Self {
        let nf = names.len();
        let mut params = Self {
            onset: Some(crate::onset::OnsetParams {
                fallback_type: most_common,
                ..Default::default()
            }),
            ..Self::default()
        };
        for (f, name) in names.iter().enumerate() {
            if name.ends_with(".use_of_limit") && !crate::context::is_peer_column(name) {
                params.static_rules.push(Rule {
                    feature: name.clone(),
                    threshold: 0.9,
                    type_index: guess_type(name, types, most_common),
                });
            } else if name.ends_with(".secs_to_limit") && !crate::context::is_peer_column(name) {
                params.linear_rules.push(Rule {
                    feature: name.clone(),
                    threshold: horizon_secs as f64,
                    type_index: guess_type(name, types, most_common),
                });
            } else if name.starts_with("family.") && name.ends_with(".abs_z") {
                if let Some(q) = normal_quantile(rows, nf, f, normal) {
                    params.robust_z_rules.push(Rule {
                        feature: name.clone(),
                        threshold: q.max(1e-9),
                        type_index: guess_type(name, types, most_common),
                    });
                }
            } else if name.ends_with(".last") && !crate::context::is_peer_column(name) {
                let n = name.to_ascii_lowercase();
                if ["latency", "error", "restart", "oom"]
                    .iter()
                    .any(|k| n.contains(k))
                {
                    if let Some(q) = normal_quantile(rows, nf, f, normal) {
                        params.static_rules.push(Rule {
                            feature: name.clone(),
                            threshold: q.max(1e-9),
                            type_index: guess_type(name, types, most_common),
                        });
                    }
                }
            }
        }
        params
    }

    /// Scores one feature row with a baseline (`name` from [`NAMES`]); `index` maps a feature name to its position.
    pub fn score(
        &self,
        name: &str,
        row: &[f32],
        index: &dyn Fn(&str) -> Option<usize>,
        n_types: usize,
    ) -> Score {
        let mut per_type = vec![0.0f64; n_types.max(1)];
        let rules: &[Rule] = match name {
            "static_threshold" => &self.static_rules,
            "predict_linear" => &self.linear_rules,
            "robust_z" => &self.robust_z_rules,
            _ => &[],
        };
        let linear = name == "predict_linear";
        for r in rules {
            let Some(f) = index(&r.feature) else { continue };
            let v = f64::from(row[f]);
            if !v.is_finite() {
                continue;
            }
            let ratio = if linear {
                r.threshold / v.max(1.0)
            } else {
                v / r.threshold
            };
            let slot = r.type_index.min(per_type.len() - 1);
            per_type[slot] = per_type[slot].max(ratio);
        }
        let best = per_type.iter().copied().fold(0.0f64, f64::max);
        let type_index = per_type.iter().position(|&r| r == best).unwrap_or(0);
        let total: f64 = per_type.iter().sum();
        let type_probs = if total > 0.0 {
            per_type.iter().map(|r| (r / total) as f32).collect()
        } else {
            smallvec::smallvec![1.0 / per_type.len() as f32; per_type.len()]
        };
        Score {
            p_issue: best / (1.0 + best),
            alarm: best >= 1.0,
            type_index,
            type_probs,
        }
    }
}
