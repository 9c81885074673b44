//! Sharded feature extraction (`kubepulse train --shard i/n --sample-out DIR`, then `--from-shards
//! DIR...`): each shard extracts the training sample of the targets it owns ([`crate::shard`], the
//! stable target hash `watch` and `collect` use) and writes it; the final step trains on their union,
//! byte for byte the model one process trains target by target ([`super::streamed`]).
//!
//! A shard reads the whole metrics file for passes 1 and 2 of [`super::streamed`] — the training period,
//! where validation starts, the thinning strides, the validation targets and the fingerprint depend on
//! every target — and extracts features (pass 3, the costly part) for its own targets only. It writes:
//!
//! - `shard.json`: the shard (`i/n`), the resolved parameters, the period, the strides, the targets
//!   and what the union must agree on ([`ShardMeta`]);
//! - `fit.parquet` and `full.parquet`: the training rows of the fit part and of the whole period, one
//!   row group per target (the `metrics.parquet` layout: `timestamp` = row number within the target,
//!   `target`, then `issue` (0/1), `type` (issue type index, -1 for normal), `weight`, `eta_secs`
//!   (null for normal) and one column per feature, float64, null = missing);
//! - `fit-leads.parquet` and `full-leads.parquet`: seconds from each positive window to its
//!   incident's start (`lead_secs`), `target` = the issue type;
//! - `validation/`: the shard's validation targets up to the end of the training period, and every
//!   event (a Parquet dataset).
//!
//! The union is checked: the same `n`, every shard once, the same data, period and parameters.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::streamed::{self, Chunk, Part, Streamed};
use super::{Rows, Strides, TrainParams};
use crate::data_dirs::DataDirs;
use crate::dataset::{Dataset, Series};
use crate::error::LearnError;
use crate::eval::Split;
use crate::shard::Shard;

/// Version of the shard format.
const FORMAT: u32 = 2;

/// What a shard's `shard.json` records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardMeta {
    /// [`FORMAT`].
    pub format: u32,
    /// This shard, 0-based.
    pub index: u32,
    /// Shards.
    pub count: u32,
    /// The common part (equal in every shard of one extraction).
    pub common: Common,
    /// Training rows written (whole period).
    pub rows: usize,
    /// Validation targets written.
    pub validation_targets: usize,
}

/// What every shard of one extraction agrees on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Common {
    /// The training parameters, the step resolved.
    pub params: TrainParams,
    /// The whole dataset's fingerprint.
    pub fingerprint: String,
    /// Rows of the metrics file.
    pub total_rows: u64,
    /// Every target, sorted.
    pub targets: Vec<String>,
    /// The metric columns.
    pub metrics: Vec<String>,
    /// The feature names, in row order.
    pub features: Vec<String>,
    /// The issue types.
    pub types: Vec<String>,
    /// Training period and where its validation part starts, unix seconds.
    pub from: i64,
    pub until: i64,
    pub cut: i64,
    /// Thinning strides of the fit part and of the whole period.
    pub fit_strides: Strides,
    pub full_strides: Strides,
    /// What the feedback (`--false-alarms`, `--mitigated`) did to the whole dataset, and its files' names
    /// (the card records them).
    pub applied: streamed::Applied,
    pub false_alarms_file: Option<String>,
    pub mitigated_file: Option<String>,
    /// The mitigated periods of the dataset's targets (validation leaves their windows out).
    pub mitigated: Vec<Period>,
}

/// A mitigated period as `shard.json` records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Period {
    pub target: String,
    pub start: i64,
    pub end: i64,
    pub issue_type: String,
}

/// Operator feedback given to a sharded extraction: the files' names (for the card) and their records.
#[derive(Debug, Clone, Default)]
pub struct ShardFeedback {
    /// The false alarms file's name and its records.
    pub false_alarms: Option<(String, Vec<crate::dataset::Incident>)>,
    /// The mitigated periods file's name and its records.
    pub mitigated: Option<(String, Vec<crate::dataset::Incident>)>,
}

