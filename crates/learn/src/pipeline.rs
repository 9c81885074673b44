//! The jobs behind `kubepulse train` and `kubepulse eval`, so the binary stays a thin layer.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use crate::bundle::{ModelBundle, ModelInfo};
use crate::card::{self, Holdout};
use crate::columns::{ColumnMap, Level, MissingColumns};
use crate::context::{self, Context};
use crate::data_dirs::DataDirs;
use crate::dataset::Dataset;
use crate::error::LearnError;
use crate::eval::{self, Evaluation, Split};
use crate::model::{self, ModelPair, TrainParams};
use crate::report;
use crate::timestamp::format_rfc3339;

/// Adds the cross-target columns `context` asks for: peer columns, then caller columns from a coupling
/// learnt on the samples up to `until` (returned, for the model to keep). `step_secs` is the sample step.
/// Asking for callers on data without client and server latency columns is an error.
pub fn with_context(
    raw: Dataset,
    context: Context,
    step_secs: i64,
    until: i64,
) -> Result<(Dataset, Option<context::Coupling>), LearnError> {
    let tolerance = (step_secs / 2).max(1);
    let data = if context.peers {
        context::add_peer_columns(&raw, tolerance)
    } else {
        raw
    };
    if !context.callers {
        return Ok((data, None));
    }
    for key in [context::CLIENT_LATENCY, context::SERVER_LATENCY] {
        if !data.metrics.iter().any(|m| m.contains(key)) {
            return Err(LearnError::InvalidOption {
                name: "callers",
                reason: format!(
                    "caller features need client and server latency columns, and no column name \
                     contains {key:?} (columns: {})",
                    crate::quote::names(&data.metrics)
                ),
            });
        }
    }
    let coupling = context::learn_coupling(&data, until, tolerance);
    Ok((
        context::add_caller_columns(&data, &coupling, tolerance),
        Some(coupling),
    ))
}

/// Fills an unset (0) step with the data's median sample interval (and, for the snapshot model, sets
/// the window to one step).
pub fn resolve_step(params: &mut TrainParams, dataset: &Dataset) {
    if params.window.step_secs <= 0 {
        params.window.step_secs = dataset.sample_step_secs().unwrap_or(15).max(1);
    }
    if params.mode == crate::features::FeatureMode::Latest {
        // A snapshot is one sample: the window is one step.
        params.window.window_secs = params.window.step_secs;
    }
}

/// A snapshot model (`FeatureMode::Latest`) trains on cluster-level data only: its predictions read
/// [`crate::snapshot::FIELDS`] by name. Checked from the header, before any long job.
fn check_level(dir: &DataDirs, params: &TrainParams) -> Result<(), LearnError> {
    if params.mode != crate::features::FeatureMode::Latest {
        return Ok(());
    }
    let names = dir.metric_names()?;
    if Level::of(&names) == Level::Cluster {
        return Ok(());
    }
    Err(LearnError::Dataset(format!(
        "{}: the cluster snapshot model trains on a cluster-level dataset (`kubepulse simulate \
         --level cluster`, columns {}), and this one is {} level (columns {})",
        dir.display(),
        crate::quote::names(&crate::snapshot::FIELDS),
        Level::of(&names),
        crate::quote::names(&names)
    )))
}

/// Trains one pair on a dataset (one directory or several: [`crate::data_dirs`]), up to `until` when
/// given.
pub fn train_pair(
    data: impl Into<DataDirs>,
    params: &TrainParams,
    context: Context,
    until: Option<Split>,
) -> Result<(ModelPair, Dataset), LearnError> {
    let dirs = data.into();
    check_level(&dirs, params)?;
    train_pair_on(dirs.read(params.progress)?, params, context, until)
}

/// Trains one pair on a dataset already read, up to `until` when given.
fn train_pair_on(
    raw: Dataset,
    params: &TrainParams,
    context: Context,
    until: Option<Split>,
) -> Result<(ModelPair, Dataset), LearnError> {
    let mut params = params.clone();
    resolve_step(&mut params, &raw);
    let (first, last) = raw
        .time_range()
        .ok_or_else(|| LearnError::Dataset("no samples".into()))?;
    let end = match until {
        Some(s) => s.time(&raw)?,
        None => last,
    };
    let (data, coupling) = with_context(raw, context, params.window.step_secs, end)?;
    let mut pair = model::train(&data, &params, first, end)?;
    pair.meta.callers = coupling;
    Ok((pair, data))
}

