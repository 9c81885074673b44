//! `metrics.parquet`: written one target per row group, read one target run at a time.

use std::collections::HashSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int32Type, Int64Type, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};
use arrow_array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};

use crate::{ColumnarError, clip};

/// Writes `metrics.parquet`: one [`MetricsWriter::write_target`] call per target, each its own row
/// group(s).
pub struct MetricsWriter {
    path: PathBuf,
    schema: SchemaRef,
    writer: ArrowWriter<File>,
    rows: u64,
}

impl MetricsWriter {
    /// Creates (truncates) `path` for these metric columns.
    pub fn create(path: &Path, metrics: &[String]) -> Result<Self, ColumnarError> {
        let mut fields = vec![
            Field::new("timestamp", DataType::Int64, false),
            Field::new("target", DataType::Utf8, false),
        ];
        fields.extend(
            metrics
                .iter()
                .map(|m| Field::new(m.as_str(), DataType::Float64, true)),
        );
        let schema = Arc::new(Schema::new(fields));
        let file = File::create(path).map_err(|e| ColumnarError::io(path, e))?;
        let props = crate::writer_properties(&["timestamp"], &["target"])
            .map_err(|e| ColumnarError::format(path, e))?;
        let writer = ArrowWriter::try_new(file, schema.clone(), Some(props))
            .map_err(|e| ColumnarError::format(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            schema,
            writer,
            rows: 0,
        })
    }

    /// Writes one target's rows (timestamps in unix seconds; one slice per metric, aligned with
    /// `timestamps`; NaN or infinite = missing, written as null) and closes its row group.
    pub fn write_target(
        &mut self,
        target: &str,
        timestamps: &[i64],
        columns: &[Vec<f64>],
    ) -> Result<(), ColumnarError> {
        if timestamps.is_empty() {
            return Ok(());
        }
        if columns.len() + 2 != self.schema.fields().len()
            || columns.iter().any(|c| c.len() != timestamps.len())
        {
            return Err(ColumnarError::schema(
                &self.path,
                format!(
                    "target `{}`: {} columns of lengths {:?} for {} metrics and {} timestamps",
                    clip(target),
                    columns.len(),
                    columns.iter().map(Vec::len).collect::<Vec<_>>(),
                    self.schema.fields().len() - 2,
                    timestamps.len()
                ),
            ));
        }
        let n = timestamps.len();
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(columns.len() + 2);
        arrays.push(Arc::new(Int64Array::from(timestamps.to_vec())));
        arrays.push(Arc::new(StringArray::from_iter_values(
            std::iter::repeat_n(target, n),
        )));
        for c in columns {
            arrays.push(Arc::new(Float64Array::from_iter(
                c.iter().map(|v| v.is_finite().then_some(*v)),
            )));
        }
        let batch = RecordBatch::try_new(self.schema.clone(), arrays)
            .map_err(|e| ColumnarError::format(&self.path, e))?;
        self.writer
            .write(&batch)
            .map_err(|e| ColumnarError::format(&self.path, e))?;
        self.writer
            .flush()
            .map_err(|e| ColumnarError::format(&self.path, e))?;
        self.rows += n as u64;
        Ok(())
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Writes the footer and closes the file.
    pub fn finish(self) -> Result<u64, ColumnarError> {
        self.writer
            .close()
            .map_err(|e| ColumnarError::format(&self.path, e))?;
        Ok(self.rows)
    }
}

/// A run of consecutive rows of one target inside one row group, as read.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetRows {
    /// The target.
    pub target: String,
    /// Unix seconds, in file order (not checked for order here).
    pub timestamps: Vec<i64>,
    /// One vector per metric ([`MetricsReader::metrics`] order); NaN = missing (null or NaN).
    pub columns: Vec<Vec<f64>>,
    /// The row group the run is in (0-based).
    pub row_group: usize,
    /// The run's first row within its row group (0-based).
    pub first_row: usize,
}

/// Reads `metrics.parquet` one row group at a time, handing out runs of one target
/// ([`MetricsReader::next_rows`]); memory is one row group.
pub struct MetricsReader {
    path: PathBuf,
    file: File,
    meta: ArrowReaderMetadata,
    metrics: Vec<String>,
    ts_col: usize,
    target_col: usize,
    metric_cols: Vec<usize>,
    /// The row groups to read, in order (all, in file order, unless [`MetricsReader::read_groups`]).
    order: Vec<usize>,
    next_group: usize,
    pending: std::collections::VecDeque<TargetRows>,
    /// Read `timestamp` and `target` only ([`MetricsReader::keys_only`]).
    keys_only: bool,
}

