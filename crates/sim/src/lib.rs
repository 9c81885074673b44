//! Cluster simulator: Kubernetes-like telemetry with faults that have precursors.
//!
//! A [`config::SimConfig`] (TOML, all optional) is checked into a [`config::ValidConfig`]; a
//! [`simulation::Simulation`] builds clusters from a preset ([`topology`]), drives their load ([`load`]),
//! applies faults and benign look-alikes ([`faults`]) in the [`engine`], and records labels. Outputs read
//! the engine's state after each step: the dataset ([`dataset`], columns from [`catalog`] or
//! [`snapshot`]), an OpenMetrics file ([`openmetrics`]) and a live exporter ([`exporter`]).
//! Everything is deterministic for a seed.

// Library code reports through `tracing` and its return values; only the binary prints.
#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod catalog;
pub mod config;
pub mod dataset;
pub mod engine;
pub mod error;
pub mod exporter;
pub mod faults;
pub mod load;
pub mod openmetrics;
pub mod promql;
pub mod series;
pub mod simulation;
pub mod snapshot;
pub mod topology;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

pub use config::{Level, SimConfig, ValidConfig};
pub use error::{Result, SimError};
pub use simulation::Simulation;
pub use timeline::{Incident, IncidentSource};

/// Where a batch run writes.
#[derive(Debug, Clone, Default)]
pub struct Outputs {
    /// Dataset directory (`metrics.csv`, `events.csv` or their Parquet twins).
    pub dataset: Option<PathBuf>,
    /// The dataset's file format.
    pub format: dataset::Format,
    /// OpenMetrics file for `promtool tsdb create-blocks-from openmetrics`.
    pub openmetrics: Option<PathBuf>,
}

/// What a batch run produced.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Steps simulated.
    pub steps: u64,
    /// Pod-samples simulated (pods × steps).
    pub pod_samples: u64,
    /// Rows written to `metrics.csv`.
    pub rows: u64,
    /// Labels recorded.
    pub labels: Vec<Incident>,
}

/// Runs a simulation over its whole duration, streaming every step to the outputs. `progress` is called
/// with (steps done, steps total) now and then. On error, temporary files are removed.
pub fn run(
    config: &ValidConfig,
    outputs: &Outputs,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Summary> {
    run_until(config, outputs, progress, &AtomicBool::new(false))
}

/// [`run`], stopped early when `stop` becomes true (the binary sets it on SIGINT/SIGTERM): the
/// temporary files are removed and the result is [`SimError::Interrupted`]. A scheduled fault that
/// begins at or after the end of the run is an error before anything is written.
pub fn run_until(
    config: &ValidConfig,
    outputs: &Outputs,
    progress: &mut dyn FnMut(u64, u64),
    stop: &AtomicBool,
) -> Result<Summary> {
    let mut sim = Simulation::new(config)?;
    let end = config.start_ts + config.duration_secs;
    if let Some((spec, start)) = sim.scheduled.iter().find(|(_, start)| *start >= end) {
        return Err(SimError::FaultSpec {
            spec: spec.clone(),
            reason: format!(
                "it begins {} after the start, at or past the end of the simulation ({}): \
                 lengthen --duration or move the fault",
                timeline::time::format_duration_secs(start - config.start_ts),
                timeline::time::format_duration_secs(config.duration_secs)
            ),
        });
    }
    if let (Some(dir), dataset::Format::Parquet) = (&outputs.dataset, outputs.format) {
        if outputs.openmetrics.is_some() {
            return Err(SimError::Outputs(
                "a Parquet dataset is written one cluster at a time and OpenMetrics one step at a \
                 time: run twice (same seed) to get both"
                    .into(),
            ));
        }
        return run_parquet(config, dir, progress, stop);
    }
    let mut dataset = match &outputs.dataset {
        Some(dir) => Some(dataset::DatasetWriter::create(
            dir,
            config.level,
            sim.clusters.len(),
        )?),
        None => None,
    };
    let mut om = match &outputs.openmetrics {
        Some(path) => match openmetrics::OpenMetricsWriter::create(path) {
            Ok(w) => Some(w),
            Err(e) => {
                if let Some(d) = dataset {
                    d.abandon();
                }
                return Err(e);
            }
        },
        None => None,
    };
    let total = sim.steps_total();
    let mut pod_samples = 0u64;
    let mut result: Result<()> = Ok(());
    for i in 0..total {
        if stop.load(Ordering::Relaxed) {
            result = Err(SimError::Interrupted {
                steps_done: i,
                steps_total: total,
            });
            break;
        }
        sim.advance();
        pod_samples += sim.pod_count() as u64;
        if let Some(d) = dataset.as_mut() {
            result = d.write_step(&sim);
        }
        if result.is_ok() {
            if let Some(w) = om.as_mut() {
                result = w.write_step(&sim);
            }
        }
        if result.is_err() {
            break;
        }
        if i % 256 == 0 {
            progress(i, total);
        }
    }
    sim.finish();
    let labels = sim.labels();
    let rows = dataset.as_ref().map_or(0, |d| d.rows_written());
    if let Err(e) = result {
        if let Some(d) = dataset {
            d.abandon();
        }
        if let Some(w) = om {
            w.abandon();
        }
        return Err(e);
    }
    if let Some(d) = dataset {
        if let Err(e) = d.finish(&sim.labels_at(config.level)) {
            if let Some(w) = om {
                w.abandon();
            }
            return Err(e);
        }
    }
    if let Some(w) = om {
        w.finish()?;
    }
    progress(total, total);
    Ok(Summary {
        steps: total,
        pod_samples,
        rows,
        labels,
    })
}

/// The Parquet dataset run: clusters are independent, so each is simulated over the whole duration
/// in turn and written one row group per target ([`dataset::ParquetWriter`]). Same labels and values
/// as the CSV run of the same configuration.
fn run_parquet(
    config: &ValidConfig,
    dir: &std::path::Path,
    progress: &mut dyn FnMut(u64, u64),
    stop: &AtomicBool,
) -> Result<Summary> {
    let mut sim = Simulation::new(config)?;
    let total = sim.steps_total();
    let all = total * sim.clusters.len() as u64;
    let mut writer = dataset::ParquetWriter::create(dir, config.level)?;
    let mut pod_samples = 0u64;
    let mut done = 0u64;
    let mut result: Result<()> = Ok(());
    'clusters: for cluster in &mut sim.clusters {
        writer.begin_cluster(cluster, total as usize);
        for _ in 0..total {
            if stop.load(Ordering::Relaxed) {
                result = Err(SimError::Interrupted {
                    steps_done: done,
                    steps_total: all,
                });
                break 'clusters;
            }
            cluster.advance();
            pod_samples += cluster.pods.len() as u64;
            writer.record_step(cluster);
            done += 1;
            if done % 256 == 0 {
                progress(done, all);
            }
        }
        result = writer.end_cluster();
        if result.is_err() {
            break;
        }
    }
    if let Err(e) = result {
        writer.abandon();
        return Err(e);
    }
    sim.finish();
    let labels = sim.labels();
    let rows = writer.rows_written();
    writer.finish(&sim.labels_at(config.level))?;
    progress(all, all);
    Ok(Summary {
        steps: total,
        pod_samples,
        rows,
        labels,
    })
}
