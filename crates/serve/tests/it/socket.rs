//! Through a real socket on port 0: serving, graceful shutdown with a request in flight, and hot
//! reload of the model file.

use crate::common;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use serve::predictor::{LoadedModel, ModelSource};
use serve::reload::{self, Loader};
use serve::{AppState, Limits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Sends one HTTP/1.1 request and reads the whole answer (the server closes: `Connection: close`).
async fn exchange(
    stream: &mut TcpStream,
    method: &str,
    path: &str,
    body: &str,
) -> (u16, serde_json::Value) {
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read");
    let text = String::from_utf8_lossy(&raw);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text}"));
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
    (
        status,
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    )
}

async fn request(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: &str,
) -> (u16, serde_json::Value) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    exchange(&mut stream, method, path, body).await
}

async fn start(
    state: AppState,
) -> (
    std::net::SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve::serve(listener, state, async {
        let _ = stopped.await;
    }));
    (addr, stop, server)
}

#[tokio::test]
async fn serves_over_a_socket_and_stops_on_shutdown() {
    let (addr, stop, server) = start(state()).await;
    let (status, body) = request(addr, "POST", "/predict", ORIGINAL_BODY).await;
    assert_eq!(status, 200);
    assert_eq!(body["cluster_id"], "5");
    assert_eq!(body["prediction"]["will_have_issue"], true);
    let (status, body) = request(addr, "GET", "/nope", "").await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")));
    stop.send(()).expect("server running");
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("server stops")
        .expect("task")
        .expect("serve returns Ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_the_request_in_flight() {
    let (entered_tx, entered_rx) = std::sync::mpsc::sync_channel(1);
    let (release_tx, release_rx) = std::sync::mpsc::channel();
    let model = RuleModel {
        version: "1.0.0".to_owned(),
        gate: Some(Gate {
            entered: entered_tx,
            release: Arc::new(Mutex::new(release_rx)),
        }),
    };
    let state = AppState::new(
        Some(LoadedModel::new(
            model,
            ModelSource::Other("test".to_owned()),
        )),
        Arc::new(CountingSnapshots),
        Limits::default(),
    );
    let (addr, stop, server) = start(state).await;

    let in_flight = tokio::spawn(async move {
        request(
            addr,
            "POST",
            "/predict",
            r#"{"cluster_id": "slow", "cluster_cpu_util_avg": 95}"#,
        )
        .await
    });
    tokio::task::spawn_blocking(move || entered_rx.recv_timeout(Duration::from_secs(10)))
        .await
        .expect("join")
        .expect("the request reaches the model");

    stop.send(()).expect("server running");
    // New connections are refused once shutdown has begun.
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).await.is_ok() {
        assert!(
            Instant::now() < deadline,
            "the server kept accepting after shutdown"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        !server.is_finished(),
        "the server must wait for the request in flight"
    );

    release_tx.send(()).expect("model waiting");
    let (status, body) = tokio::time::timeout(Duration::from_secs(10), in_flight)
        .await
        .expect("the in-flight request completes")
        .expect("join");
    assert_eq!(status, 200);
    assert_eq!(body["cluster_id"], "slow");
    assert_eq!(body["prediction"]["issue_type"], "resource_exhaustion");
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("server stops after the last request")
        .expect("task")
        .expect("serve returns Ok");
}

/// A loader for files holding `version <v>`; anything else is a broken model.
fn text_loader() -> Loader {
    Arc::new(|path: &Path| {
        let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
        let version = text
            .trim()
            .strip_prefix("version ")
            .ok_or_else(|| format!("not a model: {text:?}"))?;
        Ok(LoadedModel::new(
            RuleModel::new(version),
            ModelSource::File(path.to_owned()),
        ))
    })
}

async fn served_version(addr: std::net::SocketAddr) -> String {
    let (_, body) = request(addr, "GET", "/readyz", "").await;
    body["model"]["version"].as_str().unwrap_or("").to_owned()
}

async fn wait_for_version(addr: std::net::SocketAddr, version: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if served_version(addr).await == version {
            return;
        }
        assert!(Instant::now() < deadline, "version {version} never served");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The model-file watcher of a test, running until [`Watcher::stop`].
struct Watcher {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Watcher {
    /// Watches `path` with the text loader: polling every `poll`, or on SIGHUP only.
    fn spawn(state: &AppState, path: &Path, poll: Option<Duration>) -> Watcher {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(reload::watch(
            state.clone(),
            path.to_path_buf(),
            text_loader(),
            poll,
            async {
                let _ = stopped.await;
            },
        ));
        Watcher { stop, task }
    }

    async fn stop(self) {
        self.stop.send(()).expect("watcher running");
        self.task.await.expect("watcher stops");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_reload_on_file_change_keeps_the_old_model_when_the_new_is_bad() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("model.kpm");
    std::fs::write(&path, "version 1.0.0").expect("write");
    let state = state();
    let (addr, stop, server) = start(state.clone()).await;
    let watcher = Watcher::spawn(&state, &path, Some(Duration::from_millis(20)));

    std::fs::write(&path, "version 2.0.0-new").expect("write");
    wait_for_version(addr, "2.0.0-new").await;

    std::fs::write(&path, "garbage, not a model at all").expect("write");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let metrics = state.metrics().encode().expect("metrics");
        // At least once: `hot_reload_on_sighup`, running in the same process, may send SIGHUP, and
        // every watcher of the process then reloads (the bad file again).
        let rejected = metrics
            .lines()
            .find_map(|l| l.strip_prefix(r#"kubepulse_model_reloads_total{result="rejected"} "#))
            .and_then(|n| n.trim().parse::<u64>().ok())
            .unwrap_or(0);
        if rejected >= 1 {
            break;
        }
        assert!(Instant::now() < deadline, "the bad model was never tried");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        served_version(addr).await,
        "2.0.0-new",
        "the good model stays"
    );
    let (status, _) = request(addr, "POST", "/predict", ORIGINAL_BODY).await;
    assert_eq!(status, 200);

    watcher.stop().await;
    stop.send(()).expect("server running");
    server.await.expect("task").expect("serve");
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_reload_on_sighup() {
    // Install the handler before anything can send SIGHUP, so the signal never kills the test.
    let _guard = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .expect("SIGHUP handler");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("model.kpm");
    std::fs::write(&path, "version 1.0.0").expect("write");
    let state = state();
    let (addr, stop, server) = start(state.clone()).await;
    let watcher = Watcher::spawn(&state, &path, None);
    std::fs::write(&path, "version 3.0.0").expect("write");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // The shell's builtin `kill`: no dependency on a procps binary.
        let status = std::process::Command::new("sh")
            .args(["-c", &format!("kill -HUP {}", std::process::id())])
            .status()
            .expect("kill runs");
        assert!(status.success());
        tokio::time::sleep(Duration::from_millis(50)).await;
        if served_version(addr).await == "3.0.0" {
            break;
        }
        assert!(Instant::now() < deadline, "SIGHUP did not reload");
    }
    watcher.stop().await;
    stop.send(()).expect("server running");
    server.await.expect("task").expect("serve");
}

#[tokio::test]
async fn reload_rejects_a_model_that_fails_its_self_check() {
    let state = state();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("model.kpm");
    std::fs::write(&path, "version 9").expect("write");
    // A model that loads but cannot predict must not replace the one in service.
    let failing: Loader = Arc::new(|_: &Path| {
        struct Broken;
        impl serve::predictor::Predictor for Broken {
            fn info(&self) -> serve::predictor::ModelInfo {
                RuleModel::new("broken").info()
            }
            fn card_markdown(&self) -> String {
                String::new()
            }
            fn card_json(&self) -> serde_json::Value {
                serde_json::Value::Null
            }
            fn predict_snapshot(
                &self,
                _: &serve::api::SnapshotInput,
                _: serve::predictor::PredictOptions,
            ) -> Result<serve::api::Prediction, serve::predictor::PredictError> {
                Err(serve::predictor::PredictError::Internal(
                    "feature mismatch".to_owned(),
                ))
            }
            fn predict_window(
                &self,
                _: &serve::api::WindowInput,
                _: serve::predictor::PredictOptions,
            ) -> Result<serve::api::Prediction, serve::predictor::PredictError> {
                Err(serve::predictor::PredictError::Internal(
                    "feature mismatch".to_owned(),
                ))
            }
        }
        Ok(LoadedModel::new(
            Broken,
            ModelSource::Other("broken".to_owned()),
        ))
    });
    let err = reload::reload(&state, &path, &failing).expect_err("rejected");
    assert!(err.contains("feature mismatch"), "{err}");
    assert_eq!(
        state
            .model()
            .as_deref()
            .map(|m| m.model.info.version.clone()),
        Some("1.0.0".to_owned())
    );
    reload::reload(&state, &path, &text_loader()).expect("a good model loads");
    assert_eq!(
        state
            .model()
            .as_deref()
            .map(|m| m.model.info.version.clone()),
        Some("9".to_owned())
    );
}
