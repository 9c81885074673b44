//! `kubepulse eval`: backtests a model on a dataset split by time, against baselines.

use std::path::PathBuf;

use anyhow::Context as _;
use learn::LearnError;
use learn::columns::ColumnsError;
use learn::eval::Split;
use learn::features::FeatureMode;
use learn::pipeline::{self, EvalJob};

use super::MissingArg;
use super::train::ModelArgs;
use crate::parse;

/// Arguments of `kubepulse eval`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  kubepulse eval --model model.kpm --data data/holdout --out report/
  kubepulse eval --model model.kpm --data data/other-names --columns columns.toml --out report/
  kubepulse eval --model model.kpm --data data/fewer-metrics --missing-columns nan --out report/
  kubepulse eval --data data/sim --split 0.7 --out report/
  kubepulse eval --model model.kpm --data collect/0 collect/1 collect/2 --out report/   (read as one)
  kubepulse eval --data ../shared/data/nezha-onlineboutique --train-until 2022-08-23 --ongoing detect --horizon 60 --peers --no-calendar --false-alarm-budget 2 --out report-nezha/")]
pub struct Args {
    /// Dataset directory (metrics.csv + events.csv, or metrics.parquet + events.parquet); several
    /// (`--data collect-0 collect-1`, e.g. the datasets of `collect --shard i/n`) are read as one: the
    /// same metric columns in each, a target's rows in one only (docs/model.md).
    #[arg(long, value_name = "DIR", num_args = 1.., required = true)]
    pub data: Vec<PathBuf>,
    /// Report directory (report.json, report.md, predictions.csv, plots).
    #[arg(long)]
    pub out: PathBuf,
    /// Model bundle to evaluate; without it, a model is trained on the past of the split.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Evaluate the bundle's cluster snapshot model (on a cluster-level dataset).
    #[arg(long)]
    pub snapshot: bool,
    /// With --model: a TOML file naming the dataset column of each model metric whose name differs,
    /// one `model_metric = "dataset_column"` line each (other metrics are matched by their own name).
    #[arg(long, value_name = "MAP.toml", requires = "model")]
    pub columns: Option<PathBuf>,
    /// With --model: what becomes of a model metric the dataset lacks — `error` (default), or `nan`: it is
    /// scored as missing values throughout (for a model trained with missing values; listed in
    /// report.json's `test.nan_columns` and warned about).
    #[arg(long, value_enum, default_value_t = MissingArg::Error, requires = "model")]
    pub missing_columns: MissingArg,
    /// Train on data up to this time, test after it (unix seconds or RFC 3339).
    #[arg(long, value_parser = parse::timestamp, conflicts_with = "split")]
    pub train_until: Option<i64>,
    /// Train on this fraction of the time range, test on the rest (e.g. 0.7).
    #[arg(long)]
    pub split: Option<f64>,
    /// Hold targets out: for each group, train on the other targets' past and test on the group's future
    /// (per-group and pooled figures in holdout.md/.json). Without a value every target is its own group
    /// (leave-one-target-out); or name groups: `ns/a,ns/b;ns/c`.
    #[arg(long, num_args = 0..=1, default_missing_value = "", conflicts_with_all = ["model", "snapshot"])]
    pub holdout_targets: Option<String>,
    /// With --model: a Parquet dataset of more rows than this is evaluated target by target (a few
    /// targets' history in memory at a time; the same report). A model trained with --peers, the
    /// snapshot model and a model trained in the run read the whole dataset (docs/model.md).
    #[arg(long, default_value_t = pipeline::MAX_ROWS_IN_MEMORY)]
    pub max_rows_in_memory: u64,
    /// Fail at once, naming the flag to change, when the data held in memory would need more than
    /// this (`2G`, `1500M`; estimated from rows × columns; default: the memory available on this machine).
    #[arg(long, value_name = "SIZE", value_parser = parse::memory_bytes)]
    pub max_memory: Option<u64>,
    #[command(flatten)]
    pub train: ModelArgs,
}

