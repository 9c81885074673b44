//! The live Prometheus exporter: a simulation on a real-time or accelerated clock, served as text format
//! 0.0.4 on `/metrics`.
//!
//! At `speed` S the simulated clock runs S times faster than the wall clock. Gauges are exported as they
//! are; counters are divided by S, so `rate()` over wall-clock time equals the simulated per-second rate
//! (a CPU using 0.2 cores still shows 0.2). Samples carry no timestamps: Prometheus stamps them at scrape.
//! Other routes: `/labels` (the incident labels so far, `events.csv` format), `/-/healthy`.
//!
//! The exporter also takes actions, so a live agent (`kubepulse watch --remediate`) can act on it, on the
//! first cluster: `POST /api/v1/interventions` with a [`NamedIntervention`] as JSON applies it at the
//! current simulated time (200 with what was applied; 400 for a bad body, 422 for an intervention the
//! cluster refuses); `GET /api/v1/interventions` lists those applied, with their simulated time;
//! `GET /api/v1/state` is the cluster as an agent sees it ([`state_json`]).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::engine::{Cluster, NamedIntervention};
use crate::error::{Result, SimError};
use crate::series::{FAMILIES, Kind, render};
use crate::simulation::Simulation;

/// Largest request body accepted, bytes.
const MAX_BODY: usize = 64 * 1024;

/// One intervention applied through the exporter.
#[derive(Debug, Clone, serde::Serialize)]
struct Received {
    /// Simulated time it was applied at, unix seconds.
    at: i64,
    /// What.
    intervention: NamedIntervention,
}

/// What the request handlers share with the clock.
struct Shared {
    published: Mutex<Published>,
    sim: Mutex<Simulation>,
    received: Mutex<Vec<Received>>,
}

/// What the exporter serves, refreshed after every simulated step.
#[derive(Debug, Default)]
struct Published {
    metrics: String,
    labels: String,
}