/// Extracts shard `shard`'s training sample of the dataset in `data` (one directory, or several read as
/// one: [`crate::data_dirs`]; see the module docs) into `out`
/// (created); the arguments are [`streamed::train`]'s. Returns what `shard.json` records.
pub fn extract_shard(
    data: impl Into<DataDirs>,
    params: &TrainParams,
    until: Option<Split>,
    max_rows: u64,
    shard: Shard,
    out: &Path,
    feedback: &ShardFeedback,
) -> Result<ShardMeta, LearnError> {
    let dir = data.into();
    let fb = streamed::Feedback {
        false_alarms: feedback.false_alarms.as_ref().map(|(_, r)| r.clone()),
        mitigated: feedback.mitigated.as_ref().map(|(_, r)| r.clone()),
    };
    let plan = streamed::plan(&dir, params, until, max_rows, streamed::CHUNK_ROWS, &fb)?;
    std::fs::create_dir_all(out).map_err(|e| LearnError::io(out, e))?;
    let features = super::feature_spec(&plan.base, &plan.params)
        .names()
        .to_vec();
    let mut columns = vec![
        "issue".to_string(),
        "type".into(),
        "weight".into(),
        "eta_secs".into(),
    ];
    columns.extend(features.iter().cloned());
    let nf = features.len();
    let mut fit = columnar::MetricsWriter::create(&out.join("fit.parquet"), &columns)?;
    let mut full = columnar::MetricsWriter::create(&out.join("full.parquet"), &columns)?;
    let lead_columns = ["lead_secs".to_string()];
    let mut fit_leads =
        columnar::MetricsWriter::create(&out.join("fit-leads.parquet"), &lead_columns)?;
    let mut full_leads =
        columnar::MetricsWriter::create(&out.join("full-leads.parquet"), &lead_columns)?;
    let mut validation = Vec::new();
    let mut rows = 0;
    streamed::extract(
        &dir,
        &plan,
        streamed::CHUNK_ROWS,
        &|t| shard.owns(t),
        |chunk: Chunk| {
            for (i, a, b) in &chunk.rows {
                write_rows(&mut fit, &plan.names[*i], a, nf)?;
                write_rows(&mut full, &plan.names[*i], b, nf)?;
                rows += b.issue.len();
            }
            for (w, leads) in [
                (&mut fit_leads, &chunk.fit_leads),
                (&mut full_leads, &chunk.full_leads),
            ] {
                for (ty, l) in plan.types.iter().zip(leads) {
                    let t: Vec<i64> = (0..l.len() as i64).collect();
                    w.write_target(ty, &t, std::slice::from_ref(l))?;
                }
            }
            validation.extend(chunk.validation);
            Ok(())
        },
    )?;
    for w in [fit, full, fit_leads, full_leads] {
        w.finish()?;
    }
    let validation_targets = validation.len();
    crate::dataset::write_parquet(
        &Dataset {
            mitigated: Vec::new(),
            metrics: plan.base.metrics.clone(),
            series: validation,
            events: plan.base.events.clone(),
        },
        &out.join("validation"),
    )?;
    let meta = ShardMeta {
        format: FORMAT,
        index: shard.index,
        count: shard.count,
        common: Common {
            params: plan.params.clone(),
            fingerprint: plan.fingerprint.clone(),
            total_rows: plan.total_rows,
            targets: plan.names.clone(),
            metrics: plan.base.metrics.clone(),
            features,
            types: plan.types.clone(),
            from: plan.from,
            until: plan.until,
            cut: plan.cut,
            fit_strides: plan.fit_strides,
            full_strides: plan.full_strides,
            applied: plan.applied,
            false_alarms_file: feedback.false_alarms.as_ref().map(|(n, _)| n.clone()),
            mitigated_file: feedback.mitigated.as_ref().map(|(n, _)| n.clone()),
            mitigated: plan
                .base
                .mitigated
                .iter()
                .map(|m| Period {
                    target: m.target.clone(),
                    start: m.start,
                    end: m.end,
                    issue_type: m.issue_type.clone(),
                })
                .collect(),
        },
        rows,
        validation_targets,
    };
    let path = out.join("shard.json");
    let text = serde_json::to_string_pretty(&meta)
        .map_err(|e| LearnError::Shards(format!("{}: {e}", path.display())))?;
    // Written last, under a temporary name then renamed: a shard with its shard.json is complete.
    let partial = out.join(".shard.json.partial");
    std::fs::write(&partial, text).map_err(|e| LearnError::io(&partial, e))?;
    std::fs::rename(&partial, &path).map_err(|e| LearnError::io(&path, e))?;
    Ok(meta)
}

