//! `kubepulse serve` end to end: load the model, listen, serve until the shutdown future resolves.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use tokio::net::TcpListener;

use learn::bundle::ModelBundle;
use ui::{FeedbackStore, FleetHistory, HistoryConfig, UiState};

use crate::bundle::load_model;
use crate::demo::{DemoCluster, DemoError};
use crate::predictor::LoadedModel;
use crate::reload::Loader;
use crate::server::{ServeConfig, ServeError, run_until};
use crate::simulator::{SimSnapshots, SnapshotSource};
use crate::state::AppState;

/// Seed of the snapshots a model is checked on before it is served.
const CHECK_SEED: u64 = 7;

/// Loads the configured model (embedded unless `--model`), checks it on simulated snapshots, and
/// builds the service state with the simulator; the UI lists no target (no demo cluster runs).
pub fn state(config: &ServeConfig) -> Result<AppState, ServeError> {
    state_with_fleet(config, None)
}

/// [`state`], its UI reading `fleet` (else an empty fleet).
fn state_with_fleet(
    config: &ServeConfig,
    fleet: Option<Arc<FleetHistory>>,
) -> Result<AppState, ServeError> {
    let source_name = config
        .model_path
        .as_ref()
        .map_or_else(|| "embedded".to_owned(), |p| p.display().to_string());
    let model_error = |message: String| ServeError::Model {
        source_name: source_name.clone(),
        message,
    };
    let model = load_model(config.model_path.as_deref()).map_err(model_error)?;
    let snapshots = SimSnapshots;
    model
        .validate(&snapshots.generate(8, CHECK_SEED))
        .map_err(model_error)?;
    let state = AppState::new(Some(model), Arc::new(snapshots), config.limits.clone());
    let fleet = fleet.unwrap_or_else(|| {
        Arc::new(FleetHistory::new(HistoryConfig {
            source: "no demo cluster (--no-demo, or the model does not fit the simulator)".into(),
            ..HistoryConfig::default()
        }))
    });
    let feedback = FeedbackStore::new(config.feedback.clone()).map_err(ServeError::Feedback)?;
    state.set_ui(UiState::new(fleet, Arc::new(feedback)));
    Ok(state)
}

/// The demo cluster of `config`, stepped up to now; `None` when disabled, or when the model does not
/// fit the simulator's columns (a model trained on other data: logged, the service runs without it).
fn demo(config: &ServeConfig) -> Result<Option<DemoCluster>, ServeError> {
    let Some(demo) = &config.demo else {
        return Ok(None);
    };
    let bundle = match &config.model_path {
        Some(path) => ModelBundle::load(path),
        None => ModelBundle::embedded(),
    }
    .map_err(|e| ServeError::Model {
        source_name: config
            .model_path
            .as_ref()
            .map_or_else(|| "embedded".to_owned(), |p| p.display().to_string()),
        message: e.to_string(),
    })?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    match DemoCluster::new(demo, Arc::new(bundle), now) {
        Ok(cluster) => Ok(Some(cluster)),
        Err(DemoError::Model(message)) => {
            tracing::warn!(%message, "no demo cluster: the model does not fit the simulator");
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// Runs the service until `shutdown` resolves (the binary passes SIGTERM/SIGINT); `on_listen` is
/// called once the socket is bound and the model loaded (the CLI prints the address there).
pub async fn run(
    config: &ServeConfig,
    on_listen: impl FnOnce(SocketAddr, &LoadedModel),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let started = Instant::now();
    {
        let demo = demo(config)?;
        let state = state_with_fleet(config, demo.as_ref().map(DemoCluster::history))?;
        // Runs until this scope ends (after the server stopped).
        let _demo = demo.map(DemoCluster::spawn);
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| ServeError::Listen {
                    addr: config.listen,
                    source,
                })?;
        let addr = listener.local_addr()?;
        if let Some(served) = state.model().as_deref() {
            on_listen(addr, &served.model);
        }
        tracing::info!(%addr, startup_ms = started.elapsed().as_millis() as u64, "listening");
        let watch = config.model_path.clone().map(|path| {
            let loader: Loader = Arc::new(|p: &std::path::Path| load_model(Some(p)));
            (path, loader, config.reload_poll)
        });
        run_until(listener, state, config.connections.clone(), watch, shutdown).await
    }
}
