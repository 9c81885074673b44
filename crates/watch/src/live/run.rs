//! Running the loop: cycles every query step until shutdown (backing off while Prometheus is down),
//! `/metrics`, `/healthz`, `/readyz`, and the whole `kubepulse watch` setup (`run_configured`).

use std::sync::Arc;

use collect::prom::PromClient;

use super::{Predictor, WatchOptions, Watcher};
use crate::alertmanager::AlertOutbox;
use crate::error::WatchError;
use crate::metrics::WatchMetrics;

/// Serves `/metrics` (OpenMetrics text), `/healthz` (always `ok` while the process runs) and `/readyz`
/// (503 until a cycle has read every query, then 200) until `shutdown` completes.
/// `extra` routes are merged in (the remediation agent's `/api/v1/actions`).
pub async fn serve_metrics(
    listener: tokio::net::TcpListener,
    metrics: Arc<WatchMetrics>,
    ui: Option<ui::UiState>,
    extra: Option<axum::Router>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::routing::get;
    let ready = metrics.clone();
    let app = axum::Router::new()
        .route(
            "/metrics",
            get(move || {
                let metrics = metrics.clone();
                async move {
                    (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        )],
                        metrics.encode(),
                    )
                }
            }),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(move || {
                let ready = ready.is_ready();
                async move {
                    let (status, body) = if ready {
                        (axum::http::StatusCode::OK, r#"{"status":"ready"}"#)
                    } else {
                        (
                            axum::http::StatusCode::SERVICE_UNAVAILABLE,
                            r#"{"status":"waiting","message":"no cycle has read every Prometheus query yet"}"#,
                        )
                    };
                    (
                        status,
                        [(axum::http::header::CONTENT_TYPE, "application/json")],
                        body,
                    )
                }
            }),
        )
        .merge(ui.map_or_else(axum::Router::new, ui::router))
        .merge(extra.unwrap_or_default());
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Longest wait between two cycles while Prometheus answers no query, wall seconds.
pub const MAX_BACKOFF_SECS: f64 = 30.0;

/// Runs cycles every query step until `shutdown` completes or `max_cycles` cycles ran; one cycle's failure
/// never stops the loop. While Prometheus answers no query at all, cycles back off: 2, 4, 8 … steps apart,
/// at most [`MAX_BACKOFF_SECS`].
pub async fn run(
    mut watcher: Watcher,
    max_cycles: Option<u64>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let step = std::time::Duration::from_secs_f64(watcher.query_step_secs());
    let mut ticker = tokio::time::interval(step);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    tokio::pin!(shutdown);
    let mut cycles = 0u64;
    let max_skip = ((MAX_BACKOFF_SECS / step.as_secs_f64()).floor() as u64).max(1);
    let mut failing = 0u32;
    while max_cycles.is_none_or(|m| cycles < m) {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = ticker.tick() => {}
        }
        let report = watcher.cycle(unix_now()).await;
        cycles += 1;
        failing = if report.queries > 0 && report.query_errors == report.queries {
            failing.saturating_add(1)
        } else {
            0
        };
        if failing > 1 {
            let steps = (1u64 << (failing - 1).min(20)).min(max_skip);
            for _ in 1..steps {
                tokio::select! {
                    _ = &mut shutdown => return,
                    _ = ticker.tick() => {}
                }
            }
        }
        for t in &report.fired {
            tracing::info!(target = %t, "alert firing");
        }
        for t in &report.resolved {
            tracing::info!(target = %t, "alert resolved");
        }
        // The heartbeat: one line per cycle (and `kubepulse_watch_heartbeat_timestamp_seconds`).
        tracing::info!(
            targets = report.targets,
            predicted = report.predicted,
            stale = report.stale,
            query_errors = report.query_errors,
            alerts_sent = report.alerts.len(),
            fetch_ms = (report.fetch_secs * 1000.0).round() as u64,
            predict_ms = (report.predict_secs * 1000.0).round() as u64,
            "watch cycle"
        );
    }
}

/// Wall-clock unix seconds.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Everything `kubepulse watch` needs.
#[derive(Debug, Clone)]
pub struct WatchConfig {
    /// How to reach Prometheus.
    pub prom: collect::prom::PromConfig,
    /// How to reach Alertmanager (`None`: alerts are only logged).
    pub alertmanager: Option<crate::alertmanager::AlertmanagerConfig>,
    /// Address of `/metrics`.
    pub listen: String,
    /// Loop behaviour.
    pub options: WatchOptions,
    /// Stop after this many cycles (`None`: until SIGINT/SIGTERM).
    pub max_cycles: Option<u64>,
    /// Pending alerts kept while Alertmanager is unreachable.
    pub alert_queue_capacity: usize,
    /// The UI's feedback token and directory (feedback is off without both).
    pub feedback: ui::FeedbackConfig,
    /// The `--model` file: the retraining gate's report beside it (`gate.json`) is exported as
    /// `kubepulse_gate_*`, read at start and, every `reload_poll`, again when it changed (`None`: the
    /// embedded model, no report).
    pub model_file: Option<std::path::PathBuf>,
    /// How often the model file and the gate's report are checked for a change (`None`: never).
    pub reload_poll: Option<std::time::Duration>,
}