/// Evaluates a pair on a whole dataset directory (hold-out), its columns matched by name.
pub fn evaluate_dir(
    pair: &ModelPair,
    dir: &Path,
    seed: u64,
) -> Result<Evaluation<'static>, LearnError> {
    evaluate_whole(pair, Dataset::read(dir)?, &ColumnMap::default(), seed)
}

/// Evaluates a pair on the whole of a dataset (hold-out), its columns matched by name through `map`.
fn evaluate_whole(
    pair: &ModelPair,
    data: Dataset,
    map: &ColumnMap,
    seed: u64,
) -> Result<Evaluation<'static>, LearnError> {
    let (first, last) = data
        .time_range()
        .ok_or_else(|| LearnError::Dataset("no samples".into()))?;
    evaluate_matched(pair, data, map, first, last, seed)
}

/// Evaluates a pair on `[from, until]` of a dataset whose columns are matched to the model's by name
/// (through `map`); the report lists the columns the model ignored.
fn evaluate_matched(
    pair: &ModelPair,
    data: Dataset,
    map: &ColumnMap,
    from: i64,
    until: i64,
    seed: u64,
) -> Result<Evaluation<'static>, LearnError> {
    let (data, resolution) = eval::prepare(Cow::Owned(data), pair, map)?;
    let mut ev = eval::evaluate(data, pair, from, until, seed)?;
    ev.ignored_columns = resolution.unused;
    ev.nan_columns = resolution.nan;
    Ok(ev)
}

/// What `kubepulse train` does.
#[derive(Debug, Clone)]
pub struct TrainJob {
    /// Per-target dataset for the window model (one directory, or several read as one:
    /// [`crate::data_dirs`]).
    pub data: DataDirs,
    /// Window model parameters (step 0 = the data's sample step).
    pub params: TrainParams,
    /// Cross-target columns to add.
    pub context: Context,
    /// Train only up to this point.
    pub until: Option<Split>,
    /// Cluster-level dataset for the snapshot model, with its parameters.
    pub snapshot: Option<(PathBuf, TrainParams)>,
    /// Hold-out datasets (window, snapshot) and how they were made, evaluated onto the card.
    pub holdout: Option<(PathBuf, String)>,
    /// Snapshot hold-out.
    pub snapshot_holdout: Option<(PathBuf, String)>,
    /// Column map file for a (window) hold-out dataset whose metric names differ from the training
    /// data's (`model_metric = "holdout_column"`).
    pub columns: Option<PathBuf>,
    /// What becomes of a model metric the (window) hold-out dataset lacks: an error naming it, or
    /// missing values throughout (listed on the card).
    pub missing: MissingColumns,
    /// Model name.
    pub name: String,
    /// Training time, unix seconds.
    pub trained_at: i64,
    /// The UI's `false_alarms.csv`: incident labels it overlaps are dropped before training, so those
    /// windows train as negatives ([`crate::false_alarms`]); the card records how many.
    pub false_alarms: Option<PathBuf>,
    /// The remediation agent's `mitigated.csv`: windows whose horizon reaches into a mitigated period of
    /// their target, or that end inside one, are left out of training and validation
    /// ([`crate::mitigated`]); the card records how many.
    pub mitigated: Option<PathBuf>,
    /// The most rows of the (window) training data held whole in memory: a Parquet dataset with more
    /// is read target by target ([`model::streamed`]), a subset of targets holding at most this many
    /// rows kept whole for validation.
    pub max_rows_in_memory: u64,
    /// The memory guard's limit ([`crate::memory`]; `None`: no guard).
    pub max_memory: Option<crate::memory::Limit>,
    /// Train the window model on the union of these training sample shards
    /// ([`model::shards`], `train --from-shards`) instead of reading `data`.
    pub from_shards: Vec<PathBuf>,
}

