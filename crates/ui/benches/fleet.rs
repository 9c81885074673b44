//! The fleet JSON at 5,000 targets: filtering, ranking, one page with sparklines, encoded as JSON —
//! the server-side work of one `GET /api/v1/fleet` (budget: ≤ 50 ms).
//!
//! `cargo bench -p ui --bench fleet`

use std::collections::BTreeMap;

use criterion::{Criterion, criterion_group, criterion_main};
use learn::prediction::{Contribution, Explanation, Prediction};
use ui::fleet::{FleetQuery, FleetSource};
use ui::{AlertState, FleetHistory, HistoryConfig, Observation};

const TARGETS: usize = 5_000;

fn fleet_of(targets: usize) -> FleetHistory {
    let metrics: Vec<String> = (0..21).map(|i| format!("metric_{i}")).collect();
    let history = FleetHistory::new(HistoryConfig {
        metrics: metrics.clone(),
        issue_types: vec!["resource_exhaustion".into(), "pod_failure".into()],
        ..HistoryConfig::default()
    });
    let names: Vec<String> = (0..targets)
        .map(|i| format!("ns-{}/deployment-{i}", i % 50))
        .collect();
    let row = vec![0.5; metrics.len()];
    let band = vec![Some((0.3, 0.7)); metrics.len()];
    // A full history: 480 cycles.
    for cycle in 0..480i64 {
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
                    explanation: (cycle == 479).then(|| Explanation {
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
            cycle * 15,
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

fn bench(c: &mut Criterion) {
    let history = fleet_of(TARGETS);
    let mut group = c.benchmark_group("fleet_5000_targets");
    group.sample_size(30);
    group.bench_function("first_page_json", |b| {
        b.iter(|| serde_json::to_vec(&history.fleet(&FleetQuery::default())))
    });
    group.bench_function("filtered_page_json", |b| {
        let q = FleetQuery {
            namespace: Some("ns-7".into()),
            state: Some("firing".into()),
            ..FleetQuery::default()
        };
        b.iter(|| serde_json::to_vec(&history.fleet(&q)))
    });
    group.bench_function("target_detail_json", |b| {
        b.iter(|| serde_json::to_vec(&history.target("ns-7/deployment-7")))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
