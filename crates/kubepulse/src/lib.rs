//! The `kubepulse` command line: one subcommand per module in [`cmd`], each a thin layer over a
//! library crate (`sim`, `learn`, `serve`, `watch`).

pub mod cmd;
pub mod parse;
pub mod runtime;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Predicts Kubernetes failures (resource exhaustion, pod failures, network issues) before they happen.
#[derive(Debug, Parser)]
#[command(name = "kubepulse", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options shared by every subcommand.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "KUBEPULSE_LOG_FORMAT")]
    pub log_format: LogFormat,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// HTTP prediction service, the fleet UI on a simulated cluster running in time, and /metrics.
    Serve(cmd::serve::Args),
    /// Generate a synthetic cluster's telemetry and incidents.
    Simulate(cmd::simulate::Args),
    /// Pull metrics and incident labels from Prometheus into a dataset.
    Collect(cmd::collect::Args),
    /// Check which of the data the model needs a Prometheus holds, and what the model will miss.
    Doctor(cmd::doctor::Args),
    /// Train the two-stage random-forest model on a dataset.
    Train(cmd::train::Args),
    /// Backtest a model on a dataset split by time, against baselines.
    Eval(cmd::eval::Args),
    /// Quality gate: publish a candidate model only if it backtests no worse than the current one.
    Gate(cmd::gate::Args),
    /// Watch Prometheus continuously, export predictions and alert through Alertmanager.
    Watch(cmd::watch::Args),
}

/// Sets up `tracing` on stderr; `RUST_LOG` filters (default `info`, kube-rs's own logs off).
pub fn init_tracing(global: &GlobalArgs) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        // kube-rs logs a failed connection at ERROR before returning it; `collect` reports it as one line.
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,kube_client=off"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match global.log_format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Runs one subcommand to completion.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => cmd::serve::run(args),
        Command::Simulate(args) => cmd::simulate::run(args),
        Command::Collect(args) => cmd::collect::run(args),
        Command::Doctor(args) => cmd::doctor::run(args),
        Command::Train(args) => cmd::train::run(args),
        Command::Eval(args) => cmd::eval::run(args),
        Command::Gate(args) => cmd::gate::run(args),
        Command::Watch(args) => cmd::watch::run(args),
    }
}
