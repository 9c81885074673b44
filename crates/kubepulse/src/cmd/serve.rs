//! `kubepulse serve`: flags and `KUBEPULSE_*` variables → [`serve::ServeConfig`], then run.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;

/// Arguments of `kubepulse serve`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  kubepulse serve                                   # embedded model, demo cluster, UI at http://localhost:5000/ui/
  kubepulse serve --speed 20                        # the demo cluster 20x faster than real time
  kubepulse serve --speed 10 --warmup 5m --fault memory_leak:cartservice@+8m/4m
  kubepulse serve --listen 127.0.0.1:8080 --model model.kpm
  KUBEPULSE_THRESHOLD=0.3 kubepulse serve --log-format json
  curl -s -X POST localhost:5000/predict -H 'Content-Type: application/json' \\
       -d '{\"cluster_id\": \"5\", \"cluster_cpu_util_avg\": 79.3, \"node_count\": 3}'

Hot reload: with --model, SIGHUP or a change of the file reloads it (a bad model is rejected and
the previous one keeps serving). SIGTERM/SIGINT stop gracefully. Routes: docs/api.md, the UI: docs/ui.md.

Feedback from the UI (\"confirmed\" / \"false alarm\") needs a bearer token (--ui-token-file, a mounted
Secret, or KUBEPULSE_UI_TOKEN) and --feedback-dir, where it writes events.csv / false_alarms.csv / audit.jsonl.")]
pub struct Args {
    /// Address to listen on.
    #[arg(long, env = "KUBEPULSE_LISTEN", default_value = "0.0.0.0:5000")]
    pub listen: SocketAddr,
    /// Model bundle file to serve instead of the embedded default model.
    #[arg(long, env = "KUBEPULSE_MODEL", value_name = "PATH")]
    pub model: Option<PathBuf>,
    /// Decision threshold on issue_probability (0–1), overriding the model's.
    #[arg(long, env = "KUBEPULSE_THRESHOLD", value_parser = parse_probability)]
    pub threshold: Option<f64>,
    /// Largest accepted request body, bytes.
    #[arg(long, env = "KUBEPULSE_BODY_LIMIT_BYTES", default_value_t = 1024 * 1024)]
    pub body_limit_bytes: usize,
    /// Largest count accepted by GET /simulate/{count}.
    #[arg(long, env = "KUBEPULSE_SIMULATE_MAX", default_value_t = 1000,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub simulate_max: u32,
    /// Most items in one POST /predict/batch.
    #[arg(long, env = "KUBEPULSE_BATCH_MAX", default_value_t = 1000)]
    pub batch_max: usize,
    /// Seconds between checks of the --model file for changes (0: reload on SIGHUP only).
    #[arg(long, env = "KUBEPULSE_RELOAD_POLL_SECS", default_value_t = 2)]
    pub reload_poll_secs: u64,
    /// Seed of the first simulated snapshot (default: from the clock); each simulation uses the next.
    #[arg(long, env = "KUBEPULSE_SEED")]
    pub seed: Option<u64>,
    /// A request head must be complete this long after its first byte, else the connection is dropped.
    #[arg(long, env = "KUBEPULSE_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = crate::parse::duration_secs)]
    pub header_read_timeout: i64,
    /// A request body must arrive within this long, else 408 body_timeout.
    #[arg(long, env = "KUBEPULSE_BODY_TIMEOUT", default_value = "30s", value_parser = crate::parse::duration_secs)]
    pub body_timeout: i64,
    /// A connection with no request for this long is closed.
    #[arg(long, env = "KUBEPULSE_IDLE_TIMEOUT", default_value = "75s", value_parser = crate::parse::duration_secs)]
    pub idle_timeout: i64,
    /// Most connections open at once; beyond, the longest-idle one is closed to make room, or the
    /// new one refused with 503 too_many_connections when none is idle.
    #[arg(long, env = "KUBEPULSE_MAX_CONNECTIONS", default_value_t = 1024,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: u32,
    /// On SIGTERM/SIGINT, requests in flight get this long to finish; then connections are dropped
    /// (keep it below the pod's terminationGracePeriodSeconds, 30 s by default).
    #[arg(long, env = "KUBEPULSE_SHUTDOWN_GRACE", default_value = "10s", value_parser = crate::parse::duration_secs)]
    pub shutdown_grace: i64,
    /// No demo cluster: the UI lists no target (the snapshot API works as always).
    #[arg(long, env = "KUBEPULSE_NO_DEMO")]
    pub no_demo: bool,
    /// Simulated seconds per wall-clock second of the demo cluster (1 = real time).
    #[arg(long, env = "KUBEPULSE_SPEED", default_value_t = 1.0, value_parser = parse_speed)]
    pub speed: f64,
    /// A fault of the demo cluster, KIND:DEPLOYMENT@+OFFSET[/LEAD] from the simulation's start (which is
    /// --warmup before now), e.g. memory_leak:cartservice@+40m/10m; repeatable. Replaces the default
    /// rotation (a fault with a precursor every --fault-every) and makes the cluster otherwise calm.
    #[arg(long = "fault", value_name = "SPEC")]
    pub faults: Vec<String>,
    /// Simulated history of the demo cluster before now (stepped at once at startup).
    #[arg(long, default_value = "30m", value_parser = crate::parse::duration_secs)]
    pub warmup: i64,
    /// Simulated time between two faults of the demo's default rotation.
    #[arg(long, default_value = "5m", value_parser = crate::parse::duration_secs)]
    pub fault_every: i64,
    /// Report the demo's workloads under this namespace (any text, as on a real cluster).
    #[arg(long, value_name = "NAME")]
    pub demo_namespace: Option<String>,
    /// File holding the bearer token of the UI's feedback action (e.g. a mounted Kubernetes Secret).
    #[arg(long, env = "KUBEPULSE_UI_TOKEN_FILE", value_name = "PATH")]
    pub ui_token_file: Option<PathBuf>,
    /// Directory where the UI's feedback is written (events.csv, false_alarms.csv, audit.jsonl).
    #[arg(long, env = "KUBEPULSE_FEEDBACK_DIR", value_name = "DIR")]
    pub feedback_dir: Option<PathBuf>,
    /// What becomes of a model metric a window (`POST /predict` with samples) lacks: `error` (a 400
    /// naming it, default), or `nan`: predicted on as missing values, for a model trained with missing
    /// values; the prediction lists them in `missing_metrics`.
    #[arg(long, env = "KUBEPULSE_MISSING_COLUMNS", value_enum, default_value_t = super::MissingArg::Error)]
    pub missing_columns: super::MissingArg,
}

