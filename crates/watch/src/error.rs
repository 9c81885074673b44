//! The crate's error type.

use std::path::PathBuf;

use crate::alertmanager::AlertError;
use crate::hysteresis::HysteresisError;
use collect::CollectError;
use collect::prom::PromError;

/// Everything `watch` can fail with; each variant names the file, query or value concerned.
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
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// An argument is out of range (times, step, shard).
    #[error("{0}")]
    Invalid(String),
    /// The model cannot be used.
    #[error("model: {0}")]
    Model(String),
}

impl WatchError {
    /// Wraps an I/O error with its path.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> WatchError {
        let path = path.into();
        move |source| WatchError::Io { path, source }
    }
}
