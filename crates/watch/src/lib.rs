//! The live loop of `kubepulse watch`: predictions every step, their metrics, and alerts.
//!
//! - [`live`]: the watch loop (per-target windows, staleness, predictions, alerts; the remediation
//!   agent with `--remediate`).
//! - [`actions`]: the remediation agent's API (`/api/v1/actions`: list, approve, deny).
//! - [`hysteresis`]: when a stream of probabilities becomes a firing or resolved alert.
//! - [`alertmanager`]: the Alertmanager v2 client with a bounded retry queue.
//! - [`metrics`]: the watcher's own `/metrics`.
//! - [`model`]: `learn`'s model bundle as the [`live::Predictor`].
//! - [`reload`]: the model file swapped in place when the retraining loop publishes a new one.
//! - [`throttle`]: rate-limited warnings for failures that repeat every cycle.
//!
//! Reading Prometheus (client, query set) lives in the `collect` crate.

// Library code reports through `tracing` and its return values; only the binary prints.
#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod actions;
pub mod alertmanager;
pub mod error;
pub mod hysteresis;
pub mod live;
pub mod metrics;
pub mod model;
pub mod reload;
pub mod throttle;

pub use error::WatchError;
