//! The closed loop: the simulator with a controller acting during the run — the agent (model +
//! [`crate::decide`]), or a reactive baseline — compared with the same seed without any action:
//! incidents prevented by type, actions taken, false actions, extra replica-hours and memory GiB-hours,
//! time from the first alarm to the action.

use std::collections::{BTreeMap, VecDeque};

use learn::bundle::ModelBundle;
use learn::prediction::Prediction;
use learn::window::Window;
use rayon::prelude::*;
use serde::Serialize;
use sim::catalog::{self, COLUMNS, N_COLUMNS};
use sim::engine::Intervention;
use sim::{Incident, Simulation, ValidConfig};

use crate::action::{Action, Decision};
use crate::audit::Audit;
use crate::decide::decide;
use crate::error::RemediateError;
use crate::executor::Executor;
use crate::history::History;
use crate::policy::{Mode, Modes, Policy};
use crate::simulated::{self, column};

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
const MIB: f64 = 1024.0 * 1024.0;

/// Incident details an action can avert: leak → OOM, traffic surge, bad rollout, node pressure.
pub const AVERTABLE: [&str; 4] = ["oom_kill", "cpu_saturation", "crash_loop", "node_not_ready"];

/// An incident of the run without action counts as prevented when the run with actions has no incident
/// of the same target and detail starting from this long before it…, seconds.
pub const MATCH_BEFORE_SECS: i64 = 600;
/// …to this long after it, seconds.
pub const MATCH_AFTER_SECS: i64 = 1800;
/// An action is false when, in the run without action, its target has no incident the action answers
/// ([`answers`]) ongoing at the action or starting within this long after it, seconds. For a
/// cordon/drain, the incident is the drained node itself going NotReady ([`NodeIncident`]).
pub const FALSE_ACTION_WINDOW_SECS: i64 = 1800;

/// The incident details (`Incident::detail`) an action on a workload can avert: a scale-out a CPU
/// saturation, a memory raise an OOM kill, a rollback a crash loop. Empty for the others (a
/// cordon/drain answers its node's NotReady spell, [`NodeIncident`]; restores and recommendations are
/// not new actions).
pub fn answers(action: &Action) -> &'static [&'static str] {
    match action {
        Action::RaiseHpaMinReplicas { .. } | Action::ScaleReplicas { .. } => &["cpu_saturation"],
        Action::RaiseMemoryLimit { .. } => &["oom_kill"],
        Action::Rollback { .. } => &["crash_loop"],
        _ => &[],
    }
}

/// A node's spell NotReady during a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeIncident {
    /// Index of the simulated cluster.
    pub cluster: usize,
    /// Index of the node in its cluster (stable across runs of one configuration: nodes are only
    /// added, in the schedule's order; the names of added nodes may differ).
    pub index: usize,
    /// The node.
    pub node: String,
    /// When it went NotReady, unix seconds.
    pub start: i64,
    /// When it was Ready again (or the run ended), unix seconds.
    pub end: i64,
}

/// What acts during a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Nothing: the reference run.
    NoAction,
    /// The model's predictions through the agent's policy.
    Agent,
    /// A reactive autoscaler: scales out (same rules, caps and budgets as the agent) once a workload's
    /// CPU is at 90% of its limit.
    ReactiveHpa,
    /// A VPA-style bump after each OOM kill: memory limit × 1.2 or + 100 MiB, whichever is larger.
    VpaBump,
}

impl Strategy {
    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::NoAction => "no_action",
            Strategy::Agent => "agent",
            Strategy::ReactiveHpa => "reactive_hpa",
            Strategy::VpaBump => "vpa_bump_after_oom",
        }
    }
}