fn parse_speed(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .parse()
        .map_err(|e| format!("{text:?} is not a number: {e}"))?;
    if value > 0.0 && value <= 1000.0 {
        Ok(value)
    } else {
        Err(format!("{value} is outside (0, 1000]"))
    }
}

fn parse_probability(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .parse()
        .map_err(|e| format!("{text:?} is not a number: {e}"))?;
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!("{value} is outside 0–1"))
    }
}

impl Args {
    /// The UI's feedback settings.
    pub fn feedback(&self) -> anyhow::Result<ui::FeedbackConfig> {
        feedback_config(self.ui_token_file.as_deref(), self.feedback_dir.as_deref())
    }

    /// The service configuration these arguments describe (without the feedback token, read by
    /// [`Args::feedback`]).
    pub fn config(&self) -> serve::ServeConfig {
        let seed = self.seed.unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        });
        serve::ServeConfig {
            listen: self.listen,
            model_path: self.model.clone(),
            reload_poll: (self.reload_poll_secs > 0)
                .then(|| Duration::from_secs(self.reload_poll_secs)),
            limits: serve::Limits {
                threshold: self.threshold,
                body_limit_bytes: self.body_limit_bytes,
                body_timeout: secs(self.body_timeout),
                simulate_max: self.simulate_max,
                batch_max: self.batch_max,
                seed,
                missing_columns: self.missing_columns.into(),
            },
            connections: serve::ConnectionLimits {
                header_read_timeout: secs(self.header_read_timeout),
                idle_timeout: secs(self.idle_timeout),
                max_connections: self.max_connections as usize,
                shutdown_grace: secs(self.shutdown_grace),
                ..serve::ConnectionLimits::default()
            },
            demo: (!self.no_demo).then(|| serve::demo::DemoConfig {
                speed: self.speed,
                faults: self.faults.clone(),
                warmup_secs: self.warmup,
                fault_every_secs: self.fault_every,
                namespace: self.demo_namespace.clone(),
                seed,
                threshold: self.threshold,
                ..serve::demo::DemoConfig::default()
            }),
            feedback: ui::FeedbackConfig::default(),
        }
    }
}

