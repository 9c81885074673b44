//! Writes exporter-shaped OpenMetrics (cAdvisor + kube-state-metrics names) for N single-pod deployments,
//! for `promtool tsdb create-blocks-from openmetrics` in the `bench/watch` scripts.
//!
//! Usage: bench_openmetrics TARGETS START_UNIX DURATION_SECS STEP_SECS OUT_FILE
//! Gauges and counters of every pod are written at every step; constant series (limits, replicas, restarts)
//! every 16 steps (well inside Prometheus' 5-minute look-back), to keep the file small.

use std::io::{BufWriter, Write};

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 6 {
        eprintln!("usage: bench_openmetrics TARGETS START_UNIX DURATION_SECS STEP_SECS OUT_FILE");
        std::process::exit(2);
    }
    let parse = |i: usize| -> i64 {
        args[i].parse().unwrap_or_else(|_| {
            eprintln!("argument {i} ({:?}) is not an integer", args[i]);
            std::process::exit(2)
        })
    };
    let (targets, start, duration, step) = (parse(1), parse(2), parse(3), parse(4));
    let steps = duration / step + 1;
    let mut out = BufWriter::with_capacity(1 << 22, std::fs::File::create(&args[5])?);
    let pod = |i: i64| {
        format!(
            "namespace=\"bench\",pod=\"app-{i}-5d8f7c9b4-x{:04}\",container=\"app\"",
            i % 10_000
        )
    };
    let mut itoa = itoa_buf();

    writeln!(out, "# TYPE container_memory_working_set_bytes gauge")?;
    for i in 0..targets {
        let labels = pod(i);
        let base = 2.0e8 + (i % 97) as f64 * 1.0e6;
        for k in 0..steps {
            let v = base + ((k as f64) / 40.0 + i as f64).sin() * 1.0e7;
            writeln!(
                out,
                "container_memory_working_set_bytes{{{labels}}} {v:.0} {}",
                itoa(start + k * step)
            )?;
        }
    }
    writeln!(out, "# TYPE container_cpu_usage_seconds_total gauge")?;
    for i in 0..targets {
        let labels = pod(i);
        let mut total = 0.0;
        for k in 0..steps {
            total += step as f64 * (0.2 + 0.05 * ((k as f64) / 25.0 + i as f64).cos());
            writeln!(
                out,
                "container_cpu_usage_seconds_total{{{labels}}} {total:.3} {}",
                itoa(start + k * step)
            )?;
        }
    }
    let sparse = |out: &mut BufWriter<std::fs::File>,
                  name: &str,
                  labels: &str,
                  v: f64,
                  itoa: &mut dyn FnMut(i64) -> String|
     -> std::io::Result<()> {
        let mut k = 0;
        while k < steps {
            writeln!(out, "{name}{{{labels}}} {v} {}", itoa(start + k * step))?;
            k = if k + 16 >= steps && k != steps - 1 {
                steps - 1
            } else {
                k + 16
            };
        }
        Ok(())
    };
    writeln!(out, "# TYPE kube_pod_container_resource_limits gauge")?;
    for i in 0..targets {
        let labels = pod(i);
        sparse(
            &mut out,
            "kube_pod_container_resource_limits",
            &format!("{labels},resource=\"memory\""),
            5.0e8,
            &mut itoa,
        )?;
        sparse(
            &mut out,
            "kube_pod_container_resource_limits",
            &format!("{labels},resource=\"cpu\""),
            1.0,
            &mut itoa,
        )?;
    }
    writeln!(out, "# TYPE kube_pod_container_status_restarts_total gauge")?;
    for i in 0..targets {
        sparse(
            &mut out,
            "kube_pod_container_status_restarts_total",
            &pod(i),
            0.0,
            &mut itoa,
        )?;
    }
    writeln!(out, "# TYPE kube_deployment_spec_replicas gauge")?;
    for i in 0..targets {
        sparse(
            &mut out,
            "kube_deployment_spec_replicas",
            &format!("namespace=\"bench\",deployment=\"app-{i}\""),
            1.0,
            &mut itoa,
        )?;
    }
    writeln!(out, "# EOF")?;
    out.flush()
}

fn itoa_buf() -> impl FnMut(i64) -> String {
    |v: i64| v.to_string()
}
