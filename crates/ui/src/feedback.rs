//! Operator feedback on alerts and incidents, stored as labels the next model learns from.
//!
//! `POST /api/v1/feedback` with `Authorization: Bearer <token>` (the token from a file or the
//! `KUBEPULSE_UI_TOKEN` variable — a Kubernetes Secret). Each accepted verdict appends one row to a
//! CSV file in the feedback directory, in the dataset's `events.csv` format
//! (`target,start,end,issue_type`, unix seconds):
//!
//! - `confirmed` → `events.csv`: a real incident. `kubepulse collect --events <dir>/events.csv` merges it
//!   with the highest label precedence, so the next `train` learns it.
//! - `false_alarm` → `false_alarms.csv`: the predicted incident did not happen; the row says which
//!   target, which predicted type and which period. It is not an incident label (nothing in
//!   `events.csv` changes); `kubepulse train --false-alarms <dir>/false_alarms.csv` drops the incident
//!   labels it overlaps, so those windows train as negatives (`learn::false_alarms`).
//!
//! Every accepted change is audited twice: a `tracing` event (`audit = true`, JSON with
//! `--log-format json`) and a JSON line in `audit.jsonl`, both with who did it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::UiError;

/// How feedback is configured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedbackConfig {
    /// The bearer token a caller must present; `None` disables feedback.
    pub token: Option<String>,
    /// Where `events.csv`, `false_alarms.csv` and `audit.jsonl` are written; `None` disables feedback.
    pub dir: Option<PathBuf>,
}

impl FeedbackConfig {
    /// Reads the token from `path` (a mounted Secret; surrounding whitespace ignored).
    pub fn token_from_file(path: &Path) -> Result<String, std::io::Error> {
        let text = std::fs::read_to_string(path)?;
        let token = text.trim().to_string();
        if token.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("the token file {} is empty", path.display()),
            ));
        }
        Ok(token)
    }
}

/// What the operator says about an alert or incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// It was (or is) a real incident.
    Confirmed,
    /// The alert was a false alarm: no incident followed.
    FalseAlarm,
}

/// A verdict on one episode of one target.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackRequest {
    /// The target (as the fleet lists it).
    pub target: String,
    /// The incident's (or predicted) issue type, snake_case (not `normal`).
    pub issue_type: String,
    /// Start of the episode, unix seconds.
    pub start: i64,
    /// End of the episode, unix seconds (default: `start`).
    pub end: Option<i64>,
    /// The verdict.
    pub verdict: Verdict,
}

/// What was stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FeedbackReceipt {
    /// The file the label row went to (`events.csv` or `false_alarms.csv`).
    pub file: String,
    /// The row written, CSV.
    pub row: String,
    /// Who the audit recorded.
    pub who: String,
}

/// The feedback endpoint's state: token, directory, and a lock so rows never interleave.
#[derive(Debug, Default)]
pub struct FeedbackStore {
    config: FeedbackConfig,
    write: Mutex<()>,
}

/// Header names an authenticating proxy (oauth2-proxy, …) sets with the signed-in user, in order.
pub const USER_HEADERS: [&str; 4] = [
    "x-auth-request-email",
    "x-auth-request-user",
    "x-forwarded-email",
    "x-forwarded-user",
];

impl FeedbackStore {
    /// A store for `config`; creates the directory when feedback is enabled.
    pub fn new(config: FeedbackConfig) -> Result<Self, std::io::Error> {
        if let (Some(_), Some(dir)) = (&config.token, &config.dir) {
            std::fs::create_dir_all(dir)?;
        }
        Ok(FeedbackStore {
            config,
            write: Mutex::new(()),
        })
    }

    /// Whether feedback is enabled (a token and a directory are configured).
    pub fn enabled(&self) -> bool {
        self.config.token.is_some() && self.config.dir.is_some()
    }

