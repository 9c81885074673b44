//! `kubepulse watch`: live predictions from Prometheus, exported on `/metrics`, alerts to Alertmanager.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ::collect::prom::Auth;
use ::collect::queries::Shard;
use anyhow::Context;
use learn::bundle::ModelBundle;
use watch::alertmanager::{AlertmanagerClient, AlertmanagerConfig};
use watch::hysteresis::Hysteresis;
use watch::live::{WatchConfig, WatchOptions, run_remediating};

use super::collect::{PromArgs, load_queries};
use crate::parse;

/// Arguments of `kubepulse watch`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  kubepulse watch --prometheus http://prometheus:9090 --alertmanager http://alertmanager:9093
  kubepulse watch --prometheus http://prometheus:9090 --shard 0/3 --model models/mine.kpm

Alerts: KubePulseIssuePredicted{severity,issue_type,namespace,target}, fired after --consecutive steps at or
above --on-threshold, resolved after --resolve-after steps below --off-threshold, never from stale data.")]
pub struct Args {
    /// Boxed to keep the subcommand enum small.
    #[command(flatten)]
    pub inner: Box<WatchArgs>,
}

/// The options of `kubepulse watch`.
#[derive(Debug, clap::Args)]
pub struct WatchArgs {
    #[command(flatten)]
    pub prom: PromArgs,
    /// Alertmanager base URL; without it alerts are only logged.
    #[arg(long, env = "KUBEPULSE_ALERTMANAGER_URL", value_name = "URL")]
    pub alertmanager: Option<String>,
    /// File holding a bearer token for Alertmanager.
    #[arg(long, value_name = "FILE")]
    pub alertmanager_bearer_token_file: Option<PathBuf>,
    /// Model bundle (default: the model embedded in the binary). Reloaded in place when the file changes
    /// (see --reload-poll-secs): a model of the same columns, step and window is swapped in atomically.
    #[arg(long, value_name = "FILE")]
    pub model: Option<PathBuf>,
    /// Seconds between checks of the --model file for changes (0: never reload).
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    pub reload_poll_secs: u64,
    /// Query set TOML (default: the built-in set, written out in config/queries.toml).
    #[arg(long, value_name = "FILE")]
    pub queries: Option<PathBuf>,
    /// File holding the bearer token of the UI's feedback action (e.g. a mounted Kubernetes Secret;
    /// else the KUBEPULSE_UI_TOKEN variable). The UI is served beside /metrics at /ui/.
    #[arg(long, env = "KUBEPULSE_UI_TOKEN_FILE", value_name = "PATH")]
    pub ui_token_file: Option<PathBuf>,
    /// Directory where the UI's feedback is written (events.csv, false_alarms.csv, audit.jsonl).
    #[arg(long, env = "KUBEPULSE_FEEDBACK_DIR", value_name = "DIR")]
    pub feedback_dir: Option<PathBuf>,
    /// Address of this process' /metrics.
    #[arg(long, default_value = "0.0.0.0:9464", value_name = "ADDR")]
    pub listen: String,
    /// Watch only the targets of shard i of n (stable hash of the target name).
    #[arg(long, value_name = "i/n", default_value = "0/1")]
    pub shard: Shard,
    /// Probability at or above which a step counts towards firing (default: the model's threshold).
    #[arg(long)]
    pub on_threshold: Option<f64>,
    /// Probability below which a step counts towards resolving (default: 60% of the on-threshold).
    #[arg(long)]
    pub off_threshold: Option<f64>,
    /// Consecutive steps at or above the on-threshold before firing.
    #[arg(long, default_value_t = 2)]
    pub consecutive: u32,
    /// Consecutive steps below the off-threshold before resolving.
    #[arg(long, default_value_t = 3)]
    pub resolve_after: u32,
    /// After a resolve, the same target cannot fire again for this long (model time).
    #[arg(long, default_value = "5m", value_parser = parse::duration_secs)]
    pub cooldown: i64,
    /// A target whose newest data is older than this is stale (default: 3 model steps).
    #[arg(long, value_parser = parse::duration_secs)]
    pub stale_after: Option<i64>,
    /// Re-send firing alerts at least this often.
    #[arg(long, default_value = "1m", value_parser = parse::duration_secs)]
    pub resend_interval: i64,
    /// Simulated seconds per wall second, when watching an accelerated `kubepulse simulate --serve --speed N`.
    #[arg(long, default_value_t = 1.0)]
    pub time_scale: f64,
    /// Runbook link put in every alert.
    #[arg(long, value_name = "URL")]
    pub runbook_url: Option<String>,
    /// This replica's externally reachable URL (alerts' generatorURL).
    #[arg(long, value_name = "URL")]
    pub external_url: Option<String>,
    /// Stop after this many cycles (default: run until SIGINT/SIGTERM).
    #[arg(long)]
    pub cycles: Option<u64>,
    /// Remediation policy (TOML, see docs/remediation.md): each cycle's predictions go through the agent,
    /// every decision audited (log line `remediation decision`, kubepulse_remediation_decisions_total).
    /// Needs the cluster it acts on: --remediate-sim URL or --remediate-kube.
    #[arg(long, value_name = "POLICY", requires = "remediation_executor")]
    pub remediate: Option<PathBuf>,
    /// The cluster the agent reads and acts on: a simulator's live exporter (`kubepulse simulate --serve`),
    /// e.g. http://127.0.0.1:9101.
    #[arg(
        long,
        value_name = "URL",
        requires = "remediate",
        group = "remediation_executor"
    )]
    pub remediate_sim: Option<String>,
    /// The cluster the agent reads and acts on: the Kubernetes API (in-cluster service account, or
    /// --kubeconfig/--context). It reads and acts in the namespaces the policy lists and those
    /// labelled `kubepulse.io/remediate: enabled` (with the policy's [defaults]; each needs the
    /// remediation Role, deploy/kustomize/components/remediate) and on nodes when the policy's
    /// `[nodes] cordon_drain` is above `observe` (the ClusterRole of components/remediate-nodes).
    /// The annotation `kubepulse.io/remediate-kill-switch: "true"` on its own namespace stops every
    /// change while it is there.
    #[arg(long, requires = "remediate", group = "remediation_executor")]
    pub remediate_kube: bool,
    /// The namespace whose annotation `kubepulse.io/remediate-kill-switch: "true"` stops the agent
    /// (default: its own — the service account's namespace in a pod, else the kubeconfig context's).
    #[arg(long, value_name = "NAMESPACE", requires = "remediate_kube")]
    pub kill_switch_namespace: Option<String>,
    /// kubeconfig for --remediate-kube (default: KUBECONFIG or ~/.kube/config, else the in-cluster
    /// service account).
    #[arg(long, value_name = "FILE", requires = "remediate_kube")]
    pub kubeconfig: Option<PathBuf>,
    /// kubeconfig context for --remediate-kube (default: its current-context).
    #[arg(long, value_name = "NAME", requires = "remediate_kube")]
    pub context: Option<String>,
    /// Appends every action the agent applies on a prediction to FILE (CSV in the events.csv format:
    /// target, start, end, issue_type = the action kind; created with its header if absent), the period
    /// running from the action for the longer of the policy's verify_after and the model's horizon.
    /// `kubepulse train --mitigated FILE` leaves the windows around them out of retraining.
    #[arg(long, value_name = "FILE", requires = "remediate")]
    pub mitigated: Option<PathBuf>,
    /// How long an action in `approve` mode waits for an approval (cluster time).
    #[arg(long, default_value = "15m", value_parser = parse::duration_secs)]
    pub approval_expiry: i64,
    /// What becomes of a model metric the query set does not define: `error` (default: named at start),
    /// or `nan`: never queried and predicted on as missing values throughout, for a model trained with
    /// missing values (warned about at start).
    #[arg(long, value_enum, default_value_t = super::MissingArg::Error)]
    pub missing_columns: super::MissingArg,
}