impl TrainJob {
    /// The job that trains the window model on `data` with `params` and nothing else: no cross-target
    /// columns, the whole period, no snapshot model, no hold-out, no feedback files, named `kubepulse`,
    /// trained at time 0, the default in-memory limit and no memory limit.
    pub fn new(data: impl Into<DataDirs>, params: TrainParams) -> Self {
        Self {
            data: data.into(),
            params,
            context: Context::default(),
            until: None,
            snapshot: None,
            holdout: None,
            snapshot_holdout: None,
            columns: None,
            missing: MissingColumns::Error,
            name: "kubepulse".into(),
            trained_at: 0,
            false_alarms: None,
            mitigated: None,
            max_rows_in_memory: MAX_ROWS_IN_MEMORY,
            max_memory: None,
            from_shards: Vec::new(),
        }
    }
}

/// Default of [`TrainJob::max_rows_in_memory`]: about 350 MB of raw data with the simulator's 21 metrics.
pub const MAX_ROWS_IN_MEMORY: u64 = 2_000_000;

/// Whether `job`'s window model is trained target by target: a Parquet dataset of more than
/// `max_rows_in_memory` rows, and options streaming supports (else, with a warning, in memory).
fn streams(job: &TrainJob) -> Result<bool, LearnError> {
    let Some(rows) = job.data.parquet_rows()? else {
        return Ok(false);
    };
    if rows <= job.max_rows_in_memory {
        return Ok(false);
    }
    let p = &job.params;
    let unsupported = if job.context.peers || job.context.callers {
        Some("--peers and --callers (every target at once)")
    } else if p.unsupervised {
        Some("--unsupervised")
    } else if p.validation_folds != 1 {
        Some("--validation-folds above 1")
    } else if p.detector {
        Some("--detector")
    } else if p.mode != crate::features::FeatureMode::Window {
        Some("the snapshot model")
    } else {
        None
    };
    if let Some(what) = unsupported {
        tracing::warn!(
            rows,
            max_rows_in_memory = job.max_rows_in_memory,
            "{}: {rows} rows, above --max-rows-in-memory, read whole: {what} is not trained target by target",
            job.data.display()
        );
        return Ok(false);
    }
    Ok(true)
}

/// The memory guard before reading `dir`'s dataset (every directory) whole.
fn check_whole(
    dir: &DataDirs,
    limit: Option<&crate::memory::Limit>,
    max_rows: u64,
) -> Result<(), LearnError> {
    let (mut need, mut rows) = (0, Some(0));
    for d in dir.dirs() {
        let (n, r) = crate::memory::dataset_bytes(d)?;
        need += n;
        rows = rows.zip(r).map(|(a, b)| a + b);
    }
    let remedy = match rows {
        Some(rows) if rows > max_rows => format!(
            "its {rows} rows are above --max-rows-in-memory but the options given need them all at \
             once (see the warning above): change them, or raise --max-memory"
        ),
        Some(rows) => format!(
            "set --max-rows-in-memory below its {rows} rows to read it target by target, or raise \
             --max-memory"
        ),
        None => {
            "convert it to Parquet (`kubepulse collect --format parquet` or `simulate --format \
                 parquet`) to read it target by target above --max-rows-in-memory, or raise \
                 --max-memory"
                .into()
        }
    };
    crate::memory::check(
        need,
        limit,
        &format!("reading {} whole", dir.display()),
        &remedy,
    )
}

