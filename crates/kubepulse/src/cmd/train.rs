//! `kubepulse train`: trains the two-stage model on a dataset and writes a model bundle and its card.

use std::path::PathBuf;

use anyhow::Context as _;
use learn::eval::Split;
use learn::features::FeatureMode;
use learn::labels::OngoingPolicy;
use learn::model::{FoldBy, TrainParams};
use learn::pipeline::{self, TrainJob};
use learn::trailing::BaselineSpec;
use learn::window::WindowSpec;

use crate::parse;

/// How windows inside an ongoing incident are labelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Ongoing {
    /// Left out of training, scored separately (prediction ahead of the start).
    Exclude,
    /// Labelled as the incident (early detection, for faults without precursors).
    Detect,
}

impl From<Ongoing> for OngoingPolicy {
    fn from(o: Ongoing) -> Self {
        match o {
            Ongoing::Exclude => OngoingPolicy::Exclude,
            Ongoing::Detect => OngoingPolicy::Detect,
        }
    }
}

/// What cross-fitting holds out (`--fold-by`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Folds {
    /// Blocks of time: the threshold that works on the same targets later.
    Time,
    /// Groups of targets: the threshold that works on targets the forest was not fitted on.
    Target,
}

impl From<Folds> for FoldBy {
    fn from(f: Folds) -> Self {
        match f {
            Folds::Time => FoldBy::Time,
            Folds::Target => FoldBy::Target,
        }
    }
}

/// Model options shared by `train` and `eval`.
#[derive(Debug, Clone, clap::Args)]
pub struct ModelArgs {
    /// Look-back window: seconds or a duration (3m).
    #[arg(long, default_value_t = 180, value_parser = parse::duration_secs)]
    pub window: i64,
    /// Sample step and prediction cadence: seconds or a duration (default: the data's median sample interval).
    #[arg(long, value_parser = parse::duration_secs)]
    pub step: Option<i64>,
    /// Horizon: predict issues starting within this long (seconds or a duration, e.g. 5m).
    #[arg(long, default_value_t = 300, value_parser = parse::duration_secs)]
    pub horizon: i64,
    /// Windows inside an ongoing incident: excluded from training, or labelled as the incident.
    #[arg(long, value_enum, default_value_t = Ongoing::Exclude)]
    pub ongoing: Ongoing,
    /// Add cross-target features: each gauge's mean and max over the other targets of the same namespace.
    #[arg(long)]
    pub peers: bool,
    /// Add caller features (for data with `*client_latency*` and `*server_latency*` columns): for each
    /// client latency metric, its largest recent rise among the target's callers — the targets whose
    /// client latency moved with its server latency on the training data (learnt without labels and
    /// stored in the model). A network delay shows there, not in the delayed service's own metrics.
    #[arg(long)]
    pub callers: bool,
    /// Leave out the calendar features (hour of day, day of week): for data too short to learn them.
    #[arg(long)]
    pub no_calendar: bool,
    /// Add step-change features: how far each metric's last value sits from the window's earlier
    /// values (relative and in standard deviations), for abrupt faults without precursors.
    #[arg(long)]
    pub jumps: bool,
    /// Add trailing-baseline features: each metric's window relative to the target's own normal (an
    /// outlier-clipped exponentially weighted mean and deviation with this time constant, e.g. 1h), and
    /// which metric families deviate. Scale-free: what carries over to targets the model has not seen.
    #[arg(long, value_parser = parse::duration_secs)]
    pub baseline: Option<i64>,
    /// Train without incident labels: the anomaly scorer alone (an Isolation Forest over the
    /// trailing-baseline features, `--baseline` or 1 h), alarming on windows unusual for their target, type
    /// `anomaly`, threshold set so the training period's alarms stay within --false-alarm-budget.
    #[arg(long)]
    pub unsupervised: bool,
    /// History a target's baseline needs before its features are given (seconds or a duration).
    #[arg(long, default_value_t = 900, value_parser = parse::duration_secs)]
    pub baseline_min_history: i64,
    /// Trees of the binary forest.
    #[arg(long, default_value_t = 100)]
    pub trees: usize,
    /// Trees of the type forest.
    #[arg(long, default_value_t = 60)]
    pub type_trees: usize,
    /// Trees of the time-to-issue (ETA) regression forest; 0 = none (the ETA is then a heuristic:
    /// linear extrapolation to a limit, else the type's median lead).
    #[arg(long, default_value_t = 60)]
    pub eta_trees: usize,
    /// Constrain the binary forest to be monotone in the features whose direction of risk is known
    /// (utilisation and use of limits, error ratios, restarts, latency): more of them never lowers the
    /// issue probability. Off by default: on the simulator's data it lowered the validation figures.
    #[arg(long)]
    pub monotonic: bool,
    /// Maximum tree depth.
    #[arg(long, default_value_t = 12)]
    pub max_depth: usize,
    /// Minimum samples per leaf.
    #[arg(long, default_value_t = 5)]
    pub min_samples_leaf: usize,
    /// Allowed false alarms per target per day when choosing the alarm threshold.
    #[arg(long, default_value_t = 1.0)]
    pub false_alarm_budget: f64,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Blocked cross-fitting folds for calibration and threshold: 1 validates on the last 20% of the
    /// training period only; k > 1 scores each of k time blocks with a forest fitted on the others.
    #[arg(long, default_value_t = 1)]
    pub validation_folds: usize,
    /// What the validation folds hold out (with --validation-folds > 1): blocks of time, or groups of
    /// targets (every k-th target by name, scored by a forest fitted on the others) — the threshold
    /// then is the one that carries over to targets the model has never seen.
    #[arg(long, value_enum, default_value_t = Folds::Time)]
    pub fold_by: Folds,
    /// Let validation add a per-target condition to the alarm: the probability must also stand k
    /// deviations above the target's own trailing scores (a score that means the same on every target,
    /// learnt without labels within 15 minutes). Chosen jointly with the threshold; kept only when it
    /// detects more validation incidents within the false alarm budget.
    #[arg(long)]
    pub relative_alarm: bool,
    /// The per-target condition's baseline of the target's own scores (with --relative-alarm): `ewma`
    /// (mean and deviation over the last hour) or `quantile` (its 99th percentile and spread over the
    /// last day, incidents left out — what a target the model was never fitted on needs).
    #[arg(long, value_enum, default_value_t = RelativeBaseline::Ewma)]
    pub relative_baseline: RelativeBaseline,
    /// Also train a detecting model (windows inside incidents labelled as the incident, like
    /// `--ongoing detect`) next to the predicting one, in the same bundle: a target alarms when either
    /// passes its own threshold, the detector's chosen within the false alarm budget the predictor
    /// leaves. Catches abrupt faults without precursors; not with --ongoing detect, --relative-alarm
    /// or --unsupervised.
    #[arg(long)]
    pub detector: bool,
}

