//! The live loop: Prometheus client, `collect`, `watch` and Alertmanager alerts.
//!
//! - [`prom`]: the Prometheus query API client (chunked, bounded, retried).
//! - [`alertmanager`]: the Alertmanager v2 client with a bounded retry queue.
//! - [`hysteresis`]: when a stream of probabilities becomes a firing or resolved alert.
//! - [`incidents`]: merging incident labels from several sources, with precedence.

// Library code reports through `tracing` and its return values; only the binary prints.
#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod alertmanager;
pub mod collect;
pub mod error;
pub mod hysteresis;
pub mod incidents;
pub mod live;
pub mod metrics;
pub mod model;
pub mod prom;
pub mod queries;

pub use error::WatchError;
