//! Merging incident labels from several sources into one `events.csv`.
//!
//! Sources, highest precedence first ([`LabelSource`]): your `--events` file, Chaos Mesh experiments,
//! Kubernetes events, the query set's kube-state-metrics rules. Two incidents of the same target and
//! issue type **overlap** when they share a moment (touching counts: one ends when the other starts).
//! - Within one source, overlapping incidents merge into one spanning both (the earlier one's detail
//!   is kept): several pods of a deployment crash-looping at once are one incident of the deployment.
//!   Your `--events` file is the exception: its rows are kept as written (sorted, exact duplicates
//!   removed), so two incidents you listed back to back stay two.
//! - Across sources, an incident that overlaps one of a higher-precedence source is dropped: the
//!   higher source describes the same incident (a Chaos Mesh injection is known exactly; a
//!   kube-state-metrics rule only sees it at step resolution).
//!
//! Incidents of different types on the same target are all kept (a memory-stress experiment and the
//! OOM kill it causes are two labels).

use std::collections::BTreeMap;

use crate::collect::Event;

/// Where a label comes from; the order is the precedence (first wins).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LabelSource {
    /// The user's `--events` file.
    EventsFile,
    /// Chaos Mesh experiments (`--labels-from chaos-mesh`).
    ChaosMesh,
    /// Kubernetes events (`--labels-from kube-events`).
    KubeEvents,
    /// The query set's `[[label]]` rules over kube-state-metrics.
    Rules,
}

/// Merges labelled incidents from several sources (see the module doc); the result is sorted.
pub fn merge(sets: Vec<(LabelSource, Vec<Event>)>) -> Vec<Event> {
    let mut by_source: BTreeMap<LabelSource, Vec<Event>> = BTreeMap::new();
    for (source, events) in sets {
        by_source.entry(source).or_default().extend(events);
    }
    // (target, issue_type) → accepted incidents from higher-precedence sources.
    let mut accepted: BTreeMap<(String, String), Vec<Event>> = BTreeMap::new();
    for (source, mut events) in by_source {
        events.sort();
        events.dedup();
        let mut merged: BTreeMap<(String, String), Vec<Event>> = BTreeMap::new();
        for e in events {
            let runs = merged
                .entry((e.target.clone(), e.issue_type.clone()))
                .or_default();
            match runs.last_mut() {
                Some(last) if source != LabelSource::EventsFile && e.start <= last.end => {
                    last.end = last.end.max(e.end)
                }
                _ => runs.push(e),
            }
        }
        for (key, runs) in merged {
            let higher = accepted.get(&key).cloned().unwrap_or_default();
            let keep: Vec<Event> = runs
                .into_iter()
                .filter(|e| !higher.iter().any(|h| e.start <= h.end && h.start <= e.end))
                .collect();
            accepted.entry(key).or_default().extend(keep);
        }
    }
    let mut out: Vec<Event> = accepted.into_values().flatten().collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(target: &str, start: i64, end: i64, issue_type: &str, detail: &str) -> Event {
        Event {
            target: target.into(),
            start,
            end,
            issue_type: issue_type.into(),
            detail: detail.into(),
        }
    }

    #[test]
    fn higher_sources_win_and_one_source_merges_its_own_overlaps() {
        let merged = merge(vec![
            (
                LabelSource::Rules,
                vec![
                    ev("shop/cart", 110, 130, "pod_failure", "restart"),
                    ev("shop/cart", 500, 515, "pod_failure", "restart"),
                    ev("shop/web", 100, 200, "pod_failure", "restart"),
                ],
            ),
            (
                LabelSource::KubeEvents,
                vec![
                    ev("shop/cart", 100, 115, "pod_failure", "crash_loop"),
                    ev("shop/cart", 115, 160, "pod_failure", "crash_loop"),
                ],
            ),
            (
                LabelSource::ChaosMesh,
                vec![ev(
                    "shop/cart",
                    90,
                    105,
                    "resource_exhaustion",
                    "memory_stress",
                )],
            ),
            (
                LabelSource::EventsFile,
                vec![ev("shop/web", 150, 400, "pod_failure", "mine")],
            ),
        ]);
        assert_eq!(
            merged,
            vec![
                ev("shop/cart", 90, 105, "resource_exhaustion", "memory_stress"),
                ev("shop/cart", 100, 160, "pod_failure", "crash_loop"),
                ev("shop/cart", 500, 515, "pod_failure", "restart"),
                ev("shop/web", 150, 400, "pod_failure", "mine"),
            ]
        );
    }

    #[test]
    fn the_events_file_is_kept_as_written() {
        let file = vec![
            ev("t", 10, 20, "x", "second"),
            ev("t", 0, 10, "x", "first"),
            ev("t", 0, 10, "x", "first"),
        ];
        assert_eq!(
            merge(vec![(LabelSource::EventsFile, file)]),
            vec![ev("t", 0, 10, "x", "first"), ev("t", 10, 20, "x", "second")]
        );
        // Other sources still merge their own touching runs.
        let rules = vec![ev("t", 10, 20, "x", "b"), ev("t", 0, 10, "x", "a")];
        assert_eq!(
            merge(vec![(LabelSource::Rules, rules)]),
            vec![ev("t", 0, 20, "x", "a")]
        );
    }

    #[test]
    fn precedence_does_not_depend_on_argument_order() {
        let a = (LabelSource::Rules, vec![ev("t", 0, 10, "x", "rule")]);
        let b = (LabelSource::EventsFile, vec![ev("t", 5, 20, "x", "file")]);
        assert_eq!(merge(vec![a.clone(), b.clone()]), merge(vec![b, a]));
        assert_eq!(merge(vec![(LabelSource::Rules, vec![])]), vec![]);
    }
}
