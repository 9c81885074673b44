//! Controllers: HPA, rollouts, the scheduler and the pod lifecycle.

use super::*;

impl Cluster {
    /// Indices of each deployment's pods, in pod order.
    pub(super) fn pods_by_dep(&self) -> Vec<Vec<usize>> {
        let mut by_dep = vec![Vec::new(); self.deps.len()];
        for (i, p) in self.pods.iter().enumerate() {
            by_dep[p.dep].push(i);
        }
        by_dep
    }

    pub(super) fn autoscale(&mut self) {
        let t = self.t;
        let by_dep = self.pods_by_dep();
        for (dep, pods) in by_dep.iter().enumerate() {
            let Some(hpa) = self.spec.deployments[dep].hpa else {
                continue;
            };
            let request = self.spec.deployments[dep].cpu_request;
            let (sum, n) = pods
                .iter()
                .map(|&i| &self.pods[i])
                .filter(|p| p.ready)
                .fold((0.0, 0u32), |(s, n), p| (s + p.cpu_usage, n + 1));
            if n == 0 {
                continue;
            }
            let d = &mut self.deps[dep];
            let util = sum / (n as f64 * request);
            let ratio = util / hpa.target_utilization;
            let current = d.desired;
            let mut recommended = if (ratio - 1.0).abs() <= 0.1 {
                current
            } else {
                (current as f64 * ratio).ceil() as u32
            };
            recommended = recommended.clamp(hpa.min, hpa.max);
            d.hpa_recent.push_back((t, recommended));
            while d.hpa_recent.front().is_some_and(|&(ts, _)| ts < t - 300) {
                d.hpa_recent.pop_front();
            }
            let stabilized = d
                .hpa_recent
                .iter()
                .map(|&(_, r)| r)
                .max()
                .unwrap_or(recommended);
            d.desired = if recommended > current {
                recommended.min(current * 2).min(current + 4).max(current)
            } else {
                stabilized.min(current)
            };
        }
    }

    /// The deployment controller: scales the current ReplicaSet to `desired` and, during a rollout,
    /// replaces old pods within maxSurge 25% / maxUnavailable 25%.
    pub(super) fn reconcile(&mut self) {
        let t = self.t;
        let by_dep = self.pods_by_dep();
        let mut delete: Vec<u64> = Vec::new();
        let mut create: Vec<(usize, usize)> = Vec::new();
        for (dep, pods) in by_dep.iter().enumerate() {
            let desired = self.deps[dep].desired as usize;
            let hash = &self.deps[dep].rs_hash;
            let max_surge = ((desired as f64) * 0.25).ceil().max(1.0) as usize;
            let max_unavailable = ((desired as f64) * 0.25).floor() as usize;
            let (cur, mut old): (Vec<&Pod>, Vec<&Pod>) = pods
                .iter()
                .map(|&i| &self.pods[i])
                .partition(|p| &p.rs_hash == hash);
            let (n_cur, n_old) = (cur.len(), old.len());
            let mut ready_total = cur.iter().chain(old.iter()).filter(|p| p.ready).count();
            let before = delete.len();
            old.sort_by_key(|p| (p.ready, std::cmp::Reverse(p.created), p.id));
            for p in old {
                if !p.ready {
                    delete.push(p.id);
                } else if ready_total > desired.saturating_sub(max_unavailable) {
                    // Availability stays at or above desired - maxUnavailable.
                    delete.push(p.id);
                    ready_total -= 1;
                }
            }
            let remaining_old = n_old - (delete.len() - before);
            let n_create = if n_old == 0 {
                desired.saturating_sub(n_cur)
            } else {
                desired
                    .saturating_sub(n_cur)
                    .min((desired + max_surge).saturating_sub(n_cur + remaining_old))
            };
            if n_cur > desired {
                let mut extra = cur;
                extra.sort_by_key(|p| (p.ready, std::cmp::Reverse(p.created), p.id));
                delete.extend(extra.iter().take(n_cur - desired).map(|p| p.id));
            }
            if n_create > 0 {
                create.push((dep, n_create));
            }
        }
        if !delete.is_empty() {
            delete.sort_unstable();
            self.pods.retain(|p| delete.binary_search(&p.id).is_err());
        }
        for (dep, n) in create {
            for _ in 0..n {
                self.create_pod(dep, t);
            }
        }
    }

