//! One `watch` cycle at scale: runs a few cycles of the real watch loop (embedded model, built-in query set)
//! against a Prometheus holding N targets' recent history, and prints per-cycle figures and peak RSS.
//!
//! Usage: bench_watch_cycle PROMETHEUS_URL AT_UNIX CYCLES [MODEL_FILE]   (default model: the embedded one)
//! The first cycle fetches the whole window (cold); the next ones fetch only the new steps (steady state).
//! Each cycle also reports this process' CPU seconds and, with `PROM_PID` set, Prometheus' CPU seconds
//! (on a shared machine the wall time depends on the load; the CPU split shows where the work is).

use std::sync::Arc;

use collect::prom::{PromClient, PromConfig};
use collect::queries::QuerySet;
use watch::hysteresis::Hysteresis;
use watch::live::{WatchOptions, Watcher};
use watch::metrics::WatchMetrics;

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
    let prom_pid = std::env::var("PROM_PID").ok();
    let prom_cpu = || prom_pid.as_deref().map_or(f64::NAN, cpu_secs);
    for i in 0..cycles {
        let now = at - ((cycles - 1 - i) as f64) * step as f64;
        let (own0, prom0) = (cpu_secs("self"), prom_cpu());
        let started = std::time::Instant::now();
        let r = watcher.cycle(now).await;
        println!(
            "cycle {i}: {:.3} s (fetch {:.3} s, predict {:.3} s; CPU: watch {:.2} s, Prometheus {:.2} s), {} queries, {} targets, {} predicted, {} stale, {} query errors",
            started.elapsed().as_secs_f64(),
            r.fetch_secs,
            r.predict_secs,
            cpu_secs("self") - own0,
            prom_cpu() - prom0,
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

/// User + system CPU seconds of process `pid` (`self` for this one), from `/proc` (NaN elsewhere).
fn cpu_secs(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th overall.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
    match (ticks(11), ticks(12)) {
        (Some(u), Some(s)) => (u + s) / 100.0,
        _ => f64::NAN,
    }
}
