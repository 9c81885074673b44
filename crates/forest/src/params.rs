//! Parameter validation: [`ForestParams`] → [`ValidParams`].

use crate::{ClassWeight, ForestError, ForestParams, MaxFeatures, ValidParams};

impl ForestParams {
    /// Validates the parameters before any work.
    pub fn check(&self) -> Result<ValidParams, ForestError> {
        let invalid =
            |name: &'static str, reason: String| Err(ForestError::InvalidParam { name, reason });
        if self.n_trees == 0 {
            return invalid("n_trees", "must be at least 1".into());
        }
        if self.max_depth == Some(0) {
            return invalid(
                "max_depth",
                "must be at least 1 (or None for unlimited)".into(),
            );
        }
        if self.min_samples_split < 2 {
            return invalid(
                "min_samples_split",
                format!("must be at least 2, got {}", self.min_samples_split),
            );
        }
        if self.min_samples_leaf < 1 {
            return invalid("min_samples_leaf", "must be at least 1".into());
        }
        match self.max_features {
            MaxFeatures::Fraction(f) if !(f > 0.0 && f <= 1.0) => {
                return invalid(
                    "max_features",
                    format!("fraction must be in (0, 1], got {f}"),
                );
            }
            MaxFeatures::Count(0) => {
                return invalid("max_features", "count must be at least 1".into());
            }
            _ => {}
        }
        if let ClassWeight::Explicit(w) = &self.class_weight {
            if let Some(bad) = w.iter().find(|w| !(w.is_finite() && **w >= 0.0)) {
                return invalid(
                    "class_weight",
                    format!("weights must be finite and >= 0, got {bad}"),
                );
            }
            if !w.iter().any(|w| *w > 0.0) {
                return invalid(
                    "class_weight",
                    "at least one class weight must be positive".into(),
                );
            }
        }
        if self.oob_score && !self.bootstrap {
            return invalid(
                "oob_score",
                "out-of-bag estimates need bootstrap = true".into(),
            );
        }
        if !(2..=255).contains(&self.max_bins) {
            return invalid(
                "max_bins",
                format!("must be in 2..=255, got {}", self.max_bins),
            );
        }
        if let Some(bad) = self.monotonic.iter().find(|c| !(-1..=1).contains(*c)) {
            return invalid(
                "monotonic",
                format!("constraints are -1, 0 or 1 per feature, got {bad}"),
            );
        }
        if self.n_threads == Some(0) {
            return invalid(
                "n_threads",
                "must be at least 1 (or None for rayon's pool)".into(),
            );
        }
        Ok(ValidParams(self.clone()))
    }
}

impl ValidParams {
    /// The validated parameters.
    pub fn params(&self) -> &ForestParams {
        &self.0
    }

    /// The monotonic constraints for data of `n_features` columns and `n_classes` classes (`None` for a
    /// regressor): empty when there are none (or all are 0), else one per feature.
    pub(crate) fn monotonic_for(
        &self,
        n_features: usize,
        n_classes: Option<usize>,
    ) -> Result<&[i8], ForestError> {
        let cst = &self.0.monotonic;
        if cst.iter().all(|c| *c == 0) {
            return Ok(&[]);
        }
        if cst.len() != n_features {
            return Err(ForestError::InvalidParam {
                name: "monotonic",
                reason: format!(
                    "{} constraints given for {n_features} features (one per feature, or none)",
                    cst.len()
                ),
            });
        }
        if let Some(k) = n_classes.filter(|k| *k != 2) {
            return Err(ForestError::InvalidParam {
                name: "monotonic",
                reason: format!(
                    "monotonic constraints need a regressor or a binary classifier; the labels have {k} classes"
                ),
            });
        }
        Ok(cst)
    }

    /// Number of features drawn at each split for `n_features` columns (at least 1).
    pub(crate) fn features_per_split(&self, n_features: usize) -> Result<usize, ForestError> {
        let nf = n_features as f64;
        let k = match self.0.max_features {
            MaxFeatures::Sqrt => nf.sqrt().floor() as usize,
            MaxFeatures::Log2 => nf.log2().floor() as usize,
            MaxFeatures::Fraction(f) => (f * nf).floor() as usize,
            MaxFeatures::Count(c) => {
                if c > n_features {
                    return Err(ForestError::InvalidParam {
                        name: "max_features",
                        reason: format!("{c} features requested but the data has {n_features}"),
                    });
                }
                c
            }
            MaxFeatures::All => n_features,
        };
        Ok(k.clamp(1, n_features.max(1)))
    }
}
