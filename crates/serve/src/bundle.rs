//! The shipped model: [`Predictor`] for `learn`'s [`ModelBundle`].

use std::path::Path;

use learn::LearnError;
use learn::bundle::ModelBundle;
use learn::window::Window;

use crate::api::{self, SnapshotInput, WindowInput};
use crate::predictor::{
    LoadedModel, ModelInfo, ModelSource, PredictError, PredictOptions, Predictor,
};

/// Input errors are the client's (400); anything else is the model's (500).
fn predict_error(err: LearnError) -> PredictError {
    match err {
        LearnError::Window(m) => PredictError::InvalidInput(m),
        other => PredictError::Internal(other.to_string()),
    }
}

/// The samples as aligned columns: one column per metric seen in any sample, NaN where a sample
/// lacks it or has `null`.
fn window_of(w: &WindowInput) -> Window {
    let mut names: Vec<&str> = Vec::new();
    for sample in &w.samples {
        for name in sample.values.keys() {
            if !names.contains(&name.as_str()) {
                names.push(name);
            }
        }
    }
    let columns = names
        .into_iter()
        .map(|name| {
            let values = w
                .samples
                .iter()
                .map(|s| s.values.get(name).copied().flatten().unwrap_or(f64::NAN))
                .collect();
            (name.to_owned(), values)
        })
        .collect();
    Window {
        target: w.target.clone(),
        timestamps: w.samples.iter().map(|s| s.timestamp).collect(),
        columns,
        baseline: None,
    }
}

fn prediction_of(p: learn::prediction::Prediction) -> api::Prediction {
    api::Prediction {
        will_have_issue: p.will_have_issue,
        issue_probability: p.issue_probability,
        issue_type: p.issue_type,
        recommendation: p.recommendation.map(|r| api::Recommendation {
            description: r.description,
            actions: r.actions,
        }),
        probabilities: p.probabilities,
        time_to_issue_seconds: p.time_to_issue_seconds,
        baseline_seconds: p.baseline_seconds,
        missing_metrics: None,
        horizon_seconds: p.horizon_seconds,
        explanation: p.explanation.map(|e| api::Explanation {
            summary: e.summary,
            top_features: e
                .top_features
                .into_iter()
                .map(|c| api::Contribution {
                    feature: c.feature,
                    value: c.value.is_finite().then(|| shortest(c.value)),
                    contribution: c.contribution,
                })
                .collect(),
        }),
    }
}

/// Feature values are computed in `f32`; print them as the `f32` they are (`9.6`, not
/// `9.600000381469727`).
fn shortest(value: f64) -> f64 {
    let narrow = value as f32;
    if f64::from(narrow) == value {
        narrow.to_string().parse().unwrap_or(value)
    } else {
        value
    }
}

/// Applies a threshold override to a prediction made with the model's own threshold. `again`
/// re-predicts with the explanation when the override turns a "normal" into an issue (an issue
/// always comes with its explanation).
fn with_threshold(
    mut p: learn::prediction::Prediction,
    options: PredictOptions,
    target: Option<&str>,
    again: impl FnOnce() -> Result<learn::prediction::Prediction, LearnError>,
) -> Result<learn::prediction::Prediction, LearnError> {
    let Some(threshold) = options.threshold else {
        return Ok(p);
    };
    let will = p.issue_probability >= threshold;
    if will == p.will_have_issue {
        return Ok(p);
    }
    if will {
        if p.explanation.is_none() {
            p.explanation = again()?.explanation;
        }
        let issue_type = p
            .probabilities
            .iter()
            .filter(|(t, _)| t.as_str() != "normal")
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(t, _)| t.clone())
            .unwrap_or_else(|| "issue".to_owned());
        p.recommendation = Some(learn::prediction::recommendation(&issue_type, target));
        p.issue_type = issue_type;
        // No ETA: the model did not expect an issue within its own threshold.
        p.time_to_issue_seconds = None;
    } else {
        p.issue_type = "normal".to_owned();
        p.recommendation = None;
        p.time_to_issue_seconds = None;
        if !options.explain {
            p.explanation = None;
        }
    }
    p.will_have_issue = will;
    Ok(p)
}

impl Predictor for ModelBundle {
    fn info(&self) -> ModelInfo {
        let info = ModelBundle::info(self);
        ModelInfo {
            name: info.name.clone(),
            version: info.version.clone(),
            issue_types: info.issue_types.clone(),
            details: serde_json::to_value(info).unwrap_or(serde_json::Value::Null),
        }
    }

    fn card_markdown(&self) -> String {
        ModelBundle::card_markdown(self).to_owned()
    }

    fn card_json(&self) -> serde_json::Value {
        ModelBundle::card_json(self)
    }

    fn predict_snapshot(
        &self,
        snapshot: &SnapshotInput,
        options: PredictOptions,
    ) -> Result<api::Prediction, PredictError> {
        let p = ModelBundle::predict_snapshot(self, snapshot, options.explain)
            .and_then(|p| {
                with_threshold(p, options, None, || {
                    ModelBundle::predict_snapshot(self, snapshot, true)
                })
            })
            .map_err(predict_error)?;
        Ok(prediction_of(p))
    }

