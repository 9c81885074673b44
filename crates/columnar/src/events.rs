//! `events.parquet`: the incident labels, one row per incident.

use std::path::Path;
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::ColumnarError;
use crate::metrics::{Pos, Strings, open, require, timestamps};

/// One row of `events.parquet`, as read (its meaning is checked by the caller).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    /// The target the incident happened to.
    pub target: String,
    /// Start, unix seconds.
    pub start: i64,
    /// End, unix seconds.
    pub end: i64,
    /// Issue type label.
    pub issue_type: String,
    /// Free-form detail (empty when null or absent).
    pub detail: String,
    /// Row group of the row (0-based), for errors.
    pub row_group: usize,
    /// Row within its row group (0-based), for errors.
    pub row: usize,
}

/// Writes `events.parquet` from `(target, start, end, issue_type, detail)` rows (one row group).
pub fn write_events<'a>(
    path: &Path,
    rows: impl IntoIterator<Item = (&'a str, i64, i64, &'a str, &'a str)>,
) -> Result<(), ColumnarError> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("target", DataType::Utf8, false),
        Field::new("start", DataType::Int64, false),
        Field::new("end", DataType::Int64, false),
        Field::new("issue_type", DataType::Utf8, false),
        Field::new("detail", DataType::Utf8, true),
    ]));
    let (mut target, mut start, mut end, mut kind, mut detail) =
        (vec![], vec![], vec![], vec![], vec![]);
    for (t, s, e, k, d) in rows {
        target.push(t);
        start.push(s);
        end.push(e);
        kind.push(k);
        detail.push((!d.is_empty()).then_some(d));
    }
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(target)),
        Arc::new(Int64Array::from(start)),
        Arc::new(Int64Array::from(end)),
        Arc::new(StringArray::from(kind)),
        Arc::new(StringArray::from(detail)),
    ];
    let batch =
        RecordBatch::try_new(schema.clone(), arrays).map_err(|e| ColumnarError::format(path, e))?;
    let file = std::fs::File::create(path).map_err(|e| ColumnarError::io(path, e))?;
    let props = crate::writer_properties(&[], &["target", "issue_type", "detail"])
        .map_err(|e| ColumnarError::format(path, e))?;
    let mut w = ArrowWriter::try_new(file, schema, Some(props))
        .map_err(|e| ColumnarError::format(path, e))?;
    w.write(&batch)
        .map_err(|e| ColumnarError::format(path, e))?;
    w.close().map_err(|e| ColumnarError::format(path, e))?;
    Ok(())
}

fn is_string(t: &DataType) -> bool {
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

fn is_time(t: &DataType) -> bool {
    matches!(t, DataType::Int64 | DataType::Timestamp(_, _))
}

/// Reads every row of `events.parquet`; `detail` is optional, other extra columns are ignored.
pub fn read_events(path: &Path) -> Result<Vec<EventRow>, ColumnarError> {
    let (file, meta) = open(path)?;
    let schema = meta.schema().clone();
    let string = "a string or a dictionary of strings";
    let time = "int64 unix seconds or a timestamp";
    let target = require(path, &schema, "target", is_string, string)?;
    let start = require(path, &schema, "start", is_time, time)?;
    let end = require(path, &schema, "end", is_time, time)?;
    let kind = require(path, &schema, "issue_type", is_string, string)?;
    let detail = match schema.index_of("detail") {
        Ok(_) => Some(require(path, &schema, "detail", is_string, string)?),
        Err(_) => None,
    };
    let mut out = Vec::new();
    for group in 0..meta.metadata().num_row_groups() {
        let f = file.try_clone().map_err(|e| ColumnarError::io(path, e))?;
        let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(f, meta.clone())
            .with_row_groups(vec![group])
            .build()
            .map_err(|e| ColumnarError::format(path, e))?;
        let mut offset = 0;
        for batch in reader {
            let batch = batch.map_err(|e| crate::group_error(path, group, e))?;
            let at = Pos {
                path,
                group,
                offset,
            };
            let starts = timestamps(&at, "start", batch.column(start).as_ref())?;
            let ends = timestamps(&at, "end", batch.column(end).as_ref())?;
            let (t_arr, k_arr) = (batch.column(target), batch.column(kind));
            let (targets, kinds) = (Strings::new(t_arr.as_ref()), Strings::new(k_arr.as_ref()));
            let d_arr = detail.map(|d| batch.column(d));
            let details = d_arr.map(|a| Strings::new(a.as_ref()));
            for i in 0..batch.num_rows() {
                if t_arr.is_null(i) {
                    return Err(at.err(i, "target", "null target"));
                }
                if k_arr.is_null(i) {
                    return Err(at.err(i, "issue_type", "null issue type"));
                }
                let detail = match (&d_arr, &details) {
                    (Some(a), Some(d)) if !a.is_null(i) => d.get(i).trim().to_string(),
                    _ => String::new(),
                };
                out.push(EventRow {
                    target: targets.get(i).trim().to_string(),
                    start: starts[i],
                    end: ends[i],
                    issue_type: kinds.get(i).trim().to_string(),
                    detail,
                    row_group: group,
                    row: offset + i,
                });
            }
            offset += batch.num_rows();
        }
    }
    Ok(out)
}
