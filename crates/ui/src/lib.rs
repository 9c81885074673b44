//! The fleet web UI of KubePulse, served by `watch` (beside its `/metrics`) and by `serve` (on its
//! simulated demo cluster).
//!
//! - [`fleet`]: what the UI shows and the one seam it reads it through, [`fleet::FleetSource`];
//! - [`history`]: [`history::FleetHistory`], the bounded per-target history both hosts feed each cycle;
//! - [`routes`]: the axum routes (page, assets, JSON API) a host merges in one line;
//! - [`feedback`]: "confirmed" / "false alarm" stored as labels, behind a bearer token, audited;
//! - [`openapi`]: the JSON API's OpenAPI description, merged into the host's.
//!
//! The page is plain HTML/CSS/JS embedded in the binary ([`assets`]): no CDN, no build step.

// Library code reports through `tracing` and its return values; only the binary prints.
#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod assets;
pub mod error;
pub mod feedback;
pub mod fleet;
pub mod history;
pub mod openapi;
pub mod routes;

pub use error::UiError;
pub use feedback::{FeedbackConfig, FeedbackStore};
pub use fleet::{AlertState, FleetSource};
pub use history::{FleetHistory, HistoryConfig, Observation};
pub use routes::{UiState, router};