/// One action applied during a run.
#[derive(Debug, Clone, Serialize)]
pub struct AppliedAction {
    /// Index of the simulated cluster.
    #[serde(skip)]
    pub cluster: usize,
    /// For a cordon/drain, the index of the node in its cluster.
    #[serde(skip)]
    pub node_index: Option<usize>,
    /// When, unix seconds.
    pub at: i64,
    /// The workload whose prediction (or signal) led to it.
    pub target: String,
    /// The action.
    pub action: Action,
    /// Seconds from the first alarm of the episode to the action (agent only).
    pub lead_secs: Option<i64>,
}

/// What one run produced.
#[derive(Debug, Clone, Serialize)]
pub struct RunStats {
    /// The strategy.
    pub strategy: Strategy,
    /// Incident labels.
    pub labels: Vec<Incident>,
    /// Nodes' NotReady spells.
    pub node_incidents: Vec<NodeIncident>,
    /// New actions applied (restores and reverts are counted in `undone`).
    pub applied: Vec<AppliedAction>,
    /// Restores and reverts applied.
    pub undone: usize,
    /// Pods × seconds over the run.
    pub pod_seconds: f64,
    /// Memory limits of all pods × seconds over the run, GiB·s.
    pub memory_gib_seconds: f64,
    /// Decisions audited, by outcome.
    pub audit: Audit,
}

/// Per-deployment rings of the latest rows, as long as the model's window.
struct Rings {
    len: usize,
    rings: Vec<VecDeque<(i64, [f64; N_COLUMNS])>>,
}

impl Rings {
    fn push(&mut self, t: i64, rows: &[[f64; N_COLUMNS]]) {
        self.rings.resize_with(rows.len(), VecDeque::new);
        for (ring, row) in self.rings.iter_mut().zip(rows) {
            if ring.len() == self.len {
                ring.pop_front();
            }
            ring.push_back((t, *row));
        }
    }
}

