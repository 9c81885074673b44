//! The simulator's error type.

use std::path::PathBuf;

/// Everything that can go wrong while configuring or running a simulation.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A configuration value is invalid; `field` names it (e.g. `duration`, `faults.memory_leak`).
    #[error("invalid configuration: {field} = {value:?}: {reason}")]
    InvalidConfig {
        /// The offending field, as written in the config file or flag.
        field: String,
        /// The value given.
        value: String,
        /// Why it is rejected.
        reason: String,
    },
    /// A preset name that does not exist.
    #[error("unknown preset {0:?} (known presets: online-boutique, small, large)")]
    UnknownPreset(String),
    /// The TOML configuration file could not be parsed.
    #[error("cannot parse config file {path}: {message}")]
    ConfigParse {
        /// The file.
        path: PathBuf,
        /// Where (line and column) and the parser's one-line message.
        message: String,
    },
    /// The configuration file parsed but holds an invalid value.
    #[error("config file {path}: {problem}")]
    ConfigFile {
        /// The file.
        path: PathBuf,
        /// What is wrong in it (in the message, not a `source`: error chains would print it twice).
        problem: Box<SimError>,
    },
    /// A demand trace file has a malformed line.
    #[error("malformed trace {path} line {line}: {message}")]
    Trace {
        /// The trace file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// What is wrong with it.
        message: String,
    },
    /// A `--fault` schedule entry is malformed or names an unknown fault or target.
    #[error("invalid fault schedule {spec:?}: {reason}")]
    FaultSpec {
        /// The entry as given.
        spec: String,
        /// Why it is rejected.
        reason: String,
    },
    /// Reading or writing a file failed.
    #[error("{action} {path}: {error}")]
    Io {
        /// What was being done ("cannot read", "cannot write", ...).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error (in the message, not a `source`: error chains would print it twice).
        error: std::io::Error,
    },
    /// A batch run was stopped (SIGINT/SIGTERM) before its end; its temporary files are removed.
    #[error("interrupted after {steps_done} of {steps_total} steps; nothing was written")]
    Interrupted {
        /// Steps simulated before the stop.
        steps_done: u64,
        /// Steps of the whole run.
        steps_total: u64,
    },
    /// Writing a Parquet dataset failed (the message names the file).
    #[error("{0}")]
    Parquet(String),
    /// Two outputs that cannot be combined.
    #[error("{0}")]
    Outputs(String),
    /// The live exporter's socket failed.
    #[error("intervention refused: {0}")]
    Intervention(String),

    #[error("exporter: {0}")]
    Exporter(std::io::Error),
}

impl SimError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        SimError::Io {
            action,
            path: path.into(),
            error: source,
        }
    }

    pub(crate) fn config(field: &str, value: impl ToString, reason: impl ToString) -> Self {
        SimError::InvalidConfig {
            field: field.to_string(),
            value: clip(&value.to_string()),
            reason: reason.to_string(),
        }
    }
}

/// Result alias for the simulator.
pub type Result<T> = std::result::Result<T, SimError>;

/// At most 80 characters of a user's value, for error messages (a 20 MB value must not become a 20 MB
/// line); longer ones end with `…` and their length.
pub(crate) fn clip(text: &str) -> String {
    clip_to(text, 80)
}

/// [`clip`] at `max` characters.
pub(crate) fn clip_to(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((at, _)) => format!("{}… ({} bytes)", &text[..at], text.len()),
    }
}
