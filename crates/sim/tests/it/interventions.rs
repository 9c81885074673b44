//! Faults respond to interventions applied during a run: a higher memory limit outlasts a leak, a
//! rollback ends a bad rollout before it crash-loops, a drained node takes no pods down with it, more
//! replicas absorb a surge. Without interventions nothing changes (see `determinism.rs`).

use crate::common;

use common::calm;
use sim::engine::{Cluster, Intervention};
use sim::{Incident, Simulation};

const START: i64 = 1_767_571_200; // 2026-01-05T00:00:00Z

/// Runs a calm `small` cluster for 3 hours with one scheduled fault; `act` runs once at `at` seconds
/// after the start. Returns the labels.
fn run(fault: &str, at: i64, act: &dyn Fn(&mut Cluster)) -> Vec<Incident> {
    let mut cfg = calm("small", "3h");
    cfg.schedule = vec![fault.to_string()];
    let valid = cfg.check().expect("valid config");
    let mut sim = Simulation::new(&valid).expect("simulation");
    for _ in 0..sim.steps_total() {
        sim.advance();
        if sim.now() == START + at {
            act(&mut sim.clusters[0]);
        }
    }
    sim.finish();
    sim.labels()
}

fn details(labels: &[Incident]) -> Vec<(String, String)> {
    labels
        .iter()
        .map(|l| (l.target.clone(), l.detail.clone()))
        .collect()
}

fn dep(c: &Cluster, name: &str) -> usize {
    c.deployment_index(&format!("shop/{name}"))
        .unwrap_or_else(|| panic!("no {name}"))
}

#[test]
fn a_memory_raise_before_the_oom_prevents_it_and_a_small_one_only_delays_it() {
    let fault = "memory_leak:api@+1h/20m";
    let none = run(fault, 0, &|_| {});
    assert_eq!(details(&none), [("shop/api".into(), "oom_kill".into())]);
    let raise = |factor: f64| {
        move |c: &mut Cluster| {
            let d = dep(c, "api");
            let limit = c.deps[d].memory_limit_bytes;
            c.intervene(&Intervention::ResizeMemoryLimit {
                dep: d,
                limit_bytes: limit * factor,
            })
            .expect("resize");
        }
    };
    // Raised 5 minutes before the OOM: the leak peaks below 1.5 x the limit, then is freed.
    assert_eq!(run(fault, 55 * 60, &raise(1.5)), []);
    // An 8% raise only delays it.
    let late = run(fault, 55 * 60, &raise(1.08));
    assert_eq!(details(&late), [("shop/api".into(), "oom_kill".into())]);
    assert!(late[0].start > none[0].start, "{late:?} vs {none:?}");
}

#[test]
fn a_rollback_before_the_crash_loop_prevents_it_and_after_it_ends_it() {
    let fault = "bad_rollout:worker@+1h/8m";
    let none = run(fault, 0, &|_| {});
    assert_eq!(
        details(&none),
        [("shop/worker".into(), "crash_loop".into())]
    );
    let rollback = |c: &mut Cluster| {
        let d = dep(c, "worker");
        assert!(c.has_previous_revision(d));
        c.intervene(&Intervention::Rollback { dep: d })
            .expect("rollback");
    };
    assert_eq!(run(fault, 57 * 60, &rollback), []);
    let after = run(fault, 62 * 60, &rollback);
    assert_eq!(details(&after), details(&none));
    assert!(
        after[0].end < none[0].end,
        "the crash loop ends sooner: {after:?} vs {none:?}"
    );
}

#[test]
fn draining_a_node_before_its_pressure_keeps_every_workload_up() {
    let fault = "node_memory_pressure:node-2@+1h/20m";
    let none = run(fault, 0, &|_| {});
    assert!(
        none.iter().all(|l| l.detail == "node_not_ready") && !none.is_empty(),
        "{none:?}"
    );
    let drained = run(fault, 50 * 60, &|c| {
        c.intervene(&Intervention::Cordon {
            node: 1,
            drain: true,
        })
        .expect("cordon");
    });
    assert_eq!(drained, []);
}

#[test]
fn more_replicas_absorb_a_surge_on_a_deployment_without_hpa() {
    let fault = "traffic_surge:cache@+1h/15m";
    let none = run(fault, 0, &|_| {});
    assert_eq!(
        details(&none),
        [("shop/cache".into(), "cpu_saturation".into())]
    );
    let scaled = run(fault, 50 * 60, &|c| {
        let d = dep(c, "cache");
        c.intervene(&Intervention::ScaleReplicas {
            dep: d,
            replicas: 3,
        })
        .expect("scale");
    });
    assert_eq!(scaled, []);
    // Scaled without adding capacity: the label then follows actual saturation, and it saturates.
    let short = run(fault, 50 * 60, &|c| {
        let d = dep(c, "cache");
        c.intervene(&Intervention::ScaleReplicas {
            dep: d,
            replicas: 1,
        })
        .expect("scale");
    });
    assert_eq!(details(&short), details(&none));
}

