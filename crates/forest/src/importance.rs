//! Permutation importance.

use crate::forest::{r2_seen, tree_rng};
use crate::tree::below;
use crate::{ForestError, Matrix, RandomForest, Task};

impl RandomForest {
    /// Permutation importance: mean drop of the score over `n_repeats` seeded shuffles of each column; the
    /// score is accuracy for a classifier, R^2 for a regressor (scikit-learn's default scorers).
    pub fn permutation_importance(
        &self,
        x: &Matrix,
        y: &[f64],
        n_repeats: usize,
        seed: u64,
    ) -> Result<Vec<f64>, ForestError> {
        self.check_features(x.n_features())?;
        let n = x.n_rows();
        if n == 0 {
            return Err(ForestError::EmptyData);
        }
        if y.len() != n {
            return Err(ForestError::LengthMismatch {
                what: "y",
                got: y.len(),
                expected: n,
            });
        }
        if let Some(row) = y.iter().position(|v| !v.is_finite()) {
            return Err(ForestError::NonFiniteLabel { row });
        }
        if n_repeats == 0 {
            return Err(ForestError::InvalidParam {
                name: "n_repeats",
                reason: "must be at least 1".into(),
            });
        }
        let nf = x.n_features();
        let score = |m: &Matrix| -> Result<f64, ForestError> {
            let pred = self.predict(m)?;
            Ok(match self.task {
                Task::Classification => {
                    pred.iter().zip(y).filter(|(p, t)| p == t).count() as f64 / n as f64
                }
                Task::Regression => r2_seen(y, &pred),
            })
        };
        let baseline = score(x)?;
        let mut work = x.clone();
        let mut importances = Vec::with_capacity(nf);
        for f in 0..nf {
            let original: Vec<f32> = (0..n).map(|i| x.values()[i * nf + f]).collect();
            let mut drop = 0.0;
            for r in 0..n_repeats {
                let mut rng = tree_rng(seed, f * n_repeats + r);
                let mut column = original.clone();
                for i in (1..n).rev() {
                    column.swap(i, below(&mut rng, i + 1));
                }
                for (i, v) in column.iter().enumerate() {
                    work.values[i * nf + f] = *v;
                }
                drop += baseline - score(&work)?;
            }
            for (i, v) in original.iter().enumerate() {
                work.values[i * nf + f] = *v;
            }
            importances.push(drop / n_repeats as f64);
        }
        Ok(importances)
    }
}