/// Runs the exporter until `shutdown` is set: one thread advances the simulation with the clock, the
/// calling thread answers HTTP requests on `listener`.
pub fn serve(
    listener: TcpListener,
    mut sim: Simulation,
    speed: f64,
    shutdown: Arc<AtomicBool>,
) -> Result<()> {
    listener.set_nonblocking(true).map_err(SimError::Exporter)?;
    let step = sim.config.step_secs;
    let start_ts = sim.config.start_ts;
    sim.advance();
    let published = Mutex::new(Published::default());
    publish(&sim, speed, &published);
    let shared = Arc::new(Shared {
        published,
        sim: Mutex::new(sim),
        received: Mutex::new(Vec::new()),
    });
    let clock_shared = Arc::clone(&shared);
    let clock_shutdown = Arc::clone(&shutdown);
    let clock = std::thread::spawn(move || {
        let wall_start = Instant::now();
        while !clock_shutdown.load(Ordering::Relaxed) {
            let sim_elapsed = wall_start.elapsed().as_secs_f64() * speed;
            let target = start_ts + sim_elapsed as i64;
            let Ok(mut sim) = clock_shared.sim.lock() else {
                return;
            };
            let mut advanced = false;
            while sim.now() + step <= target {
                sim.advance();
                advanced = true;
            }
            if advanced {
                publish(&sim, speed, &clock_shared.published);
            }
            let next_due = (sim.now() + step - start_ts) as f64 / speed;
            drop(sim);
            let wait = (next_due - wall_start.elapsed().as_secs_f64()).clamp(0.001, 0.05);
            std::thread::sleep(Duration::from_secs_f64(wait));
        }
    });
    while !shutdown.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((stream, _)) => {
                let shared = Arc::clone(&shared);
                std::thread::spawn(move || {
                    let _ = handle(stream, &shared);
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => {
                shutdown.store(true, Ordering::Relaxed);
                let _ = clock.join();
                return Err(SimError::Exporter(e));
            }
        }
    }
    let _ = clock.join();
    Ok(())
}

/// The first cluster as an agent sees it, as JSON: `observed_at` (simulated unix seconds), `workloads`
/// (per deployment: `target`, `namespace`, `name`, `container`, desired `replicas`, `hpa`
/// (`min_replicas`, `max_replicas`) or null, `memory_limit_bytes` and `memory_request_bytes` per
/// container, `revision_age_secs` (null: older than the run), `has_previous_revision`, `nodes` its pods
/// run on), `nodes` (`name`, `ready`, `cordoned`, `memory_available_ratio` and
/// `filesystem_available_ratio` 0–1, `pods`) and `supports_resize` (always true: the simulator resizes in
/// place).
pub fn state_json(cluster: &Cluster) -> serde_json::Value {
    let t = cluster.t;
    let mut pods_on = vec![0u32; cluster.nodes.len()];
    let mut nodes_of: Vec<Vec<usize>> = vec![Vec::new(); cluster.deps.len()];
    for p in &cluster.pods {
        if let Some(n) = p.node {
            pods_on[n] += 1;
            if !nodes_of[p.dep].contains(&n) {
                nodes_of[p.dep].push(n);
            }
        }
    }
    let workloads: Vec<serde_json::Value> = cluster
        .spec
        .deployments
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let d = &cluster.deps[i];
            let mut nodes = nodes_of[i].clone();
            nodes.sort_unstable();
            serde_json::json!({
                "target": cluster.target(i),
                "namespace": spec.namespace,
                "name": spec.name,
                "container": spec.name,
                "replicas": d.desired,
                "hpa": spec.hpa.map(|h| serde_json::json!({
                    "min_replicas": h.min,
                    "max_replicas": h.max,
                })),
                "memory_limit_bytes": d.memory_limit_bytes,
                "memory_request_bytes": spec.memory_request,
                "revision_age_secs": d.revision_since.map(|s| t - s),
                "has_previous_revision": cluster.has_previous_revision(i),
                "nodes": nodes.iter().map(|&n| cluster.nodes[n].spec.name.clone()).collect::<Vec<_>>(),
            })
        })
        .collect();
    let nodes: Vec<serde_json::Value> = cluster
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            serde_json::json!({
                "name": n.spec.name,
                "ready": n.ready,
                "cordoned": n.cordoned,
                "memory_available_ratio": n.memory_available / n.spec.memory_bytes,
                "filesystem_available_ratio": n.fs_available / n.spec.disk_bytes,
                "pods": pods_on[i],
            })
        })
        .collect();
    serde_json::json!({
        "observed_at": t,
        "workloads": workloads,
        "nodes": nodes,
        "supports_resize": true,
    })
}

/// Applies a named intervention to the first cluster now; returns the status line and the JSON body.
fn intervene(shared: &Shared, body: &[u8]) -> (&'static str, String) {
    let error =
        |status, message: String| (status, serde_json::json!({ "error": message }).to_string());
    let what: NamedIntervention = match serde_json::from_slice(body) {
        Ok(w) => w,
        Err(e) => return error("400 Bad Request", format!("not an intervention: {e}")),
    };
    let Ok(mut sim) = shared.sim.lock() else {
        return error("500 Internal Server Error", "the simulation stopped".into());
    };
    let Some(cluster) = sim.clusters.first_mut() else {
        return error("422 Unprocessable Entity", "no cluster".into());
    };
    let at = cluster.t;
    let applied = cluster.resolve(&what).and_then(|i| cluster.intervene(&i));
    drop(sim);
    match applied {
        Ok(()) => {
            let received = Received {
                at,
                intervention: what,
            };
            let body = serde_json::to_string(&received).unwrap_or_default();
            if let Ok(mut r) = shared.received.lock() {
                r.push(received);
            }
            ("200 OK", body)
        }
        Err(e) => error("422 Unprocessable Entity", e.to_string()),
    }
}

fn publish(sim: &Simulation, speed: f64, published: &Mutex<Published>) {
    let metrics = render_text(sim, 1.0 / speed);
    let mut labels = String::from("target,start,end,issue_type,detail\n");
    for l in sim.labels() {
        labels.push_str(&format!(
            "{},{},{},{},{}\n",
            l.target, l.start, l.end, l.issue_type, l.detail
        ));
    }
    if let Ok(mut p) = published.lock() {
        p.metrics = metrics;
        p.labels = labels;
    }
}

