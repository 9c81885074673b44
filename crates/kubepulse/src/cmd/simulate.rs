//! `kubepulse simulate`: clap arguments and the glue that runs [`sim`].

use std::io::IsTerminal;
use std::io::Write as _;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::{Context, bail};
use sim::config::Level;
use sim::{Outputs, SimConfig};

const EXAMPLES: &str = "\
Examples:
  # One week of Online Boutique at a 15 s step: dataset with labelled incidents
  kubepulse simulate --preset online-boutique --duration 7d --out data/sim

  # Cluster-level snapshots (the original service's fields) for 20 clusters
  kubepulse simulate --level cluster --clusters 20 --duration 3d --out data/clusters

  # Five clusters of 50 deployments for a week as Parquet (10M rows; read by pandas, polars, DuckDB)
  kubepulse simulate --preset large --clusters 5 --duration 7d --format parquet --out data/fleet

  # OpenMetrics for Prometheus backfill
  kubepulse simulate --duration 6h --openmetrics sim.om
  promtool tsdb create-blocks-from openmetrics sim.om ./tsdb

  # Live exporter at 60x speed, no random incidents, a memory leak whose OOM kill happens
  # 20 simulated minutes after start (its precursor starts 10 minutes before that)
  kubepulse simulate --serve 127.0.0.1:9101 --speed 60 --calm --fault memory_leak:frontend@+20m/10m

  # Demand from an Azure Public Dataset V2 vm_cpu_readings file
  kubepulse simulate --demand azure-v2:vm_cpu_readings-file-1-of-195.csv --duration 1d --out data/azure

  # Print the default configuration file / the metric catalog
  kubepulse simulate --print-config
  kubepulse simulate --catalog