    fn predict_window(
        &self,
        window: &WindowInput,
        options: PredictOptions,
    ) -> Result<api::Prediction, PredictError> {
        let w = window_of(window);
        let (p, nan) = ModelBundle::predict_window_with(self, &w, options.explain, options.missing)
            .map_err(predict_error)?;
        let p = with_threshold(p, options, Some(&w.target), || {
            ModelBundle::predict_window_with(self, &w, true, options.missing).map(|(p, _)| p)
        })
        .map_err(predict_error)?;
        let mut p = prediction_of(p);
        if !nan.is_empty() {
            p.missing_metrics = Some(nan);
        }
        Ok(p)
    }
}

/// Loads the embedded default model (`path = None`) or a bundle file.
pub fn load_model(path: Option<&Path>) -> Result<LoadedModel, String> {
    match path {
        None => ModelBundle::embedded()
            .map(|b| LoadedModel::new(b, ModelSource::Embedded))
            .map_err(|e| e.to_string()),
        Some(path) => ModelBundle::load(path)
            .map(|b| LoadedModel::new(b, ModelSource::File(path.to_owned())))
            .map_err(|e| e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::api::Sample;

    fn learn_prediction(p: f64, will: bool) -> learn::prediction::Prediction {
        let mut probabilities = BTreeMap::new();
        probabilities.insert("normal".to_owned(), 1.0 - p);
        probabilities.insert("pod_failure".to_owned(), p * 0.3);
        probabilities.insert("resource_exhaustion".to_owned(), p * 0.7);
        learn::prediction::Prediction {
            will_have_issue: will,
            issue_probability: p,
            issue_type: if will {
                "resource_exhaustion"
            } else {
                "normal"
            }
            .to_owned(),
            probabilities,
            time_to_issue_seconds: will.then_some(60.0),
            horizon_seconds: 300.0,
            explanation: None,
            recommendation: will
                .then(|| learn::prediction::recommendation("resource_exhaustion", None)),
            baseline_seconds: None,
        }
    }

    #[test]
    fn f32_feature_values_print_short() {
        assert_eq!(shortest(f64::from(9.6f32)), 9.6);
        assert_eq!(shortest(0.1), 0.1);
        assert_eq!(shortest(-3.0), -3.0);
    }

    #[test]
    fn samples_become_aligned_columns_with_nan_for_missing() {
        let sample = |t: i64, values: &[(&str, Option<f64>)]| Sample {
            timestamp: t,
            values: values.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        };
        let w = window_of(&WindowInput {
            target: "ns/app".to_owned(),
            samples: vec![
                sample(10, &[("cpu", Some(1.0)), ("mem", None)]),
                sample(25, &[("cpu", Some(2.0))]),
                sample(40, &[("disk", Some(3.0))]),
            ],
        });
        assert_eq!(w.target, "ns/app");
        assert_eq!(w.timestamps, [10, 25, 40]);
        let column = |name: &str| {
            w.columns
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| panic!("no column {name}"))
        };
        assert_eq!(column("cpu")[..2], [1.0, 2.0]);
        assert!(column("cpu")[2].is_nan());
        assert!(column("mem").iter().all(|v| v.is_nan()));
        assert!(column("disk")[0].is_nan() && column("disk")[2] == 3.0);
    }

    #[test]
    fn threshold_override_turns_normal_into_the_likeliest_issue() {
        let options = PredictOptions {
            threshold: Some(0.2),
            ..PredictOptions::default()
        };
        let mut asked_again = false;
        let p = with_threshold(
            learn_prediction(0.3, false),
            options,
            Some("ns/app"),
            || {
                asked_again = true;
                let mut again = learn_prediction(0.3, false);
                again.explanation = Some(learn::prediction::Explanation {
                    summary: "cpu rose".to_owned(),
                    top_features: vec![],
                });
                Ok(again)
            },
        )
        .expect("no error");
        assert!(asked_again, "an issue always comes with its explanation");
        assert!(p.will_have_issue);
        assert_eq!(p.issue_type, "resource_exhaustion");
        assert!(p.recommendation.is_some());
        assert!(p.explanation.is_some());
    }

    #[test]
    fn threshold_override_turns_an_issue_into_normal() {
        let options = PredictOptions {
            threshold: Some(0.9),
            ..PredictOptions::default()
        };
        let p = with_threshold(learn_prediction(0.6, true), options, None, || {
            panic!("no second prediction needed")
        })
        .expect("no error");
        assert!(!p.will_have_issue);
        assert_eq!(p.issue_type, "normal");
        assert!(p.recommendation.is_none());
        assert!(p.time_to_issue_seconds.is_none());
        let unchanged = with_threshold(
            learn_prediction(0.6, true),
            PredictOptions::default(),
            None,
            || panic!("no override, no second prediction"),
        )
        .expect("no error");
        assert_eq!(unchanged, learn_prediction(0.6, true));
    }
}
