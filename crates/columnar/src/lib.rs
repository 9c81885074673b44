//! The dataset's Parquet files, beside the CSV ones (same columns, same meaning):
//!
//! - `metrics.parquet`: `timestamp` int64 (unix seconds, required), `target` string (required, stored
//!   dictionary-encoded), then one float64 column per metric (nullable: null = missing). Our writer puts
//!   one target per row group (a target longer than a row group spans several consecutive ones), rows
//!   in time order; zstd compression, delta-encoded timestamps.
//! - `events.parquet`: `target` string, `start` and `end` int64 (unix seconds), `issue_type` string,
//!   `detail` string (nullable).
//!
//! Readers accept what other tools write for the same columns: timestamps as int64 seconds or any
//! Arrow timestamp unit, targets as string, large string, string view or dictionary of strings,
//! metrics as float64, float32, int64 or int32. Row groups may hold several targets.
//!
//! This crate reads and writes cells; what a value means (known targets, issue types, duplicate
//! timestamps) is checked by `learn::dataset`, which names the file, row group, row and column of a
//! problem through [`ColumnarError::Value`].

#![warn(clippy::print_stdout, clippy::print_stderr)]

mod events;
mod metrics;

pub use events::{EventRow, read_events, write_events};
pub use metrics::{MetricsReader, MetricsWriter, TargetRows};

use std::path::{Path, PathBuf};

use thiserror::Error;

/// Everything that can go wrong reading or writing a Parquet dataset file.
#[derive(Debug, Error)]
pub enum ColumnarError {
    /// The file could not be opened, created or renamed.
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The Parquet/Arrow layer failed (not a Parquet file, truncated, unsupported encoding...).
    #[error("{path}: {message}")]
    Format { path: PathBuf, message: String },
    /// The schema lacks a column or has one of an unsupported type.
    #[error("{path}: {message}")]
    Schema { path: PathBuf, message: String },
    /// A dataset directory holds neither or both formats' files.
    #[error("{path}: {message}")]
    Layout { path: PathBuf, message: String },
    /// A bad value; `row_group` and `row` (within the row group) are 0-based, as pyarrow counts.
    #[error("{path}: row group {row_group}, row {row}: column `{column}`: {message}")]
    Value {
        path: PathBuf,
        row_group: usize,
        row: usize,
        column: String,
        message: String,
    },
}

impl ColumnarError {
    fn io(path: &Path, error: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            error,
        }
    }

    fn format(path: &Path, error: impl std::fmt::Display) -> Self {
        Self::Format {
            path: path.to_path_buf(),
            message: error.to_string(),
        }
    }

    fn schema(path: &Path, message: impl Into<String>) -> Self {
        Self::Schema {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }
}

/// A row group that cannot be decoded; a compression codec this build lacks is named as such.
fn group_error(path: &Path, group: usize, e: impl std::fmt::Display) -> ColumnarError {
    let message = e.to_string();
    let hint = if message.contains("Disabled feature at compile time") {
        " (this build reads zstd, snappy and uncompressed Parquet: rewrite the file with one of them)"
    } else {
        ""
    };
    ColumnarError::format(path, format!("row group {group}: {message}{hint}"))
}

/// The most characters of a user value an error quotes.
const MAX_QUOTED_CHARS: usize = 200;

/// `text` cut to [`MAX_QUOTED_CHARS`] characters (then `…`), control characters escaped.
pub(crate) fn clip(text: &str) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == MAX_QUOTED_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Writer properties shared by both files: zstd level 3; dictionary encoding for the string columns
/// only (`dictionary_columns`): on metric values it falls back to plain pages once the dictionary is
/// full and compresses worse than plain + zstd (1.9x larger files on the simulator's data).
fn writer_properties(
    delta_columns: &[&str],
    dictionary_columns: &[&str],
) -> Result<parquet::file::properties::WriterProperties, parquet::errors::ParquetError> {
    use parquet::basic::{Compression, Encoding, ZstdLevel};
    use parquet::schema::types::ColumnPath;
    let mut b = parquet::file::properties::WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
        .set_dictionary_enabled(false)
        .set_created_by(format!("kubepulse {}", env!("CARGO_PKG_VERSION")));
    for c in dictionary_columns {
        b = b.set_column_dictionary_enabled(ColumnPath::from(*c), true);
    }
    for c in delta_columns {
        let path = ColumnPath::from(*c);
        b = b
            .set_column_dictionary_enabled(path.clone(), false)
            .set_column_encoding(path, Encoding::DELTA_BINARY_PACKED);
    }
    Ok(b.build())
}

/// The file format of a dataset directory: `metrics.csv` + `events.csv`, or `metrics.parquet` +
/// `events.parquet`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// `metrics.csv` and `events.csv`.
    #[default]
    Csv,
    /// `metrics.parquet` and `events.parquet`.
    Parquet,
}

impl Format {
    /// Both formats, in the order their files are looked for.
    pub const ALL: [Format; 2] = [Format::Csv, Format::Parquet];

    /// `metrics.csv` or `metrics.parquet`.
    pub fn metrics_file(self) -> &'static str {
        match self {
            Format::Csv => "metrics.csv",
            Format::Parquet => "metrics.parquet",
        }
    }

    /// `events.csv` or `events.parquet`.
    pub fn events_file(self) -> &'static str {
        match self {
            Format::Csv => "events.csv",
            Format::Parquet => "events.parquet",
        }
    }

    /// `csv` or `parquet`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Parquet => "parquet",
        }
    }

    /// The format of the metrics file in `dir`: an error naming the files when both or neither exist.
    pub fn detect(dir: &Path) -> Result<Self, ColumnarError> {
        Self::detect_file(dir, Format::metrics_file)
    }

    /// The format of the events file in `dir` (it may differ from the metrics file's).
    pub fn detect_events(dir: &Path) -> Result<Self, ColumnarError> {
        Self::detect_file(dir, Format::events_file)
    }

    fn detect_file(dir: &Path, file: fn(Format) -> &'static str) -> Result<Self, ColumnarError> {
        let found: Vec<Format> = Self::ALL
            .into_iter()
            .filter(|f| dir.join(file(*f)).is_file())
            .collect();
        match found.as_slice() {
            [one] => Ok(*one),
            [] => Err(ColumnarError::Layout {
                path: dir.to_path_buf(),
                message: format!(
                    "no {} or {} in this directory (a dataset is metrics + events, as CSV or Parquet)",
                    file(Format::Csv),
                    file(Format::Parquet)
                ),
            }),
            _ => Err(ColumnarError::Layout {
                path: dir.to_path_buf(),
                message: format!(
                    "both {} and {} are here: keep one (the format is chosen by which file exists)",
                    file(Format::Csv),
                    file(Format::Parquet)
                ),
            }),
        }
    }
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "csv" => Ok(Format::Csv),
            "parquet" => Ok(Format::Parquet),
            other => Err(format!(
                "unknown dataset format `{}`: csv or parquet",
                clip(other)
            )),
        }
    }
}