/// `--relative-baseline` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RelativeBaseline {
    /// Trailing EWMA mean and deviation of the logit (1 h).
    Ewma,
    /// Trailing 99th percentile and spread of the logit (1 day).
    Quantile,
}

impl From<RelativeBaseline> for learn::relative::Baseline {
    fn from(b: RelativeBaseline) -> Self {
        match b {
            RelativeBaseline::Ewma => Self::Ewma,
            RelativeBaseline::Quantile => Self::Quantile,
        }
    }
}

impl ModelArgs {
    /// The cross-target columns these options ask for.
    pub fn context(&self) -> learn::context::Context {
        learn::context::Context {
            peers: self.peers,
            callers: self.callers,
        }
    }

    /// The training parameters these options describe.
    pub fn params(&self, mode: FeatureMode) -> TrainParams {
        TrainParams {
            window: WindowSpec {
                window_secs: self.window,
                step_secs: self.step.unwrap_or(0),
                horizon_secs: self.horizon,
            },
            policy: self.ongoing.into(),
            mode,
            calendar: !self.no_calendar,
            jumps: self.jumps,
            baseline: self.baseline.map(|secs| BaselineSpec {
                secs,
                min_history_secs: self.baseline_min_history,
                ..BaselineSpec::default()
            }),
            unsupervised: self.unsupervised,
            n_trees: self.trees,
            type_trees: self.type_trees,
            eta_trees: self.eta_trees,
            monotonic: self.monotonic,
            max_depth: Some(self.max_depth),
            min_samples_leaf: self.min_samples_leaf,
            seed: self.seed,
            false_alarm_budget: self.false_alarm_budget,
            validation_folds: self.validation_folds,
            fold_by: self.fold_by.into(),
            relative_alarm: self.relative_alarm,
            relative_baseline: self.relative_baseline.into(),
            detector: self.detector,
            progress: true,
            ..TrainParams::default()
        }
    }
}

