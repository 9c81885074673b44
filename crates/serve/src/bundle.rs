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
                    label: learn::prediction::human_feature(&c.feature),
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
        ModelBundle::predict_snapshot(self, snapshot, options)
            .map(prediction_of)
            .map_err(predict_error)
    }

    fn predict_window(
        &self,
        window: &WindowInput,
        options: PredictOptions,
    ) -> Result<api::Prediction, PredictError> {
        let (p, nan) = ModelBundle::predict_window_with(self, &window_of(window), options)
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
    use super::*;
    use crate::api::Sample;

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
}
