//! `kubepulse collect`: Prometheus history → dataset (`metrics.csv`, `events.csv`).
//!
//! The time range is cut into chunks of `chunk_points` steps. For each chunk every column's query runs once
//! for all targets (concurrently, bounded by the client), the results are appended to `metrics.csv.partial`
//! and a small state file records how far it got, so an interrupted run resumes where it stopped. Incident
//! labels come from the query set's label rules (kube-state-metrics: OOM kills, restarts, node conditions),
//! a user-supplied `events.csv` and, through `extra_labels`, the Kubernetes API (crate `cluster`), merged
//! with precedence by [`crate::incidents`]. Only when everything is written are the files renamed to their final
//! names: a dataset that looks complete is complete.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufWriter, Seek, Write};
use std::path::{Path, PathBuf};

use learn::{Incident, IncidentSource};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::CollectError;
use crate::prom::{PromClient, RangeSeries, range_chunks};
use crate::queries::{Aggregate, QuerySet, Shard};

/// What to collect.
#[derive(Debug, Clone)]
pub struct CollectOptions {
    /// First sample, unix seconds.
    pub start: i64,
    /// Last sample (inclusive), unix seconds.
    pub end: i64,
    /// Sample step, seconds.
    pub step_secs: i64,
    /// Output directory (created if missing).
    pub out_dir: PathBuf,
    /// Columns, label rules and target naming.
    pub queries: QuerySet,
    /// Extra incident labels (`target,start,end,issue_type[,detail]`), merged into `events.csv`.
    pub events_csv: Option<PathBuf>,
    /// Labels read elsewhere (Kubernetes events, Chaos Mesh), merged by [`crate::incidents::merge`]
    /// with the precedence of their [`Incident::source`].
    pub extra_labels: Vec<Incident>,
    /// Steps per chunk (≤ 10,000): bounds memory to about targets × columns × chunk_points × 12 bytes.
    pub chunk_points: usize,
    /// Show a progress bar on stderr (only drawn on a terminal).
    pub progress: bool,
    /// The dataset's file format: the rows are collected into a CSV partial file either way (what
    /// makes a run resumable); with Parquet it is converted at the end, one row group per target
    /// (memory: the whole dataset, once).
    pub format: learn::dataset::Format,
    /// Stop after this many chunks in this run, leaving a resumable state (for tests and incremental runs).
    pub max_chunks: Option<usize>,
    /// Collect only the targets this shard owns (`--shard i/n`, the stable target hash of `watch` and
    /// `train --shard`): their rows, and only their incidents. Every shard still sends every query.
    pub shard: Shard,
}

