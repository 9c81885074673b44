//! Plans: faults and benign events starting, acting and ending; incident labels opened and closed.

use super::*;

impl Cluster {
    pub(super) fn apply_plans(&mut self) {
        let t = self.t;
        while self.plans.front().is_some_and(|p| p.onset <= t) {
            if let Some(plan) = self.plans.pop_front() {
                self.activate(plan);
            }
        }
        for d in &mut self.deps {
            d.demand_mult = 1.0;
            d.net_loss = 0.0;
            d.partitioned = false;
            d.bad_error = 0.0;
        }
        for n in &mut self.nodes {
            n.extra_cpu = 0.0;
            n.extra_memory = 0.0;
            n.extra_disk = 0.0;
        }
        for p in &mut self.pods {
            p.leak_bytes = 0.0;
            p.plateau_bytes = 0.0;
        }
        let mut active = std::mem::take(&mut self.active);
        active.retain_mut(|a| self.apply_one(a));
        self.active = active;
    }

    pub(super) fn activate(&mut self, plan: Plan) {
        let mut a = Active {
            plan,
            pod: None,
            amount: 0.0,
            triggered: false,
            affected: Vec::new(),
            labelled: false,
        };
        let target = a.plan.target;
        match a.plan.kind {
            PlanKind::Fault(FaultKind::MemoryLeak)
            | PlanKind::Benign(BenignKind::MemoryPlateau) => {
                let Some(pod) = self.pick_pod(target, a.plan.pick) else {
                    return;
                };
                let limit = self.spec.deployments[target].memory_limit;
                let ws = self
                    .pods
                    .iter()
                    .find(|p| p.id == pod)
                    .map_or(0.0, |p| p.memory_bytes);
                a.pod = Some(pod);
                a.amount = match a.plan.kind {
                    PlanKind::Fault(_) => limit - ws,
                    _ => (limit * (0.75 + 0.2 * a.plan.magnitude) - ws).max(0.0),
                };
            }
            PlanKind::Fault(FaultKind::TrafficSurge) => {
                let spec = &self.spec.deployments[target];
                let max = spec.hpa.map_or(spec.replicas, |h| h.max) as f64;
                let cost = self.cpu_per_request(target);
                let needed_rps = (1.05 * spec.cpu_limit - spec.idle_cpu) * max / cost;
                let expected =
                    self.spec.mean_rps[target] * self.shape.at(target, a.plan.start, self.start_ts);
                a.amount = (needed_rps / expected.max(1e-9)).max(1.5);
            }
            PlanKind::Fault(FaultKind::DiskFill) | PlanKind::Benign(BenignKind::DiskCleanup) => {
                let Some(node) = self.nodes.get(target) else {
                    return;
                };
                let floor = match a.plan.kind {
                    PlanKind::Fault(_) => 0.085,
                    _ => 0.105 + 0.095 * a.plan.magnitude,
                };
                a.amount = (node.fs_available - floor * node.spec.disk_bytes).max(0.0);
            }
            PlanKind::Fault(FaultKind::NodeMemoryPressure)
            | PlanKind::Benign(BenignKind::BatchJob) => {
                let Some(node) = self.nodes.get(target) else {
                    return;
                };
                let floor = match a.plan.kind {
                    PlanKind::Fault(_) => 0.035,
                    _ => 0.07 + 0.18 * a.plan.magnitude,
                };
                a.amount = (node.memory_available - floor * node.spec.memory_bytes).max(0.0);
            }
            PlanKind::Fault(FaultKind::BadRollout) => self.start_rollout(target, true),
            PlanKind::Benign(BenignKind::RollingUpdate) => self.start_rollout(target, false),
            PlanKind::Benign(BenignKind::NodeScaleUp) => {
                let ordinal = self.nodes.len();
                let spec = self.spec.extra_node(ordinal, &mut self.names);
                let node = new_node(spec, self.rng.random_range(0.15..0.25));
                self.nodes.push(node);
                return;
            }
            _ => {}
        }
        self.active.push(a);
    }

