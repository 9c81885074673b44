//! The crate's error type.

use std::path::PathBuf;

/// What can go wrong loading a policy or running the closed loop.
#[derive(Debug, thiserror::Error)]
pub enum RemediateError {
    /// The policy file is not valid: where, which field, why.
    #[error("policy {origin}, line {line}: {field}: {reason}")]
    Policy {
        /// The file (or `<text>`).
        origin: String,
        /// 1-based line of the offending value (the file's first line when unknown).
        line: usize,
        /// Dotted field name, e.g. `namespaces.shop.scale_out`.
        field: String,
        /// What is wrong, with the value.
        reason: String,
    },
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The simulator refused a setting or an intervention.
    #[cfg(feature = "sim")]
    #[error(transparent)]
    Sim(#[from] sim::SimError),
    /// A live executor could not read the cluster or apply an action.
    #[error("{executor} executor: {reason}")]
    Executor {
        /// Which executor (`simulator`, `kubernetes`).
        executor: &'static str,
        /// What failed, with the object and the answer.
        reason: String,
    },
    /// The model failed on a window.
    #[error(transparent)]
    Model(#[from] learn::LearnError),
}