impl CollectOptions {
    /// Options with defaults: 720 steps per chunk, progress bar on, label rules of `queries`.
    pub fn new(
        start: i64,
        end: i64,
        step_secs: i64,
        out_dir: impl Into<PathBuf>,
        queries: QuerySet,
    ) -> Self {
        CollectOptions {
            start,
            end,
            step_secs,
            out_dir: out_dir.into(),
            queries,
            events_csv: None,
            extra_labels: Vec::new(),
            chunk_points: 720,
            progress: true,
            format: learn::dataset::Format::Csv,
            max_chunks: None,
            shard: Shard::ALL,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectSummary {
    /// True when the dataset is complete (`metrics.csv` and `events.csv` written).
    pub complete: bool,
    /// Chunks in the whole range.
    pub chunks_total: usize,
    /// Chunks skipped because an earlier run had done them.
    pub chunks_resumed: usize,
    /// Rows written to `metrics.csv` by this run.
    pub rows_written: u64,
    /// Distinct targets seen by this run.
    pub targets: usize,
    /// Events in `events.csv` (label rules plus the user's file).
    pub events: usize,
    /// Queries sent by this run.
    pub queries: u64,
}

const STATE_FILE: &str = ".collect-state.json";
const PARTIAL: &str = "metrics.csv.partial";

/// Runs `[first, last]` (unix seconds) of steps where label rule `.0` was positive for target `.1`.
type RuleRuns = (usize, String, Vec<(i64, i64)>);

#[derive(Debug, Serialize, Deserialize)]
struct State {
    fingerprint: String,
    chunks_done: usize,
    metrics_bytes: u64,
    /// (rule index, target) → runs of positive steps `[first, last]`.
    runs: Vec<RuleRuns>,
}

/// Runs `collect` to completion (or to `max_chunks`).
pub async fn collect(
    client: &PromClient,
    opts: &CollectOptions,
) -> Result<CollectSummary, CollectError> {
    validate(opts)?;
    // The user's events file is read before any query: a malformed one fails at once, not after a
    // long Prometheus run.
    let user_events = opts.events_csv.as_deref().map(read_events).transpose()?;
    let q = &opts.queries;
    let step = opts.step_secs;
    let chunks = range_chunks(
        opts.start as f64,
        opts.end as f64,
        step as f64,
        opts.chunk_points,
    )
    .map_err(CollectError::Invalid)?;
    std::fs::create_dir_all(&opts.out_dir).map_err(CollectError::io(&opts.out_dir))?;
    let state_path = opts.out_dir.join(STATE_FILE);
    let partial_path = opts.out_dir.join(PARTIAL);
    let fingerprint = fingerprint(opts);

    let mut state = match read_state(&state_path)? {
        Some(s) if s.fingerprint == fingerprint && partial_path.exists() => s,
        Some(_) => {
            tracing::warn!(dir = %opts.out_dir.display(), "earlier collect state is for other options; starting over");
            fresh_state(&fingerprint)
        }
        None => fresh_state(&fingerprint),
    };
    let chunks_resumed = state.chunks_done;
    if chunks_resumed > 0 {
        tracing::info!(
            chunks_done = chunks_resumed,
            chunks_total = chunks.len(),
            "resuming collect"
        );
    }

    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(false)
        .open(&partial_path)
        .map_err(CollectError::io(&partial_path))?;
    file.set_len(state.metrics_bytes)
        .map_err(CollectError::io(&partial_path))?;
    file.seek(std::io::SeekFrom::End(0))
        .map_err(CollectError::io(&partial_path))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    if state.metrics_bytes == 0 {
        let mut header = String::from("timestamp,target");
        for c in &q.columns {
            header.push(',');
            header.push_str(&c.name);
        }
        header.push('\n');
        out.write_all(header.as_bytes())
            .map_err(CollectError::io(&partial_path))?;
    }

    let bar = progress_bar(opts.progress, chunks.len() as u64, chunks_resumed as u64);
    let mut runs: HashMap<(usize, String), Vec<(i64, i64)>> =
        state.runs.drain(..).map(|(r, t, v)| ((r, t), v)).collect();
    let mut summary = CollectSummary {
        complete: false,
        chunks_total: chunks.len(),
        chunks_resumed,
        rows_written: 0,
        targets: 0,
        events: 0,
        queries: 0,
    };
    let mut targets_seen = std::collections::HashSet::new();
    let mut in_flight = std::collections::VecDeque::new();
    // Chunks this run may do (`max_chunks` stops early with a resumable state).
    let stop_at = opts
        .max_chunks
        .map_or(chunks.len(), |m| (state.chunks_done + m).min(chunks.len()));
    for index in state.chunks_done..stop_at {
        let (chunk_start, chunk_end, mut set) = match in_flight.pop_front() {
            Some(next) => next,
            None => spawn_chunk(client, q, step, chunks[index]),
        };
        // Keep the next chunks' queries queued behind this one's (the client's semaphore serves them in
        // order), so Prometheus works on them while this chunk is assembled and written.
        while in_flight.len() < PREFETCH_CHUNKS && index + 1 + in_flight.len() < stop_at {
            let next = index + 1 + in_flight.len();
            in_flight.push_back(spawn_chunk(client, q, step, chunks[next]));
        }
        let n_steps = ((chunk_end - chunk_start) / step + 1) as usize;

        // Results are folded into the chunk's table as they arrive (and dropped): memory stays at the
        // table plus the answers in flight.
        let n_cols = q.columns.len();
        let mut table: BTreeMap<String, Table> = BTreeMap::new();
        while let Some(joined) = set.join_next().await {
            let (slot, result) =
                joined.map_err(|e| CollectError::Invalid(format!("query task failed: {e}")))?;
            summary.queries += 1;
            let series = result?;
            match slot {
                Slot::Column(col) => {
                    let aggregate = q.columns[col].aggregate;
                    for series in series {
                        let Some(target) = q.target.target_of(&series.labels) else {
                            continue;
                        };
                        if !opts.shard.owns(&target) {
                            continue;
                        }
                        let t = table
                            .entry(target)
                            .or_insert_with(|| Table::new(n_steps, n_cols));
                        for (ts, v) in series.samples {
                            let Some(row) = step_index(ts, chunk_start, step, n_steps) else {
                                continue;
                            };
                            t.add(row, col, v, aggregate);
                        }
                    }
                }
                Slot::Label(rule) => {
                    for series in series {
                        let Some(target) = q.target.target_of(&series.labels) else {
                            continue;
                        };
                        if !opts.shard.owns(&target) {
                            continue;
                        }
                        let entry = runs.entry((rule, target)).or_default();
                        for (ts, v) in series.samples {
                            if v.is_nan() || v <= 0.0 {
                                continue;
                            }
                            let ts = ts.round() as i64;
                            match entry.last_mut() {
                                Some(last) if ts - last.1 <= step => last.1 = last.1.max(ts),
                                _ => entry.push((ts, ts)),
                            }
                        }
                    }
                }
            }
        }

        // Rows are formatted in parallel per target, then written in target order.
        let table: Vec<(String, Table)> = table.into_iter().collect();
        let texts: Vec<(String, u64)> = table
            .par_iter()
            .map(|(target, t)| t.format_rows(target, chunk_start, step))
            .collect();
        for ((target, _), (text, rows)) in table.into_iter().zip(texts) {
            out.write_all(text.as_bytes())
                .map_err(CollectError::io(&partial_path))?;
            summary.rows_written += rows;
            targets_seen.insert(target);
        }

        // Durable progress: data first, then the state that points at it.
        out.flush().map_err(CollectError::io(&partial_path))?;
        out.get_ref()
            .sync_data()
            .map_err(CollectError::io(&partial_path))?;
        state.chunks_done = index + 1;
        state.metrics_bytes = out
            .get_ref()
            .metadata()
            .map_err(CollectError::io(&partial_path))?
            .len();
        state.runs = runs
            .iter()
            .map(|((r, t), v)| (*r, t.clone(), v.clone()))
            .collect();
        state.runs.sort();
        write_state(&state_path, &state)?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    drop(out);
    summary.targets = targets_seen.len();
    if state.chunks_done < chunks.len() {
        return Ok(summary);
    }

    let mut labels = rule_events(q, step, &runs);
    labels.extend(user_events.into_iter().flatten());
    labels.extend(opts.extra_labels.iter().cloned());
    labels.retain(|i| opts.shard.owns(&i.target));
    let events = crate::incidents::merge(labels);
    summary.events = events.len();
    match opts.format {
        learn::dataset::Format::Csv => {
            write_events(&opts.out_dir, &events)?;
            let final_path = opts.out_dir.join("metrics.csv");
            std::fs::rename(&partial_path, &final_path).map_err(CollectError::io(&final_path))?;
        }
        learn::dataset::Format::Parquet => {
            // One target's rows in memory at a time, whatever the collection's size.
            learn::dataset::csv_to_parquet(&partial_path, &events, &opts.out_dir)?;
            std::fs::remove_file(&partial_path).map_err(CollectError::io(&partial_path))?;
        }
    }
    // The dataset replaces a previous one in this directory, of either format (a directory holds one).
    let other = match opts.format {
        learn::dataset::Format::Csv => learn::dataset::Format::Parquet,
        learn::dataset::Format::Parquet => learn::dataset::Format::Csv,
    };
    for name in [other.metrics_file(), other.events_file()] {
        let stale = opts.out_dir.join(name);
        if stale.is_file() {
            std::fs::remove_file(&stale).map_err(CollectError::io(&stale))?;
        }
    }
    std::fs::remove_file(&state_path).map_err(CollectError::io(&state_path))?;
    summary.complete = true;
    Ok(summary)
}

enum Slot {
    Column(usize),
    Label(usize),
}

/// Chunks whose queries are sent ahead of the one being assembled.
const PREFETCH_CHUNKS: usize = 1;

/// The answers of one chunk's queries: `(slot, series)` per column and label rule.
type ChunkQueries = tokio::task::JoinSet<(Slot, Result<Vec<RangeSeries>, crate::prom::PromError>)>;

/// Sends every column's and label rule's query over one chunk (all targets at once); returns the chunk's
/// first and last step (unix seconds) and the queries in flight.
fn spawn_chunk(
    client: &PromClient,
    q: &QuerySet,
    step: i64,
    (chunk_start, chunk_end): (f64, f64),
) -> (i64, i64, ChunkQueries) {
    let chunk_start = chunk_start.round() as i64;
    let chunk_end = chunk_end.round() as i64;
    let mut set = tokio::task::JoinSet::new();
    let queries = q
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| (Slot::Column(i), &c.query))
        .chain(
            q.labels
                .iter()
                .enumerate()
                .map(|(i, rule)| (Slot::Label(i), &rule.query)),
        );
    for (slot, query) in queries {
        let client = client.clone();
        let promql = q.render(query, step);
        set.spawn(async move {
            let r = client
                .query_range_once(&promql, chunk_start as f64, chunk_end as f64, step as f64)
                .await;
            (slot, r)
        });
    }
    (chunk_start, chunk_end, set)
}

fn validate(opts: &CollectOptions) -> Result<(), CollectError> {
    if opts.step_secs <= 0 {
        return Err(CollectError::Invalid(format!(
            "--step must be positive, not {} s",
            opts.step_secs
        )));
    }
    if opts.end < opts.start {
        return Err(CollectError::Invalid(format!(
            "--end ({}) is before --start ({})",
            opts.end, opts.start
        )));
    }
    if !(1..=10_000).contains(&opts.chunk_points) {
        return Err(CollectError::Invalid(format!(
            "chunk points must be within 1..=10000, not {}",
            opts.chunk_points
        )));
    }
    Ok(())
}

/// Values of one target over one chunk, with per-cell counts for averaging.
struct Table {
    n_cols: usize,
    values: Vec<f64>,
    counts: Vec<u32>,
    rows: Vec<bool>,
}

impl Table {
    fn new(n_steps: usize, n_cols: usize) -> Self {
        Table {
            n_cols,
            values: vec![f64::NAN; n_steps * n_cols],
            counts: vec![0; n_steps * n_cols],
            rows: vec![false; n_steps],
        }
    }

    fn add(&mut self, row: usize, col: usize, v: f64, aggregate: Aggregate) {
        let i = row * self.n_cols + col;
        self.rows[row] = true;
        let old = self.values[i];
        self.counts[i] += 1;
        let n = self.counts[i];
        self.values[i] = if n == 1 {
            v
        } else {
            match aggregate {
                Aggregate::Sum => old + v,
                Aggregate::Max => old.max(v),
                Aggregate::Min => old.min(v),
                Aggregate::Mean => old + (v - old) / f64::from(n),
            }
        };
    }

    fn has_row(&self, row: usize) -> bool {
        self.rows[row]
    }

    fn value(&self, row: usize, col: usize) -> f64 {
        self.values[row * self.n_cols + col]
    }

    /// This target's `metrics.csv` rows (steps with at least one sample) and their count.
    fn format_rows(&self, target: &str, chunk_start: i64, step: i64) -> (String, u64) {
        let mut text = String::with_capacity(self.rows.len() * (32 + 16 * self.n_cols));
        let mut field = String::with_capacity(target.len() + 2);
        push_csv_field(&mut field, target);
        let mut rows = 0;
        for row in 0..self.rows.len() {
            if !self.has_row(row) {
                continue;
            }
            push_i64(&mut text, chunk_start + row as i64 * step);
            text.push(',');
            text.push_str(&field);
            for col in 0..self.n_cols {
                text.push(',');
                let v = self.value(row, col);
                if v.is_finite() {
                    push_f64(&mut text, v);
                }
            }
            text.push('\n');
            rows += 1;
        }
        (text, rows)
    }
}

fn step_index(ts: f64, chunk_start: i64, step: i64, n_steps: usize) -> Option<usize> {
    let offset = ts - chunk_start as f64;
    let row = (offset / step as f64).round();
    if row < 0.0 || (offset - row * step as f64).abs() > 1e-3 {
        return None;
    }
    let row = row as usize;
    (row < n_steps).then_some(row)
}

fn push_i64(out: &mut String, v: i64) {
    use std::fmt::Write as _;
    let _ = write!(out, "{v}");
}

/// Shortest text that reads back as the same f64.
fn push_f64(out: &mut String, v: f64) {
    use std::fmt::Write as _;
    let _ = write!(out, "{v}");
}

fn push_csv_field(out: &mut String, s: &str) {
    if s.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(s);
    }
}

fn fresh_state(fingerprint: &str) -> State {
    State {
        fingerprint: fingerprint.to_string(),
        chunks_done: 0,
        metrics_bytes: 0,
        runs: Vec::new(),
    }
}

fn fingerprint(opts: &CollectOptions) -> String {
    let q = &opts.queries;
    let mut text = format!(
        "{} {} {} {} {} {:?}",
        opts.start,
        opts.end,
        opts.step_secs,
        opts.chunk_points,
        q.rate_window_steps,
        q.target.labels()
    );
    if opts.shard != Shard::ALL {
        text.push_str(&format!(" shard {}/{}", opts.shard.index, opts.shard.count));
    }
    for c in &q.columns {
        text.push_str(&format!("|{}={}", c.name, c.query));
    }
    for l in &q.labels {
        text.push_str(&format!("|{}:{}={}", l.issue_type, l.detail, l.query));
    }
    format!("{:016x}", crate::queries::stable_hash(&text))
}

fn read_state(path: &Path) -> Result<Option<State>, CollectError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CollectError::Io {
            path: path.to_path_buf(),
            source: e,
        }),
    }
}

