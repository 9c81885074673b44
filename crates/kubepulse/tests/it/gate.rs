//! The retraining loop end to end: `kubepulse gate --init` seeds an empty model volume, `serve` runs from
//! it, a worse candidate is refused (the file stays), a better one is published and `serve` hot-reloads
//! it: its `/model` version changes over HTTP; its `/metrics` export the gate's verdict and figures
//! (`kubepulse_gate_*`, from `gate.json` beside the model) after each run; so do `watch`'s, at start and
//! when the report changes.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use learn::bundle::ModelBundle;

use crate::common::{Server, served_address};

fn kubepulse(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubepulse"))
        .args(args)
        .output()
        .expect("run kubepulse")
}

/// The embedded model under another version and alarm threshold, written to `path`.
fn write_variant(path: &Path, version: &str, threshold: f64) {
    let base = ModelBundle::embedded().unwrap();
    let mut info = base.info().clone();
    info.version = version.into();
    info.threshold = threshold;
    let mut window = base.window_model().clone();
    window.meta.threshold = threshold;
    if threshold >= 1.0 {
        // Deaf: its detector (which passes on its own threshold) goes too.
        window.detector = None;
    }
    ModelBundle::new(
        info,
        window,
        base.snapshot_model().cloned(),
        base.card_markdown().to_string(),
        base.card_json(),
    )
    .save(path)
    .unwrap();
}

/// `GET /model`'s version.
fn served_version(addr: &str) -> Option<String> {
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET /model HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut answer = String::new();
    s.read_to_string(&mut answer).ok()?;
    let body = answer.split_once("\r\n\r\n")?.1;
    let json: serde_json::Value = serde_json::from_str(body).ok()?;
    json["version"].as_str().map(String::from)
}

/// `GET /metrics`'s text.
fn metrics_text(addr: &str) -> Option<String> {
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut answer = String::new();
    s.read_to_string(&mut answer).ok()?;
    Some(answer.split_once("\r\n\r\n")?.1.to_string())
}