/// Runs the simulation once with a strategy. `model` is required for [`Strategy::Agent`]; `log` gets
/// every audit line; `progress` (steps done, total) now and then.
pub fn run(
    config: &ValidConfig,
    strategy: Strategy,
    policy: &Policy,
    model: Option<&ModelBundle>,
    log: &mut dyn FnMut(&str),
    progress: &mut dyn FnMut(u64, u64),
) -> Result<RunStats, RemediateError> {
    let mut sim = Simulation::new(config)?;
    let total = sim.steps_total();
    let step = config.step_secs;
    let n_clusters = sim.clusters.len();
    let (window_len, metric_cols): (usize, Vec<(String, usize)>) = match model {
        Some(m) => {
            let info = m.info();
            let cols = info
                .metrics
                .iter()
                .map(|name| {
                    COLUMNS
                        .iter()
                        .position(|c| c.name == name)
                        .map(|i| (name.clone(), i))
                        .ok_or_else(|| {
                            RemediateError::Model(learn::LearnError::Window(format!(
                                "the model reads `{name}`, which the simulator does not produce"
                            )))
                        })
                })
                .collect::<Result<_, _>>()?;
            (((info.window_secs + step / 2) / step).max(1) as usize, cols)
        }
        None if strategy == Strategy::Agent => {
            return Err(RemediateError::Model(learn::LearnError::Bundle(
                "the agent needs a model".into(),
            )));
        }
        None => (1, Vec::new()),
    };
    let policy = match strategy {
        Strategy::ReactiveHpa => {
            // The same caps, budgets and cooldowns, scale-out only, every namespace.
            let mut p = policy.clone();
            p.nodes = Mode::Observe;
            let only_scale = Modes {
                scale_out: Mode::Auto,
                ..Modes::default()
            };
            p.defaults = only_scale;
            p.namespaces.clear();
            for c in &sim.clusters {
                for d in &c.spec.deployments {
                    p.namespaces.insert(d.namespace.clone(), only_scale);
                }
            }
            p
        }
        _ => policy.clone(),
    };
    let (cpu_col, mem_col, restarts_col, oom_col) = (
        column("cpu_limit_utilization_max"),
        column("memory_limit_utilization_max"),
        column("restarts_total"),
        column("oom_killed_containers"),
    );
    let mut rings: Vec<Rings> = (0..n_clusters)
        .map(|_| Rings {
            len: window_len,
            rings: Vec::new(),
        })
        .collect();
    let mut histories = vec![History::default(); n_clusters];
    let mut alarm_since: Vec<BTreeMap<String, (i64, i64)>> = vec![BTreeMap::new(); n_clusters];
    let mut node_rings: Vec<Vec<VecDeque<f64>>> = vec![Vec::new(); n_clusters];
    let mut node_pod_rings: Vec<Vec<VecDeque<u32>>> = vec![Vec::new(); n_clusters];
    let mut previous_rows: Vec<Vec<[f64; N_COLUMNS]>> = vec![Vec::new(); n_clusters];
    let mut rows: Vec<[f64; N_COLUMNS]> = Vec::new();
    let mut not_ready_since: Vec<Vec<Option<i64>>> = vec![Vec::new(); n_clusters];
    let mut stats = RunStats {
        strategy,
        labels: Vec::new(),
        node_incidents: Vec::new(),
        applied: Vec::new(),
        undone: 0,
        pod_seconds: 0.0,
        memory_gib_seconds: 0.0,
        audit: Audit::default(),
    };
    for i in 0..total {
        sim.advance();
        for ci in 0..n_clusters {
            let cluster = &sim.clusters[ci];
            let t = cluster.t;
            stats.pod_seconds += cluster.pods.len() as f64 * step as f64;
            stats.memory_gib_seconds += cluster
                .pods
                .iter()
                .map(|p| cluster.deps[p.dep].memory_limit_bytes)
                .sum::<f64>()
                / GIB
                * step as f64;
            let since = &mut not_ready_since[ci];
            since.resize(cluster.nodes.len(), None);
            for (index, (s, node)) in since.iter_mut().zip(&cluster.nodes).enumerate() {
                match (node.ready, *s) {
                    (false, None) => *s = Some(t),
                    (true, Some(start)) => {
                        stats.node_incidents.push(NodeIncident {
                            cluster: ci,
                            index,
                            node: node.spec.name.clone(),
                            start,
                            end: t,
                        });
                        *s = None;
                    }
                    _ => {}
                }
            }
            if strategy == Strategy::NoAction {
                continue;
            }
            catalog::deployment_rows(cluster, &mut rows);
            let nr = &mut node_rings[ci];
            nr.resize_with(cluster.nodes.len(), VecDeque::new);
            for (ring, node) in nr.iter_mut().zip(&cluster.nodes) {
                if ring.len() == window_len {
                    ring.pop_front();
                }
                ring.push_back(node.memory_available / node.spec.memory_bytes);
            }
            let mut pods_on = vec![0u32; cluster.nodes.len()];
            for p in &cluster.pods {
                if let Some(n) = p.node.and_then(|n| pods_on.get_mut(n)) {
                    *n += 1;
                }
            }
            let pr = &mut node_pod_rings[ci];
            pr.resize_with(cluster.nodes.len(), VecDeque::new);
            for (ring, &n) in pr.iter_mut().zip(&pods_on) {
                if ring.len() == window_len {
                    ring.pop_front();
                }
                ring.push_back(n);
            }
            let predictions: Vec<(String, Prediction)> = match strategy {
                Strategy::Agent => {
                    rings[ci].push(t, &rows);
                    let windows: Vec<Window> = rings[ci]
                        .rings
                        .iter()
                        .enumerate()
                        .filter(|(_, r)| r.len() == window_len)
                        .map(|(dep, r)| Window {
                            target: cluster.target(dep),
                            timestamps: r.iter().map(|(t, _)| *t).collect(),
                            columns: metric_cols
                                .iter()
                                .map(|(name, c)| {
                                    (name.clone(), r.iter().map(|(_, v)| v[*c]).collect())
                                })
                                .collect(),
                            baseline: None,
                        })
                        .collect();
                    let Some(m) = model else { continue };
                    let predicted: Vec<Result<Prediction, learn::LearnError>> = windows
                        .par_iter()
                        .map(|w| {
                            m.predict_window(w, learn::prediction::PredictOptions::explain(false))
                        })
                        .collect();
                    let mut out = Vec::with_capacity(windows.len());
                    for (w, p) in windows.into_iter().zip(predicted) {
                        out.push((w.target, p?));
                    }
                    out
                }
                Strategy::ReactiveHpa => rows
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| r[cpu_col] >= 0.9)
                    .map(|(dep, _)| (cluster.target(dep), reactive_prediction()))
                    .collect(),
                Strategy::VpaBump => {
                    let prev = &previous_rows[ci];
                    let mut bumps = Vec::new();
                    for (dep, r) in rows.iter().enumerate() {
                        let before = prev.get(dep).map_or(0.0, |p| p[restarts_col]);
                        if r[oom_col] > 0.0 && r[restarts_col] > before {
                            bumps.push(dep);
                        }
                    }
                    previous_rows[ci] = rows.clone();
                    for dep in bumps {
                        let c = &mut sim.clusters[ci];
                        let limit = c.deps[dep].memory_limit_bytes;
                        let to = (limit * 1.2).max(limit + 100.0 * MIB);
                        c.intervene(&Intervention::ResizeMemoryLimit {
                            dep,
                            limit_bytes: to,
                        })?;
                        stats.applied.push(AppliedAction {
                            cluster: ci,
                            node_index: None,
                            at: t,
                            target: c.target(dep),
                            action: Action::RaiseMemoryLimit {
                                target: c.target(dep),
                                container: c.spec.deployments[dep].name.clone(),
                                from_bytes: limit,
                                to_bytes: to,
                                request_to_bytes: None,
                            },
                            lead_secs: None,
                        });
                    }
                    continue;
                }
                Strategy::NoAction => continue,
            };
            // Alarm episodes (for the time from the first alarm to the action).
            for (target, p) in &predictions {
                if p.will_have_issue {
                    let e = alarm_since[ci].entry(target.clone()).or_insert((t, t));
                    if t - e.1 > 300 {
                        *e = (t, t);
                    }
                    e.1 = t;
                }
            }
            let history = &mut histories[ci];
            let due = history.changes.iter().any(|c| {
                c.verify_at.is_some_and(|v| v <= t) || c.expires_at.is_some_and(|e| e <= t)
            });
            if !due && !predictions.iter().any(|(_, p)| p.will_have_issue) {
                continue;
            }
            let minutes = (window_len.max(2) - 1) as f64 * step as f64 / 60.0;
            let memory: Vec<(f64, f64)> = (0..rows.len())
                .map(|dep| match rings[ci].rings.get(dep) {
                    Some(r) if r.len() == window_len && window_len > 1 => {
                        let (times, values): (Vec<i64>, Vec<f64>) =
                            r.iter().map(|(t, v)| (*t, v[mem_col])).unzip();
                        crate::live::memory_trends(&times, &values)
                    }
                    _ => (f64::NAN, f64::NAN),
                })
                .collect();
            let node_rings = &mut node_rings[ci];
            let trends = simulated::Trends {
                complete: (0..rows.len())
                    .map(|dep| match strategy {
                        Strategy::Agent => rings[ci].rings.get(dep).is_some_and(|r| {
                            r.len() == window_len
                                && r.iter()
                                    .all(|(_, v)| metric_cols.iter().all(|(_, c)| !v[*c].is_nan()))
                        }),
                        _ => true,
                    })
                    .collect(),
                memory_per_min: memory.iter().map(|m| m.0).collect(),
                memory_sustained_per_min: memory.iter().map(|m| m.1).collect(),
                node_memory_per_min: node_rings
                    .iter()
                    .map(|r| match (r.front(), r.back()) {
                        (Some(first), Some(last)) if r.len() == window_len && window_len > 1 => {
                            (last - first) / minutes
                        }
                        _ => f64::NAN,
                    })
                    .collect(),
                node_pods_added: node_pod_rings[ci].iter().map(pods_added).collect(),
            };
            let state = simulated::cluster_state(&sim.clusters[ci], &rows, &trends);
            let decisions = decide(&predictions, &state, &policy, t, history);
            for d in &decisions {
                execute(
                    d,
                    ci,
                    &mut sim.clusters[ci],
                    history,
                    &policy,
                    &mut stats,
                    &alarm_since[ci],
                    log,
                );
            }
        }
        if i % 256 == 0 {
            progress(i, total);
        }
    }
    for (ci, since) in not_ready_since.iter().enumerate() {
        let cluster = &sim.clusters[ci];
        for (index, (s, node)) in since.iter().zip(&cluster.nodes).enumerate() {
            if let Some(start) = *s {
                stats.node_incidents.push(NodeIncident {
                    cluster: ci,
                    index,
                    node: node.spec.name.clone(),
                    start,
                    end: cluster.t,
                });
            }
        }
    }
    sim.finish();
    stats.labels = sim.labels();
    progress(total, total);
    Ok(stats)
}

