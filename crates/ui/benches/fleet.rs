//! The fleet JSON at 5,000 targets: filtering, ranking, one page with sparklines, encoded as JSON —
//! the server-side work of one `GET /api/v1/fleet` (budget: ≤ 50 ms).
//!
//! `cargo bench -p ui --bench fleet`

use criterion::{Criterion, criterion_group, criterion_main};
use ui::fleet::{FleetQuery, FleetSource};

#[path = "support/synthetic.rs"]
mod synthetic;

const TARGETS: usize = 5_000;

fn bench(c: &mut Criterion) {
    let history = synthetic::fleet_of(TARGETS, synthetic::CYCLES * 15);
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