/// Waits (30 s at most) until the /metrics of serve (or watch) at `addr` hold every line of `want`.
fn wait_for_metrics(addr: &str, want: &[String]) {
    let start = Instant::now();
    loop {
        let text = metrics_text(addr).unwrap_or_default();
        if want.iter().all(|w| text.lines().any(|l| l == w)) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "/metrics at {addr} lacks {want:?} 30 s after the gate:\n{}",
            text.lines()
                .filter(|l| l.starts_with("kubepulse_gate"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The gate's figures as serve exports them, from the report `gate.json`.
fn gate_lines(verdict: &serde_json::Value) -> Vec<String> {
    let mut want = vec![format!(
        "kubepulse_gate_publish {}",
        i64::from(verdict["publish"] == true)
    )];
    for model in ["candidate", "current"] {
        let f = |key: &str| verdict[model][key].as_f64().unwrap();
        // prometheus-client writes floats with Rust's shortest round-trip form (a `.0` on integers).
        let float = |v: f64| {
            let t = v.to_string();
            if t.contains('.') || t.contains('e') {
                t
            } else {
                format!("{t}.0")
            }
        };
        want.push(format!(
            "kubepulse_gate_alarmed_before_start_ratio{{model=\"{model}\"}} {}",
            float(f("alarmed_before_start_ratio"))
        ));
        want.push(format!(
            "kubepulse_gate_false_alarms_per_target_day{{model=\"{model}\"}} {}",
            float(f("false_alarms_per_target_day"))
        ));
        want.push(format!(
            "kubepulse_gate_incidents{{model=\"{model}\"}} {}",
            verdict[model]["incidents"]
        ));
    }
    want
}

fn stdout(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn a_worse_candidate_is_refused_a_better_one_published_and_served() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let sim = kubepulse(&[
        "simulate",
        "--duration",
        "4h",
        "--seed",
        "4242",
        "--calm",
        "--fault",
        "memory_leak:cartservice@+40m/20m",
        "--fault",
        "memory_leak:frontend@+1h30m/20m",
        "--fault",
        "memory_leak:recommendationservice@+2h20m/20m",
        "--fault",
        "memory_leak:adservice@+3h10m/20m",
        "--out",
        data.to_str().unwrap(),
    ]);
    assert!(sim.status.success(), "{}", stdout(&sim));
    let models = dir.path().join("models");
    std::fs::create_dir_all(&models).unwrap();
    let current = models.join("current.kpm");
    let current_s = current.to_str().unwrap();

    // An empty volume is seeded with the embedded model; a second --init leaves it alone.
    for _ in 0..2 {
        let o = kubepulse(&["gate", "--init", "--current", current_s]);
        assert!(o.status.success(), "{}", stdout(&o));
    }
    let embedded = ModelBundle::embedded().unwrap();
    assert_eq!(std::fs::read(&current).unwrap(), embedded.to_bytes());

    let mut server = Server(
        Command::new(env!("CARGO_BIN_EXE_kubepulse"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--model",
                current_s,
                "--reload-poll-secs",
                "1",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let addr = served_address(&mut server.0);
    let before = served_version(&addr).expect("GET /model");
    assert_eq!(before, embedded.info().version);

    let deaf = dir.path().join("deaf.kpm");
    write_variant(&deaf, "deaf", 1.0);
    let good = dir.path().join("good.kpm");
    write_variant(&good, "retrained", embedded.info().threshold);
    let from = "2026-01-05T00:30:00Z";
    let gate = |candidate: &Path| {
        kubepulse(&[
            "gate",
            "--candidate",
            candidate.to_str().unwrap(),
            "--current",
            current_s,
            "--data",
            data.to_str().unwrap(),
            "--from",
            from,
        ])
    };

    let o = gate(&deaf);
    assert!(o.status.success(), "{}", stdout(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).starts_with("REFUSED"),
        "{}",
        stdout(&o)
    );
    assert_eq!(std::fs::read(&current).unwrap(), embedded.to_bytes());
    let verdict: serde_json::Value =
        serde_json::from_slice(&std::fs::read(models.join("gate.json")).unwrap()).unwrap();
    assert_eq!(verdict["publish"], false);
    assert!(verdict["current"]["alarmed_before_start_ratio"].as_f64() > Some(0.5));
    assert_eq!(verdict["candidate"]["alarmed_before_start_ratio"], 0.0);
    // serve exports the refusal and its figures (the model file did not change: gate.json did).
    wait_for_metrics(&addr, &gate_lines(&verdict));

    let o = gate(&good);
    assert!(
        String::from_utf8_lossy(&o.stdout).starts_with("PUBLISHED"),
        "{}",
        stdout(&o)
    );
    assert_eq!(
        std::fs::read(&current).unwrap(),
        std::fs::read(&good).unwrap()
    );
    // No temporary file is left beside the published one.
    let mut names: Vec<String> = std::fs::read_dir(&models)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["current.kpm", "gate.json"]);

    let start = Instant::now();
    loop {
        let version = served_version(&addr);
        if version.as_deref() == Some("retrained") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "serve still answers version {version:?} 30 s after the publication"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let verdict: serde_json::Value =
        serde_json::from_slice(&std::fs::read(models.join("gate.json")).unwrap()).unwrap();
    assert_eq!(verdict["publish"], true);
    wait_for_metrics(&addr, &gate_lines(&verdict));
}

/// A gate report (`gate.json`) with these figures of the candidate and the current model.
fn report(publish: bool, candidate: (f64, f64, usize), current: (f64, f64, usize)) -> String {
    let score = |name: &str, (alarmed, fa, incidents): (f64, f64, usize)| learn::gate::GateScore {
        model: name.into(),
        incidents,
        alarmed_before_start_ratio: alarmed,
        detected_within_120s_ratio: alarmed,
        false_alarms_per_target_day: fa,
    };
    let rule = learn::gate::GateRule {
        max_detection_drop: 0.01,
        max_false_alarm_rise: 0.1,
    };
    serde_json::to_string_pretty(&learn::gate::GateVerdict {
        test_from: 1_767_225_600,
        test_until: 1_767_312_000,
        data_fingerprint: "fnv1a64:0".into(),
        candidate: score("kubepulse two", candidate),
        current: score("kubepulse one", current),
        publish,
        reasons: vec!["test".into()],
        rule_text: rule.describe(),
        rule,
    })
    .unwrap()
}

#[test]
fn watch_reloads_a_published_model_and_refuses_a_broken_one() {
    let dir = tempfile::tempdir().unwrap();
    let current = dir.path().join("current.kpm");
    write_variant(&current, "one", 0.5);
    // The last gate run's report, beside the model: exported from the start.
    let refused = report(false, (0.25, 3.5, 8), (0.75, 0.5, 8));
    std::fs::write(dir.path().join("gate.json"), &refused).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = dir.path().join("watch.log");
    // Prometheus is down (port 9): watch starts anyway and keeps its model file under watch.
    let _watch = Server(
        Command::new(env!("CARGO_BIN_EXE_kubepulse"))
            .args([
                "watch",
                "--prometheus",
                "http://127.0.0.1:9",
                "--retries",
                "0",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--model",
                current.to_str().unwrap(),
                "--reload-poll-secs",
                "1",
            ])
            .env("RUST_LOG", "info")
            .env("KUBEPULSE_LOG_FORMAT", "json")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let wait_for = |what: &str, found: &dyn Fn(&str) -> bool| {
        let start = Instant::now();
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if found(&text) {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "no {what} within 60 s:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    wait_for("start", &|t| t.contains("\"watching\""));
    let addr = format!("127.0.0.1:{port}");
    wait_for_metrics(&addr, &gate_lines(&serde_json::from_str(&refused).unwrap()));
    // Published as the gate does: a temporary file renamed over the model.
    let publish = |bytes: &[u8]| {
        let tmp = dir.path().join(".current.kpm.tmp");
        std::fs::write(&tmp, bytes).unwrap();
        std::fs::rename(&tmp, &current).unwrap();
    };
    let two = dir.path().join("two.kpm");
    write_variant(&two, "two", 0.4);
    publish(&std::fs::read(&two).unwrap());
    wait_for("reload of version two", &|t| {
        t.lines()
            .any(|l| l.contains("model reloaded") && l.contains("\"two\""))
    });
    publish(b"KPMODEL\0 truncated");
    wait_for("refusal", &|t| t.contains("new model refused"));
    // A new gate run's report (written as the gate writes it: temporary file, rename): exported.
    let published = report(true, (0.875, 0.25, 9), (0.75, 0.5, 9));
    let tmp = dir.path().join(".gate.json.tmp");
    std::fs::write(&tmp, &published).unwrap();
    std::fs::rename(&tmp, dir.path().join("gate.json")).unwrap();
    wait_for_metrics(
        &addr,
        &gate_lines(&serde_json::from_str(&published).unwrap()),
    );
    assert!(
        metrics_text(&addr)
            .unwrap_or_default()
            .contains("kubepulse_gate_test_until_timestamp_seconds 1767312000"),
        "the test period's end"
    );
}
