//! `learn::ModelBundle` as a [`Predictor`](crate::live::Predictor): `learn`'s own window and prediction
//! types, end to end.

use learn::LearnError;
use learn::prediction::{PredictOptions, Prediction};
use learn::window::Window;

use crate::live::{ModelShape, Predictor};

impl Predictor for learn::bundle::ModelBundle {
    fn shape(&self) -> ModelShape {
        let info = self.info();
        ModelShape {
            name: info.name.clone(),
            version: info.version.clone(),
            window_secs: info.window_secs,
            step_secs: info.step_secs,
            metrics: info.metrics.clone(),
            baseline: self.window_model().meta.features.baseline,
            relative: self.window_model().meta.relative,
        }
    }

    fn predict(&self, window: &Window, options: PredictOptions) -> Result<Prediction, LearnError> {
        self.predict_window(window, options)
    }

    fn threshold(&self) -> Option<f64> {
        Some(self.info().threshold)
    }
}