/// Runs `kubepulse watch`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let args = *args.inner;
    // Cheap checks first, so a typo is one clear line before anything slow happens.
    let queries = load_queries(args.queries.as_ref())?;
    let prom = args.prom.config()?;
    if !(args.time_scale > 0.0 && args.time_scale.is_finite()) {
        anyhow::bail!("--time-scale must be positive, not {}", args.time_scale);
    }
    if let (Some(on), Some(off)) = (args.on_threshold, args.off_threshold) {
        Hysteresis {
            on_threshold: on,
            off_threshold: off,
            consecutive_on: args.consecutive,
            consecutive_off: args.resolve_after,
            cooldown_secs: args.cooldown as f64,
        }
        .check()?;
    }
    let alertmanager = match &args.alertmanager {
        Some(url) => {
            let mut am = AlertmanagerConfig::new(url);
            am.timeout = Duration::from_secs(10);
            if let Some(path) = &args.alertmanager_bearer_token_file {
                let token = std::fs::read_to_string(path).with_context(|| {
                    format!("--alertmanager-bearer-token-file {}", path.display())
                })?;
                am.auth = Auth::Bearer(token.trim().to_string());
            }
            am.ca_pem = match &args.prom.ca_file {
                Some(p) => {
                    Some(std::fs::read(p).with_context(|| format!("--ca-file {}", p.display()))?)
                }
                None => None,
            };
            AlertmanagerClient::new(am.clone())?;
            Some(am)
        }
        None => None,
    };

    let policy = match &args.remediate {
        Some(path) => Some(remediate::Policy::load(path)?),
        None => None,
    };
    let simulator = match &args.remediate_sim {
        Some(url) => Some(
            remediate::http::HttpExecutor::new(url, Duration::from_secs(10))
                .context("--remediate-sim")?,
        ),
        None => None,
    };
    let kill_switch_namespace = args.kill_switch_namespace.clone();
    let kube = args.remediate_kube.then(|| cluster::Connection {
        kubeconfig: args.kubeconfig.clone(),
        context: args.context.clone(),
    });

    let reloading = match &args.model {
        Some(path) if args.reload_poll_secs > 0 => Some(Arc::new(
            watch::reload::ReloadingModel::load(path)
                .with_context(|| format!("--model {}", path.display()))?,
        )),
        _ => None,
    };
    let model = match (&reloading, &args.model) {
        (Some(r), _) => (*r.current()).clone(),
        (None, Some(path)) => ModelBundle::load(path)?,
        (None, None) => ModelBundle::embedded().context("the embedded model")?,
    };
    let info = model.info().clone();
    let on = args.on_threshold.unwrap_or(info.threshold);
    let hysteresis = Hysteresis {
        on_threshold: on,
        off_threshold: args.off_threshold.unwrap_or(on * 0.6),
        consecutive_on: args.consecutive,
        consecutive_off: args.resolve_after,
        cooldown_secs: args.cooldown as f64,
    }
    .check()?;
    let mut options = WatchOptions::new(queries, hysteresis, info.step_secs);
    options.shard = args.shard;
    options.time_scale = args.time_scale;
    options.stale_after_secs =
        args.stale_after.unwrap_or(3 * info.step_secs) as f64 / args.time_scale;
    options.resend_interval_secs = args.resend_interval as f64;
    options.missing_columns = args.missing_columns.into();
    options.follow_model_threshold =
        reloading.is_some() && args.on_threshold.is_none() && args.off_threshold.is_none();
    if let Some(url) = args.runbook_url {
        options.runbook_url = url;
    }
    if let Some(url) = args.external_url {
        options.generator_url = format!("{}/metrics", url.trim_end_matches('/'));
        options.dashboard_url = url.trim_end_matches('/').to_string();
    }
    let config = WatchConfig {
        prom,
        alertmanager,
        listen: args.listen,
        options,
        max_cycles: args.cycles,
        alert_queue_capacity: 10_000,
        feedback: crate::cmd::serve::feedback_config(
            args.ui_token_file.as_deref(),
            args.feedback_dir.as_deref(),
        )?,
        model_file: args.model.clone(),
        reload_poll: (args.reload_poll_secs > 0)
            .then(|| Duration::from_secs(args.reload_poll_secs)),
    };
    let window_points = (info.window_secs / info.step_secs).max(1) as usize;
    let approval_expiry = args.approval_expiry;
    let poll = Duration::from_secs(args.reload_poll_secs);
    let mitigation_log = match (&args.mitigated, &policy) {
        (Some(path), Some(policy)) => Some(remediate::mitigated::MitigationLog::new(
            path,
            remediate::mitigated::MitigationLog::span_secs(
                policy.verify_after_secs,
                info.horizon_secs,
            ),
        )),
        _ => None,
    };
    crate::runtime::block_on_until_signal(|shutdown| async move {
        // The Kubernetes client lives on the runtime that uses it: built here, not before.
        let executor: Option<Box<dyn remediate::LiveExecutor>> = match (simulator, kube, &policy) {
            (Some(sim), _, _) => Some(Box::new(sim)),
            (None, Some(connection), Some(policy)) => Some(Box::new(
                kube_executor(&connection, policy, kill_switch_namespace.as_deref()).await?,
            )),
            _ => None,
        };
        let agent = match (policy, executor) {
            (Some(policy), Some(executor)) => {
                let agent = remediate::live::LiveAgent::new(
                    policy,
                    executor,
                    window_points,
                    info.step_secs,
                    approval_expiry,
                );
                Some(match mitigation_log {
                    Some(log) => agent.with_mitigation_log(log),
                    None => agent,
                })
            }
            _ => None,
        };
        match reloading {
            Some(reloading) => {
                let predictor: Arc<dyn watch::live::Predictor> = reloading.clone();
                // The reload loop ends with the watcher (it holds no state worth a shutdown).
                tokio::select! {
                    r = run_remediating(config, predictor, agent, shutdown.recv()) => r?,
                    () = watch::reload::watch_file(reloading, poll, std::future::pending()) => {}
                }
            }
            None => run_remediating(config, Arc::new(model), agent, shutdown.recv()).await?,
        }
        anyhow::Ok(())
    })??;
    Ok(())
}

