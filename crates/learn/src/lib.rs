//! The learning pipeline: dataset → window → features → model → prediction; training and backtests.

pub mod context;
pub mod dataset;
pub mod error;
pub mod features;
pub mod labels;
mod nan_null;
pub mod scoring;
pub mod timestamp;
pub mod window;

pub use error::LearnError;
pub mod baselines;
pub mod figures;
pub mod model;
pub mod progress;
pub mod prediction;
pub mod snapshot;
pub mod bundle;
pub mod eval;
pub mod plots;
pub mod report;
pub mod card;
pub mod pipeline;
