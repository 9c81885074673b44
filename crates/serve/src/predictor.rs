//! The boundary between the HTTP layer and the model.
//!
//! The HTTP layer only sees [`Predictor`]; the shipped service implements it for `learn`'s model
//! bundle (see [`crate::bundle`]). Tests of the HTTP layer may use a double.

use std::time::SystemTime;

use crate::api::{Prediction, SnapshotInput, WindowInput};

/// How to predict: `learn`'s options (explanation, threshold override, missing metrics), passed through
/// as they are.
pub use learn::prediction::PredictOptions;

/// Why a prediction failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PredictError {
    /// The input cannot be predicted on (the client's fault): a 400.
    #[error("{0}")]
    InvalidInput(String),
    /// The model failed (our fault): a 500.
    #[error("{0}")]
    Internal(String),
}

/// What the service needs to know about a model, read once when it is loaded.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    /// Model name.
    pub name: String,
    /// Model version.
    pub version: String,
    /// Every issue type the model can predict (without "normal").
    pub issue_types: Vec<String>,
    /// The model's own description of itself (`learn::bundle::ModelInfo` as JSON).
    pub details: serde_json::Value,
}

/// A model the service can answer with. Implementations must be cheap to call concurrently.
pub trait Predictor: Send + Sync + 'static {
    /// Name, version, issue types and details of the model.
    fn info(&self) -> ModelInfo;
    /// The model card as Markdown.
    fn card_markdown(&self) -> String;
    /// The model card as JSON.
    fn card_json(&self) -> serde_json::Value;
    /// Predicts on the original service's cluster snapshot.
    fn predict_snapshot(
        &self,
        snapshot: &SnapshotInput,
        options: PredictOptions,
    ) -> Result<Prediction, PredictError>;
    /// Predicts on one target's window of samples.
    fn predict_window(
        &self,
        window: &WindowInput,
        options: PredictOptions,
    ) -> Result<Prediction, PredictError>;
}

/// Where a loaded model came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSource {
    /// The default model compiled into the binary.
    Embedded,
    /// A model bundle file (`--model PATH`).
    File(std::path::PathBuf),
    /// Anything else (tests), with a description.
    Other(String),
}

impl std::fmt::Display for ModelSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModelSource::Embedded => f.write_str("embedded"),
            ModelSource::File(p) => write!(f, "{}", p.display()),
            ModelSource::Other(s) => f.write_str(s),
        }
    }
}

/// A model ready to serve: the predictor plus what the routes need without calling it.
pub struct LoadedModel {
    /// The model.
    pub predictor: Box<dyn Predictor>,
    /// Its info, read at load time.
    pub info: ModelInfo,
    /// Where it came from, as text ("embedded" or the path).
    pub source: String,
    /// When it was loaded, RFC 3339 UTC.
    pub loaded_at: String,
}

impl LoadedModel {
    /// Wraps a predictor, reading its info once.
    pub fn new(predictor: impl Predictor, source: ModelSource) -> Self {
        let info = predictor.info();
        LoadedModel {
            predictor: Box::new(predictor),
            info,
            source: source.to_string(),
            loaded_at: crate::timestamp::rfc3339(SystemTime::now()),
        }
    }

    /// Checks the model answers sensibly on the given snapshots (a freshly loaded file is only
    /// swapped in if this passes): no error, probabilities finite within 0–1. The explanation
    /// path is exercised on the first snapshot only, to keep startup fast.
    pub fn validate(&self, samples: &[SnapshotInput]) -> Result<(), String> {
        let empty = SnapshotInput::default();
        for (i, snapshot) in std::iter::once(&empty).chain(samples).enumerate() {
            let options = PredictOptions {
                explain: i == 0,
                ..PredictOptions::default()
            };
            let p = self
                .predictor
                .predict_snapshot(snapshot, options)
                .map_err(|e| format!("predicting on a test snapshot failed: {e}"))?;
            let probabilities =
                std::iter::once(p.issue_probability).chain(p.probabilities.values().copied());
            if let Some(bad) = probabilities.into_iter().find(|v| !(0.0..=1.0).contains(v)) {
                return Err(format!("the model returned a probability of {bad}"));
            }
        }
        Ok(())
    }
}

impl std::fmt::Debug for LoadedModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedModel")
            .field("info", &self.info)
            .field("source", &self.source)
            .field("loaded_at", &self.loaded_at)
            .finish_non_exhaustive()
    }
}