    /// Applies one active plan at `self.t`; returns whether it stays active.
    pub(super) fn apply_one(&mut self, a: &mut Active) -> bool {
        let t = self.t;
        let p = a.plan.clone();
        let lead = (p.start - p.onset).max(1) as f64;
        let frac = ((t - p.onset) as f64 / lead).clamp(0.0, 1.0);
        let before = t < p.start;
        let first_failure_step = !before && !a.triggered;
        if first_failure_step {
            a.triggered = true;
        }
        match p.kind {
            PlanKind::Fault(FaultKind::MemoryLeak) => {
                let Some(pod_id) = a.pod else { return false };
                let Some(idx) = self.pods.iter().position(|x| x.id == pod_id) else {
                    return false;
                };
                if before {
                    self.pods[idx].leak_bytes = a.amount * frac;
                    return true;
                }
                let dep = self.pods[idx].dep;
                if self.deps[dep].memory_limit_bytes > self.spec.deployments[dep].memory_limit {
                    // The limit was raised in time: the leak goes on growing at the same rate for a
                    // quarter of its lead more, then the leaking work ends and its memory is freed. It
                    // is OOMKilled only if it reaches the raised limit first.
                    if self.pods[idx].memory_bytes >= self.deps[dep].memory_limit_bytes - 1.0 {
                        self.crash_container(idx, TerminationReason::OomKilled, 10);
                        self.open_label(dep, t, t, FaultKind::MemoryLeak);
                        return false;
                    }
                    if t >= p.start + (lead * 0.25) as i64 {
                        return false;
                    }
                    self.pods[idx].leak_bytes = a.amount * ((t - p.onset) as f64 / lead);
                    return true;
                }
                self.crash_container(idx, TerminationReason::OomKilled, 10);
                self.open_label(dep, p.start, t, FaultKind::MemoryLeak);
                false
            }
            PlanKind::Benign(BenignKind::MemoryPlateau) => {
                let Some(pod_id) = a.pod else { return false };
                let Some(idx) = self.pods.iter().position(|x| x.id == pod_id) else {
                    return false;
                };
                if t >= p.end {
                    return false;
                }
                self.pods[idx].plateau_bytes = a.amount * frac;
                true
            }
            PlanKind::Fault(FaultKind::TrafficSurge) => {
                let peak = a.amount;
                let mult = if before {
                    1.0 + (peak - 1.0) * frac
                } else if t < p.end {
                    peak * (1.0 + 0.3 * ((t - p.start) as f64 / 120.0).min(1.0))
                } else {
                    let decay = ((t - p.end) as f64 / 60.0).min(1.0);
                    peak * 1.3 * (1.0 - decay) + decay
                };
                self.deps[p.target].demand_mult *= mult;
                if first_failure_step {
                    // Scaled from outside before the failure: labelled only if it actually saturates.
                    a.labelled = !self.deps[p.target].scaled_by_action;
                    if a.labelled {
                        self.open_label(p.target, p.start, p.end + 60, FaultKind::TrafficSurge);
                    }
                }
                if !before && !a.labelled && t < p.end && self.deps[p.target].saturation > 1.0 {
                    a.labelled = true;
                    self.open_label(p.target, t, p.end + 60, FaultKind::TrafficSurge);
                }
                t < p.end + 60
            }
            PlanKind::Benign(BenignKind::AbsorbedSpike) => {
                let peak = 1.3 + 0.7 * p.magnitude;
                let mult = if before {
                    1.0 + (peak - 1.0) * frac
                } else {
                    let decay = ((t - p.end) as f64 / 60.0).clamp(0.0, 1.0);
                    peak * (1.0 - decay) + decay
                };
                self.deps[p.target].demand_mult *= mult;
                t < p.end + 60
            }
            PlanKind::Fault(FaultKind::DiskFill) => {
                let node = p.target;
                if before {
                    self.nodes[node].extra_disk = a.amount * frac;
                    return true;
                }
                if first_failure_step {
                    self.nodes[node].disk_pressure = true;
                    self.nodes[node].schedulable = false;
                    a.affected = self.deps_on_node(node);
                    for &dep in &a.affected {
                        self.open_label(dep, p.start, t, FaultKind::DiskFill);
                    }
                    self.pods.retain(|x| x.node != Some(node));
                }
                // The evicted pods' logs and emptyDirs are freed within a minute.
                let cleanup = ((t - p.start) as f64 / 60.0).min(1.0);
                self.nodes[node].extra_disk = a.amount * (1.0 - cleanup) * 0.6;
                if t >= p.end {
                    self.nodes[node].disk_pressure = false;
                    self.nodes[node].schedulable = self.nodes[node].ready;
                    return false;
                }
                true
            }
            PlanKind::Benign(BenignKind::DiskCleanup) => {
                self.nodes[p.target].extra_disk = if before { a.amount * frac } else { 0.0 };
                before
            }
            PlanKind::Fault(FaultKind::NodeMemoryPressure) => {
                let node = p.target;
                if before {
                    self.nodes[node].extra_memory = a.amount * frac;
                    return true;
                }
                if first_failure_step {
                    let n = &mut self.nodes[node];
                    n.ready = false;
                    n.memory_pressure = true;
                    n.schedulable = false;
                    a.affected = self.deps_on_node(node);
                    for &dep in &a.affected {
                        self.open_label(dep, p.start, p.start + 90, FaultKind::NodeMemoryPressure);
                    }
                }
                if t < p.end {
                    self.nodes[node].extra_memory = a.amount;
                }
                if t >= p.start + 90 {
                    // Pod eviction timeout (shortened from 5 minutes): pods are recreated elsewhere.
                    self.pods.retain(|x| x.node != Some(node));
                }
                if t >= p.end {
                    let n = &mut self.nodes[node];
                    n.ready = true;
                    n.memory_pressure = false;
                    n.schedulable = true;
                    return false;
                }
                true
            }
            PlanKind::Benign(BenignKind::BatchJob) => {
                let node = p.target;
                let ramp = if before { frac } else { 1.0 };
                self.nodes[node].extra_memory = a.amount * ramp;
                self.nodes[node].extra_cpu =
                    self.nodes[node].spec.cpu_cores * (0.3 + 0.3 * p.magnitude) * ramp;
                t < p.end
            }
            PlanKind::Fault(FaultKind::NetworkDegradation) => {
                let d = &mut self.deps[p.target];
                d.net_loss = if before {
                    0.02 * frac
                } else if t < p.end {
                    0.08 + 0.17 * p.magnitude
                } else {
                    0.0
                };
                if first_failure_step {
                    self.open_label(p.target, p.start, p.end, FaultKind::NetworkDegradation);
                }
                t < p.end
            }
            PlanKind::Benign(BenignKind::NetworkBlip) => {
                self.deps[p.target].net_loss = 0.003 + 0.007 * p.magnitude;
                t < p.end
            }
            PlanKind::Fault(FaultKind::BadRollout) => {
                let dep = p.target;
                if before {
                    self.deps[dep].bad_error = 0.035 * frac;
                    return true;
                }
                if first_failure_step && !self.deps[dep].rolled_back {
                    self.deps[dep].crash_looping = true;
                    self.open_label(dep, p.start, p.end, FaultKind::BadRollout);
                }
                if t >= p.end && self.deps[dep].rolled_back {
                    // Already rolled back from outside: nothing left to undo.
                    self.deps[dep].rolled_back = false;
                    return false;
                }
                if t >= p.end {
                    // Rollback: the previous ReplicaSet (same pod-template hash) becomes current again.
                    let d = &mut self.deps[dep];
                    d.crash_looping = false;
                    d.bad_rollout = false;
                    let good = std::mem::take(&mut d.previous_hash);
                    d.previous_hash = std::mem::replace(&mut d.rs_hash, good);
                    d.revision_since = Some(t);
                    return false;
                }
                true
            }
            PlanKind::Fault(FaultKind::PodKill) => {
                if let Some(pod) = self.pick_pod(p.target, p.pick) {
                    self.pods.retain(|x| x.id != pod);
                    self.open_label(p.target, p.start, t, FaultKind::PodKill);
                }
                false
            }
            PlanKind::Fault(FaultKind::NetworkPartition) => {
                if first_failure_step {
                    self.open_label(p.target, p.start, p.end, FaultKind::NetworkPartition);
                }
                self.deps[p.target].partitioned = t < p.end;
                t < p.end
            }
            PlanKind::Benign(BenignKind::RollingUpdate)
            | PlanKind::Benign(BenignKind::NodeScaleUp) => false,
        }
    }

