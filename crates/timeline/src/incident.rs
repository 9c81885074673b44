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