/// The UI's feedback settings (`serve` and `watch`): the token from `token_file`, else the
/// `KUBEPULSE_UI_TOKEN` variable; feedback is off without a token and a directory.
pub fn feedback_config(
    token_file: Option<&std::path::Path>,
    dir: Option<&std::path::Path>,
) -> anyhow::Result<ui::FeedbackConfig> {
    let token = match token_file {
        // An optional Kubernetes Secret not created yet: the mount is there, the file is not. Feedback
        // stays off (the page shows no buttons) rather than the pod failing to start.
        Some(path) if !path.exists() => {
            tracing::warn!(path = %path.display(),
                "no UI token file: feedback is disabled (create the Secret kubepulse-ui-token, docs/ui.md)");
            None
        }
        Some(path) => Some(
            ui::FeedbackConfig::token_from_file(path)
                .with_context(|| format!("reading the UI token from {}", path.display()))?,
        ),
        None => std::env::var("KUBEPULSE_UI_TOKEN")
            .ok()
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty()),
    };
    Ok(ui::FeedbackConfig {
        token,
        dir: dir.map(std::path::Path::to_path_buf),
    })
}

/// Parsed durations are positive seconds.
fn secs(value: i64) -> Duration {
    Duration::from_secs(value.max(1) as u64)
}

/// Runs `kubepulse serve` until SIGTERM/SIGINT.
pub fn run(args: Args) -> anyhow::Result<()> {
    let mut config = args.config();
    config.feedback = args.feedback()?;
    if args.missing_columns == super::MissingArg::Nan {
        tracing::warn!(
            "--missing-columns nan: a window lacking some of the model's metrics is predicted on with \
             them as missing values (listed in each prediction's missing_metrics)"
        );
    }
    let on_listen = |addr, model: &serve::predictor::LoadedModel| {
        println!(
            "kubepulse serve: listening on http://{addr} (model {} {} from {}); UI at /ui/",
            model.info.name, model.info.version, model.source
        );
    };
    crate::runtime::block_on_until_signal(|shutdown| {
        serve::app::run(&config, on_listen, shutdown.recv())
    })?
    .with_context(|| format!("kubepulse serve on {}", config.listen))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: super::Args,
    }

    #[test]
    fn defaults_match_the_original_service() {
        let cli = Cli::try_parse_from(["serve", "--seed", "9"]).expect("parses");
        let config = cli.args.config();
        assert_eq!(config.listen.to_string(), "0.0.0.0:5000");
        assert_eq!(config.model_path, None);
        assert_eq!(config.limits.simulate_max, 1000);
        assert_eq!(config.limits.seed, 9);
        assert_eq!(config.reload_poll, Some(std::time::Duration::from_secs(2)));
        assert_eq!(config.connections, serve::ConnectionLimits::default());
        assert_eq!(
            config.limits.body_timeout,
            serve::Limits::default().body_timeout
        );
    }

    #[test]
    fn flags_are_checked() {
        let cli = Cli::try_parse_from([
            "serve",
            "--listen",
            "127.0.0.1:8080",
            "--threshold",
            "0.25",
            "--reload-poll-secs",
            "0",
            "--model",
            "m.kpm",
        ])
        .expect("parses");
        let config = cli.args.config();
        assert_eq!(config.listen.port(), 8080);
        assert_eq!(config.limits.threshold, Some(0.25));
        assert_eq!(config.reload_poll, None);
        assert_eq!(
            config.model_path.as_deref(),
            Some(std::path::Path::new("m.kpm"))
        );
        for bad in [
            vec!["serve", "--threshold", "1.5"],
            vec!["serve", "--threshold", "x"],
            vec!["serve", "--listen", "nowhere"],
            vec!["serve", "--simulate-max", "0"],
            vec!["serve", "--max-connections", "0"],
            vec!["serve", "--header-read-timeout", "0s"],
        ] {
            assert!(
                Cli::try_parse_from(&bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn a_missing_token_file_disables_feedback_and_an_empty_one_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let feedback = dir.path().join("feedback");
        // The optional Secret is not created: the pod starts, feedback is off.
        let missing = super::feedback_config(Some(&dir.path().join("token")), Some(&feedback))
            .expect("a missing token file is not an error");
        assert_eq!(missing.token, None);
        assert_eq!(missing.dir.as_deref(), Some(feedback.as_path()));
        // An empty token would let anything through: refused.
        std::fs::write(dir.path().join("token"), "\n").expect("write");
        let empty = super::feedback_config(Some(&dir.path().join("token")), Some(&feedback));
        assert!(empty.is_err(), "{empty:?}");
        std::fs::write(dir.path().join("token"), "s3cret\n").expect("write");
        let read = super::feedback_config(Some(&dir.path().join("token")), Some(&feedback))
            .expect("a token");
        assert_eq!(read.token.as_deref(), Some("s3cret"));
    }
}
