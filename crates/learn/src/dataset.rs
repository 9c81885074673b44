//! The dataset format shared by `simulate`, `collect`, `train` and `eval`: a directory with
//! `metrics.csv` (`timestamp,target,<metric>...`) and `events.csv` (`target,start,end,issue_type[,...]`),
//! or the same columns as `metrics.parquet` and `events.parquet` (crate `columnar`); the format is
//! detected by which files exist ([`Format::detect`]).
//!
//! Reading validates everything a user controls and names the file, line (CSV) or row group and row
//! (Parquet), the column and the value of any problem.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::LearnError;
use crate::quote;
use crate::timestamp;

/// How a metric column is read (`*_total` is a counter): the catalog's kind.
pub use catalog::ColumnKind;
pub use columnar::Format;

/// One target's samples, sorted by time.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The target (`namespace/deployment`, `cluster/node`, ...).
    pub target: String,
    /// Unix seconds, strictly increasing.
    pub timestamps: Vec<i64>,
    /// One vector per metric (in [`Dataset::metrics`] order), aligned with `timestamps`; NaN = missing.
    pub columns: Vec<Vec<f64>>,
}

/// One labelled incident: the workspace's one incident type (`events.csv` rows are read with
/// [`IncidentSource::Dataset`]).
pub use timeline::{Incident, IncidentSource};

/// A whole dataset in memory.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Metric column names, in file order.
    pub metrics: Vec<String>,
    /// One series per target, sorted by target name (file order never matters).
    pub series: Vec<Series>,
    /// Incidents, sorted by (target, start).
    pub events: Vec<Incident>,
    /// Mitigated periods (an action of the remediation agent was applied to the target), sorted by
    /// (target, start): windows whose horizon reaches into one, or that end inside one, are neither
    /// positive nor negative — left out of every grid ([`crate::mitigated`]). Empty unless
    /// `train --mitigated` gave some.
    pub mitigated: Vec<Incident>,
}

pub(crate) fn csv_err(path: &Path, line: u64, message: impl Into<String>) -> LearnError {
    LearnError::Csv {
        path: path.to_path_buf(),
        line,
        message: message.into(),
    }
}

pub(crate) fn open_csv(
    path: &Path,
) -> Result<(csv::Reader<std::fs::File>, Vec<String>), LearnError> {
    let file = std::fs::File::open(path).map_err(|e| LearnError::io(path, e))?;
    let meta = file.metadata().map_err(|e| LearnError::io(path, e))?;
    if meta.len() == 0 {
        return Err(LearnError::EmptyFile {
            path: path.to_path_buf(),
            message: "the file is empty (expected a header line)".into(),
        });
    }
    csv_reader(path, file)
}

/// A CSV reader over `input` and its checked header (`path` names it in errors).
fn csv_reader<R: std::io::Read>(
    path: &Path,
    input: R,
) -> Result<(csv::Reader<R>, Vec<String>), LearnError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(input);
    let header = reader
        .headers()
        .map_err(|e| csv_err(path, 1, e.to_string()))?
        .iter()
        // A byte-order mark (spreadsheet exports) is not part of the first column's name.
        .map(|h| h.trim_start_matches('\u{feff}').trim().to_string())
        .collect::<Vec<String>>();
    if let Some(i) = header.iter().position(String::is_empty) {
        return Err(csv_err(
            path,
            1,
            format!(
                "column {} of the header has no name (a trailing comma?)",
                i + 1
            ),
        ));
    }
    let mut seen = std::collections::HashSet::with_capacity(header.len());
    if let Some(twice) = header.iter().find(|h| !seen.insert(h.as_str())) {
        return Err(csv_err(
            path,
            1,
            format!(
                "column `{}` appears twice in the header",
                quote::clip(twice)
            ),
        ));
    }
    Ok((reader, header))
}

fn no_metric_columns(path: &Path) -> LearnError {
    LearnError::EmptyFile {
        path: path.to_path_buf(),
        message: "no metric columns after `timestamp,target`".into(),
    }
}

pub(crate) fn require(path: &Path, header: &[String], column: &str) -> Result<usize, LearnError> {
    header
        .iter()
        .position(|h| h == column)
        .ok_or_else(|| LearnError::MissingColumn {
            path: path.to_path_buf(),
            column: column.to_string(),
            found: quote::names(header),
        })
}

