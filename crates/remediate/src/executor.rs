//! The interfaces executors implement: [`Executor`] (synchronous, the closed loop's simulator:
//! `crate::simulated::SimExecutor`) and [`LiveExecutor`] (asynchronous, the live loop's: the simulator's
//! live exporter over HTTP, [`crate::http::HttpExecutor`], and the Kubernetes API's,
//! `cluster::remediation::KubeExecutor`).

use std::future::Future;
use std::pin::Pin;

use crate::action::{Action, Decision, SkipReason};
use crate::error::RemediateError;
use crate::state::ClusterState;

/// Applies the actions of decisions that say so ([`crate::action::Decision::applies`]).
pub trait Executor {
    /// Applies one action; an error leaves the object as it was and is audited as a failure (the
    /// caller then does not record the action in the history).
    fn apply(&mut self, action: &Action) -> Result<(), RemediateError>;
}

/// A boxed future that can move between threads.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a live executor made of an action it did not fail on.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Done: the change is in force (the caller records it). The note, when there is one, says what
    /// is left to finish on later cycles (e.g. evictions the API answered 429 to).
    Done(Option<String>),
    /// Nothing changed, for a reason the cluster gave (a field another manager owns, a denied
    /// permission): audited as skipped, not recorded.
    Skipped(SkipReason),
    /// The change cannot be made this way on this cluster: this recommendation (an
    /// [`Action::Recommend`] with the exact patch) is audited instead, not recorded.
    Recommended(Action),
}

/// A cluster the live loop reads and acts on.
pub trait LiveExecutor: Send + Sync {
    /// Its name in logs and errors (`simulator`, `kubernetes`).
    fn name(&self) -> &'static str;
    /// The cluster's objects now (workloads, HPAs, limits, rollouts, nodes); signals are left unknown:
    /// the live loop sets them from the model's windows.
    fn state(&self) -> BoxFuture<'_, Result<ClusterState, RemediateError>>;
    /// Applies one action; an error leaves the object as it was and is audited as a failure.
    fn apply<'a>(&'a self, action: &'a Action) -> BoxFuture<'a, Result<Effect, RemediateError>>;
    /// Records an audited decision in the cluster (`failed`: its action was attempted and failed, with
    /// why). The default records nothing: the JSON log line and the counter are the audit.
    fn audit<'a>(
        &'a self,
        _decision: &'a Decision,
        _failed: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), RemediateError>> {
        Box::pin(async { Ok(()) })
    }
}
