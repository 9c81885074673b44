//! The built-in demo cluster: a simulated Online Boutique cluster running in time (`--demo-speed` times
//! faster than the wall clock), with faults that have precursors scheduled every few minutes, predicted
//! per workload every step with the model's window model (`learn::Window` → `learn::Prediction`, the
//! path `watch` takes), its history kept for the UI ([`ui::FleetHistory`]).
//!
//! Each workload keeps a ring of the model's window of samples and, like `watch`, the trailing baseline
//! of the samples that left it (in time order). The simulation starts `warmup` before now and is stepped
//! at once up to now, so the first page already shows history, incidents included.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use learn::LearnError;
use learn::bundle::ModelBundle;
use learn::dataset::ColumnKind;
use learn::trailing::{BaselineSpec, TargetBaseline};
use learn::window::Window;
use sim::catalog::{COLUMNS, N_COLUMNS, deployment_rows};
use sim::{SimConfig, Simulation};
use ui::{AlertState, FleetHistory, HistoryConfig, Observation};

/// How the demo cluster runs (`kubepulse serve --demo-*`).
#[derive(Debug, Clone, PartialEq)]
pub struct DemoConfig {
    /// Simulated seconds per wall-clock second (1 = real time).
    pub speed: f64,
    /// Faults to schedule (`KIND:DEPLOYMENT@+OFFSET[/LEAD]`, offsets from the simulation's start, which
    /// is `warmup` before now); empty = the default rotation, one fault every `fault_every` with random
    /// benign look-alikes. With faults given, nothing else happens (no random fault, look-alike or burst).
    pub faults: Vec<String>,
    /// Simulated history before now, seconds (stepped at once at startup).
    pub warmup_secs: i64,
    /// Simulated seconds between two faults of the default rotation.
    pub fault_every_secs: i64,
    /// Reports every workload under this namespace instead of the preset's (a name is user-controlled
    /// text on a real cluster: the UI must show it as text, whatever it holds).
    pub namespace: Option<String>,
    /// Seed of the simulation.
    pub seed: u64,
    /// Probability points kept per workload.
    pub history_points: usize,
    /// The alarm threshold (0–1); `None` = the model's.
    pub threshold: Option<f64>,
}

impl Default for DemoConfig {
    fn default() -> Self {
        DemoConfig {
            speed: 1.0,
            faults: Vec::new(),
            warmup_secs: 30 * 60,
            fault_every_secs: 5 * 60,
            namespace: None,
            seed: 7,
            history_points: 480,
            threshold: None,
        }
    }
}

/// Why the demo could not start.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The simulation could not be built (e.g. a bad `--demo-fault`).
    #[error("the demo cluster: {0}")]
    Sim(#[from] sim::SimError),
    /// The model does not fit the simulator's columns.
    #[error("the demo cluster: the model does not fit the simulator: {0}")]
    Model(String),
    /// A setting is out of range.
    #[error("the demo cluster: {0}")]
    Invalid(String),
}

/// Fault kinds of the default rotation: each has a precursor the model can see.
const ROTATION: [&str; 4] = [
    "memory_leak",
    "traffic_surge",
    "network_degradation",
    "bad_rollout",
];

/// Lead of the rotation's faults: their precursor begins this long before the failure.
const ROTATION_LEAD: &str = "6m";

/// Simulated span of the demo (its faults are scheduled over it), seconds.
const DEMO_DURATION_SECS: i64 = 7 * 86_400;

/// One workload's samples over the model's window, and its trailing baseline.
struct Ring {
    rows: VecDeque<(i64, Vec<f64>)>,
    baseline: TargetBaseline,
}

/// The demo cluster: the simulation, the model and every workload's window.
pub struct DemoCluster {
    sim: Simulation,
    model: Arc<ModelBundle>,
    /// The model's metrics, and for each the simulator's column index.
    metrics: Vec<String>,
    columns: Vec<usize>,
    kinds: Vec<ColumnKind>,
    /// The model's baseline (its features need it), else a display-only one for the bands.
    baseline_spec: BaselineSpec,
    model_has_baseline: bool,
    window_points: usize,
    names: Vec<String>,
    rings: Vec<Ring>,
    rows: Vec<[f64; N_COLUMNS]>,
    threshold: f64,
    history: Arc<FleetHistory>,
    speed: f64,
}

