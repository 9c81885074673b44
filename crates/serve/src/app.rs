//! `kubepulse serve` end to end: load the model, listen, serve until the shutdown future resolves.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use tokio::net::TcpListener;

use crate::bundle::load_model;
use crate::predictor::LoadedModel;
use crate::reload::Loader;
use crate::server::{ServeConfig, ServeError, run_until};
use crate::simulator::{SimSnapshots, SnapshotSource};
use crate::state::AppState;

/// Seed of the snapshots a model is checked on before it is served.
const CHECK_SEED: u64 = 7;

/// Loads the configured model (embedded unless `--model`), checks it on simulated snapshots, and
/// builds the service state with the simulator.
pub fn state(config: &ServeConfig) -> Result<AppState, ServeError> {
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
    Ok(AppState::new(
        Some(model),
        Arc::new(snapshots),
        config.limits.clone(),
    ))
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
        let state = state(config)?;
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