#[test]
fn refused_interventions_are_errors_that_change_nothing() {
    let mut cfg = calm("small", "1h");
    cfg.schedule.clear();
    let valid = cfg.check().expect("valid config");
    let mut sim = Simulation::new(&valid).expect("simulation");
    sim.advance();
    let c = &mut sim.clusters[0];
    let web = dep(c, "web");
    let cache = dep(c, "cache");
    for bad in [
        Intervention::SetHpaMinReplicas {
            dep: web,
            min_replicas: 99,
        },
        Intervention::SetHpaMinReplicas {
            dep: cache,
            min_replicas: 2,
        },
        Intervention::ScaleReplicas {
            dep: web,
            replicas: 3,
        },
        Intervention::ResizeMemoryLimit {
            dep: web,
            limit_bytes: -1.0,
        },
        Intervention::Rollback { dep: web },
        Intervention::Cordon {
            node: 9,
            drain: false,
        },
    ] {
        let err = c.intervene(&bad).expect_err("refused");
        assert!(err.to_string().contains("intervention refused"), "{err}");
    }
    assert_eq!(c.spec.deployments[web].hpa.map(|h| h.min), Some(2));
}

/// `METHOD path` with an optional JSON body on the live exporter → (status code, body).
fn http(addr: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut answer = String::new();
    s.read_to_string(&mut answer).expect("read");
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

/// The live exporter takes named interventions (`kubepulse watch --remediate` acts through it): applied
/// ones change the served state and are listed; bad ones are refused with a JSON error and change nothing.
#[test]
fn the_live_exporter_takes_interventions_by_name() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let valid = calm("small", "1h").check().expect("valid config");
    let simulation = Simulation::new(&valid).expect("simulation");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let shutdown = Arc::new(AtomicBool::new(false));
    let stop = Arc::clone(&shutdown);
    let server = std::thread::spawn(move || sim::exporter::serve(listener, simulation, 1.0, stop));

    let (status, body) = http(&addr, "GET", "/api/v1/state", "");
    assert_eq!(status, 200, "{body}");
    let state: serde_json::Value = serde_json::from_str(&body).expect("state JSON");
    let web = state["workloads"]
        .as_array()
        .expect("workloads")
        .iter()
        .find(|w| w["target"] == "shop/web")
        .expect("shop/web")
        .clone();
    let limit = web["memory_limit_bytes"].as_f64().expect("limit");
    assert!(limit > 0.0);
    assert!(!state["nodes"].as_array().expect("nodes").is_empty());

    let raise = format!(
        r#"{{"kind":"resize_memory_limit","target":"shop/web","limit_bytes":{}}}"#,
        limit * 1.5
    );
    let (status, body) = http(&addr, "POST", "/api/v1/interventions", &raise);
    assert_eq!(status, 200, "{body}");
    let (_, body) = http(&addr, "GET", "/api/v1/state", "");
    let state: serde_json::Value = serde_json::from_str(&body).expect("state JSON");
    let now = state["workloads"]
        .as_array()
        .expect("workloads")
        .iter()
        .find(|w| w["target"] == "shop/web")
        .expect("shop/web")["memory_limit_bytes"]
        .as_f64();
    assert_eq!(now, Some(limit * 1.5));

    for (bad, code) in [
        (r#"{"kind":"rollback""#, 400),
        (r#"{"kind":"explode","target":"shop/web"}"#, 400),
        (r#"{"kind":"rollback","target":"shop/nope"}"#, 422),
        (
            r#"{"kind":"resize_memory_limit","target":"shop/web","limit_bytes":-1}"#,
            422,
        ),
        (r#"{"kind":"uncordon","node":"no-such-node"}"#, 422),
    ] {
        let (status, body) = http(&addr, "POST", "/api/v1/interventions", bad);
        assert_eq!(status, code, "{bad} → {body}");
        let error: serde_json::Value = serde_json::from_str(&body).expect("JSON error");
        assert!(error["error"].is_string(), "{body}");
    }
    let (status, body) = http(&addr, "GET", "/api/v1/interventions", "");
    assert_eq!(status, 200);
    let list: serde_json::Value = serde_json::from_str(&body).expect("list");
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{body}");
    assert_eq!(list[0]["intervention"]["kind"], "resize_memory_limit");
    assert!(list[0]["at"].is_i64());
    assert_eq!(http(&addr, "DELETE", "/api/v1/interventions", "").0, 405);

    shutdown.store(true, Ordering::Relaxed);
    server.join().expect("join").expect("exporter");
}
