//! The HTTP prediction service (`kubepulse serve`).
//!
//! Compatible with the original Flask service's API (`POST /predict`, `GET /simulate/{count}`,
//! `/health`), and better: explanations, time to issue, a window form, batches, `/metrics`, `/model`,
//! `/openapi.json`, and the fleet UI (`ui`) on a simulated demo cluster running in time ([`demo`]). See `docs/api.md` for the routes and shapes.
//!
//! The HTTP layer talks to the model through the [`predictor::Predictor`] trait and to the simulator
//! through [`simulator::SnapshotSource`]; the shipped service uses `learn`'s model bundle
//! ([`bundle`]) and `sim`'s snapshot generator.
//!
//! Built like mini-redis: [`router`] builds the whole service from an [`AppState`] (tests drive it with
//! `oneshot`), and [`serve`] runs it on a listener until a shutdown future resolves.

// Library code reports through `tracing` and its return values; only the binary prints.
#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod api;
pub mod app;
pub mod bundle;
pub mod connection;
mod de;
pub mod demo;
pub mod error;
mod extract;
pub mod metrics;
pub mod openapi;
pub mod predictor;
pub mod reload;
mod routes;
pub mod server;
pub mod simulator;
pub mod state;
pub mod timestamp;

pub use error::ApiError;
pub use server::{ConnectionLimits, ServeConfig, ServeError, router, serve, serve_with};
pub use state::{AppState, Limits};
