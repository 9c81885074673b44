//! The one interface every executor implements: the simulator's ([`crate::simulated::SimExecutor`])
//! today, the Kubernetes API's (through `cluster`) next.

use crate::action::Action;
use crate::error::RemediateError;

/// Applies the actions of decisions that say so ([`crate::action::Decision::applies`]).
pub trait Executor {
    /// Applies one action; an error leaves the object as it was and is audited as a failure (the
    /// caller then does not record the action in the history).
    fn apply(&mut self, action: &Action) -> Result<(), RemediateError>;
}
