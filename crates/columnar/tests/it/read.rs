//! Reading Parquet files written by other tools: the types pandas and polars write are accepted, any
//! row-group layout is read, and a bad schema or value is named by file, row group, row and column.

use std::path::Path;
use std::sync::Arc;

use arrow_array::Array as _;
use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, DictionaryArray, Float32Array, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampNanosecondArray,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use columnar::{ColumnarError, MetricsReader, MetricsWriter, TargetRows};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;

/// Writes `columns` as one file, `rows_per_group` rows per row group.
fn write(path: &Path, columns: Vec<(&str, ArrayRef)>, rows_per_group: usize) {
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
            .collect::<Vec<_>>(),
    ));
    let batch =
        RecordBatch::try_new(schema.clone(), columns.into_iter().map(|c| c.1).collect()).unwrap();
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(rows_per_group))
        .build();
    let mut w =
        ArrowWriter::try_new(std::fs::File::create(path).unwrap(), schema, Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

fn read_all(path: &Path) -> Result<Vec<TargetRows>, ColumnarError> {
    let mut r = MetricsReader::open(path)?;
    let mut out = Vec::new();
    while let Some(run) = r.next_rows()? {
        out.push(run);
    }
    Ok(out)
}

fn error(path: &Path) -> String {
    read_all(path).unwrap_err().to_string()
}

#[test]
fn pandas_types_and_several_targets_per_row_group_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metrics.parquet");
    let targets: DictionaryArray<Int32Type> = vec!["a", "a", "a", "b", "b"].into_iter().collect();
    write(
        &path,
        vec![
            (
                "timestamp",
                Arc::new(TimestampNanosecondArray::from(vec![
                    0,
                    15_000_000_000,
                    30_000_000_000,
                    0,
                    15_500_000_000,
                ])),
            ),
            ("target", Arc::new(targets)),
            (
                "cpu",
                Arc::new(Float32Array::from(vec![
                    Some(0.5),
                    None,
                    Some(1.5),
                    Some(2.0),
                    Some(f32::NAN),
                ])),
            ),
            (
                "restarts_total",
                Arc::new(Int64Array::from(vec![0, 1, 1, 0, 0])),
            ),
        ],
        2,
    );
    let runs = read_all(&path).unwrap();
    // Row groups [a a] [a b] [b]: a target spanning row groups gives one run per group.
    let summary: Vec<(usize, usize, &str, Vec<i64>)> = runs
        .iter()
        .map(|r| {
            (
                r.row_group,
                r.first_row,
                r.target.as_str(),
                r.timestamps.clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (0, 0, "a", vec![0, 15]),
            (1, 0, "a", vec![30]),
            (1, 1, "b", vec![0]),
            (2, 0, "b", vec![15]),
        ]
    );
    assert_eq!(runs[0].columns[0][0], 0.5);
    assert!(runs[0].columns[0][1].is_nan(), "null is missing");
    assert!(runs[3].columns[0][0].is_nan(), "NaN is missing");
    assert_eq!(runs[0].columns[1], vec![0.0, 1.0]);
}

#[test]
fn our_writer_puts_each_target_in_its_own_row_group_and_nan_becomes_null() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metrics.parquet");
    let mut w = MetricsWriter::create(&path, &["cpu".to_string()]).unwrap();
    w.write_target("ns/a", &[0, 15], &[vec![1.0, f64::NAN]])
        .unwrap();
    w.write_target("ns/b", &[0], &[vec![f64::INFINITY]])
        .unwrap();
    assert_eq!(w.finish().unwrap(), 3);
    let runs = read_all(&path).unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!((runs[1].row_group, runs[1].target.as_str()), (1, "ns/b"));
    assert!(runs[0].columns[0][1].is_nan() && runs[1].columns[0][0].is_nan());
    let reader =
        parquet::file::reader::SerializedFileReader::new(std::fs::File::open(&path).unwrap())
            .unwrap();
    use parquet::file::reader::FileReader as _;
    let meta = reader.metadata();
    assert_eq!(meta.num_row_groups(), 2);
    assert_eq!(
        meta.row_group(0)
            .column(2)
            .statistics()
            .unwrap()
            .null_count_opt(),
        Some(1)
    );
}

