//! Hot reload of the model file: on SIGHUP, and when the file's modification time or size changes.
//!
//! A new model is loaded off the async workers, self-checked on simulated snapshots, and swapped in
//! only if it passes; otherwise the model in service stays and the failure is logged and counted
//! (`kubepulse_model_reloads_total{result="rejected"}`).

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::predictor::LoadedModel;
use crate::state::AppState;

/// Loads a model file (the shipped service: `learn`'s bundle; tests: a double).
pub type Loader = Arc<dyn Fn(&Path) -> Result<LoadedModel, String> + Send + Sync>;

/// Seed of the simulated snapshots a new model is checked on.
const CHECK_SEED: u64 = 7;
/// How many simulated snapshots a new model is checked on.
const CHECK_SNAPSHOTS: usize = 16;

/// Loads `path`, checks the model, and puts it in service; on any error the current model stays.
pub fn reload(state: &AppState, path: &Path, loader: &Loader) -> Result<(), String> {
    let result = loader(path).and_then(|model| {
        let samples = state.snapshots().generate(CHECK_SNAPSHOTS, CHECK_SEED);
        model.validate(&samples)?;
        Ok(model)
    });
    match result {
        Ok(model) => {
            state.install_model(model);
            state.metrics().count_reload(true);
            Ok(())
        }
        Err(message) => {
            state.metrics().count_reload(false);
            tracing::error!(path = %path.display(), error = %message,
                "new model rejected; the previous model stays in service");
            Err(message)
        }
    }
}

/// Reads the gate's report beside the model file (`gate.json`) into the metrics
/// ([`learn::gate_metrics::GateMetrics::refresh`]); a report that does not parse is logged and leaves
/// the gauges as they were.
pub fn refresh_gate(state: &AppState, model: &Path) {
    state.metrics().gate().refresh(model);
}

/// What identifies a version of the file: modification time and size.
fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// Watches `path` until `shutdown` resolves: reloads on SIGHUP, and every `poll` if the file changed
/// (`poll = None`: SIGHUP only).
pub async fn watch<F>(
    state: AppState,
    path: PathBuf,
    loader: Loader,
    poll: Option<Duration>,
    shutdown: F,
) where
    F: Future<Output = ()> + Send,
{
    let mut last = stamp(&path);
    refresh_gate(&state, &path);
    #[cfg(unix)]
    let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGHUP; reload by file change only");
            None
        }
    };
    tokio::pin!(shutdown);
    loop {
        #[cfg(unix)]
        let hup = async {
            match hangup.as_mut() {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending().await,
            }
        };
        #[cfg(not(unix))]
        let hup = std::future::pending::<()>();
        let tick = async {
            match poll {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        let forced = tokio::select! {
            () = &mut shutdown => return,
            () = hup => true,
            () = tick => false,
        };
        if forced {
            refresh_gate(&state, &path);
        } else {
            state.metrics().gate().refresh_if_changed(&path);
        }
        let now = stamp(&path);
        if !forced && now == last {
            continue;
        }
        last = now;
        tracing::info!(path = %path.display(), signal = forced, "reloading the model");
        let (state, path, loader) = (state.clone(), path.clone(), loader.clone());
        // Loading parses a file: keep it off the async workers. Errors are logged inside.
        let _ = tokio::task::spawn_blocking(move || reload(&state, &path, &loader)).await;
    }
}