Fault schedule (--fault, repeatable): KIND:TARGET@+OFFSET[/LEAD]
  KIND    memory_leak, traffic_surge, disk_fill, network_degradation, node_memory_pressure,
          bad_rollout, pod_kill, network_partition
  TARGET  a deployment (frontend or online-boutique/frontend); node-N (1-based) for disk_fill
          and node_memory_pressure
  OFFSET  simulated time after the start when the failure begins (the label's start), e.g. 90s, 20m
  LEAD    precursor length before that (default: the middle of the fault's range, shortened to fit)";

/// Arguments of `kubepulse simulate` (boxed: they are many, and the CLI's enum of subcommands stays small).
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// The options.
    #[command(flatten)]
    pub options: Box<Options>,
}

/// The options of `kubepulse simulate`.
#[derive(Debug, clap::Args)]
pub struct Options {
    /// Cluster preset: online-boutique, small or large [default: online-boutique].
    #[arg(long)]
    pub preset: Option<String>,
    /// TOML configuration file (see --print-config); flags override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Random seed; the same seed and options give identical output [default: 42].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Simulated duration, e.g. 6h, 7d [default: 1d].
    #[arg(long, allow_hyphen_values = true)]
    pub duration: Option<String>,
    /// Sample step, e.g. 15s [default: 15s].
    #[arg(long, allow_hyphen_values = true)]
    pub step: Option<String>,
    /// First timestamp: unix seconds or RFC 3339 UTC [default: 2026-01-05T00:00:00Z].
    #[arg(long)]
    pub start: Option<String>,
    /// Number of independent clusters [default: 1].
    #[arg(long)]
    pub clusters: Option<u32>,
    /// Dataset level: one target per deployment or per cluster [default: deployment].
    #[arg(long, value_enum)]
    pub level: Option<LevelArg>,
    /// Write the dataset (metrics.csv, events.csv; see --format) into this directory.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Dataset file format of --out [default: csv].
    #[arg(long, value_enum)]
    pub format: Option<super::FormatArg>,
    /// Write an OpenMetrics file for `promtool tsdb create-blocks-from openmetrics`.
    #[arg(long, value_name = "FILE")]
    pub openmetrics: Option<PathBuf>,
    /// Serve a live Prometheus exporter (/metrics, /labels) on this address, e.g. 127.0.0.1:9101; it also
    /// takes a remediation agent's actions (/api/v1/state, /api/v1/interventions: `watch --remediate-sim`).
    #[arg(long, value_name = "ADDR", conflicts_with_all = ["out", "openmetrics"])]
    pub serve: Option<String>,
    /// Clock speed of the live exporter: simulated seconds per wall-clock second [default: 1].
    #[arg(long)]
    pub speed: Option<f64>,
    /// Schedule a fault (repeatable): KIND:TARGET@+OFFSET[/LEAD], see below.
    #[arg(long = "fault", value_name = "SPEC")]
    pub faults: Vec<String>,
    /// Demand source: synthetic or azure-v2:PATH.
    #[arg(long, value_name = "SOURCE")]
    pub demand: Option<String>,
    /// No random faults or benign events: only the --fault ones.
    #[arg(long)]
    pub calm: bool,
    /// Print the default configuration (TOML) and exit.
    #[arg(long)]
    pub print_config: bool,
    /// Print the metric catalog (Markdown) and exit.
    #[arg(long)]
    pub catalog: bool,
    /// Closed loop: run the embedded model (or --model) + the remediation agent with this policy file
    /// in the simulation, against the same seed without action and the reactive baselines; prints the
    /// comparison (see docs/remediation.md).
    #[arg(long, value_name = "POLICY", conflicts_with_all = ["out", "openmetrics", "serve"])]
    pub remediate: Option<PathBuf>,
    /// Model bundle for --remediate [default: the embedded model].
    #[arg(long, value_name = "FILE", requires = "remediate")]
    pub model: Option<PathBuf>,
    /// With --remediate: write report.json, report.md and the agent's audit log (audit.jsonl) here.
    #[arg(long, value_name = "DIR", requires = "remediate")]
    pub report: Option<PathBuf>,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Dataset level.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LevelArg {
    /// One target per namespace/deployment.
    Deployment,
    /// One target per cluster (snapshot fields).
    Cluster,
}

/// Builds the configuration from the file (if any) and the flags.
pub fn config_from_args(args: &Options) -> anyhow::Result<SimConfig> {
    let mut cfg = match &args.config {
        Some(path) => SimConfig::from_file(path)?,
        None => SimConfig::default(),
    };
    if let Some(v) = &args.preset {
        cfg.preset = v.clone();
    }
    if let Some(v) = args.seed {
        cfg.seed = v;
    }
    if let Some(v) = &args.duration {
        cfg.duration = v.clone();
    }
    if let Some(v) = &args.step {
        cfg.step = v.clone();
    }
    if let Some(v) = &args.start {
        cfg.start = v.clone();
    }
    if let Some(v) = args.clusters {
        cfg.clusters = v;
    }
    if let Some(v) = args.level {
        cfg.level = match v {
            LevelArg::Deployment => Level::Deployment,
            LevelArg::Cluster => Level::Cluster,
        };
    }
    if let Some(v) = &args.demand {
        cfg.demand = v.clone();
    }
    if args.calm {
        cfg.calm();
    }
    cfg.schedule.extend(args.faults.iter().cloned());
    Ok(cfg)
}

/// Runs `kubepulse simulate`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let args = *args.options;
    if args.print_config {
        print!("{}", SimConfig::default_toml());
        return Ok(());
    }
    let cfg = config_from_args(&args)?;
    let valid = cfg.check()?;
    if args.catalog {
        print!(
            "{}",
            sim::catalog::markdown_table(sim::catalog::RATE_WINDOW_STEPS * valid.step_secs)
        );
        return Ok(());
    }
    if args.speed.is_some() && args.serve.is_none() {
        bail!("--speed only applies to the live exporter (--serve ADDR)");
    }
    if let Some(addr) = &args.serve {
        let speed = args.speed.unwrap_or(1.0);
        if !(speed.is_finite() && speed > 0.0 && speed <= 100_000.0) {
            bail!("--speed {speed} must be a number above 0 and at most 100000");
        }
        let addr: SocketAddr = addr
            .parse()
            .with_context(|| format!("--serve {addr:?} is not an address like 127.0.0.1:9101"))?;
        let listener =
            TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr}"))?;
        let sim = sim::Simulation::new(&valid)?;
        tracing::info!(
            address = %listener.local_addr()?,
            speed,
            preset = valid.preset.name(),
            "serving simulated cluster metrics on /metrics"
        );
        sim::exporter::serve(listener, sim, speed, Arc::new(AtomicBool::new(false)))?;
        return Ok(());
    }
    if args.format.is_some() && args.out.is_none() {
        bail!("--format applies to the dataset (--out DIR)");
    }
    if let Some(policy) = &args.remediate {
        return closed_loop(&valid, policy, &args);
    }
    if args.out.is_none() && args.openmetrics.is_none() {
        bail!("nothing to write: give --out DIR, --openmetrics FILE or --serve ADDR (see --help)");
    }
    let outputs = Outputs {
        dataset: args.out.clone(),
        openmetrics: args.openmetrics.clone(),
        format: args.format.unwrap_or_default().into(),
    };
    let bar = if args.quiet || !std::io::stderr().is_terminal() {
        indicatif::ProgressBar::hidden()
    } else {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} simulating [{bar:40}] {percent}% {eta} left",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    };
    let started = std::time::Instant::now();
    // SIGINT/SIGTERM stop the run between two steps, and its temporary files are removed.
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        let (listening, ready) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = crate::runtime::block_on_until_signal(|shutdown| {
                let _ = listening.send(());
                async move {
                    shutdown.recv().await;
                    stop.store(true, std::sync::atomic::Ordering::Relaxed);
                }
            });
        });
        // The run starts once a signal would stop it (not kill it, leaving its temporary files).
        let _ = ready.recv();
    }
    let summary = sim::run_until(
        &valid,
        &outputs,
        &mut |done, total| {
            bar.set_length(total);
            bar.set_position(done);
        },
        &stop,
    );
    bar.finish_and_clear();
    let summary = summary?;
    let by_kind: Vec<String> = sim::simulation::count_by_kind(&summary.labels)
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| format!("{k}={n}"))
        .collect();
    tracing::info!(
        steps = summary.steps,
        pod_samples = summary.pod_samples,
        rows = summary.rows,
        incidents = summary.labels.len(),
        by_kind = %by_kind.join(" "),
        seconds = format!("{:.1}", started.elapsed().as_secs_f64()),
        "simulation written"
    );
    Ok(())
}

