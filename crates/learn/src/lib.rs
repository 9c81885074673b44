//! The learning pipeline: dataset → window → features → model → prediction; training and backtests.

pub mod context;
pub mod dataset;
pub mod error;
pub mod features;
pub mod labels;
pub mod scoring;
pub mod timestamp;
pub mod window;

pub use error::LearnError;
pub mod baselines;
pub mod figures;
pub mod model;
pub mod progress;
