//! Platt calibration: forest scores → probabilities.

use super::*;

/// Maps a forest score s to a probability: `sigmoid(a * logit(s) + b)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Slope on the score's logit.
    pub a: f64,
    /// Intercept.
    pub b: f64,
}

impl Calibration {
    /// No change.
    pub const IDENTITY: Self = Self { a: 1.0, b: 0.0 };

    /// The calibrated probability of a raw forest score.
    pub fn apply(&self, score: f64) -> f64 {
        let z = self.a * logit(score) + self.b;
        1.0 / (1.0 + (-z).exp())
    }

    /// Fits `a`, `b` by Newton's method on the log-loss (Platt scaling), lightly regularised.
    pub fn fit(scores: &[f64], truth: &[bool]) -> Self {
        let pos = truth.iter().filter(|&&t| t).count();
        if pos == 0 || pos == truth.len() {
            return Self::IDENTITY;
        }
        let x: Vec<f64> = scores.iter().map(|&s| logit(s)).collect();
        let (mut a, mut b) = (1.0f64, 0.0f64);
        for _ in 0..50 {
            let (mut ga, mut gb, mut haa, mut hab, mut hbb) =
                (1e-3 * (a - 1.0), 1e-3 * b, 1e-3, 0.0, 1e-3);
            for (xi, &t) in x.iter().zip(truth) {
                let p = 1.0 / (1.0 + (-(a * xi + b)).exp());
                let g = p - if t { 1.0 } else { 0.0 };
                let w = (p * (1.0 - p)).max(1e-12);
                ga += g * xi;
                gb += g;
                haa += w * xi * xi;
                hab += w * xi;
                hbb += w;
            }
            let det = haa * hbb - hab * hab;
            if det.abs() < 1e-18 {
                break;
            }
            let da = (hbb * ga - hab * gb) / det;
            let db = (haa * gb - hab * ga) / det;
            a -= da;
            b -= db;
            if da.abs() + db.abs() < 1e-9 {
                break;
            }
        }
        if a.is_finite() && b.is_finite() && a > 0.0 {
            Self { a, b }
        } else {
            Self::IDENTITY
        }
    }
}

pub(super) fn logit(s: f64) -> f64 {
    let s = s.clamp(1e-4, 1.0 - 1e-4);
    (s / (1.0 - s)).ln()
}