/// Pods added over a ring of pod counts: the latest count minus the lowest.
fn pods_added(ring: &VecDeque<u32>) -> u32 {
    let now = ring.back().copied().unwrap_or(0);
    now.saturating_sub(ring.iter().copied().min().unwrap_or(now))
}

/// Applies (if it says so), records and audits one decision.
#[allow(clippy::too_many_arguments)]
fn execute(
    d: &Decision,
    cluster_index: usize,
    cluster: &mut sim::engine::Cluster,
    history: &mut History,
    policy: &Policy,
    stats: &mut RunStats,
    alarm_since: &BTreeMap<String, (i64, i64)>,
    log: &mut dyn FnMut(&str),
) {
    if d.applies() {
        let Some(action) = &d.action else { return };
        if let Err(e) = simulated::SimExecutor(cluster).apply(action) {
            log(&stats.audit.record(d, Some(&e.to_string())));
            return;
        }
        if action.is_undo() {
            stats.undone += 1;
        } else {
            let node_index = match action {
                Action::CordonDrain { node } => {
                    cluster.nodes.iter().position(|n| n.spec.name == *node)
                }
                _ => None,
            };
            stats.applied.push(AppliedAction {
                cluster: cluster_index,
                node_index,
                at: d.at,
                target: d.target.clone(),
                action: action.clone(),
                lead_secs: alarm_since.get(&d.target).map(|(s, _)| d.at - s),
            });
        }
    }
    history.record(d, policy);
    log(&stats.audit.record(d, None));
}