    /// Checks only the bearer token, for the other authenticated actions of a host (e.g. `watch`'s
    /// remediation approvals): none → 401; no token configured or another token → 403.
    pub fn authorize_token(&self, authorization: Option<&str>) -> Result<(), UiError> {
        let Some(given) = authorization.and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        }) else {
            return Err(UiError::Unauthorized);
        };
        match &self.config.token {
            Some(token) if constant_time_eq(given.trim().as_bytes(), token.as_bytes()) => Ok(()),
            _ => Err(UiError::Forbidden),
        }
    }

    /// Checks the `Authorization` header: none → 401; feedback disabled → 403 `feedback_disabled`;
    /// another token → 403.
    pub fn authorize(&self, authorization: Option<&str>) -> Result<(), UiError> {
        let Some(given) = authorization.and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        }) else {
            return Err(UiError::Unauthorized);
        };
        let (Some(token), Some(_)) = (&self.config.token, &self.config.dir) else {
            return Err(UiError::FeedbackDisabled(
                "start the server with a UI token (--ui-token-file or KUBEPULSE_UI_TOKEN) and \
                 --feedback-dir"
                    .to_string(),
            ));
        };
        if constant_time_eq(given.trim().as_bytes(), token.as_bytes()) {
            Ok(())
        } else {
            Err(UiError::Forbidden)
        }
    }

    /// Checks and stores one verdict by `who`; audits it.
    pub fn record(&self, req: &FeedbackRequest, who: &str) -> Result<FeedbackReceipt, UiError> {
        let Some(dir) = &self.config.dir else {
            return Err(UiError::FeedbackDisabled("no --feedback-dir".to_string()));
        };
        if req.target.is_empty() || req.target.chars().any(char::is_control) {
            return Err(UiError::InvalidBody(
                "target must be non-empty text without control characters".to_string(),
            ));
        }
        learn::check_issue_type(&req.issue_type).map_err(UiError::InvalidBody)?;
        let end = req.end.unwrap_or(req.start);
        if req.start < 0 || end < req.start {
            return Err(UiError::InvalidBody(format!(
                "start ({}) must be unix seconds ≥ 0 and end ({end}) not before it",
                req.start
            )));
        }
        let file = match req.verdict {
            Verdict::Confirmed => "events.csv",
            Verdict::FalseAlarm => "false_alarms.csv",
        };
        let row = format!(
            "{},{},{},{}",
            csv_field(&req.target),
            req.start,
            end,
            req.issue_type
        );
        let at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let audit = serde_json::json!({
            "at": learn::timestamp::format_rfc3339(at),
            "who": who,
            "action": "feedback",
            "verdict": req.verdict,
            "target": req.target,
            "issue_type": req.issue_type,
            "start": req.start,
            "end": end,
            "file": file,
        });
        let _guard = self.write.lock().unwrap_or_else(|e| e.into_inner());
        let storage = |e: std::io::Error| UiError::Storage(format!("{}: {e}", dir.display()));
        append(
            &dir.join(file),
            "target,start,end,issue_type\n",
            &format!("{row}\n"),
        )
        .map_err(storage)?;
        append(&dir.join("audit.jsonl"), "", &format!("{audit}\n")).map_err(storage)?;
        tracing::info!(audit = true, action = "feedback", who, verdict = ?req.verdict,
            target = %req.target, issue_type = %req.issue_type, start = req.start, end, file,
            "feedback stored");
        Ok(FeedbackReceipt {
            file: file.to_string(),
            row,
            who: who.to_string(),
        })
    }
}

/// The header a caller declares its user with (the UI's "Your name" field, `curl -H`): recorded as
/// given, not verified — below a proxy's user, which the proxy checked.
pub const DECLARED_USER_HEADER: &str = "x-kubepulse-user";

/// Who the request is from: the user an authenticating proxy names ([`USER_HEADERS`]), else the user
/// the caller declares ([`DECLARED_USER_HEADER`]), else `bearer-token` (a caller holding the token
/// directly). Control characters are dropped, at most 200 characters kept.
pub fn caller(headers: &axum::http::HeaderMap) -> String {
    USER_HEADERS
        .iter()
        .chain(std::iter::once(&DECLARED_USER_HEADER))
        .find_map(|name| {
            headers
                .get(*name)
                .and_then(|v| v.to_str().ok())
                .map(|v| {
                    v.chars()
                        .filter(|c| !c.is_control())
                        .take(200)
                        .collect::<String>()
                })
                .filter(|v| !v.trim().is_empty())
        })
        .unwrap_or_else(|| "bearer-token".to_string())
}

/// Appends `text` to `path`, writing `header` first when the file is new.
fn append(path: &Path, header: &str, text: &str) -> std::io::Result<()> {
    let new = !path.exists();
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    if new {
        f.write_all(header.as_bytes())?;
    }
    f.write_all(text.as_bytes())?;
    f.sync_data()
}

