//! The integration tests of `forest`: one test binary (one link), a module per area.

mod common;
mod errors;
mod fit_predict;
mod format;
mod isolation;
mod monotonic;
mod quality;
mod regression;
mod shap;