/// Writes one target's training rows as a row group (row number as `timestamp`).
fn write_rows(
    w: &mut columnar::MetricsWriter,
    target: &str,
    rows: &Rows,
    nf: usize,
) -> Result<(), LearnError> {
    let n = rows.issue.len();
    if n == 0 {
        return Ok(());
    }
    let mut columns = vec![
        rows.issue.clone(),
        rows.type_label.clone(),
        rows.weight.clone(),
        rows.eta_secs.clone(),
    ];
    for f in 0..nf {
        columns.push((0..n).map(|r| f64::from(rows.x[r * nf + f])).collect());
    }
    let t: Vec<i64> = (0..n as i64).collect();
    w.write_target(target, &t, &columns)?;
    Ok(())
}

/// Reads a shard's `shard.json`.
pub fn read_meta(dir: &Path) -> Result<ShardMeta, LearnError> {
    let path = dir.join("shard.json");
    let text = std::fs::read_to_string(&path).map_err(|e| LearnError::io(&path, e))?;
    let meta: ShardMeta = serde_json::from_str(&text)
        .map_err(|e| LearnError::Shards(format!("{}: {e}", path.display())))?;
    if meta.format != FORMAT {
        return Err(LearnError::Shards(format!(
            "{}: format {} (this release reads {FORMAT}): extract the shards again with this release",
            path.display(),
            meta.format
        )));
    }
    Ok(meta)
}

/// Every run of rows of a Parquet file written by [`write_rows`] (or a leads file), by target, runs
/// of one target joined in file order.
fn read_runs(path: &Path) -> Result<BTreeMap<String, Vec<Vec<f64>>>, LearnError> {
    let mut reader = columnar::MetricsReader::open(path)?;
    let mut out: BTreeMap<String, Vec<Vec<f64>>> = BTreeMap::new();
    while let Some(run) = reader.next_rows()? {
        match out.get_mut(&run.target) {
            Some(columns) => {
                for (all, some) in columns.iter_mut().zip(run.columns) {
                    all.extend(some);
                }
            }
            None => {
                out.insert(run.target, run.columns);
            }
        }
    }
    Ok(out)
}

/// Rows from the columns [`write_rows`] wrote.
fn rows_of(mut columns: Vec<Vec<f64>>, nf: usize) -> Result<Rows, LearnError> {
    if columns.len() != nf + 4 {
        return Err(LearnError::Shards(format!(
            "{} columns where {} were written",
            columns.len(),
            nf + 4
        )));
    }
    let features = columns.split_off(4);
    let mut it = columns.into_iter();
    let (Some(issue), Some(type_label), Some(weight), Some(eta_secs)) =
        (it.next(), it.next(), it.next(), it.next())
    else {
        return Err(LearnError::Shards("missing label columns".into()));
    };
    let n = issue.len();
    let mut x = Vec::with_capacity(n * nf);
    for r in 0..n {
        for f in &features {
            x.push(f[r] as f32);
        }
    }
    Ok(Rows {
        x,
        issue,
        type_label,
        weight,
        eta_secs,
    })
}

/// Trains the pair on the union of the shards in `dirs` (any order): byte for byte the pair
/// [`streamed::train`] trains on the same data with the same parameters (and feedback). `progress` shows
/// progress. Also returns the extraction's common part (the feedback's files and effect, for the card).
pub fn train_from_shards(dirs: &[PathBuf], progress: bool) -> Result<Streamed, LearnError> {
    train_from_shards_with_common(dirs, progress).map(|(s, _)| s)
}

