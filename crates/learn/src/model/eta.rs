//! Time to issue: a regression forest fitted on the positive windows (seconds from the window's end to
//! its incident's start), with the heuristic it replaced as the fallback for pairs that have none.
//!
//! The forest uses the pair's features and tree settings. Its target is either the seconds themselves or
//! `ln(1 + seconds)` (an error of a minute matters more 30 s before an incident than 5 min before it);
//! training fits both on the fit part and keeps the one with the lower median absolute error on the
//! validation part's alarmed windows that precede an incident start (see [`choose_target`]).

use super::*;
use crate::figures::EtaFigures;

/// What an ETA forest was fitted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EtaTarget {
    /// Seconds to the incident's start.
    Seconds,
    /// `ln(1 + seconds)`: the forest averages logarithms, its output is mapped back with `exp(x) - 1`.
    Log1pSeconds,
}

impl EtaTarget {
    /// The forest's training target for `secs` seconds to the start.
    pub fn encode(self, secs: f64) -> f64 {
        match self {
            EtaTarget::Seconds => secs,
            EtaTarget::Log1pSeconds => secs.ln_1p(),
        }
    }

    /// Seconds from the forest's output (never negative).
    pub fn decode(self, value: f64) -> f64 {
        match self {
            EtaTarget::Seconds => value,
            EtaTarget::Log1pSeconds => value.exp_m1(),
        }
        .max(0.0)
    }
}

/// How a pair's ETA forest was fitted and how it did on the validation part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EtaMeta {
    /// The target the forest predicts (chosen on the validation part).
    pub target: EtaTarget,
    /// Validation: the chosen forest against the heuristic, on alarmed windows preceding an incident start.
    pub validation: EtaFigures,
    /// Validation median absolute error of the target not chosen, seconds (`None` without such windows).
    pub rejected_median_abs_error_secs: Option<f64>,
}

/// The ETA guesses of one validation window that precedes an incident start.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct EtaGuess {
    /// Seconds from the window's end to the incident's start.
    pub truth_secs: f64,
    /// The forest fitted on seconds, seconds.
    pub seconds: f64,
    /// The forest fitted on `ln(1 + seconds)`, seconds.
    pub log1p: f64,
    /// The heuristic, seconds.
    pub heuristic: f64,
}

/// Seconds from a window ending at `t` to an incident starting at `start` (0 inside an ongoing one).
pub(super) fn secs_to_start(start: i64, t: i64) -> f64 {
    (start - t).max(0) as f64
}

/// Fits the ETA forest of a pair on the positive rows (`issue == 1`) with targets `eta_secs`, or `None`
/// when the parameters ask for no ETA forest or there are no positive rows.
pub(super) fn fit_eta(
    rows: &Rows,
    nf: usize,
    params: &TrainParams,
    target: EtaTarget,
) -> Result<Option<RandomForest>, LearnError> {
    let pos: Vec<usize> = (0..rows.issue.len())
        .filter(|&i| rows.issue[i] == 1.0)
        .collect();
    if params.eta_trees == 0 || pos.is_empty() {
        return Ok(None);
    }
    let mut xv = Vec::with_capacity(pos.len() * nf);
    for &i in &pos {
        xv.extend_from_slice(&rows.x[i * nf..(i + 1) * nf]);
    }
    let x = Matrix::new(xv, pos.len(), nf)?;
    let y: Vec<f64> = pos
        .iter()
        .map(|&i| target.encode(rows.eta_secs[i]))
        .collect();
    Ok(Some(
        params.eta_forest().check()?.fit_regressor(&x, &y, None)?,
    ))
}

/// The target whose forest has the lower validation median absolute error over alarmed windows that
/// precede an incident start (over all such windows when none is alarmed); seconds on ties or without
/// windows. Returns the target, its figures and the other target's error.
pub(super) fn choose_target(guesses: &[(EtaGuess, bool)]) -> EtaMeta {
    let alarmed: Vec<EtaGuess> = guesses.iter().filter(|g| g.1).map(|g| g.0).collect();
    let scored: Vec<EtaGuess> = if alarmed.is_empty() {
        guesses.iter().map(|g| g.0).collect()
    } else {
        alarmed
    };
    let figures_of = |forest: fn(&EtaGuess) -> f64| {
        let g: Vec<(f64, Option<f64>, f64)> = scored
            .iter()
            .map(|g| (g.truth_secs, Some(forest(g)), g.heuristic))
            .collect();
        EtaFigures::of(&g)
    };
    let seconds = figures_of(|g| g.seconds);
    let log1p = figures_of(|g| g.log1p);
    let use_log = matches!(
        (seconds.forest_median_abs_error_secs, log1p.forest_median_abs_error_secs),
        (Some(s), Some(l)) if l < s
    );
    let (target, validation, rejected) = if use_log {
        (EtaTarget::Log1pSeconds, log1p, seconds)
    } else {
        (EtaTarget::Seconds, seconds, log1p)
    };
    EtaMeta {
        target,
        validation,
        rejected_median_abs_error_secs: rejected.forest_median_abs_error_secs,
    }
}

