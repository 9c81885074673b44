//! The interfaces executors implement: [`Executor`] (synchronous, the closed loop's simulator:
//! `crate::simulated::SimExecutor`) and [`LiveExecutor`] (asynchronous, the live loop's: the simulator's
//! live exporter over HTTP, [`crate::http::HttpExecutor`]; the Kubernetes API's next).

use std::future::Future;
use std::pin::Pin;

use crate::action::Action;
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

/// A cluster the live loop reads and acts on.
pub trait LiveExecutor: Send + Sync {
    /// Its name in logs and errors (`simulator`, `kubernetes`).
    fn name(&self) -> &'static str;
    /// The cluster's objects now (workloads, HPAs, limits, rollouts, nodes); signals are left unknown:
    /// the live loop sets them from the model's windows.
    fn state(&self) -> BoxFuture<'_, Result<ClusterState, RemediateError>>;
    /// Applies one action; an error leaves the object as it was and is audited as a failure.
    fn apply<'a>(&'a self, action: &'a Action) -> BoxFuture<'a, Result<(), RemediateError>>;
}
