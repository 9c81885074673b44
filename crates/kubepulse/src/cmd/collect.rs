//! `kubepulse collect`: Prometheus history → dataset.

use std::path::PathBuf;
use std::time::Duration;

use ::collect::{CollectOptions, collect};
use anyhow::Context;
use cluster::{Connection, KubeLabelOptions, KubeSource, connect_and_read_labels};
use learn::Incident;

use crate::parse;
use ::collect::prom::{Auth, PromConfig};
use ::collect::queries::QuerySet;

/// How to reach Prometheus (shared by `collect` and `watch`).
#[derive(Debug, Clone, clap::Args)]
pub struct PromArgs {
    /// Prometheus (or Thanos/Mimir/VictoriaMetrics/managed Prometheus) base URL.
    #[arg(long, env = "KUBEPULSE_PROMETHEUS_URL", value_name = "URL")]
    pub prometheus: String,
    /// File holding a bearer token (GKE Managed Prometheus, Azure Monitor workspace, Thanos behind a proxy).
    #[arg(long, value_name = "FILE", conflicts_with = "basic_auth")]
    pub bearer_token_file: Option<PathBuf>,
    /// Basic auth as USER:PASSWORD (or USER: with the password in KUBEPULSE_PROMETHEUS_PASSWORD).
    #[arg(
        long,
        value_name = "USER:PASSWORD",
        env = "KUBEPULSE_PROMETHEUS_BASIC_AUTH"
    )]
    pub basic_auth: Option<String>,
    /// PEM file of extra CA certificates to trust.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Extra header on every request, `Name: value` (repeatable), e.g. `X-Scope-OrgID: team-a` for Mimir.
    #[arg(long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Per-request timeout in seconds.
    #[arg(long, default_value_t = 30.0, value_name = "SECS")]
    pub timeout: f64,
    /// Retries on connection errors, timeouts and 5xx (never on 4xx).
    #[arg(long, default_value_t = 3)]
    pub retries: u32,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Answer compression: `auto` (gzip except from localhost/loopback, where it costs Prometheus more CPU
    /// than it saves), `gzip` or `none`.
    #[arg(long, value_enum, default_value_t = Compression::Auto)]
    pub compression: Compression,
}

/// `--compression`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Compression {
    /// gzip unless the server is on a loopback address.
    Auto,
    /// Always ask for gzip.
    Gzip,
    /// Never compress.
    None,
}

impl PromArgs {
    /// The client configuration these flags describe.
    pub fn config(&self) -> anyhow::Result<PromConfig> {
        let mut c = PromConfig::new(&self.prometheus);
        if !(self.timeout > 0.0 && self.timeout.is_finite()) {
            anyhow::bail!(
                "--timeout must be a positive number of seconds, not {}",
                self.timeout
            );
        }
        c.timeout = Duration::from_secs_f64(self.timeout);
        c.retries = self.retries;
        if self.concurrency == 0 {
            anyhow::bail!("--concurrency must be at least 1");
        }
        c.concurrency = self.concurrency;
        match self.compression {
            Compression::Auto => {}
            Compression::Gzip => c.gzip = true,
            Compression::None => c.gzip = false,
        }
        if let Some(path) = &self.bearer_token_file {
            let token = std::fs::read_to_string(path)
                .with_context(|| format!("--bearer-token-file {}", path.display()))?;
            c.auth = Auth::Bearer(token.trim().to_string());
        } else if let Some(pair) = &self.basic_auth {
            let (user, password) = pair
                .split_once(':')
                .context("--basic-auth must be USER:PASSWORD")?;
            let password = if password.is_empty() {
                std::env::var("KUBEPULSE_PROMETHEUS_PASSWORD").unwrap_or_default()
            } else {
                password.to_string()
            };
            c.auth = Auth::Basic {
                username: user.to_string(),
                password,
            };
        }
        if let Some(path) = &self.ca_file {
            c.ca_pem =
                Some(std::fs::read(path).with_context(|| format!("--ca-file {}", path.display()))?);
        }
        for h in &self.headers {
            let (name, value) = h
                .split_once(':')
                .with_context(|| format!("--header {h:?} must be `Name: value`"))?;
            c.headers
                .push((name.trim().to_string(), value.trim().to_string()));
        }
        Ok(c)
    }
}

/// Reads `--queries FILE` or the built-in set.
pub fn load_queries(path: Option<&PathBuf>) -> anyhow::Result<QuerySet> {
    Ok(match path {
        Some(p) => QuerySet::load(p)?,
        None => QuerySet::builtin()?,
    })
}

/// A `--labels-from` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LabelsFrom {
    /// Kubernetes events and Chaos Mesh experiments.
    Kube,
    /// Kubernetes events (`OOMKilling`, `BackOff`, `Evicted`, `FailedScheduling`, `Unhealthy`…).
    KubeEvents,
    /// Chaos Mesh `PodChaos`, `StressChaos` and `NetworkChaos` experiments.
    ChaosMesh,
}