/// The Kubernetes executor of `--remediate-kube`: the namespaces the policy lists (and, each cycle,
/// those labelled `kubepulse.io/remediate: enabled`), the nodes when its `[nodes] cordon_drain` mode
/// is above `observe`; the kill switch read on `kill_switch_namespace` (default: the client's
/// namespace); Events name this pod (`HOSTNAME`).
async fn kube_executor(
    connection: &cluster::Connection,
    policy: &remediate::Policy,
    kill_switch_namespace: Option<&str>,
) -> anyhow::Result<cluster::remediation::KubeExecutor> {
    let client = connection.client().await.context("--remediate-kube")?;
    let namespaces: Vec<String> = policy.namespaces.keys().cloned().collect();
    let nodes = policy.nodes != remediate::Mode::Observe;
    let instance = std::env::var("HOSTNAME").unwrap_or_else(|_| "kubepulse-watch".to_string());
    let executor = cluster::remediation::KubeExecutor::new(client, namespaces, nodes, &instance);
    let executor = match kill_switch_namespace {
        Some(ns) => executor.kill_switch_on(ns),
        None => executor,
    };
    tracing::info!(
        namespace = executor.kill_switch_namespace(),
        "remediation: the annotation {} = \"true\" on this namespace stops every change",
        cluster::remediation::KILL_SWITCH
    );
    Ok(executor)
}

