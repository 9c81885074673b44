//! The learning pipeline: dataset → window → features → model → prediction; training and backtests.

// Library code reports through `tracing` and its return values; only the binary prints.
#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod columns;
pub mod context;
pub mod data_dirs;
pub mod dataset;
pub mod error;
pub mod features;
pub mod labels;
mod nan_null;
pub mod scoring;
pub mod shard;
pub mod signal;
/// Timestamps: unix seconds or RFC 3339 in, unix seconds (UTC) everywhere inside (the workspace's one parser).
pub use timeline::time as timestamp;
pub mod trailing;
pub mod window;

pub use error::LearnError;
pub use timeline::{Incident, IncidentSource, check_issue_type};
pub mod anomaly;
pub mod baselines;
pub mod bundle;
pub mod card;
pub mod eval;
pub mod eval_stream;
pub mod false_alarms;
pub mod figures;
pub mod gate;
#[cfg(feature = "metrics")]
pub mod gate_metrics;
pub mod holdout;
pub mod memory;
pub mod mitigated;
pub mod model;
pub mod onset;
pub mod pipeline;
#[cfg(feature = "plots")]
pub mod plots;
pub mod prediction;
pub mod progress;
pub mod quote;
pub mod relative;
pub mod report;
pub mod snapshot;
pub mod stream;
pub mod warnings;
