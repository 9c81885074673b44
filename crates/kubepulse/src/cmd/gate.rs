//! `kubepulse gate`: the retraining loop's quality gate — backtest a candidate and the current model on
//! the same recent period, publish the candidate (write a temporary file, then rename) only if it is not
//! worse.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use learn::bundle::ModelBundle;
use learn::gate::{GateRule, gate};

use crate::parse;

/// Arguments of `kubepulse gate`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  kubepulse gate --candidate /work/candidate.kpm --current /models/current.kpm --data /work/data
  kubepulse gate --candidate new.kpm --current current.kpm --data data/ --from now-1d --report gate.json
  kubepulse gate --init --current /models/current.kpm    # first start: the embedded model, if none yet

Rule (defaults): publish when the candidate's share of incidents alarmed before start is not lower than
the current model's by more than 1 point and its false alarms per target-day are not higher by more than
0.1, both backtested on the same period: from --from, or after the candidate's training data (train it
with --train-until before the end of the data). A candidate with other columns, step or window is
refused (a running watch cannot swap it in). A missing --current file stands for the embedded model.
The verdict and figures go to the log, stdout and --report (JSON); publishing writes a temporary file
beside --publish and renames it over, so serve and watch never read half a model.")]
pub struct Args {
    /// Model in service (read; also where the candidate is published unless --publish says otherwise).
    #[arg(long, value_name = "FILE")]
    pub current: PathBuf,
    /// Newly trained model.
    #[arg(long, value_name = "FILE", required_unless_present = "init")]
    pub candidate: Option<PathBuf>,
    /// Dataset to backtest both on (metrics + events, CSV or Parquet); several directories (e.g. the
    /// datasets of `collect --shard i/n`) are read as one.
    #[arg(long, value_name = "DIR", num_args = 1.., required_unless_present = "init")]
    pub data: Vec<PathBuf>,
    /// Where to publish an accepted candidate (default: --current).
    #[arg(long, value_name = "FILE")]
    pub publish: Option<PathBuf>,
    /// Start of the test period: unix seconds, RFC 3339, `now-1d` (default: after the candidate's
    /// training data, plus one window and horizon).
    #[arg(long, value_parser = parse::when)]
    pub from: Option<i64>,
    /// Verdict and figures as JSON (default: `gate.json` beside the published file).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Largest accepted drop of the share of incidents alarmed before start, in points.
    #[arg(long, default_value_t = 1.0, value_name = "POINTS")]
    pub max_detection_drop: f64,
    /// Largest accepted rise of false alarms per target-day.
    #[arg(long, default_value_t = 0.1)]
    pub max_false_alarm_rise: f64,
    /// Only write the embedded model to --current if no file is there yet, and exit (the first start of
    /// serve and watch on an empty model volume).
    #[arg(long, conflicts_with_all = ["candidate", "data", "publish", "from", "report"])]
    pub init: bool,
}

/// Runs `kubepulse gate`.
pub fn run(args: Args) -> anyhow::Result<()> {
    if args.init {
        if args.current.exists() {
            tracing::info!(path = %args.current.display(), "a model is already there; nothing to do");
        } else {
            let model = ModelBundle::embedded().context("the embedded model")?;
            publish_bytes(&model.to_bytes(), &args.current)?;
            tracing::info!(path = %args.current.display(), "wrote the embedded model");
        }
        return Ok(());
    }
    for (name, v) in [
        ("--max-detection-drop", args.max_detection_drop),
        ("--max-false-alarm-rise", args.max_false_alarm_rise),
    ] {
        anyhow::ensure!(
            v.is_finite() && v >= 0.0,
            "{name} must be a number ≥ 0, not {v}"
        );
    }
    let rule = GateRule {
        max_detection_drop: args.max_detection_drop / 100.0,
        max_false_alarm_rise: args.max_false_alarm_rise,
    };
    let (Some(candidate_path), false) = (&args.candidate, args.data.is_empty()) else {
        anyhow::bail!("--candidate and --data are required");
    };
    let data_dirs = learn::data_dirs::DataDirs::new(args.data.clone())?;
    let candidate = ModelBundle::load(candidate_path)
        .with_context(|| format!("--candidate {}", candidate_path.display()))?;
    let current = if args.current.exists() {
        ModelBundle::load(&args.current)
            .with_context(|| format!("--current {}", args.current.display()))?
    } else {
        tracing::warn!(path = %args.current.display(),
            "no current model there: comparing with the embedded model (what --init writes)");
        ModelBundle::embedded().context("the embedded model")?
    };
    let data = data_dirs
        .read(false)
        .with_context(|| format!("--data {}", data_dirs.display()))?;
    let verdict = gate(&candidate, &current, &data, args.from, &rule)?;
    let target = args.publish.clone().unwrap_or_else(|| args.current.clone());
    let report = args
        .report
        .clone()
        .unwrap_or_else(|| learn::gate::report_beside(&target));
    for reason in &verdict.reasons {
        tracing::info!(reason = %reason, "gate");
    }
    let bytes = if verdict.publish {
        match learn::gate::carry_snapshot(&candidate, &current) {
            Some(combined) => {
                tracing::info!(
                    "the candidate has no cluster snapshot model: the current one is carried over"
                );
                combined.to_bytes()
            }
            None => std::fs::read(candidate_path)
                .with_context(|| format!("--candidate {}", candidate_path.display()))?,
        }
    } else {
        Vec::new()
    };
    // The report first (serve and watch read it when the model file changes), then the model.
    publish_bytes(
        (serde_json::to_string_pretty(&verdict)? + "\n").as_bytes(),
        &report,
    )
    .with_context(|| format!("--report {}", report.display()))?;
    if verdict.publish {
        publish_bytes(&bytes, &target)?;
    }
    let (c, k) = (&verdict.candidate, &verdict.current);
    println!(
        "{}: candidate {} alarmed {:.1}% before start, {:.2} false alarms/target-day; current {} {:.1}%, {:.2} \
         ({} incidents, {} to {}); verdict in {}",
        if verdict.publish {
            format!("PUBLISHED to {}", target.display())
        } else {
            "REFUSED".to_string()
        },
        c.model,
        c.alarmed_before_start_ratio * 100.0,
        c.false_alarms_per_target_day,
        k.model,
        k.alarmed_before_start_ratio * 100.0,
        k.false_alarms_per_target_day,
        c.incidents,
        learn::timestamp::format_rfc3339(verdict.test_from),
        learn::timestamp::format_rfc3339(verdict.test_until),
        report.display()
    );
    Ok(())
}

/// Writes `bytes` to a temporary file beside `target`, flushes it to disk and renames it over `target`:
/// a reader sees the old file or the new one, never a part.
fn publish_bytes(bytes: &[u8], target: &Path) -> anyhow::Result<()> {
    let dir = target.parent().unwrap_or_else(|| Path::new("."));
    let name = target
        .file_name()
        .with_context(|| format!("{} is not a file path", target.display()))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, target)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        anyhow::anyhow!("publishing to {}: {e}", target.display())
    })
}
