//! Reading a dataset one target at a time ([`TargetStream`]): memory is one target's history (plus one
//! Parquet row group), whatever the dataset's size — the reader streaming training and evaluation build on.
//!
//! The dataset contract lets rows come in any order (`Dataset::read` sorts them). Streaming needs each
//! target's rows together: files written by `kubepulse simulate --format parquet`, `collect --format
//! parquet` and `learn::dataset::write_parquet` are (one row group per target), a CSV sorted by target is;
//! `simulate`'s CSV (sorted by time) is not. A target that appears again after another one began is an
//! explicit error naming the file, the place and both targets; the caller falls back to `Dataset::read`
//! (the whole dataset in memory) or asks for a grouped file. Rows within a target may come in any order.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::dataset::{self, Format, Series};
use crate::error::LearnError;
use crate::quote;

/// Yields a dataset's series one target at a time, in file order, each sorted by time and checked as
/// `Dataset::read` checks it.
pub struct TargetStream {
    path: PathBuf,
    metrics: Vec<String>,
    source: Source,
    /// Targets already handed out (to detect a target that comes back).
    done: HashSet<String>,
    /// The target being gathered, where it began (for errors) and its Parquet row groups.
    current: Option<(Series, String, Vec<usize>)>,
}

enum Source {
    Csv {
        reader: csv::Reader<std::fs::File>,
        ts_col: usize,
        target_col: usize,
        metric_cols: Vec<usize>,
        row: u64,
    },
    Parquet(columnar::MetricsReader),
}

/// One run of rows of a target and where it is in the file.
struct Run {
    target: String,
    timestamps: Vec<i64>,
    columns: Vec<Vec<f64>>,
    place: String,
    /// The Parquet row group (none in CSV).
    group: Option<usize>,
}

impl TargetStream {
    /// Opens `dir`'s metrics file (CSV or Parquet, detected as `Dataset::read` does).
    pub fn open(dir: &Path) -> Result<Self, LearnError> {
        let format = Format::detect(dir)?;
        let path = dir.join(format.metrics_file());
        let (metrics, source) = match format {
            Format::Parquet => {
                let r = columnar::MetricsReader::open(&path)?;
                (r.metrics().to_vec(), Source::Parquet(r))
            }
            Format::Csv => {
                let (reader, header) = dataset::open_csv(&path)?;
                let ts_col = dataset::require(&path, &header, "timestamp")?;
                let target_col = dataset::require(&path, &header, "target")?;
                let metric_cols: Vec<usize> = (0..header.len())
                    .filter(|&i| i != ts_col && i != target_col)
                    .collect();
                let metrics = metric_cols.iter().map(|&i| header[i].clone()).collect();
                (
                    metrics,
                    Source::Csv {
                        reader,
                        ts_col,
                        target_col,
                        metric_cols,
                        row: 1,
                    },
                )
            }
        };
        if metrics.is_empty() {
            return Err(LearnError::EmptyFile {
                path,
                message: "no metric columns after `timestamp,target`".into(),
            });
        }
        Ok(Self {
            path,
            metrics,
            source,
            done: HashSet::new(),
            current: None,
        })
    }

    /// The metric column names, in file order.
    pub fn metrics(&self) -> &[String] {
        &self.metrics
    }

    /// From now on, a Parquet file's metric columns are not read (column projection): the series come
    /// with no `columns`, their targets and timestamps checked as ever. A CSV file is read whole either
    /// way (its lines must be parsed), its series with their columns.
    pub fn keys_only(&mut self) {
        if let Source::Parquet(r) = &mut self.source {
            r.keys_only();
        }
    }

    /// Reads a Parquet file's row groups in this order from the start (e.g. targets in name order from a
    /// file holding one target per row group in another order; see `columnar::MetricsReader::read_groups`).
    /// A CSV file has no row groups: an error.
    pub fn read_groups(&mut self, order: Vec<usize>) -> Result<(), LearnError> {
        match &mut self.source {
            Source::Parquet(r) => r.read_groups(order)?,
            Source::Csv { .. } => {
                return Err(LearnError::Dataset(format!(
                    "{}: a CSV file has no row groups to read in another order",
                    self.path.display()
                )));
            }
        }
        self.done.clear();
        self.current = None;
        Ok(())
    }

    /// The next target's whole series, or `None` after the last one.
    pub fn next_series(&mut self) -> Result<Option<Series>, LearnError> {
        Ok(self.next_series_with_groups()?.map(|(s, _)| s))
    }