/// Trains the bundle of a [`TrainJob`]; also returns the hold-out evaluations made for the card.
///
/// Every input (datasets, hold-outs, the column map) is read and checked before any training, so a
/// malformed hold-out fails at once, not after the window model is trained.
pub fn train_bundle(job: &TrainJob) -> Result<(ModelBundle, Vec<Evaluation<'static>>), LearnError> {
    let map = match &job.columns {
        Some(path) => ColumnMap::read(path)?,
        None => ColumnMap::default(),
    }
    .with_missing(job.missing);
    if (!map.is_empty() || job.missing != MissingColumns::Error) && job.holdout.is_none() {
        return Err(LearnError::InvalidOption {
            name: "columns",
            reason:
                "a column map and --missing-columns apply to a --holdout-data dataset, and there \
                     is none"
                    .into(),
        });
    }
    if let Some((dir, params)) = &job.snapshot {
        check_level(&DataDirs::one(dir), params)?;
        if params.detector {
            return Err(LearnError::InvalidOption {
                name: "detector",
                reason:
                    "the detector is the window model's; a bundle stores none for the snapshot \
                         model"
                        .into(),
            });
        }
    }
    let read = |input: &Option<(PathBuf, String)>| -> Result<_, LearnError> {
        input
            .as_ref()
            .map(|(dir, desc)| Ok((Dataset::read(dir)?, desc.clone())))
            .transpose()
    };
    let sharded = !job.from_shards.is_empty();
    if !sharded {
        // Directories read as one need the same columns: checked from the headers, before any long job.
        job.data.metric_names()?;
    }
    let streamed = !sharded && streams(job)?;
    if sharded {
        if job.context.peers || job.context.callers {
            return Err(LearnError::InvalidOption {
                name: "from-shards",
                reason:
                    "--peers and --callers derive columns from every target at once (a target's \
                         features depend on the others' series): sharded training supports neither"
                        .into(),
            });
        }
        if job.false_alarms.is_some() || job.mitigated.is_some() {
            return Err(LearnError::InvalidOption {
                name: "from-shards",
                reason: "--false-alarms and --mitigated change the training sample: give them to \
                         every shard (`train --shard i/n --false-alarms FILE ...`), whose shard.json \
                         records them for --from-shards"
                    .into(),
            });
        }
    } else if streamed {
        let metrics = job.data.metric_names()?.len();
        crate::memory::check(
            crate::memory::rows_bytes(job.max_rows_in_memory, metrics),
            job.max_memory.as_ref(),
            &format!(
                "keeping up to {} rows of {} whole for validation (--max-rows-in-memory)",
                job.max_rows_in_memory,
                job.data.display()
            ),
            "lower --max-rows-in-memory (validation then reads fewer targets) or raise --max-memory",
        )?;
    } else {
        check_whole(&job.data, job.max_memory.as_ref(), job.max_rows_in_memory)?;
    }
    let mut raw = if streamed || sharded {
        None
    } else {
        Some(job.data.read(false)?)
    };
    // The feedback files are read (and checked) before any training, whichever path trains.
    let alarms = job
        .false_alarms
        .as_ref()
        .map(|p| crate::false_alarms::read(p))
        .transpose()?;
    let periods = job
        .mitigated
        .as_ref()
        .map(|p| crate::mitigated::read(p))
        .transpose()?;
    let mut false_alarms = match (&job.false_alarms, &alarms, raw.as_mut()) {
        (Some(path), Some(alarms), Some(raw)) => {
            Some((path.clone(), crate::false_alarms::apply(raw, alarms)))
        }
        _ => None,
    };
    let mut mitigated = match (&job.mitigated, &periods, raw.as_mut()) {
        (Some(path), Some(periods), Some(raw)) => {
            let mut params = job.params.clone();
            resolve_step(&mut params, raw);
            Some((
                path.clone(),
                crate::mitigated::apply(raw, periods.clone(), &params.window),
            ))
        }
        _ => None,
    };
    let snapshot_data = match &job.snapshot {
        Some((dir, params)) => Some((Dataset::read(dir)?, params)),
        None => None,
    };
    let holdout = read(&job.holdout)?;
    let snapshot_holdout = read(&job.snapshot_holdout)?;
    let window = match raw {
        Some(raw) => train_pair_on(raw, &job.params, job.context, job.until)?.0,
        None if sharded => {
            let (trained, common) = model::shards::train_from_shards_with_common(
                &job.from_shards,
                job.params.progress,
            )?;
            false_alarms = common
                .false_alarms_file
                .zip(trained.applied.false_alarms)
                .map(|(f, a)| (PathBuf::from(f), a));
            mitigated = common
                .mitigated_file
                .zip(trained.applied.mitigated)
                .map(|(f, a)| (PathBuf::from(f), a));
            trained.pair
        }
        None => {
            let feedback = model::streamed::Feedback {
                false_alarms: alarms,
                mitigated: periods,
            };
            let trained = model::streamed::train_with_feedback(
                &job.data,
                &job.params,
                job.until,
                job.max_rows_in_memory,
                model::streamed::CHUNK_ROWS,
                &feedback,
            )?;
            false_alarms = job.false_alarms.clone().zip(trained.applied.false_alarms);
            mitigated = job.mitigated.clone().zip(trained.applied.mitigated);
            trained.pair
        }
    };
    let snapshot = match snapshot_data {
        Some((d, params)) => Some(train_pair_on(d, params, Context::default(), None)?.0),
        None => None,
    };
    let seed = job.params.seed;
    let window_holdout = match holdout {
        Some((d, desc)) => Some((evaluate_whole(&window, d, &map, seed)?, desc)),
        None => None,
    };
    let snapshot_holdout = match (&snapshot, snapshot_holdout) {
        (Some(pair), Some((d, desc))) => {
            Some((evaluate_whole(pair, d, &ColumnMap::default(), seed)?, desc))
        }
        _ => None,
    };
    let fp = window.meta.data_fingerprint.clone();
    let short = fp.rsplit(':').next().unwrap_or("").get(..8).unwrap_or("");
    let version = format!("{}+{short}", env!("CARGO_PKG_VERSION"));
    let trained_at = format_rfc3339(job.trained_at);
    let wh = window_holdout.as_ref().map(|(e, d)| Holdout {
        description: d.clone(),
        evaluation: e,
    });
    let sh = snapshot_holdout.as_ref().map(|(e, d)| Holdout {
        description: d.clone(),
        evaluation: e,
    });
    let mut card = card::card_json(
        &job.name,
        &version,
        &trained_at,
        &window,
        wh.as_ref(),
        snapshot.as_ref().map(|p| (p, sh.as_ref())),
    );
    if let Some((path, applied)) = &false_alarms {
        card::add_false_alarms(&mut card, path, applied);
    }
    if let Some((path, applied)) = &mitigated {
        card::add_mitigated(&mut card, path, applied);
    }
    let markdown = card::card_markdown(&card);
    let meta = &window.meta;
    let info = ModelInfo {
        name: job.name.clone(),
        version,
        trained_at,
        window_secs: meta.window.window_secs,
        step_secs: meta.window.step_secs,
        horizon_secs: meta.window.horizon_secs,
        metrics: meta.features.metrics.clone(),
        issue_types: meta.issue_types.clone(),
        threshold: meta.threshold,
        snapshot_fields: snapshot.as_ref().map(|p| p.meta.features.metrics.clone()),
    };
    let evaluations = window_holdout
        .into_iter()
        .chain(snapshot_holdout)
        .map(|(e, _)| e)
        .collect();
    Ok((
        ModelBundle::new(info, window, snapshot, markdown, card),
        evaluations,
    ))
}