/// The Prometheus text exposition (format 0.0.4) of every series at the current step.
pub fn render_text(sim: &Simulation, counter_scale: f64) -> String {
    let mut out = String::with_capacity(1 << 16);
    out.push_str(
        "# HELP kubepulse_sim_time_seconds Simulated time of these samples, unix seconds.\n",
    );
    out.push_str("# TYPE kubepulse_sim_time_seconds gauge\n");
    out.push_str(&format!("kubepulse_sim_time_seconds {}\n", sim.now()));
    for (f, fam) in FAMILIES.iter().enumerate() {
        let (name, kind) = match fam.kind {
            Kind::Gauge => (fam.name.to_string(), "gauge"),
            Kind::Counter => (fam.sample_name(), "counter"),
            Kind::Histogram => (fam.name.to_string(), "histogram"),
        };
        out.push_str(&format!(
            "# HELP {name} {}\n# TYPE {name} {kind}\n",
            fam.help
        ));
        for c in &sim.clusters {
            render(f, c, counter_scale, None, &mut out);
        }
    }
    out
}

fn handle(mut stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    let end = loop {
        if let Some(i) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if head.len() >= 16 * 1024 {
            break head.len();
        }
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break head.len();
        }
        head.extend_from_slice(&buf[..n]);
    };
    let mut body = head.split_off(end.min(head.len()));
    let head = String::from_utf8_lossy(&head);
    let length = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let mut parts = head.split_whitespace();
    let method = parts.next().unwrap_or("");
    let path = parts.next().unwrap_or("/").split('?').next().unwrap_or("/");
    const JSON: &str = "application/json";
    let (status, content_type, body) = match (method, path) {
        ("POST", "/api/v1/interventions") if length > MAX_BODY => (
            "413 Payload Too Large",
            JSON,
            r#"{"error":"body over 64 KiB"}"#.to_string(),
        ),
        ("POST", "/api/v1/interventions") => {
            while body.len() < length {
                let n = stream.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                body.extend_from_slice(&buf[..n]);
            }
            body.truncate(length);
            let (status, body) = intervene(shared, &body);
            (status, JSON, body)
        }
        ("GET", "/api/v1/interventions") => {
            let body = shared
                .received
                .lock()
                .map(|r| serde_json::to_string(&*r).unwrap_or_default())
                .unwrap_or_default();
            ("200 OK", JSON, body)
        }
        ("GET", "/api/v1/state") => {
            let body = shared
                .sim
                .lock()
                .ok()
                .and_then(|sim| sim.clusters.first().map(|c| state_json(c).to_string()))
                .unwrap_or_else(|| "{}".to_string());
            ("200 OK", JSON, body)
        }
        ("GET", "/metrics") => {
            let body = shared.published.lock().map(|p| p.metrics.clone()).unwrap_or_default();
            ("200 OK", "text/plain; version=0.0.4; charset=utf-8", body)
        }
        ("GET", "/labels") => {
            let body = shared.published.lock().map(|p| p.labels.clone()).unwrap_or_default();
            ("200 OK", "text/csv; charset=utf-8", body)
        }
        ("GET", "/-/healthy") => ("200 OK", "text/plain", "OK\n".to_string()),
        ("GET", "/") => (
            "200 OK",
            "text/plain",
            "kubepulse simulate exporter: /metrics (Prometheus text format), /labels (incidents so far), \
             /api/v1/state, /api/v1/interventions (GET the list, POST one)\n"
                .to_string(),
        ),
        ("GET", _) => ("404 Not Found", "text/plain", "not found: try /metrics\n".to_string()),
        (_, "/api/v1/interventions") => (
            "405 Method Not Allowed",
            JSON,
            r#"{"error":"GET or POST"}"#.to_string(),
        ),
        _ => ("405 Method Not Allowed", "text/plain", "only GET\n".to_string()),
    };
    let header = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(header.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    stream.flush()
}