impl std::fmt::Debug for DemoCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoCluster")
            .field("targets", &self.names)
            .field("speed", &self.speed)
            .finish_non_exhaustive()
    }
}

/// The start of the simulation: `warmup` before `now`, on the step grid.
fn start_ts(now: i64, warmup_secs: i64, step: i64) -> i64 {
    (now - warmup_secs).div_euclid(step) * step
}

impl DemoCluster {
    /// Builds the simulation (started `warmup` before `now`, unix seconds) and steps it up to `now`.
    pub fn new(config: &DemoConfig, model: Arc<ModelBundle>, now: i64) -> Result<Self, DemoError> {
        if !(config.speed > 0.0 && config.speed <= 1000.0) {
            return Err(DemoError::Invalid(format!(
                "speed must be within (0, 1000], not {}",
                config.speed
            )));
        }
        if config.warmup_secs < 0 || config.fault_every_secs < 60 {
            return Err(DemoError::Invalid(
                "warm-up must be ≥ 0 and the fault spacing ≥ 60 s".to_string(),
            ));
        }
        let info = model.info().clone();
        let step = info.step_secs;
        let mut sim_config = SimConfig {
            seed: config.seed,
            preset: "online-boutique".to_string(),
            start: start_ts(now, config.warmup_secs, step).to_string(),
            duration: format!("{DEMO_DURATION_SECS}s"),
            step: format!("{step}s"),
            clusters: 1,
            ..SimConfig::default()
        };
        sim_config.faults = sim::config::FaultRates::NONE;
        if config.faults.is_empty() {
            sim_config.schedule = rotation(config.fault_every_secs, &deployments(&sim_config)?);
        } else {
            sim_config.calm();
            sim_config.schedule = config.faults.clone();
        }
        let sim = Simulation::new(&sim_config.check()?)?;
        let available: Vec<&str> = COLUMNS.iter().map(|c| c.name).collect();
        let resolution = learn::columns::resolve(&info.metrics, &available, &Default::default())
            .map_err(|e| DemoError::Model(e.to_string()))?;
        // Missing columns are an error under the default map: every model metric has a column.
        let columns = resolution
            .index
            .iter()
            .zip(&info.metrics)
            .map(|(i, m)| i.ok_or_else(|| DemoError::Model(format!("no simulator column for {m}"))))
            .collect::<Result<Vec<usize>, DemoError>>()?;
        let model_baseline = model.window_model().meta.features.baseline;
        let metrics = info.metrics.clone();
        let kinds = metrics.iter().map(|m| ColumnKind::of(m)).collect();
        let cluster = &sim.clusters[0];
        let names: Vec<String> = cluster
            .spec
            .deployments
            .iter()
            .map(|d| {
                let ns = config.namespace.as_deref().unwrap_or(&d.namespace);
                format!("{ns}/{}", d.name)
            })
            .collect();
        let threshold = config.threshold.unwrap_or(info.threshold);
        let history = Arc::new(FleetHistory::new(HistoryConfig {
            points: config.history_points.max(2),
            metric_points: config.history_points.clamp(2, 240),
            metrics: metrics.clone(),
            threshold,
            horizon_secs: info.horizon_secs as f64,
            issue_types: info.issue_types.clone(),
            source: format!(
                "simulated Online Boutique cluster at {}x speed",
                config.speed
            ),
        }));
        let n_metrics = metrics.len();
        let mut demo = DemoCluster {
            rings: names
                .iter()
                .map(|_| Ring {
                    rows: VecDeque::new(),
                    baseline: TargetBaseline::new(n_metrics),
                })
                .collect(),
            sim,
            model,
            metrics,
            columns,
            kinds,
            baseline_spec: model_baseline.unwrap_or_default(),
            model_has_baseline: model_baseline.is_some(),
            window_points: (info.window_secs / step).max(1) as usize,
            names,
            rows: Vec::new(),
            threshold,
            history,
            speed: config.speed,
        };
        while demo.sim.now() + step <= now {
            // Only the last steps' explanations are ever shown: skip TreeSHAP during the warm-up.
            let explain = demo.sim.now() + 2 * step > now;
            demo.step(explain)?;
        }
        Ok(demo)
    }