/// What `kubepulse eval` does.
#[derive(Debug, Clone)]
pub struct EvalJob {
    /// Dataset (one directory, or several read as one: [`crate::data_dirs`]).
    pub data: DataDirs,
    /// A trained bundle to evaluate; `None` trains one on the split's past.
    pub model: Option<PathBuf>,
    /// Evaluate the bundle's cluster snapshot model instead of its window model.
    pub snapshot: bool,
    /// Time split (required without `model`).
    pub split: Option<Split>,
    /// Training parameters when training in the run.
    pub params: TrainParams,
    /// Cross-target columns to add when training in the run.
    pub context: Context,
    /// Column map file for a bundle whose metric names differ from the dataset's (`model = "data"`).
    pub columns: Option<PathBuf>,
    /// What becomes of a model metric the dataset lacks (with `model`): an error, or missing values.
    pub missing: MissingColumns,
    /// Report directory.
    pub out: PathBuf,
    /// The most rows of a Parquet dataset evaluated in memory: above, a bundle's window model is
    /// evaluated target by target ([`crate::eval_stream`]; the same report).
    pub max_rows_in_memory: u64,
    /// The memory guard's limit ([`crate::memory`]; `None`: no guard).
    pub max_memory: Option<crate::memory::Limit>,
}

/// Whether `job` is evaluated target by target: a bundle's window model without peer columns on a
/// Parquet dataset of more than `max_rows_in_memory` rows (else, with a warning saying why, in memory).
fn eval_streams(job: &EvalJob) -> Result<Option<(ModelPair, String)>, LearnError> {
    let Some(rows) = job.data.parquet_rows()? else {
        return Ok(None);
    };
    if rows <= job.max_rows_in_memory {
        return Ok(None);
    }
    let in_memory = |what: &str| {
        tracing::warn!(
            rows,
            max_rows_in_memory = job.max_rows_in_memory,
            "{}: {rows} rows, above --max-rows-in-memory, read whole: {what} is not evaluated target \
             by target",
            job.data.display()
        );
    };
    let Some(path) = &job.model else {
        in_memory("a model trained in the run (without --model)");
        return Ok(None);
    };
    if job.snapshot {
        in_memory("the cluster snapshot model (--snapshot)");
        return Ok(None);
    }
    let bundle = ModelBundle::load(path)?;
    let pair = bundle.window_model().clone();
    if context::has_cross_target_columns(&pair.meta.features.metrics) {
        in_memory("a model with peer or caller columns (trained with --peers or --callers)");
        return Ok(None);
    }
    let name = format!("{} {}", bundle.info().name, bundle.info().version);
    Ok(Some((pair, name)))
}