fn type_ok_timestamp(t: &DataType) -> bool {
    matches!(t, DataType::Int64 | DataType::Timestamp(_, _))
}

fn type_ok_string(t: &DataType) -> bool {
    match t {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(_, v) => {
            matches!(
                **v,
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            )
        }
        _ => false,
    }
}

fn type_ok_value(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Float64 | DataType::Float32 | DataType::Int64 | DataType::Int32
    )
}

/// The names of a schema, quoted for an error (at most 20).
fn names(schema: &Schema) -> String {
    let all: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| format!("`{}`", clip(f.name())))
        .collect();
    if all.len() > 20 {
        format!("{}, … ({} in all)", all[..20].join(", "), all.len())
    } else {
        all.join(", ")
    }
}

/// Opens a Parquet file and reads its footer.
pub(crate) fn open(path: &Path) -> Result<(File, ArrowReaderMetadata), ColumnarError> {
    let file = File::open(path).map_err(|e| ColumnarError::io(path, e))?;
    let meta = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new())
        .map_err(|e| ColumnarError::format(path, format!("not a readable Parquet file: {e}")))?;
    Ok((file, meta))
}

/// The index of a required column of a type `ok` accepts.
pub(crate) fn require(
    path: &Path,
    schema: &Schema,
    name: &str,
    ok: fn(&DataType) -> bool,
    expected: &str,
) -> Result<usize, ColumnarError> {
    let i = schema.index_of(name).map_err(|_| {
        ColumnarError::schema(
            path,
            format!("missing column `{name}` (found: {})", names(schema)),
        )
    })?;
    let t = schema.field(i).data_type();
    if !ok(t) {
        return Err(ColumnarError::schema(
            path,
            format!("column `{name}` is {t}, expected {expected}"),
        ));
    }
    Ok(i)
}

impl MetricsReader {
    /// Opens `path` and checks its schema: `timestamp` and `target` present, every other column
    /// numeric.
    pub fn open(path: &Path) -> Result<Self, ColumnarError> {
        let (file, meta) = open(path)?;
        let schema = meta.schema().clone();
        let ts_col = require(
            path,
            &schema,
            "timestamp",
            type_ok_timestamp,
            "int64 unix seconds or a timestamp",
        )?;
        let target_col = require(
            path,
            &schema,
            "target",
            type_ok_string,
            "a string or a dictionary of strings",
        )?;
        let mut seen = HashSet::new();
        let mut metrics = Vec::new();
        let mut metric_cols = Vec::new();
        for (i, f) in schema.fields().iter().enumerate() {
            if !seen.insert(f.name().as_str()) {
                return Err(ColumnarError::schema(
                    path,
                    format!("column `{}` appears twice in the schema", clip(f.name())),
                ));
            }
            if i == ts_col || i == target_col {
                continue;
            }
            if !type_ok_value(f.data_type()) {
                return Err(ColumnarError::schema(
                    path,
                    format!(
                        "column `{}` is {}, expected float64 (or float32, int64, int32)",
                        clip(f.name()),
                        f.data_type()
                    ),
                ));
            }
            metrics.push(f.name().clone());
            metric_cols.push(i);
        }
        if metrics.is_empty() {
            return Err(ColumnarError::schema(
                path,
                "no metric columns beside `timestamp` and `target`",
            ));
        }
        let order = (0..meta.metadata().num_row_groups()).collect();
        Ok(Self {
            path: path.to_path_buf(),
            file,
            meta,
            metrics,
            ts_col,
            target_col,
            metric_cols,
            order,
            next_group: 0,
            pending: Default::default(),
            keys_only: false,
        })
    }