    pub(super) fn create_pod(&mut self, dep: usize, t: i64) -> u64 {
        let d = &self.spec.deployments[dep];
        let state = &self.deps[dep];
        let id = self.next_pod;
        self.next_pod += 1;
        let name = format!(
            "{}-{}-{}",
            d.name,
            state.rs_hash,
            random_name_part(&mut self.names, 5)
        );
        let jitter = self.rng.random_range(0..6);
        let phi = (-(self.step_secs as f64) / 600.0).exp();
        self.pods.push(Pod {
            id,
            name,
            dep,
            rs_hash: state.rs_hash.clone(),
            node: None,
            created: t,
            running: false,
            ready: false,
            container_up: false,
            restarts: 0,
            last_reason: None,
            ready_at: t + d.startup_secs + jitter,
            restart_at: 0,
            bad: state.bad_rollout,
            memory_bytes: 0.0,
            cpu_demand: 0.0,
            cpu_usage: 0.0,
            counters: [0.0; pod_counters::N],
            history: History::default(),
            mem_noise: Ar1::new(0.03, phi),
            leak_bytes: 0.0,
            plateau_bytes: 0.0,
            up_since: t,
        });
        id
    }

    pub(super) fn schedule_pending(&mut self) {
        if self.pods.iter().all(|p| p.node.is_some()) {
            return;
        }
        let mut cpu_req = vec![0.0; self.nodes.len()];
        let mut mem_req = vec![0.0; self.nodes.len()];
        for p in &self.pods {
            if let Some(n) = p.node {
                cpu_req[n] += self.spec.deployments[p.dep].cpu_request;
                mem_req[n] += self.spec.deployments[p.dep].memory_request;
            }
        }
        let t = self.t;
        for i in 0..self.pods.len() {
            if self.pods[i].node.is_some() {
                continue;
            }
            let d = &self.spec.deployments[self.pods[i].dep];
            let mut best: Option<(usize, f64)> = None;
            for (n, node) in self.nodes.iter().enumerate() {
                if !node.ready || !node.schedulable || node.cordoned {
                    continue;
                }
                let alloc_cpu = node.spec.cpu_cores * 0.94;
                let alloc_mem = node.spec.memory_bytes * 0.9;
                if cpu_req[n] + d.cpu_request > alloc_cpu
                    || mem_req[n] + d.memory_request > alloc_mem
                {
                    continue;
                }
                let free = 1.0 - cpu_req[n] / alloc_cpu;
                if best.is_none_or(|(_, f)| free > f + 1e-12) {
                    best = Some((n, free));
                }
            }
            if let Some((n, _)) = best {
                cpu_req[n] += d.cpu_request;
                mem_req[n] += d.memory_request;
                let startup = d.startup_secs;
                let pod = &mut self.pods[i];
                pod.node = Some(n);
                pod.ready_at = pod
                    .ready_at
                    .max(t + startup.min(pod.ready_at - pod.created));
            }
        }
    }

    pub(super) fn lifecycle(&mut self) {
        let t = self.t;
        for i in 0..self.pods.len() {
            let dep = self.pods[i].dep;
            let crash_looping = self.deps[dep].crash_looping;
            let node_ready = self.pods[i].node.is_some_and(|n| self.nodes[n].ready);
            let p = &mut self.pods[i];
            if p.node.is_none() {
                continue;
            }
            if !p.running && t >= p.ready_at {
                p.running = true;
                p.container_up = true;
                p.up_since = t;
            }
            if p.running && !p.container_up && t >= p.restart_at {
                p.container_up = true;
                p.up_since = t;
                p.ready_at = t + 5;
            }
            if p.bad && crash_looping && p.container_up && t - p.up_since >= 20 {
                let backoff = (10i64 << p.restarts.min(5)).min(300);
                self.crash_container(i, TerminationReason::Error, backoff);
                continue;
            }
            let p = &mut self.pods[i];
            p.ready = p.running && p.container_up && t >= p.ready_at && node_ready;
        }
    }

    pub(super) fn crash_container(
        &mut self,
        idx: usize,
        reason: TerminationReason,
        backoff_secs: i64,
    ) {
        let t = self.t;
        let p = &mut self.pods[idx];
        p.restarts += 1;
        p.last_reason = Some(reason);
        p.container_up = false;
        p.ready = false;
        p.restart_at = t + backoff_secs;
        p.leak_bytes = 0.0;
        p.memory_bytes = 0.0;
        for k in [
            pod_counters::CPU,
            pod_counters::PERIODS,
            pod_counters::THROTTLED,
        ] {
            p.counters[k] = 0.0;
        }
    }
}