    pub(super) fn open_label(&mut self, dep: usize, start: i64, not_before: i64, kind: FaultKind) {
        let label = Incident {
            target: self.target(dep),
            start,
            end: start,
            issue_type: kind.issue_type().to_string(),
            detail: kind.detail().to_string(),
            source: IncidentSource::Simulator,
        };
        self.labels.push(label);
        self.open.push(OpenLabel {
            label: self.labels.len() - 1,
            dep,
            not_before,
        });
    }

    pub(super) fn close_labels(&mut self) {
        let t = self.t;
        let mut open = std::mem::take(&mut self.open);
        open.retain(|o| {
            if t < o.not_before {
                return true;
            }
            let d = &self.deps[o.dep];
            let pods = self.pods.iter().filter(|p| p.dep == o.dep).count() as u32;
            let recovered = d.ready_pods >= d.desired && pods <= d.desired + 1 && !d.crash_looping;
            if recovered {
                self.labels[o.label].end = t;
            }
            !recovered
        });
        self.open = open;
    }

    pub(super) fn pick_pod(&self, dep: usize, pick: u64) -> Option<u64> {
        let candidates: Vec<u64> = self
            .pods
            .iter()
            .filter(|p| p.dep == dep && p.ready)
            .map(|p| p.id)
            .collect();
        if candidates.is_empty() {
            None
        } else {
            Some(candidates[(pick % candidates.len() as u64) as usize])
        }
    }

    pub(super) fn deps_on_node(&self, node: usize) -> Vec<usize> {
        let mut deps: Vec<usize> = self
            .pods
            .iter()
            .filter(|p| p.node == Some(node))
            .map(|p| p.dep)
            .collect();
        deps.sort_unstable();
        deps.dedup();
        deps
    }

    pub(super) fn start_rollout(&mut self, dep: usize, bad: bool) {
        let hash = random_name_part(&mut self.names, 10);
        let d = &mut self.deps[dep];
        d.previous_hash = std::mem::replace(&mut d.rs_hash, hash);
        d.bad_rollout = bad;
        d.rolled_back = false;
        d.revision_since = Some(self.t);
    }

    pub(super) fn cpu_per_request(&self, dep: usize) -> f64 {
        let d = &self.spec.deployments[dep];
        let rps = self.spec.mean_rps[dep].max(1e-6);
        ((d.nominal_utilization * d.cpu_limit - d.idle_cpu).max(d.cpu_limit * 0.01)
            * d.replicas as f64
            / rps)
            .max(1e-7)
    }
}
