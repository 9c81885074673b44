//! Resources: CPU, memory, network, latency and errors per pod, and node resources.

use super::*;

impl Cluster {
    pub(super) fn resources(&mut self) {
        let t = self.t;
        let step = self.step_secs as f64;
        let g = self.global_noise.next(&mut self.rng);
        let burst = self
            .bursts
            .iter()
            .filter(|&&(s, e, _)| s <= t && t < e)
            .map(|&(_, _, m)| m)
            .fold(1.0, f64::max);
        let n_deps = self.deps.len();
        let mut ready = vec![0u32; n_deps];
        for p in &self.pods {
            if p.ready {
                ready[p.dep] += 1;
            }
        }
        for (dep, d) in self.deps.iter_mut().enumerate() {
            let local = d.noise.next(&mut self.rng);
            let shape = self.shape.at(dep, t, self.start_ts);
            d.rps = self.spec.mean_rps[dep] * shape * g * local * burst * d.demand_mult;
            d.ready_pods = ready[dep];
        }
        let costs: Vec<f64> = (0..n_deps).map(|d| self.cpu_per_request(d)).collect();
        let mut demand_sum = vec![0.0; n_deps];
        let mut bad_share = vec![0.0; n_deps];
        for p in &mut self.pods {
            let spec = &self.spec.deployments[p.dep];
            let d = &self.deps[p.dep];
            let share = if p.ready && !d.partitioned {
                d.rps / ready[p.dep].max(1) as f64
            } else {
                0.0
            };
            let e: f64 = self.rng.sample(StandardNormal);
            let mem_mult = p.mem_noise.next(&mut self.rng);
            if p.container_up {
                p.cpu_demand = ((spec.idle_cpu + costs[p.dep] * share) * (1.0 + 0.06 * e)).max(0.0);
                p.cpu_usage = p.cpu_demand.min(spec.cpu_limit);
                let pressure = p.cpu_demand / spec.cpu_limit;
                let throttled = (((pressure - 0.55) / 0.6).clamp(0.0, 1.0)).powi(2);
                p.counters[pod_counters::CPU] += p.cpu_usage * step;
                p.counters[pod_counters::PERIODS] += 10.0 * step;
                p.counters[pod_counters::THROTTLED] += 10.0 * step * throttled;
                let gc_period = 600.0 + 60.0 * (p.dep % 7) as f64;
                let sawtooth = ((t as f64 + p.id as f64 * 97.0) % gc_period) / gc_period;
                let base = spec.memory_limit * spec.memory_base_ratio * mem_mult;
                let load =
                    spec.memory_limit * 0.08 * (share * costs[p.dep] / spec.cpu_limit).min(1.5);
                let gc = spec.memory_limit * 0.04 * sawtooth;
                let natural = (base + load + gc).min(spec.memory_limit * 0.95);
                // The kernel OOM-kills at the limit: the working set never exceeds it.
                p.memory_bytes = (natural + p.plateau_bytes + p.leak_bytes)
                    .min(d.memory_limit_bytes)
                    .round();
                if p.ready {
                    demand_sum[p.dep] += p.cpu_demand;
                    if p.bad {
                        bad_share[p.dep] += 1.0;
                    }
                }
            } else {
                p.cpu_demand = 0.0;
                p.cpu_usage = 0.0;
                p.memory_bytes = 0.0;
            }
            let loss = d.net_loss;
            let rx =
                share * spec.bytes_per_request * step * (1.0 + 0.05 * e).max(0.0) + 200.0 * step;
            let tx = rx * 2.0;
            let packets_rx = rx / 1000.0;
            let packets_tx = tx / 1000.0;
            p.counters[pod_counters::RX] += rx;
            p.counters[pod_counters::TX] += tx;
            p.counters[pod_counters::RX_DROP] += packets_rx * loss;
            p.counters[pod_counters::TX_DROP] += packets_tx * loss;
            p.counters[pod_counters::RX_ERR] += packets_rx * loss * 0.05;
            p.counters[pod_counters::TX_ERR] += packets_tx * loss * 0.05;
            if self.rng.random::<f64>() < 0.01 {
                p.counters[pod_counters::RX_DROP] += self.rng.random_range(1..4) as f64;
            }
            p.history.push(t, p.counters);
        }
        // Own latency and errors per deployment, then callers inherit their callees' (reverse order).
        let mut own_err = vec![0.0; n_deps];
        let mut p50 = vec![0.0; n_deps];
        let mut p99 = vec![0.0; n_deps];
        for dep in 0..n_deps {
            let spec = &self.spec.deployments[dep];
            let capacity = ready[dep] as f64 * spec.cpu_limit;
            let rho = if capacity > 0.0 {
                demand_sum[dep] / capacity
            } else {
                2.0
            };
            self.deps[dep].saturation = rho;
            let d = &self.deps[dep];
            let queueing =
                1.0 + 0.5 * rho * rho / (1.0 - rho.min(0.95)) + 10.0 * (rho - 1.0).max(0.0);
            let network = 1.0 + 15.0 * d.net_loss;
            p50[dep] = spec.latency_p50_ms * queueing * network;
            p99[dep] =
                spec.latency_p99_ms * queueing * network * (1.0 + 5.0 * (rho - 0.9).max(0.0));
            let saturation = (0.8 * (rho - 1.0)).clamp(0.0, 0.7);
            let net = if d.net_loss < 0.03 {
                d.net_loss * 0.25
            } else {
                d.net_loss * 0.8
            };
            let bad = if ready[dep] > 0 {
                d.bad_error * bad_share[dep] / ready[dep] as f64
            } else {
                0.0
            };
            let unavailable = if ready[dep] == 0 || d.partitioned {
                1.0
            } else {
                0.0
            };
            own_err[dep] =
                1.0 - (1.0 - saturation) * (1.0 - net) * (1.0 - bad) * (1.0 - unavailable);
        }
        let mut err = own_err.clone();
        for dep in (0..n_deps).rev() {
            let mut ok = 1.0 - own_err[dep];
            for &(callee, calls) in &self.spec.deployments[dep].calls {
                // Callers degrade gracefully: a quarter of a callee's failures reach their own clients.
                ok *= (1.0 - 0.25 * err[callee]).powf(calls.min(1.0));
                p50[dep] += 0.5 * calls.min(2.0) * p50[callee];
                p99[dep] += 0.5 * calls.min(2.0) * p99[callee];
            }
            err[dep] = (1.0 - ok).clamp(0.0, 1.0);
        }
        for dep in 0..n_deps {
            let d = &mut self.deps[dep];
            d.error_ratio = err[dep];
            d.latency_p50_ms = p50[dep];
            d.latency_p99_ms = p99[dep].max(p50[dep] * 1.2);
            let n = d.rps * step;
            let failed = n * err[dep];
            d.counters[deployment_counters::OK] += n - failed;
            d.counters[deployment_counters::ERR] += failed;
            let sigma = (d.latency_p99_ms / d.latency_p50_ms).ln() / 2.326;
            let mu = d.latency_p50_ms.ln();
            d.counters[deployment_counters::SUM] += n * (mu + sigma * sigma / 2.0).exp();
            for (i, le) in LATENCY_BUCKETS_MS.iter().enumerate() {
                d.counters[deployment_counters::BUCKET0 + i] +=
                    n * normal_cdf((le.ln() - mu) / sigma);
            }
            d.counters[deployment_counters::BUCKET0 + LATENCY_BUCKETS_MS.len()] += n;
            d.history.push(t, d.counters);
        }
        // Nodes.
        let n_nodes = self.nodes.len();
        let mut cpu = vec![0.0; n_nodes];
        let mut mem = vec![0.0; n_nodes];
        for p in &self.pods {
            if let Some(n) = p.node {
                cpu[n] += p.cpu_usage;
                mem[n] += p.memory_bytes;
            }
        }
        let day_frac = (t.rem_euclid(86_400) - 3 * 3600).rem_euclid(86_400) as f64 / 86_400.0;
        for (i, node) in self.nodes.iter_mut().enumerate() {
            let cores = node.spec.cpu_cores;
            let e: f64 = self.rng.sample(StandardNormal);
            let used = 0.12 + 0.02 * cores + cpu[i] + node.extra_cpu + 0.02 * e.abs();
            node.cpu_utilization = (used / cores).clamp(0.0, 1.0);
            node.idle_seconds_per_cpu += (1.0 - node.cpu_utilization) * step;
            node.user_seconds_per_cpu += node.cpu_utilization * step;
            node.history.push(t, [node.idle_seconds_per_cpu]);
            let system = 1.2 * GIB + 0.02 * node.spec.memory_bytes;
            node.memory_available = (node.spec.memory_bytes - system - mem[i] - node.extra_memory)
                .max(0.01 * node.spec.memory_bytes)
                .round();
            // Logs grow through the day and are rotated at 03:00.
            let logs = 0.03 * node.spec.disk_bytes * day_frac;
            node.fs_available = (node.spec.disk_bytes - node.fs_base_used - logs - node.extra_disk)
                .max(0.002 * node.spec.disk_bytes)
                .round();
        }
    }
}
