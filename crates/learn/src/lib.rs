//! The learning pipeline: dataset → window → features → model → prediction; training and backtests.