/// Runs `kubepulse eval`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let split = match (args.train_until, args.split) {
        (Some(t), _) => Some(Split::TrainUntil(t)),
        (None, Some(f)) => Some(Split::Fraction(f)),
        (None, None) => None,
    };
    if let Some(groups) = &args.holdout_targets {
        return holdout(&args, groups, split);
    }
    let data = learn::data_dirs::DataDirs::new(args.data.clone())?;
    let job = EvalJob {
        data: data.clone(),
        model: args.model.clone(),
        snapshot: args.snapshot,
        split,
        params: args.train.params(FeatureMode::Window),
        context: args.train.context(),
        columns: args.columns.clone(),
        missing: args.missing_columns.into(),
        out: args.out.clone(),
        max_rows_in_memory: args.max_rows_in_memory,
        max_memory: super::memory_limit(args.max_memory),
    };
    let started = std::time::Instant::now();
    let report = pipeline::run_eval(&job)
        .map_err(|e| match e {
            LearnError::Columns(ColumnsError::Missing { .. }) if args.model.is_some() => {
                anyhow::anyhow!(
                    "{e}; if the dataset names them differently, map them with --columns MAP.toml \
                     (one `model_column = \"dataset_column\"` line each)"
                )
            }
            other => other.into(),
        })
        .with_context(|| format!("evaluating on {}", data.display()))?;
    let ignored: Vec<&str> = report["test"]["ignored_columns"]
        .as_array()
        .map(|c| c.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    if !ignored.is_empty() {
        tracing::warn!(
            "ignored {} dataset column(s) the model does not use: {}",
            ignored.len(),
            learn::quote::names(&ignored)
        );
    }
    let nan: Vec<&str> = report["test"]["nan_columns"]
        .as_array()
        .map(|c| c.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    if !nan.is_empty() {
        tracing::warn!(
            "the dataset lacks {} of the model's columns, scored as missing values throughout (--missing-columns nan): {}",
            nan.len(),
            learn::quote::names(&nan)
        );
    }
    for w in report["warnings"].as_array().into_iter().flatten() {
        crate::cmd::warn_loudly(w.as_str().unwrap_or(""));
    }
    let i = &report["incidents"];
    println!(
        "incidents {}: alarmed before start {:.1}%, detected within 120 s {:.1}%, median lead {} s; \
         false alarms/target-day {:.2}; type accuracy {}; report in {} ({:.1} s)",
        i["count"],
        i["alarmed_before_start_ratio"].as_f64().unwrap_or(0.0) * 100.0,
        i["detected_within_120s_ratio"].as_f64().unwrap_or(0.0) * 100.0,
        i["median_lead_time_seconds"]
            .as_f64()
            .map_or("-".into(), |v| format!("{v:.0}")),
        report["false_alarms_per_target_day"]
            .as_f64()
            .unwrap_or(0.0),
        report["type_accuracy"]
            .as_f64()
            .map_or("-".into(), |v| format!("{:.1}%", v * 100.0)),
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn holdout(args: &Args, groups: &str, split: Option<Split>) -> anyhow::Result<()> {
    let split = split.context("--holdout-targets needs --train-until or --split")?;
    let data = learn::data_dirs::DataDirs::new(args.data.clone())?;
    let job = pipeline::HoldoutJob {
        data: data.clone(),
        split,
        params: args.train.params(FeatureMode::Window),
        context: args.train.context(),
        groups: learn::holdout::Groups::parse(groups)?,
        out: args.out.clone(),
    };
    let started = std::time::Instant::now();
    let r = pipeline::run_holdout(&job)
        .with_context(|| format!("holding out targets of {}", data.display()))?;
    let i = &r.pooled.incidents;
    println!(
        "{} held-out groups, pooled: incidents {}, detected within 120 s {:.1}%, alarmed before start {:.1}%; \
         false alarms/target-day {:.2} (worst group {:.2}); report in {} ({:.1} s)",
        r.groups.len(),
        i.count,
        i.detected_within_120s_ratio * 100.0,
        i.alarmed_before_start_ratio * 100.0,
        r.pooled.false_alarms_per_target_day,
        r.worst_false_alarms_per_target_day,
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