    /// The next target's whole series and the Parquet row groups it was read from (in file order; none
    /// from CSV), or `None` after the last one.
    pub fn next_series_with_groups(&mut self) -> Result<Option<(Series, Vec<usize>)>, LearnError> {
        loop {
            let Some(run) = self.next_run()? else {
                return match self.current.take() {
                    Some((s, _, g)) => Ok(Some((self.finish(s)?, g))),
                    None => Ok(None),
                };
            };
            match &mut self.current {
                Some((s, _, groups)) if s.target == run.target => {
                    s.timestamps.extend(run.timestamps);
                    for (dst, src) in s.columns.iter_mut().zip(run.columns) {
                        dst.extend(src);
                    }
                    if let Some(g) = run.group
                        && groups.last() != Some(&g)
                    {
                        groups.push(g);
                    }
                }
                _ => {
                    if self.done.contains(&run.target) {
                        let previous = self
                            .current
                            .as_ref()
                            .map_or(String::new(), |(s, _, _)| s.target.clone());
                        return Err(LearnError::Dataset(format!(
                            "{}: {}: target `{}` appears again after `{}` began: reading target by \
                             target needs each target's rows together (as `simulate --format \
                             parquet` and `collect --format parquet` write them)",
                            self.path.display(),
                            run.place,
                            quote::clip(&run.target),
                            quote::clip(&previous)
                        )));
                    }
                    let series = Series {
                        target: run.target,
                        timestamps: run.timestamps,
                        columns: run.columns,
                    };
                    let place = run.place;
                    let groups = run.group.into_iter().collect();
                    if let Some((finished, _, g)) = self.current.replace((series, place, groups)) {
                        return Ok(Some((self.finish(finished)?, g)));
                    }
                }
            }
        }
    }

    fn finish(&mut self, mut s: Series) -> Result<Series, LearnError> {
        dataset::sort_series(&self.path, &mut s)?;
        self.done.insert(s.target.clone());
        Ok(s)
    }

    fn next_run(&mut self) -> Result<Option<Run>, LearnError> {
        match &mut self.source {
            Source::Parquet(r) => Ok(r.next_rows()?.map(|run| Run {
                place: format!("row group {}, row {}", run.row_group, run.first_row),
                group: Some(run.row_group),
                target: run.target,
                timestamps: run.timestamps,
                columns: run.columns,
            })),
            Source::Csv {
                reader,
                ts_col,
                target_col,
                metric_cols,
                row,
            } => {
                let path = &self.path;
                let mut record = csv::ByteRecord::new();
                *row += 1;
                let more = reader
                    .read_byte_record(&mut record)
                    .map_err(|e| dataset::csv_err(path, *row, e.to_string()))?;
                if !more {
                    return Ok(None);
                }
                let line = dataset::line_of(&record, *row);
                let ts = dataset::parse_time(path, line, "timestamp", &record[*ts_col])?;
                let target = record[*target_col].trim_ascii();
                if target.is_empty() {
                    return Err(dataset::csv_err(
                        path,
                        line,
                        "column `target`: empty target",
                    ));
                }
                let columns = metric_cols
                    .iter()
                    .zip(&self.metrics)
                    .map(|(&c, name)| {
                        dataset::parse_value(path, line, name, &record[c]).map(|v| vec![v])
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Some(Run {
                    target: String::from_utf8_lossy(target).into_owned(),
                    timestamps: vec![ts],
                    columns,
                    place: format!("line {line}"),
                    group: None,
                }))
            }
        }
    }
}

/// Several directories' [`TargetStream`]s read as one ([`crate::data_dirs`]): the targets in name order
/// across them, each directory's targets coming in name order (its file's order, or its Parquet row
/// groups in `orders[k]`). A target in two directories is an error. Memory: each directory's next target
/// is held ahead (none with one directory).
pub(crate) struct MergedStream {
    dirs: Vec<PathBuf>,
    streams: Vec<TargetStream>,
    /// The next series of each stream (`None`: that stream is done).
    heads: Vec<Option<Series>>,
}

impl MergedStream {
    /// Opens every directory of `dirs`, directory `k`'s row groups read in `orders[k]` when given.
    pub(crate) fn open(
        dirs: &crate::data_dirs::DataDirs,
        orders: &[Option<Vec<usize>>],
    ) -> Result<Self, LearnError> {
        let mut streams = Vec::with_capacity(dirs.dirs().len());
        let mut heads = Vec::with_capacity(dirs.dirs().len());
        let merging = dirs.dirs().len() > 1;
        for (k, dir) in dirs.dirs().iter().enumerate() {
            let mut stream = TargetStream::open(dir)?;
            if let Some(Some(order)) = orders.get(k) {
                stream.read_groups(order.clone())?;
            }
            // One directory is read straight through: no target held ahead.
            if merging {
                heads.push(stream.next_series()?);
            }
            streams.push(stream);
        }
        Ok(Self {
            dirs: dirs.dirs().to_vec(),
            streams,
            heads,
        })
    }

    /// The next target's whole series (the least name among the directories' next ones), or `None`.
    pub(crate) fn next_series(&mut self) -> Result<Option<Series>, LearnError> {
        if let [only] = self.streams.as_mut_slice() {
            return only.next_series();
        }
        let mut best: Option<usize> = None;
        for (k, head) in self.heads.iter().enumerate() {
            let Some(s) = head else { continue };
            match best.and_then(|b| self.heads[b].as_ref()) {
                Some(b) if b.target == s.target => {
                    let first = best.map_or(k, |b| b);
                    return Err(crate::data_dirs::in_two(
                        &s.target,
                        &self.dirs[first],
                        &self.dirs[k],
                    ));
                }
                Some(b) if b.target < s.target => {}
                _ => best = Some(k),
            }
        }
        let Some(k) = best else { return Ok(None) };
        let next = self.streams[k].next_series()?;
        Ok(std::mem::replace(&mut self.heads[k], next))
    }
}
