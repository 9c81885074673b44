//! Counters behave like counters: monotonic, resetting only when a container restarts (container
//! counters) or never for the pod's life (network); pod names look like Kubernetes'.

use std::collections::HashMap;

use sim::SimConfig;
use sim::engine::pod_counters;

#[test]
fn counters_are_monotonic_except_at_container_restarts() {
    let cfg = SimConfig {
        preset: "small".into(),
        duration: "12h".into(),
        schedule: vec![
            "memory_leak:api@+2h".into(),
            "bad_rollout:web@+4h".into(),
            "node_memory_pressure:node-1@+6h".into(),
        ],
        ..SimConfig::default()
    };
    let valid = cfg.check().expect("valid");
    let mut sim = sim::Simulation::new(&valid).expect("sim");
    let mut last: HashMap<String, ([f64; pod_counters::N], u32)> = HashMap::new();
    let mut last_dep: Vec<Vec<f64>> = Vec::new();
    let mut last_idle: HashMap<String, f64> = HashMap::new();
    let mut resets = 0;
    for _ in 0..sim.steps_total() {
        sim.advance();
        let c = &sim.clusters[0];
        for p in &c.pods {
            if let Some((prev, restarts)) = last.get(&p.name) {
                let restarted = p.restarts > *restarts;
                for (k, (now, before)) in p.counters.iter().zip(prev).enumerate() {
                    let container_counter = k <= pod_counters::THROTTLED;
                    if now < before {
                        assert!(
                            container_counter && restarted,
                            "counter {k} of {} went down without a container restart",
                            p.name
                        );
                        resets += 1;
                    }
                }
                assert!(p.restarts >= *restarts, "restarts of {} went down", p.name);
            }
            last.insert(p.name.clone(), (p.counters, p.restarts));
        }
        let deps: Vec<Vec<f64>> = c.deps.iter().map(|d| d.counters.to_vec()).collect();
        for (now, prev) in deps.iter().zip(&last_dep) {
            assert!(
                now.iter().zip(prev).all(|(a, b)| a >= b),
                "Istio counters went down"
            );
        }
        last_dep = deps;
        for n in &c.nodes {
            let prev = last_idle
                .insert(n.spec.name.clone(), n.idle_seconds_per_cpu)
                .unwrap_or(0.0);
            assert!(n.idle_seconds_per_cpu >= prev);
        }
    }
    assert!(
        resets > 0,
        "the OOM kill and the crash loop reset container counters"
    );
}

#[test]
fn pod_names_look_like_kubernetes_pod_names() {
    let valid = SimConfig::default().check().expect("valid");
    let mut sim = sim::Simulation::new(&valid).expect("sim");
    sim.advance();
    let c = &sim.clusters[0];
    let alphabet = "bcdfghjklmnpqrstvwxz2456789";
    for p in &c.pods {
        let dep = &c.spec.deployments[p.dep].name;
        let rest = p
            .name
            .strip_prefix(&format!("{dep}-"))
            .expect("starts with the deployment");
        let (hash, suffix) = rest.split_once('-').expect("hash-suffix");
        assert_eq!(hash.len(), 10, "{}", p.name);
        assert_eq!(suffix.len(), 5, "{}", p.name);
        assert!(
            hash.chars()
                .chain(suffix.chars())
                .all(|ch| alphabet.contains(ch)),
            "{}",
            p.name
        );
    }
    assert_eq!(c.pods.len(), 15, "Online Boutique starts with 15 pods");
}