/// Reads the gate's report beside `model` into `metrics` now, then every `poll` when it changed; never
/// returns while it polls (pending at once without a model file or a poll).
async fn follow_gate_report(
    metrics: Arc<WatchMetrics>,
    model: Option<std::path::PathBuf>,
    poll: Option<std::time::Duration>,
) {
    let Some(model) = model else {
        return std::future::pending().await;
    };
    metrics.gate.refresh(&model);
    let Some(poll) = poll else {
        return std::future::pending().await;
    };
    loop {
        tokio::time::sleep(poll).await;
        metrics.gate.refresh_if_changed(&model);
    }
}

/// Checks the setup (the model's columns in the query set, the listen address free), then runs the loop
/// and serves `/metrics` until `shutdown` resolves (the binary passes SIGINT/SIGTERM) or `max_cycles`.
/// Prometheus and Alertmanager need not be up: in a cluster nothing orders their start. Until a cycle
/// reads every query `/readyz` answers 503; failed cycles are retried with backoff and never alert.
pub async fn run_configured(
    config: WatchConfig,
    predictor: Arc<dyn Predictor>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), WatchError> {
    run_remediating(config, predictor, None, shutdown).await
}

/// [`run_configured`] with a remediation agent (`kubepulse watch --remediate`): each cycle's fresh
/// windows and predictions go through it.
pub async fn run_remediating(
    config: WatchConfig,
    predictor: Arc<dyn Predictor>,
    remediation: Option<remediate::live::LiveAgent>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), WatchError> {
    {
        let client = PromClient::new(config.prom.clone())?;
        let metrics = Arc::new(WatchMetrics::new());
        let outbox = match &config.alertmanager {
            Some(am) => Some(AlertOutbox::spawn(
                crate::alertmanager::AlertmanagerClient::new(am.clone())?,
                config.alert_queue_capacity,
                std::time::Duration::from_millis(500),
                std::time::Duration::from_secs(30),
                metrics.clone(),
            )),
            None => None,
        };
        let fleet = Arc::new(ui::FleetHistory::new(ui::HistoryConfig {
            metrics: predictor.shape().metrics,
            threshold: config.options.hysteresis.params().on_threshold,
            source: "kubepulse watch on Prometheus".to_string(),
            ..ui::HistoryConfig::default()
        }));
        let feedback = ui::FeedbackStore::new(config.feedback.clone())
            .map_err(|e| WatchError::Invalid(format!("the feedback directory: {e}")))?;
        let feedback = Arc::new(feedback);
        let ui_state = ui::UiState::new(fleet.clone(), feedback.clone())
            .with_remediation(remediation.is_some());
        let actions = remediation
            .as_ref()
            .map(|agent| crate::actions::router(agent.ledger(), feedback.clone()));
        let mut watcher = Watcher::new(
            client.clone(),
            predictor,
            config.options,
            metrics.clone(),
            outbox,
        )?;
        watcher.set_fleet(fleet);
        if let Some(agent) = remediation {
            tracing::info!(executor = agent.executor_name(), "remediation on");
            watcher.set_remediation(agent);
        }
        let listener = tokio::net::TcpListener::bind(&config.listen)
            .await
            .map_err(|e| WatchError::Invalid(format!("cannot listen on {}: {e}", config.listen)))?;
        let shape = watcher.shape().clone();
        tracing::info!(model = %shape.name, version = %shape.version, prometheus = %config.prom.url,
            listen = %config.listen, queries_per_cycle = watcher.queries_per_cycle(),
            step_secs = watcher.query_step_secs(), "watching");
        let gate = follow_gate_report(metrics.clone(), config.model_file, config.reload_poll);
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut server_stop = stop_rx.clone();
        let server = tokio::spawn(serve_metrics(
            listener,
            metrics,
            Some(ui_state),
            actions,
            async move {
                let _ = server_stop.wait_for(|s| *s).await;
            },
        ));
        tokio::select! {
            () = run(watcher, config.max_cycles, shutdown) => {}
            () = gate => {}
        }
        let _ = stop_tx.send(true);
        let _ = server.await;
        Ok(())
    }
}
