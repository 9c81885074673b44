//! Building the router and running it on a listener until shutdown (mini-redis style).

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use crate::connection::ConnectionLimits;
use crate::error::error_response;
use crate::openapi::ApiDoc;
use crate::reload::Loader;
use crate::routes::{ops, predict, simulate};
use crate::state::{AppState, Limits};

/// Everything `kubepulse serve` is configured with (flags / `KUBEPULSE_*` variables).
#[derive(Debug, Clone, PartialEq)]
pub struct ServeConfig {
    /// Address to listen on (default `0.0.0.0:5000`, as the original service).
    pub listen: SocketAddr,
    /// A model bundle file to serve instead of the embedded default model.
    pub model_path: Option<PathBuf>,
    /// How often to check the model file for changes (`None`: only on SIGHUP).
    pub reload_poll: Option<Duration>,
    /// Limits and overrides.
    pub limits: Limits,
    /// Connection timeouts, the connection limit and the shutdown deadline.
    pub connections: ConnectionLimits,
    /// The simulated demo cluster the UI shows (`None`: no demo, the UI lists nothing).
    pub demo: Option<crate::demo::DemoConfig>,
    /// Feedback token and directory of the UI.
    pub feedback: ui::FeedbackConfig,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            listen: SocketAddr::from(([0, 0, 0, 0], 5000)),
            model_path: None,
            reload_poll: Some(Duration::from_secs(2)),
            limits: Limits::default(),
            connections: ConnectionLimits::default(),
            demo: Some(crate::demo::DemoConfig::default()),
            feedback: ui::FeedbackConfig::default(),
        }
    }
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The model could not be loaded or failed its self-check.
    #[error("cannot load the model from {source_name}: {message}")]
    Model {
        /// "embedded" or the path.
        source_name: String,
        /// What went wrong.
        message: String,
    },
    /// The listening socket failed.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
    /// The demo cluster could not start.
    #[error(transparent)]
    Demo(#[from] crate::demo::DemoError),
    /// The feedback directory could not be created.
    #[error("cannot use the feedback directory: {0}")]
    Feedback(std::io::Error),
    /// The server stopped with an I/O error.
    #[error("the server failed: {0}")]
    Io(#[from] std::io::Error),
}

/// The route table: every route of the service, once. A route's path and methods are its handler's
/// `#[utoipa::path]`, which also documents it; the router ([`router`]), the OpenAPI document
/// ([`crate::openapi::document`]) and the `route` label of the request metrics ([`route_templates`]) are
/// all read from this table.
pub fn route_table() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(ops::dashboard))
        .routes(routes!(predict::post_predict, predict::get_predict))
        .routes(routes!(predict::post_batch))
        .routes(routes!(simulate::simulate))
        .routes(routes!(ops::health))
        .routes(routes!(ops::healthz))
        .routes(routes!(ops::readyz))
        .routes(routes!(ops::model))
        .routes(routes!(ops::metrics))
        .routes(routes!(ops::openapi))
}

/// The path templates of [`route_table`] (`/simulate/{count}`, not `/simulate/5`), in a fixed order: the
/// bounded values of the metrics' `route` label besides `other`.
pub fn route_templates() -> &'static [String] {
    static TEMPLATES: LazyLock<Vec<String>> = LazyLock::new(|| {
        // The fleet UI's routes (mounted beside the table by `router`) are bounded templates too.
        let mut api = route_table().into_openapi();
        api.merge(ui::openapi::openapi());
        api.paths.paths.into_keys().collect()
    });
    &TEMPLATES
}

/// The whole HTTP service for a state: the routes of [`route_table`], JSON 404/405, body limit, panic
/// catching, metrics and request spans.
pub fn router(state: AppState) -> Router {
    let body_limit = state.limits().body_limit_bytes;
    let (routes, _) = route_table().split_for_parts();
    routes
        .merge(state.ui_router())
        .fallback(ops::not_found)
        .method_not_allowed_fallback(ops::method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn_with_state(state.clone(), track_request))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request| {
                tracing::debug_span!("request", method = %req.method(), path = %req.uri().path())
            }),
        )
        .with_state(state)
}

/// Counts and times every request by route template (axum's [`MatchedPath`]; `other` when no route
/// matched), method and status. `Router::layer` wraps each route and the fallback, so the path is matched
/// before this runs.
async fn track_request(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let metrics = state.metrics();
    let route = metrics.route(
        req.extensions()
            .get::<MatchedPath>()
            .map(MatchedPath::as_str),
    );
    let method = req.method().clone();
    let start = Instant::now();
    let response = next.run(req).await;
    metrics.observe_request(route, &method, response.status(), start.elapsed());
    response
}

/// A handler panicked: answer JSON 500 (the panic is logged by `tracing`).
fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    tracing::error!(panic = detail, "a request handler panicked");
    error_response(
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error",
        "the server hit a bug while handling this request",
    )
}

/// Serves `state` on `listener` with the default [`ConnectionLimits`] until `shutdown` resolves, then
/// stops accepting and lets in-flight requests finish (for at most the shutdown grace period).
pub async fn serve<F>(listener: TcpListener, state: AppState, shutdown: F) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    serve_with(listener, state, ConnectionLimits::default(), shutdown).await
}

/// [`serve`] under the given connection limits (see [`crate::connection`]).
pub async fn serve_with<F>(
    listener: TcpListener,
    state: AppState,
    limits: ConnectionLimits,
    shutdown: F,
) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    crate::connection::serve_connections(listener, router(state.clone()), state, limits, shutdown)
        .await
}

/// Serves on `listener` until `shutdown` resolves, reloading the model file `watch` names (if any) on
/// SIGHUP and when it changes; in-flight requests finish before this returns (or are dropped at the
/// shutdown deadline of `limits`).
pub async fn run_until(
    listener: TcpListener,
    state: AppState,
    limits: ConnectionLimits,
    watch: Option<(PathBuf, Loader, Option<Duration>)>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let (stop_watch, watch_stopped) = tokio::sync::oneshot::channel::<()>();
    let watcher = watch.map(|(path, loader, poll)| {
        tokio::spawn(crate::reload::watch(
            state.clone(),
            path,
            loader,
            poll,
            async {
                let _ = watch_stopped.await;
            },
        ))
    });
    let result = serve_with(listener, state, limits, shutdown).await;
    let _ = stop_watch.send(());
    if let Some(watcher) = watcher {
        let _ = watcher.await;
    }
    tracing::info!("stopped");
    Ok(result?)
}
