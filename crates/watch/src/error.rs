//! The crate's error type.

use crate::alertmanager::AlertError;
use crate::hysteresis::HysteresisError;
use collect::CollectError;
use collect::prom::PromError;

/// Everything `watch` can fail with; each variant names the query or value concerned.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// Talking to Prometheus failed.
    #[error(transparent)]
    Prom(#[from] PromError),
    /// Talking to Alertmanager failed.
    #[error(transparent)]
    Alert(#[from] AlertError),
    /// Invalid hysteresis settings.
    #[error(transparent)]
    Hysteresis(#[from] HysteresisError),
    /// The query set or another ingest step failed.
    #[error(transparent)]
    Collect(#[from] CollectError),
    /// An argument is out of range (times, step, shard).
    #[error("{0}")]
    Invalid(String),
    /// The model cannot be used.
    #[error("model: {0}")]
    Model(String),
}
