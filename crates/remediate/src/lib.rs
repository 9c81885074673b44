//! The remediation agent: acts before a predicted failure, under safety rules.
//!
//! A pure core ([`decide::decide`]) turns predictions (`learn::prediction::Prediction`), the cluster's
//! state ([`state::ClusterState`]), a checked [`policy::Policy`], the time and the agent's
//! [`history::History`] into [`action::Decision`]s; each is audited ([`audit::Audit`]). Executors
//! ([`executor::Executor`]) apply the decisions that say so: the simulator's (`simulated`), used by the
//! closed-loop evaluation (`closed_loop`) that runs model + agent in the simulator against the same seed
//! without them (both behind the default feature `sim`). In the live loop ([`live`], `kubepulse watch
//! --remediate`) a [`executor::LiveExecutor`] reads the cluster and applies: the simulator's live
//! exporter over HTTP ([`http`]), or the Kubernetes API (`cluster::remediation::KubeExecutor`, which owns
//! every API call).

// Library code reports through its return values; only the binary prints.
#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod action;
pub mod audit;
#[cfg(feature = "sim")]
pub mod closed_loop;
pub mod decide;
pub mod error;
pub mod executor;
pub mod history;
pub mod http;
pub mod live;
pub mod mitigated;
pub mod policy;
#[cfg(feature = "sim")]
pub mod simulated;
pub mod state;

pub use action::{Action, Cause, Decision, Outcome, SkipReason, Trigger};
pub use audit::Audit;
pub use decide::decide;
pub use error::RemediateError;
pub use executor::{Effect, Executor, LiveExecutor};
pub use history::History;
pub use policy::{ActionKind, Mode, Policy};
pub use state::ClusterState;