    /// The metric column names, in file order.
    pub fn metrics(&self) -> &[String] {
        &self.metrics
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Rows in the whole file (from the footer).
    pub fn num_rows(&self) -> u64 {
        self.meta
            .metadata()
            .row_groups()
            .iter()
            .map(|g| g.num_rows().max(0) as u64)
            .sum()
    }

    /// Row groups in the file.
    pub fn num_row_groups(&self) -> usize {
        self.meta.metadata().num_row_groups()
    }

    /// Reads these row groups, in this order, from now on (instead of every row group in file order):
    /// e.g. targets in name order from a file that holds them in another (one target per row group).
    /// A row group index out of range is an error.
    pub fn read_groups(&mut self, order: Vec<usize>) -> Result<(), ColumnarError> {
        let n = self.num_row_groups();
        if let Some(g) = order.iter().find(|&&g| g >= n) {
            return Err(ColumnarError::format(
                &self.path,
                format!("row group {g} asked for, the file has {n}"),
            ));
        }
        self.order = order;
        self.next_group = 0;
        self.pending.clear();
        Ok(())
    }

    /// From now on, reads only the `timestamp` and `target` columns (Parquet's column projection: the
    /// metric columns are neither read nor decoded nor checked): runs come with no `columns`. For a pass
    /// that needs the targets, row counts and times alone.
    pub fn keys_only(&mut self) {
        self.keys_only = true;
        self.pending.clear();
    }

    /// The next run of one target's rows (a row group with several targets gives several runs;
    /// a target spanning several row groups gives one run per row group), or `None` at the end.
    pub fn next_rows(&mut self) -> Result<Option<TargetRows>, ColumnarError> {
        while self.pending.is_empty() {
            let Some(&g) = self.order.get(self.next_group) else {
                return Ok(None);
            };
            self.next_group += 1;
            self.read_group(g)?;
        }
        Ok(self.pending.pop_front())
    }

    fn read_group(&mut self, group: usize) -> Result<(), ColumnarError> {
        let path = self.path.clone();
        let rows = self.meta.metadata().row_group(group).num_rows().max(0) as usize;
        let file = self
            .file
            .try_clone()
            .map_err(|e| ColumnarError::io(&path, e))?;
        let mut builder =
            ParquetRecordBatchReaderBuilder::new_with_metadata(file, self.meta.clone())
                .with_row_groups(vec![group])
                .with_batch_size(rows.clamp(1, 1 << 20));
        // Column indices in a batch: the file's, or the projection's (its columns in file order).
        let (ts_col, target_col) = if self.keys_only {
            let mask = parquet::arrow::ProjectionMask::roots(
                self.meta.metadata().file_metadata().schema_descr(),
                [self.ts_col, self.target_col],
            );
            builder = builder.with_projection(mask);
            if self.ts_col < self.target_col {
                (0, 1)
            } else {
                (1, 0)
            }
        } else {
            (self.ts_col, self.target_col)
        };
        let reader = builder
            .build()
            .map_err(|e| ColumnarError::format(&path, e))?;
        let mut offset = 0usize;
        for batch in reader {
            let batch = batch.map_err(|e| crate::group_error(&path, group, e))?;
            let at = Pos {
                path: &path,
                group,
                offset,
            };
            let ts = timestamps(&at, "timestamp", batch.column(ts_col).as_ref())?;
            let runs = target_runs(&at, batch.column(target_col).as_ref())?;
            let cols: Vec<Vec<f64>> = if self.keys_only {
                Vec::new()
            } else {
                self.metric_cols
                    .iter()
                    .zip(&self.metrics)
                    .map(|(&c, name)| values(&at, name, batch.column(c).as_ref()))
                    .collect::<Result<_, _>>()?
            };
            for (lo, hi, target) in runs {
                let extend = self.pending.back_mut().filter(|last| {
                    last.row_group == group
                        && last.target == target
                        && last.first_row + last.timestamps.len() == offset + lo
                });
                match extend {
                    Some(last) => {
                        last.timestamps.extend_from_slice(&ts[lo..hi]);
                        for (dst, src) in last.columns.iter_mut().zip(&cols) {
                            dst.extend_from_slice(&src[lo..hi]);
                        }
                    }
                    None => self.pending.push_back(TargetRows {
                        target,
                        timestamps: ts[lo..hi].to_vec(),
                        columns: cols.iter().map(|c| c[lo..hi].to_vec()).collect(),
                        row_group: group,
                        first_row: offset + lo,
                    }),
                }
            }
            offset += batch.num_rows();
        }
        Ok(())
    }
}

/// Where a batch starts, for errors.
pub(crate) struct Pos<'a> {
    pub path: &'a Path,
    pub group: usize,
    pub offset: usize,
}

impl Pos<'_> {
    pub(crate) fn err(
        &self,
        row: usize,
        column: &str,
        message: impl Into<String>,
    ) -> ColumnarError {
        ColumnarError::Value {
            path: self.path.to_path_buf(),
            row_group: self.group,
            row: self.offset + row,
            column: clip(column),
            message: message.into(),
        }
    }
}

fn first_null(array: &dyn Array) -> Option<usize> {
    if array.null_count() == 0 {
        return None;
    }
    (0..array.len()).find(|&i| array.is_null(i))
}