/// Incident labels from the Kubernetes API (crate `cluster`).
#[derive(Debug, Clone, clap::Args)]
pub struct KubeArgs {
    /// Also label incidents from the Kubernetes API: `kube-events`, `chaos-mesh`, or `kube` for both
    /// (comma-separated or repeated). Needs the read-only access of docs/deploy.md.
    #[arg(
        long = "labels-from",
        value_name = "SOURCE",
        value_enum,
        value_delimiter = ','
    )]
    pub labels_from: Vec<LabelsFrom>,
    /// kubeconfig for --labels-from (default: KUBECONFIG or ~/.kube/config, else the in-cluster service account).
    #[arg(long, value_name = "FILE", requires = "labels_from")]
    pub kubeconfig: Option<PathBuf>,
    /// kubeconfig context for --labels-from (default: its current-context).
    #[arg(long, value_name = "NAME", requires = "labels_from")]
    pub context: Option<String>,
}

impl KubeArgs {
    /// The asked sources, each once, in precedence order.
    pub fn sources(&self) -> Vec<KubeSource> {
        let mut sources: Vec<KubeSource> = self
            .labels_from
            .iter()
            .flat_map(|s| match s {
                LabelsFrom::Kube => vec![KubeSource::Events, KubeSource::ChaosMesh],
                LabelsFrom::KubeEvents => vec![KubeSource::Events],
                LabelsFrom::ChaosMesh => vec![KubeSource::ChaosMesh],
            })
            .collect();
        sources.sort();
        sources.dedup();
        sources
    }

    /// The kubeconfig and context to connect with.
    pub fn connection(&self) -> Connection {
        Connection {
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
        }
    }

    /// Reads the asked Kubernetes label sources over `[start, end]`; nothing when none is asked.
    pub fn labels(
        &self,
        start: i64,
        end: i64,
        step_secs: i64,
        queries: &QuerySet,
    ) -> anyhow::Result<Vec<Incident>> {
        let sources = self.sources();
        if sources.is_empty() {
            return Ok(Vec::new());
        }
        let connection = self.connection();
        let opts = KubeLabelOptions {
            sources: sources.clone(),
            start,
            end,
            step_secs,
            target: queries.target.clone(),
        };
        let labels = crate::runtime::block_on(connect_and_read_labels(&connection, &opts))??;
        tracing::info!(
            event_incidents = labels.events.len(),
            events_listed = labels.event_stats.listed,
            chaos_incidents = labels.chaos.len(),
            experiments = labels.experiments,
            "labels read from the Kubernetes API"
        );
        // Each incident carries its source, which sets its precedence in the merge.
        Ok([labels.events, labels.chaos].concat())
    }
}

/// Arguments of `kubepulse collect`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  kubepulse collect --prometheus http://prometheus:9090 --start now-7d --end now --step 15s --out data/
  kubepulse collect --prometheus https://mimir/prometheus --header 'X-Scope-OrgID: team-a' \\
      --start 2026-01-01T00:00:00Z --end 2026-01-08T00:00:00Z --step 1m --out data/ --events incidents.csv
  kubepulse collect --prometheus http://prometheus:9090 --start now-1h --end now --out data/ \\
      --labels-from kube --context staging
  kubepulse collect --prometheus http://prometheus:9090 --start now-7d --end now --shard 0/4 --out data/0/

Labels: the query set's kube-state-metrics rules, plus --events FILE and --labels-from kube-events,chaos-mesh
(see docs/watch.md for the mapping and the precedence when they overlap).

An interrupted run resumes when started again with the same options and --out.")]
pub struct Args {
    /// Boxed to keep the subcommand enum small.
    #[command(flatten)]
    pub inner: Box<CollectArgs>,
}

/// The options of `kubepulse collect`.
#[derive(Debug, clap::Args)]
pub struct CollectArgs {
    #[command(flatten)]
    pub prom: PromArgs,
    /// First sample: unix seconds, RFC 3339, `now` or `now-7d`.
    #[arg(long, value_parser = parse::when)]
    pub start: i64,
    /// Last sample (inclusive), same forms as --start.
    #[arg(long, value_parser = parse::when)]
    pub end: i64,
    /// Sample step: seconds or with a unit (15s, 1m).
    #[arg(long, default_value = "15s", value_parser = parse::duration_secs)]
    pub step: i64,
    /// Output dataset directory (metrics.csv, events.csv; or their .parquet twins with --format parquet).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Dataset file format.
    #[arg(long, value_enum, default_value_t = super::FormatArg::Csv)]
    pub format: super::FormatArg,
    /// Query set TOML (default: the built-in set, written out in config/queries.toml).
    #[arg(long, value_name = "FILE")]
    pub queries: Option<PathBuf>,
    /// Your own incident labels to merge: CSV `target,start,end,issue_type[,detail]`.
    #[arg(long, value_name = "FILE")]
    pub events: Option<PathBuf>,
    #[command(flatten)]
    pub kube: KubeArgs,
    /// Steps per query chunk (memory ≈ targets × columns × this × 12 bytes).
    #[arg(long, default_value_t = 720)]
    pub chunk_points: usize,
    /// Collect only the targets of shard i of n (the stable target hash of `watch --shard` and
    /// `train --shard`): their rows and their incidents; n processes together collect every target.
    #[arg(long, value_name = "i/n", default_value = "0/1")]
    pub shard: ::collect::queries::Shard,
    /// No progress bar.
    #[arg(long)]
    pub no_progress: bool,
}

