//! One `watch` cycle at scale: runs a few cycles of the real watch loop (embedded model, built-in query set)
//! against a Prometheus holding N targets' recent history, and prints per-cycle figures and peak RSS.
//!
//! Usage: bench_watch_cycle PROMETHEUS_URL AT_UNIX CYCLES [MODEL_FILE]   (default model: the embedded one)
//! The first cycle fetches the whole window (cold); the next ones fetch only the new steps (steady state).

use std::sync::Arc;

use watch::hysteresis::Hysteresis;
use watch::live::{WatchOptions, Watcher};
use watch::metrics::WatchMetrics;
use watch::prom::{PromClient, PromConfig};
use watch::queries::QuerySet;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 && args.len() != 5 {
        eprintln!("usage: bench_watch_cycle PROMETHEUS_URL AT_UNIX CYCLES [MODEL_FILE]");
        std::process::exit(2);
    }
    let at: f64 = args[2].parse().expect("AT_UNIX");
    let cycles: usize = args[3].parse().expect("CYCLES");
    let model = match args.get(4) {
        Some(path) => {
            learn::bundle::ModelBundle::load(std::path::Path::new(path)).expect("model file")
        }
        None => learn::bundle::ModelBundle::embedded().expect("embedded model"),
    };
    let step = model.info().step_secs;
    let mut config = PromConfig::new(&args[1]);
    config.gzip = false;
    let client = PromClient::new(config).expect("client");
    let hysteresis = Hysteresis::default().check().expect("hysteresis");
    let opts = WatchOptions::new(QuerySet::builtin().expect("queries"), hysteresis, step);
    let mut watcher = Watcher::new(
        client,
        Arc::new(model),
        opts,
        Arc::new(WatchMetrics::new()),
        None,
    )
    .expect("watcher");
    for i in 0..cycles {
        let now = at - ((cycles - 1 - i) as f64) * step as f64;
        let started = std::time::Instant::now();
        let r = watcher.cycle(now).await;
        println!(
            "cycle {i}: {:.3} s, {} queries, {} targets, {} predicted, {} stale, {} query errors",
            started.elapsed().as_secs_f64(),
            r.queries,
            r.targets,
            r.predicted,
            r.stale,
            r.query_errors
        );
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let hwm = status
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .unwrap_or("VmHWM: ?");
    println!("peak RSS {}", hwm.trim_start_matches("VmHWM:").trim());
}
