//! The live Prometheus exporter: a simulation on a real-time or accelerated clock, served as text format
//! 0.0.4 on `/metrics`.
//!
//! At `speed` S the simulated clock runs S times faster than the wall clock. Gauges are exported as they
//! are; counters are divided by S, so `rate()` over wall-clock time equals the simulated per-second rate
//! (a CPU using 0.2 cores still shows 0.2). Samples carry no timestamps: Prometheus stamps them at scrape.
//! Other routes: `/labels` (the incident labels so far, `events.csv` format), `/-/healthy`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::{Result, SimError};
use crate::series::{FAMILIES, Kind, render};
use crate::simulation::Simulation;

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
    let published = Arc::new(Mutex::new(Published::default()));
    let step = sim.config.step_secs;
    let start_ts = sim.config.start_ts;
    sim.advance();
    publish(&sim, speed, &published);
    let clock_published = Arc::clone(&published);
    let clock_shutdown = Arc::clone(&shutdown);
    let clock = std::thread::spawn(move || {
        let wall_start = Instant::now();
        while !clock_shutdown.load(Ordering::Relaxed) {
            let sim_elapsed = wall_start.elapsed().as_secs_f64() * speed;
            let target = start_ts + sim_elapsed as i64;
            let mut advanced = false;
            while sim.now() + step <= target {
                sim.advance();
                advanced = true;
            }
            if advanced {
                publish(&sim, speed, &clock_published);
            }
            let next_due = (sim.now() + step - start_ts) as f64 / speed;
            let wait = (next_due - wall_start.elapsed().as_secs_f64()).clamp(0.001, 0.05);
            std::thread::sleep(Duration::from_secs_f64(wait));
        }
    });
    while !shutdown.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((stream, _)) => {
                let published = Arc::clone(&published);
                std::thread::spawn(move || {
                    let _ = handle(stream, &published);
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

fn handle(mut stream: TcpStream, published: &Mutex<Published>) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head);
    let mut parts = head.split_whitespace();
    let method = parts.next().unwrap_or("");
    let path = parts.next().unwrap_or("/").split('?').next().unwrap_or("/");
    let (status, content_type, body) = match (method, path) {
        ("GET", "/metrics") => {
            let body = published.lock().map(|p| p.metrics.clone()).unwrap_or_default();
            ("200 OK", "text/plain; version=0.0.4; charset=utf-8", body)
        }
        ("GET", "/labels") => {
            let body = published.lock().map(|p| p.labels.clone()).unwrap_or_default();
            ("200 OK", "text/csv; charset=utf-8", body)
        }
        ("GET", "/-/healthy") => ("200 OK", "text/plain", "OK\n".to_string()),
        ("GET", "/") => (
            "200 OK",
            "text/plain",
            "kubepulse simulate exporter: /metrics (Prometheus text format), /labels (incidents so far)\n".to_string(),
        ),
        ("GET", _) => ("404 Not Found", "text/plain", "not found: try /metrics\n".to_string()),
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