/// Arguments of `kubepulse train`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  kubepulse train --data data/sim --out model.kpm
  kubepulse train --data ../shared/data/nezha-onlineboutique --train-until 2022-08-23 --ongoing detect --horizon 60 --peers --no-calendar --false-alarm-budget 2 --out nezha.kpm
  kubepulse train --data data/sim --snapshot-data data/sim-cluster --out models/default.kpm
  kubepulse train --data data/sim --holdout-data data/other-names --columns columns.toml --out model.kpm
  kubepulse train --data data/mine --false-alarms feedback/false_alarms.csv --out model.kpm
  kubepulse train --data data/mine --mitigated remediation/mitigated.csv --out model.kpm
  kubepulse train --data big --shard 0/4 --sample-out samples/0   (one per shard: 0/4 .. 3/4)
  kubepulse train --data collect/0 collect/1 collect/2 collect/3 --shard 0/4 --sample-out samples/0
  kubepulse train --from-shards samples/0 samples/1 samples/2 samples/3 --out model.kpm")]
pub struct Args {
    /// Dataset directory (metrics.csv + events.csv, or metrics.parquet + events.parquet); several
    /// (`--data collect-0 collect-1`, e.g. the datasets of `collect --shard i/n`) are read as one: the
    /// same metric columns in each, a target's rows in one only — the model of one directory holding
    /// their union, byte for byte (docs/model.md).
    #[arg(long, value_name = "DIR", num_args = 1.., required_unless_present = "from_shards")]
    pub data: Vec<PathBuf>,
    /// Model bundle to write (`.kpm`); the Markdown card goes next to it (`.md`).
    #[arg(long, required_unless_present = "sample_out")]
    pub out: Option<PathBuf>,
    /// Extract the training sample of this shard's targets only (`i/n`: the targets whose stable name
    /// hash is i modulo n, as `watch --shard`) and write it to --sample-out instead of training; the
    /// whole file is read for the period, thinning and validation targets, features only for the
    /// shard's targets. `--from-shards` then trains on the union: the model one process trains.
    #[arg(long, value_name = "I/N", requires = "sample_out")]
    pub shard: Option<learn::shard::Shard>,
    /// Directory the shard's training sample goes to (with --shard): Parquet files and shard.json.
    #[arg(long, value_name = "DIR", requires = "shard", conflicts_with = "out")]
    pub sample_out: Option<PathBuf>,
    /// Train on the union of these shard directories (`--shard i/n --sample-out DIR`, every shard
    /// of one extraction, any order) instead of reading --data.
    #[arg(long, value_name = "DIR", num_args = 1.., conflicts_with_all = ["data", "shard"])]
    pub from_shards: Vec<PathBuf>,
    /// Train only on data up to this time (unix seconds, RFC 3339, or `now-1d`: the retraining loop
    /// keeps the last day for `gate`), or `end-1d`: a day before the data's last sample (the same
    /// split in every shard of a sharded extraction, whenever each runs).
    #[arg(long, value_parser = parse::split)]
    pub train_until: Option<Split>,
    /// Wait up to this long (e.g. 2h) for the inputs — the dataset with --shard, every shard's
    /// shard.json with --from-shards — to appear, written by this run (modified at most 15 minutes
    /// before this process started: a file left by an earlier daily run is not taken); then fail.
    /// For the in-cluster sharded loop, whose steps run as separate Jobs started together.
    #[arg(long, value_name = "DURATION", value_parser = parse::duration_secs)]
    pub wait: Option<i64>,
    /// Cluster-level dataset (`kubepulse simulate --level cluster`) for the snapshot model.
    #[arg(long)]
    pub snapshot_data: Option<PathBuf>,
    /// Hold-out dataset evaluated onto the model card.
    #[arg(long)]
    pub holdout_data: Option<PathBuf>,
    /// Constrain the snapshot model to be monotone in its CPU utilisation fields (as `--monotonic` does
    /// for the window model). Off by default: on the simulator's cluster data it lowered the validation
    /// figures (docs/model.md).
    #[arg(long)]
    pub snapshot_monotonic: bool,
    /// With --holdout-data: a TOML file naming the hold-out dataset's column of each model metric
    /// whose name differs, one `model_metric = "dataset_column"` line each (as `eval --columns`).
    #[arg(long, value_name = "MAP.toml", requires = "holdout_data")]
    pub columns: Option<PathBuf>,
    /// With --holdout-data: what becomes of a model metric the hold-out dataset lacks — `error`
    /// (default), or `nan`: scored as missing values throughout (listed on the card), as `eval
    /// --missing-columns`.
    #[arg(long, value_enum, default_value_t = super::MissingArg::Error, requires = "holdout_data")]
    pub missing_columns: super::MissingArg,
    /// Cluster-level hold-out dataset for the snapshot model.
    #[arg(long)]
    pub snapshot_holdout_data: Option<PathBuf>,
    /// How the hold-out data was made (recorded on the card).
    #[arg(long, default_value = "hold-out dataset")]
    pub holdout_description: String,
    /// Model name.
    #[arg(long, default_value = "kubepulse")]
    pub name: String,
    /// The UI's false_alarms.csv (operator feedback, `--feedback-dir` of serve/watch): incident labels a
    /// false alarm overlaps (same target) are dropped, so those windows train as negatives.
    #[arg(long, value_name = "FILE")]
    pub false_alarms: Option<PathBuf>,
    /// The remediation agent's mitigated.csv (`watch --remediate ... --mitigated FILE`): windows whose
    /// horizon reaches into a period after an applied action on their target, or that end inside one,
    /// are left out of training and validation (neither positive nor negative).
    #[arg(long, value_name = "FILE")]
    pub mitigated: Option<PathBuf>,
    /// The most rows of --data held whole in memory. A Parquet dataset with more is read target by
    /// target: the training sample's features extracted as each target goes by, calibration and
    /// threshold chosen on a seeded subset of targets holding at most this many rows (docs/model.md).
    #[arg(long, default_value_t = pipeline::MAX_ROWS_IN_MEMORY)]
    pub max_rows_in_memory: u64,
    /// Fail at once, naming the flag to change, when the data held in memory would need more than
    /// this (`2G`, `1500M`; estimated from rows × columns; default: the memory available on this machine).
    #[arg(long, value_name = "SIZE", value_parser = parse::memory_bytes)]
    pub max_memory: Option<u64>,
    #[command(flatten)]
    pub model: ModelArgs,
}