/// Runs `kubepulse collect`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let args = *args.inner;
    let queries = load_queries(args.queries.as_ref())?;
    let prom = args.prom.config()?;
    // Read the cluster's labels first: a missing permission fails before a long Prometheus run.
    let extra_labels = args
        .kube
        .labels(args.start, args.end, args.step, &queries)?;
    let mut opts = CollectOptions::new(args.start, args.end, args.step, &args.out, queries);
    opts.events_csv = args.events;
    opts.extra_labels = extra_labels;
    opts.chunk_points = args.chunk_points;
    opts.progress = !args.no_progress;
    opts.format = args.format.into();
    opts.shard = args.shard;
    let client = ::collect::prom::PromClient::new(prom)?;
    let summary = crate::runtime::block_on(collect(&client, &opts))??;
    tracing::info!(
        out = %args.out.display(),
        rows = summary.rows_written,
        targets = summary.targets,
        events = summary.events,
        queries = summary.queries,
        resumed_chunks = summary.chunks_resumed,
        "dataset written"
    );
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::cmd::tests::error_of;

    /// A Kubernetes API server that denies everything, as RBAC does: 403 with a `Status` body.
    pub(crate) fn forbidding_apiserver() -> String {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let body = r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"events is forbidden: User \"alice\" cannot list resource \"events\" in API group \"\" at the cluster scope","reason":"Forbidden","details":{"kind":"events"},"code":403}"#;
                let _ = write!(
                    stream,
                    "HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        url
    }

    #[test]
    fn a_denied_kubernetes_permission_is_one_line_before_any_prometheus_query() {
        let dir =
            std::env::temp_dir().join(format!("kubepulse-collect-kube-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let kubeconfig = dir.join("kubeconfig");
        std::fs::write(
            &kubeconfig,
            format!(
                "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: k\n  cluster:\n    server: {}\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: c\n  context:\n    cluster: k\n    user: u\n",
                forbidding_apiserver()
            ),
        )
        .unwrap();
        let out = dir.join("out");
        let e = error_of(&[
            "kubepulse",
            "collect",
            // Nothing listens here: the Kubernetes check must fail first.
            "--prometheus",
            "http://127.0.0.1:9",
            "--start",
            "1700000000",
            "--end",
            "1700000600",
            "--out",
            out.to_str().unwrap(),
            "--labels-from",
            "kube-events",
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
        ]);
        assert!(
            e.contains("`list events`") && e.contains("403") && !e.contains('\n'),
            "{e}"
        );
        assert!(!out.join("metrics.csv.partial").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn bad_input_gives_one_clear_line() {
        let dir =
            std::env::temp_dir().join(format!("kubepulse-collect-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("out");
        let out = out.to_str().unwrap();
        let base = [
            "kubepulse",
            "collect",
            "--start",
            "1700000000",
            "--end",
            "1700000600",
            "--out",
            out,
        ];

        let with = |extra: &[&str]| {
            let mut v: Vec<&str> = base.to_vec();
            v.extend_from_slice(extra);
            error_of(&v)
        };
        let e = with(&["--prometheus", "127.0.0.1:9090"]);
        assert!(
            e.contains("invalid Prometheus URL") && !e.contains('\n'),
            "{e}"
        );

        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}");
        let e = with(&["--prometheus", &url, "--retries", "0", "--no-progress"]);
        assert!(
            e.contains("cannot reach Prometheus") && e.contains(&port.to_string()),
            "{e}"
        );

        let bad = dir.join("q.toml");
        std::fs::write(&bad, "[target]\nlabels = ['namespace']\n").unwrap();
        let e = with(&["--prometheus", &url, "--queries", bad.to_str().unwrap()]);
        assert!(
            e.contains("q.toml") && e.contains("no [[column]]") && !e.contains('\n'),
            "{e}"
        );

        let e = with(&["--prometheus", &url, "--step", "0s"]);
        assert!(e.contains("must be positive"), "{e}");

        let e = error_of(&[
            "kubepulse",
            "collect",
            "--prometheus",
            &url,
            "--start",
            "yesterday",
            "--end",
            "now",
            "--out",
            out,
        ]);
        assert!(e.contains("yesterday"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