fn reactive_prediction() -> Prediction {
    Prediction {
        will_have_issue: true,
        issue_probability: 1.0,
        issue_type: "resource_exhaustion".to_string(),
        probabilities: BTreeMap::new(),
        time_to_issue_seconds: None,
        horizon_seconds: 0.0,
        explanation: None,
        recommendation: None,
        baseline_seconds: None,
    }
}

/// A strategy's figures against the run without action.
#[derive(Debug, Clone, Serialize)]
pub struct StrategyReport {
    /// The strategy.
    pub strategy: Strategy,
    /// Avertable incidents of the run without action, by detail.
    pub avertable: BTreeMap<String, usize>,
    /// Of those, prevented, by detail.
    pub prevented: BTreeMap<String, usize>,
    /// Sum of `avertable`.
    pub avertable_total: usize,
    /// Sum of `prevented`.
    pub prevented_total: usize,
    /// `prevented_total / avertable_total`, %.
    pub prevented_pct: f64,
    /// Incidents of every type in this run.
    pub incidents: usize,
    /// Incidents of this run with no counterpart in the run without action.
    pub new_incidents: usize,
    /// Those, by detail.
    pub new_incidents_by_detail: BTreeMap<String, usize>,
    /// New actions applied.
    pub actions: usize,
    /// New actions applied, by action.
    pub actions_by_kind: BTreeMap<String, usize>,
    /// Restores and reverts applied.
    pub undone: usize,
    /// Actions that answered no incident of the run without action: their target (for a cordon/drain,
    /// the node) had no incident the action can avert ongoing or starting within 30 min
    /// ([`is_false_action`]).
    pub false_actions: usize,
    /// `false_actions / actions`, %.
    pub false_actions_pct: f64,
    /// False actions, by action.
    pub false_actions_by_kind: BTreeMap<String, usize>,
    /// Extra replica-hours against the run without action.
    pub extra_replica_hours: f64,
    /// `extra_replica_hours` as % of the run's replica-hours without action.
    pub extra_replica_pct: f64,
    /// Extra memory (limits) GiB-hours against the run without action.
    pub extra_memory_gib_hours: f64,
    /// `extra_memory_gib_hours` as % of the run's without action.
    pub extra_memory_pct: f64,
    /// Median seconds from the first alarm of an episode to the action.
    pub median_lead_secs: Option<f64>,
    /// Decisions audited, by outcome.
    pub decisions: BTreeMap<String, u64>,
}

