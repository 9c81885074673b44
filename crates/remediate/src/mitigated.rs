//! The mitigated periods the live agent records for retraining (`watch --remediate ... --mitigated
//! FILE`): one row per action *applied* on a prediction, appended to a CSV in the `events.csv` format
//! (`target,start,end,issue_type`, unix seconds; `issue_type` holds the action kind), which `kubepulse
//! train --mitigated FILE` reads (`learn::mitigated`) to leave the windows around each action out of
//! training and validation: after an action the predicted incident may not happen because of it, and
//! those windows would otherwise teach the model that the alarm was false.
//!
//! A row's period runs from the action's time for the longer of the policy's `verify_after` and the
//! model's horizon: the span in which the predicted incident would have started, or the action is
//! being verified. Restores, reverts, verifications, skips, recommendations, observed and failed
//! actions write nothing.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::action::{Decision, Trigger};
use crate::error::RemediateError;

/// The header of the file (the `events.csv` columns).
pub const HEADER: &str = "target,start,end,issue_type\n";

/// Appends applied actions to a mitigated-periods file.
#[derive(Debug, Clone)]
pub struct MitigationLog {
    path: PathBuf,
    span_secs: i64,
}

impl MitigationLog {
    /// A log appending to `path` (created, with its header, when absent or empty); each period lasts
    /// `span_secs` seconds from its action (see [`MitigationLog::span_secs`]).
    pub fn new(path: &Path, span_secs: i64) -> Self {
        MitigationLog {
            path: path.to_path_buf(),
            span_secs: span_secs.max(0),
        }
    }

    /// The period after an action, seconds: the longer of the policy's `verify_after` and the model's
    /// horizon (both seconds).
    pub fn span_secs(verify_after_secs: i64, horizon_secs: i64) -> i64 {
        verify_after_secs.max(horizon_secs).max(0)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The row `d` writes: only an action applied on a prediction (not a failed one, see the module
    /// documentation).
    pub fn row(&self, d: &Decision, failed: bool) -> Option<String> {
        if failed || !d.applies() || d.trigger != Trigger::Prediction {
            return None;
        }
        let kind = d.kind.map_or("-", |k| k.name());
        Some(format!(
            "{},{},{},{}\n",
            quote(&d.target),
            d.at,
            d.at.saturating_add(self.span_secs),
            kind
        ))
    }

    /// Appends `d`'s row, if it has one (see [`MitigationLog::row`]); returns whether a row was written.
    pub fn append(&self, d: &Decision, failed: bool) -> Result<bool, RemediateError> {
        let Some(row) = self.row(d, failed) else {
            return Ok(false);
        };
        let io = |source| RemediateError::Write {
            path: self.path.clone(),
            source,
        };
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(io)?;
        let empty = file.metadata().map_err(io)?.len() == 0;
        let text = if empty { format!("{HEADER}{row}") } else { row };
        file.write_all(text.as_bytes()).map_err(io)?;
        Ok(true)
    }
}

/// A CSV field, quoted when it must be.
fn quote(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::{Action, Cause, Outcome};
    use crate::policy::{ActionKind, Mode};

    fn decision(trigger: Trigger, outcome: Outcome, action: Action) -> Decision {
        Decision {
            at: 1_000,
            target: "shop/cart".into(),
            namespace: "shop".into(),
            trigger,
            cause: Cause::MemoryGrowth,
            kind: Some(ActionKind::RaiseMemory),
            mode: Mode::Auto,
            probability: Some(0.8),
            action: Some(action),
            signal: Some(0.9),
            outcome,
        }
    }

    fn raise() -> Action {
        Action::RaiseMemoryLimit {
            target: "shop/cart".into(),
            container: "cart".into(),
            from_bytes: 1e8,
            to_bytes: 1.5e8,
            request_to_bytes: None,
        }
    }

    #[test]
    fn only_actions_applied_on_a_prediction_are_appended_under_one_header() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("mitigated.csv");
        let log = MitigationLog::new(&path, MitigationLog::span_secs(600, 1_800));
        let applied = decision(Trigger::Prediction, Outcome::Apply, raise());
        assert!(log.append(&applied, false).expect("append"));
        // Not mitigations: a failed apply, an observed one, a restore on expiry, a verification.
        assert!(!log.append(&applied, true).expect("failed"));
        let observed = decision(Trigger::Prediction, Outcome::Observed, raise());
        assert!(!log.append(&observed, false).expect("observed"));
        let restore = decision(Trigger::Expiry, Outcome::Apply, raise());
        assert!(!log.append(&restore, false).expect("restore"));
        let verified = decision(Trigger::Verify, Outcome::Verified, raise());
        assert!(!log.append(&verified, false).expect("verified"));
        let later = Decision {
            at: 5_000,
            target: "shop/a,b".into(),
            ..applied.clone()
        };
        assert!(log.append(&later, false).expect("append"));
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "target,start,end,issue_type\nshop/cart,1000,2800,raise_memory\n\"shop/a,b\",5000,6800,raise_memory\n"
        );
        // A file that cannot be written is an error naming it.
        let bad = MitigationLog::new(&dir.path().join("no/such/dir/m.csv"), 60);
        let e = bad.append(&applied, false).expect_err("no dir").to_string();
        assert!(e.contains("m.csv"), "{e}");
    }
}
