//! A synthetic fleet for the benchmarks (`benches/fleet.rs`) and the first-render server
//! (`examples/fleet_server.rs`, bench/ui): `targets` workloads over 50 namespaces, 21 metrics, a full history of
//! 480 cycles 15 s apart, probabilities spread over 0–1 (about half firing).

use std::collections::BTreeMap;

use learn::prediction::{Contribution, Explanation, Prediction};
use ui::{AlertState, FleetHistory, HistoryConfig, Observation};

/// Cycles of history recorded (the default history length).
pub const CYCLES: i64 = 480;

/// The fleet after [`CYCLES`] cycles, the last one ending at `end` (unix seconds).
pub fn fleet_of(targets: usize, end: i64) -> FleetHistory {
    let metrics: Vec<String> = (0..21).map(|i| format!("metric_{i}")).collect();
    let history = FleetHistory::new(HistoryConfig {
        metrics: metrics.clone(),
        issue_types: vec!["resource_exhaustion".into(), "pod_failure".into()],
        source: format!("a synthetic fleet of {targets} targets"),
        ..HistoryConfig::default()
    });
    let names: Vec<String> = (0..targets)
        .map(|i| format!("ns-{}/deployment-{i}", i % 50))
        .collect();
    let row = vec![0.5; metrics.len()];
    let band = vec![Some((0.3, 0.7)); metrics.len()];
    for cycle in 0..CYCLES {
        let predictions: Vec<Prediction> = (0..targets)
            .map(|i| {
                let p = ((i as f64 * 0.618 + cycle as f64 * 0.01) % 1.0).clamp(0.0, 1.0);
                Prediction {
                    will_have_issue: p >= 0.5,
                    issue_probability: p,
                    issue_type: if p >= 0.5 {
                        "resource_exhaustion"
                    } else {
                        "normal"
                    }
                    .into(),
                    probabilities: BTreeMap::new(),
                    time_to_issue_seconds: (p >= 0.5).then_some(120.0),
                    horizon_seconds: 300.0,
                    explanation: (cycle == CYCLES - 1).then(|| Explanation {
                        summary: "metric 3 rose".into(),
                        top_features: vec![Contribution {
                            feature: "metric_3.slope".into(),
                            value: 0.1,
                            contribution: 0.2,
                        }],
                    }),
                    recommendation: None,
                    baseline_seconds: None,
                }
            })
            .collect();
        history.record_cycle(
            end - (CYCLES - 1 - cycle) * 15,
            names.iter().zip(&predictions).map(|(name, p)| Observation {
                target: name,
                prediction: Some(p),
                state: if p.will_have_issue {
                    AlertState::Firing
                } else {
                    AlertState::Ok
                },
                incident_type: None,
                metrics: Some(&row),
                band: Some(&band),
            }),
        );
    }
    history
}
