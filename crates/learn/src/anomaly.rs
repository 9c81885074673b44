//! The label-free anomaly scorer: an Isolation Forest (`forest::IsolationForest`) over a window's
//! *scale-free* features — its statistics against the target's own trailing baseline and the metric
//! families' deviations (`features::BASELINE_STATS`, `FAMILY_STATS`) — so one fit applies to every target,
//! seen or not. Fitted on the training windows without their labels; its score (0–1, higher = more
//! anomalous) is reported as the `isolation_forest` baseline of every evaluation of a model with baseline
//! features. Its type is read from the family that deviates most ([`type_of`]).

use forest::{IsolationForest, IsolationParams, Matrix};
use serde::{Deserialize, Serialize};

use crate::error::LearnError;
use crate::features::{BASELINE_STATS, FAMILY_STATS};

/// The name of the anomaly scorer in reports.
pub const NAME: &str = "isolation_forest";

/// The one issue type of an unsupervised model (`kubepulse train --unsupervised`).
pub const ISSUE_TYPE: &str = "anomaly";

/// Trees of the Isolation Forest.
pub const TREES: usize = 100;

/// Whether a feature is scale-free (an input of the anomaly scorer).
pub fn is_scale_free(name: &str) -> bool {
    if let Some(rest) = name.strip_prefix("family.") {
        return FAMILY_STATS
            .iter()
            .any(|s| rest.ends_with(&format!(".{s}")));
    }
    BASELINE_STATS.iter().any(|s| {
        name.strip_suffix(s)
            .is_some_and(|stem| stem.ends_with('.') && !crate::context::is_peer_column(stem))
    })
}

/// What the bundle records of the anomaly scorer besides its forest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnomalyMeta {
    /// The features it reads, by name, in its input order.
    pub features: Vec<String>,
    /// Alarm when the score is at least this (chosen on the training period for the false alarm budget).
    pub threshold: f64,
}

/// A fitted anomaly scorer (its inputs and threshold are the pair's `PairMeta::anomaly`).
#[derive(Debug, Clone)]
pub struct Anomaly {
    /// The Isolation Forest over the inputs.
    pub forest: IsolationForest,
    /// Position of each input in the model's feature rows.
    columns: Vec<usize>,
}

impl Anomaly {
    /// Fits the scorer on feature rows (row-major over `names`; labels unused); its threshold is 1 (never)
    /// until chosen. `None` when the features hold nothing scale-free (a model without baseline features)
    /// or there are fewer than 2 rows.
    pub fn fit(
        names: &[String],
        rows: &[f32],
        seed: u64,
        n_threads: Option<usize>,
    ) -> Result<Option<(Self, AnomalyMeta)>, LearnError> {
        let columns: Vec<usize> = (0..names.len())
            .filter(|&i| is_scale_free(&names[i]))
            .collect();
        let n = rows.len() / names.len().max(1);
        if columns.is_empty() || n < 2 {
            return Ok(None);
        }
        let x = select(rows, names.len(), &columns);
        let forest = IsolationParams {
            n_trees: TREES,
            seed,
            n_threads,
            ..IsolationParams::default()
        }
        .check()?
        .fit(&Matrix::new(x, n, columns.len())?)?;
        let meta = AnomalyMeta {
            features: columns.iter().map(|&i| names[i].clone()).collect(),
            threshold: 1.0,
        };
        Ok(Some((Self { forest, columns }, meta)))
    }