#[test]
fn bad_values_name_file_row_group_row_column_and_value() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metrics.parquet");
    let ts = || -> ArrayRef { Arc::new(Int64Array::from(vec![0, 15, 30])) };
    let tg = || -> ArrayRef { Arc::new(StringArray::from(vec!["a", "a", "a"])) };

    write(
        &path,
        vec![
            ("timestamp", ts()),
            ("target", tg()),
            (
                "cpu",
                Arc::new(Float64Array::from(vec![1.0, 2.0, f64::INFINITY])),
            ),
        ],
        2,
    );
    let e = error(&path);
    assert!(
        e.contains(
            "metrics.parquet: row group 1, row 0: column `cpu`: `inf` is not a finite number"
        ),
        "{e}"
    );

    write(
        &path,
        vec![
            ("timestamp", ts()),
            (
                "target",
                Arc::new(StringArray::from(vec![Some("a"), None, Some("a")])),
            ),
            ("cpu", Arc::new(Float64Array::from(vec![1.0, 2.0, 3.0]))),
        ],
        10,
    );
    assert!(error(&path).contains("row group 0, row 1: column `target`: null target"));

    write(
        &path,
        vec![
            ("timestamp", Arc::new(Int64Array::from(vec![0, -15, 30]))),
            ("target", tg()),
            ("cpu", Arc::new(Float64Array::from(vec![1.0, 2.0, 3.0]))),
        ],
        10,
    );
    assert!(error(&path).contains("row 1: column `timestamp`: `-15` is before 1970"));

    write(
        &path,
        vec![
            ("timestamp", ts()),
            ("target", tg()),
            ("cpu", Arc::new(StringArray::from(vec!["1", "2", "x"]))),
        ],
        10,
    );
    let e = error(&path);
    assert!(e.contains("column `cpu` is Utf8, expected float64"), "{e}");

    write(&path, vec![("time", ts()), ("target", tg())], 10);
    let e = error(&path);
    assert!(
        e.contains("missing column `timestamp` (found: `time`, `target`)"),
        "{e}"
    );

    write(
        &path,
        vec![
            ("timestamp", ts()),
            ("target", Arc::new(Float64Array::from(vec![1.0, 2.0, 3.0]))),
            ("cpu", Arc::new(Float64Array::from(vec![1.0, 2.0, 3.0]))),
        ],
        10,
    );
    assert!(error(&path).contains("column `target` is Float64, expected a string"));
}

#[test]
fn timestamps_in_other_units_are_unix_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metrics.parquet");
    let ts = TimestampNanosecondArray::from(vec![1_767_571_200_000_000_000]).with_timezone("UTC");
    assert_eq!(
        ts.data_type(),
        &DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
    );
    write(
        &path,
        vec![
            ("timestamp", Arc::new(ts)),
            ("target", Arc::new(StringArray::from(vec!["a"]))),
            ("cpu", Arc::new(Float64Array::from(vec![1.0]))),
        ],
        10,
    );
    assert_eq!(read_all(&path).unwrap()[0].timestamps, vec![1_767_571_200]);
}

/// `keys_only`: the same runs (targets, timestamps, row groups, rows) without the metric columns (the
/// metric column comes first in the file and `target` before `timestamp`, so the projection's column
/// order is exercised).
#[test]
fn keys_only_reads_targets_and_timestamps_and_skips_the_metric_columns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metrics.parquet");
    write(
        &path,
        vec![
            (
                "cpu",
                Arc::new(Float64Array::from(vec![1.0, 2.0, 3.0, 4.0, 5.0])) as ArrayRef,
            ),
            (
                "target",
                Arc::new(StringArray::from(vec!["a", "a", "b", "b", "c"])),
            ),
            (
                "timestamp",
                Arc::new(Int64Array::from(vec![10, 20, 10, 20, 30])),
            ),
        ],
        2,
    );
    let full = read_all(&path).unwrap();
    let mut r = MetricsReader::open(&path).unwrap();
    r.keys_only();
    let mut keys = Vec::new();
    while let Some(run) = r.next_rows().unwrap() {
        keys.push(run);
    }
    assert_eq!(keys.len(), full.len());
    for (k, f) in keys.iter().zip(&full) {
        assert_eq!(
            (&k.target, &k.timestamps, k.row_group, k.first_row),
            (&f.target, &f.timestamps, f.row_group, f.first_row)
        );
        assert_eq!(f.columns.len(), 1);
        assert!(k.columns.is_empty());
    }
    assert_eq!(r.metrics(), ["cpu"]);
}
