//! The crate's error type.

use std::path::PathBuf;

use crate::prom::PromError;

/// Everything reading Prometheus history and labels can fail with; each variant names the file,
/// query or value concerned.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// Talking to Prometheus failed.
    #[error(transparent)]
    Prom(#[from] PromError),
    /// The query set file is invalid.
    #[error("invalid query set {source_name}: {reason}")]
    Config {
        /// File name (or `built-in`).
        source_name: String,
        /// What is wrong.
        reason: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Writing the Parquet dataset failed (reading the collected rows back or writing the files).
    #[error(transparent)]
    Dataset(#[from] learn::LearnError),
    /// An argument is out of range (times, step, shard).
    #[error("{0}")]
    Invalid(String),
}

impl CollectError {
    /// Wraps an I/O error with its path.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> CollectError {
        let path = path.into();
        move |source| CollectError::Io { path, source }
    }
}