/// `--remediate POLICY`: the run without action, the agent's and the baselines', compared.
fn closed_loop(valid: &sim::ValidConfig, policy: &Path, args: &Options) -> anyhow::Result<()> {
    use remediate::closed_loop::{self, Strategy};
    let policy = remediate::Policy::load(policy)?;
    let model = match &args.model {
        Some(path) => learn::bundle::ModelBundle::load(path)?,
        None => learn::bundle::ModelBundle::embedded()?,
    };
    if let Some(dir) = &args.report {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut audit = match &args.report {
        Some(dir) => {
            let path = dir.join("audit.jsonl");
            Some(std::io::BufWriter::new(
                std::fs::File::create(&path)
                    .with_context(|| format!("cannot create {}", path.display()))?,
            ))
        }
        None => None,
    };
    let mut runs = Vec::new();
    for strategy in [
        Strategy::NoAction,
        Strategy::Agent,
        Strategy::ReactiveHpa,
        Strategy::VpaBump,
    ] {
        let started = std::time::Instant::now();
        let mut write_error = None;
        let stats = closed_loop::run(
            valid,
            strategy,
            &policy,
            Some(&model),
            &mut |line| {
                if strategy == Strategy::Agent {
                    if let Some(w) = audit.as_mut() {
                        if let Err(e) = writeln!(w, "{line}") {
                            write_error.get_or_insert(e);
                        }
                    }
                }
            },
            &mut |_, _| {},
        )?;
        if let Some(e) = write_error {
            return Err(e).context("cannot write audit.jsonl");
        }
        tracing::info!(
            strategy = strategy.name(),
            incidents = stats.labels.len(),
            actions = stats.applied.len(),
            seconds = format!("{:.1}", started.elapsed().as_secs_f64()),
            "closed-loop run done"
        );
        runs.push(stats);
    }
    if let Some(mut w) = audit.take() {
        w.flush().context("cannot write audit.jsonl")?;
    }
    let reports: Vec<_> = runs
        .iter()
        .map(|r| closed_loop::compare(&runs[0], r))
        .collect();
    let md = format!(
        "Closed loop: preset {}, seed {}, {} ({} steps of {} s).\n\n{}",
        valid.preset.name(),
        valid.seed,
        timeline::time::format_duration_secs(valid.duration_secs),
        valid.duration_secs / valid.step_secs,
        valid.step_secs,
        closed_loop::markdown(&reports)
    );
    print!("{md}");
    if let Some(dir) = &args.report {
        std::fs::write(dir.join("report.md"), &md)?;
        let json = serde_json::json!({
            "preset": valid.preset.name(),
            "seed": valid.seed,
            "duration_secs": valid.duration_secs,
            "step_secs": valid.step_secs,
            "strategies": reports,
            "agent_actions": runs[1].applied,
            "incidents_without_action": runs[0].labels,
            "node_incidents_without_action": runs[0].node_incidents,
        });
        std::fs::write(
            dir.join("report.json"),
            serde_json::to_string_pretty(&json)?,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Wrap {
        #[command(flatten)]
        args: super::Args,
    }

    fn parse(argv: &[&str]) -> Result<super::Args, clap::Error> {
        Wrap::try_parse_from(std::iter::once("simulate").chain(argv.iter().copied()))
            .map(|w| w.args)
    }

    fn options(argv: &[&str]) -> super::Options {
        *parse(argv).expect("valid flags").options
    }

    #[test]
    fn flags_override_the_config_and_calm_leaves_only_scheduled_faults() {
        let args = options(&[
            "--preset",
            "small",
            "--seed",
            "7",
            "--calm",
            "--fault",
            "pod_kill:web@+1h",
            "--out",
            "d",
        ]);
        let cfg = super::config_from_args(&args).expect("config");
        assert_eq!((cfg.preset.as_str(), cfg.seed), ("small", 7));
        assert_eq!(cfg.faults.memory_leak, 0.0);
        assert_eq!(cfg.benign.batch_job, 0.0);
        assert_eq!(cfg.schedule, vec!["pod_kill:web@+1h".to_string()]);
        assert!(cfg.check().is_ok());
    }

    #[test]
    fn bad_flags_are_clear_errors() {
        let args = options(&["--duration", "-3h", "--out", "d"]);
        let err = super::config_from_args(&args)
            .expect("config")
            .check()
            .expect_err("negative");
        assert!(err.to_string().contains("negative"), "{err}");
        let args = parse(&["--preset", "medium", "--out", "d"]).expect("parses");
        let err = super::run(args).expect_err("unknown preset").to_string();
        assert!(err.contains("unknown preset \"medium\""), "{err}");
        let err = super::run(parse(&["--speed", "60", "--out", "d"]).expect("parses"))
            .expect_err("no --serve");
        assert!(err.to_string().contains("--serve"), "{err}");
        assert!(
            parse(&["--serve", "127.0.0.1:0", "--out", "d"]).is_err(),
            "--serve excludes --out"
        );
        let err = super::run(parse(&[]).expect("parses"))
            .expect_err("no output")
            .to_string();
        assert!(err.contains("--out DIR"), "{err}");
    }
}