/// Runs an [`EvalJob`]: writes the report and returns its JSON.
pub fn run_eval(job: &EvalJob) -> Result<serde_json::Value, LearnError> {
    let map = match &job.columns {
        Some(path) => ColumnMap::read(path)?,
        None => ColumnMap::default(),
    }
    .with_missing(job.missing);
    if let Some((pair, name)) = eval_streams(job)? {
        let opts = crate::eval_stream::Options {
            split: job.split,
            progress: job.params.progress,
            ..crate::eval_stream::Options::new(&map, &name, job.params.seed)
        };
        let summary = crate::eval_stream::evaluate(&job.data, &pair, &opts, &job.out)?;
        return Ok(report::to_json(&summary, &pair, &name));
    }
    check_whole(&job.data, job.max_memory.as_ref(), job.max_rows_in_memory)?;
    let (pair, name, data, from) = match &job.model {
        Some(path) => {
            let bundle = ModelBundle::load(path)?;
            let pair = if job.snapshot {
                bundle.snapshot_model().cloned().ok_or_else(|| {
                    LearnError::Bundle(format!("{}: no cluster snapshot model", path.display()))
                })?
            } else {
                bundle.window_model().clone()
            };
            let data = job.data.read(job.params.progress)?;
            let from = match job.split {
                Some(s) => s.time(&data)?,
                None => data.time_range().map_or(0, |r| r.0),
            };
            (
                pair,
                format!("{} {}", bundle.info().name, bundle.info().version),
                data,
                from,
            )
        }
        None => {
            let split = job.split.ok_or_else(|| LearnError::InvalidOption {
                name: "split",
                reason: "without --model, give --train-until or --split to train on the past and test on the future".into(),
            })?;
            if !map.is_empty() || map.missing() != MissingColumns::Error {
                return Err(LearnError::InvalidOption {
                    name: "columns",
                    reason: "a column map applies a --model to data with other column names; \
                             a model trained in the run uses the data's own names"
                        .into(),
                });
            }
            let (pair, data) = train_pair(&job.data, &job.params, job.context, Some(split))?;
            let from = split.time(&data)?;
            (pair, "trained in this run".to_string(), data, from)
        }
    };
    let last = data.time_range().map_or(0, |r| r.1);
    let ev = evaluate_matched(&pair, data, &map, from, last, job.params.seed)?;
    let summary = report::write(&ev, &pair, &name, &job.out)?;
    Ok(report::to_json(&summary, &pair, &name))
}

/// What `kubepulse eval --holdout-targets` does.
#[derive(Debug, Clone)]
pub struct HoldoutJob {
    /// Dataset (one directory, or several read as one: [`crate::data_dirs`]).
    pub data: DataDirs,
    /// Time split: train before, test after.
    pub split: Split,
    /// Training parameters (step 0 = the data's sample step).
    pub params: TrainParams,
    /// Cross-target columns to add (over all targets, the held-out ones included: they carry no label;
    /// the callers' coupling learnt before the split).
    pub context: Context,
    /// The held-out groups.
    pub groups: crate::holdout::Groups,
    /// Report directory.
    pub out: PathBuf,
}

/// Runs a [`HoldoutJob`]: writes `holdout.json`/`holdout.md` and returns the report.
pub fn run_holdout(job: &HoldoutJob) -> Result<crate::holdout::HoldoutReport, LearnError> {
    let raw = job.data.read(false)?;
    let mut params = job.params.clone();
    resolve_step(&mut params, &raw);
    let split = job.split.time(&raw)?;
    let (data, _) = with_context(raw, job.context, params.window.step_secs, split)?;
    let report = crate::holdout::run(&data, &params, &job.groups, split)?;
    crate::holdout::write(&report, &job.out)?;
    Ok(report)
}