/// A timestamp column as unix seconds (sub-second units floored); nulls and times before 1970 are
/// errors.
pub(crate) fn timestamps(
    at: &Pos<'_>,
    column: &str,
    array: &dyn Array,
) -> Result<Vec<i64>, ColumnarError> {
    if let Some(i) = first_null(array) {
        return Err(at.err(i, column, "null timestamp"));
    }
    let (raw, per_sec): (&[i64], i64) = match array.data_type() {
        DataType::Int64 => (array.as_primitive::<Int64Type>().values(), 1),
        DataType::Timestamp(TimeUnit::Second, _) => {
            (array.as_primitive::<TimestampSecondType>().values(), 1)
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => (
            array.as_primitive::<TimestampMillisecondType>().values(),
            1_000,
        ),
        DataType::Timestamp(TimeUnit::Microsecond, _) => (
            array.as_primitive::<TimestampMicrosecondType>().values(),
            1_000_000,
        ),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => (
            array.as_primitive::<TimestampNanosecondType>().values(),
            1_000_000_000,
        ),
        other => return Err(at.err(0, column, format!("unsupported type {other}"))),
    };
    let mut out = Vec::with_capacity(raw.len());
    for (i, &v) in raw.iter().enumerate() {
        if v < 0 {
            return Err(at.err(
                i,
                column,
                format!("`{v}` is before 1970 (negative unix seconds)"),
            ));
        }
        out.push(v / per_sec);
    }
    Ok(out)
}

/// Strings of a string or dictionary-of-strings column.
pub(crate) struct Strings<'a> {
    values: &'a dyn Array,
    keys: Option<Vec<usize>>,
}

impl<'a> Strings<'a> {
    pub(crate) fn new(array: &'a dyn Array) -> Self {
        match array.as_any_dictionary_opt() {
            Some(d) => Strings {
                values: d.values().as_ref(),
                keys: Some(d.normalized_keys()),
            },
            None => Strings {
                values: array,
                keys: None,
            },
        }
    }

    pub(crate) fn get(&self, i: usize) -> &'a str {
        let j = self.keys.as_ref().map_or(i, |k| k[i]);
        let v = self.values;
        if let Some(a) = v.as_string_opt::<i32>() {
            a.value(j)
        } else if let Some(a) = v.as_string_opt::<i64>() {
            a.value(j)
        } else if let Some(a) = v.as_string_view_opt() {
            a.value(j)
        } else {
            ""
        }
    }
}

/// The runs `(from, to, target)` of equal targets of a batch; null or empty targets are errors.
fn target_runs(
    at: &Pos<'_>,
    array: &dyn Array,
) -> Result<Vec<(usize, usize, String)>, ColumnarError> {
    if let Some(i) = first_null(array) {
        return Err(at.err(i, "target", "null target"));
    }
    let s = Strings::new(array);
    let mut runs: Vec<(usize, usize, String)> = Vec::new();
    let mut lo = 0;
    for i in 0..array.len() {
        let t = s.get(i);
        if t.trim().is_empty() {
            return Err(at.err(i, "target", "empty target"));
        }
        if i > lo && t != s.get(lo) {
            runs.push((lo, i, s.get(lo).trim().to_string()));
            lo = i;
        }
    }
    if array.len() > lo {
        runs.push((lo, array.len(), s.get(lo).trim().to_string()));
    }
    Ok(runs)
}

/// A metric column as f64: null and NaN are missing (NaN); infinities are errors.
fn values(at: &Pos<'_>, column: &str, array: &dyn Array) -> Result<Vec<f64>, ColumnarError> {
    let mut out: Vec<f64> = match array.data_type() {
        DataType::Float64 => array.as_primitive::<Float64Type>().values().to_vec(),
        DataType::Float32 => array
            .as_primitive::<Float32Type>()
            .values()
            .iter()
            .map(|&v| f64::from(v))
            .collect(),
        DataType::Int64 => array
            .as_primitive::<Int64Type>()
            .values()
            .iter()
            .map(|&v| v as f64)
            .collect(),
        DataType::Int32 => array
            .as_primitive::<Int32Type>()
            .values()
            .iter()
            .map(|&v| f64::from(v))
            .collect(),
        other => return Err(at.err(0, column, format!("unsupported type {other}"))),
    };
    // Null slots hold arbitrary values: they become NaN before infinities are looked for.
    if array.null_count() > 0 {
        for (i, v) in out.iter_mut().enumerate() {
            if array.is_null(i) {
                *v = f64::NAN;
            }
        }
    }
    if let Some(i) = out.iter().position(|v| v.is_infinite()) {
        return Err(at.err(i, column, format!("`{}` is not a finite number", out[i])));
    }
    Ok(out)
}