/// A CSV field, quoted when it holds a comma, a quote or a space at either end (RFC 4180).
fn csv_field(text: &str) -> String {
    if text.contains([',', '"']) || text.trim() != text {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// Compares without an early exit on the first differing byte.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i).copied().unwrap_or(!x));
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(dir: &Path) -> FeedbackStore {
        FeedbackStore::new(FeedbackConfig {
            token: Some("s3cret".into()),
            dir: Some(dir.to_path_buf()),
        })
        .expect("store")
    }

    #[test]
    fn who_is_the_proxys_user_then_the_declared_one_then_the_token() {
        use axum::http::{HeaderMap, HeaderValue};
        let mut h = HeaderMap::new();
        assert_eq!(caller(&h), "bearer-token");
        h.insert(DECLARED_USER_HEADER, HeaderValue::from_static("  "));
        assert_eq!(caller(&h), "bearer-token", "a blank name is no name");
        h.insert(
            DECLARED_USER_HEADER,
            HeaderValue::from_static("alice\tsmith"),
        );
        assert_eq!(caller(&h), "alicesmith", "control characters dropped");
        // A proxy's user was checked by the proxy: a declared name does not override it.
        h.insert("x-forwarded-user", HeaderValue::from_static("bob"));
        assert_eq!(caller(&h), "bob");
        h.insert(
            "x-auth-request-email",
            HeaderValue::from_static("carol@example.com"),
        );
        assert_eq!(caller(&h), "carol@example.com");
        let long = "x".repeat(300);
        let mut h = HeaderMap::new();
        h.insert(
            DECLARED_USER_HEADER,
            HeaderValue::from_str(&long).expect("header"),
        );
        assert_eq!(caller(&h).len(), 200);
    }

    #[test]
    fn authorization_is_401_without_403_wrong_ok_right() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = store(dir.path());
        assert!(matches!(s.authorize(None), Err(UiError::Unauthorized)));
        assert!(matches!(
            s.authorize(Some("Basic abc")),
            Err(UiError::Unauthorized)
        ));
        assert!(matches!(
            s.authorize(Some("Bearer nope")),
            Err(UiError::Forbidden)
        ));
        assert!(matches!(
            s.authorize(Some("Bearer s3cret0")),
            Err(UiError::Forbidden)
        ));
        assert!(s.authorize(Some("Bearer s3cret")).is_ok());
        let off = FeedbackStore::new(FeedbackConfig::default()).expect("store");
        assert!(matches!(
            off.authorize(Some("Bearer s3cret")),
            Err(UiError::FeedbackDisabled(_))
        ));
    }

    #[test]
    fn verdicts_become_rows_in_the_events_format_and_are_audited() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = store(dir.path());
        let mut req = FeedbackRequest {
            target: "shop/cart, \"eu\"".into(),
            issue_type: "resource_exhaustion".into(),
            start: 1000,
            end: Some(1300),
            verdict: Verdict::Confirmed,
        };
        let r = s.record(&req, "alice@example.com").expect("stored");
        assert_eq!(r.file, "events.csv");
        req.verdict = Verdict::FalseAlarm;
        req.target = "shop/frontend".into();
        req.end = None;
        s.record(&req, "bob").expect("stored");
        let events = std::fs::read_to_string(dir.path().join("events.csv")).expect("events");
        assert_eq!(
            events,
            "target,start,end,issue_type\n\"shop/cart, \"\"eu\"\"\",1000,1300,resource_exhaustion\n"
        );
        let fa = std::fs::read_to_string(dir.path().join("false_alarms.csv")).expect("fa");
        assert_eq!(
            fa,
            "target,start,end,issue_type\nshop/frontend,1000,1000,resource_exhaustion\n"
        );
        let audit = std::fs::read_to_string(dir.path().join("audit.jsonl")).expect("audit");
        let lines: Vec<serde_json::Value> = audit
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["who"], "alice@example.com");
        assert_eq!(lines[1]["verdict"], "false_alarm");
        for bad in ["normal", "Bad Type", ""] {
            req.issue_type = bad.into();
            assert!(
                matches!(s.record(&req, "x"), Err(UiError::InvalidBody(_))),
                "{bad}"
            );
        }
        req.issue_type = "pod_failure".into();
        req.target = "a\nb".into();
        assert!(matches!(s.record(&req, "x"), Err(UiError::InvalidBody(_))));
    }
}
