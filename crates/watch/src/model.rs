//! `learn::ModelBundle` as a [`Predictor`](crate::live::Predictor): windows go in by move, predictions come
//! out as [`Forecast`]s.

use crate::live::{Forecast, ModelShape, Predictor, TargetWindow};

impl Predictor for learn::bundle::ModelBundle {
    fn shape(&self) -> ModelShape {
        let info = self.info();
        ModelShape {
            name: info.name.clone(),
            version: info.version.clone(),
            window_secs: info.window_secs,
            step_secs: info.step_secs,
            metrics: info.metrics.clone(),
        }
    }

    fn forecast(&self, w: TargetWindow, explain: bool) -> Result<Forecast, String> {
        let window = learn::window::Window {
            target: w.target,
            timestamps: w.timestamps,
            columns: w.columns,
        };
        let p = self
            .predict_window(&window, explain)
            .map_err(|e| e.to_string())?;
        let (summary, evidence) = match p.explanation {
            Some(e) => (
                Some(e.summary),
                e.top_features
                    .into_iter()
                    .take(5)
                    .map(|c| (c.feature, c.value, c.contribution))
                    .collect(),
            ),
            None => (None, Vec::new()),
        };
        let (description, actions) = match p.recommendation {
            Some(r) => (Some(r.description), r.actions),
            None => (None, Vec::new()),
        };
        Ok(Forecast {
            probability: p.issue_probability,
            probabilities: p.probabilities,
            time_to_issue_seconds: p.time_to_issue_seconds,
            summary,
            evidence,
            description,
            actions,
        })
    }
}