    /// The history the UI reads.
    pub fn history(&self) -> Arc<FleetHistory> {
        self.history.clone()
    }

    /// The simulation's current time, unix seconds.
    pub fn now(&self) -> i64 {
        self.sim.now()
    }

    /// Advances one step and predicts for every workload (with TreeSHAP evidence when `explain`).
    pub fn step(&mut self, explain: bool) -> Result<(), DemoError> {
        self.sim.advance();
        let cluster = &self.sim.clusters[0];
        let t = cluster.t;
        deployment_rows(cluster, &mut self.rows);
        let in_progress: Vec<(usize, String)> = cluster
            .incidents_in_progress()
            .map(|(d, label)| (d, label.issue_type.clone()))
            .collect();
        let mut predictions = Vec::with_capacity(self.names.len());
        let mut latest = Vec::with_capacity(self.names.len());
        let mut bands = Vec::with_capacity(self.names.len());
        for (d, ring) in self.rings.iter_mut().enumerate() {
            let row: Vec<f64> = self
                .columns
                .iter()
                .map(|&c| self.rows.get(d).map_or(f64::NAN, |r| r[c]))
                .collect();
            ring.rows.push_back((t, row.clone()));
            while ring.rows.len() > self.window_points {
                if let Some((ts, old)) = ring.rows.pop_front() {
                    ring.baseline
                        .push_row(&self.baseline_spec, &self.kinds, ts, |m| old[m]);
                }
            }
            let window = Window {
                target: self.names[d].clone(),
                timestamps: ring.rows.iter().map(|(ts, _)| *ts).collect(),
                columns: self
                    .metrics
                    .iter()
                    .enumerate()
                    .map(|(m, name)| (name.clone(), ring.rows.iter().map(|(_, r)| r[m]).collect()))
                    .collect(),
                baseline: self.model_has_baseline.then(|| ring.baseline.clone()),
            };
            let prediction = self
                .model
                .predict_window(&window, learn::prediction::PredictOptions::explain(explain))
                .map_err(|e: LearnError| DemoError::Model(e.to_string()))?;
            predictions.push(prediction);
            latest.push(row);
            bands.push(
                (0..self.metrics.len())
                    .map(|m| {
                        (self.kinds[m] == ColumnKind::Gauge)
                            .then(|| ring.baseline.metric(m).reference(&self.baseline_spec))
                            .flatten()
                            .map(|(mean, sd)| {
                                let w = self.baseline_spec.band * sd;
                                (mean - w, mean + w)
                            })
                    })
                    .collect::<Vec<_>>(),
            );
        }
        let threshold = self.threshold;
        self.history.record_cycle(
            t,
            self.names.iter().enumerate().map(|(d, name)| {
                let p = &predictions[d];
                let incident = in_progress
                    .iter()
                    .find(|(dep, _)| *dep == d)
                    .map(|(_, t)| t.as_str());
                let state = if incident.is_some() {
                    AlertState::InProgress
                } else if p.issue_probability >= threshold {
                    AlertState::Firing
                } else {
                    AlertState::Ok
                };
                Observation {
                    target: name,
                    prediction: Some(p),
                    state,
                    incident_type: incident,
                    metrics: Some(&latest[d]),
                    band: Some(&bands[d]),
                }
            }),
        );
        Ok(())
    }

    /// Runs the cluster in time on its own thread (one step every `step / speed` wall seconds) until
    /// the returned handle is dropped.
    pub fn spawn(mut self) -> DemoHandle {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let step = Duration::from_secs_f64(self.sim.config.step_secs as f64 / self.speed);
        let thread = std::thread::Builder::new()
            .name("demo-cluster".into())
            .spawn(move || {
                let mut next = Instant::now() + step;
                while !flag.load(Ordering::Relaxed) {
                    let now = Instant::now();
                    if now < next {
                        std::thread::sleep((next - now).min(Duration::from_millis(50)));
                        continue;
                    }
                    if let Err(e) = self.step(true) {
                        tracing::warn!(error = %e, "the demo cluster stopped");
                        break;
                    }
                    // Behind by more than a step (a slow machine): carry on from now, never burst.
                    next = (next + step).max(now);
                }
            });
        if let Err(e) = &thread {
            tracing::warn!(error = %e, "cannot start the demo cluster's thread");
        }
        DemoHandle {
            stop,
            thread: thread.ok(),
        }
    }
}

