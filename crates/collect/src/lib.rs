//! Ingest: everything that reads a cluster's history out of Prometheus, for `kubepulse collect`
//! (batch, to a dataset) and `kubepulse watch` (live).
//!
//! - [`prom`]: the Prometheus query API client (chunked, bounded, retried, authenticated).
//! - [`queries`]: the query set (built in: generated from the `catalog` crate), target naming and sharding.
//! - [`dataset`]: `collect`, Prometheus history → a dataset directory (resumable).
//! - [`doctor`]: what a Prometheus holds of the data a model needs, and what the model will miss.
//! - [`incidents`]: merging incident labels from several sources, with precedence.
//!
//! No alerting and no live loop here: `cluster` builds on this crate without pulling in `watch`.

// Library code reports through `tracing` and its return values; only the binary prints.
#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod dataset;
pub mod doctor;
pub mod error;
pub mod incidents;
pub mod prom;
pub mod queries;

pub use dataset::{CollectOptions, CollectSummary, collect};
pub use error::CollectError;