#[cfg(test)]
mod tests {
    use crate::cmd::tests::error_of;

    #[test]
    fn bad_input_gives_one_clear_line() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}");
        // Prometheus down is not a start-up error: watch starts, retries, and stays up.
        let cli = <crate::Cli as clap::Parser>::try_parse_from([
            "kubepulse",
            "watch",
            "--prometheus",
            &url,
            "--retries",
            "0",
            "--listen",
            "127.0.0.1:0",
            "--cycles",
            "1",
        ])
        .unwrap();
        assert!(
            crate::run(cli).is_ok(),
            "watch must start without Prometheus"
        );
        let e = error_of(&["kubepulse", "watch", "--prometheus", &url, "--shard", "4/3"]);
        assert!(e.contains("shard"), "{e}");
        let e = error_of(&[
            "kubepulse",
            "watch",
            "--prometheus",
            &url,
            "--on-threshold",
            "0.3",
            "--off-threshold",
            "0.5",
        ]);
        assert!(e.contains("off threshold") && !e.contains('\n'), "{e}");
        let e = error_of(&[
            "kubepulse",
            "watch",
            "--prometheus",
            &url,
            "--alertmanager",
            "am:9093",
            "--retries",
            "0",
        ]);
        assert!(e.contains("Alertmanager"), "{e}");
        let e = error_of(&["kubepulse", "watch", "--prometheus", "localhost:9090"]);
        assert!(
            e.contains("invalid Prometheus URL") && !e.contains('\n'),
            "{e}"
        );
        let e = error_of(&[
            "kubepulse",
            "watch",
            "--prometheus",
            &url,
            "--time-scale",
            "0",
        ]);
        assert!(e.contains("--time-scale"), "{e}");
    }

    #[test]
    fn remediate_needs_a_valid_policy_and_an_executor() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path.to_str().unwrap().to_string()
        };
        let bad = write(
            "bad.toml",
            "min_probability = 0.5\n[defaults]\nscale_out = \"sometimes\"\n",
        );
        let good = write("good.toml", "[namespaces.shop]\n");
        let broken_kubeconfig = write("broken-kubeconfig", "not: [a kubeconfig");
        let url = "http://127.0.0.1:9";
        // (the flags after `--prometheus URL`, what the error must say)
        let cases: [(&[&str], &[&str]); 6] = [
            (
                &["--remediate", &bad, "--remediate-sim", url],
                &["line 3", "scale_out"],
            ),
            (&["--remediate", &good], &["--remediate-sim"]),
            (
                &["--remediate", &good, "--remediate-sim", "127.0.0.1:9101"],
                &["--remediate-sim", "not a URL"],
            ),
            // Both executors at once: one cluster only.
            (
                &[
                    "--remediate",
                    &good,
                    "--remediate-sim",
                    url,
                    "--remediate-kube",
                ],
                &["cannot be used with"],
            ),
            (
                &[
                    "--remediate",
                    &good,
                    "--remediate-kube",
                    "--kubeconfig",
                    &broken_kubeconfig,
                ],
                &["--remediate-kube", "kubeconfig"],
            ),
            (&["--remediate-kube"], &["--remediate"]),
        ];
        for (flags, says) in cases {
            let mut args = vec!["kubepulse", "watch", "--prometheus", url];
            args.extend_from_slice(flags);
            let e = error_of(&args);
            assert!(says.iter().all(|s| e.contains(s)), "{flags:?}: {e}");
        }
    }

    /// A query set lacking one of the model's columns: named at start by default; with
    /// `--missing-columns nan` watch starts (the column fed as missing values).
    #[test]
    fn a_column_the_query_set_lacks_is_an_error_unless_fed_as_missing_values() {
        let model = learn::bundle::ModelBundle::embedded().unwrap();
        let dropped = model.info().metrics[0].clone();
        let text = ::collect::queries::builtin_toml();
        let blocks: Vec<&str> = text.split("\n[[column]]").collect();
        let kept: Vec<&str> = blocks
            .iter()
            .copied()
            .filter(|b| !b.contains(&format!("\nname = \"{dropped}\"\n")))
            .collect();
        assert_eq!(kept.len() + 1, blocks.len(), "one column block dropped");
        let dir = tempfile::tempdir().unwrap();
        let queries = dir.path().join("queries.toml");
        std::fs::write(&queries, kept.join("\n[[column]]")).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}");
        let queries = queries.to_str().unwrap();
        let argv = |extra: &[&'static str]| {
            let mut argv = vec![
                "kubepulse",
                "watch",
                "--prometheus",
                &url,
                "--queries",
                queries,
                "--retries",
                "0",
                "--listen",
                "127.0.0.1:0",
                "--cycles",
                "1",
            ];
            argv.extend_from_slice(extra);
            argv.into_iter().map(String::from).collect::<Vec<_>>()
        };
        let default = argv(&[]);
        let e = error_of(&default.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(
            e.contains("lacks 1 of the model's") && e.contains(&format!("`{dropped}`")),
            "{e}"
        );
        assert!(!e.contains('\n'), "one line: {e}");
        let nan = argv(&["--missing-columns", "nan"]);
        let cli = <crate::Cli as clap::Parser>::try_parse_from(&nan).unwrap();
        crate::run(cli).expect("watch starts with the column fed as missing values");
    }
}