/// [`train_from_shards`], with what every shard agreed on.
pub fn train_from_shards_with_common(
    dirs: &[PathBuf],
    progress: bool,
) -> Result<(Streamed, Common), LearnError> {
    let metas: Vec<ShardMeta> = dirs
        .iter()
        .map(|d| read_meta(d))
        .collect::<Result<_, _>>()?;
    let Some(first) = metas.first() else {
        return Err(LearnError::Shards("no shard directory given".into()));
    };
    let count = first.count;
    let mut seen: Vec<Option<usize>> = vec![None; count as usize];
    for (k, (m, d)) in metas.iter().zip(dirs).enumerate() {
        if m.count != count {
            return Err(LearnError::Shards(format!(
                "{} is shard {}/{} and {} is shard {}/{count}: shards of different extractions",
                d.display(),
                m.index,
                m.count,
                dirs[0].display(),
                first.index
            )));
        }
        if m.common != first.common {
            return Err(LearnError::Shards(format!(
                "{} and {} were extracted from different data, periods or parameters",
                d.display(),
                dirs[0].display()
            )));
        }
        match seen.get_mut(m.index as usize) {
            Some(Some(other)) => {
                return Err(LearnError::Shards(format!(
                    "shard {}/{count} is given twice: {} and {}",
                    m.index,
                    d.display(),
                    dirs[*other].display()
                )));
            }
            Some(slot) => *slot = Some(k),
            None => {
                return Err(LearnError::Shards(format!(
                    "{}: shard index {} out of 0..{count}",
                    d.display(),
                    m.index
                )));
            }
        }
    }
    let missing: Vec<String> = seen
        .iter()
        .enumerate()
        .filter(|(_, s)| s.is_none())
        .map(|(i, _)| format!("{i}/{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(LearnError::Shards(format!(
            "shards {} are missing: the union of all {count} is needed",
            missing.join(", ")
        )));
    }
    let common = first.common.clone();
    let nf = common.features.len();
    let index: BTreeMap<&str, usize> = common
        .targets
        .iter()
        .enumerate()
        .map(|(i, t)| (t.as_str(), i))
        .collect();
    let target_index = |t: &str, path: &Path| {
        index.get(t).copied().ok_or_else(|| {
            LearnError::Shards(format!(
                "{}: target `{}` is not one of the extraction's",
                path.display(),
                crate::quote::clip(t)
            ))
        })
    };
    // Per target (name order), its rows; leads per type; validation series.
    let mut fit: BTreeMap<usize, Rows> = BTreeMap::new();
    let mut full: BTreeMap<usize, Rows> = BTreeMap::new();
    let mut part = Part::new(common.types.len());
    let mut validation: Vec<(usize, Series)> = Vec::new();
    let mut events = None;
    let bar = crate::progress::Rows::new(progress, "shards", Some(dirs.len() as u64));
    for (d, meta) in dirs.iter().zip(&metas) {
        for (name, map) in [("fit.parquet", &mut fit), ("full.parquet", &mut full)] {
            let path = d.join(name);
            for (t, columns) in read_runs(&path)? {
                let i = target_index(&t, &path)?;
                if map.insert(i, rows_of(columns, nf)?).is_some() {
                    return Err(LearnError::Shards(format!(
                        "target `{}` is in two shards",
                        crate::quote::clip(&t)
                    )));
                }
            }
        }
        for (name, leads) in [
            ("fit-leads.parquet", &mut part.fit_leads),
            ("full-leads.parquet", &mut part.full_leads),
        ] {
            for (ty, mut columns) in read_runs(&d.join(name))? {
                let k = common.types.iter().position(|x| *x == ty).ok_or_else(|| {
                    LearnError::Shards(format!("{}: unknown issue type `{ty}`", d.display()))
                })?;
                leads[k].extend(columns.pop().unwrap_or_default());
            }
        }
        let vdir = d.join("validation");
        let known: std::collections::HashSet<&str> = index.keys().copied().collect();
        let shard_events =
            crate::dataset::read_dir_events(&vdir, &|t| known.contains(t), "metrics.parquet")?;
        match &events {
            None => events = Some(shard_events),
            Some(e) if *e == shard_events => {}
            Some(_) => {
                return Err(LearnError::Shards(format!(
                    "{}: its events differ from the other shards'",
                    vdir.display()
                )));
            }
        }
        if meta.validation_targets > 0 {
            let mut stream = crate::stream::TargetStream::open(&vdir)?;
            while let Some(s) = stream.next_series()? {
                let i = target_index(&s.target, &vdir)?;
                validation.push((i, s));
            }
        }
        bar.inc(1);
    }
    bar.finish();
    validation.sort_by_key(|(i, _)| *i);
    for rows in fit.into_values() {
        part.fit.extend(rows);
    }
    for rows in full.into_values() {
        part.full.extend(rows);
    }
    part.validation = validation.into_iter().map(|(_, s)| s).collect();
    let mut params = common.params.clone();
    params.progress = progress;
    let kept = common.clone();
    let plan = streamed::Plan::from_shards(
        params,
        Dataset {
            mitigated: common
                .mitigated
                .iter()
                .map(|p| crate::dataset::Incident {
                    target: p.target.clone(),
                    start: p.start,
                    end: p.end,
                    issue_type: p.issue_type.clone(),
                    detail: "mitigated".into(),
                    source: crate::dataset::IncidentSource::Dataset,
                })
                .collect(),
            metrics: common.metrics.clone(),
            series: Vec::new(),
            events: events.unwrap_or_default(),
        },
        &common,
    );
    Ok((streamed::finish(plan, part)?, kept))
}