pub(crate) fn line_of(record: &csv::ByteRecord, fallback: u64) -> u64 {
    record.position().map_or(fallback, |p| p.line())
}

pub(crate) fn parse_value(
    path: &Path,
    line: u64,
    column: &str,
    raw: &[u8],
) -> Result<f64, LearnError> {
    let column = quote::clip(column);
    let text = std::str::from_utf8(raw)
        .map_err(|_| csv_err(path, line, format!("column `{column}`: value is not UTF-8")))?
        .trim();
    if text.is_empty() || text.eq_ignore_ascii_case("nan") {
        return Ok(f64::NAN);
    }
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(csv_err(
            path,
            line,
            format!("column `{column}`: `{}` is not a number", quote::clip(text)),
        )),
    }
}

/// A text cell: UTF-8 or an error naming the line and column (never a lossy replacement).
fn utf8<'a>(path: &Path, line: u64, column: &str, raw: &'a [u8]) -> Result<&'a str, LearnError> {
    std::str::from_utf8(raw)
        .map_err(|_| csv_err(path, line, format!("column `{column}`: value is not UTF-8")))
}

pub(crate) fn parse_time(
    path: &Path,
    line: u64,
    column: &str,
    raw: &[u8],
) -> Result<i64, LearnError> {
    let text = String::from_utf8_lossy(raw);
    match timestamp::parse_timestamp(&text) {
        Ok(t) => Ok(t),
        Err(e @ (timeline::TimeError::BeforeEpoch(_) | timeline::TimeError::AfterYear9999(_))) => {
            Err(csv_err(path, line, format!("column `{column}`: {e}")))
        }
        Err(_) => Err(csv_err(
            path,
            line,
            format!(
                "column `{column}`: `{}` is not a timestamp (unix seconds or RFC 3339)",
                quote::clip(text.trim())
            ),
        )),
    }
}

/// A dataset handed over to an evaluation that keeps it.
impl From<Dataset> for std::borrow::Cow<'_, Dataset> {
    fn from(d: Dataset) -> Self {
        std::borrow::Cow::Owned(d)
    }
}

/// A dataset lent to an evaluation (never copied).
impl<'a> From<&'a Dataset> for std::borrow::Cow<'a, Dataset> {
    fn from(d: &'a Dataset) -> Self {
        std::borrow::Cow::Borrowed(d)
    }
}

impl Dataset {
    /// Reads `dir/metrics.csv` or `dir/metrics.parquet`, and `dir/events.csv` or `dir/events.parquet`.
    pub fn read(dir: &Path) -> Result<Self, LearnError> {
        Self::read_with_progress(dir, false)
    }

    /// [`Dataset::read`] with a progress bar (rows, rows/s; the time left for Parquet) on a terminal's
    /// stderr when `progress`.
    pub fn read_with_progress(dir: &Path, progress: bool) -> Result<Self, LearnError> {
        crate::data_dirs::DataDirs::one(dir).read(progress)
    }

    /// The metric column names of `dir/metrics.csv` (its header) or `dir/metrics.parquet` (its
    /// schema) alone: a cheap check before a long job.
    pub fn read_metric_names(dir: &Path) -> Result<Vec<String>, LearnError> {
        if Format::detect(dir)? == Format::Parquet {
            let reader = columnar::MetricsReader::open(&dir.join("metrics.parquet"))?;
            return Ok(reader.metrics().to_vec());
        }
        let path = dir.join("metrics.csv");
        let (_, header) = open_csv(&path)?;
        require(&path, &header, "timestamp")?;
        require(&path, &header, "target")?;
        let metrics: Vec<String> = header
            .into_iter()
            .filter(|h| h != "timestamp" && h != "target")
            .collect();
        if metrics.is_empty() {
            return Err(no_metric_columns(&path));
        }
        Ok(metrics)
    }

    /// The kind of every metric column, in [`Dataset::metrics`] order.
    pub fn kinds(&self) -> Vec<ColumnKind> {
        self.metrics.iter().map(|m| ColumnKind::of(m)).collect()
    }

    /// Earliest and latest timestamp over all targets.
    pub fn time_range(&self) -> Option<(i64, i64)> {
        let first = self
            .series
            .iter()
            .filter_map(|s| s.timestamps.first())
            .min()?;
        let last = self
            .series
            .iter()
            .filter_map(|s| s.timestamps.last())
            .max()?;
        Some((*first, *last))
    }

