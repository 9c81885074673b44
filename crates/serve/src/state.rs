//! The state shared by every request: the current model (swappable without locks), the snapshot
//! generator, the metrics and the limits.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::{ArcSwapOption, Guard};
use prometheus_client::metrics::counter::Counter;

use crate::metrics::Metrics;
use crate::predictor::LoadedModel;
use crate::simulator::SnapshotSource;

/// Limits and overrides of the service (flags / `KUBEPULSE_*` variables of `kubepulse serve`).
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Overrides the model's decision threshold on `issue_probability` (0–1); `None` keeps the model's.
    pub threshold: Option<f64>,
    /// Largest accepted request body, bytes.
    pub body_limit_bytes: usize,
    /// A request body must arrive within this long of the handler starting to read it (default 30 s);
    /// else 408 `body_timeout` and the connection closes.
    pub body_timeout: std::time::Duration,
    /// Largest `count` of `GET /simulate/{count}`.
    pub simulate_max: u32,
    /// Most items in one `POST /predict/batch`.
    pub batch_max: usize,
    /// Seed of the first simulated snapshot; each simulation uses the next seed.
    pub seed: u64,
    /// What becomes of a model metric a window lacks: a 400 naming it (default), or missing values
    /// (NaN) throughout, listed in the prediction's `missing_metrics`.
    pub missing_columns: learn::columns::MissingColumns,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            threshold: None,
            body_limit_bytes: 1024 * 1024,
            body_timeout: std::time::Duration::from_secs(30),
            simulate_max: 1000,
            batch_max: 1000,
            seed: 42,
            missing_columns: learn::columns::MissingColumns::Error,
        }
    }
}

/// A model in service plus the prediction counters of its issue types (cached, so counting a
/// prediction is one atomic add).
#[derive(Debug)]
pub struct ServedModel {
    /// The model.
    pub model: LoadedModel,
    counters: Vec<(String, Counter)>,
    /// The OpenAPI document with this model's metric names (the window form's samples), as JSON text.
    openapi: String,
}

impl ServedModel {
    /// Counts one prediction of this issue type.
    pub fn count_prediction(&self, metrics: &Metrics, issue_type: &str) {
        match self.counters.iter().find(|(t, _)| t == issue_type) {
            Some((_, counter)) => {
                counter.inc();
            }
            None => {
                metrics.prediction_counter(issue_type).inc();
            }
        }
    }
}

/// The state shared by every request; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Shared>,
}

struct Shared {
    model: ArcSwapOption<ServedModel>,
    snapshots: Arc<dyn SnapshotSource>,
    metrics: Metrics,
    limits: Limits,
    next_seed: AtomicU64,
    /// The OpenAPI document under these limits while no model is in service, built on first request.
    openapi: std::sync::OnceLock<String>,
    /// The fleet UI's state, when the UI is served.
    ui: std::sync::OnceLock<ui::UiState>,
}

impl AppState {
    /// A state serving `model` (or none yet: predictions answer 503 until one is installed).
    pub fn new(
        model: Option<LoadedModel>,
        snapshots: Arc<dyn SnapshotSource>,
        limits: Limits,
    ) -> Self {
        let state = AppState {
            inner: Arc::new(Shared {
                model: ArcSwapOption::empty(),
                snapshots,
                metrics: Metrics::new(),
                next_seed: AtomicU64::new(limits.seed),
                limits,
                openapi: std::sync::OnceLock::new(),
                ui: std::sync::OnceLock::new(),
            }),
        };
        if let Some(model) = model {
            state.install_model(model);
        }
        state
    }

    /// The model in service right now (an atomic load; no lock).
    pub fn model(&self) -> Guard<Option<Arc<ServedModel>>> {
        self.inner.model.load()
    }

    /// The model in service right now, as an owned handle (for work moved to another thread).
    pub fn model_arc(&self) -> Option<Arc<ServedModel>> {
        self.inner.model.load_full()
    }

    /// Puts `model` in service; requests already running finish with the previous one.
    pub fn install_model(&self, model: LoadedModel) {
        let mut types: Vec<&str> = model.info.issue_types.iter().map(String::as_str).collect();
        types.push("normal");
        let counters = types
            .into_iter()
            .map(|t| (t.to_owned(), self.inner.metrics.prediction_counter(t)))
            .collect();
        self.inner
            .metrics
            .set_model(&model.info.name, &model.info.version);
        tracing::info!(
            name = %model.info.name,
            version = %model.info.version,
            source = %model.source,
            "model in service"
        );
        let openapi = crate::openapi::document_json(&self.inner.limits, Some(&model.info));
        self.inner.model.store(Some(Arc::new(ServedModel {
            model,
            counters,
            openapi,
        })));
    }

    /// The OpenAPI document of this service (its bounds are these limits', its window form's metric
    /// names the model's in service), as JSON text.
    pub fn openapi_document(&self) -> String {
        match &*self.model() {
            Some(served) => served.openapi.clone(),
            None => self
                .inner
                .openapi
                .get_or_init(|| crate::openapi::document_json(&self.inner.limits, None))
                .clone(),
        }
    }

    /// Serves the fleet UI from `ui` (once; later calls are ignored).
    pub fn set_ui(&self, ui: ui::UiState) {
        let _ = self.inner.ui.set(ui);
    }

    /// The fleet UI's routes (none until [`AppState::set_ui`]), merged into the service's router.
    pub fn ui_router(&self) -> axum::Router<AppState> {
        match self.inner.ui.get() {
            Some(ui) => ui::router(ui.clone()),
            None => axum::Router::new(),
        }
    }

    /// The snapshot generator.
    pub fn snapshots(&self) -> &dyn SnapshotSource {
        self.inner.snapshots.as_ref()
    }

    /// The service's metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The limits.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// A fresh seed for one simulation (the configured seed, then +1 per call).
    pub fn next_seed(&self) -> u64 {
        self.inner.next_seed.fetch_add(1, Ordering::Relaxed)
    }
}
