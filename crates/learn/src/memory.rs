//! The memory guard: before a step that holds a dataset (or the part of it kept whole) in memory, an
//! estimate from rows × columns; above the limit (`--max-memory`, by default the memory the machine has
//! available) the job fails at once with a message naming the flag to change, instead of being killed
//! by the kernel (or pushing the machine into swap) minutes later.
//!
//! The estimate: 8 bytes per value and per timestamp, times [`OVERHEAD`] for the windows' grid, the
//! features and the scores (measured, bench/fleet/README.md: ≈ 440 bytes per row of 21 metrics for
//! `train` in memory, ≈ 300 for `eval`, i.e. 2.5× and 1.7× the raw 176 bytes). A CSV file's rows are
//! not counted before reading: its size in bytes stands for them (a row of 21 metrics is ≈ 160 bytes of
//! text, ≈ 176 in memory), times [`OVERHEAD`].

use std::path::Path;

use crate::dataset::Format;
use crate::error::LearnError;

/// What a step holds in memory per byte of raw data (8 bytes per value and timestamp).
pub const OVERHEAD: f64 = 2.5;

/// A memory limit and where it came from (for the message).
#[derive(Debug, Clone, PartialEq)]
pub struct Limit {
    /// Bytes.
    pub bytes: u64,
    /// Where it comes from, e.g. "--max-memory" or "the available memory (--max-memory)".
    pub source: String,
}

/// Bytes of a dataset of `rows` rows and `metrics` metric columns held whole (see the module docs).
pub fn rows_bytes(rows: u64, metrics: usize) -> u64 {
    (rows as f64 * (metrics as f64 + 1.0) * 8.0 * OVERHEAD) as u64
}

/// The estimated bytes of `dir`'s dataset held whole, and its rows when known (Parquet footer).
pub fn dataset_bytes(dir: &Path) -> Result<(u64, Option<u64>), LearnError> {
    let format = Format::detect(dir)?;
    let path = dir.join(format.metrics_file());
    match format {
        Format::Parquet => {
            let r = columnar::MetricsReader::open(&path)?;
            let rows = r.num_rows();
            Ok((rows_bytes(rows, r.metrics().len()), Some(rows)))
        }
        Format::Csv => {
            let len = std::fs::metadata(&path)
                .map_err(|e| LearnError::io(&path, e))?
                .len();
            Ok(((len as f64 * OVERHEAD) as u64, None))
        }
    }
}

/// Fails when `need` bytes (for `what`) exceed the limit; `remedy` says what to change.
pub fn check(need: u64, limit: Option<&Limit>, what: &str, remedy: &str) -> Result<(), LearnError> {
    let Some(limit) = limit else {
        return Ok(());
    };
    if need <= limit.bytes {
        return Ok(());
    }
    Err(LearnError::Memory {
        what: what.to_string(),
        need_mb: need.div_ceil(1 << 20),
        limit_mb: limit.bytes >> 20,
        limit_from: limit.source.clone(),
        remedy: remedy.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_estimate_scales_with_rows_and_columns_and_the_error_names_the_flags() {
        // 2M rows of 21 metrics: 352 MB raw, 880 MB with the overhead (issue 19 measured 880 MB).
        assert_eq!(rows_bytes(2_000_000, 21), 880_000_000);
        assert_eq!(rows_bytes(4_000_000, 21), 2 * rows_bytes(2_000_000, 21));
        let limit = Limit {
            bytes: 500 << 20,
            source: "--max-memory".into(),
        };
        assert!(check(400 << 20, Some(&limit), "x", "y").is_ok());
        assert!(check(u64::MAX, None, "x", "y").is_ok());
        let e = check(
            rows_bytes(2_000_000, 21),
            Some(&limit),
            "reading data/big whole",
            "lower --max-rows-in-memory",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("840 MB") && e.contains("500 MB"), "{e}");
        assert!(
            e.contains("--max-memory") && e.contains("--max-rows-in-memory"),
            "{e}"
        );
    }
}
