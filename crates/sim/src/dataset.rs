//! The dataset output, written under temporary names and renamed at the end, so an interrupted run
//! never leaves a complete-looking dataset: `metrics.csv` + `events.csv` streamed step by step
//! ([`DatasetWriter`]), or `metrics.parquet` + `events.parquet` one cluster at a time, one row group per
//! target ([`ParquetWriter`]). Both hold the same values: Parquet cells are the CSV cells read back.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::catalog::{COLUMNS, N_COLUMNS, decimals, deployment_rows};
use crate::config::Level;
use crate::engine::Cluster;
use crate::error::{Result, SimError};
use crate::simulation::Simulation;
use crate::snapshot::{CLUSTER_COLUMNS, Snapshotter};
use timeline::Incident;

pub use columnar::Format;

/// Every file a dataset run writes or leaves behind, swept before a new run: the outputs of both
/// formats (a directory must hold one) and the temporary files of a run killed before its end.
const SWEPT: [&str; 8] = [
    "metrics.csv",
    "events.csv",
    ".metrics.csv.partial",
    ".events.csv.partial",
    "metrics.parquet",
    "events.parquet",
    ".metrics.parquet.partial",
    ".events.parquet.partial",
];

fn sweep(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| SimError::io("cannot create output directory", dir, e))?;
    for name in SWEPT {
        let p = dir.join(name);
        if p.exists() {
            std::fs::remove_file(&p).map_err(|e| SimError::io("cannot replace", &p, e))?;
        }
    }
    Ok(())
}

/// Writes a dataset directory.
pub struct DatasetWriter {
    dir: PathBuf,
    level: Level,
    metrics: BufWriter<File>,
    metrics_tmp: PathBuf,
    rows: Vec<[f64; N_COLUMNS]>,
    snapshotters: Vec<Snapshotter>,
    line: String,
    rows_written: u64,
}

impl DatasetWriter {
    /// Creates `dir` if needed, removes a previous `metrics.csv`/`events.csv` there (and the temporary
    /// files of a run killed before its end), and opens the temporary metrics file with its header.
    pub fn create(dir: &Path, level: Level, clusters: usize) -> Result<Self> {
        // A previous run killed before its end (SIGKILL, power loss) left its temporary files: sweep
        // them with the outputs they were to become (of either format).
        sweep(dir)?;
        let metrics_tmp = dir.join(".metrics.csv.partial");
        let file = File::create(&metrics_tmp)
            .map_err(|e| SimError::io("cannot write", &metrics_tmp, e))?;
        let mut w = DatasetWriter {
            dir: dir.to_path_buf(),
            level,
            metrics: BufWriter::with_capacity(1 << 20, file),
            metrics_tmp,
            rows: Vec::new(),
            snapshotters: vec![Snapshotter::new(); clusters],
            line: String::with_capacity(4096),
            rows_written: 0,
        };
        let mut header = String::from("timestamp,target");
        match level {
            Level::Deployment => COLUMNS.iter().for_each(|c| {
                header.push(',');
                header.push_str(c.name);
            }),
            Level::Cluster => CLUSTER_COLUMNS.iter().for_each(|c| {
                header.push(',');
                header.push_str(c);
            }),
        }
        header.push('\n');
        w.write_raw(&header)?;
        Ok(w)
    }

    fn write_raw(&mut self, text: &str) -> Result<()> {
        self.metrics
            .write_all(text.as_bytes())
            .map_err(|e| SimError::io("cannot write", &self.metrics_tmp, e))
    }

    /// Appends the rows of the simulation's current step.
    pub fn write_step(&mut self, sim: &Simulation) -> Result<()> {
        self.line.clear();
        for (ci, cluster) in sim.clusters.iter().enumerate() {
            let t = cluster.t;
            match self.level {
                Level::Deployment => {
                    deployment_rows(cluster, &mut self.rows);
                    for (dep, row) in self.rows.iter().enumerate() {
                        let d = &cluster.spec.deployments[dep];
                        let _ = write!(self.line, "{t},{}/{}", d.namespace, d.name);
                        for (k, v) in row.iter().enumerate() {
                            push_value(&mut self.line, *v, decimals(k));
                        }
                        self.line.push('\n');
                        self.rows_written += 1;
                    }
                }
                Level::Cluster => {
                    let snap = self.snapshotters[ci].take(cluster);
                    let _ = write!(self.line, "{t},{}", snap.cluster_id);
                    for v in snap.to_row() {
                        push_value(&mut self.line, v, 4);
                    }
                    self.line.push('\n');
                    self.rows_written += 1;
                }
            }
        }
        let line = std::mem::take(&mut self.line);
        let res = self.write_raw(&line);
        self.line = line;
        res
    }