    /// Median interval between consecutive samples of a target, seconds (the data's sample step).
    pub fn sample_step_secs(&self) -> Option<i64> {
        let mut gaps: Vec<i64> = self
            .series
            .iter()
            .flat_map(|s| s.timestamps.windows(2).map(|w| w[1] - w[0]).take(2000))
            .collect();
        if gaps.is_empty() {
            return None;
        }
        let mid = gaps.len() / 2;
        Some(*gaps.select_nth_unstable(mid).1)
    }

    /// Events of one target, sorted by start.
    pub fn events_of(&self, target: &str) -> &[Incident] {
        let lo = self.events.partition_point(|e| e.target.as_str() < target);
        let hi = self.events.partition_point(|e| e.target.as_str() <= target);
        &self.events[lo..hi]
    }

    /// The mitigated periods of `target` (see [`Dataset::mitigated`]).
    pub fn mitigated_of(&self, target: &str) -> &[Incident] {
        let lo = self
            .mitigated
            .partition_point(|e| e.target.as_str() < target);
        let hi = self
            .mitigated
            .partition_point(|e| e.target.as_str() <= target);
        &self.mitigated[lo..hi]
    }

    /// A stable fingerprint of the dataset's content (FNV-1a over targets, timestamps, values, mitigated
    /// periods when there are any, events).
    pub fn fingerprint(&self) -> String {
        let mut h = Fingerprint::new(&self.metrics);
        for s in &self.series {
            h.series(s);
        }
        h.mitigated(&self.mitigated);
        h.finish(&self.events)
    }

    /// The distinct issue types of the events, sorted.
    pub fn issue_types(&self) -> Vec<String> {
        let mut types: Vec<String> = self.events.iter().map(|e| e.issue_type.clone()).collect();
        types.sort();
        types.dedup();
        types
    }
}

/// [`Dataset::fingerprint`] computed piece by piece: the metric names, then each series in target
/// name order, then the events (what reading target by target needs).
pub(crate) struct Fingerprint(Fnv);

impl Fingerprint {
    pub fn new(metrics: &[String]) -> Self {
        let mut h = Fnv::new();
        for m in metrics {
            h.write(m.as_bytes());
        }
        Self(h)
    }

    pub fn series(&mut self, s: &Series) {
        let h = &mut self.0;
        h.write(s.target.as_bytes());
        for t in &s.timestamps {
            h.write(&t.to_le_bytes());
        }
        for c in &s.columns {
            for v in c {
                h.write(&v.to_bits().to_le_bytes());
            }
        }
    }

    /// Mitigated periods change what trains: mixed in when there are any (none: the fingerprint of a
    /// dataset without them).
    pub fn mitigated(&mut self, periods: &[Incident]) {
        if periods.is_empty() {
            return;
        }
        let h = &mut self.0;
        h.write(b"mitigated");
        for m in periods {
            h.write(m.target.as_bytes());
            h.write(&m.start.to_le_bytes());
            h.write(&m.end.to_le_bytes());
        }
    }

    pub fn finish(mut self, events: &[Incident]) -> String {
        let h = &mut self.0;
        for e in events {
            h.write(e.target.as_bytes());
            h.write(&e.start.to_le_bytes());
            h.write(&e.end.to_le_bytes());
            h.write(e.issue_type.as_bytes());
        }
        format!("fnv1a64:{:016x}", h.0)
    }
}

/// Reads `dir`'s events file (CSV or Parquet), every event's target checked with `known`.
pub(crate) fn read_dir_events(
    dir: &Path,
    known: &dyn Fn(&str) -> bool,
    metrics_file: &str,
) -> Result<Vec<Incident>, LearnError> {
    match Format::detect_events(dir)? {
        Format::Csv => read_events(&dir.join("events.csv"), known, metrics_file),
        Format::Parquet => read_events_parquet(&dir.join("events.parquet"), known, metrics_file),
    }
}

