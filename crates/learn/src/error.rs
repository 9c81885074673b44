//! The crate's one error type.

use std::path::PathBuf;

use thiserror::Error;

/// Everything that can go wrong in the learning pipeline.
#[derive(Debug, Error)]
pub enum LearnError {
    /// A file could not be opened or read (the I/O error is in the message, not chained, so a
    /// `{:#}` chain does not say it twice).
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    /// A CSV file is malformed or holds a bad value; `line` is 1-based (the header is line 1).
    #[error("{path}:{line}: {message}")]
    Csv {
        path: PathBuf,
        line: u64,
        message: String,
    },
    /// A Parquet dataset file is unreadable, has a bad schema or a bad value (file, row group, row,
    /// column), or a dataset directory holds neither or both formats.
    #[error("{0}")]
    Parquet(#[from] columnar::ColumnarError),
    /// A file has no header or no data rows.
    #[error("{path}: {message}")]
    EmptyFile { path: PathBuf, message: String },
    /// A required column is absent from a file's header.
    #[error("{path}: missing column `{column}` in the header (found: {found})")]
    MissingColumn {
        path: PathBuf,
        column: String,
        found: String,
    },
    /// The dataset cannot support what was asked (too small to split, one class only, ...).
    #[error("dataset: {0}")]
    Dataset(String),
    /// Invalid options (window, step, horizon, split, ...).
    #[error("invalid option {name}: {reason}")]
    InvalidOption { name: &'static str, reason: String },
    /// A model's metrics cannot be matched to the data's columns by name (see [`crate::columns`]).
    #[error("{0}")]
    Columns(#[from] crate::columns::ColumnsError),
    /// A column map file (`--columns MAP.toml`) is malformed.
    #[error("column map {path}: {message}")]
    ColumnMapFile { path: PathBuf, message: String },
    /// A window given for prediction does not fit the model.
    #[error("window: {0}")]
    Window(String),
    /// A model bundle is truncated, corrupted, of another version or inconsistent.
    #[error("model bundle: {0}")]
    Bundle(String),
    /// The random-forest engine failed.
    #[error("forest: {0}")]
    Forest(#[from] forest::ForestError),
    /// A step would hold more memory than allowed ([`crate::memory`]).
    #[error(
        "not enough memory: {what} needs about {need_mb} MB, more than the {limit_mb} MB of {limit_from}; {remedy}"
    )]
    Memory {
        what: String,
        need_mb: u64,
        limit_mb: u64,
        limit_from: String,
        remedy: String,
    },
    /// Training sample shards (`train --shard`, `--from-shards`) that do not make one sample.
    #[error("training sample shards: {0}")]
    Shards(String),
    /// Writing a report or plot failed.
    #[error("report {path}: {message}")]
    Report { path: PathBuf, message: String },
}

impl LearnError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            error: source,
        }
    }
}
