//! Merging incident labels from several sources into one `events.csv`.
//!
//! Sources, highest precedence first ([`IncidentSource`]'s order): your `--events` file, Chaos Mesh experiments,
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

use learn::{Incident, IncidentSource};

/// Merges labelled incidents from several sources (see the module doc), each by its
/// [`Incident::source`]; the result is sorted.
pub fn merge(incidents: impl IntoIterator<Item = Incident>) -> Vec<Incident> {
    let mut by_source: BTreeMap<IncidentSource, Vec<Incident>> = BTreeMap::new();
    for e in incidents {
        by_source.entry(e.source).or_default().push(e);
    }
    // (target, issue_type) → accepted incidents from higher-precedence sources.
    let mut accepted: BTreeMap<(String, String), Vec<Incident>> = BTreeMap::new();
    for (source, mut events) in by_source {
        events.sort();
        events.dedup();
        let mut merged: BTreeMap<(String, String), Vec<Incident>> = BTreeMap::new();
        for e in events {
            let runs = merged
                .entry((e.target.clone(), e.issue_type.clone()))
                .or_default();
            match runs.last_mut() {
                Some(last) if source != IncidentSource::EventsFile && e.start <= last.end => {
                    last.end = last.end.max(e.end)
                }
                _ => runs.push(e),
            }
        }
        for (key, runs) in merged {
            let higher = accepted.get(&key).cloned().unwrap_or_default();
            let keep: Vec<Incident> = runs
                .into_iter()
                .filter(|e| !higher.iter().any(|h| e.overlaps(h)))
                .collect();
            accepted.entry(key).or_default().extend(keep);
        }
    }
    let mut out: Vec<Incident> = accepted.into_values().flatten().collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use IncidentSource::{ChaosMesh, EventsFile, KubeEvents, Rules};

    fn ev(target: &str, start: i64, end: i64, issue_type: &str, detail: &str) -> Incident {
        Incident::new(target, start, end, issue_type, detail, Rules)
    }

    /// The incidents as labelled by `source`.
    fn from(source: IncidentSource, incidents: Vec<Incident>) -> Vec<Incident> {
        incidents
            .into_iter()
            .map(|e| Incident { source, ..e })
            .collect()
    }

    #[test]
    fn higher_sources_win_and_one_source_merges_its_own_overlaps() {
        let merged = merge(
            [
                from(
                    Rules,
                    vec![
                        ev("shop/cart", 110, 130, "pod_failure", "restart"),
                        ev("shop/cart", 500, 515, "pod_failure", "restart"),
                        ev("shop/web", 100, 200, "pod_failure", "restart"),
                    ],
                ),
                from(
                    KubeEvents,
                    vec![
                        ev("shop/cart", 100, 115, "pod_failure", "crash_loop"),
                        ev("shop/cart", 115, 160, "pod_failure", "crash_loop"),
                    ],
                ),
                from(
                    ChaosMesh,
                    vec![ev(
                        "shop/cart",
                        90,
                        105,
                        "resource_exhaustion",
                        "memory_stress",
                    )],
                ),
                from(
                    EventsFile,
                    vec![ev("shop/web", 150, 400, "pod_failure", "mine")],
                ),
            ]
            .concat(),
        );
        assert_eq!(
            merged,
            [
                from(
                    ChaosMesh,
                    vec![ev(
                        "shop/cart",
                        90,
                        105,
                        "resource_exhaustion",
                        "memory_stress"
                    )]
                ),
                from(
                    KubeEvents,
                    vec![ev("shop/cart", 100, 160, "pod_failure", "crash_loop")]
                ),
                from(
                    Rules,
                    vec![ev("shop/cart", 500, 515, "pod_failure", "restart")]
                ),
                from(
                    EventsFile,
                    vec![ev("shop/web", 150, 400, "pod_failure", "mine")]
                ),
            ]
            .concat()
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
            merge(from(EventsFile, file)),
            from(
                EventsFile,
                vec![ev("t", 0, 10, "x", "first"), ev("t", 10, 20, "x", "second")]
            )
        );
        // Other sources still merge their own touching runs.
        let rules = vec![ev("t", 10, 20, "x", "b"), ev("t", 0, 10, "x", "a")];
        assert_eq!(merge(from(Rules, rules)), vec![ev("t", 0, 20, "x", "a")]);
    }

    #[test]
    fn precedence_does_not_depend_on_argument_order() {
        let a = from(Rules, vec![ev("t", 0, 10, "x", "rule")]);
        let b = from(EventsFile, vec![ev("t", 5, 20, "x", "file")]);
        assert_eq!(
            merge([a.clone(), b.clone()].concat()),
            merge([b, a].concat())
        );
        assert_eq!(merge(from(Rules, vec![])), vec![]);
    }
}