fn matches(a: &Incident, b: &Incident) -> bool {
    a.target == b.target
        && a.detail == b.detail
        && b.start >= a.start - MATCH_BEFORE_SECS
        && b.start <= a.start + MATCH_AFTER_SECS
}

/// Whether an applied action is false against the run without action: it answered no incident there.
/// A workload action is needed when its target has an incident of a detail it can avert
/// ([`answers`]) ongoing at the action or starting within [`FALSE_ACTION_WINDOW_SECS`] after it; a
/// cordon/drain when the node itself (same cluster, same node index) is NotReady at the action or goes
/// NotReady within that span.
pub fn is_false_action(reference: &RunStats, a: &AppliedAction) -> bool {
    let within = |start: i64, end: i64| start <= a.at + FALSE_ACTION_WINDOW_SECS && end >= a.at;
    let needed = match &a.action {
        Action::CordonDrain { .. } => reference.node_incidents.iter().any(|n| {
            n.cluster == a.cluster && Some(n.index) == a.node_index && within(n.start, n.end)
        }),
        action => {
            let details = answers(action);
            reference.labels.iter().any(|l| {
                l.target == a.target
                    && details.contains(&l.detail.as_str())
                    && within(l.start, l.end)
            })
        }
    };
    !needed
}

/// Compares a run with the run without action of the same configuration.
pub fn compare(reference: &RunStats, run: &RunStats) -> StrategyReport {
    let mut avertable = BTreeMap::new();
    let mut prevented = BTreeMap::new();
    for d in AVERTABLE {
        avertable.insert(d.to_string(), 0);
        prevented.insert(d.to_string(), 0);
    }
    for l in &reference.labels {
        if let Some(n) = avertable.get_mut(&l.detail) {
            *n += 1;
            if !run.labels.iter().any(|r| matches(l, r)) {
                *prevented.entry(l.detail.clone()).or_default() += 1;
            }
        }
    }
    let mut new_incidents_by_detail: BTreeMap<String, usize> = BTreeMap::new();
    for r in &run.labels {
        if !reference.labels.iter().any(|l| matches(l, r)) {
            *new_incidents_by_detail.entry(r.detail.clone()).or_default() += 1;
        }
    }
    let new_incidents = new_incidents_by_detail.values().sum();
    let mut false_actions_by_kind: BTreeMap<String, usize> = BTreeMap::new();
    let mut actions_by_kind: BTreeMap<String, usize> = BTreeMap::new();
    let mut false_actions = 0;
    for a in &run.applied {
        let name = serde_json::to_value(&a.action)
            .ok()
            .and_then(|v| v.get("action").and_then(|s| s.as_str()).map(str::to_string))
            .unwrap_or_default();
        *actions_by_kind.entry(name.clone()).or_default() += 1;
        let real = !is_false_action(reference, a);
        if !real {
            false_actions += 1;
            *false_actions_by_kind.entry(name).or_default() += 1;
        }
    }
    let avertable_total: usize = avertable.values().sum();
    let prevented_total: usize = prevented.values().sum();
    let pct = |a: f64, b: f64| if b > 0.0 { 100.0 * a / b } else { 0.0 };
    let extra_replica_hours = (run.pod_seconds - reference.pod_seconds) / 3600.0;
    let extra_memory_gib_hours = (run.memory_gib_seconds - reference.memory_gib_seconds) / 3600.0;
    let mut leads: Vec<f64> = run
        .applied
        .iter()
        .filter_map(|a| a.lead_secs.map(|s| s as f64))
        .collect();
    leads.sort_by(f64::total_cmp);
    let median_lead_secs = (!leads.is_empty()).then(|| leads[leads.len() / 2]);
    let mut decisions = BTreeMap::new();
    for ((outcome, _, _), n) in &run.audit.counts {
        *decisions.entry(outcome.clone()).or_default() += n;
    }
    StrategyReport {
        strategy: run.strategy,
        avertable,
        prevented,
        avertable_total,
        prevented_total,
        prevented_pct: pct(prevented_total as f64, avertable_total as f64),
        incidents: run.labels.len(),
        new_incidents,
        new_incidents_by_detail,
        actions: run.applied.len(),
        actions_by_kind,
        undone: run.undone,
        false_actions,
        false_actions_pct: pct(false_actions as f64, run.applied.len() as f64),
        false_actions_by_kind,
        extra_replica_hours,
        extra_replica_pct: pct(extra_replica_hours, reference.pod_seconds / 3600.0),
        extra_memory_gib_hours,
        extra_memory_pct: pct(
            extra_memory_gib_hours,
            reference.memory_gib_seconds / 3600.0,
        ),
        median_lead_secs,
        decisions,
    }
}

