//! One labelled incident: what happened, to which target, when, and who said so.

use serde::Serialize;

/// Where an incident label comes from. For label sources that are merged (`collect`), the order
/// is the precedence: the first wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentSource {
    /// The user's `--events` file.
    EventsFile,
    /// Chaos Mesh experiments (`--labels-from chaos-mesh`).
    ChaosMesh,
    /// Kubernetes events (`--labels-from kube-events`).
    KubeEvents,
    /// The query set's `[[label]]` rules over kube-state-metrics.
    Rules,
    /// The simulator's ground truth.
    Simulator,
    /// A dataset's `events.csv` (whoever wrote it).
    #[default]
    Dataset,
}

/// The issue types the product knows (recommendations, baselines, the simulator's and the label
/// sources' labels). Labels may bring others (`check_issue_type`).
pub const KNOWN_ISSUE_TYPES: [&str; 4] = [
    "resource_exhaustion",
    "pod_failure",
    "network_issue",
    "application_error",
];

/// The longest issue type accepted, bytes.
pub const MAX_ISSUE_TYPE_LEN: usize = 64;

/// Checks an issue-type label: one of [`KNOWN_ISSUE_TYPES`], or another snake_case name (`[a-z][a-z0-9_]*`,
/// at most [`MAX_ISSUE_TYPE_LEN`] bytes) for a kind of incident the labels add (`normal` is not an issue).
/// The error says why, quoting at most [`MAX_ISSUE_TYPE_LEN`] characters of the value.
pub fn check_issue_type(name: &str) -> Result<(), String> {
    if KNOWN_ISSUE_TYPES.contains(&name) {
        return Ok(());
    }
    let snake = name.len() <= MAX_ISSUE_TYPE_LEN
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if snake && name != "normal" {
        return Ok(());
    }
    let quoted: String = name.chars().take(MAX_ISSUE_TYPE_LEN).collect();
    let more = if name.chars().count() > MAX_ISSUE_TYPE_LEN {
        "…"
    } else {
        ""
    };
    Err(format!(
        "`{quoted}{more}` is not an issue type: use one of {} or another snake_case name \
         (a-z, 0-9, _; at most {MAX_ISSUE_TYPE_LEN} characters; not `normal`)",
        KNOWN_ISSUE_TYPES.join(", ")
    ))
}

/// One labelled incident on one target.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Incident {
    /// The target it happened on (e.g. `namespace/deployment`).
    pub target: String,
    /// Onset, unix seconds.
    pub start: i64,
    /// End, unix seconds (`>= start`).
    pub end: i64,
    /// `resource_exhaustion`, `pod_failure`, `network_issue`, or any other label.
    pub issue_type: String,
    /// What happened in more detail (e.g. `oom_kill`); empty when unknown.
    pub detail: String,
    /// Who labelled it.
    #[serde(skip)]
    pub source: IncidentSource,
}

impl Incident {
    /// An incident from `source`; `detail` may be empty.
    pub fn new(
        target: impl Into<String>,
        start: i64,
        end: i64,
        issue_type: impl Into<String>,
        detail: impl Into<String>,
        source: IncidentSource,
    ) -> Self {
        Self {
            target: target.into(),
            start,
            end,
            issue_type: issue_type.into(),
            detail: detail.into(),
            source,
        }
    }

    /// The detail, or `None` when it is empty.
    pub fn detail(&self) -> Option<&str> {
        (!self.detail.is_empty()).then_some(self.detail.as_str())
    }

    /// Whether the two share a moment (touching counts: one ends when the other starts).
    pub fn overlaps(&self, other: &Incident) -> bool {
        self.start <= other.end && other.start <= self.end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_types_are_known_or_snake_case() {
        for ok in ["pod_failure", "application_error", "disk_full", "x9"] {
            assert_eq!(check_issue_type(ok), Ok(()), "{ok}");
        }
        for bad in ["", "normal", "Pod Failure", "pod-failure", "9lives", "é"] {
            assert!(check_issue_type(bad).is_err(), "{bad:?}");
        }
        let e = check_issue_type(&"a".repeat(5000)).unwrap_err();
        assert!(e.len() < 400 && e.contains("…"), "{e}");
    }

    #[test]
    fn touching_incidents_overlap_and_sources_order_by_precedence() {
        let a = Incident::new(
            "shop/cart",
            100,
            200,
            "pod_failure",
            "",
            IncidentSource::Rules,
        );
        let b = Incident::new(
            "shop/cart",
            200,
            300,
            "pod_failure",
            "x",
            IncidentSource::Rules,
        );
        let c = Incident::new(
            "shop/cart",
            201,
            300,
            "pod_failure",
            "x",
            IncidentSource::Rules,
        );
        assert!(a.overlaps(&b) && b.overlaps(&a));
        assert!(!a.overlaps(&c));
        assert_eq!((a.detail(), b.detail()), (None, Some("x")));
        assert!(IncidentSource::EventsFile < IncidentSource::ChaosMesh);
        assert!(IncidentSource::KubeEvents < IncidentSource::Rules);
    }
}