/// Unix seconds now, or `SOURCE_DATE_EPOCH` for reproducible builds of the default model.
fn now() -> i64 {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64)
        })
}

/// Runs `kubepulse train`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let params = args.model.params(FeatureMode::Window);
    let mut snapshot_params = params.clone();
    snapshot_params.mode = FeatureMode::Latest;
    snapshot_params.policy = OngoingPolicy::Exclude;
    snapshot_params.calendar = false;
    snapshot_params.monotonic = args.snapshot_monotonic;
    // The detector is the window model's (the bundle stores no snapshot detector).
    snapshot_params.detector = false;
    if let Some(secs) = args.wait {
        let inputs: Vec<PathBuf> = if args.from_shards.is_empty() {
            anyhow::ensure!(
                !args.data.is_empty(),
                "--wait needs --data or --from-shards"
            );
            args.data
                .iter()
                .flat_map(|d| [d.join("metrics.parquet"), d.join("events.parquet")])
                .collect()
        } else {
            args.from_shards
                .iter()
                .map(|d| d.join("shard.json"))
                .collect()
        };
        wait_for(&inputs, std::time::Duration::from_secs(secs.max(0) as u64))?;
    }
    if let (Some(shard), Some(out)) = (args.shard, &args.sample_out) {
        return extract_shard(&args, params, shard, out);
    }
    let out = args
        .out
        .clone()
        .context("--out is required (the model bundle to write)")?;
    let data = if args.from_shards.is_empty() {
        learn::data_dirs::DataDirs::new(args.data.clone())?
    } else {
        // Not read: the shards hold the training sample.
        learn::data_dirs::DataDirs::one(PathBuf::new())
    };
    let job = TrainJob {
        data: data.clone(),
        params,
        context: args.model.context(),
        until: args.train_until,
        snapshot: args.snapshot_data.clone().map(|d| (d, snapshot_params)),
        holdout: args
            .holdout_data
            .clone()
            .map(|d| (d, args.holdout_description.clone())),
        snapshot_holdout: args
            .snapshot_holdout_data
            .clone()
            .map(|d| (d, format!("{} (cluster level)", args.holdout_description))),
        columns: args.columns.clone(),
        missing: args.missing_columns.into(),
        name: args.name.clone(),
        trained_at: now(),
        false_alarms: args.false_alarms.clone(),
        mitigated: args.mitigated.clone(),
        max_rows_in_memory: args.max_rows_in_memory,
        max_memory: super::memory_limit(args.max_memory),
        from_shards: args.from_shards.clone(),
    };
    let started = std::time::Instant::now();
    let (bundle, _) = pipeline::train_bundle(&job).with_context(|| {
        if args.from_shards.is_empty() {
            format!("training on {}", data.display())
        } else {
            format!("training on {} shards", args.from_shards.len())
        }
    })?;
    bundle.save(&out)?;
    let card_path = out.with_extension("md");
    std::fs::write(&card_path, bundle.card_markdown())
        .with_context(|| format!("writing {}", card_path.display()))?;
    let card = bundle.card_json();
    for model in ["window_model", "snapshot_model"] {
        for w in card[model]["warnings"].as_array().into_iter().flatten() {
            let what = if model == "snapshot_model" {
                "snapshot model: "
            } else {
                ""
            };
            crate::cmd::warn_loudly(&format!("{what}{}", w.as_str().unwrap_or("")));
        }
    }
    let fa = &card["false_alarms"];
    if !fa.is_null() {
        println!(
            "false alarms: {} read from {} ({} on targets of the dataset); {} incident labels dropped \
             (those windows trained as normal)",
            fa["false_alarms"],
            args.false_alarms
                .as_deref()
                .map_or_else(String::new, |p| p.display().to_string()),
            fa["on_known_targets"],
            fa["dropped_labels"]
        );
    }
    let mi = &card["mitigated"];
    if !mi.is_null() {
        println!(
            "mitigated: {} applied actions read from {} ({} on targets of the dataset); {} windows left \
             out of training and validation",
            mi["records"],
            args.mitigated
                .as_deref()
                .map_or_else(String::new, |p| p.display().to_string()),
            mi["on_known_targets"],
            mi["windows_dropped"]
        );
    }
    let info = bundle.info();
    tracing::info!(
        model = %out.display(),
        card = %card_path.display(),
        threshold = info.threshold,
        seconds = started.elapsed().as_secs_f64(),
        "trained {} {}",
        info.name,
        info.version
    );
    println!(
        "wrote {} ({} bytes) and {}; threshold {:.4}; {:.1} s",
        out.display(),
        std::fs::metadata(&out).map_or(0, |m| m.len()),
        card_path.display(),
        info.threshold,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `train --shard i/n --sample-out DIR`: the shard's training sample, no model.
fn extract_shard(
    args: &Args,
    params: TrainParams,
    shard: learn::shard::Shard,
    out: &std::path::Path,
) -> anyhow::Result<()> {
    let data =
        learn::data_dirs::DataDirs::new(args.data.clone()).context("--shard needs --data")?;
    if args.model.peers
        || args.model.callers
        || args.snapshot_data.is_some()
        || args.holdout_data.is_some()
    {
        anyhow::bail!(
            "--shard extracts the window model's training sample only: --peers, --callers (columns \
             derived from every target at once), --snapshot-data and --holdout-data are not supported \
             with it"
        );
    }
    let name = |p: &std::path::Path| {
        p.file_name()
            .map_or_else(String::new, |f| f.to_string_lossy().into_owned())
    };
    let feedback = learn::model::shards::ShardFeedback {
        false_alarms: match &args.false_alarms {
            Some(p) => Some((
                name(p),
                learn::false_alarms::read(p)
                    .with_context(|| format!("--false-alarms {}", p.display()))?,
            )),
            None => None,
        },
        mitigated: match &args.mitigated {
            Some(p) => Some((
                name(p),
                learn::mitigated::read(p)
                    .with_context(|| format!("--mitigated {}", p.display()))?,
            )),
            None => None,
        },
    };
    let started = std::time::Instant::now();
    let meta = learn::model::shards::extract_shard(
        &data,
        &params,
        args.train_until,
        args.max_rows_in_memory,
        shard,
        out,
        &feedback,
    )
    .with_context(|| {
        format!(
            "extracting shard {}/{} of {}",
            shard.index,
            shard.count,
            data.display()
        )
    })?;
    println!(
        "wrote shard {}/{} to {}: {} training rows, {} validation targets of {}; {:.1} s",
        meta.index,
        meta.count,
        out.display(),
        meta.rows,
        meta.validation_targets,
        meta.common.targets.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// How much older than this process a waited-for input may be and still count as this run's.
const FRESH_SLACK: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Waits (polling every 5 s, up to `timeout`) until every path exists and was modified at most
/// [`FRESH_SLACK`] before now; fails naming the paths still missing or stale.
fn wait_for(paths: &[PathBuf], timeout: std::time::Duration) -> anyhow::Result<()> {
    let started = std::time::SystemTime::now();
    let since = started.checked_sub(FRESH_SLACK).unwrap_or(started);
    let fresh = |p: &PathBuf| {
        std::fs::metadata(p)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t >= since)
    };
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let waiting: Vec<&PathBuf> = paths.iter().filter(|p| !fresh(p)).collect();
        if waiting.is_empty() {
            return Ok(());
        }
        if std::time::Instant::now() >= deadline {
            anyhow::bail!(
                "waited {} s for {}: missing, or older than 15 minutes before this step started",
                timeout.as_secs(),
                waiting
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        tracing::info!(
            waiting = waiting.len(),
            "waiting for {}",
            waiting[0].display()
        );
        std::thread::sleep(std::time::Duration::from_secs(5));
    }
}