    /// Rows written so far.
    pub fn rows_written(&self) -> u64 {
        self.rows_written
    }

    /// Writes `events.csv` (`labels` at this writer's level: [`Simulation::labels_at`]) and renames
    /// both files into place (events first: `metrics.csv` appearing means the dataset is complete).
    pub fn finish(mut self, labels: &[Incident]) -> Result<()> {
        self.metrics
            .flush()
            .map_err(|e| SimError::io("cannot write", &self.metrics_tmp, e))?;
        let events_tmp = self.dir.join(".events.csv.partial");
        let mut text = String::from("target,start,end,issue_type,detail\n");
        for l in labels {
            let _ = writeln!(
                text,
                "{},{},{},{},{}",
                l.target, l.start, l.end, l.issue_type, l.detail
            );
        }
        std::fs::write(&events_tmp, text)
            .map_err(|e| SimError::io("cannot write", &events_tmp, e))?;
        publish(&self.dir, "csv", &events_tmp, &self.metrics_tmp)
    }

    /// Removes the temporary files after a failure (best effort).
    pub fn abandon(self) {
        let _ = std::fs::remove_file(&self.metrics_tmp);
        let _ = std::fs::remove_file(self.dir.join(".events.csv.partial"));
    }
}

/// Writes `metrics.parquet` + `events.parquet`: the run simulates one cluster at a time (clusters are
/// independent), buffering that cluster's rows (memory: one cluster's whole run, ~170 bytes per row),
/// then writes one row group per target, targets in name order within the cluster.
pub struct ParquetWriter {
    dir: PathBuf,
    level: Level,
    metrics_tmp: PathBuf,
    writer: columnar::MetricsWriter,
    /// The current cluster's targets, timestamps and values (`[target][column][step]`).
    targets: Vec<String>,
    timestamps: Vec<i64>,
    values: Vec<Vec<Vec<f64>>>,
    rows: Vec<[f64; N_COLUMNS]>,
    snapshotter: Snapshotter,
    decimals: Vec<usize>,
}

impl ParquetWriter {
    /// Creates `dir` if needed, sweeps a previous dataset there, opens the temporary metrics file.
    pub fn create(dir: &Path, level: Level) -> Result<Self> {
        sweep(dir)?;
        let metrics_tmp = dir.join(".metrics.parquet.partial");
        let (names, decimals): (Vec<String>, Vec<usize>) = match level {
            Level::Deployment => COLUMNS
                .iter()
                .enumerate()
                .map(|(k, c)| (c.name.to_string(), decimals(k)))
                .unzip(),
            Level::Cluster => CLUSTER_COLUMNS.iter().map(|c| (c.to_string(), 4)).unzip(),
        };
        let writer = columnar::MetricsWriter::create(&metrics_tmp, &names).map_err(parquet_err)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            level,
            metrics_tmp,
            writer,
            targets: Vec::new(),
            timestamps: Vec::new(),
            values: Vec::new(),
            rows: Vec::new(),
            snapshotter: Snapshotter::new(),
            decimals,
        })
    }

    /// Starts buffering `cluster` (before its first step).
    pub fn begin_cluster(&mut self, cluster: &Cluster, steps: usize) {
        self.targets = match self.level {
            Level::Deployment => cluster
                .spec
                .deployments
                .iter()
                .map(|d| format!("{}/{}", d.namespace, d.name))
                .collect(),
            Level::Cluster => vec![cluster.spec.id.clone()],
        };
        let n_cols = self.decimals.len();
        self.timestamps = Vec::with_capacity(steps);
        self.values = vec![vec![Vec::with_capacity(steps); n_cols]; self.targets.len()];
        self.snapshotter = Snapshotter::new();
    }

    /// Records the cluster's current step (after [`Cluster::advance`]).
    pub fn record_step(&mut self, cluster: &Cluster) {
        self.timestamps.push(cluster.t);
        match self.level {
            Level::Deployment => {
                deployment_rows(cluster, &mut self.rows);
                for (dep, row) in self.rows.iter().enumerate() {
                    for (k, v) in row.iter().enumerate() {
                        self.values[dep][k].push(as_written(*v, self.decimals[k]));
                    }
                }
            }
            Level::Cluster => {
                let row = self.snapshotter.take(cluster).to_row();
                for (k, v) in row.iter().enumerate() {
                    self.values[0][k].push(as_written(*v, self.decimals[k]));
                }
            }
        }
    }

    /// Writes the buffered cluster, one row group per target in name order.
    pub fn end_cluster(&mut self) -> Result<()> {
        let mut order: Vec<usize> = (0..self.targets.len()).collect();
        order.sort_by(|&a, &b| self.targets[a].cmp(&self.targets[b]));
        for i in order {
            self.writer
                .write_target(&self.targets[i], &self.timestamps, &self.values[i])
                .map_err(parquet_err)?;
        }
        self.values.clear();
        Ok(())
    }

    /// Rows written so far.
    pub fn rows_written(&self) -> u64 {
        self.writer.rows()
    }

    /// Writes `events.parquet` and renames both files into place (events first).
    pub fn finish(self, labels: &[Incident]) -> Result<()> {
        self.writer.finish().map_err(parquet_err)?;
        let events_tmp = self.dir.join(".events.parquet.partial");
        columnar::write_events(
            &events_tmp,
            labels.iter().map(|l| {
                (
                    l.target.as_str(),
                    l.start,
                    l.end,
                    l.issue_type.as_str(),
                    l.detail.as_str(),
                )
            }),
        )
        .map_err(parquet_err)?;
        publish(&self.dir, "parquet", &events_tmp, &self.metrics_tmp)
    }

    /// Removes the temporary files after a failure (best effort).
    pub fn abandon(self) {
        let _ = std::fs::remove_file(&self.metrics_tmp);
        let _ = std::fs::remove_file(self.dir.join(".events.parquet.partial"));
    }
}

