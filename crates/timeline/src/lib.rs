//! The vocabulary every crate shares about time: one parser for timestamps and durations
//! ([`time`]) and one [`Incident`] type ([`incident`]), used by the simulator, the dataset reader,
//! `collect`, the Kubernetes label sources and the evaluation alike.
//!
//! It depends on nothing of the workspace, so `sim` and `learn` can both use it without a cycle.

pub mod incident;
pub mod time;

pub use incident::{Incident, IncidentSource, check_issue_type};
pub use time::{TimeError, parse_duration_secs, parse_timestamp};