    /// Rebuilds a scorer from its parts (a loaded bundle); errors when a recorded input is not a feature.
    pub fn from_parts(
        meta: &AnomalyMeta,
        forest: IsolationForest,
        names: &[String],
    ) -> Result<Self, LearnError> {
        let columns = meta
            .features
            .iter()
            .map(|f| {
                names.iter().position(|n| n == f).ok_or_else(|| {
                    LearnError::Bundle(format!("anomaly scorer input {f:?} is not a model feature"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if columns.len() != forest.n_features() {
            return Err(LearnError::Bundle(format!(
                "anomaly scorer reads {} features but its forest has {}",
                columns.len(),
                forest.n_features()
            )));
        }
        Ok(Self { forest, columns })
    }

    /// Scores feature rows (row-major, `nf` wide): 0–1, higher = more anomalous.
    pub fn scores(&self, rows: &[f32], nf: usize) -> Result<Vec<f64>, LearnError> {
        let n = rows.len() / nf.max(1);
        let x = select(rows, nf, &self.columns);
        Ok(self.forest.score(&Matrix::new(x, n, self.columns.len())?)?)
    }

    /// Scores one feature row.
    pub fn score_row(&self, row: &[f32]) -> Result<f64, LearnError> {
        let x: Vec<f32> = self.columns.iter().map(|&c| row[c]).collect();
        Ok(self.forest.score_row(&x)?)
    }
}

fn select(rows: &[f32], nf: usize, columns: &[usize]) -> Vec<f32> {
    let mut x = Vec::with_capacity(rows.len() / nf.max(1) * columns.len());
    for row in rows.chunks(nf.max(1)) {
        x.extend(columns.iter().map(|&c| row[c]));
    }
    x
}

/// The issue type a deviation points to: the type of the family whose metric deviates most
/// (`family.<f>.abs_z`) — CPU and memory → `resource_exhaustion`, network and latency → `network_issue`,
/// errors → `application_error`, restarts → `pod_failure` — when that type is among `types`, else `fallback`.
pub fn type_of(
    row: &[f32],
    index: &dyn Fn(&str) -> Option<usize>,
    types: &[String],
    fallback: usize,
) -> usize {
    let mut best: Option<(&str, f32)> = None;
    for f in crate::features::FAMILIES {
        let Some(i) = index(&format!("family.{f}.abs_z")) else {
            continue;
        };
        let v = row[i];
        if v.is_finite() && best.is_none_or(|(_, b)| v > b) {
            best = Some((f, v));
        }
    }
    let wanted = match best.map(|(f, _)| f) {
        Some("network" | "latency") => "network_issue",
        Some("errors") => "application_error",
        Some("restarts") => "pod_failure",
        Some(_) => "resource_exhaustion",
        None => return fallback,
    };
    types.iter().position(|t| t == wanted).unwrap_or(fallback)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_free_features_are_the_baseline_and_family_statistics() {
        for yes in [
            "cpu.z_last",
            "rate(req_total).out_of_band",
            "family.cpu.abs_z",
            "mem.rel_to_baseline",
        ] {
            assert!(is_scale_free(yes), "{yes}");
        }
        for no in [
            "cpu.last",
            "cpu.z_jump",
            "peers_mean:cpu.z_last",
            "family.cpu",
        ] {
            assert!(!is_scale_free(no), "{no}");
        }
    }

    #[test]
    fn an_outlying_row_scores_higher_and_a_loaded_scorer_agrees() {
        let names: Vec<String> = ["cpu.last", "cpu.z_last", "family.cpu.abs_z"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut rows = Vec::new();
        for i in 0..500 {
            let z = ((i * 37) % 100) as f32 / 50.0 - 1.0;
            rows.extend([100.0 + i as f32, z, z.abs()]);
        }
        let (a, meta) = Anomaly::fit(&names, &rows, 7, Some(1)).unwrap().unwrap();
        assert_eq!(meta.features, names[1..].to_vec());
        let normal = a.score_row(&[1e9, 0.1, 0.1]).unwrap();
        let odd = a.score_row(&[0.0, 25.0, 25.0]).unwrap();
        assert!(odd > normal + 0.1, "{odd} vs {normal}");
        let b = Anomaly::from_parts(
            &meta,
            IsolationForest::from_bytes(&a.forest.to_bytes()).unwrap(),
            &names,
        )
        .unwrap();
        let both = [1e9, 0.1, 0.1, 0.0, 25.0, 25.0];
        assert_eq!(a.scores(&both, 3).unwrap(), b.scores(&both, 3).unwrap());
        assert_eq!(b.scores(&both, 3).unwrap()[1], odd);
    }
}