/// The reports as a Markdown table, one row per strategy.
pub fn markdown(reports: &[StrategyReport]) -> String {
    let mut s = String::from(
        "| strategy | prevented | oom_kill | cpu_saturation | crash_loop | node_not_ready | incidents (all types) | new incidents | actions | false actions | extra replica-h | extra memory GiB-h | median alarm→action |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in reports {
        let by = |d: &str| {
            format!(
                "{}/{}",
                r.prevented.get(d).copied().unwrap_or(0),
                r.avertable.get(d).copied().unwrap_or(0)
            )
        };
        s.push_str(&format!(
            "| {} | {}/{} ({:.1}%) | {} | {} | {} | {} | {} | {} | {} | {} ({:.1}%) | {:.1} ({:.2}%) | {:.1} ({:.2}%) | {} |\n",
            r.strategy.name(),
            r.prevented_total,
            r.avertable_total,
            r.prevented_pct,
            by("oom_kill"),
            by("cpu_saturation"),
            by("crash_loop"),
            by("node_not_ready"),
            r.incidents,
            r.new_incidents,
            r.actions,
            r.false_actions,
            r.false_actions_pct,
            r.extra_replica_hours,
            r.extra_replica_pct,
            r.extra_memory_gib_hours,
            r.extra_memory_pct,
            r.median_lead_secs
                .map_or("–".to_string(), |s| format!("{s:.0} s")),
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim::IncidentSource;

    const T: i64 = 1_767_600_000;

    fn incident(target: &str, start: i64, detail: &str) -> Incident {
        Incident::new(
            target,
            start,
            start + 300,
            "pod_failure",
            detail,
            IncidentSource::Simulator,
        )
    }

    fn reference(labels: Vec<Incident>, node_incidents: Vec<NodeIncident>) -> RunStats {
        RunStats {
            strategy: Strategy::NoAction,
            labels,
            node_incidents,
            applied: Vec::new(),
            undone: 0,
            pod_seconds: 0.0,
            memory_gib_seconds: 0.0,
            audit: Audit::default(),
        }
    }

    fn applied(action: Action, node_index: Option<usize>) -> AppliedAction {
        AppliedAction {
            cluster: 0,
            node_index,
            at: T,
            target: "shop/cart".into(),
            action,
            lead_secs: Some(60),
        }
    }

    fn raise() -> Action {
        Action::RaiseMemoryLimit {
            target: "shop/cart".into(),
            container: "cart".into(),
            from_bytes: 1.0,
            to_bytes: 2.0,
            request_to_bytes: None,
        }
    }

    fn scale() -> Action {
        Action::ScaleReplicas {
            target: "shop/cart".into(),
            from: 2,
            to: 3,
        }
    }

    #[test]
    fn a_workload_action_is_needed_only_by_an_incident_it_can_avert() {
        // An OOM kill 5 min after: the raise answers it, a scale-out does not.
        let oom = reference(vec![incident("shop/cart", T + 300, "oom_kill")], vec![]);
        assert!(!is_false_action(&oom, &applied(raise(), None)));
        assert!(is_false_action(&oom, &applied(scale(), None)));
        // Packet loss on the target: neither.
        let loss = reference(vec![incident("shop/cart", T + 300, "packet_loss")], vec![]);
        assert!(is_false_action(&loss, &applied(raise(), None)));
        // A CPU saturation ongoing at the action: the scale-out answers it.
        let surge = reference(
            vec![incident("shop/cart", T - 120, "cpu_saturation")],
            vec![],
        );
        assert!(!is_false_action(&surge, &applied(scale(), None)));
        // Another target's OOM, or this target's after the window: false.
        let other = reference(vec![incident("shop/web", T + 300, "oom_kill")], vec![]);
        assert!(is_false_action(&other, &applied(raise(), None)));
        let late = reference(
            vec![incident(
                "shop/cart",
                T + FALSE_ACTION_WINDOW_SECS + 15,
                "oom_kill",
            )],
            vec![],
        );
        assert!(is_false_action(&late, &applied(raise(), None)));
        let rollback = Action::Rollback {
            target: "shop/cart".into(),
        };
        let crash = reference(vec![incident("shop/cart", T + 60, "crash_loop")], vec![]);
        assert!(!is_false_action(&crash, &applied(rollback.clone(), None)));
        assert!(is_false_action(&oom, &applied(rollback, None)));
    }

    #[test]
    fn a_drain_is_needed_only_by_its_own_node_going_not_ready() {
        let drain = Action::CordonDrain {
            node: "node-b".into(),
        };
        let spell = |cluster: usize, index: usize, start: i64| NodeIncident {
            cluster,
            index,
            node: format!("node-{index}"),
            start,
            end: start + 600,
        };
        // The node_not_ready labels of the workloads do not count: the node's own spell does.
        let labels = vec![incident("shop/cart", T + 300, "node_not_ready")];
        let elsewhere = reference(labels.clone(), vec![spell(0, 3, T + 300)]);
        assert!(is_false_action(
            &elsewhere,
            &applied(drain.clone(), Some(1))
        ));
        let other_cluster = reference(labels.clone(), vec![spell(1, 1, T + 300)]);
        assert!(is_false_action(
            &other_cluster,
            &applied(drain.clone(), Some(1))
        ));
        let same = reference(labels.clone(), vec![spell(0, 1, T + 300)]);
        assert!(!is_false_action(&same, &applied(drain.clone(), Some(1))));
        let too_late = reference(labels, vec![spell(0, 1, T + FALSE_ACTION_WINDOW_SECS + 15)]);
        assert!(is_false_action(&too_late, &applied(drain.clone(), Some(1))));
        // An unknown node never counts as needed.
        assert!(is_false_action(&same, &applied(drain, None)));
    }
}