/// The running demo cluster; dropping it stops the cluster's thread.
#[derive(Debug)]
pub struct DemoHandle {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for DemoHandle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The deployments of the demo's preset.
fn deployments(config: &SimConfig) -> Result<Vec<String>, DemoError> {
    let valid = config.check()?;
    let spec = sim::topology::ClusterSpec::build(valid.preset, 0, valid.seed, valid.load.scale);
    Ok(spec.deployments.iter().map(|d| d.name.clone()).collect())
}

/// One fault every `every` seconds over the demo's span, kinds and deployments in turn, each with a
/// precursor of [`ROTATION_LEAD`]; the first fails 12 minutes in (inside the default warm-up).
fn rotation(every: i64, deployments: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut at = 12 * 60;
    let mut i = 0usize;
    while at < DEMO_DURATION_SECS - every && !deployments.is_empty() {
        let kind = ROTATION[i % ROTATION.len()];
        // Step through the deployments with a stride coprime to their count, so neighbours differ.
        let dep = &deployments[(i * 5) % deployments.len()];
        out.push(format!("{kind}:{dep}@+{at}s/{ROTATION_LEAD}"));
        at += every;
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ui::FleetSource;

    fn model() -> Arc<ModelBundle> {
        Arc::new(ModelBundle::embedded().expect("embedded model"))
    }

    #[test]
    fn the_rotation_has_faults_every_few_minutes_on_known_deployments() {
        let config = SimConfig {
            preset: "online-boutique".into(),
            ..SimConfig::default()
        };
        let deps = deployments(&config).expect("deployments");
        let r = rotation(300, &deps);
        assert!(r.len() > 1000, "{}", r.len());
        assert!(r[0].starts_with("memory_leak:") && r[0].ends_with("@+720s/6m"));
        assert!(r[1].ends_with("@+1020s/6m"));
    }

    #[test]
    fn a_scheduled_leak_is_predicted_before_it_fails_and_then_in_progress() {
        let config = DemoConfig {
            faults: vec!["memory_leak:cartservice@+20m/8m".into()],
            warmup_secs: 0,
            ..DemoConfig::default()
        };
        let now = 1_780_000_000;
        let mut demo = DemoCluster::new(&config, model(), now).expect("demo");
        let target = demo
            .names
            .iter()
            .find(|n| n.ends_with("/cartservice"))
            .cloned()
            .expect("cartservice");
        let start = demo.now();
        let mut before_max: f64 = 0.0;
        let mut at_start_rank = None;
        let mut saw_in_progress = false;
        while demo.now() < start + 30 * 60 {
            demo.step(false).expect("step");
            let elapsed = demo.now() - start;
            let d = demo.history.target(&target).expect("known");
            if elapsed < 20 * 60 {
                if elapsed > 12 * 60 {
                    before_max = before_max.max(d.summary.probability);
                }
                if elapsed >= 19 * 60 && at_start_rank.is_none() {
                    let page = demo.history.fleet(&Default::default());
                    at_start_rank = page.targets.iter().position(|t| t.target == target);
                }
            } else if d.summary.state == AlertState::InProgress {
                saw_in_progress = true;
            }
        }
        assert!(
            before_max >= demo.threshold,
            "the leak's probability before the failure peaked at {before_max}"
        );
        assert_eq!(
            at_start_rank,
            Some(0),
            "the leaking workload is not ranked first"
        );
        assert!(saw_in_progress, "the incident never showed as in progress");
    }

    #[test]
    fn warm_up_fills_the_history_and_names_can_be_anything() {
        let config = DemoConfig {
            warmup_secs: 10 * 60,
            namespace: Some("<script>alert(1)</script>".into()),
            ..DemoConfig::default()
        };
        let demo = DemoCluster::new(&config, model(), 1_780_000_005).expect("demo");
        let page = demo.history.fleet(&Default::default());
        assert_eq!(page.total, 11);
        assert!(
            page.targets[0]
                .target
                .starts_with("<script>alert(1)</script>/")
        );
        let d = demo.history.target(&page.targets[0].target).expect("known");
        // 10 minutes at a 15 s step, the samples at both ends included.
        assert!((40..=41).contains(&d.history.len()), "{}", d.history.len());
    }
}