fn parquet_err(e: columnar::ColumnarError) -> SimError {
    SimError::Parquet(e.to_string())
}

/// The value `metrics.csv` holds for `v` once read back: `v` rounded to `decimals` as the CSV cell
/// is written (NaN stays missing, -0 is 0). Exact: near a rounding tie, or beyond 2^52, the cell is
/// formatted and parsed.
pub fn as_written(v: f64, decimals: usize) -> f64 {
    if !v.is_finite() {
        return f64::NAN;
    }
    let scale = 10f64.powi(decimals as i32);
    let x = v * scale;
    let frac = x - x.floor();
    let out = if x.abs() < 4.0e15 && (frac - 0.5).abs() > 1e-6 + x.abs() * 1e-15 {
        x.round() / scale
    } else {
        format!("{v:.decimals$}").parse::<f64>().unwrap_or(v)
    };
    if out == 0.0 { 0.0 } else { out }
}

/// The labels (with their cluster id) as written to `events.csv`: per deployment as they are; per cluster with the cluster as
/// target, one event per (cluster, start, issue type, detail) — a node fault that hit several deployments
/// is one cluster incident — ending when the last of them ends.
pub fn events_for_level(labels: &[(&str, &Incident)], level: Level) -> Vec<Incident> {
    match level {
        Level::Deployment => labels.iter().map(|(_, l)| (*l).clone()).collect(),
        Level::Cluster => {
            let mut out: Vec<Incident> = Vec::new();
            for (cluster, l) in labels {
                let mut c = (*l).clone();
                c.target = cluster.to_string();
                match out.iter_mut().find(|o| {
                    (&o.target, o.start, &o.issue_type, &o.detail)
                        == (&c.target, c.start, &c.issue_type, &c.detail)
                }) {
                    Some(o) => o.end = o.end.max(c.end),
                    None => out.push(c),
                }
            }
            out
        }
    }
}

/// Appends `,value` with fixed decimals; NaN is an empty cell.
fn push_value(line: &mut String, v: f64, decimals: usize) {
    line.push(',');
    if v.is_finite() {
        let _ = write!(line, "{v:.decimals$}");
        // "-0" and "-0.000" read badly; they are zero.
        if line.ends_with('0')
            && line.rsplit(',').next().is_some_and(|s| {
                s.starts_with("-0") && s.trim_start_matches(['-', '0', '.']).is_empty()
            })
        {
            let cut = line.rfind(',').map_or(0, |i| i + 1);
            line.truncate(cut);
            let _ = write!(line, "{:.decimals$}", 0.0);
        }
    }
}

/// Moves a finished dataset's temporary files to `events.EXT` and `metrics.EXT` in `dir` (events first:
/// a directory with a metrics file is a complete dataset).
fn publish(dir: &Path, ext: &str, events_tmp: &Path, metrics_tmp: &Path) -> Result<()> {
    for (tmp, name) in [(events_tmp, "events"), (metrics_tmp, "metrics")] {
        let path = dir.join(format!("{name}.{ext}"));
        std::fs::rename(tmp, &path).map_err(|e| SimError::io("cannot rename into", &path, e))?;
    }
    Ok(())
}