/// Reads `dir`'s metrics file (CSV or Parquet): its metric names and series, sorted by target.
pub(crate) fn read_dir_metrics(
    dir: &Path,
    progress: bool,
) -> Result<(Vec<String>, Vec<Series>), LearnError> {
    let format = Format::detect(dir)?;
    let path = dir.join(format.metrics_file());
    match format {
        Format::Csv => {
            let bar = crate::progress::Rows::new(progress, format.metrics_file(), None);
            let read = read_metrics_counted(&path, &bar);
            bar.finish();
            read
        }
        Format::Parquet => read_metrics_parquet(&path, progress),
    }
}

/// 64-bit FNV-1a, for fingerprints and checksums.
pub(crate) struct Fnv(pub u64);

impl Fnv {
    pub fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
    pub fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

fn read_metrics(path: &Path) -> Result<(Vec<String>, Vec<Series>), LearnError> {
    read_metrics_counted(path, &crate::progress::Rows::new(false, "", None))
}

fn read_metrics_counted(
    path: &Path,
    bar: &crate::progress::Rows,
) -> Result<(Vec<String>, Vec<Series>), LearnError> {
    let (reader, header) = open_csv(path)?;
    read_metrics_rows(path, reader, header, bar)
}

/// The rows of a `metrics.csv` (its header read) as series sorted by target; `path` names it in errors.
fn read_metrics_rows<R: std::io::Read>(
    path: &Path,
    mut reader: csv::Reader<R>,
    header: Vec<String>,
    bar: &crate::progress::Rows,
) -> Result<(Vec<String>, Vec<Series>), LearnError> {
    let ts_col = require(path, &header, "timestamp")?;
    let target_col = require(path, &header, "target")?;
    let metric_cols: Vec<usize> = (0..header.len())
        .filter(|&i| i != ts_col && i != target_col)
        .collect();
    if metric_cols.is_empty() {
        return Err(no_metric_columns(path));
    }
    let metrics: Vec<String> = metric_cols.iter().map(|&i| header[i].clone()).collect();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut series: Vec<Series> = Vec::new();
    let mut record = csv::ByteRecord::new();
    let mut row = 1u64;
    loop {
        row += 1;
        let more = reader
            .read_byte_record(&mut record)
            .map_err(|e| csv_err(path, row, e.to_string()))?;
        if !more {
            break;
        }
        let line = line_of(&record, row);
        if row % 8192 == 0 {
            bar.inc(8192);
        }
        let ts = parse_time(path, line, "timestamp", &record[ts_col])?;
        let target = record[target_col].trim_ascii();
        if target.is_empty() {
            return Err(csv_err(path, line, "column `target`: empty target"));
        }
        // Two targets that differ only in invalid bytes must not merge into one series.
        let target = utf8(path, line, "target", target)?;
        let slot = match index.get(target) {
            Some(&i) => i,
            None => {
                index.insert(target.to_owned(), series.len());
                series.push(Series {
                    target: target.to_owned(),
                    timestamps: Vec::new(),
                    columns: vec![Vec::new(); metrics.len()],
                });
                series.len() - 1
            }
        };
        let s = &mut series[slot];
        if s.timestamps.last() == Some(&ts) {
            return Err(csv_err(
                path,
                line,
                format!(
                    "target `{}` has two rows at timestamp {ts}",
                    quote::clip(&s.target)
                ),
            ));
        }
        s.timestamps.push(ts);
        for (m, &col) in metric_cols.iter().enumerate() {
            s.columns[m].push(parse_value(path, line, &metrics[m], &record[col])?);
        }
    }
    if series.is_empty() {
        return Err(LearnError::EmptyFile {
            path: path.to_path_buf(),
            message: "no data rows after the header".into(),
        });
    }
    for s in &mut series {
        sort_series(path, s)?;
    }
    series.sort_by(|a, b| a.target.cmp(&b.target));
    Ok((metrics, series))
}

pub(crate) fn sort_series(path: &Path, s: &mut Series) -> Result<(), LearnError> {
    if !s.timestamps.windows(2).all(|w| w[0] < w[1]) {
        let mut order: Vec<usize> = (0..s.timestamps.len()).collect();
        order.sort_by_key(|&i| s.timestamps[i]);
        s.timestamps = order.iter().map(|&i| s.timestamps[i]).collect();
        for c in &mut s.columns {
            *c = order.iter().map(|&i| c[i]).collect();
        }
    }
    if let Some(w) = s.timestamps.windows(2).find(|w| w[0] == w[1]) {
        return Err(LearnError::Dataset(format!(
            "{}: target `{}` has two rows at timestamp {}",
            path.display(),
            quote::clip(&s.target),
            w[0]
        )));
    }
    Ok(())
}

/// Reads `metrics.parquet` (any row-group layout: a target's runs are gathered), then sorts and
/// checks every series as the CSV path does.
fn read_metrics_parquet(
    path: &Path,
    progress: bool,
) -> Result<(Vec<String>, Vec<Series>), LearnError> {
    let mut reader = columnar::MetricsReader::open(path)?;
    let bar = crate::progress::Rows::new(progress, "metrics.parquet", Some(reader.num_rows()));
    let metrics = reader.metrics().to_vec();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut series: Vec<Series> = Vec::new();
    while let Some(run) = reader.next_rows()? {
        bar.inc(run.timestamps.len() as u64);
        let slot = match index.get(&run.target) {
            Some(&i) => i,
            None => {
                index.insert(run.target.clone(), series.len());
                series.push(Series {
                    target: run.target.clone(),
                    timestamps: Vec::new(),
                    columns: vec![Vec::new(); metrics.len()],
                });
                series.len() - 1
            }
        };
        let s = &mut series[slot];
        if s.timestamps.is_empty() {
            s.timestamps = run.timestamps;
            s.columns = run.columns;
        } else {
            s.timestamps.extend(run.timestamps);
            for (dst, src) in s.columns.iter_mut().zip(run.columns) {
                dst.extend(src);
            }
        }
    }
    bar.finish();
    if series.is_empty() {
        return Err(LearnError::EmptyFile {
            path: path.to_path_buf(),
            message: "no data rows".into(),
        });
    }
    for s in &mut series {
        sort_series(path, s)?;
    }
    series.sort_by(|a, b| a.target.cmp(&b.target));
    Ok((metrics, series))
}

/// Checks one event's values (the rules of `events.csv` and `events.parquet`); `err(column, message)`
/// places an error in its file.
fn check_event(
    target: &str,
    start: i64,
    end: i64,
    issue_type: &str,
    known: &dyn Fn(&str) -> bool,
    metrics_file: &str,
    err: &dyn Fn(&str, String) -> LearnError,
) -> Result<(), LearnError> {
    if !known(target) {
        return Err(err(
            "target",
            format!("`{}` has no rows in {metrics_file}", quote::clip(target)),
        ));
    }
    if end < start {
        return Err(err("end", format!("end {end} is before start {start}")));
    }
    if let Err(reason) = timeline::check_issue_type(issue_type) {
        return Err(err("issue_type", reason.to_string()));
    }
    Ok(())
}

fn read_events_parquet(
    path: &Path,
    known: &dyn Fn(&str) -> bool,
    metrics_file: &str,
) -> Result<Vec<Incident>, LearnError> {
    let mut events = Vec::new();
    for row in columnar::read_events(path)? {
        let err = |column: &str, message: String| {
            LearnError::Parquet(columnar::ColumnarError::Value {
                path: path.to_path_buf(),
                row_group: row.row_group,
                row: row.row,
                column: column.to_string(),
                message,
            })
        };
        check_event(
            &row.target,
            row.start,
            row.end,
            &row.issue_type,
            known,
            metrics_file,
            &err,
        )?;
        events.push(Incident {
            target: row.target,
            start: row.start,
            end: row.end,
            issue_type: row.issue_type,
            detail: row.detail,
            source: IncidentSource::Dataset,
        });
    }
    events.sort_by(|a, b| (&a.target, a.start).cmp(&(&b.target, b.start)));
    Ok(events)
}

/// Reads an events file on its own (`target,start,end,issue_type[,detail]`, times in unix seconds or
/// RFC 3339), with the checks of a dataset's `events.csv` but any target: `kubepulse collect --events`.
pub fn read_events_csv(path: &Path) -> Result<Vec<Incident>, LearnError> {
    read_events(path, &|_| true, "the metrics")
}

fn read_events(
    path: &Path,
    known: &dyn Fn(&str) -> bool,
    metrics_file: &str,
) -> Result<Vec<Incident>, LearnError> {
    let (mut reader, header) = open_csv(path)?;
    let cols = [
        require(path, &header, "target")?,
        require(path, &header, "start")?,
        require(path, &header, "end")?,
        require(path, &header, "issue_type")?,
    ];
    let detail_col = header.iter().position(|h| h == "detail");
    let mut events = Vec::new();
    let mut record = csv::ByteRecord::new();
    let mut row = 1u64;
    loop {
        row += 1;
        let more = reader
            .read_byte_record(&mut record)
            .map_err(|e| csv_err(path, row, e.to_string()))?;
        if !more {
            break;
        }
        let line = line_of(&record, row);
        let target = utf8(path, line, "target", record[cols[0]].trim_ascii())?.to_owned();
        if target.is_empty() {
            return Err(csv_err(path, line, "column `target`: empty target"));
        }
        let start = parse_time(path, line, "start", &record[cols[1]])?;
        let end = parse_time(path, line, "end", &record[cols[2]])?;
        let issue_type = utf8(path, line, "issue_type", record[cols[3]].trim_ascii())?.to_owned();
        let err = |column: &str, message: String| {
            // `end` before `start` is about the row, as it always was on the CSV path.
            if column == "end" {
                csv_err(path, line, message)
            } else {
                csv_err(path, line, format!("column `{column}`: {message}"))
            }
        };
        check_event(&target, start, end, &issue_type, known, metrics_file, &err)?;
        let detail = detail_col
            .map(|c| String::from_utf8_lossy(record[c].trim_ascii()).into_owned())
            .unwrap_or_default();
        events.push(Incident {
            target,
            start,
            end,
            issue_type,
            detail,
            source: IncidentSource::Dataset,
        });
    }
    events.sort_by(|a, b| (&a.target, a.start).cmp(&(&b.target, b.start)));
    Ok(events)
}

/// Writes a dataset as `metrics.parquet` (one row group per target, in the dataset's target order)
/// and `events.parquet`.
/// Both are written under temporary names and renamed into place, events first: a dataset that
/// looks complete is complete.
pub fn write_parquet(dataset: &Dataset, dir: &Path) -> Result<(), LearnError> {
    write_parquet_with(dir, &dataset.metrics, &dataset.events, |w| {
        for s in &dataset.series {
            w.write_target(&s.target, &s.timestamps, &s.columns)?;
        }
        Ok(())
    })
}

/// Writes a `metrics.csv` file (`csv`: rows of any targets in any order, as `collect` appends them a time
/// chunk at a time) and `events` as a Parquet dataset in `dir` — the files [`write_parquet`] writes for
/// the same data, byte for byte — holding one target's rows at a time: one pass over the file finds
/// where each target's runs of rows are, then each target's runs are read back, in target order, and
/// written as its row group. Memory: the runs' offsets (two integers per run) and one target's rows.
/// Returns the number of rows.
pub fn csv_to_parquet(csv: &Path, events: &[Incident], dir: &Path) -> Result<u64, LearnError> {
    use std::io::{Read, Seek, SeekFrom};
    let (mut reader, header) = open_csv(csv)?;
    let target_col = require(csv, &header, "target")?;
    let metrics: Vec<String> = header
        .iter()
        .filter(|h| *h != "timestamp" && *h != "target")
        .cloned()
        .collect();
    // Pass 1: each target's runs of consecutive rows, as byte ranges of the file.
    let header_end = reader.position().byte();
    let mut runs: std::collections::BTreeMap<Vec<u8>, Vec<(u64, u64)>> = Default::default();
    let mut record = csv::ByteRecord::new();
    let mut last: Option<Vec<u8>> = None;
    let mut rows = 0u64;
    loop {
        let start = reader.position().byte();
        let more = reader
            .read_byte_record(&mut record)
            .map_err(|e| csv_err(csv, rows + 2, e.to_string()))?;
        if !more {
            break;
        }
        rows += 1;
        let end = reader.position().byte();
        let target = record.get(target_col).unwrap_or_default().trim_ascii();
        match (&last, runs.get_mut(target)) {
            (Some(prev), Some(list)) if prev.as_slice() == target => {
                if let Some(run) = list.last_mut() {
                    run.1 = end;
                }
            }
            (_, Some(list)) => list.push((start, end)),
            (_, None) => {
                runs.insert(target.to_vec(), vec![(start, end)]);
            }
        }
        if last.as_deref() != Some(target) {
            last = Some(target.to_vec());
        }
    }
    if rows == 0 {
        return Err(LearnError::EmptyFile {
            path: csv.to_path_buf(),
            message: "no data rows after the header".into(),
        });
    }
    drop(reader);
    // Pass 2: a target at a time, its runs behind the header, read as a `metrics.csv` of one target.
    let mut file = std::fs::File::open(csv).map_err(|e| LearnError::io(csv, e))?;
    let mut head = vec![0u8; usize::try_from(header_end).unwrap_or(usize::MAX)];
    file.read_exact(&mut head)
        .map_err(|e| LearnError::io(csv, e))?;
    write_parquet_with(dir, &metrics, events, |w| {
        let mut text = Vec::new();
        for list in runs.values() {
            text.clear();
            text.extend_from_slice(&head);
            for &(start, end) in list {
                let at = text.len();
                text.resize(at + usize::try_from(end - start).unwrap_or(usize::MAX), 0);
                file.seek(SeekFrom::Start(start))
                    .and_then(|_| file.read_exact(&mut text[at..]))
                    .map_err(|e| LearnError::io(csv, e))?;
            }
            let (reader, header) = csv_reader(csv, text.as_slice())?;
            let none = crate::progress::Rows::new(false, "", None);
            let (_, series) = read_metrics_rows(csv, reader, header, &none)?;
            for s in &series {
                w.write_target(&s.target, &s.timestamps, &s.columns)?;
            }
        }
        Ok(())
    })?;
    Ok(rows)
}

/// Writes `metrics.parquet` (its rows from `write`) and `events.parquet` in `dir`, each to a partial
/// file first, renamed when complete (events first: a dataset has its metrics file last).
fn write_parquet_with(
    dir: &Path,
    metrics: &[String],
    events: &[Incident],
    write: impl FnOnce(&mut columnar::MetricsWriter) -> Result<(), LearnError>,
) -> Result<(), LearnError> {
    std::fs::create_dir_all(dir).map_err(|e| LearnError::io(dir, e))?;
    let metrics_tmp = dir.join(".metrics.parquet.partial");
    let events_tmp = dir.join(".events.parquet.partial");
    let mut w = columnar::MetricsWriter::create(&metrics_tmp, metrics)?;
    write(&mut w)?;
    w.finish()?;
    columnar::write_events(
        &events_tmp,
        events.iter().map(|e| {
            (
                e.target.as_str(),
                e.start,
                e.end,
                e.issue_type.as_str(),
                e.detail.as_str(),
            )
        }),
    )?;
    for (tmp, name) in [
        (events_tmp, "events.parquet"),
        (metrics_tmp, "metrics.parquet"),
    ] {
        let path = dir.join(name);
        std::fs::rename(&tmp, &path).map_err(|e| LearnError::io(&path, e))?;
    }
    Ok(())
}

/// Reads a metrics CSV file of any name (e.g. a collection's partial file): the metric names and
/// one sorted, checked series per target, sorted by target.
pub fn read_metrics_csv(path: &Path) -> Result<(Vec<String>, Vec<Series>), LearnError> {
    read_metrics(path)
}

/// Writes a dataset as CSV (used by tests and by `eval` to export splits).
pub fn write(dataset: &Dataset, dir: &Path) -> Result<(), LearnError> {
    std::fs::create_dir_all(dir).map_err(|e| LearnError::io(dir, e))?;
    let metrics_path: PathBuf = dir.join("metrics.csv");
    let mut out = String::from("timestamp,target");
    for m in &dataset.metrics {
        out.push(',');
        out.push_str(m);
    }
    out.push('\n');
    for s in &dataset.series {
        for (i, t) in s.timestamps.iter().enumerate() {
            out.push_str(&format!("{t},{}", s.target));
            for c in &s.columns {
                out.push(',');
                if c[i].is_finite() {
                    out.push_str(&c[i].to_string());
                }
            }
            out.push('\n');
        }
    }
    std::fs::write(&metrics_path, out).map_err(|e| LearnError::io(&metrics_path, e))?;
    let events_path = dir.join("events.csv");
    let mut out = String::from("target,start,end,issue_type,detail\n");
    for e in &dataset.events {
        out.push_str(&format!(
            "{},{},{},{},{}\n",
            e.target, e.start, e.end, e.issue_type, e.detail
        ));
    }
    std::fs::write(&events_path, out).map_err(|e| LearnError::io(&events_path, e))
}