fn write_state(path: &Path, state: &State) -> Result<(), CollectError> {
    let tmp = path.with_extension("json.tmp");
    let bytes = serde_json::to_vec(state).map_err(|e| CollectError::Invalid(e.to_string()))?;
    std::fs::write(&tmp, bytes).map_err(CollectError::io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(CollectError::io(path))
}

/// Turns label-rule runs into events; the first rule wins where rules of one type overlap on a target.
fn rule_events(
    q: &QuerySet,
    step: i64,
    runs: &HashMap<(usize, String), Vec<(i64, i64)>>,
) -> Vec<Incident> {
    let range = q.range_secs(step);
    let mut keys: Vec<&(usize, String)> = runs.keys().collect();
    keys.sort();
    let mut accepted: Vec<Incident> = Vec::new();
    for key in keys {
        let rule = &q.labels[key.0];
        // Windowed queries (increase over $RANGE) stay positive for one window after the event.
        let lag = if rule.query.contains("$RANGE") {
            range
        } else {
            0
        };
        for &(first, last) in &runs[key] {
            let start = if lag > 0 { first - step } else { first };
            let end = (last - lag + step).max(start + step);
            let overlaps = accepted.iter().any(|e| {
                e.target == key.1
                    && e.issue_type == rule.issue_type
                    && e.start < end
                    && start < e.end
            });
            if !overlaps {
                accepted.push(Incident {
                    target: key.1.clone(),
                    start,
                    end,
                    issue_type: rule.issue_type.clone(),
                    detail: rule.detail.clone(),
                    source: IncidentSource::Rules,
                });
            }
        }
    }
    accepted
}

/// Reads a user events file: `target,start,end,issue_type[,detail]`, times in unix seconds or RFC 3339,
/// checked as a dataset's `events.csv` is ([`learn::dataset::read_events_csv`]: one reader, one set of
/// messages).
pub fn read_events(path: &Path) -> Result<Vec<Incident>, CollectError> {
    let mut events = learn::dataset::read_events_csv(path)?;
    for e in &mut events {
        e.source = IncidentSource::EventsFile;
    }
    Ok(events)
}

fn write_events(dir: &Path, events: &[Incident]) -> Result<(), CollectError> {
    let path = dir.join("events.csv");
    let tmp = dir.join("events.csv.partial");
    let mut text = String::from("target,start,end,issue_type,detail\n");
    for e in events {
        push_csv_field(&mut text, &e.target);
        text.push_str(&format!(",{},{},", e.start, e.end));
        push_csv_field(&mut text, &e.issue_type);
        text.push(',');
        push_csv_field(&mut text, &e.detail);
        text.push('\n');
    }
    std::fs::write(&tmp, text).map_err(CollectError::io(&tmp))?;
    std::fs::rename(&tmp, &path).map_err(CollectError::io(&path))
}

fn progress_bar(enabled: bool, total: u64, done: u64) -> indicatif::ProgressBar {
    if !enabled {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "collect {bar:30} {pos}/{len} chunks, {elapsed} elapsed, eta {eta}",
    ) {
        bar.set_style(style);
    }
    bar.set_position(done);
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_seconds_or_rfc3339() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("events.csv");
        let rows =
            "target,start,end,issue_type\nshop/cart,1700000000,2023-11-14T22:15:00Z,pod_failure\n";
        std::fs::write(&p, rows).unwrap();
        let events = read_events(&p).unwrap();
        assert_eq!(
            (events[0].start, events[0].end),
            (1_700_000_000, 1_700_000_100)
        );
        assert_eq!(events[0].source, IncidentSource::EventsFile);
        std::fs::write(&p, "target,start,end,issue_type\nshop/cart,yesterday,1,x\n").unwrap();
        let err = read_events(&p).unwrap_err().to_string();
        assert!(err.contains("yesterday") && err.contains(":2:"), "{err}");
    }

    #[test]
    fn user_events_are_validated_with_line_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("events.csv");
        std::fs::write(&p, "target,start,end,issue_type\nshop/cart,100,200,pod_failure\nshop/cart,300,250,pod_failure\n").unwrap();
        let err = read_events(&p).unwrap_err().to_string();
        assert!(
            err.contains("events.csv:3") && err.contains("before start"),
            "{err}"
        );
        std::fs::write(&p, "target,begin\nx,1\n").unwrap();
        assert!(read_events(&p).unwrap_err().to_string().contains("header"));
        std::fs::write(
            &p,
            "target,start,end,issue_type,detail\nshop/cart,100,200,pod_failure,oom_kill\n",
        )
        .unwrap();
        let ev = read_events(&p).unwrap();
        assert_eq!(ev[0].detail, "oom_kill");
    }

    #[test]
    fn overlapping_rules_keep_the_first() {
        let q = QuerySet::builtin().unwrap();
        let mut runs = HashMap::new();
        runs.insert((0, "shop/cart".to_string()), vec![(1000, 1045)]);
        runs.insert(
            (1, "shop/cart".to_string()),
            vec![(1000, 1045), (5000, 5000)],
        );
        let ev = rule_events(&q, 15, &runs);
        assert_eq!(ev.len(), 2, "{ev:?}");
        assert_eq!(ev[0].detail, "oom_kill");
        assert_eq!((ev[0].start, ev[0].end), (985, 1000));
        assert_eq!(ev[1].detail, "restart");
    }

    #[test]
    fn mean_aggregation_is_a_mean() {
        let mut t = Table::new(1, 1);
        for v in [1.0, 2.0, 6.0] {
            t.add(0, 0, v, Aggregate::Mean);
        }
        assert_eq!(t.value(0, 0), 3.0);
        let mut t = Table::new(1, 1);
        for v in [1.0, 2.0, 6.0] {
            t.add(0, 0, v, Aggregate::Sum);
        }
        assert_eq!(t.value(0, 0), 9.0);
    }
}