impl ModelPair {
    /// Expected seconds until the issue starts for one feature row whose most likely type is
    /// `type_index`: the ETA forest's estimate, or [`ModelPair::eta_heuristic_secs`] when the pair has none
    /// (bundles trained before ETA forests). Every path (`serve`, `watch`, `eval`) asks this.
    pub fn time_to_issue_secs(&self, row: &[f32], type_index: usize) -> Result<f64, LearnError> {
        Ok(match self.eta_forest_secs(row)? {
            Some(secs) => secs,
            None => self.eta_heuristic_secs(row, type_index),
        })
    }

    /// The ETA forest's estimate for one feature row, seconds; `None` when the pair has no ETA forest.
    pub fn eta_forest_secs(&self, row: &[f32]) -> Result<Option<f64>, LearnError> {
        match (&self.eta, &self.meta.eta) {
            (Some(forest), Some(meta)) => Ok(Some(meta.target.decode(forest.predict_row(row)?))),
            _ => Ok(None),
        }
    }

    /// The heuristic ETA, seconds: the soonest linear extrapolation of a metric to its limit
    /// (`*.secs_to_limit`, own metrics only) when one falls within the horizon, else the median lead of
    /// the type's training windows (`lead_secs_by_type`).
    pub fn eta_heuristic_secs(&self, row: &[f32], type_index: usize) -> f64 {
        let meta = &self.meta;
        let linear = meta
            .feature_names
            .iter()
            .zip(row)
            .filter(|(n, v)| {
                n.ends_with(".secs_to_limit") && !crate::context::is_peer_column(n) && v.is_finite()
            })
            .map(|(_, &v)| f64::from(v))
            .filter(|&v| v <= meta.window.horizon_secs as f64)
            .fold(f64::INFINITY, f64::min);
        if linear.is_finite() {
            linear
        } else {
            meta.lead_secs_by_type
                .get(type_index)
                .copied()
                .unwrap_or(0.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log1p_round_trips_and_never_goes_negative() {
        for secs in [0.0, 1.0, 42.5, 300.0] {
            let t = EtaTarget::Log1pSeconds;
            assert!((t.decode(t.encode(secs)) - secs).abs() < 1e-9);
            assert_eq!(EtaTarget::Seconds.decode(secs), secs);
        }
        assert_eq!(EtaTarget::Log1pSeconds.decode(-1e-9), 0.0);
    }

    #[test]
    fn the_target_with_the_lower_alarmed_error_wins() {
        let g = |truth, seconds, log1p, alarmed| {
            (
                EtaGuess {
                    truth_secs: truth,
                    seconds,
                    log1p,
                    heuristic: 150.0,
                },
                alarmed,
            )
        };
        // Alarmed windows favour log1p; the unalarmed one (which favours seconds) is not scored.
        let m = choose_target(&[
            g(30.0, 90.0, 40.0, true),
            g(60.0, 100.0, 70.0, true),
            g(250.0, 250.0, 100.0, false),
        ]);
        assert_eq!(m.target, EtaTarget::Log1pSeconds);
        assert_eq!(m.validation.windows, 2);
        assert_eq!(m.validation.forest_median_abs_error_secs, Some(10.0));
        assert_eq!(m.rejected_median_abs_error_secs, Some(50.0));
        assert_eq!(m.validation.heuristic_median_abs_error_secs, Some(105.0));
        // No alarmed window: every window is scored; ties and no windows keep seconds.
        let m = choose_target(&[g(100.0, 110.0, 90.0, false)]);
        assert_eq!((m.target, m.validation.windows), (EtaTarget::Seconds, 1));
        let m = choose_target(&[]);
        assert_eq!(m.target, EtaTarget::Seconds);
        assert_eq!(m.validation.forest_median_abs_error_secs, None);
    }
}
